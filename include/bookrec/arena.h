/* Arena allocator: bump allocation in blocks, freed all at once.
 *
 * Used for request scopes and for the strings of a whole import, where
 * millions of small allocations share one lifetime. A hard limit on the
 * total bytes keeps a bad input from eating the machine. */
#ifndef BOOKREC_ARENA_H
#define BOOKREC_ARENA_H

#include <stddef.h>

typedef struct br_arena br_arena;

/* limit: maximum bytes ever held (0 = 4 GiB). */
int br_arena_new(size_t limit, br_arena **out);
void br_arena_free(br_arena *a);
/* Aligned to 16 bytes; NULL when out of memory or over the limit. */
void *br_arena_alloc(br_arena *a, size_t n);
char *br_arena_strndup(br_arena *a, const char *s, size_t n);
char *br_arena_strdup(br_arena *a, const char *s);
/* Forgets every allocation but keeps the first block for reuse. */
void br_arena_reset(br_arena *a);
size_t br_arena_used(const br_arena *a);

#endif
