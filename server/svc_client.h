/* One client interface to a model service, two implementations: in-process (a direct call
 * of br_service_call: no HTTP, no JSON text) and HTTP (http.h: keep-alive connections,
 * any number of concurrent calls). Which one a role gets is configuration
 * (serve.services), so the gateway's code is the same on one host or many.
 *
 * And the router: which version a request is served by. It tracks what every service holds
 * (from /health and from the X-Model-Versions header of every reply) and picks the newest
 * version all of them hold; each sub-request names it, and a service answers for it or
 * refuses (409), never silently for another (docs/services.md). */
#ifndef BOOKREC_SERVER_SVC_CLIENT_H
#define BOOKREC_SERVER_SVC_CLIENT_H

#include "service.h"

typedef struct br_svc_client br_svc_client;

/* In-process: calls s directly (s is not owned and must outlive the client). */
int br_svc_client_local(br_service *s, br_svc_client **out);
/* HTTP: base_url "http://127.0.0.1:8091"; token NULL/"" for none; timeout_ms 0 = 5000. */
int br_svc_client_remote(const char *base_url, const char *token, long timeout_ms,
                         br_svc_client **out);
void br_svc_client_free(br_svc_client *c);

/* The clients of every role from the configuration serve.services ("role=URL,..."): a
 * role named there is reached over HTTP, any other in process through local[role] (which
 * must then be non-NULL; local may be NULL when every role is named). err names the
 * problem (an unknown role, a role twice, a URL missing). On failure nothing is left open. */
int br_svc_clients_open(const char *spec, const char *token, br_service *const *local,
                        br_svc_client *out[BR_ROLE_COUNT], char *err, size_t errcap);

/* Calls endpoint with req, naming version (NULL/"": the current). Always fills out; returns
 * 0 when the service answered (any status), BR_EIO when it could not be reached (out->status
 * 0, an "unreachable" error body). Thread-safe. */
int br_svc_client_call(br_svc_client *c, const char *endpoint, const json_t *req,
                       const char *version, br_svc_reply *out);
/* Reload from CURRENT now (POST /admin/reload with X-Admin-Token, or in process). *out
 * gets role's entry of the report: {"role", "loaded", "changed", "error"?}. 0 when the
 * service accepted. */
int br_svc_client_reload(br_svc_client *c, enum br_role_id role, const char *admin_token,
                         json_t **out);
/* GET /health (or the in-process equivalent): role's entry (a host of several services
 * answers for each) into *out. 0 or BR_EIO. */
int br_svc_client_health(br_svc_client *c, enum br_role_id role, json_t **out);

typedef struct br_router br_router;

/* clients[r] serves role r (not owned). */
int br_router_new(br_svc_client *const clients[BR_ROLE_COUNT], br_router **out);
void br_router_free(br_router *r);

/* Re-reads every service's health. 0, or BR_EIO when one is unreachable. */
int br_router_refresh(br_router *r);

/* The version to serve a new request with: among the versions every service holds, the
 * one current on the most services, ties to the newest id. Refreshes when its view is older
 * than 250 ms or when no version is common. BR_ENOENT when none is. */
int br_router_pick(br_router *r, char *version, size_t cap);

/* A sub-request of a request served by version: the call, and what the reply says the
 * service holds is remembered. */
int br_router_call(br_router *r, enum br_role_id role, const char *endpoint, const json_t *req,
                   const char *version, br_svc_reply *out);

#endif
