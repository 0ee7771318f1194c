/* A reader's ratings: its rows of interactions (see accounts.h).
 *
 * Design decisions:
 * 1. An upsert is a SELECT then an UPDATE or INSERT inside one write transaction: portable
 *    (no ON CONFLICT), and on SQLite the transaction already holds the write lock.
 * 2. Imported interactions may have no time (ts NULL): they sort as ts 0, everywhere the
 *    same way (COALESCE), so the keyset order is total and the cursor is plain numbers.
 * 3. Keyset pagination over (ts desc, item_idx desc): item_idx is unique per reader, so the
 *    pair is a total order and "strictly after the cursor" neither repeats nor skips rows
 *    that do not change meanwhile, whatever is inserted. A page asks for one row more than
 *    it returns to know whether another follows. A reader has at most a few thousand
 *    interactions, found by the (user_id, item_idx) key; sorting them needs no index.
 * 4. Every change bumps users.state_rev, the cache-key part of a reader's state. */
#include "bookrec/accounts.h"
#include "bookrec/error.h"

#include "accounts_internal.h"

#include <string.h>

int br_rating_put(br_store *st, int64_t user_id, int64_t item_idx, int rating, int64_t ts)
{
    int64_t v;
    int rc;
    if (!st)
        return BR_EINVAL;
    if (rating < 0 || rating > 10 || ts < 0)
        return BR_ERANGE;
    if ((rc = br_store_begin(st)))
        return rc;
    if ((rc = br__user_live(st, user_id)) <= 0 || (rc = br__work_exists(st, item_idx)) <= 0) {
        rc = rc == 0 ? BR_ENOENT : rc;
        goto fail;
    }
    rc = br__sql_int(st, &v, "SELECT 1 FROM interactions WHERE user_id = ? AND item_idx = ?", "ii",
                     user_id, item_idx);
    if (rc == 1)
        rc = br__sql_exec(st,
                          "UPDATE interactions SET rating = ?, ts = ?, source = 'api' "
                          "WHERE user_id = ? AND item_idx = ?",
                          "iiii", (int64_t)rating, ts, user_id, item_idx);
    else if (rc == 0)
        rc = br__sql_exec(st,
                          "INSERT INTO interactions (user_id, item_idx, rating, ts, source) "
                          "VALUES (?, ?, ?, ?, 'api')",
                          "iiii", user_id, item_idx, (int64_t)rating, ts);
    if (rc == 0)
        rc = br__user_bump(st, user_id);
fail:
    return br__tx_end(st, rc);
}

int br_rating_delete(br_store *st, int64_t user_id, int64_t item_idx)
{
    int64_t v;
    int rc;
    if (!st)
        return BR_EINVAL;
    if ((rc = br_store_begin(st)))
        return rc;
    rc = br__sql_int(st, &v, "SELECT 1 FROM interactions WHERE user_id = ? AND item_idx = ?", "ii",
                     user_id, item_idx);
    if (rc == 0)
        rc = BR_ENOENT;
    if (rc == 1 &&
        (rc = br__sql_exec(st, "DELETE FROM interactions WHERE user_id = ? AND item_idx = ?", "ii",
                           user_id, item_idx)) == 0)
        rc = br__user_bump(st, user_id);
    return br__tx_end(st, rc);
}

static void read_row(br_stmt *q, br_rating_row *r)
{
    r->item_idx = br_stmt_int(q, 0);
    r->ts = br_stmt_is_null(q, 1) ? 0 : br_stmt_int(q, 1);
    r->rating = (int)br_stmt_int(q, 2);
}

int br_rating_get(br_store *st, int64_t user_id, int64_t item_idx, br_rating_row *out)
{
    br_stmt *q;
    if (!st || !out)
        return BR_EINVAL;
    int rc = br__sql_prep(st, &q,
                          "SELECT item_idx, ts, rating FROM interactions WHERE user_id = ? AND "
                          "item_idx = ?",
                          "ii", user_id, item_idx);
    if (rc)
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1) {
        read_row(q, out);
        rc = 0;
    } else if (rc == 0) {
        rc = BR_ENOENT;
    }
    br_stmt_free(q);
    return rc;
}

int br_rating_list(br_store *st, int64_t user_id, const br_rating_cursor *after,
                   br_rating_row *rows, size_t cap, size_t *n, int *more)
{
    br_stmt *q;
    size_t k = 0;
    int rc;
    if (!st || !rows || !n)
        return BR_EINVAL;
    *n = 0;
    if (more)
        *more = 0;
    if (cap == 0 || cap > BR_RATING_PAGE_MAX)
        return BR_ERANGE;
    if (after && (after->ts < 0 || after->item_idx < 0))
        return BR_EINVAL;
    if (!after)
        rc = br__sql_prep(st, &q,
                          "SELECT item_idx, COALESCE(ts, 0) AS t, rating FROM interactions "
                          "WHERE user_id = ? ORDER BY t DESC, item_idx DESC LIMIT ?",
                          "ii", user_id, (int64_t)cap + 1);
    else
        rc =
            br__sql_prep(st, &q,
                         "SELECT item_idx, COALESCE(ts, 0) AS t, rating FROM interactions "
                         "WHERE user_id = ? AND (COALESCE(ts, 0) < ? OR (COALESCE(ts, 0) = ? "
                         "AND item_idx < ?)) ORDER BY t DESC, item_idx DESC LIMIT ?",
                         "iiiii", user_id, after->ts, after->ts, after->item_idx, (int64_t)cap + 1);
    if (rc)
        return rc;
    while ((rc = br_stmt_step(q)) == 1) {
        if (k == cap) {
            if (more)
                *more = 1;
            break;
        }
        read_row(q, &rows[k++]);
    }
    br_stmt_free(q);
    *n = k;
    return rc < 0 ? rc : 0;
}

int br_user_interactions(br_store *st, int64_t user_id, int32_t *items, float *ratings, int64_t *ts,
                         size_t cap, size_t *n)
{
    br_stmt *q;
    size_t k = 0;
    if (!st || !n)
        return BR_EINVAL;
    int rc = br__sql_prep(st, &q,
                          "SELECT item_idx, ts, rating FROM interactions WHERE user_id = ? "
                          "ORDER BY item_idx",
                          "i", user_id);
    if (rc)
        return rc;
    while ((rc = br_stmt_step(q)) == 1) {
        if (k < cap) {
            br_rating_row r;
            read_row(q, &r);
            if (r.item_idx > INT32_MAX) {
                rc = BR_ERANGE;
                break;
            }
            if (items)
                items[k] = (int32_t)r.item_idx;
            if (ratings)
                ratings[k] = (float)r.rating;
            if (ts)
                ts[k] = r.ts;
        }
        k++;
    }
    br_stmt_free(q);
    *n = k;
    return rc < 0 ? rc : k > cap ? BR_ELIMIT : 0;
}

int br_user_newest_ts(br_store *st, int64_t user_id, int64_t *ts)
{
    if (!st || !ts)
        return BR_EINVAL;
    *ts = 0;
    int rc =
        br__sql_int(st, ts, "SELECT MAX(ts) FROM interactions WHERE user_id = ?", "i", user_id);
    return rc < 0 ? rc : 0;
}

int br_user_state_get(br_store *st, int64_t user_id, br_user_state *out)
{
    br_stmt *q;
    if (!st || !out)
        return BR_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = br__sql_int(st, &out->rev,
                         "SELECT state_rev FROM users WHERE user_id = ? AND deleted_at IS NULL",
                         "i", user_id);
    if (rc <= 0)
        return rc == 0 ? BR_ENOENT : rc;
    if ((rc = br__sql_prep(st, &q, "SELECT COUNT(*), MAX(ts) FROM interactions WHERE user_id = ?",
                           "i", user_id)))
        return rc;
    rc = br_stmt_step(q);
    if (rc == 1) {
        out->n_interactions = br_stmt_int(q, 0);
        out->newest_ts = br_stmt_is_null(q, 1) ? 0 : br_stmt_int(q, 1);
        rc = 0;
    }
    br_stmt_free(q);
    return rc < 0 ? rc : 0;
}
