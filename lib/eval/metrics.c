/* Ranking metrics, the factor-model scorer and the report entries (see metrics.h and
 * docs/evaluation.md, "Metrics").
 *
 * Design decisions:
 * 1. Recall is hits / |T|, as LightFM's recall_at_k and most papers define it, and MAP and
 *    NDCG normalize by min(K, |T|), so that a perfect list scores 1 at any K. (implicit's
 *    ranking_metrics_at_k reports hits / min(K, |T|) summed over users as "precision"; that
 *    is neither of ours, and docs/evaluation.md says how to relate them.)
 * 2. Precision divides by K, not by the list length: a model that returns fewer than K items
 *    is not rewarded for it.
 * 3. Every metric is computed per user and kept per user, so that bootstrap intervals and
 *    paired differences can be taken over users; the report's values are plain means over
 *    users (macro averages), users with an empty truth skipped and counted.
 * 4. One pass, single-threaded: K log |T| per user (bisection into the sorted truth) is a few
 *    milliseconds for the 60k users of Book-Crossing; the expensive part, scoring, happens in
 *    br_flat_topk with its own threads. One stamp array (the row number of the last user
 *    who had an item in the top K) finds duplicates, and one byte per item counts coverage.
 * 5. Inputs are validated in full (lists, order of the truth, id ranges) before anything is
 *    computed: a malformed list from an external tool is an error, not a wrong number.
 * 6. Two evaluations may be paired only when they share K, the users and the truth: each
 *    carries a hash of its (user id, truth) rows, compared by br_eval_paired_ok.
 * 7. The factor scorer runs br_flat_topk over batches of queries, gathering their U rows and
 *    translating exclusions into V rows, so memory is bounded by the batch and the output;
 *    external factors with an id map are scored in item ids without copying V. */
#include "bookrec/metrics.h"
#include "bookrec/error.h"
#include "bookrec/flat.h"
#include "bookrec/fsutil.h"
#include "bookrec/text.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- Lists --------------------------------------------------------------------------- */

void br_lists_free(br_lists *l)
{
    if (!l)
        return;
    free(l->ptr);
    free(l->items);
    *l = (br_lists){0};
}

/* 0 when ptr is well formed (starts at 0, never decreases) and items is there when needed. */
static int lists_check(const br_lists *l)
{
    if (!l || !l->ptr || l->ptr[0] != 0)
        return BR_EINVAL;
    for (size_t i = 0; i < l->n; i++)
        if (l->ptr[i + 1] < l->ptr[i])
            return BR_EINVAL;
    if (l->ptr[l->n] > 0 && !l->items)
        return BR_EINVAL;
    return 0;
}

static size_t row_len(const br_lists *l, size_t i)
{
    return (size_t)(l->ptr[i + 1] - l->ptr[i]);
}

/* NULL for the rows of a list without items (NULL + 0 is undefined behaviour). */
static const int32_t *row_items(const br_lists *l, size_t i)
{
    return l->items ? l->items + l->ptr[i] : NULL;
}

/* Allocates out->ptr for n rows and room for cap items; out->n = n, ptr[0] = 0. */
static int lists_alloc(br_lists *out, size_t n, size_t cap)
{
    *out = (br_lists){0};
    if (n >= SIZE_MAX / sizeof(int64_t) || cap > SIZE_MAX / sizeof(int32_t))
        return BR_ENOMEM;
    out->ptr = malloc((n + 1) * sizeof *out->ptr);
    out->items = malloc((cap ? cap : 1) * sizeof *out->items);
    if (!out->ptr || !out->items) {
        br_lists_free(out);
        return BR_ENOMEM;
    }
    out->n = n;
    out->ptr[0] = 0;
    return 0;
}

int br_lists_from_matrix(const int32_t *ids, size_t n, size_t k, br_lists *out)
{
    int rc;
    if (!out || (n && (!ids || k == 0)))
        return BR_EINVAL;
    if (k && n > SIZE_MAX / k)
        return BR_ENOMEM;
    if ((rc = lists_alloc(out, n, n * k)) != 0)
        return rc;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < k; j++)
            if (ids[i * k + j] >= 0)
                out->items[m++] = ids[i * k + j];
        out->ptr[i + 1] = (int64_t)m;
    }
    return 0;
}

int br_lists_gather(const br_lists *src, const int64_t *rows, size_t n, br_lists *out)
{
    size_t total = 0;
    int rc;
    if (!out || (n && !rows) || lists_check(src) != 0)
        return BR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= 0 && (uint64_t)rows[i] >= src->n)
            return BR_EINVAL;
        if (rows[i] >= 0)
            total += row_len(src, (size_t)rows[i]);
    }
    if ((rc = lists_alloc(out, n, total)) != 0)
        return rc;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = rows[i] >= 0 ? row_len(src, (size_t)rows[i]) : 0;
        if (len > 0) {
            memcpy(out->items + m, row_items(src, (size_t)rows[i]), len * sizeof *out->items);
            m += len;
        }
        out->ptr[i + 1] = (int64_t)m;
    }
    return 0;
}

/* ---- Metrics ------------------------------------------------------------------------- */

static const char *const metric_names[BR_METRIC_COUNT] = {"recall", "precision", "ndcg", "map",
                                                          "hit_rate"};

const char *br_metric_name(enum br_metric m)
{
    return (unsigned)m < BR_METRIC_COUNT ? metric_names[m] : NULL;
}

int br_metric_from_name(const char *name)
{
    for (int m = 0; name && m < BR_METRIC_COUNT; m++)
        if (strcmp(name, metric_names[m]) == 0)
            return m;
    return BR_EINVAL;
}

static int in_sorted(const int32_t *a, size_t n, int32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x;
}

/* The metrics of one user; the caller has checked the arguments. */
static void user_metrics(const int32_t *ranked, size_t n_ranked, const int32_t *truth,
                         size_t n_truth, size_t k, double out[BR_METRIC_COUNT])
{
    size_t len = n_ranked < k ? n_ranked : k, ideal = n_truth < k ? n_truth : k;
    size_t hits = 0;
    double dcg = 0, idcg = 0, ap = 0;

    for (size_t r = 1; r <= len; r++) {
        if (!in_sorted(truth, n_truth, ranked[r - 1]))
            continue;
        hits++;
        dcg += 1.0 / log2((double)r + 1.0);
        ap += (double)hits / (double)r;
    }
    for (size_t r = 1; r <= ideal; r++)
        idcg += 1.0 / log2((double)r + 1.0);
    out[BR_METRIC_RECALL] = (double)hits / (double)n_truth;
    out[BR_METRIC_PRECISION] = (double)hits / (double)k;
    out[BR_METRIC_NDCG] = dcg / idcg;
    out[BR_METRIC_MAP] = ap / (double)ideal;
    out[BR_METRIC_HIT_RATE] = hits > 0;
}

int br_metrics_user(const int32_t *ranked, size_t n_ranked, const int32_t *truth, size_t n_truth,
                    size_t k, double out[BR_METRIC_COUNT])
{
    if ((n_ranked && !ranked) || !truth || n_truth == 0 || !out || k == 0 || k > BR_EVAL_MAX_K)
        return BR_EINVAL;
    user_metrics(ranked, n_ranked, truth, n_truth, k, out);
    return 0;
}

struct br_eval {
    size_t k, n_users, n_skipped;
    double *per_user; /* BR_METRIC_COUNT blocks of n_users */
    int64_t *user_ids;
    double mean[BR_METRIC_COUNT];
    double coverage, mean_popularity;
    uint64_t truth_hash; /* of (user id, truth row) of the evaluated users, with k */
};

static uint64_t hash_step(uint64_t acc, int64_t user, const int32_t *truth, size_t n)
{
    uint64_t v[3] = {acc, (uint64_t)user, XXH3_64bits(truth, n * sizeof *truth)};
    return XXH3_64bits(v, sizeof v);
}

int br_eval_new(const br_lists *ranked, const br_lists *truth, const br_eval_opts *o, br_eval **out)
{
    br_eval *e = NULL;
    uint32_t *stamp = NULL;
    uint8_t *seen = NULL;
    int rc = BR_EINVAL;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (!o || o->k == 0 || o->k > BR_EVAL_MAX_K || o->n_items == 0 || o->n_items > INT32_MAX ||
        lists_check(ranked) != 0 || lists_check(truth) != 0 || ranked->n != truth->n)
        return BR_EINVAL;
    size_t n = ranked->n, k = o->k, n_items = o->n_items;
    size_t n_cand = o->n_candidates ? o->n_candidates : n_items;
    if (n > UINT32_MAX - 1)
        return BR_ELIMIT;
    if (o->popularity)
        for (size_t i = 0; i < n_items; i++)
            if (!isfinite(o->popularity[i]))
                return BR_EINVAL;

    /* Validate everything first (decision 5); count the evaluated users on the way. */
    if (!(stamp = calloc(n_items, sizeof *stamp)))
        return BR_ENOMEM;
    size_t n_eval = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t *t = row_items(truth, i), *r = row_items(ranked, i);
        size_t nt = row_len(truth, i), nr = row_len(ranked, i);
        for (size_t j = 1; j < nt; j++)
            if (t[j] <= t[j - 1])
                goto fail;
        n_eval += nt > 0;
        /* Skipped users' lists too: a malformed list is an error wherever it is. */
        for (size_t j = 0; j < nr && j < k; j++) {
            if (r[j] < 0 || (size_t)r[j] >= n_items || stamp[r[j]] == (uint32_t)(i + 1))
                goto fail;
            stamp[r[j]] = (uint32_t)(i + 1);
        }
    }

    rc = BR_ENOMEM;
    if (!(e = calloc(1, sizeof *e)) ||
        !(e->per_user = malloc((n_eval ? n_eval : 1) * BR_METRIC_COUNT * sizeof *e->per_user)) ||
        !(e->user_ids = malloc((n_eval ? n_eval : 1) * sizeof *e->user_ids)) ||
        !(seen = calloc(n_items, 1)))
        goto fail;
    e->k = k;
    e->n_users = n_eval;
    e->n_skipped = n - n_eval;

    double pop_sum = 0;
    size_t pop_users = 0, distinct = 0, u = 0;
    uint64_t h = (uint64_t)k;
    for (size_t i = 0; i < n; i++) {
        const int32_t *t = row_items(truth, i), *r = row_items(ranked, i);
        size_t nt = row_len(truth, i), nr = row_len(ranked, i);
        if (nt == 0)
            continue;
        size_t len = nr < k ? nr : k;
        double m[BR_METRIC_COUNT];
        user_metrics(r, nr, t, nt, k, m);
        for (int j = 0; j < BR_METRIC_COUNT; j++)
            e->per_user[(size_t)j * n_eval + u] = m[j];
        e->user_ids[u] = o->user_ids ? o->user_ids[i] : (int64_t)i;
        h = hash_step(h, e->user_ids[u], t, nt);
        double ps = 0;
        for (size_t j = 0; j < len; j++) {
            distinct += !seen[r[j]];
            seen[r[j]] = 1;
            if (o->popularity)
                ps += o->popularity[r[j]];
        }
        if (o->popularity && len > 0) {
            pop_sum += ps / (double)len;
            pop_users++;
        }
        u++;
    }
    for (int j = 0; j < BR_METRIC_COUNT; j++) {
        double s = 0;
        for (size_t i = 0; i < n_eval; i++)
            s += e->per_user[(size_t)j * n_eval + i];
        e->mean[j] = n_eval ? s / (double)n_eval : NAN;
    }
    e->coverage = (double)distinct / (double)n_cand;
    e->mean_popularity = pop_users ? pop_sum / (double)pop_users : NAN;
    e->truth_hash = h;
    free(stamp);
    free(seen);
    *out = e;
    return 0;
fail:
    free(stamp);
    free(seen);
    br_eval_free(e);
    return rc;
}

void br_eval_free(br_eval *e)
{
    if (!e)
        return;
    free(e->per_user);
    free(e->user_ids);
    free(e);
}

size_t br_eval_k(const br_eval *e)
{
    return e->k;
}

size_t br_eval_users(const br_eval *e)
{
    return e->n_users;
}

size_t br_eval_skipped(const br_eval *e)
{
    return e->n_skipped;
}

const int64_t *br_eval_user_ids(const br_eval *e)
{
    return e->user_ids;
}

double br_eval_mean(const br_eval *e, enum br_metric m)
{
    return (unsigned)m < BR_METRIC_COUNT ? e->mean[m] : NAN;
}

const double *br_eval_per_user(const br_eval *e, enum br_metric m)
{
    return (unsigned)m < BR_METRIC_COUNT ? e->per_user + (size_t)m * e->n_users : NULL;
}

double br_eval_coverage(const br_eval *e)
{
    return e->coverage;
}

double br_eval_mean_popularity(const br_eval *e)
{
    return e->mean_popularity;
}

int br_eval_paired_ok(const br_eval *a, const br_eval *b)
{
    return a && b && a->k == b->k && a->n_users == b->n_users && a->truth_hash == b->truth_hash &&
           memcmp(a->user_ids, b->user_ids, a->n_users * sizeof *a->user_ids) == 0;
}

/* ---- Factor models ------------------------------------------------------------------- */

struct id_row {
    int32_t id, row;
};

static int id_row_cmp(const void *a, const void *b)
{
    const struct id_row *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* V row of item id, or -1. */
static int32_t v_row_of(int32_t id, const struct id_row *map, size_t n_v)
{
    if (!map)
        return id >= 0 && (size_t)id < n_v ? id : -1;
    size_t lo = 0, hi = n_v;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n_v && map[lo].id == id ? map[lo].row : -1;
}

int br_factor_topk(const float *U, size_t n_users, const float *V, size_t n_v, size_t dim,
                   const int64_t *rows, size_t n_queries, size_t k, const br_factor_opts *o,
                   br_lists *out)
{
    static const br_factor_opts no_opts;
    struct id_row *map = NULL;
    float *q = NULL;
    int32_t *ids = NULL, *ex_idx = NULL;
    int64_t *ex_ptr = NULL;
    size_t ex_cap = 0;
    int rc = BR_EINVAL;

    if (!o)
        o = &no_opts;
    if (!out)
        return BR_EINVAL;
    *out = (br_lists){0};
    if (!U || !V || dim == 0 || k == 0 || k > BR_EVAL_MAX_K || n_v > INT32_MAX ||
        (!rows && n_queries > n_users) || o->threads < 0)
        return BR_EINVAL;
    if (o->exclude && (lists_check(o->exclude) != 0 || o->exclude->n != n_queries))
        return BR_EINVAL;
    for (size_t i = 0; rows && i < n_queries; i++)
        if (rows[i] < 0 || (uint64_t)rows[i] >= n_users)
            return BR_EINVAL;
    if (n_queries > SIZE_MAX / k || dim > SIZE_MAX / sizeof(float) / (n_users ? n_users : 1))
        return BR_ENOMEM;
    size_t batch = o->batch ? o->batch : 2048;
    if (batch > n_queries)
        batch = n_queries ? n_queries : 1;
    if (batch > SIZE_MAX / sizeof(float) / dim || batch > SIZE_MAX / sizeof(int32_t) / k)
        return BR_ENOMEM;

    rc = BR_ENOMEM;
    if (o->item_ids) {
        if (!(map = malloc((n_v ? n_v : 1) * sizeof *map)))
            goto fail;
        for (size_t j = 0; j < n_v; j++)
            map[j] = (struct id_row){o->item_ids[j], (int32_t)j};
        qsort(map, n_v, sizeof *map, id_row_cmp);
        for (size_t j = 0; j < n_v; j++)
            if (map[j].id < 0 || (j > 0 && map[j].id == map[j - 1].id)) {
                rc = BR_EINVAL;
                goto fail;
            }
    }
    if (lists_alloc(out, n_queries, n_queries * k) != 0 || !(q = malloc(batch * dim * sizeof *q)) ||
        !(ids = malloc(batch * k * sizeof *ids)) ||
        !(ex_ptr = malloc((batch + 1) * sizeof *ex_ptr)))
        goto fail;

    size_t m = 0;
    for (size_t b0 = 0; b0 < n_queries; b0 += batch) {
        size_t nb = n_queries - b0 < batch ? n_queries - b0 : batch;
        for (size_t i = 0; i < nb; i++) {
            size_t row = rows ? (size_t)rows[b0 + i] : b0 + i;
            memcpy(q + i * dim, U + row * dim, dim * sizeof *q);
        }
        br_flat_exclude ex = {0};
        if (o->exclude) {
            size_t need = (size_t)(o->exclude->ptr[b0 + nb] - o->exclude->ptr[b0]);
            if (need > ex_cap) {
                int32_t *t = realloc(ex_idx, need * sizeof *ex_idx);
                if (!t)
                    goto fail;
                ex_idx = t;
                ex_cap = need;
            }
            size_t ne = 0;
            ex_ptr[0] = 0;
            for (size_t i = 0; i < nb; i++) {
                const int32_t *it = row_items(o->exclude, b0 + i);
                for (size_t j = 0, len = row_len(o->exclude, b0 + i); j < len; j++) {
                    int32_t r = v_row_of(it[j], map, n_v);
                    if (r >= 0)
                        ex_idx[ne++] = r;
                }
                ex_ptr[i + 1] = (int64_t)ne;
            }
            ex = (br_flat_exclude){ex_ptr, ex_idx};
        }
        br_flat_opts fo = {o->exclude ? &ex : NULL, o->allow, o->threads};
        if ((rc = br_flat_topk(V, n_v, dim, q, nb, k, &fo, ids, NULL)) != 0)
            goto fail;
        for (size_t i = 0; i < nb; i++) {
            for (size_t j = 0; j < k; j++) {
                int32_t r = ids[i * k + j];
                if (r >= 0)
                    out->items[m++] = map ? o->item_ids[r] : r;
            }
            out->ptr[b0 + i + 1] = (int64_t)m;
        }
    }
    rc = 0;
fail:
    free(map);
    free(q);
    free(ids);
    free(ex_ptr);
    free(ex_idx);
    if (rc != 0)
        br_lists_free(out);
    return rc;
}

/* ---- Report -------------------------------------------------------------------------- */

#define NAME_MAX_BYTES 128

/* Names become JSON strings, which must be UTF-8. */
static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= NAME_MAX_BYTES && br_utf8_valid(s, n);
}

/* A number, or null for NaN and infinities (JSON has no NaN). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jci(br_ci c)
{
    json_t *a = json_array();
    if (a && (json_array_append_new(a, jnum(c.lo)) || json_array_append_new(a, jnum(c.hi)))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* Sets key to v (stolen); a NULL v or a failure counts in *bad. */
static void put(json_t *obj, const char *key, json_t *v, int *bad)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *bad = 1;
}

int br_eval_entry_json(const br_eval *e, const char *model, const char *protocol,
                       const br_boot_opts *boot, json_t **out)
{
    br_ci ci[2] = {{NAN, NAN}, {NAN, NAN}};
    json_t *o = NULL;
    int rc, bad = 0;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (!e || !name_ok(model) || !name_ok(protocol) || (boot && br_boot_opts_check(boot)))
        return BR_EINVAL;
    if (e->n_users > 0) {
        const double *x[2] = {br_eval_per_user(e, BR_METRIC_RECALL),
                              br_eval_per_user(e, BR_METRIC_NDCG)};
        if ((rc = br_boot_mean_ci(x, 2, e->n_users, boot, ci)) != 0)
            return rc;
    }
    if (!(o = json_object()))
        return BR_ENOMEM;
    put(o, "model", json_string(model), &bad);
    put(o, "protocol", json_string(protocol), &bad);
    put(o, "k", json_integer((json_int_t)e->k), &bad);
    put(o, "users", json_integer((json_int_t)e->n_users), &bad);
    put(o, "recall", jnum(e->mean[BR_METRIC_RECALL]), &bad);
    put(o, "recall_ci", jci(ci[0]), &bad);
    put(o, "ndcg", jnum(e->mean[BR_METRIC_NDCG]), &bad);
    put(o, "ndcg_ci", jci(ci[1]), &bad);
    put(o, "precision", jnum(e->mean[BR_METRIC_PRECISION]), &bad);
    put(o, "map", jnum(e->mean[BR_METRIC_MAP]), &bad);
    put(o, "hit_rate", jnum(e->mean[BR_METRIC_HIT_RATE]), &bad);
    put(o, "coverage", jnum(e->coverage), &bad);
    put(o, "mean_popularity", jnum(e->mean_popularity), &bad);
    if (bad) {
        json_decref(o);
        return BR_ENOMEM;
    }
    *out = o;
    return 0;
}

int br_eval_paired_json(const br_eval *a, const br_eval *b, const char *model_a,
                        const char *model_b, const char *protocol, enum br_metric m,
                        const br_boot_opts *boot, json_t **out)
{
    br_ci ci;
    double diff;
    json_t *o = NULL;
    int rc, bad = 0;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (!br_eval_paired_ok(a, b) || a->n_users == 0 || (unsigned)m >= BR_METRIC_COUNT ||
        !name_ok(model_a) || !name_ok(model_b) || !name_ok(protocol))
        return BR_EINVAL;
    if ((rc = br_boot_diff_ci(br_eval_per_user(a, m), br_eval_per_user(b, m), a->n_users, boot,
                              &diff, &ci)) != 0)
        return rc;
    /* Exactly the difference of the two reported means. */
    diff = a->mean[m] - b->mean[m];
    if (!(o = json_object()))
        return BR_ENOMEM;
    put(o, "model_a", json_string(model_a), &bad);
    put(o, "model_b", json_string(model_b), &bad);
    put(o, "protocol", json_string(protocol), &bad);
    put(o, "k", json_integer((json_int_t)a->k), &bad);
    put(o, "metric", json_string(metric_names[m]), &bad);
    put(o, "diff", jnum(diff), &bad);
    put(o, "diff_ci", jci(ci), &bad);
    if (bad) {
        json_decref(o);
        return BR_ENOMEM;
    }
    *out = o;
    return 0;
}

struct br_report {
    br_boot_opts boot;
    json_t *root, *results, *comparisons;
};

int br_report_new(const char *split_id, const br_boot_opts *boot, br_report **out)
{
    br_report *r = NULL;
    json_t *b = NULL;
    int rc = BR_ENOMEM, bad = 0;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if ((boot && br_boot_opts_check(boot)) || (split_id && !name_ok(split_id)))
        return BR_EINVAL;
    if (!(r = calloc(1, sizeof *r)))
        return BR_ENOMEM;
    if (boot)
        r->boot = *boot;
    else
        br_boot_opts_default(&r->boot);
    if (!(r->root = json_object()) || !(r->results = json_array()) ||
        !(r->comparisons = json_array()) || !(b = json_object()))
        goto fail;
    put(b, "resamples", json_integer(r->boot.resamples), &bad);
    put(b, "level", json_real(r->boot.level), &bad);
    /* A string: JSON readers lose integers above 2^53, and seeds are 64-bit. */
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->boot.seed);
    put(b, "seed", json_string(seed), &bad);
    put(r->root, "split_id", split_id ? json_string(split_id) : json_null(), &bad);
    put(r->root, "bootstrap", b, &bad);
    b = NULL;
    put(r->root, "results", json_incref(r->results), &bad);
    put(r->root, "comparisons", json_incref(r->comparisons), &bad);
    if (bad)
        goto fail;
    *out = r;
    return 0;
fail:
    json_decref(b);
    br_report_free(r);
    return rc;
}

void br_report_free(br_report *r)
{
    if (!r)
        return;
    json_decref(r->results);
    json_decref(r->comparisons);
    json_decref(r->root);
    free(r);
}

static int str_eq(const json_t *o, const char *key, const char *s)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, s) == 0;
}

int br_report_add(br_report *r, const char *model, const char *protocol, const br_eval *e)
{
    json_t *entry, *x;
    size_t i;
    int rc;

    if (!r || !e || !name_ok(model) || !name_ok(protocol))
        return BR_EINVAL;
    json_array_foreach(r->results, i, x)
    {
        if (str_eq(x, "model", model) && str_eq(x, "protocol", protocol) &&
            json_integer_value(json_object_get(x, "k")) == (json_int_t)e->k)
            return BR_EEXIST;
    }
    if ((rc = br_eval_entry_json(e, model, protocol, &r->boot, &entry)) != 0)
        return rc;
    return json_array_append_new(r->results, entry) == 0 ? 0 : BR_ENOMEM;
}

int br_report_add_paired(br_report *r, const char *model_a, const char *model_b,
                         const char *protocol, enum br_metric m, const br_eval *a, const br_eval *b)
{
    json_t *entry, *x;
    size_t i;
    int rc;

    if (!r || !a || !name_ok(model_a) || !name_ok(model_b) || !name_ok(protocol) ||
        (unsigned)m >= BR_METRIC_COUNT)
        return BR_EINVAL;
    json_array_foreach(r->comparisons, i, x)
    {
        if (str_eq(x, "model_a", model_a) && str_eq(x, "model_b", model_b) &&
            str_eq(x, "protocol", protocol) && str_eq(x, "metric", metric_names[m]) &&
            json_integer_value(json_object_get(x, "k")) == (json_int_t)a->k)
            return BR_EEXIST;
    }
    if ((rc = br_eval_paired_json(a, b, model_a, model_b, protocol, m, &r->boot, &entry)) != 0)
        return rc;
    return json_array_append_new(r->comparisons, entry) == 0 ? 0 : BR_ENOMEM;
}

json_t *br_report_json(const br_report *r)
{
    return r ? json_incref(r->root) : NULL;
}

int br_report_write(const br_report *r, const char *path)
{
    char *text = NULL, *tmp = NULL, *dcopy = NULL;
    int fd = -1, rc = BR_EIO;

    if (!r || !path || !*path)
        return BR_EINVAL;
    size_t plen = strlen(path);
    if (!(text = json_dumps(r->root, JSON_INDENT(2) | JSON_REAL_PRECISION(10))) ||
        !(tmp = malloc(plen + 16)) || !(dcopy = strdup(path))) {
        rc = BR_ENOMEM;
        goto fail;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    int bad = br_write_all(fd, text, strlen(text)) || br_write_all(fd, "\n", 1) || fsync(fd) != 0;
    if (close(fd) != 0) /* closed either way: the fail path must not close it again */
        bad = 1;
    fd = -1;
    if (bad)
        goto fail;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    tmp = NULL;
    /* The rename is durable once the directory is on disk. */
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            close(dfd);
            goto fail;
        }
        close(dfd);
    }
    rc = 0;
fail:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(text);
    free(dcopy);
    return rc;
}
