/* The SQLite driver of lib/store/ (see store_impl.h for the vtable).
 *
 * Design decisions:
 * 1. The connection is tuned for one writer process and many readers: WAL journal (readers
 *    never block the writer), synchronous=NORMAL (durable at each checkpoint; a power cut
 *    can lose the last commits but never corrupts), foreign_keys=ON, and a 5 s busy timeout
 *    so that a second process waits for the lock instead of failing at once.
 * 2. Opened with SQLITE_OPEN_NOMUTEX: a br_store is used by one thread at a time anyway
 *    (its transaction depth and message are not shared state), so SQLite's own mutex would
 *    only cost time.
 * 3. Transactions begin IMMEDIATE: they take the write lock up front. A deferred transaction
 *    that reads first and writes later (select-then-insert, since the portable SQL has no
 *    upserts) fails with SQLITE_BUSY without waiting when another writer got in between;
 *    an immediate one simply waits its turn.
 * 4. The error message is copied into the connection when a call fails, because
 *    sqlite3_errmsg() is overwritten by the next call (commit cleans up with a rollback).
 * 5. Text is bound SQLITE_TRANSIENT (SQLite copies it), so callers may reuse their buffers.
 */
#include "bookrec/error.h"
#include "store_impl.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_conn {
    sqlite3 *db;
    char msg[BR__STORE_MSG_MAX];
};

struct sq_stmt {
    sqlite3_stmt *st;
    struct sq_conn *c;
};

static int br_code(int rc)
{
    return (rc & 0xff) == SQLITE_NOMEM ? BR_ENOMEM : BR_ESTORE;
}

/* Records the connection's current error and maps rc to a BR_E* code. */
static int fail(struct sq_conn *c, int rc)
{
    snprintf(c->msg, sizeof c->msg, "%s", sqlite3_errmsg(c->db));
    return br_code(rc);
}

static int sq_open(const char *target, void **conn, char *err, size_t errlen)
{
    static const char *pragmas = "PRAGMA journal_mode=WAL;"
                                 "PRAGMA synchronous=NORMAL;"
                                 "PRAGMA foreign_keys=ON;";
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    struct sq_conn *c = calloc(1, sizeof *c);
    int rc;

    *conn = NULL;
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return BR_ENOMEM;
    }
    rc = sqlite3_open_v2(target, &c->db, flags, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    /* Before the pragmas: switching to WAL needs a lock another process may hold. */
    rc = sqlite3_busy_timeout(c->db, 5000);
    if (rc != SQLITE_OK)
        goto fail;
    /* journal_mode reports but does not fail when WAL is impossible (":memory:" says
     * "memory"); either way the database works, so the reported mode is not checked. */
    rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    *conn = c;
    return 0;
fail:
    /* open_v2 returns a handle even on failure, except when out of memory. */
    snprintf(err, errlen, "%s", c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_close_v2(c->db);
    free(c);
    return br_code(rc);
}

static void sq_close(void *conn)
{
    struct sq_conn *c = conn;
    if (!c)
        return;
    /* close_v2 rolls back an open transaction and, should a statement still be open,
     * defers the close to its finalize instead of leaking the handle. */
    sqlite3_close_v2(c->db);
    free(c);
}

static const char *sq_errmsg(void *conn)
{
    return ((struct sq_conn *)conn)->msg;
}

static int sq_exec(void *conn, const char *sql)
{
    struct sq_conn *c = conn;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(c, rc);
}

static int sq_begin(void *conn)
{
    return sq_exec(conn, "BEGIN IMMEDIATE");
}

static int sq_commit(void *conn)
{
    struct sq_conn *c = conn;
    int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    rc = fail(c, rc);
    /* A failed COMMIT (SQLITE_BUSY) can leave the transaction open; end it so that the
     * store's depth 0 matches the database's autocommit mode. */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int sq_rollback(void *conn)
{
    struct sq_conn *c = conn;
    /* Some errors (SQLITE_FULL, IOERR, NOMEM) make SQLite roll back by itself, and a
     * second ROLLBACK would fail with "no transaction is active". */
    if (sqlite3_get_autocommit(c->db))
        return 0;
    return sq_exec(conn, "ROLLBACK");
}

static int sq_has_table(void *conn, const char *name, int *yes)
{
    struct sq_conn *c = conn;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail;
    *yes = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return 0;
fail:
    rc = fail(c, rc);
    sqlite3_finalize(st);
    return rc;
}

static int only_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';')
        s++;
    return *s == '\0';
}

static int sq_prepare(void *conn, const char *sql, void **out)
{
    struct sq_conn *c = conn;
    struct sq_stmt *p = calloc(1, sizeof *p);
    const char *tail = NULL;
    int rc;

    *out = NULL;
    if (!p) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return BR_ENOMEM;
    }
    p->c = c;
    rc = sqlite3_prepare_v2(c->db, sql, -1, &p->st, &tail);
    if (rc != SQLITE_OK) {
        rc = fail(c, rc);
        goto fail;
    }
    /* SQLite prepares only the first statement; the others would be silently ignored. */
    if (!p->st || (tail && !only_blanks(tail))) {
        snprintf(c->msg, sizeof c->msg, "%s",
                 p->st ? "prepare takes one statement (use br_store_exec for several)"
                       : "no SQL statement to prepare");
        rc = BR_EINVAL;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    sqlite3_finalize(p->st);
    free(p);
    return rc;
}

static void sq_finalize(void *stmt)
{
    struct sq_stmt *p = stmt;
    if (!p)
        return;
    sqlite3_finalize(p->st);
    free(p);
}

static int bind_rc(struct sq_stmt *p, int rc)
{
    return rc == SQLITE_OK ? 0 : fail(p->c, rc);
}

static int sq_bind_int(void *stmt, int i, int64_t v)
{
    struct sq_stmt *p = stmt;
    return bind_rc(p, sqlite3_bind_int64(p->st, i, (sqlite3_int64)v));
}

static int sq_bind_double(void *stmt, int i, double v)
{
    struct sq_stmt *p = stmt;
    return bind_rc(p, sqlite3_bind_double(p->st, i, v));
}

static int sq_bind_text(void *stmt, int i, const char *v, size_t len)
{
    struct sq_stmt *p = stmt;
    return bind_rc(
        p, sqlite3_bind_text64(p->st, i, v, (sqlite3_uint64)len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_null(void *stmt, int i)
{
    struct sq_stmt *p = stmt;
    return bind_rc(p, sqlite3_bind_null(p->st, i));
}

static int sq_step(void *stmt)
{
    struct sq_stmt *p = stmt;
    int rc = sqlite3_step(p->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fail(p->c, rc);
}

static int sq_reset(void *stmt)
{
    struct sq_stmt *p = stmt;
    /* sqlite3_reset repeats the error of the last step, which step already reported;
     * the statement is rewound either way, so its result means nothing new here. */
    sqlite3_reset(p->st);
    sqlite3_clear_bindings(p->st);
    return 0;
}

static int sq_column_is_null(void *stmt, int col)
{
    return sqlite3_column_type(((struct sq_stmt *)stmt)->st, col) == SQLITE_NULL;
}

static int64_t sq_column_int(void *stmt, int col)
{
    return (int64_t)sqlite3_column_int64(((struct sq_stmt *)stmt)->st, col);
}

static double sq_column_double(void *stmt, int col)
{
    return sqlite3_column_double(((struct sq_stmt *)stmt)->st, col);
}

static const char *sq_column_text(void *stmt, int col)
{
    sqlite3_stmt *st = ((struct sq_stmt *)stmt)->st;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    return (const char *)sqlite3_column_text(st, col);
}

const struct br__store_driver br__sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .errmsg = sq_errmsg,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .has_table = sq_has_table,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .reset = sq_reset,
    .column_is_null = sq_column_is_null,
    .column_int = sq_column_int,
    .column_double = sq_column_double,
    .column_text = sq_column_text,
};
