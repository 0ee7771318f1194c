/* libFuzzer driver for the gateway's request handling (server/gateway.c): routing of
 * arbitrary methods and paths, {book}/{isbn} path parameters, query arguments, headers
 * (Authorization, Cookie, X-CSRF-Token, Content-Type) and bodies, all the way through the
 * handlers.
 *
 * The gateway runs in process around a temporary SQLite database (a few works, editions
 * and subjects, and one account with a session whose bearer token and CSRF token the seeds
 * use), with the five model services created but nothing loaded: requests that need a model
 * answer 503, as a server before its first publish does.
 *
 * Input: the method on the first line, the path (no query string) on the second, then lines
 * "?name=value" (query arguments) or "Name: value" (headers) up to an empty line, then the
 * body. Bodies that would make the handler hash a password (signup, login, PATCH /me with a
 * password) are replaced by "{}": Argon2id with 64 MiB per call would make the fuzzer crawl,
 * and tests/unit/server/test_auth.c covers it.
 *
 * Headers and query arguments reach the handlers through br_http_req_header/_query, which
 * ask libmicrohttpd's MHD_lookup_connection_value about the connection. There is no
 * connection here, so this file defines MHD_lookup_connection_value itself: the
 * executable's definition takes precedence over the shared library's, and req.conn points
 * at the fake request below.
 *
 * Invariants: no crash, leak or sanitizer report; every reply has a status in 100..599;
 * a JSON reply parses, and an error reply (>= 400; but for /health/ready's 503 and
 * /admin/reload's 409, which carry reports) is {"error":{"code","message"}} with both
 * strings non-empty; an unknown path is 404 and a known path with another method 405;
 * nothing answers 500 (a handler that gave no reply, or a bug). */
#include "auth.h"
#include "gateway.h"
#include "service.h"
#include "svc_client.h"

#include "bookrec/accounts.h"
#include "bookrec/error.h"
#include "bookrec/store.h"

#include <ftw.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_KV 32
#define TOKEN "fuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZ012" /* 43 chars, token shape */
#define CSRF "csrfCSRFcsrfCSRFcsrfCSRFcsrfCSRFcsrfCSRF012"

struct fake_req {
    const char *hname[MAX_KV], *hval[MAX_KV];
    const char *qname[MAX_KV], *qval[MAX_KV];
    int nh, nq;
};

/* See the file comment: stands in for libmicrohttpd's lookup. */
const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
                                        enum MHD_ValueKind kind, const char *key)
{
    const struct fake_req *f = (const struct fake_req *)(void *)connection;
    if (!f || !key)
        return NULL;
    if (kind == MHD_HEADER_KIND) {
        for (int i = 0; i < f->nh; i++)
            if (!strcasecmp(f->hname[i], key))
                return f->hval[i];
    } else if (kind == MHD_GET_ARGUMENT_KIND) {
        for (int i = 0; i < f->nq; i++)
            if (!strcmp(f->qname[i], key))
                return f->qval[i];
    }
    return NULL;
}

static char g_dir[64], g_db[128];
static br_service *g_svcs[BR_ROLE_COUNT];
static br_svc_client *g_clients[BR_ROLE_COUNT];
static br_gateway *g_gw;
static br_store *g_st;
static int g_accounts;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    br_gateway_free(g_gw);
    for (int i = 0; i < BR_ROLE_COUNT; i++) {
        br_svc_client_free(g_clients[i]);
        br_service_free(g_svcs[i]);
    }
    br_store_close(g_st);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The account the seeds sign in as: (re)made when a DELETE /me or a logout removed it. */
static void ensure_session(void)
{
    char hash[BR_AUTH_TOKEN_HASH_CAP], name[32], email[64];
    int64_t account;
    if (br_auth_token_hash(TOKEN, hash) != 0)
        abort();
    if (br_session_lookup(g_st, hash, 0, &account, NULL, 0) == 0)
        return;
    br_account a;
    if (br_account_by_username(g_st, "fuzzer", &a) != 0) {
        snprintf(name, sizeof name, "fuzzer");
        snprintf(email, sizeof email, "fuzzer%d@example.org", g_accounts++);
        int32_t fav = 1;
        if (br_account_create(g_st, name, email, "$argon2id$v=19$m=65536,t=2,p=1$not-a-hash",
                              &fav, 1, &a) != 0)
            abort();
    }
    if (br_session_create(g_st, a.account_id, hash, CSRF, INT64_MAX / 2) != 0)
        abort();
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz-route-XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    atexit(cleanup);
    snprintf(g_db, sizeof g_db, "%s/gw.db", g_dir);
    if (br_store_open(g_db, &g_st) != 0 || br_store_migrate(g_st, NULL) != 0)
        abort();
    if (br_store_exec(g_st,
                      "INSERT INTO works (item_idx, work_key, title, has_title, created_import) "
                      "VALUES (0, 'w0', 'Zero', 1, 1), (1, 'w1', 'One', 1, 1), "
                      "(7, 'w7', 'Seven', 1, 1);"
                      "INSERT INTO editions (isbn13, isbn10, item_idx, source, match_kind) "
                      "VALUES ('9780306406157', '0306406152', 1, 'fuzz', 'exact');"
                      "INSERT INTO subjects (subject_id, name, n_books) VALUES "
                      "(1, 'fantasy', 2), (2, 'epic fantasy', 1), (3, 'nature', 1);"
                      "INSERT INTO work_subjects (item_idx, subject_id, weight) VALUES "
                      "(0, 1, 1.0), (1, 1, 1.0), (1, 2, 0.5), (7, 3, 1.0);") != 0)
        abort();
    ensure_session();
    /* Model services with an empty artifacts directory: nothing loaded. */
    br_service_opts so = {.artifacts = g_dir, .grace_ms = 0};
    for (int i = 0; i < BR_ROLE_COUNT; i++)
        if (br_service_new((enum br_role_id)i, &so, &g_svcs[i]) != 0 ||
            br_svc_client_local(g_svcs[i], &g_clients[i]) != 0)
            abort();
    br_gateway_opts o;
    br_gateway_opts_default(&o);
    o.db_url = g_db;
    memcpy(o.clients, g_clients, sizeof o.clients);
    o.admin_token = "fuzz-admin";
    o.max_body = 2048;
    o.cache_entries = 64;
    /* No rate limits: after a burst every input would be a 429. */
    o.rate_ip = o.rate_user = o.rate_login = 0;
    o.web_dir = NULL;
    char err[256];
    if (br_gateway_new(&o, &g_gw, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_route: %s\n", err);
        abort();
    }
}

/* Splits the next line off *p (at most end); NUL-terminates it in place. */
static char *next_line(char **p, char *end)
{
    char *s = *p, *nl;
    if (s >= end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = end;
    }
    return s;
}

/* 1 when path matches pattern with {x} segments (the gateway's rule, restated). */
static int shape_matches(const char *pattern, const char *path)
{
    while (*pattern && *path) {
        if (*pattern == '{') {
            size_t len = strcspn(path, "/");
            if (len == 0 || len >= 128)
                return 0;
            pattern = strchr(pattern, '}') + 1;
            path += len;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

/* A broken invariant: says which, with the reply, for the crash report. */
static void fail(const char *why, const br_http_resp *resp)
{
    fprintf(stderr, "fuzz_route: %s: status %d, body %.*s\n", why, resp->status,
            (int)(resp->body_len < 400 ? resp->body_len : 400), resp->body ? resp->body : "");
    abort();
}

static void check_reply(const char *method, const char *path, const br_http_resp *resp)
{
    if (resp->status < 100 || resp->status > 599 || resp->status == 500)
        fail("bad status", resp);
    int known = 0, allowed = 0;
    for (size_t i = 0; i < br_gateway_route_count(); i++) {
        const char *m, *p;
        br_gateway_route_at(i, &m, &p);
        if (shape_matches(p, path)) {
            known = 1;
            allowed |= !strcmp(m, method);
        }
    }
    if (!known && resp->status != 404)
        fail("unknown path not 404", resp);
    if (known && !allowed && resp->status != 405)
        fail("known path, other method, not 405", resp);
    if (resp->content_type && strcmp(resp->content_type, "application/json"))
        return; /* /metrics */
    json_t *j = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, NULL);
    if (!j)
        fail("reply is not JSON", resp);
    /* Not ready (503) and a refused reload (409) answer with their report instead. */
    if (resp->status >= 400 && !json_object_get(j, "ready") && !json_object_get(j, "services")) {
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!code || !code[0] || !msg || !msg[0])
            fail("error reply without code and message", resp);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_gw)
        setup();
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *p = buf, *end = buf + size;
    char *method = next_line(&p, end), *path = next_line(&p, end), *line;
    struct fake_req f = {0};
    if (!method || !path)
        goto out;
    while ((line = next_line(&p, end)) && line[0]) {
        if (line[0] == '?' && f.nq < MAX_KV) {
            char *eq = strchr(line + 1, '=');
            if (eq)
                *eq = 0;
            f.qname[f.nq] = line + 1;
            f.qval[f.nq++] = eq ? eq + 1 : "";
        } else if (f.nh < MAX_KV) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = 0;
            f.hname[f.nh] = line;
            f.hval[f.nh++] = colon[1] == ' ' ? colon + 2 : colon + 1;
        }
    }
    const char *body = p < end ? p : "";
    size_t body_len = p < end ? (size_t)(end - p) : 0;
    if ((strstr(path, "/auth/") || !strcmp(method, "PATCH")) &&
        memmem(body, body_len, "password", 8)) {
        body = "{}";
        body_len = 2;
    }
    ensure_session();
    br_http_req req = {.method = method, .path = path, .body = body, .body_len = body_len,
                       .conn = &f};
    br_http_resp resp = {0};
    br_gateway_handle(g_gw, &req, &resp);
    check_reply(method, path, &resp);
    free(resp.body);
out:
    free(buf);
    return 0;
}
