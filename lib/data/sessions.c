/* Sessions of the gateway's accounts (see accounts.h): only a hash of each token is
 * stored, with its CSRF token and expiry. A lookup is a read (no write lock per request);
 * expired rows are deleted in bulk by br_session_purge_expired, which the server runs
 * periodically. */
#include "bookrec/accounts.h"
#include "bookrec/error.h"

#include "accounts_internal.h"

#include <string.h>
#include <time.h>

int br_session_create(br_store *st, int64_t account_id, const char *token_hash, const char *csrf,
                      int64_t expires_at)
{
    int64_t v;
    int rc;
    if (!st || !br_opaque_valid(token_hash, BR_TOKEN_HASH_MAX) ||
        !br_opaque_valid(csrf, BR_CSRF_MAX))
        return BR_EINVAL;
    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br_account_by_id(st, account_id, NULL)))
        goto fail;
    rc = br__sql_int(st, &v, "SELECT 1 FROM sessions WHERE token_hash = ?", "t", token_hash);
    if (rc) {
        rc = rc == 1 ? BR_EEXIST : rc;
        goto fail;
    }
    rc = br__sql_exec(st,
                      "INSERT INTO sessions (token_hash, account_id, csrf, created_at, "
                      "expires_at) VALUES (?, ?, ?, ?, ?)",
                      "titii", token_hash, account_id, csrf, (int64_t)time(NULL), expires_at);
fail:
    return br__tx_end(st, rc);
}

int br_session_lookup(br_store *st, const char *token_hash, int64_t now, int64_t *account_id,
                      char *csrf_out, size_t cap)
{
    br_stmt *q;
    if (!st || !account_id)
        return BR_EINVAL;
    if (!br_opaque_valid(token_hash, BR_TOKEN_HASH_MAX))
        return BR_ENOENT;
    int rc = br__sql_prep(st, &q,
                          "SELECT account_id, csrf FROM sessions WHERE token_hash = ? "
                          "AND expires_at > ?",
                          "ti", token_hash, now);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1) {
        const char *c = br_stmt_text(q, 1);
        *account_id = br_stmt_int(q, 0);
        rc = 0;
        if (csrf_out) {
            if (!c || strlen(c) >= cap)
                rc = BR_ERANGE;
            else
                memcpy(csrf_out, c, strlen(c) + 1);
        }
    } else if (rc == 0) {
        rc = BR_ENOENT;
    }
    br_stmt_free(q);
    return rc;
}

int br_session_delete(br_store *st, const char *token_hash)
{
    int64_t v;
    int rc;
    if (!st)
        return BR_EINVAL;
    if (!br_opaque_valid(token_hash, BR_TOKEN_HASH_MAX))
        return BR_ENOENT;
    if ((rc = br_store_begin(st)))
        return rc;
    rc = br__sql_int(st, &v, "SELECT 1 FROM sessions WHERE token_hash = ?", "t", token_hash);
    if (rc == 1)
        rc = br__sql_exec(st, "DELETE FROM sessions WHERE token_hash = ?", "t", token_hash);
    else if (rc == 0)
        rc = BR_ENOENT;
    return br__tx_end(st, rc);
}

int br_session_delete_account(br_store *st, int64_t account_id, const char *keep_token_hash)
{
    if (!st)
        return BR_EINVAL;
    if (!keep_token_hash)
        return br__sql_exec(st, "DELETE FROM sessions WHERE account_id = ?", "i", account_id);
    return br__sql_exec(st, "DELETE FROM sessions WHERE account_id = ? AND token_hash <> ?", "it",
                        account_id, keep_token_hash);
}

int br_session_purge_expired(br_store *st, int64_t now)
{
    return st ? br__sql_exec(st, "DELETE FROM sessions WHERE expires_at <= ?", "i", now)
              : BR_EINVAL;
}
