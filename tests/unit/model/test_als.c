/* Tests of lib/model/als*.c: Cholesky by hand, confidences by hand (CONSTANT vs RATING),
 * the loss against brute force, CG against the exact solver (one half-step and whole runs,
 * more steps converging), a monotone objective, determinism across runs and thread counts,
 * fold-in against one more exact half-step, recovery of held-out items on a low-rank
 * matrix, and every bad parameter and input. Small sizes: the file runs in well under a
 * second, also under ASan. */
#include "harness.h"

#include "../../../lib/model/als_internal.h"
#include "bookrec/als.h"
#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A low-rank implicit matrix: users and items in `groups` groups; a user interacts with
 * about p_in of its group's items and p_out of the others; ratings 0 (60%) or 1..10.
 * If held is not NULL, one in-group interaction per user is held out: held[u] = item, or
 * -1. */
static int synth(size_t nu, size_t ni, int groups, double p_in, double p_out, uint64_t seed,
                 int32_t *held, br_csr *out)
{
    size_t cap = nu * ni, n = 0;
    int32_t *r = malloc(cap * sizeof *r), *c = malloc(cap * sizeof *c);
    float *v = malloc(cap * sizeof *v);
    uint64_t s = seed;
    int rc = BR_ENOMEM;
    if (!r || !c || !v)
        goto done;
    for (size_t u = 0; u < nu; u++) {
        if (held)
            held[u] = -1;
        for (size_t i = 0; i < ni; i++) {
            double p = (int)(u % groups) == (int)(i % groups) ? p_in : p_out;
            if ((double)(lcg(&s) % 100000) / 100000.0 >= p)
                continue;
            if (held && held[u] < 0 && (int)(u % groups) == (int)(i % groups) &&
                lcg(&s) % 3 == 0) {
                held[u] = (int32_t)i;
                continue;
            }
            r[n] = (int32_t)u;
            c[n] = (int32_t)i;
            v[n] = lcg(&s) % 10 < 6 ? 0.0f : (float)(1 + lcg(&s) % 10);
            n++;
        }
    }
    rc = br_csr_from_triples(nu, ni, r, c, v, n, out);
done:
    free(r);
    free(c);
    free(v);
    return rc;
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > m)
            m = fabsf(a[i] - b[i]);
    return m;
}

static br_als_params small_params(void)
{
    br_als_params p;
    br_als_params_default(&p);
    p.factors = 8;
    p.iterations = 4;
    p.threads = 1;
    return p;
}

TEST(als_params_defaults_and_checks)
{
    br_als_params p;
    const char *field = "x";
    br_als_params_default(&p);
    ASSERT_EQ_INT(p.factors, 64);
    ASSERT_NEAR(p.regularization, 0.1, 1e-7);
    ASSERT_EQ_INT(p.iterations, 15);
    ASSERT_NEAR(p.alpha, 40, 0);
    ASSERT_EQ_INT(p.cg_steps, 3);
    ASSERT_EQ_INT(p.solver, BR_ALS_CG);
    ASSERT_EQ_INT(p.weighting, BR_ALS_W_CONSTANT);
    ASSERT_OK(br_als_params_check(&p, &field));
    ASSERT_TRUE(field == NULL);

    /* One field broken at a time; the check names it. */
#define EXPECT_BAD(fld, val)                                                                   \
    do {                                                                                       \
        br_als_params q = p;                                                                   \
        q.fld = val;                                                                           \
        ASSERT_EQ_INT(br_als_params_check(&q, &field), BR_EINVAL);                             \
        ASSERT_EQ_STR(field, #fld);                                                            \
    } while (0)
    EXPECT_BAD(factors, 0);
    EXPECT_BAD(factors, BR_ALS_MAX_FACTORS + 1);
    EXPECT_BAD(regularization, 0.0f);
    EXPECT_BAD(regularization, -1.0f);
    EXPECT_BAD(regularization, NAN);
    EXPECT_BAD(regularization, 1e7f);
    EXPECT_BAD(iterations, -1);
    EXPECT_BAD(iterations, BR_ALS_MAX_ITERATIONS + 1);
    EXPECT_BAD(alpha, -0.5f);
    EXPECT_BAD(alpha, INFINITY);
    EXPECT_BAD(cg_steps, 0);
    EXPECT_BAD(cg_steps, BR_ALS_MAX_CG_STEPS + 1);
    EXPECT_BAD(solver, (br_als_solver)2);
    EXPECT_BAD(weighting, (br_als_weighting)7);
    EXPECT_BAD(weight_base, 0.0f);
    EXPECT_BAD(weight_base, 1.5f);
    EXPECT_BAD(threads, -1);
    EXPECT_BAD(threads, BR_ALS_MAX_THREADS + 1);
#undef EXPECT_BAD
    ASSERT_EQ_INT(br_als_params_check(NULL, &field), BR_EINVAL);
}

TEST(als_confidence_by_hand)
{
    br_als_params p;
    br_als_params_default(&p);
    /* CONSTANT: 1 + 40 whatever the rating */
    ASSERT_NEAR(br_als_confidence(&p, 0), 41, 1e-5);
    ASSERT_NEAR(br_als_confidence(&p, 7), 41, 1e-5);
    /* RATING, base 0.5: w(0) = 0.5, w(1) = 0.55, w(10) = 1 */
    p.weighting = BR_ALS_W_RATING;
    ASSERT_NEAR(br_als_confidence(&p, 0), 21, 1e-5);
    ASSERT_NEAR(br_als_confidence(&p, 1), 1 + 40 * 0.55, 1e-5);
    ASSERT_NEAR(br_als_confidence(&p, 10), 41, 1e-5);
    ASSERT_NEAR(br_als_confidence(&p, 12), 41, 1e-5); /* clamped */
}

TEST(als_cholesky_by_hand)
{
    /* A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = (1, -1, 2): b = A x = (2, -1, 5) */
    double A[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3}, b[3] = {2, -1, 5}, tmp[3];
    ASSERT_OK(br__cholesky_solve(A, b, 3, tmp));
    ASSERT_NEAR(b[0], 1, 1e-12);
    ASSERT_NEAR(b[1], -1, 1e-12);
    ASSERT_NEAR(b[2], 2, 1e-12);
    double N[4] = {1, 2, 2, 1}, c[2] = {1, 1}; /* indefinite */
    ASSERT_EQ_INT(br__cholesky_solve(N, c, 2, tmp), BR_ERANGE);
}

/* Two items with orthonormal factors e1, e2 (f = 2): YtY = I, so the system is diagonal and
 * x_k = c_k / (c_k + reg) for an item k the user has, 0 otherwise. */
TEST(als_weighting_by_hand)
{
    const float Y[4] = {1, 0, 0, 1};
    const int32_t items[2] = {0, 1};
    const float ratings[2] = {10, 0}; /* item 0 rated 10, item 1 implicit */
    br_als_params p;
    br_als_foldin *fi;
    float x[2];
    br_als_params_default(&p);
    p.factors = 2;

    ASSERT_OK(br_als_foldin_new(Y, 2, &p, &fi));
    ASSERT_EQ_INT(br_als_foldin_factors(fi), 2);
    ASSERT_OK(br_als_foldin_solve(fi, items, ratings, 2, x));
    ASSERT_NEAR(x[0], 41 / 41.1, 1e-6); /* CONSTANT: both items alike */
    ASSERT_NEAR(x[1], 41 / 41.1, 1e-6);
    br_als_foldin_free(fi);

    p.weighting = BR_ALS_W_RATING; /* c = 41 for the 10, 1 + 40 * 0.5 = 21 for the 0 */
    ASSERT_OK(br_als_foldin_new(Y, 2, &p, &fi));
    ASSERT_OK(br_als_foldin_solve(fi, items, ratings, 2, x));
    ASSERT_NEAR(x[0], 41 / 41.1, 1e-6);
    ASSERT_NEAR(x[1], 21 / 21.1, 1e-6);
    ASSERT_TRUE(x[0] > x[1]);
    br_als_foldin_free(fi);

    /* The training half-step agrees, both solvers (CG is exact here: A is diagonal). */
    br_csr ui;
    const int32_t rows[2] = {0, 0};
    ASSERT_OK(br_csr_from_triples(2, 2, rows, items, ratings, 2, &ui));
    for (int solver = 0; solver < 2; solver++) {
        float X[4] = {0.5f, 0.5f, 0.5f, 0.5f};
        p.solver = (br_als_solver)solver;
        ASSERT_OK(br__als_half_step(&ui, Y, 2, &p, 1, X));
        ASSERT_NEAR(X[0], 41 / 41.1, 1e-5);
        ASSERT_NEAR(X[1], 21 / 21.1, 1e-5);
        ASSERT_NEAR(X[2], 0, 0); /* user 1 has no interactions */
        ASSERT_NEAR(X[3], 0, 0);
    }
    br_csr_free(&ui);
}

TEST(als_loss_matches_brute_force)
{
    br_csr ui;
    br_als_model m;
    br_als_params p = small_params();
    p.weighting = BR_ALS_W_RATING;
    p.iterations = 2;
    ASSERT_OK(synth(30, 20, 3, 0.4, 0.05, 7, NULL, &ui));
    ASSERT_OK(br_als_train(&ui, &p, &m));
    double loss, want = 0;
    ASSERT_OK(br_als_loss(&ui, &p, &m, &loss));
    for (size_t u = 0; u < m.n_users; u++) {
        for (size_t i = 0; i < m.n_items; i++) {
            double s = 0, c = 1, pref = 0;
            for (size_t k = 0; k < m.factors; k++)
                s += (double)m.user_factors[u * m.factors + k] * m.item_factors[i * m.factors + k];
            for (int64_t k = ui.indptr[u]; k < ui.indptr[u + 1]; k++)
                if ((size_t)ui.indices[k] == i) {
                    c = br_als_confidence(&p, ui.values[k]);
                    pref = 1;
                }
            want += c * (pref - s) * (pref - s);
        }
        for (size_t k = 0; k < m.factors; k++)
            want += p.regularization * m.user_factors[u * m.factors + k] *
                    m.user_factors[u * m.factors + k];
    }
    for (size_t k = 0; k < m.n_items * m.factors; k++)
        want += p.regularization * m.item_factors[k] * m.item_factors[k];
    ASSERT_NEAR(loss, want, 1e-5 * want);
    br_als_model_free(&m);
    br_csr_free(&ui);
}

/* One user half-step from the same start: CG error shrinks with more steps and reaches
 * the exact solution. */
TEST(als_cg_half_step_converges_to_exact)
{
    br_csr ui;
    br_als_model m;
    br_als_params p = small_params();
    p.iterations = 2;
    ASSERT_OK(synth(60, 40, 4, 0.3, 0.05, 11, NULL, &ui));
    ASSERT_OK(br_als_train(&ui, &p, &m));
    size_t n = m.n_users * m.factors;
    float *exact = malloc(n * sizeof *exact), *cg = malloc(n * sizeof *cg);
    ASSERT_TRUE(exact && cg);

    memcpy(exact, m.user_factors, n * sizeof *exact);
    p.solver = BR_ALS_CHOLESKY;
    ASSERT_OK(br__als_half_step(&ui, m.item_factors, m.n_items, &p, 1, exact));
    p.solver = BR_ALS_CG;
    static const int steps[] = {1, 2, 4, 8, 16};
    float prev = INFINITY, scale = 0;
    for (size_t k = 0; k < n; k++)
        scale = fmaxf(scale, fabsf(exact[k]));
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        memcpy(cg, m.user_factors, n * sizeof *cg);
        p.cg_steps = steps[s];
        ASSERT_OK(br__als_half_step(&ui, m.item_factors, m.n_items, &p, 1, cg));
        float err = max_abs_diff(cg, exact, n);
        ASSERT_TRUE(err < prev || err < 1e-5f * scale);
        prev = err;
    }
    ASSERT_TRUE(prev < 1e-4f * scale); /* 16 steps > f = 8: exact up to rounding */
    free(exact);
    free(cg);
    br_als_model_free(&m);
    br_csr_free(&ui);
}

struct trace {
    int calls;
    double loss[16];
    float *factors[16]; /* user factors after each iteration */
};

static void record(const br_als_progress *pr, void *ctx)
{
    struct trace *t = ctx;
    size_t n = pr->model->n_users * pr->model->factors;
    if (pr->iteration != t->calls + 1 || t->calls >= 16)
        return;
    t->loss[t->calls] = pr->loss;
    if ((t->factors[t->calls] = malloc(n * sizeof(float))))
        memcpy(t->factors[t->calls], pr->model->user_factors, n * sizeof(float));
    t->calls++;
}

static void trace_free(struct trace *t)
{
    for (int i = 0; i < t->calls; i++)
        free(t->factors[i]);
}

/* Whole runs from the same init, per iteration: exact ALS decreases the objective every
 * iteration; CG with 3 steps stays within a few percent of it (warm-started CG lags while
 * the factors still move a lot); more steps bring CG's objective closer, and with more
 * steps than factors its factors are the exact run's. */
TEST(als_cg_runs_track_exact_runs)
{
    static const int steps[] = {1, 2, 3, 8, 16};
    enum { NS = sizeof steps / sizeof steps[0], ITS = 6 };
    br_csr ui;
    br_als_model m;
    br_als_params p = small_params();
    struct trace ex = {0}, cg[NS];
    memset(cg, 0, sizeof cg);
    p.iterations = ITS;
    p.compute_loss = 1;
    p.progress = record;
    ASSERT_OK(synth(80, 50, 4, 0.3, 0.04, 5, NULL, &ui));

    p.solver = BR_ALS_CHOLESKY;
    p.progress_ctx = &ex;
    ASSERT_OK(br_als_train(&ui, &p, &m));
    br_als_model_free(&m);
    ASSERT_EQ_INT(ex.calls, ITS);
    p.solver = BR_ALS_CG;
    for (int s = 0; s < NS; s++) {
        p.cg_steps = steps[s];
        p.progress_ctx = &cg[s];
        ASSERT_OK(br_als_train(&ui, &p, &m));
        br_als_model_free(&m);
        ASSERT_EQ_INT(cg[s].calls, ITS);
    }

    size_t n = ui.n_rows * p.factors;
    for (int it = 0; it < ITS; it++) {
        if (it > 0) /* monotone, up to float rounding of the solve */
            ASSERT_TRUE(ex.loss[it] <= ex.loss[it - 1] * (1 + 1e-6));
        for (int s = 0; s < NS; s++) {
            double gap = cg[s].loss[it] / ex.loss[it] - 1;
            ASSERT_TRUE(gap > -1e-5);
            if (s > 0)
                ASSERT_TRUE(gap <= cg[s - 1].loss[it] / ex.loss[it] - 1 + 1e-5);
            if (steps[s] == 3)
                ASSERT_TRUE(gap < 0.25);
        }
        ASSERT_NEAR(cg[NS - 1].loss[it], ex.loss[it], 1e-5 * ex.loss[it]);
        ASSERT_TRUE(max_abs_diff(cg[NS - 1].factors[it], ex.factors[it], n) < 1e-4f);
    }
    ASSERT_TRUE(ex.loss[ITS - 1] < 0.5 * ex.loss[0]);
    ASSERT_TRUE(cg[2].loss[ITS - 1] < cg[2].loss[ITS - 2]);
    trace_free(&ex);
    for (int s = 0; s < NS; s++)
        trace_free(&cg[s]);
    br_csr_free(&ui);
}

TEST(als_deterministic_across_runs_and_threads)
{
    br_csr ui;
    br_als_params p = small_params();
    /* > BR__ALS_BLOCK rows and > 2048 items, so blocks and YtY chunks are really split */
    ASSERT_OK(synth(150, 2100, 5, 0.01, 0.002, 3, NULL, &ui));
    for (int solver = 0; solver < 2; solver++) {
        br_als_model a, b, c;
        p.solver = (br_als_solver)solver;
        p.iterations = solver ? 1 : 3;
        p.threads = 1;
        ASSERT_OK(br_als_train(&ui, &p, &a));
        ASSERT_OK(br_als_train(&ui, &p, &b));
        p.threads = 2;
        ASSERT_OK(br_als_train(&ui, &p, &c));
        size_t nu = ui.n_rows * p.factors, ni = ui.n_cols * p.factors;
        ASSERT_TRUE(memcmp(a.user_factors, b.user_factors, nu * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(a.item_factors, b.item_factors, ni * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(a.user_factors, c.user_factors, nu * sizeof(float)) == 0);
        ASSERT_TRUE(memcmp(a.item_factors, c.item_factors, ni * sizeof(float)) == 0);
        /* a different seed gives a different model */
        br_als_model_free(&b);
        p.seed++;
        ASSERT_OK(br_als_train(&ui, &p, &b));
        ASSERT_TRUE(memcmp(a.item_factors, b.item_factors, ni * sizeof(float)) != 0);
        p.seed--;
        br_als_model_free(&a);
        br_als_model_free(&b);
        br_als_model_free(&c);
    }
    br_csr_free(&ui);
}

/* Folding in a training user = that user's row after one more exact user half-step. */
TEST(als_foldin_equals_exact_half_step)
{
    br_csr ui;
    br_als_model m;
    br_als_foldin *fi;
    br_als_params p = small_params();
    p.solver = BR_ALS_CHOLESKY;
    p.weighting = BR_ALS_W_RATING;
    p.iterations = 3;
    ASSERT_OK(synth(40, 30, 3, 0.4, 0.05, 9, NULL, &ui));
    ASSERT_OK(br_als_train(&ui, &p, &m));
    size_t f = m.factors;
    float *X = malloc(m.n_users * f * sizeof *X), x[8];
    ASSERT_TRUE(X != NULL);
    memcpy(X, m.user_factors, m.n_users * f * sizeof *X);
    ASSERT_OK(br__als_half_step(&ui, m.item_factors, m.n_items, &p, 1, X));
    ASSERT_OK(br_als_foldin_new(m.item_factors, m.n_items, &p, &fi));
    int checked = 0;
    for (size_t u = 0; u < m.n_users; u++) {
        int64_t lo = ui.indptr[u];
        size_t n = (size_t)(ui.indptr[u + 1] - lo);
        ASSERT_OK(br_als_foldin_solve(fi, ui.indices + lo, ui.values + lo, n, x));
        ASSERT_TRUE(max_abs_diff(x, X + u * f, f) < 1e-5f);
        checked += n > 0;
    }
    ASSERT_CMP_INT(checked, >, 30);
    /* ratings NULL = all implicit: the same as passing zeros */
    float zeros[30] = {0}, y[8];
    int64_t lo = ui.indptr[0];
    size_t n0 = (size_t)(ui.indptr[1] - lo);
    ASSERT_OK(br_als_foldin_solve(fi, ui.indices + lo, NULL, n0, x));
    ASSERT_OK(br_als_foldin_solve(fi, ui.indices + lo, zeros, n0, y));
    ASSERT_TRUE(memcmp(x, y, sizeof x) == 0);
    br_als_foldin_free(fi);
    free(X);
    br_als_model_free(&m);
    br_csr_free(&ui);
}

/* Recall@k of one held-out item per user among the unseen items; *chance gets what a random
 * ranking scores in expectation. */
static double recall_at(const br_als_model *m, const br_csr *ui, const int32_t *held, int k,
                        double *chance)
{
    int hit = 0, users = 0;
    *chance = 0;
    size_t f = m->factors;
    for (size_t u = 0; u < m->n_users; u++) {
        if (held[u] < 0)
            continue;
        const float *x = m->user_factors + u * f;
        float sh = br__dot(x, m->item_factors + (size_t)held[u] * f, f);
        int better = 0; /* unseen items scoring above the held-out one */
        for (size_t i = 0; i < m->n_items; i++) {
            int seen = 0;
            for (int64_t q = ui->indptr[u]; q < ui->indptr[u + 1]; q++)
                seen |= (size_t)ui->indices[q] == i;
            if (!seen && (int32_t)i != held[u] &&
                br__dot(x, m->item_factors + i * f, f) > sh)
                better++;
        }
        hit += better < k;
        users++;
        double unseen = (double)(m->n_items - (size_t)(ui->indptr[u + 1] - ui->indptr[u]));
        *chance += k < unseen ? k / unseen : 1;
    }
    *chance = users ? *chance / users : 0;
    return users ? (double)hit / users : 0;
}

TEST(als_recovers_held_out_items_of_a_low_rank_matrix)
{
    br_csr ui;
    br_als_model m;
    br_als_params p = small_params();
    int32_t held[120];
    p.iterations = 8;
    /* 5 groups of 24 items, each user has ~6 of its group's and ~2 others: a random ranking
     * puts the held-out item in the top 10 of ~110 unseen items 9% of the time, one that
     * knew the group (and nothing more) ~55%. ALS at the defaults scores 0.32. */
    ASSERT_OK(synth(120, 120, 5, 0.25, 0.02, 13, held, &ui));
    int n_held = 0;
    for (int u = 0; u < 120; u++)
        n_held += held[u] >= 0;
    ASSERT_CMP_INT(n_held, >, 60);
    ASSERT_OK(br_als_train(&ui, &p, &m));
    double chance, r = recall_at(&m, &ui, held, 10, &chance);
    ASSERT_NEAR(chance, 0.09, 0.01);
    ASSERT_TRUE(r > 2.5 * chance);
    br_als_model_free(&m);
    br_csr_free(&ui);
}

TEST(als_empty_rows_get_zero_vectors)
{
    /* user 1 and item 2 have nothing */
    const int32_t r[] = {0, 0, 2}, c[] = {0, 1, 1};
    const float v[] = {0, 5, 0};
    br_csr ui;
    br_als_model m;
    br_als_params p = small_params();
    ASSERT_OK(br_csr_from_triples(3, 3, r, c, v, 3, &ui));
    ASSERT_OK(br_als_train(&ui, &p, &m));
    for (size_t k = 0; k < p.factors; k++) {
        ASSERT_NEAR(m.user_factors[1 * p.factors + k], 0, 0);
        ASSERT_NEAR(m.item_factors[2 * p.factors + k], 0, 0);
    }
    ASSERT_TRUE(fabsf(m.user_factors[0]) + fabsf(m.user_factors[1]) > 0);
    br_als_model_free(&m);
    br_als_model_free(&m); /* twice is fine: zeroed */
    br_als_model_free(NULL);
    br_csr_free(&ui);
}

TEST(als_rejects_bad_input)
{
    const int32_t r[] = {0, 0, 1}, c[] = {0, 1, 1};
    const float v[] = {0, 5, 0};
    br_csr ui, bad;
    br_als_model m;
    br_als_params p = small_params();
    double loss;
    ASSERT_OK(br_csr_from_triples(2, 2, r, c, v, 3, &ui));

    ASSERT_EQ_INT(br_als_train(NULL, &p, &m), BR_EINVAL);
    ASSERT_EQ_INT(br_als_train(&ui, &p, NULL), BR_EINVAL);
    p.factors = 0;
    ASSERT_EQ_INT(br_als_train(&ui, &p, &m), BR_EINVAL);
    ASSERT_TRUE(m.user_factors == NULL && m.item_factors == NULL);
    p = small_params();

    int32_t idx[3];
    float val[3];
    int64_t ptr[3];
    /* each broken copy of ui */
#define BROKEN(expect, stmt)                                                                   \
    do {                                                                                       \
        memcpy(idx, ui.indices, sizeof idx);                                                   \
        memcpy(val, ui.values, sizeof val);                                                    \
        memcpy(ptr, ui.indptr, sizeof ptr);                                                    \
        bad = (br_csr){2, 2, 3, ptr, idx, val};                                                \
        stmt;                                                                                  \
        ASSERT_EQ_INT(br_als_train(&bad, &p, &m), expect);                                     \
    } while (0)
    BROKEN(BR_EINVAL, bad.n_rows = 0);
    BROKEN(BR_EINVAL, bad.n_cols = 0);
    BROKEN(BR_EINVAL, idx[1] = 2);            /* column out of range */
    BROKEN(BR_EINVAL, idx[1] = -1);           /* negative */
    BROKEN(BR_EINVAL, (idx[0] = 1, idx[1] = 0)); /* unsorted */
    BROKEN(BR_EINVAL, idx[1] = 0);            /* duplicate */
    BROKEN(BR_EINVAL, val[1] = 11);           /* rating out of range */
    BROKEN(BR_EINVAL, val[1] = -1);
    BROKEN(BR_EINVAL, val[1] = NAN);
    BROKEN(BR_EINVAL, ptr[2] = 2);            /* indptr[n] != nnz */
    BROKEN(BR_EINVAL, ptr[1] = 4);            /* beyond nnz */
    BROKEN(BR_EINVAL, bad.indices = NULL);
    BROKEN(BR_ELIMIT, bad.n_cols = (size_t)INT32_MAX + 1);
#undef BROKEN

    ASSERT_OK(br_als_train(&ui, &p, &m));
    ASSERT_EQ_INT(br_als_loss(&ui, &p, &m, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_als_loss(&ui, &p, NULL, &loss), BR_EINVAL);
    m.n_items++;
    ASSERT_EQ_INT(br_als_loss(&ui, &p, &m, &loss), BR_EINVAL);
    m.n_items--;
    ASSERT_OK(br_als_loss(&ui, &p, &m, &loss));
    ASSERT_TRUE(isfinite(loss) && loss > 0);

    br_als_foldin *fi;
    float x[8];
    int32_t items[2] = {0, 1};
    float ratings[2] = {0, 10};
    ASSERT_EQ_INT(br_als_foldin_new(NULL, 2, &p, &fi), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_new(m.item_factors, 0, &p, &fi), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_new(m.item_factors, 2, NULL, &fi), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_new(m.item_factors, (size_t)INT32_MAX + 1, &p, &fi), BR_ELIMIT);
    ASSERT_OK(br_als_foldin_new(m.item_factors, 2, &p, &fi));
    ASSERT_OK(br_als_foldin_solve(fi, items, ratings, 2, x));
    ASSERT_EQ_INT(br_als_foldin_solve(NULL, items, ratings, 2, x), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_solve(fi, NULL, ratings, 2, x), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, ratings, 2, NULL), BR_EINVAL);
    items[1] = 2;
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, ratings, 2, x), BR_EINVAL);
    items[1] = -1;
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, ratings, 2, x), BR_EINVAL);
    items[1] = 1;
    ratings[1] = 10.5f;
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, ratings, 2, x), BR_EINVAL);
    ratings[1] = NAN;
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, ratings, 2, x), BR_EINVAL);
    ASSERT_EQ_INT(br_als_foldin_solve(fi, items, NULL, BR_ALS_MAX_FOLDIN + 1, x), BR_ELIMIT);
    x[0] = 1;
    ASSERT_OK(br_als_foldin_solve(fi, NULL, NULL, 0, x)); /* nothing read: zero vector */
    for (int k = 0; k < 8; k++)
        ASSERT_NEAR(x[k], 0, 0);
    br_als_foldin_free(fi);
    br_als_foldin_free(NULL);
    br_als_model_free(&m);
    br_csr_free(&ui);
}
