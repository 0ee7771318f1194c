/* Tests of lib/index/topk.c. */
#include "harness.h"

#include "bookrec/topk.h"

TEST(topk_keeps_the_k_best_with_id_tie_break)
{
    br_topk_item h[3];
    size_t n = 0;
    const float s[] = {0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 1.5f, 2.0f};
    for (int32_t i = 0; i < 7; i++)
        br_topk_push(h, &n, 3, (br_topk_item){s[i], i});
    ASSERT_EQ_INT(n, 3);
    br_topk_sort(h, n);
    ASSERT_EQ_INT(h[0].id, 1); /* three 2.0s: smallest ids win */
    ASSERT_EQ_INT(h[1].id, 3);
    ASSERT_EQ_INT(h[2].id, 6);
    n = 0;
    br_topk_push(h, &n, 0, (br_topk_item){1.0f, 0}); /* k = 0 keeps nothing */
    ASSERT_EQ_INT(n, 0);
}
