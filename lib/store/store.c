/* SQL storage behind one interface (see store.h): url parsing, dispatch to the driver,
 * nested transactions and the migrations runner.
 *
 * Design decisions:
 * 1. Every failure leaves its reason in the store (br_store_errmsg); an open that fails has
 *    no store yet, so its reason is kept per thread and read with br_store_errmsg(NULL).
 * 2. Transactions nest by a depth counter: only the outermost begin and commit reach the
 *    database. A nested rollback cannot undo just its part (no savepoints, to stay
 *    portable), so it poisons the transaction: the outermost commit rolls everything back
 *    and fails with BR_ESTORE.
 * 3. Migrations (Flyway's rules): each one runs in its own transaction together with the
 *    row that records it, so a failed migration leaves no trace. Before applying, the
 *    recorded history must be a prefix of the embedded list with the same names; a
 *    database from a newer build, or a migration numbered below one already applied, is
 *    refused rather than guessed at.
 * 4. A migration is re-checked inside its transaction, so two processes migrating the same
 *    database at once apply it once (the loser sees it recorded and skips it).
 */
#include "bookrec/store.h"
#include "bookrec/error.h"
#include "store_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kept in step with scripts/pg_migrations_check.sh, which creates the same table. */
static const char k_create_migrations[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                          "version INTEGER PRIMARY KEY, "
                                          "name VARCHAR(255) NOT NULL, "
                                          "applied_at BIGINT NOT NULL)";

static _Thread_local char g_open_msg[BR__STORE_MSG_MAX];

/* snprintf that may truncate on purpose (through vsnprintf, which gcc's
 * -Wformat-truncation does not second-guess). */
static void fmt_msg(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_msg(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

#define set_msg(s, ...) fmt_msg((s)->msg, sizeof((s)->msg), __VA_ARGS__)

/* Copies the driver's reason for a failed call into the store; returns rc. */
static int drv_fail(br_store *s, int rc)
{
    snprintf(s->msg, sizeof s->msg, "%s", s->drv->errmsg(s->conn));
    return rc;
}

/* Puts "what: " in front of the current message. */
static void prefix_msg(br_store *s, const char *what)
{
    char tmp[BR__STORE_MSG_MAX];
    fmt_msg(tmp, sizeof tmp, "%s: %s", what, s->msg);
    memcpy(s->msg, tmp, sizeof s->msg);
}

/* "sqlite:PATH", "sqlite:///abs/path" or a plain path -> SQLite. A url with another
 * scheme ("postgres://...") names a driver this build lacks. */
static int parse_url(const char *url, const struct br__store_driver **drv, const char **target,
                     char *err, size_t errlen)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

    *drv = &br__sqlite_driver;
    *target = url;
    if (n == 6 && strncmp(url, "sqlite:", 7) == 0) {
        *target = url + 7;
        /* "sqlite://host/x" would otherwise open "//host/x": refuse the ambiguity. */
        if (strncmp(*target, "//", 2) == 0 && (*target)[2] != '/') {
            snprintf(err, errlen, "sqlite url takes a path: sqlite:PATH or sqlite:///abs/path");
            return BR_EINVAL;
        }
        if (strncmp(*target, "///", 3) == 0)
            *target += 2;
    } else if (n > 0 && url[n] == ':' && strncmp(url + n + 1, "//", 2) == 0) {
        snprintf(err, errlen, "no driver for \"%.*s\" urls in this build (sqlite only)",
                 (int)(n > 32 ? 32 : n), url);
        return BR_EUNSUPPORTED;
    }
    if (**target == '\0') {
        snprintf(err, errlen, "empty database path");
        return BR_EINVAL;
    }
    return 0;
}

int br_store_open(const char *url, br_store **out)
{
    const struct br__store_driver *drv;
    const char *target;
    br_store *s = NULL;
    int rc;

    *out = NULL;
    g_open_msg[0] = '\0';
    if (!url) {
        snprintf(g_open_msg, sizeof g_open_msg, "no database url");
        return BR_EINVAL;
    }
    rc = parse_url(url, &drv, &target, g_open_msg, sizeof g_open_msg);
    if (rc < 0)
        return rc;
    s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(g_open_msg, sizeof g_open_msg, "out of memory");
        return BR_ENOMEM;
    }
    s->drv = drv;
    rc = drv->open(target, &s->conn, s->msg, sizeof s->msg);
    if (rc < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    fmt_msg(g_open_msg, sizeof g_open_msg, "open %s: %s", target, s->msg);
    free(s);
    return rc;
}

void br_store_close(br_store *s)
{
    if (!s)
        return;
    s->drv->close(s->conn);
    free(s);
}

const char *br_store_errmsg(const br_store *s)
{
    return s ? s->msg : g_open_msg;
}

const char *br_store_driver(const br_store *s)
{
    return s->drv->name;
}

int br_store_begin(br_store *s)
{
    int rc;
    if (s->depth == 0) {
        rc = s->drv->begin(s->conn);
        if (rc < 0)
            return drv_fail(s, rc);
        s->poisoned = 0;
    }
    s->depth++;
    return 0;
}

int br_store_commit(br_store *s)
{
    int rc;
    if (s->depth == 0) {
        set_msg(s, "commit without a transaction");
        return BR_EINVAL;
    }
    if (--s->depth > 0)
        return 0;
    if (s->poisoned) {
        s->poisoned = 0;
        rc = s->drv->rollback(s->conn);
        if (rc < 0)
            return drv_fail(s, rc);
        set_msg(s, "commit: a nested transaction rolled back, so the whole transaction was");
        return BR_ESTORE;
    }
    rc = s->drv->commit(s->conn);
    return rc < 0 ? drv_fail(s, rc) : 0;
}

int br_store_rollback(br_store *s)
{
    int rc;
    if (s->depth == 0) {
        set_msg(s, "rollback without a transaction");
        return BR_EINVAL;
    }
    if (--s->depth > 0) {
        s->poisoned = 1;
        return 0;
    }
    s->poisoned = 0;
    rc = s->drv->rollback(s->conn);
    return rc < 0 ? drv_fail(s, rc) : 0;
}

int br_store_exec(br_store *s, const char *sql)
{
    int rc;
    if (!sql) {
        set_msg(s, "exec: no SQL");
        return BR_EINVAL;
    }
    rc = s->drv->exec(s->conn, sql);
    return rc < 0 ? drv_fail(s, rc) : 0;
}

int br_store_prepare(br_store *s, const char *sql, br_stmt **out)
{
    br_stmt *st;
    int rc;

    *out = NULL;
    if (!sql) {
        set_msg(s, "prepare: no SQL");
        return BR_EINVAL;
    }
    st = calloc(1, sizeof *st);
    if (!st) {
        set_msg(s, "out of memory");
        return BR_ENOMEM;
    }
    st->store = s;
    st->drv = s->drv;
    rc = s->drv->prepare(s->conn, sql, &st->impl);
    if (rc < 0) {
        free(st);
        return drv_fail(s, rc);
    }
    *out = st;
    return 0;
}

void br_stmt_free(br_stmt *st)
{
    if (!st)
        return;
    st->drv->finalize(st->impl);
    free(st);
}

static int stmt_rc(br_stmt *st, int rc)
{
    return rc < 0 ? drv_fail(st->store, rc) : rc;
}

int br_stmt_bind_int(br_stmt *st, int i, int64_t v)
{
    return stmt_rc(st, st->drv->bind_int(st->impl, i, v));
}

int br_stmt_bind_double(br_stmt *st, int i, double v)
{
    return stmt_rc(st, st->drv->bind_double(st->impl, i, v));
}

int br_stmt_bind_text(br_stmt *st, int i, const char *v, long len)
{
    if (!v)
        return br_stmt_bind_null(st, i);
    return stmt_rc(st, st->drv->bind_text(st->impl, i, v, len < 0 ? strlen(v) : (size_t)len));
}

int br_stmt_bind_null(br_stmt *st, int i)
{
    return stmt_rc(st, st->drv->bind_null(st->impl, i));
}

int br_stmt_step(br_stmt *st)
{
    return stmt_rc(st, st->drv->step(st->impl));
}

int br_stmt_reset(br_stmt *st)
{
    return stmt_rc(st, st->drv->reset(st->impl));
}

int br_stmt_is_null(br_stmt *st, int col)
{
    return st->drv->column_is_null(st->impl, col);
}

int64_t br_stmt_int(br_stmt *st, int col)
{
    return st->drv->column_int(st->impl, col);
}

double br_stmt_double(br_stmt *st, int col)
{
    return st->drv->column_double(st->impl, col);
}

const char *br_stmt_text(br_stmt *st, int col)
{
    return st->drv->column_text(st->impl, col);
}

int br_store_query_int(br_store *s, const char *sql, int64_t dflt, int64_t *out)
{
    br_stmt *st;
    int rc = br_store_prepare(s, sql, &st);
    if (rc < 0)
        return rc;
    rc = br_stmt_step(st);
    if (rc < 0)
        goto fail;
    /* A NULL is "no value" too: MAX() over no rows gives one NULL row. */
    *out = rc == 1 && !br_stmt_is_null(st, 0) ? br_stmt_int(st, 0) : dflt;
    rc = 0;
fail:
    br_stmt_free(st);
    return rc;
}

/* ---- migrations ---- */

size_t br_store_migration_count(void)
{
    return br__migrations_count;
}

int br_store_migration(size_t i, int *version, const char **name, const char **sql)
{
    if (i >= br__migrations_count)
        return BR_EINVAL;
    if (version)
        *version = br__migrations[i].version;
    if (name)
        *name = br__migrations[i].name;
    if (sql)
        *sql = br__migrations[i].sql;
    return 0;
}

int br_store_schema_version(br_store *s, int *version)
{
    int64_t v = 0;
    int yes = 0, rc;

    *version = 0;
    rc = s->drv->has_table(s->conn, "schema_migrations", &yes);
    if (rc < 0)
        return drv_fail(s, rc);
    if (!yes)
        return 0;
    rc = br_store_query_int(s, "SELECT MAX(version) FROM schema_migrations", 0, &v);
    if (rc < 0)
        return rc;
    *version = (int)v;
    return 0;
}

/* Checks the recorded history against the embedded list; *next gets the index of the
 * first embedded migration still to apply. */
static int check_history(br_store *s, size_t *next)
{
    const struct br__migration *m = br__migrations;
    size_t n = br__migrations_count, j = 0;
    br_stmt *st = NULL;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if (m[i].version <= 0 || (i > 0 && m[i].version <= m[i - 1].version)) {
            set_msg(s, "embedded migration %s is out of order", m[i].name);
            return BR_ECORRUPT;
        }
    }
    rc = br_store_prepare(s, "SELECT version, name FROM schema_migrations ORDER BY version", &st);
    if (rc < 0)
        return rc;
    while ((rc = br_stmt_step(st)) == 1) {
        int64_t v = br_stmt_int(st, 0);
        const char *name = br_stmt_text(st, 1);
        if (j < n && m[j].version < v) {
            set_msg(s,
                    "migration %s was never applied but the database is already past it; "
                    "renumber it above the latest version",
                    m[j].name);
            rc = BR_ECORRUPT;
            goto fail;
        }
        if (j == n) {
            set_msg(s, "database schema version %lld is newer than this build's %d", (long long)v,
                    n ? m[n - 1].version : 0);
            rc = BR_EUNSUPPORTED;
            goto fail;
        }
        if (m[j].version > v) {
            set_msg(s, "migration %lld recorded in the database is not in this build",
                    (long long)v);
            rc = BR_ECORRUPT;
            goto fail;
        }
        if (!name || strcmp(name, m[j].name) != 0) {
            set_msg(s, "migration %d is recorded as \"%.64s\" but this build calls it %s",
                    m[j].version, name ? name : "", m[j].name);
            rc = BR_ECORRUPT;
            goto fail;
        }
        j++;
    }
    if (rc < 0)
        goto fail;
    *next = j;
    rc = 0;
fail:
    br_stmt_free(st);
    return rc;
}

/* Applies one migration and records it, in one transaction; *done = 0 when another
 * process applied it first. */
static int apply_one(br_store *s, const struct br__migration *m, int *done)
{
    char saved[BR__STORE_MSG_MAX];
    br_stmt *st = NULL;
    int64_t have = 0;
    int rc;

    *done = 0;
    rc = br_store_begin(s);
    if (rc < 0)
        return rc;
    rc = br_store_prepare(s, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", &st);
    if (rc < 0)
        goto fail;
    rc = br_stmt_bind_int(st, 1, m->version);
    if (rc < 0)
        goto fail;
    rc = br_stmt_step(st);
    if (rc < 0)
        goto fail;
    have = br_stmt_int(st, 0);
    br_stmt_free(st);
    st = NULL;
    if (have > 0)
        return br_store_rollback(s);

    rc = br_store_exec(s, m->sql);
    if (rc < 0)
        goto fail;
    rc = br_store_prepare(
        s, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", &st);
    if (rc < 0)
        goto fail;
    if ((rc = br_stmt_bind_int(st, 1, m->version)) < 0 ||
        (rc = br_stmt_bind_text(st, 2, m->name, -1)) < 0 ||
        (rc = br_stmt_bind_int(st, 3, (int64_t)time(NULL))) < 0)
        goto fail;
    rc = br_stmt_step(st);
    if (rc < 0)
        goto fail;
    br_stmt_free(st);
    st = NULL;
    rc = br_store_commit(s);
    if (rc < 0) {
        /* The transaction is already over: a failed commit rolls back. */
        prefix_msg(s, m->name);
        return rc;
    }
    *done = 1;
    return 0;
fail:
    br_stmt_free(st);
    /* The rollback must not replace the reason the migration failed. */
    memcpy(saved, s->msg, sizeof saved);
    br_store_rollback(s);
    memcpy(s->msg, saved, sizeof saved);
    prefix_msg(s, m->name);
    return rc;
}

int br_store_migrate(br_store *s, int *applied)
{
    size_t next = 0;
    int count = 0, rc;

    if (applied)
        *applied = 0;
    if (s->depth != 0) {
        set_msg(s, "migrate inside a transaction");
        return BR_EINVAL;
    }
    rc = br_store_exec(s, k_create_migrations);
    if (rc < 0)
        return rc;
    rc = check_history(s, &next);
    if (rc < 0)
        return rc;
    for (size_t i = next; i < br__migrations_count; i++) {
        int done;
        rc = apply_one(s, &br__migrations[i], &done);
        if (rc < 0)
            break;
        count += done;
    }
    if (applied)
        *applied = count;
    return rc;
}
