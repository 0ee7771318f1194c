/* The HTTP front of model services: one listener serving one service (`serve --role R`) or
 * several (the all-in-one process), dispatching by endpoint path (endpoint names are unique
 * across roles).
 *
 *   GET  /health         role(s), version, previous, loaded_at_ms, counters (no token needed)
 *   GET  /metrics        Prometheus text
 *   POST /admin/reload   reload from CURRENT now (Authorization: Bearer <serve.admin_token>)
 *   POST /<endpoint>     a role's endpoint; the JSON body is validated with limits. A request
 *                        header X-Model-Version names the version wanted (else the current).
 * Every response carries X-Model-Version (the version that answered, or the current one)
 * and X-Model-Versions (the versions held). With serve.service_token set, every call but
 * /health and /admin/reload (which takes the admin token instead) needs Authorization:
 * Bearer <token>. Errors: {"error":{"code","message"}}. */
#ifndef BOOKREC_SERVER_SVC_HOST_H
#define BOOKREC_SERVER_SVC_HOST_H

#include "http.h"
#include "metrics.h"
#include "service.h"

typedef struct br_svc_host_opts {
    const char *admin_token;   /* "" or NULL: admin calls are refused (403) */
    const char *service_token; /* "" or NULL: none required */
    size_t max_body;           /* bytes */
} br_svc_host_opts;

typedef struct br_svc_host br_svc_host;

/* Serves svcs[0..n) (not owned; they outlive the host). */
int br_svc_host_new(br_service *const *svcs, size_t n, const br_svc_host_opts *o,
                    br_svc_host **out);
void br_svc_host_free(br_svc_host *h);

/* The br_http_handler; ctx is the host. */
void br_svc_host_handle(void *ctx, const br_http_req *req, br_http_resp *resp);

/* Reloads every service from CURRENT (SIGHUP, /admin/reload). Returns the number refused. */
int br_svc_host_reload(br_svc_host *h, json_t **report);

#endif
