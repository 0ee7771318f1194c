/* Exact (flat) top-k search with BLAS: the ground truth of every approximate
 * index, and the scorer of evaluations.
 *
 * Vectors are float32, row-major: base[n][dim], queries[q][dim]. Scores are
 * inner products (callers normalize rows for cosine). Queries are processed
 * in blocks with one sgemm per block, then a partial selection per query.
 * Ties are broken by the smaller id, so results are deterministic. */
#ifndef BOOKREC_FLAT_H
#define BOOKREC_FLAT_H

#include <stddef.h>
#include <stdint.h>

/* Per-query exclusions as CSR over query rows (e.g. the books a reader has
 * read): ids in excl_idx[excl_ptr[i] .. excl_ptr[i+1]), any order. NULL = none. */
typedef struct br_flat_exclude {
    const int64_t *ptr; /* n_queries + 1 */
    const int32_t *idx;
} br_flat_exclude;

/* allow: NULL, or a byte per base row (non-zero = may be returned), e.g.
 * books with at least N ratings. */
typedef struct br_flat_opts {
    const br_flat_exclude *exclude;
    const uint8_t *allow;
    int threads; /* 0 = OpenMP default */
} br_flat_opts;

/* out_ids[q][k], out_scores[q][k] (may be NULL); rows with fewer than k
 * candidates are padded with id -1 and score -INFINITY.
 * 0, BR_EINVAL (NULL, dim 0, k 0), BR_ENOMEM. */
int br_flat_topk(const float *base, size_t n, size_t dim, const float *queries, size_t n_queries,
                 size_t k, const br_flat_opts *opts, int32_t *out_ids, float *out_scores);

/* Normalizes each row to unit L2 norm in place (zero rows stay zero). */
void br_normalize_rows(float *x, size_t n, size_t dim);

#endif
