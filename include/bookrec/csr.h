/* Compressed sparse rows: the interaction matrix the models train on.
 *
 * Rows are dense indices 0..n_rows-1 (users, or items after a transpose),
 * columns dense 0..n_cols-1; within a row, columns are sorted ascending and
 * unique. values[] holds the rating (0 = implicit, 1..10 explicit). */
#ifndef BOOKREC_CSR_H
#define BOOKREC_CSR_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_csr {
    size_t n_rows, n_cols, nnz;
    int64_t *indptr;  /* n_rows + 1 */
    int32_t *indices; /* nnz */
    float *values;    /* nnz */
} br_csr;

/* Builds from (row, col, value) triples; duplicates are an error (BR_EINVAL),
 * rows or cols out of range too. */
int br_csr_from_triples(size_t n_rows, size_t n_cols, const int32_t *rows, const int32_t *cols,
                        const float *vals, size_t n, br_csr *out);
/* out = transpose of a (rows become columns). */
int br_csr_transpose(const br_csr *a, br_csr *out);
void br_csr_free(br_csr *a);

#endif
