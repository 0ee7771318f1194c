/* libFuzzer driver for the CSV reader and the text utilities.
 *
 * Each input is parsed from memory with the separator detected and with the
 * default limits, then with a fixed separator and small limits (to reach the
 * skip-and-resume paths), and once more from a file (a memfd) with the same
 * small limits: file and memory must give the same rows, since the reader
 * promises that chunk borders never change the outcome. Every field must be
 * valid UTF-8 and within the limits. The text functions run on the input as a
 * string; their outputs must stay in bounds and be valid UTF-8.
 * Any broken promise calls abort(), which libFuzzer reports as a crash.
 */
#include "bookrec/csv.h"
#include "bookrec/error.h"
#include "bookrec/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_csv: %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_row(const br_csv_row *row, const br_csv_opts *o)
{
    size_t max_field = o->max_field ? o->max_field : (size_t)1 << 20;
    size_t max_fields = o->max_fields ? o->max_fields : 512;

    CHECK(row->nfields >= 1 && row->nfields <= max_fields);
    for (size_t i = 0; i < row->nfields; i++) {
        CHECK(row->lens[i] <= max_field);
        CHECK(row->fields[i][row->lens[i]] == '\0');
        CHECK(br_utf8_valid(row->fields[i], row->lens[i]));
    }
}

/* Reads every row from memory and checks it. */
static void run_mem(const uint8_t *data, size_t size, const br_csv_opts *o)
{
    br_csv *c;
    br_csv_row row;
    int rc;

    CHECK(br_csv_open_mem(data, size, o, &c) == 0);
    while ((rc = br_csv_next(c, &row)) != 0) {
        CHECK(rc == 1 || rc == BR_ELIMIT);
        if (rc == 1)
            check_row(&row, o);
    }
    CHECK(br_csv_get_stats(c)->bytes == size);
    br_csv_free(c);
}

/* The same bytes through a file must give the same rows as from memory. */
static void run_file_vs_mem(const uint8_t *data, size_t size, const br_csv_opts *o)
{
    static int fd = -1;
    char path[64];
    br_csv *f, *m;
    br_csv_row rf, rm;
    int a, b;

    if (fd < 0 && (fd = memfd_create("fuzz_csv", 0)) < 0)
        return; /* no memfd here: skip this part */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (br_csv_open_file(path, o, &f) != 0)
        return;
    CHECK(br_csv_open_mem(data, size, o, &m) == 0);
    do {
        a = br_csv_next(f, &rf);
        b = br_csv_next(m, &rm);
        CHECK(a == b);
        CHECK(rf.line == rm.line && rf.record == rm.record && rf.nfields == rm.nfields);
        for (size_t i = 0; i < rf.nfields; i++)
            CHECK(rf.lens[i] == rm.lens[i] && memcmp(rf.fields[i], rm.fields[i], rf.lens[i]) == 0);
    } while (a == 1 || a == BR_ELIMIT);
    CHECK(a == 0);
    CHECK(br_csv_sep(f) == br_csv_sep(m));
    CHECK(br_csv_get_stats(f)->bytes == size);
    br_csv_free(f);
    br_csv_free(m);
}

static void run_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char *u = malloc(3 * size + 1);
    char key[64], tiny[3];
    size_t n;

    if (!s || !u)
        goto done;
    memcpy(s, data, size);
    s[size] = '\0';

    n = br_latin1_to_utf8(s, size, u);
    CHECK(n <= 3 * size && u[n] == '\0');
    CHECK(br_utf8_valid(u, n) == 1);

    /* Keys read up to the NUL; both bounded outputs must be valid UTF-8. */
    n = br_title_key(s, key, sizeof key);
    CHECK(n < sizeof key && key[n] == '\0' && br_utf8_valid(key, n));
    n = br_author_key(s, key, sizeof key);
    CHECK(n < sizeof key && key[n] == '\0' && br_utf8_valid(key, n));
    n = br_title_key(s, tiny, sizeof tiny);
    CHECK(n < sizeof tiny && br_utf8_valid(tiny, n));
    n = br_author_key(s, tiny, sizeof tiny);
    CHECK(n < sizeof tiny && br_utf8_valid(tiny, n));
    n = br_title_key(u, key, sizeof key);
    CHECK(n < sizeof key && br_utf8_valid(key, n));

    /* In place, on a copy; UTF-8 in gives UTF-8 out. */
    int was_valid = br_utf8_valid(s, size);
    n = br_html_unescape(s, size);
    CHECK(n <= size);
    if (was_valid)
        CHECK(br_utf8_valid(s, n));
    size_t m = br_text_squash(s, n);
    CHECK(m <= n);
    if (was_valid)
        CHECK(br_utf8_valid(s, m));
    (void)br_streq_ci(s, m, "null");
done:
    free(s);
    free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const br_csv_opts detect = {0};
    const br_csv_opts small = {';', 16, 64, 4};
    const br_csv_opts tiny = {',', 3, 1, 2};
    const br_csv_opts file_opts = {0, 24, 40, 6};

    if (size > (1 << 16))
        return 0; /* keeps each run fast; the limits are tiny anyway */
    run_mem(data, size, &detect);
    run_mem(data, size, &small);
    run_mem(data, size, &tiny);
    run_file_vs_mem(data, size, &file_opts);
    run_text(data, size);
    return 0;
}
