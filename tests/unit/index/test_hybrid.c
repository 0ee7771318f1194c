/* Tests of lib/index/hybrid.c: the blended score equals w*cos_s + (1-w)*cos_a (the identity
 * proved in docs/indexes.md), exact search against a naive scan, approximate recall at
 * every w, books without an ALS (or subject) vector, filters, save/open, error paths. */
#include "harness.h"
#include "vecgen.h"

#include "bookrec/error.h"
#include "bookrec/hybrid.h"

#include <stdio.h>
#include <stdlib.h>

#define DS 12
#define DA 10

static const double g_ws[5] = {0, 0.25, 0.5, 0.75, 1};

/* n books: subject and ALS from two correlated mixtures; every 7th book has no ALS vector,
 * every 23rd no subject vector (book 0 has both). */
static void make_books(size_t n, float **subj, float **als, uint64_t seed)
{
    *subj = malloc(n * DS * sizeof **subj);
    *als = malloc(n * DA * sizeof **als);
    vg_mixture(*subj, n, DS, 20, 1.0f, seed);
    vg_mixture(*als, n, DA, 20, 1.0f, seed + 1);
    for (size_t i = 1; i < n; i++) {
        if (i % 7 == 0)
            memset(*als + i * DA, 0, DA * sizeof **als);
        if (i % 23 == 0)
            memset(*subj + i * DS, 0, DS * sizeof **subj);
    }
}

static double cosine(const float *a, const float *b, size_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t j = 0; j < d; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static int nonzero(const float *v, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (v[j] != 0)
            return 1;
    return 0;
}

/* The rules of hybrid.h, written out plainly: naive top k for book q at w. */
static void naive_similar(const float *subj, const float *als, size_t n, size_t q, double w,
                          size_t k, int32_t *ids, double *sc)
{
    int qs = nonzero(subj + q * DS, DS) && w > 0, qa = nonzero(als + q * DA, DA) && w < 1;
    for (size_t j = 0; j < k; j++) {
        ids[j] = -1;
        sc[j] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        int bs = nonzero(subj + i * DS, DS), ba = nonzero(als + i * DA, DA);
        if (i == q || !((qs && bs) || (qa && ba)))
            continue;
        double s = w * cosine(subj + q * DS, subj + i * DS, DS) +
                   (1 - w) * cosine(als + q * DA, als + i * DA, DA);
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

static br_hybrid *build(const float *subj, const float *als, size_t n)
{
    br_hybrid_params p;
    br_hybrid_params_default(&p);
    p.hnsw.M = 12;
    p.hnsw.ef_construction = 100;
    br_hybrid *hy = NULL;
    if (br_hybrid_build(subj, DS, als, DA, n, NULL, &p, &hy) != 0)
        return NULL;
    return hy;
}

TEST(hybrid_score_is_the_blend)
{
    size_t n = 200;
    float *subj, *als;
    make_books(n, &subj, &als, 31);
    br_hybrid *hy = build(subj, als, n);
    ASSERT_TRUE(hy != NULL);
    double worst = 0;
    uint64_t s = 1;
    for (int t = 0; t < 500; t++) {
        int32_t a = (int32_t)(vg_next(&s) % n), b = (int32_t)(vg_next(&s) % n);
        double w = vg_unif(&s);
        float got;
        ASSERT_OK(br_hybrid_score(hy, a, b, w, &got));
        double want = w * cosine(subj + a * DS, subj + b * DS, DS) +
                      (1 - w) * cosine(als + a * DA, als + b * DA, DA);
        worst = fmax(worst, fabs(got - want));
    }
    ASSERT_NEAR(worst, 0, 2e-6);
    ASSERT_EQ_INT(br_hybrid_has_als(hy, 7), 0);
    ASSERT_EQ_INT(br_hybrid_has_als(hy, 8), 1);
    ASSERT_EQ_INT(br_hybrid_has_subject(hy, 23), 0);
    ASSERT_EQ_INT(br_hybrid_has_subject(hy, 999), 0);
    br_hybrid_free(hy);
    free(subj), free(als);
}

TEST(hybrid_exact_matches_naive_at_every_w)
{
    size_t n = 600, k = 10, nq = 40;
    float *subj, *als;
    make_books(n, &subj, &als, 41);
    br_hybrid *hy = build(subj, als, n);
    ASSERT_TRUE(hy != NULL);
    int32_t *labels = malloc(nq * sizeof *labels), *ids = malloc(nq * k * sizeof *ids), want[10];
    float *sc = malloc(nq * k * sizeof *sc);
    double wsc[10];
    for (size_t q = 0; q < nq; q++)
        labels[q] = (int32_t)(q * 14); /* includes books without ALS (multiples of 7) */
    int bad = 0;
    for (int wi = 0; wi < 5; wi++) {
        br_hybrid_query_opts o = {.w = g_ws[wi], .exact = 1, .threads = 2};
        ASSERT_OK(br_hybrid_similar_batch(hy, labels, nq, k, &o, ids, sc));
        for (size_t q = 0; q < nq; q++) {
            naive_similar(subj, als, n, (size_t)labels[q], g_ws[wi], k, want, wsc);
            for (size_t j = 0; j < k; j++) {
                /* Same scores in the same order; ids agree unless two scores nearly tie. */
                if (want[j] < 0 || ids[q * k + j] < 0) {
                    bad |= want[j] != ids[q * k + j];
                    continue;
                }
                bad |= fabs(sc[q * k + j] - wsc[j]) > 2e-6;
                int near_tie = (j > 0 && fabs(wsc[j] - wsc[j - 1]) < 1e-5) ||
                               (j + 1 < k && fabs(wsc[j] - wsc[j + 1]) < 1e-5);
                bad |= !near_tie && ids[q * k + j] != want[j];
            }
        }
        if (bad) {
            fprintf(stderr, "    mismatch at w = %.2f\n", g_ws[wi]);
            break;
        }
    }
    /* The single-query call agrees with the batch. */
    int32_t one[10];
    br_hybrid_query_opts o = {.w = 1, .exact = 1};
    ASSERT_OK(br_hybrid_similar(hy, labels[3], k, &o, one, NULL));
    ASSERT_EQ_INT(memcmp(one, ids + 3 * k, sizeof one), 0);
    br_hybrid_free(hy);
    free(subj), free(als), free(labels), free(ids), free(sc);
    ASSERT_EQ_INT(bad, 0);
}

TEST(hybrid_approximate_recall_at_every_w)
{
    size_t n = 5000, k = 10, nq = 200;
    float *subj, *als;
    make_books(n, &subj, &als, 51);
    br_hybrid *hy = build(subj, als, n);
    ASSERT_TRUE(hy != NULL);
    int32_t *labels = malloc(nq * sizeof *labels), *want = malloc(nq * k * sizeof *want),
            *got = malloc(nq * k * sizeof *got);
    for (size_t q = 0; q < nq; q++)
        labels[q] = (int32_t)(q * 25 + 1);
    for (int wi = 0; wi < 5; wi++) {
        br_hybrid_query_opts ex = {.w = g_ws[wi], .exact = 1};
        br_hybrid_query_opts ap = {.w = g_ws[wi]}; /* default ef */
        ASSERT_OK(br_hybrid_similar_batch(hy, labels, nq, k, &ex, want, NULL));
        ASSERT_OK(br_hybrid_similar_batch(hy, labels, nq, k, &ap, got, NULL));
        double r = vg_recall(got, want, nq, k);
        if (r < 0.95)
            fprintf(stderr, "    w = %.2f: recall %.3f\n", g_ws[wi], r);
        ASSERT_CMP_INT((int)(r * 1000), >=, 950);
    }
    br_hybrid_free(hy);
    free(subj), free(als), free(labels), free(want), free(got);
}

TEST(hybrid_books_without_als_vector)
{
    size_t n = 300, k = 299;
    float *subj, *als;
    make_books(n, &subj, &als, 61);
    br_hybrid *hy = build(subj, als, n);
    ASSERT_TRUE(hy != NULL);
    int32_t *ids = malloc(k * sizeof *ids), *ids1 = malloc(k * sizeof *ids1);
    float *sc = malloc(k * sizeof *sc), *sc1 = malloc(k * sizeof *sc1);
    for (int exact = 0; exact <= 1; exact++) {
        /* w = 0 from a book with ALS: no book without an ALS vector comes back. */
        br_hybrid_query_opts o = {.w = 0, .exact = exact, .ef = 400};
        ASSERT_OK(br_hybrid_similar(hy, 1, k, &o, ids, sc));
        size_t got = 0;
        for (size_t j = 0; j < k && ids[j] >= 0; j++, got++)
            ASSERT_EQ_INT(br_hybrid_has_als(hy, ids[j]), 1);
        ASSERT_EQ_INT(got, n - 1 - (n - 1) / 7); /* every other book with an ALS vector */
        /* w = 1: books without ALS compete on subjects; those without subjects do not. */
        o.w = 1;
        ASSERT_OK(br_hybrid_similar(hy, 1, k, &o, ids, sc));
        int saw_no_als = 0;
        for (size_t j = 0; j < k && ids[j] >= 0; j++) {
            saw_no_als |= !br_hybrid_has_als(hy, ids[j]);
            ASSERT_EQ_INT(br_hybrid_has_subject(hy, ids[j]), 1);
        }
        ASSERT_TRUE(saw_no_als);
        /* A query book without ALS (7): nothing at w = 0; at w = 0.5 the ranking of w = 1
         * with halved scores. */
        o.w = 0;
        ASSERT_OK(br_hybrid_similar(hy, 7, k, &o, ids, sc));
        ASSERT_EQ_INT(ids[0], -1);
        o.w = 1;
        ASSERT_OK(br_hybrid_similar(hy, 7, 20, &o, ids1, sc1));
        o.w = 0.5;
        ASSERT_OK(br_hybrid_similar(hy, 7, 20, &o, ids, sc));
        if (exact) {
            ASSERT_EQ_INT(memcmp(ids, ids1, 20 * sizeof *ids), 0);
            for (size_t j = 0; j < 20; j++)
                ASSERT_NEAR(sc[j], 0.5 * sc1[j], 1e-6);
        }
    }
    br_hybrid_free(hy);
    free(subj), free(als), free(ids), free(ids1), free(sc), free(sc1);
}

TEST(hybrid_search_by_vectors_filters_and_exclusions)
{
    size_t n = 800, k = 10;
    float *subj, *als;
    make_books(n, &subj, &als, 71);
    br_hybrid *hy = build(subj, als, n);
    ASSERT_TRUE(hy != NULL);
    int32_t ids[10];
    float sc[10];
    /* A book's own raw vectors find it first with score 1 at any w. */
    for (int wi = 0; wi < 5; wi++)
        for (int exact = 0; exact <= 1; exact++) {
            br_hybrid_query_opts o = {.w = g_ws[wi], .exact = exact};
            ASSERT_OK(br_hybrid_search(hy, subj + 5 * DS, als + 5 * DA, k, &o, ids, sc));
            ASSERT_EQ_INT(ids[0], 5);
            ASSERT_NEAR(sc[0], 1.0, 1e-5);
        }
    /* Absent halves: NULL query vectors. */
    br_hybrid_query_opts o = {.w = 0.5, .exact = 1};
    ASSERT_OK(br_hybrid_search(hy, NULL, als + 5 * DA, k, &o, ids, sc));
    ASSERT_EQ_INT(ids[0], 5);
    ASSERT_NEAR(sc[0], 0.5, 1e-5);
    ASSERT_OK(br_hybrid_search(hy, NULL, NULL, k, &o, ids, sc));
    ASSERT_EQ_INT(ids[0], -1);
    /* Exclusions and allow, single and batch, exact and approximate. */
    uint8_t *allow = malloc(n);
    for (size_t i = 0; i < n; i++)
        allow[i] = i % 3 != 0;
    int32_t excl[3] = {2, 4, 8};
    int64_t ptr[3] = {0, 3, 3};
    br_flat_exclude ex = {ptr, excl};
    int32_t labels[2] = {1, 10}, bids[20];
    for (int exact = 0; exact <= 1; exact++) {
        br_hybrid_query_opts f = {.w = 0.5, .exact = exact, .exclude = excl, .n_exclude = 3,
                                  .allow = allow};
        ASSERT_OK(br_hybrid_search(hy, subj + 2 * DS, als + 2 * DA, k, &f, ids, NULL));
        for (size_t j = 0; j < k; j++)
            ASSERT_TRUE(ids[j] >= 0 && allow[ids[j]] && ids[j] != 2 && ids[j] != 4 &&
                        ids[j] != 8);
        f.exclude = NULL;
        f.n_exclude = 0;
        f.exclude_batch = &ex;
        ASSERT_OK(br_hybrid_similar_batch(hy, labels, 2, k, &f, bids, NULL));
        for (size_t j = 0; j < 2 * k; j++)
            ASSERT_TRUE(bids[j] >= 0 && allow[bids[j]] && bids[j] != labels[j / k] &&
                        (j >= k || (bids[j] != 2 && bids[j] != 4 && bids[j] != 8)));
    }
    free(allow);
    br_hybrid_free(hy);
    free(subj), free(als);
}

TEST(hybrid_save_open_round_trip)
{
    size_t n = 1000, k = 10;
    float *subj, *als;
    make_books(n, &subj, &als, 81);
    br_hybrid *hy = build(subj, als, n), *g;
    ASSERT_TRUE(hy != NULL);
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/h.hnsw", br_test_tmpdir());
    ASSERT_OK(br_hybrid_save(hy, path));
    ASSERT_OK(br_hybrid_open(path, err, sizeof err, &g));
    ASSERT_EQ_INT(br_hybrid_size(g), n);
    ASSERT_EQ_INT(br_hybrid_label_bound(g), n);
    ASSERT_EQ_INT(br_hybrid_has_als(g, 14), 0);
    ASSERT_EQ_INT(br_hybrid_has_als(g, 15), 1);
    int32_t a[10], b[10];
    br_hybrid_query_opts o = {.w = 0.3};
    ASSERT_OK(br_hybrid_similar(hy, 12, k, &o, a, NULL));
    ASSERT_OK(br_hybrid_similar(g, 12, k, &o, b, NULL));
    ASSERT_EQ_INT(memcmp(a, b, sizeof a), 0);
    ASSERT_EQ_INT(br_hnsw_split_dim(br_hybrid_index(g)), DS);
    br_hybrid_free(g);
    /* A plain HNSW index is not a hybrid one. */
    br_hnsw *h;
    ASSERT_OK(br_hnsw_build(subj, n, DS, NULL, NULL, &h));
    ASSERT_OK(br_hnsw_save(h, path));
    br_hnsw_free(h);
    ASSERT_EQ_INT(br_hybrid_open(path, err, sizeof err, &g), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "not a hybrid") != NULL);
    br_hybrid_free(hy);
    free(subj), free(als);
}

TEST(hybrid_errors)
{
    size_t n = 50;
    float *subj, *als;
    make_books(n, &subj, &als, 91);
    br_hybrid *hy = NULL;
    ASSERT_EQ_INT(br_hybrid_build(NULL, DS, NULL, DA, n, NULL, NULL, &hy), BR_EINVAL);
    ASSERT_EQ_INT(br_hybrid_build(subj, 0, als, DA, n, NULL, NULL, &hy), BR_EINVAL);
    ASSERT_EQ_INT(br_hybrid_build(subj, 4000, als, 200, n, NULL, NULL, &hy), BR_ELIMIT);
    ASSERT_OK(br_hybrid_build(subj, DS, NULL, DA, n, NULL, NULL, &hy)); /* no ALS at all */
    ASSERT_EQ_INT(br_hybrid_has_als(hy, 1), 0);
    int32_t ids[4];
    br_hybrid_query_opts o = {.w = -0.1};
    ASSERT_EQ_INT(br_hybrid_similar(hy, 1, 4, &o, ids, NULL), BR_EINVAL);
    o.w = 1.5;
    ASSERT_EQ_INT(br_hybrid_similar(hy, 1, 4, &o, ids, NULL), BR_EINVAL);
    o.w = NAN;
    ASSERT_EQ_INT(br_hybrid_similar(hy, 1, 4, &o, ids, NULL), BR_EINVAL);
    o.w = 0.5;
    ASSERT_EQ_INT(br_hybrid_similar(hy, 1, 0, &o, ids, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_hybrid_similar(hy, 77, 4, &o, ids, NULL), BR_ENOENT);
    ASSERT_EQ_INT(br_hybrid_similar(hy, 1, 4, NULL, ids, NULL), BR_EINVAL);
    int32_t labels[2] = {1, 999};
    int32_t bids[8];
    ASSERT_OK(br_hybrid_similar_batch(hy, labels, 2, 4, &o, bids, NULL));
    ASSERT_EQ_INT(bids[4], -1); /* not indexed: a row of -1 */
    ASSERT_TRUE(bids[0] >= 0);
    float s;
    ASSERT_EQ_INT(br_hybrid_score(hy, 1, 999, 0.5, &s), BR_ENOENT);
    br_hybrid_free(hy);
    br_hybrid_free(NULL);
    free(subj), free(als);
}
