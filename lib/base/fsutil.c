/* File-system helpers (see fsutil.h): one copy of what the artifact, index and report
 * writers each used to carry.
 *
 * Design decisions:
 * 1. Errors of open map errno as the rest of the library does: ENOENT and ENOTDIR are
 *    BR_ENOENT, ENOMEM is BR_ENOMEM, anything else BR_EIO. Failed writes, fsyncs and renames
 *    are BR_EIO, and errno is left as the failed call set it (callers print strerror).
 * 2. The temp file of a replacement is "<dir>/.<name>.tmp-<pid>": in the target's directory,
 *    so the rename never crosses filesystems; hidden, so listings and globs of a directory
 *    being written skip it; per process, so two processes never share one. Two threads of
 *    one process must not replace the same path at the same time.
 * 3. It is opened with O_NOFOLLOW and O_CLOEXEC: a symlink planted at the temp name is
 *    refused rather than followed and truncated, and a child exec'd meanwhile does not
 *    inherit a writable descriptor.
 * 4. The directory is fsync'd after the rename, not before: it is the rename that must
 *    reach the disk. An fsync that fails there leaves the new file in place and reports
 *    the failure, since the caller cannot count on it surviving a crash.
 */
#include "bookrec/fsutil.h"
#include "bookrec/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int errno_code(int e)
{
    return e == ENOENT || e == ENOTDIR ? BR_ENOENT : e == ENOMEM ? BR_ENOMEM : BR_EIO;
}

int br_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return BR_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int br_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_code(errno);
    int rc = fsync(fd) != 0 && errno != EINVAL ? BR_EIO : 0;
    int saved = errno; /* close must not hide why fsync failed */
    close(fd);
    errno = saved;
    return rc;
}

int br_fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return br_fsync_dir(".");
    if (slash == path)
        return br_fsync_dir("/");
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir)
        return BR_ELIMIT;
    memcpy(dir, path, n);
    dir[n] = 0;
    return br_fsync_dir(dir);
}

int br_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int br_atomic_begin(const char *path, br_atomic_file *af)
{
    af->fd = -1;
    af->path = path;
    af->tmp[0] = 0;
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *name = slash ? slash + 1 : path;
    if (!name || !*name)
        return BR_EINVAL;
    int n = snprintf(af->tmp, sizeof af->tmp, "%.*s.%s.tmp-%d", (int)(name - path), path, name,
                     (int)getpid());
    if (n < 0 || (size_t)n >= sizeof af->tmp) {
        af->tmp[0] = 0;
        return BR_ELIMIT;
    }
    af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (af->fd < 0) {
        af->tmp[0] = 0;
        return errno_code(errno);
    }
    return 0;
}

int br_atomic_end(br_atomic_file *af, int rc)
{
    if (af->fd < 0)
        return rc ? rc : BR_EINVAL; /* begin failed, or end already ran */
    if (!rc && fsync(af->fd) != 0)
        rc = BR_EIO;
    if (close(af->fd) != 0 && !rc)
        rc = BR_EIO;
    af->fd = -1;
    if (!rc && rename(af->tmp, af->path) != 0)
        rc = BR_EIO;
    if (rc) {
        int saved = errno;
        unlink(af->tmp);
        errno = saved;
        return rc;
    }
    return br_fsync_dir_of(af->path);
}

int br_write_file_atomic(const char *path, const void *buf, size_t n)
{
    br_atomic_file af;
    int rc = br_atomic_begin(path, &af);
    if (rc)
        return rc;
    return br_atomic_end(&af, br_write_all(af.fd, buf, n));
}
