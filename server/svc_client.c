/* Service clients (in-process and HTTP) and the version router (see svc_client.h). */
#include "svc_client.h"

#include "http.h"

#include "bookrec/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct br_svc_client {
    br_service *local;
    br_http_client *http;
};

int br_svc_client_local(br_service *s, br_svc_client **out)
{
    *out = NULL;
    if (!s)
        return BR_EINVAL;
    br_svc_client *c = calloc(1, sizeof *c);
    if (!c)
        return BR_ENOMEM;
    c->local = s;
    *out = c;
    return 0;
}

int br_svc_client_remote(const char *base_url, const char *token, long timeout_ms,
                         br_svc_client **out)
{
    *out = NULL;
    br_svc_client *c = calloc(1, sizeof *c);
    if (!c)
        return BR_ENOMEM;
    br_http_client_opts o = {.base_url = base_url,
                             .timeout_ms = timeout_ms > 0 ? timeout_ms : 5000,
                             .connect_timeout_ms = 1000,
                             .bearer = token && token[0] ? token : NULL};
    int rc = br_http_client_new(&o, &c->http);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void br_svc_client_free(br_svc_client *c)
{
    if (!c)
        return;
    br_http_client_free(c->http);
    free(c);
}

int br_svc_clients_open(const char *spec, const char *token, br_service *const *local,
                        br_svc_client *out[BR_ROLE_COUNT], char *err, size_t errcap)
{
    char urls[BR_ROLE_COUNT][512] = {{0}};
    const char *p = spec ? spec : "";
    int rc = 0;
    memset(out, 0, BR_ROLE_COUNT * sizeof *out);
    while (*p) {
        size_t len = strcspn(p, ","), eq = strcspn(p, "=");
        char name[32];
        enum br_role_id r;
        if (eq >= len || eq >= sizeof name || len - eq - 1 >= sizeof urls[0] || len == eq + 1) {
            snprintf(err, errcap, "serve.services: expected role=URL, got \"%.*s\"",
                     (int)(len < 64 ? len : 64), p);
            return BR_EINVAL;
        }
        snprintf(name, sizeof name, "%.*s", (int)eq, p);
        if (br_role_parse(name, &r) != 0 || urls[r][0]) {
            snprintf(err, errcap, "serve.services: %s role \"%s\"",
                     br_role_parse(name, &r) ? "unknown" : "twice the", name);
            return BR_EINVAL;
        }
        snprintf(urls[r], sizeof urls[r], "%.*s", (int)(len - eq - 1), p + eq + 1);
        p += len + (p[len] == ',');
    }
    for (int r = 0; r < BR_ROLE_COUNT && !rc; r++) {
        if (urls[r][0])
            rc = br_svc_client_remote(urls[r], token, 0, &out[r]);
        else if (local && local[r])
            rc = br_svc_client_local(local[r], &out[r]);
        else
            rc = BR_EINVAL;
        if (rc)
            snprintf(err, errcap, "serve.services: no way to reach the %s service",
                     br_role_name((enum br_role_id)r));
    }
    if (rc)
        for (int r = 0; r < BR_ROLE_COUNT; r++) {
            br_svc_client_free(out[r]);
            out[r] = NULL;
        }
    return rc;
}

int br_svc_client_call(br_svc_client *c, const char *endpoint, const json_t *req,
                       const char *version, br_svc_reply *out)
{
    if (c->local) {
        br_service_call(c->local, endpoint, req, version, out);
        return 0;
    }
    memset(out, 0, sizeof *out);
    char *body = json_dumps(req, JSON_COMPACT);
    char hdr[128];
    const char *headers[2] = {NULL, NULL};
    if (version && version[0]) {
        snprintf(hdr, sizeof hdr, "X-Model-Version: %s", version);
        headers[0] = hdr;
    }
    br_http_result res;
    int rc = body ? br_http_client_call(c->http, "POST", endpoint, body, strlen(body), headers,
                                        &res)
                  : BR_ENOMEM;
    free(body);
    if (rc) {
        br_svc_error(out, 0, "unreachable", "the service did not answer: %s",
                     rc == BR_ENOMEM ? "out of memory" : res.error);
        if (rc != BR_ENOMEM)
            br_http_result_free(&res);
        return BR_EIO;
    }
    out->status = res.status;
    snprintf(out->version, sizeof out->version, "%s", res.version);
    snprintf(out->loaded, sizeof out->loaded, "%s", res.loaded);
    json_error_t je;
    out->body = json_loadb(res.body ? res.body : "", res.body_len, 0, &je);
    if (!out->body) {
        br_svc_error(out, res.status, "bad_reply", "the service's reply is not JSON");
    } else {
        /* The text too: pre-rendered parts (book metadata) are spliced on, not re-encoded. */
        out->raw = res.body;
        out->raw_len = res.body_len;
        res.body = NULL;
    }
    br_http_result_free(&res);
    return 0;
}

static json_t *role_entry(json_t *reply, enum br_role_id role);

int br_svc_client_reload(br_svc_client *c, enum br_role_id role, const char *admin_token,
                         json_t **out)
{
    *out = NULL;
    if (c->local) {
        char err[512] = "", loaded[200];
        int changed = 0, rc = br_service_reload(c->local, &changed, err, sizeof err);
        br_service_loaded(c->local, loaded, sizeof loaded);
        *out = json_pack("{s:s, s:b, s:s, s:s?}", "role", br_role_name(role), "changed",
                         changed, "loaded", loaded, "error", rc ? err : NULL);
        return rc ? BR_ECORRUPT : 0;
    }
    char hdr[300];
    const char *headers[2] = {hdr, NULL};
    br_http_result res;
    snprintf(hdr, sizeof hdr, "X-Admin-Token: %s", admin_token ? admin_token : "");
    if (br_http_client_call(c->http, "POST", "/admin/reload", "{}", 2, headers, &res) != 0) {
        *out = json_pack("{s:s}", "error", res.error);
        br_http_result_free(&res);
        return BR_EIO;
    }
    json_t *rep = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    int rc = res.status == 200 ? 0 : BR_ECORRUPT;
    br_http_result_free(&res);
    *out = rep ? role_entry(rep, role) : json_pack("{s:s, s:s}", "role", br_role_name(role),
                                                   "error", "unreadable reply");
    json_decref(rep);
    return rc;
}

/* The entry of role in a reply that lists several services ({"services": [...]}), or the
 * reply itself; a new reference. */
static json_t *role_entry(json_t *reply, enum br_role_id role)
{
    json_t *e = reply, *x;
    size_t k;
    json_array_foreach(json_object_get(reply, "services"), k, x)
        if (!strcmp(json_string_value(json_object_get(x, "role")) ?: "", br_role_name(role)))
            e = x;
    return json_incref(e);
}

int br_svc_client_health(br_svc_client *c, enum br_role_id role, json_t **out)
{
    json_t *h = NULL;
    *out = NULL;
    if (c->local) {
        *out = br_service_health(c->local);
        return *out ? 0 : BR_ENOMEM;
    }
    br_http_result res;
    if (br_http_client_call(c->http, "GET", "/health", NULL, 0, NULL, &res) != 0) {
        br_http_result_free(&res);
        return BR_EIO;
    }
    if (res.status == 200)
        h = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    br_http_result_free(&res);
    *out = h ? role_entry(h, role) : NULL;
    json_decref(h);
    return *out ? 0 : BR_EIO;
}

/* ---- router ---- */

struct view {
    char cur[64], prev[64];
};

struct br_router {
    br_svc_client *clients[BR_ROLE_COUNT];
    pthread_mutex_t mu;
    struct view views[BR_ROLE_COUNT];
    double refreshed_at;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int br_router_new(br_svc_client *const clients[BR_ROLE_COUNT], br_router **out)
{
    *out = NULL;
    br_router *r = calloc(1, sizeof *r);
    if (!r)
        return BR_ENOMEM;
    memcpy(r->clients, clients, sizeof r->clients);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return BR_ENOMEM;
    }
    *out = r;
    return 0;
}

void br_router_free(br_router *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* "cur,prev" (X-Model-Versions) into a view. */
static void parse_loaded(const char *loaded, struct view *v)
{
    size_t c = strcspn(loaded, ",");
    snprintf(v->cur, sizeof v->cur, "%.*s", (int)(c < 63 ? c : 63), loaded);
    snprintf(v->prev, sizeof v->prev, "%s", loaded[c] ? loaded + c + 1 : "");
}

int br_router_refresh(br_router *r)
{
    struct view v[BR_ROLE_COUNT];
    int rc = 0;
    for (int i = 0; i < BR_ROLE_COUNT; i++) {
        json_t *h;
        memset(&v[i], 0, sizeof v[i]);
        if (br_svc_client_health(r->clients[i], (enum br_role_id)i, &h) != 0) {
            rc = BR_EIO;
            continue;
        }
        const char *cur = json_string_value(json_object_get(h, "version"));
        const char *prev = json_string_value(json_object_get(h, "previous"));
        snprintf(v[i].cur, sizeof v[i].cur, "%s", cur ? cur : "");
        snprintf(v[i].prev, sizeof v[i].prev, "%s", prev ? prev : "");
        json_decref(h);
    }
    pthread_mutex_lock(&r->mu);
    memcpy(r->views, v, sizeof v);
    r->refreshed_at = now_s();
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int holds(const struct view *v, const char *id)
{
    return id[0] && (!strcmp(v->cur, id) || !strcmp(v->prev, id));
}

/* Called with r->mu held. */
static int pick_locked(br_router *r, char *version, size_t cap)
{
    const char *best = NULL;
    int best_cur = -1;
    for (int i = 0; i < BR_ROLE_COUNT; i++) {
        const char *cands[2] = {r->views[i].cur, r->views[i].prev};
        for (int c = 0; c < 2; c++) {
            const char *id = cands[c];
            int all = 1, ncur = 0;
            for (int j = 0; j < BR_ROLE_COUNT && all; j++) {
                all = holds(&r->views[j], id);
                ncur += !strcmp(r->views[j].cur, id);
            }
            if (all && (ncur > best_cur || (ncur == best_cur && strcmp(id, best) > 0))) {
                best = id;
                best_cur = ncur;
            }
        }
    }
    if (!best)
        return BR_ENOENT;
    snprintf(version, cap, "%s", best);
    return 0;
}

int br_router_pick(br_router *r, char *version, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    int stale = now_s() - r->refreshed_at > 0.25;
    int rc = stale ? BR_ENOENT : pick_locked(r, version, cap);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0)
        return 0;
    br_router_refresh(r);
    pthread_mutex_lock(&r->mu);
    rc = pick_locked(r, version, cap);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int br_router_call(br_router *r, enum br_role_id role, const char *endpoint, const json_t *req,
                   const char *version, br_svc_reply *out)
{
    int rc = br_svc_client_call(r->clients[role], endpoint, req, version, out);
    if (rc == 0 && out->loaded[0]) {
        pthread_mutex_lock(&r->mu);
        parse_loaded(out->loaded, &r->views[role]);
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}
