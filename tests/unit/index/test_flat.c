/* Tests of lib/index/flat.c: exact top-k against a naive scan (small integer vectors, so
 * every score is exact and ties are many), tie order, padding, exclusions, the allow
 * filter, thread independence, NaN, normalization, error paths. */
#include "harness.h"
#include "vecgen.h"

#include "bookrec/error.h"
#include "bookrec/flat.h"

#include <stdlib.h>

/* Integer-valued vectors in [-2, 2]: dot products are small integers, exact in float. */
static float *int_vectors(size_t n, size_t dim, uint64_t seed)
{
    float *x = malloc(n * dim * sizeof *x);
    uint64_t s = seed;
    for (size_t i = 0; i < n * dim; i++)
        x[i] = (float)((int)(vg_next(&s) % 5) - 2);
    return x;
}

/* Naive top k with the same rules: score desc, id asc; excluded/disallowed skipped. */
static void naive_topk(const float *base, size_t n, size_t dim, const float *q, size_t k,
                       const int32_t *excl, size_t n_excl, const uint8_t *allow, int32_t *ids,
                       float *sc)
{
    for (size_t j = 0; j < k; j++) {
        ids[j] = -1;
        sc[j] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        int skip = allow && !allow[i];
        for (size_t e = 0; e < n_excl && !skip; e++)
            skip = excl[e] == (int32_t)i;
        if (skip)
            continue;
        float s = vg_dot(base + i * dim, q, dim);
        size_t at = k;
        while (at > 0 && (ids[at - 1] < 0 || s > sc[at - 1]))
            at--;
        if (at == k)
            continue;
        for (size_t j = k - 1; j > at; j--) {
            ids[j] = ids[j - 1];
            sc[j] = sc[j - 1];
        }
        ids[at] = (int32_t)i;
        sc[at] = s;
    }
}

TEST(flat_matches_naive_with_ties)
{
    size_t n = 3000, dim = 16, nq = 150, k = 10;
    float *base = int_vectors(n, dim, 1), *qs = int_vectors(nq, dim, 2);
    int32_t *ids = malloc(nq * k * sizeof *ids), want[10];
    float *sc = malloc(nq * k * sizeof *sc), wsc[10];
    ASSERT_OK(br_flat_topk(base, n, dim, qs, nq, k, NULL, ids, sc));
    int bad = 0;
    for (size_t q = 0; q < nq && !bad; q++) {
        naive_topk(base, n, dim, qs + q * dim, k, NULL, 0, NULL, want, wsc);
        for (size_t j = 0; j < k; j++)
            bad |= ids[q * k + j] != want[j] || sc[q * k + j] != wsc[j];
    }
    free(base), free(qs), free(ids), free(sc);
    ASSERT_EQ_INT(bad, 0);
}

TEST(flat_duplicate_rows_keep_smaller_id_first)
{
    float base[5 * 2] = {1, 0, 0, 1, 1, 0, 1, 0, 0.5f, 0};
    float q[2] = {1, 0};
    int32_t ids[4];
    float sc[4];
    ASSERT_OK(br_flat_topk(base, 5, 2, q, 1, 4, NULL, ids, sc));
    ASSERT_EQ_INT(ids[0], 0);
    ASSERT_EQ_INT(ids[1], 2);
    ASSERT_EQ_INT(ids[2], 3);
    ASSERT_EQ_INT(ids[3], 4);
    ASSERT_NEAR(sc[3], 0.5, 0);
}

TEST(flat_k_above_n_is_padded)
{
    float base[3 * 2] = {1, 0, 0, 1, 1, 1};
    float q[2] = {1, 2};
    int32_t ids[5];
    float sc[5];
    ASSERT_OK(br_flat_topk(base, 3, 2, q, 1, 5, NULL, ids, sc));
    ASSERT_EQ_INT(ids[0], 2);
    ASSERT_EQ_INT(ids[1], 1);
    ASSERT_EQ_INT(ids[2], 0);
    ASSERT_EQ_INT(ids[3], -1);
    ASSERT_EQ_INT(ids[4], -1);
    ASSERT_TRUE(isinf(sc[4]) && sc[4] < 0);
    /* An empty base: all padding. */
    ASSERT_OK(br_flat_topk(NULL, 0, 2, q, 1, 2, NULL, ids, sc));
    ASSERT_EQ_INT(ids[0], -1);
    ASSERT_EQ_INT(ids[1], -1);
}

TEST(flat_exclusions_and_allow)
{
    size_t n = 2000, dim = 8, nq = 70, k = 12;
    float *base = int_vectors(n, dim, 3), *qs = int_vectors(nq, dim, 4);
    int64_t *ptr = malloc((nq + 1) * sizeof *ptr);
    int32_t *idx = malloc(nq * 40 * sizeof *idx);
    uint8_t *allow = malloc(n);
    uint64_t s = 9;
    for (size_t i = 0; i < n; i++)
        allow[i] = (vg_next(&s) % 4) != 0;
    ptr[0] = 0;
    for (size_t q = 0; q < nq; q++) {
        /* Exclude the query's own top 20 (so exclusions matter), a duplicate, and ids out of
         * range (ignored). */
        int32_t top[20];
        float tsc[20];
        naive_topk(base, n, dim, qs + q * dim, 20, NULL, 0, NULL, top, tsc);
        size_t m = (size_t)ptr[q];
        for (size_t j = 0; j < 20; j += 1 + (q % 3))
            idx[m++] = top[j];
        idx[m++] = top[0];
        idx[m++] = -5;
        idx[m++] = (int32_t)n + 7;
        ptr[q + 1] = (int64_t)m;
    }
    br_flat_exclude ex = {ptr, idx};
    br_flat_opts o = {.exclude = &ex, .allow = allow, .threads = 2};
    int32_t *ids = malloc(nq * k * sizeof *ids), want[12];
    float *sc = malloc(nq * k * sizeof *sc), wsc[12];
    ASSERT_OK(br_flat_topk(base, n, dim, qs, nq, k, &o, ids, sc));
    int bad = 0;
    for (size_t q = 0; q < nq && !bad; q++) {
        naive_topk(base, n, dim, qs + q * dim, k, idx + ptr[q], (size_t)(ptr[q + 1] - ptr[q]),
                   allow, want, wsc);
        for (size_t j = 0; j < k; j++)
            bad |= ids[q * k + j] != want[j];
    }
    free(base), free(qs), free(ptr), free(idx), free(allow), free(ids), free(sc);
    ASSERT_EQ_INT(bad, 0);
}

TEST(flat_results_do_not_depend_on_threads)
{
    size_t n = 5000, dim = 24, nq = 300, k = 10;
    float *base = malloc(n * dim * sizeof *base), *qs = malloc(nq * dim * sizeof *qs);
    vg_mixture(base, n, dim, 30, 0.5f, 5);
    vg_mixture(qs, nq, dim, 30, 0.5f, 6);
    int32_t *a = malloc(nq * k * sizeof *a), *b = malloc(nq * k * sizeof *b);
    float *sa = malloc(nq * k * sizeof *sa), *sb = malloc(nq * k * sizeof *sb);
    br_flat_opts o1 = {.threads = 1}, o2 = {.threads = 2};
    ASSERT_OK(br_flat_topk(base, n, dim, qs, nq, k, &o1, a, sa));
    ASSERT_OK(br_flat_topk(base, n, dim, qs, nq, k, &o2, b, sb));
    ASSERT_EQ_INT(memcmp(a, b, nq * k * sizeof *a), 0);
    ASSERT_EQ_INT(memcmp(sa, sb, nq * k * sizeof *sa), 0);
    /* And the scores are the inner products, best first. */
    int bad = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t j = 0; j < k; j++) {
            float want = vg_dot(base + (size_t)a[q * k + j] * dim, qs + q * dim, dim);
            bad |= fabsf(want - sa[q * k + j]) > 1e-4f * (1 + fabsf(want));
            bad |= j > 0 && sa[q * k + j] > sa[q * k + j - 1];
        }
    free(base), free(qs), free(a), free(b), free(sa), free(sb);
    ASSERT_EQ_INT(bad, 0);
}

TEST(flat_large_k_and_null_scores)
{
    size_t n = 3000, dim = 4, k = 2500;
    float *base = int_vectors(n, dim, 7), q[4] = {1, -1, 2, 0};
    int32_t *ids = malloc(k * sizeof *ids);
    ASSERT_OK(br_flat_topk(base, n, dim, q, 1, k, NULL, ids, NULL));
    uint8_t *seen = calloc(n, 1);
    int bad = 0;
    for (size_t j = 0; j < k; j++) {
        bad |= ids[j] < 0 || seen[ids[j]];
        if (ids[j] >= 0)
            seen[ids[j]] = 1;
        if (j > 0 && ids[j] >= 0 && ids[j - 1] >= 0) {
            float s0 = vg_dot(base + (size_t)ids[j - 1] * dim, q, dim);
            float s1 = vg_dot(base + (size_t)ids[j] * dim, q, dim);
            bad |= s1 > s0 || (s1 == s0 && ids[j] < ids[j - 1]);
        }
    }
    free(base), free(ids), free(seen);
    ASSERT_EQ_INT(bad, 0);
}

TEST(flat_nan_rows_never_returned)
{
    float base[3 * 2] = {NAN, 1, 1, 0, 0, 1};
    float q[2] = {1, 1};
    int32_t ids[3];
    float sc[3];
    ASSERT_OK(br_flat_topk(base, 3, 2, q, 1, 3, NULL, ids, sc));
    ASSERT_EQ_INT(ids[0], 1);
    ASSERT_EQ_INT(ids[1], 2);
    ASSERT_EQ_INT(ids[2], -1);
}

TEST(flat_errors)
{
    float base[4] = {1, 0, 0, 1}, q[2] = {1, 0};
    int32_t ids[2];
    ASSERT_EQ_INT(br_flat_topk(NULL, 2, 2, q, 1, 1, NULL, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_flat_topk(base, 2, 2, NULL, 1, 1, NULL, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_flat_topk(base, 2, 0, q, 1, 1, NULL, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_flat_topk(base, 2, 2, q, 1, 0, NULL, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_flat_topk(base, 2, 2, q, 1, 1, NULL, NULL, NULL), BR_EINVAL);
    int64_t bad_ptr[2] = {3, 1};
    int32_t idx[3] = {0, 0, 0};
    br_flat_exclude ex = {bad_ptr, idx};
    br_flat_opts o = {.exclude = &ex};
    ASSERT_EQ_INT(br_flat_topk(base, 2, 2, q, 1, 1, &o, ids, NULL), BR_EINVAL);
    br_flat_exclude ex_null = {NULL, idx};
    o.exclude = &ex_null;
    ASSERT_EQ_INT(br_flat_topk(base, 2, 2, q, 1, 1, &o, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_flat_topk(base, (size_t)INT32_MAX + 1, 2, q, 1, 1, NULL, ids, NULL),
                  BR_ELIMIT);
    ASSERT_OK(br_flat_topk(base, 2, 2, q, 0, 1, NULL, ids, NULL)); /* no queries: nothing */
}

TEST(normalize_rows_unit_and_zero)
{
    float x[3 * 3] = {3, 4, 0, 0, 0, 0, -1, 1, 1};
    br_normalize_rows(x, 3, 3);
    ASSERT_NEAR(x[0], 0.6, 1e-7);
    ASSERT_NEAR(x[1], 0.8, 1e-7);
    ASSERT_NEAR(x[3] + x[4] + x[5], 0, 0);
    ASSERT_NEAR(vg_dot(x + 6, x + 6, 3), 1.0, 1e-6);
}
