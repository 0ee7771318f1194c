/* Subject embeddings: the model, its parameters and pooling for serving (see
 * subject_emb.h; kernels in subject_emb_layers.c, training in subject_emb_train.c; the
 * mathematics in docs/subject_embeddings.md).
 *
 * Design decisions:
 * 1. Parameters live in one float allocation described by a sizes table (llm.c); the
 *    gradients and both Adam moments mirror it and are allocated on the first step only,
 *    so a serving model (n_users = n_items = 0) costs the subject vectors and attention.
 * 2. Attention scores depend on the subject alone (z = W e + b), so they are computed once
 *    per subject and step ([S, D], one sgemm) and gathered per set, rather than once per
 *    (set, member): on Book-Crossing batches that is ~30x fewer flops, the same numbers.
 * 3. Books and readers share the subject vectors and the attention: a cold reader's vector
 *    is comparable with book vectors by cosine, which is what serving needs.
 * 4. Only the first max_set subjects of a row are used (rows come best first); the same
 *    truncation in training and serving, so a served vector is the trained one.
 * 5. Initialization: subject vectors N(0, init_std^2) (Box-Muller on xoshiro256**), W and
 *    w uniform in +-1/sqrt(dim) as torch.nn.Linear, biases 0, so attention starts nearly
 *    uniform and the dot products start small against the global bias. */
#include "subject_emb_internal.h"

#include "bookrec/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *const br__semb_tensor_names[BR__SEMB_NT] = {
    "subject_emb", "attn_w", "attn_b", "user_bias", "item_bias", "global_bias",
};

const char *br_semb_pool_name(br_semb_pool_kind k)
{
    switch (k) {
    case BR_SEMB_POOL_PERDIM:
        return "perdim";
    case BR_SEMB_POOL_SCALAR:
        return "scalar";
    case BR_SEMB_POOL_MEAN:
        return "mean";
    }
    return "?";
}

int br_semb_pool_parse(const char *name, br_semb_pool_kind *out)
{
    if (!name || !out)
        return BR_EINVAL;
    for (int k = BR_SEMB_POOL_PERDIM; k <= BR_SEMB_POOL_MEAN; k++)
        if (strcmp(name, br_semb_pool_name((br_semb_pool_kind)k)) == 0) {
            *out = (br_semb_pool_kind)k;
            return 0;
        }
    return BR_EINVAL;
}

void br_semb_params_default(br_semb_params *p)
{
    *p = (br_semb_params){
        .dim = 64,
        .pool = BR_SEMB_POOL_PERDIM,
        .max_set = 16,
        .lambda_mse = 0.2f,
        .lambda_con = 0.8f,
        .tau = 0.07f,
        .lr = 3e-3f,
        .weight_decay = 0.05f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .clip = 1.0f,
        .init_std = 0.1f,
        .batch = 2048,
        .epochs = 10,
        .seed = 42,
        .threads = 0,
    };
}

static int finite_ge(float x, float lo)
{
    return isfinite(x) && x >= lo;
}

int br_semb_params_check(const br_semb_params *p)
{
    if (!p || p->dim < 1 || p->dim > BR_SEMB_MAX_DIM || p->max_set < 1 ||
        p->max_set > BR_SEMB_MAX_SET || p->batch < 2 || p->batch > BR_SEMB_MAX_BATCH ||
        p->threads < 0)
        return BR_EINVAL;
    if ((unsigned)p->pool > BR_SEMB_POOL_MEAN)
        return BR_EINVAL;
    if (!finite_ge(p->lambda_mse, 0) || !finite_ge(p->lambda_con, 0) ||
        p->lambda_mse + p->lambda_con <= 0)
        return BR_EINVAL;
    if (!finite_ge(p->tau, 0) || p->tau == 0 || !finite_ge(p->lr, 0) || p->lr == 0 ||
        !finite_ge(p->weight_decay, 0) || !finite_ge(p->clip, 0) || !finite_ge(p->eps, 0) ||
        p->eps == 0 || !finite_ge(p->init_std, 0))
        return BR_EINVAL;
    if (!finite_ge(p->beta1, 0) || p->beta1 >= 1 || !finite_ge(p->beta2, 0) || p->beta2 >= 1)
        return BR_EINVAL;
    return 0;
}

/* ---- PRNG: xoshiro256** (Blackman & Vigna, 2018), seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void br__semb_rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t br__semb_rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1), 53 bits. */
static double rng_unit(uint64_t s[4])
{
    return (double)(br__semb_rng_next(s) >> 11) * 0x1.0p-53;
}

int br__semb_threads(const br_semb *m)
{
#ifdef _OPENMP
    return m->p.threads > 0 ? m->p.threads : omp_get_max_threads();
#else
    (void)m;
    return 1;
#endif
}

/* ---- model ---- */

static void init_params(br_semb *m)
{
    uint64_t *s = m->rng;
    float *e = m->t[BR__SEMB_EMB];
    for (size_t i = 0; i < m->sizes[BR__SEMB_EMB]; i += 2) {
        /* Box-Muller: two normals from two uniforms; 1 - u keeps the log finite. */
        double u1 = 1.0 - rng_unit(s), u2 = rng_unit(s);
        double r = sqrt(-2.0 * log(u1)) * m->p.init_std;
        e[i] = (float)(r * cos(2 * M_PI * u2));
        if (i + 1 < m->sizes[BR__SEMB_EMB])
            e[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
    double bound = 1.0 / sqrt((double)m->D);
    for (size_t i = 0; i < m->sizes[BR__SEMB_ATT_W]; i++)
        m->t[BR__SEMB_ATT_W][i] = (float)((2 * rng_unit(s) - 1) * bound);
    /* attention bias and the three rating biases stay 0 (calloc) */
}

int br_semb_new(const br_semb_params *p, size_t n_subjects, size_t n_users, size_t n_items,
                br_semb **out)
{
    br_semb_params def;
    br_semb *m = NULL;
    int rc;

    if (!p) {
        br_semb_params_default(&def);
        p = &def;
    }
    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if ((rc = br_semb_params_check(p)) != 0)
        return rc;
    if (n_subjects == 0 || n_subjects > BR_SEMB_MAX_ROWS || n_users > BR_SEMB_MAX_ROWS ||
        n_items > BR_SEMB_MAX_ROWS || n_subjects > INT32_MAX || n_users > INT32_MAX ||
        n_items > INT32_MAX)
        return BR_EINVAL;
    if (!(m = calloc(1, sizeof *m)))
        return BR_ENOMEM;
    m->p = *p;
    m->S = n_subjects;
    m->U = n_users;
    m->I = n_items;
    m->D = p->dim;

    /* The sizes table: (rows, cols), cols 0 for 1-D; n = rows * max(cols, 1). */
    size_t D = m->D, Dz = p->pool == BR_SEMB_POOL_PERDIM ? D : 1;
    int att = p->pool != BR_SEMB_POOL_MEAN;
    size_t shape[BR__SEMB_NT][2] = {
        [BR__SEMB_EMB] = {m->S, D},
        [BR__SEMB_ATT_W] = {att ? D : 0, p->pool == BR_SEMB_POOL_PERDIM ? D : 0},
        [BR__SEMB_ATT_B] = {att ? Dz : 0, 0},
        [BR__SEMB_UBIAS] = {m->U, 0},
        [BR__SEMB_IBIAS] = {m->I, 0},
        [BR__SEMB_GBIAS] = {1, 0},
    };
    for (int k = 0; k < BR__SEMB_NT; k++) {
        m->rows[k] = shape[k][0];
        m->cols[k] = shape[k][1];
        m->sizes[k] = shape[k][0] * (shape[k][1] ? shape[k][1] : 1); /* < 2^42: no overflow */
        m->n_params += m->sizes[k];
    }
    rc = BR_ENOMEM;
    if (!(m->params = calloc(m->n_params, sizeof *m->params)))
        goto fail;
    for (size_t k = 0, off = 0; k < BR__SEMB_NT; off += m->sizes[k], k++)
        m->t[k] = m->params + off;
    br__semb_rng_seed(m->rng, p->seed);
    init_params(m);
    *out = m;
    return 0;
fail:
    br_semb_free(m);
    return rc;
}

static void acts_free(br__semb_acts *a)
{
    free(a->z);
    free(a->a);
    free(a->p);
    free(a->pred);
    free(a->h);
    free(a->nrm);
    free(a->prob);
    free(a->rowloss);
    free(a->dz);
    free(a->dp);
    free(a->dh);
    free(a->gmem);
}

static void batch_free(br__semb_batch *b)
{
    free(b->tu);
    free(b->tb);
    free(b->rating);
    free(b->id);
    free(b->set);
    free(b->len);
    free(b->pos);
    free(b->npos);
}

void br_semb_free(br_semb *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->m1);
    free(m->m2);
    batch_free(&m->batch);
    acts_free(&m->acts);
    free(m->mark_u);
    free(m->mark_i);
    free(m->sub_off);
    free(m->sub_books);
    free(m);
}

const br_semb_params *br_semb_get_params(const br_semb *m)
{
    return m ? &m->p : NULL;
}

size_t br_semb_n_subjects(const br_semb *m)
{
    return m ? m->S : 0;
}

uint64_t br_semb_steps(const br_semb *m)
{
    return m ? m->steps : 0;
}

/* ---- tensors by name ---- */

size_t br_semb_n_tensors(const br_semb *m)
{
    size_t n = 0;
    for (int k = 0; m && k < BR__SEMB_NT; k++)
        n += m->sizes[k] > 0;
    return n;
}

static void tensor_fill(const br_semb *m, int k, br_semb_tensor *out)
{
    out->name = br__semb_tensor_names[k];
    out->rows = m->rows[k];
    out->cols = m->cols[k];
    out->data = m->t[k];
}

int br_semb_tensor_at(const br_semb *m, size_t i, br_semb_tensor *out)
{
    if (!m || !out)
        return BR_EINVAL;
    for (int k = 0; k < BR__SEMB_NT; k++) {
        if (m->sizes[k] == 0)
            continue;
        if (i-- == 0) {
            tensor_fill(m, k, out);
            return 0;
        }
    }
    return BR_EINVAL;
}

static int tensor_find(const br_semb *m, const char *name)
{
    for (int k = 0; k < BR__SEMB_NT; k++)
        if (m->sizes[k] > 0 && strcmp(name, br__semb_tensor_names[k]) == 0)
            return k;
    return -1;
}

int br_semb_tensor_get(const br_semb *m, const char *name, br_semb_tensor *out)
{
    if (!m || !name || !out)
        return BR_EINVAL;
    int k = tensor_find(m, name);
    if (k < 0)
        return BR_ENOENT;
    tensor_fill(m, k, out);
    return 0;
}

int br_semb_tensor_set(br_semb *m, const char *name, const float *data, size_t rows, size_t cols)
{
    if (!m || !name || !data)
        return BR_EINVAL;
    int k = tensor_find(m, name);
    if (k < 0)
        return BR_ENOENT;
    if (rows != m->rows[k] || cols != m->cols[k])
        return BR_EINVAL;
    for (size_t i = 0; i < m->sizes[k]; i++)
        if (!isfinite(data[i]))
            return BR_EINVAL;
    memcpy(m->t[k], data, m->sizes[k] * sizeof *data);
    return 0;
}

/* ---- pooling for serving ---- */

int br_semb_pool(const br_semb *m, const int32_t *subjects, size_t n, float *out)
{
    size_t D, Dz;
    float *e = NULL, *z = NULL, *a = NULL;
    int32_t *set = NULL, len;
    int rc = BR_EINVAL;

    if (!m || !subjects || !out || n == 0)
        return BR_EINVAL;
    if (n > m->p.max_set)
        n = m->p.max_set;
    for (size_t j = 0; j < n; j++)
        if (subjects[j] < 0 || (size_t)subjects[j] >= m->S)
            return BR_ERANGE;
    D = m->D;
    Dz = m->p.pool == BR_SEMB_POOL_PERDIM ? D : 1;
    rc = BR_ENOMEM;
    if (!(e = malloc(n * D * sizeof *e)) || !(z = malloc(n * Dz * sizeof *z)) ||
        !(a = malloc(n * Dz * sizeof *a)) || !(set = malloc(n * sizeof *set)))
        goto fail;
    /* The set's members become a little subject table 0..n-1. */
    for (size_t j = 0; j < n; j++) {
        memcpy(e + j * D, m->t[BR__SEMB_EMB] + (size_t)subjects[j] * D, D * sizeof *e);
        set[j] = (int32_t)j;
    }
    len = (int32_t)n;
    br__semb_scores_forward(z, e, m->t[BR__SEMB_ATT_W], m->t[BR__SEMB_ATT_B], n, D, m->p.pool);
    br__semb_pool_forward(out, a, e, z, set, &len, 1, n, D, m->p.pool, 1);
    rc = 0;
fail:
    free(e);
    free(z);
    free(a);
    free(set);
    return rc;
}

#define POOL_CHUNK 1024 /* sets pooled per pass in br_semb_pool_rows */

int br_semb_pool_rows(const br_semb *m, const br_semb_sets *sets, size_t n_rows, float *out,
                      size_t *n_empty)
{
    size_t D, Dz, L, empty = 0;
    float *z = NULL, *a = NULL, *p = NULL;
    int32_t *set = NULL, *len = NULL;
    size_t *row = NULL;
    int rc = BR_EINVAL;

    if (!m || !sets || !out || (sets->n && (!sets->offsets || !sets->subject)))
        return BR_EINVAL;
    D = m->D;
    L = m->p.max_set;
    Dz = m->p.pool == BR_SEMB_POOL_PERDIM ? D : 1;
    /* Validate every row before writing anything. */
    for (size_t r = 0; r < n_rows && r < sets->n; r++) {
        if (sets->offsets[r + 1] < sets->offsets[r])
            return BR_EINVAL;
        for (size_t j = sets->offsets[r]; j < sets->offsets[r + 1]; j++)
            if (sets->subject[j] < 0 || (size_t)sets->subject[j] >= m->S)
                return BR_ERANGE;
    }
    rc = BR_ENOMEM;
    if (!(z = malloc(m->S * Dz * sizeof *z)) || !(a = malloc(POOL_CHUNK * L * Dz * sizeof *a)) ||
        !(p = malloc(POOL_CHUNK * D * sizeof *p)) ||
        !(set = malloc(POOL_CHUNK * L * sizeof *set)) ||
        !(len = malloc(POOL_CHUNK * sizeof *len)) || !(row = malloc(POOL_CHUNK * sizeof *row)))
        goto fail;
    br__semb_scores_forward(z, m->t[BR__SEMB_EMB], m->t[BR__SEMB_ATT_W], m->t[BR__SEMB_ATT_B], m->S,
                            D, m->p.pool);
    for (size_t r0 = 0; r0 < n_rows;) {
        size_t ns = 0;
        for (; r0 < n_rows && ns < POOL_CHUNK; r0++) {
            size_t n = r0 < sets->n ? sets->offsets[r0 + 1] - sets->offsets[r0] : 0;
            if (n == 0) {
                memset(out + r0 * D, 0, D * sizeof *out);
                empty++;
                continue;
            }
            if (n > L)
                n = L;
            for (size_t j = 0; j < L; j++)
                set[ns * L + j] = j < n ? sets->subject[sets->offsets[r0] + j] : -1;
            len[ns] = (int32_t)n;
            row[ns++] = r0;
        }
        br__semb_pool_forward(p, a, m->t[BR__SEMB_EMB], z, set, len, ns, L, D, m->p.pool,
                              br__semb_threads(m));
        for (size_t i = 0; i < ns; i++)
            memcpy(out + row[i] * D, p + i * D, D * sizeof *out);
    }
    if (n_empty)
        *n_empty = empty;
    rc = 0;
fail:
    free(z);
    free(a);
    free(p);
    free(set);
    free(len);
    free(row);
    return rc;
}
