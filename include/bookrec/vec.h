/* Growable array of fixed-size elements with a hard element limit.
 * Size arithmetic is overflow-checked; growth doubles. */
#ifndef BOOKREC_VEC_H
#define BOOKREC_VEC_H

#include <stddef.h>

typedef struct br_vec {
    void *data;
    size_t n, cap, elem, limit;
} br_vec;

/* limit: maximum number of elements (0 = no limit other than memory). */
void br_vec_init(br_vec *v, size_t elem, size_t limit);
void br_vec_free(br_vec *v);
/* Appends one element (copied from e, or zeroed when e is NULL); returns a
 * pointer to it, or NULL on BR_ENOMEM / over the limit. */
void *br_vec_push(br_vec *v, const void *e);
int br_vec_reserve(br_vec *v, size_t n);
#define br_vec_at(v, type, i) (((type *)(v)->data)[i])

#endif
