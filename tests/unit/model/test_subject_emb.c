/* Tests of lib/model/subject_emb*.c: parameters and errors, pooling by hand (per-dimension
 * softmax really per dimension, masking, truncation), finite-difference gradient checks of
 * every tensor for every pooling kind and loss term, AdamW and clipping by hand, batches
 * and positives, determinism, and training that learns on a synthetic problem. */
#include "harness.h"

#include "../../../lib/model/subject_emb_internal.h"
#include "bookrec/error.h"
#include "bookrec/subject_emb.h"

#include <stdlib.h>

/* ---- a small problem ---- */

typedef struct prob {
    size_t S, U, I, n;
    size_t *ioff, *uoff;
    int32_t *isub, *usub;
    int32_t *tu, *ti;
    float *r;
    br_semb_data d;
} prob;

static void prob_free(prob *p)
{
    free(p->ioff);
    free(p->uoff);
    free(p->isub);
    free(p->usub);
    free(p->tu);
    free(p->ti);
    free(p->r);
    memset(p, 0, sizeof *p);
}

static size_t urand(uint64_t s[4], size_t n)
{
    return (size_t)(br__semb_rng_next(s) % n);
}

static double nrand(uint64_t s[4])
{
    double u1 = ((br__semb_rng_next(s) >> 11) + 1) * 0x1.0p-53;
    double u2 = (br__semb_rng_next(s) >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* Rows of lo..hi distinct random subjects (hi may exceed max_set: truncation is tested). */
static void random_sets(uint64_t s[4], size_t rows, size_t S, size_t lo, size_t hi, size_t **off,
                        int32_t **sub)
{
    *off = malloc((rows + 1) * sizeof **off);
    *sub = malloc(rows * hi * sizeof **sub);
    (*off)[0] = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t n = lo + urand(s, hi - lo + 1), k = (*off)[r];
        for (size_t j = 0; j < n; j++) {
            int32_t v;
            int dup;
            do {
                v = (int32_t)urand(s, S);
                dup = 0;
                for (size_t q = (*off)[r]; q < k; q++)
                    dup |= (*sub)[q] == v;
            } while (dup);
            (*sub)[k++] = v;
        }
        (*off)[r + 1] = k;
    }
}

static void prob_link(prob *p)
{
    p->d = (br_semb_data){
        .items = {p->I, p->ioff, p->isub},
        .users = {p->U, p->uoff, p->usub},
        .user = p->tu,
        .item = p->ti,
        .rating = p->r,
        .n_triples = p->n,
    };
}

/* Random sets and triples with ratings 1..10 (no structure). */
static void prob_random(prob *p, size_t S, size_t U, size_t I, size_t n, size_t hi, uint64_t seed)
{
    uint64_t s[4];
    br__semb_rng_seed(s, seed);
    memset(p, 0, sizeof *p);
    p->S = S, p->U = U, p->I = I, p->n = n;
    random_sets(s, I, S, 1, hi, &p->ioff, &p->isub);
    random_sets(s, U, S, 1, hi, &p->uoff, &p->usub);
    p->tu = malloc(n * sizeof *p->tu);
    p->ti = malloc(n * sizeof *p->ti);
    p->r = malloc(n * sizeof *p->r);
    for (size_t t = 0; t < n; t++) {
        p->tu[t] = (int32_t)urand(s, U);
        p->ti[t] = (int32_t)urand(s, I);
        p->r[t] = (float)(1 + urand(s, 10));
    }
    prob_link(p);
}

/* Subjects predict ratings: each subject has a hidden 3-d taste; a book's and a user's
 * taste are the means over their sets; rating = 5.5 + 2 * dot, rounded into 1..10. */
static void prob_learnable(prob *p, uint64_t seed)
{
    enum { S = 24, U = 120, I = 150, N = 3000, K = 3 };
    uint64_t s[4];
    double taste[S][K], tu[U][K], ti[I][K];
    br__semb_rng_seed(s, seed);
    memset(p, 0, sizeof *p);
    p->S = S, p->U = U, p->I = I, p->n = N;
    for (int i = 0; i < S; i++)
        for (int k = 0; k < K; k++)
            taste[i][k] = nrand(s);
    random_sets(s, I, S, 2, 4, &p->ioff, &p->isub);
    random_sets(s, U, S, 2, 5, &p->uoff, &p->usub);
    for (int side = 0; side < 2; side++) {
        size_t rows = side ? U : I, *off = side ? p->uoff : p->ioff;
        int32_t *sub = side ? p->usub : p->isub;
        for (size_t r = 0; r < rows; r++)
            for (int k = 0; k < K; k++) {
                double acc = 0;
                for (size_t j = off[r]; j < off[r + 1]; j++)
                    acc += taste[sub[j]][k];
                (side ? tu[r] : ti[r])[k] = acc / (double)(off[r + 1] - off[r]);
            }
    }
    p->tu = malloc(N * sizeof *p->tu);
    p->ti = malloc(N * sizeof *p->ti);
    p->r = malloc(N * sizeof *p->r);
    for (size_t t = 0; t < N; t++) {
        size_t u = urand(s, U), i = urand(s, I);
        double dot = 0;
        for (int k = 0; k < K; k++)
            dot += tu[u][k] * ti[i][k];
        double r = round(5.5 + 4 * dot);
        p->tu[t] = (int32_t)u;
        p->ti[t] = (int32_t)i;
        p->r[t] = (float)(r < 1 ? 1 : r > 10 ? 10 : r);
    }
    prob_link(p);
}

static void small_params(br_semb_params *pp, br_semb_pool_kind kind)
{
    br_semb_params_default(pp);
    pp->dim = 6;
    pp->pool = kind;
    pp->max_set = 4;
    pp->batch = 16;
    pp->threads = 2;
}

/* Non-trivial values in every tensor (biases and attention included). */
static void randomize(br_semb *m, uint64_t seed, double scale)
{
    uint64_t s[4];
    br__semb_rng_seed(s, seed);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = (float)(scale * nrand(s));
    m->t[BR__SEMB_GBIAS][0] = 5.5f;
}

/* ---- parameters, names, errors ---- */

TEST(semb_params_default_and_check)
{
    br_semb_params p;
    br_semb_params_default(&p);
    ASSERT_EQ_INT(p.dim, 64);
    ASSERT_EQ_INT(p.pool, BR_SEMB_POOL_PERDIM);
    ASSERT_NEAR(p.lambda_mse, 0.2, 1e-7);
    ASSERT_NEAR(p.lambda_con, 0.8, 1e-7);
    ASSERT_NEAR(p.tau, 0.07, 1e-7);
    ASSERT_NEAR(p.lr, 3e-3, 1e-9);
    ASSERT_NEAR(p.weight_decay, 0.05, 1e-8);
    ASSERT_NEAR(p.clip, 1.0, 0);
    ASSERT_EQ_INT(p.batch, 2048);
    ASSERT_OK(br_semb_params_check(&p));

    br_semb_params q;
#define BAD(field, value)                                                                          \
    do {                                                                                           \
        q = p;                                                                                     \
        q.field = value;                                                                           \
        ASSERT_EQ_INT(br_semb_params_check(&q), BR_EINVAL);                                        \
    } while (0)
    BAD(dim, 0);
    BAD(dim, BR_SEMB_MAX_DIM + 1);
    BAD(max_set, 0);
    BAD(batch, 1);
    BAD(batch, BR_SEMB_MAX_BATCH + 1);
    BAD(pool, (br_semb_pool_kind)3);
    BAD(tau, 0);
    BAD(tau, -1);
    BAD(lr, NAN);
    BAD(lr, 0);
    BAD(weight_decay, -0.1f);
    BAD(lambda_mse, -1);
    BAD(beta1, 1);
    BAD(beta2, INFINITY);
    BAD(eps, 0);
    BAD(clip, -1);
    BAD(threads, -1);
#undef BAD
    q = p;
    q.lambda_mse = q.lambda_con = 0;
    ASSERT_EQ_INT(br_semb_params_check(&q), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_params_check(NULL), BR_EINVAL);

    br_semb *m = (br_semb *)&q; /* must be reset to NULL on failure */
    ASSERT_EQ_INT(br_semb_new(&q, 10, 1, 1, &m), BR_EINVAL);
    ASSERT_TRUE(m == NULL);
    ASSERT_EQ_INT(br_semb_new(&p, 0, 1, 1, &m), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_new(&p, 10, 1, 1, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_new(&p, BR_SEMB_MAX_ROWS + 1, 1, 1, &m), BR_EINVAL);
    br_semb_free(NULL);
}

TEST(semb_pool_names)
{
    br_semb_pool_kind k;
    for (int i = 0; i <= BR_SEMB_POOL_MEAN; i++) {
        ASSERT_OK(br_semb_pool_parse(br_semb_pool_name((br_semb_pool_kind)i), &k));
        ASSERT_EQ_INT(k, i);
    }
    ASSERT_EQ_STR(br_semb_pool_name(BR_SEMB_POOL_PERDIM), "perdim");
    ASSERT_EQ_STR(br_semb_pool_name((br_semb_pool_kind)9), "?");
    ASSERT_EQ_INT(br_semb_pool_parse("attention", &k), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_pool_parse(NULL, &k), BR_EINVAL);
}

TEST(semb_tensors_by_name)
{
    br_semb_params p;
    br_semb *m;
    br_semb_tensor t;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    ASSERT_OK(br_semb_new(&p, 10, 5, 7, &m));
    ASSERT_EQ_INT(br_semb_n_tensors(m), 6);
    static const char *names[] = {"subject_emb", "attn_w",    "attn_b",
                                  "user_bias",   "item_bias", "global_bias"};
    static const size_t shape[][2] = {{10, 6}, {6, 6}, {6, 0}, {5, 0}, {7, 0}, {1, 0}};
    for (size_t k = 0; k < 6; k++) {
        ASSERT_OK(br_semb_tensor_at(m, k, &t));
        ASSERT_EQ_STR(t.name, names[k]);
        ASSERT_EQ_INT(t.rows, shape[k][0]);
        ASSERT_EQ_INT(t.cols, shape[k][1]);
    }
    ASSERT_EQ_INT(br_semb_tensor_at(m, 6, &t), BR_EINVAL);
    /* initialization: vectors with spread, W bounded by 1/sqrt(dim), biases 0 */
    ASSERT_OK(br_semb_tensor_get(m, "attn_w", &t));
    for (size_t i = 0; i < 36; i++)
        ASSERT_TRUE(fabsf(t.data[i]) <= 1 / sqrtf(6.0f));
    ASSERT_OK(br_semb_tensor_get(m, "attn_b", &t));
    ASSERT_NEAR(t.data[0], 0, 0);
    ASSERT_OK(br_semb_tensor_get(m, "subject_emb", &t));
    double ss = 0;
    for (size_t i = 0; i < 60; i++)
        ss += (double)t.data[i] * t.data[i];
    ASSERT_TRUE(sqrt(ss / 60) > 0.05 && sqrt(ss / 60) < 0.2);

    /* set: round trip, shape and value checks */
    float w[36];
    for (int i = 0; i < 36; i++)
        w[i] = (float)i / 100;
    ASSERT_OK(br_semb_tensor_set(m, "attn_w", w, 6, 6));
    ASSERT_OK(br_semb_tensor_get(m, "attn_w", &t));
    ASSERT_TRUE(memcmp(t.data, w, sizeof w) == 0);
    ASSERT_EQ_INT(br_semb_tensor_set(m, "attn_w", w, 36, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_tensor_set(m, "nope", w, 6, 6), BR_ENOENT);
    w[3] = NAN;
    ASSERT_EQ_INT(br_semb_tensor_set(m, "attn_w", w, 6, 6), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_tensor_get(m, "nope", &t), BR_ENOENT);
    br_semb_free(m);

    /* MEAN has no attention; SCALAR's is a vector and a scalar; serving has no biases */
    p.pool = BR_SEMB_POOL_MEAN;
    ASSERT_OK(br_semb_new(&p, 10, 5, 7, &m));
    ASSERT_EQ_INT(br_semb_n_tensors(m), 4);
    ASSERT_EQ_INT(br_semb_tensor_get(m, "attn_w", &t), BR_ENOENT);
    br_semb_free(m);
    p.pool = BR_SEMB_POOL_SCALAR;
    ASSERT_OK(br_semb_new(&p, 10, 0, 0, &m));
    ASSERT_EQ_INT(br_semb_n_tensors(m), 4);
    ASSERT_OK(br_semb_tensor_get(m, "attn_w", &t));
    ASSERT_EQ_INT(t.rows, 6);
    ASSERT_EQ_INT(t.cols, 0);
    ASSERT_OK(br_semb_tensor_get(m, "attn_b", &t));
    ASSERT_EQ_INT(t.rows, 1);
    ASSERT_EQ_INT(br_semb_tensor_get(m, "user_bias", &t), BR_ENOENT);
    br_semb_free(m);
}

/* ---- pooling by hand ---- */

TEST(semb_pool_single_subject_is_its_vector)
{
    for (int kind = 0; kind <= BR_SEMB_POOL_MEAN; kind++) {
        br_semb_params p;
        br_semb *m;
        br_semb_tensor e;
        float out[6];
        small_params(&p, (br_semb_pool_kind)kind);
        ASSERT_OK(br_semb_new(&p, 10, 0, 0, &m));
        randomize(m, 7, 0.5);
        ASSERT_OK(br_semb_tensor_get(m, "subject_emb", &e));
        int32_t s = 3;
        ASSERT_OK(br_semb_pool(m, &s, 1, out));
        for (int d = 0; d < 6; d++) {
            if (kind == BR_SEMB_POOL_MEAN)
                ASSERT_TRUE(out[d] == e.data[3 * 6 + d]); /* exactly */
            else
                ASSERT_NEAR(out[d], e.data[3 * 6 + d], 1e-7); /* softmax of one: 1 */
        }
        br_semb_free(m);
    }
}

/* Two subjects, dim 2, W = I, b = 0: e1 = (1, 0), e2 = (0, 1). Per dimension, dimension 0
 * favors e1 and dimension 1 favors e2, so p = (e/(1+e), e/(1+e)) = (0.731, 0.731). Scores
 * summed over dimensions first are equal (1 and 1) and give (0.5, 0.5): this test fails
 * for the seed's summed-score attention. */
TEST(semb_perdim_softmax_is_per_dimension)
{
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    p.dim = 2;
    ASSERT_OK(br_semb_new(&p, 2, 0, 0, &m));
    const float e[4] = {1, 0, 0, 1}, w[4] = {1, 0, 0, 1}, b[2] = {0, 0};
    ASSERT_OK(br_semb_tensor_set(m, "subject_emb", e, 2, 2));
    ASSERT_OK(br_semb_tensor_set(m, "attn_w", w, 2, 2));
    ASSERT_OK(br_semb_tensor_set(m, "attn_b", b, 2, 0));
    int32_t set[2] = {0, 1};
    float out[2];
    ASSERT_OK(br_semb_pool(m, set, 2, out));
    double want = exp(1.0) / (1 + exp(1.0));
    ASSERT_NEAR(out[0], want, 1e-6);
    ASSERT_NEAR(out[1], want, 1e-6);
    ASSERT_TRUE(fabs(out[0] - 0.5) > 0.2);
    br_semb_free(m);
}

/* W's row k scores dimension k: z = W e + b, checked in double on a random set. */
TEST(semb_perdim_matches_reference)
{
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    p.dim = 5;
    ASSERT_OK(br_semb_new(&p, 9, 0, 0, &m));
    randomize(m, 11, 0.8);
    const float *E = m->t[BR__SEMB_EMB], *W = m->t[BR__SEMB_ATT_W], *B = m->t[BR__SEMB_ATT_B];
    int32_t set[3] = {7, 2, 4};
    float out[5];
    ASSERT_OK(br_semb_pool(m, set, 3, out));
    for (int d = 0; d < 5; d++) {
        double z[3], mx = -1e300, sum = 0, pd = 0;
        for (int j = 0; j < 3; j++) {
            z[j] = B[d];
            for (int i = 0; i < 5; i++)
                z[j] += (double)W[d * 5 + i] * E[set[j] * 5 + i];
            mx = fmax(mx, z[j]);
        }
        for (int j = 0; j < 3; j++)
            sum += exp(z[j] - mx);
        for (int j = 0; j < 3; j++)
            pd += exp(z[j] - mx) / sum * E[set[j] * 5 + d];
        ASSERT_NEAR(out[d], pd, 1e-6);
    }
    /* scalar attention: one weight per subject */
    br_semb_free(m);
    p.pool = BR_SEMB_POOL_SCALAR;
    ASSERT_OK(br_semb_new(&p, 9, 0, 0, &m));
    randomize(m, 12, 0.8);
    E = m->t[BR__SEMB_EMB];
    ASSERT_OK(br_semb_pool(m, set, 3, out));
    double z[3], mx = -1e300, sum = 0;
    for (int j = 0; j < 3; j++) {
        z[j] = m->t[BR__SEMB_ATT_B][0];
        for (int i = 0; i < 5; i++)
            z[j] += (double)m->t[BR__SEMB_ATT_W][i] * E[set[j] * 5 + i];
        mx = fmax(mx, z[j]);
    }
    for (int j = 0; j < 3; j++)
        sum += exp(z[j] - mx);
    for (int d = 0; d < 5; d++) {
        double pd = 0;
        for (int j = 0; j < 3; j++)
            pd += exp(z[j] - mx) / sum * E[set[j] * 5 + d];
        ASSERT_NEAR(out[d], pd, 1e-6);
    }
    br_semb_free(m);
}

/* The vectorizable exp of the softmaxes against libm over its whole domain [-87, 0]. */
TEST(semb_expf_accuracy)
{
    double worst = 0;
    for (int i = 0; i <= 870000; i++) {
        float x = -87.0f + (float)i * 1e-4f;
        if (x > 0)
            x = 0;
        double want = exp((double)x), got = br__semb_expf(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    ASSERT_TRUE(worst < 3e-7);
    ASSERT_TRUE(br__semb_expf(0) == 1.0f);
}

/* Padding is never read and never gets a gradient: a padded slot naming a real subject
 * with a huge score changes nothing; that subject's gradients stay exactly 0. */
TEST(semb_padding_is_masked)
{
    for (int kind = 0; kind <= BR_SEMB_POOL_MEAN; kind++) {
        enum { S = 6, D = 4, L = 4 };
        uint64_t s[4];
        float e[S * D], w[D * D], b[D], z[S * D], a[2][L * D], p[2][D];
        br__semb_rng_seed(s, 5);
        for (int i = 0; i < S * D; i++)
            e[i] = (float)nrand(s);
        for (int i = 0; i < D * D; i++)
            w[i] = (float)nrand(s);
        for (int i = 0; i < D; i++)
            b[i] = 0;
        br__semb_scores_forward(z, e, w, b, S, D, (br_semb_pool_kind)kind);
        for (int d = 0; d < D; d++)
            z[5 * D + d] = 50; /* subject 5: would take all the attention */
        if (kind == BR_SEMB_POOL_SCALAR)
            z[5] = 50;
        int32_t set_pad[L] = {1, 3, -1, -1}, set_bad[L] = {1, 3, 5, 5}, len = 2;
        br__semb_pool_forward(p[0], a[0], e, z, set_pad, &len, 1, L, D, (br_semb_pool_kind)kind, 1);
        br__semb_pool_forward(p[1], a[1], e, z, set_bad, &len, 1, L, D, (br_semb_pool_kind)kind, 1);
        ASSERT_TRUE(memcmp(p[0], p[1], sizeof p[0]) == 0);
        float dp[D] = {1, -2, 0.5f, 3}, de[S * D] = {0}, dz[S * D] = {0}, gmem[L];
        br__semb_pool_backward(de, dz, gmem, dp, p[1], a[1], e, set_bad, &len, 1, L, D,
                               (br_semb_pool_kind)kind, 2);
        for (int d = 0; d < D; d++) {
            ASSERT_TRUE(de[5 * D + d] == 0);
            ASSERT_TRUE(dz[5 * D + d] == 0);
            ASSERT_TRUE(de[1 * D + d] != 0); /* members do get gradient */
        }
    }
}

/* Only the first max_set subjects of a row count, in pooling and pool_rows alike. */
TEST(semb_pool_truncates_and_rows)
{
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    p.max_set = 3;
    ASSERT_OK(br_semb_new(&p, 10, 0, 0, &m));
    randomize(m, 3, 0.5);
    int32_t long_set[5] = {1, 2, 3, 8, 9}, short_set[3] = {1, 2, 3};
    float a[6], b[6];
    ASSERT_OK(br_semb_pool(m, long_set, 5, a));
    ASSERT_OK(br_semb_pool(m, short_set, 3, b));
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);

    /* rows: [1 2 3 8 9], [], [4], rows beyond sets->n are empty too */
    size_t off[4] = {0, 5, 5, 6};
    int32_t sub[6] = {1, 2, 3, 8, 9, 4};
    br_semb_sets sets = {3, off, sub};
    float out[4 * 6], one[6];
    size_t n_empty = 99;
    memset(out, 0x7f, sizeof out);
    ASSERT_OK(br_semb_pool_rows(m, &sets, 4, out, &n_empty));
    ASSERT_EQ_INT(n_empty, 2);
    int32_t four = 4;
    ASSERT_OK(br_semb_pool(m, &four, 1, one));
    for (int d = 0; d < 6; d++) {
        ASSERT_NEAR(out[d], a[d], 1e-6);
        ASSERT_TRUE(out[6 + d] == 0 && out[18 + d] == 0);
        ASSERT_NEAR(out[12 + d], one[d], 1e-6);
    }
    /* errors */
    int32_t bad = 10, neg = -1;
    ASSERT_EQ_INT(br_semb_pool(m, &bad, 1, one), BR_ERANGE);
    ASSERT_EQ_INT(br_semb_pool(m, &neg, 1, one), BR_ERANGE);
    ASSERT_EQ_INT(br_semb_pool(m, short_set, 0, one), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_pool(NULL, short_set, 1, one), BR_EINVAL);
    sub[5] = 10;
    ASSERT_EQ_INT(br_semb_pool_rows(m, &sets, 4, out, NULL), BR_ERANGE);
    off[2] = 4; /* decreasing offsets */
    ASSERT_EQ_INT(br_semb_pool_rows(m, &sets, 4, out, NULL), BR_EINVAL);
    br_semb_free(m);
}

/* ---- batches and losses by hand ---- */

/* Books 0: {0, 1}, 1: {1, 2}, 2: {3}, 3: {2, 4}. Positives: 0-1 (subject 1), 1-3
 * (subject 2); book 2 has none. Triples repeat users and books: distinct lists in
 * first-appearance order. */
TEST(semb_batch_dedup_and_positives)
{
    size_t ioff[5] = {0, 2, 4, 5, 7}, uoff[3] = {0, 1, 3};
    int32_t isub[7] = {0, 1, 1, 2, 3, 2, 4}, usub[3] = {4, 0, 1};
    int32_t tu[6] = {1, 0, 1, 1, 0, 0}, ti[6] = {2, 2, 0, 1, 3, 0};
    float r[6] = {1, 2, 3, 4, 5, 6};
    br_semb_data d = {{4, ioff, isub}, {2, uoff, usub}, tu, ti, r, 6, NULL};
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    ASSERT_OK(br_semb_new(&p, 5, 2, 4, &m));
    size_t idx[6] = {0, 1, 2, 3, 4, 5};
    ASSERT_OK(br__semb_batch_build(m, &d, idx, 6));
    br__semb_batch *b = &m->batch;
    ASSERT_EQ_INT(b->nu, 2);
    ASSERT_EQ_INT(b->nb, 4);
    ASSERT_EQ_INT(b->id[0], 1); /* users 1, 0 */
    ASSERT_EQ_INT(b->id[1], 0);
    static const int32_t books[4] = {2, 0, 1, 3};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(b->id[2 + i], books[i]);
    static const int32_t want_tb[6] = {0, 0, 1, 2, 3, 1};
    for (int t = 0; t < 6; t++)
        ASSERT_EQ_INT(b->tb[t], want_tb[t]);
    /* local books: 0 = item 2, 1 = item 0, 2 = item 1, 3 = item 3 */
    static const uint8_t want_pos[4][4] = {{0, 0, 0, 0}, {0, 0, 1, 0}, {0, 1, 0, 1}, {0, 0, 1, 0}};
    for (int i = 0; i < 4; i++) {
        int cnt = 0;
        for (int k = 0; k < 4; k++) {
            ASSERT_EQ_INT(b->pos[i * 4 + k], want_pos[i][k]);
            cnt += want_pos[i][k];
        }
        ASSERT_EQ_INT(b->npos[i], cnt);
    }
    ASSERT_EQ_INT(b->len[2 + 0], 1);
    ASSERT_EQ_INT(b->set[(2 + 0) * 4 + 1], -1);

    /* subject 1 flagged out of the positives (as a generic subject would be): items 0 and 1
     * no longer pair; items 1 and 3 still share subject 2 */
    const uint8_t flags[5] = {1, 0, 1, 1, 1};
    d.positive_subjects = flags;
    ASSERT_OK(br__semb_batch_build(m, &d, idx, 6));
    static const uint8_t want_pos2[4][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            ASSERT_EQ_INT(b->pos[i * 4 + k], want_pos2[i][k]);
    ASSERT_EQ_INT(b->npos[1], 0);
    br_semb_free(m);
}

/* MEAN pooling of single-subject sets: pred = e_u.e_b + biases; InfoNCE by hand. */
TEST(semb_losses_by_hand)
{
    size_t ioff[4] = {0, 1, 2, 3}, uoff[2] = {0, 1};
    int32_t isub[3] = {1, 1, 2}, usub[1] = {0};
    int32_t tu[3] = {0, 0, 0}, ti[3] = {0, 1, 2};
    float r[3] = {4, 7, 9};
    br_semb_data d = {{3, ioff, isub}, {1, uoff, usub}, tu, ti, r, 3, NULL};
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_MEAN);
    p.dim = 2;
    p.lambda_mse = 0.25f;
    p.lambda_con = 2.0f;
    p.tau = 0.5f;
    ASSERT_OK(br_semb_new(&p, 3, 1, 3, &m));
    const float e[6] = {1, 2, 3, 0, 0, -1}, ib[3] = {0.5f, -1, 2}, ub[1] = {0.25f};
    const float gb[1] = {3};
    ASSERT_OK(br_semb_tensor_set(m, "subject_emb", e, 3, 2));
    ASSERT_OK(br_semb_tensor_set(m, "item_bias", ib, 3, 0));
    ASSERT_OK(br_semb_tensor_set(m, "user_bias", ub, 1, 0));
    ASSERT_OK(br_semb_tensor_set(m, "global_bias", gb, 1, 0));
    size_t idx[3] = {0, 1, 2};
    ASSERT_OK(br__semb_batch_build(m, &d, idx, 3));
    br_semb_step_stats st;
    ASSERT_OK(br__semb_forward_backward(m, 0, &st));
    /* pred: e0.e1 = 3 -> 3 + .25 + .5 + 3 = 6.75 (r 4); 3 - 1 + 3.25 = 5.25 (r 7);
     * e0.e2 = -2 -> -2 + 2 + 3.25 = 3.25 (r 9). */
    double mse = (2.75 * 2.75 + 1.75 * 1.75 + 5.75 * 5.75) / 3;
    ASSERT_NEAR(st.mse, mse, 1e-6);
    /* Books 0 and 1 (both subject 1) are each other's only positive; book 2 none.
     * h0 = h1 = (1, 0), h2 = (0, -1): s01 = 2, s02 = 0. loss_0 = log(e^2 + 1) - 2. */
    double l0 = log(exp(2.0) + 1) - 2;
    ASSERT_EQ_INT(st.n_anchors, 2);
    ASSERT_NEAR(st.con, l0, 1e-6);
    ASSERT_NEAR(st.loss, 0.25 * mse + 2 * l0, 1e-5);
    br_semb_free(m);
}

/* ---- gradient checks ---- */

static double loss_now(br_semb *m)
{
    br_semb_step_stats st;
    br__semb_forward_backward(m, 0, &st);
    return st.loss;
}

/* Loss with one parameter moved to save + k h (the float actually stored is what counts). */
static double loss_moved(br_semb *m, float *x, float save, float step, double *where)
{
    *x = save + step;
    *where = (double)*x - save;
    double l = loss_now(m);
    *x = save;
    return l;
}

/* Every element of every tensor: the backward pass against the five-point central
 * difference (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h, whose truncation error is O(h^4),
 * so a step large against float32 rounding (h = H_FD) stays accurate. The forward runs
 * in float32 with losses summed in double. */
#define H_FD 2e-2f
/* Pass when |fd - g| <= ATOL_FD + RTOL_FD max(|fd|, |g|). ATOL_FD is the resolution of
 * the difference quotient in float32: a logit of 1/tau ~ 14 carries ~1e-6 of rounding,
 * which (f(2h) - f(-2h)) / 12h turns into ~1e-5; the attention bias, whose true gradient
 * is 0, measures exactly that noise. Typical gradient entries are 1e-3 .. 1e-1. */
#define ATOL_FD 2e-5
#define RTOL_FD 5e-3
static int grad_check(br_semb *m, double *worst_out, size_t *checked, size_t nonzero[])
{
    br_semb_step_stats st;
    float *an = malloc(m->n_params * sizeof *an);
    int ok = 1;
    double worst = 0, gmax = 0;
    br__semb_zero_grad(m);
    br__semb_forward_backward(m, 1, &st);
    memcpy(an, m->grads, m->n_params * sizeof *an);
    for (int k = 0; k < BR__SEMB_NT; k++) {
        size_t off = (size_t)(m->t[k] - m->params);
        nonzero[k] = 0;
        for (size_t i = 0; i < m->sizes[k]; i++) {
            float *x = m->t[k] + i, save = *x;
            double d1p, d1m, d2p, d2m;
            double l1p = loss_moved(m, x, save, H_FD, &d1p);
            double l1m = loss_moved(m, x, save, -H_FD, &d1m);
            double l2p = loss_moved(m, x, save, 2 * H_FD, &d2p);
            double l2m = loss_moved(m, x, save, -2 * H_FD, &d2m);
            double h = (d1p - d1m + (d2p - d2m) / 2) / 4; /* the mean effective step */
            double fd = (8 * (l1p - l1m) - (l2p - l2m)) / (12 * h), g = an[off + i];
            /* error in units of the tolerance: <= 1 passes */
            double err = fabs(fd - g) / (ATOL_FD + RTOL_FD * fmax(fabs(fd), fabs(g)));
            if (err > worst)
                worst = err;
            gmax = fmax(gmax, fabs(g));
            if (err > 1) {
                fprintf(stderr, "    grad %s[%zu]: backward %.7g, finite difference %.7g\n",
                        br__semb_tensor_names[k], i, g, fd);
                ok = 0;
            }
            nonzero[k] += fabs(g) > 1e-6;
            (*checked)++;
        }
    }
    free(an);
    if (getenv("BR_TEST_VERBOSE"))
        fprintf(stderr, "    largest gradient entry %.3g\n", gmax);
    *worst_out = worst;
    return ok;
}

static void grad_check_case(br_semb_pool_kind kind, float lmse, float lcon, float tau)
{
    prob pr;
    br_semb_params p;
    br_semb *m;
    prob_random(&pr, 10, 5, 8, 14, 6, 100 + kind);
    small_params(&p, kind);
    p.lambda_mse = lmse;
    p.lambda_con = lcon;
    p.tau = tau;
    ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
    randomize(m, 200 + kind, 0.4);
    ASSERT_OK(br__semb_state_alloc(m));
    size_t idx[14];
    for (size_t t = 0; t < 14; t++)
        idx[t] = t;
    ASSERT_OK(br__semb_batch_build(m, &pr.d, idx, 14));
    double worst;
    size_t checked = 0, nz[BR__SEMB_NT];
    int ok = grad_check(m, &worst, &checked, nz);
    if (!ok || getenv("BR_TEST_VERBOSE"))
        fprintf(stderr, "    pool %s, lambda %g/%g, tau %g: worst error %.3g of the tolerance\n",
                br_semb_pool_name(kind), lmse, lcon, tau, worst);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(checked, m->n_params);
    /* The check is not vacuous: every tensor the term reaches has a gradient. */
    ASSERT_CMP_INT(nz[BR__SEMB_EMB], >, 20);
    /* The attention bias shifts every score of a set (per dimension) equally, and a
     * softmax is shift-invariant: its gradient is 0, and the check confirms it. */
    if (kind != BR_SEMB_POOL_MEAN) {
        ASSERT_CMP_INT(nz[BR__SEMB_ATT_W], >, 0);
        ASSERT_EQ_INT(nz[BR__SEMB_ATT_B], 0);
    }
    if (lmse > 0) {
        ASSERT_CMP_INT(nz[BR__SEMB_UBIAS], >, 0);
        ASSERT_CMP_INT(nz[BR__SEMB_IBIAS], >, 0);
        ASSERT_EQ_INT(nz[BR__SEMB_GBIAS], 1);
    } else {
        ASSERT_EQ_INT(nz[BR__SEMB_UBIAS] + nz[BR__SEMB_IBIAS] + nz[BR__SEMB_GBIAS], 0);
    }
    if (lcon > 0)
        ASSERT_CMP_INT(m->batch.nb, >, 2);
    br_semb_free(m);
    prob_free(&pr);
}

TEST(semb_grad_perdim_mse)
{
    grad_check_case(BR_SEMB_POOL_PERDIM, 1, 0, 0.07f);
}
TEST(semb_grad_perdim_infonce)
{
    grad_check_case(BR_SEMB_POOL_PERDIM, 0, 1, 0.5f);
}
TEST(semb_grad_perdim_infonce_tau007)
{
    grad_check_case(BR_SEMB_POOL_PERDIM, 0, 1, 0.07f);
}
TEST(semb_grad_perdim_both)
{
    grad_check_case(BR_SEMB_POOL_PERDIM, 0.2f, 0.8f, 0.07f);
}
TEST(semb_grad_scalar_mse)
{
    grad_check_case(BR_SEMB_POOL_SCALAR, 1, 0, 0.07f);
}
TEST(semb_grad_scalar_infonce)
{
    grad_check_case(BR_SEMB_POOL_SCALAR, 0, 1, 0.5f);
}
TEST(semb_grad_scalar_both)
{
    grad_check_case(BR_SEMB_POOL_SCALAR, 0.2f, 0.8f, 0.07f);
}
TEST(semb_grad_mean_mse)
{
    grad_check_case(BR_SEMB_POOL_MEAN, 1, 0, 0.07f);
}
TEST(semb_grad_mean_infonce)
{
    grad_check_case(BR_SEMB_POOL_MEAN, 0, 1, 0.5f);
}
TEST(semb_grad_mean_both)
{
    grad_check_case(BR_SEMB_POOL_MEAN, 0.2f, 0.8f, 0.07f);
}

/* ---- optimizer ---- */

/* Two AdamW steps by hand (torch.optim.AdamW): decayed tensors (subject vectors, W) and
 * undecayed ones (attention bias, rating biases). */
TEST(semb_adamw_by_hand)
{
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_PERDIM);
    p.dim = 2;
    p.lr = 0.01f;
    p.weight_decay = 0.1f;
    ASSERT_OK(br_semb_new(&p, 2, 1, 1, &m));
    ASSERT_OK(br__semb_state_alloc(m));
    float w0[2] = {m->t[BR__SEMB_EMB][0], m->t[BR__SEMB_ATT_B][0]};
    double mm[2] = {0, 0}, vv[2] = {0, 0}, w[2] = {w0[0], w0[1]};
    const double g[2][2] = {{0.5, -2.0}, {-0.25, 3.0}}; /* step x (emb[0], attn_b[0]) */
    const double lr = p.lr, wd = p.weight_decay, b1 = p.beta1, b2 = p.beta2, eps = p.eps;
    for (int step = 0; step < 2; step++) {
        br__semb_zero_grad(m);
        m->g[BR__SEMB_EMB][0] = (float)g[step][0];
        m->g[BR__SEMB_ATT_B][0] = (float)g[step][1];
        br__semb_adamw(m);
        for (int q = 0; q < 2; q++) {
            if (q == 0)
                w[q] *= 1 - lr * wd;
            mm[q] = b1 * mm[q] + (1 - b1) * g[step][q];
            vv[q] = b2 * vv[q] + (1 - b2) * g[step][q] * g[step][q];
            double bc1 = 1 - pow(b1, step + 1), bc2 = 1 - pow(b2, step + 1);
            w[q] -= lr / bc1 * mm[q] / (sqrt(vv[q]) / sqrt(bc2) + eps);
        }
        ASSERT_NEAR(m->t[BR__SEMB_EMB][0], w[0], 1e-6);
        ASSERT_NEAR(m->t[BR__SEMB_ATT_B][0], w[1], 1e-6);
    }
    ASSERT_EQ_INT(br_semb_steps(m), 2);
    /* Zero-gradient decayed entries shrink by (1 - lr wd) per step, undecayed stay. */
    br_semb_free(m);

    ASSERT_OK(br_semb_new(&p, 2, 1, 1, &m));
    ASSERT_OK(br__semb_state_alloc(m));
    m->t[BR__SEMB_IBIAS][0] = 1.5f;
    float e1 = m->t[BR__SEMB_EMB][1], w1 = m->t[BR__SEMB_ATT_W][1];
    br__semb_zero_grad(m);
    br__semb_adamw(m);
    ASSERT_NEAR(m->t[BR__SEMB_EMB][1], e1 * (1 - 0.01 * 0.1), 1e-7);
    ASSERT_NEAR(m->t[BR__SEMB_ATT_W][1], w1 * (1 - 0.01 * 0.1), 1e-7);
    ASSERT_TRUE(m->t[BR__SEMB_IBIAS][0] == 1.5f);
    br_semb_free(m);
}

TEST(semb_clip_global_norm)
{
    br_semb_params p;
    br_semb *m;
    small_params(&p, BR_SEMB_POOL_SCALAR);
    ASSERT_OK(br_semb_new(&p, 3, 2, 2, &m));
    ASSERT_OK(br__semb_state_alloc(m));
    /* norm 5 across two tensors: clipped to 1 as torch does, 1 / (5 + 1e-6) */
    br__semb_zero_grad(m);
    m->g[BR__SEMB_EMB][4] = 3;
    m->g[BR__SEMB_UBIAS][1] = -4;
    ASSERT_NEAR(br__semb_clip(m, 1.0f), 5.0, 1e-12);
    ASSERT_NEAR(m->g[BR__SEMB_EMB][4], 3 / (5 + 1e-6), 1e-7);
    ASSERT_NEAR(m->g[BR__SEMB_UBIAS][1], -4 / (5 + 1e-6), 1e-7);
    double ss = 0;
    for (size_t i = 0; i < m->n_params; i++)
        ss += (double)m->grads[i] * m->grads[i];
    ASSERT_NEAR(sqrt(ss), 1.0, 1e-6);
    /* below the limit, or clip 0: untouched */
    br__semb_zero_grad(m);
    m->g[BR__SEMB_ATT_B][0] = 0.5f;
    ASSERT_NEAR(br__semb_clip(m, 1.0f), 0.5, 1e-12);
    ASSERT_TRUE(m->g[BR__SEMB_ATT_B][0] == 0.5f);
    m->g[BR__SEMB_ATT_B][0] = 50;
    ASSERT_NEAR(br__semb_clip(m, 0), 50, 1e-12);
    ASSERT_TRUE(m->g[BR__SEMB_ATT_B][0] == 50);
    br_semb_free(m);
}

/* ---- steps, training, determinism ---- */

TEST(semb_step_errors)
{
    prob pr;
    br_semb_params p;
    br_semb *m, *serving;
    prob_random(&pr, 10, 5, 8, 14, 6, 9);
    small_params(&p, BR_SEMB_POOL_PERDIM);
    ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
    size_t idx[2] = {0, 1}, bad_idx = 14;
    br_semb_step_stats st;
    ASSERT_OK(br_semb_step(m, &pr.d, idx, 2, &st));
    ASSERT_EQ_INT(br_semb_steps(m), 1);
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 0, &st), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, &bad_idx, 1, &st), BR_EINVAL);
    ASSERT_EQ_INT(br_semb_step(m, NULL, idx, 2, &st), BR_EINVAL);
    ASSERT_OK(br_semb_new(&p, pr.S, 0, 0, &serving));
    ASSERT_EQ_INT(br_semb_step(serving, &pr.d, idx, 2, &st), BR_EINVAL);
    br_semb_free(serving);

    int32_t u0 = pr.tu[0];
    pr.tu[0] = (int32_t)pr.U; /* user id out of range */
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 2, &st), BR_EINVAL);
    pr.tu[0] = u0;
    pr.r[1] = NAN;
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 2, &st), BR_EINVAL);
    pr.r[1] = 5;
    int32_t s0 = pr.isub[pr.ioff[pr.ti[0]]];
    pr.isub[pr.ioff[pr.ti[0]]] = (int32_t)pr.S; /* subject id out of range */
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 2, &st), BR_ERANGE);
    pr.isub[pr.ioff[pr.ti[0]]] = s0;
    pr.d.users.n = (size_t)pr.tu[0]; /* the first triple's user has no set */
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 2, &st), BR_EINVAL);
    pr.d.users.n = pr.U;
    /* the failures left no marks behind: the same batch still works */
    ASSERT_OK(br_semb_step(m, &pr.d, idx, 2, &st));
    ASSERT_EQ_INT(st.n_triples, 2);
    ASSERT_EQ_INT(br_semb_steps(m), 2);
    /* a non-finite loss is reported, and nothing is updated */
    float keep = m->t[BR__SEMB_IBIAS][pr.ti[0]];
    m->t[BR__SEMB_EMB][pr.isub[pr.ioff[pr.ti[0]]] * 6] = NAN;
    ASSERT_EQ_INT(br_semb_step(m, &pr.d, idx, 2, &st), BR_ERANGE);
    ASSERT_EQ_INT(br_semb_steps(m), 2);
    ASSERT_TRUE(m->t[BR__SEMB_IBIAS][pr.ti[0]] == keep);
    br_semb_free(m);
    prob_free(&pr);
}

typedef struct epochs_seen {
    size_t n;
    double loss[64], mse[64];
    size_t skipped, used;
    size_t stop_after;
} epochs_seen;

static int on_epoch(void *ctx, const br_semb_epoch *e)
{
    epochs_seen *s = ctx;
    if (s->n < 64) {
        s->loss[s->n] = e->loss;
        s->mse[s->n] = e->mse;
    }
    s->n++;
    s->skipped = e->n_skipped;
    s->used = e->n_used;
    return s->stop_after && s->n >= s->stop_after;
}

TEST(semb_train_skips_empty_sets_and_stops)
{
    prob pr;
    br_semb_params p;
    br_semb *m;
    prob_random(&pr, 10, 5, 8, 40, 6, 21);
    small_params(&p, BR_SEMB_POOL_SCALAR);
    p.epochs = 5;
    /* user 4 and item 7 lose their sets */
    pr.d.users.n = 4;
    pr.d.items.n = 8;
    pr.ioff[8] = pr.ioff[7];
    size_t expect_skip = 0;
    double rsum = 0;
    for (size_t t = 0; t < pr.n; t++) {
        if (pr.tu[t] == 4 || pr.ti[t] == 7)
            expect_skip++;
        else
            rsum += pr.r[t];
    }
    ASSERT_CMP_INT(expect_skip, >, 0);
    ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
    epochs_seen seen = {.stop_after = 2};
    ASSERT_OK(br_semb_train(m, &pr.d, on_epoch, &seen));
    ASSERT_EQ_INT(seen.n, 2);
    ASSERT_EQ_INT(seen.skipped, expect_skip);
    ASSERT_EQ_INT(seen.used, pr.n - expect_skip);
    ASSERT_EQ_INT(br_semb_steps(m), 2 * ((pr.n - expect_skip + 15) / 16));
    br_semb_free(m);

    /* the global bias starts at the mean rating of the used triples */
    p.epochs = 0;
    ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
    ASSERT_OK(br_semb_train(m, &pr.d, NULL, NULL));
    ASSERT_NEAR(m->t[BR__SEMB_GBIAS][0], rsum / (double)(pr.n - expect_skip), 1e-5);
    br_semb_free(m);

    /* no usable triple at all */
    pr.d.users.n = 0;
    ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
    ASSERT_EQ_INT(br_semb_train(m, &pr.d, NULL, NULL), BR_EINVAL);
    br_semb_free(m);
    prob_free(&pr);
}

static int train_once(br_semb_pool_kind kind, uint64_t seed, int threads, float *out, size_t n_out)
{
    prob pr;
    br_semb_params p;
    br_semb *m;
    prob_learnable(&pr, 77);
    small_params(&p, kind);
    p.dim = 8;
    p.batch = 128;
    p.epochs = 2;
    p.seed = seed;
    p.threads = threads;
    int rc = br_semb_new(&p, pr.S, pr.U, pr.I, &m);
    if (rc == 0)
        rc = br_semb_train(m, &pr.d, NULL, NULL);
    if (rc == 0)
        memcpy(out, m->params, (n_out < m->n_params ? n_out : m->n_params) * sizeof *out);
    br_semb_free(m);
    prob_free(&pr);
    return rc;
}

TEST(semb_training_is_deterministic)
{
    enum { N = 24 * 8 + 64 + 8 + 120 + 150 + 1 };
    static float a[N], b[N], c[N];
    for (int kind = 0; kind <= BR_SEMB_POOL_MEAN; kind++) {
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        memset(c, 0, sizeof c);
        ASSERT_OK(train_once((br_semb_pool_kind)kind, 5, 2, a, N));
        ASSERT_OK(train_once((br_semb_pool_kind)kind, 5, 2, b, N));
        ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
        ASSERT_OK(train_once((br_semb_pool_kind)kind, 6, 2, c, N));
        ASSERT_TRUE(memcmp(a, c, sizeof a) != 0);
    }
}

/* The kernels' bits do not depend on the thread count (parallel loops write disjoint
 * cells; shared subjects are split by dimension blocks, never by sets). Only OpenBLAS's
 * own thread count may change the bits of a whole training run. */
TEST(semb_kernels_independent_of_thread_count)
{
    enum { S = 30, D = 40, L = 6, NS = 50, NB = 40 };
    static float e[S * D], z[S * D], p[2][NS * D], a[2][NS * L * D], dp[NS * D];
    static float de[2][S * D], dz[2][S * D], gmem[NS * L], h[NB * D], pr[2][NB * NB];
    static float dh[2][NB * D];
    static int32_t set[NS * L], len[NS], npos[NB];
    static uint8_t pos[NB * NB];
    static double rowloss[NB];
    uint64_t s[4];
    br__semb_rng_seed(s, 17);
    for (int i = 0; i < S * D; i++)
        e[i] = (float)nrand(s), z[i] = (float)nrand(s);
    for (int i = 0; i < NS * D; i++)
        dp[i] = (float)nrand(s);
    for (int i = 0; i < NS; i++) {
        len[i] = 1 + (int32_t)urand(s, L);
        for (int j = 0; j < L; j++)
            set[i * L + j] = j < len[i] ? (int32_t)urand(s, S) : -1;
    }
    for (int kind = 0; kind <= BR_SEMB_POOL_MEAN; kind++)
        for (int r = 0; r < 2; r++) {
            int thr = r ? 3 : 1;
            memset(de[r], 0, sizeof de[r]);
            memset(dz[r], 0, sizeof dz[r]);
            br__semb_pool_forward(p[r], a[r], e, z, set, len, NS, L, D, (br_semb_pool_kind)kind,
                                  thr);
            br__semb_pool_backward(de[r], dz[r], gmem, dp, p[r], a[r], e, set, len, NS, L, D,
                                   (br_semb_pool_kind)kind, thr);
            if (r) {
                ASSERT_TRUE(memcmp(p[0], p[1], sizeof p[0]) == 0);
                ASSERT_TRUE(memcmp(de[0], de[1], sizeof de[0]) == 0);
                ASSERT_TRUE(memcmp(dz[0], dz[1], sizeof dz[0]) == 0);
            }
        }
    float nrm[NB];
    br__semb_l2norm_forward(h, nrm, p[0], NB, D);
    for (int i = 0; i < NB; i++) {
        npos[i] = 0;
        for (int k = 0; k < NB; k++) {
            pos[i * NB + k] = i != k && urand(s, 4) == 0;
            npos[i] += pos[i * NB + k];
        }
    }
    double loss[2];
    for (int r = 0; r < 2; r++) {
        size_t na;
        memset(dh[r], 0, sizeof dh[r]);
        loss[r] =
            br__semb_infonce_forward(pr[r], rowloss, h, pos, npos, NB, D, 0.07f, r ? 3 : 1, &na);
        br__semb_infonce_backward(dh[r], pr[r], h, pos, npos, NB, D, 0.07f, na, 1.0f, r ? 3 : 1);
    }
    ASSERT_TRUE(loss[0] == loss[1]);
    ASSERT_TRUE(memcmp(dh[0], dh[1], sizeof dh[0]) == 0);
}

/* Subjects predict ratings: with the rating loss alone the epoch MSE falls well below
 * the variance of the ratings, for every pooling kind; with the default mix the total
 * loss falls too. */
TEST(semb_training_learns)
{
    prob pr;
    prob_learnable(&pr, 31);
    double mean = 0, var = 0;
    for (size_t t = 0; t < pr.n; t++)
        mean += pr.r[t];
    mean /= (double)pr.n;
    for (size_t t = 0; t < pr.n; t++)
        var += (pr.r[t] - mean) * (pr.r[t] - mean);
    var /= (double)pr.n;
    ASSERT_TRUE(var > 1.0);
    for (int kind = 0; kind <= BR_SEMB_POOL_MEAN; kind++) {
        br_semb_params p;
        br_semb *m;
        epochs_seen seen = {0};
        small_params(&p, (br_semb_pool_kind)kind);
        p.dim = 8;
        p.batch = 128;
        p.epochs = 40;
        p.lr = 0.02f;
        p.lambda_mse = 1;
        p.lambda_con = 0;
        ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
        ASSERT_OK(br_semb_train(m, &pr.d, on_epoch, &seen));
        ASSERT_EQ_INT(seen.n, 40);
        if (!(seen.mse[39] < 0.35 * var))
            fprintf(stderr, "    %s: variance %.3f, mse %.3f -> %.3f\n",
                    br_semb_pool_name((br_semb_pool_kind)kind), var, seen.mse[0], seen.mse[39]);
        ASSERT_TRUE(seen.mse[39] < 0.35 * var);
        br_semb_free(m);

        br_semb_params_default(&p);
        p.pool = (br_semb_pool_kind)kind;
        p.dim = 8;
        p.batch = 256;
        p.epochs = 20;
        p.threads = 2;
        seen.n = 0;
        ASSERT_OK(br_semb_new(&p, pr.S, pr.U, pr.I, &m));
        ASSERT_OK(br_semb_train(m, &pr.d, on_epoch, &seen));
        ASSERT_TRUE(seen.loss[19] < 0.9 * seen.loss[0]);
        br_semb_free(m);
    }
    prob_free(&pr);
}
