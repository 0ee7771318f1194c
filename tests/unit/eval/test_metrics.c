/* Tests of lib/eval/metrics.c: each metric by hand on tiny lists (K beyond the list, truth
 * beyond K, perfect and empty lists), the per-user means, skipped users, coverage and mean
 * popularity, input validation, list helpers, the factor scorer (over the real br_flat_topk)
 * against a brute force kept here (train exclusions, id maps, allow mask, batches), and the
 * report JSON. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/metrics.h"

#include <stdlib.h>

/* log2 discounts, by hand: 1/log2(2) = 1, 1/log2(3), 1/log2(4) = 0.5, 1/log2(6). */
#define D2 0.63092975357145743710
#define D5 0.38685280723454158687

TEST(metrics_user_by_hand)
{
    static const int32_t ranked[] = {1, 2, 3, 4, 5};
    static const int32_t truth[] = {2, 5, 9};
    double m[BR_METRIC_COUNT];

    /* K = 5: hits at ranks 2 and 5. */
    ASSERT_OK(br_metrics_user(ranked, 5, truth, 3, 5, m));
    ASSERT_NEAR(m[BR_METRIC_RECALL], 2.0 / 3.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_PRECISION], 2.0 / 5.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_HIT_RATE], 1.0, 0);
    /* DCG = 1/log2(3) + 1/log2(6); IDCG over min(5, 3) = 3 ranks = 1 + 1/log2(3) + 1/2. */
    ASSERT_NEAR(m[BR_METRIC_NDCG], (D2 + D5) / (1 + D2 + 0.5), 1e-15);
    ASSERT_NEAR(m[BR_METRIC_NDCG], 0.4776237035032179, 1e-15);
    /* AP = (1/2 + 2/5) / min(5, 3). */
    ASSERT_NEAR(m[BR_METRIC_MAP], 0.3, 1e-15);

    /* K = 3: only the hit at rank 2 counts; the ideal still has 3 ranks. */
    ASSERT_OK(br_metrics_user(ranked, 5, truth, 3, 3, m));
    ASSERT_NEAR(m[BR_METRIC_RECALL], 1.0 / 3.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_PRECISION], 1.0 / 3.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_NDCG], D2 / (1 + D2 + 0.5), 1e-15);
    ASSERT_NEAR(m[BR_METRIC_MAP], 0.5 / 3.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_HIT_RATE], 1.0, 0);

    /* K = 1: a miss at rank 1. */
    ASSERT_OK(br_metrics_user(ranked, 5, truth, 3, 1, m));
    for (int j = 0; j < BR_METRIC_COUNT; j++)
        ASSERT_NEAR(m[j], 0.0, 0);
}

TEST(metrics_user_k_beyond_list)
{
    static const int32_t ranked[] = {7, 3};
    static const int32_t truth[] = {3};
    double m[BR_METRIC_COUNT];

    /* K = 10 on a 2-item list: precision still divides by K. */
    ASSERT_OK(br_metrics_user(ranked, 2, truth, 1, 10, m));
    ASSERT_NEAR(m[BR_METRIC_RECALL], 1.0, 0);
    ASSERT_NEAR(m[BR_METRIC_PRECISION], 0.1, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_NDCG], D2, 1e-15); /* IDCG = 1 (one relevant item) */
    ASSERT_NEAR(m[BR_METRIC_MAP], 0.5, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_HIT_RATE], 1.0, 0);

    /* An empty list scores 0 everywhere. */
    ASSERT_OK(br_metrics_user(NULL, 0, truth, 1, 10, m));
    for (int j = 0; j < BR_METRIC_COUNT; j++)
        ASSERT_NEAR(m[j], 0.0, 0);
}

TEST(metrics_user_perfect_and_truth_beyond_k)
{
    static const int32_t ranked[] = {4, 2, 9};
    static const int32_t truth[] = {2, 4, 9};
    int32_t big_truth[20], top10[10];
    double m[BR_METRIC_COUNT];

    ASSERT_OK(br_metrics_user(ranked, 3, truth, 3, 3, m));
    for (int j = 0; j < BR_METRIC_COUNT; j++)
        ASSERT_NEAR(m[j], 1.0, 1e-15);
    /* At K = 10 only precision (3/10) falls: NDCG and MAP normalize by min(K, |T|). */
    ASSERT_OK(br_metrics_user(ranked, 3, truth, 3, 10, m));
    ASSERT_NEAR(m[BR_METRIC_PRECISION], 0.3, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_RECALL], 1.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_NDCG], 1.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_MAP], 1.0, 1e-15);

    /* 20 relevant items, the top 10 all relevant: recall 1/2, the rest 1. */
    for (int i = 0; i < 20; i++)
        big_truth[i] = i;
    for (int i = 0; i < 10; i++)
        top10[i] = 19 - i;
    ASSERT_OK(br_metrics_user(top10, 10, big_truth, 20, 10, m));
    ASSERT_NEAR(m[BR_METRIC_RECALL], 0.5, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_PRECISION], 1.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_NDCG], 1.0, 1e-15);
    ASSERT_NEAR(m[BR_METRIC_MAP], 1.0, 1e-15);

    /* Errors: empty truth, K 0, K over the limit. */
    ASSERT_EQ_INT(br_metrics_user(ranked, 3, truth, 0, 3, m), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_user(ranked, 3, truth, 3, 0, m), BR_EINVAL);
    ASSERT_EQ_INT(br_metrics_user(ranked, 3, truth, 3, BR_EVAL_MAX_K + 1, m), BR_EINVAL);
}

TEST(metrics_names)
{
    for (int m = 0; m < BR_METRIC_COUNT; m++)
        ASSERT_EQ_INT(br_metric_from_name(br_metric_name((enum br_metric)m)), m);
    ASSERT_EQ_STR(br_metric_name(BR_METRIC_HIT_RATE), "hit_rate");
    ASSERT_TRUE(br_metric_name(BR_METRIC_COUNT) == NULL);
    ASSERT_EQ_INT(br_metric_from_name("mrr"), BR_EINVAL);
    ASSERT_EQ_INT(br_metric_from_name(NULL), BR_EINVAL);
}

/* Three users: A (the 5-list above), B with an empty truth (skipped), C (the 2-list). */
static int64_t e_ptr[] = {0, 5, 7, 9};
static int32_t e_items[] = {1, 2, 3, 4, 5, 8, 9, 7, 3};
static int64_t t_ptr[] = {0, 3, 3, 4};
static int32_t t_items[] = {2, 5, 9, 3};
static const int64_t e_ids[] = {100, 200, 300};

TEST(eval_means_coverage_popularity)
{
    br_lists ranked = {3, e_ptr, e_items}, truth = {3, t_ptr, t_items};
    double pop[10];
    for (int i = 0; i < 10; i++)
        pop[i] = i;
    br_eval_opts o = {.k = 5, .n_items = 10, .popularity = pop, .user_ids = e_ids};
    br_eval *e;

    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &e));
    ASSERT_EQ_INT(br_eval_k(e), 5);
    ASSERT_EQ_INT(br_eval_users(e), 2);
    ASSERT_EQ_INT(br_eval_skipped(e), 1);
    ASSERT_EQ_INT(br_eval_user_ids(e)[0], 100);
    ASSERT_EQ_INT(br_eval_user_ids(e)[1], 300);
    /* A: recall 2/3, precision 2/5, NDCG 0.4776.., MAP 0.3; C at K = 5: 1, 1/5, D2, 1/2. */
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_RECALL), (2.0 / 3.0 + 1.0) / 2, 1e-15);
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_PRECISION), (0.4 + 0.2) / 2, 1e-15);
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_NDCG), (0.4776237035032179 + D2) / 2, 1e-15);
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_MAP), (0.3 + 0.5) / 2, 1e-15);
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_HIT_RATE), 1.0, 0);
    const double *pu = br_eval_per_user(e, BR_METRIC_RECALL);
    ASSERT_NEAR(pu[0], 2.0 / 3.0, 1e-15);
    ASSERT_NEAR(pu[1], 1.0, 0);
    ASSERT_TRUE(br_eval_per_user(e, BR_METRIC_COUNT) == NULL);
    /* Distinct items in A's and C's top 5: {1, 2, 3, 4, 5, 7}; B's 8 and 9 do not count. */
    ASSERT_NEAR(br_eval_coverage(e), 6.0 / 10.0, 1e-15);
    /* Popularity = item id: A's mean 3, C's mean 5. */
    ASSERT_NEAR(br_eval_mean_popularity(e), 4.0, 1e-15);
    br_eval_free(e);

    /* K = 1 (top 1 of A is 1, of C is 7), another candidate count, no popularity. */
    o = (br_eval_opts){.k = 1, .n_items = 10, .n_candidates = 4};
    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &e));
    ASSERT_NEAR(br_eval_coverage(e), 2.0 / 4.0, 1e-15);
    ASSERT_TRUE(isnan(br_eval_mean_popularity(e)));
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_HIT_RATE), 0.0, 0);
    ASSERT_EQ_INT(br_eval_user_ids(e)[1], 2); /* row numbers without user_ids */
    br_eval_free(e);
}

TEST(eval_all_truth_empty)
{
    int64_t p0[] = {0, 0, 0}, r_ptr[] = {0, 1, 1};
    int32_t r_items[] = {3};
    br_lists ranked = {2, r_ptr, r_items}, truth = {2, p0, NULL};
    br_eval_opts o = {.k = 10, .n_items = 5};
    br_eval *e;
    json_t *j;

    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &e));
    ASSERT_EQ_INT(br_eval_users(e), 0);
    ASSERT_EQ_INT(br_eval_skipped(e), 2);
    ASSERT_TRUE(isnan(br_eval_mean(e, BR_METRIC_NDCG)));
    ASSERT_NEAR(br_eval_coverage(e), 0.0, 0);
    /* The entry still exists, with nulls where there is nothing to average. */
    ASSERT_OK(br_eval_entry_json(e, "als", "warm", NULL, &j));
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "users")), 0);
    ASSERT_TRUE(json_is_null(json_object_get(j, "recall")));
    ASSERT_TRUE(json_is_null(json_array_get(json_object_get(j, "recall_ci"), 0)));
    json_decref(j);
    br_eval_free(e);
}

TEST(eval_rejects_bad_input)
{
    br_lists ranked = {3, e_ptr, e_items}, truth = {3, t_ptr, t_items};
    br_eval_opts o = {.k = 5, .n_items = 10};
    br_eval *e = (br_eval *)1;

    /* Item 9 is outside [0, 9). */
    o.n_items = 9;
    ASSERT_EQ_INT(br_eval_new(&ranked, &truth, &o, &e), BR_EINVAL);
    ASSERT_TRUE(e == NULL);
    o.n_items = 10;
    o.k = 0;
    ASSERT_EQ_INT(br_eval_new(&ranked, &truth, &o, &e), BR_EINVAL);
    o.k = 5;
    /* Unsorted truth. */
    int32_t bad_t[] = {5, 2, 9, 3};
    br_lists bt = {3, t_ptr, bad_t};
    ASSERT_EQ_INT(br_eval_new(&ranked, &bt, &o, &e), BR_EINVAL);
    /* Duplicate truth. */
    int32_t dup_t[] = {2, 2, 9, 3};
    bt.items = dup_t;
    ASSERT_EQ_INT(br_eval_new(&ranked, &bt, &o, &e), BR_EINVAL);
    /* A duplicate inside the top K is an error; beyond K it is never read. */
    int64_t rp[] = {0, 4, 4, 4};
    int32_t ri[] = {1, 2, 1, 4};
    br_lists r2 = {3, rp, ri};
    ASSERT_EQ_INT(br_eval_new(&r2, &truth, &o, &e), BR_EINVAL);
    o.k = 2;
    ASSERT_OK(br_eval_new(&r2, &truth, &o, &e));
    br_eval_free(e);
    o.k = 5;
    /* A negative id. */
    int32_t neg[] = {1, 2, 3, 4, -1, 8, 9, 7, 3};
    br_lists r3 = {3, e_ptr, neg};
    ASSERT_EQ_INT(br_eval_new(&r3, &truth, &o, &e), BR_EINVAL);
    /* Malformed ptr, and row counts that disagree. */
    int64_t dec[] = {0, 5, 4, 9};
    br_lists r4 = {3, dec, e_items};
    ASSERT_EQ_INT(br_eval_new(&r4, &truth, &o, &e), BR_EINVAL);
    br_lists r5 = {2, e_ptr, e_items};
    ASSERT_EQ_INT(br_eval_new(&r5, &truth, &o, &e), BR_EINVAL);
    /* A non-finite popularity. */
    double pop[10] = {0};
    pop[3] = NAN;
    o.popularity = pop;
    ASSERT_EQ_INT(br_eval_new(&ranked, &truth, &o, &e), BR_EINVAL);
    ASSERT_EQ_INT(br_eval_new(&ranked, &truth, NULL, &e), BR_EINVAL);
}

TEST(lists_matrix_and_gather)
{
    const int32_t m[] = {5, 3, -1, 2, -1, -1, -1, -1, -1};
    br_lists l, g;
    ASSERT_OK(br_lists_from_matrix(m, 3, 3, &l));
    ASSERT_EQ_INT(l.n, 3);
    ASSERT_EQ_INT(l.ptr[1], 2);
    ASSERT_EQ_INT(l.ptr[2], 3);
    ASSERT_EQ_INT(l.ptr[3], 3);
    ASSERT_EQ_INT(l.items[0], 5);
    ASSERT_EQ_INT(l.items[1], 3);
    ASSERT_EQ_INT(l.items[2], 2);

    const int64_t rows[] = {1, -1, 0, 0};
    ASSERT_OK(br_lists_gather(&l, rows, 4, &g));
    ASSERT_EQ_INT(g.n, 4);
    ASSERT_EQ_INT(g.ptr[1], 1);
    ASSERT_EQ_INT(g.ptr[2], 1); /* -1: empty */
    ASSERT_EQ_INT(g.ptr[4], 5);
    ASSERT_EQ_INT(g.items[0], 2);
    ASSERT_EQ_INT(g.items[1], 5);
    ASSERT_EQ_INT(g.items[4], 3);
    br_lists_free(&g);
    const int64_t bad[] = {3};
    ASSERT_EQ_INT(br_lists_gather(&l, bad, 1, &g), BR_EINVAL);
    br_lists_free(&l);
    br_lists_free(&l); /* freeing twice is harmless: the struct is zeroed */
    br_lists_free(NULL);
}

/* ---- Factor scorer ------------------------------------------------------------------- */

/* The reference: sort all allowed, non-excluded rows by score (double), ties by row. */
struct cand {
    double s;
    int32_t row;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Expected top k of query u into want (item ids), returns the length. */
static size_t brute(const float *U, const float *V, size_t n_v, size_t dim, int64_t u,
                    const int32_t *excl, size_t n_excl, const int32_t *item_ids,
                    const uint8_t *allow, size_t k, int32_t *want)
{
    struct cand *c = malloc(n_v * sizeof *c);
    size_t m = 0;
    for (size_t j = 0; j < n_v; j++) {
        int32_t id = item_ids ? item_ids[j] : (int32_t)j;
        int skip = allow && !allow[j];
        for (size_t e = 0; e < n_excl; e++)
            skip |= excl[e] == id;
        if (skip)
            continue;
        double s = 0;
        for (size_t d = 0; d < dim; d++)
            s += (double)U[(size_t)u * dim + d] * V[j * dim + d];
        c[m++] = (struct cand){s, (int32_t)j};
    }
    qsort(c, m, sizeof *c, cand_cmp);
    size_t len = m < k ? m : k;
    for (size_t i = 0; i < len; i++)
        want[i] = item_ids ? item_ids[c[i].row] : c[i].row;
    free(c);
    return len;
}

TEST(factor_topk_by_hand_excludes_train)
{
    /* 2-d factors: user 0 likes the x axis, user 1 the y axis. Item scores for user 0:
     * 5, 4, 3, 2, 1, 0; for user 1: 0, 1, 2, 3, 4, 5. */
    const float U[] = {1, 0, 0, 1};
    const float V[] = {5, 0, 4, 1, 3, 2, 2, 3, 1, 4, 0, 5};
    int64_t xp[] = {0, 2, 3};
    int32_t xi[] = {0, 2, 5}; /* user 0 read items 0 and 2; user 1 read item 5 */
    br_lists ex = {2, xp, xi}, out;
    br_factor_opts o = {.exclude = &ex};

    ASSERT_OK(br_factor_topk(U, 2, V, 6, 2, NULL, 2, 3, &o, &out));
    ASSERT_EQ_INT(out.n, 2);
    ASSERT_EQ_INT(out.ptr[1], 3);
    ASSERT_EQ_INT(out.ptr[2], 6);
    static const int32_t want[] = {1, 3, 4, 4, 3, 2};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_INT(out.items[i], want[i]);
    br_lists_free(&out);

    /* Without exclusions user 0 gets 0, 1, 2; k beyond the candidates gives shorter lists. */
    ASSERT_OK(br_factor_topk(U, 2, V, 6, 2, NULL, 2, 3, NULL, &out));
    ASSERT_EQ_INT(out.items[0], 0);
    ASSERT_EQ_INT(out.items[2], 2);
    br_lists_free(&out);
    int64_t one[] = {1};
    int64_t xp1[] = {0, 2};
    int32_t xi1[] = {5, 4};
    br_lists ex1 = {1, xp1, xi1};
    o.exclude = &ex1;
    ASSERT_OK(br_factor_topk(U, 2, V, 6, 2, one, 1, 10, &o, &out));
    ASSERT_EQ_INT(out.ptr[1], 4);
    ASSERT_EQ_INT(out.items[0], 3);
    ASSERT_EQ_INT(out.items[3], 0);
    br_lists_free(&out);

    /* Errors: a row outside U, exclusions of another length, duplicate item ids. */
    int64_t bad_row[] = {2};
    ASSERT_EQ_INT(br_factor_topk(U, 2, V, 6, 2, bad_row, 1, 3, NULL, &out), BR_EINVAL);
    o.exclude = &ex;
    ASSERT_EQ_INT(br_factor_topk(U, 2, V, 6, 2, one, 1, 3, &o, &out), BR_EINVAL);
    const int32_t dup_ids[] = {7, 8, 9, 7, 10, 11};
    br_factor_opts od = {.item_ids = dup_ids};
    ASSERT_EQ_INT(br_factor_topk(U, 2, V, 6, 2, NULL, 2, 3, &od, &out), BR_EINVAL);
    ASSERT_EQ_INT(br_factor_topk(U, 2, V, 6, 2, NULL, 2, 0, NULL, &out), BR_EINVAL);
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static float frand(uint64_t *s)
{
    return (float)((double)(rng(s) >> 11) * 0x1p-53 * 2 - 1);
}

TEST(factor_topk_matches_brute_force)
{
    enum { NU = 40, NV = 150, DIM = 8, K = 12, NQ = 25 };
    uint64_t s = 7;
    float *U = malloc(NU * DIM * sizeof *U), *V = malloc(NV * DIM * sizeof *V);
    int32_t ids[NV], want[K];
    uint8_t allow[NV];
    int64_t rows[NQ], xp[NQ + 1];
    int32_t *xi = malloc(NQ * 30 * sizeof *xi);
    for (int i = 0; i < NU * DIM; i++)
        U[i] = frand(&s);
    for (int i = 0; i < NV * DIM; i++)
        V[i] = frand(&s);
    /* External ids: a permutation of 1000 + 3j, so item ids differ from V rows. */
    for (int j = 0; j < NV; j++) {
        ids[j] = 1000 + 3 * ((j * 7) % NV);
        allow[j] = rng(&s) % 10 != 0;
    }
    xp[0] = 0;
    for (int q = 0; q < NQ; q++) {
        rows[q] = (int64_t)(rng(&s) % NU);
        int ne = (int)(rng(&s) % 30);
        for (int e = 0; e < ne; e++)
            /* Mostly known ids, some the model does not have (ignored). */
            xi[xp[q] + e] = rng(&s) % 5 ? ids[rng(&s) % NV] : 5 + (int32_t)(rng(&s) % 100);
        xp[q + 1] = xp[q] + ne;
    }
    br_lists ex = {NQ, xp, xi}, a, b;

    for (int mapped = 0; mapped < 2; mapped++) {
        br_factor_opts o = {.exclude = &ex, .item_ids = mapped ? ids : NULL, .allow = allow};
        ASSERT_OK(br_factor_topk(U, NU, V, NV, DIM, rows, NQ, K, &o, &a));
        o.batch = 4; /* batches of 4 with a short last one: the same lists */
        ASSERT_OK(br_factor_topk(U, NU, V, NV, DIM, rows, NQ, K, &o, &b));
        ASSERT_EQ_INT(a.ptr[NQ], b.ptr[NQ]);
        ASSERT_TRUE(memcmp(a.items, b.items, (size_t)a.ptr[NQ] * sizeof *a.items) == 0);
        for (int q = 0; q < NQ; q++) {
            size_t len = brute(U, V, NV, DIM, rows[q], xi + xp[q], (size_t)(xp[q + 1] - xp[q]),
                               mapped ? ids : NULL, allow, K, want);
            ASSERT_EQ_INT(a.ptr[q + 1] - a.ptr[q], len);
            for (size_t i = 0; i < len; i++) {
                ASSERT_EQ_INT(a.items[a.ptr[q] + (int64_t)i], want[i]);
                /* No train item ever comes back. */
                for (int64_t e = xp[q]; e < xp[q + 1]; e++)
                    ASSERT_NE_INT(a.items[a.ptr[q] + (int64_t)i], xi[e]);
            }
        }
        br_lists_free(&a);
        br_lists_free(&b);
    }
    free(U);
    free(V);
    free(xi);
}

/* ---- Report -------------------------------------------------------------------------- */

TEST(report_entry_format)
{
    br_lists ranked = {3, e_ptr, e_items}, truth = {3, t_ptr, t_items};
    double pop[10];
    for (int i = 0; i < 10; i++)
        pop[i] = i;
    br_eval_opts o = {.k = 5, .n_items = 10, .popularity = pop};
    br_eval *e;
    json_t *j;
    static const char *keys[] = {
        "model",   "protocol",  "k",   "users",    "recall",   "recall_ci",      "ndcg",
        "ndcg_ci", "precision", "map", "hit_rate", "coverage", "mean_popularity"};

    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &e));
    ASSERT_OK(br_eval_entry_json(e, "als", "warm", NULL, &j));
    ASSERT_EQ_INT(json_object_size(j), 13);
    /* Exactly the keys, in its order. */
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(j, key, v)
    {
        ASSERT_EQ_STR(key, keys[i]);
        i++;
    }
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "model")), "als");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "protocol")), "warm");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "k")), 5);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "users")), 2);
    double recall = json_real_value(json_object_get(j, "recall"));
    ASSERT_NEAR(recall, br_eval_mean(e, BR_METRIC_RECALL), 0);
    ASSERT_NEAR(json_real_value(json_object_get(j, "coverage")), 0.6, 1e-15);
    ASSERT_NEAR(json_real_value(json_object_get(j, "mean_popularity")), 4.0, 1e-15);
    /* Two users with recall 2/3 and 1: the resample means are 2/3, 5/6 or 1, so the 95%
     * interval lies in [2/3, 1] around the mean. */
    json_t *ci = json_object_get(j, "recall_ci");
    ASSERT_EQ_INT(json_array_size(ci), 2);
    double lo = json_real_value(json_array_get(ci, 0)), hi = json_real_value(json_array_get(ci, 1));
    ASSERT_TRUE(lo >= 2.0 / 3.0 - 1e-12 && lo <= recall && recall <= hi && hi <= 1.0 + 1e-12);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "ndcg_ci")), 2);
    json_decref(j);

    /* Bad names. */
    ASSERT_EQ_INT(br_eval_entry_json(e, "", "warm", NULL, &j), BR_EINVAL);
    ASSERT_EQ_INT(br_eval_entry_json(e, "als", "\xff", NULL, &j), BR_EINVAL);
    br_eval_free(e);
}

TEST(report_accumulates_and_pairs)
{
    br_lists ranked = {3, e_ptr, e_items}, truth = {3, t_ptr, t_items};
    /* Model B: A's list reversed, C's list empty. */
    int64_t bp[] = {0, 5, 5, 5};
    int32_t bi[] = {5, 4, 3, 2, 1};
    br_lists rb = {3, bp, bi};
    br_eval_opts o = {.k = 5, .n_items = 10, .user_ids = e_ids};
    br_eval *a, *b, *a10;
    br_report *r;

    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &a));
    ASSERT_OK(br_eval_new(&rb, &truth, &o, &b));
    o.k = 10;
    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &a10));
    ASSERT_TRUE(br_eval_paired_ok(a, b));
    ASSERT_TRUE(!br_eval_paired_ok(a, a10)); /* another K */

    ASSERT_OK(br_report_new("s42-0123456789abcdef", NULL, &r));
    ASSERT_OK(br_report_add(r, "als", "warm", a));
    ASSERT_OK(br_report_add(r, "popularity", "warm", b));
    ASSERT_OK(br_report_add(r, "als", "warm", a10));
    ASSERT_EQ_INT(br_report_add(r, "als", "warm", a), BR_EEXIST);
    ASSERT_OK(br_report_add_paired(r, "als", "popularity", "warm", BR_METRIC_RECALL, a, b));
    ASSERT_EQ_INT(br_report_add_paired(r, "als", "popularity", "warm", BR_METRIC_RECALL, a, b),
                  BR_EEXIST);
    ASSERT_EQ_INT(br_report_add_paired(r, "als", "als", "warm", BR_METRIC_RECALL, a, a10),
                  BR_EINVAL);
    ASSERT_OK(br_report_add_paired(r, "als", "als", "warm", BR_METRIC_NDCG, a, a));

    json_t *root = br_report_json(r); /* a new reference */
    ASSERT_EQ_STR(json_string_value(json_object_get(root, "split_id")), "s42-0123456789abcdef");
    ASSERT_EQ_INT(json_array_size(json_object_get(root, "results")), 3);
    json_t *cmp = json_object_get(root, "comparisons");
    ASSERT_EQ_INT(json_array_size(cmp), 2);
    json_t *c0 = json_array_get(cmp, 0);
    ASSERT_EQ_INT(json_object_size(c0), 7);
    ASSERT_EQ_STR(json_string_value(json_object_get(c0, "model_a")), "als");
    ASSERT_EQ_STR(json_string_value(json_object_get(c0, "model_b")), "popularity");
    ASSERT_EQ_STR(json_string_value(json_object_get(c0, "metric")), "recall");
    ASSERT_EQ_INT(json_integer_value(json_object_get(c0, "k")), 5);
    /* B: A's user recall 2/3 (same items), C 0: diff = ((2/3 + 1) - (2/3 + 0)) / 2. */
    ASSERT_NEAR(json_real_value(json_object_get(c0, "diff")), 0.5, 1e-15);
    json_t *dci = json_object_get(c0, "diff_ci");
    ASSERT_TRUE(json_real_value(json_array_get(dci, 0)) >= -1e-12);
    ASSERT_TRUE(json_real_value(json_array_get(dci, 1)) <= 1.0 + 1e-12);
    /* A model against itself: exactly 0 and [0, 0]. */
    json_t *c1 = json_array_get(cmp, 1);
    ASSERT_TRUE(json_real_value(json_object_get(c1, "diff")) == 0.0);
    ASSERT_TRUE(json_real_value(json_array_get(json_object_get(c1, "diff_ci"), 0)) == 0.0);
    ASSERT_TRUE(json_real_value(json_array_get(json_object_get(c1, "diff_ci"), 1)) == 0.0);
    ASSERT_EQ_INT(
        json_integer_value(json_object_get(json_object_get(root, "bootstrap"), "resamples")), 1000);

    /* Written atomically and read back. */
    char path[512];
    snprintf(path, sizeof path, "%s/report.json", br_test_tmpdir());
    ASSERT_OK(br_report_write(r, path));
    json_error_t jerr;
    json_t *back = json_load_file(path, 0, &jerr);
    ASSERT_TRUE(back != NULL);
    ASSERT_EQ_INT(json_array_size(json_object_get(back, "results")), 3);
    ASSERT_NEAR(json_real_value(
                    json_object_get(json_array_get(json_object_get(back, "results"), 0), "recall")),
                br_eval_mean(a, BR_METRIC_RECALL), 1e-9);
    json_decref(back);
    snprintf(path, sizeof path, "%s/no/such/dir/report.json", br_test_tmpdir());
    ASSERT_EQ_INT(br_report_write(r, path), BR_EIO);

    br_report_free(r);
    /* The caller's reference outlives the report. */
    ASSERT_EQ_INT(json_array_size(json_object_get(root, "results")), 3);
    json_decref(root);
    br_eval_free(a);
    br_eval_free(b);
    br_eval_free(a10);
}

TEST(eval_pairing_needs_same_users_and_truth)
{
    br_lists ranked = {3, e_ptr, e_items}, truth = {3, t_ptr, t_items};
    int32_t t2_items[] = {2, 5, 9, 4}; /* C's truth differs */
    br_lists truth2 = {3, t_ptr, t2_items};
    br_eval_opts o = {.k = 5, .n_items = 10, .user_ids = e_ids};
    const int64_t other_ids[] = {100, 200, 301};
    br_eval *a, *b, *c;
    json_t *j;

    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &a));
    ASSERT_OK(br_eval_new(&ranked, &truth2, &o, &b));
    o.user_ids = other_ids;
    ASSERT_OK(br_eval_new(&ranked, &truth, &o, &c));
    ASSERT_TRUE(br_eval_paired_ok(a, a));
    ASSERT_TRUE(!br_eval_paired_ok(a, b));
    ASSERT_TRUE(!br_eval_paired_ok(a, c));
    ASSERT_EQ_INT(br_eval_paired_json(a, b, "x", "y", "warm", BR_METRIC_RECALL, NULL, &j),
                  BR_EINVAL);
    br_eval_free(a);
    br_eval_free(b);
    br_eval_free(c);
}
