/* Train-only features: per-user and per-item rating aggregates, favorite subjects.
 *
 * Every function here takes the interactions together with their frozen folds and reads
 * only those in BR_FOLD_TRAIN: a validation, test or cold interaction never changes an
 * output bit (tests/unit/data/test_features.c proves it). Results do not depend on the
 * input order either. Definitions in docs/evaluation.md. */
#ifndef BOOKREC_FEATURES_H
#define BOOKREC_FEATURES_H

#include "bookrec/split.h"

#include <stddef.h>
#include <stdint.h>

/* Hard limits: dense arrays are indexed by id, so ids must be small. */
#define BR_FEATURES_MAX_IDS ((size_t)1 << 26)
#define BR_FEATURES_MAX_INTERACTIONS ((size_t)1 << 28)

/* Ratings must be integers in 0..10 (0 = implicit, 1..10 explicit): anything else, in any
 * fold, is BR_EINVAL. Integers keep the sums exact, so aggregates are order-independent. */
int br_rating_valid(float r);

/* Aggregate of one user, one item, or the whole train fold. No padding: memcmp-able. */
typedef struct br_agg {
    uint32_t count;      /* train interactions, implicit included */
    uint32_t n_explicit; /* train interactions rated 1..10 */
    uint64_t sum;        /* sum of the explicit ratings */
    double mean;         /* mean explicit rating; 0 when n_explicit == 0 (test n_explicit) */
    double std;          /* population std (divide by n) of them; 0 when n_explicit == 0 */
} br_agg;

typedef struct br_features br_features;

/* Aggregates over the train fold of x[0..n). n_users / n_items: sizes of the dense arrays
 * (ids 0 .. size-1); 0 = max id + 1 over all of x, every fold, so that any id in the data
 * can be looked up (an id seen only outside train gets zeros). Ids must be >= 0.
 * Returns 0, BR_EINVAL (NULL, n == 0, negative id, bad rating, fold > 3), BR_ERANGE (an id
 * >= a given size), BR_ELIMIT or BR_ENOMEM. */
int br_features_new(const br_interaction *x, const uint8_t *fold, size_t n, size_t n_users,
                    size_t n_items, br_features **out);
void br_features_free(br_features *f);
/* Dense arrays indexed by user id / item id; *n gets the size. */
const br_agg *br_features_users(const br_features *f, size_t *n_users);
const br_agg *br_features_items(const br_features *f, size_t *n_items);
/* Aggregate of the whole train fold; mean is the global mean C of explicit train ratings. */
br_agg br_features_global(const br_features *f);

/* Item -> subjects, CSR: row i is subject[offsets[i] .. offsets[i+1]) with weight[...].
 * offsets[0] == 0 and non-decreasing; subjects >= 0; weights finite and >= 0. Items at or
 * beyond n_items have no subjects. */
typedef struct br_item_subjects {
    size_t n_items;
    const size_t *offsets; /* n_items + 1 */
    const int32_t *subject;
    const float *weight;
} br_item_subjects;

typedef struct br_favsub_params {
    size_t k;              /* 10: subjects kept per user (>= 1) */
    float implicit_weight; /* 0.5: weight of an implicit interaction, finite, >= 0 */
} br_favsub_params;

void br_favsub_params_default(br_favsub_params *p);

/* Favorite subjects, user -> (subject, score), best first. */
typedef struct br_favsub br_favsub;

/* score(u, s) = sum over u's train interactions (u, i, r) of
 *     w(r) * weight(i, s) / sum_t weight(i, t)
 * with w(r) = r / 10 for an explicit rating, implicit_weight for r = 0. The top k subjects
 * with score > 0 are kept, by score descending then subject id ascending. p NULL means the
 * defaults; n_users as in br_features_new. Returns 0, BR_EINVAL (as br_features_new, or a
 * malformed CSR or params), BR_ERANGE, BR_ELIMIT or BR_ENOMEM. */
int br_favsub_new(const br_interaction *x, const uint8_t *fold, size_t n,
                  const br_item_subjects *is, const br_favsub_params *p, size_t n_users,
                  br_favsub **out);
void br_favsub_free(br_favsub *f);
size_t br_favsub_n_users(const br_favsub *f);
/* The list of one user: returns its length (0 for an unknown user) and points *subject and
 * *score (either may be NULL) into the CSR. */
size_t br_favsub_get(const br_favsub *f, int64_t user, const int32_t **subject,
                     const float **score);
/* The whole CSR, for persisting: offsets has n_users + 1 entries. */
void br_favsub_csr(const br_favsub *f, const size_t **offsets, const int32_t **subject,
                   const float **score);

#endif
