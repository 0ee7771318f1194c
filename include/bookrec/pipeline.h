/* The daily training pipeline (DESIGN.md §2, §7; docs/operations.md): nine steps from the
 * live store to a published, hot-reloaded model version, each logged with its duration and
 * each writing checksummed outputs into a run directory, so that a failed run resumes at
 * the step that failed.
 *
 *   1 export    a consistent snapshot of the store (SQLite VACUUM INTO) with the watermark
 *               of what it holds; credentials (accounts, sessions) and events are dropped
 *               from the copy
 *   2 clean     the import rules on the snapshot (ratings range, duplicates, unknown books,
 *               unknown or deleted readers, timestamps from the future), rejects counted
 *   3 split     br_split_run: the frozen split kept, new pairs assigned deterministically,
 *               the train-only aggregates and favorite subjects recomputed
 *   4 features  the training data of the split and the train-only popularity
 *   5 als       ALS on the train fold
 *   6 subjects  the served subject model, warm-started from the current version
 *   7 indexes   the complete version (br_publish, not activated) inside the run directory:
 *               HNSW indexes (ALS, subject, hybrid), the lexical text index, metadata
 *   8 gate      ALS recall@30 on the validation fold, of the new model and of the current
 *               version's factors on the same split and readers: blocked below
 *               gate_floor or more than gate_margin below the current version
 *   9 publish   the version copied into the artifacts with the gate's report as metrics,
 *               CURRENT switched atomically (services reload on inotify), old versions
 *               pruned
 *
 * RUNS/<run id>/run.json records the run: per step its status, start, end, duration,
 * outputs (path, bytes, xxh64) and report; it is rewritten atomically after every change.
 * Resuming verifies the outputs of the completed steps and restarts at the first step that
 * is not complete (or whose outputs changed). A blocked run resumes at the gate, e.g. after
 * the floor was changed on purpose. The live store is read once, by step 1; nothing of the
 * pipeline writes to it.
 *
 * Notifications and the gateway's reload call are HTTP and processes: the CLI makes them
 * (cli/cmd_pipeline.c), from the run record this library returns. */
#ifndef BOOKREC_PIPELINE_H
#define BOOKREC_PIPELINE_H

#include "bookrec/split_run.h"
#include "bookrec/train.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BR_PIPELINE_STEPS 9

typedef struct br_pipeline_opts {
    const char *db;          /* the live store (br_store_open URL); SQLite only */
    const char *artifacts;   /* artifacts directory (versions/, CURRENT) */
    const char *runs;        /* directory of the run directories (created) */
    br_split_run_opts split; /* a first split's parameters (a frozen split is kept) */
    br_train_opts train;     /* models; pools is replaced by the served pool */
    size_t warm_epochs;      /* subject epochs when warm-started (train.semb.epochs else) */
    int full_retrain;        /* subject model from scratch */
    const char *pool;        /* served subject model: "perdim", "scalar", "mean" */
    const char *prior;       /* "count" or "bayes" */
    double cold_a;           /* default cold-blend weight */
    double gate_floor;       /* least recall@30 (validation, ALS, warm readers) */
    double gate_margin;      /* largest drop below the current version's recall@30 */
    uint32_t boot_resamples; /* bootstrap resamples of the gate's report */
    size_t keep_versions;    /* br_version_prune after a publish */
    size_t keep_runs;        /* run directories kept */
    int threads;             /* index builds; 0 = OpenMP default */
} br_pipeline_opts;

/* Defaults of the config table (docs/configuration.md); db, artifacts, runs NULL. */
void br_pipeline_opts_default(br_pipeline_opts *o);

/* "export", "clean", ... for steps 0..8; NULL beyond. */
const char *br_pipeline_step_name(int step);

/* Starts a new run in RUNS/<id> (id: time-ordered, as version ids) and runs every step.
 * Returns 0 when the run ended: run["status"] is "published" or "blocked" (the gate); a
 * negative BR_E* code when a step failed (run["status"] "failed", run["failed_step"],
 * run["error"]); BR_EEXIST when another run holds RUNS/.lock. *run (may be NULL) gets the
 * run record (a new reference) whenever the run directory was created. err gets a one-line
 * reason on failure. CURRENT changes only in step 9. */
int br_pipeline_run(const br_pipeline_opts *o, json_t **run, char *err, size_t errcap);

/* Continues run id (RUNS/<id>/run.json): verifies the completed steps' outputs and runs from
 * the first incomplete one. A published run is left alone (0). Returns as br_pipeline_run;
 * BR_ENOENT (no such run), BR_EINVAL (not a run id), BR_EFORMAT (run.json unreadable). */
int br_pipeline_resume(const br_pipeline_opts *o, const char *id, json_t **run, char *err,
                       size_t errcap);

/* The newest max run records of RUNS, newest first, as a JSON array (new reference; run
 * directories without a readable run.json are skipped). 0, BR_ENOMEM; a missing RUNS gives
 * an empty array. */
int br_pipeline_list(const char *runs, size_t max, json_t **out);

/* Parses a run record (run.json's text); checks its shape: a "format" of
 * bookrec-pipeline-run/1, an id, and BR_PIPELINE_STEPS step objects with names and statuses.
 * 0, BR_EFORMAT, BR_ENOMEM. For br_pipeline_resume and the fuzz driver. */
int br_pipeline_run_parse(const char *text, size_t len, json_t **out);

#endif
