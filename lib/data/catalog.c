/* Catalog lookups for serving (see catalog.h). */
#include "bookrec/catalog.h"

#include "bookrec/error.h"
#include "bookrec/isbn.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int br_catalog_by_isbn(br_store *st, const char *isbn, int64_t *item_idx)
{
    char i13[14];
    br_stmt *q;
    if (!st || !isbn || br_isbn_normalize(isbn, strlen(isbn), i13, NULL) != BR_ISBN_OK)
        return BR_EINVAL;
    int rc = br_store_prepare(st, "SELECT item_idx FROM editions WHERE isbn13 = ?", &q);
    if (rc)
        return rc;
    br_stmt_bind_text(q, 1, i13, -1);
    int r = br_stmt_step(q);
    if (r == 1)
        *item_idx = br_stmt_int(q, 0);
    br_stmt_free(q);
    return r == 1 ? 0 : r == 0 ? BR_ENOENT : r;
}

/* LIKE pattern text with the wildcards of the input escaped (ESCAPE '\'). */
static int like_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in; in++) {
        if (n + 3 >= cap)
            return BR_ELIMIT;
        if (*in == '%' || *in == '_' || *in == '\\')
            out[n++] = '\\';
        out[n++] = (char)tolower((unsigned char)*in);
    }
    out[n] = 0;
    return 0;
}

static int suggest_pass(br_store *st, const char *pattern, size_t k, br_subject_row *out,
                        size_t *n)
{
    br_stmt *q;
    int rc = br_store_prepare(st,
                              "SELECT subject_id, name, n_books FROM subjects "
                              "WHERE LOWER(name) LIKE ? ESCAPE '\\' "
                              "ORDER BY n_books DESC, name LIMIT ?",
                              &q);
    if (rc)
        return rc;
    br_stmt_bind_text(q, 1, pattern, -1);
    br_stmt_bind_int(q, 2, (int64_t)k);
    int r;
    while (*n < k && (r = br_stmt_step(q)) == 1) {
        int32_t id = (int32_t)br_stmt_int(q, 0);
        int dup = 0;
        for (size_t i = 0; i < *n; i++)
            dup |= out[i].id == id;
        if (dup)
            continue;
        out[*n].id = id;
        out[*n].n_books = (int32_t)br_stmt_int(q, 2);
        snprintf(out[*n].name, sizeof out[*n].name, "%s", br_stmt_text(q, 1));
        (*n)++;
    }
    br_stmt_free(q);
    return r < 0 ? r : 0;
}

int br_catalog_subject_suggest(br_store *st, const char *prefix, size_t k, br_subject_row *out,
                               size_t *n)
{
    char esc[2 * BR_CATALOG_NAME_MAX + 4], pat[2 * BR_CATALOG_NAME_MAX + 8];
    *n = 0;
    if (!st || !prefix || k > BR_CATALOG_MAX_SUGGEST || strlen(prefix) > BR_CATALOG_NAME_MAX)
        return BR_EINVAL;
    if (k == 0)
        return 0;
    int rc = like_escape(prefix, esc, sizeof esc);
    if (rc)
        return rc;
    snprintf(pat, sizeof pat, "%s%%", esc);
    if ((rc = suggest_pass(st, pat, k, out, n)))
        return rc;
    if (*n < k && prefix[0]) {
        snprintf(pat, sizeof pat, "%% %s%%", esc);
        rc = suggest_pass(st, pat, k, out, n);
    }
    return rc;
}

int br_catalog_subject_ids(br_store *st, const char *const *names, size_t n, int32_t *ids)
{
    br_stmt *q;
    int rc = br_store_prepare(st, "SELECT subject_id FROM subjects WHERE LOWER(name) = LOWER(?)",
                              &q);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        br_stmt_reset(q);
        br_stmt_bind_text(q, 1, names[i], -1);
        int r = br_stmt_step(q);
        if (r < 0) {
            rc = r;
            break;
        }
        ids[i] = r == 1 ? (int32_t)br_stmt_int(q, 0) : -1;
    }
    br_stmt_free(q);
    return rc;
}

int br_catalog_editions(br_store *st, int64_t item_idx, br_edition_row *out, size_t cap,
                        size_t *n, size_t *total)
{
    br_stmt *q;
    *n = *total = 0;
    int rc = br_store_prepare(st,
                              "SELECT isbn13, isbn10, year, title, publisher FROM editions "
                              "WHERE item_idx = ? ORDER BY isbn13",
                              &q);
    if (rc)
        return rc;
    br_stmt_bind_int(q, 1, item_idx);
    int r;
    while ((r = br_stmt_step(q)) == 1) {
        if (*n < cap) {
            br_edition_row *e = &out[(*n)++];
            memset(e, 0, sizeof *e);
            snprintf(e->isbn13, sizeof e->isbn13, "%s", br_stmt_text(q, 0));
            if (!br_stmt_is_null(q, 1))
                snprintf(e->isbn10, sizeof e->isbn10, "%s", br_stmt_text(q, 1));
            e->year = br_stmt_is_null(q, 2) ? 0 : (int32_t)br_stmt_int(q, 2);
            if (!br_stmt_is_null(q, 3))
                snprintf(e->title, sizeof e->title, "%s", br_stmt_text(q, 3));
            if (!br_stmt_is_null(q, 4))
                snprintf(e->publisher, sizeof e->publisher, "%s", br_stmt_text(q, 4));
        }
        (*total)++;
    }
    br_stmt_free(q);
    return r < 0 ? r : 0;
}
