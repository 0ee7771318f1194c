/* In-process LRU response cache (see cache.h).
 *
 * Design decisions beyond the header's:
 * 1. One allocation per entry: the node (hash chain link, LRU links, hash,
 *    expiry, lengths) followed by the key and the value, each NUL-ended.
 *    The bytes charged for an entry are exactly that allocation's size.
 * 2. Shards: the largest power of two <= max_entries / 64, from 1 to 16.
 *    Each has a mutex, a chained hash table of max_entries / shards buckets
 *    (allocated up front: the entry cap bounds it) and a circular LRU list
 *    with a sentinel; the front is the most recently used.
 * 3. The hash is SipHash-2-4 under a random per-cache key: keys carry user
 *    input (subjects, query text), and chains must not be made long on
 *    purpose.
 * 4. set allocates and fills the entry before taking the lock, and frees
 *    what it displaced after releasing it; get copies the value under the
 *    lock (a few kB of memcpy; holding a reference instead would need
 *    refcounts for no gain at these sizes).
 * 5. Expired entries are dropped when a get finds them, or from the LRU
 *    tail like any other when room is needed.
 */
#include "cache.h"

#include "bookrec/error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SHARDS 16

typedef struct lru_link {
    struct lru_link *prev, *next;
} lru_link;

typedef struct entry {
    lru_link lru; /* first: an lru_link * to an entry is the entry */
    struct entry *hnext;
    uint64_t hash;
    double expires; /* 0: never */
    size_t klen, vlen, size;
    char data[]; /* key NUL value NUL */
} entry;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
    entry **buckets;
    size_t bmask;
    lru_link lru; /* sentinel: lru.next is the most recent, lru.prev the least */
    size_t count, bytes;
    uint64_t hits, misses, sets, evictions, expirations;
} shard;

typedef struct lru_cache {
    br_cache base;
    unsigned char key[crypto_shorthash_KEYBYTES];
    size_t n_shards;               /* power of two */
    size_t cap_entries, cap_bytes; /* per shard */
    double (*now)(void *ctx);
    void *now_ctx;
    shard *shards;
} lru_cache;

static double mono_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int key_ok(const char *key, size_t *klen)
{
    if (!key)
        return 0;
    *klen = strnlen(key, BR_CACHE_MAX_KEY + 1);
    return *klen > 0 && *klen <= BR_CACHE_MAX_KEY;
}

static uint64_t hash_key(const lru_cache *c, const char *key, size_t klen)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, klen, c->key);
    return h;
}

static shard *shard_of(lru_cache *c, uint64_t h)
{
    return &c->shards[h & (c->n_shards - 1)];
}

static entry **bucket_of(shard *s, uint64_t h)
{
    return &s->buckets[(h >> 4) & s->bmask];
}

/* The link pointing at the entry for key, or at the NULL ending its chain. */
static entry **find(shard *s, uint64_t h, const char *key, size_t klen)
{
    entry **p = bucket_of(s, h);
    while (*p && ((*p)->hash != h || (*p)->klen != klen || memcmp((*p)->data, key, klen)))
        p = &(*p)->hnext;
    return p;
}

static void lru_unlink(entry *e)
{
    e->lru.prev->next = e->lru.next;
    e->lru.next->prev = e->lru.prev;
}

static void lru_push_front(shard *s, entry *e)
{
    e->lru.next = s->lru.next;
    e->lru.prev = &s->lru;
    s->lru.next->prev = &e->lru;
    s->lru.next = &e->lru;
}

/* Takes e out of the table and the list; the caller frees it. */
static void detach(shard *s, entry *e)
{
    entry **p = bucket_of(s, e->hash);
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(e);
    s->count--;
    s->bytes -= e->size;
}

static int lru_get(br_cache *bc, const char *key, char **val, size_t *len)
{
    lru_cache *c = (lru_cache *)bc;
    size_t klen;
    entry *dead = NULL;
    int rc = BR_ENOENT;
    *val = NULL;
    if (len)
        *len = 0;
    if (!key_ok(key, &klen))
        return BR_EINVAL;
    uint64_t h = hash_key(c, key, klen);
    shard *s = shard_of(c, h);
    double now = c->now(c->now_ctx);
    pthread_mutex_lock(&s->mu);
    entry *e = *find(s, h, key, klen);
    if (e && e->expires > 0 && now >= e->expires) {
        detach(s, e);
        s->expirations++;
        dead = e;
        e = NULL;
    }
    if (!e) {
        s->misses++;
    } else if (!(*val = malloc(e->vlen + 1))) {
        rc = BR_ENOMEM;
        s->misses++;
    } else {
        memcpy(*val, e->data + e->klen + 1, e->vlen + 1);
        if (len)
            *len = e->vlen;
        lru_unlink(e);
        lru_push_front(s, e);
        s->hits++;
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    free(dead);
    return rc;
}

static int lru_set(br_cache *bc, const char *key, const void *val, size_t len, uint32_t ttl_s)
{
    lru_cache *c = (lru_cache *)bc;
    size_t klen;
    if (!key_ok(key, &klen) || (!val && len))
        return BR_EINVAL;
    if (len > BR_CACHE_MAX_VALUE)
        return BR_ELIMIT;
    size_t size = sizeof(entry) + klen + 1 + len + 1; /* cannot overflow: both bounded */
    if (size > c->cap_bytes)
        return BR_ELIMIT;
    entry *e = malloc(size);
    if (!e)
        return BR_ENOMEM;
    e->hash = hash_key(c, key, klen);
    e->klen = klen;
    e->vlen = len;
    e->size = size;
    memcpy(e->data, key, klen + 1);
    if (len)
        memcpy(e->data + klen + 1, val, len);
    e->data[klen + 1 + len] = '\0';
    double now = c->now(c->now_ctx);
    e->expires = ttl_s ? now + ttl_s : 0;

    entry *dead = NULL; /* displaced entries, freed after the lock (chained by hnext) */
    shard *s = shard_of(c, e->hash);
    pthread_mutex_lock(&s->mu);
    entry **p = find(s, e->hash, key, klen);
    if (*p) {
        entry *old = *p;
        detach(s, old);
        old->hnext = dead;
        dead = old;
    }
    while (s->count + 1 > c->cap_entries || s->bytes + size > c->cap_bytes) {
        entry *victim = (entry *)s->lru.prev; /* never the sentinel: size <= cap_bytes */
        detach(s, victim);
        if (victim->expires > 0 && now >= victim->expires)
            s->expirations++;
        else
            s->evictions++;
        victim->hnext = dead;
        dead = victim;
    }
    p = bucket_of(s, e->hash);
    e->hnext = *p;
    *p = e;
    lru_push_front(s, e);
    s->count++;
    s->bytes += size;
    s->sets++;
    pthread_mutex_unlock(&s->mu);
    while (dead) {
        entry *next = dead->hnext;
        free(dead);
        dead = next;
    }
    return 0;
}

static int lru_del(br_cache *bc, const char *key)
{
    lru_cache *c = (lru_cache *)bc;
    size_t klen;
    if (!key_ok(key, &klen))
        return BR_EINVAL;
    uint64_t h = hash_key(c, key, klen);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    entry *e = *find(s, h, key, klen);
    if (e)
        detach(s, e);
    pthread_mutex_unlock(&s->mu);
    free(e);
    return e ? 0 : BR_ENOENT;
}

static int lru_stats(br_cache *bc, br_cache_stats *out)
{
    lru_cache *c = (lru_cache *)bc;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < c->n_shards; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        out->hits += s->hits;
        out->misses += s->misses;
        out->sets += s->sets;
        out->evictions += s->evictions;
        out->expirations += s->expirations;
        out->entries += s->count;
        out->bytes += s->bytes;
        pthread_mutex_unlock(&s->mu);
    }
    return 0;
}

static void lru_free(br_cache *bc)
{
    lru_cache *c = (lru_cache *)bc;
    if (!c)
        return;
    for (size_t i = 0; c->shards && i < c->n_shards; i++) {
        shard *s = &c->shards[i];
        for (lru_link *l = s->lru.next; l && l != &s->lru;) {
            lru_link *next = l->next;
            free(l); /* the entry: its link comes first */
            l = next;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(c->shards);
    free(c);
}

static const br_cache_ops lru_ops = {
    .name = "lru",
    .get = lru_get,
    .set = lru_set,
    .del = lru_del,
    .stats = lru_stats,
    .free = lru_free,
};

int br_cache_lru_new(size_t max_entries, size_t max_bytes, br_cache **out)
{
    int rc = BR_EINVAL;
    lru_cache *c = NULL;
    *out = NULL;
    if (max_entries < 1 || max_bytes < 1 || max_entries > (SIZE_MAX >> 8))
        return BR_EINVAL;
    if (sodium_init() < 0)
        return BR_EIO;
    rc = BR_ENOMEM;
    if (!(c = calloc(1, sizeof *c)))
        goto fail;
    c->base.ops = &lru_ops;
    c->now = mono_now;
    randombytes_buf(c->key, sizeof c->key);
    c->n_shards = 1;
    while (c->n_shards < MAX_SHARDS && c->n_shards * 2 <= max_entries / 64)
        c->n_shards *= 2;
    c->cap_entries = max_entries / c->n_shards;
    c->cap_bytes = max_bytes / c->n_shards;
    size_t nb = 1;
    while (nb < c->cap_entries)
        nb <<= 1;
    c->shards = aligned_alloc(64, c->n_shards * sizeof *c->shards);
    if (!c->shards)
        goto fail;
    memset(c->shards, 0, c->n_shards * sizeof *c->shards);
    for (size_t i = 0; i < c->n_shards; i++) {
        shard *s = &c->shards[i];
        s->lru.next = s->lru.prev = &s->lru;
        s->bmask = nb - 1;
        if (!(s->buckets = calloc(nb, sizeof *s->buckets)) ||
            pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->buckets);
            c->n_shards = i; /* the shards that are whole */
            goto fail;
        }
    }
    *out = &c->base;
    return 0;
fail:
    lru_free(c ? &c->base : NULL);
    return rc;
}

int br_cache_lru_set_clock(br_cache *bc, double (*now)(void *ctx), void *ctx)
{
    if (!bc || bc->ops != &lru_ops || !now)
        return BR_EINVAL;
    lru_cache *c = (lru_cache *)bc;
    c->now = now;
    c->now_ctx = ctx;
    return 0;
}
