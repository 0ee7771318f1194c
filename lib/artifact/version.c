/* The version registry under an artifacts directory (see version.h).
 *
 * Design decisions:
 * 1. A version id has one exact shape (br_version_id_valid) and every id that comes from
 *    outside (caller, CURRENT, HISTORY, directory names) is checked against it before it is
 *    put into a path, so an id can never name anything but versions/<id>.
 * 2. Files of a version are opened component by component with O_NOFOLLOW under the version
 *    directory, and manifest paths must be relative without "." or ".." components: a
 *    manifest (or a symlink planted in a version) cannot make us read outside the version.
 * 3. Publishing: write in versions/.staging-<id>, fsync every file and directory, rename
 *    with RENAME_NOREPLACE (a plain rename would silently replace an empty directory), fsync
 *    versions/. CURRENT: temp file, fsync, rename, fsync ARTIFACTS. The rename is the commit
 *    point of each step, so after a crash a version is either absent or complete.
 * 4. activate, rollback and prune hold an exclusive flock on ARTIFACTS/.lock, so a prune
 *    never deletes a version that a concurrent activate is switching to.
 * 5. Rollback semantics come from replaying HISTORY as a path of versions: activating a new
 *    id pushes it, activating an id already on the path truncates the path back to it. So
 *    rollback, repeated, walks further back (it does not toggle between two versions), and a
 *    crash between the CURRENT switch and the HISTORY append is repaired by reconciling the
 *    path with CURRENT. Only the last HISTORY_TAIL bytes are read: HISTORY grows forever.
 * 6. Prune renames a doomed version to a .staging- name before deleting it, so a crash
 *    halfway through never leaves a half-deleted directory that looks like a version.
 * 7. A staging directory is stale when nothing in its tree was modified for an hour; a
 *    writer that stays idle that long is taken for dead.
 */
#include "bookrec/version.h"
#include "bookrec/error.h"
#include "bookrec/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MANIFEST_MAX (16u << 20)
#define FILES_MAX 4096
#define RELPATH_MAX 1024
#define ROLE_MAX 64
#define TREE_DEPTH_MAX 32
#define LIST_MAX 100000
#define HISTORY_TAIL (1u << 20)
#define PATH_STACK_MAX 1024
#define STALE_SECONDS 3600
#define STAGING_PREFIX ".staging-"

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!err || !cap)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++) /* one printable line, whatever a manifest held */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

static int join(char *buf, size_t cap, const char *a, const char *b)
{
    int n = snprintf(buf, cap, "%s/%s", a, b);
    return n < 0 || (size_t)n >= cap ? BR_ELIMIT : 0;
}

static int errno_code(int e)
{
    return e == ENOENT || e == ENOTDIR ? BR_ENOENT : e == ENOMEM ? BR_ENOMEM : BR_EIO;
}

/* ---- ids ---- */

void br_version_new_id(char *buf)
{
    struct timespec ts;
    struct tm tm;
    uint32_t rnd;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u; /* no entropy yet */
    snprintf(buf, BR_VERSION_ID_MAX, "%04d%02d%02d-%02d%02d%02d-%03d-%08x", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000), (unsigned)rnd);
}

int br_version_id_valid(const char *s)
{
    /* d = decimal digit, x = lowercase hex digit. */
    static const char shape[] = "dddddddd-dddddd-ddd-xxxxxxxx";
    if (!s)
        return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = s[i];
        if (shape[i] == '-' ? c != '-'
            : shape[i] == 'd' ? !(c >= '0' && c <= '9')
                              : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[sizeof shape - 1] == 0;
}

int br_version_dir(const char *artifacts, const char *id, char *buf, size_t cap)
{
    if (!artifacts || !br_version_id_valid(id))
        return BR_EINVAL;
    int n = snprintf(buf, cap, "%s/versions/%s", artifacts, id);
    return n < 0 || (size_t)n >= cap ? BR_ELIMIT : 0;
}

/* ---- file helpers ---- */

/* A path inside a version: relative, components neither empty nor "." nor "..", printable. */
static int relpath_safe(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n >= RELPATH_MAX || p[0] == '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
            return 0;
    const char *c = p;
    while (1) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        if (!e)
            return 1;
        c = e + 1;
    }
}

static int role_valid(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n == 0 || n > ROLE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
              (r[i] >= '0' && r[i] <= '9') || r[i] == '_' || r[i] == '-' || r[i] == '.'))
            return 0;
    return 1;
}

/* Opens dirfd/rel for reading without following a symlink at any component. Returns the
 * fd, or a negated errno. rel must have passed relpath_safe. */
static int open_beneath(int dirfd, const char *rel)
{
    char buf[RELPATH_MAX];
    snprintf(buf, sizeof buf, "%s", rel);
    int fd = dirfd;
    char *c = buf;
    while (1) {
        char *e = strchr(c, '/');
        if (e)
            *e = 0;
        /* O_NONBLOCK: a FIFO planted in a version must not hang us (regular files ignore it). */
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (e ? O_DIRECTORY : 0);
        int nfd = openat(fd, c, flags);
        int saved = errno;
        if (fd != dirfd)
            close(fd);
        if (nfd < 0)
            return -saved;
        fd = nfd;
        if (!e)
            return fd;
        c = e + 1;
    }
}

/* Streams fd through XXH64 (seed 0); *size gets the bytes read. */
static int hash_fd(int fd, uint64_t *h, uint64_t *size)
{
    XXH64_state_t *st = XXH64_createState();
    char *buf = malloc(1 << 16);
    int rc = 0;
    if (!st || !buf) {
        rc = BR_ENOMEM;
        goto fail;
    }
    XXH64_reset(st, 0);
    *size = 0;
    while (1) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = BR_EIO;
            goto fail;
        }
        if (r == 0)
            break;
        XXH64_update(st, buf, (size_t)r);
        *size += (uint64_t)r;
    }
    *h = XXH64_digest(st);
fail:
    XXH64_freeState(st);
    free(buf);
    return rc;
}

/* fsyncs every regular file and directory below dirfd, then dirfd itself. */
static int fsync_tree(int dirfd, int depth)
{
    if (depth > TREE_DEPTH_MAX)
        return BR_ELIMIT;
    int dup_fd = dup(dirfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    int rc = 0;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return BR_EIO;
    }
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = BR_EIO;
            break;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue; /* symlinks and the like are never read through (open_beneath) */
        int fd = openat(dirfd, de->d_name,
                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0) {
            rc = BR_EIO;
            break;
        }
        rc = S_ISDIR(st.st_mode) ? fsync_tree(fd, depth + 1) : fsync(fd) == 0 ? 0 : BR_EIO;
        close(fd);
    }
    closedir(d);
    if (!rc && fsync(dirfd) != 0)
        rc = BR_EIO;
    return rc;
}

/* Removes parent/name and everything below it, never following symlinks. */
static int rm_tree(int parent, const char *name, int depth)
{
    struct stat st;
    if (depth > TREE_DEPTH_MAX)
        return BR_ELIMIT;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : BR_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : BR_EIO;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    int rc = 0;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return BR_EIO;
    }
    struct dirent *de;
    while (!rc && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = rm_tree(fd, de->d_name, depth + 1);
    closedir(d);
    if (!rc && unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = BR_EIO;
    return rc;
}

/* The newest mtime of parent/name and everything below it. */
static void newest_mtime(int parent, const char *name, int depth, time_t *newest)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (st.st_mtime > *newest)
        *newest = st.st_mtime;
    if (!S_ISDIR(st.st_mode) || depth > TREE_DEPTH_MAX)
        return;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            newest_mtime(fd, de->d_name, depth + 1, newest);
    closedir(d);
}

static int lock_artifacts(const char *artifacts, int *fd_out)
{
    char path[4096];
    int rc = join(path, sizeof path, artifacts, ".lock");
    if (rc)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno_code(errno);
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            return BR_EIO;
        }
    *fd_out = fd;
    return 0;
}

static void unlock_artifacts(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* ---- staging and commit ---- */

static int mkdir_fsync_parent(const char *dir, const char *parent)
{
    if (mkdir(dir, 0755) == 0)
        return br_fsync_dir(parent);
    return errno == EEXIST ? 0 : errno_code(errno);
}

int br_version_stage(const char *artifacts, const char *id, char *dir, size_t cap)
{
    char versions[4096], name[128], final[4096];
    int rc;
    if (!artifacts || !dir || !br_version_id_valid(id))
        return BR_EINVAL;
    if ((rc = join(versions, sizeof versions, artifacts, "versions")) ||
        (rc = join(final, sizeof final, versions, id)))
        return rc;
    snprintf(name, sizeof name, STAGING_PREFIX "%s", id);
    int n = snprintf(dir, cap, "%s/%s", versions, name);
    if (n < 0 || (size_t)n >= cap)
        return BR_EINVAL;
    if (mkdir(artifacts, 0755) != 0 && errno != EEXIST)
        return BR_EIO;
    if ((rc = mkdir_fsync_parent(versions, artifacts)))
        return rc == BR_ENOENT ? BR_EIO : rc;
    struct stat st;
    if (lstat(final, &st) == 0)
        return BR_EEXIST;
    if (mkdir(dir, 0755) != 0)
        return errno == EEXIST ? BR_EEXIST : BR_EIO;
    return 0;
}

int br_version_add_file(json_t *manifest, const char *dir, const char *relpath,
                        const char *role)
{
    if (!json_is_object(manifest) || !dir || !relpath || !relpath_safe(relpath) ||
        !strcmp(relpath, "manifest.json") || !role_valid(role))
        return BR_EINVAL;
    json_t *files = json_object_get(manifest, "files");
    if (!files) {
        files = json_array();
        if (!files || json_object_set_new(manifest, "files", files) != 0)
            return BR_ENOMEM;
    }
    if (!json_is_array(files))
        return BR_EINVAL;
    if (json_array_size(files) >= FILES_MAX)
        return BR_ELIMIT;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *p = json_string_value(json_object_get(f, "path"));
        if (p && !strcmp(p, relpath))
            return BR_EINVAL; /* listed twice */
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno_code(errno);
    int fd = open_beneath(dfd, relpath), rc = 0;
    close(dfd);
    if (fd < 0)
        return errno_code(-fd);
    struct stat st;
    uint64_t h, size;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = BR_EIO;
    if (!rc)
        rc = hash_fd(fd, &h, &size);
    close(fd);
    if (rc)
        return rc;
    if (size > (uint64_t)INT64_MAX)
        return BR_ELIMIT;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    json_t *e = json_pack("{s:s, s:s, s:I, s:s}", "path", relpath, "role", role, "size",
                          (json_int_t)size, "xxh64", hex);
    if (!e || json_array_append_new(files, e) != 0)
        return BR_ENOMEM;
    return 0;
}

int br_version_commit(const char *artifacts, const char *id, const char *staged_dir,
                      json_t *manifest)
{
    char versions[4096], final[4096], mpath[4096];
    char *text = NULL;
    int rc, fd = -1;
    if (!artifacts || !staged_dir || !json_is_object(manifest) || !br_version_id_valid(id))
        return BR_EINVAL;
    if ((rc = join(versions, sizeof versions, artifacts, "versions")) ||
        (rc = join(final, sizeof final, versions, id)) ||
        (rc = join(mpath, sizeof mpath, staged_dir, "manifest.json")))
        return rc;
    struct stat st;
    if (lstat(final, &st) == 0)
        return BR_EEXIST;
    json_t *files = json_object_get(manifest, "files");
    if (files && !json_is_array(files))
        return BR_EINVAL;
    if (!files && json_object_set_new(manifest, "files", json_array()) != 0)
        return BR_ENOMEM;
    if (json_object_set_new(manifest, "id", json_string(id)) != 0)
        return BR_ENOMEM;
    if (!(text = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        return BR_ENOMEM;
    size_t len = strlen(text);
    if (len + 1 > MANIFEST_MAX) {
        rc = BR_ELIMIT;
        goto fail;
    }
    fd = open(mpath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || br_write_all(fd, text, len) != 0 || br_write_all(fd, "\n", 1) != 0) {
        rc = BR_EIO;
        goto fail;
    }
    close(fd);
    /* Every file and directory of the tree, manifest included, is durable before the
     * rename makes the version visible. */
    fd = open(staged_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (rc = fsync_tree(fd, 0)) != 0) {
        rc = rc ? rc : BR_EIO;
        goto fail;
    }
    close(fd);
    fd = -1;
    if (renameat2(AT_FDCWD, staged_dir, AT_FDCWD, final, RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) {
            rc = BR_EEXIST;
            goto fail;
        }
        if (errno != EINVAL && errno != ENOSYS) {
            rc = BR_EIO;
            goto fail;
        }
        /* A filesystem without RENAME_NOREPLACE: check, then rename (racy but rare). */
        if (lstat(final, &st) == 0) {
            rc = BR_EEXIST;
            goto fail;
        }
        if (rename(staged_dir, final) != 0) {
            rc = BR_EIO;
            goto fail;
        }
    }
    rc = br_fsync_dir(versions);
fail:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

/* ---- manifest and verification ---- */

static int hex16_valid(const char *s)
{
    if (!s || strlen(s) != 16)
        return 0;
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Checks the shape of a parsed manifest of version id. */
static int manifest_check(const json_t *m, const char *id, char *err, size_t errcap)
{
    if (!json_is_object(m)) {
        seterr(err, errcap, "manifest of %s is not a JSON object", id);
        return BR_EFORMAT;
    }
    const char *mid = json_string_value(json_object_get(m, "id"));
    if (!mid || strcmp(mid, id) != 0) {
        seterr(err, errcap, "manifest of %s has %s id", id, mid ? "another" : "no");
        return mid ? BR_ECORRUPT : BR_EFORMAT;
    }
    json_t *files = json_object_get(m, "files");
    if (!json_is_array(files)) {
        seterr(err, errcap, "manifest of %s has no \"files\" array", id);
        return BR_EFORMAT;
    }
    if (json_array_size(files) > FILES_MAX) {
        seterr(err, errcap, "manifest of %s lists more than %d files", id, FILES_MAX);
        return BR_EFORMAT;
    }
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i), *size = json_object_get(f, "size");
        const char *p = json_string_value(json_object_get(f, "path"));
        const char *role = json_string_value(json_object_get(f, "role"));
        const char *h = json_string_value(json_object_get(f, "xxh64"));
        if (!p || !relpath_safe(p) || !strcmp(p, "manifest.json")) {
            seterr(err, errcap, "manifest of %s: file %zu has a missing or unsafe path", id,
                   i);
            return BR_EFORMAT;
        }
        if (!role_valid(role) || !json_is_integer(size) || json_integer_value(size) < 0 ||
            !hex16_valid(h)) {
            seterr(err, errcap, "manifest of %s: entry of %s lacks a valid role, size or xxh64",
                   id, p);
            return BR_EFORMAT;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p, json_string_value(json_object_get(json_array_get(files, j), "path")))) {
                seterr(err, errcap, "manifest of %s lists %s twice", id, p);
                return BR_EFORMAT;
            }
    }
    return 0;
}

/* Reads and checks the manifest of version id; *dirfd_out (may be NULL) gets the open
 * version directory. */
static int manifest_load(const char *artifacts, const char *id, json_t **out, int *dirfd_out,
                         char *err, size_t errcap)
{
    char dir[4096];
    char *text = NULL;
    json_t *m = NULL;
    int rc, dfd = -1, fd = -1;
    *out = NULL;
    if (!artifacts || !br_version_id_valid(id)) {
        seterr(err, errcap, "not a version id");
        return BR_EINVAL;
    }
    if ((rc = br_version_dir(artifacts, id, dir, sizeof dir)))
        return rc;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        rc = errno_code(errno);
        seterr(err, errcap, rc == BR_ENOENT ? "no version %s" : "cannot open version %s", id);
        goto fail;
    }
    fd = openat(dfd, "manifest.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = errno_code(errno);
        seterr(err, errcap, rc == BR_ENOENT ? "version %s has no manifest.json"
                                            : "cannot open the manifest of %s", id);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = BR_EIO;
        seterr(err, errcap, "cannot read the manifest of %s", id);
        goto fail;
    }
    if ((uint64_t)st.st_size > MANIFEST_MAX) {
        rc = BR_EFORMAT;
        seterr(err, errcap, "manifest of %s exceeds %u bytes", id, MANIFEST_MAX);
        goto fail;
    }
    size_t len = (size_t)st.st_size, got = 0;
    if (!(text = malloc(len + 1))) {
        rc = BR_ENOMEM;
        goto fail;
    }
    while (got < len) {
        ssize_t r = read(fd, text + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != len) {
        rc = BR_EIO;
        seterr(err, errcap, "cannot read the manifest of %s", id);
        goto fail;
    }
    json_error_t je;
    m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m) {
        rc = BR_EFORMAT;
        seterr(err, errcap, "manifest of %s does not parse: line %d: %s", id, je.line, je.text);
        goto fail;
    }
    if ((rc = manifest_check(m, id, err, errcap)))
        goto fail;
    *out = m;
    m = NULL;
    if (dirfd_out) {
        *dirfd_out = dfd;
        dfd = -1;
    }
fail:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    json_decref(m);
    free(text);
    return rc;
}

int br_version_manifest(const char *artifacts, const char *id, json_t **out)
{
    return manifest_load(artifacts, id, out, NULL, NULL, 0);
}

int br_version_verify(const char *artifacts, const char *id, const char *role, char *err,
                      size_t errcap)
{
    json_t *m;
    int dfd = -1;
    seterr(err, errcap, "%s", "");
    int rc = manifest_load(artifacts, id, &m, &dfd, err, errcap);
    if (rc)
        return rc;
    json_t *files = json_object_get(m, "files");
    for (size_t i = 0; !rc && i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        const char *p = json_string_value(json_object_get(f, "path"));
        const char *r = json_string_value(json_object_get(f, "role"));
        const char *want = json_string_value(json_object_get(f, "xxh64"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(f, "size")), h, got;
        if (role && strcmp(role, r) != 0)
            continue;
        int fd = open_beneath(dfd, p);
        if (fd < 0) {
            int e = -fd;
            rc = e == ENOENT || e == ENOTDIR || e == ELOOP ? BR_ECORRUPT : BR_EIO;
            seterr(err, errcap, "%s: %s: %s", id, p,
                   e == ENOENT || e == ENOTDIR ? "missing"
                   : e == ELOOP                ? "is a symlink"
                                               : strerror(e));
            break;
        }
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            rc = BR_ECORRUPT;
            seterr(err, errcap, "%s: %s: not a regular file", id, p);
        } else if ((uint64_t)st.st_size != size) {
            rc = BR_ECORRUPT;
            seterr(err, errcap, "%s: %s: size %lld, manifest says %llu", id, p,
                   (long long)st.st_size, (unsigned long long)size);
        } else if ((rc = hash_fd(fd, &h, &got)) != 0) {
            seterr(err, errcap, "%s: %s: read error", id, p);
        } else if (got != size) {
            rc = BR_ECORRUPT;
            seterr(err, errcap, "%s: %s: changed while being read", id, p);
        } else {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
            if (strcmp(hex, want) != 0) {
                rc = BR_ECORRUPT;
                seterr(err, errcap, "%s: %s: xxh64 %s, manifest says %s", id, p, hex, want);
            }
        }
        close(fd);
    }
    close(dfd);
    json_decref(m);
    return rc;
}

/* ---- CURRENT and HISTORY ---- */

int br_version_current(const char *artifacts, char *id, size_t cap)
{
    char path[4096], buf[BR_VERSION_ID_MAX + 2];
    int rc;
    if (!artifacts || !id)
        return BR_EINVAL;
    if ((rc = join(path, sizeof path, artifacts, "CURRENT")))
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_code(errno);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return BR_EIO;
    buf[n] = 0;
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = 0;
    if (!br_version_id_valid(buf))
        return BR_ECORRUPT;
    if (strlen(buf) >= cap)
        return BR_ELIMIT;
    memcpy(id, buf, strlen(buf) + 1);
    return 0;
}

/* ARTIFACTS/.CURRENT.tmp-<pid>, fsync, rename over CURRENT, fsync ARTIFACTS (decision 3). */
static int write_current(const char *artifacts, const char *id)
{
    char path[4096], line[BR_VERSION_ID_MAX + 1];
    int rc;
    if ((rc = join(path, sizeof path, artifacts, "CURRENT")))
        return rc;
    int n = snprintf(line, sizeof line, "%s\n", id);
    return br_write_file_atomic(path, line, (size_t)n);
}

static int append_history(const char *artifacts, const char *id)
{
    char path[4096], line[128];
    int rc;
    if ((rc = join(path, sizeof path, artifacts, "HISTORY")))
        return rc;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return BR_EIO;
    int n = snprintf(line, sizeof line, "%lld %s\n", (long long)time(NULL), id);
    rc = br_write_all(fd, line, (size_t)n); /* one write: O_APPEND keeps lines whole */
    if (!rc && fsync(fd) != 0)
        rc = BR_EIO;
    if (close(fd) != 0 && !rc)
        rc = BR_EIO;
    return rc ? rc : br_fsync_dir(artifacts); /* the file may just have been created */
}

/* The activation path replayed from HISTORY (decision 5). */
struct vpath {
    char ids[PATH_STACK_MAX][BR_VERSION_ID_MAX];
    size_t n;
};

static void vpath_visit(struct vpath *vp, const char *id)
{
    for (size_t i = vp->n; i-- > 0;)
        if (!strcmp(vp->ids[i], id)) {
            vp->n = i + 1; /* back to an earlier version: forget what came after it */
            return;
        }
    if (vp->n == PATH_STACK_MAX) {
        memmove(vp->ids[0], vp->ids[1], (PATH_STACK_MAX - 1) * sizeof vp->ids[0]);
        vp->n--;
    }
    snprintf(vp->ids[vp->n++], BR_VERSION_ID_MAX, "%s", id);
}

/* Replays HISTORY (its last HISTORY_TAIL bytes) and reconciles the path with current (may
 * be NULL); lines that are not "<digits> <valid id>" are skipped (e.g. a torn last line). */
static int vpath_load(const char *artifacts, const char *current, struct vpath *vp)
{
    char path[4096];
    char *buf = NULL;
    int rc = join(path, sizeof path, artifacts, "HISTORY");
    vp->n = 0;
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return BR_EIO;
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            rc = BR_EIO;
            goto fail;
        }
        off_t off = st.st_size > (off_t)HISTORY_TAIL ? st.st_size - (off_t)HISTORY_TAIL : 0;
        size_t len = (size_t)(st.st_size - off), got = 0;
        if (!(buf = malloc(len + 1))) {
            rc = BR_ENOMEM;
            goto fail;
        }
        while (got < len) {
            ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        buf[got] = 0;
        char *line = buf;
        if (off > 0) { /* skip the partial first line of the tail */
            char *nl = strchr(buf, '\n');
            line = nl ? nl + 1 : buf + got;
        }
        while (*line) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = 0;
            char *sp = strchr(line, ' ');
            size_t digits = strspn(line, "0123456789");
            if (sp && digits > 0 && line + digits == sp && br_version_id_valid(sp + 1))
                vpath_visit(vp, sp + 1);
            if (!nl)
                break;
            line = nl + 1;
        }
    }
    if (current && (vp->n == 0 || strcmp(vp->ids[vp->n - 1], current) != 0))
        vpath_visit(vp, current);
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static int version_exists(const char *artifacts, const char *id)
{
    char dir[4096], m[4200];
    struct stat st;
    if (br_version_dir(artifacts, id, dir, sizeof dir) || join(m, sizeof m, dir, "manifest.json"))
        return 0;
    return lstat(m, &st) == 0 && S_ISREG(st.st_mode);
}

static int activate_locked(const char *artifacts, const char *id, char *err, size_t errcap)
{
    int rc = br_version_verify(artifacts, id, NULL, err, errcap);
    if (rc)
        return rc == BR_EFORMAT ? BR_ECORRUPT : rc;
    if ((rc = write_current(artifacts, id))) {
        seterr(err, errcap, "cannot write %s/CURRENT", artifacts);
        return rc;
    }
    if ((rc = append_history(artifacts, id)))
        seterr(err, errcap, "CURRENT is %s but appending to %s/HISTORY failed", id, artifacts);
    return rc;
}

int br_version_activate(const char *artifacts, const char *id, char *err, size_t errcap)
{
    int lk = -1;
    seterr(err, errcap, "%s", "");
    if (!artifacts || !br_version_id_valid(id)) {
        seterr(err, errcap, "not a version id");
        return BR_EINVAL;
    }
    int rc = lock_artifacts(artifacts, &lk);
    if (rc) {
        seterr(err, errcap, "cannot lock %s/.lock", artifacts);
        return rc;
    }
    rc = activate_locked(artifacts, id, err, errcap);
    unlock_artifacts(lk);
    return rc;
}

int br_version_rollback(const char *artifacts, char *id, size_t cap, char *err, size_t errcap)
{
    char cur[BR_VERSION_ID_MAX], why[512] = "";
    struct vpath *vp = NULL;
    int lk = -1;
    seterr(err, errcap, "%s", "");
    if (!artifacts || !id)
        return BR_EINVAL;
    int rc = lock_artifacts(artifacts, &lk);
    if (rc) {
        seterr(err, errcap, "cannot lock %s/.lock", artifacts);
        return rc;
    }
    if ((rc = br_version_current(artifacts, cur, sizeof cur))) {
        seterr(err, errcap, rc == BR_ENOENT ? "no CURRENT version yet" : "CURRENT is corrupt");
        goto fail;
    }
    if (!(vp = malloc(sizeof *vp))) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = vpath_load(artifacts, cur, vp)))
        goto fail;
    rc = BR_ENOENT;
    for (size_t i = vp->n - 1; i-- > 0;) {
        const char *cand = vp->ids[i];
        if (!version_exists(artifacts, cand))
            continue;
        if (strlen(cand) >= cap) {
            rc = BR_ELIMIT;
            break;
        }
        rc = activate_locked(artifacts, cand, why, sizeof why);
        if (rc == 0) {
            memcpy(id, cand, strlen(cand) + 1);
            break;
        }
        if (rc != BR_ECORRUPT && rc != BR_ENOENT) {
            seterr(err, errcap, "%s", why);
            goto fail;
        }
    }
    if (rc == BR_ECORRUPT)
        rc = BR_ENOENT; /* every candidate failed verification */
    if (rc == BR_ENOENT && why[0])
        seterr(err, errcap, "no earlier version to roll back to (skipped %.400s)", why);
    else if (rc == BR_ENOENT)
        seterr(err, errcap, "no earlier version to roll back to");
fail:
    free(vp);
    unlock_artifacts(lk);
    return rc;
}

/* ---- list and prune ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int br_version_list(const char *artifacts, char ***ids, size_t *n)
{
    char versions[4096];
    char (*names)[BR_VERSION_ID_MAX] = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *ids = NULL;
    *n = 0;
    if (!artifacts)
        return BR_EINVAL;
    if ((rc = join(versions, sizeof versions, artifacts, "versions")))
        return rc;
    struct stat st;
    if (stat(artifacts, &st) != 0 || !S_ISDIR(st.st_mode))
        return BR_ENOENT;
    int dfd = open(versions, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : BR_EIO; /* nothing published yet */
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return BR_EIO;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char m[sizeof de->d_name + 16];
        if (!br_version_id_valid(de->d_name)) /* staging dirs, temp files, strays */
            continue;
        snprintf(m, sizeof m, "%s/manifest.json", de->d_name);
        if (fstatat(dfd, m, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (cnt == cap) {
            if (cap >= LIST_MAX) {
                rc = BR_ELIMIT;
                goto fail;
            }
            size_t nc = cap ? cap * 2 : 32;
            void *p = realloc(names, nc * sizeof *names);
            if (!p) {
                rc = BR_ENOMEM;
                goto fail;
            }
            names = p;
            cap = nc;
        }
        memcpy(names[cnt++], de->d_name, strlen(de->d_name) + 1); /* a valid id fits */
    }
    if (cnt) {
        /* One block: the pointer array, then the strings. */
        char **block = malloc(cnt * (sizeof(char *) + BR_VERSION_ID_MAX));
        if (!block) {
            rc = BR_ENOMEM;
            goto fail;
        }
        char *s = (char *)(block + cnt);
        for (size_t i = 0; i < cnt; i++) {
            block[i] = s + i * BR_VERSION_ID_MAX;
            memcpy(block[i], names[i], BR_VERSION_ID_MAX);
        }
        qsort(block, cnt, sizeof *block, cmp_str);
        *ids = block;
        *n = cnt;
    }
fail:
    closedir(d);
    free(names);
    return rc;
}

/* Removes versions/<name> crash-safely (decision 6). */
static int remove_version(int vfd, const char *name)
{
    char doomed[128];
    snprintf(doomed, sizeof doomed, STAGING_PREFIX "prune-%s", name);
    if (renameat(vfd, name, vfd, doomed) != 0)
        return BR_EIO;
    if (fsync(vfd) != 0)
        return BR_EIO;
    return rm_tree(vfd, doomed, 0);
}

int br_version_prune(const char *artifacts, size_t keep, size_t *removed)
{
    char versions[4096], cur[BR_VERSION_ID_MAX] = "", prev[BR_VERSION_ID_MAX] = "";
    char **ids = NULL;
    size_t n = 0, done = 0;
    struct vpath *vp = NULL;
    int lk = -1, vfd = -1;
    DIR *d = NULL;
    if (removed)
        *removed = 0;
    if (!artifacts)
        return BR_EINVAL;
    if (keep < 2)
        keep = 2;
    struct stat st;
    if (stat(artifacts, &st) != 0 || !S_ISDIR(st.st_mode))
        return BR_ENOENT; /* and do not create it for the lock file */
    int rc = join(versions, sizeof versions, artifacts, "versions");
    if (rc || (rc = lock_artifacts(artifacts, &lk)))
        return rc;
    if ((rc = br_version_list(artifacts, &ids, &n)))
        goto fail;
    rc = br_version_current(artifacts, cur, sizeof cur);
    if (rc == BR_ENOENT)
        cur[0] = 0;
    else if (rc)
        goto fail; /* a corrupt CURRENT: we cannot tell what must be kept */
    if (!(vp = malloc(sizeof *vp))) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = vpath_load(artifacts, cur[0] ? cur : NULL, vp)))
        goto fail;
    for (size_t i = vp->n ? vp->n - 1 : 0; cur[0] && i-- > 0;)
        if (version_exists(artifacts, vp->ids[i])) {
            snprintf(prev, sizeof prev, "%s", vp->ids[i]);
            break;
        }
    vfd = open(versions, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (vfd < 0) {
        rc = errno == ENOENT ? 0 : BR_EIO;
        goto fail;
    }
    size_t left = n;
    for (size_t i = 0; i < n && left > keep; i++) {
        if (!strcmp(ids[i], cur) || !strcmp(ids[i], prev))
            continue;
        if ((rc = remove_version(vfd, ids[i])))
            goto fail;
        left--;
        done++;
    }
    /* Stale staging directories (and leftovers of an interrupted prune). */
    int dfd = dup(vfd);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        if (dfd >= 0)
            close(dfd);
        rc = BR_EIO;
        goto fail;
    }
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)) != 0)
            continue;
        time_t newest = 0;
        newest_mtime(vfd, de->d_name, 0, &newest);
        if (now - newest < STALE_SECONDS)
            continue;
        if ((rc = rm_tree(vfd, de->d_name, 0)))
            goto fail;
        done++;
    }
    if (fsync(vfd) != 0)
        rc = BR_EIO;
fail:
    if (removed)
        *removed = done;
    if (d)
        closedir(d);
    if (vfd >= 0)
        close(vfd);
    free(vp);
    free(ids);
    unlock_artifacts(lk);
    return rc;
}
