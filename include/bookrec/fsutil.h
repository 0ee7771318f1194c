/* Small file-system helpers shared by the writers of artifacts, indexes and reports:
 * writing a whole buffer, making a rename durable, replacing a file atomically, and
 * filling an (err, errcap) message buffer.
 *
 * Replacing a file is write-temp, fsync, rename, fsync the directory (STYLE.md, "Files on
 * disk"): a reader sees the old file or the new one, never a torn one, and after a crash
 * the name holds one of the two. */
#ifndef BOOKREC_FSUTIL_H
#define BOOKREC_FSUTIL_H

#include <stddef.h>

/* Writes the n bytes of buf to fd, through short writes and EINTR. 0 or BR_EIO (errno is
 * the failed write's; a write that returns 0 counts as a failure). */
int br_write_all(int fd, const void *buf, size_t n);

/* fsyncs the directory dir, which makes the renames and creations in it durable. 0,
 * BR_ENOENT (dir, or a component, missing), BR_ENOMEM, BR_EIO. An EINVAL from fsync is
 * success: the filesystem cannot sync a directory, so there is nothing more to wait for. */
int br_fsync_dir(const char *dir);
/* br_fsync_dir of the directory holding path ("." for a bare name). BR_ELIMIT when that
 * directory's name is 4096 bytes or longer. */
int br_fsync_dir_of(const char *path);

/* Formats a message into err (when err and errcap are non-zero; truncated to fit) and
 * returns rc, so a failure reads `return br_errf(err, errcap, BR_EIO, "%s: ...", path);`. */
int br_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A file being replaced: contents go to fd (a temp file "<dir>/.<name>.tmp-<pid>", hidden
 * and in the same directory so the rename stays on one filesystem); br_atomic_end
 * publishes it under path or removes it. */
typedef struct br_atomic_file {
    int fd;
    const char *path; /* the caller's string: must live until br_atomic_end */
    char tmp[4096];
} br_atomic_file;

/* Creates the temp file for path (O_NOFOLLOW, mode 0644). 0, BR_EINVAL (no file name),
 * BR_ELIMIT (path too long), BR_ENOENT (the directory is missing), BR_EIO. */
int br_atomic_begin(const char *path, br_atomic_file *af);
/* With rc == 0: fsync, close, rename over path, fsync the directory, and returns 0 or
 * BR_EIO/BR_ENOENT (after a failed directory fsync the new file is already in place).
 * With rc != 0 (the caller's writing failed), or when a step before the rename fails:
 * closes and removes the temp file and returns that code. Either way af->fd is closed. */
int br_atomic_end(br_atomic_file *af, int rc);

/* Replaces path with the n bytes of buf: br_atomic_begin, br_write_all, br_atomic_end. */
int br_write_file_atomic(const char *path, const void *buf, size_t n);

#endif
