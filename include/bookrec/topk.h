/* Bounded top-k selection: a min-heap of the k best (score, id) pairs seen so
 * far, so that ranking n candidates costs O(n log k). Higher scores rank first;
 * equal scores go to the smaller id, so results are deterministic. */
#ifndef BOOKREC_TOPK_H
#define BOOKREC_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_topk_item {
    float score;
    int32_t id;
} br_topk_item;

/* heap holds k items; *n is how many it has (start at 0). */
void br_topk_push(br_topk_item *heap, size_t *n, size_t k, br_topk_item c);
/* Sorts the heap's n items best first (it is no longer a heap afterwards). */
void br_topk_sort(br_topk_item *heap, size_t n);

#endif
