/* Everything the models train and evaluate on, loaded from the store for the
 * active split: the folds' interactions, each book's subjects, each reader's
 * favorite subjects, and the per-book facts that filters and evaluations use.
 * Ids stay the store's: rows of per-user arrays are user_id, of per-book
 * arrays item_idx (both dense enough: max id + 1 rows). */
#ifndef BOOKREC_TRAIN_DATA_H
#define BOOKREC_TRAIN_DATA_H

#include "bookrec/csr.h"
#include "bookrec/split.h"
#include "bookrec/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct br_train_data {
    char split_id[BR_SPLIT_ID_SIZE];
    size_t n_users, n_items, n_subjects; /* max id + 1 */
    br_interaction *x;                   /* every interaction of the split, by (user, item) */
    uint8_t *fold;                       /* its fold */
    size_t n;
    br_csr item_subjects; /* n_items x n_subjects, weight, top max_set by weight per book */
    br_csr user_favs;     /* n_users x n_subjects, score (chosen or derived from train) */
    uint8_t *has_title;   /* n_items: books that may be shown to readers */
    int32_t *author;      /* n_items: an author group id (same normalized author), -1 none */
} br_train_data;

/* max_set: subjects kept per book (by weight). BR_ENOENT when no split is active. */
int br_train_data_load(br_store *st, size_t max_set, br_train_data *out, char *err,
                       size_t errcap);
void br_train_data_free(br_train_data *d);

/* Interactions of one fold as CSR users x items (values = rating). */
int br_train_data_fold_csr(const br_train_data *d, int fold, br_csr *out);

#endif
