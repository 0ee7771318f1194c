/* Test runner: runs every registered test (or those whose name or file
 * contains argv[1]), in file then definition order, and ends with the line
 * "N passed, N failed". Exit status is non-zero when any test failed. */
#include "harness.h"

#include "bookrec/log.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 4096

struct test {
    const char *name, *file;
    br_test_fn fn;
    int order;
};

static struct test g_tests[MAX_TESTS];
static int g_ntests;
static int g_failed_current;
static char g_tmpdir[256];
static int g_tmp_made;

void br_test_register(const char *name, const char *file, br_test_fn fn)
{
    if (g_ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests (limit %d)\n", MAX_TESTS);
        exit(2);
    }
    g_tests[g_ntests] = (struct test){name, file, fn, g_ntests};
    g_ntests++;
}

void br_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_failed_current = 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void tmp_cleanup(void)
{
    if (g_tmp_made && !getenv("BR_TEST_KEEP_TMP"))
        nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_tmp_made = 0;
}

const char *br_test_tmpdir(void)
{
    if (!g_tmp_made) {
        const char *base = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/brtest.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        g_tmp_made = 1;
    }
    return g_tmpdir;
}

const char *br_test_fixture(const char *rel)
{
    static char buf[1024];
    const char *root = getenv("BR_TEST_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests/fixtures", rel);
    return buf;
}

const char *br_test_data_dir(void)
{
    const char *d = getenv("BOOKREC_DATA");
    if (!d || !*d)
        d = "../shared/data";
    return access(d, R_OK) == 0 ? d : NULL;
}

static int by_file(const void *a, const void *b)
{
    const struct test *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : x->order - y->order;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;

    if (!getenv("BR_TEST_VERBOSE"))
        br_log_set_level(BR_LOG_WARN); /* progress and info lines are noise here */
    qsort(g_tests, (size_t)g_ntests, sizeof g_tests[0], by_file);
    for (int i = 0; i < g_ntests; i++) {
        struct test *t = &g_tests[i];
        if (filter && !strstr(t->name, filter) && !strstr(t->file, filter))
            continue;
        g_failed_current = 0;
        t->fn();
        tmp_cleanup();
        if (g_failed_current) {
            failed++;
            fprintf(stderr, "FAIL %s (%s)\n", t->name, t->file);
        } else {
            passed++;
            if (getenv("BR_TEST_VERBOSE"))
                fprintf(stderr, "ok   %s\n", t->name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
