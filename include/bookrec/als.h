/* Implicit-feedback ALS (Hu, Koren & Volinsky 2008) and fold-in of users at request time.
 *
 * The model minimizes the weighted objective
 *     sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2)
 * with p_ui = 1 for every observed interaction (0 otherwise) and c_ui = 1 for unobserved
 * pairs, c_ui = 1 + alpha * w(r_ui) for observed ones. The weight w of a rating r (0 =
 * implicit, 1..10 explicit) is
 *     BR_ALS_W_CONSTANT  w = 1 for every interaction (the seed system)
 *     BR_ALS_W_RATING    w = base + (1 - base) * r / 10, so an implicit 0 weighs `base` and a
 *                        10 weighs 1; base = weight_base in (0, 1].
 * Users (or items) without interactions get zero vectors: the caller trains on warm users
 * and folds the others in.
 *
 * Training alternates exact-objective half-steps, users then items, each solving one small
 * linear system per row, either by a few conjugate-gradient steps warm-started from the
 * previous vector (Takacs, Pilaszy & Tikk 2011, as the `implicit` library does) or exactly
 * by Cholesky (for checking). Factors are float32, row-major. */
#ifndef BOOKREC_ALS_H
#define BOOKREC_ALS_H

#include "bookrec/csr.h"

#include <stddef.h>
#include <stdint.h>

/* Limits of every input. */
#define BR_ALS_MAX_FACTORS 1024
#define BR_ALS_MAX_ITERATIONS 10000
#define BR_ALS_MAX_CG_STEPS 1024
#define BR_ALS_MAX_THREADS 1024
#define BR_ALS_MAX_ROWS ((size_t)INT32_MAX) /* users, items: indices are int32 */
#define BR_ALS_MAX_FOLDIN 100000            /* interactions per fold-in call */
#define BR_ALS_MAX_RATING 10.0f

typedef enum br_als_solver {
    BR_ALS_CG = 0,      /* cg_steps conjugate-gradient steps per row and half-step */
    BR_ALS_CHOLESKY = 1 /* exact: forms each row's f x f system (slow; for checking) */
} br_als_solver;

typedef enum br_als_weighting {
    BR_ALS_W_CONSTANT = 0,
    BR_ALS_W_RATING = 1
} br_als_weighting;

/* Factors: user_factors[n_users][factors], item_factors[n_items][factors]. Returned by
 * br_als_train, released by br_als_model_free. */
typedef struct br_als_model {
    size_t n_users, n_items, factors;
    float *user_factors;
    float *item_factors;
} br_als_model;

/* What the progress callback sees after each iteration. */
typedef struct br_als_progress {
    int iteration;  /* 1-based, the one just finished */
    int iterations; /* of the run */
    double seconds; /* wall time of this iteration (the loss not included) */
    double loss;    /* br_als_loss after it when params.compute_loss, else NAN */
    const br_als_model *model; /* the factors so far; valid during the call only */
} br_als_progress;

typedef void (*br_als_progress_fn)(const br_als_progress *pr, void *ctx);

typedef struct br_als_params {
    size_t factors;             /* 64; 1..BR_ALS_MAX_FACTORS */
    float regularization;       /* 0.1; > 0 (keeps every system positive definite), <= 1e6 */
    int iterations;             /* 15; 0..BR_ALS_MAX_ITERATIONS (0: the random init) */
    float alpha;                /* 40; 0..1e6 */
    int cg_steps;               /* 3; 1..BR_ALS_MAX_CG_STEPS (CG solver only) */
    br_als_solver solver;       /* BR_ALS_CG */
    br_als_weighting weighting; /* BR_ALS_W_CONSTANT */
    float weight_base;          /* 0.5; w(0) under BR_ALS_W_RATING, in (0, 1] */
    uint64_t seed;              /* 42; the random init */
    int threads;                /* 0 = the OpenMP default; else 1..BR_ALS_MAX_THREADS */
    int compute_loss;           /* 0; non-zero: br_als_progress.loss each iteration */
    br_als_progress_fn progress; /* NULL, or called after every iteration */
    void *progress_ctx;
} br_als_params;

void br_als_params_default(br_als_params *p);
/* 0, or BR_EINVAL with the first offending field's name in *field (may be NULL). */
int br_als_params_check(const br_als_params *p, const char **field);
/* c = 1 + alpha * w(rating) under p's weighting (rating clamped to 0..10). */
float br_als_confidence(const br_als_params *p, float rating);

/* Trains on user_items (users x items, values = ratings 0..10). p NULL means the defaults.
 * For a fixed seed the factors are the same bits whatever the thread count, on a given
 * machine and OpenBLAS (see als_train.c).
 * Returns 0; BR_EINVAL (NULL, bad params, an empty dimension, a malformed CSR, a rating
 * outside 0..10 or not finite); BR_ELIMIT (more than BR_ALS_MAX_ROWS rows or columns, or
 * factor matrices whose size overflows); BR_ENOMEM. On error *out is zeroed. */
int br_als_train(const br_csr *user_items, const br_als_params *p, br_als_model *out);
/* Frees the factor arrays (not m itself) and zeroes m; NULL is fine. */
void br_als_model_free(br_als_model *m);

/* The objective above for model m on user_items (the same shape), in double. Cost
 * O((n_users + n_items) f^2 + nnz f). Returns 0 or BR_EINVAL / BR_ELIMIT / BR_ENOMEM. */
int br_als_loss(const br_csr *user_items, const br_als_params *p, const br_als_model *m,
                double *out);

/* Fold-in: solves a user vector against fixed item factors with the training's normal
 * equations, exactly (Cholesky): x = (YtY + reg I + sum_i (c_i - 1) y_i y_i^T)^-1 sum_i c_i y_i.
 * The item factors are borrowed, not copied (they are usually an mmap'd artifact) and must
 * outlive the fold-in. br_als_foldin_solve is safe to call from many threads at once. */
typedef struct br_als_foldin br_als_foldin;

/* item_factors[n_items][p->factors]. YtY is computed here with p->threads threads; the
 * solver and iteration fields of p are ignored. Returns 0, BR_EINVAL, BR_ELIMIT or
 * BR_ENOMEM. */
int br_als_foldin_new(const float *item_factors, size_t n_items, const br_als_params *p,
                      br_als_foldin **out);
void br_als_foldin_free(br_als_foldin *fi);
size_t br_als_foldin_factors(const br_als_foldin *fi);
/* user_out[factors] from n interactions (items[k], ratings[k]); ratings NULL means all
 * implicit (0). An item listed twice counts twice: pass unique items. n = 0 gives the zero
 * vector. Returns 0; BR_EINVAL (NULL, an item out of range, a bad rating); BR_ELIMIT (n over
 * BR_ALS_MAX_FOLDIN); BR_ENOMEM. */
int br_als_foldin_solve(const br_als_foldin *fi, const int32_t *items, const float *ratings,
                        size_t n, float *user_out);

#endif
