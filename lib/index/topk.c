/* Bounded top-k selection (see topk.h). The root of the heap is the worst
 * item kept, so a candidate is compared with one item before being dropped. */
#include "bookrec/topk.h"

#include <stdlib.h>

/* a ranks before b: higher score, then smaller id. */
static int better(const br_topk_item *a, const br_topk_item *b)
{
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

void br_topk_push(br_topk_item *h, size_t *n, size_t k, br_topk_item c)
{
    size_t i;
    if (*n < k) {
        for (i = (*n)++; i > 0 && better(&h[(i - 1) / 2], &c); i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = c;
        return;
    }
    if (k == 0 || !better(&c, &h[0]))
        return;
    for (i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const br_topk_item *worst = &c;
        if (l < *n && better(worst, &h[l]))
            m = l, worst = &h[l];
        if (r < *n && better(worst, &h[r]))
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = c;
}

static int cmp_item(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

void br_topk_sort(br_topk_item *h, size_t n)
{
    qsort(h, n, sizeof *h, cmp_item);
}
