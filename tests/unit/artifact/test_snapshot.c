/* Tests of lib/artifact/snapshot.c: references, grace period, and swaps racing readers
 * (also run under ThreadSanitizer by CI). */
#include "harness.h"

#include "bookrec/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE 0x5eed5eedu

struct payload {
    unsigned magic;
    int n;
    int values[64];
};

static atomic_int g_freed;

static void payload_free(void *p)
{
    struct payload *x = p;
    x->magic = 0xdeadu; /* a reader that still used it would see this (or ASan the free) */
    free(x);
    atomic_fetch_add(&g_freed, 1);
}

static br_snap *make_snap(const char *version, int n)
{
    struct payload *p = calloc(1, sizeof *p);
    p->magic = LIVE;
    p->n = n;
    for (int i = 0; i < 64; i++)
        p->values[i] = n;
    return br_snap_new(version, p, payload_free);
}

TEST(snapshot_last_reference_frees)
{
    long alive0 = br_snap_alive();
    atomic_store(&g_freed, 0);
    br_holder *h;
    ASSERT_OK(br_holder_new(0, &h));
    ASSERT_TRUE(br_holder_acquire(h, NULL) == NULL);
    br_holder_swap(h, make_snap("v1", 1));
    br_snap *r = br_holder_acquire(h, NULL);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_STR(br_snap_version(r), "v1");
    /* A swap with no grace drops v1 from the holder, but the reader's reference keeps it. */
    br_holder_swap(h, make_snap("v2", 2));
    ASSERT_EQ_INT(atomic_load(&g_freed), 0);
    ASSERT_EQ_INT(((struct payload *)br_snap_data(r))->magic, LIVE);
    ASSERT_TRUE(br_holder_acquire(h, "v1") == NULL);
    br_snap_release(r);
    ASSERT_EQ_INT(atomic_load(&g_freed), 1);
    br_holder_free(h);
    ASSERT_EQ_INT(atomic_load(&g_freed), 2);
    ASSERT_EQ_INT(br_snap_alive(), alive0);
    br_holder_free(NULL);
    br_snap_release(NULL);
}

TEST(snapshot_previous_kept_for_grace_then_dropped)
{
    br_holder *h;
    char cur[BR_SNAP_VERSION_MAX], prev[BR_SNAP_VERSION_MAX];
    ASSERT_OK(br_holder_new(150, &h));
    br_holder_swap(h, make_snap("v1", 1));
    br_holder_swap(h, make_snap("v2", 2));
    br_holder_versions(h, cur, prev, NULL);
    ASSERT_EQ_STR(cur, "v2");
    ASSERT_EQ_STR(prev, "v1");
    br_snap *r = br_holder_acquire(h, "v1");
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_INT(((struct payload *)br_snap_data(r))->n, 1);
    br_snap_release(r);
    ASSERT_TRUE(br_holder_acquire(h, "v0") == NULL);
    /* A third version drops v1 at once: at most two are held. */
    br_holder_swap(h, make_snap("v3", 3));
    ASSERT_TRUE(br_holder_acquire(h, "v1") == NULL);
    r = br_holder_acquire(h, "v2");
    ASSERT_TRUE(r != NULL);
    br_snap_release(r);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    br_holder_versions(h, cur, prev, NULL);
    ASSERT_EQ_STR(cur, "v3");
    ASSERT_EQ_STR(prev, "");
    ASSERT_TRUE(br_holder_acquire(h, "v2") == NULL);
    /* Reloading the same version keeps one copy, not two. */
    br_holder_swap(h, make_snap("v3", 33));
    br_holder_versions(h, cur, prev, NULL);
    ASSERT_EQ_STR(prev, "");
    r = br_holder_acquire(h, NULL);
    ASSERT_EQ_INT(((struct payload *)br_snap_data(r))->n, 33);
    br_snap_release(r);
    br_holder_free(h);
}

struct race {
    br_holder *h;
    atomic_int stop;
    atomic_long reads, bad;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        br_snap *s = br_holder_acquire(r->h, NULL);
        if (!s) {
            atomic_fetch_add(&r->bad, 1);
            continue;
        }
        const struct payload *p = br_snap_data(s);
        int want = atoi(br_snap_version(s) + 1);
        if (p->magic != LIVE || p->n != want || p->values[63] != want)
            atomic_fetch_add(&r->bad, 1);
        br_snap_release(s);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

TEST(snapshot_swaps_race_readers_safely)
{
    struct race r = {0};
    long alive0 = br_snap_alive();
    pthread_t t[4];
    ASSERT_OK(br_holder_new(1, &r.h));
    br_holder_swap(r.h, make_snap("v0", 0));
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader, &r);
    /* Swap until the readers have done real work too (the machine may be busy). */
    for (int v = 1; v <= 300 || (atomic_load(&r.reads) < 2000 && v < 1000000); v++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", v);
        br_holder_swap(r.h, make_snap(name, v));
        if (v % 50 == 0)
            br_holder_expire(r.h);
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ_INT(atomic_load(&r.bad), 0);
    ASSERT_TRUE(atomic_load(&r.reads) > 0);
    br_holder_free(r.h);
    ASSERT_EQ_INT(br_snap_alive(), alive0);
}
