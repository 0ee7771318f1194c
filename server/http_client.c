/* The HTTP client of http.h on libcurl (keep-alive calls between services).
 *
 * Design decisions:
 * 1. A pool of easy handles behind a mutex: a call takes an idle handle (or
 *    makes one), uses it without the lock, and gives it back. Each handle
 *    keeps its own connection cache, so a returned handle carries its
 *    keep-alive connection to the next call. At most POOL_MAX idle handles are
 *    kept; extra ones made under a burst are cleaned up on return.
 * 2. Every call starts from curl_easy_reset (which keeps live connections)
 *    and sets all options again, so nothing leaks from one call to the next
 *    (a POST's body into a later GET, say).
 * 3. Proxies from the environment are ignored: services talk to each other
 *    directly. Only http and https are allowed; redirects are not followed.
 * 4. The body is collected up to max_response; beyond it the transfer is
 *    aborted and the call returns BR_ELIMIT.
 */
#include "http.h"

#include "bookrec/error.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX 64
#define DEFAULT_TIMEOUT_MS 5000L
#define DEFAULT_CONNECT_TIMEOUT_MS 1000L
#define DEFAULT_MAX_RESPONSE (16u << 20)
#define MAX_URL 8192
#define MAX_AUTH 1024

struct br_http_client {
    char *base_url;
    char *auth; /* "Authorization: Bearer ..." or NULL */
    long timeout_ms, connect_timeout_ms;
    size_t max_response;
    pthread_mutex_t mu;
    CURL *idle[POOL_MAX];
    int n_idle;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int br_http_client_new(const br_http_client_opts *o, br_http_client **out)
{
    int rc = BR_ENOMEM;
    br_http_client *c = NULL;
    if (!o || !out || !o->base_url || !*o->base_url || strlen(o->base_url) > MAX_URL / 2 ||
        (o->bearer && strlen(o->bearer) > MAX_AUTH) || o->timeout_ms < 0 ||
        o->connect_timeout_ms < 0)
        return BR_EINVAL;
    if (o->bearer && strpbrk(o->bearer, "\r\n"))
        return BR_EINVAL; /* would inject a header line */
    *out = NULL;
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return BR_EIO;
    c = calloc(1, sizeof *c);
    if (!c)
        return BR_ENOMEM;
    size_t bl = strlen(o->base_url);
    while (bl && o->base_url[bl - 1] == '/')
        bl--; /* paths start with '/' */
    c->base_url = strndup(o->base_url, bl);
    if (!c->base_url)
        goto fail;
    if (o->bearer && *o->bearer) {
        size_t n = strlen(o->bearer) + sizeof "Authorization: Bearer ";
        c->auth = malloc(n);
        if (!c->auth)
            goto fail;
        snprintf(c->auth, n, "Authorization: Bearer %s", o->bearer);
    }
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                                                  : DEFAULT_CONNECT_TIMEOUT_MS;
    c->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        rc = BR_EIO;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    free(c->base_url);
    free(c->auth);
    free(c);
    return rc;
}

void br_http_client_free(br_http_client *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_idle; i++)
        curl_easy_cleanup(c->idle[i]);
    pthread_mutex_destroy(&c->mu);
    free(c->base_url);
    free(c->auth);
    free(c);
}

void br_http_result_free(br_http_result *res)
{
    if (!res)
        return;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

static CURL *take_handle(br_http_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->n_idle > 0)
        h = c->idle[--c->n_idle];
    pthread_mutex_unlock(&c->mu);
    return h ? h : curl_easy_init();
}

static void give_handle(br_http_client *c, CURL *h)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_idle < POOL_MAX) {
        c->idle[c->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_cleanup(h);
}

typedef struct call_state {
    br_http_result *res;
    size_t max;
    size_t cap;
    int over_limit;
    int oom;
} call_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    call_state *cs = userdata;
    br_http_result *res = cs->res;
    size_t n = size * nmemb; /* curl guarantees size == 1 */
    if (n > cs->max - res->body_len) {
        cs->over_limit = 1;
        return 0; /* aborts with CURLE_WRITE_ERROR */
    }
    if (res->body_len + n + 1 > cs->cap) {
        size_t cap = cs->cap ? cs->cap : 4096;
        while (cap < res->body_len + n + 1)
            cap *= 2; /* bounded: body_len + n <= max */
        if (cap > cs->max + 1)
            cap = cs->max + 1;
        char *b = realloc(res->body, cap);
        if (!b) {
            cs->oom = 1;
            return 0;
        }
        res->body = b;
        cs->cap = cap;
    }
    memcpy(res->body + res->body_len, data, n);
    res->body_len += n;
    res->body[res->body_len] = '\0';
    return n;
}

/* Copies the value of header line "Name: value\r\n" into out when the name
 * matches (case-insensitive); values too long for out are cut. */
static void match_header(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= cap)
        vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    call_state *cs = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) { /* a new response (after 100 Continue) */
        cs->res->version[0] = '\0';
        cs->res->loaded[0] = '\0';
        return n;
    }
    match_header(data, n, "X-Model-Version", cs->res->version, sizeof cs->res->version);
    match_header(data, n, "X-Model-Versions", cs->res->loaded, sizeof cs->res->loaded);
    return n;
}

int br_http_client_call(br_http_client *c, const char *method, const char *path,
                        const char *body, size_t body_len, const char *const *extra_headers,
                        br_http_result *res)
{
    int rc = 0;
    char url[MAX_URL], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL, *t;
    CURL *h = NULL;
    call_state cs;
    if (!res)
        return BR_EINVAL;
    memset(res, 0, sizeof *res);
    if (!c || !method || !path || path[0] != '/' || (!body && body_len) ||
        strpbrk(path, " \r\n") || strpbrk(method, " \r\n")) {
        snprintf(res->error, sizeof res->error, "invalid call arguments");
        return BR_EINVAL;
    }
    int ul = snprintf(url, sizeof url, "%s%s", c->base_url, path);
    if (ul < 0 || (size_t)ul >= sizeof url) {
        snprintf(res->error, sizeof res->error, "URL too long");
        return BR_EINVAL;
    }
    h = take_handle(c);
    if (!h) {
        snprintf(res->error, sizeof res->error, "out of memory");
        return BR_ENOMEM;
    }
    curl_easy_reset(h);

    int is_get = !strcmp(method, "GET");
    if (!is_get && body) {
        if (!(t = curl_slist_append(hdrs, "Content-Type: application/json")))
            goto oom;
        hdrs = t;
    }
    if (c->auth) {
        if (!(t = curl_slist_append(hdrs, c->auth)))
            goto oom;
        hdrs = t;
    }
    for (const char *const *e = extra_headers; e && *e; e++) {
        if (strpbrk(*e, "\r\n"))
            continue; /* never let a caller's value split into two header lines */
        if (!(t = curl_slist_append(hdrs, *e)))
            goto oom;
        hdrs = t;
    }

    memset(&cs, 0, sizeof cs);
    cs.res = res;
    cs.max = c->max_response;
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &cs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &cs);
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (is_get) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body || !strcmp(method, "POST")) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }

    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    /* The pooled handle must not keep pointers into this stack frame (curl
     * may write the error buffer while closing a connection later). */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (cs.oom) {
        snprintf(res->error, sizeof res->error, "out of memory reading the response");
        rc = BR_ENOMEM;
    } else if (cs.over_limit) {
        snprintf(res->error, sizeof res->error, "response exceeds %zu bytes", c->max_response);
        res->status = (int)status;
        rc = BR_ELIMIT;
    } else if (cc != CURLE_OK) {
        snprintf(res->error, sizeof res->error, "%.8s %.40s: %.100s", method, path,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = BR_EIO;
    } else {
        res->status = (int)status;
        if (!res->body) { /* an empty body is "" for the caller, not NULL */
            res->body = calloc(1, 1);
            if (!res->body) {
                snprintf(res->error, sizeof res->error, "out of memory");
                rc = BR_ENOMEM;
            }
        }
    }
    if (rc != 0) {
        free(res->body);
        res->body = NULL;
        res->body_len = 0;
        if (rc != BR_ELIMIT)
            res->status = 0;
    }
    curl_slist_free_all(hdrs);
    give_handle(c, h);
    return rc;
oom:
    curl_slist_free_all(hdrs);
    give_handle(c, h);
    snprintf(res->error, sizeof res->error, "out of memory");
    return BR_ENOMEM;
}
