/* Reference-counted snapshots and their holder (see snapshot.h for the design). */
#include "bookrec/snapshot.h"

#include "bookrec/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct br_snap {
    atomic_long refs;
    char version[BR_SNAP_VERSION_MAX];
    int64_t loaded_at_ms;
    void *data;
    void (*free_fn)(void *);
};

static atomic_long g_alive;

static int64_t now_ms(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

br_snap *br_snap_new(const char *version, void *data, void (*free_fn)(void *))
{
    br_snap *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    snprintf(s->version, sizeof s->version, "%s", version ? version : "");
    s->loaded_at_ms = now_ms(CLOCK_REALTIME);
    s->data = data;
    s->free_fn = free_fn;
    atomic_fetch_add(&g_alive, 1);
    return s;
}

void br_snap_retain(br_snap *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void br_snap_release(br_snap *s)
{
    if (!s)
        return;
    /* acq_rel: the freeing thread sees every other holder's reads finished. */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (s->free_fn)
        s->free_fn(s->data);
    free(s);
    atomic_fetch_sub(&g_alive, 1);
}

const char *br_snap_version(const br_snap *s) { return s->version; }
void *br_snap_data(const br_snap *s) { return s->data; }
int64_t br_snap_loaded_at_ms(const br_snap *s) { return s->loaded_at_ms; }
long br_snap_alive(void) { return atomic_load(&g_alive); }

struct br_holder {
    pthread_mutex_t mu;
    br_snap *cur, *prev;
    int64_t prev_until_ms; /* monotonic deadline of prev */
    int64_t grace_ms;
};

int br_holder_new(int64_t grace_ms, br_holder **out)
{
    br_holder *h = calloc(1, sizeof *h);
    *out = NULL;
    if (!h)
        return BR_ENOMEM;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return BR_ENOMEM;
    }
    h->grace_ms = grace_ms < 0 ? 0 : grace_ms;
    *out = h;
    return 0;
}

void br_holder_free(br_holder *h)
{
    if (!h)
        return;
    br_snap_release(h->cur);
    br_snap_release(h->prev);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Called with h->mu held: detaches prev if its grace ended; the caller releases it
 * outside the lock (freeing unmaps files, which is not for under a lock). */
static br_snap *take_expired(br_holder *h)
{
    br_snap *old = NULL;
    if (h->prev && now_ms(CLOCK_MONOTONIC) >= h->prev_until_ms) {
        old = h->prev;
        h->prev = NULL;
    }
    return old;
}

br_snap *br_holder_acquire(br_holder *h, const char *version)
{
    br_snap *s = NULL, *old;
    pthread_mutex_lock(&h->mu);
    old = take_expired(h);
    if (!version || !version[0] || (h->cur && !strcmp(h->cur->version, version)))
        s = h->cur;
    else if (h->prev && !strcmp(h->prev->version, version))
        s = h->prev;
    if (s)
        br_snap_retain(s);
    pthread_mutex_unlock(&h->mu);
    br_snap_release(old);
    return s;
}

void br_holder_swap(br_holder *h, br_snap *s)
{
    br_snap *old;
    pthread_mutex_lock(&h->mu);
    old = h->prev;
    h->prev = h->cur;
    h->cur = s;
    h->prev_until_ms = now_ms(CLOCK_MONOTONIC) + h->grace_ms;
    if (h->grace_ms == 0 || (h->prev && s && !strcmp(h->prev->version, s->version))) {
        /* No grace, or a reload of the same version: nothing to keep. */
        br_snap *p = h->prev;
        h->prev = NULL;
        pthread_mutex_unlock(&h->mu);
        br_snap_release(old);
        br_snap_release(p);
        return;
    }
    pthread_mutex_unlock(&h->mu);
    br_snap_release(old);
}

void br_holder_expire(br_holder *h)
{
    pthread_mutex_lock(&h->mu);
    br_snap *old = take_expired(h);
    pthread_mutex_unlock(&h->mu);
    br_snap_release(old);
}

void br_holder_versions(br_holder *h, char *cur, char *prev, int64_t *loaded_at_ms)
{
    br_holder_expire(h);
    pthread_mutex_lock(&h->mu);
    snprintf(cur, BR_SNAP_VERSION_MAX, "%s", h->cur ? h->cur->version : "");
    if (prev)
        snprintf(prev, BR_SNAP_VERSION_MAX, "%s", h->prev ? h->prev->version : "");
    if (loaded_at_ms)
        *loaded_at_ms = h->cur ? h->cur->loaded_at_ms : 0;
    pthread_mutex_unlock(&h->mu);
}
