/* Gateway: sign-up, sign-in, sessions, the reader's account, ratings and events.
 *
 * Sessions: a random token (auth.h) given to the client once; the store keeps only its hash.
 * Browsers get it as an HttpOnly SameSite=Lax cookie and must send the session's CSRF token
 * in X-CSRF-Token on writes; API clients send it as a bearer token (exempt from CSRF).
 * Login attempts are rate-limited per account name and per client address; an unknown name
 * costs the same as a wrong password. */
#include "gw.h"

#include "auth.h"
#include "jsonreq.h"
#include "ratelimit.h"

#include "bookrec/accounts.h"
#include "bookrec/catalog.h"
#include "bookrec/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FAV_NAMES 32

static int64_t now_unix(void) { return (int64_t)time(NULL); }

void gw_authenticate(gw_req *r)
{
    char token[256], hash[BR_AUTH_TOKEN_HASH_CAP];
    const char *authz = br_http_req_header(r->req, "Authorization");
    const char *cookie = br_http_req_header(r->req, "Cookie");
    int kind = 0;
    if (authz && br_auth_bearer(authz, token, sizeof token) == 0)
        kind = 2;
    else if (cookie && br_auth_cookie_get(cookie, BR_AUTH_COOKIE, token, sizeof token) == 0)
        kind = 1;
    if (!kind)
        return;
    br_store *st;
    int64_t account;
    if (!br_auth_token_valid(token) || br_auth_token_hash(token, hash) != 0 ||
        !(st = gw_store(r)) ||
        br_session_lookup(st, hash, now_unix(), &account, r->csrf, sizeof r->csrf) != 0) {
        if (gw_replied(r))
            return;
        if (kind == 2) /* a stale cookie just means signed out; a bad bearer is an error */
            gw_error(r, 401, "unauthorized", "the token is invalid or has expired");
        return;
    }
    if (br_auth_csrf_required(r->req->method, kind == 1) &&
        !br_auth_csrf_equal(r->csrf, br_http_req_header(r->req, BR_AUTH_CSRF_HEADER))) {
        gw_error(r, 403, "csrf", "send the session's CSRF token in " BR_AUTH_CSRF_HEADER);
        return;
    }
    r->account_id = r->user_id = account;
    r->auth = kind;
    snprintf(r->token_hash, sizeof r->token_hash, "%s", hash);
}

/* Subject names (a JSON array under name) to ids; -1 after a 400. */
static int subject_ids(gw_req *r, br_store *st, const char *name, int32_t *ids, size_t *n)
{
    const char *names[MAX_FAV_NAMES];
    char err[256];
    if (br_jreq_string_array(r->body, name, 0, MAX_FAV_NAMES, 128, names, n, err, sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return -1;
    }
    if (*n && br_catalog_subject_ids(st, names, *n, ids) != 0) {
        gw_error(r, 500, "internal", "subject lookup failed");
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (ids[i] < 0) {
            gw_error(r, 400, "unknown_subject", "%s[%zu] is not a known subject (see "
                     "/api/v1/subjects)", name, i);
            return -1;
        }
    return 0;
}

static json_t *account_json(gw_req *r, br_store *st, const br_account *a)
{
    int32_t fav[BR_FAV_MAX];
    size_t n = 0;
    br_user_state us = {0};
    json_t *subs = json_array();
    if (br_fav_get(st, a->user_id, fav, BR_FAV_MAX, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            char name[BR_CATALOG_NAME_MAX];
            if (br_subject_name_get(st, fav[i], name, sizeof name) == 0)
                json_array_append_new(subs, json_pack("{s:i, s:s}", "id", fav[i], "name", name));
        }
    br_user_state_get(st, a->user_id, &us);
    return json_pack("{s:I, s:s, s:s, s:I, s:o, s:I, s:I, s:b}", "id", (json_int_t)a->account_id,
                     "username", a->username, "email", a->email, "created_at",
                     (json_int_t)a->created_at, "favorite_subjects", subs, "ratings",
                     (json_int_t)us.n_interactions, "warm_min_ratings",
                     (json_int_t)r->g->o.warm_min_ratings, "behavioral",
                     us.n_interactions >= r->g->o.warm_min_ratings && us.n_interactions > 0);
}

/* A new session for the account: cookie and body with the token and CSRF token. */
static void start_session(gw_req *r, br_store *st, const br_account *a, int status)
{
    char token[BR_AUTH_TOKEN_CAP], csrf[BR_AUTH_TOKEN_CAP], hash[BR_AUTH_TOKEN_HASH_CAP];
    char cookie[512];
    if (br_auth_new_token(token, sizeof token) || br_auth_new_csrf(csrf, sizeof csrf) ||
        br_auth_token_hash(token, hash) ||
        br_session_create(st, a->account_id, hash, csrf, now_unix() + r->g->o.session_ttl_s)) {
        gw_error(r, 500, "internal", "could not start a session");
        return;
    }
    br_auth_session_cookie(cookie, sizeof cookie, token, (long)r->g->o.session_ttl_s,
                           r->g->o.cookie_secure);
    gw_header(r, "Set-Cookie", cookie);
    gw_json(r, status, json_pack("{s:o, s:s, s:s, s:I}", "account", account_json(r, st, a),
                                 "token", token, "csrf_token", csrf, "expires_in",
                                 (json_int_t)r->g->o.session_ttl_s));
}

void gw_signup(gw_req *r)
{
    static const char *const allowed[] = {"username", "email", "password", "favorite_subjects",
                                          NULL};
    const char *user, *email, *pw;
    char err[256], hash[BR_AUTH_HASH_CAP];
    int32_t fav[MAX_FAV_NAMES];
    size_t n_fav = 0;
    br_store *st;
    if (br_jreq_only(r->body, allowed, err, sizeof err) ||
        br_jreq_string(r->body, "username", 1, BR_USERNAME_MAX, &user, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "email", 1, BR_EMAIL_MAX, &email, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "password", 1, BR_AUTH_PASSWORD_MAX, &pw, NULL, err,
                       sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (!br_username_valid(user)) {
        gw_error(r, 400, "bad_request", "username: %d to %d characters of A-Z a-z 0-9 _ . -",
                 BR_USERNAME_MIN, BR_USERNAME_MAX);
        return;
    }
    if (!br_email_valid(email)) {
        gw_error(r, 400, "bad_request", "email is not an address");
        return;
    }
    if (br_auth_password_check(pw, err, sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (!(st = gw_store(r)) || subject_ids(r, st, "favorite_subjects", fav, &n_fav))
        return;
    if (br_auth_hash_password(pw, hash, sizeof hash)) {
        gw_error(r, 503, "busy", "the server is busy; retry");
        return;
    }
    br_account a;
    int rc = br_account_create(st, user, email, hash, fav, n_fav, &a);
    if (rc == BR_EEXIST) {
        br_account other;
        int by_name = br_account_by_username(st, user, &other) == 0;
        gw_error(r, 409, "taken", "that %s is already registered", by_name ? "username" : "email");
        return;
    }
    if (rc) {
        gw_error(r, rc == BR_EINVAL || rc == BR_ELIMIT ? 400 : 500,
                 rc == BR_EINVAL || rc == BR_ELIMIT ? "bad_request" : "internal",
                 "could not create the account");
        return;
    }
    start_session(r, st, &a, 201);
}

void gw_login(gw_req *r)
{
    static const char *const allowed[] = {"login", "password", NULL};
    const char *login, *pw;
    char err[256];
    br_store *st;
    if (br_jreq_only(r->body, allowed, err, sizeof err) ||
        br_jreq_string(r->body, "login", 1, BR_EMAIL_MAX, &login, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "password", 1, BR_AUTH_PASSWORD_MAX, &pw, NULL, err,
                       sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    char key[300];
    double retry;
    /* Keyed by address and name: failing as someone from elsewhere does not lock them out. */
    snprintf(key, sizeof key, "login:%s:%s", r->ip, login);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    if (r->g->o.rate_login > 0 &&
        br_ratelimit_take(r->g->rl, key, r->g->o.rate_login, r->g->o.burst_login, now, &retry) !=
            1) {
        char ra[32];
        snprintf(ra, sizeof ra, "%d", (int)(retry + 0.999));
        gw_header(r, "Retry-After", ra);
        gw_error(r, 429, "rate_limited", "too many sign-in attempts; retry in %s s", ra);
        return;
    }
    if (!(st = gw_store(r)))
        return;
    br_account a;
    int found = br_account_by_username(st, login, &a) == 0 || br_account_by_email(st, login, &a) == 0;
    int ok = found ? br_auth_verify_password(a.password_hash, pw) : (br_auth_dummy_verify(pw), 0);
    if (!ok) {
        gw_error(r, 401, "invalid_credentials", "wrong username, email or password");
        return;
    }
    start_session(r, st, &a, 200);
}

void gw_logout(gw_req *r)
{
    char cookie[256];
    br_store *st = gw_store(r);
    if (!st)
        return;
    br_session_delete(st, r->token_hash);
    br_auth_clear_cookie(cookie, sizeof cookie, r->g->o.cookie_secure);
    gw_header(r, "Set-Cookie", cookie);
    br_http_resp_json_text(r->resp, 200, "{\"signed_out\":true}", 19);
}

void gw_me_get(gw_req *r)
{
    br_store *st = gw_store(r);
    br_account a;
    if (!st)
        return;
    if (br_account_by_id(st, r->account_id, &a)) {
        gw_error(r, 404, "not_found", "the account no longer exists");
        return;
    }
    /* A browser that reloads the page gets its session's CSRF token back here (the
     * cookie is HttpOnly; another site cannot read this same-origin reply). */
    gw_json(r, 200, json_pack("{s:o, s:s?}", "account", account_json(r, st, &a), "csrf_token",
                              r->auth == 1 ? r->csrf : NULL));
}

void gw_me_patch(gw_req *r)
{
    static const char *const allowed[] = {"email", "password", "favorite_subjects", NULL};
    const char *email, *pw;
    char err[256], hash[BR_AUTH_HASH_CAP];
    int32_t fav[MAX_FAV_NAMES];
    size_t n_fav = 0;
    br_store *st;
    if (br_jreq_only(r->body, allowed, err, sizeof err) ||
        br_jreq_string(r->body, "email", 0, BR_EMAIL_MAX, &email, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "password", 0, BR_AUTH_PASSWORD_MAX, &pw, NULL, err,
                       sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (email && !br_email_valid(email)) {
        gw_error(r, 400, "bad_request", "email is not an address");
        return;
    }
    if (pw && br_auth_password_check(pw, err, sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (!(st = gw_store(r)) || subject_ids(r, st, "favorite_subjects", fav, &n_fav))
        return;
    if (pw && br_auth_hash_password(pw, hash, sizeof hash)) {
        gw_error(r, 503, "busy", "the server is busy; retry");
        return;
    }
    br_account_changes ch = {.email = email, .password_hash = pw ? hash : NULL,
                             .set_fav = json_object_get(r->body, "favorite_subjects") != NULL,
                             .fav = fav, .n_fav = n_fav};
    br_account a;
    int rc = br_account_update(st, r->account_id, &ch, &a);
    if (rc == BR_EEXIST)
        gw_error(r, 409, "taken", "that email is already registered");
    else if (rc)
        gw_error(r, 500, "internal", "could not update the account");
    else {
        if (pw) /* other sessions of this account end with a password change */
            br_session_delete_account(st, r->account_id, r->token_hash);
        gw_json(r, 200, json_pack("{s:o}", "account", account_json(r, st, &a)));
    }
}

void gw_me_delete(gw_req *r)
{
    char cookie[256];
    br_store *st = gw_store(r);
    if (!st)
        return;
    if (br_account_delete(st, r->account_id)) {
        gw_error(r, 500, "internal", "could not delete the account");
        return;
    }
    br_auth_clear_cookie(cookie, sizeof cookie, r->g->o.cookie_secure);
    gw_header(r, "Set-Cookie", cookie);
    br_http_resp_json_text(r->resp, 200, "{\"deleted\":true}", 16);
}

void gw_ratings_post(gw_req *r)
{
    static const char *const allowed[] = {"book", "rating", NULL};
    char err[256];
    int64_t book, rating;
    br_store *st;
    if (br_jreq_only(r->body, allowed, err, sizeof err) ||
        br_jreq_int(r->body, "book", 1, 0, INT32_MAX - 1, 0, &book, err, sizeof err) ||
        br_jreq_int(r->body, "rating", 0, 1, 10, 0, &rating, err, sizeof err)) {
        gw_error(r, 400, "bad_request", "%s (rating: 1-10, or leave it out to mark as read)",
                 err);
        return;
    }
    if (!(st = gw_store(r)))
        return;
    int rc = br_rating_put(st, r->user_id, book, (int)rating, now_unix());
    if (rc == BR_ENOENT)
        gw_error(r, 404, "not_found", "no book %lld", (long long)book);
    else if (rc)
        gw_error(r, 500, "internal", "could not store the rating");
    else
        gw_json(r, 201, json_pack("{s:I, s:o}", "book", (json_int_t)book, "rating",
                                  rating ? json_integer(rating) : json_null()));
}

void gw_ratings_delete(gw_req *r)
{
    int64_t book;
    br_store *st;
    if (gw_param_id(r, 0, &book) || !(st = gw_store(r)))
        return;
    int rc = br_rating_delete(st, r->user_id, book);
    if (rc == BR_ENOENT)
        gw_error(r, 404, "not_found", "you have not rated or read book %lld", (long long)book);
    else if (rc)
        gw_error(r, 500, "internal", "could not remove the rating");
    else
        br_http_resp_json_text(r->resp, 200, "{\"deleted\":true}", 16);
}

void gw_me_ratings(gw_req *r)
{
    int64_t limit;
    const char *cursor;
    br_store *st;
    if (gw_query_int(r, "limit", 1, 100, 20, &limit) || gw_query_str(r, "cursor", 64, &cursor) ||
        !(st = gw_store(r)))
        return;
    br_rating_cursor after, *ap = NULL;
    if (cursor) {
        long long ts, item;
        char tail;
        if (sscanf(cursor, "%lld.%lld%c", &ts, &item, &tail) != 2 || ts < 0 || item < 0) {
            gw_error(r, 400, "bad_request", "cursor must be the next_cursor of a previous page");
            return;
        }
        after.ts = ts;
        after.item_idx = item;
        ap = &after;
    }
    br_rating_row rows[100];
    size_t n;
    int more;
    if (br_rating_list(st, r->user_id, ap, rows, (size_t)limit, &n, &more)) {
        gw_error(r, 500, "internal", "could not list the ratings");
        return;
    }
    int32_t ids[100];
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)rows[i].item_idx;
    /* Titles come from the metadata service; the list works without it too. */
    json_t *books = n ? gw_books(r, ids, n) : json_array();
    if (!books) {
        free(r->resp->body); /* metadata is optional here: forget that error reply */
        r->resp->body = NULL;
        r->resp->body_len = 0;
        r->resp->status = 200;
        books = json_array();
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(books, i);
        json_array_append_new(items, json_pack("{s:I, s:o, s:I, s:O}", "book",
                                               (json_int_t)rows[i].item_idx, "rating",
                                               rows[i].rating ? json_integer(rows[i].rating)
                                                              : json_null(),
                                               "ts", (json_int_t)rows[i].ts, "metadata",
                                               b ? b : json_null()));
    }
    json_decref(books);
    char next[64] = "";
    if (more && n)
        snprintf(next, sizeof next, "%lld.%lld", (long long)rows[n - 1].ts,
                 (long long)rows[n - 1].item_idx);
    gw_json(r, 200, json_pack("{s:o, s:s?, s:b}", "items", items, "next_cursor",
                              next[0] ? next : NULL, "has_more", more));
}

void gw_events_post(gw_req *r)
{
    static const char *const allowed[] = {"type", "surface", "mode", "book", "version", NULL};
    const char *type, *surface, *mode, *version;
    char err[256];
    int64_t book;
    br_event e = {0};
    br_store *st;
    if (br_jreq_only(r->body, allowed, err, sizeof err) ||
        br_jreq_string(r->body, "type", 1, 16, &type, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "surface", 1, 32, &surface, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "mode", 0, BR_EVENT_MODE_MAX, &mode, NULL, err, sizeof err) ||
        br_jreq_string(r->body, "version", 0, BR_EVENT_VERSION_MAX, &version, NULL, err,
                       sizeof err) ||
        br_jreq_int(r->body, "book", 1, 0, INT32_MAX - 1, 0, &book, err, sizeof err)) {
        gw_error(r, 400, "bad_request", "%s", err);
        return;
    }
    if (br_event_type_parse(type, &e.type) || br_event_surface_parse(surface, &e.surface)) {
        gw_error(r, 400, "bad_request", "type is impression or click; surface is "
                 "recommendations, similar, search or chat");
        return;
    }
    if (!(st = gw_store(r)))
        return;
    e.ts = now_unix();
    e.account_id = r->account_id;
    e.mode = mode;
    e.version = version;
    e.item_idx = book;
    int rc = br_event_insert(st, &e);
    if (rc == BR_ENOENT)
        gw_error(r, 404, "not_found", "no book %lld", (long long)book);
    else if (rc == BR_EINVAL)
        gw_error(r, 400, "bad_request", "mode and version: letters, digits and _ . : + -");
    else if (rc)
        gw_error(r, 500, "internal", "could not store the event");
    else {
        /* Retention: now and then, drop what is older than the configured days. */
        if ((e.ts & 63) == 0)
            br_event_purge_older(st, e.ts - r->g->o.event_retention_days * 86400);
        br_http_resp_json_text(r->resp, 202, "{\"accepted\":true}", 17);
    }
}
