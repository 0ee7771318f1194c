/* Impression and click events, for click-through rates (see accounts.h).
 *
 * Design decisions:
 * 1. Types and surfaces are closed enums stored as their names: readable in SQL
 *    dashboards, and the enum keeps unknown values out.
 * 2. mode and version are short identifiers from a small character set, so nothing a
 *    client sends can make a dashboard or a log line ambiguous.
 * 3. Retention is the caller's schedule: the server deletes events older than
 *    BR_EVENT_RETENTION_DAYS (90 by default) with br_event_purge_older. Events never feed
 *    training, and a deleted account's events lose their account id (accounts.c).
 * 4. No id column: events are only counted and purged by time (the ts index serves both). */
#include "bookrec/accounts.h"
#include "bookrec/error.h"

#include "accounts_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const k_types[BR_EVENT_TYPE_COUNT] = {"impression", "click"};
static const char *const k_surfaces[BR_SURFACE_COUNT] = {"recommendations", "similar", "search",
                                                         "chat"};

const char *br_event_type_name(br_event_type t)
{
    return (unsigned)t < BR_EVENT_TYPE_COUNT ? k_types[t] : "?";
}

const char *br_event_surface_name(br_event_surface s)
{
    return (unsigned)s < BR_SURFACE_COUNT ? k_surfaces[s] : "?";
}

static int parse_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

int br_event_type_parse(const char *s, br_event_type *out)
{
    int i = parse_name(s, k_types, BR_EVENT_TYPE_COUNT);
    if (i < 0 || !out)
        return BR_EINVAL;
    *out = (br_event_type)i;
    return 0;
}

int br_event_surface_parse(const char *s, br_event_surface *out)
{
    int i = parse_name(s, k_surfaces, BR_SURFACE_COUNT);
    if (i < 0 || !out)
        return BR_EINVAL;
    *out = (br_event_surface)i;
    return 0;
}

/* NULL or 0..max bytes of [A-Za-z0-9_.:+-]. */
static int ident_valid(const char *s, size_t max)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || strchr("_.:+-", c)))
            return 0;
    }
    return 1;
}

int br_event_insert(br_store *st, const br_event *e)
{
    if (!st || !e)
        return BR_EINVAL;
    if ((unsigned)e->type >= BR_EVENT_TYPE_COUNT || (unsigned)e->surface >= BR_SURFACE_COUNT ||
        !ident_valid(e->mode, BR_EVENT_MODE_MAX) || !ident_valid(e->version, BR_EVENT_VERSION_MAX))
        return BR_EINVAL;
    if (e->ts < 0 || e->account_id < 0)
        return BR_ERANGE;
    /* A read then a single-row insert: no transaction needed, and none taken, so a burst of
     * events holds the write lock only for the insert itself. */
    int rc = br__work_exists(st, e->item_idx);
    if (rc <= 0)
        return rc == 0 ? BR_ENOENT : rc;
    return br__sql_exec(st,
                        "INSERT INTO events (ts, account_id, event_type, surface, mode, item_idx, "
                        "version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        "iitttit", e->ts, e->account_id, k_types[e->type], k_surfaces[e->surface],
                        e->mode ? e->mode : "", e->item_idx, e->version ? e->version : "");
}

int br_event_purge_older(br_store *st, int64_t before_ts)
{
    return st ? br__sql_exec(st, "DELETE FROM events WHERE ts < ?", "i", before_ts) : BR_EINVAL;
}

int br_event_counts(br_store *st, int64_t since, int64_t until, br_event_count *rows, size_t cap,
                    size_t *n)
{
    br_stmt *q;
    size_t k = 0;
    if (!st || !n || (cap && !rows))
        return BR_EINVAL;
    *n = 0;
    int rc = br__sql_prep(st, &q,
                          "SELECT surface, mode, "
                          "SUM(CASE WHEN event_type = 'impression' THEN 1 ELSE 0 END), "
                          "SUM(CASE WHEN event_type = 'click' THEN 1 ELSE 0 END) "
                          "FROM events WHERE ts >= ? AND ts < ? GROUP BY surface, mode "
                          "ORDER BY surface, mode",
                          "ii", since, until);
    if (rc)
        return rc;
    while ((rc = br_stmt_step(q)) == 1) {
        br_event_surface s;
        /* Only br_event_insert writes here, but a hand-edited row must not crash a report. */
        if (br_event_surface_parse(br_stmt_text(q, 0), &s))
            continue;
        if (k < cap) {
            br_event_count *r = &rows[k];
            const char *m = br_stmt_text(q, 1);
            r->surface = s;
            snprintf(r->mode, sizeof r->mode, "%s", m ? m : "");
            r->impressions = br_stmt_int(q, 2);
            r->clicks = br_stmt_int(q, 3);
        }
        k++;
    }
    br_stmt_free(q);
    *n = k;
    return rc < 0 ? rc : k > cap ? BR_ELIMIT : 0;
}
