/* The split step on a store: load every interaction, assign folds (or keep the
 * active frozen split), compute train-only aggregates, favorite subjects and
 * popularity, persist them, and optionally export the folds as CSV so that
 * other tools are evaluated on the identical split. */
#ifndef BOOKREC_SPLIT_RUN_H
#define BOOKREC_SPLIT_RUN_H

#include "bookrec/features.h"
#include "bookrec/popularity.h"
#include "bookrec/split.h"
#include "bookrec/store.h"

#include <jansson.h>

typedef struct br_split_run_opts {
    br_split_params split;
    br_favsub_params favsub;
    br_popularity_params pop;
    int resplit;            /* make a new split even when one is active */
    const char *export_dir; /* NULL: no export */
} br_split_run_opts;

void br_split_run_opts_default(br_split_run_opts *o);

/* *summary (may be NULL) receives split_id, counts per fold and what was
 * written. errbuf gets a one-line reason on failure. */
int br_split_run(br_store *st, const br_split_run_opts *o, json_t **summary, char *errbuf,
                 size_t errcap);

/* Writes DIR/{train,val,test,cold}.csv ("user,item_idx,rating") and
 * DIR/split.json for the active split. */
int br_split_export(br_store *st, const char *dir, char *errbuf, size_t errcap);

#endif
