/* Tests of lib/store/ on SQLite files: migrations, value round trips, nested transactions,
 * error reporting, long statements and bulk inserts through one reused statement. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", br_test_tmpdir(), name);
    return buf;
}

/* A migrated store in a fresh file, or NULL (the reason printed). */
static br_store *open_migrated(const char *name)
{
    br_store *s;
    int rc = br_store_open(tmp_path(name), &s);
    if (rc < 0) {
        fprintf(stderr, "    open: %s\n", br_store_errmsg(NULL));
        return NULL;
    }
    rc = br_store_migrate(s, NULL);
    if (rc < 0) {
        fprintf(stderr, "    migrate: %s\n", br_store_errmsg(s));
        br_store_close(s);
        return NULL;
    }
    return s;
}

static int64_t count_rows(br_store *s, const char *sql)
{
    int64_t n = -1;
    if (br_store_query_int(s, sql, -1, &n) < 0)
        return -2;
    return n;
}

static int insert_work(br_store *s, int64_t idx, const char *key)
{
    br_stmt *st;
    int rc = br_store_prepare(
        s, "INSERT INTO works (item_idx, work_key, created_import) VALUES (?, ?, 1)", &st);
    if (rc < 0)
        return rc;
    if ((rc = br_stmt_bind_int(st, 1, idx)) == 0 && (rc = br_stmt_bind_text(st, 2, key, -1)) == 0)
        rc = br_stmt_step(st);
    br_stmt_free(st);
    return rc;
}

TEST(store_migrations_apply_once)
{
    br_store *s;
    int applied = -1, version = -1, v = 0;
    const char *name = NULL, *sql = NULL;
    size_t n = br_store_migration_count();

    ASSERT_CMP_INT(n, >=, 1);
    ASSERT_OK(br_store_migration(0, &v, &name, &sql));
    ASSERT_EQ_INT(v, 1);
    ASSERT_EQ_STR(name, "001_catalog");
    ASSERT_TRUE(sql && strstr(sql, "CREATE TABLE works"));
    ASSERT_EQ_INT(br_store_migration(n, &v, NULL, NULL), BR_EINVAL);
    ASSERT_OK(br_store_migration(n - 1, &v, NULL, NULL));

    ASSERT_OK(br_store_open(tmp_path("m.db"), &s));
    ASSERT_EQ_STR(br_store_driver(s), "sqlite");
    ASSERT_OK(br_store_schema_version(s, &version));
    ASSERT_EQ_INT(version, 0);
    ASSERT_OK(br_store_migrate(s, &applied));
    ASSERT_EQ_INT(applied, n);
    ASSERT_OK(br_store_schema_version(s, &version));
    ASSERT_EQ_INT(version, v);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 0);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM schema_migrations"), n);
    ASSERT_OK(br_store_migrate(s, &applied));
    ASSERT_EQ_INT(applied, 0);
    br_store_close(s);

    /* The history persists: a reopened file needs nothing. */
    ASSERT_OK(br_store_open(tmp_path("m.db"), &s));
    ASSERT_OK(br_store_migrate(s, &applied));
    ASSERT_EQ_INT(applied, 0);
    ASSERT_OK(br_store_schema_version(s, &version));
    ASSERT_EQ_INT(version, v);
    br_store_close(s);
    br_store_close(NULL);
}

TEST(store_migrate_refuses_foreign_history)
{
    br_store *s = open_migrated("h.db");
    int applied = -1;
    ASSERT_TRUE(s);

    /* A database migrated by a newer build. */
    ASSERT_OK(br_store_exec(s, "INSERT INTO schema_migrations VALUES (999, '999_future', 0)"));
    ASSERT_EQ_INT(br_store_migrate(s, &applied), BR_EUNSUPPORTED);
    ASSERT_EQ_INT(applied, 0);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "999") != NULL);
    ASSERT_OK(br_store_exec(s, "DELETE FROM schema_migrations WHERE version = 999"));

    /* The same number under another name. */
    ASSERT_OK(br_store_exec(s, "UPDATE schema_migrations SET name = 'x' WHERE version = 1"));
    ASSERT_EQ_INT(br_store_migrate(s, NULL), BR_ECORRUPT);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "001_catalog") != NULL);

    ASSERT_EQ_INT(br_store_begin(s), 0);
    ASSERT_EQ_INT(br_store_migrate(s, NULL), BR_EINVAL); /* not inside a transaction */
    ASSERT_OK(br_store_rollback(s));
    br_store_close(s);
}

TEST(store_value_round_trips)
{
    br_store *s;
    br_stmt *st;
    const char *utf8 = "Gabriel Garc\xc3\xad"
                       "a M\xc3\xa1rquez \xe2\x80\x94 \xe7\x99\xbe\xe5\xb9\xb4";

    ASSERT_OK(br_store_open(tmp_path("v.db"), &s));
    ASSERT_OK(br_store_exec(s, "CREATE TABLE t (k INTEGER PRIMARY KEY, i BIGINT, "
                               "d DOUBLE PRECISION, s TEXT)"));
    ASSERT_OK(br_store_prepare(s, "INSERT INTO t (k, i, d, s) VALUES (?, ?, ?, ?)", &st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 1));
    ASSERT_OK(br_stmt_bind_int(st, 2, INT64_MAX));
    ASSERT_OK(br_stmt_bind_double(st, 3, 3.25e-7));
    ASSERT_OK(br_stmt_bind_text(st, 4, utf8, -1));
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    ASSERT_OK(br_stmt_reset(st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 2));
    ASSERT_OK(br_stmt_bind_int(st, 2, INT64_MIN));
    ASSERT_OK(br_stmt_bind_double(st, 3, -1.5));
    ASSERT_OK(br_stmt_bind_text(st, 4, "hello world", 5)); /* a length, not NUL */
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    ASSERT_OK(br_stmt_reset(st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 3));
    ASSERT_OK(br_stmt_bind_null(st, 2));
    ASSERT_OK(br_stmt_bind_text(st, 4, NULL, -1)); /* NULL text binds NULL */
    /* 3 is left unbound after the reset: NULL too. */
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    ASSERT_OK(br_stmt_reset(st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 4));
    ASSERT_OK(br_stmt_bind_text(st, 4, "", 0)); /* empty is not NULL */
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    br_stmt_free(st);

    ASSERT_OK(br_store_prepare(s, "SELECT i, d, s FROM t ORDER BY k", &st));
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_int(st, 0), INT64_MAX);
    ASSERT_TRUE(br_stmt_double(st, 1) == 3.25e-7);
    ASSERT_EQ_STR(br_stmt_text(st, 2), utf8);
    ASSERT_EQ_INT(br_stmt_is_null(st, 0), 0);
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_int(st, 0), INT64_MIN);
    ASSERT_TRUE(br_stmt_double(st, 1) == -1.5);
    ASSERT_EQ_STR(br_stmt_text(st, 2), "hello");
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_is_null(st, 0), 1);
    ASSERT_EQ_INT(br_stmt_is_null(st, 1), 1);
    ASSERT_EQ_INT(br_stmt_is_null(st, 2), 1);
    ASSERT_TRUE(br_stmt_text(st, 2) == NULL);
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_is_null(st, 2), 0);
    ASSERT_EQ_STR(br_stmt_text(st, 2), "");
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    br_stmt_free(st);
    br_stmt_free(NULL);

    int64_t v = 0;
    ASSERT_OK(br_store_query_int(s, "SELECT i FROM t WHERE k = 99", 42, &v));
    ASSERT_EQ_INT(v, 42);
    ASSERT_OK(br_store_query_int(s, "SELECT MAX(i) FROM t WHERE k > 99", 7, &v));
    ASSERT_EQ_INT(v, 7);
    ASSERT_OK(br_store_query_int(s, "SELECT COUNT(*) FROM t", 0, &v));
    ASSERT_EQ_INT(v, 4);
    br_store_close(s);
}

TEST(store_rollback_restores)
{
    br_store *s = open_migrated("r.db");
    ASSERT_TRUE(s);
    ASSERT_OK(insert_work(s, 1, "w1"));
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 2, "w2"));
    ASSERT_OK(br_store_exec(s, "DELETE FROM works WHERE item_idx = 1"));
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 1); /* visible inside */
    ASSERT_OK(br_store_rollback(s));
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 1);
    ASSERT_EQ_INT(count_rows(s, "SELECT item_idx FROM works"), 1);
    /* Unbalanced calls are caught, not sent to the database. */
    ASSERT_EQ_INT(br_store_commit(s), BR_EINVAL);
    ASSERT_EQ_INT(br_store_rollback(s), BR_EINVAL);

    /* Closing with a transaction open rolls it back. */
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 3, "w3"));
    br_store_close(s);
    ASSERT_OK(br_store_open(tmp_path("r.db"), &s));
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 1);
    br_store_close(s);
}

TEST(store_nested_commit_at_depth_zero)
{
    br_store *s = open_migrated("n.db"), *other = NULL;
    ASSERT_TRUE(s);
    /* A second connection sees only what reached the database. */
    ASSERT_OK(br_store_open(tmp_path("n.db"), &other));
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 1, "w1"));
    ASSERT_OK(br_store_commit(s));
    ASSERT_EQ_INT(count_rows(other, "SELECT COUNT(*) FROM works"), 0);
    ASSERT_OK(insert_work(s, 2, "w2"));
    ASSERT_OK(br_store_commit(s));
    ASSERT_EQ_INT(count_rows(other, "SELECT COUNT(*) FROM works"), 2);
    br_store_close(other);
    br_store_close(s);
}

TEST(store_nested_rollback_poisons_outer_commit)
{
    br_store *s = open_migrated("p.db");
    ASSERT_TRUE(s);
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 1, "w1"));
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 2, "w2"));
    ASSERT_OK(br_store_rollback(s));
    ASSERT_OK(insert_work(s, 3, "w3"));
    ASSERT_EQ_INT(br_store_commit(s), BR_ESTORE);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "nested") != NULL);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 0);

    /* The store is usable again, and the poison does not outlive its transaction. */
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(insert_work(s, 4, "w4"));
    ASSERT_OK(br_store_commit(s));
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM works"), 1);
    br_store_close(s);
}

TEST(store_errors_name_the_problem)
{
    br_store *s = open_migrated("e.db");
    br_stmt *st = (br_stmt *)1;
    ASSERT_TRUE(s);
    ASSERT_EQ_STR(br_store_errmsg(s), "");
    ASSERT_EQ_INT(br_store_exec(s, "SELECT * FROM no_such_table"), BR_ESTORE);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "no_such_table") != NULL);
    ASSERT_EQ_INT(br_store_prepare(s, "SELECT no_such_column FROM works", &st), BR_ESTORE);
    ASSERT_TRUE(st == NULL);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "no_such_column") != NULL);
    ASSERT_EQ_INT(br_store_prepare(s, "SELEC 1", &st), BR_ESTORE);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "SELEC") != NULL);
    ASSERT_EQ_INT(br_store_prepare(s, "SELECT 1; SELECT 2", &st), BR_EINVAL);
    ASSERT_EQ_INT(br_store_prepare(s, "  ", &st), BR_EINVAL);
    ASSERT_OK(br_store_prepare(s, "SELECT 1;  \n", &st));
    ASSERT_EQ_INT(br_stmt_bind_int(st, 1, 5), BR_ESTORE); /* no such parameter */
    ASSERT_TRUE(strstr(br_store_errmsg(s), "range") != NULL);
    br_stmt_free(st);
    /* A failing statement inside exec stops it and leaves the earlier ones applied. */
    ASSERT_EQ_INT(br_store_exec(s, "CREATE TABLE a (x INTEGER); INSERT INTO nope VALUES (1)"),
                  BR_ESTORE);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "nope") != NULL);
    br_store_close(s);
}

TEST(store_bad_url_fails_cleanly)
{
    br_store *s = (br_store *)1;
    struct stat sb;
    char url[600];

    ASSERT_TRUE(br_store_open(tmp_path("no/such/dir/x.db"), &s) < 0);
    ASSERT_TRUE(s == NULL);
    ASSERT_TRUE(strstr(br_store_errmsg(NULL), "unable to open") != NULL);
    ASSERT_TRUE(strstr(br_store_errmsg(NULL), "no/such/dir/x.db") != NULL);
    ASSERT_TRUE(stat(tmp_path("no"), &sb) != 0); /* nothing created on the way */

    ASSERT_EQ_INT(br_store_open("postgres://u@localhost/bookrec", &s), BR_EUNSUPPORTED);
    ASSERT_TRUE(strstr(br_store_errmsg(NULL), "postgres") != NULL);
    ASSERT_EQ_INT(br_store_open("", &s), BR_EINVAL);
    ASSERT_EQ_INT(br_store_open("sqlite:", &s), BR_EINVAL);
    ASSERT_EQ_INT(br_store_open("sqlite://host/x.db", &s), BR_EINVAL);
    ASSERT_EQ_INT(br_store_open(NULL, &s), BR_EINVAL);
    /* A directory is not a database. */
    ASSERT_TRUE(br_store_open(br_test_tmpdir(), &s) < 0);
    ASSERT_TRUE(s == NULL);

    /* The url forms that name a file. */
    snprintf(url, sizeof url, "sqlite:%s", tmp_path("u1.db"));
    ASSERT_OK(br_store_open(url, &s));
    br_store_close(s);
    ASSERT_OK(stat(tmp_path("u1.db"), &sb));
    snprintf(url, sizeof url, "sqlite://%s", tmp_path("u2.db"));
    ASSERT_OK(br_store_open(url, &s));
    br_store_close(s);
    ASSERT_OK(stat(tmp_path("u2.db"), &sb));
    ASSERT_OK(br_store_open("sqlite::memory:", &s));
    ASSERT_OK(br_store_migrate(s, NULL));
    br_store_close(s);
}

TEST(store_duplicate_key_fails)
{
    br_store *s = open_migrated("d.db");
    br_stmt *st;
    ASSERT_TRUE(s);
    ASSERT_OK(insert_work(s, 1, "w1"));
    ASSERT_EQ_INT(insert_work(s, 1, "other"), BR_ESTORE);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "UNIQUE") != NULL);
    ASSERT_TRUE(strstr(br_store_errmsg(s), "works.item_idx") != NULL);
    ASSERT_EQ_INT(insert_work(s, 2, "w1"), BR_ESTORE); /* work_key is UNIQUE too */

    /* A statement that failed a step can be reset and run again. */
    ASSERT_OK(br_store_prepare(s,
                               "INSERT INTO subjects (subject_id, name, n_books) "
                               "VALUES (?, ?, 0)",
                               &st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 1));
    ASSERT_OK(br_stmt_bind_text(st, 2, "fiction", -1));
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    ASSERT_OK(br_stmt_reset(st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 1));
    ASSERT_OK(br_stmt_bind_text(st, 2, "poetry", -1));
    ASSERT_EQ_INT(br_stmt_step(st), BR_ESTORE);
    ASSERT_OK(br_stmt_reset(st));
    ASSERT_OK(br_stmt_bind_int(st, 1, 2));
    ASSERT_OK(br_stmt_bind_text(st, 2, "poetry", -1));
    ASSERT_EQ_INT(br_stmt_step(st), 0);
    br_stmt_free(st);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM subjects"), 2);
    br_store_close(s);
}

TEST(store_long_statement)
{
    enum { NPARAM = 5000, NLIT = 200000 };
    br_store *s = open_migrated("l.db");
    br_stmt *st;
    size_t cap = 64 + NPARAM * 3 + NLIT, len;
    char *sql = malloc(cap);
    ASSERT_TRUE(s && sql);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(insert_work(s, i * 7, key));
    }

    /* 5000 parameters in one IN list. */
    len = (size_t)snprintf(sql, cap, "SELECT COUNT(*) FROM works WHERE item_idx IN (?");
    for (int i = 1; i < NPARAM; i++)
        len += (size_t)snprintf(sql + len, cap - len, ",?");
    snprintf(sql + len, cap - len, ")");
    ASSERT_OK(br_store_prepare(s, sql, &st));
    for (int i = 0; i < NPARAM; i++)
        ASSERT_OK(br_stmt_bind_int(st, i + 1, i));
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_int(st, 0), 10);
    br_stmt_free(st);

    /* A 200 KB literal. */
    len = (size_t)snprintf(sql, cap, "SELECT length('");
    memset(sql + len, 'x', NLIT);
    snprintf(sql + len + NLIT, cap - len - NLIT, "')");
    ASSERT_OK(br_store_prepare(s, sql, &st));
    ASSERT_EQ_INT(br_stmt_step(st), 1);
    ASSERT_EQ_INT(br_stmt_int(st, 0), NLIT);
    br_stmt_free(st);
    free(sql);
    br_store_close(s);
}

TEST(store_bulk_insert_reuses_statement)
{
    enum { N = 100000 };
    br_store *s = open_migrated("b.db");
    br_stmt *st;
    char src[16];
    double t0, dt;
    ASSERT_TRUE(s);

    t0 = br_now();
    ASSERT_OK(br_store_begin(s));
    ASSERT_OK(br_store_prepare(s,
                               "INSERT INTO interactions (user_id, item_idx, rating, ts, source) "
                               "VALUES (?, ?, ?, ?, ?)",
                               &st));
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "bx%d", i % 3);
        ASSERT_OK(br_stmt_bind_int(st, 1, i / 50));
        ASSERT_OK(br_stmt_bind_int(st, 2, i % 50 + (i / 50) * 7 % 1000));
        ASSERT_OK(br_stmt_bind_int(st, 3, i % 11));
        if (i % 10)
            ASSERT_OK(br_stmt_bind_int(st, 4, 1700000000 + i));
        ASSERT_OK(br_stmt_bind_text(st, 5, src, -1));
        ASSERT_EQ_INT(br_stmt_step(st), 0);
        ASSERT_OK(br_stmt_reset(st));
    }
    br_stmt_free(st);
    ASSERT_OK(br_store_commit(s));
    dt = br_now() - t0;
    if (getenv("BR_TEST_VERBOSE"))
        fprintf(stderr, "    bulk insert: %d rows in %.3f s (%.0f rows/s)\n", N, dt,
                N / (dt > 0 ? dt : 1e-9));

    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM interactions"), N);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM interactions WHERE ts IS NULL"), N / 10);
    ASSERT_EQ_INT(count_rows(s, "SELECT COUNT(*) FROM interactions WHERE source = 'bx2'"), N / 3);
    br_store_close(s);
}
