/* Tests of lib/artifact/version.c: ids, the stage/add/commit/verify round trip, the ways
 * verification must fail, activation, HISTORY, rollback, listing and pruning. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/version.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static char *read_text(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fixed id with a given sequence number (ids sort by it). */
static void make_id(char *buf, int seq)
{
    snprintf(buf, BR_VERSION_ID_MAX, "20240101-1200%02d-000-%08x", seq % 60, (unsigned)seq);
}

/* Publishes version id with als/item.bin and meta.json (contents depend on tag). */
static int publish(const char *art, const char *id, const char *tag)
{
    char dir[1024], p[1200], body[256];
    int rc = br_version_stage(art, id, dir, sizeof dir);
    if (rc)
        return rc;
    snprintf(p, sizeof p, "%s/als", dir);
    if (mkdir(p, 0755) != 0)
        return BR_EIO;
    snprintf(p, sizeof p, "%s/als/item.bin", dir);
    snprintf(body, sizeof body, "item factors of %s, some bytes to hash", tag);
    if (write_text(p, body) != 0)
        return BR_EIO;
    snprintf(p, sizeof p, "%s/meta.json", dir);
    if (write_text(p, "{\"tag\": 1}\n") != 0)
        return BR_EIO;
    json_t *m = json_pack("{s:s, s:I, s:s, s:{s:f}}", "format", "bookrec-version/1",
                          "created_at", (json_int_t)1700000000, "split_id", tag, "metrics",
                          "recall@30", 0.25);
    if (!m)
        return BR_ENOMEM;
    if (!(rc = br_version_add_file(m, dir, "als/item.bin", "als")) &&
        !(rc = br_version_add_file(m, dir, "meta.json", "meta")))
        rc = br_version_commit(art, id, dir, m);
    json_decref(m);
    return rc;
}

static void vpath(char *buf, size_t cap, const char *art, const char *id, const char *rel)
{
    snprintf(buf, cap, "%s/versions/%s/%s", art, id, rel);
}

TEST(version_id_format_and_validity)
{
    char a[BR_VERSION_ID_MAX], b[BR_VERSION_ID_MAX];
    br_version_new_id(a);
    ASSERT_TRUE(br_version_id_valid(a));
    ASSERT_EQ_INT(strlen(a), 28);
    struct timespec ts = {0, 3 * 1000 * 1000};
    nanosleep(&ts, NULL);
    br_version_new_id(b);
    ASSERT_TRUE(strcmp(a, b) < 0); /* later ids sort after */
    ASSERT_TRUE(br_version_id_valid("20240501-120000-123-0123abcd"));
    ASSERT_TRUE(!br_version_id_valid(NULL));
    ASSERT_TRUE(!br_version_id_valid(""));
    ASSERT_TRUE(!br_version_id_valid("../x"));
    ASSERT_TRUE(!br_version_id_valid("20240501-120000-123-0123abcd0"));   /* too long */
    ASSERT_TRUE(!br_version_id_valid("20240501-120000-123-0123abc"));     /* too short */
    ASSERT_TRUE(!br_version_id_valid("20240501-120000-123-0123ABCD"));    /* uppercase */
    ASSERT_TRUE(!br_version_id_valid("20240501-120000-123-0123abc/"));
    ASSERT_TRUE(!br_version_id_valid("../versions/20240501-120000-123"));
    ASSERT_TRUE(!br_version_id_valid(".staging-20240501-120000-123-0123abcd"));
    char d[64];
    ASSERT_EQ_INT(br_version_dir("/a", "../x", d, sizeof d), BR_EINVAL);
    ASSERT_EQ_INT(br_version_dir("/a", a, d, 10), BR_ELIMIT);
    ASSERT_OK(br_version_dir("/a", a, d, sizeof d));
    ASSERT_TRUE(!strncmp(d, "/a/versions/", 12));
}

TEST(version_roundtrip_stage_add_commit_verify)
{
    const char *art = br_test_tmpdir();
    char id[BR_VERSION_ID_MAX], dir[1024], p[1200], err[256];
    br_version_new_id(id);
    ASSERT_OK(br_version_stage(art, id, dir, sizeof dir));
    ASSERT_TRUE(strstr(dir, "/versions/.staging-") != NULL);
    snprintf(p, sizeof p, "%s/data.bin", dir);
    ASSERT_EQ_INT(write_text(p, "hello, versions"), 0);
    json_t *m = json_object();
    ASSERT_OK(br_version_add_file(m, dir, "data.bin", "als"));
    /* Paths that would leave the version, or repeat, are refused. */
    ASSERT_EQ_INT(br_version_add_file(m, dir, "../x", "als"), BR_EINVAL);
    ASSERT_EQ_INT(br_version_add_file(m, dir, "/etc/passwd", "als"), BR_EINVAL);
    ASSERT_EQ_INT(br_version_add_file(m, dir, "a//b", "als"), BR_EINVAL);
    ASSERT_EQ_INT(br_version_add_file(m, dir, "data.bin", "als"), BR_EINVAL);
    ASSERT_EQ_INT(br_version_add_file(m, dir, "nope.bin", "als"), BR_ENOENT);
    json_t *f = json_array_get(json_object_get(m, "files"), 0);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx",
             (unsigned long long)XXH64("hello, versions", 15, 0));
    ASSERT_EQ_STR(json_string_value(json_object_get(f, "xxh64")), hex);
    ASSERT_EQ_INT(json_integer_value(json_object_get(f, "size")), 15);
    ASSERT_EQ_STR(json_string_value(json_object_get(f, "role")), "als");
    ASSERT_OK(br_version_commit(art, id, dir, m));
    json_decref(m);
    ASSERT_TRUE(access(dir, F_OK) != 0); /* the staging dir became the version */
    ASSERT_OK(br_version_verify(art, id, NULL, err, sizeof err));
    ASSERT_OK(br_version_verify(art, id, "als", err, sizeof err));
    json_t *back;
    ASSERT_OK(br_version_manifest(art, id, &back));
    ASSERT_EQ_STR(json_string_value(json_object_get(back, "id")), id);
    ASSERT_EQ_INT(json_array_size(json_object_get(back, "files")), 1);
    json_decref(back);
    char **ids;
    size_t n;
    ASSERT_OK(br_version_list(art, &ids, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(ids[0], id);
    free(ids);
}

TEST(version_commit_refuses_existing_id)
{
    const char *art = br_test_tmpdir();
    char id[BR_VERSION_ID_MAX], dir[1024], err[256];
    make_id(id, 1);
    ASSERT_OK(publish(art, id, "first"));
    ASSERT_EQ_INT(br_version_stage(art, id, dir, sizeof dir), BR_EEXIST);
    /* A staged tree committed under a taken id (even if staged some other way). */
    snprintf(dir, sizeof dir, "%s/versions/.staging-other", art);
    ASSERT_EQ_INT(mkdir(dir, 0755), 0);
    json_t *m = json_object();
    ASSERT_EQ_INT(br_version_commit(art, id, dir, m), BR_EEXIST);
    json_decref(m);
    ASSERT_OK(br_version_verify(art, id, NULL, err, sizeof err));
}

TEST(version_verify_refuses_damage)
{
    const char *art = br_test_tmpdir();
    char id[BR_VERSION_ID_MAX], p[1200], err[256];
    make_id(id, 2);
    ASSERT_OK(publish(art, id, "x"));
    vpath(p, sizeof p, art, id, "als/item.bin");
    char *orig = strdup(read_text(p));
    ASSERT_TRUE(orig != NULL);

    /* Truncated. */
    ASSERT_EQ_INT(truncate(p, 5), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "size") != NULL);
    /* The role filter skips it; another role still fails. */
    ASSERT_OK(br_version_verify(art, id, "meta", err, sizeof err));
    ASSERT_EQ_INT(br_version_verify(art, id, "als", err, sizeof err), BR_ECORRUPT);

    /* One flipped byte, same size: only the checksum can tell. */
    char *flip = strdup(orig);
    flip[3] ^= 1;
    ASSERT_EQ_INT(write_text(p, flip), 0);
    free(flip);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "xxh64") != NULL);

    /* Missing. */
    ASSERT_EQ_INT(unlink(p), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "missing") != NULL);

    /* A symlink in place of the file is not followed. */
    ASSERT_EQ_INT(symlink("/etc/hostname", p), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_ECORRUPT);
    ASSERT_EQ_INT(unlink(p), 0);
    ASSERT_EQ_INT(write_text(p, orig), 0);
    ASSERT_OK(br_version_verify(art, id, NULL, err, sizeof err));
    free(orig);

    /* Manifests that name files outside the version, or do not parse. */
    char mp[1200];
    vpath(mp, sizeof mp, art, id, "manifest.json");
    json_t *m;
    ASSERT_OK(br_version_manifest(art, id, &m));
    json_t *bad = json_deep_copy(m);
    json_object_set_new(json_array_get(json_object_get(bad, "files"), 0), "path",
                        json_string("als/../../x"));
    ASSERT_EQ_INT(json_dump_file(bad, mp, 0), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "unsafe path") != NULL);
    json_object_set_new(json_array_get(json_object_get(bad, "files"), 0), "path",
                        json_string("/etc/passwd"));
    ASSERT_EQ_INT(json_dump_file(bad, mp, 0), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_EFORMAT);
    json_object_set_new(bad, "id", json_string("20000101-000000-000-00000000"));
    json_object_set_new(json_array_get(json_object_get(bad, "files"), 0), "path",
                        json_string("als/item.bin"));
    ASSERT_EQ_INT(json_dump_file(bad, mp, 0), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_ECORRUPT);
    json_decref(bad);
    ASSERT_EQ_INT(write_text(mp, "{\"files\": [ {\"path\": "), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_EFORMAT);
    ASSERT_EQ_INT(br_version_manifest(art, id, &bad), BR_EFORMAT);
    ASSERT_EQ_INT(write_text(mp, "[1, 2]"), 0);
    ASSERT_EQ_INT(br_version_verify(art, id, NULL, err, sizeof err), BR_EFORMAT);
    ASSERT_EQ_INT(json_dump_file(m, mp, 0), 0);
    ASSERT_OK(br_version_verify(art, id, NULL, err, sizeof err));
    json_decref(m);

    /* Unknown and malformed ids. */
    char other[BR_VERSION_ID_MAX];
    make_id(other, 3);
    ASSERT_EQ_INT(br_version_verify(art, other, NULL, err, sizeof err), BR_ENOENT);
    ASSERT_EQ_INT(br_version_verify(art, "../../etc", NULL, err, sizeof err), BR_EINVAL);
}

TEST(version_activate_history_and_refusal)
{
    const char *art = br_test_tmpdir();
    char a[BR_VERSION_ID_MAX], b[BR_VERSION_ID_MAX], cur[BR_VERSION_ID_MAX], p[1200],
        err[256];
    make_id(a, 1);
    make_id(b, 2);
    ASSERT_EQ_INT(br_version_current(art, cur, sizeof cur), BR_ENOENT);
    ASSERT_OK(publish(art, a, "a"));
    ASSERT_OK(publish(art, b, "b"));
    ASSERT_OK(br_version_activate(art, a, err, sizeof err));
    ASSERT_OK(br_version_current(art, cur, sizeof cur));
    ASSERT_EQ_STR(cur, a);
    snprintf(p, sizeof p, "%s/CURRENT", art);
    char want[80];
    snprintf(want, sizeof want, "%s\n", a);
    ASSERT_EQ_STR(read_text(p), want);

    /* A corrupt version is refused and CURRENT stays. */
    vpath(p, sizeof p, art, b, "meta.json");
    ASSERT_EQ_INT(write_text(p, "{\"tag\": 2}\n"), 0);
    ASSERT_EQ_INT(br_version_activate(art, b, err, sizeof err), BR_ECORRUPT);
    ASSERT_OK(br_version_current(art, cur, sizeof cur));
    ASSERT_EQ_STR(cur, a);
    char missing[BR_VERSION_ID_MAX];
    make_id(missing, 9);
    ASSERT_EQ_INT(br_version_activate(art, missing, err, sizeof err), BR_ENOENT);
    ASSERT_EQ_INT(br_version_activate(art, "../x", err, sizeof err), BR_EINVAL);

    ASSERT_EQ_INT(write_text(p, "{\"tag\": 1}\n"), 0);
    ASSERT_OK(br_version_activate(art, b, err, sizeof err));
    snprintf(p, sizeof p, "%s/HISTORY", art);
    char *h = read_text(p);
    ASSERT_TRUE(h != NULL);
    char *l2 = strchr(h, '\n');
    ASSERT_TRUE(l2 != NULL);
    ASSERT_TRUE(strspn(h, "0123456789") > 8 && h[strspn(h, "0123456789")] == ' ');
    ASSERT_TRUE(!strncmp(strchr(h, ' ') + 1, a, 28));
    ASSERT_TRUE(!strncmp(strchr(l2 + 1, ' ') + 1, b, 28));
    ASSERT_TRUE(strchr(l2 + 1, '\n') != NULL && strchr(l2 + 1, '\n')[1] == 0);

    /* CURRENT that is not an id. */
    snprintf(p, sizeof p, "%s/CURRENT", art);
    ASSERT_EQ_INT(write_text(p, "../../etc/passwd\n"), 0);
    ASSERT_EQ_INT(br_version_current(art, cur, sizeof cur), BR_ECORRUPT);
}

TEST(version_rollback_goes_back_and_skips)
{
    const char *art = br_test_tmpdir();
    char v[5][BR_VERSION_ID_MAX], id[BR_VERSION_ID_MAX], cur[BR_VERSION_ID_MAX], p[1200],
        err[256];
    ASSERT_EQ_INT(br_version_rollback(art, id, sizeof id, err, sizeof err), BR_ENOENT);
    for (int i = 0; i < 5; i++) {
        make_id(v[i], i + 1);
        ASSERT_OK(publish(art, v[i], "v"));
    }
    ASSERT_OK(br_version_activate(art, v[0], err, sizeof err));
    ASSERT_EQ_INT(br_version_rollback(art, id, sizeof id, err, sizeof err), BR_ENOENT);
    ASSERT_TRUE(strstr(err, "no earlier version") != NULL);
    ASSERT_OK(br_version_activate(art, v[1], err, sizeof err));
    ASSERT_OK(br_version_activate(art, v[2], err, sizeof err));
    ASSERT_OK(br_version_activate(art, v[3], err, sizeof err));
    ASSERT_OK(br_version_activate(art, v[4], err, sizeof err));

    ASSERT_OK(br_version_rollback(art, id, sizeof id, err, sizeof err));
    ASSERT_EQ_STR(id, v[3]);
    /* Repeated, it keeps going back (no toggling between the last two). */
    ASSERT_OK(br_version_rollback(art, id, sizeof id, err, sizeof err));
    ASSERT_EQ_STR(id, v[2]);
    /* Removed versions and corrupt ones are skipped. */
    snprintf(p, sizeof p, "%s/versions/%s", art, v[1]);
    rm_rf(p);
    vpath(p, sizeof p, art, v[0], "meta.json");
    ASSERT_EQ_INT(write_text(p, "{\"tag\": 9}\n"), 0);
    ASSERT_EQ_INT(br_version_rollback(art, id, sizeof id, err, sizeof err), BR_ENOENT);
    ASSERT_OK(br_version_current(art, cur, sizeof cur));
    ASSERT_EQ_STR(cur, v[2]);
    ASSERT_EQ_INT(write_text(p, "{\"tag\": 1}\n"), 0);
    ASSERT_OK(br_version_rollback(art, id, sizeof id, err, sizeof err));
    ASSERT_EQ_STR(id, v[0]);
    ASSERT_OK(br_version_current(art, cur, sizeof cur));
    ASSERT_EQ_STR(cur, v[0]);

    /* A torn last line and garbage in HISTORY are ignored. */
    ASSERT_OK(br_version_activate(art, v[4], err, sizeof err));
    snprintf(p, sizeof p, "%s/HISTORY", art);
    FILE *f = fopen(p, "a");
    ASSERT_TRUE(f != NULL);
    fputs("garbage line\n17 ../../etc\n1700000000 2024010", f);
    fclose(f);
    ASSERT_OK(br_version_rollback(art, id, sizeof id, err, sizeof err));
    ASSERT_EQ_STR(id, v[0]);
}

TEST(version_rollback_after_crash_before_history)
{
    /* CURRENT switched but the HISTORY line never written: reconciled with CURRENT. */
    const char *art = br_test_tmpdir();
    char a[BR_VERSION_ID_MAX], b[BR_VERSION_ID_MAX], id[BR_VERSION_ID_MAX], p[1200], err[256];
    make_id(a, 1);
    make_id(b, 2);
    ASSERT_OK(publish(art, a, "a"));
    ASSERT_OK(publish(art, b, "b"));
    ASSERT_OK(br_version_activate(art, a, err, sizeof err));
    snprintf(p, sizeof p, "%s/CURRENT", art);
    char line[80];
    snprintf(line, sizeof line, "%s\n", b);
    ASSERT_EQ_INT(write_text(p, line), 0);
    ASSERT_OK(br_version_rollback(art, id, sizeof id, err, sizeof err));
    ASSERT_EQ_STR(id, a);
}

TEST(version_list_ignores_staging_and_sorts)
{
    const char *art = br_test_tmpdir();
    char v[3][BR_VERSION_ID_MAX], p[1200], dir[1024];
    char **ids;
    size_t n;
    ASSERT_EQ_INT(br_version_list("/nonexistent/artifacts", &ids, &n), BR_ENOENT);
    ASSERT_OK(br_version_list(art, &ids, &n)); /* no versions/ yet */
    ASSERT_EQ_INT(n, 0);
    int order[3] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        make_id(v[i], order[i]);
        ASSERT_OK(publish(art, v[i], "v"));
    }
    char staged[BR_VERSION_ID_MAX];
    make_id(staged, 7);
    ASSERT_OK(br_version_stage(art, staged, dir, sizeof dir));
    snprintf(p, sizeof p, "%s/versions/20240101-120059-000-0000003b", art); /* no manifest */
    ASSERT_EQ_INT(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/versions/not-a-version", art);
    ASSERT_EQ_INT(mkdir(p, 0755), 0);
    ASSERT_OK(br_version_list(art, &ids, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(ids[0], v[1]);
    ASSERT_EQ_STR(ids[1], v[2]);
    ASSERT_EQ_STR(ids[2], v[0]);
    free(ids);
}

static void make_old(const char *path)
{
    struct timespec t[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
}

TEST(version_prune_keeps_current_and_previous)
{
    const char *art = br_test_tmpdir();
    char v[5][BR_VERSION_ID_MAX], p[1200], dir[1024], err[256];
    size_t removed = 99;
    ASSERT_EQ_INT(br_version_prune("/nonexistent/artifacts", 2, &removed), BR_ENOENT);
    for (int i = 0; i < 5; i++) {
        make_id(v[i], i + 1);
        ASSERT_OK(publish(art, v[i], "v"));
    }
    /* CURRENT and the previous one are the two oldest. */
    ASSERT_OK(br_version_activate(art, v[1], err, sizeof err));
    ASSERT_OK(br_version_activate(art, v[0], err, sizeof err));
    /* A stale staging dir (idle for two hours) and a live one. */
    char s1[BR_VERSION_ID_MAX], s2[BR_VERSION_ID_MAX];
    make_id(s1, 20);
    make_id(s2, 21);
    ASSERT_OK(br_version_stage(art, s1, dir, sizeof dir));
    snprintf(p, sizeof p, "%s/part.bin", dir);
    ASSERT_EQ_INT(write_text(p, "half"), 0);
    make_old(p);
    make_old(dir);
    char live[1024];
    ASSERT_OK(br_version_stage(art, s2, live, sizeof live));

    ASSERT_OK(br_version_prune(art, 0, &removed)); /* keep 0 counts as 2 */
    ASSERT_EQ_INT(removed, 4);
    char **ids;
    size_t n;
    ASSERT_OK(br_version_list(art, &ids, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(ids[0], v[0]);
    ASSERT_EQ_STR(ids[1], v[1]);
    free(ids);
    ASSERT_TRUE(access(dir, F_OK) != 0);
    ASSERT_TRUE(access(live, F_OK) == 0);
    ASSERT_OK(br_version_verify(art, v[0], NULL, err, sizeof err));
    ASSERT_OK(br_version_prune(art, 2, &removed));
    ASSERT_EQ_INT(removed, 0);
}

TEST(version_prune_removes_oldest_first)
{
    const char *art = br_test_tmpdir();
    char v[4][BR_VERSION_ID_MAX], err[256];
    size_t removed;
    for (int i = 0; i < 4; i++) {
        make_id(v[i], i + 1);
        ASSERT_OK(publish(art, v[i], "v"));
    }
    ASSERT_OK(br_version_activate(art, v[3], err, sizeof err));
    ASSERT_OK(br_version_prune(art, 3, &removed));
    ASSERT_EQ_INT(removed, 1);
    char **ids;
    size_t n;
    ASSERT_OK(br_version_list(art, &ids, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(ids[0], v[1]);
    free(ids);
}
