/* Tests of server/service.c and server/svc_client.c that need no version on disk: dispatch
 * errors, reload refusals, client configuration and the router with nothing loaded.
 * (Loaded versions, reloads and rollouts: tests/integration/test_services.py and
 * test_rollout.py, on real processes.) */
#include "harness.h"

#include "service.h"
#include "svc_client.h"

#include "bookrec/error.h"

#include <stdio.h>
#include <string.h>

static const char *code_of(const br_svc_reply *r)
{
    return json_string_value(json_object_get(json_object_get(r->body, "error"), "code"));
}

TEST(service_dispatch_errors_without_a_version)
{
    br_service *s;
    br_service_opts o = {.artifacts = br_test_tmpdir(), .grace_ms = 0};
    br_svc_reply r;
    json_t *req = json_pack("{s:i}", "user", 1);
    ASSERT_OK(br_service_new(BR_ROLE_ALS, &o, &s));
    ASSERT_EQ_INT(br_service_role(s), BR_ROLE_ALS);
    br_service_call(s, "/nope", req, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_EQ_STR(code_of(&r), "not_found");
    br_svc_reply_free(&r);
    br_service_call(s, "/is_warm", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 400);
    br_svc_reply_free(&r);
    br_service_call(s, "/is_warm", req, NULL, &r);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_EQ_STR(code_of(&r), "no_version");
    ASSERT_EQ_STR(r.version, "");
    br_svc_reply_free(&r);
    br_service_call(s, "/is_warm", req, "20260101-000000-000-00000000", &r);
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_EQ_STR(code_of(&r), "version_unavailable");
    br_svc_reply_free(&r);
    br_service_stats st;
    br_service_stats_get(s, &st);
    ASSERT_EQ_INT(st.requests, 4);
    ASSERT_EQ_INT(st.refused_version, 1);
    json_decref(req);
    br_service_free(s);
    br_service_free(NULL);
}

TEST(service_reload_refusals_keep_nothing_loaded)
{
    br_service *s;
    char dir[600], err[512];
    int changed = 1;
    snprintf(dir, sizeof dir, "%s/art", br_test_tmpdir());
    br_service_opts o = {.artifacts = dir, .grace_ms = 0};
    ASSERT_OK(br_service_new(BR_ROLE_METADATA, &o, &s));
    /* No CURRENT at all. */
    ASSERT_EQ_INT(br_service_reload(s, &changed, err, sizeof err), BR_ENOENT);
    ASSERT_EQ_INT(changed, 0);
    ASSERT_TRUE(strstr(err, "CURRENT") != NULL);
    /* A version that does not exist, and a name that is not an id. */
    ASSERT_NE_INT(br_service_load_version(s, "20260101-000000-000-00000000", err, sizeof err),
                  0);
    ASSERT_EQ_INT(br_service_load_version(s, "../../etc", err, sizeof err), BR_EINVAL);
    br_service_stats st;
    br_service_stats_get(s, &st);
    ASSERT_EQ_INT(st.reloads, 0);
    ASSERT_EQ_INT(st.reload_failures, 1);
    char loaded[200];
    br_service_loaded(s, loaded, sizeof loaded);
    ASSERT_EQ_STR(loaded, "");
    json_t *h = br_service_health(s);
    ASSERT_EQ_STR(json_string_value(json_object_get(h, "role")), "metadata");
    ASSERT_TRUE(json_is_null(json_object_get(h, "version")));
    json_decref(h);
    br_service_free(s);
}

TEST(roles_have_names_and_unique_endpoints)
{
    enum br_role_id r;
    ASSERT_OK(br_role_parse("similarity", &r));
    ASSERT_EQ_INT(r, BR_ROLE_SIMILARITY);
    ASSERT_EQ_INT(br_role_parse("gateway", &r), BR_EINVAL);
    ASSERT_EQ_STR(br_role_name(BR_ROLE_COUNT), "?");
    /* One listener serves every role by path: paths must not repeat across roles. */
    for (int a = 0; a < BR_ROLE_COUNT; a++)
        for (int b = 0; b < BR_ROLE_COUNT; b++) {
            const br_role *x = br_role_def((enum br_role_id)a), *y = br_role_def((enum br_role_id)b);
            ASSERT_EQ_INT(x->id, a);
            for (size_t i = 0; i < x->n_endpoints; i++)
                for (size_t j = 0; j < y->n_endpoints; j++)
                    if (a != b || i != j)
                        ASSERT_TRUE(strcmp(x->endpoints[i].path, y->endpoints[j].path) != 0);
        }
}

TEST(svc_clients_from_configuration)
{
    br_service *svc[BR_ROLE_COUNT];
    br_svc_client *c[BR_ROLE_COUNT];
    char err[256];
    br_service_opts o = {.artifacts = br_test_tmpdir(), .grace_ms = 0};
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        ASSERT_OK(br_service_new((enum br_role_id)r, &o, &svc[r]));
    /* Empty: every role in process. */
    ASSERT_OK(br_svc_clients_open("", NULL, svc, c, err, sizeof err));
    br_svc_reply rep;
    json_t *req = json_pack("{s:i}", "k", 3);
    ASSERT_OK(br_svc_client_call(c[BR_ROLE_METADATA], "/popular", req, NULL, &rep));
    ASSERT_EQ_INT(rep.status, 503);
    br_svc_reply_free(&rep);
    /* The router finds no common version when nothing is loaded. */
    br_router *rt;
    char v[80];
    ASSERT_OK(br_router_new(c, &rt));
    ASSERT_EQ_INT(br_router_pick(rt, v, sizeof v), BR_ENOENT);
    br_router_free(rt);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        br_svc_client_free(c[r]);
    /* Mixed: one role remote (nothing listens there: the call reports it). */
    ASSERT_OK(br_svc_clients_open("als=http://127.0.0.1:1", NULL, svc, c, err, sizeof err));
    ASSERT_EQ_INT(br_svc_client_call(c[BR_ROLE_ALS], "/is_warm", req, NULL, &rep), BR_EIO);
    ASSERT_EQ_INT(rep.status, 0);
    ASSERT_EQ_STR(code_of(&rep), "unreachable");
    br_svc_reply_free(&rep);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        br_svc_client_free(c[r]);
    /* Bad specifications. */
    ASSERT_EQ_INT(br_svc_clients_open("gateway=http://x", NULL, svc, c, err, sizeof err),
                  BR_EINVAL);
    ASSERT_TRUE(strstr(err, "unknown") != NULL);
    ASSERT_EQ_INT(br_svc_clients_open("als=http://a,als=http://b", NULL, svc, c, err,
                                      sizeof err),
                  BR_EINVAL);
    ASSERT_TRUE(strstr(err, "twice") != NULL);
    ASSERT_EQ_INT(br_svc_clients_open("als", NULL, svc, c, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_svc_clients_open("als=", NULL, svc, c, err, sizeof err), BR_EINVAL);
    /* No local service for a role not named. */
    ASSERT_EQ_INT(br_svc_clients_open("als=http://a", NULL, NULL, c, err, sizeof err),
                  BR_EINVAL);
    ASSERT_TRUE(strstr(err, "embedder") != NULL);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        ASSERT_TRUE(c[r] == NULL);
    json_decref(req);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        br_service_free(svc[r]);
}
