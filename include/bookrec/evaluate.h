/* `bookrec eval`: the warm, cold and similarity protocols over a trained
 * model directory (or externally trained factors / rankings), on the active
 * split, with bootstrap intervals. Definitions in docs/evaluation.md. */
#ifndef BOOKREC_EVALUATE_H
#define BOOKREC_EVALUATE_H

#include "bookrec/bootstrap.h"
#include "bookrec/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Protocols (br_evaluate_opts.protocols). */
#define BR_EVAL_WARM 1u       /* always run with a model directory */
#define BR_EVAL_COLD 2u
#define BR_EVAL_SIMILARITY 4u
/* Models of the warm and cold protocols (br_evaluate_opts.models). */
#define BR_EVAL_ALS 1u
#define BR_EVAL_POPULARITY 2u /* count and Bayesian */
#define BR_EVAL_SUBJECT 4u    /* subject models and their blends with the prior */

typedef struct br_evaluate_opts {
    const char *model_dir;     /* a `bookrec train` output, or NULL with external inputs */
    const char *user_factors;  /* external: U.npy (rows = user_id unless user_ids) */
    const char *item_factors;  /* external: V.npy (rows = item_idx unless item_ids) */
    const char *user_ids;      /* external: int32/int64 .npy, row -> user_id */
    const char *item_ids;      /* external: int32/int64 .npy, row -> item_idx */
    const char *rankings;      /* external: CSV user,item_idx,rank */
    const char *external_name; /* model name for external inputs ("external") */
    br_boot_opts boot;
    uint64_t seed;             /* cold halves, query samples */
    size_t sim_queries;        /* similarity queries sampled (2000) */
    int threads;
    int fold;                  /* held out by the warm protocol: BR_FOLD_TEST (default), or
                                  BR_FOLD_VAL (model selection, the pipeline's gate) */
    unsigned protocols;        /* BR_EVAL_WARM, _COLD, _SIMILARITY (all by default) */
    unsigned models;           /* BR_EVAL_ALS, _POPULARITY, _SUBJECT (all by default) */
    const int64_t *only_users; /* NULL, or sorted user ids: warm queries only among them (two
                                  models compared on the same readers) */
    size_t n_only_users;
} br_evaluate_opts;

void br_evaluate_opts_default(br_evaluate_opts *o);

/* Writes the report (issue 3's format) to *report. */
int br_evaluate_run(br_store *st, const br_evaluate_opts *o, json_t **report, char *err,
                    size_t errcap);

#endif
