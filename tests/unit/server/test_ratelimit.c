/* Tests of server/ratelimit.c with an injected clock: burst then limit,
 * refill, Retry-After, independence of keys, the key cap under a flood (and
 * that the flood does not reset a limited key), and four threads at once. */
#include "harness.h"

#include "bookrec/error.h"
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

TEST(ratelimit_burst_then_limit)
{
    br_ratelimit *rl;
    double ra;
    ASSERT_OK(br_ratelimit_new(1000, &rl));
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ_INT(br_ratelimit_take(rl, "ip:1.2.3.4", 1, 5, 100.0, &ra), 1);
        ASSERT_NEAR(ra, 0, 0);
    }
    ASSERT_EQ_INT(br_ratelimit_take(rl, "ip:1.2.3.4", 1, 5, 100.0, &ra), 0);
    ASSERT_NEAR(ra, 1.0, 1e-9);
    /* Other keys are not affected. */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "ip:1.2.3.5", 1, 5, 100.0, &ra), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "user:42", 1, 5, 100.0, NULL), 1);
    br_ratelimit_stats st;
    br_ratelimit_get_stats(rl, &st);
    ASSERT_EQ_INT(st.allowed, 7);
    ASSERT_EQ_INT(st.limited, 1);
    ASSERT_EQ_INT(st.keys, 3);
    ASSERT_EQ_INT(st.evicted, 0);
    br_ratelimit_free(rl);
}

TEST(ratelimit_refill_and_retry_after)
{
    br_ratelimit *rl;
    double ra;
    ASSERT_OK(br_ratelimit_new(64, &rl));
    /* rate 2/s, burst 4: four at once, then one every 0.5 s. */
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 10.0, &ra), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 10.0, &ra), 0);
    ASSERT_NEAR(ra, 0.5, 1e-9);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 10.2, &ra), 0);
    ASSERT_NEAR(ra, 0.3, 1e-9);
    /* Waiting exactly retry_after is enough, and gives exactly one token. */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 10.5, &ra), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 10.5, &ra), 0);
    ASSERT_NEAR(ra, 0.5, 1e-9);
    /* Two seconds of idling refill the whole burst, and no more. */
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 100.0, &ra), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 2, 4, 100.0, &ra), 0);
    /* A slow policy: 1 per minute, burst 1 (Retry-After 60). */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:alice", 1.0 / 60, 1, 5.0, &ra), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:alice", 1.0 / 60, 1, 5.0, &ra), 0);
    ASSERT_NEAR(ra, 60, 1e-6);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:alice", 1.0 / 60, 1, 35.0, &ra), 0);
    ASSERT_NEAR(ra, 30, 1e-6);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:alice", 1.0 / 60, 1, 65.0, &ra), 1);
    /* A clock going backwards gives nothing back. */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:alice", 1.0 / 60, 1, 0.0, &ra), 0);
    ASSERT_NEAR(ra, 125, 1e-6);
    br_ratelimit_free(rl);
}

/* A steady stream at the allowed rate is never refused, over many steps of
 * accumulated floating-point time. */
TEST(ratelimit_steady_rate)
{
    br_ratelimit *rl;
    ASSERT_OK(br_ratelimit_new(64, &rl));
    double t = 12345.678;
    int refused = 0;
    for (int i = 0; i < 10000; i++, t += 0.1)
        refused += br_ratelimit_take(rl, "k", 10, 1, t, NULL) == 0;
    ASSERT_EQ_INT(refused, 0);
    /* Twice the rate: about half refused. */
    int allowed = 0;
    for (int i = 0; i < 1000; i++, t += 0.05)
        allowed += br_ratelimit_take(rl, "k2", 10, 1, t, NULL);
    ASSERT_CMP_INT(allowed, >=, 499);
    ASSERT_CMP_INT(allowed, <=, 501);
    br_ratelimit_free(rl);
}

TEST(ratelimit_bad_args)
{
    br_ratelimit *rl;
    ASSERT_EQ_INT(br_ratelimit_new(0, &rl), BR_EINVAL);
    ASSERT_TRUE(rl == NULL);
    ASSERT_EQ_INT(br_ratelimit_new((size_t)BR_RATELIMIT_MAX_KEYS + 1, &rl), BR_EINVAL);
    ASSERT_OK(br_ratelimit_new(1, &rl));
    ASSERT_EQ_INT(br_ratelimit_take(rl, NULL, 1, 1, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 0, 1, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", -1, 1, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", NAN, 1, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 1, 0.5, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 1, INFINITY, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 1e-320, 1, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 1, 1, NAN, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "k", 1, 1, INFINITY, NULL), BR_EINVAL);
    /* One key of capacity still works: a second key evicts the first. */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "a", 1, 1, 0, NULL), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "b", 1, 1, 0, NULL), 1);
    br_ratelimit_stats st;
    br_ratelimit_get_stats(rl, &st);
    ASSERT_EQ_INT(st.keys, 1);
    ASSERT_EQ_INT(st.max_keys, 1);
    ASSERT_EQ_INT(st.evicted, 1);
    br_ratelimit_free(rl);
    br_ratelimit_free(NULL);
}

/* Ten times the cap in distinct keys: the count never passes the cap, the
 * tables stop growing, and a key that was limited before the flood is
 * still limited after it (the flood's buckets are full sooner, so they go
 * first). */
TEST(ratelimit_key_cap_flood)
{
    br_ratelimit *rl;
    br_ratelimit_stats st;
    double ra;
    const size_t cap = 5000;
    ASSERT_OK(br_ratelimit_new(cap, &rl));
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(br_ratelimit_take(rl, "login:victim", 0.01, 3, 0.0, NULL), 1);
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:victim", 0.01, 3, 0.0, &ra), 0);
    char key[64];
    double t = 0;
    for (size_t i = 0; i < 10 * cap; i++) {
        snprintf(key, sizeof key, "login:flood%zu", i);
        t += 0.0001;
        ASSERT_EQ_INT(br_ratelimit_take(rl, key, 0.01, 3, t, NULL), 1);
        if (i % 997 == 0) {
            br_ratelimit_get_stats(rl, &st);
            ASSERT_CMP_INT(st.keys, <=, cap);
        }
    }
    br_ratelimit_get_stats(rl, &st);
    ASSERT_CMP_INT(st.keys, <=, cap);
    ASSERT_CMP_INT(st.keys, >=, cap * 9 / 10);
    ASSERT_CMP_INT(st.max_keys, <=, cap);
    ASSERT_CMP_INT(st.evicted, >=, 9 * cap);
    /* Full at 300 s, so limited until 100 s (t is 5 s now). */
    ASSERT_EQ_INT(br_ratelimit_take(rl, "login:victim", 0.01, 3, t, &ra), 0);
    ASSERT_NEAR(ra, 100 - t, 1e-6);
    br_ratelimit_free(rl);
}

/* Four threads take from a few shared keys and many private ones with a
 * fixed clock: exactly `burst` takes per shared key succeed in total. */
enum { N_THREADS = 4, N_SHARED = 8, BURST = 50, TAKES = 20000 };

static br_ratelimit *g_rl;

static void *hammer(void *arg)
{
    long id = (long)arg, ok = 0;
    char key[48];
    for (int i = 0; i < TAKES; i++) {
        if (i % 2)
            snprintf(key, sizeof key, "shared:%d", (i / 2) % N_SHARED);
        else
            snprintf(key, sizeof key, "own:%ld:%d", id, i % 3000);
        int rc = br_ratelimit_take(g_rl, key, 1e-3, BURST, 1000.0, NULL);
        if (rc < 0)
            return (void *)-1L;
        if (i % 2)
            ok += rc;
    }
    return (void *)ok;
}

TEST(ratelimit_threads)
{
    pthread_t th[N_THREADS];
    long total = 0;
    ASSERT_OK(br_ratelimit_new(4096, &g_rl));
    for (long i = 0; i < N_THREADS; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        ASSERT_TRUE((long)r >= 0);
        total += (long)r;
    }
    br_ratelimit_stats st;
    br_ratelimit_get_stats(g_rl, &st);
    br_ratelimit_free(g_rl);
    /* The shared keys are the most indebted, so the private keys' churn
     * (12000 of them through 4096 slots) never evicts them. */
    ASSERT_EQ_INT(total, N_SHARED * BURST);
    ASSERT_EQ_INT(st.allowed + st.limited, (uint64_t)N_THREADS * TAKES);
    ASSERT_CMP_INT(st.keys, <=, 4096);
}
