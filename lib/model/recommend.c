/* Recommendation logic (see recommend.h).
 *
 * Design decisions:
 * 1. Exact scoring over every book: one pass computing a score per item, then
 *    a bounded selection of the top k. At ~10^5 books x 64 dims this is a few
 *    milliseconds; the approximate indexes replace the pass, not the logic.
 * 2. Filters are applied before selection, so k results come back whenever k
 *    books qualify (the seed over-fetched by a margin and filtered after).
 * 3. Min-max scaling in the cold blend is over the candidate set actually
 *    ranked (books with a subject vector that pass the filter), so a = 1 is
 *    pure subject similarity and a = 0 pure prior, whatever the ranges.
 */
#include "bookrec/recommend.h"
#include "bookrec/error.h"
#include "bookrec/topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Selection state shared by the modes: a mask of blocked items and a heap. */
struct sel {
    uint8_t *blocked;
    br_topk_item *heap;
    size_t n, k;
};

static int sel_init(struct sel *s, size_t n_items, const br_rec_filter *flt, size_t k)
{
    memset(s, 0, sizeof *s);
    s->k = k;
    s->blocked = calloc(n_items ? n_items : 1, 1);
    s->heap = malloc((k ? k : 1) * sizeof *s->heap);
    if (!s->blocked || !s->heap) {
        free(s->blocked);
        free(s->heap);
        return BR_ENOMEM;
    }
    if (flt) {
        for (size_t i = 0; flt->allow && i < n_items; i++)
            s->blocked[i] = !flt->allow[i];
        for (size_t j = 0; flt->exclude && j < flt->n_exclude; j++)
            if (flt->exclude[j] >= 0 && (size_t)flt->exclude[j] < n_items)
                s->blocked[flt->exclude[j]] = 1;
    }
    return 0;
}

static void sel_done(struct sel *s, int32_t *ids, float *scores, size_t *n_out)
{
    br_topk_sort(s->heap, s->n);
    for (size_t i = 0; i < s->n; i++) {
        ids[i] = s->heap[i].id;
        if (scores)
            scores[i] = s->heap[i].score;
    }
    *n_out = s->n;
    free(s->blocked);
    free(s->heap);
}

static float dot(const float *a, const float *b, size_t n)
{
    float s = 0;
    /* Vectorized (the reduction may be reordered): the cold blend scores every book with
     * subjects per request, and the scalar loop was most of that request's time. */
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int br_rec_warm(const float *item_factors, size_t n_items, size_t f, const float *user_vec,
                const br_rec_filter *flt, size_t k, int32_t *ids, float *scores, size_t *n_out)
{
    struct sel s;
    if (!item_factors || !user_vec || !ids || !n_out || f == 0 || k == 0 || n_items > INT32_MAX)
        return BR_EINVAL;
    int rc = sel_init(&s, n_items, flt, k);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_items; i++)
        if (!s.blocked[i])
            br_topk_push(s.heap, &s.n, k,
                         (br_topk_item){dot(item_factors + i * f, user_vec, f), (int32_t)i});
    sel_done(&s, ids, scores, n_out);
    return 0;
}

int br_rec_cold(const float *book_vecs, const uint8_t *has_vec, size_t n_items, size_t d,
                const float *user_vec, const double *prior, double a, const br_rec_filter *flt,
                size_t k, int32_t *ids, float *scores, size_t *n_out)
{
    struct sel s;
    if (!book_vecs || !has_vec || !user_vec || !prior || !ids || !n_out || d == 0 || k == 0 ||
        !(a >= 0 && a <= 1) || n_items > INT32_MAX)
        return BR_EINVAL;
    float unorm = sqrtf(dot(user_vec, user_vec, d));
    if (!(unorm > 0))
        return BR_EINVAL; /* no subjects: the caller falls back to br_rec_popular */
    int rc = sel_init(&s, n_items, flt, k);
    if (rc)
        return rc;
    float *cosv = malloc((n_items ? n_items : 1) * sizeof *cosv);
    if (!cosv) {
        sel_done(&s, ids, scores, n_out);
        return BR_ENOMEM;
    }
    double cmin = INFINITY, cmax = -INFINITY, pmin = INFINITY, pmax = -INFINITY;
    for (size_t i = 0; i < n_items; i++) {
        if (s.blocked[i] || !has_vec[i])
            continue;
        cosv[i] = dot(book_vecs + i * d, user_vec, d) / unorm;
        cmin = fmin(cmin, cosv[i]), cmax = fmax(cmax, cosv[i]);
        pmin = fmin(pmin, prior[i]), pmax = fmax(pmax, prior[i]);
    }
    double cs = cmax > cmin ? 1.0 / (cmax - cmin) : 0, ps = pmax > pmin ? 1.0 / (pmax - pmin) : 0;
    for (size_t i = 0; i < n_items; i++) {
        if (s.blocked[i] || !has_vec[i])
            continue;
        double v = a * (cosv[i] - cmin) * cs + (1 - a) * (prior[i] - pmin) * ps;
        br_topk_push(s.heap, &s.n, k, (br_topk_item){(float)v, (int32_t)i});
    }
    free(cosv);
    sel_done(&s, ids, scores, n_out);
    return 0;
}

int br_rec_popular(const double *prior, size_t n_items, const br_rec_filter *flt, size_t k,
                   int32_t *ids, float *scores, size_t *n_out)
{
    struct sel s;
    if (!prior || !ids || !n_out || k == 0 || n_items > INT32_MAX)
        return BR_EINVAL;
    int rc = sel_init(&s, n_items, flt, k);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_items; i++)
        if (!s.blocked[i])
            br_topk_push(s.heap, &s.n, k, (br_topk_item){(float)prior[i], (int32_t)i});
    sel_done(&s, ids, scores, n_out);
    return 0;
}

static int has_row(const float *m, size_t dim, size_t i)
{
    for (size_t j = 0; j < dim; j++)
        if (m[i * dim + j] != 0)
            return 1;
    return 0;
}

int br_rec_similar(enum br_sim_mode mode, const float *als_unit, size_t fa,
                   const float *subj_unit, size_t fs, size_t n_items, int32_t q, double w,
                   const br_rec_filter *flt, size_t k, int32_t *ids, float *scores,
                   size_t *n_out)
{
    struct sel s;
    if (!ids || !n_out || k == 0 || q < 0 || (size_t)q >= n_items || n_items > INT32_MAX)
        return BR_EINVAL;
    if (mode == BR_SIM_ALS)
        w = 0;
    else if (mode == BR_SIM_SUBJECT)
        w = 1;
    else if (mode != BR_SIM_HYBRID || !(w >= 0 && w <= 1))
        return BR_EINVAL;
    if ((w < 1 && (!als_unit || !fa)) || (w > 0 && (!subj_unit || !fs)))
        return BR_EINVAL;
    int qa = w < 1 && has_row(als_unit, fa, (size_t)q);
    int qs = w > 0 && has_row(subj_unit, fs, (size_t)q);
    if (!qa && !qs)
        return BR_ENOENT;
    int rc = sel_init(&s, n_items, flt, k);
    if (rc)
        return rc;
    s.blocked[q] = 1;
    const float *va = qa ? als_unit + (size_t)q * fa : NULL;
    const float *vs = qs ? subj_unit + (size_t)q * fs : NULL;
    for (size_t i = 0; i < n_items; i++) {
        if (s.blocked[i])
            continue;
        double v = 0;
        if (va)
            v += (1 - w) * dot(als_unit + i * fa, va, fa);
        if (vs)
            v += w * dot(subj_unit + i * fs, vs, fs);
        br_topk_push(s.heap, &s.n, k, (br_topk_item){(float)v, (int32_t)i});
    }
    sel_done(&s, ids, scores, n_out);
    return 0;
}
