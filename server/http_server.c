/* The HTTP server of http.h on libmicrohttpd 0.9.75, and the response helpers.
 *
 * Design decisions:
 * 1. We bind the listening socket ourselves and hand it to MHD
 *    (MHD_OPTION_LISTEN_SOCKET): bind errors then come back as a precise
 *    one-line reason ("bind 127.0.0.1:8081: Address already in use") instead
 *    of a NULL daemon, and ":port" can ask for a dual-stack socket with a
 *    fallback to IPv4 on hosts without IPv6.
 * 2. MHD does the I/O on its internal thread (MHD_USE_AUTO picks epoll on
 *    Linux); handlers run on our own pool of `threads` workers. A complete
 *    request is handed over by suspending its connection, and the worker
 *    resumes it with the response ready. Why not MHD's thread pool: MHD pins
 *    each connection to the worker that accepted it, and one worker accepts
 *    up to ten at a time, so a few keep-alive connections from a gateway
 *    often all land on one thread and their requests run one after another
 *    while the other threads idle (we measured it: 4 concurrent slow requests
 *    ran serially in 1 of 4 trials). Our queue spreads requests, not
 *    connections.
 *    br_http_server_stop quiesces the daemon (stop accepting) and waits for
 *    in-flight requests before closing. A connection accepted but not yet
 *    read when the server stops may be closed unanswered (the client sees a
 *    transport error, never a wrong answer).
 * 3. Header limit, two layers: the per-connection memory pool is sized
 *    max_header + 16 KiB, and when the headers do not fit MHD itself answers
 *    431 (414 when even the request line does not fit) and closes. Headers
 *    that fit the pool but exceed max_header are answered 431 by us with the
 *    JSON error body. Either way the client gets a 4xx, never a reset.
 * 4. Body limit: a Content-Length over max_body is refused before the body is
 *    read when the client waits for "100 Continue" or when the body is so big
 *    that reading it is not worth it (MHD then closes the connection);
 *    otherwise the body is read and dropped so the connection stays usable,
 *    and 413 is answered at the end. Chunked bodies are cut the same way.
 *    The handler never sees a refused request.
 * 5. MHD's log lines go to bookrec/log.h at debug level: they describe
 *    clients misbehaving, not our errors.
 */
#include "http.h"

#include "bookrec/error.h"
#include "bookrec/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_MAX_HEADER (16u << 10)
#define DEFAULT_THREADS 4u
#define DEFAULT_TIMEOUT_S 30u
#define MAX_THREADS 256u
#define POOL_SLACK (16u << 10) /* pool room beyond the headers: response headers, records */

typedef struct req_state req_state;

struct br_http_server {
    struct MHD_Daemon *d;
    /* the worker pool and its queue of suspended requests */
    pthread_t *workers;
    unsigned n_workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req_state *head, *tail;
    int stopping;
    br_http_handler h;
    void *ctx;
    size_t max_body, max_header;
    size_t drain_cap; /* bytes of an over-limit body we read and drop before closing */
    unsigned timeout_s;
    unsigned port;
    int fd;
    atomic_ullong conns_total, conns_open, requests, in_flight, refused_body, refused_header;
};

/* Per-request state (MHD's con_cls). */
struct req_state {
    char *body;
    size_t len, cap;
    size_t dropped; /* bytes of an over-limit body read and dropped */
    int too_large;
    int answered; /* a worker filled resp */
    const char *method, *url;
    struct MHD_Connection *conn;
    br_http_resp resp;
    req_state *next; /* in the work queue */
};

/* ---- JSON error bodies ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends s as the inside of a JSON string to out (cap bytes, always
 * NUL-terminated); control characters are escaped and invalid UTF-8 becomes
 * U+FFFD, so any input gives valid JSON. Returns the new length. */
size_t br_http_json_escape(char *out, size_t cap, size_t at, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n && at + 7 < cap) {
        size_t l = utf8_len(p, n);
        if (l == 0) {
            at += (size_t)snprintf(out + at, cap - at, "\\ufffd");
            p++, n--;
            continue;
        }
        if (l == 1 && (*p < 0x20 || *p == '"' || *p == '\\')) {
            if (*p == '"' || *p == '\\')
                out[at++] = '\\', out[at++] = (char)*p;
            else if (*p == '\n')
                out[at++] = '\\', out[at++] = 'n';
            else
                at += (size_t)snprintf(out + at, cap - at, "\\u%04x", *p);
        } else {
            memcpy(out + at, p, l);
            at += l;
        }
        p += l, n -= l;
    }
    if (cap)
        out[at < cap ? at : cap - 1] = '\0';
    return at;
}

void br_http_resp_header(br_http_resp *resp, const char *name, const char *value)
{
    if (!resp || !name || !value || resp->n_headers < 0 ||
        resp->n_headers >= BR_HTTP_MAX_RESP_HEADERS)
        return;
    if (strlen(name) >= sizeof resp->headers[0].name ||
        strlen(value) >= sizeof resp->headers[0].value)
        return;
    strcpy(resp->headers[resp->n_headers].name, name);
    strcpy(resp->headers[resp->n_headers].value, value);
    resp->n_headers++;
}

int br_http_resp_json_text(br_http_resp *resp, int status, const char *json, size_t len)
{
    if (!resp || (!json && len) || len == SIZE_MAX)
        return BR_EINVAL;
    char *b = malloc(len + 1);
    if (!b)
        return BR_ENOMEM;
    if (len)
        memcpy(b, json, len);
    b[len] = '\0';
    free(resp->body);
    resp->body = b;
    resp->body_len = len;
    resp->status = status;
    resp->content_type = "application/json";
    return 0;
}

void br_http_resp_error(br_http_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[512], buf[4096];
    va_list ap;
    if (!resp)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t at = (size_t)snprintf(buf, sizeof buf, "{\"error\":{\"code\":\"");
    at = br_http_json_escape(buf, sizeof buf - 40, at, code ? code : "error");
    at += (size_t)snprintf(buf + at, sizeof buf - at, "\",\"message\":\"");
    at = br_http_json_escape(buf, sizeof buf - 8, at, msg);
    at += (size_t)snprintf(buf + at, sizeof buf - at, "\"}}");
    if (br_http_resp_json_text(resp, status, buf, at) != 0) {
        /* No memory for a body: the status still tells the client. */
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->status = status;
    }
}

/* ---- request accessors ---- */

const char *br_http_req_header(const br_http_req *r, const char *name)
{
    if (!r || !r->conn || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *br_http_req_query(const br_http_req *r, const char *name)
{
    if (!r || !r->conn || !name)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- sending ---- */

/* Queues resp (taking its body) on conn. Anything the handler left invalid
 * becomes a 500 with a JSON error, so a bad handler never kills a connection. */
static enum MHD_Result send_resp(struct MHD_Connection *conn, br_http_resp *resp)
{
    if (resp->status < 100 || resp->status > 599 || (!resp->body && resp->body_len)) {
        br_error("http: handler produced an invalid response (status %d)", resp->status);
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->n_headers = 0;
        br_http_resp_error(resp, 500, "internal", "internal error");
    }
    struct MHD_Response *r;
    if (resp->body)
        r = MHD_create_response_from_buffer_with_free_callback(resp->body_len, resp->body, free);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp->body);
        resp->body = NULL;
        return MHD_NO; /* out of memory: MHD closes the connection */
    }
    resp->body = NULL; /* owned by r now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    for (int i = 0; i < resp->n_headers && i < BR_HTTP_MAX_RESP_HEADERS; i++)
        if (MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) != MHD_YES)
            br_warn("http: response header %.64s refused", resp->headers[i].name);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, int status, const char *code,
                                  const char *msg)
{
    br_http_resp resp;
    memset(&resp, 0, sizeof resp);
    br_http_resp_error(&resp, status, code, "%s", msg);
    return send_resp(conn, &resp);
}

/* ---- MHD callbacks ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    br_debug("http: mhd: %s", line);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    br_http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->conns_total, 1);
        atomic_fetch_add(&s->conns_open, 1);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->conns_open, 1);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    br_http_server *s = cls;
    req_state *st = *con_cls;
    if (!st)
        return;
    free(st->body);
    free(st->resp.body); /* not sent: the client went away */
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* Parses a Content-Length value; SIZE_MAX when absent or unparsable (MHD has
 * already rejected malformed ones). */
static size_t content_length(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || *v < '0' || *v > '9')
        return SIZE_MAX;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n >= SIZE_MAX)
        return SIZE_MAX - 1; /* bigger than any limit */
    return (size_t)n;
}

static enum MHD_Result refuse_body(br_http_server *s, struct MHD_Connection *conn)
{
    char msg[96];
    atomic_fetch_add(&s->refused_body, 1);
    snprintf(msg, sizeof msg, "request body exceeds %zu bytes", s->max_body);
    return send_error(conn, 413, "body_too_large", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    br_http_server *s = cls;
    req_state *st = *con_cls;

    if (!st) { /* first call: headers only */
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        atomic_fetch_add(&s->in_flight, 1);
        atomic_fetch_add(&s->requests, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (ci && ci->header_size > s->max_header) {
            char msg[96];
            atomic_fetch_add(&s->refused_header, 1);
            snprintf(msg, sizeof msg, "request headers exceed %zu bytes", s->max_header);
            return send_error(conn, 431, "headers_too_large", msg);
        }
        size_t cl = content_length(conn);
        if (cl != SIZE_MAX && cl > s->max_body) {
            const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_EXPECT);
            st->too_large = 1;
            if (cl > s->drain_cap || (expect && !strcasecmp(expect, "100-continue")))
                return refuse_body(s, conn);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st->too_large && n > s->max_body - st->len) {
            st->too_large = 1;
            st->dropped = st->len;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
        }
        if (st->too_large) {
            st->dropped += n;
            return st->dropped > s->drain_cap ? MHD_NO : MHD_YES; /* MHD_NO closes */
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 1024;
            while (cap < st->len + n + 1)
                cap *= 2; /* bounded: len + n <= max_body */
            if (cap > s->max_body + 1)
                cap = s->max_body + 1;
            char *b = realloc(st->body, cap);
            if (!b) {
                br_error("http: out of memory reading a %zu-byte body", st->len + n);
                return MHD_NO; /* MHD cannot answer mid-upload: close */
            }
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }

    if (st->too_large)
        return refuse_body(s, conn);
    if (st->answered) /* called again after a worker resumed us */
        return send_resp(conn, &st->resp);

    /* Hand the request to a worker; MHD keeps method and url alive while the
     * connection is suspended. */
    st->method = method;
    st->url = url;
    st->conn = conn;
    MHD_suspend_connection(conn);
    pthread_mutex_lock(&s->mu);
    st->next = NULL;
    if (s->tail)
        s->tail->next = st;
    else
        s->head = st;
    s->tail = st;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decoding of paths and query values, in place. "%00" stays as it is: a NUL would
 * end the C string early and "/books/1%00.json" would be served as "/books/1". */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* The peer's numeric address, for per-client rate limits and logs. */
static void peer_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static void *worker_main(void *arg)
{
    br_http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        req_state *st = s->head;
        if (!st) { /* stopping and the queue is drained */
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->head = st->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);

        br_http_req req = {st->method, st->url, st->body ? st->body : "", st->len, st->conn, ""};
        peer_address(st->conn, req.peer, sizeof req.peer);
        memset(&st->resp, 0, sizeof st->resp);
        st->resp.status = 200;
        s->h(s->ctx, &req, &st->resp);
        st->answered = 1;
        /* st belongs to MHD again from here on: do not touch it. */
        MHD_resume_connection(st->conn);
    }
}

/* Stops the workers after they have run every queued request (so no
 * connection stays suspended, which MHD_stop_daemon does not allow). */
static void stop_workers(br_http_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    s->n_workers = 0;
}

/* ---- start / stop ---- */

/* Splits "host:port", "[v6]:port" or ":port"; host may come back empty. */
static int split_listen(const char *listen_addr, char *host, size_t hostcap, unsigned *port)
{
    const char *colon, *h = listen_addr;
    size_t hl;
    if (!listen_addr || !*listen_addr)
        return BR_EINVAL;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return BR_EINVAL;
        h++;
        hl = (size_t)(close - h);
        colon = close + 1;
        if (hl == 0)
            return BR_EINVAL;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return BR_EINVAL;
        hl = (size_t)(colon - h);
        if (memchr(h, ':', hl))
            return BR_EINVAL; /* a bare IPv6 address needs brackets */
    }
    if (hl >= hostcap)
        return BR_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return BR_EINVAL;
    unsigned v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return BR_EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return BR_EINVAL;
    *port = v;
    return 0;
}

/* A listening, non-blocking socket on addr, or -1 with errno set. */
static int listen_on(const struct sockaddr *addr, socklen_t len, int dual_stack)
{
    int one = 1, zero = 0;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* SO_REUSEADDR lets a restarted server bind over TIME_WAIT; no SO_REUSEPORT,
     * so a second server on the same port fails loudly. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof one);
    if (bind(fd, addr, len) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int bind_listen(const char *listen_addr, int *fd_out, char *err, size_t errcap)
{
    char host[256], portstr[8];
    unsigned port;
    if (split_listen(listen_addr, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "bad listen address (want host:port, [v6]:port or :port)");
        return BR_EINVAL;
    }
    if (!*host) { /* all interfaces: dual stack when the host has IPv6 */
        struct sockaddr_in6 a6;
        struct sockaddr_in a4;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_any;
        a6.sin6_port = htons((uint16_t)port);
        int fd = listen_on((struct sockaddr *)&a6, sizeof a6, 1);
        if (fd < 0 && errno != EADDRINUSE) {
            memset(&a4, 0, sizeof a4);
            a4.sin_family = AF_INET;
            a4.sin_addr.s_addr = htonl(INADDR_ANY);
            a4.sin_port = htons((uint16_t)port);
            fd = listen_on((struct sockaddr *)&a4, sizeof a4, 0);
        }
        if (fd < 0) {
            snprintf(err, errcap, "bind :%u: %s", port, strerror(errno));
            return BR_EIO;
        }
        *fd_out = fd;
        return 0;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%u", port);
    int g = getaddrinfo(host, portstr, &hints, &ai);
    if (g != 0) {
        snprintf(err, errcap, "listen address %.64s: %s", host, gai_strerror(g));
        return BR_EINVAL;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = listen_on(a->ai_addr, a->ai_addrlen, 0);
        if (fd < 0)
            e = errno;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errcap, "bind %.64s: %s", listen_addr, strerror(e));
        return BR_EIO;
    }
    *fd_out = fd;
    return 0;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int br_http_server_start(const br_http_server_opts *o, br_http_handler h, void *ctx,
                         br_http_server **out, char *err, size_t errcap)
{
    char dummy[1];
    int rc;
    br_http_server *s = NULL;
    if (!err || !errcap)
        err = dummy, errcap = sizeof dummy;
    err[0] = '\0';
    if (!o || !h || !out) {
        snprintf(err, errcap, "missing options or handler");
        return BR_EINVAL;
    }
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return BR_ENOMEM;
    }
    s->fd = -1;
    s->h = h;
    s->ctx = ctx;
    s->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
    s->max_header = o->max_header ? o->max_header : DEFAULT_MAX_HEADER;
    s->timeout_s = o->timeout_s ? o->timeout_s : DEFAULT_TIMEOUT_S;
    unsigned threads = o->threads ? o->threads : DEFAULT_THREADS;
    if (threads > MAX_THREADS || s->max_header > (64u << 20) || s->max_body > (SIZE_MAX / 4)) {
        snprintf(err, errcap, "server limits out of range");
        rc = BR_EINVAL;
        goto fail;
    }
    /* Reading and dropping a body a little over the limit keeps the connection
     * alive; a much bigger one is not worth reading. */
    s->drain_cap = s->max_body * 2 + (64u << 10);

    rc = bind_listen(o->listen, &s->fd, err, errcap);
    if (rc != 0)
        goto fail;
    s->port = bound_port(s->fd);

    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0) {
        snprintf(err, errcap, "cannot create the worker queue");
        rc = BR_EIO;
        goto fail;
    }
    s->workers = calloc(threads, sizeof *s->workers);
    if (!s->workers) {
        snprintf(err, errcap, "out of memory");
        rc = BR_ENOMEM;
        goto fail;
    }
    for (; s->n_workers < threads; s->n_workers++)
        if (pthread_create(&s->workers[s->n_workers], NULL, worker_main, s) != 0) {
            snprintf(err, errcap, "cannot start worker threads");
            rc = BR_EIO;
            goto fail;
        }

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    /* The logger goes first: MHD reports problems with later options through it. */
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->fd, MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(s->max_header + POOL_SLACK),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errcap, "cannot start the HTTP server on %.64s (libmicrohttpd refused)",
                 o->listen);
        rc = BR_EIO;
        goto fail;
    }
    br_debug("http: listening on %s (port %u, %u threads)", o->listen, s->port, threads);
    *out = s;
    return 0;
fail:
    if (s) {
        if (s->workers)
            stop_workers(s); /* no request was queued: they exit at once */
        free(s->workers);
        if (s->fd >= 0)
            close(s->fd);
        free(s);
    }
    return rc;
}

unsigned br_http_server_port(const br_http_server *s)
{
    if (!s)
        return 0;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return di && di->port ? di->port : s->port;
}

void br_http_server_get_stats(const br_http_server *s, br_http_server_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->connections_total = atomic_load(&s->conns_total);
    out->connections_open = atomic_load(&s->conns_open);
    out->requests_total = atomic_load(&s->requests);
    out->in_flight = atomic_load(&s->in_flight);
    out->refused_body = atomic_load(&s->refused_body);
    out->refused_header = atomic_load(&s->refused_header);
}

void br_http_server_stop(br_http_server *s)
{
    if (!s)
        return;
    /* Stop accepting, then let in-flight requests finish (bounded: a client
     * that keeps sending on a kept-alive connection cannot hold us forever). */
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    double deadline = br_now() + s->timeout_s;
    struct timespec tick = {0, 2 * 1000 * 1000};
    for (;;) {
        while (atomic_load(&s->in_flight) > 0 && br_now() < deadline)
            nanosleep(&tick, NULL);
        /* A worker thread busy in a handler may hold another accepted
         * connection whose request it has not parsed yet; it does so right
         * after the handler returns, so look again a moment later. */
        struct timespec grace = {0, 20 * 1000 * 1000};
        nanosleep(&grace, NULL);
        if (atomic_load(&s->in_flight) == 0 || br_now() >= deadline)
            break;
    }
    stop_workers(s);
    MHD_stop_daemon(s->d);
    /* After a quiesce the listening socket is ours to close. */
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->workers);
    free(s);
}
