/* Loaded model versions as immutable, reference-counted snapshots, and the holder that
 * swaps them on reload.
 *
 * Design decisions:
 * 1. A snapshot is immutable once published: its data (mapped artifact files, opened
 *    indexes) is only read, so any number of requests share it without locks.
 * 2. A request takes a reference when it starts (br_holder_acquire) and releases it when it
 *    ends (br_snap_release). The last release frees the data: its mappings go away then, not
 *    at the swap, so no request ever reads unmapped memory.
 * 3. The holder keeps the current snapshot and, for a grace period, the previous one, so that
 *    a request naming the previous version (a rollout in progress elsewhere) is still served
 *    by it. A newer reload drops the previous one at once: at most two versions are held.
 * 4. The pointer swap and the reference increment share one mutex held for a few
 *    instructions: a reload loads and validates aside, then takes the lock only to swap, so
 *    no request waits on a reload's work. (A lock-free acquire needs hazard pointers or
 *    RCU to be safe against the free; the mutex is simpler and is not contended for long.)
 */
#ifndef BOOKREC_SNAPSHOT_H
#define BOOKREC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#define BR_SNAP_VERSION_MAX 64

typedef struct br_snap br_snap;

/* A snapshot of version `version` holding data, freed by free_fn(data) when the last
 * reference goes. Starts with one reference (the caller's). NULL on ENOMEM (data not freed). */
br_snap *br_snap_new(const char *version, void *data, void (*free_fn)(void *));
void br_snap_retain(br_snap *s);
/* Drops a reference; the last one frees the data and the snapshot. NULL is fine. */
void br_snap_release(br_snap *s);
const char *br_snap_version(const br_snap *s);
void *br_snap_data(const br_snap *s);
/* Unix time in milliseconds when the snapshot was made. */
int64_t br_snap_loaded_at_ms(const br_snap *s);

typedef struct br_holder br_holder;

/* grace_ms: how long the previous snapshot is kept after a swap. */
int br_holder_new(int64_t grace_ms, br_holder **out);
/* Releases the held snapshots (in-flight references stay valid). NULL is fine. */
void br_holder_free(br_holder *h);

/* A reference to the snapshot of version (NULL or "": the current one), or NULL when the
 * holder has none or not that version (also after its grace period ended). */
br_snap *br_holder_acquire(br_holder *h, const char *version);

/* Makes s current (the holder takes over the caller's reference). The old current becomes
 * the previous one; the old previous is released. */
void br_holder_swap(br_holder *h, br_snap *s);

/* Releases the previous snapshot when its grace period has ended; call it now and then
 * (each acquire also does). */
void br_holder_expire(br_holder *h);

/* The current and previous versions ("" when none) into cur/prev (BR_SNAP_VERSION_MAX
 * bytes each; prev may be NULL), and the current's loaded_at. */
void br_holder_versions(br_holder *h, char *cur, char *prev, int64_t *loaded_at_ms);

/* Number of snapshots alive anywhere (held or referenced): for tests and metrics. */
long br_snap_alive(void);

#endif
