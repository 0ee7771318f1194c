/* Gateway: health, metrics, the admin API and the OpenAPI document. */
#include "gw.h"

#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char br__openapi_json[];
extern const size_t br__openapi_json_len;

void gw_health_live(gw_req *r)
{
    gw_json(r, 200, json_pack("{s:s}", "status", "live"));
}

/* Every service's health (role, version, previous, loaded_at_ms). */
static json_t *services_health(gw_req *r, int *all_up)
{
    json_t *a = json_array();
    *all_up = 1;
    for (int i = 0; i < BR_ROLE_COUNT; i++) {
        json_t *h = NULL;
        if (br_svc_client_health(r->g->o.clients[i], (enum br_role_id)i, &h) != 0) {
            *all_up = 0;
            json_array_append_new(a, json_pack("{s:s, s:b}", "role",
                                               br_role_name((enum br_role_id)i), "reachable", 0));
            continue;
        }
        json_t *c = json_deep_copy(h);
        json_object_set_new(c, "reachable", json_true());
        if (!json_is_string(json_object_get(c, "version")))
            *all_up = 0;
        json_array_append_new(a, c);
        json_decref(h);
    }
    return a;
}

void gw_health_ready(gw_req *r)
{
    int up;
    char v[80] = "";
    json_t *svcs = services_health(r, &up);
    int ready = up && br_router_pick(r->g->router, v, sizeof v) == 0;
    gw_json(r, ready ? 200 : 503, json_pack("{s:b, s:s?, s:o}", "ready", ready, "version",
                                            ready ? v : NULL, "services", svcs));
}

void gw_metrics(gw_req *r)
{
    br_cache_stats cs;
    if (r->g->cache && br_cache_get_stats(r->g->cache, &cs) == 0) {
        br_metrics_gauge_set(r->g->metrics, "bookrec_cache_hits", "Response cache hits",
                             (double)cs.hits);
        br_metrics_gauge_set(r->g->metrics, "bookrec_cache_misses", "Response cache misses",
                             (double)cs.misses);
        br_metrics_gauge_set(r->g->metrics, "bookrec_cache_entries", "Cached responses",
                             (double)cs.entries);
    }
    size_t len;
    char *text = br_metrics_render(r->g->metrics, &len);
    if (!text) {
        gw_error(r, 500, "internal", "out of memory");
        return;
    }
    r->resp->status = 200;
    r->resp->content_type = "text/plain; version=0.0.4";
    r->resp->body = text;
    r->resp->body_len = len;
}

void gw_admin_reload(gw_req *r)
{
    json_t *all = json_array();
    int refused = 0;
    for (int i = 0; i < BR_ROLE_COUNT; i++) {
        json_t *rep = NULL;
        refused += br_svc_client_reload(r->g->o.clients[i], (enum br_role_id)i,
                                        r->g->admin_token, &rep) != 0;
        json_array_append_new(all, rep ? rep : json_pack("{s:s, s:s}", "role",
                                                         br_role_name((enum br_role_id)i),
                                                         "error", "unreachable"));
    }
    /* A reload changes what every cached list was computed from: the version is in each
     * key, so old entries are simply never asked for again and age out. */
    gw_json(r, refused ? 409 : 200, json_pack("{s:o}", "services", all));
}

void gw_admin_versions(gw_req *r)
{
    int up;
    char v[80] = "";
    json_t *svcs = services_health(r, &up);
    int ok = br_router_pick(r->g->router, v, sizeof v) == 0;
    gw_json(r, 200, json_pack("{s:s?, s:o}", "serving", ok ? v : NULL, "services", svcs));
}

void gw_openapi(gw_req *r)
{
    br_http_resp_json_text(r->resp, 200, br__openapi_json, br__openapi_json_len);
}
