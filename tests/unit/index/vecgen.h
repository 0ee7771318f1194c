/* Deterministic vectors for the index tests: a Gaussian mixture with uneven cluster sizes
 * (as bench/gen_vectors.py, smaller), plus the naive top-k every test compares against. */
#ifndef BOOKREC_TEST_VECGEN_H
#define BOOKREC_TEST_VECGEN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline uint64_t vg_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline double vg_unif(uint64_t *s)
{
    return ((double)(vg_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static inline float vg_gauss(uint64_t *s)
{
    return (float)(sqrt(-2.0 * log(vg_unif(s))) * cos(6.283185307179586 * vg_unif(s)));
}

/* n x dim into x: n_clusters centers, cluster c drawn with weight 1/(c+1); within a
 * cluster a point is center + sigma * (B_c z + 0.1 e), B_c a random dim x VG_RANK basis:
 * low intrinsic dimension, as real embeddings have (isotropic noise at 32 dimensions is
 * hard for every index alike). */
#define VG_RANK 6
static inline void vg_mixture(float *x, size_t n, size_t dim, size_t n_clusters, float sigma,
                              uint64_t seed)
{
    uint64_t s = seed;
    float *centers = malloc(n_clusters * dim * sizeof *centers);
    float *basis = malloc(n_clusters * dim * VG_RANK * sizeof *basis);
    double *cum = malloc(n_clusters * sizeof *cum);
    double tot = 0;
    for (size_t c = 0; c < n_clusters; c++) {
        for (size_t j = 0; j < dim; j++)
            centers[c * dim + j] = vg_gauss(&s);
        for (size_t j = 0; j < dim * VG_RANK; j++)
            basis[c * dim * VG_RANK + j] = vg_gauss(&s) / (float)sqrt(VG_RANK);
        tot += 1.0 / (double)(c + 1);
        cum[c] = tot;
    }
    for (size_t i = 0; i < n; i++) {
        double u = vg_unif(&s) * tot;
        size_t c = 0;
        while (c + 1 < n_clusters && cum[c] < u)
            c++;
        float z[VG_RANK];
        for (int r = 0; r < VG_RANK; r++)
            z[r] = vg_gauss(&s);
        for (size_t j = 0; j < dim; j++) {
            float v = 0.1f * vg_gauss(&s);
            for (int r = 0; r < VG_RANK; r++)
                v += basis[(c * dim + j) * VG_RANK + r] * z[r];
            x[i * dim + j] = centers[c * dim + j] + sigma * v;
        }
    }
    free(centers);
    free(basis);
    free(cum);
}

static inline float vg_dot(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t j = 0; j < dim; j++)
        s += (double)a[j] * b[j];
    return (float)s;
}

/* Fraction of the ids of got[k] found in want[k] (ignoring -1 in want). */
static inline double vg_recall(const int32_t *got, const int32_t *want, size_t nq, size_t k)
{
    size_t hit = 0, tot = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < k; i++) {
            if (want[q * k + i] < 0)
                continue;
            tot++;
            for (size_t j = 0; j < k; j++)
                if (got[q * k + j] == want[q * k + i]) {
                    hit++;
                    break;
                }
        }
    return tot ? (double)hit / (double)tot : 1.0;
}

#endif
