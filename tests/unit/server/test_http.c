/* Tests of server/http_server.c and server/http_client.c: a real server on
 * 127.0.0.1 with an ephemeral port, called with the real client. */
#include "harness.h"

#include "bookrec/error.h"
#include "http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int g_calls;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Routes: /echo (body back, status from ?status=), /hdr (a request header
 * back, name from ?name=), /sleep (?ms=), /big (?n= bytes), /bad (an invalid
 * response), /err (an error with characters that need escaping). */
static void handler(void *ctx, const br_http_req *req, br_http_resp *resp)
{
    atomic_fetch_add(&g_calls, 1);
    const char *q;
    if (!strcmp(req->path, "/echo")) {
        int status = (q = br_http_req_query(req, "status")) ? atoi(q) : 200;
        br_http_resp_json_text(resp, status, req->body, req->body_len);
        br_http_resp_header(resp, "X-Model-Version", "v-test-1");
        br_http_resp_header(resp, "X-Model-Versions", "als=v1,meta=v2");
        br_http_resp_header(resp, "X-Method", req->method);
    } else if (!strcmp(req->path, "/hdr")) {
        const char *v = br_http_req_header(req, (q = br_http_req_query(req, "name")) ? q : "");
        br_http_resp_json_text(resp, v ? 200 : 404, v ? v : "", v ? strlen(v) : 0);
        resp->content_type = "text/plain";
    } else if (!strcmp(req->path, "/sleep")) {
        sleep_ms((q = br_http_req_query(req, "ms")) ? atol(q) : 100);
        br_http_resp_json_text(resp, 200, "{\"slept\":true}", 14);
    } else if (!strcmp(req->path, "/big")) {
        size_t n = (q = br_http_req_query(req, "n")) ? (size_t)atol(q) : 1000;
        char *b = malloc(n + 1);
        if (b) {
            memset(b, 'x', n);
            resp->body = b;
            resp->body_len = n;
        }
    } else if (!strcmp(req->path, "/bad")) {
        resp->status = 42;
    } else if (!strcmp(req->path, "/err")) {
        br_http_resp_error(resp, 400, "bad_request", "field \"%s\" is\nwrong \xff", "k\\");
    } else {
        br_http_resp_error(resp, 404, "not_found", "no route");
    }
}

static br_http_server *start_n(size_t max_body, size_t max_header, unsigned threads)
{
    char err[200];
    br_http_server_opts o = {"127.0.0.1:0", max_body, max_header, threads, 5};
    br_http_server *s = NULL;
    if (br_http_server_start(&o, handler, NULL, &s, err, sizeof err) != 0) {
        fprintf(stderr, "server start: %s\n", err);
        return NULL;
    }
    return s;
}

static br_http_server *start(size_t max_body, size_t max_header)
{
    return start_n(max_body, max_header, 4);
}

static br_http_client *client_for(br_http_server *s, size_t max_response)
{
    char url[64];
    br_http_client *c = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", br_http_server_port(s));
    br_http_client_opts o = {url, 5000, 1000, NULL, max_response};
    return br_http_client_new(&o, &c) == 0 ? c : NULL;
}

TEST(http_get_post_roundtrip)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    ASSERT_NE_INT(br_http_server_port(s), 0);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;

    ASSERT_OK(br_http_client_call(c, "GET", "/echo?status=201", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_EQ_INT(r.body_len, 0);
    ASSERT_EQ_STR(r.body, "");
    br_http_result_free(&r);

    const char *js = "{\"a\":[1,2,3],\"s\":\"\xc3\xa9t\xc3\xa9\"}";
    ASSERT_OK(br_http_client_call(c, "POST", "/echo", js, strlen(js), NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.body_len, strlen(js));
    ASSERT_EQ_STR(r.body, js);
    br_http_result_free(&r);

    /* The client sends Content-Type: application/json with a POST body. */
    ASSERT_OK(br_http_client_call(c, "POST", "/hdr?name=content-type", "{}", 2, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body, "application/json");
    br_http_result_free(&r);

    /* Extra headers, and a header that is absent. */
    const char *extra[] = {"X-Trace: abc123", NULL};
    ASSERT_OK(br_http_client_call(c, "GET", "/hdr?name=x-trace", NULL, 0, extra, &r));
    ASSERT_EQ_STR(r.body, "abc123");
    br_http_result_free(&r);
    ASSERT_OK(br_http_client_call(c, "GET", "/hdr?name=x-none", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    br_http_result_free(&r);

    /* Unknown route: the handler's JSON error. */
    ASSERT_OK(br_http_client_call(c, "GET", "/nowhere", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_TRUE(strstr(r.body, "\"not_found\"") != NULL);
    br_http_result_free(&r);

    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_bearer_token_sent)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    char url[64];
    br_http_client *c = NULL;
    br_http_result r;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", br_http_server_port(s));
    br_http_client_opts o = {url, 0, 0, "tok-1", 0};
    ASSERT_OK(br_http_client_new(&o, &c));
    ASSERT_OK(br_http_client_call(c, "GET", "/hdr?name=authorization", NULL, 0, NULL, &r));
    ASSERT_EQ_STR(r.body, "Bearer tok-1");
    br_http_result_free(&r);
    br_http_client_free(c);
    o.bearer = "a\r\nX-Evil: 1";
    ASSERT_EQ_INT(br_http_client_new(&o, &c), BR_EINVAL);
    br_http_server_stop(s);
}

TEST(http_model_version_headers)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
    ASSERT_EQ_STR(r.version, "v-test-1");
    ASSERT_EQ_STR(r.loaded, "als=v1,meta=v2");
    br_http_result_free(&r);
    /* A response without them leaves both empty (nothing left from before). */
    ASSERT_OK(br_http_client_call(c, "GET", "/sleep?ms=0", NULL, 0, NULL, &r));
    ASSERT_EQ_STR(r.version, "");
    ASSERT_EQ_STR(r.loaded, "");
    br_http_result_free(&r);
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_keepalive_reuses_connection)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    for (int i = 0; i < 200; i++) {
        const char *m = i % 2 ? "POST" : "GET";
        ASSERT_OK(br_http_client_call(c, m, "/echo", i % 2 ? "{}" : NULL, i % 2 ? 2 : 0, NULL,
                                      &r));
        ASSERT_EQ_INT(r.status, 200);
        br_http_result_free(&r);
    }
    br_http_server_stats st;
    br_http_server_get_stats(s, &st);
    ASSERT_EQ_INT(st.requests_total, 200);
    ASSERT_EQ_INT(st.connections_total, 1);
    br_http_client_free(c);
    br_http_server_stop(s);
}

typedef struct worker {
    br_http_client *c;
    int id, ok;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    char body[64], path[64];
    br_http_result r;
    for (int i = 0; i < 200; i++) {
        int n = snprintf(body, sizeof body, "{\"w\":%d,\"i\":%d}", w->id, i);
        snprintf(path, sizeof path, "/echo?status=%d", 200 + (i % 3));
        if (br_http_client_call(w->c, "POST", path, body, (size_t)n, NULL, &r) == 0 &&
            r.status == 200 + (i % 3) && r.body_len == (size_t)n && !memcmp(r.body, body, n))
            w->ok++;
        br_http_result_free(&r);
    }
    return NULL;
}

TEST(http_concurrent_8x200)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){c, i, 0};
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
    }
    ASSERT_EQ_INT(ok, 8 * 200);
    br_http_server_stats st;
    br_http_server_get_stats(s, &st);
    ASSERT_CMP_INT(st.connections_total, <=, 8); /* one per pooled handle at most */
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_body_limit_413)
{
    br_http_server *s = start(1024, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    size_t big = 1 << 20;
    char *b = malloc(big);
    ASSERT_TRUE(b != NULL);
    memset(b, ' ', big);
    b[0] = '{', b[1023] = '}';

    ASSERT_OK(br_http_client_call(c, "POST", "/echo", b, 1024, NULL, &r)); /* exactly max */
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.body_len, 1024);
    br_http_result_free(&r);

    int before = atomic_load(&g_calls);
    /* A little over: read and dropped, the connection stays usable. */
    ASSERT_OK(br_http_client_call(c, "POST", "/echo", b, 4096, NULL, &r));
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_TRUE(strstr(r.body, "\"body_too_large\"") != NULL);
    br_http_result_free(&r);
    /* Far over (beyond what the server reads): refused before the body. */
    ASSERT_OK(br_http_client_call(c, "POST", "/echo", b, big, NULL, &r));
    ASSERT_EQ_INT(r.status, 413);
    br_http_result_free(&r);
    /* Same with the client asking for 100-continue. */
    const char *expect[] = {"Expect: 100-continue", NULL};
    ASSERT_OK(br_http_client_call(c, "POST", "/echo", b, 8192, expect, &r));
    ASSERT_EQ_INT(r.status, 413);
    br_http_result_free(&r);
    ASSERT_EQ_INT(atomic_load(&g_calls), before); /* the handler never ran */

    br_http_server_stats st;
    br_http_server_get_stats(s, &st);
    ASSERT_EQ_INT(st.refused_body, 3);
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    br_http_result_free(&r);
    free(b);
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_header_limit_431)
{
    br_http_server *s = start(0, 2048);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    static char line[64 << 10];
    const char *extra[] = {line, NULL};

    /* Over max_header but inside MHD's pool: our 431 with a JSON body. */
    memcpy(line, "X-Fill: ", 8);
    memset(line + 8, 'a', 3000);
    line[3008] = '\0';
    int before = atomic_load(&g_calls);
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, extra, &r));
    ASSERT_EQ_INT(r.status, 431);
    ASSERT_TRUE(strstr(r.body, "\"headers_too_large\"") != NULL);
    br_http_result_free(&r);

    /* Beyond the pool: MHD answers 431 itself (plain text) and closes. */
    memset(line + 8, 'b', sizeof line - 9);
    line[sizeof line - 1] = '\0';
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, extra, &r));
    ASSERT_EQ_INT(r.status, 431);
    br_http_result_free(&r);
    ASSERT_EQ_INT(atomic_load(&g_calls), before);

    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    br_http_result_free(&r);
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_invalid_response_is_500_and_errors_are_escaped)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    ASSERT_OK(br_http_client_call(c, "GET", "/bad", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 500);
    ASSERT_TRUE(strstr(r.body, "\"internal\"") != NULL);
    br_http_result_free(&r);

    ASSERT_OK(br_http_client_call(c, "GET", "/err", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 400);
    json_error_t je;
    json_t *j = json_loadb(r.body, r.body_len, 0, &je);
    ASSERT_TRUE(j != NULL);
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    ASSERT_EQ_STR(code, "bad_request");
    ASSERT_EQ_STR(msg, "field \"k\\\" is\nwrong \xef\xbf\xbd");
    json_decref(j);
    br_http_result_free(&r);
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_response_limit_elimit)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 1000);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    ASSERT_OK(br_http_client_call(c, "GET", "/big?n=1000", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.body_len, 1000);
    br_http_result_free(&r);
    ASSERT_EQ_INT(br_http_client_call(c, "GET", "/big?n=100000", NULL, 0, NULL, &r), BR_ELIMIT);
    ASSERT_TRUE(r.body == NULL);
    ASSERT_TRUE(strstr(r.error, "exceeds") != NULL);
    br_http_result_free(&r);
    ASSERT_EQ_INT(br_http_client_call(c, "GET", "no-slash", NULL, 0, NULL, &r), BR_EINVAL);
    br_http_client_free(c);
    br_http_server_stop(s);
}

TEST(http_transport_error_after_stop)
{
    br_http_server *s = start(0, 0);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    br_http_result r;
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
    br_http_result_free(&r);
    br_http_server_stop(s);
    ASSERT_EQ_INT(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r), BR_EIO);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(r.body == NULL);
    ASSERT_TRUE(r.error[0] != '\0');
    br_http_result_free(&r);
    br_http_client_free(c);
}

typedef struct slow_call {
    br_http_client *c;
    int status;
} slow_call;

static void *slow_run(void *arg)
{
    slow_call *sc = arg;
    br_http_result r;
    if (br_http_client_call(sc->c, "GET", "/sleep?ms=300", NULL, 0, NULL, &r) == 0)
        sc->status = r.status;
    br_http_result_free(&r);
    return NULL;
}

TEST(http_stop_finishes_in_flight_requests)
{
    br_http_server *s = start_n(0, 0, 8);
    ASSERT_TRUE(s != NULL);
    br_http_client *c = client_for(s, 0);
    ASSERT_TRUE(c != NULL);
    pthread_t t[4];
    slow_call sc[4];
    for (int i = 0; i < 4; i++) {
        sc[i] = (slow_call){c, 0};
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, slow_run, &sc[i]), 0);
    }
    /* Wait until all four requests are in (a connection still in the listen
     * backlog when we stop is never accepted), then stop: every request still
     * gets its answer. */
    br_http_server_stats st;
    for (int i = 0; i < 200; i++) {
        br_http_server_get_stats(s, &st);
        if (st.in_flight == 4)
            break;
        sleep_ms(1);
    }
    ASSERT_EQ_INT(st.in_flight, 4);
    br_http_server_stop(s);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(sc[i].status, 200);
    }
    br_http_client_free(c);
}

TEST(http_listen_addresses)
{
    char err[200];
    br_http_server *s = NULL, *s2 = NULL;
    const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:x1",
                         "::1:80", "[::1]80", "[]:80", "[::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        br_http_server_opts o = {bad[i], 0, 0, 1, 1};
        ASSERT_EQ_INT(br_http_server_start(&o, handler, NULL, &s, err, sizeof err), BR_EINVAL);
        ASSERT_TRUE(err[0] != '\0');
    }
    br_http_server_opts o = {":0", 0, 0, 1, 1};
    ASSERT_OK(br_http_server_start(&o, handler, NULL, &s, err, sizeof err));
    unsigned port = br_http_server_port(s);
    ASSERT_NE_INT(port, 0);
    /* The same port again: a clear bind error. */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    o.listen = addr;
    ASSERT_EQ_INT(br_http_server_start(&o, handler, NULL, &s2, err, sizeof err), BR_EIO);
    ASSERT_TRUE(strstr(err, "in use") != NULL);
    /* ":port" listens on IPv4 loopback too. */
    br_http_client *c = client_for(s, 0);
    br_http_result r;
    ASSERT_TRUE(c != NULL);
    ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    br_http_result_free(&r);
    br_http_client_free(c);
    br_http_server_stop(s);

    /* IPv6 loopback, when the host has it. */
    o.listen = "[::1]:0";
    if (br_http_server_start(&o, handler, NULL, &s, err, sizeof err) == 0) {
        char url[64];
        snprintf(url, sizeof url, "http://[::1]:%u", br_http_server_port(s));
        br_http_client_opts co = {url, 0, 0, NULL, 0};
        ASSERT_OK(br_http_client_new(&co, &c));
        ASSERT_OK(br_http_client_call(c, "GET", "/echo", NULL, 0, NULL, &r));
        ASSERT_EQ_INT(r.status, 200);
        br_http_result_free(&r);
        br_http_client_free(c);
        br_http_server_stop(s);
    }
    br_http_server_stop(NULL);
    br_http_client_free(NULL);
}
