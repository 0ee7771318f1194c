/* Tests of lib/model/recommend.c on small hand-made vectors. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/recommend.h"

/* 5 items, 2 dims. */
static const float V[] = {1, 0, 0.9f, 0.1f, 0, 1, -1, 0, 0.5f, 0.5f};

TEST(rec_warm_ranks_excludes_and_filters)
{
    float u[] = {1, 0};
    int32_t ids[5], ex[] = {0};
    float sc[5];
    size_t n;
    ASSERT_OK(br_rec_warm(V, 5, 2, u, NULL, 3, ids, sc, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(ids[0], 0);
    ASSERT_EQ_INT(ids[1], 1);
    ASSERT_EQ_INT(ids[2], 4);
    uint8_t allow[] = {1, 0, 1, 1, 1};
    br_rec_filter f = {allow, ex, 1};
    ASSERT_OK(br_rec_warm(V, 5, 2, u, &f, 5, ids, sc, &n));
    ASSERT_EQ_INT(n, 3); /* 0 excluded, 1 not allowed */
    ASSERT_EQ_INT(ids[0], 4);
    ASSERT_EQ_INT(ids[1], 2); /* score 0: tie with nothing; then -1 */
    ASSERT_EQ_INT(ids[2], 3);
    ASSERT_EQ_INT(br_rec_warm(V, 5, 2, u, NULL, 0, ids, sc, &n), BR_EINVAL);
}

TEST(rec_cold_blend_moves_with_a)
{
    /* Unit subject vectors; item 3 has none. */
    const float B[] = {1, 0, 0, 1, 0.7071068f, 0.7071068f, 0, 0};
    const uint8_t has[] = {1, 1, 1, 0};
    const double prior[] = {0, 10, 5, 100};
    float u[] = {2, 0};
    int32_t ids[4];
    float sc[4];
    size_t n;
    ASSERT_OK(br_rec_cold(B, has, 4, 2, u, prior, 1.0, NULL, 3, ids, sc, &n));
    ASSERT_EQ_INT(n, 3); /* item 3 has no subject vector */
    ASSERT_EQ_INT(ids[0], 0);
    ASSERT_EQ_INT(ids[1], 2);
    ASSERT_NEAR(sc[0], 1.0, 1e-6);
    ASSERT_OK(br_rec_cold(B, has, 4, 2, u, prior, 0.0, NULL, 3, ids, sc, &n));
    ASSERT_EQ_INT(ids[0], 1); /* pure prior */
    ASSERT_OK(br_rec_cold(B, has, 4, 2, u, prior, 0.5, NULL, 3, ids, sc, &n));
    /* item 0: .5*1 + .5*0 = .5; item 1: .5*0 + .5*1 = .5 (tie -> id 0); item 2: .5*.7071+.25 */
    ASSERT_EQ_INT(ids[0], 2);
    ASSERT_NEAR(sc[0], 0.5 * 0.7071068 + 0.25, 1e-6);
    ASSERT_EQ_INT(ids[1], 0);
    float zero[] = {0, 0};
    ASSERT_EQ_INT(br_rec_cold(B, has, 4, 2, zero, prior, 0.5, NULL, 3, ids, sc, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_rec_cold(B, has, 4, 2, u, prior, 1.5, NULL, 3, ids, sc, &n), BR_EINVAL);
}

TEST(rec_similar_modes_and_missing_vectors)
{
    /* ALS unit vectors (item 2 has none) and subject unit vectors (item 0 has none). */
    const float A[] = {1, 0, 0.6f, 0.8f, 0, 0, 0, 1};
    const float S[] = {0, 0, 1, 0, 0, 1, 1, 0};
    int32_t ids[4];
    float sc[4];
    size_t n;
    ASSERT_OK(br_rec_similar(BR_SIM_ALS, A, 2, S, 2, 4, 0, 0, NULL, 3, ids, sc, &n));
    ASSERT_EQ_INT(ids[0], 1); /* cos .6 */
    ASSERT_EQ_INT(br_rec_similar(BR_SIM_SUBJECT, A, 2, S, 2, 4, 0, 0, NULL, 3, ids, sc, &n),
                  BR_ENOENT);
    /* Hybrid from item 1: w=.5: item 3 = .5*1 + .5*.8 = .9; item 0 = .5*0 + .5*.6 = .3;
     * item 2 (no ALS vector) = .5*0 + 0 = 0. */
    ASSERT_OK(br_rec_similar(BR_SIM_HYBRID, A, 2, S, 2, 4, 1, 0.5, NULL, 3, ids, sc, &n));
    ASSERT_EQ_INT(ids[0], 3);
    ASSERT_NEAR(sc[0], 0.9, 1e-6);
    ASSERT_EQ_INT(ids[1], 0);
    ASSERT_EQ_INT(ids[2], 2);
    ASSERT_EQ_INT(br_rec_similar(BR_SIM_HYBRID, A, 2, S, 2, 4, 1, 2, NULL, 3, ids, sc, &n),
                  BR_EINVAL);
}

TEST(rec_popular_orders_by_prior)
{
    const double prior[] = {3, 9, 9, 1};
    int32_t ids[4];
    size_t n;
    ASSERT_OK(br_rec_popular(prior, 4, NULL, 2, ids, NULL, &n));
    ASSERT_EQ_INT(ids[0], 1);
    ASSERT_EQ_INT(ids[1], 2);
}
