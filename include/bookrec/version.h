/* Model versions on disk: the registry under an artifacts directory.
 *
 *   ARTIFACTS/versions/<id>/         one complete version (manifest.json + role subdirs)
 *   ARTIFACTS/versions/.staging-*    versions being written (never listed, never current)
 *   ARTIFACTS/CURRENT                the active version id and a newline
 *   ARTIFACTS/HISTORY                one line per activation: "<unix time> <id>" (for rollback)
 *
 * A version id is "YYYYMMDD-HHMMSS-mmm-xxxxxxxx" (UTC time of creation, milliseconds, 8 hex
 * digits of randomness): ids sort by creation time, are safe as path components and in HTTP
 * headers. manifest.json lists every file of the version as
 *   {"path": "als/item_factors.npy", "role": "als", "size": N, "xxh64": "16 hex digits"}
 * under "files"; a version is complete when its manifest parses and every listed file exists
 * with its size and checksum.
 *
 * Publishing is crash-safe: a version is written in a staging directory, fsync'd file by file,
 * renamed into versions/ and the directory fsync'd; CURRENT is replaced by writing a temp file,
 * fsync, rename, fsync of the directory. CURRENT is only ever pointed at a version that
 * br_version_verify accepted, so a kill -9 at any moment leaves it naming a complete version.
 *
 * Nothing here assumes a shared filesystem beyond ARTIFACTS itself: a service host has its own
 * artifacts directory, into which versions are copied before CURRENT is switched there. */
#ifndef BOOKREC_VERSION_H
#define BOOKREC_VERSION_H

#include <jansson.h>
#include <stddef.h>

#define BR_VERSION_ID_MAX 64

/* A fresh id for a version created now. buf has at least BR_VERSION_ID_MAX bytes. */
void br_version_new_id(char *buf);
/* 1 if s has the shape of a version id (so it is safe in a path), else 0. */
int br_version_id_valid(const char *s);

/* Starts a version: creates ARTIFACTS/versions/.staging-<id>/ and writes its path into
 * dir (cap bytes). 0, BR_EIO, BR_EINVAL. */
int br_version_stage(const char *artifacts, const char *id, char *dir, size_t cap);

/* Computes size and xxh64 of DIR/relpath and appends the file entry to manifest["files"]
 * (an array, created when missing). 0, BR_EIO, BR_ENOMEM. */
int br_version_add_file(json_t *manifest, const char *dir, const char *relpath,
                        const char *role);

/* Finishes a staged version: writes manifest.json (with "id"), fsyncs every file and
 * directory of the staged tree, renames it to ARTIFACTS/versions/<id> and fsyncs
 * versions/. Does not activate it. 0, BR_EIO, BR_EEXIST (the id exists). */
int br_version_commit(const char *artifacts, const char *id, const char *staged_dir,
                      json_t *manifest);

/* Checks that version id is complete: its manifest parses, and every file (of role, or of
 * every role when role is NULL) exists with the recorded size and checksum. err gets a
 * one-line reason. 0, BR_ENOENT (no such version), BR_ECORRUPT, BR_EFORMAT. */
int br_version_verify(const char *artifacts, const char *id, const char *role, char *err,
                      size_t errcap);

/* Reads manifest.json of version id (new reference in *out). 0, BR_ENOENT, BR_EFORMAT. */
int br_version_manifest(const char *artifacts, const char *id, json_t **out);

/* ARTIFACTS/versions/<id> into buf. 0, BR_ELIMIT (too long), BR_EINVAL (bad id). */
int br_version_dir(const char *artifacts, const char *id, char *buf, size_t cap);

/* The id in CURRENT. 0, BR_ENOENT (no CURRENT yet), BR_ECORRUPT (not an id). */
int br_version_current(const char *artifacts, char *id, size_t cap);

/* Verifies version id completely, then replaces CURRENT atomically and appends to HISTORY.
 * 0, BR_ENOENT, BR_ECORRUPT (refused: CURRENT unchanged), BR_EIO. */
int br_version_activate(const char *artifacts, const char *id, char *err, size_t errcap);

/* Activates the version that was current before the current one (per HISTORY, skipping
 * versions that no longer exist or fail verification). *id gets it. BR_ENOENT when there
 * is none. */
int br_version_rollback(const char *artifacts, char *id, size_t cap, char *err, size_t errcap);

/* Ids of the complete-looking versions (a manifest.json present), sorted ascending (oldest
 * first). *ids is one malloc'd array of n pointers into the same block: free(*ids). */
int br_version_list(const char *artifacts, char ***ids, size_t *n);

/* Removes the oldest versions so that at most keep remain, never CURRENT nor the version
 * activated before it, and stale staging directories older than an hour. *removed (may be
 * NULL) gets the count. keep < 2 is raised to 2. */
int br_version_prune(const char *artifacts, size_t keep, size_t *removed);

#endif
