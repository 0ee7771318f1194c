/* Prometheus registry (see metrics.h).
 *
 * Design decisions beyond the header's:
 * 1. Histogram buckets are stored non-cumulative (one atomic increment per
 *    observation) and summed when rendering; the sum is kept in integer
 *    nanoseconds so it can be one atomic add.
 * 2. Tables only grow, and an entry is fully written before the count that
 *    publishes it is stored (release), so readers scan without a lock; only
 *    creating an entry takes the mutex.
 * 3. Rendering reads the atomics one by one: a scrape during traffic may see
 *    a _count one ahead of a bucket, which Prometheus tolerates.
 */
#include "metrics.h"

#include "bookrec/error.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 16
#define N_CLASSES 5
#define MAX_ROUTE_NAME 64
#define MAX_HELP 256
#define MAX_RENDER (8u << 20)

static const double k_bounds[N_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                           0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                           0.5,     1,      2.5,     5};
static const char *const k_le[N_BUCKETS] = {"0.00005", "0.0001", "0.00025", "0.0005",
                                            "0.001",   "0.0025", "0.005",   "0.01",
                                            "0.025",   "0.05",   "0.1",     "0.25",
                                            "0.5",     "1",      "2.5",     "5"};

typedef struct route {
    char name[MAX_ROUTE_NAME];
    atomic_ullong codes[N_CLASSES];
    atomic_ullong buckets[N_BUCKETS + 1]; /* last: above 5 s */
    atomic_ullong sum_ns;
} route;

enum { COUNTER, GAUGE };

typedef struct series {
    char name[BR_METRICS_MAX_NAME];
    size_t family_len; /* name up to '{' */
    char help[MAX_HELP];
    int type;
    atomic_ullong bits; /* a double */
} series;

struct br_metrics {
    pthread_mutex_t mu; /* creating routes and series only */
    route routes[BR_METRICS_MAX_ROUTES];
    atomic_int n_routes;
    series *series[BR_METRICS_MAX_SERIES];
    atomic_int n_series;
};

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int br_metrics_new(br_metrics **out)
{
    if (!out)
        return BR_EINVAL;
    br_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return BR_ENOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return BR_ENOMEM;
    }
    strcpy(m->routes[0].name, "other");
    atomic_store(&m->n_routes, 1);
    *out = m;
    return 0;
}

void br_metrics_free(br_metrics *m)
{
    if (!m)
        return;
    int n = atomic_load(&m->n_series);
    for (int i = 0; i < n; i++)
        free(m->series[i]);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* A label value we can print between quotes without escaping. */
static int plain_label(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || s[n] == '"' || s[n] == '\\' || s[n] == 0x7f)
            return 0;
    return n > 0 && n < max;
}

int br_metrics_route(br_metrics *m, const char *name)
{
    if (!m || !name || !plain_label(name, MAX_ROUTE_NAME))
        return BR_EINVAL;
    int n = atomic_load_explicit(&m->n_routes, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (!strcmp(m->routes[i].name, name))
            return i;
    int rc;
    pthread_mutex_lock(&m->mu);
    n = atomic_load(&m->n_routes);
    for (int i = 0; i < n; i++)
        if (!strcmp(m->routes[i].name, name)) {
            rc = i;
            goto out;
        }
    if (n >= BR_METRICS_MAX_ROUTES) {
        rc = BR_ELIMIT;
        goto out;
    }
    strcpy(m->routes[n].name, name);
    atomic_store_explicit(&m->n_routes, n + 1, memory_order_release);
    rc = n;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void br_metrics_observe(br_metrics *m, int route_idx, int status, double seconds)
{
    if (!m)
        return;
    int n = atomic_load_explicit(&m->n_routes, memory_order_acquire);
    route *r = &m->routes[route_idx >= 0 && route_idx < n ? route_idx : 0];
    int cls = status / 100;
    /* A status outside 1xx-5xx means we failed to answer properly: 5xx. */
    atomic_fetch_add_explicit(&r->codes[cls >= 1 && cls <= 5 ? cls - 1 : 4], 1,
                              memory_order_relaxed);
    if (!(seconds >= 0)) /* negative or NaN */
        seconds = 0;
    int b = 0;
    while (b < N_BUCKETS && seconds > k_bounds[b])
        b++;
    atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    double ns = seconds * 1e9;
    atomic_fetch_add_explicit(&r->sum_ns, ns < 1.8e19 ? (unsigned long long)ns : 0,
                              memory_order_relaxed);
}

/* Validates "family" or "family{labels}"; returns the family length or 0. */
static size_t check_name(const char *name)
{
    size_t n = strlen(name), f = 0;
    if (n == 0 || n >= BR_METRICS_MAX_NAME)
        return 0;
    for (; f < n && name[f] != '{'; f++) {
        char c = name[f];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (f > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    if (f == 0)
        return 0;
    if (f < n) {
        if (name[n - 1] != '}' || n - f < 2)
            return 0;
        for (size_t i = f; i < n; i++)
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                return 0;
    }
    return f;
}

/* Finds or creates the series name of type; NULL with *rc set on failure. */
static series *get_series(br_metrics *m, const char *name, const char *help, int type, int *rc)
{
    *rc = 0;
    int n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (!strcmp(m->series[i]->name, name)) {
            if (m->series[i]->type != type)
                *rc = BR_EINVAL;
            return *rc ? NULL : m->series[i];
        }
    size_t fl = check_name(name);
    if (!fl) {
        *rc = BR_EINVAL;
        return NULL;
    }
    series *s = NULL;
    pthread_mutex_lock(&m->mu);
    n = atomic_load(&m->n_series);
    for (int i = 0; i < n; i++) {
        series *e = m->series[i];
        if (!strcmp(e->name, name)) {
            s = e->type == type ? e : NULL;
            *rc = s ? 0 : BR_EINVAL;
            goto out;
        }
        if (e->family_len == fl && !memcmp(e->name, name, fl) && e->type != type) {
            *rc = BR_EINVAL; /* one family, one type */
            goto out;
        }
    }
    if (n >= BR_METRICS_MAX_SERIES) {
        *rc = BR_ELIMIT;
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        *rc = BR_ENOMEM;
        goto out;
    }
    strcpy(s->name, name);
    s->family_len = fl;
    snprintf(s->help, sizeof s->help, "%s", help ? help : "");
    s->type = type;
    atomic_init(&s->bits, d2u(0.0));
    m->series[n] = s;
    atomic_store_explicit(&m->n_series, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&m->mu);
    return s;
}

int br_metrics_counter_add(br_metrics *m, const char *name, const char *help, double value)
{
    int rc;
    if (!m || !name || !(value >= 0) || isinf(value))
        return BR_EINVAL;
    series *s = get_series(m, name, help, COUNTER, &rc);
    if (!s)
        return rc;
    unsigned long long old = atomic_load_explicit(&s->bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->bits, &old, d2u(u2d(old) + value),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    return 0;
}

int br_metrics_gauge_set(br_metrics *m, const char *name, const char *help, double value)
{
    int rc;
    if (!m || !name)
        return BR_EINVAL;
    series *s = get_series(m, name, help, GAUGE, &rc);
    if (!s)
        return rc;
    atomic_store_explicit(&s->bits, d2u(value), memory_order_relaxed);
    return 0;
}

/* ---- rendering ---- */

typedef struct out_buf {
    char *p;
    size_t len, cap;
    int failed;
} out_buf;

static void put(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    if (o->failed)
        return;
    for (;;) {
        size_t room = o->cap - o->len;
        va_start(ap, fmt);
        int n = o->p ? vsnprintf(o->p + o->len, room, fmt, ap) : -1;
        va_end(ap);
        if (o->p && n < 0) {
            o->failed = 1;
            return;
        }
        if (o->p && (size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 16384;
        if (cap > MAX_RENDER) {
            o->failed = 1;
            return;
        }
        char *p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static void put_value(out_buf *o, double v)
{
    if (isnan(v))
        put(o, "NaN\n");
    else if (isinf(v))
        put(o, v > 0 ? "+Inf\n" : "-Inf\n");
    else
        put(o, "%.17g\n", v);
}

/* HELP text escaping of the format: backslash and newline. */
static void put_help(out_buf *o, const char *family, size_t fl, const char *help)
{
    put(o, "# HELP %.*s ", (int)fl, family);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            put(o, "\\\\");
        else if (*p == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *p);
    }
    put(o, "\n");
}

char *br_metrics_render(br_metrics *m, size_t *len)
{
    static const char *const classes[N_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    out_buf o = {0};
    if (len)
        *len = 0;
    if (!m)
        return NULL;
    int nr = atomic_load_explicit(&m->n_routes, memory_order_acquire);

    put(&o, "# HELP bookrec_http_requests_total HTTP requests answered, by route and status "
            "class.\n# TYPE bookrec_http_requests_total counter\n");
    for (int i = 0; i < nr; i++)
        for (int c = 0; c < N_CLASSES; c++) {
            unsigned long long v = atomic_load(&m->routes[i].codes[c]);
            if (v)
                put(&o, "bookrec_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                    m->routes[i].name, classes[c], v);
        }

    put(&o, "# HELP bookrec_http_request_duration_seconds Time from request to response.\n"
            "# TYPE bookrec_http_request_duration_seconds histogram\n");
    for (int i = 0; i < nr; i++) {
        const route *r = &m->routes[i];
        unsigned long long cum = 0;
        for (int b = 0; b <= N_BUCKETS; b++) {
            cum += atomic_load(&r->buckets[b]);
            put(&o, "bookrec_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
                r->name, b < N_BUCKETS ? k_le[b] : "+Inf", cum);
        }
        put(&o, "bookrec_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", r->name,
            (double)atomic_load(&r->sum_ns) * 1e-9);
        put(&o, "bookrec_http_request_duration_seconds_count{route=\"%s\"} %llu\n", r->name, cum);
    }

    int ns = atomic_load_explicit(&m->n_series, memory_order_acquire);
    for (int i = 0; i < ns; i++) {
        const series *s = m->series[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = m->series[j]->family_len == s->family_len &&
                   !memcmp(m->series[j]->name, s->name, s->family_len);
        if (seen)
            continue; /* its family was rendered with an earlier series */
        put_help(&o, s->name, s->family_len, s->help);
        put(&o, "# TYPE %.*s %s\n", (int)s->family_len, s->name,
            s->type == COUNTER ? "counter" : "gauge");
        for (int k = i; k < ns; k++) {
            const series *e = m->series[k];
            if (e->family_len != s->family_len || memcmp(e->name, s->name, s->family_len))
                continue;
            put(&o, "%s ", e->name);
            put_value(&o, u2d(atomic_load(&e->bits)));
        }
    }
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.p;
}
