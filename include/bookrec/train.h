/* `bookrec train`: every model on the train fold of the active split, written
 * into a directory: dense arrays as .npy (numpy-readable, mmap-able), each
 * subject model's tensors and pooled book vectors, and a draft manifest.json
 * (parameters, split_id, files with xxh64 checksums, training statistics)
 * that the artifacts issue extends. */
#ifndef BOOKREC_TRAIN_H
#define BOOKREC_TRAIN_H

#include "bookrec/als.h"
#include "bookrec/store.h"
#include "bookrec/subject_emb.h"

#include <jansson.h>

typedef struct br_train_opts {
    br_als_params als;
    br_semb_params semb;  /* pool is ignored: see pools */
    unsigned pools;       /* bit per br_semb_pool_kind to train (all three by default) */
    size_t warm_min;      /* models.warm_min_ratings: train interactions to be in ALS */
    size_t min_item;      /* train.min_item_interactions: fewer -> no ALS data for the item */
    double bayes_m;       /* popularity.bayes_m */
    int generic_positives; /* subject.generic_positives: a shared generic subject counts */
} br_train_opts;

void br_train_opts_default(br_train_opts *o);

/* *manifest (may be NULL) gets the manifest written to DIR/manifest.json. */
int br_train_run(br_store *st, const br_train_opts *o, const char *dir, json_t **manifest,
                 char *err, size_t errcap);

#endif
