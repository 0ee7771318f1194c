/* Statement helpers shared by the gateway's data modules (accounts.c, sessions.c,
 * ratings.c, events.c; see accounts_internal.h): prepare-and-bind from a type string,
 * one-shot statements, single-integer queries, and the existence checks they all need. */
#include "bookrec/error.h"
#include "bookrec/store.h"

#include "accounts_internal.h"

#include <stdarg.h>

static int bind_va(br_stmt *q, const char *types, va_list ap)
{
    int rc = 0;
    for (int i = 0; types[i] && !rc; i++) {
        if (types[i] == 'i')
            rc = br_stmt_bind_int(q, i + 1, va_arg(ap, int64_t));
        else if (types[i] == 't')
            rc = br_stmt_bind_text(q, i + 1, va_arg(ap, const char *), -1);
        else
            rc = BR_EINVAL;
    }
    return rc;
}

static int prep_va(br_store *st, br_stmt **out, const char *sql, const char *types, va_list ap)
{
    br_stmt *q = NULL;
    int rc = br_store_prepare(st, sql, &q);
    if (rc == 0)
        rc = bind_va(q, types, ap);
    if (rc) {
        br_stmt_free(q);
        q = NULL;
    }
    *out = q;
    return rc;
}

int br__sql_prep(br_store *st, br_stmt **out, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = prep_va(st, out, sql, types, ap);
    va_end(ap);
    return rc;
}

int br__sql_exec(br_store *st, const char *sql, const char *types, ...)
{
    br_stmt *q;
    va_list ap;
    va_start(ap, types);
    int rc = prep_va(st, &q, sql, types, ap);
    va_end(ap);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    br_stmt_free(q);
    return rc < 0 ? rc : 0;
}

int br__sql_int(br_store *st, int64_t *out, const char *sql, const char *types, ...)
{
    br_stmt *q;
    va_list ap;
    va_start(ap, types);
    int rc = prep_va(st, &q, sql, types, ap);
    va_end(ap);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1) {
        if (br_stmt_is_null(q, 0))
            rc = 0;
        else
            *out = br_stmt_int(q, 0);
    }
    br_stmt_free(q);
    return rc;
}

int br__user_live(br_store *st, int64_t user_id)
{
    int64_t v;
    return br__sql_int(st, &v, "SELECT 1 FROM users WHERE user_id = ? AND deleted_at IS NULL", "i",
                       user_id);
}

int br__work_exists(br_store *st, int64_t item_idx)
{
    int64_t v;
    return br__sql_int(st, &v, "SELECT 1 FROM works WHERE item_idx = ?", "i", item_idx);
}

int br__user_bump(br_store *st, int64_t user_id)
{
    return br__sql_exec(st, "UPDATE users SET state_rev = state_rev + 1 WHERE user_id = ?", "i",
                        user_id);
}

int br__tx_end(br_store *st, int rc)
{
    if (rc == 0)
        return br_store_commit(st);
    br_store_rollback(st);
    return rc;
}
