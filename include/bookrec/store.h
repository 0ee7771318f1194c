/* SQL storage behind one interface.
 *
 * Design decisions:
 * 1. A thin, portable statement API (prepare / bind / step / column) over a
 *    driver vtable, so that SQLite (embedded default), PostgreSQL and MySQL
 *    implement the same calls. SQL text uses '?' placeholders; drivers that
 *    number them ($1) rewrite the text.
 * 2. Only lib/store/ calls a driver library; the rest of the library speaks
 *    this interface.
 * 3. Migrations are the numbered files lib/store/migrations/NNN_name.sql,
 *    embedded in the binary, applied in order inside one transaction each and
 *    recorded in schema_migrations. The SQL in them is kept portable (checked
 *    against a real PostgreSQL in CI).
 * 4. Transactions nest by depth: only the outermost begin/commit reach the
 *    database, and a rollback at any depth poisons the outer commit.
 * 5. A store is used by one thread at a time (open one per thread). Free its
 *    statements before closing it.
 */
#ifndef BOOKREC_STORE_H
#define BOOKREC_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_store br_store;
typedef struct br_stmt br_stmt;

/* url: "sqlite:PATH", "sqlite:///abs/path", or a plain path (SQLite). Creates
 * the file when missing (not its directory). Another scheme ("postgres://")
 * gives BR_EUNSUPPORTED. On failure *out is NULL and br_store_errmsg(NULL)
 * says why. */
int br_store_open(const char *url, br_store **out);
void br_store_close(br_store *s);
/* Why the last call on s failed (never NULL; "" before any failure). With
 * s == NULL: why this thread's last br_store_open failed. */
const char *br_store_errmsg(const br_store *s);
/* Name of the driver: "sqlite". */
const char *br_store_driver(const br_store *s);

/* Applies every embedded migration newer than the schema version, each in its
 * own transaction (so not inside one). *applied (may be NULL) gets the number
 * applied. Refuses (BR_EUNSUPPORTED) a database migrated by a newer build, and
 * (BR_ECORRUPT) a history that disagrees with the embedded migrations. */
int br_store_migrate(br_store *s, int *applied);
/* Highest applied migration version (0 for an empty database). */
int br_store_schema_version(br_store *s, int *version);
/* Embedded migrations in version order, for tools that apply them elsewhere
 * (e.g. psql). Out-parameters may be NULL; i out of range gives BR_EINVAL. */
size_t br_store_migration_count(void);
int br_store_migration(size_t i, int *version, const char **name, const char **sql);

/* A transaction is a write transaction: on SQLite it takes the write lock at
 * the outermost begin, so do not hold one open for long reads. A commit or
 * rollback without a begin gives BR_EINVAL; a commit after a nested rollback
 * rolls everything back and gives BR_ESTORE. */
int br_store_begin(br_store *s);
int br_store_commit(br_store *s);
int br_store_rollback(br_store *s);

/* Executes one or more statements without parameters. */
int br_store_exec(br_store *s, const char *sql);

/* Prepares exactly one statement (BR_EINVAL for none or several). */
int br_store_prepare(br_store *s, const char *sql, br_stmt **out);
void br_stmt_free(br_stmt *st);
/* Parameters are 1-based. len < 0 means NUL-terminated. Text is copied; a NULL
 * v binds NULL. */
int br_stmt_bind_int(br_stmt *st, int i, int64_t v);
int br_stmt_bind_double(br_stmt *st, int i, double v);
int br_stmt_bind_text(br_stmt *st, int i, const char *v, long len);
int br_stmt_bind_null(br_stmt *st, int i);
/* 1: a row is available; 0: done; <0: BR_ESTORE (see br_store_errmsg) or
 * BR_ENOMEM. */
int br_stmt_step(br_stmt *st);
/* Rewinds and clears every binding (unbound parameters are NULL), to run the
 * statement again; also after a failed step, whose br_store_errmsg it keeps. */
int br_stmt_reset(br_stmt *st);
/* Columns are 0-based; valid until the next step/reset. */
int br_stmt_is_null(br_stmt *st, int col);
int64_t br_stmt_int(br_stmt *st, int col);
double br_stmt_double(br_stmt *st, int col);
/* NULL for a NULL column. */
const char *br_stmt_text(br_stmt *st, int col);

/* Convenience: runs a query that returns one integer (0 rows or a NULL value
 * -> *out = dflt). */
int br_store_query_int(br_store *s, const char *sql, int64_t dflt, int64_t *out);

#endif
