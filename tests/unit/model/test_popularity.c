/* Tests of lib/model/popularity.c: the Bayesian average by hand, count popularity, rankings
 * and top k with ties, held-out items, error paths. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/features.h"
#include "bookrec/popularity.h"

/* Item 0: 10, 10. Item 1: 8, 6, 7, 9, 5. Item 2: three implicit. Item 3: 2.
 * Item 4: two implicit (ties item 0 on count). Item 5: test only. */
static const br_interaction px[] = {
    {1, 0, 10, 0}, {2, 0, 10, 0}, {1, 1, 8, 0}, {2, 1, 6, 0},  {3, 1, 7, 0},
    {4, 1, 9, 0},  {5, 1, 5, 0},  {1, 2, 0, 0}, {2, 2, 0, 0},  {3, 2, 0, 0},
    {4, 3, 2, 0},  {1, 4, 0, 0},  {2, 4, 0, 0}, {3, 5, 10, 0},
};
#define PN (sizeof px / sizeof px[0])
static const uint8_t pf[PN] = {[13] = BR_FOLD_TEST};

TEST(popularity_bayes_by_hand)
{
    br_features *f;
    br_popularity *p;
    br_popularity_params pp;
    br_popularity_params_default(&pp);
    pp.m = 10.0; /* the hand computation below uses m = 10 (the default is 30) */
    ASSERT_OK(br_features_new(px, pf, PN, 0, 0, &f));
    ASSERT_OK(br_popularity_new(f, &pp, &p));
    ASSERT_EQ_INT(br_popularity_n_items(p), 6);
    /* C = (10+10 + 8+6+7+9+5 + 2) / 8 = 57 / 8 (the test 10 is not in it). */
    double C = 57.0 / 8.0;
    ASSERT_NEAR(br_popularity_prior(p), C, 1e-12);
    const double *b = br_popularity_bayes(p);
    ASSERT_NEAR(b[0], (2 * 10.0 + 10 * C) / (2 + 10), 1e-12); /* 7.6041.. */
    ASSERT_NEAR(b[1], (5 * 7.0 + 10 * C) / (5 + 10), 1e-12);  /* 7.0833.. */
    ASSERT_NEAR(b[2], C, 0);                                  /* no explicit rating */
    ASSERT_NEAR(b[3], (1 * 2.0 + 10 * C) / (1 + 10), 1e-12);  /* 6.6590.. */
    ASSERT_NEAR(b[5], C, 0);                                  /* no train at all */
    const uint32_t *c = br_popularity_count(p);
    ASSERT_EQ_INT(c[0], 2);
    ASSERT_EQ_INT(c[1], 5);
    ASSERT_EQ_INT(c[2], 3);
    ASSERT_EQ_INT(c[4], 2);
    ASSERT_EQ_INT(c[5], 0);

    /* Rankings exclude item 5 (no train interaction); ties by item id: items 2 and 4 have
     * the score C, items 0 and 4 the count 2. */
    size_t n;
    const int64_t *r = br_popularity_ranking(p, BR_POP_BAYES, &n);
    ASSERT_EQ_INT(n, 5);
    static const int64_t want_bayes[] = {0, 2, 4, 1, 3};
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(r[i], want_bayes[i]);
    r = br_popularity_ranking(p, BR_POP_COUNT, &n);
    static const int64_t want_count[] = {1, 2, 0, 4, 3};
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(r[i], want_count[i]);

    int64_t top[8];
    ASSERT_OK(br_popularity_top(p, BR_POP_COUNT, 2, top, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(top[0], 1);
    ASSERT_EQ_INT(top[1], 2);
    ASSERT_OK(br_popularity_top(p, BR_POP_BAYES, 8, top, &n));
    ASSERT_EQ_INT(n, 5);
    ASSERT_EQ_INT(top[4], 3);
    ASSERT_OK(br_popularity_top(p, BR_POP_BAYES, 0, NULL, &n));
    ASSERT_EQ_INT(n, 0);
    br_popularity_free(p);

    /* m = 0: the plain mean; an item without ratings still gets C. */
    pp.m = 0;
    ASSERT_OK(br_popularity_new(f, &pp, &p));
    b = br_popularity_bayes(p);
    ASSERT_NEAR(b[0], 10.0, 0);
    ASSERT_NEAR(b[1], 7.0, 0);
    ASSERT_NEAR(b[2], C, 0);
    ASSERT_NEAR(b[3], 2.0, 0);
    br_popularity_free(p);
    br_features_free(f);
}

TEST(popularity_implicit_only_and_errors)
{
    br_interaction x[3] = {{1, 0, 0, 0}, {2, 0, 0, 0}, {2, 1, 0, 0}};
    uint8_t fo[3] = {0, 0, 0};
    br_features *f;
    br_popularity *p;
    br_popularity_params pp;
    ASSERT_OK(br_features_new(x, fo, 3, 0, 0, &f));
    ASSERT_OK(br_popularity_new(f, NULL, &p));
    ASSERT_NEAR(br_popularity_prior(p), 0.0, 0); /* no explicit rating anywhere: C = 0 */
    ASSERT_NEAR(br_popularity_bayes(p)[0], 0.0, 0);
    int64_t top[2];
    size_t n;
    ASSERT_OK(br_popularity_top(p, BR_POP_COUNT, 2, top, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(top[0], 0);
    ASSERT_EQ_INT(br_popularity_top(p, (br_pop_kind)7, 2, top, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_popularity_top(p, BR_POP_COUNT, 2, NULL, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_popularity_top(NULL, BR_POP_COUNT, 2, top, &n), BR_EINVAL);
    br_popularity_free(p);
    br_popularity_free(NULL);

    pp.m = -1;
    ASSERT_EQ_INT(br_popularity_new(f, &pp, &p), BR_EINVAL);
    pp.m = NAN;
    ASSERT_EQ_INT(br_popularity_new(f, &pp, &p), BR_EINVAL);
    ASSERT_EQ_INT(br_popularity_new(NULL, NULL, &p), BR_EINVAL);
    ASSERT_EQ_INT(br_popularity_new(f, NULL, NULL), BR_EINVAL);
    br_features_free(f);
}

TEST(popularity_score_is_log_count_or_bayes)
{
    br_interaction x[] = {{1, 0, 8, 0}, {2, 0, 0, 0}, {3, 0, 6, 0}, {1, 1, 10, 0}};
    uint8_t fold[] = {BR_FOLD_TRAIN, BR_FOLD_TRAIN, BR_FOLD_TRAIN, BR_FOLD_TRAIN};
    br_features *f;
    br_popularity *p;
    br_popularity_params pp;
    br_popularity_params_default(&pp);
    ASSERT_NEAR(pp.m, 30, 0);
    ASSERT_OK(br_features_new(x, fold, 4, 0, 0, &f));
    ASSERT_OK(br_popularity_new(f, &pp, &p));
    ASSERT_NEAR(br_popularity_score(p, BR_POP_COUNT, 0), log(4.0), 1e-12);
    ASSERT_NEAR(br_popularity_score(p, BR_POP_COUNT, 1), log(2.0), 1e-12);
    ASSERT_NEAR(br_popularity_score(p, BR_POP_BAYES, 1), br_popularity_bayes(p)[1], 0);
    ASSERT_NEAR(br_popularity_score(p, BR_POP_COUNT, 99), 0, 0);
    br_popularity_free(p);
    br_features_free(f);
}
