/* Arena allocator (see arena.h). Blocks grow geometrically up to 1 MiB;
 * a request larger than a block gets a block of its own. */
#include "bookrec/arena.h"
#include "bookrec/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t cap, used;
    max_align_t data[];
};

struct br_arena {
    struct block *head;
    size_t limit, held;
};

#define FIRST_BLOCK 4096
#define MAX_BLOCK (1u << 20)

int br_arena_new(size_t limit, br_arena **out)
{
    br_arena *a = calloc(1, sizeof *a);
    if (!a)
        return BR_ENOMEM;
    a->limit = limit ? limit : ((size_t)4 << 30);
    *out = a;
    return 0;
}

void br_arena_free(br_arena *a)
{
    if (!a)
        return;
    for (struct block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *br_arena_alloc(br_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : FIRST_BLOCK;
        if (cap > MAX_BLOCK)
            cap = MAX_BLOCK;
        if (cap < n)
            cap = n;
        if (cap > SIZE_MAX - sizeof *b || a->held + cap > a->limit)
            return NULL;
        struct block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->cap = cap;
        nb->used = 0;
        nb->next = b;
        a->head = nb;
        a->held += cap;
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *br_arena_strndup(br_arena *a, const char *s, size_t n)
{
    char *p = br_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *br_arena_strdup(br_arena *a, const char *s)
{
    return br_arena_strndup(a, s, strlen(s));
}

void br_arena_reset(br_arena *a)
{
    struct block *b = a->head;
    if (!b)
        return;
    while (b->next) {
        struct block *n = b->next;
        a->held -= b->cap;
        free(b);
        b = n;
    }
    b->used = 0;
    a->head = b;
}

size_t br_arena_used(const br_arena *a)
{
    size_t n = 0;
    for (struct block *b = a->head; b; b = b->next)
        n += b->used;
    return n;
}
