/* Evaluation split: train / validation / test / cold-start folds, seeded and frozen.
 *
 * Book-Crossing has no timestamps, so the default protocol is a per-user random holdout
 * (docs/evaluation.md). The assignment depends only on the seed, the parameters and the set
 * of (user, item) pairs: never on the input order, the ratings or the timestamps. Everything
 * here is pure and in memory; the store persists the folds and the split id. */
#ifndef BOOKREC_SPLIT_H
#define BOOKREC_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* One interaction. user: internal user id; item: item_idx; rating 1..10 explicit,
 * 0 = implicit (read without a rating); ts: unix seconds, 0 when unknown. */
typedef struct br_interaction {
    int64_t user;
    int64_t item;
    float rating;
    int64_t ts;
} br_interaction;

enum br_fold { BR_FOLD_TRAIN = 0, BR_FOLD_VAL = 1, BR_FOLD_TEST = 2, BR_FOLD_COLD = 3 };
#define BR_FOLD_COUNT 4

/* Name of a fold ("train", "val", "test", "cold"); "?" for anything else. */
const char *br_fold_name(int fold);

typedef struct br_split_params {
    uint64_t seed;                     /* 42 */
    double cold_frac;                  /* 0.10 of the cold-eligible users */
    double val_frac;                   /* 0.10 of a holdout user's interactions */
    double test_frac;                  /* 0.10 of a holdout user's interactions */
    uint32_t cold_min_interactions;    /* 4: a user needs this many to be drawn cold */
    uint32_t holdout_min_interactions; /* 5: a warm user needs this many to get val/test */
} br_split_params;

/* Valid when: every fraction finite in [0, 1], val_frac + test_frac <= 0.5 (at least half of
 * a holdout user's interactions stay in train), cold_min_interactions >= 1,
 * holdout_min_interactions >= 4 (room for 1 val + 1 test + 2 train). */
void br_split_params_default(br_split_params *p);
/* 0 or BR_EINVAL. */
int br_split_params_check(const br_split_params *p);

/* Hard limit on the number of interactions of one split call. */
#define BR_SPLIT_MAX_INTERACTIONS ((size_t)1 << 31)

/* Validation and test sizes of a warm user with k interactions (both 0 when
 * k < holdout_min_interactions). A fraction f > 0 gives max(1, floor(f*k + 0.5)); then, while
 * val + test > floor(k/2), the larger of the two (val on a tie) loses one, never below 1.
 * With the defaults: k = 5..14 -> 1 val + 1 test, 15..24 -> 2 + 2, 25..34 -> 3 + 3. */
void br_split_holdout_sizes(size_t k, const br_split_params *p, size_t *n_val, size_t *n_test);

/* Assigns a fold to each of x[0..n) into fold_out[0..n) (enum br_fold values).
 * p NULL means the defaults. Duplicate (user, item) pairs are rejected (BR_EINVAL): the
 * importer drops them, and a split must be a function of the pair set.
 * Returns 0, BR_EINVAL (NULL, n == 0, bad params, duplicates), BR_ELIMIT or BR_ENOMEM. */
int br_split_assign(const br_interaction *x, size_t n, const br_split_params *p, uint8_t *fold_out);

/* "s<seed>-<16 hex>": 40 bytes hold the longest (20-digit seed). */
#define BR_SPLIT_ID_SIZE 40

/* Stable id of a split: a hash of the protocol version, the params and the set of
 * (user, item, fold) triples (order-independent). Same input and params -> same id; any
 * change of a pair, a fold or a param -> a different id (with probability 1 - 2^-64).
 * Returns 0 or BR_EINVAL (NULL, n == 0, bad params, fold value > 3). */
int br_split_id(const br_interaction *x, const uint8_t *fold, size_t n, const br_split_params *p,
                char out[BR_SPLIT_ID_SIZE]);

typedef struct br_fold_counts {
    size_t interactions[BR_FOLD_COUNT];
    size_t users[BR_FOLD_COUNT]; /* distinct users with at least one interaction in the fold */
    size_t users_total;          /* distinct users overall */
} br_fold_counts;

/* Interactions and users per fold. n == 0 gives zeros. 0, BR_EINVAL or BR_ENOMEM. */
int br_split_counts(const br_interaction *x, const uint8_t *fold, size_t n, br_fold_counts *out);

/* Frozen per-user state of a split, for interactions that arrive after it was made. */
typedef struct br_split_frozen br_split_frozen;

/* Copies the (user, item, fold) triples; the folds must be consistent (a user is cold in all
 * or none of its interactions: BR_ECORRUPT otherwise). p NULL means the defaults and must be
 * the params the split was made with. 0, BR_EINVAL, BR_ECORRUPT, BR_ELIMIT or BR_ENOMEM. */
int br_split_frozen_new(const br_interaction *x, const uint8_t *fold, size_t n,
                        const br_split_params *p, br_split_frozen **out);
void br_split_frozen_free(br_split_frozen *s);

/* Fold of an interaction (user, item) arriving after the freeze; deterministic, and
 * consistent across calls since the state does not change:
 *   - a pair already in the frozen set keeps its fold (a re-rating does not move it);
 *   - a known cold user stays cold;
 *   - a known non-cold user: u = hash(seed, user, item) in [0, 1); u < test_frac -> test,
 *     u < test_frac + val_frac -> val, else train (the same hash that orders the batch
 *     holdout, where the smallest hashes went to test, then val);
 *   - an unknown user: cold when hash(seed, user) in [0, 1) < cold_frac (the hash that drew
 *     the batch's cold users), else train, until the next re-split.
 * Returns 0 or BR_EINVAL (NULL). */
int br_split_assign_new(const br_split_frozen *s, int64_t user, int64_t item, uint8_t *fold_out);

#endif
