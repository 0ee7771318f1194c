/* Internals shared by accounts.c, sessions.c, ratings.c and events.c (see
 * bookrec/accounts.h); implemented in accounts_sql.c. */
#ifndef BOOKREC_ACCOUNTS_INTERNAL_H
#define BOOKREC_ACCOUNTS_INTERNAL_H

#include "bookrec/store.h"

#include <stdint.h>

/* Statement helpers. types names the arguments that follow, one letter each:
 * 'i' an int64_t, 't' a const char * (NULL binds NULL). Pass int64_t, not int: the
 * arguments are read with va_arg. */

/* Prepares sql and binds the arguments; *out is NULL on failure. */
int br__sql_prep(br_store *st, br_stmt **out, const char *sql, const char *types, ...);
/* Runs a statement that returns no rows (INSERT, UPDATE, DELETE). 0 or a BR_E* code. */
int br__sql_exec(br_store *st, const char *sql, const char *types, ...);
/* Runs a query and reads column 0 of its first row: 1 when there is a row with a non-NULL
 * value (*out set), 0 when there is none or it is NULL, or a negative BR_E* code. */
int br__sql_int(br_store *st, int64_t *out, const char *sql, const char *types, ...);

/* 1 when the reader exists and is not deleted, 0 when not, or a BR_E* code. */
int br__user_live(br_store *st, int64_t user_id);
/* 1 when item_idx is a work, 0 when not, or a BR_E* code. */
int br__work_exists(br_store *st, int64_t item_idx);
/* Bumps the reader's state revision (inside the caller's transaction). */
int br__user_bump(br_store *st, int64_t user_id);
/* Ends a write transaction: commits when rc == 0, else rolls back and returns rc. */
int br__tx_end(br_store *st, int rc);

#endif
