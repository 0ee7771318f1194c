/* Tests of lib/data/split.c: params and rounding, fold fractions, cold users, order
 * independence, seeds, split ids, counts, late assignment. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/split.h"

#include <stdlib.h>
#include <xxhash.h>

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

#define N_ITEMS 10007 /* prime: (a + j*b) mod N_ITEMS are distinct items for one user */

/* Users 1..n_users, each with 1..max_k distinct items; 60% implicit ratings. */
static br_interaction *gen(size_t n_users, size_t max_k, uint64_t seed, size_t *n_out)
{
    uint64_t s = seed;
    size_t n = 0, cap = n_users * max_k;
    br_interaction *x = malloc(cap * sizeof *x);
    for (size_t u = 1; u <= n_users; u++) {
        size_t k = 1 + rng_next(&s) % max_k;
        int64_t a = (int64_t)(rng_next(&s) % N_ITEMS),
                b = 1 + (int64_t)(rng_next(&s) % (N_ITEMS - 1));
        for (size_t j = 0; j < k; j++) {
            uint64_t r = rng_next(&s) % 10;
            x[n++] = (br_interaction){(int64_t)u, (a + (int64_t)j * b) % N_ITEMS,
                                      r < 6 ? 0.0f : (float)(1 + rng_next(&s) % 10), 0};
        }
    }
    *n_out = n;
    return x;
}

static void shuffle(br_interaction *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_next(&s) % i;
        br_interaction t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* The protocol's hashes, recomputed from XXH3 so other tools can reproduce a split. */
static uint64_t user_hash(uint64_t seed, int64_t user)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)user >> (8 * i));
    return XXH3_64bits_withSeed(b, sizeof b, seed);
}

static uint64_t pair_hash(uint64_t seed, int64_t user, int64_t item)
{
    unsigned char b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)user >> (8 * i));
        b[8 + i] = (unsigned char)((uint64_t)item >> (8 * i));
    }
    return XXH3_64bits_withSeed(b, sizeof b, seed);
}

TEST(split_params_default_and_check)
{
    br_split_params p;
    br_split_params_default(&p);
    ASSERT_EQ_INT(p.seed, 42);
    ASSERT_NEAR(p.cold_frac, 0.10, 0);
    ASSERT_NEAR(p.val_frac, 0.10, 0);
    ASSERT_NEAR(p.test_frac, 0.10, 0);
    ASSERT_EQ_INT(p.cold_min_interactions, 4);
    ASSERT_EQ_INT(p.holdout_min_interactions, 5);
    ASSERT_OK(br_split_params_check(&p));

    br_split_params q = p;
    q.val_frac = 0.6, q.test_frac = 0.6; /* sum > 1 */
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.val_frac = 0.3, q.test_frac = 0.3; /* < half left in train */
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.val_frac = 0.25, q.test_frac = 0.25;
    ASSERT_OK(br_split_params_check(&q));
    q = p, q.test_frac = -0.1;
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.val_frac = NAN;
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.cold_frac = 1.5;
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.holdout_min_interactions = 3;
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    q = p, q.cold_min_interactions = 0;
    ASSERT_EQ_INT(br_split_params_check(&q), BR_EINVAL);
    ASSERT_EQ_INT(br_split_params_check(NULL), BR_EINVAL);
    ASSERT_EQ_STR(br_fold_name(BR_FOLD_COLD), "cold");
    ASSERT_EQ_STR(br_fold_name(9), "?");
}

TEST(split_holdout_sizes_rounding)
{
    br_split_params p;
    size_t nv, nt;
    br_split_params_default(&p);
    static const struct {
        size_t k, nv, nt;
    } table[] = {{1, 0, 0},  {4, 0, 0},  {5, 1, 1},  {9, 1, 1},  {14, 1, 1},   {15, 2, 2},
                 {24, 2, 2}, {25, 3, 3}, {34, 3, 3}, {35, 4, 4}, {100, 10, 10}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        br_split_holdout_sizes(table[i].k, &p, &nv, &nt);
        ASSERT_EQ_INT(nv, table[i].nv);
        ASSERT_EQ_INT(nt, table[i].nt);
    }
    /* Cap at floor(k/2): 0.25*6 rounds to 2 + 2 > 3, val gives one back. */
    p.val_frac = p.test_frac = 0.25;
    br_split_holdout_sizes(6, &p, &nv, &nt);
    ASSERT_EQ_INT(nv, 1);
    ASSERT_EQ_INT(nt, 2);
    /* A zero fraction gives no interaction to that fold. */
    p.val_frac = 0, p.test_frac = 0.2;
    br_split_holdout_sizes(20, &p, &nv, &nt);
    ASSERT_EQ_INT(nv, 0);
    ASSERT_EQ_INT(nt, 4);

    /* Invariants over many fractions and sizes: >= 1 each, at least half in train. */
    static const double fr[][2] = {{0.1, 0.1}, {0.25, 0.25}, {0.05, 0.2}, {0.2, 0.3}, {0.01, 0.01}};
    for (size_t f = 0; f < sizeof fr / sizeof fr[0]; f++) {
        br_split_params_default(&p);
        p.val_frac = fr[f][0], p.test_frac = fr[f][1];
        p.holdout_min_interactions = 4;
        for (size_t k = 4; k < 300; k++) {
            br_split_holdout_sizes(k, &p, &nv, &nt);
            ASSERT_CMP_INT(nv, >=, 1);
            ASSERT_CMP_INT(nt, >=, 1);
            ASSERT_CMP_INT(k - nv - nt, >=, (k + 1) / 2);
        }
    }
}

TEST(split_error_paths)
{
    br_interaction x[6] = {{1, 1, 5, 0}, {1, 2, 0, 0}, {1, 3, 0, 0},
                           {1, 4, 0, 0}, {1, 5, 0, 0}, {1, 2, 7, 0}};
    uint8_t f[6];
    char id[BR_SPLIT_ID_SIZE];
    br_split_params p;
    br_split_params_default(&p);

    ASSERT_EQ_INT(br_split_assign(NULL, 5, &p, f), BR_EINVAL);
    ASSERT_EQ_INT(br_split_assign(x, 5, &p, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_split_assign(x, 0, &p, f), BR_EINVAL);
    p.val_frac = 0.7, p.test_frac = 0.4;
    ASSERT_EQ_INT(br_split_assign(x, 5, &p, f), BR_EINVAL);
    ASSERT_EQ_INT(br_split_id(x, f, 5, &p, id), BR_EINVAL);
    br_split_params_default(&p);
    /* (1, 2) twice: a duplicate pair. */
    ASSERT_EQ_INT(br_split_assign(x, 6, &p, f), BR_EINVAL);
    ASSERT_OK(br_split_assign(x, 5, NULL, f)); /* NULL params = defaults */

    ASSERT_EQ_INT(br_split_id(NULL, f, 5, &p, id), BR_EINVAL);
    ASSERT_EQ_INT(br_split_id(x, NULL, 5, &p, id), BR_EINVAL);
    ASSERT_EQ_INT(br_split_id(x, f, 0, &p, id), BR_EINVAL);
    f[0] = 7;
    ASSERT_EQ_INT(br_split_id(x, f, 5, &p, id), BR_EINVAL);
    br_fold_counts c;
    ASSERT_EQ_INT(br_split_counts(x, f, 5, &c), BR_EINVAL);
    ASSERT_EQ_INT(br_split_counts(NULL, f, 5, &c), BR_EINVAL);
    ASSERT_OK(br_split_counts(NULL, NULL, 0, &c));
    ASSERT_EQ_INT(c.users_total, 0);
}

/* Per-user statistics of a split of users 1..n_users. */
struct ustat {
    size_t k, by_fold[BR_FOLD_COUNT];
};

static struct ustat *user_stats(const br_interaction *x, const uint8_t *f, size_t n, size_t n_users)
{
    struct ustat *st = calloc(n_users + 1, sizeof *st);
    for (size_t i = 0; i < n; i++) {
        st[x[i].user].k++;
        st[x[i].user].by_fold[f[i]]++;
    }
    return st;
}

TEST(split_fractions_10k_users)
{
    size_t n, n_users = 10000;
    br_interaction *x = gen(n_users, 40, 1, &n);
    uint8_t *f = malloc(n);
    br_split_params p;
    br_split_params_default(&p);
    ASSERT_OK(br_split_assign(x, n, &p, f));

    struct ustat *st = user_stats(x, f, n, n_users);
    size_t eligible = 0, cold = 0, held = 0, held_val = 0, held_test = 0;
    int ok = 1;
    for (size_t u = 1; u <= n_users && ok; u++) {
        const struct ustat *s = &st[u];
        size_t nv, nt;
        eligible += s->k >= p.cold_min_interactions;
        if (s->by_fold[BR_FOLD_COLD]) {
            cold++;
            ok = s->by_fold[BR_FOLD_COLD] == s->k && s->k >= p.cold_min_interactions;
            continue;
        }
        br_split_holdout_sizes(s->k, &p, &nv, &nt);
        ok = s->by_fold[BR_FOLD_VAL] == nv && s->by_fold[BR_FOLD_TEST] == nt &&
             s->by_fold[BR_FOLD_TRAIN] == s->k - nv - nt;
        if (s->k < p.holdout_min_interactions)
            ok = ok && s->by_fold[BR_FOLD_TRAIN] == s->k;
        else
            ok = ok && nv >= 1 && nt >= 1 && 2 * s->by_fold[BR_FOLD_TRAIN] >= s->k;
        if (s->k >= p.holdout_min_interactions) {
            held += s->k;
            held_val += nv;
            held_test += nt;
        }
    }
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(cold, (size_t)(0.10 * (double)eligible + 0.5));
    ASSERT_CMP_INT(cold, >, 800);
    /* The cold users are the eligible ones with the smallest user hashes. */
    uint64_t max_cold = 0, min_warm = UINT64_MAX;
    for (size_t u = 1; u <= n_users; u++) {
        uint64_t h = user_hash(42, (int64_t)u);
        if (st[u].by_fold[BR_FOLD_COLD])
            max_cold = h > max_cold ? h : max_cold;
        else if (st[u].k >= p.cold_min_interactions)
            min_warm = h < min_warm ? h : min_warm;
    }
    ASSERT_TRUE(max_cold < min_warm);
    /* Rounding half up plus the minimum of 1 push the fractions a bit above 0.10. */
    ASSERT_NEAR((double)held_val / (double)held, 0.11, 0.015);
    ASSERT_NEAR((double)held_test / (double)held, 0.11, 0.015);

    br_fold_counts c;
    ASSERT_OK(br_split_counts(x, f, n, &c));
    ASSERT_EQ_INT(c.users[BR_FOLD_COLD], cold);
    ASSERT_EQ_INT(c.users_total, n_users);
    ASSERT_EQ_INT(c.interactions[BR_FOLD_VAL], held_val);
    ASSERT_EQ_INT(c.interactions[BR_FOLD_TEST], held_test);
    ASSERT_EQ_INT(c.interactions[0] + c.interactions[1] + c.interactions[2] + c.interactions[3], n);
    free(st);
    free(f);
    free(x);
}

TEST(split_order_independent)
{
    size_t n;
    br_interaction *x = gen(3000, 30, 2, &n);
    br_interaction *y = malloc(n * sizeof *y);
    uint8_t *fx = malloc(n), *fy = malloc(n);
    char idx[BR_SPLIT_ID_SIZE], idy[BR_SPLIT_ID_SIZE];

    /* Tag each interaction with its original position through ts to map folds back. */
    for (size_t i = 0; i < n; i++)
        x[i].ts = (int64_t)i;
    memcpy(y, x, n * sizeof *y);
    shuffle(y, n, 99);
    ASSERT_OK(br_split_assign(x, n, NULL, fx));
    ASSERT_OK(br_split_assign(y, n, NULL, fy));
    size_t mismatches = 0;
    for (size_t i = 0; i < n; i++)
        mismatches += fy[i] != fx[y[i].ts];
    ASSERT_EQ_INT(mismatches, 0);
    ASSERT_OK(br_split_id(x, fx, n, NULL, idx));
    ASSERT_OK(br_split_id(y, fy, n, NULL, idy));
    ASSERT_EQ_STR(idx, idy);
    free(fx);
    free(fy);
    free(y);
    free(x);
}

TEST(split_seed_determinism_and_ids)
{
    size_t n;
    br_interaction *x = gen(3000, 30, 3, &n);
    uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
    char ida[BR_SPLIT_ID_SIZE], idb[BR_SPLIT_ID_SIZE], idc[BR_SPLIT_ID_SIZE];
    br_split_params p, q;
    br_split_params_default(&p);
    q = p;
    q.seed = 43;

    ASSERT_OK(br_split_assign(x, n, &p, a));
    ASSERT_OK(br_split_assign(x, n, &p, b));
    ASSERT_OK(br_split_assign(x, n, &q, c));
    ASSERT_TRUE(memcmp(a, b, n) == 0);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += a[i] != c[i];
    ASSERT_CMP_INT(diff, >, n / 10); /* another seed is another split */

    ASSERT_OK(br_split_id(x, a, n, &p, ida));
    ASSERT_OK(br_split_id(x, b, n, &p, idb));
    ASSERT_OK(br_split_id(x, c, n, &q, idc));
    ASSERT_EQ_STR(ida, idb);
    ASSERT_TRUE(strcmp(ida, idc) != 0);
    ASSERT_TRUE(strncmp(ida, "s42-", 4) == 0 && strlen(ida) == 20);
    ASSERT_TRUE(strncmp(idc, "s43-", 4) == 0);

    /* Ratings and timestamps are not part of the split. */
    x[0].rating = x[0].rating == 0 ? 9.0f : 0.0f;
    x[1].ts = 123456;
    ASSERT_OK(br_split_id(x, a, n, &p, idb));
    ASSERT_EQ_STR(ida, idb);
    /* One fold moved. */
    b[5] = b[5] == BR_FOLD_TRAIN ? BR_FOLD_TEST : BR_FOLD_TRAIN;
    ASSERT_OK(br_split_id(x, b, n, &p, idb));
    ASSERT_TRUE(strcmp(ida, idb) != 0);
    /* One interaction fewer. */
    ASSERT_OK(br_split_id(x, a, n - 1, &p, idb));
    ASSERT_TRUE(strcmp(ida, idb) != 0);
    /* One item changed. */
    x[7].item += N_ITEMS;
    ASSERT_OK(br_split_id(x, a, n, &p, idb));
    ASSERT_TRUE(strcmp(ida, idb) != 0);
    x[7].item -= N_ITEMS;
    /* Same folds, other params. */
    q = p;
    q.val_frac = 0.2;
    ASSERT_OK(br_split_id(x, a, n, &q, idb));
    ASSERT_TRUE(strcmp(ida, idb) != 0);
    q = p;
    q.holdout_min_interactions = 6;
    ASSERT_OK(br_split_id(x, a, n, &q, idb));
    ASSERT_TRUE(strcmp(ida, idb) != 0);
    free(a);
    free(b);
    free(c);
    free(x);
}

TEST(split_small_users_by_hand)
{
    /* user 1: 1 interaction, user 2: 3, user 3: 4 (cold-eligible), user 4: 5 (holdout). */
    br_interaction x[13];
    size_t n = 0;
    static const int ks[] = {0, 1, 3, 4, 5};
    for (int u = 1; u <= 4; u++)
        for (int j = 0; j < ks[u]; j++)
            x[n++] = (br_interaction){u, 100 * u + j, (float)(j % 2 ? 0 : 8), 0};
    uint8_t f[13];
    br_split_params p;
    br_split_params_default(&p);
    p.cold_frac = 0;
    ASSERT_OK(br_split_assign(x, n, &p, f));
    for (size_t i = 0; i < 8; i++)
        ASSERT_EQ_INT(f[i], BR_FOLD_TRAIN); /* users 1-3: too few for a holdout */
    /* User 4: the smallest pair hash goes to test, the next to val (the documented rule,
     * checked against XXH3 directly so other tools can reproduce it). */
    size_t first = 8, second = 8;
    for (size_t i = 8; i < 13; i++)
        if (pair_hash(42, 4, x[i].item) < pair_hash(42, 4, x[first].item))
            first = i;
    second = first == 8 ? 9 : 8;
    for (size_t i = 8; i < 13; i++)
        if (i != first && pair_hash(42, 4, x[i].item) < pair_hash(42, 4, x[second].item))
            second = i;
    size_t counts[BR_FOLD_COUNT] = {0};
    for (size_t i = 8; i < 13; i++)
        counts[f[i]]++;
    ASSERT_EQ_INT(f[first], BR_FOLD_TEST);
    ASSERT_EQ_INT(f[second], BR_FOLD_VAL);
    ASSERT_EQ_INT(counts[BR_FOLD_TRAIN], 3);

    /* All eligible users cold: users 3 and 4, never 1 and 2. */
    p.cold_frac = 1.0;
    ASSERT_OK(br_split_assign(x, n, &p, f));
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(f[i], x[i].user >= 3 ? BR_FOLD_COLD : BR_FOLD_TRAIN);
    /* Half of 2 eligible users: exactly one cold. */
    p.cold_frac = 0.5;
    ASSERT_OK(br_split_assign(x, n, &p, f));
    ASSERT_TRUE((f[4] == BR_FOLD_COLD) != (f[8] == BR_FOLD_COLD));

    br_fold_counts c;
    ASSERT_OK(br_split_counts(x, f, n, &c));
    ASSERT_EQ_INT(c.users_total, 4);
    ASSERT_EQ_INT(c.users[BR_FOLD_COLD], 1);
    ASSERT_EQ_INT(c.interactions[BR_FOLD_COLD], f[4] == BR_FOLD_COLD ? 4 : 5);
}

TEST(split_assign_new_after_freeze)
{
    size_t n, n_users = 10000;
    br_interaction *x = gen(n_users, 40, 4, &n);
    uint8_t *f = malloc(n), g;
    br_split_params p;
    br_split_frozen *s;
    br_split_params_default(&p);
    ASSERT_OK(br_split_assign(x, n, &p, f));
    ASSERT_OK(br_split_frozen_new(x, f, n, &p, &s));

    /* Known pairs keep their frozen fold. */
    size_t mism = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT_OK(br_split_assign_new(s, x[i].user, x[i].item, &g));
        mism += g != f[i];
    }
    ASSERT_EQ_INT(mism, 0);

    /* New items of known users: cold stays cold, warm ones by hash thresholds. */
    struct ustat *st = user_stats(x, f, n, n_users);
    size_t by[BR_FOLD_COUNT] = {0}, bad = 0;
    for (size_t u = 1; u <= n_users; u++) {
        int cold = st[u].by_fold[BR_FOLD_COLD] > 0;
        for (int64_t j = 0; j < 20; j++) {
            ASSERT_OK(br_split_assign_new(s, (int64_t)u, N_ITEMS + j, &g));
            if (cold)
                bad += g != BR_FOLD_COLD;
            else
                by[g]++;
        }
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(by[BR_FOLD_COLD], 0);
    double tot = (double)(by[0] + by[1] + by[2]);
    ASSERT_NEAR(by[BR_FOLD_TEST] / tot, 0.10, 0.01);
    ASSERT_NEAR(by[BR_FOLD_VAL] / tot, 0.10, 0.01);

    /* New users: cold with the same fraction, else train; stable across calls. */
    size_t ncold = 0;
    for (int64_t u = 1000000; u < 1020000; u++) {
        uint8_t g2;
        ASSERT_OK(br_split_assign_new(s, u, 5, &g));
        ASSERT_OK(br_split_assign_new(s, u, 6, &g2));
        ASSERT_EQ_INT(g, g2);
        ASSERT_TRUE(g == BR_FOLD_COLD || g == BR_FOLD_TRAIN);
        ncold += g == BR_FOLD_COLD;
    }
    ASSERT_NEAR(ncold / 20000.0, 0.10, 0.01);
    ASSERT_EQ_INT(br_split_assign_new(NULL, 1, 1, &g), BR_EINVAL);
    ASSERT_EQ_INT(br_split_assign_new(s, 1, 1, NULL), BR_EINVAL);
    br_split_frozen_free(s);
    br_split_frozen_free(NULL);

    /* A user cold in some interactions only is inconsistent. */
    size_t i0 = 0;
    while (f[i0] != BR_FOLD_COLD)
        i0++;
    f[i0] = BR_FOLD_TRAIN;
    ASSERT_EQ_INT(br_split_frozen_new(x, f, n, &p, &s), BR_ECORRUPT);
    f[i0] = BR_FOLD_COLD;
    x[1] = x[0];
    f[1] = f[0];
    ASSERT_EQ_INT(br_split_frozen_new(x, f, n, &p, &s), BR_EINVAL);
    ASSERT_EQ_INT(br_split_frozen_new(x, f, n, &p, NULL), BR_EINVAL);
    free(st);
    free(f);
    free(x);
}
