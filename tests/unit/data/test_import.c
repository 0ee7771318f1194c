/* Tests of lib/data/import*.c through br_import_run, on the fixtures in
 * tests/fixtures/import (small files in the real formats). The black-box
 * tests in tests/integration cover the same paths through the CLI. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/import.h"
#include "bookrec/store.h"

#include <stdio.h>
#include <string.h>

static int64_t q1(br_store *st, const char *sql)
{
    int64_t v = -1;
    br_store_query_int(st, sql, -1, &v);
    return v;
}

static int64_t rejected(json_t *rep, const char *reason)
{
    return json_integer_value(json_object_get(json_object_get(rep, "rejected"), reason));
}

static int open_db(br_store **st)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t.db", br_test_tmpdir());
    return br_store_open(path, st);
}

TEST(import_bx_original_counts_every_reject)
{
    br_store *st;
    json_t *rep;
    char err[256];
    const char *src[] = {br_test_fixture("import/bx_original")};
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    ASSERT_EQ_INT(rejected(rep, "rating_isbn_asin_like"), 1);
    ASSERT_EQ_INT(rejected(rep, "rating_isbn_float_mangled"), 1);
    ASSERT_EQ_INT(rejected(rep, "rating_out_of_range"), 1);
    ASSERT_EQ_INT(rejected(rep, "rating_duplicate"), 1);
    ASSERT_EQ_INT(rejected(rep, "user_id_invalid"), 1);
    /* 20 rating rows (no header): 6 rejected while parsing, 1 duplicate, and
     * user 3's ratings of two editions of one work merged into one. */
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM interactions"), 12);
    ASSERT_EQ_INT(json_integer_value(json_object_get(rep, "ratings_kept")), 12);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM works WHERE has_title = 0"), 4);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM users WHERE age IS NULL AND source = 'bx' "
                         "AND external_id IN ('5', '7')"), 2);
    json_decref(rep);
    br_store_close(st);
}

TEST(import_reimport_changes_nothing)
{
    br_store *st;
    json_t *rep;
    char err[256];
    const char *src[] = {br_test_fixture("import/bx_original")};
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    json_decref(rep);
    int64_t sum = q1(st, "SELECT SUM(item_idx * 7 + LENGTH(work_key)) FROM works");
    int64_t ratings = q1(st, "SELECT SUM(rating * 31 + item_idx + user_id) FROM interactions");
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    ASSERT_EQ_INT(q1(st, "SELECT SUM(item_idx * 7 + LENGTH(work_key)) FROM works"), sum);
    ASSERT_EQ_INT(q1(st, "SELECT SUM(rating * 31 + item_idx + user_id) FROM interactions"),
                  ratings);
    ASSERT_TRUE(json_object_get(json_object_get(rep, "cleaned"), "ratings_updated") == NULL);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM imports"), 2);
    json_decref(rep);
    br_store_close(st);
}

TEST(import_goodbooks_subjects_drop_shelf_tags)
{
    br_store *st;
    json_t *rep;
    char err[256];
    char a[512], b[512], c[512]; /* br_test_fixture reuses one buffer */
    snprintf(a, sizeof a, "%s", br_test_fixture("import/goodbooks/books.csv"));
    snprintf(b, sizeof b, "%s", br_test_fixture("import/goodbooks/tags.csv"));
    snprintf(c, sizeof c, "%s", br_test_fixture("import/goodbooks/book_tags.csv"));
    const char *src[] = {a, b, c};
    br_import_opts o;
    br_import_opts_default(&o);
    o.min_books = 1;
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, src, 3, &o, &rep, err, sizeof err));
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM work_raw_tags"), 8);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM subjects WHERE name IN ('to read', 'owned')"), 0);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM subjects WHERE name = 'fiction' AND generic = 1"),
                  1);
    /* main_subject is never generic. */
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM works w JOIN subjects s ON s.subject_id = "
                         "w.main_subject_id WHERE s.generic = 1"), 0);
    json_decref(rep);
    br_store_close(st);
}

TEST(import_failure_rolls_back)
{
    br_store *st;
    json_t *rep;
    char err[256];
    const char *good[] = {br_test_fixture("import/bx_original")};
    char reupload[512];
    snprintf(reupload, sizeof reupload, "%s", br_test_fixture("import/bx_reupload"));
    const char *bad[] = {reupload, "/nonexistent/file.csv"};
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, good, 1, NULL, &rep, err, sizeof err));
    json_decref(rep);
    int64_t users = q1(st, "SELECT COUNT(*) FROM users");
    ASSERT_EQ_INT(br_import_run(st, bad, 2, NULL, &rep, err, sizeof err), BR_ENOENT);
    ASSERT_TRUE(strstr(err, "/nonexistent/file.csv") != NULL);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM users"), users);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM imports"), 1);
    json_decref(rep);
    ASSERT_EQ_INT(br_import_run(st, good, 0, NULL, NULL, err, sizeof err), BR_EINVAL);
    br_store_close(st);
}

TEST(import_open_library_dump_lines)
{
    br_store *st;
    json_t *rep;
    char err[256];
    char spec[600];
    snprintf(spec, sizeof spec, "ol-dump=%s", br_test_fixture("import/ol_dump.txt"));
    const char *src[] = {spec};
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    ASSERT_EQ_INT(rejected(rep, "ol_dump_bad_json"), 1);
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM editions e JOIN works w ON w.item_idx = e.item_idx "
                         "WHERE w.work_key = 'openlibrary:OL27448W'"), 2);
    ASSERT_EQ_INT(q1(st, "SELECT pages FROM works WHERE work_key = 'openlibrary:OL27448W'"), 1216);
    json_decref(rep);
    br_store_close(st);
}

TEST(import_later_source_keeps_main_subjects)
{
    br_store *st;
    json_t *rep;
    char err[256], a[512], b[512], c[512], bx[512];
    snprintf(a, sizeof a, "%s", br_test_fixture("import/goodbooks/books.csv"));
    snprintf(b, sizeof b, "%s", br_test_fixture("import/goodbooks/tags.csv"));
    snprintf(c, sizeof c, "%s", br_test_fixture("import/goodbooks/book_tags.csv"));
    snprintf(bx, sizeof bx, "%s", br_test_fixture("import/bx_original"));
    const char *gb[] = {a, b, c}, *later[] = {bx};
    br_import_opts o;
    br_import_opts_default(&o);
    o.min_books = 1;
    ASSERT_OK(open_db(&st));
    ASSERT_OK(br_import_run(st, gb, 3, &o, &rep, err, sizeof err));
    json_decref(rep);
    const char *main_sql = "SELECT main_subject_id FROM works WHERE work_key = 'goodreads:9000'";
    int64_t main = q1(st, main_sql);
    ASSERT_CMP_INT(main, >, 0);
    /* Book-Crossing editions join the work (its publisher is filled in, so the
     * row is rewritten) but bring no tags: the main subject stays. */
    ASSERT_OK(br_import_run(st, later, 1, &o, &rep, err, sizeof err));
    ASSERT_EQ_INT(q1(st, "SELECT COUNT(*) FROM works WHERE work_key = 'goodreads:9000' AND "
                         "publisher IS NOT NULL"), 1);
    ASSERT_EQ_INT(q1(st, main_sql), main);
    json_decref(rep);
    br_store_close(st);
}
