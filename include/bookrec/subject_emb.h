/* Subject embeddings: one learned vector per subject; a book's or a reader's vector is the
 * attention-pooled aggregate of the vectors of its subjects (DESIGN.md §5, issue 3).
 *
 * Pooling of a set {e_1..e_n} (a book's subjects, a reader's favorite subjects):
 *   PERDIM  z_j = W e_j + b (W: dim x dim, b: dim); for every dimension d separately
 *           a_jd = softmax_j(z_jd) over the set; pooled p_d = sum_j a_jd e_jd.
 *   SCALAR  z_j = w.e_j + b (w: dim, b: 1); a_j = softmax_j(z_j); p = sum_j a_j e_j.
 *   MEAN    p = (1/n) sum_j e_j.
 * The same subject vectors and the same attention serve books and readers, so both live in
 * one space and a cold reader is compared with books by cosine.
 *
 * Training (br_semb_train): a batch is `batch` (user, item, rating) triples;
 *   loss = lambda_mse * mean_t (dot(p_u, p_b) + b_u + b_b + g - r)^2
 *        + lambda_con * InfoNCE over the batch's distinct books (L2-normalized pooled
 *          vectors, similarity / tau; positives: other books of the batch sharing a subject),
 * AdamW (decoupled, as torch.optim.AdamW) after clipping the global gradient norm (as
 * torch.nn.utils.clip_grad_norm_). Equations and derivations: docs/subject_embeddings.md.
 * Deterministic for a fixed seed and thread count.
 *
 * Sets are rows of a CSR (offsets, subject ids) ordered best first, as br_item_subjects
 * and br_favsub give them; only the first max_set entries of a row are used, everywhere
 * (training and pooling). Sets are taken as given: a repeated id counts twice. */
#ifndef BOOKREC_SUBJECT_EMB_H
#define BOOKREC_SUBJECT_EMB_H

#include <stddef.h>
#include <stdint.h>

typedef enum br_semb_pool_kind {
    BR_SEMB_POOL_PERDIM = 0, /* per-dimension attention ("perdim") */
    BR_SEMB_POOL_SCALAR = 1, /* one score per subject ("scalar") */
    BR_SEMB_POOL_MEAN = 2    /* unweighted mean ("mean") */
} br_semb_pool_kind;

/* "perdim", "scalar", "mean"; "?" for anything else. */
const char *br_semb_pool_name(br_semb_pool_kind k);
/* The inverse of br_semb_pool_name: 0, or BR_EINVAL for an unknown name. */
int br_semb_pool_parse(const char *name, br_semb_pool_kind *out);

/* Limits (BR_EINVAL beyond them). */
#define BR_SEMB_MAX_DIM 4096
#define BR_SEMB_MAX_SET 1024
#define BR_SEMB_MAX_BATCH 16384            /* the InfoNCE matrix is batch^2 floats */
#define BR_SEMB_MAX_ROWS ((size_t)1 << 30) /* subjects, users, items */

typedef struct br_semb_params {
    size_t dim;             /* 64: vector size, 1..BR_SEMB_MAX_DIM */
    br_semb_pool_kind pool; /* PERDIM */
    size_t max_set;         /* 16: subjects used per set (the first of each row) */
    float lambda_mse;       /* 0.2: weight of the rating MSE, >= 0 */
    float lambda_con;       /* 0.8: weight of the InfoNCE term, >= 0 (not both 0) */
    float tau;              /* 0.07: InfoNCE temperature, > 0 */
    float lr;               /* 3e-3: AdamW learning rate, > 0 */
    float weight_decay;     /* 0.05: decoupled; on subject vectors and W / w only */
    float beta1, beta2;     /* 0.9, 0.999: in [0, 1) */
    float eps;              /* 1e-8: > 0 */
    float clip;             /* 1.0: max global gradient norm; 0 = no clipping */
    float init_std;         /* 0.1: subject vectors ~ N(0, init_std^2) */
    size_t batch;           /* 2048: triples per step, 2..BR_SEMB_MAX_BATCH */
    size_t epochs;          /* 10 */
    uint64_t seed;          /* 42: initialization and shuffling */
    int threads;            /* 0: OpenMP's default; else the OpenMP thread count */
} br_semb_params;

void br_semb_params_default(br_semb_params *p);
/* 0, or BR_EINVAL when a field is out of range. */
int br_semb_params_check(const br_semb_params *p);

/* Rows of subject ids: row i is subject[offsets[i] .. offsets[i+1]); rows at or beyond n
 * are empty. Shaped as br_item_subjects and br_favsub_csr(), so both pass straight in. */
typedef struct br_semb_sets {
    size_t n;
    const size_t *offsets; /* n + 1, non-decreasing */
    const int32_t *subject;
} br_semb_sets;

/* Training data: explicit ratings of the train fold only (the caller filters folds). */
typedef struct br_semb_data {
    br_semb_sets items;         /* item -> subjects */
    br_semb_sets users;         /* user -> favorite subjects */
    const int32_t *user, *item; /* n_triples each: ids < n_users, < n_items of the model */
    const float *rating;        /* n_triples: finite */
    size_t n_triples;
    /* NULL: two books of a batch are InfoNCE positives when they share any subject. Else
     * n_subjects flags: only a shared subject flagged 1 makes them positives (e.g. 0 for
     * generic subjects such as "fiction", which most books share). Pooling is unchanged. */
    const uint8_t *positive_subjects;
} br_semb_data;

typedef struct br_semb br_semb;

/* A model with freshly initialized parameters: subject vectors ~ N(0, init_std^2), W / w
 * ~ U(-1/sqrt(dim), 1/sqrt(dim)) (torch.nn.Linear's default), every bias 0. n_users and
 * n_items size the training biases; 0 and 0 give a serving model (pooling only).
 * Returns 0, BR_EINVAL (NULL, bad params, n_subjects 0 or any size over BR_SEMB_MAX_ROWS)
 * or BR_ENOMEM. p NULL means the defaults. */
int br_semb_new(const br_semb_params *p, size_t n_subjects, size_t n_users, size_t n_items,
                br_semb **out);
void br_semb_free(br_semb *m);
const br_semb_params *br_semb_get_params(const br_semb *m);
size_t br_semb_n_subjects(const br_semb *m);
/* AdamW steps taken so far. */
uint64_t br_semb_steps(const br_semb *m);

/* Parameter tensors, by name (cols 0 for a 1-D tensor, as br_npy_write takes them):
 *   "subject_emb"  n_subjects x dim
 *   "attn_w"       dim x dim (PERDIM: row k scores dimension k), dim (SCALAR); MEAN: none
 *   "attn_b"       dim (PERDIM), 1 (SCALAR); MEAN: none. It shifts every score of a set
 *                  alike, so a softmax ignores it: no effect, gradient 0 (kept as specified)
 *   "user_bias"    n_users      "item_bias"  n_items      "global_bias"  1
 * Serving needs subject_emb, attn_w, attn_b only; the biases exist for training. */
typedef struct br_semb_tensor {
    const char *name;
    size_t rows, cols;
    const float *data; /* valid until the next step or br_semb_free */
} br_semb_tensor;

/* Number of tensors of this model: those with at least one element (6 for the attention
 * kinds, 4 for MEAN; a serving model has no user or item bias). And the k-th, in the order
 * of the list above (0 or BR_EINVAL for k out of range). */
size_t br_semb_n_tensors(const br_semb *m);
int br_semb_tensor_at(const br_semb *m, size_t k, br_semb_tensor *out);
/* 0, BR_ENOENT (no such tensor in this model) or BR_EINVAL. */
int br_semb_tensor_get(const br_semb *m, const char *name, br_semb_tensor *out);
/* Copies data (rows x cols, cols 0 for 1-D) into the tensor name: loading a trained model.
 * Returns 0, BR_ENOENT, BR_EINVAL (NULL, shape differs, a value not finite). */
int br_semb_tensor_set(br_semb *m, const char *name, const float *data, size_t rows, size_t cols);

/* Pooled vector of one set: the first max_set of subjects[0..n) -> out[dim].
 * Thread-safe on a model no one is training. Returns 0, BR_EINVAL (NULL, n == 0) or
 * BR_ERANGE (an id outside 0..n_subjects-1). */
int br_semb_pool(const br_semb *m, const int32_t *subjects, size_t n, float *out);
/* Pooled vectors of rows 0..n_rows-1 of sets (n_rows may exceed sets->n) into out
 * (n_rows x dim); an empty row gets zeros and is counted in *n_empty (may be NULL).
 * Returns 0, BR_EINVAL, BR_ERANGE or BR_ENOMEM. */
int br_semb_pool_rows(const br_semb *m, const br_semb_sets *sets, size_t n_rows, float *out,
                      size_t *n_empty);

/* What one step saw and computed; losses are those of the batch before the update. */
typedef struct br_semb_step_stats {
    double loss;      /* lambda_mse * mse + lambda_con * con */
    double mse, con;  /* the two terms, unweighted; con 0 when no book has a positive */
    double grad_norm; /* global norm before clipping */
    size_t n_triples, n_users, n_books; /* distinct users and books in the batch */
    size_t n_anchors;                   /* books with at least one positive */
} br_semb_step_stats;

/* One AdamW step on the triples idx[0..n) of data (n >= 1; n may exceed params.batch).
 * Every triple must be usable: ids in range, non-empty user and item sets.
 * Returns 0, BR_EINVAL (NULL, a serving model, an empty set, a rating not finite, an id
 * at or beyond the model's sizes, a malformed row), BR_ERANGE (a subject id out of range;
 * or the loss or gradient is not finite: diverged, nothing updated) or BR_ENOMEM.
 * stats may be NULL. */
int br_semb_step(br_semb *m, const br_semb_data *data, const size_t *idx, size_t n,
                 br_semb_step_stats *stats);

/* One line of progress per epoch. */
typedef struct br_semb_epoch {
    size_t epoch, epochs, steps;
    double loss, mse, con; /* means over the epoch's steps */
    double seconds;
    size_t n_used, n_skipped; /* triples used / skipped for an empty user or item set */
} br_semb_epoch;

/* Returns 0 to go on, anything else to stop after this epoch. */
typedef int (*br_semb_progress_fn)(void *ctx, const br_semb_epoch *e);

/* Trains params.epochs epochs. Triples whose user or item has an empty set are skipped
 * (counted in n_skipped); the rest are shuffled every epoch with the model's own PRNG and
 * cut into batches of params.batch (the last one shorter). Before the first step of a
 * fresh model, global_bias is set to the mean rating of the used triples. progress may be
 * NULL.
 * Returns 0, BR_EINVAL (as br_semb_step; no usable triple), BR_ERANGE or BR_ENOMEM. */
int br_semb_train(br_semb *m, const br_semb_data *data, br_semb_progress_fn progress, void *ctx);

#endif
