/* Token-bucket rate limits in sharded open-addressing tables (see
 * ratelimit.h).
 *
 * Design decisions beyond the header's:
 * 1. Shards: the largest power of two <= max_keys / 16, from 1 to 64, so a
 *    small limiter keeps at least 16 keys per shard and its eviction
 *    samples mean something. Each shard holds max_keys / shards keys, so
 *    the total never exceeds max_keys.
 * 2. A table keeps its load at most 3/4; its size is a power of two. The
 *    low 6 bits of the hash pick the shard, the next ones the home slot.
 * 3. Eviction samples EVICT_SAMPLE entries from a clock hand that moves on
 *    with each eviction (the sampling of Redis's approximate LRU, ranked by
 *    "full at" rather than by last use, which is what makes it safe against
 *    flooding).
 * 4. A growth that fails for lack of memory falls back to eviction: take()
 *    does not fail once the limiter exists.
 * 5. Comparisons allow EPS seconds of rounding, so that a bucket refilled
 *    exactly on time is not refused by the last bit of a double.
 */
#include "ratelimit.h"

#include "bookrec/error.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 64
#define MIN_SLOTS 16
#define EVICT_SAMPLE 8
#define EPS 1e-9

typedef struct slot {
    uint64_t lo, hi; /* SipHash of the key; hi == 0: empty (hi is forced odd) */
    double full_at;  /* when the bucket is full again */
} slot;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
    slot *slots;
    size_t mask;      /* slots - 1 */
    size_t max_slots; /* growth stops here */
    size_t count, cap;
    size_t hand; /* eviction clock hand */
    uint64_t allowed, limited, evicted;
} shard;

struct br_ratelimit {
    unsigned char key[crypto_shorthash_siphashx24_KEYBYTES];
    size_t n_shards; /* power of two */
    size_t max_keys;
    shard *shards;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int br_ratelimit_new(size_t max_keys, br_ratelimit **out)
{
    int rc = BR_EINVAL;
    br_ratelimit *rl = NULL;
    *out = NULL;
    if (max_keys < 1 || max_keys > BR_RATELIMIT_MAX_KEYS)
        return BR_EINVAL;
    if (sodium_init() < 0)
        return BR_EIO;
    rc = BR_ENOMEM;
    if (!(rl = calloc(1, sizeof *rl)))
        goto fail;
    randombytes_buf(rl->key, sizeof rl->key);
    rl->n_shards = 1;
    while (rl->n_shards < MAX_SHARDS && rl->n_shards * 2 <= max_keys / 16)
        rl->n_shards *= 2;
    size_t cap = max_keys / rl->n_shards;
    rl->max_keys = cap * rl->n_shards;
    rl->shards = aligned_alloc(64, rl->n_shards * sizeof *rl->shards);
    if (!rl->shards)
        goto fail;
    memset(rl->shards, 0, rl->n_shards * sizeof *rl->shards);
    size_t max_slots = pow2_at_least(cap + cap / 3 + 1); /* load <= 3/4 at cap */
    size_t first = max_slots < MIN_SLOTS ? max_slots : MIN_SLOTS;
    for (size_t i = 0; i < rl->n_shards; i++) {
        shard *s = &rl->shards[i];
        s->cap = cap;
        s->max_slots = max_slots;
        s->mask = first - 1;
        if (!(s->slots = calloc(first, sizeof *s->slots))) {
            rl->n_shards = i; /* only these have a mutex to destroy */
            goto fail;
        }
        if (pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->slots);
            rl->n_shards = i;
            rc = BR_EIO;
            goto fail;
        }
    }
    *out = rl;
    return 0;
fail:
    br_ratelimit_free(rl);
    return rc;
}

void br_ratelimit_free(br_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; rl->shards && i < rl->n_shards; i++) {
        pthread_mutex_destroy(&rl->shards[i].mu);
        free(rl->shards[i].slots);
    }
    free(rl->shards);
    sodium_memzero(rl->key, sizeof rl->key);
    free(rl);
}

static size_t home(const shard *s, uint64_t lo)
{
    return (size_t)(lo >> 6) & s->mask;
}

/* Index of (lo, hi), or of the empty slot where it would go. */
static size_t probe(const shard *s, uint64_t lo, uint64_t hi)
{
    size_t i = home(s, lo);
    while (s->slots[i].hi && (s->slots[i].lo != lo || s->slots[i].hi != hi))
        i = (i + 1) & s->mask;
    return i;
}

/* Backward-shift deletion (Knuth 6.4, Algorithm R): moves later entries of
 * the cluster back so that no probe sequence has a hole. */
static void remove_at(shard *s, size_t i)
{
    size_t j = i;
    for (;;) {
        s->slots[i].hi = 0;
        for (;;) {
            j = (j + 1) & s->mask;
            if (!s->slots[j].hi)
                goto done;
            size_t k = home(s, s->slots[j].lo);
            /* Stay when home k lies cyclically in (i, j]. */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        s->slots[i] = s->slots[j];
        i = j;
    }
done:
    s->count--;
}

/* Doubles the table; 0 or BR_ENOMEM (the table is then unchanged). */
static int grow(shard *s)
{
    size_t n = (s->mask + 1) * 2;
    slot *old = s->slots, *fresh = calloc(n, sizeof *fresh);
    if (!fresh)
        return BR_ENOMEM;
    size_t old_n = s->mask + 1;
    s->slots = fresh;
    s->mask = n - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].hi)
            s->slots[probe(s, old[i].lo, old[i].hi)] = old[i];
    free(old);
    if (s->hand >= n)
        s->hand = 0;
    return 0;
}

static void evict_one(shard *s)
{
    size_t n = s->mask + 1, seen = 0, victim = SIZE_MAX;
    double best = INFINITY;
    for (size_t step = 0; step < n && seen < EVICT_SAMPLE; step++) {
        size_t i = (s->hand + step) & s->mask;
        if (!s->slots[i].hi)
            continue;
        seen++;
        if (victim == SIZE_MAX || s->slots[i].full_at < best) {
            best = s->slots[i].full_at;
            victim = i;
        }
    }
    if (victim == SIZE_MAX)
        return; /* empty table: nothing to do */
    s->hand = (victim + 1) & s->mask;
    remove_at(s, victim);
    s->evicted++;
}

int br_ratelimit_take(br_ratelimit *rl, const char *key, double rate, double burst, double now,
                      double *retry_after_s)
{
    if (retry_after_s)
        *retry_after_s = 0;
    if (!rl || !key || !isfinite(now) || !(rate > 0) || !(burst >= 1) || !isfinite(1.0 / rate) ||
        !isfinite(burst / rate))
        return BR_EINVAL;
    uint64_t h[2];
    crypto_shorthash_siphashx24((unsigned char *)h, (const unsigned char *)key, strlen(key),
                                rl->key);
    uint64_t lo = h[0], hi = h[1] | 1;
    shard *s = &rl->shards[lo & (rl->n_shards - 1)];
    double interval = 1.0 / rate, tolerance = (burst - 1) / rate;

    pthread_mutex_lock(&s->mu);
    size_t i = probe(s, lo, hi);
    double full_at = s->slots[i].hi ? s->slots[i].full_at : now; /* absent: full */
    if (full_at < now)
        full_at = now;
    if (full_at - now > tolerance + EPS) {
        s->limited++;
        pthread_mutex_unlock(&s->mu);
        if (retry_after_s)
            *retry_after_s = full_at - now - tolerance;
        return 0;
    }
    if (!s->slots[i].hi) {
        /* A new key: make room first, then find its slot again (eviction
         * and growth move entries). */
        while (s->count >= s->cap)
            evict_one(s);
        if ((s->count + 1) * 4 > (s->mask + 1) * 3 &&
            (s->mask + 1 >= s->max_slots || grow(s) != 0)) {
            /* Growth failed (the cap keeps the load under 3/4 otherwise). */
            evict_one(s);
        }
        i = probe(s, lo, hi);
        s->slots[i].lo = lo;
        s->slots[i].hi = hi;
        s->count++;
    }
    s->slots[i].full_at = full_at + interval;
    s->allowed++;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

void br_ratelimit_get_stats(br_ratelimit *rl, br_ratelimit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!rl)
        return;
    out->max_keys = rl->max_keys;
    for (size_t i = 0; i < rl->n_shards; i++) {
        shard *s = &rl->shards[i];
        pthread_mutex_lock(&s->mu);
        out->allowed += s->allowed;
        out->limited += s->limited;
        out->evicted += s->evicted;
        out->keys += s->count;
        pthread_mutex_unlock(&s->mu);
    }
}
