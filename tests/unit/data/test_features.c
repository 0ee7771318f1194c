/* Tests of lib/data/features.c: aggregates and favorite subjects by hand, error paths, order
 * independence, the leakage check (held-out changes leave every output bit-identical) and
 * its control (a train change does not), and a 500k-interaction run (timed only when verbose). */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/features.h"
#include "bookrec/log.h"
#include "bookrec/popularity.h"
#include "bookrec/split.h"

#include <stdlib.h>

/* Users 0..2, items 0..4; folds chosen by hand. */
static const br_interaction hand_x[] = {
    {0, 0, 8, 0}, {0, 1, 0, 0}, {0, 2, 6, 0}, {0, 3, 10, 0}, /* (0, 3) is test */
    {1, 0, 4, 0}, {1, 2, 0, 0},                              /* (1, 2) is val */
    {2, 1, 0, 0}, {2, 4, 7, 0},                              /* item 4: zero weight */
};
static const uint8_t hand_f[] = {BR_FOLD_TRAIN, BR_FOLD_TRAIN, BR_FOLD_TRAIN, BR_FOLD_TEST,
                                 BR_FOLD_TRAIN, BR_FOLD_VAL,   BR_FOLD_TRAIN, BR_FOLD_TRAIN};
#define HAND_N (sizeof hand_x / sizeof hand_x[0])

TEST(features_aggregates_by_hand)
{
    br_features *f;
    size_t nu, ni;
    ASSERT_OK(br_features_new(hand_x, hand_f, HAND_N, 0, 0, &f));
    const br_agg *u = br_features_users(f, &nu), *it = br_features_items(f, &ni);
    ASSERT_EQ_INT(nu, 3);
    ASSERT_EQ_INT(ni, 5);
    /* user 0: train 8, implicit, 6 -> count 3, explicit 2, mean 7, std 1. */
    ASSERT_EQ_INT(u[0].count, 3);
    ASSERT_EQ_INT(u[0].n_explicit, 2);
    ASSERT_EQ_INT(u[0].sum, 14);
    ASSERT_NEAR(u[0].mean, 7.0, 0);
    ASSERT_NEAR(u[0].std, 1.0, 0);
    /* user 1: only the 4 (the implicit one is val). */
    ASSERT_EQ_INT(u[1].count, 1);
    ASSERT_EQ_INT(u[1].n_explicit, 1);
    ASSERT_NEAR(u[1].mean, 4.0, 0);
    ASSERT_NEAR(u[1].std, 0.0, 0);
    /* user 2: implicit + 7. */
    ASSERT_EQ_INT(u[2].count, 2);
    ASSERT_EQ_INT(u[2].n_explicit, 1);
    ASSERT_NEAR(u[2].mean, 7.0, 0);
    /* item 0: 8 and 4 -> mean 6, std 2; item 1: two implicit; item 2: the 6 (val excluded);
     * item 3: test only -> all zero. */
    ASSERT_EQ_INT(it[0].count, 2);
    ASSERT_NEAR(it[0].mean, 6.0, 0);
    ASSERT_NEAR(it[0].std, 2.0, 0);
    ASSERT_EQ_INT(it[1].count, 2);
    ASSERT_EQ_INT(it[1].n_explicit, 0);
    ASSERT_NEAR(it[1].mean, 0.0, 0);
    ASSERT_NEAR(it[1].std, 0.0, 0);
    ASSERT_EQ_INT(it[2].count, 1);
    ASSERT_NEAR(it[2].mean, 6.0, 0);
    ASSERT_EQ_INT(it[3].count, 0);
    ASSERT_EQ_INT(it[3].n_explicit, 0);
    /* global: 8, 6, 4, 7 explicit + 2 implicit. */
    br_agg g = br_features_global(f);
    ASSERT_EQ_INT(g.count, 6);
    ASSERT_EQ_INT(g.n_explicit, 4);
    ASSERT_NEAR(g.mean, 6.25, 0);
    ASSERT_NEAR(g.std, sqrt((1.75 * 1.75 + 0.25 * 0.25 + 2.25 * 2.25 + 0.75 * 0.75) / 4), 1e-12);
    br_features_free(f);

    /* Caller-given sizes. */
    ASSERT_OK(br_features_new(hand_x, hand_f, HAND_N, 10, 7, &f));
    br_features_users(f, &nu);
    br_features_items(f, &ni);
    ASSERT_EQ_INT(nu, 10);
    ASSERT_EQ_INT(ni, 7);
    ASSERT_EQ_INT(br_features_users(f, NULL)[9].count, 0);
    br_features_free(f);
    br_features_free(NULL);
}

TEST(features_error_paths)
{
    br_features *f;
    br_interaction x[2] = {{0, 0, 5, 0}, {1, 1, 0, 0}};
    uint8_t fo[2] = {0, 0};

    ASSERT_EQ_INT(br_features_new(NULL, fo, 2, 0, 0, &f), BR_EINVAL);
    ASSERT_EQ_INT(br_features_new(x, NULL, 2, 0, 0, &f), BR_EINVAL);
    ASSERT_EQ_INT(br_features_new(x, fo, 0, 0, 0, &f), BR_EINVAL);
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 1, 0, &f), BR_ERANGE); /* user 1 >= 1 */
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 1, &f), BR_ERANGE);
    static const float bad[] = {11.0f, -1.0f, 2.5f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        x[1].rating = bad[i];
        ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, &f), BR_EINVAL);
        fo[1] = BR_FOLD_TEST; /* held-out ratings are checked too */
        ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, &f), BR_EINVAL);
        fo[1] = 0;
    }
    x[1].rating = 10;
    fo[1] = 4;
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, &f), BR_EINVAL);
    fo[1] = 0;
    x[1].user = -3;
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, &f), BR_EINVAL);
    x[1].user = (int64_t)BR_FEATURES_MAX_IDS;
    ASSERT_EQ_INT(br_features_new(x, fo, 2, 0, 0, &f), BR_ELIMIT);
    ASSERT_TRUE(br_rating_valid(0) && br_rating_valid(10) && !br_rating_valid(0.5f));
}

/* CSR of hand-made item subjects. */
static const size_t hs_off[] = {0, 2, 3, 7, 8, 9};
static const int32_t hs_sub[] = {3, 5, 5, 1, 3, 5, 7, 9, 2};
static const float hs_w[] = {1, 1, 2, 1, 1, 1, 1, 1, 0};
static const br_item_subjects hand_subjects = {5, hs_off, hs_sub, hs_w};

TEST(favsub_by_hand)
{
    br_favsub *fs;
    br_favsub_params p;
    const int32_t *s;
    const float *sc;
    br_favsub_params_default(&p);
    ASSERT_EQ_INT(p.k, 10);
    ASSERT_NEAR(p.implicit_weight, 0.5, 0);
    p.k = 3;
    ASSERT_OK(br_favsub_new(hand_x, hand_f, HAND_N, &hand_subjects, &p, 0, &fs));
    ASSERT_EQ_INT(br_favsub_n_users(fs), 3);
    /* user 0: item 0 (8 -> .8, halves: 3 .4, 5 .4), item 1 (implicit .5: 5 .5),
     * item 2 (6 -> .6, quarters: 1, 3, 5, 7 .15); item 3 is test.
     * 5: 1.05, 3: .55, 1: .15, 7: .15 -> top 3 = 5, 3, 1 (1 before 7 on the tie). */
    ASSERT_EQ_INT(br_favsub_get(fs, 0, &s, &sc), 3);
    ASSERT_EQ_INT(s[0], 5);
    ASSERT_NEAR(sc[0], 1.05, 1e-6);
    ASSERT_EQ_INT(s[1], 3);
    ASSERT_NEAR(sc[1], 0.55, 1e-6);
    ASSERT_EQ_INT(s[2], 1);
    ASSERT_NEAR(sc[2], 0.15, 1e-6);
    /* user 1: item 0 (4 -> .4): 3 and 5 tie at .2, by id. */
    ASSERT_EQ_INT(br_favsub_get(fs, 1, &s, &sc), 2);
    ASSERT_EQ_INT(s[0], 3);
    ASSERT_EQ_INT(s[1], 5);
    ASSERT_NEAR(sc[0], 0.2, 1e-6);
    /* user 2: item 1 implicit (5: .5); item 4 has only a zero-weight subject. */
    ASSERT_EQ_INT(br_favsub_get(fs, 2, &s, &sc), 1);
    ASSERT_EQ_INT(s[0], 5);
    ASSERT_NEAR(sc[0], 0.5, 1e-6);
    ASSERT_EQ_INT(br_favsub_get(fs, 3, &s, &sc), 0);
    ASSERT_EQ_INT(br_favsub_get(fs, -1, NULL, NULL), 0);
    const size_t *off;
    br_favsub_csr(fs, &off, &s, &sc);
    ASSERT_EQ_INT(off[0], 0);
    ASSERT_EQ_INT(off[3], 6);
    br_favsub_free(fs);

    /* Implicit weight 0: user 2 has nothing left; larger n_users pads empty rows. */
    p.implicit_weight = 0;
    ASSERT_OK(br_favsub_new(hand_x, hand_f, HAND_N, &hand_subjects, &p, 6, &fs));
    ASSERT_EQ_INT(br_favsub_n_users(fs), 6);
    ASSERT_EQ_INT(br_favsub_get(fs, 2, &s, &sc), 0);
    ASSERT_EQ_INT(br_favsub_get(fs, 5, &s, &sc), 0);
    ASSERT_EQ_INT(br_favsub_get(fs, 0, &s, &sc), 3); /* 3: .55, 5: .55, ... */
    ASSERT_EQ_INT(s[0], 3);
    ASSERT_EQ_INT(s[1], 5);
    br_favsub_free(fs);
    br_favsub_free(NULL);
}

TEST(favsub_error_paths)
{
    br_favsub *fs;
    br_favsub_params p;
    br_favsub_params_default(&p);
    size_t off[] = {0, 2, 3, 7, 8, 9};
    int32_t sub[] = {3, 5, 5, 1, 3, 5, 7, 9, 2};
    float w[] = {1, 1, 2, 1, 1, 1, 1, 1, 0};
    br_item_subjects is = {5, off, sub, w};

    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, NULL, &p, 0, &fs), BR_EINVAL);
    ASSERT_EQ_INT(br_favsub_new(NULL, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, 0, &is, &p, 0, &fs), BR_EINVAL);
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 2, &fs), BR_ERANGE);
    off[0] = 1;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    off[0] = 0, off[2] = 1; /* decreasing */
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    off[2] = 3, sub[4] = -2;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    sub[4] = 3, w[4] = NAN;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    w[4] = -1;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    w[4] = 1;
    p.k = 0;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    p.k = 10, p.implicit_weight = NAN;
    ASSERT_EQ_INT(br_favsub_new(hand_x, hand_f, HAND_N, &is, &p, 0, &fs), BR_EINVAL);
    p.implicit_weight = 0.5f;
    ASSERT_OK(br_favsub_new(hand_x, hand_f, HAND_N, &is, NULL, 0, &fs)); /* NULL = defaults */
    br_favsub_free(fs);
    /* No subjects at all: every list is empty. */
    br_item_subjects none = {0, NULL, NULL, NULL};
    ASSERT_OK(br_favsub_new(hand_x, hand_f, HAND_N, &none, &p, 0, &fs));
    ASSERT_EQ_INT(br_favsub_get(fs, 0, NULL, NULL), 0);
    br_favsub_free(fs);
}

/* ---- Random data for the leakage and order tests ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

#define R_ITEMS 997 /* prime */

struct world {
    br_interaction *x;
    uint8_t *fold;
    size_t n;
    size_t *off;
    int32_t *sub;
    float *w;
    br_item_subjects is;
};

static void world_free(struct world *w)
{
    free(w->x);
    free(w->fold);
    free(w->off);
    free(w->sub);
    free(w->w);
}

/* n_users users (ids 0..n_users-1) with 1..max_k distinct items each, 60% implicit; items
 * with 0..6 random subjects out of 200; then the default split. */
static int world_make(struct world *w, size_t n_users, size_t max_k, uint64_t seed)
{
    uint64_t s = seed;
    memset(w, 0, sizeof *w);
    w->x = malloc(n_users * max_k * sizeof *w->x);
    for (size_t u = 0; u < n_users; u++) {
        size_t k = 1 + rng_next(&s) % max_k;
        int64_t a = (int64_t)(rng_next(&s) % R_ITEMS),
                b = 1 + (int64_t)(rng_next(&s) % (R_ITEMS - 1));
        for (size_t j = 0; j < k; j++) {
            uint64_t r = rng_next(&s) % 10;
            w->x[w->n++] = (br_interaction){(int64_t)u, (a + (int64_t)j * b) % R_ITEMS,
                                            r < 6 ? 0.0f : (float)(1 + rng_next(&s) % 10), 0};
        }
    }
    w->off = malloc((R_ITEMS + 1) * sizeof *w->off);
    w->sub = malloc(R_ITEMS * 6 * sizeof *w->sub);
    w->w = malloc(R_ITEMS * 6 * sizeof *w->w);
    w->off[0] = 0;
    for (size_t i = 0; i < R_ITEMS; i++) {
        size_t m = rng_next(&s) % 7;
        w->off[i + 1] = w->off[i] + m;
        for (size_t j = w->off[i]; j < w->off[i + 1]; j++) {
            w->sub[j] = (int32_t)(rng_next(&s) % 200);
            w->w[j] = (float)(1 + rng_next(&s) % 100) / 7.0f;
        }
    }
    w->is = (br_item_subjects){R_ITEMS, w->off, w->sub, w->w};
    w->fold = malloc(w->n);
    return br_split_assign(w->x, w->n, NULL, w->fold);
}

/* Everything computed from train, with fixed dense sizes so runs compare directly. */
struct outputs {
    br_features *f;
    br_favsub *fs;
    br_popularity *pop;
};

static int outputs_make(struct outputs *o, const br_interaction *x, const uint8_t *fold, size_t n,
                        const br_item_subjects *is, size_t k)
{
    br_favsub_params fp;
    br_favsub_params_default(&fp);
    fp.k = k;
    memset(o, 0, sizeof *o);
    int rc = br_features_new(x, fold, n, 5000, 2000, &o->f);
    if (!rc)
        rc = br_favsub_new(x, fold, n, is, &fp, 5000, &o->fs);
    if (!rc)
        rc = br_popularity_new(o->f, NULL, &o->pop);
    return rc;
}

static void outputs_free(struct outputs *o)
{
    br_features_free(o->f);
    br_favsub_free(o->fs);
    br_popularity_free(o->pop);
}

/* Which of the four outputs differ bit for bit: bit 0 users, 1 items, 2 favsub, 3 popularity. */
static int outputs_diff(const struct outputs *a, const struct outputs *b)
{
    int d = 0;
    size_t na, nb;
    const br_agg *ua = br_features_users(a->f, &na), *ub = br_features_users(b->f, &nb);
    if (na != nb || memcmp(ua, ub, na * sizeof *ua))
        d |= 1;
    const br_agg *ia = br_features_items(a->f, &na), *ib = br_features_items(b->f, &nb);
    br_agg ga = br_features_global(a->f), gb = br_features_global(b->f);
    if (na != nb || memcmp(ia, ib, na * sizeof *ia) || memcmp(&ga, &gb, sizeof ga))
        d |= 2;
    const size_t *oa, *ob;
    const int32_t *sa, *sb;
    const float *ca, *cb;
    br_favsub_csr(a->fs, &oa, &sa, &ca);
    br_favsub_csr(b->fs, &ob, &sb, &cb);
    na = br_favsub_n_users(a->fs);
    if (na != br_favsub_n_users(b->fs) || memcmp(oa, ob, (na + 1) * sizeof *oa) ||
        memcmp(sa, sb, oa[na] * sizeof *sa) || memcmp(ca, cb, oa[na] * sizeof *ca))
        d |= 4;
    na = br_popularity_n_items(a->pop);
    size_t ra, rb;
    const int64_t *rka = br_popularity_ranking(a->pop, BR_POP_BAYES, &ra);
    const int64_t *rkb = br_popularity_ranking(b->pop, BR_POP_BAYES, &rb);
    if (na != br_popularity_n_items(b->pop) ||
        memcmp(br_popularity_bayes(a->pop), br_popularity_bayes(b->pop), na * sizeof(double)) ||
        memcmp(br_popularity_count(a->pop), br_popularity_count(b->pop), na * sizeof(uint32_t)) ||
        br_popularity_prior(a->pop) != br_popularity_prior(b->pop) || ra != rb ||
        memcmp(rka, rkb, ra * sizeof *rka))
        d |= 8;
    return d;
}

static size_t find_fold(const uint8_t *fold, size_t n, uint8_t want, size_t from)
{
    for (size_t i = from; i < n; i++)
        if (fold[i] == want)
            return i;
    return n;
}

TEST(features_leakage_held_out_changes_are_invisible)
{
    struct world w;
    struct outputs base, o;
    ASSERT_OK(world_make(&w, 2000, 25, 7));
    ASSERT_OK(outputs_make(&base, w.x, w.fold, w.n, &w.is, 10));

    /* (a) a test rating changes: explicit <-> implicit, the strongest change there is. */
    size_t t = find_fold(w.fold, w.n, BR_FOLD_TEST, 0);
    ASSERT_TRUE(t < w.n);
    float saved = w.x[t].rating;
    w.x[t].rating = saved == 0 ? 10.0f : 0.0f;
    ASSERT_OK(outputs_make(&o, w.x, w.fold, w.n, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 0);
    outputs_free(&o);
    /* ... and every other test rating too, at once. */
    for (size_t i = 0; i < w.n; i++)
        if (w.fold[i] == BR_FOLD_TEST || w.fold[i] == BR_FOLD_COLD)
            w.x[i].rating = w.x[i].rating == 0 ? 1.0f : 0.0f;
    ASSERT_OK(outputs_make(&o, w.x, w.fold, w.n, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 0);
    outputs_free(&o);

    /* (b) a validation interaction removed (the last slot moves into its place). */
    size_t v = find_fold(w.fold, w.n, BR_FOLD_VAL, 0);
    ASSERT_TRUE(v < w.n);
    br_interaction *x2 = malloc((w.n + 1) * sizeof *x2);
    uint8_t *f2 = malloc(w.n + 1);
    memcpy(x2, w.x, w.n * sizeof *x2);
    memcpy(f2, w.fold, w.n);
    x2[v] = x2[w.n - 1];
    f2[v] = f2[w.n - 1];
    ASSERT_OK(outputs_make(&o, x2, f2, w.n - 1, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 0);
    outputs_free(&o);

    /* (c) a new interaction marked test: a known user, an item it has not read. */
    memcpy(x2, w.x, w.n * sizeof *x2);
    memcpy(f2, w.fold, w.n);
    x2[w.n] = (br_interaction){w.x[0].user, R_ITEMS + 1, 9.0f, 1700000000};
    f2[w.n] = BR_FOLD_TEST;
    ASSERT_OK(outputs_make(&o, x2, f2, w.n + 1, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 0);
    outputs_free(&o);
    /* ... also on an item with subjects that the user has not read, and the input
     * reversed for good measure. */
    int64_t fresh = -1;
    for (int64_t it = 0; it < R_ITEMS && fresh < 0; it++) {
        int ok = w.off[it + 1] > w.off[it];
        for (size_t i = 0; i < w.n && ok; i++)
            ok = !(w.x[i].user == w.x[0].user && w.x[i].item == it);
        if (ok)
            fresh = it;
    }
    ASSERT_TRUE(fresh >= 0);
    x2[w.n].item = fresh;
    for (size_t i = 0, j = w.n; i < j; i++, j--) {
        br_interaction tx = x2[i];
        uint8_t tf = f2[i];
        x2[i] = x2[j], f2[i] = f2[j];
        x2[j] = tx, f2[j] = tf;
    }
    ASSERT_OK(outputs_make(&o, x2, f2, w.n + 1, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 0);
    outputs_free(&o);

    free(x2);
    free(f2);
    outputs_free(&base);
    world_free(&w);
}

TEST(features_leakage_check_can_fail)
{
    struct world w;
    struct outputs base, o;
    ASSERT_OK(world_make(&w, 2000, 25, 8));
    /* k large enough that every positive subject is listed: any score change shows. */
    ASSERT_OK(outputs_make(&base, w.x, w.fold, w.n, &w.is, 1000));

    /* A train interaction on an item with subjects: its rating change must be visible in all
     * four outputs. */
    size_t t = 0;
    for (;; t++) {
        ASSERT_TRUE(t < w.n);
        int64_t it = w.x[t].item;
        if (w.fold[t] == BR_FOLD_TRAIN && w.off[it + 1] > w.off[it] && w.w[w.off[it]] > 0)
            break;
    }
    float r = w.x[t].rating;
    w.x[t].rating = r == 0 ? 10.0f : r == 10 ? 1.0f : 10.0f;
    ASSERT_OK(outputs_make(&o, w.x, w.fold, w.n, &w.is, 1000));
    ASSERT_EQ_INT(outputs_diff(&base, &o), 15);
    outputs_free(&o);
    w.x[t].rating = r;

    /* Moving one interaction from val into train is visible as well. */
    size_t v = find_fold(w.fold, w.n, BR_FOLD_VAL, 0);
    w.fold[v] = BR_FOLD_TRAIN;
    ASSERT_OK(outputs_make(&o, w.x, w.fold, w.n, &w.is, 1000));
    ASSERT_TRUE((outputs_diff(&base, &o) & 3) == 3);
    outputs_free(&o);
    outputs_free(&base);
    world_free(&w);
}

TEST(features_order_independent)
{
    struct world w;
    struct outputs a, b;
    ASSERT_OK(world_make(&w, 2000, 25, 9));
    ASSERT_OK(outputs_make(&a, w.x, w.fold, w.n, &w.is, 10));
    uint64_t s = 5;
    for (size_t i = w.n; i > 1; i--) {
        size_t j = rng_next(&s) % i;
        br_interaction tx = w.x[i - 1];
        uint8_t tf = w.fold[i - 1];
        w.x[i - 1] = w.x[j], w.fold[i - 1] = w.fold[j];
        w.x[j] = tx, w.fold[j] = tf;
    }
    ASSERT_OK(outputs_make(&b, w.x, w.fold, w.n, &w.is, 10));
    ASSERT_EQ_INT(outputs_diff(&a, &b), 0);
    outputs_free(&a);
    outputs_free(&b);
    world_free(&w);
}

TEST(features_split_500k_runs)
{
    struct world w;
    struct outputs o;
    double t0 = br_now();
    /* world_make splits: 25k users * 1..40 interactions ~ 512k. */
    ASSERT_OK(world_make(&w, 25000, 40, 10));
    double t1 = br_now();
    ASSERT_CMP_INT(w.n, >, 500000);
    int rc = br_features_new(w.x, w.fold, w.n, 0, 0, &o.f);
    ASSERT_OK(rc);
    ASSERT_OK(br_favsub_new(w.x, w.fold, w.n, &w.is, NULL, 0, &o.fs));
    ASSERT_OK(br_popularity_new(o.f, NULL, &o.pop));
    double t2 = br_now();
    char id[BR_SPLIT_ID_SIZE];
    ASSERT_OK(br_split_id(w.x, w.fold, w.n, NULL, id));
    if (getenv("BR_TEST_VERBOSE"))
        fprintf(stderr, "     %zu interactions: generate+split %.3fs, features+favsub+pop %.3fs\n",
                w.n, t1 - t0, t2 - t1);
    /* Timings belong in benchmarks: this only shows that the size runs. */
    ASSERT_CMP_INT(br_favsub_n_users(o.fs), >, 0);
    outputs_free(&o);
    world_free(&w);
}
