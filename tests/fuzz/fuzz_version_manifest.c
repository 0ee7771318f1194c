/* libFuzzer driver for the version manifest reader (lib/artifact/version.c): the input is
 * a manifest.json. It is written into a version directory (made once per process, holding
 * als/a.bin = "abc" and m.json = "") and read back with br_version_manifest and
 * br_version_verify, whole and for one role. Invariants: a failure always says why; a
 * manifest that loads names only relative paths without "." or ".." components; verify
 * never accepts what br_version_manifest refuses. Seeds: tests/fuzz/corpus/version_manifest/
 * (the valid one has the checksums of the two files above). */
#include "bookrec/error.h"
#include "bookrec/version.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID "20240101-120000-000-00000001"

static char g_art[64];
static char g_manifest[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    nftw(g_art, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int put(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) != 0 || w != n ? -1 : 0;
}

static void setup(void)
{
    char p[256];
    snprintf(g_art, sizeof g_art, "/tmp/fuzz-version-XXXXXX");
    if (!mkdtemp(g_art))
        abort();
    atexit(cleanup);
    snprintf(p, sizeof p, "%s/versions", g_art);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/versions/" ID, g_art);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/versions/" ID "/als", g_art);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/versions/" ID "/als/a.bin", g_art);
    if (put(p, "abc", 3) != 0)
        abort();
    snprintf(p, sizeof p, "%s/versions/" ID "/m.json", g_art);
    if (put(p, "", 0) != 0)
        abort();
    snprintf(g_manifest, sizeof g_manifest, "%s/versions/" ID "/manifest.json", g_art);
}

static int component_safe(const char *p)
{
    if (!p || !*p || p[0] == '/')
        return 0;
    for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    json_t *m = NULL;
    if (!g_art[0])
        setup();
    if (put(g_manifest, data, size) != 0)
        return 0;
    int mrc = br_version_manifest(g_art, ID, &m);
    if (mrc == 0) {
        json_t *files = json_object_get(m, "files"), *f;
        size_t i;
        if (!json_is_array(files))
            abort();
        json_array_foreach(files, i, f)
        {
            if (!component_safe(json_string_value(json_object_get(f, "path"))))
                abort();
        }
        json_decref(m);
    } else if (m) {
        abort(); /* no reference handed out on failure */
    }
    err[0] = 0;
    int vrc = br_version_verify(g_art, ID, NULL, err, sizeof err);
    if (vrc != 0 && err[0] == 0)
        abort(); /* every failure must say why */
    if (vrc == 0 && mrc != 0)
        abort();
    err[0] = 0;
    int rrc = br_version_verify(g_art, ID, "als", err, sizeof err);
    if (rrc != 0 && err[0] == 0)
        abort();
    if (vrc == 0 && rrc != 0)
        abort(); /* a subset of a complete version is complete */
    return 0;
}
