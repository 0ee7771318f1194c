/* Hybrid subject + ALS similarity (see hybrid.h; the proof is in docs/indexes.md).
 *
 * Design decisions:
 * 1. One HNSW (inner product) over [s/|s| ; a/|a|] serves every w: the weights go on the
 *    query's halves, never into the index, so w can change per request without a rebuild.
 *    The graph is built on the w = 1/2 geometry (the plain concatenation); queries at the
 *    extremes (w = 0 or 1) walk it with a larger ef, which the benchmark sizes
 *    (br_hybrid_default_ef).
 * 2. The exact path scans the very rows the index stores (stride dim_pad) with the shared
 *    flat core, so the ground truth and the approximation cannot disagree on the data.
 * 3. Missing vectors are zero halves (cosine 0 by definition). Which books may be returned
 *    depends on which halves of the query carry weight (hybrid.h); that is one of three
 *    masks by node (has subject, has ALS, has either: n bytes each, whatever the labels),
 *    passed to the searches as a second allow filter so the caller's own stays untouched.
 * 4. Exact batches group the queries by mask, so each group is one batched BLAS scan. */
#include "bookrec/error.h"
#include "bookrec/hybrid.h"
#include "hnsw_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { HAS_S = 1, HAS_A = 2 };
enum { MASK_ANY, MASK_S, MASK_A, MASK_NONE };

struct br_hybrid {
    br_hnsw *h;
    size_t ds, da;
    uint8_t *mask[3]; /* by node: MASK_ANY, MASK_S, MASK_A */
};

size_t br_hybrid_default_ef(double w)
{
    double d = fabs(2 * w - 1); /* 0 at w = 1/2, 1 at either end */
    return (size_t)(128 * (1 + (d <= 1 ? d : 1)));
}

void br_hybrid_params_default(br_hybrid_params *p)
{
    br_hnsw_params_default(&p->hnsw);
}

void br_hybrid_free(br_hybrid *hy)
{
    if (!hy)
        return;
    br_hnsw_free(hy->h);
    for (int i = 0; i < 3; i++)
        free(hy->mask[i]);
    free(hy);
}

/* Copies v (dim) unit-normalized into out; returns 1 if it is a vector (finite, non-zero). */
static int unit_half(const float *v, size_t dim, float *out)
{
    double ss = 0;
    for (size_t j = 0; v && j < dim; j++)
        ss += (double)v[j] * v[j];
    if (!v || !(ss > 0) || !isfinite(ss)) {
        memset(out, 0, dim * sizeof *out);
        return 0;
    }
    float inv = (float)(1.0 / sqrt(ss));
    for (size_t j = 0; j < dim; j++)
        out[j] = v[j] * inv;
    return 1;
}

static int half_nonzero(const float *v, size_t dim)
{
    for (size_t j = 0; j < dim; j++)
        if (v[j] != 0)
            return 1;
    return 0;
}

/* The masks from the stored rows (decision 3). */
static int make_masks(br_hybrid *hy)
{
    const br_hnsw *h = hy->h;
    for (int i = 0; i < 3; i++)
        if (!(hy->mask[i] = malloc(h->n)))
            return BR_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        const float *v = br__vec(h, (uint32_t)i);
        int s = half_nonzero(v, hy->ds), a = half_nonzero(v + hy->ds, hy->da);
        hy->mask[MASK_ANY][i] = (uint8_t)(s || a);
        hy->mask[MASK_S][i] = (uint8_t)s;
        hy->mask[MASK_A][i] = (uint8_t)a;
    }
    return 0;
}

int br_hybrid_build(const float *subj, size_t subj_dim, const float *als, size_t als_dim,
                    size_t n, const int32_t *labels, const br_hybrid_params *p, br_hybrid **out)
{
    if (!out || n == 0 || subj_dim == 0 || als_dim == 0 || (!subj && !als))
        return BR_EINVAL;
    *out = NULL;
    if (subj_dim + als_dim > BR__HNSW_MAX_DIM || n > BR__HNSW_MAX_N)
        return BR_ELIMIT;
    br_hybrid_params def;
    if (!p) {
        br_hybrid_params_default(&def);
        p = &def;
    }
    size_t dim = subj_dim + als_dim;
    int rc = BR_ENOMEM;
    br_hybrid *hy = calloc(1, sizeof *hy);
    float *cat = malloc(n * dim * sizeof *cat);
    if (!hy || !cat)
        goto fail;
    hy->ds = subj_dim;
    hy->da = als_dim;
    for (size_t i = 0; i < n; i++) {
        unit_half(subj ? subj + i * subj_dim : NULL, subj_dim, cat + i * dim);
        unit_half(als ? als + i * als_dim : NULL, als_dim, cat + i * dim + subj_dim);
    }
    br_hnsw_params hp = p->hnsw;
    hp.metric = BR_HNSW_IP;
    hp.split_dim = (uint32_t)subj_dim;
    /* Rows have norm 1 or sqrt 2 (one half missing or not): close to the cosine case, and
     * books stranded by pruning must still be found (hybrid.h tests it). */
    hp.reach = BR_HNSW_REACH_ON;
    if ((rc = br_hnsw_build(cat, n, dim, labels, &hp, &hy->h)) || (rc = make_masks(hy)))
        goto fail;
    free(cat);
    *out = hy;
    return 0;
fail:
    free(cat);
    br_hybrid_free(hy);
    return rc;
}

int br_hybrid_save(const br_hybrid *hy, const char *path)
{
    return hy ? br_hnsw_save(hy->h, path) : BR_EINVAL;
}

int br_hybrid_open(const char *path, char *err, size_t errcap, br_hybrid **out)
{
    if (!out)
        return BR_EINVAL;
    *out = NULL;
    br_hybrid *hy = calloc(1, sizeof *hy);
    if (!hy)
        return BR_ENOMEM;
    int rc = br_hnsw_open(path, err, errcap, &hy->h);
    if (!rc && (hy->h->split_dim == 0 || hy->h->metric != BR_HNSW_IP)) {
        rc = BR_EFORMAT;
        if (err && errcap)
            snprintf(err, errcap, "%s: an HNSW index, but not a hybrid one", path);
    }
    if (!rc) {
        hy->ds = hy->h->split_dim;
        hy->da = hy->h->dim - hy->ds;
        rc = make_masks(hy);
    }
    if (rc) {
        br_hybrid_free(hy);
        return rc;
    }
    *out = hy;
    return 0;
}

/* Writes the weighted query into q (dim_pad floats) from unit halves us/ua and their
 * presence; returns the mask kind of the books it may return (MASK_NONE: no results). */
static int weigh(const br_hybrid *hy, const float *us, int has_s, const float *ua, int has_a,
                 double w, float *q)
{
    float ws = has_s ? (float)w : 0.0f, wa = has_a ? (float)(1.0 - w) : 0.0f;
    memset(q, 0, hy->h->dim_pad * sizeof *q);
    for (size_t j = 0; j < hy->ds && ws > 0; j++)
        q[j] = ws * us[j];
    for (size_t j = 0; j < hy->da && wa > 0; j++)
        q[hy->ds + j] = wa * ua[j];
    if (ws > 0 && wa > 0)
        return MASK_ANY;
    return ws > 0 ? MASK_S : wa > 0 ? MASK_A : MASK_NONE;
}

/* Weighted query of an indexed node; returns its mask kind. */
static int weigh_node(const br_hybrid *hy, uint32_t node, double w, float *q)
{
    const float *v = br__vec(hy->h, node);
    return weigh(hy, v, hy->mask[MASK_S][node], v + hy->ds, hy->mask[MASK_A][node], w, q);
}

static int check_opts(const br_hybrid *hy, size_t k, const br_hybrid_query_opts *o,
                      const int32_t *ids)
{
    if (!hy || !o || !ids || k == 0 || !(o->w >= 0 && o->w <= 1) ||
        (o->n_exclude && !o->exclude))
        return BR_EINVAL;
    if (k > BR__HNSW_MAX_K || o->ef > BR__HNSW_MAX_EF)
        return BR_ELIMIT;
    return 0;
}

static void pad(size_t k, int32_t *ids, float *scores)
{
    for (size_t j = 0; j < k; j++) {
        ids[j] = -1;
        if (scores)
            scores[j] = -INFINITY;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Approximate search for the query already in s->q: excluded labels plus self (a node, or
 * -1), mask kind m. */
static int approx(const br_hybrid *hy, br__scratch *s, int m, int64_t self, const int32_t *excl,
                  size_t n_excl, const uint8_t *allow, size_t k, size_t ef, double w,
                  int32_t *ids, float *scores)
{
    const br_hnsw *h = hy->h;
    if (m == MASK_NONE) {
        pad(k, ids, scores);
        return 0;
    }
    if (br__scratch_reserve(s, 0, 0, n_excl + 1))
        return BR_ENOMEM;
    size_t ne = 0;
    if (self >= 0)
        s->excl[ne++] = (uint32_t)self;
    for (size_t i = 0; i < n_excl; i++) {
        int64_t node = br__hnsw_node_of(h, excl[i]);
        if (node >= 0)
            s->excl[ne++] = (uint32_t)node;
    }
    qsort(s->excl, ne, sizeof *s->excl, cmp_u32);
    size_t e = ef ? ef : br_hybrid_default_ef(w);
    int got = br__hnsw_knn(h, s, k, e < k ? k : e, s->excl, ne, allow, hy->mask[m]);
    if (got < 0)
        return got;
    for (size_t j = 0; j < k; j++) {
        ids[j] = j < (size_t)got ? h->labels[s->res[j].id] : -1;
        if (scores)
            scores[j] = j < (size_t)got ? s->res[j].s : -INFINITY;
    }
    return 0;
}

/* Exact search for n queries sharing mask kind m, stacked in qs (stride dim). */
static int exact(const br_hybrid *hy, const float *qs, size_t nq, int m, const int64_t *ex_ptr,
                 const int32_t *ex_idx, const uint8_t *allow, size_t k, int threads, int32_t *ids,
                 float *scores)
{
    const br_hnsw *h = hy->h;
    if (m == MASK_NONE) {
        for (size_t q = 0; q < nq; q++)
            pad(k, ids + q * k, scores ? scores + q * k : NULL);
        return 0;
    }
    br__flat_req r = {
        .base = h->vec,
        .n = h->n,
        .dim = h->dim,
        .ld = h->dim_pad,
        .labels = h->labels,
        .label_bound = (size_t)h->label_bound,
        .queries = qs,
        .n_queries = nq,
        .ldq = h->dim,
        .k = k,
        .excl_ptr = ex_ptr,
        .excl_idx = ex_idx,
        .allow = allow,
        .allow2 = hy->mask[m],
        .threads = threads,
    };
    return br__flat_run(&r, ids, scores);
}

int br_hybrid_search(const br_hybrid *hy, const float *subj_q, const float *als_q, size_t k,
                     const br_hybrid_query_opts *o, int32_t *ids, float *scores)
{
    int rc = check_opts(hy, k, o, ids);
    if (rc)
        return rc;
    const br_hnsw *h = hy->h;
    br__scratch *s = br__pool_get(h->pool);
    float *halves = malloc(h->dim * sizeof *halves);
    if (!s || !halves) {
        rc = BR_ENOMEM;
        goto fail;
    }
    int has_s = unit_half(subj_q, hy->ds, halves);
    int has_a = unit_half(als_q, hy->da, halves + hy->ds);
    int m = weigh(hy, halves, has_s, halves + hy->ds, has_a, o->w, s->q);
    if (o->exact) {
        int64_t ptr[2] = {0, (int64_t)o->n_exclude};
        rc = exact(hy, s->q, 1, m, o->n_exclude ? ptr : NULL, o->exclude, o->allow, k, 1, ids,
                   scores);
    } else {
        rc = approx(hy, s, m, -1, o->exclude, o->n_exclude, o->allow, k, o->ef, o->w, ids,
                    scores);
    }
fail:
    free(halves);
    if (s)
        br__pool_put(h->pool, s);
    return rc;
}

int br_hybrid_similar(const br_hybrid *hy, int32_t label, size_t k,
                      const br_hybrid_query_opts *o, int32_t *ids, float *scores)
{
    int rc = check_opts(hy, k, o, ids);
    if (rc)
        return rc;
    int64_t node = br__hnsw_node_of(hy->h, label);
    if (node < 0)
        return BR_ENOENT;
    br_flat_exclude ex = {(int64_t[]){0, (int64_t)o->n_exclude}, o->exclude};
    br_hybrid_query_opts b = *o;
    b.exclude_batch = o->n_exclude ? &ex : NULL;
    b.threads = 1;
    return br_hybrid_similar_batch(hy, &label, 1, k, &b, ids, scores);
}

static int kind_of(const br_hybrid *hy, int64_t node, double w)
{
    if (node < 0)
        return MASK_NONE;
    int s = hy->mask[MASK_S][node] && w > 0, a = hy->mask[MASK_A][node] && w < 1;
    return s && a ? MASK_ANY : s ? MASK_S : a ? MASK_A : MASK_NONE;
}

/* Exact batch: queries grouped by mask kind (decision 4), each excluding itself. */
static int exact_batch(const br_hybrid *hy, const int32_t *labels, size_t nq, size_t k,
                       const br_hybrid_query_opts *o, int32_t *ids, float *scores)
{
    const br_hnsw *h = hy->h;
    const br_flat_exclude *ex = o->exclude_batch;
    size_t total_ex = nq;
    for (size_t q = 0; ex && q < nq; q++)
        total_ex += (size_t)(ex->ptr[q + 1] - ex->ptr[q]);
    int rc = BR_ENOMEM;
    int64_t *node = malloc(nq * sizeof *node);
    size_t *order = malloc(nq * sizeof *order);
    int64_t *ptr = malloc((nq + 1) * sizeof *ptr);
    int32_t *idx = malloc(total_ex * sizeof *idx);
    float *gq = malloc(nq * h->dim * sizeof *gq), *tmp = malloc(h->dim_pad * sizeof *tmp);
    int32_t *gids = malloc(nq * k * sizeof *gids);
    float *gsc = malloc(nq * k * sizeof *gsc);
    if (!node || !order || !ptr || !idx || !gq || !tmp || !gids || !gsc)
        goto fail;
    for (size_t q = 0; q < nq; q++)
        node[q] = br__hnsw_node_of(h, labels[q]);
    rc = 0;
    for (int m = MASK_ANY; m <= MASK_NONE && !rc; m++) {
        size_t g = 0, at = 0;
        ptr[0] = 0;
        for (size_t q = 0; q < nq; q++) {
            if (kind_of(hy, node[q], o->w) != m)
                continue;
            if (node[q] >= 0)
                weigh_node(hy, (uint32_t)node[q], o->w, tmp);
            memcpy(gq + g * h->dim, tmp, h->dim * sizeof *gq);
            order[g] = q;
            idx[at++] = labels[q];
            for (int64_t e = ex ? ex->ptr[q] : 0; ex && e < ex->ptr[q + 1]; e++)
                idx[at++] = ex->idx[e];
            ptr[++g] = (int64_t)at;
        }
        if (g == 0)
            continue;
        rc = exact(hy, gq, g, m, ptr, idx, o->allow, k, o->threads, gids, gsc);
        for (size_t i = 0; i < g && !rc; i++) {
            memcpy(ids + order[i] * k, gids + i * k, k * sizeof *ids);
            if (scores)
                memcpy(scores + order[i] * k, gsc + i * k, k * sizeof *scores);
        }
    }
fail:
    free(node), free(order), free(ptr), free(idx), free(gq), free(tmp), free(gids), free(gsc);
    return rc;
}

int br_hybrid_similar_batch(const br_hybrid *hy, const int32_t *labels, size_t n_queries,
                            size_t k, const br_hybrid_query_opts *o, int32_t *ids,
                            float *scores)
{
    int rc = check_opts(hy, k, o, ids);
    if (rc)
        return rc;
    if (n_queries == 0)
        return 0;
    if (!labels)
        return BR_EINVAL;
    if (n_queries > SIZE_MAX / k / sizeof(float) || n_queries > SIZE_MAX / hy->h->dim_pad / 4)
        return BR_ELIMIT;
    const br_flat_exclude *ex = o->exclude_batch;
    if (ex) {
        if (!ex->ptr || !ex->idx)
            return BR_EINVAL;
        for (size_t q = 0; q < n_queries; q++)
            if (ex->ptr[q] < 0 || ex->ptr[q + 1] < ex->ptr[q])
                return BR_EINVAL;
    }
    if (o->exact)
        return exact_batch(hy, labels, n_queries, k, o, ids, scores);

    const br_hnsw *h = hy->h;
    int err = 0;
#ifdef _OPENMP
    int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
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
        for (size_t q = 0; q < n_queries; q++) {
            if (lrc)
                continue;
            int32_t *qi = ids + q * k;
            float *qsc = scores ? scores + q * k : NULL;
            int64_t node = br__hnsw_node_of(h, labels[q]);
            if (node < 0) {
                pad(k, qi, qsc);
                continue;
            }
            int m = weigh_node(hy, (uint32_t)node, o->w, s->q);
            const int32_t *e = ex ? ex->idx + ex->ptr[q] : NULL;
            size_t ne = ex ? (size_t)(ex->ptr[q + 1] - ex->ptr[q]) : 0;
            lrc = approx(hy, s, m, node, e, ne, o->allow, k, o->ef, o->w, qi, qsc);
        }
        br__pool_put(h->pool, s);
        if (lrc) {
#ifdef _OPENMP
#pragma omp critical(br_hybrid_rc)
#endif
            err = lrc;
        }
    }
    return err;
}

int br_hybrid_score(const br_hybrid *hy, int32_t a, int32_t b, double w, float *out)
{
    if (!hy || !out || !(w >= 0 && w <= 1))
        return BR_EINVAL;
    int64_t na = br__hnsw_node_of(hy->h, a), nb = br__hnsw_node_of(hy->h, b);
    if (na < 0 || nb < 0)
        return BR_ENOENT;
    float *q = malloc(hy->h->dim_pad * sizeof *q);
    if (!q)
        return BR_ENOMEM;
    weigh_node(hy, (uint32_t)na, w, q);
    *out = br__dot_portable(q, br__vec(hy->h, (uint32_t)nb), hy->h->dim_pad);
    free(q);
    return 0;
}

size_t br_hybrid_size(const br_hybrid *hy)
{
    return hy->h->n;
}

int32_t br_hybrid_label_bound(const br_hybrid *hy)
{
    return hy->h->label_bound;
}

static int has(const br_hybrid *hy, int32_t label, int m)
{
    int64_t node = br__hnsw_node_of(hy->h, label);
    return node >= 0 && hy->mask[m][node];
}

int br_hybrid_has_subject(const br_hybrid *hy, int32_t label)
{
    return has(hy, label, MASK_S);
}

int br_hybrid_has_als(const br_hybrid *hy, int32_t label)
{
    return has(hy, label, MASK_A);
}

const br_hnsw *br_hybrid_index(const br_hybrid *hy)
{
    return hy->h;
}
