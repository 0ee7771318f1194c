/* ALS half-steps: YtY, and one small linear system per row (see als.h, als_internal.h).
 *
 * For row u with interactions i (confidence c_i, preference 1) and fixed factors Y, the
 * normal equations of Hu, Koren & Volinsky (2008), eq. 4, are
 *     (YtY + reg I + sum_i (c_i - 1) y_i y_i^T) x_u = sum_i c_i y_i.
 *
 * Design decisions:
 * 1. CG as in `implicit` (Takacs, Pilaszy & Tikk 2011, "Applications of the conjugate
 *    gradient method for implicit feedback collaborative filtering", RecSys): a few steps
 *    warm-started from the previous x_u; the matrix is never formed, A p = YtY p +
 *    sum_i (c_i - 1)(y_i . p) y_i. CG stops early on a row when |r|^2 < 1e-20.
 * 2. Rows run in blocks of BR__ALS_BLOCK in lockstep, so the dense part of A p for the
 *    block, P * (YtY + reg I), is one sgemm at BLAS-3 speed instead of a matrix-vector
 *    product per row (most of the flops of a half-step are in that product: 4 * 2f^2 per
 *    row, against 4 * 4f per interaction, and most items have one or two). The sparse
 *    part, gathers of y_i, stays per row in plain C, with the rows of Y prefetched (they
 *    are scattered, and the loads missed the cache in profiles).
 * 3. Blocks are fixed runs of the non-empty rows, and each block is solved by one thread
 *    with single-threaded BLAS; YtY is summed over fixed row chunks in chunk order. So on
 *    a given machine and build the bits of every factor depend on the data and the seed
 *    only, not on the thread count or the schedule. OpenBLAS (OpenMP build) runs single-threaded inside our parallel regions;
 *    each region also sets its threads' BLAS thread count to 1, which covers the team of
 *    one (an inactive region, where OpenBLAS would otherwise start its own threads).
 * 4. Empty rows get x = 0, the exact solution of their system (b = 0), without any work.
 * 5. The exact solver forms A in double and factors it by Cholesky: it exists to check CG
 *    and for fold-in, where one system of f = 64 costs microseconds. */
#include "als_internal.h"

#include "bookrec/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* YtY: rows per chunk at least this, and at most this many chunks (f*f floats each). */
#define GRAM_MIN_ROWS 2048
#define GRAM_MAX_CHUNKS 16
/* Interactions ahead whose factor rows row_sparse prefetches. */
#define PREFETCH 6
/* Rows of Y a block prefetches before its first sgemm. */
#define PREFETCH_BLOCK 256

static inline int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Inside a parallel region: BLAS calls of this thread run single-threaded. */
static inline void blas_single(void)
{
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
}

int br__als_gram(const float *Y, size_t n, size_t f, float reg, int threads, float *G)
{
    size_t nch = n / GRAM_MIN_ROWS;
    if (nch < 1)
        nch = 1;
    if (nch > GRAM_MAX_CHUNKS)
        nch = GRAM_MAX_CHUNKS;
    size_t per = (n + nch - 1) / nch;
    float *part = nch > 1 ? calloc(nch * f * f, sizeof *part) : G;
    if (!part)
        return BR_ENOMEM;

#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
    for (size_t c = 0; c < nch; c++) {
        blas_single();
        size_t lo = c * per < n ? c * per : n;
        size_t cnt = n - lo < per ? n - lo : per;
        float *P = part + c * f * f;
        if (cnt == 0) {
            memset(P, 0, f * f * sizeof *P);
            continue;
        }
        /* P (lower) = Y[lo:lo+cnt]^T Y[lo:lo+cnt] */
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)f, (int)cnt, 1.0f, Y + lo * f,
                    (int)f, 0.0f, P, (int)f);
    }

    if (nch > 1) {
        memcpy(G, part, f * f * sizeof *G);
        for (size_t c = 1; c < nch; c++)
            for (size_t j = 0; j < f; j++)
                for (size_t m = 0; m <= j; m++)
                    G[j * f + m] += part[c * f * f + j * f + m];
        free(part);
    }
    for (size_t j = 0; j < f; j++) {
        G[j * f + j] += reg;
        for (size_t m = 0; m < j; m++)
            G[m * f + j] = G[j * f + m];
    }
    return 0;
}

/* out += sum over the row's interactions k of s_k y_k with c_k = c0 + c1 r_k and
 *     s_k = c_k - (c_k - 1)(y_k . v)   (residual: b - A v, sparse part)
 *     s_k = (c_k - 1)(y_k . v)         (product A v, sparse part). */
static inline void row_sparse(const float *Y, size_t f, const int32_t *idx, const float *r,
                              size_t n, br__als_conf cf, int residual, const float *restrict v,
                              float *restrict out)
{
    for (size_t k = 0; k < n; k++) {
        const float *y = Y + (size_t)idx[k] * f;
        float c = cf.c0 + cf.c1 * r[k];
        if (k + PREFETCH < n) { /* rows of Y are scattered: the loads miss the cache */
            const char *q = (const char *)(Y + (size_t)idx[k + PREFETCH] * f);
            for (size_t o = 0; o < f * sizeof *Y; o += 64)
                __builtin_prefetch(q + o);
        }
        float t = (c - 1.0f) * br__dot(y, v, f);
        br__axpy(residual ? c - t : t, y, out, f);
    }
}

struct cg_scratch {
    float *X, *R, *P, *AP; /* [BR__ALS_BLOCK][f] each */
};

/* CG on the rows list[0..nb) of X, in lockstep (design decisions 1 and 2). */
BR__CLONES
static void cg_block(const br_csr *rows, const int64_t *list, size_t nb, const float *G,
                     const float *Y, size_t f, int steps, br__als_conf cf, float *X,
                     const struct cg_scratch *s)
{
    float rs[BR__ALS_BLOCK];
    unsigned char active[BR__ALS_BLOCK];
    int n_active = 0;

    for (size_t b = 0; b < nb; b++)
        memcpy(s->X + b * f, X + (size_t)list[b] * f, f * sizeof *X);
    /* Start fetching the block's first rows of Y (the loads of the residual pass miss the
     * cache; most rows have one or two interactions, so row_sparse's own look-ahead is not
     * enough), to arrive during the sgemm. */
    for (size_t b = 0, budget = PREFETCH_BLOCK; b < nb && budget > 0; b++) {
        int64_t lo = rows->indptr[list[b]], hi = rows->indptr[list[b] + 1];
        for (int64_t k = lo; k < hi && budget > 0; k++, budget--) {
            const char *q = (const char *)(Y + (size_t)rows->indices[k] * f);
            for (size_t o = 0; o < f * sizeof *Y; o += 64)
                __builtin_prefetch(q + o);
        }
    }
    /* R = -X (YtY + reg I), then the sparse part: R = b - A X */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)f, (int)f, -1.0f, s->X,
                (int)f, G, (int)f, 0.0f, s->R, (int)f);
    for (size_t b = 0; b < nb; b++) {
        int64_t lo = rows->indptr[list[b]], n = rows->indptr[list[b] + 1] - lo;
        float *x = s->X + b * f, *r = s->R + b * f, *p = s->P + b * f;
        row_sparse(Y, f, rows->indices + lo, rows->values + lo, (size_t)n, cf, 1, x, r);
        rs[b] = br__dot(r, r, f);
        active[b] = rs[b] >= BR__ALS_CG_EPS;
        if (active[b]) {
            memcpy(p, r, f * sizeof *p);
            n_active++;
        } else {
            memset(p, 0, f * sizeof *p); /* contributes nothing to the block's sgemm */
        }
    }

    for (int it = 0; it < steps && n_active > 0; it++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)f, (int)f, 1.0f,
                    s->P, (int)f, G, (int)f, 0.0f, s->AP, (int)f);
        for (size_t b = 0; b < nb; b++) {
            if (!active[b])
                continue;
            int64_t lo = rows->indptr[list[b]], n = rows->indptr[list[b] + 1] - lo;
            float *x = s->X + b * f, *r = s->R + b * f, *p = s->P + b * f, *ap = s->AP + b * f;
            row_sparse(Y, f, rows->indices + lo, rows->values + lo, (size_t)n, cf, 0, p, ap);
            float pap = br__dot(p, ap, f);
            float rsnew = 0;
            if (pap > 0) {
                float a = rs[b] / pap;
                br__axpy(a, p, x, f);
                br__axpy(-a, ap, r, f);
                rsnew = br__dot(r, r, f);
            }
            if (!(rsnew >= BR__ALS_CG_EPS)) {
                active[b] = 0;
                n_active--;
                memset(p, 0, f * sizeof *p);
                continue;
            }
            br__xpby(r, rsnew / rs[b], p, f);
            rs[b] = rsnew;
        }
    }
    for (size_t b = 0; b < nb; b++)
        memcpy(X + (size_t)list[b] * f, s->X + b * f, f * sizeof *X);
}

/* Outer-product (right-looking) Cholesky, Golub & Van Loan, Matrix Computations (4th ed.),
 * Algorithm 4.2.2 restricted to the lower triangle, then the two triangular solves. */
BR__CLONES
int br__cholesky_solve(double *A, double *b, size_t f, double *l)
{
    for (size_t k = 0; k < f; k++) {
        double d = A[k * f + k];
        if (!(d > 0))
            return BR_ERANGE;
        d = sqrt(d);
        A[k * f + k] = d;
        for (size_t j = k + 1; j < f; j++)
            l[j] = A[j * f + k] /= d;
        /* trailing lower triangle: A[j][k+1..j] -= l_j l[k+1..j] */
        for (size_t j = k + 1; j < f; j++)
            br__axpy_d(-l[j], l + k + 1, A + j * f + k + 1, j - k);
    }
    for (size_t j = 0; j < f; j++) /* L z = b */
        b[j] = (b[j] - br__dot_d(A + j * f, b, j)) / A[j * f + j];
    for (size_t j = f; j-- > 0;) { /* L^T x = z, by columns of L^T (rows of L) */
        b[j] /= A[j * f + j];
        br__axpy_d(-b[j], A + j * f, b, j);
    }
    return 0;
}

BR__CLONES
int br__als_solve_exact(const float *G, const float *Y, size_t f, const int32_t *idx,
                        const float *ratings, size_t n, br__als_conf cf, double *A, double *work,
                        float *x)
{
    double *b = work, *yd = work + f;

    for (size_t j = 0; j < f; j++) {
        for (size_t m = 0; m <= j; m++)
            A[j * f + m] = G[j * f + m];
        b[j] = 0;
    }
    for (size_t k = 0; k < n; k++) {
        const float *y = Y + (size_t)idx[k] * f;
        double c = cf.c0 + cf.c1 * (ratings ? ratings[k] : 0.0f);
        for (size_t j = 0; j < f; j++)
            yd[j] = y[j];
        br__axpy_d(c, yd, b, f);
        /* lower triangle += (c - 1) y y^T */
        for (size_t j = 0; j < f; j++)
            br__axpy_d((c - 1) * yd[j], yd, A + j * f, j + 1);
    }
    int rc = br__cholesky_solve(A, b, f, yd);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < f; j++)
        x[j] = (float)b[j];
    return 0;
}

int br__als_half_step(const br_csr *rows, const float *Y, size_t n_y, const br_als_params *p,
                      int threads, float *X)
{
    size_t f = p->factors, n_ne = 0;
    br__als_conf cf = br__als_conf_of(p);
    float *G = malloc(f * f * sizeof *G);
    int64_t *list = malloc((rows->n_rows ? rows->n_rows : 1) * sizeof *list);
    void *scratch = NULL;
    int rc = BR_ENOMEM;

    if (!G || !list)
        goto fail;
    if ((rc = br__als_gram(Y, n_y, f, p->regularization, threads, G)) < 0)
        goto fail;
    for (size_t u = 0; u < rows->n_rows; u++) {
        if (rows->indptr[u + 1] > rows->indptr[u])
            list[n_ne++] = (int64_t)u;
        else
            memset(X + u * f, 0, f * sizeof *X);
    }

    rc = BR_ENOMEM;
    if (p->solver == BR_ALS_CG) {
        size_t per = 4 * BR__ALS_BLOCK * f, nblocks = (n_ne + BR__ALS_BLOCK - 1) / BR__ALS_BLOCK;
        float *s = malloc((size_t)threads * per * sizeof *s);
        if (!(scratch = s))
            goto fail;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        {
            blas_single();
            float *mine = s + (size_t)thread_num() * per;
            struct cg_scratch cs = {mine, mine + BR__ALS_BLOCK * f, mine + 2 * BR__ALS_BLOCK * f,
                                    mine + 3 * BR__ALS_BLOCK * f};
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (size_t blk = 0; blk < nblocks; blk++) {
                size_t lo = blk * BR__ALS_BLOCK;
                size_t nb = n_ne - lo < BR__ALS_BLOCK ? n_ne - lo : BR__ALS_BLOCK;
                cg_block(rows, list + lo, nb, G, Y, f, p->cg_steps, cf, X, &cs);
            }
        }
        rc = 0;
    } else {
        size_t per = f * f + 2 * f;
        double *s = malloc((size_t)threads * per * sizeof *s);
        int err = 0;
        if (!(scratch = s))
            goto fail;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
#endif
        for (size_t k = 0; k < n_ne; k++) {
            double *A = s + (size_t)thread_num() * per;
            int64_t lo = rows->indptr[list[k]], n = rows->indptr[list[k] + 1] - lo;
            int e = br__als_solve_exact(G, Y, f, rows->indices + lo, rows->values + lo, (size_t)n,
                                        cf, A, A + f * f, X + (size_t)list[k] * f);
            if (e < 0) {
#ifdef _OPENMP
#pragma omp critical(br__als_err)
#endif
                err = e;
            }
        }
        rc = err;
    }
fail:
    free(scratch);
    free(list);
    free(G);
    return rc;
}
