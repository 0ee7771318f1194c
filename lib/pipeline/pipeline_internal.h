/* Shared between the pipeline's runner (pipeline.c) and its steps (pipeline_steps.c). */
#ifndef BOOKREC_PIPELINE_INTERNAL_H
#define BOOKREC_PIPELINE_INTERNAL_H

#include "bookrec/pipeline.h"
#include "bookrec/store.h"
#include "bookrec/train.h"
#include "bookrec/version.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One invocation working on one run directory. */
typedef struct br__prun {
    const br_pipeline_opts *o;
    char id[BR_VERSION_ID_MAX];
    char dir[2048];      /* RUNS/<id> */
    json_t *rec;         /* run.json */
    br_store *st;        /* split/catalog.db, opened by the first step that needs it */
    br_trainer *tr;      /* steps 4-6 share the loaded training data */
    char warm_dir[4200]; /* the trainer's warm start (its options point here) */
    char *err;
    size_t errcap;
} br__prun;

/* A step adds its "report" and "outputs" to step; 0, BR__STEP_BLOCKED (the gate), or a
 * negative BR_E* code with r->err set. */
#define BR__STEP_BLOCKED 1
typedef int (*br__step_fn)(br__prun *r, json_t *step);
extern const br__step_fn br__pipeline_steps[BR_PIPELINE_STEPS];

/* RUN/rel into buf; BR_ELIMIT when it does not fit. */
int br__prun_path(const br__prun *r, const char *rel, char *buf, size_t cap);
/* Records RUN/rel (size and xxh64 computed now) in step["outputs"]. */
int br__prun_output(br__prun *r, json_t *step, const char *rel);
/* The split store (RUN/split/catalog.db), opened once. */
int br__prun_store(br__prun *r, br_store **out);
/* Writes run.json atomically (temp, fsync, rename). */
int br__prun_save(br__prun *r);
/* Formats a one-line reason into r->err (when it is still empty) and returns rc. */
int br__prun_fail(br__prun *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Files. */
int br__file_xxh64(const char *path, uint64_t *h, uint64_t *size);
int br__copy_file(const char *from, const char *to);
int br__mkdir_p(const char *dir);
/* Removes path and everything below it; a missing path is fine. */
int br__rm_rf(const char *path);

#endif
