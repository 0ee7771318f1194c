/* Growable array (see vec.h). */
#include "bookrec/vec.h"
#include "bookrec/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void br_vec_init(br_vec *v, size_t elem, size_t limit)
{
    *v = (br_vec){NULL, 0, 0, elem, limit ? limit : SIZE_MAX / elem};
}

void br_vec_free(br_vec *v)
{
    free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

int br_vec_reserve(br_vec *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    if (n > v->limit)
        return BR_ELIMIT;
    size_t cap = v->cap ? v->cap : 16;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    if (cap > v->limit)
        cap = v->limit;
    if (cap > SIZE_MAX / v->elem)
        return BR_ENOMEM;
    void *d = realloc(v->data, cap * v->elem);
    if (!d)
        return BR_ENOMEM;
    v->data = d;
    v->cap = cap;
    return 0;
}

void *br_vec_push(br_vec *v, const void *e)
{
    if (v->n == v->cap && br_vec_reserve(v, v->n + 1) != 0)
        return NULL;
    void *p = (char *)v->data + v->n * v->elem;
    if (e)
        memcpy(p, e, v->elem);
    else
        memset(p, 0, v->elem);
    v->n++;
    return p;
}
