/* Prometheus metrics of a server process: per-route request counters and
 * latency histograms, plus named counters and gauges, rendered in the text
 * exposition format 0.0.4 for GET /metrics.
 *
 * Design decisions:
 * 1. The hot path (br_metrics_observe) takes no lock: routes are registered
 *    up front into a fixed table (br_metrics_route returns an index) and every
 *    number is an atomic. Route 0 is "other", where unknown indexes go, so a
 *    path a client invents never creates a series.
 * 2. Request counters carry labels route and code, the status class ("2xx",
 *    "4xx", ...): five series per route at most. The latency histogram has
 *    fixed buckets from 50 us to 5 s.
 * 3. Named series are created on first use and then found by name without a
 *    lock (an append-only table). A name may carry labels,
 *    'bookrec_cache_hits_total{cache="meta"}'; series of one family share the
 *    HELP/TYPE lines.
 *
 * Exposed names: bookrec_http_requests_total{route,code} (counter) and
 * bookrec_http_request_duration_seconds{route} (histogram).
 */
#ifndef BOOKREC_SERVER_METRICS_H
#define BOOKREC_SERVER_METRICS_H

#include <stddef.h>

#define BR_METRICS_MAX_ROUTES 64
#define BR_METRICS_MAX_SERIES 256
#define BR_METRICS_MAX_NAME 160 /* bytes of a series name including labels */

typedef struct br_metrics br_metrics;

/* 0 or BR_ENOMEM. */
int br_metrics_new(br_metrics **out);
void br_metrics_free(br_metrics *m);

/* Index of route (e.g. "/similar"), registering it on first use; the same
 * name gives the same index. BR_EINVAL for an empty name or one with a quote,
 * backslash or control character; BR_ELIMIT when the table is full. */
int br_metrics_route(br_metrics *m, const char *route);

/* Counts one request on route (an index from br_metrics_route; anything else
 * counts as "other") answered with status after seconds. Lock-free. */
void br_metrics_observe(br_metrics *m, int route, int status, double seconds);

/* Adds value (>= 0) to the counter name, creating it with help on first use.
 * 0, BR_EINVAL (bad name, negative value, name already a gauge), BR_ELIMIT
 * (series table full), BR_ENOMEM. */
int br_metrics_counter_add(br_metrics *m, const char *name, const char *help, double value);
/* Sets the gauge name, as above. */
int br_metrics_gauge_set(br_metrics *m, const char *name, const char *help, double value);

/* The exposition text (malloc'd, NUL-terminated; *len without the NUL), or
 * NULL when out of memory. Content type: "text/plain; version=0.0.4". */
char *br_metrics_render(br_metrics *m, size_t *len);

#endif
