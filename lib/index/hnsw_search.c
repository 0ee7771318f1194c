/* HNSW search (see hnsw.h): Algorithms 2 and 5 of Malkov & Yashunin 2018, with filters.
 *
 * Design decisions:
 * 1. The walk at level 0 expands one candidate at a time in three passes over its links:
 *    prefetch the visited tags, collect the unvisited neighbours while prefetching their
 *    vectors (every cache line of each), then score them. The memory loads of a whole
 *    neighbourhood are in flight at once instead of one after another.
 * 2. Filters (exclusions, allow masks) decide only what enters the result list; filtered
 *    nodes are still expanded as candidates, so a filter never disconnects the graph (as
 *    hnswlib's filter does). The walk stops when the best open candidate is worse than the
 *    worst of ef admissible results; with a very selective filter it degrades toward a
 *    scan of the graph, never toward a wrong answer.
 * 3. Exclusions arrive as labels; each search maps them to nodes (binary search over the
 *    increasing labels), sorts them, and probes that array only for a node that would enter
 *    the result list.
 * 4. Batches run one OpenMP thread per share of the queries, each holding one scratch for
 *    all its queries. */
#include "bookrec/error.h"
#include "hnsw_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int in_sorted_u32(const uint32_t *a, size_t n, uint32_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else if (a[mid] > v)
            hi = mid;
        else
            return 1;
    }
    return 0;
}

static inline int admissible(const br_hnsw *h, uint32_t node, const uint32_t *excl, size_t n_excl,
                             const uint8_t *allow, const uint8_t *allow2)
{
    if (allow && !allow[h->labels[node]])
        return 0;
    if (allow2 && !allow2[node])
        return 0;
    return !n_excl || !in_sorted_u32(excl, n_excl, node);
}

/* Algorithm 5 (K-NN-SEARCH): greedy descent with ef = 1 through the upper levels, then
 * Algorithm 2 (SEARCH-LAYER) at level 0 with ef and the filters. */
int br__hnsw_knn(const br_hnsw *h, br__scratch *s, size_t k, size_t ef, const uint32_t *excl,
                 size_t n_excl, const uint8_t *allow, const uint8_t *allow2)
{
    return br__hnsw_knn_from(h, s, -1, k, ef, excl, n_excl, allow, allow2);
}

int br__hnsw_knn_from(const br_hnsw *h, br__scratch *s, int64_t start, size_t k, size_t ef,
                      const uint32_t *excl, size_t n_excl, const uint8_t *allow,
                      const uint8_t *allow2)
{
    const float *q = s->q;
    const size_t dp = h->dim_pad;
    uint32_t cur = start >= 0 ? (uint32_t)start : h->entry;
    float cur_s = h->dot(q, br__vec(h, cur), dp);
    for (uint32_t lc = start >= 0 ? 0 : h->max_level; lc > 0; lc--) {
        for (int changed = 1; changed;) {
            changed = 0;
            const uint32_t *l = br__links(h, cur, lc);
            for (uint32_t j = 0; j < l[0]; j++) {
                uint32_t e = l[1 + j];
                float v = h->dot(q, br__vec(h, e), dp);
                if (v > cur_s) {
                    cur_s = v;
                    cur = e;
                    changed = 1;
                }
            }
        }
    }

    if (ef < k)
        ef = k;
    if (br__scratch_reserve(s, 2 * ef + h->M0 + 1, ef + 1, 0))
        return BR_ENOMEM;
    size_t nc = 0, nr = 0;
    br__scratch_new_epoch(s);
    uint16_t *tags = s->tags;
    const uint16_t epoch = s->epoch;
    tags[cur] = epoch;
    br__heap_push_max(s->cand, &nc, (br__cand){cur_s, cur});
    if (admissible(h, cur, excl, n_excl, allow, allow2))
        br__heap_push_min(s->res, &nr, (br__cand){cur_s, cur});

    uint32_t *u = s->nbr;
    const size_t stride = 1 + h->M0;
    while (nc > 0) {
        br__cand c = br__heap_pop_max(s->cand, &nc);
        if (nr == ef && c.s < s->res[0].s)
            break;
        /* The next candidate is likely the current runner-up: fetch its links meanwhile. */
        if (nc > 0) {
            const char *nl = (const char *)(h->links0 + (size_t)s->cand[0].id * stride);
            for (size_t b = 0; b < stride * sizeof(uint32_t); b += 64)
                __builtin_prefetch(nl + b, 0, 3);
        }
        const uint32_t *l = h->links0 + (size_t)c.id * stride;
        uint32_t cnt = l[0];
        for (uint32_t j = 0; j < cnt; j++)
            __builtin_prefetch(&tags[l[1 + j]], 1, 3);
        uint32_t m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t e = l[1 + j];
            if (tags[e] != epoch) {
                tags[e] = epoch;
                u[m++] = e;
                br__prefetch_vec(h, e);
            }
        }
        if (nc + m > s->cand_cap && br__scratch_reserve(s, nc + m, 0, 0))
            return BR_ENOMEM;
        h->dot_many(q, h->vec, dp, u, m, dp, s->nbr_s);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t e = u[j];
            float v = s->nbr_s[j];
            if (nr < ef || v > s->res[0].s) {
                br__heap_push_max(s->cand, &nc, (br__cand){v, e});
                if (!admissible(h, e, excl, n_excl, allow, allow2))
                    continue;
                if (nr < ef)
                    br__heap_push_min(s->res, &nr, (br__cand){v, e});
                else
                    br__heap_sift(s->res, nr, (br__cand){v, e}, 0);
            }
        }
    }
    /* Best first without qsort: pop the worst ef - k, then the k best into place. */
    while (nr > k)
        br__heap_pop_min(s->res, &nr);
    br__heap_min_sort(s->res, nr);
    return (int)nr;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One search on a held scratch: maps exclusions, runs the walk, writes labels. */
static int search_one(const br_hnsw *h, br__scratch *s, const float *query, size_t k, size_t ef,
                      const int32_t *exclude, size_t n_exclude, const uint8_t *allow,
                      int32_t *ids, float *scores)
{
    size_t n_excl = 0;
    if (n_exclude) {
        if (br__scratch_reserve(s, 0, 0, n_exclude))
            return BR_ENOMEM;
        for (size_t i = 0; i < n_exclude; i++) {
            int64_t node = br__hnsw_node_of(h, exclude[i]);
            if (node >= 0)
                s->excl[n_excl++] = (uint32_t)node;
        }
        qsort(s->excl, n_excl, sizeof *s->excl, cmp_u32);
    }
    br__hnsw_prepare_query(h, query, s);
    int got = br__hnsw_knn(h, s, k, ef, s->excl, n_excl, allow, NULL);
    if (got < 0)
        return got;
    for (size_t j = 0; j < k; j++) {
        ids[j] = j < (size_t)got ? h->labels[s->res[j].id] : -1;
        if (scores)
            scores[j] = j < (size_t)got ? s->res[j].s : -INFINITY;
    }
    return 0;
}

static int check_args(const br_hnsw *h, const void *q, size_t k, size_t ef, const int32_t *ids)
{
    if (!h || !q || !ids || k == 0)
        return BR_EINVAL;
    if (k > BR__HNSW_MAX_K || ef > BR__HNSW_MAX_EF)
        return BR_ELIMIT;
    return 0;
}

static size_t effective_ef(size_t ef, size_t k)
{
    if (ef == 0)
        ef = 64;
    return ef < k ? k : ef;
}

int br_hnsw_search(const br_hnsw *h, const float *query, size_t k,
                   const br_hnsw_search_opts *opts, int32_t *ids, float *scores)
{
    br_hnsw_search_opts none = {0};
    if (!opts)
        opts = &none;
    int rc = check_args(h, query, k, opts->ef, ids);
    if (rc)
        return rc;
    if (opts->n_exclude && !opts->exclude)
        return BR_EINVAL;
    br__scratch *s = br__pool_get(h->pool);
    if (!s)
        return BR_ENOMEM;
    rc = search_one(h, s, query, k, effective_ef(opts->ef, k), opts->exclude, opts->n_exclude,
                    opts->allow, ids, scores);
    br__pool_put(h->pool, s);
    return rc;
}

int br_hnsw_search_batch(const br_hnsw *h, const float *queries, size_t n_queries, size_t k,
                         const br_hnsw_batch_opts *opts, int32_t *ids, float *scores)
{
    br_hnsw_batch_opts none = {0};
    if (!opts)
        opts = &none;
    if (n_queries == 0)
        return h && k ? 0 : BR_EINVAL;
    int rc = check_args(h, queries, k, opts->ef, ids);
    if (rc)
        return rc;
    if (n_queries > SIZE_MAX / k / sizeof(float) || n_queries > SIZE_MAX / h->dim)
        return BR_ELIMIT;
    const br_flat_exclude *ex = opts->exclude;
    if (ex) {
        if (!ex->ptr || !ex->idx)
            return BR_EINVAL;
        for (size_t i = 0; i < n_queries; i++)
            if (ex->ptr[i] < 0 || ex->ptr[i + 1] < ex->ptr[i])
                return BR_EINVAL;
    }
    size_t ef = effective_ef(opts->ef, k);
    int err = 0;
#ifdef _OPENMP
    int nt = opts->threads > 0 ? opts->threads : omp_get_max_threads();
    if ((size_t)nt > n_queries)
        nt = (int)n_queries;
#pragma omp parallel num_threads(nt)
#endif
    {
        br__scratch *s = br__pool_get(h->pool);
        int lrc = s ? 0 : BR_ENOMEM;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
        for (size_t i = 0; i < n_queries; i++) {
            if (lrc)
                continue;
            const int32_t *e = ex ? ex->idx + ex->ptr[i] : NULL;
            size_t ne = ex ? (size_t)(ex->ptr[i + 1] - ex->ptr[i]) : 0;
            lrc = search_one(h, s, queries + i * h->dim, k, ef, e, ne, opts->allow, ids + i * k,
                             scores ? scores + i * k : NULL);
        }
        br__pool_put(h->pool, s);
        if (lrc) {
#ifdef _OPENMP
#pragma omp critical(br_hnsw_batch_rc)
#endif
            err = lrc;
        }
    }
    return err;
}
