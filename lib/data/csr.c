/* Compressed sparse rows (see csr.h): built by counting sort, so building and
 * transposing are O(nnz + n) and need no comparison sort except within rows. */
#include "bookrec/csr.h"
#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>

void br_csr_free(br_csr *a)
{
    if (!a)
        return;
    free(a->indptr);
    free(a->indices);
    free(a->values);
    memset(a, 0, sizeof *a);
}

static int alloc_csr(size_t n_rows, size_t n_cols, size_t nnz, br_csr *out)
{
    memset(out, 0, sizeof *out);
    if (n_rows > INT32_MAX || n_cols > INT32_MAX || nnz > (size_t)INT64_MAX / 2)
        return BR_ELIMIT;
    out->n_rows = n_rows;
    out->n_cols = n_cols;
    out->nnz = nnz;
    out->indptr = calloc(n_rows + 1, sizeof *out->indptr);
    out->indices = malloc((nnz ? nnz : 1) * sizeof *out->indices);
    out->values = malloc((nnz ? nnz : 1) * sizeof *out->values);
    if (!out->indptr || !out->indices || !out->values) {
        br_csr_free(out);
        return BR_ENOMEM;
    }
    return 0;
}

/* Insertion sort of one row by column: rows are short (a reader's books). */
static int sort_row(int32_t *idx, float *val, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int32_t c = idx[i];
        float v = val[i];
        size_t j = i;
        while (j > 0 && idx[j - 1] > c) {
            idx[j] = idx[j - 1];
            val[j] = val[j - 1];
            j--;
        }
        idx[j] = c;
        val[j] = v;
        if (j > 0 && idx[j - 1] == c)
            return BR_EINVAL; /* duplicate (row, col) */
    }
    return 0;
}

int br_csr_from_triples(size_t n_rows, size_t n_cols, const int32_t *rows, const int32_t *cols,
                        const float *vals, size_t n, br_csr *out)
{
    int rc = alloc_csr(n_rows, n_cols, n, out);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (rows[i] < 0 || (size_t)rows[i] >= n_rows || cols[i] < 0 || (size_t)cols[i] >= n_cols) {
            br_csr_free(out);
            return BR_EINVAL;
        }
        out->indptr[rows[i] + 1]++;
    }
    for (size_t r = 0; r < n_rows; r++)
        out->indptr[r + 1] += out->indptr[r];
    int64_t *fill = malloc((n_rows + 1) * sizeof *fill);
    if (!fill) {
        br_csr_free(out);
        return BR_ENOMEM;
    }
    memcpy(fill, out->indptr, (n_rows + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        int64_t at = fill[rows[i]]++;
        out->indices[at] = cols[i];
        out->values[at] = vals ? vals[i] : 1.0f;
    }
    free(fill);
    for (size_t r = 0; r < n_rows; r++) {
        int64_t a = out->indptr[r], b = out->indptr[r + 1];
        if ((rc = sort_row(out->indices + a, out->values + a, (size_t)(b - a)))) {
            br_csr_free(out);
            return rc;
        }
    }
    return 0;
}

int br_csr_transpose(const br_csr *a, br_csr *out)
{
    int rc = alloc_csr(a->n_cols, a->n_rows, a->nnz, out);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->nnz; i++)
        out->indptr[a->indices[i] + 1]++;
    for (size_t c = 0; c < a->n_cols; c++)
        out->indptr[c + 1] += out->indptr[c];
    int64_t *fill = malloc((a->n_cols + 1) * sizeof *fill);
    if (!fill) {
        br_csr_free(out);
        return BR_ENOMEM;
    }
    memcpy(fill, out->indptr, (a->n_cols + 1) * sizeof *fill);
    /* Rows visited in order, so each output row comes out sorted. */
    for (size_t r = 0; r < a->n_rows; r++)
        for (int64_t k = a->indptr[r]; k < a->indptr[r + 1]; k++) {
            int64_t at = fill[a->indices[k]]++;
            out->indices[at] = (int32_t)r;
            out->values[at] = a->values[k];
        }
    free(fill);
    return 0;
}
