/* Internals of the subject-embedding model, shared by subject_emb.c (model, parameters,
 * pooling API), subject_emb_layers.c (forward/backward kernels) and subject_emb_train.c
 * (batches, loss, AdamW, training loop), and by the unit tests (gradient checks). */
#ifndef BOOKREC_SUBJECT_EMB_INTERNAL_H
#define BOOKREC_SUBJECT_EMB_INTERNAL_H

#include "bookrec/subject_emb.h"

#include <stddef.h>
#include <stdint.h>

/* Parameter tensors, in the order of the one allocation (llm.c's sizes table). */
enum br__semb_tensor {
    BR__SEMB_EMB = 0, /* [S, D] subject vectors */
    BR__SEMB_ATT_W,   /* PERDIM [D, D]; SCALAR [D]; MEAN [0] */
    BR__SEMB_ATT_B,   /* PERDIM [D]; SCALAR [1]; MEAN [0] */
    BR__SEMB_UBIAS,   /* [U] */
    BR__SEMB_IBIAS,   /* [I] */
    BR__SEMB_GBIAS,   /* [1] */
    BR__SEMB_NT
};

extern const char *const br__semb_tensor_names[BR__SEMB_NT];

/* One batch, assembled from triples: distinct users then distinct books form one list of
 * ns = nu + nb sets (pooled together); triples point into it. */
typedef struct br__semb_batch {
    size_t n, nu, nb, ns;
    size_t L;         /* max_set: the padded set length */
    int32_t *tu, *tb; /* [n] triple -> distinct user (0..nu-1), distinct book (0..nb-1) */
    float *rating;    /* [n] */
    int32_t *id;      /* [ns] user id (first nu), then item id */
    int32_t *set;     /* [ns, L] subject ids; entries at j >= len[i] are padding (-1) */
    int32_t *len;     /* [ns] 1..L */
    uint8_t *pos;     /* [nb, nb] 1 when books i != k share a subject */
    int32_t *npos;    /* [nb] positives of each book */
    size_t cap;       /* triples the arrays hold */
} br__semb_batch;

/* Activations and their gradients for one batch (grown to the largest batch seen). */
typedef struct br__semb_acts {
    size_t cap_s, cap_set, cap_nb; /* capacities: sets, set entries, books */
    float *z;                      /* [S, Dz] attention scores per subject (Dz = D, 1 or 0) */
    float *a;                      /* [ns, L, Dz] attention weights (0 at padding) */
    float *p;                      /* [ns, D] pooled vectors */
    float *pred;                   /* [n] predicted ratings */
    float *h;                      /* [nb, D] normalized book vectors */
    float *nrm;                    /* [nb] their norms before normalizing */
    float *prob;     /* [nb, nb] softmax over k != i of h_i.h_k / tau; then its gradient */
    double *rowloss; /* [nb] */
    float *dz;       /* [S, Dz] */
    float *dp;       /* [ns, D] */
    float *dh;       /* [nb, D] */
    float *gmem;     /* [ns, L] scalar attention: per-entry score gradients */
} br__semb_acts;

struct br_semb {
    br_semb_params p;
    size_t S, U, I, D;
    size_t sizes[BR__SEMB_NT], rows[BR__SEMB_NT], cols[BR__SEMB_NT];
    size_t n_params;
    float *params;          /* one allocation of n_params floats */
    float *t[BR__SEMB_NT];  /* into params */
    float *grads, *m1, *m2; /* mirrors of params: gradient, Adam moments (lazy) */
    float *g[BR__SEMB_NT];  /* into grads */
    uint64_t steps;
    uint64_t rng[4]; /* xoshiro256**: shuffling */
    br__semb_batch batch;
    br__semb_acts acts;
    int32_t *mark_u, *mark_i; /* [U], [I]: batch-local index + 1 while building, else 0 */
    int32_t *sub_off;         /* [S + 1]: the batch's books per subject (counting sort) */
    int32_t *sub_books;       /* [nb * L] */
};

/* OpenMP through macros, so that NO_OMP builds see no unknown pragma (-Werror). */
#define BR__SEMB_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define BR__SEMB_PARALLEL_FOR(nt) BR__SEMB_PRAGMA(omp parallel for schedule(static) num_threads(nt))
#define BR__SEMB_PARALLEL_FOR_SIMD_IF(nt, c)                                                       \
    BR__SEMB_PRAGMA(omp parallel for simd schedule(static) num_threads(nt) if (c))
#define BR__SEMB_SIMD BR__SEMB_PRAGMA(omp simd)
#define BR__SEMB_SIMD_MAX(v) BR__SEMB_PRAGMA(omp simd reduction(max : v))
#define BR__SEMB_SIMD_SUM(v) BR__SEMB_PRAGMA(omp simd reduction(+ : v))
#define BR__SEMB_PRAGMA_SIMD_SUM_MAX(s, m)                                                         \
    BR__SEMB_PRAGMA(omp simd reduction(+ : s) reduction(max : m))
#else
#define BR__SEMB_PARALLEL_FOR(nt)
#define BR__SEMB_PARALLEL_FOR_SIMD_IF(nt, c)
#define BR__SEMB_SIMD
#define BR__SEMB_SIMD_MAX(v)
#define BR__SEMB_SIMD_SUM(v)
#define BR__SEMB_PRAGMA_SIMD_SUM_MAX(s, m)
#endif

/* exp(x) for x in [BR__SEMB_EXP_MIN, 0], the softmaxes' arguments after subtracting a
 * maximum (callers clamp first: e^-87 ~ 1.6e-38 stands for anything smaller, which no
 * float32 sum that contains a 1 can see). Written to vectorize, where libm's expf is a
 * call per element: Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, Cephes' degree-6
 * polynomial for e^r, 2^n built in the exponent bits. Relative error below 3e-7 (tested).
 * The clamp is a separate loop: under -ftrapping-math GCC will not vectorize float
 * arithmetic that follows a select in the same loop. It is written x >= MIN ? x : MIN so
 * that a NaN becomes MIN here (the NaN still reaches the loss through the vectors, and
 * the step reports it) instead of an out-of-range conversion to int. */
#define BR__SEMB_EXP_MIN -87.0f
static inline float br__semb_expf(float x)
{
    float n = x * 1.44269504088896341f + 12582912.0f; /* round to nearest: 1.5 * 2^23 */
    n -= 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } two_n = {.i = ((int32_t)n + 127) * (1 << 23)};
    return q * two_n.f;
}

/* xoshiro256** seeded through splitmix64 (Blackman & Vigna). */
void br__semb_rng_seed(uint64_t s[4], uint64_t seed);
uint64_t br__semb_rng_next(uint64_t s[4]);

int br__semb_threads(const br_semb *m);

/* ---- layers (subject_emb_layers.c): pure functions, shapes in comments ---- */

/* z[S, D] = e[S, D] W^T + b (PERDIM); z[S] = e w + b (SCALAR); nothing for MEAN. */
void br__semb_scores_forward(float *z, const float *e, const float *w, const float *b, size_t S,
                             size_t D, br_semb_pool_kind kind);
/* Accumulates de[S, D] += dz W (or dz w^T), dw += dz^T e, db += column sums of dz. */
void br__semb_scores_backward(float *de, float *dw, float *db, const float *dz, const float *e,
                              const float *w, size_t S, size_t D, br_semb_pool_kind kind);
/* p[ns, D] pooled from e[S, D] and z[S, Dz] over set[ns, L] (len[ns] entries each);
 * a[ns, L, Dz] gets the attention weights, 0 at padding (unused for MEAN). */
void br__semb_pool_forward(float *p, float *a, const float *e, const float *z, const int32_t *set,
                           const int32_t *len, size_t ns, size_t L, size_t D,
                           br_semb_pool_kind kind, int threads);
/* Accumulates de[S, D] and dz[S, Dz] from dp[ns, D]; gmem[ns, L] is scratch (SCALAR). */
void br__semb_pool_backward(float *de, float *dz, float *gmem, const float *dp, const float *p,
                            const float *a, const float *e, const int32_t *set, const int32_t *len,
                            size_t ns, size_t L, size_t D, br_semb_pool_kind kind, int threads);
/* pred[t] = pu[tu[t]].pb[tb[t]] + ub[uid[tu[t]]] + ib[bid[tb[t]]] + gb[0]; returns
 * mean_t (pred[t] - r[t])^2. pu: [nu, D] (ids uid), pb: [nb, D] (ids bid). */
double br__semb_mse_forward(float *pred, const float *pu, const float *pb, const int32_t *tu,
                            const int32_t *tb, const int32_t *uid, const int32_t *bid,
                            const float *ub, const float *ib, const float *gb, const float *r,
                            size_t n, size_t D);
/* Accumulates the gradient of scale * mse into dpu, dpb, dub, dib, dgb. */
void br__semb_mse_backward(float *dpu, float *dpb, float *dub, float *dib, float *dgb,
                           const float *pred, const float *pu, const float *pb, const int32_t *tu,
                           const int32_t *tb, const int32_t *uid, const int32_t *bid,
                           const float *r, size_t n, size_t D, float scale);
/* h[n, D] = p / max(|p|, 1e-12) row by row (torch.nn.functional.normalize); nrm[n]. */
void br__semb_l2norm_forward(float *h, float *nrm, const float *p, size_t n, size_t D);
/* Accumulates dp[n, D] from dh. */
void br__semb_l2norm_backward(float *dp, const float *dh, const float *h, const float *nrm,
                              size_t n, size_t D);
/* Multi-positive InfoNCE over h[n, D] (docs/subject_embeddings.md): prob[n, n] gets the
 * softmax over k != i of h_i.h_k / tau (0 on the diagonal), rowloss[n] each anchor's loss
 * (0 for a non-anchor); returns the mean over anchors (0 when none) and *n_anchors. */
double br__semb_infonce_forward(float *prob, double *rowloss, const float *h, const uint8_t *pos,
                                const int32_t *npos, size_t n, size_t D, float tau, int threads,
                                size_t *n_anchors);
/* Accumulates dh[n, D] of scale * loss; turns prob into the logits' gradient (scratch). */
void br__semb_infonce_backward(float *dh, float *prob, const float *h, const uint8_t *pos,
                               const int32_t *npos, size_t n, size_t D, float tau, size_t n_anchors,
                               float scale, int threads);

/* ---- training (subject_emb_train.c) ---- */

/* Gathers triples idx[0..n) of d into m->batch (distinct users and books, padded sets,
 * positives). Returns 0, BR_EINVAL, BR_ERANGE or BR_ENOMEM. */
int br__semb_batch_build(br_semb *m, const br_semb_data *d, const size_t *idx, size_t n);
/* Allocates gradients and Adam moments (once). */
int br__semb_state_alloc(br_semb *m);
void br__semb_zero_grad(br_semb *m);
/* Forward (and with want_grad the backward, accumulating into m->grads) on m->batch.
 * Fills the loss fields of st. Returns 0 or BR_ENOMEM. */
int br__semb_forward_backward(br_semb *m, int want_grad, br_semb_step_stats *st);
/* Global L2 norm of the gradients; scales them by clip / (norm + 1e-6) when that is < 1
 * (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. */
double br__semb_clip(br_semb *m, float clip);
/* One AdamW update of every tensor from m->grads (increments m->steps). */
void br__semb_adamw(br_semb *m);

#endif
