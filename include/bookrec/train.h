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
    br_semb_params semb;   /* pool is ignored: see pools */
    unsigned pools;        /* bit per br_semb_pool_kind to train (all three by default) */
    size_t warm_min;       /* models.warm_min_ratings: train interactions to be in ALS */
    size_t min_item;       /* train.min_item_interactions: fewer -> no ALS data for the item */
    double bayes_m;        /* popularity.bayes_m */
    int generic_positives; /* subject.generic_positives: a shared generic subject counts */
    const char *warm_dir;  /* NULL, or a subject model to start from: warm_dir/params.json
                              ("pool") and warm_dir/{subject_emb,attn_w,attn_b}.npy (a
                              version's embedder/); tensors whose shapes differ start fresh */
    int test_scramble;     /* TEST ONLY: shuffle the ALS item factor rows after training, so
                              that the model is useless and the pipeline's gate must block it
                              (env BOOKREC_TEST_SCRAMBLE_FACTORS=1 of bookrec pipeline) */
} br_train_opts;

void br_train_opts_default(br_train_opts *o);

/* *manifest (may be NULL) gets the manifest written to DIR/manifest.json. */
int br_train_run(br_store *st, const br_train_opts *o, const char *dir, json_t **manifest,
                 char *err, size_t errcap);

/* The phases of br_train_run, one call each, for a caller that runs them separately and
 * possibly in separate processes (the pipeline's steps 4, 5 and 6). Each phase writes its
 * files into DIR and merges them and its statistics into DIR/manifest.json (an earlier
 * manifest of another split is replaced, not merged). br_train_run removes any earlier
 * manifest first and runs the three. */
typedef struct br_trainer br_trainer;

/* Loads the active split's training data (br_train_data_load). 0, BR_ENOENT (no split),
 * BR_EIO (DIR), BR_ENOMEM, BR_EINVAL. */
int br_trainer_new(br_store *st, const br_train_opts *o, const char *dir, br_trainer **out,
                   char *err, size_t errcap);
void br_trainer_free(br_trainer *t);
const struct br_train_data *br_trainer_data(const br_trainer *t);
/* popularity_bayes.npy, popularity_count.npy (train fold only). */
int br_trainer_popularity(br_trainer *t, char *err, size_t errcap);
/* user_factors.npy, item_factors.npy, als_users.npy. */
int br_trainer_als(br_trainer *t, char *err, size_t errcap);
/* subject_<pool>/ for each pooling kind in o->pools (warm-started from o->warm_dir). */
int br_trainer_subjects(br_trainer *t, char *err, size_t errcap);
/* The manifest entries ({"name", "dtype", "shape", "bytes", "xxh64"}) of every file this
 * trainer's phases wrote so far, in order (borrowed). */
const json_t *br_trainer_files(const br_trainer *t);

#endif
