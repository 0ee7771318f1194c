/* Tests of lib/data/csr.c. */
#include "harness.h"

#include "bookrec/csr.h"
#include "bookrec/error.h"

TEST(csr_build_sorts_rows_and_transposes)
{
    int32_t r[] = {1, 0, 1, 2, 0}, c[] = {3, 2, 0, 1, 0};
    float v[] = {5, 0, 7, 1, 9};
    br_csr a, t;
    ASSERT_OK(br_csr_from_triples(3, 4, r, c, v, 5, &a));
    ASSERT_EQ_INT(a.indptr[1], 2);
    ASSERT_EQ_INT(a.indices[0], 0);
    ASSERT_NEAR(a.values[0], 9, 0);
    ASSERT_EQ_INT(a.indices[1], 2);
    ASSERT_EQ_INT(a.indices[2], 0); /* row 1: cols 0, 3 */
    ASSERT_EQ_INT(a.indices[3], 3);
    ASSERT_OK(br_csr_transpose(&a, &t));
    ASSERT_EQ_INT(t.n_rows, 4);
    ASSERT_EQ_INT(t.indptr[1] - t.indptr[0], 2); /* col 0: rows 0, 1 */
    ASSERT_EQ_INT(t.indices[0], 0);
    ASSERT_EQ_INT(t.indices[1], 1);
    ASSERT_NEAR(t.values[1], 7, 0);
    br_csr_free(&a);
    br_csr_free(&t);
}

TEST(csr_rejects_duplicates_and_out_of_range)
{
    int32_t r[] = {0, 0}, c[] = {1, 1}, bad[] = {0, 5};
    br_csr a;
    ASSERT_EQ_INT(br_csr_from_triples(1, 2, r, c, NULL, 2, &a), BR_EINVAL);
    ASSERT_EQ_INT(br_csr_from_triples(1, 2, r, bad, NULL, 2, &a), BR_EINVAL);
    br_csr_free(NULL);
}
