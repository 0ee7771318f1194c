/* Accounts and favorite subjects of the gateway (see accounts.h). The module is split as
 * pgvector splits its index code, under one header: accounts.c (validation, accounts,
 * favorites), sessions.c, ratings.c, events.c, and accounts_sql.c (statement helpers).
 *
 * Design decisions:
 * 1. Portable SQL only: no upserts (ON CONFLICT / ON DUPLICATE KEY differ), no
 *    RETURNING, no autoincrement. A write checks what it must (taken names, existing rows)
 *    inside its transaction, then writes; on SQLite the transaction holds the write lock
 *    from its start, so the check cannot go stale. (On a server database a concurrent
 *    clash would surface as a UNIQUE violation, BR_ESTORE: still nothing half-written.)
 * 2. Validation happens before the transaction, so a rejected call touches nothing.
 * 3. New user ids are MAX(user_id) + 1 over users, deleted readers included (their rows
 *    stay), so an id is never handed out twice.
 * 4. Accounts are read into fixed-size buffers (the column limits are the C limits), so
 *    nothing here allocates. */
#include "bookrec/accounts.h"
#include "bookrec/error.h"
#include "bookrec/subjects.h"

#include "accounts_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- validation ---- */

int br_username_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n < BR_USERNAME_MIN || n > BR_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Deliberately loose (full RFC 5322 parsing buys nothing: the address is only stored):
 * one '@' with something on both sides, no whitespace or control bytes, no characters
 * that only quoted forms allow. UTF-8 bytes pass. */
int br_email_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s), at = 0, n_at = 0;
    if (n < 3 || n > BR_EMAIL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || strchr("\"(),:;<>[\\]", c))
            return 0;
        if (c == '@') {
            at = i;
            n_at++;
        }
    }
    return n_at == 1 && at > 0 && at < n - 1;
}

int br_opaque_valid(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* ASCII lower case of a validated string into out (cap > strlen(s)). */
static void lower_copy(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[i] = '\0';
}

/* ---- accounts ---- */

#define ACCOUNT_COLS "account_id, user_id, created_at, username, email, password_hash "

static void copy_col(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Runs an account query (one parameter) and reads its row into out (may be NULL). */
static int account_fetch(br_store *st, const char *where, const char *types, int64_t id,
                         const char *text, br_account *out)
{
    char sql[256];
    br_stmt *q;
    snprintf(sql, sizeof sql, "SELECT " ACCOUNT_COLS "FROM accounts WHERE %s", where);
    int rc =
        types[0] == 'i' ? br__sql_prep(st, &q, sql, "i", id) : br__sql_prep(st, &q, sql, "t", text);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1 && out) {
        memset(out, 0, sizeof *out);
        out->account_id = br_stmt_int(q, 0);
        out->user_id = br_stmt_int(q, 1);
        out->created_at = br_stmt_int(q, 2);
        copy_col(out->username, sizeof out->username, br_stmt_text(q, 3));
        copy_col(out->email, sizeof out->email, br_stmt_text(q, 4));
        copy_col(out->password_hash, sizeof out->password_hash, br_stmt_text(q, 5));
    }
    br_stmt_free(q);
    return rc == 1 ? 0 : rc == 0 ? BR_ENOENT : rc;
}

int br_account_by_username(br_store *st, const char *username, br_account *out)
{
    char lc[BR_USERNAME_MAX + 1];
    if (!st)
        return BR_EINVAL;
    if (!br_username_valid(username))
        return BR_ENOENT;
    lower_copy(lc, sizeof lc, username);
    return account_fetch(st, "username_lc = ?", "t", 0, lc, out);
}

int br_account_by_email(br_store *st, const char *email, br_account *out)
{
    char lc[BR_EMAIL_MAX + 1];
    if (!st)
        return BR_EINVAL;
    if (!br_email_valid(email))
        return BR_ENOENT;
    lower_copy(lc, sizeof lc, email);
    return account_fetch(st, "email_lc = ?", "t", 0, lc, out);
}

int br_account_by_id(br_store *st, int64_t account_id, br_account *out)
{
    return st ? account_fetch(st, "account_id = ?", "i", account_id, NULL, out) : BR_EINVAL;
}

int br_account_by_user(br_store *st, int64_t user_id, br_account *out)
{
    return st ? account_fetch(st, "user_id = ?", "i", user_id, NULL, out) : BR_EINVAL;
}

/* BR_EEXIST when another account (not self) holds the lower-cased username or email. */
static int check_free(br_store *st, const char *user_lc, const char *email_lc, int64_t self)
{
    int64_t v;
    int rc = 0;
    if (user_lc)
        rc = br__sql_int(st, &v, "SELECT 1 FROM accounts WHERE username_lc = ? AND account_id <> ?",
                         "ti", user_lc, self);
    if (rc == 0 && email_lc)
        rc = br__sql_int(st, &v, "SELECT 1 FROM accounts WHERE email_lc = ? AND account_id <> ?",
                         "ti", email_lc, self);
    return rc == 1 ? BR_EEXIST : rc;
}

/* Replaces the reader's chosen favorites (validated: n <= BR_FAV_MAX). */
static int fav_replace(br_store *st, int64_t user_id, const int32_t *ids, size_t n)
{
    int64_t v;
    int rc;
    for (size_t i = 0; i < n; i++) {
        rc = br__sql_int(st, &v, "SELECT 1 FROM subjects WHERE subject_id = ?", "i",
                         (int64_t)ids[i]);
        if (rc <= 0)
            return rc == 0 ? BR_ENOENT : rc;
    }
    /* Chosen favorites replace derived ones: both share the (user_id, subject_id) key. */
    rc = n ? br__sql_exec(st, "DELETE FROM user_fav_subjects WHERE user_id = ?", "i", user_id)
           : br__sql_exec(st,
                          "DELETE FROM user_fav_subjects WHERE user_id = ? AND origin = 'chosen'",
                          "i", user_id);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t j = 0;
        while (j < i && ids[j] != ids[i])
            j++;
        if (j < i)
            continue; /* a duplicate */
        rc = br__sql_exec(st,
                          "INSERT INTO user_fav_subjects (user_id, subject_id, score, origin, "
                          "split_id) VALUES (?, ?, 1.0, 'chosen', NULL)",
                          "ii", user_id, (int64_t)ids[i]);
    }
    return rc ? rc : br__user_bump(st, user_id);
}

static int check_fav_args(const int32_t *fav, size_t n)
{
    if (n > BR_FAV_MAX)
        return BR_ELIMIT;
    return n && !fav ? BR_EINVAL : 0;
}

int br_account_create(br_store *st, const char *username, const char *email,
                      const char *password_hash, const int32_t *fav, size_t n_fav, br_account *out)
{
    char ulc[BR_USERNAME_MAX + 1], elc[BR_EMAIL_MAX + 1];
    int64_t uid = -1, v;
    int rc;
    if (!st || !br_username_valid(username) || !br_email_valid(email) ||
        !br_opaque_valid(password_hash, BR_PWHASH_MAX))
        return BR_EINVAL;
    if ((rc = check_fav_args(fav, n_fav)))
        return rc;
    lower_copy(ulc, sizeof ulc, username);
    lower_copy(elc, sizeof elc, email);
    int64_t now = (int64_t)time(NULL);

    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = check_free(st, ulc, elc, -1)))
        goto fail;
    /* A reader row of this name without an account would break UNIQUE (source, external_id). */
    rc = br__sql_int(st, &v, "SELECT 1 FROM users WHERE source = 'api' AND external_id = ?", "t",
                     username);
    if (rc) {
        rc = rc == 1 ? BR_EEXIST : rc;
        goto fail;
    }
    if ((rc = br__sql_int(st, &uid, "SELECT MAX(user_id) FROM users", "")) < 0)
        goto fail;
    uid = rc == 1 ? uid + 1 : 0;
    if ((rc = br__sql_exec(st,
                           "INSERT INTO users (user_id, source, external_id) VALUES (?, 'api', ?)",
                           "it", uid, username)) ||
        (rc = br__sql_exec(st,
                           "INSERT INTO accounts (account_id, user_id, username, username_lc, "
                           "email, email_lc, password_hash, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           "iitttttii", uid, uid, username, ulc, email, elc, password_hash, now,
                           now)) ||
        (n_fav && (rc = fav_replace(st, uid, fav, n_fav))))
        goto fail;
    if (out && (rc = br_account_by_id(st, uid, out)))
        goto fail;
    return br_store_commit(st);
fail:
    return br__tx_end(st, rc);
}

int br_account_claim(br_store *st, int64_t user_id, const char *username, const char *email,
                     const char *password_hash, br_account *out)
{
    char ulc[BR_USERNAME_MAX + 1], elc[BR_EMAIL_MAX + 1];
    int64_t v;
    int rc;
    if (!st || !br_username_valid(username) || !br_email_valid(email) ||
        !br_opaque_valid(password_hash, BR_PWHASH_MAX))
        return BR_EINVAL;
    lower_copy(ulc, sizeof ulc, username);
    lower_copy(elc, sizeof elc, email);
    int64_t now = (int64_t)time(NULL);

    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br__user_live(st, user_id)) <= 0) {
        rc = rc == 0 ? BR_ENOENT : rc;
        goto fail;
    }
    rc = br__sql_int(st, &v, "SELECT 1 FROM accounts WHERE user_id = ? OR account_id = ?", "ii",
                     user_id, user_id);
    if (rc) {
        rc = rc == 1 ? BR_EEXIST : rc;
        goto fail;
    }
    if ((rc = check_free(st, ulc, elc, -1)) ||
        (rc = br__sql_exec(st,
                           "INSERT INTO accounts (account_id, user_id, username, username_lc, "
                           "email, email_lc, password_hash, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           "iitttttii", user_id, user_id, username, ulc, email, elc, password_hash,
                           now, now)))
        goto fail;
    if (out && (rc = br_account_by_id(st, user_id, out)))
        goto fail;
    return br_store_commit(st);
fail:
    return br__tx_end(st, rc);
}

int br_account_update(br_store *st, int64_t account_id, const br_account_changes *ch,
                      br_account *out)
{
    char elc[BR_EMAIL_MAX + 1];
    br_account a;
    int rc;
    if (!st || !ch || (ch->email && !br_email_valid(ch->email)) ||
        (ch->password_hash && !br_opaque_valid(ch->password_hash, BR_PWHASH_MAX)))
        return BR_EINVAL;
    if (ch->set_fav && (rc = check_fav_args(ch->fav, ch->n_fav)))
        return rc;
    int64_t now = (int64_t)time(NULL);

    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br_account_by_id(st, account_id, &a)))
        goto fail;
    if (ch->email) {
        lower_copy(elc, sizeof elc, ch->email);
        if ((rc = check_free(st, NULL, elc, account_id)) ||
            (rc = br__sql_exec(st,
                               "UPDATE accounts SET email = ?, email_lc = ?, updated_at = ? "
                               "WHERE account_id = ?",
                               "ttii", ch->email, elc, now, account_id)))
            goto fail;
    }
    if (ch->password_hash &&
        (rc = br__sql_exec(st,
                           "UPDATE accounts SET password_hash = ?, updated_at = ? "
                           "WHERE account_id = ?",
                           "tii", ch->password_hash, now, account_id)))
        goto fail;
    if (ch->set_fav && (rc = fav_replace(st, a.user_id, ch->fav, ch->n_fav)))
        goto fail;
    if (out && (rc = br_account_by_id(st, account_id, out)))
        goto fail;
    return br_store_commit(st);
fail:
    return br__tx_end(st, rc);
}

int br_account_delete(br_store *st, int64_t account_id)
{
    br_account a;
    char ext[48];
    int rc;
    if (!st)
        return BR_EINVAL;
    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br_account_by_id(st, account_id, &a)))
        goto fail;
    int64_t u = a.user_id, now = (int64_t)time(NULL);
    snprintf(ext, sizeof ext, "deleted-%lld", (long long)u);
    /* split_folds and user_aggregates are keyed (split_id, user_id, ...): naming the splits
     * lets the primary key find the rows instead of scanning every split's folds. */
    if ((rc = br__sql_exec(st, "DELETE FROM sessions WHERE account_id = ?", "i", account_id)) ||
        (rc = br__sql_exec(st, "DELETE FROM interactions WHERE user_id = ?", "i", u)) ||
        (rc = br__sql_exec(st, "DELETE FROM user_fav_subjects WHERE user_id = ?", "i", u)) ||
        (rc = br__sql_exec(st,
                           "DELETE FROM split_folds WHERE split_id IN (SELECT split_id FROM "
                           "splits) AND user_id = ?",
                           "i", u)) ||
        (rc = br__sql_exec(st,
                           "DELETE FROM user_aggregates WHERE split_id IN (SELECT split_id FROM "
                           "splits) AND user_id = ?",
                           "i", u)) ||
        (rc = br__sql_exec(st, "UPDATE events SET account_id = 0 WHERE account_id = ?", "i",
                           account_id)) ||
        (rc = br__sql_exec(st, "DELETE FROM accounts WHERE account_id = ?", "i", account_id)) ||
        (rc = br__sql_exec(st,
                           "UPDATE users SET deleted_at = ?, location = NULL, country = NULL, "
                           "age = NULL, age_group = NULL, state_rev = state_rev + 1, "
                           "external_id = CASE WHEN source = 'api' THEN ? ELSE external_id END "
                           "WHERE user_id = ?",
                           "iti", now, ext, u)))
        goto fail;
    return br_store_commit(st);
fail:
    return br__tx_end(st, rc);
}

/* ---- favorite subjects ---- */

int br_fav_get(br_store *st, int64_t user_id, int32_t *ids, size_t cap, size_t *n)
{
    br_stmt *q;
    size_t k = 0;
    if (!st || !n || (cap && !ids))
        return BR_EINVAL;
    int rc = br__sql_prep(st, &q,
                          "SELECT subject_id FROM user_fav_subjects WHERE user_id = ? AND "
                          "origin = 'chosen' ORDER BY subject_id",
                          "i", user_id);
    if (rc)
        return rc;
    while ((rc = br_stmt_step(q)) == 1) {
        if (k < cap)
            ids[k] = (int32_t)br_stmt_int(q, 0);
        k++;
    }
    br_stmt_free(q);
    *n = k;
    return rc < 0 ? rc : k > cap ? BR_ELIMIT : 0;
}

int br_fav_set(br_store *st, int64_t user_id, const int32_t *ids, size_t n)
{
    int rc;
    if (!st)
        return BR_EINVAL;
    if ((rc = check_fav_args(ids, n)))
        return rc;
    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br__user_live(st, user_id)) <= 0)
        rc = rc == 0 ? BR_ENOENT : rc;
    else
        rc = fav_replace(st, user_id, ids, n);
    return br__tx_end(st, rc);
}

int br_subject_find(br_store *st, const char *name, int32_t *id)
{
    char canon[BR_SUBJECT_MAX + 1];
    int64_t v;
    if (!st || !id)
        return BR_EINVAL;
    if (!name)
        return BR_ENOENT;
    br_subject_reason r = br_subject_canon(name, strlen(name), canon, sizeof canon);
    if (r != BR_SUBJECT_OK)
        return BR_ENOENT;
    int rc = br__sql_int(st, &v, "SELECT subject_id FROM subjects WHERE name = ?", "t", canon);
    if (rc == 1)
        *id = (int32_t)v;
    return rc == 1 ? 0 : rc == 0 ? BR_ENOENT : rc;
}

int br_subject_name_get(br_store *st, int32_t id, char *buf, size_t cap)
{
    br_stmt *q;
    if (!st || !buf || !cap)
        return BR_EINVAL;
    int rc =
        br__sql_prep(st, &q, "SELECT name FROM subjects WHERE subject_id = ?", "i", (int64_t)id);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1) {
        const char *s = br_stmt_text(q, 0);
        size_t len = s ? strlen(s) : 0;
        if (len >= cap) {
            rc = BR_ERANGE;
        } else {
            memcpy(buf, s ? s : "", len + 1);
            rc = 0;
        }
    } else if (rc == 0) {
        rc = BR_ENOENT;
    }
    br_stmt_free(q);
    return rc;
}
