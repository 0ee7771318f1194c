/* Tests of lib/base/fsutil.c: whole writes, directory fsync, error messages, atomic
 * replacement (contents, no temp file left behind, the old file kept on failure). */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a whole small file into buf (NUL-terminated); its length, or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (long)n;
}

/* Entries of dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

TEST(fsutil_write_all_writes_everything)
{
    char path[512];
    size_t n = 3u << 20; /* several MiB: more than one write may take */
    unsigned char *buf = malloc(n), *back = malloc(n);
    ASSERT_TRUE(buf && back);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    snprintf(path, sizeof path, "%s/w.bin", br_test_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(br_write_all(fd, buf, n));
    ASSERT_OK(br_write_all(fd, NULL, 0)); /* nothing to write is not an error */
    ASSERT_OK(close(fd));
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    size_t got = fread(back, 1, n, f);
    int extra = fgetc(f);
    fclose(f);
    ASSERT_EQ_INT(got, n);
    ASSERT_EQ_INT(extra, EOF);
    ASSERT_TRUE(memcmp(buf, back, n) == 0);
    free(buf);
    free(back);
}

TEST(fsutil_write_all_errors)
{
    char path[512];
    snprintf(path, sizeof path, "%s/r.txt", br_test_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(close(fd));
    /* A closed descriptor: BR_EIO, and errno says why. */
    errno = 0;
    ASSERT_EQ_INT(br_write_all(fd, "x", 1), BR_EIO);
    ASSERT_EQ_INT(errno, EBADF);
    /* A descriptor open for reading only. */
    fd = open(path, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(br_write_all(fd, "x", 1), BR_EIO);
    close(fd);
    /* A pipe whose reader is gone (SIGPIPE ignored for the test, restored after). */
    int p[2];
    ASSERT_OK(pipe(p));
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int rc = br_write_all(p[1], "x", 1);
    signal(SIGPIPE, old);
    close(p[1]);
    ASSERT_EQ_INT(rc, BR_EIO);
}

TEST(fsutil_fsync_dir)
{
    char path[512];
    const char *dir = br_test_tmpdir();
    ASSERT_OK(br_fsync_dir(dir));
    ASSERT_OK(br_fsync_dir("/"));
    /* A missing directory, and a path through a regular file (ENOTDIR): both BR_ENOENT. */
    snprintf(path, sizeof path, "%s/no/such/dir", dir);
    ASSERT_EQ_INT(br_fsync_dir(path), BR_ENOENT);
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    ASSERT_EQ_INT(br_fsync_dir(path), BR_ENOENT);
}

TEST(fsutil_fsync_dir_of)
{
    char path[512];
    const char *dir = br_test_tmpdir();
    snprintf(path, sizeof path, "%s/not-created-yet", dir); /* only the directory matters */
    ASSERT_OK(br_fsync_dir_of(path));
    ASSERT_OK(br_fsync_dir_of("bare-name")); /* the working directory */
    ASSERT_OK(br_fsync_dir_of("/top-level"));
    snprintf(path, sizeof path, "%s/missing/x", dir);
    ASSERT_EQ_INT(br_fsync_dir_of(path), BR_ENOENT);
    /* A directory name of 4096 bytes or more does not fit. */
    size_t n = 5000;
    char *longp = malloc(n + 3);
    ASSERT_TRUE(longp != NULL);
    memset(longp, 'a', n);
    memcpy(longp + n, "/x", 3);
    ASSERT_EQ_INT(br_fsync_dir_of(longp), BR_ELIMIT);
    free(longp);
}

TEST(fsutil_errf)
{
    char err[16];
    ASSERT_EQ_INT(br_errf(err, sizeof err, BR_EIO, "%s: %d", "file", 42), BR_EIO);
    ASSERT_EQ_STR(err, "file: 42");
    /* Truncated to fit, always NUL-terminated. */
    ASSERT_EQ_INT(br_errf(err, sizeof err, BR_ELIMIT, "%s", "0123456789abcdefghij"), BR_ELIMIT);
    ASSERT_EQ_STR(err, "0123456789abcde");
    /* No buffer, or no room: only the code comes back, nothing is written. */
    ASSERT_EQ_INT(br_errf(NULL, 100, BR_ENOMEM, "x"), BR_ENOMEM);
    memcpy(err, "untouched", 10);
    ASSERT_EQ_INT(br_errf(err, 0, BR_EINVAL, "x"), BR_EINVAL);
    ASSERT_EQ_STR(err, "untouched");
    ASSERT_EQ_INT(br_errf(err, sizeof err, 0, "ok"), 0);
}

TEST(fsutil_write_file_atomic_creates_and_replaces)
{
    char path[512], buf[64];
    const char *dir = br_test_tmpdir();
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    ASSERT_OK(br_write_file_atomic(path, "first\n", 6));
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 6);
    ASSERT_EQ_STR(buf, "first\n");
    ASSERT_OK(br_write_file_atomic(path, "second, longer\n", 15));
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 15);
    ASSERT_EQ_STR(buf, "second, longer\n");
    ASSERT_OK(br_write_file_atomic(path, "", 0)); /* an empty file is a file */
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 0);
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    ASSERT_OK(stat(path, &st));
    ASSERT_EQ_INT(st.st_mode & 0777, 0644 & ~mask);
    ASSERT_EQ_INT(count_entries(dir), 1); /* no temp file left */
}

TEST(fsutil_atomic_temp_name_and_abort)
{
    char path[512], tmp[512], buf[64];
    const char *dir = br_test_tmpdir();
    snprintf(path, sizeof path, "%s/model.npy", dir);
    snprintf(tmp, sizeof tmp, "%s/.model.npy.tmp-%d", dir, (int)getpid());
    ASSERT_OK(br_write_file_atomic(path, "old", 3));

    /* While writing, the new contents are in the hidden temp file, not under path. */
    br_atomic_file af;
    ASSERT_OK(br_atomic_begin(path, &af));
    ASSERT_EQ_STR(af.tmp, tmp);
    ASSERT_OK(br_write_all(af.fd, "new", 3));
    ASSERT_OK(access(tmp, F_OK));
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 3);
    ASSERT_EQ_STR(buf, "old");

    /* The caller's failure: the temp file goes, the old file stays, the code comes back. */
    ASSERT_EQ_INT(br_atomic_end(&af, BR_ENOMEM), BR_ENOMEM);
    ASSERT_EQ_INT(af.fd, -1);
    ASSERT_TRUE(access(tmp, F_OK) != 0);
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 3);
    ASSERT_EQ_STR(buf, "old");
    /* A second end is harmless. */
    ASSERT_EQ_INT(br_atomic_end(&af, BR_ENOMEM), BR_ENOMEM);

    /* And the success path publishes it. */
    ASSERT_OK(br_atomic_begin(path, &af));
    ASSERT_OK(br_write_all(af.fd, "new!", 4));
    ASSERT_OK(br_atomic_end(&af, 0));
    ASSERT_EQ_INT(slurp(path, buf, sizeof buf), 4);
    ASSERT_EQ_STR(buf, "new!");
    ASSERT_EQ_INT(count_entries(dir), 1);
}

TEST(fsutil_atomic_errors)
{
    char path[512], tmp[512];
    const char *dir = br_test_tmpdir();
    br_atomic_file af;

    /* A missing directory. */
    snprintf(path, sizeof path, "%s/no/such/dir/x.bin", dir);
    ASSERT_EQ_INT(br_write_file_atomic(path, "x", 1), BR_ENOENT);
    ASSERT_EQ_INT(br_atomic_begin(path, &af), BR_ENOENT);
    ASSERT_EQ_INT(af.fd, -1);
    ASSERT_EQ_INT(br_atomic_end(&af, BR_ENOENT), BR_ENOENT);

    /* No file name. */
    ASSERT_EQ_INT(br_write_file_atomic(NULL, "x", 1), BR_EINVAL);
    snprintf(path, sizeof path, "%s/", dir);
    ASSERT_EQ_INT(br_write_file_atomic(path, "x", 1), BR_EINVAL);
    ASSERT_EQ_INT(br_write_file_atomic("", "x", 1), BR_EINVAL);

    /* A temp name that would not fit. */
    size_t n = 4090;
    char *longp = malloc(n + 1);
    ASSERT_TRUE(longp != NULL);
    memset(longp, 'a', n);
    longp[n] = 0;
    ASSERT_EQ_INT(br_write_file_atomic(longp, "x", 1), BR_ELIMIT);
    free(longp);

    /* A symlink planted at the temp name is refused, not followed. */
    char victim[512], buf[16];
    snprintf(path, sizeof path, "%s/target", dir);
    snprintf(tmp, sizeof tmp, "%s/.target.tmp-%d", dir, (int)getpid());
    snprintf(victim, sizeof victim, "%s/victim", dir);
    ASSERT_OK(br_write_file_atomic(victim, "keep", 4));
    ASSERT_OK(symlink(victim, tmp));
    ASSERT_EQ_INT(br_write_file_atomic(path, "x", 1), BR_EIO);
    ASSERT_EQ_INT(slurp(victim, buf, sizeof buf), 4);
    ASSERT_EQ_STR(buf, "keep");
    ASSERT_TRUE(access(path, F_OK) != 0);
    ASSERT_OK(unlink(tmp));

    /* The rename fails (path is a non-empty directory): BR_EIO, no temp file left. */
    snprintf(path, sizeof path, "%s/adir", dir);
    ASSERT_OK(mkdir(path, 0755));
    snprintf(tmp, sizeof tmp, "%s/adir/inside", dir);
    ASSERT_OK(br_write_file_atomic(tmp, "x", 1));
    ASSERT_EQ_INT(br_write_file_atomic(path, "x", 1), BR_EIO);
    snprintf(tmp, sizeof tmp, "%s/.adir.tmp-%d", dir, (int)getpid());
    ASSERT_TRUE(access(tmp, F_OK) != 0);

    /* The caller's write fails (the descriptor was closed under it): that code, no temp. */
    snprintf(path, sizeof path, "%s/closed", dir);
    ASSERT_OK(br_atomic_begin(path, &af));
    close(af.fd);
    ASSERT_EQ_INT(br_atomic_end(&af, br_write_all(af.fd, "x", 1)), BR_EIO);
    ASSERT_TRUE(access(af.tmp, F_OK) != 0);
    ASSERT_TRUE(access(path, F_OK) != 0);
}
