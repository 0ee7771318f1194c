/* Tests of lib/artifact/bookmeta.c: export of a small hand-built catalog
 * (every field, gaps, UTF-8 repair and truncation, explicit vs implicit
 * aggregates), the writer -> reader round trip, and each validation failure
 * of the reader. */
#include "harness.h"

#include "bookrec/bookmeta.h"
#include "bookrec/error.h"
#include "bookrec/npy.h"
#include "bookrec/store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", br_test_tmpdir(), name);
    return buf;
}

static br_store *open_migrated(void)
{
    br_store *s;
    if (br_store_open(tmp_path("cat.db"), &s) != 0)
        return NULL;
    if (br_store_migrate(s, NULL) != 0) {
        br_store_close(s);
        return NULL;
    }
    return s;
}

/* Works 0, 2, 4, 5 (1 is an alias of 0, 3 a gap); see the assertions below. */
static int build_catalog(br_store *s)
{
    char desc[2100];
    br_stmt *q;
    int rc;
    rc = br_store_exec(
        s, "INSERT INTO subjects VALUES (1, 'fiction', 10, 1), (2, 'fantasy', 5, 0), "
           "(3, 'magic', 4, 0), (4, 's4', 1, 0), (5, 's5', 1, 0), (6, 's6', 1, 0), "
           "(7, 's7', 1, 0), (8, 's8', 1, 0), (9, 's9', 1, 0), (10, 's10', 1, 0), "
           "(11, 's11', 1, 0), (12, 's12', 1, 0);"
           "INSERT INTO works (item_idx, work_key, title, author, year, publisher, pages, "
           "language, image_url, description, main_subject_id, has_title, created_import) VALUES "
           "(0, 'w0', 'The \"Hobbit\"', 'J. R. R. Tolkien', 1937, 'Allen & Unwin', 310, 'en', "
           " 'http://x/h.jpg', 'Line one\nline two', 2, 1, 1),"
           "(2, 'w2', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1),"
           "(5, 'w5', 'Many subjects', 'Ann Author', 2001, NULL, NULL, NULL, NULL, '', 99, 1, 1);"
           "INSERT INTO work_aliases VALUES (1, 0);"
           "INSERT INTO work_subjects VALUES (0, 2, 0.9), (0, 1, 0.5), (0, 3, 0.7),"
           "(5, 1, 1), (5, 2, 2), (5, 3, 3), (5, 4, 4), (5, 5, 5), (5, 6, 6), (5, 7, 7),"
           "(5, 8, 8), (5, 9, 9), (5, 10, 10), (5, 11, 11), (5, 12, 12),"
           "(3, 2, 1.0);" /* a subject of no work */
           "INSERT INTO editions (isbn13, item_idx, source, match_kind) VALUES "
           "('9780000000002', 0, 't', 'isbn'), ('9780000000001', 0, 't', 'isbn'),"
           "('9780000000003', 5, 't', 'isbn'), ('9780000000009', 99, 't', 'isbn');"
           "INSERT INTO interactions (user_id, item_idx, rating, source) VALUES "
           "(1, 0, 8, 't'), (2, 0, 9, 't'), (3, 0, 0, 't'), (4, 0, 0, 't'), (5, 0, 10, 't'),"
           "(1, 2, 0, 't'), (2, 2, 0, 't'),"
           "(1, 5, 7, 't'), (2, 5, 8, 't'), (3, 5, 8, 't'),"
           "(9, 1, 5, 't');"); /* an interaction of no work */
    if (rc)
        return rc;
    /* Work 4: invalid UTF-8 in the title, and a description whose 2-byte
     * character straddles the 2000-byte limit. */
    memset(desc, 'a', 1999);
    memcpy(desc + 1999, "\xC3\xA9 tail", 8);
    if ((rc = br_store_prepare(s,
                               "INSERT INTO works (item_idx, work_key, title, author, description, "
                               "has_title, created_import) VALUES (4, 'w4', ?, ?, ?, 1, 1)",
                               &q)))
        return rc;
    br_stmt_bind_text(q, 1, "Caf\xE9 \xC3\xA9t\xE9", -1);         /* latin-1 bytes among UTF-8 */
    br_stmt_bind_text(q, 2, "\xE2\x82\xAC uro \xED\xA0\x80", -1); /* a surrogate is invalid */
    br_stmt_bind_text(q, 3, desc, -1);
    rc = br_stmt_step(q);
    br_stmt_free(q);
    return rc == 0 ? 0 : BR_ESTORE;
}

static json_t *line_json(const br_bookmeta *m, int64_t id)
{
    const char *s;
    size_t n;
    if (br_bookmeta_get(m, id, &s, &n) != 0)
        return NULL;
    return json_loadb(s, n, 0, NULL);
}

TEST(bookmeta_export_every_field)
{
    char err[256];
    br_bookmeta_stats stats;
    br_bookmeta *m = NULL;
    br_store *s = open_migrated();
    ASSERT_TRUE(s != NULL);
    ASSERT_OK(build_catalog(s));
    const char *dir = tmp_path("meta");
    ASSERT_OK(br_bookmeta_export_stats(s, dir, &stats, err, sizeof err));
    br_store_close(s);
    ASSERT_EQ_INT(stats.n_items, 6);
    ASSERT_EQ_INT(stats.n_works, 4);
    ASSERT_EQ_INT(stats.n_null, 2);
    ASSERT_EQ_INT(stats.n_bad_utf8, 2);  /* title and author of work 4 */
    ASSERT_EQ_INT(stats.n_truncated, 1); /* its description */
    ASSERT_EQ_INT(stats.n_orphans, 3);   /* subject of 3, edition of 99, rating of 1 */

    ASSERT_OK(br_bookmeta_open(dir, err, sizeof err, &m));
    ASSERT_EQ_INT(br_bookmeta_count(m), 6);
    ASSERT_EQ_INT(stats.jsonl_bytes > 0, 1);

    /* Work 0: every field, key order as documented. */
    const char *raw;
    size_t len;
    ASSERT_OK(br_bookmeta_get(m, 0, &raw, &len));
    ASSERT_TRUE(len > 2 && raw[0] == '{' && raw[len - 1] == '}' && raw[len] == '\n');
    ASSERT_TRUE(memchr(raw, '\n', len) == NULL); /* the description's newline is escaped */
    const char *head = "{\"id\":0,\"title\":\"The \\\"Hobbit\\\"\",\"author\":";
    ASSERT_TRUE(strncmp(raw, head, strlen(head)) == 0);
    json_t *o = line_json(m, 0);
    ASSERT_TRUE(o != NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "id")), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "title")), "The \"Hobbit\"");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "author")), "J. R. R. Tolkien");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "year")), 1937);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "publisher")), "Allen & Unwin");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "pages")), 310);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "language")), "en");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "image_url")), "http://x/h.jpg");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "description")), "Line one\nline two");
    ASSERT_TRUE(json_is_true(json_object_get(o, "has_title")));
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "main_subject")), "fantasy");
    json_t *sj = json_object_get(o, "subjects");
    ASSERT_EQ_INT(json_array_size(sj), 3);
    ASSERT_EQ_STR(json_string_value(json_array_get(sj, 0)), "fantasy"); /* 0.9 */
    ASSERT_EQ_STR(json_string_value(json_array_get(sj, 1)), "magic");   /* 0.7 */
    ASSERT_EQ_STR(json_string_value(json_array_get(sj, 2)), "fiction"); /* 0.5 */
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "isbn13")), "9780000000001");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_editions")), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_ratings")), 3);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_interactions")), 5);
    ASSERT_NEAR(json_real_value(json_object_get(o, "avg_rating")), 9.0, 1e-12);
    ASSERT_EQ_INT(json_object_size(o), 17);
    json_decref(o);

    /* 1 (alias) and 3 (gap) are null lines. */
    ASSERT_EQ_INT(br_bookmeta_get(m, 1, &raw, &len), BR_ENOENT);
    ASSERT_EQ_INT(br_bookmeta_get(m, 3, &raw, &len), BR_ENOENT);

    /* Work 2: nulls, no subjects, implicit interactions only. */
    o = line_json(m, 2);
    ASSERT_TRUE(o != NULL);
    const char *nullable[] = {"title",        "author",   "year",      "publisher",
                              "pages",        "language", "image_url", "description",
                              "main_subject", "isbn13",   "avg_rating"};
    for (size_t i = 0; i < sizeof nullable / sizeof *nullable; i++)
        ASSERT_TRUE(json_is_null(json_object_get(o, nullable[i])));
    ASSERT_TRUE(json_is_false(json_object_get(o, "has_title")));
    ASSERT_EQ_INT(json_array_size(json_object_get(o, "subjects")), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_editions")), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_ratings")), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_interactions")), 2);
    json_decref(o);

    /* Work 4: invalid bytes replaced, description cut before the 2-byte char. */
    o = line_json(m, 4);
    ASSERT_TRUE(o != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "title")),
                  "Caf\xEF\xBF\xBD \xC3\xA9t\xEF\xBF\xBD");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "author")),
                  "\xE2\x82\xAC uro \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    const char *d = json_string_value(json_object_get(o, "description"));
    ASSERT_TRUE(d != NULL);
    ASSERT_EQ_INT(strlen(d), 1999);
    ASSERT_EQ_INT(d[1998], 'a');
    json_decref(o);

    /* Work 5: ten subjects by weight desc, an unknown main subject is null,
     * empty description kept as "", an avg that is not a whole number. */
    o = line_json(m, 5);
    ASSERT_TRUE(o != NULL);
    sj = json_object_get(o, "subjects");
    ASSERT_EQ_INT(json_array_size(sj), 10);
    ASSERT_EQ_STR(json_string_value(json_array_get(sj, 0)), "s12");
    ASSERT_EQ_STR(json_string_value(json_array_get(sj, 9)), "magic");
    ASSERT_TRUE(json_is_null(json_object_get(o, "main_subject")));
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "description")), "");
    ASSERT_NEAR(json_real_value(json_object_get(o, "avg_rating")), 23.0 / 3, 1e-5);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "n_editions")), 1);
    json_decref(o);

    ASSERT_EQ_INT(br_bookmeta_get(m, 6, &raw, &len), BR_ENOENT);
    ASSERT_EQ_INT(br_bookmeta_get(m, -1, &raw, &len), BR_ENOENT);
    ASSERT_EQ_INT(br_bookmeta_get(m, INT64_MAX, &raw, &len), BR_ENOENT);
    ASSERT_EQ_INT(br_bookmeta_get(m, 0, NULL, &len), BR_EINVAL);
    br_bookmeta_free(m);
    br_bookmeta_free(NULL);
}

TEST(bookmeta_export_empty_and_reexport)
{
    char err[256];
    size_t n = 99;
    br_bookmeta *m;
    br_store *s = open_migrated();
    ASSERT_TRUE(s != NULL);
    const char *dir = tmp_path("empty");
    ASSERT_OK(br_bookmeta_export(s, dir, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(br_bookmeta_open(dir, err, sizeof err, &m));
    ASSERT_EQ_INT(br_bookmeta_count(m), 0);
    br_bookmeta_free(m);
    /* Exporting again over the same directory replaces both files. */
    ASSERT_OK(build_catalog(s));
    ASSERT_OK(br_bookmeta_export(s, dir, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 6);
    ASSERT_OK(br_bookmeta_open(dir, err, sizeof err, &m));
    ASSERT_EQ_INT(br_bookmeta_count(m), 6);
    br_bookmeta_free(m);
    ASSERT_EQ_INT(br_bookmeta_export(s, tmp_path("no/such/dir"), &n, err, sizeof err), BR_ENOENT);
    ASSERT_TRUE(err[0] != 0);
    br_store_close(s);
}

/* ---- reader validation on hand-made files -------------------------------- */

static int write_pair(const char *dir, const char *jsonl, size_t jlen, const int64_t *off,
                      size_t n_off)
{
    char p[600];
    snprintf(p, sizeof p, "%s/" BR_BOOKMETA_JSONL, dir);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(jsonl, 1, jlen, f) != jlen)
        return BR_EIO;
    fclose(f);
    snprintf(p, sizeof p, "%s/" BR_BOOKMETA_OFFSETS, dir);
    return br_npy_write(p, BR_NPY_I64, off, n_off, 0);
}

/* Writes the pair, opens it; the reader's code, and its message in last_err. */
static char last_err[256];

static int open_pair(const char *jsonl, const int64_t *off, size_t n_off)
{
    char *err = last_err;
    br_bookmeta *m = NULL;
    last_err[0] = 0;
    const char *dir = br_test_tmpdir();
    int rc = write_pair(dir, jsonl, strlen(jsonl), off, n_off);
    if (rc)
        return 1000; /* not a reader result */
    rc = br_bookmeta_open(dir, err, sizeof last_err, &m);
    if (rc == 0 && m == NULL)
        return 1001;
    if (rc != 0 && (m != NULL || err[0] == 0))
        return 1002; /* a failure must say why and give nothing */
    br_bookmeta_free(m);
    return rc;
}

TEST(bookmeta_reader_accepts_valid_pair)
{
    const int64_t off[] = {0, 9, 14, 17};
    ASSERT_EQ_INT(open_pair("{\"id\":0}\nnull\n{}\n", off, 4), 0);
}

TEST(bookmeta_reader_rejects_bad_files)
{
    const char *good = "{\"id\":0}\nnull\n{}\n";
    {
        const int64_t off[] = {0, 9, 14, 17}; /* jsonl truncated */
        ASSERT_EQ_INT(open_pair("{\"id\":0}\nnull\n{", off, 4), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "last is") != NULL);
    }
    {
        const int64_t off[] = {0, 14, 9, 17}; /* not monotone */
        ASSERT_EQ_INT(open_pair(good, off, 4), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "not increasing") != NULL);
    }
    {
        const int64_t off[] = {0, 9, 9, 17}; /* an empty entry */
        ASSERT_EQ_INT(open_pair(good, off, 4), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "not increasing") != NULL);
    }
    {
        const int64_t off[] = {0, 9, 14}; /* last != size (one line too few) */
        ASSERT_EQ_INT(open_pair(good, off, 3), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "last is") != NULL);
    }
    {
        const int64_t off[] = {0, 9, 14, 18}; /* last past the end */
        ASSERT_EQ_INT(open_pair(good, off, 4), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "last is") != NULL);
    }
    {
        const int64_t off[] = {1, 9, 14, 17}; /* does not start at 0 */
        ASSERT_EQ_INT(open_pair(good, off, 4), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "first is not 0") != NULL);
    }
    {
        const int64_t off[] = {0, 4, 10}; /* a line not starting with '{' */
        ASSERT_EQ_INT(open_pair("[1]\n{\"a\"}\n", off, 3), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "line 0: neither") != NULL);
    }
    {
        const int64_t off[] = {0, 5}; /* "nulx" is not "null" */
        ASSERT_EQ_INT(open_pair("nulx\n", off, 2), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "neither") != NULL);
    }
    {
        const int64_t off[] = {0, 6}; /* "nulll" */
        ASSERT_EQ_INT(open_pair("nulll\n", off, 2), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "neither") != NULL);
    }
    {
        const int64_t off[] = {0, 4}; /* an object with a newline inside */
        ASSERT_EQ_INT(open_pair("{\n}\n", off, 2), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "holds a newline") != NULL);
    }
    {
        const int64_t off[] = {0, 7}; /* no newline ending the line */
        ASSERT_EQ_INT(open_pair("{\"a\":1}", off, 2), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "does not end in a newline") != NULL);
    }
    {
        const int64_t off[] = {0, 5}; /* object not closed */
        ASSERT_EQ_INT(open_pair("{\"a\"\n", off, 2), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "neither") != NULL);
    }
    {
        const int64_t off[] = {0, -1, 3}; /* negative */
        ASSERT_EQ_INT(open_pair("{}\n", off, 3), BR_ECORRUPT);
        ASSERT_TRUE(strstr(last_err, "not increasing") != NULL);
    }
    /* No entries at all: not even offsets[n] = size. */
    ASSERT_EQ_INT(open_pair("", NULL, 0), BR_ECORRUPT);
    ASSERT_TRUE(strstr(last_err, "empty") != NULL);
}

TEST(bookmeta_reader_rejects_wrong_npy)
{
    char p[600], err[256];
    br_bookmeta *m = (br_bookmeta *)&m; /* must be reset to NULL */
    const char *dir = br_test_tmpdir();
    const int32_t off32[] = {0, 3};
    const int64_t off2d[] = {0, 3, 0, 3};
    ASSERT_OK(write_pair(dir, "{}\n", 3, (const int64_t[]){0, 3}, 2));
    snprintf(p, sizeof p, "%s/" BR_BOOKMETA_OFFSETS, dir);
    ASSERT_OK(br_npy_write(p, BR_NPY_I32, off32, 2, 0));
    ASSERT_EQ_INT(br_bookmeta_open(dir, err, sizeof err, &m), BR_EFORMAT);
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(strstr(err, "int64") != NULL);
    ASSERT_OK(br_npy_write(p, BR_NPY_I64, off2d, 2, 2));
    ASSERT_EQ_INT(br_bookmeta_open(dir, err, sizeof err, &m), BR_EFORMAT);
    FILE *f = fopen(p, "wb"); /* not an npy at all */
    ASSERT_TRUE(f != NULL);
    fputs("hello", f);
    fclose(f);
    ASSERT_EQ_INT(br_bookmeta_open(dir, err, sizeof err, &m), BR_EFORMAT);
    unlink(p);
    ASSERT_EQ_INT(br_bookmeta_open(dir, err, sizeof err, &m), BR_ENOENT);
    ASSERT_EQ_INT(br_bookmeta_open(tmp_path("nothing"), err, sizeof err, &m), BR_ENOENT);
}

TEST(bookmeta_reader_line_limit)
{
    size_t n = BR_BOOKMETA_MAX_LINE + 1;
    char *big = malloc(n + 2);
    ASSERT_TRUE(big != NULL);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\n';
    big[n + 1] = 0;
    int64_t off[] = {0, (int64_t)n + 1};
    int rc = open_pair(big, off, 2);
    int limit_msg = strstr(last_err, "over the limit") != NULL;
    big[n - 2] = '}'; /* exactly the limit: accepted */
    big[n - 1] = '\n';
    off[1] = (int64_t)n;
    big[n] = 0;
    int rc2 = open_pair(big, off, 2);
    free(big);
    ASSERT_EQ_INT(rc, BR_ELIMIT);
    ASSERT_TRUE(limit_msg);
    ASSERT_EQ_INT(rc2, 0);
}

TEST(bookmeta_parse_buffers)
{
    char p[600], err[256];
    static unsigned char npy[4096];
    const char *jsonl = "null\n{\"id\":1}\n";
    const int64_t off[] = {0, 5, 14};
    br_bookmeta *m;
    snprintf(p, sizeof p, "%s/o.npy", br_test_tmpdir());
    ASSERT_OK(br_npy_write(p, BR_NPY_I64, off, 3, 0));
    FILE *f = fopen(p, "rb");
    ASSERT_TRUE(f != NULL);
    size_t nl = fread(npy + 1, 1, sizeof npy - 1, f); /* +1: misaligned on purpose */
    fclose(f);
    ASSERT_OK(br_bookmeta_parse(jsonl, strlen(jsonl), npy + 1, nl, err, sizeof err, &m));
    const char *s;
    size_t len;
    ASSERT_EQ_INT(br_bookmeta_count(m), 2);
    ASSERT_EQ_INT(br_bookmeta_get(m, 0, &s, &len), BR_ENOENT);
    ASSERT_OK(br_bookmeta_get(m, 1, &s, &len));
    ASSERT_EQ_INT(len, 8);
    ASSERT_TRUE(memcmp(s, "{\"id\":1}", 8) == 0);
    br_bookmeta_free(m);
    ASSERT_EQ_INT(br_bookmeta_parse(jsonl, strlen(jsonl) - 1, npy + 1, nl, err, sizeof err, &m),
                  BR_ECORRUPT);
    ASSERT_EQ_INT(br_bookmeta_parse(jsonl, strlen(jsonl), npy + 1, nl - 1, err, sizeof err, &m),
                  BR_ECORRUPT);
    ASSERT_EQ_INT(br_bookmeta_parse(jsonl, strlen(jsonl), NULL, 0, err, sizeof err, &m), BR_EINVAL);
}

/* ---- concurrent reads ---------------------------------------------------- */

struct reader_arg {
    const br_bookmeta *m;
    size_t found;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    for (int rep = 0; rep < 200; rep++)
        for (int64_t i = -1; i <= (int64_t)br_bookmeta_count(a->m); i++) {
            const char *s;
            size_t len;
            if (br_bookmeta_get(a->m, i, &s, &len) == 0 && s[0] == '{')
                a->found++;
        }
    return NULL;
}

TEST(bookmeta_concurrent_reads)
{
    char err[256];
    br_bookmeta *m;
    br_store *s = open_migrated();
    ASSERT_TRUE(s != NULL);
    ASSERT_OK(build_catalog(s));
    ASSERT_OK(br_bookmeta_export(s, tmp_path("m"), NULL, err, sizeof err));
    br_store_close(s);
    ASSERT_OK(br_bookmeta_open(tmp_path("m"), err, sizeof err, &m));
    pthread_t t[4];
    struct reader_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].m = m, a[i].found = 0;
        ASSERT_EQ_INT(pthread_create(&t[i], NULL, reader, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ_INT(a[i].found, 200 * 4);
    }
    br_bookmeta_free(m);
}
