/* HTTP plumbing shared by the model services and the gateway: a server on
 * libmicrohttpd, a keep-alive client on libcurl, and the JSON error format of
 * DESIGN.md §8 ({"error":{"code":"...","message":"..."}}).
 *
 * Design decisions:
 * 1. The server hands a handler one complete request (method, path, query,
 *    headers, body, already limited in size) and takes one complete response.
 *    Bodies over the limit are refused with 413 before the handler runs;
 *    headers over the limit with 431 (a request line or header block too big
 *    for libmicrohttpd's per-connection memory gets its own 414/431, plain
 *    text, and the connection is closed; a chunked body far over the limit
 *    closes the connection unanswered). No streaming here (SSE comes later).
 * 2. libmicrohttpd does the I/O on its internal epoll thread; handlers run on
 *    a pool of `threads` worker threads fed by a queue (suspend/resume), not
 *    on MHD's own thread pool, which pins each connection to one thread and
 *    so serialises a gateway's few keep-alive connections. Handlers must be
 *    thread-safe.
 * 3. The client keeps a pool of curl easy handles, each holding its own
 *    keep-alive connection; a call takes a handle from the pool (or makes
 *    one) and returns it, so any number of threads may call at once.
 */
#ifndef BOOKREC_SERVER_HTTP_H
#define BOOKREC_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* ---- server ---- */

typedef struct br_http_req {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* "/similar" (no query string) */
    const char *body;     /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    void *conn;           /* internal: for br_http_req_header / br_http_req_query */
    char peer[64];        /* the client's address ("127.0.0.1", "::1"), "" when unknown */
} br_http_req;

/* A request header (case-insensitive name) or query argument; NULL when absent. */
const char *br_http_req_header(const br_http_req *r, const char *name);
const char *br_http_req_query(const br_http_req *r, const char *name);

#define BR_HTTP_MAX_RESP_HEADERS 8

typedef struct br_http_resp {
    int status;                /* default 200 */
    const char *content_type;  /* default "application/json" */
    char *body;                /* malloc'd, freed by the server after sending; may be NULL */
    size_t body_len;
    struct {
        char name[64];
        char value[256];
    } headers[BR_HTTP_MAX_RESP_HEADERS];
    int n_headers;
} br_http_resp;

/* Adds a response header (silently ignored beyond BR_HTTP_MAX_RESP_HEADERS or
 * when the value would be truncated: callers keep values short). */
void br_http_resp_header(br_http_resp *resp, const char *name, const char *value);
/* Sets a JSON body (copies text). */
int br_http_resp_json_text(br_http_resp *resp, int status, const char *json, size_t len);
/* Sets the body {"error":{"code":code,"message":message}}; the message is
 * JSON-escaped, never echoed raw. */
void br_http_resp_error(br_http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends s (NUL-terminated) as the inside of a JSON string at out[at..cap):
 * quotes, backslashes and control characters escaped, invalid UTF-8 replaced by
 * U+FFFD, truncated at a character boundary to fit; out stays NUL-terminated.
 * Returns the new length. For building JSON by hand from untrusted text. */
size_t br_http_json_escape(char *out, size_t cap, size_t at, const char *s);

typedef void (*br_http_handler)(void *ctx, const br_http_req *req, br_http_resp *resp);

typedef struct br_http_server_opts {
    const char *listen;      /* "127.0.0.1:8081", "[::1]:8081", ":8081" (all interfaces) */
    size_t max_body;         /* bytes; default 1 MiB */
    size_t max_header;       /* bytes of all request headers; default 16 KiB */
    unsigned threads;        /* handler threads; default 4, at most 256 */
    unsigned timeout_s;      /* idle connection timeout; default 30 */
} br_http_server_opts;

typedef struct br_http_server br_http_server;

/* Starts listening and serving in background threads. err gets a one-line
 * reason on failure (e.g. the port is taken). 0, BR_EINVAL, BR_EIO. */
int br_http_server_start(const br_http_server_opts *o, br_http_handler h, void *ctx,
                         br_http_server **out, char *err, size_t errcap);
/* The port actually bound (useful with port 0). */
unsigned br_http_server_port(const br_http_server *s);
/* Counters of a running server (for /metrics and tests); all monotonic except
 * the two "open"/"in flight" gauges. */
typedef struct br_http_server_stats {
    uint64_t connections_total; /* TCP connections accepted */
    uint64_t connections_open;
    uint64_t requests_total;    /* requests whose headers arrived */
    uint64_t in_flight;         /* requests not yet answered */
    uint64_t refused_body;      /* answered 413 */
    uint64_t refused_header;    /* answered 431 by us (MHD may answer 431 itself first) */
} br_http_server_stats;

void br_http_server_get_stats(const br_http_server *s, br_http_server_stats *out);

/* Stops accepting, finishes in-flight requests (waiting at most timeout_s),
 * closes idle connections, frees. NULL is fine. */
void br_http_server_stop(br_http_server *s);

/* ---- client ---- */

typedef struct br_http_client br_http_client;

typedef struct br_http_client_opts {
    const char *base_url;    /* "http://127.0.0.1:8081" */
    long timeout_ms;         /* whole request; default 5000 */
    long connect_timeout_ms; /* default 1000 */
    const char *bearer;      /* sent as Authorization: Bearer ... when set */
    size_t max_response;     /* bytes; default 16 MiB */
} br_http_client_opts;

int br_http_client_new(const br_http_client_opts *o, br_http_client **out);
void br_http_client_free(br_http_client *c);

typedef struct br_http_result {
    int status;              /* HTTP status, or 0 when no response arrived */
    char *body;              /* malloc'd, NUL-terminated; caller frees */
    size_t body_len;
    char version[80];        /* X-Model-Version of the response, "" when absent */
    char loaded[200];        /* X-Model-Versions of the response, "" when absent */
    char error[160];         /* transport error text when status == 0 */
} br_http_result;

/* method "GET" (body NULL) or "POST" (body JSON). extra_headers: NULL or a
 * NULL-terminated list of "Name: value" lines (lines with CR/LF are skipped).
 * Thread-safe. Returns 0 when a response arrived (any status); BR_EIO on a
 * transport failure (status 0, res->error says which); BR_ELIMIT when the
 * response exceeded max_response (res->status set, no body); BR_EINVAL for a
 * path not starting with '/'; BR_ENOMEM. res needs br_http_result_free in
 * every case. */
int br_http_client_call(br_http_client *c, const char *method, const char *path,
                        const char *body, size_t body_len, const char *const *extra_headers,
                        br_http_result *res);
void br_http_result_free(br_http_result *res);

#endif
