/* Offline evaluation of top-k recommendations: ranking metrics per user, their means over
 * users, catalog coverage, mean popularity, bootstrap intervals and the report JSON
 * (docs/evaluation.md, "Metrics"). Any model is evaluated the same way: it hands over one
 * ranked list per user, best first, and the truth is the user's held-out items.
 *
 * Definitions at cut-off K, for a user with truth set T (|T| > 0) and ranked list L, rel_r = 1
 * when the item at rank r (1-based) is in T, hits = rel_1 + ... + rel_K:
 *   recall@K    = hits / |T|
 *   precision@K = hits / K              (K even when L is shorter)
 *   hit_rate@K  = 1 when hits > 0, else 0
 *   NDCG@K      = sum_{r<=K} rel_r / log2(r + 1)  /  sum_{r<=min(K,|T|)} 1 / log2(r + 1)
 *   MAP@K       = sum_{r<=K} rel_r * (hits in 1..r) / r  /  min(K, |T|)
 * Each is computed per user and averaged over users; users with an empty truth set are
 * skipped (and counted). */
#ifndef BOOKREC_METRICS_H
#define BOOKREC_METRICS_H

#include "bookrec/bootstrap.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Per-user lists ------------------------------------------------------------------ */

/* One list of item ids per row (user), CSR style: row i is items[ptr[i] .. ptr[i+1]).
 * Ranked lists are best first; truth lists are sorted ascending and unique. The fields have
 * the types of br_csr, so a CSR of held-out interactions is a truth list as it stands:
 * (br_lists){csr.n_rows, csr.indptr, csr.indices}. Owned lists are freed with br_lists_free;
 * views of someone else's arrays are not. */
typedef struct br_lists {
    size_t n;       /* rows */
    int64_t *ptr;   /* n + 1, ptr[0] = 0, non-decreasing */
    int32_t *items; /* ptr[n] */
} br_lists;

/* Frees ptr and items and zeroes *l. NULL is fine. */
void br_lists_free(br_lists *l);

/* Rows of a k-wide id matrix (ids[i*k .. i*k+k), e.g. from br_flat_topk) as lists; negative
 * ids (padding) are dropped. 0, BR_EINVAL or BR_ENOMEM. */
int br_lists_from_matrix(const int32_t *ids, size_t n, size_t k, br_lists *out);

/* out row i = src row rows[i]; a negative rows[i] gives an empty row (a user the source does
 * not know). 0, BR_EINVAL (NULL, a row >= src->n, a malformed src) or BR_ENOMEM. */
int br_lists_gather(const br_lists *src, const int64_t *rows, size_t n, br_lists *out);

/* ---- Metrics ------------------------------------------------------------------------- */

enum br_metric {
    BR_METRIC_RECALL = 0,
    BR_METRIC_PRECISION,
    BR_METRIC_NDCG,
    BR_METRIC_MAP,
    BR_METRIC_HIT_RATE,
    BR_METRIC_COUNT
};

/* "recall", "precision", "ndcg", "map", "hit_rate" (the report's keys); NULL otherwise. */
const char *br_metric_name(enum br_metric m);
/* The metric of a name, or BR_EINVAL. */
int br_metric_from_name(const char *name);

/* Largest cut-off accepted. */
#define BR_EVAL_MAX_K 100000

/* The five metrics of one user at k into out[BR_METRIC_COUNT]. ranked: best first, without
 * duplicates (not checked here; br_eval_new checks); only the first k entries are read.
 * truth: sorted ascending, unique, n_truth > 0.
 * 0 or BR_EINVAL (NULL, k 0 or over BR_EVAL_MAX_K, empty truth). */
int br_metrics_user(const int32_t *ranked, size_t n_ranked, const int32_t *truth, size_t n_truth,
                    size_t k, double out[BR_METRIC_COUNT]);

typedef struct br_eval_opts {
    size_t k;                 /* cut-off, 1..BR_EVAL_MAX_K */
    size_t n_items;           /* ranked ids must lie in [0, n_items); at most 2^31 - 1 */
    size_t n_candidates;      /* coverage denominator: items a model may recommend; 0 = n_items */
    const double *popularity; /* NULL, or n_items finite values (e.g. train counts) */
    const int64_t *user_ids;  /* NULL (row numbers are the ids), or one id per row */
} br_eval_opts;

typedef struct br_eval br_eval;

/* Evaluates ranked row i against truth row i (ranked->n == truth->n). Rows whose truth is
 * empty are skipped and counted. For each evaluated user the metrics above, plus:
 *   coverage@K        = distinct items in the evaluated users' top K / n_candidates
 *   mean_popularity@K = mean over evaluated users with a non-empty list of the mean
 *                       popularity of the items in their top K (NaN without popularity or
 *                       without such a user)
 * Lists shorter than k are fine; entries beyond k are ignored.
 * 0, BR_EINVAL (NULL, bad opts, malformed lists, a truth row not sorted and unique, a ranked
 * id outside [0, n_items), an id twice in a top k, a non-finite popularity), BR_ELIMIT (more
 * than 2^32 - 2 rows) or BR_ENOMEM. */
int br_eval_new(const br_lists *ranked, const br_lists *truth, const br_eval_opts *o,
                br_eval **out);
void br_eval_free(br_eval *e);

size_t br_eval_k(const br_eval *e);
/* Evaluated users (non-empty truth), and skipped ones (empty truth). */
size_t br_eval_users(const br_eval *e);
size_t br_eval_skipped(const br_eval *e);
/* Ids of the evaluated users, in row order (br_eval_users entries). */
const int64_t *br_eval_user_ids(const br_eval *e);
/* Mean over evaluated users (NaN when there are none). */
double br_eval_mean(const br_eval *e, enum br_metric m);
/* Per-user values of the evaluated users, aligned with br_eval_user_ids; NULL for a bad m. */
const double *br_eval_per_user(const br_eval *e, enum br_metric m);
double br_eval_coverage(const br_eval *e);
double br_eval_mean_popularity(const br_eval *e);
/* 1 when a and b were computed at the same k on the same users with the same truth, which a
 * paired comparison needs. */
int br_eval_paired_ok(const br_eval *a, const br_eval *b);

/* ---- Scoring factor models ----------------------------------------------------------- */

typedef struct br_factor_opts {
    /* NULL, or n_queries rows (row i for query i) of item ids never to return, e.g. the
     * user's train items (any order; ids the model does not have are ignored). */
    const br_lists *exclude;
    /* NULL: V row j is item j. Otherwise V row j is item item_ids[j] (unique, >= 0): for
     * externally trained factors with an id map. Exclusions and results use item ids. */
    const int32_t *item_ids;
    const uint8_t *allow; /* NULL, or one byte per V row (non-zero = may be returned) */
    size_t batch;         /* queries per br_flat_topk call (bounds memory); 0 = 2048 */
    int threads;          /* br_flat_topk's; 0 = OpenMP default */
} br_factor_opts;

/* Top k items by inner product u . v for queries rows[0..n_queries) of U (NULL rows: every
 * U row in order), with br_flat_topk. U is n_users x dim, V is n_v x dim, both float32
 * row-major. out gets n_queries ranked lists (shorter than k when exclusions or the allow
 * mask leave fewer items); ties go to the smaller V row. o may be NULL.
 * 0, BR_EINVAL (NULL, dim or k 0, k over BR_EVAL_MAX_K, a row outside U, exclude->n !=
 * n_queries, duplicate or negative item_ids, n_v over 2^31 - 1) or BR_ENOMEM. */
int br_factor_topk(const float *U, size_t n_users, const float *V, size_t n_v, size_t dim,
                   const int64_t *rows, size_t n_queries, size_t k, const br_factor_opts *o,
                   br_lists *out);

/* ---- Report entries ------------------------------------------------------------------ */

/* The report entry of one (model, protocol, k), with bootstrap intervals of recall and NDCG
 * (boot NULL = defaults):
 *   {"model", "protocol", "k", "users", "recall", "recall_ci": [lo, hi], "ndcg", "ndcg_ci",
 *    "precision", "map", "hit_rate", "coverage", "mean_popularity"}
 * A NaN (no users, no popularity) is written as null. model and protocol are 1..128 bytes of
 * UTF-8. *out is a new reference. 0, BR_EINVAL or BR_ENOMEM. */
int br_eval_entry_json(const br_eval *e, const char *model, const char *protocol,
                       const br_boot_opts *boot, json_t **out);

/* A paired comparison of metric m between a and b on the same users:
 *   {"model_a", "model_b", "protocol", "k", "metric", "diff", "diff_ci": [lo, hi]}
 * diff = mean_a - mean_b. 0, BR_EINVAL (also when !br_eval_paired_ok, or no users) or
 * BR_ENOMEM. */
int br_eval_paired_json(const br_eval *a, const br_eval *b, const char *model_a,
                        const char *model_b, const char *protocol, enum br_metric m,
                        const br_boot_opts *boot, json_t **out);

/* Accumulates entries into the report:
 *   {"split_id": ..., "bootstrap": {"resamples", "level", "seed"},
 *    "results": [entries], "comparisons": [paired entries]} */
typedef struct br_report br_report;

/* split_id may be NULL (written as null); boot NULL = defaults. 0, BR_EINVAL or BR_ENOMEM. */
int br_report_new(const char *split_id, const br_boot_opts *boot, br_report **out);
void br_report_free(br_report *r);
/* 0, BR_EEXIST (an entry for this model, protocol and k exists), BR_EINVAL or BR_ENOMEM. */
int br_report_add(br_report *r, const char *model, const char *protocol, const br_eval *e);
/* 0, BR_EEXIST (this comparison exists), BR_EINVAL or BR_ENOMEM. */
int br_report_add_paired(br_report *r, const char *model_a, const char *model_b,
                         const char *protocol, enum br_metric m, const br_eval *a,
                         const br_eval *b);
/* The report object, as a new reference (the caller decrefs it; it stays valid after
 * br_report_free). Later adds also show in it. NULL for a NULL r. */
json_t *br_report_json(const br_report *r);
/* Writes the report to path atomically (temp file, fsync, rename, fsync of the directory),
 * indented. 0 or BR_EIO. */
int br_report_write(const br_report *r, const char *path);

#endif
