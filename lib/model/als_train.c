/* ALS training and its objective (see als.h; the half-steps are in als_solve.c).
 *
 * Design decisions:
 * 1. The defaults are the seed's (64 factors, reg 0.1, 15 iterations, alpha 40, 3 CG
 *    steps); as in `implicit`, both factor matrices start uniform in [0, 0.01) and each
 *    iteration solves users, then items.
 * 2. The init draws each row from its own splitmix64 stream seeded by (seed, side, row), and
 *    nothing after it reduces across rows in a schedule-dependent order (als_solve.c,
 *    decision 3): a run's factors are the same bits for 1 thread or 64 (on one machine and
 *    OpenBLAS; our own kernels give the same bits in every ISA clone, als_internal.h). The
 *    loss too sums fixed chunks in order.
 * 3. Both weightings are linear in the rating, c = c0 + c1 r (CONSTANT is base = 1), so the
 *    kernels need no branch and fold-in cannot disagree with training about a confidence.
 * 4. The input is checked whole before any work: a CSR that breaks its own contract, or a
 *    rating outside 0..10, is BR_EINVAL rather than a silently wrong model.
 * 5. The loss is the full objective, O((n_users + n_items) f^2 + nnz f) through
 *    sum_{u,i} (x_u . y_i)^2 = sum_u x_u^T (YtY) x_u, in double. */
#include "als_internal.h"

#include "bookrec/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INIT_SCALE 0.01f
#define LOSS_CHUNK 256

void br_als_params_default(br_als_params *p)
{
    memset(p, 0, sizeof *p);
    p->factors = 64;
    p->regularization = 0.1f;
    p->iterations = 15;
    p->alpha = 40.0f;
    p->cg_steps = 3;
    p->solver = BR_ALS_CG;
    p->weighting = BR_ALS_W_CONSTANT;
    p->weight_base = 0.5f;
    p->seed = 42;
}

int br_als_params_check(const br_als_params *p, const char **field)
{
    const char *bad = NULL;
    if (!p)
        bad = "params";
    else if (p->factors < 1 || p->factors > BR_ALS_MAX_FACTORS)
        bad = "factors";
    else if (!(p->regularization > 0 && p->regularization <= 1e6f))
        bad = "regularization";
    else if (p->iterations < 0 || p->iterations > BR_ALS_MAX_ITERATIONS)
        bad = "iterations";
    else if (!(p->alpha >= 0 && p->alpha <= 1e6f))
        bad = "alpha";
    else if (p->cg_steps < 1 || p->cg_steps > BR_ALS_MAX_CG_STEPS)
        bad = "cg_steps";
    else if (p->solver != BR_ALS_CG && p->solver != BR_ALS_CHOLESKY)
        bad = "solver";
    else if (p->weighting != BR_ALS_W_CONSTANT && p->weighting != BR_ALS_W_RATING)
        bad = "weighting";
    else if (!(p->weight_base > 0 && p->weight_base <= 1))
        bad = "weight_base";
    else if (p->threads < 0 || p->threads > BR_ALS_MAX_THREADS)
        bad = "threads";
    if (field)
        *field = bad;
    return bad ? BR_EINVAL : 0;
}

br__als_conf br__als_conf_of(const br_als_params *p)
{
    float base = p->weighting == BR_ALS_W_RATING ? p->weight_base : 1.0f;
    /* w(r) = base + (1 - base) r / 10, so c = 1 + alpha base + alpha (1 - base) / 10 * r */
    return (br__als_conf){1.0f + p->alpha * base, p->alpha * (1.0f - base) / BR_ALS_MAX_RATING};
}

float br_als_confidence(const br_als_params *p, float rating)
{
    br__als_conf cf = br__als_conf_of(p);
    if (!(rating > 0))
        rating = 0;
    if (rating > BR_ALS_MAX_RATING)
        rating = BR_ALS_MAX_RATING;
    return cf.c0 + cf.c1 * rating;
}

int br__als_threads(const br_als_params *p)
{
    if (p->threads > 0)
        return p->threads;
#ifdef _OPENMP
    int t = omp_get_max_threads();
    return t < 1 ? 1 : t > BR_ALS_MAX_THREADS ? BR_ALS_MAX_THREADS : t;
#else
    return 1;
#endif
}

/* The CSR contract of csr.h, plus ratings within 0..10. */
static int check_csr(const br_csr *a)
{
    if (!a || !a->indptr || (a->nnz && (!a->indices || !a->values)) || a->n_rows == 0 ||
        a->n_cols == 0)
        return BR_EINVAL;
    if (a->n_rows > BR_ALS_MAX_ROWS || a->n_cols > BR_ALS_MAX_ROWS)
        return BR_ELIMIT;
    if (a->indptr[0] != 0 || a->indptr[a->n_rows] != (int64_t)a->nnz)
        return BR_EINVAL;
    for (size_t u = 0; u < a->n_rows; u++) {
        int64_t lo = a->indptr[u], hi = a->indptr[u + 1];
        if (hi < lo || hi > (int64_t)a->nnz)
            return BR_EINVAL;
        for (int64_t k = lo; k < hi; k++) {
            int32_t i = a->indices[k];
            float r = a->values[k];
            if (i < 0 || (size_t)i >= a->n_cols || (k > lo && a->indices[k - 1] >= i) ||
                !(r >= 0 && r <= BR_ALS_MAX_RATING))
                return BR_EINVAL;
        }
    }
    return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* X[n][f] uniform in [0, INIT_SCALE), row by row from its own stream (decision 2). */
static void init_rows(float *X, size_t n, size_t f, uint64_t seed, uint64_t side, int threads)
{
    uint64_t s0 = seed ^ (side * 0xD1B54A32D192ED03ull);
    uint64_t base = splitmix64(&s0);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (size_t u = 0; u < n; u++) {
        uint64_t s = base ^ ((uint64_t)u * 0xA24BAED4963EE407ull);
        for (size_t k = 0; k < f; k++)
            X[u * f + k] = (float)(splitmix64(&s) >> 40) * (INIT_SCALE / 16777216.0f);
    }
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void br_als_model_free(br_als_model *m)
{
    if (!m)
        return;
    free(m->user_factors);
    free(m->item_factors);
    memset(m, 0, sizeof *m);
}

int br_als_train(const br_csr *ui, const br_als_params *p, br_als_model *out)
{
    br_als_params def;
    br_als_model m = {0};
    br_csr iu = {0};
    int rc;

    if (!out)
        return BR_EINVAL;
    memset(out, 0, sizeof *out);
    if (!p) {
        br_als_params_default(&def);
        p = &def;
    }
    if (!ui || br_als_params_check(p, NULL) < 0)
        return BR_EINVAL;
    if ((rc = check_csr(ui)) < 0)
        return rc;
    size_t f = p->factors, nu = ui->n_rows, ni = ui->n_cols;
    if (nu > SIZE_MAX / sizeof(float) / f || ni > SIZE_MAX / sizeof(float) / f)
        return BR_ELIMIT;
    int threads = br__als_threads(p);

    rc = BR_ENOMEM;
    m.n_users = nu;
    m.n_items = ni;
    m.factors = f;
    if (!(m.user_factors = malloc(nu * f * sizeof(float))) ||
        !(m.item_factors = malloc(ni * f * sizeof(float))))
        goto fail;
    init_rows(m.user_factors, nu, f, p->seed, 0, threads);
    init_rows(m.item_factors, ni, f, p->seed, 1, threads);
    if (p->iterations > 0 && (rc = br_csr_transpose(ui, &iu)) < 0)
        goto fail;

    for (int it = 1; it <= p->iterations; it++) {
        double t0 = now_seconds();
        if ((rc = br__als_half_step(ui, m.item_factors, ni, p, threads, m.user_factors)) < 0 ||
            (rc = br__als_half_step(&iu, m.user_factors, nu, p, threads, m.item_factors)) < 0)
            goto fail;
        br_als_progress pr = {it, p->iterations, now_seconds() - t0, NAN, &m};
        if (p->compute_loss && (rc = br_als_loss(ui, p, &m, &pr.loss)) < 0)
            goto fail;
        if (p->progress)
            p->progress(&pr, p->progress_ctx);
    }
    br_csr_free(&iu);
    *out = m;
    return 0;
fail:
    br_csr_free(&iu);
    br_als_model_free(&m);
    return rc;
}

int br_als_loss(const br_csr *ui, const br_als_params *p, const br_als_model *m, double *out)
{
    br_als_params def;
    float *G = NULL;
    double *part = NULL;
    int rc;

    if (!out)
        return BR_EINVAL;
    *out = NAN;
    if (!p) {
        br_als_params_default(&def);
        p = &def;
    }
    if (!ui || !m || !m->user_factors || !m->item_factors || br_als_params_check(p, NULL) < 0 ||
        m->factors < 1 || m->factors > BR_ALS_MAX_FACTORS || m->n_users != ui->n_rows ||
        m->n_items != ui->n_cols)
        return BR_EINVAL;
    if ((rc = check_csr(ui)) < 0)
        return rc;
    size_t f = m->factors, nu = m->n_users, nchunk = (nu + LOSS_CHUNK - 1) / LOSS_CHUNK;
    const float *X = m->user_factors, *Y = m->item_factors;
    br__als_conf cf = br__als_conf_of(p);
    double reg = p->regularization;

    rc = BR_ENOMEM;
    if (!(G = malloc(f * f * sizeof *G)) || !(part = calloc(nchunk, sizeof *part)))
        goto fail;
    if ((rc = br__als_gram(Y, m->n_items, f, 0.0f, br__als_threads(p), G)) < 0)
        goto fail;

#ifdef _OPENMP
#pragma omp parallel for num_threads(br__als_threads(p)) schedule(dynamic, 1)
#endif
    for (size_t ch = 0; ch < nchunk; ch++) {
        double acc = 0;
        size_t hi = (ch + 1) * LOSS_CHUNK < nu ? (ch + 1) * LOSS_CHUNK : nu;
        for (size_t u = ch * LOSS_CHUNK; u < hi; u++) {
            const float *x = X + u * f;
            /* every pair as if unobserved: (x . y_i)^2 summed over items = x^T YtY x */
            for (size_t j = 0; j < f; j++) {
                double gx = 0;
                for (size_t k = 0; k < f; k++)
                    gx += (double)G[j * f + k] * x[k];
                acc += x[j] * gx + reg * x[j] * x[j];
            }
            /* observed pairs: replace s^2 by c (1 - s)^2 */
            for (int64_t k = ui->indptr[u]; k < ui->indptr[u + 1]; k++) {
                const float *y = Y + (size_t)ui->indices[k] * f;
                double s = 0, c = cf.c0 + cf.c1 * ui->values[k];
                for (size_t j = 0; j < f; j++)
                    s += (double)x[j] * y[j];
                acc += c * (1 - s) * (1 - s) - s * s;
            }
        }
        part[ch] = acc;
    }
    double total = 0, ynorm = 0;
    for (size_t ch = 0; ch < nchunk; ch++)
        total += part[ch];
    for (size_t i = 0; i < m->n_items * f; i++)
        ynorm += (double)Y[i] * Y[i];
    *out = total + reg * ynorm;
    rc = 0;
fail:
    free(part);
    free(G);
    return rc;
}
