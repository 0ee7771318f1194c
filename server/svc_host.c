/* The HTTP front of model services (see svc_host.h). */
#include "svc_host.h"

#include "jsonreq.h"

#include "bookrec/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct br_svc_host {
    br_service *svcs[BR_ROLE_COUNT];
    size_t n;
    char admin_token[256], service_token[256];
    size_t max_body;
    br_metrics *metrics;
    int route_health, route_metrics, route_admin, route_ep[BR_ROLE_COUNT][8];
};

int br_svc_host_new(br_service *const *svcs, size_t n, const br_svc_host_opts *o,
                    br_svc_host **out)
{
    *out = NULL;
    if (!svcs || n == 0 || n > BR_ROLE_COUNT || !o)
        return BR_EINVAL;
    br_svc_host *h = calloc(1, sizeof *h);
    if (!h || br_metrics_new(&h->metrics) != 0) {
        free(h);
        return BR_ENOMEM;
    }
    h->n = n;
    memcpy(h->svcs, svcs, n * sizeof *svcs);
    snprintf(h->admin_token, sizeof h->admin_token, "%s", o->admin_token ? o->admin_token : "");
    snprintf(h->service_token, sizeof h->service_token, "%s",
             o->service_token ? o->service_token : "");
    h->max_body = o->max_body ? o->max_body : 1 << 20;
    h->route_health = br_metrics_route(h->metrics, "/health");
    h->route_metrics = br_metrics_route(h->metrics, "/metrics");
    h->route_admin = br_metrics_route(h->metrics, "/admin/reload");
    for (size_t i = 0; i < n; i++) {
        const br_role *r = br_role_def(br_service_role(svcs[i]));
        for (size_t e = 0; e < r->n_endpoints && e < 8; e++)
            h->route_ep[i][e] = br_metrics_route(h->metrics, r->endpoints[e].path);
    }
    *out = h;
    return 0;
}

void br_svc_host_free(br_svc_host *h)
{
    if (!h)
        return;
    br_metrics_free(h->metrics);
    free(h);
}

/* Constant-time comparison of a presented bearer token with the expected one. */
static int token_ok(const br_http_req *req, const char *want)
{
    const char *auth = br_http_req_header(req, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *got = auth + 7;
    size_t lg = strlen(got), lw = strlen(want);
    unsigned char d = lg != lw;
    for (size_t i = 0; i < lw; i++)
        d |= (unsigned char)(want[i] ^ (i < lg ? got[i] : 0));
    return d == 0;
}

/* The admin token comes as X-Admin-Token (so that it can travel beside a service token),
 * or as the bearer token. */
static int admin_ok(const br_http_req *req, const char *want)
{
    const char *x = br_http_req_header(req, "X-Admin-Token");
    if (!x)
        return token_ok(req, want);
    size_t lx = strlen(x), lw = strlen(want);
    unsigned char d = lx != lw;
    for (size_t i = 0; i < lw; i++)
        d |= (unsigned char)(want[i] ^ (i < lx ? x[i] : 0));
    return d == 0;
}

static void reply_json(br_http_resp *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    if (!text) {
        br_http_resp_error(resp, 500, "internal", "could not render the reply");
        return;
    }
    br_http_resp_json_text(resp, status, text, strlen(text));
    free(text);
}

static void version_headers(br_http_resp *resp, br_service *s, const char *answered)
{
    char loaded[200];
    br_service_loaded(s, loaded, sizeof loaded);
    if (answered && answered[0]) {
        br_http_resp_header(resp, "X-Model-Version", answered);
    } else {
        char cur[200];
        snprintf(cur, sizeof cur, "%s", loaded);
        cur[strcspn(cur, ",")] = 0;
        br_http_resp_header(resp, "X-Model-Version", cur);
    }
    br_http_resp_header(resp, "X-Model-Versions", loaded);
}

int br_svc_host_reload(br_svc_host *h, json_t **report)
{
    int refused = 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < h->n; i++) {
        char err[512] = "", loaded[200];
        int changed = 0;
        int rc = br_service_reload(h->svcs[i], &changed, err, sizeof err);
        br_service_loaded(h->svcs[i], loaded, sizeof loaded);
        refused += rc != 0;
        json_array_append_new(arr, json_pack("{s:s, s:b, s:s, s:s?}", "role",
                                             br_role_name(br_service_role(h->svcs[i])),
                                             "changed", changed, "loaded", loaded, "error",
                                             rc ? err : NULL));
    }
    if (report)
        *report = arr;
    else
        json_decref(arr);
    return refused;
}

static void health(br_svc_host *h, br_http_resp *resp)
{
    if (h->n == 1) {
        reply_json(resp, 200, br_service_health(h->svcs[0]));
        return;
    }
    json_t *all = json_array();
    for (size_t i = 0; i < h->n; i++)
        json_array_append_new(all, br_service_health(h->svcs[i]));
    json_t *b = json_pack("{s:s, s:o}", "role", "all", "services", all);
    reply_json(resp, 200, b);
    json_decref(b);
}

static void metrics(br_svc_host *h, br_http_resp *resp)
{
    for (size_t i = 0; i < h->n; i++) {
        br_service_stats st;
        char name[BR_METRICS_MAX_NAME];
        const char *role = br_role_name(br_service_role(h->svcs[i]));
        br_service_stats_get(h->svcs[i], &st);
        snprintf(name, sizeof name, "bookrec_reloads{role=\"%s\"}", role);
        br_metrics_gauge_set(h->metrics, name, "Versions loaded since start", (double)st.reloads);
        snprintf(name, sizeof name, "bookrec_reload_failures{role=\"%s\"}", role);
        br_metrics_gauge_set(h->metrics, name, "Versions refused (validation failed)",
                             (double)st.reload_failures);
        snprintf(name, sizeof name, "bookrec_version_refused_requests{role=\"%s\"}", role);
        br_metrics_gauge_set(h->metrics, name, "Requests naming a version not held",
                             (double)st.refused_version);
    }
    size_t len;
    char *text = br_metrics_render(h->metrics, &len);
    if (!text) {
        br_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = text;
    resp->body_len = len;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void br_svc_host_handle(void *ctx, const br_http_req *req, br_http_resp *resp)
{
    br_svc_host *h = ctx;
    double t0 = now_s();
    int route = -1;
    br_service *svc = NULL;
    const char *answered = NULL;
    br_svc_reply rep = {0};
    int is_get = !strcmp(req->method, "GET");
    if (!strcmp(req->path, "/health")) {
        route = h->route_health;
        if (is_get)
            health(h, resp);
        else
            br_http_resp_error(resp, 405, "method_not_allowed", "use GET");
        goto done;
    }
    /* /admin/reload is guarded by the admin token, which comes in the same Authorization
     * header: asking for the service token there too would make it unreachable. */
    if (h->service_token[0] && strcmp(req->path, "/admin/reload") != 0 &&
        !token_ok(req, h->service_token)) {
        br_http_resp_error(resp, 401, "unauthorized", "a valid service token is required");
        goto done;
    }
    if (!strcmp(req->path, "/metrics")) {
        route = h->route_metrics;
        if (is_get)
            metrics(h, resp);
        else
            br_http_resp_error(resp, 405, "method_not_allowed", "use GET");
        goto done;
    }
    if (!strcmp(req->path, "/admin/reload")) {
        route = h->route_admin;
        if (strcmp(req->method, "POST")) {
            br_http_resp_error(resp, 405, "method_not_allowed", "use POST");
        } else if (!h->admin_token[0]) {
            br_http_resp_error(resp, 403, "forbidden", "admin calls are disabled "
                               "(serve.admin_token is not set)");
        } else if (!admin_ok(req, h->admin_token)) {
            br_http_resp_error(resp, 401, "unauthorized", "a valid admin token is required");
        } else {
            json_t *report;
            int refused = br_svc_host_reload(h, &report);
            json_t *b = json_pack("{s:o}", "services", report);
            reply_json(resp, refused ? 409 : 200, b);
            json_decref(b);
        }
        goto done;
    }
    for (size_t i = 0; i < h->n && !svc; i++) {
        const br_role *r = br_role_def(br_service_role(h->svcs[i]));
        for (size_t e = 0; e < r->n_endpoints; e++)
            if (!strcmp(req->path, r->endpoints[e].path)) {
                svc = h->svcs[i];
                route = e < 8 ? h->route_ep[i][e] : -1;
            }
    }
    if (!svc) {
        br_http_resp_error(resp, 404, "not_found", "no such endpoint");
        goto done;
    }
    if (strcmp(req->method, "POST")) {
        br_http_resp_error(resp, 405, "method_not_allowed", "use POST with a JSON body");
        goto done;
    }
    const char *ct = br_http_req_header(req, "Content-Type");
    if (ct && strncmp(ct, "application/json", 16) != 0) {
        br_http_resp_error(resp, 415, "unsupported_media_type", "the body must be "
                           "application/json");
        goto done;
    }
    json_t *body;
    char err[256];
    if (br_jreq_parse(req->body, req->body_len, h->max_body, &body, err, sizeof err)) {
        br_http_resp_error(resp, 400, "bad_request", "%s", err);
        goto done;
    }
    const char *want = br_http_req_header(req, "X-Model-Version");
    br_service_call(svc, req->path, body, want, &rep);
    json_decref(body);
    answered = rep.version;
    if (rep.raw) {
        resp->status = rep.status;
        resp->body = rep.raw;
        resp->body_len = rep.raw_len;
        rep.raw = NULL;
    } else {
        reply_json(resp, rep.status, rep.body);
    }
done:
    if (svc || h->n == 1)
        version_headers(resp, svc ? svc : h->svcs[0], answered);
    br_svc_reply_free(&rep);
    br_metrics_observe(h->metrics, route, resp->status ? resp->status : 200, now_s() - t0);
}
