/* Tests of lib/eval/bootstrap.c: quantiles by hand, determinism (seed, thread count, one
 * array or several), an interval around the mean with the width theory predicts, frequentist
 * coverage near the nominal level, zero-width intervals for constant samples and for a model
 * paired with itself, and argument checks. */
#include "harness.h"

#include "bookrec/bootstrap.h"
#include "bookrec/error.h"

#include <stdlib.h>

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(rng(s) >> 11) * 0x1p-53;
}

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

TEST(boot_quantile_by_hand)
{
    const double x[] = {1, 2, 3, 4};
    ASSERT_NEAR(br_quantile_sorted(x, 4, 0.5), 2.5, 0);
    ASSERT_NEAR(br_quantile_sorted(x, 4, 0), 1, 0);
    ASSERT_NEAR(br_quantile_sorted(x, 4, 1), 4, 0);
    ASSERT_NEAR(br_quantile_sorted(x, 4, 0.25), 1.75, 1e-15); /* h = 0.75 */
    ASSERT_NEAR(br_quantile_sorted(x, 4, -3), 1, 0);
    ASSERT_NEAR(br_quantile_sorted(x, 1, 0.975), 1, 0);
    ASSERT_TRUE(isnan(br_quantile_sorted(x, 0, 0.5)));
}

TEST(boot_defaults_and_checks)
{
    br_boot_opts o;
    br_ci ci;
    double x[3] = {1, 2, 3};
    const double *xp = x;
    br_boot_opts_default(&o);
    ASSERT_EQ_INT(o.resamples, 1000);
    ASSERT_NEAR(o.level, 0.95, 0);
    ASSERT_OK(br_boot_opts_check(&o));
    o.resamples = 0;
    ASSERT_EQ_INT(br_boot_mean_ci(&xp, 1, 3, &o, &ci), BR_EINVAL);
    o.resamples = BR_BOOT_MAX_RESAMPLES + 1;
    ASSERT_EQ_INT(br_boot_opts_check(&o), BR_EINVAL);
    br_boot_opts_default(&o);
    o.level = 1.0;
    ASSERT_EQ_INT(br_boot_opts_check(&o), BR_EINVAL);
    o.level = NAN;
    ASSERT_EQ_INT(br_boot_opts_check(&o), BR_EINVAL);
    ASSERT_EQ_INT(br_boot_mean_ci(&xp, 1, 0, NULL, &ci), BR_EINVAL);
    ASSERT_EQ_INT(br_boot_mean_ci(&xp, 0, 3, NULL, &ci), BR_EINVAL);
    x[1] = INFINITY;
    ASSERT_EQ_INT(br_boot_mean_ci(&xp, 1, 3, NULL, &ci), BR_EINVAL);
    double d;
    ASSERT_EQ_INT(br_boot_diff_ci(x, x, 0, NULL, &d, &ci), BR_EINVAL);
}

TEST(boot_deterministic)
{
    enum { N = 700 };
    double *x = malloc(N * sizeof *x);
    uint64_t s = 1;
    for (int i = 0; i < N; i++)
        x[i] = unif(&s) < 0.2 ? 1.0 : 0.0;
    const double *xp = x;
    br_boot_opts o;
    br_ci a, b, c;
    br_boot_opts_default(&o);
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &a));
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &b));
    ASSERT_TRUE(a.lo == b.lo && a.hi == b.hi);
    /* Any thread count gives the same bits (each resample has its own generator). */
    o.threads = 1;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &b));
    ASSERT_TRUE(a.lo == b.lo && a.hi == b.hi);
    o.threads = 3;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &b));
    ASSERT_TRUE(a.lo == b.lo && a.hi == b.hi);
    /* Another seed moves the interval a little. */
    o.seed = 43;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &c));
    ASSERT_TRUE(c.lo != a.lo || c.hi != a.hi);
    ASSERT_NEAR(c.lo, a.lo, 0.01);
    ASSERT_NEAR(c.hi, a.hi, 0.01);
    free(x);
}

TEST(boot_shared_resamples)
{
    enum { N = 300 };
    double x[N], y[N];
    uint64_t s = 2;
    for (int i = 0; i < N; i++) {
        x[i] = unif(&s);
        y[i] = unif(&s) * unif(&s);
    }
    const double *both[2] = {x, y}, *xp = x, *yp = y;
    br_ci two[2], one;
    /* Several arrays in one pass see the same resamples as one array at a time. */
    ASSERT_OK(br_boot_mean_ci(both, 2, N, NULL, two));
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, NULL, &one));
    ASSERT_TRUE(one.lo == two[0].lo && one.hi == two[0].hi);
    ASSERT_OK(br_boot_mean_ci(&yp, 1, N, NULL, &one));
    ASSERT_TRUE(one.lo == two[1].lo && one.hi == two[1].hi);

    /* y = x + 0.5 exactly (multiples of 1/8): the draws are shared, so the interval of the
     * difference has zero width, and y's interval is x's shifted by 0.5. */
    for (int i = 0; i < N; i++) {
        x[i] = (double)(rng(&s) % 8) / 8.0;
        y[i] = x[i] + 0.5;
    }
    double d;
    ASSERT_OK(br_boot_diff_ci(y, x, N, NULL, &d, &one));
    ASSERT_NEAR(d, 0.5, 1e-12);
    ASSERT_TRUE(one.lo == one.hi);
    ASSERT_NEAR(one.lo, 0.5, 1e-12);
    ASSERT_OK(br_boot_mean_ci(both, 2, N, NULL, two));
    ASSERT_NEAR(two[1].lo - two[0].lo, 0.5, 1e-12);
    ASSERT_NEAR(two[1].hi - two[0].hi, 0.5, 1e-12);
}

TEST(boot_interval_around_mean)
{
    /* Bernoulli(0.3), n = 2000: the standard error is sqrt(0.3 * 0.7 / 2000) = 0.01025, so
     * a 95% interval is about 2 * 1.96 * 0.01025 = 0.040 wide. */
    enum { N = 2000 };
    double *x = malloc(N * sizeof *x);
    uint64_t s = 3;
    for (int i = 0; i < N; i++)
        x[i] = unif(&s) < 0.3 ? 1.0 : 0.0;
    const double *xp = x;
    br_ci ci;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, NULL, &ci));
    double m = mean_of(x, N), se = sqrt(m * (1 - m) / N);
    ASSERT_TRUE(ci.lo < m && m < ci.hi);
    ASSERT_NEAR(ci.hi - ci.lo, 2 * 1.959964 * se, 0.15 * 2 * 1.959964 * se);
    ASSERT_NEAR((ci.lo + ci.hi) / 2, m, 0.2 * se); /* about symmetric */

    /* A 50% interval is narrower: about 2 * 0.674 * se. */
    br_boot_opts o;
    br_boot_opts_default(&o);
    o.level = 0.5;
    br_ci half;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &half));
    ASSERT_TRUE(half.lo > ci.lo && half.hi < ci.hi);
    ASSERT_NEAR(half.hi - half.lo, 2 * 0.6745 * se, 0.2 * 2 * 0.6745 * se);
    free(x);
}

TEST(boot_coverage_near_nominal)
{
    /* 200 samples of 150 draws from an exponential with mean 1 (skewed, as per-user recall
     * is): the 95% interval should contain the true mean in about 95% of them. The
     * percentile bootstrap under-covers a little at this n, so accept 86%..99%. */
    enum { REPS = 200, N = 150 };
    double x[N];
    uint64_t s = 4;
    int covered = 0;
    br_boot_opts o;
    br_boot_opts_default(&o);
    o.resamples = 400;
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < N; i++)
            x[i] = -log(1 - unif(&s));
        const double *xp = x;
        br_ci ci;
        o.seed = (uint64_t)r;
        ASSERT_OK(br_boot_mean_ci(&xp, 1, N, &o, &ci));
        covered += ci.lo <= 1.0 && 1.0 <= ci.hi;
    }
    ASSERT_CMP_INT(covered, >=, REPS * 86 / 100);
    ASSERT_CMP_INT(covered, <=, REPS * 99 / 100);
}

TEST(boot_degenerate_samples)
{
    enum { N = 333 };
    double x[N], y[N];
    uint64_t s = 5;
    for (int i = 0; i < N; i++) {
        x[i] = 0.1; /* not exact in binary: still identical resample sums */
        y[i] = unif(&s);
    }
    const double *xp = x;
    br_ci ci;
    ASSERT_OK(br_boot_mean_ci(&xp, 1, N, NULL, &ci));
    ASSERT_TRUE(ci.lo == ci.hi);
    ASSERT_TRUE(ci.lo == mean_of(x, N));
    /* One user: every resample is that user. */
    ASSERT_OK(br_boot_mean_ci(&xp, 1, 1, NULL, &ci));
    ASSERT_TRUE(ci.lo == 0.1 && ci.hi == 0.1);

    /* A model against itself: the difference is exactly 0, its interval [0, 0]. */
    double d = 1;
    ASSERT_OK(br_boot_diff_ci(y, y, N, NULL, &d, &ci));
    ASSERT_TRUE(d == 0.0 && ci.lo == 0.0 && ci.hi == 0.0);
}

TEST(boot_paired_detects_a_real_difference)
{
    /* b = a plus a small per-user gain, noisy: the unpaired intervals overlap, the paired
     * interval of the difference excludes 0 (the point of pairing). */
    enum { N = 1000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    uint64_t s = 6;
    for (int i = 0; i < N; i++) {
        a[i] = unif(&s);
        b[i] = a[i] + 0.02 + 0.05 * (unif(&s) - 0.5);
    }
    const double *ab[2] = {a, b};
    br_ci ci[2], dci;
    double d;
    ASSERT_OK(br_boot_mean_ci(ab, 2, N, NULL, ci));
    ASSERT_TRUE(ci[1].lo < ci[0].hi); /* overlap */
    ASSERT_OK(br_boot_diff_ci(b, a, N, NULL, &d, &dci));
    ASSERT_NEAR(d, mean_of(b, N) - mean_of(a, N), 1e-12);
    ASSERT_TRUE(dci.lo > 0 && dci.lo < d && d < dci.hi);
    ASSERT_NEAR(d, 0.02, 0.005);
    free(a);
    free(b);
}
