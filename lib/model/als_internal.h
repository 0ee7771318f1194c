/* Internal pieces of ALS, shared by its phases:
 *   als_solve.c   YtY (gram), the per-row solvers (block CG, exact Cholesky), one half-step
 *   als_train.c   params, input checks, the random init, the training loop, the loss
 *   als_foldin.c  fold-in against fixed item factors
 *
 * The vector kernels below work on 16-wide blocks with a scalar tail: with a constant inner
 * trip count GCC vectorizes them at -O2, and the dot product keeps 16 partial sums reduced
 * in a fixed tree, so its result does not depend on the vector width the compiler picked
 * (no -ffast-math needed). C11 (not gnu11) keeps floating-point contraction off, so the
 * AVX-512, AVX2 and SSE2 builds of them compute the same bits (checked: a 5-iteration run
 * at f = 40, tail included, gives identical factors from all three). */
#ifndef BOOKREC_ALS_INTERNAL_H
#define BOOKREC_ALS_INTERNAL_H

#include "bookrec/als.h"

#include <stddef.h>
#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Rows solved together by block CG: P * YtY for the block is one sgemm. */
#define BR__ALS_BLOCK 32
/* CG stops on a row once |r|^2 falls below this (as `implicit` does). */
#define BR__ALS_CG_EPS 1e-20f

/* Hot functions are compiled for AVX-512 and AVX2 as well as the baseline, chosen at load
 * time (GCC function multi-versioning); elsewhere they are plain functions. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(BR_NO_CLONES)
#define BR__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BR__CLONES
#endif

/* c = c0 + c1 * r: both weightings are linear in the rating r (CONSTANT is base = 1). */
typedef struct br__als_conf {
    float c0, c1;
} br__als_conf;

br__als_conf br__als_conf_of(const br_als_params *p);
/* Effective thread count: p->threads, or the OpenMP default. */
int br__als_threads(const br_als_params *p);

/* G[f][f] = Y^T Y + reg I for Y[n][f] (full symmetric). Fixed row chunks, each one
 * single-threaded ssyrk, summed in chunk order: the same bits for any thread count.
 * Returns 0 or BR_ENOMEM. */
int br__als_gram(const float *Y, size_t n, size_t f, float reg, int threads, float *G);

/* One half-step: every row of X[rows->n_rows][f] solved against the fixed Y[n_y][f] with
 * the solver of p (CG warm-starts from X). Empty rows become zero. 0 or BR_ENOMEM. */
int br__als_half_step(const br_csr *rows, const float *Y, size_t n_y, const br_als_params *p,
                      int threads, float *X);

/* Exact solve of one row: x = (G + sum (c_k - 1) y_k y_k^T)^-1 sum c_k y_k, with G = YtY +
 * reg I. Scratch: A[f*f], work[2*f] doubles. Returns 0, or BR_ERANGE when the system is not
 * positive definite (cannot happen with reg > 0, short of NaNs in the input). */
int br__als_solve_exact(const float *G, const float *Y, size_t f, const int32_t *idx,
                        const float *ratings, size_t n, br__als_conf cf, double *A, double *work,
                        float *x);

/* Solves A x = b for symmetric positive definite A[f][f] (lower triangle read and
 * overwritten with L); b is replaced by x. tmp[f]. 0 or BR_ERANGE. */
int br__cholesky_solve(double *A, double *b, size_t f, double *tmp);

/* Kernels. */

static inline float br__dot(const float *restrict a, const float *restrict b, size_t n)
{
    float acc[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[k + j] * b[k + j];
    for (size_t j = 0; k + j < n; j++)
        acc[j] += a[k + j] * b[k + j];
    /* the tree spelled out: constant trip counts, so no scalar loop */
    for (int j = 0; j < 8; j++)
        acc[j] += acc[j + 8];
    for (int j = 0; j < 4; j++)
        acc[j] += acc[j + 4];
    for (int j = 0; j < 2; j++)
        acc[j] += acc[j + 2];
    return acc[0] + acc[1];
}

/* y += a x */
static inline void br__axpy(float a, const float *restrict x, float *restrict y, size_t n)
{
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++)
            y[k + j] += a * x[k + j];
    for (; k < n; k++)
        y[k] += a * x[k];
}

/* p = r + b p */
static inline void br__xpby(const float *restrict r, float b, float *restrict p, size_t n)
{
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++)
            p[k + j] = r[k + j] + b * p[k + j];
    for (; k < n; k++)
        p[k] = r[k] + b * p[k];
}

static inline double br__dot_d(const double *restrict a, const double *restrict b, size_t n)
{
    double acc[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[k + j] * b[k + j];
    for (size_t j = 0; k + j < n; j++)
        acc[j] += a[k + j] * b[k + j];
    /* the tree spelled out: constant trip counts, so no scalar loop */
    for (int j = 0; j < 8; j++)
        acc[j] += acc[j + 8];
    for (int j = 0; j < 4; j++)
        acc[j] += acc[j + 4];
    for (int j = 0; j < 2; j++)
        acc[j] += acc[j + 2];
    return acc[0] + acc[1];
}

static inline void br__axpy_d(double a, const double *restrict x, double *restrict y, size_t n)
{
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++)
            y[k + j] += a * x[k + j];
    for (; k < n; k++)
        y[k] += a * x[k];
}

#endif
