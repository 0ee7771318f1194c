/* The gateway's response cache: an interface (a table of operations) with
 * an in-process LRU implementation now and a Redis one later (production
 * issue), so that the gateway never knows which it has.
 *
 * Design decisions:
 * 1. Keys are strings that say everything the value depends on; the gateway
 *    builds them with the model version and the reader's state, e.g.
 *    "recs:v=<version>:u=<user>:s=<ratings-count>:<newest-ts>:mode=...",
 *    so a reload or a new rating changes the key and nothing needs to be
 *    invalidated: stale entries age out. Values are byte strings (rendered
 *    JSON), each with its own time to live.
 * 2. get hands back a malloc'd copy (NUL-terminated, ready to be a response
 *    body that the HTTP server frees): no reference outlives the call, which
 *    is what a networked cache can offer too, and is safe across threads.
 * 3. The operations only ask what Redis can answer: GET, SET with EX, DEL;
 *    the counters are each implementation's own (hits, misses, evictions
 *    for /metrics and the benchmark's hit rate).
 * 4. A cache is best effort: an error in get is a miss, an error in set
 *    loses nothing but speed, so callers may ignore both.
 *
 * Implementations embed struct br_cache as their first member; call through
 * the br_cache_* wrappers below (or c->ops directly). Every implementation
 * is thread-safe.
 */
#ifndef BOOKREC_SERVER_CACHE_H
#define BOOKREC_SERVER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define BR_CACHE_MAX_KEY 1024          /* bytes of a key */
#define BR_CACHE_MAX_VALUE (16u << 20) /* bytes of a value */

typedef struct br_cache br_cache;

typedef struct br_cache_stats {
    uint64_t hits, misses;
    uint64_t sets;
    uint64_t evictions;   /* dropped for room (entries or bytes) */
    uint64_t expirations; /* dropped because their TTL had passed */
    uint64_t entries;     /* held now */
    uint64_t bytes;       /* held now, keys + values + per-entry overhead */
} br_cache_stats;

typedef struct br_cache_ops {
    const char *name; /* "lru", "redis" */
    /* 0 and *val (malloc'd copy with a NUL after *len bytes; caller frees) on
     * a hit; BR_ENOENT on a miss (absent or expired); BR_EINVAL (NULL or
     * empty key, key over BR_CACHE_MAX_KEY), BR_ENOMEM, BR_EIO (backend
     * down). *val is NULL unless 0. */
    int (*get)(br_cache *c, const char *key, char **val, size_t *len);
    /* Stores a copy of val[0..len) under key for ttl_s seconds (0: until
     * evicted), replacing any value. 0; BR_EINVAL; BR_ELIMIT value over
     * BR_CACHE_MAX_VALUE or over what the cache can hold (not stored);
     * BR_ENOMEM; BR_EIO. */
    int (*set)(br_cache *c, const char *key, const void *val, size_t len, uint32_t ttl_s);
    /* Removes key: 0, BR_ENOENT when absent, BR_EINVAL, BR_EIO. */
    int (*del)(br_cache *c, const char *key);
    /* Counters since creation. 0 or BR_EIO. */
    int (*stats)(br_cache *c, br_cache_stats *out);
    void (*free)(br_cache *c);
} br_cache_ops;

struct br_cache {
    const br_cache_ops *ops;
};

static inline int br_cache_get(br_cache *c, const char *key, char **val, size_t *len)
{
    return c->ops->get(c, key, val, len);
}
static inline int br_cache_set(br_cache *c, const char *key, const void *val, size_t len,
                               uint32_t ttl_s)
{
    return c->ops->set(c, key, val, len, ttl_s);
}
static inline int br_cache_del(br_cache *c, const char *key)
{
    return c->ops->del(c, key);
}
static inline int br_cache_get_stats(br_cache *c, br_cache_stats *out)
{
    return c->ops->stats(c, out);
}
/* NULL is fine. */
static inline void br_cache_free(br_cache *c)
{
    if (c)
        c->ops->free(c);
}

/* ---- in-process LRU (cache_lru.c) ----
 *
 * At most max_entries entries and max_bytes bytes (keys, values and about
 * 64 bytes of bookkeeping each); least recently used entries go first.
 * Striped: up to 16 shards, each an exact LRU with 1/shards of both limits
 * (a cache of fewer than 128 entries has one shard, so exact LRU order);
 * a value larger than a shard's byte share is refused with BR_ELIMIT.
 * get and set are O(1). 0, BR_EINVAL (a limit of 0), BR_ENOMEM, BR_EIO. */
int br_cache_lru_new(size_t max_entries, size_t max_bytes, br_cache **out);

/* Replaces the clock (seconds, monotonic; default CLOCK_MONOTONIC), for
 * tests of expiry. Call before the cache is shared. BR_EINVAL when c is not
 * an LRU cache. */
int br_cache_lru_set_clock(br_cache *c, double (*now)(void *ctx), void *ctx);

#endif
