/* Rate limits of the gateway: one token bucket per key ("ip:1.2.3.4",
 * "user:42", "login:alice"), answering "allowed" or "limited, retry after so
 * many seconds" for a 429 with Retry-After.
 *
 * Design decisions:
 * 1. Token bucket: a key's bucket holds at most `burst` tokens and refills
 *    at `rate` tokens per second; each request takes one. A key never seen
 *    starts full, so a full bucket and an absent key are the same thing:
 *    forgetting a full bucket changes no answer.
 * 2. A bucket is stored as one number, the time at which it will be full
 *    again (the "theoretical arrival time" of GCRA, equivalent to a token
 *    bucket): tokens(now) = burst - rate * (full_at - now), capped at burst.
 *    So rate and burst are the caller's on each call, one limiter serves
 *    every kind of key (give each kind its own prefix and policy), and an
 *    entry is 24 bytes.
 * 3. Memory is bounded by max_keys. When a shard is full, a new key evicts,
 *    among a few entries sampled round the table, the one full soonest:
 *    buckets full already go first (no loss), and a bucket just emptied is
 *    never taken before them, so flooding the table with new keys does not
 *    reset an attacker's own limit.
 * 4. Low contention: keys are spread over up to 64 shards, each a mutex and
 *    an open-addressing table (linear probing, backward-shift deletion, no
 *    tombstones). Tables grow by doubling up to their cap while warming up;
 *    after that nothing is allocated.
 * 5. A table stores a 128-bit SipHash of the key under a random per-limiter
 *    key, not the key: fixed-size entries, no length limit on keys, and two
 *    keys merge only by a 2^-128 accident that no client can aim at.
 * 6. Time is the caller's (seconds on a monotonic clock), so tests inject
 *    it; a clock that goes backwards gives no tokens back.
 */
#ifndef BOOKREC_SERVER_RATELIMIT_H
#define BOOKREC_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define BR_RATELIMIT_MAX_KEYS (1u << 26)

typedef struct br_ratelimit br_ratelimit;

/* A limiter holding at most max_keys buckets (1..BR_RATELIMIT_MAX_KEYS; at
 * most 48 bytes of table per key). 0, BR_EINVAL, BR_ENOMEM, BR_EIO
 * (libsodium failed to start). */
int br_ratelimit_new(size_t max_keys, br_ratelimit **out);
void br_ratelimit_free(br_ratelimit *rl);

/* Takes one token from key's bucket (rate > 0 tokens per second, burst >= 1)
 * at time now (seconds, monotonic). Returns 1 when allowed (*retry_after_s =
 * 0), 0 when limited with *retry_after_s > 0 the seconds until a token is
 * there (round up for Retry-After), BR_EINVAL for a NULL key or a
 * non-finite or out-of-range argument. Thread-safe; never allocates once
 * the tables have grown; retry_after_s may be NULL. A key should keep one
 * policy: changing rate or burst keeps its debt in seconds. */
int br_ratelimit_take(br_ratelimit *rl, const char *key, double rate, double burst, double now,
                      double *retry_after_s);

typedef struct br_ratelimit_stats {
    uint64_t allowed, limited; /* answers given */
    uint64_t evicted;          /* keys dropped to make room */
    size_t keys;               /* keys held now */
    size_t max_keys;           /* the cap (max_keys rounded down to the shards) */
} br_ratelimit_stats;

void br_ratelimit_get_stats(br_ratelimit *rl, br_ratelimit_stats *out);

#endif
