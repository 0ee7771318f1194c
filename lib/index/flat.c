/* Exact (flat) top-k search with BLAS (see flat.h): the ground truth of every approximate
 * index and the scorer of evaluations.
 *
 * Design decisions:
 * 1. Scores come from sgemm over blocks of queries x chunks of base rows, so each chunk of
 *    the base is read from memory once per query block and stays in cache (L2) while its
 *    scores are selected.
 * 2. Selection keeps a bounded heap of k per query; a score enters only when it beats the
 *    heap's worst, which after the first chunk is rare, so the scan is a compare per score.
 *    Rows are visited in id order, so "beats" is a strict ">" and ties keep the smaller id.
 * 3. Exclusions and the allow filter are checked only for scores that would enter the heap:
 *    each query's exclusions are sorted once and probed by binary search.
 * 4. Results do not depend on the thread count. OpenBLAS rounds differently with the shape
 *    of a call and with its own threading, so blocks and chunks have fixed shapes and every
 *    sgemm runs on one thread: inside our parallel regions the OpenMP build of OpenBLAS does
 *    that by itself (which also keeps the two from oversubscribing the cores, DESIGN.md §9),
 *    and the single-threaded path sets the OpenMP thread count to 1 around its calls.
 *    Parallelism is over query blocks when there are enough of them, otherwise over chunks
 *    with per-thread heaps merged by the total order (score, then id).
 * 5. NaN and -inf scores never enter a result: the padding convention (-1, -inf) keeps
 *    "no candidate" unambiguous. */
#include "bookrec/error.h"
#include "bookrec/flat.h"
#include "hnsw_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define FLAT_QB 256                    /* queries per sgemm block */
#define FLAT_CHUNK_BYTES (256u << 10) /* base rows per chunk: this many bytes of vectors */
#define FLAT_HEAP_BYTES (8u << 20)    /* heaps of one block: fewer queries when k is large */
#define BR__FLAT_MAX_THREADS 256

void br_normalize_rows(float *x, size_t n, size_t dim)
{
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * dim;
        double ss = 0;
        for (size_t j = 0; j < dim; j++)
            ss += (double)r[j] * r[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < dim; j++)
                r[j] *= inv;
        }
    }
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int in_sorted(const int32_t *a, size_t n, int32_t v)
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

/* What one thread owns. */
struct flat_work {
    float *S;        /* qb x chunk scores */
    br__cand *heaps; /* qb x cap */
    size_t *hn;      /* qb */
    int32_t *ex;     /* sorted exclusions of the block, concatenated */
    size_t ex_cap;
    size_t ex_off[FLAT_QB + 1];
};

/* Offers row scores s[0..nb) (rows r0..) to the heap of one query. */
static void select_row(const br__flat_req *r, const float *s, size_t nb, size_t r0, br__cand *heap,
                       size_t *hn, size_t cap, const int32_t *ex, size_t n_ex)
{
    size_t n = *hn;
    float thr = n == cap ? heap[0].s : -INFINITY;
    for (size_t j = 0; j < nb; j++) {
        if ((j & 15) == 0 && j + 16 <= nb) {
            /* Most groups of 16 hold no score above the threshold: one vector compare. */
            int any = 0;
            for (int t = 0; t < 16; t++)
                any |= s[j + t] > thr;
            if (!any) {
                j += 15;
                continue;
            }
        }
        float v = s[j];
        if (!(v > thr))
            continue;
        size_t row = r0 + j;
        int32_t id = r->labels ? r->labels[row] : (int32_t)row;
        if ((r->allow && !r->allow[id]) || (r->allow2 && !r->allow2[row]) ||
            (n_ex && in_sorted(ex, n_ex, id)))
            continue;
        br__cand c = {v, (uint32_t)row};
        if (n < cap) {
            br__heap_push_min(heap, &n, c);
            if (n == cap)
                thr = heap[0].s;
        } else {
            br__heap_sift(heap, n, c, 0);
            thr = heap[0].s;
        }
    }
    *hn = n;
}

/* Sorts each query's exclusions of the block [q0, q0 + qb) into w->ex. */
static int prepare_exclusions(const br__flat_req *r, size_t q0, size_t qb, struct flat_work *w)
{
    size_t total = 0;
    for (size_t i = 0; i < qb; i++) {
        w->ex_off[i] = total;
        if (r->excl_ptr)
            total += (size_t)(r->excl_ptr[q0 + i + 1] - r->excl_ptr[q0 + i]);
    }
    w->ex_off[qb] = total;
    if (total > w->ex_cap) {
        int32_t *ex = realloc(w->ex, total * sizeof *ex);
        if (!ex)
            return BR_ENOMEM;
        w->ex = ex;
        w->ex_cap = total;
    }
    for (size_t i = 0; i < qb && r->excl_ptr; i++) {
        size_t m = w->ex_off[i + 1] - w->ex_off[i];
        memcpy(w->ex + w->ex_off[i], r->excl_idx + r->excl_ptr[q0 + i], m * sizeof *w->ex);
        qsort(w->ex + w->ex_off[i], m, sizeof *w->ex, cmp_i32);
    }
    return 0;
}

/* Scores the block of queries [q0, q0 + qb) against chunks first, first + step, ... of the
 * base into the heaps of w (which start empty). Chunk boundaries never depend on the
 * thread count, so neither do the sgemm calls nor the scores. */
static void scan_chunks(const br__flat_req *r, size_t q0, size_t qb, size_t cap, size_t chunk,
                        size_t first, size_t step, struct flat_work *w)
{
    for (size_t i = 0; i < qb; i++)
        w->hn[i] = 0;
    for (size_t c0 = first * chunk; c0 < r->n; c0 += step * chunk) {
        size_t nb = r->n - c0 < chunk ? r->n - c0 : chunk;
        /* S[qb][nb] = Q[qb][dim] * B[nb][dim]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)nb, (int)r->dim, 1.0f,
                    r->queries + q0 * r->ldq, (int)r->ldq, r->base + c0 * r->ld, (int)r->ld,
                    0.0f, w->S, (int)nb);
        for (size_t i = 0; i < qb; i++)
            select_row(r, w->S + i * nb, nb, c0, w->heaps + i * cap, &w->hn[i], cap,
                       w->ex + w->ex_off[i], w->ex_off[i + 1] - w->ex_off[i]);
    }
}

/* Writes query i's best-first results from its heap (n entries) to the outputs. */
static void emit(const br__flat_req *r, size_t q, br__cand *h, size_t n, int32_t *out_ids,
                 float *out_scores)
{
    br__cand_sort(h, n);
    int32_t *ids = out_ids + q * r->k;
    float *sc = out_scores ? out_scores + q * r->k : NULL;
    for (size_t j = 0; j < r->k; j++) {
        ids[j] = j < n ? (r->labels ? r->labels[h[j].id] : (int32_t)h[j].id) : -1;
        if (sc)
            sc[j] = j < n ? h[j].s : -INFINITY;
    }
}

static int run_block(const br__flat_req *r, size_t q0, size_t qb, size_t cap, size_t chunk,
                     struct flat_work *w, int32_t *out_ids, float *out_scores)
{
    int rc = prepare_exclusions(r, q0, qb, w);
    if (rc)
        return rc;
    scan_chunks(r, q0, qb, cap, chunk, 0, 1, w);
    for (size_t i = 0; i < qb; i++)
        emit(r, q0 + i, w->heaps + i * cap, w->hn[i], out_ids, out_scores);
    return 0;
}

static void work_free(struct flat_work *w)
{
    free(w->S);
    free(w->heaps);
    free(w->hn);
    free(w->ex);
    memset(w, 0, sizeof *w);
}

static int work_init(struct flat_work *w, size_t qb, size_t chunk, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->S = malloc(qb * chunk * sizeof *w->S);
    w->heaps = malloc(qb * cap * sizeof *w->heaps);
    w->hn = malloc(qb * sizeof *w->hn);
    if (!w->S || !w->heaps || !w->hn) {
        work_free(w);
        return BR_ENOMEM;
    }
    return 0;
}

#ifdef _OPENMP
/* Few queries, several threads: each block's chunks are dealt round-robin to the threads,
 * each keeps its own heaps, and the heaps are merged. The merge sorts by the total order
 * (score, then id), so the result is the same whichever thread saw which chunk. */
static int run_split(const br__flat_req *r, size_t qb, size_t cap, size_t chunk, size_t n_blocks,
                     size_t n_chunks, int nt, int32_t *out_ids, float *out_scores)
{
    if ((size_t)nt > n_chunks)
        nt = (int)n_chunks;
    if (nt > BR__FLAT_MAX_THREADS)
        nt = BR__FLAT_MAX_THREADS;
    struct flat_work *w = calloc((size_t)nt, sizeof *w);
    br__cand *merged = malloc((size_t)nt * cap * sizeof *merged);
    int rc = w && merged ? 0 : BR_ENOMEM;
    for (int t = 0; t < nt && !rc; t++)
        rc = work_init(&w[t], qb, chunk, cap);
    for (size_t b = 0; b < n_blocks && !rc; b++) {
        size_t q0 = b * qb;
        size_t m = r->n_queries - q0 < qb ? r->n_queries - q0 : qb;
        int lrc[BR__FLAT_MAX_THREADS] = {0};
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num();
            lrc[t] = prepare_exclusions(r, q0, m, &w[t]);
            if (!lrc[t])
                scan_chunks(r, q0, m, cap, chunk, (size_t)t, (size_t)nt, &w[t]);
        }
        for (int t = 0; t < nt; t++)
            rc = rc ? rc : lrc[t];
        for (size_t i = 0; i < m && !rc; i++) {
            size_t n = 0;
            for (int t = 0; t < nt; t++) {
                memcpy(merged + n, w[t].heaps + i * cap, w[t].hn[i] * sizeof *merged);
                n += w[t].hn[i];
            }
            br__cand_sort(merged, n);
            emit(r, q0 + i, merged, n < cap ? n : cap, out_ids, out_scores);
        }
    }
    for (int t = 0; w && t < nt; t++)
        work_free(&w[t]);
    free(w);
    free(merged);
    return rc;
}
#endif

int br__flat_run(const br__flat_req *r, int32_t *out_ids, float *out_scores)
{
    if ((!r->base && r->n) || (!r->queries && r->n_queries) || !out_ids || r->dim == 0 ||
        r->k == 0 || r->ld < r->dim || r->ldq < r->dim)
        return BR_EINVAL;
    if (r->n > INT32_MAX || r->dim > INT32_MAX || r->ld > INT32_MAX || r->ldq > INT32_MAX ||
        r->k > SIZE_MAX / 2 / sizeof(br__cand) || r->n_queries > SIZE_MAX / r->k ||
        r->n > SIZE_MAX / r->ld || r->n_queries > SIZE_MAX / r->ldq)
        return BR_ELIMIT;
    if (r->n_queries == 0)
        return 0;
    if (r->n == 0) { /* nothing to find: every row is padding */
        for (size_t i = 0; i < r->n_queries * r->k; i++) {
            out_ids[i] = -1;
            if (out_scores)
                out_scores[i] = -INFINITY;
        }
        return 0;
    }
    if (r->excl_ptr)
        for (size_t i = 0; i < r->n_queries; i++)
            if (r->excl_ptr[i] < 0 || r->excl_ptr[i + 1] < r->excl_ptr[i])
                return BR_EINVAL;

    size_t cap = r->k < r->n ? r->k : r->n;
    size_t chunk = FLAT_CHUNK_BYTES / (r->dim * sizeof(float));
    chunk = chunk < 256 ? 256 : chunk > 8192 ? 8192 : chunk;
    size_t qb = FLAT_HEAP_BYTES / (cap * sizeof(br__cand));
    qb = qb < 1 ? 1 : qb > FLAT_QB ? FLAT_QB : qb;
    size_t n_blocks = (r->n_queries + qb - 1) / qb;
    int rc = 0;

#ifdef _OPENMP
    size_t n_chunks = (r->n + chunk - 1) / chunk;
    int nt = r->threads > 0 ? r->threads : omp_get_max_threads();
    if (nt > 1 && n_blocks >= (size_t)nt) {
        /* Many queries: threads take whole blocks. */
#pragma omp parallel num_threads(nt)
        {
            struct flat_work w;
            int lrc = work_init(&w, qb, chunk, cap);
#pragma omp for schedule(dynamic, 1)
            for (size_t b = 0; b < n_blocks; b++) {
                if (lrc)
                    continue;
                size_t q0 = b * qb;
                size_t m = r->n_queries - q0 < qb ? r->n_queries - q0 : qb;
                lrc = run_block(r, q0, m, cap, chunk, &w, out_ids, out_scores);
            }
            work_free(&w);
            if (lrc) {
#pragma omp critical(br_flat_rc)
                rc = lrc;
            }
        }
        return rc;
    }
    if (nt > 1 && n_chunks > 1)
        return run_split(r, qb, cap, chunk, n_blocks, n_chunks, nt, out_ids, out_scores);
    /* One thread: keep BLAS to one thread too, so that scores match the parallel paths. */
    int saved = omp_get_max_threads();
    if (!omp_in_parallel())
        omp_set_num_threads(1);
#endif
    struct flat_work w;
    rc = work_init(&w, qb, chunk, cap);
    for (size_t b = 0; b < n_blocks && !rc; b++) {
        size_t q0 = b * qb;
        size_t m = r->n_queries - q0 < qb ? r->n_queries - q0 : qb;
        rc = run_block(r, q0, m, cap, chunk, &w, out_ids, out_scores);
    }
    work_free(&w);
#ifdef _OPENMP
    if (!omp_in_parallel())
        omp_set_num_threads(saved);
#endif
    return rc;
}

int br_flat_topk(const float *base, size_t n, size_t dim, const float *queries, size_t n_queries,
                 size_t k, const br_flat_opts *opts, int32_t *out_ids, float *out_scores)
{
    br__flat_req r = {
        .base = base,
        .n = n,
        .dim = dim,
        .ld = dim,
        .label_bound = n,
        .queries = queries,
        .n_queries = n_queries,
        .ldq = dim,
        .k = k,
    };
    if (opts) {
        if (opts->exclude) {
            if (!opts->exclude->ptr || !opts->exclude->idx)
                return BR_EINVAL;
            r.excl_ptr = opts->exclude->ptr;
            r.excl_idx = opts->exclude->idx;
        }
        r.allow = opts->allow;
        r.threads = opts->threads;
    }
    return br__flat_run(&r, out_ids, out_scores);
}
