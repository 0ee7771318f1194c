/* The gateway's core: routing, per-request context, replies, the per-thread store, model
 * calls within one version, rate limits and metrics (see gateway.h). */
#include "gw.h"

#include "auth.h"
#include "cache.h"
#include "jsonreq.h"
#include "ratelimit.h"

#include "bookrec/error.h"
#include "bookrec/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const gw_route g_routes[] = {
    {"POST", "/api/v1/auth/signup", gw_signup, GW_BODY},
    {"POST", "/api/v1/auth/login", gw_login, GW_BODY},
    {"POST", "/api/v1/auth/logout", gw_logout, GW_AUTH},
    {"GET", "/api/v1/me", gw_me_get, GW_AUTH},
    {"PATCH", "/api/v1/me", gw_me_patch, GW_AUTH | GW_BODY},
    {"DELETE", "/api/v1/me", gw_me_delete, GW_AUTH},
    {"GET", "/api/v1/me/ratings", gw_me_ratings, GW_AUTH},
    {"POST", "/api/v1/ratings", gw_ratings_post, GW_AUTH | GW_BODY},
    {"DELETE", "/api/v1/ratings/{book}", gw_ratings_delete, GW_AUTH},
    {"GET", "/api/v1/recommendations", gw_recommendations, GW_MODELS},
    {"GET", "/api/v1/popular", gw_popular, GW_MODELS},
    {"GET", "/api/v1/books/by-isbn/{isbn}", gw_books_by_isbn, 0},
    {"GET", "/api/v1/books/{book}", gw_books_get, GW_MODELS},
    {"GET", "/api/v1/books/{book}/similar", gw_books_similar, GW_MODELS},
    {"GET", "/api/v1/search", gw_search, GW_MODELS},
    {"GET", "/api/v1/subjects", gw_subjects, 0},
    {"POST", "/api/v1/events", gw_events_post, GW_BODY},
    {"POST", "/api/v1/admin/reload", gw_admin_reload, GW_ADMIN},
    {"GET", "/api/v1/admin/versions", gw_admin_versions, GW_ADMIN},
    {"GET", "/api/v1/openapi.json", gw_openapi, 0},
    {"GET", "/health/live", gw_health_live, 0},
    {"GET", "/health/ready", gw_health_ready, 0},
    {"GET", "/metrics", gw_metrics, 0},
};
#define N_ROUTES (sizeof g_routes / sizeof g_routes[0])

size_t br_gateway_route_count(void) { return N_ROUTES; }

void br_gateway_route_at(size_t i, const char **method, const char **pattern)
{
    *method = i < N_ROUTES ? g_routes[i].method : NULL;
    *pattern = i < N_ROUTES ? g_routes[i].pattern : NULL;
}

void br_gateway_opts_default(br_gateway_opts *o)
{
    memset(o, 0, sizeof *o);
    o->db_url = "var/bookrec.db";
    o->admin_token = "";
    o->max_body = 64 * 1024;
    o->cache_entries = 20000;
    o->warm_min_ratings = 5;
    o->session_ttl_s = 14 * 86400;
    o->rate_ip = 200, o->burst_ip = 400;
    o->rate_user = 50, o->burst_user = 100;
    o->rate_login = 0.2, o->burst_login = 5;
    o->event_retention_days = 90;
}

static void close_store(void *p)
{
    (void)p; /* stores are closed by br_gateway_free, which knows them all */
}

int br_gateway_new(const br_gateway_opts *o, br_gateway **out, char *err, size_t errcap)
{
    *out = NULL;
    br_gateway *g = calloc(1, sizeof *g);
    if (!g)
        return BR_ENOMEM;
    g->o = *o;
    /* A limit is off (rate 0) or a valid bucket: rate > 0, burst >= 1. */
    if (o->rate_ip < 0 || o->rate_user < 0 || o->rate_login < 0 ||
        (o->rate_ip > 0 && o->burst_ip < 1) || (o->rate_user > 0 && o->burst_user < 1) ||
        (o->rate_login > 0 && o->burst_login < 1)) {
        snprintf(err, errcap, "rate limits need rate >= 0 and a burst of at least 1");
        free(g);
        return BR_EINVAL;
    }
    snprintf(g->db_url, sizeof g->db_url, "%s", o->db_url ? o->db_url : "");
    snprintf(g->admin_token, sizeof g->admin_token, "%s", o->admin_token ? o->admin_token : "");
    snprintf(g->web_dir, sizeof g->web_dir, "%s", o->web_dir ? o->web_dir : "");
    int rc = BR_ENOMEM;
    if (pthread_key_create(&g->store_key, close_store) != 0 ||
        pthread_mutex_init(&g->stores_mu, NULL) != 0)
        goto fail;
    if (br_router_new(g->o.clients, &g->router) || br_metrics_new(&g->metrics))
        goto fail;
    if (!(g->route_ids = calloc(N_ROUTES, sizeof *g->route_ids)))
        goto fail;
    for (size_t i = 0; i < N_ROUTES; i++)
        g->route_ids[i] = br_metrics_route(g->metrics, g_routes[i].pattern);
    if (o->cache_entries > 0 &&
        br_cache_lru_new((size_t)o->cache_entries, (size_t)o->cache_entries * 16384, &g->cache))
        goto fail;
    if (br_ratelimit_new(1 << 16, &g->rl))
        goto fail;
    /* So that a sign-in for an unknown name costs a full hash from the first one on. */
    if (br_auth_warmup() != 0)
        goto fail;
    /* The store must open: fail now rather than on the first request. */
    br_store *st;
    if (br_store_open(g->db_url, &st) != 0) {
        snprintf(err, errcap, "cannot open database %s: %s", g->db_url, br_store_errmsg(NULL));
        rc = BR_ESTORE;
        goto fail;
    }
    if ((rc = br_store_migrate(st, NULL))) {
        snprintf(err, errcap, "migrating %s: %s", g->db_url, br_store_errmsg(st));
        br_store_close(st);
        goto fail;
    }
    br_store_close(st);
    *out = g;
    return 0;
fail:
    br_gateway_free(g);
    return rc;
}

void br_gateway_free(br_gateway *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_stores; i++)
        br_store_close(g->stores[i]);
    free(g->stores);
    br_router_free(g->router);
    br_metrics_free(g->metrics);
    br_cache_free(g->cache);
    br_ratelimit_free(g->rl);
    free(g->route_ids);
    free(g);
}

/* ---- replies ---- */

void gw_error(gw_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    br_http_resp_error(r->resp, status, code, "%s", msg);
}

void gw_json(gw_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(body);
    if (!text) {
        gw_error(r, 500, "internal", "could not render the reply");
        return;
    }
    br_http_resp_json_text(r->resp, status, text, strlen(text));
    free(text);
}

void gw_header(gw_req *r, const char *name, const char *value)
{
    br_http_resp_header(r->resp, name, value);
}

br_store *gw_store(gw_req *r)
{
    if (r->st)
        return r->st;
    br_gateway *g = r->g;
    br_store *st = pthread_getspecific(g->store_key);
    if (!st) {
        if (br_store_open(g->db_url, &st) != 0) {
            br_error("gateway: cannot open the database: %s", br_store_errmsg(NULL));
            gw_error(r, 503, "unavailable", "the database is unavailable");
            return NULL;
        }
        pthread_mutex_lock(&g->stores_mu);
        if (g->n_stores == g->cap_stores) {
            size_t cap = g->cap_stores ? 2 * g->cap_stores : 16;
            br_store **s = realloc(g->stores, cap * sizeof *s);
            if (s) {
                g->stores = s;
                g->cap_stores = cap;
            }
        }
        if (g->n_stores < g->cap_stores)
            g->stores[g->n_stores++] = st;
        pthread_mutex_unlock(&g->stores_mu);
        pthread_setspecific(g->store_key, st);
    }
    return r->st = st;
}

/* ---- arguments ---- */

int gw_query_int(gw_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                 int64_t *out)
{
    const char *v = br_http_req_query(r->req, name);
    char *end;
    if (!v || !v[0]) {
        *out = def;
        return 0;
    }
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno || x < min || x > max) {
        gw_error(r, 400, "bad_request", "%s must be an integer between %lld and %lld", name,
                 (long long)min, (long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

int gw_query_double(gw_req *r, const char *name, double min, double max, double def,
                    double *out)
{
    const char *v = br_http_req_query(r->req, name);
    char *end;
    if (!v || !v[0]) {
        *out = def;
        return 0;
    }
    double x = strtod(v, &end);
    if (*end || !isfinite(x) || x < min || x > max) {
        gw_error(r, 400, "bad_request", "%s must be a number between %g and %g", name, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int gw_query_str(gw_req *r, const char *name, size_t max, const char **out)
{
    const char *v = br_http_req_query(r->req, name);
    *out = NULL;
    if (v && strlen(v) > max) {
        gw_error(r, 400, "bad_request", "%s is longer than %zu bytes", name, max);
        return -1;
    }
    /* Handlers put strings into JSON (requests to the services, replies), which must be
     * UTF-8: jansson's check, once, here. */
    json_t *utf8 = v ? json_string(v) : NULL;
    if (v && !utf8) {
        gw_error(r, 400, "bad_request", "%s is not UTF-8 text", name);
        return -1;
    }
    json_decref(utf8);
    *out = v && v[0] ? v : NULL;
    return 0;
}

int gw_param_id(gw_req *r, int i, int64_t *out)
{
    const char *v = r->param[i];
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : -1;
    if (!v || !v[0] || *end || errno || x < 0 || x >= INT32_MAX) {
        gw_error(r, 400, "bad_request", "the book id must be a non-negative integer");
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- model calls ---- */

int gw_call(gw_req *r, enum br_role_id role, const char *endpoint, json_t *req,
            br_svc_reply *out)
{
    if (!r->version[0] && br_router_pick(r->g->router, r->version, sizeof r->version) != 0) {
        memset(out, 0, sizeof *out);
        json_decref(req);
        gw_error(r, 503, "no_model", "no model version is loaded by every service yet");
        return 0;
    }
    br_router_call(r->g->router, role, endpoint, req, r->version, out);
    json_decref(req); /* callers hand over a new reference (json_pack) */
    if (out->status == 409) {
        r->retry = 1;
    } else if (out->status == 0 || out->status >= 500) {
        gw_error(r, 502, "service_unavailable", "the %s service did not answer",
                 br_role_name(role));
        return out->status ? out->status : 0;
    }
    return out->status;
}

json_t *gw_books(gw_req *r, const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    br_svc_reply rep;
    json_t *books = NULL;
    int st = gw_call(r, BR_ROLE_METADATA, "/books", json_pack("{s:o}", "ids", a), &rep);
    if (st == 200) {
        json_t *b = rep.body ? json_incref(rep.body) : json_loadb(rep.raw, rep.raw_len, 0, NULL);
        books = json_incref(json_object_get(b, "books"));
        json_decref(b);
    }
    br_svc_reply_free(&rep);
    return books;
}

/* ---- cache ---- */

int gw_cache_get(gw_req *r, const char *key, char **val, size_t *len)
{
    return r->g->cache ? br_cache_get(r->g->cache, key, val, len) : BR_ENOENT;
}

void gw_cache_put(gw_req *r, const char *key, const char *val, size_t len)
{
    /* Keys name the version and the reader's state, so entries never go stale; the TTL
     * only bounds how long an unused entry lingers. */
    if (r->g->cache)
        br_cache_set(r->g->cache, key, val, len, 3600);
}

/* ---- dispatch ---- */

/* Matches path against pattern; {x} segments are captured into r->param. */
static int match(const char *pattern, const char *path, gw_req *r)
{
    int np = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *pe = strchr(pattern, '}'), *se = strchr(path, '/');
            size_t len = se ? (size_t)(se - path) : strlen(path);
            if (!pe || len == 0 || len >= sizeof r->param_buf[0] || np >= 2)
                return 0;
            memcpy(r->param_buf[np], path, len);
            r->param_buf[np][len] = 0;
            r->param[np] = r->param_buf[np];
            np++;
            pattern = pe + 1;
            path += len;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int rate_limited(gw_req *r, const char *kind, const char *who, double rate, double burst)
{
    char key[160];
    double retry;
    snprintf(key, sizeof key, "%s:%s", kind, who);
    /* Options are checked when the gateway starts, so take() never refuses them here. */
    if (rate <= 0 || br_ratelimit_take(r->g->rl, key, rate, burst, now_s(), &retry) == 1)
        return 0;
    char ra[32];
    snprintf(ra, sizeof ra, "%d", (int)ceil(retry));
    gw_header(r, "Retry-After", ra);
    gw_error(r, 429, "rate_limited", "too many requests; retry in %s s", ra);
    return 1;
}

/* The client's address for rate limits: the peer, or, when the peer is a local proxy
 * (nginx in front, the production issue), the X-Real-IP it sets. */
static const char *client_ip(const br_http_req *req, char *buf, size_t cap)
{
    const char *v = br_http_req_header(req, "X-Real-IP");
    int local = !strcmp(req->peer, "127.0.0.1") || !strcmp(req->peer, "::1");
    snprintf(buf, cap, "%s", local && v && strlen(v) < 64 ? v : req->peer[0] ? req->peer : "?");
    return buf;
}

void br_gateway_handle(void *ctx, const br_http_req *req, br_http_resp *resp)
{
    br_gateway *g = ctx;
    double t0 = now_s();
    gw_req r = {.g = g, .req = req, .resp = resp};
    const gw_route *rt = NULL;
    int path_known = 0, metric = -1;
    for (size_t i = 0; i < N_ROUTES && !rt; i++)
        if (match(g_routes[i].pattern, req->path, &r)) {
            path_known = 1;
            if (!strcmp(g_routes[i].method, req->method)) {
                rt = &g_routes[i];
                metric = g->route_ids[i];
            }
        }
    if (!rt && !path_known && strncmp(req->path, "/api/", 5) && gw_static(&r))
        goto done;
    if (!rt) {
        if (path_known)
            gw_error(&r, 405, "method_not_allowed", "this path does not accept %s",
                     strlen(req->method) < 10 ? req->method : "that method");
        else
            gw_error(&r, 404, "not_found", "no such endpoint");
        goto done;
    }
    client_ip(req, r.ip, sizeof r.ip);
    if (rate_limited(&r, "ip", r.ip, g->o.rate_ip, g->o.burst_ip))
        goto done;
    if (rt->flags & GW_ADMIN) {
        const char *a = br_http_req_header(req, "Authorization");
        size_t lw = strlen(g->admin_token);
        if (!lw) {
            gw_error(&r, 403, "forbidden", "the admin API is disabled (serve.admin_token)");
            goto done;
        }
        unsigned char d = !a || strncmp(a, "Bearer ", 7) || strlen(a + 7) != lw;
        for (size_t i = 0; a && !d && i < lw; i++)
            d |= (unsigned char)(a[7 + i] ^ g->admin_token[i]);
        if (d) {
            gw_error(&r, 401, "unauthorized", "a valid admin token is required");
            goto done;
        }
    } else {
        gw_authenticate(&r);
        if (gw_replied(&r))
            goto done;
        if ((rt->flags & GW_AUTH) && !r.account_id) {
            gw_error(&r, 401, "unauthorized", "sign in first (cookie or bearer token)");
            goto done;
        }
        if (r.account_id) {
            char who[32];
            snprintf(who, sizeof who, "%lld", (long long)r.account_id);
            if (rate_limited(&r, "user", who, g->o.rate_user, g->o.burst_user))
                goto done;
        }
    }
    if (rt->flags & GW_BODY) {
        const char *ct = br_http_req_header(req, "Content-Type");
        char err[256];
        if (!ct || strncmp(ct, "application/json", 16) != 0) {
            gw_error(&r, 415, "unsupported_media_type", "send the body as application/json");
            goto done;
        }
        if (br_jreq_parse(req->body, req->body_len, g->o.max_body, &r.body, err, sizeof err)) {
            gw_error(&r, 400, "bad_request", "%s", err);
            goto done;
        }
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        r.retry = 0;
        r.version[0] = 0;
        rt->fn(&r);
        if (!r.retry || !(rt->flags & GW_MODELS))
            break;
        /* A service dropped the version mid-request: start again on a fresh pick. */
        free(resp->body);
        memset(resp, 0, sizeof *resp);
        resp->status = 200;
    }
    if (r.retry && (rt->flags & GW_MODELS))
        gw_error(&r, 503, "rollout", "a model rollout is in progress; retry");
    if (r.version[0])
        gw_header(&r, "X-Model-Version", r.version);
done:
    json_decref(r.body);
    if (!resp->body)
        gw_error(&r, 500, "internal", "the handler produced no reply");
    br_metrics_observe(g->metrics, metric, resp->status, now_s() - t0);
}
