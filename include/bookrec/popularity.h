/* Popularity within the training split: the seed's Bayesian average and count popularity.
 *
 * Built from br_features (train fold only), so it inherits its guarantees: held-out data
 * never changes a value and the input order does not matter. */
#ifndef BOOKREC_POPULARITY_H
#define BOOKREC_POPULARITY_H

#include "bookrec/features.h"

#include <stddef.h>
#include <stdint.h>

typedef enum br_pop_kind {
    BR_POP_BAYES = 0, /* (n*avg + m*C) / (n + m) over explicit train ratings */
    BR_POP_COUNT = 1  /* train interactions, implicit included */
} br_pop_kind;

typedef struct br_popularity_params {
    double m; /* 30: prior weight, in ratings; finite, >= 0 */
} br_popularity_params;

void br_popularity_params_default(br_popularity_params *p);

typedef struct br_popularity br_popularity;

/* Per item i of br_features_items(f): n = n_explicit, avg = mean, C = the global mean of
 * explicit train ratings (0 when there are none). An item without explicit ratings scores C
 * (n = 0 in the formula; also when m = 0). p NULL means the defaults.
 * Returns 0, BR_EINVAL (NULL, bad m) or BR_ENOMEM. */
int br_popularity_new(const br_features *f, const br_popularity_params *p, br_popularity **out);
void br_popularity_free(br_popularity *p);

size_t br_popularity_n_items(const br_popularity *p);
/* Dense arrays indexed by item id, br_popularity_n_items long. */
const double *br_popularity_bayes(const br_popularity *p);
const uint32_t *br_popularity_count(const br_popularity *p);
/* The prior C. */
double br_popularity_prior(const br_popularity *p);

/* Every item with at least one train interaction, best first by the score of kind, ties by
 * item id ascending; *n gets the length. Precomputed: serving filters it without sorting. */
const int64_t *br_popularity_ranking(const br_popularity *p, br_pop_kind kind, size_t *n);
/* Copies the first min(k, ranking length) items into items_out; *n_out gets the count.
 * Returns 0 or BR_EINVAL (NULL, unknown kind). */
int br_popularity_top(const br_popularity *p, br_pop_kind kind, size_t k, int64_t *items_out,
                      size_t *n_out);

/* The prior used in cold-start blends: the Bayesian average for BR_POP_BAYES,
 * log(1 + train interactions) for BR_POP_COUNT. 0 for an item out of range. */
double br_popularity_score(const br_popularity *p, br_pop_kind kind, size_t item);

#endif
