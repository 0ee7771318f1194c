/* libFuzzer driver for the rankings reader (lib/eval/rankings.c) and, through it, the metric
 * code on arbitrary lists.
 *
 * Each input is read with the default options and with small limits (ties allowed or not,
 * taken from the first byte). On success the promises of rankings.h must hold: the stats add
 * up, users strictly ascending, each list unique, ordered by rank then item, within max_list
 * and n_items; messages are printable ASCII. The lists are then aligned with a user set that
 * includes absent users and evaluated against a truth made from them (every second item);
 * the metrics must lie in [0, 1] and recall must be exactly 1 where the truth is the whole
 * top k. Any broken promise calls abort(). */
#include "bookrec/error.h"
#include "bookrec/metrics.h"
#include "bookrec/rankings.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rankings: %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void check_rankings(const br_rankings *r, const br_rankings_opts *o)
{
    const br_rankings_stats *s = br_rankings_get_stats(r);
    size_t n;
    const int64_t *users = br_rankings_users(r, &n);
    const br_lists *l = br_rankings_lists(r);
    const int64_t *ranks = br_rankings_ranks(r);
    size_t max_list = o->max_list ? o->max_list : 1000;

    CHECK(s->rows == s->kept + s->bad_fields + s->bad_integer + s->negative + s->out_of_range +
                         s->dup_pair + s->dup_rank + s->over_list);
    CHECK(l->n == n && s->users == n && (uint64_t)l->ptr[n] == s->kept && l->ptr[0] == 0);
    CHECK(o->allow_ties || s->rank_ties == 0);
    for (size_t u = 0; u < n; u++) {
        CHECK(u == 0 || users[u] > users[u - 1]);
        CHECK(users[u] >= 0);
        size_t len = (size_t)(l->ptr[u + 1] - l->ptr[u]);
        CHECK(len >= 1 && len <= max_list);
        const int32_t *it = l->items + l->ptr[u];
        const int64_t *rk = ranks + l->ptr[u];
        for (size_t i = 0; i < len; i++) {
            CHECK(it[i] >= 0 && (!o->n_items || (size_t)it[i] < o->n_items));
            CHECK(rk[i] >= 0);
            if (i > 0) {
                CHECK(rk[i] > rk[i - 1] ||
                      (o->allow_ties && rk[i] == rk[i - 1] && it[i] > it[i - 1]));
            }
        }
        int32_t *sorted = malloc(len * sizeof *sorted);
        CHECK(sorted != NULL);
        memcpy(sorted, it, len * sizeof *sorted);
        qsort(sorted, len, sizeof *sorted, cmp_i32);
        for (size_t i = 1; i < len; i++)
            CHECK(sorted[i] != sorted[i - 1]);
        free(sorted);
    }
    CHECK(br_rankings_n_examples(r) <= BR_RANKINGS_EXAMPLES);
    CHECK((br_rankings_n_examples(r) == 0) == (s->rows == s->kept && s->csv_skipped == 0));
    for (size_t i = 0; i < br_rankings_n_examples(r); i++) {
        const char *m = br_rankings_example(r, i);
        CHECK(m && strncmp(m, "line ", 5) == 0);
        for (const char *p = m; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
    }
    json_t *j = br_rankings_stats_json(r);
    CHECK(j != NULL);
    json_decref(j);
}

/* Aligns with every ranked user plus two absent ones, and evaluates at k = 3 against a truth
 * of every second item of each list (sorted). */
static void check_eval(const br_rankings *r)
{
    size_t n;
    const int64_t *users = br_rankings_users(r, &n);
    const br_lists *l = br_rankings_lists(r);
    int64_t *q = malloc((n + 2) * sizeof *q);
    int64_t *tp = malloc((n + 3) * sizeof *tp);
    int32_t *ti = malloc(((size_t)l->ptr[n] + 1) * sizeof *ti);
    br_lists al, truth;
    size_t missing = 0, n_items = 1;
    CHECK(q && tp && ti);

    q[0] = -1; /* users are >= 0: never present */
    for (size_t u = 0; u < n; u++)
        q[u + 1] = users[u];
    q[n + 1] = INT64_MIN;
    CHECK(br_rankings_align(r, q, n + 2, &al, &missing) == 0);
    CHECK(missing == 2 && al.n == n + 2 && al.ptr[n + 2] == l->ptr[n]);

    tp[0] = 0;
    for (size_t u = 0; u < n + 2; u++) {
        size_t m = (size_t)tp[u];
        for (int64_t i = al.ptr[u]; i < al.ptr[u + 1]; i++) {
            if ((size_t)al.items[i] >= n_items)
                n_items = (size_t)al.items[i] + 1;
            if ((i - al.ptr[u]) % 2 == 0)
                ti[m++] = al.items[i];
        }
        qsort(ti + tp[u], m - (size_t)tp[u], sizeof *ti, cmp_i32);
        tp[u + 1] = (int64_t)m;
    }
    if (n_items > ((size_t)1 << 20)) /* the evaluation allocates per item: keep runs small */
        goto done;
    truth = (br_lists){n + 2, tp, ti};
    br_eval_opts o = {.k = 3, .n_items = n_items};
    br_eval *e;
    CHECK(br_eval_new(&al, &truth, &o, &e) == 0);
    CHECK(br_eval_users(e) == n && br_eval_skipped(e) == 2);
    for (int m = 0; m < BR_METRIC_COUNT; m++) {
        const double *pu = br_eval_per_user(e, (enum br_metric)m);
        for (size_t u = 0; u < n; u++)
            CHECK(pu[u] >= 0 && pu[u] <= 1 + 1e-12);
    }
    /* Users with at most 2 items: the truth is within the top 3 -> recall 1 there. */
    const double *rec = br_eval_per_user(e, BR_METRIC_RECALL);
    for (size_t u = 0; u < n; u++)
        if (al.ptr[u + 2] - al.ptr[u + 1] <= 2)
            CHECK(rec[u] == 1.0);
    if (n > 0) {
        json_t *j;
        CHECK(br_eval_entry_json(e, "fuzz", "warm", &(br_boot_opts){20, 0.9, 1, 1}, &j) == 0);
        json_decref(j);
    }
    br_eval_free(e);
done:
    br_lists_free(&al);
    free(q);
    free(tp);
    free(ti);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    br_rankings_opts def, small;
    br_rankings *r;
    char err[256];
    int rc;

    if (size < 1 || size > (1 << 16))
        return 0;
    br_rankings_opts_default(&def);
    small = (br_rankings_opts){
        .max_rows = 40, .max_list = 3, .max_bad = 0, .n_items = 64, .allow_ties = data[0] & 1};
    data++, size--;

    rc = br_rankings_read_mem(data, size, &def, &r, err, sizeof err);
    CHECK(rc == 0 || rc == BR_EFORMAT || rc == BR_ELIMIT);
    if (rc == 0) {
        check_rankings(r, &def);
        check_eval(r);
        br_rankings_free(r);
    } else {
        CHECK(r == NULL && err[0] != '\0');
    }
    rc = br_rankings_read_mem(data, size, &small, &r, err, sizeof err);
    CHECK(rc == 0 || rc == BR_EFORMAT || rc == BR_ELIMIT);
    if (rc == 0) {
        check_rankings(r, &small);
        check_eval(r);
        br_rankings_free(r);
    }
    return 0;
}
