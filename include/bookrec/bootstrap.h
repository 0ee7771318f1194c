/* Bootstrap confidence intervals over users, so that differences between models can be
 * judged (docs/evaluation.md, "Confidence intervals").
 *
 * The statistic is always a mean over users of a per-user value. A resample draws n users
 * with replacement; the interval is the percentile interval of the B resample means. The
 * draws depend only on (seed, resample number, n): every array of the same length gets the
 * same resamples, whichever function is called, in whichever order, with however many
 * threads. A paired interval therefore resamples users once and applies the draw to both
 * models. */
#ifndef BOOKREC_BOOTSTRAP_H
#define BOOKREC_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#define BR_BOOT_MAX_RESAMPLES 1000000u
/* Users per sample: the draws are 32-bit. */
#define BR_BOOT_MAX_N 0xffffffffu

typedef struct br_boot_opts {
    uint32_t resamples; /* B: 1000; 1..BR_BOOT_MAX_RESAMPLES */
    double level;       /* 0.95; in (0, 1) */
    uint64_t seed;      /* 42 */
    int threads;        /* 0 = OpenMP default; the result never depends on it */
} br_boot_opts;

typedef struct br_ci {
    double lo, hi;
} br_ci;

void br_boot_opts_default(br_boot_opts *o);
/* 0 or BR_EINVAL. */
int br_boot_opts_check(const br_boot_opts *o);

/* Percentile intervals of the means of m arrays x[j][0..n), all from the same resamples (one
 * pass draws each user once for all m arrays). out[j] gets the interval of x[j]. o NULL means
 * the defaults. An all-equal array gives lo == hi == its mean.
 * 0, BR_EINVAL (NULL, n or m 0, bad opts, a non-finite value), BR_ELIMIT (n over
 * BR_BOOT_MAX_N) or BR_ENOMEM. */
int br_boot_mean_ci(const double *const *x, size_t m, size_t n, const br_boot_opts *o, br_ci *out);

/* Paired interval of mean(a) - mean(b) for two models measured on the same n users (a[i] and
 * b[i] belong to the same user). *diff gets mean(a) - mean(b). a == b gives [0, 0].
 * Same errors as br_boot_mean_ci. */
int br_boot_diff_ci(const double *a, const double *b, size_t n, const br_boot_opts *o, double *diff,
                    br_ci *out);

/* The q-quantile of ascending x[0..n) with linear interpolation between order statistics
 * (Hyndman & Fan type 7, numpy's default): position h = (n - 1) * q. q is clamped to [0, 1];
 * n 0 gives NaN. */
double br_quantile_sorted(const double *x, size_t n, double q);

#endif
