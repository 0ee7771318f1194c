/* The gateway: the public HTTP API under /api/v1 (docs/api.md, /api/v1/openapi.json),
 * composed from the five model services, the store (accounts, ratings, events), a response
 * cache and rate limits. One br_http_handler; `bookrec serve` mounts it.
 *
 * Design decisions:
 * 1. Routes are a table (method, pattern with {id} segments, handler, flags): the router,
 *    the OpenAPI test and the metrics labels all come from it.
 * 2. One model version per request: the first model call picks it (svc_client.h router) and
 *    every later call names it; a 409 from a service (it no longer holds that version)
 *    restarts the whole handler with a fresh pick, at most three times. Handlers that call
 *    models do not write before their last model call, so a restart repeats nothing.
 * 3. The store is used by one thread at a time: each HTTP worker thread opens its own
 *    connection on first use.
 * 4. Cache keys contain the model version and the reader's state (number of interactions
 *    and the newest one), so a reload or a new rating never serves a stale list.
 */
#ifndef BOOKREC_SERVER_GATEWAY_H
#define BOOKREC_SERVER_GATEWAY_H

#include "http.h"
#include "svc_client.h"

#include <stddef.h>
#include <stdint.h>

typedef struct br_gateway_opts {
    const char *db_url;                         /* store.h url */
    br_svc_client *clients[BR_ROLE_COUNT];      /* not owned */
    const char *admin_token;                    /* "" = admin API disabled */
    size_t max_body;
    int cache_entries;                          /* 0 = no cache */
    int warm_min_ratings;                       /* interactions that make a reader warm */
    int cookie_secure;                          /* Secure flag on cookies (behind TLS) */
    int64_t session_ttl_s;
    double rate_ip, burst_ip, rate_user, burst_user, rate_login, burst_login;
    const char *web_dir;                        /* static UI files, or NULL */
    int64_t event_retention_days;
} br_gateway_opts;

void br_gateway_opts_default(br_gateway_opts *o);

typedef struct br_gateway br_gateway;

int br_gateway_new(const br_gateway_opts *o, br_gateway **out, char *err, size_t errcap);
void br_gateway_free(br_gateway *g);
void br_gateway_handle(void *ctx, const br_http_req *req, br_http_resp *resp);

/* Route table access, for the OpenAPI consistency test. */
size_t br_gateway_route_count(void);
void br_gateway_route_at(size_t i, const char **method, const char **pattern);

#endif
