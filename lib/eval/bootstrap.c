/* Bootstrap intervals over users (see bootstrap.h and docs/evaluation.md).
 *
 * Design decisions:
 * 1. Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): simple, and with thousands of
 *    users the sampling distribution of a mean is close to symmetric, where the percentile
 *    and BCa intervals agree. Quantiles interpolate linearly (Hyndman & Fan type 7).
 * 2. Counter-based draws: resample b has its own generator, seeded with
 *    XXH3(le64(b), seed), so a resample does not depend on the ones before it. Threads can
 *    take any resamples and the result is the same; every array of length n sees the same
 *    resamples, which makes intervals of different metrics, and paired differences,
 *    consistent with one another.
 * 3. The generator is splitmix64 (Steele, Lea & Flood 2014), users drawn with Lemire's
 *    unbiased bounded multiply (Lemire 2019), so every user has exactly probability 1/n.
 * 4. A resample's sum runs in draw order in a double, so it is reproducible bit for bit; an
 *    all-equal sample gives identical resample means and a zero-width interval.
 * 5. The paired interval resamples the per-user differences a[i] - b[i]: the mean of the
 *    differences of a resample is the difference of its means, the draw being shared. */
#include "bookrec/bootstrap.h"
#include "bookrec/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void br_boot_opts_default(br_boot_opts *o)
{
    *o = (br_boot_opts){.resamples = 1000, .level = 0.95, .seed = 42, .threads = 0};
}

int br_boot_opts_check(const br_boot_opts *o)
{
    if (!o || o->resamples < 1 || o->resamples > BR_BOOT_MAX_RESAMPLES ||
        !(o->level > 0 && o->level < 1) || o->threads < 0)
        return BR_EINVAL;
    return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1: Lemire's multiply with rejection of the biased low part. */
static uint32_t draw(uint64_t *s, uint32_t n)
{
    uint64_t m = (splitmix64(s) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (low < t) {
            m = (splitmix64(s) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static uint64_t resample_seed(uint64_t seed, uint32_t b)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)b >> (8 * i));
    return XXH3_64bits_withSeed(le, sizeof le, seed);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double br_quantile_sorted(const double *x, size_t n, double q)
{
    if (n == 0)
        return NAN;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n)
        return x[n - 1];
    double w = h - (double)i;
    /* Equal neighbours give exactly that value, whatever w is. */
    return x[i] == x[i + 1] ? x[i] : x[i] + w * (x[i + 1] - x[i]);
}

int br_boot_mean_ci(const double *const *x, size_t m, size_t n, const br_boot_opts *o, br_ci *out)
{
    br_boot_opts def;
    double *means = NULL;
    int rc = 0;

    if (!o) {
        br_boot_opts_default(&def);
        o = &def;
    }
    if (!x || !out || m == 0 || n == 0 || br_boot_opts_check(o) != 0)
        return BR_EINVAL;
    if (n > BR_BOOT_MAX_N)
        return BR_ELIMIT;
    for (size_t j = 0; j < m; j++) {
        if (!x[j])
            return BR_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[j][i]))
                return BR_EINVAL;
    }
    size_t B = o->resamples;
    if (m > SIZE_MAX / sizeof(double) / B)
        return BR_ENOMEM;
    /* means[j * B + b]: resample b's mean of array j, so each array sorts in place. */
    if (!(means = malloc(m * B * sizeof *means)))
        return BR_ENOMEM;

#ifdef _OPENMP
    int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#endif
    {
        double *sum = calloc(m, sizeof *sum);
        if (!sum) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            rc = BR_ENOMEM;
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (size_t b = 0; b < B; b++) {
            if (!sum)
                continue;
            uint64_t s = resample_seed(o->seed, (uint32_t)b);
            memset(sum, 0, m * sizeof *sum);
            for (size_t i = 0; i < n; i++) {
                uint32_t u = draw(&s, (uint32_t)n);
                for (size_t j = 0; j < m; j++)
                    sum[j] += x[j][u];
            }
            for (size_t j = 0; j < m; j++)
                means[j * B + b] = sum[j] / (double)n;
        }
        free(sum);
    }
    if (rc != 0)
        goto fail;

    double alpha = 1 - o->level;
    for (size_t j = 0; j < m; j++) {
        double *mj = means + j * B;
        qsort(mj, B, sizeof *mj, cmp_double);
        out[j].lo = br_quantile_sorted(mj, B, alpha / 2);
        out[j].hi = br_quantile_sorted(mj, B, 1 - alpha / 2);
    }
fail:
    free(means);
    return rc;
}

int br_boot_diff_ci(const double *a, const double *b, size_t n, const br_boot_opts *o, double *diff,
                    br_ci *out)
{
    double *d = NULL;
    double sa = 0, sb = 0;
    int rc;

    if (!a || !b || !diff || !out || n == 0)
        return BR_EINVAL;
    if (n > BR_BOOT_MAX_N)
        return BR_ELIMIT;
    if (!(d = malloc(n * sizeof *d)))
        return BR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        d[i] = a[i] - b[i];
        sa += a[i];
        sb += b[i];
    }
    const double *dp = d;
    if ((rc = br_boot_mean_ci(&dp, 1, n, o, out)) != 0)
        goto fail;
    /* The point estimate from the two means, so it equals the difference of the reported
     * metrics exactly. */
    *diff = sa / (double)n - sb / (double)n;
fail:
    free(d);
    return rc;
}
