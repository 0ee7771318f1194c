/* Hybrid item similarity: score(q, b) = w * cos(subject_q, subject_b)
 *                                      + (1 - w) * cos(als_q, als_b),  w in [0, 1] per query.
 *
 * One HNSW index (hnsw.h, inner product) over the concatenation [s/|s| ; a/|a|] of each
 * book's unit-normalized subject and ALS vectors. A query is [w s_q/|s_q| ; (1-w) a_q/|a_q|],
 * whose inner product with a stored row is exactly the blended score, so one index serves
 * every w (proof in docs/indexes.md). The exact path scans the same stored rows with BLAS
 * (flat.h) and is the ground truth of the approximate one.
 *
 * Books without a vector. A zero (or absent) row means the book has no vector of that
 * kind, e.g. no ALS vector because it had too few training interactions. Its cosine on that
 * side is defined as 0: no evidence, neither for nor against. Consequences, all tested:
 *  - Such a book scores w * cos_s (or (1 - w) * cos_a) and competes on that alone.
 *  - A half of the query carries weight only if the query has that vector and its weight
 *    is positive; a book is returned only if it has a vector on a side that carries weight.
 *    So at w = 0 books without an ALS vector are never returned (their score would be a
 *    meaningless 0), and at w = 1 books without subjects are never returned.
 *  - A query book without an ALS vector ranks by its subject similarity alone for any
 *    w > 0 (scores scaled by w); at w = 0 it has no results (ids -1). */
#ifndef BOOKREC_HYBRID_H
#define BOOKREC_HYBRID_H

#include "bookrec/flat.h"
#include "bookrec/hnsw.h"

#include <stddef.h>
#include <stdint.h>

typedef struct br_hybrid br_hybrid;

typedef struct br_hybrid_params {
    br_hnsw_params hnsw; /* M, ef_construction, seed, threads; metric and split are set here */
} br_hybrid_params;

void br_hybrid_params_default(br_hybrid_params *p);

/* Builds over n books: subj[n][subj_dim], als[n][als_dim] (row-major; a zero row, or a
 * NULL matrix, = no vector), labels as in br_hnsw_build (NULL = 0..n-1).
 * 0, BR_EINVAL, BR_ELIMIT (subj_dim + als_dim > 4096, ...), BR_ENOMEM. */
int br_hybrid_build(const float *subj, size_t subj_dim, const float *als, size_t als_dim,
                    size_t n, const int32_t *labels, const br_hybrid_params *p, br_hybrid **out);

/* The index file (hnsw.h format, with the subject dimension recorded in it). */
int br_hybrid_save(const br_hybrid *hy, const char *path);
/* As br_hnsw_open; BR_EFORMAT when the file is an HNSW index but not a hybrid one. */
int br_hybrid_open(const char *path, char *err, size_t errcap, br_hybrid **out);
void br_hybrid_free(br_hybrid *hy);

typedef struct br_hybrid_query_opts {
    double w;                   /* weight of the subject side, in [0, 1] */
    int exact;                  /* 1: exact scan (BLAS); 0: the HNSW index */
    size_t ef;                  /* approximate: candidate list; 0 = br_hybrid_default_ef(w) */
    const int32_t *exclude;     /* single queries: labels never returned */
    size_t n_exclude;
    const br_flat_exclude *exclude_batch; /* batches: per-query labels (CSR) */
    const uint8_t *allow;       /* NULL, or a byte per label below br_hybrid_label_bound() */
    int threads;                /* batches: 0 = OpenMP default */
} br_hybrid_query_opts;

/* The default ef: 128 at w = 1/2, rising linearly to 256 at w = 0 and w = 1, where the
 * query's geometry is furthest from the w = 1/2 geometry the graph was built on. It keeps
 * recall@10 >= 0.95 at every w on the benchmark sets with a margin (bench/ann.md). */
size_t br_hybrid_default_ef(double w);

/* Top k books for query vectors (either may be NULL = absent). ids/scores as hnsw.h.
 * 0, BR_EINVAL (w outside [0, 1], ...), BR_ELIMIT, BR_ENOMEM. */
int br_hybrid_search(const br_hybrid *hy, const float *subj_q, const float *als_q, size_t k,
                     const br_hybrid_query_opts *o, int32_t *ids, float *scores);

/* Books similar to an indexed book (never itself). BR_ENOENT if label is not indexed. */
int br_hybrid_similar(const br_hybrid *hy, int32_t label, size_t k,
                      const br_hybrid_query_opts *o, int32_t *ids, float *scores);

/* n_queries of the above in parallel: ids[q][k], scores[q][k] (may be NULL). A label that
 * is not indexed gets a row of -1. */
int br_hybrid_similar_batch(const br_hybrid *hy, const int32_t *labels, size_t n_queries,
                            size_t k, const br_hybrid_query_opts *o, int32_t *ids,
                            float *scores);

/* The blended score of two indexed books, by the rules above (for tests and benchmarks).
 * 0, BR_ENOENT, BR_EINVAL. */
int br_hybrid_score(const br_hybrid *hy, int32_t a, int32_t b, double w, float *out);

size_t br_hybrid_size(const br_hybrid *hy);
int32_t br_hybrid_label_bound(const br_hybrid *hy);
int br_hybrid_has_subject(const br_hybrid *hy, int32_t label); /* 1 or 0 */
int br_hybrid_has_als(const br_hybrid *hy, int32_t label);     /* 1 or 0 */
const br_hnsw *br_hybrid_index(const br_hybrid *hy);

#endif
