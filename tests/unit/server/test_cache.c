/* Tests of server/cache_lru.c through the br_cache interface: LRU order,
 * TTL with an injected clock, the entry and byte limits, counters, bad
 * arguments, and threads reading and writing at once (each value names its
 * key, so a torn or misplaced copy is caught). */
#include "harness.h"

#include "bookrec/error.h"
#include "cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double g_now;
static double fake_now(void *ctx)
{
    (void)ctx;
    return g_now;
}

static int has(br_cache *c, const char *key)
{
    char *v;
    size_t n;
    int rc = br_cache_get(c, key, &v, &n);
    free(v);
    return rc == 0;
}

TEST(cache_basic_get_set)
{
    br_cache *c;
    char *v;
    size_t n;
    ASSERT_OK(br_cache_lru_new(100, 1 << 20, &c));
    ASSERT_EQ_STR(c->ops->name, "lru");
    ASSERT_EQ_INT(br_cache_get(c, "recs:v=1:u=7", &v, &n), BR_ENOENT);
    ASSERT_TRUE(v == NULL);
    ASSERT_OK(br_cache_set(c, "recs:v=1:u=7", "{\"items\":[1,2]}", 15, 60));
    ASSERT_OK(br_cache_get(c, "recs:v=1:u=7", &v, &n));
    ASSERT_EQ_INT(n, 15);
    ASSERT_EQ_STR(v, "{\"items\":[1,2]}"); /* NUL-terminated copy */
    v[0] = 'X';                            /* ours to change and free */
    free(v);
    ASSERT_OK(br_cache_get(c, "recs:v=1:u=7", &v, &n));
    ASSERT_EQ_INT(v[0], '{');
    free(v);
    /* Replacing, binary values, empty values. */
    ASSERT_OK(br_cache_set(c, "recs:v=1:u=7", "a\0b", 3, 60));
    ASSERT_OK(br_cache_get(c, "recs:v=1:u=7", &v, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_TRUE(!memcmp(v, "a\0b", 4));
    free(v);
    ASSERT_OK(br_cache_set(c, "empty", "", 0, 0));
    ASSERT_OK(br_cache_get(c, "empty", &v, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_STR(v, "");
    free(v);
    /* A key differing by version is another entry. */
    ASSERT_EQ_INT(has(c, "recs:v=2:u=7"), 0);
    ASSERT_OK(br_cache_del(c, "recs:v=1:u=7"));
    ASSERT_EQ_INT(br_cache_del(c, "recs:v=1:u=7"), BR_ENOENT);
    ASSERT_EQ_INT(has(c, "recs:v=1:u=7"), 0);

    br_cache_stats st;
    ASSERT_OK(br_cache_get_stats(c, &st));
    ASSERT_EQ_INT(st.hits, 4);
    ASSERT_EQ_INT(st.misses, 3);
    ASSERT_EQ_INT(st.sets, 3);
    ASSERT_EQ_INT(st.entries, 1);
    ASSERT_EQ_INT(st.evictions, 0);
    ASSERT_CMP_INT(st.bytes, >=, 6);
    br_cache_free(c);
    br_cache_free(NULL);
}

TEST(cache_bad_args)
{
    br_cache *c;
    char *v = (char *)1;
    size_t n;
    ASSERT_EQ_INT(br_cache_lru_new(0, 100, &c), BR_EINVAL);
    ASSERT_EQ_INT(br_cache_lru_new(10, 0, &c), BR_EINVAL);
    ASSERT_OK(br_cache_lru_new(10, 1000, &c));
    ASSERT_EQ_INT(br_cache_get(c, "", &v, &n), BR_EINVAL);
    ASSERT_TRUE(v == NULL);
    ASSERT_EQ_INT(br_cache_get(c, NULL, &v, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_cache_set(c, "", "x", 1, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_cache_set(c, "k", NULL, 1, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_cache_del(c, NULL), BR_EINVAL);
    char *big = malloc(BR_CACHE_MAX_KEY + 2);
    ASSERT_TRUE(big != NULL);
    memset(big, 'k', BR_CACHE_MAX_KEY + 1);
    big[BR_CACHE_MAX_KEY + 1] = '\0';
    int rc = br_cache_set(c, big, "x", 1, 0);
    free(big);
    ASSERT_EQ_INT(rc, BR_EINVAL);
    /* A value larger than the cache can hold is refused, not half stored. */
    char val[1000] = {0};
    ASSERT_EQ_INT(br_cache_set(c, "k", val, sizeof val, 0), BR_ELIMIT);
    ASSERT_EQ_INT(br_cache_set(c, "k", val, (size_t)BR_CACHE_MAX_VALUE + 1, 0), BR_ELIMIT);
    ASSERT_EQ_INT(has(c, "k"), 0);
    ASSERT_EQ_INT(br_cache_lru_set_clock(c, NULL, NULL), BR_EINVAL);
    br_cache_free(c);
}

TEST(cache_lru_order)
{
    br_cache *c;
    ASSERT_OK(br_cache_lru_new(3, 1 << 20, &c));
    ASSERT_OK(br_cache_set(c, "a", "1", 1, 0));
    ASSERT_OK(br_cache_set(c, "b", "2", 1, 0));
    ASSERT_OK(br_cache_set(c, "c", "3", 1, 0));
    ASSERT_EQ_INT(has(c, "a"), 1); /* a is now the most recent; b the least */
    ASSERT_OK(br_cache_set(c, "d", "4", 1, 0));
    ASSERT_EQ_INT(has(c, "b"), 0);
    ASSERT_EQ_INT(has(c, "a"), 1);
    ASSERT_EQ_INT(has(c, "c"), 1);
    ASSERT_EQ_INT(has(c, "d"), 1);
    /* Replacing refreshes too: order now a c d -> set c -> a is least. */
    ASSERT_OK(br_cache_set(c, "a", "1", 1, 0));
    ASSERT_OK(br_cache_set(c, "c", "3", 1, 0));
    ASSERT_OK(br_cache_set(c, "e", "5", 1, 0));
    ASSERT_EQ_INT(has(c, "d"), 0);
    ASSERT_EQ_INT(has(c, "a") + has(c, "c") + has(c, "e"), 3);
    br_cache_stats st;
    ASSERT_OK(br_cache_get_stats(c, &st));
    ASSERT_EQ_INT(st.entries, 3);
    ASSERT_EQ_INT(st.evictions, 2);
    br_cache_free(c);
}

TEST(cache_ttl)
{
    br_cache *c;
    ASSERT_OK(br_cache_lru_new(10, 1 << 20, &c));
    ASSERT_OK(br_cache_lru_set_clock(c, fake_now, NULL));
    g_now = 1000;
    ASSERT_OK(br_cache_set(c, "short", "x", 1, 10));
    ASSERT_OK(br_cache_set(c, "long", "y", 1, 100));
    ASSERT_OK(br_cache_set(c, "forever", "z", 1, 0));
    g_now = 1009.999;
    ASSERT_EQ_INT(has(c, "short"), 1);
    g_now = 1010;
    ASSERT_EQ_INT(has(c, "short"), 0);
    ASSERT_EQ_INT(has(c, "long"), 1);
    /* Setting again restarts the TTL. */
    ASSERT_OK(br_cache_set(c, "short", "x", 1, 10));
    g_now = 1019;
    ASSERT_EQ_INT(has(c, "short"), 1);
    g_now = 1e9;
    ASSERT_EQ_INT(has(c, "long"), 0);
    ASSERT_EQ_INT(has(c, "short"), 0);
    ASSERT_EQ_INT(has(c, "forever"), 1);
    br_cache_stats st;
    ASSERT_OK(br_cache_get_stats(c, &st));
    ASSERT_EQ_INT(st.expirations, 3);
    ASSERT_EQ_INT(st.entries, 1);
    ASSERT_EQ_INT(st.evictions, 0);
    br_cache_free(c);
}

TEST(cache_byte_limit)
{
    br_cache *c;
    br_cache_stats st;
    char val[1000], key[16];
    memset(val, 'v', sizeof val);
    ASSERT_OK(br_cache_lru_new(100, 10000, &c));
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(br_cache_set(c, key, val, sizeof val, 0));
        ASSERT_OK(br_cache_get_stats(c, &st));
        ASSERT_CMP_INT(st.bytes, <=, 10000);
    }
    /* Each entry costs 1000 bytes and some bookkeeping: 8 or 9 fit, the
     * most recent ones. */
    ASSERT_CMP_INT(st.entries, >=, 8);
    ASSERT_CMP_INT(st.entries, <=, 9);
    ASSERT_EQ_INT(st.evictions, 30 - st.entries);
    ASSERT_EQ_INT(has(c, "k29"), 1);
    ASSERT_EQ_INT(has(c, "k22"), 1);
    ASSERT_EQ_INT(has(c, "k20"), 0);
    ASSERT_EQ_INT(has(c, "k0"), 0);
    /* A small value evicts only as much as it needs. */
    size_t before = st.entries;
    ASSERT_OK(br_cache_set(c, "small", "s", 1, 0));
    ASSERT_OK(br_cache_get_stats(c, &st));
    ASSERT_CMP_INT(st.entries, >=, before);
    ASSERT_CMP_INT(st.entries, <=, before + 1);
    br_cache_free(c);
}

/* Many keys through a sharded cache: the entry limit holds overall. */
TEST(cache_entry_limit_sharded)
{
    br_cache *c;
    br_cache_stats st;
    char key[32];
    ASSERT_OK(br_cache_lru_new(1024, 1 << 24, &c));
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "recs:v=3:u=%d", i);
        ASSERT_OK(br_cache_set(c, key, key, strlen(key), 0));
    }
    ASSERT_OK(br_cache_get_stats(c, &st));
    ASSERT_CMP_INT(st.entries, <=, 1024);
    ASSERT_CMP_INT(st.entries, >=, 900);
    ASSERT_EQ_INT(st.evictions + st.entries, 20000);
    ASSERT_EQ_INT(has(c, "recs:v=3:u=19999"), 1);
    ASSERT_EQ_INT(has(c, "recs:v=3:u=0"), 0);
    br_cache_free(c);
}

/* Readers and writers on 200 keys in a cache of 128: every hit must be the
 * value of its key ("<key>|" repeated to a length that depends on a writer
 * round), never a torn or foreign copy. */
enum { CT_THREADS = 4, CT_OPS = 20000, CT_KEYS = 200 };

static br_cache *g_cache;

static void *cache_worker(void *arg)
{
    long id = (long)arg, bad = 0;
    unsigned seed = (unsigned)id * 2654435761u + 1;
    char key[32], val[2048];
    for (int i = 0; i < CT_OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % CT_KEYS);
        snprintf(key, sizeof key, "key:%d", k);
        size_t klen = strlen(key);
        if ((seed >> 4) % 4 == 0) {
            size_t reps = 1 + (seed >> 12) % 40, n = 0;
            for (size_t r = 0; r < reps; r++) {
                memcpy(val + n, key, klen);
                n += klen;
                val[n++] = '|';
            }
            if (br_cache_set(g_cache, key, val, n, (seed >> 20) % 2 ? 0 : 3600) != 0)
                bad++;
        } else if ((seed >> 4) % 16 == 1) {
            (void)br_cache_del(g_cache, key);
        } else {
            char *v;
            size_t n;
            if (br_cache_get(g_cache, key, &v, &n) == 0) {
                if (n == 0 || n % (klen + 1) != 0 || v[n] != '\0')
                    bad++;
                for (size_t at = 0; at < n; at += klen + 1)
                    if (memcmp(v + at, key, klen) || v[at + klen] != '|')
                        bad++;
                free(v);
            }
        }
    }
    return (void *)bad;
}

TEST(cache_threads)
{
    pthread_t th[CT_THREADS];
    long bad = 0;
    ASSERT_OK(br_cache_lru_new(128, 64 << 10, &g_cache));
    for (long i = 0; i < CT_THREADS; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, cache_worker, (void *)i), 0);
    for (int i = 0; i < CT_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    br_cache_stats st;
    ASSERT_OK(br_cache_get_stats(g_cache, &st));
    br_cache_free(g_cache);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_CMP_INT(st.hits, >, 0);
    ASSERT_CMP_INT(st.evictions, >, 0);
    ASSERT_CMP_INT(st.entries, <=, 128);
    ASSERT_CMP_INT(st.bytes, <=, 64 << 10);
}
