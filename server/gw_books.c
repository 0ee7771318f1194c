/* Gateway: books, similar books, search, subject suggestions, the popular list. */
#include "gw.h"

#include "bookrec/accounts.h"
#include "bookrec/catalog.h"
#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PAGE_SIZE 100
#define MAX_PAGE 50

/* {"book": metadata, "score": s} for each entry of a service's "items" (a JSON array of
 * {id, score}) from offset, at most limit; entries whose metadata is missing or which are
 * not shown to readers are skipped. NULL after an error reply. */
json_t *gw_render_items(gw_req *r, const json_t *items, size_t offset, size_t limit)
{
    size_t n = json_array_size(items);
    if (offset >= n)
        return json_array();
    size_t m = n - offset < limit ? n - offset : limit;
    int32_t *ids = malloc((m ? m : 1) * sizeof *ids);
    if (!ids)
        return NULL;
    for (size_t i = 0; i < m; i++)
        ids[i] = (int32_t)json_integer_value(
            json_object_get(json_array_get(items, offset + i), "id"));
    json_t *books = m ? gw_books(r, ids, m) : json_array(), *out = NULL;
    free(ids);
    if (!books)
        return NULL;
    out = json_array();
    for (size_t i = 0; i < m; i++) {
        json_t *b = json_array_get(books, i);
        if (!json_is_object(b))
            continue;
        json_array_append_new(out, json_pack("{s:O, s:O}", "book", b, "score",
                                             json_object_get(json_array_get(items, offset + i),
                                                             "score")));
    }
    json_decref(books);
    return out;
}

/* The page and page_size arguments; -1 after a 400. */
int gw_paging(gw_req *r, int64_t *page, int64_t *size)
{
    return gw_query_int(r, "page", 1, MAX_PAGE, 1, page) ||
                   gw_query_int(r, "page_size", 1, MAX_PAGE_SIZE, 20, size)
               ? -1
               : 0;
}

void gw_books_get(gw_req *r)
{
    int64_t id;
    br_store *st;
    if (gw_param_id(r, 0, &id) || !(st = gw_store(r)))
        return;
    int32_t one = (int32_t)id;
    json_t *books = gw_books(r, &one, 1);
    if (!books)
        return;
    json_t *b = json_array_get(books, 0);
    if (!json_is_object(b)) {
        json_decref(books);
        gw_error(r, 404, "not_found", "no book %lld", (long long)id);
        return;
    }
    b = json_deep_copy(b);
    json_decref(books);
    br_edition_row eds[20];
    size_t n, total;
    if (br_catalog_editions(st, id, eds, 20, &n, &total) == 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                a, json_pack("{s:s, s:s?, s:o, s:s?, s:s?}", "isbn13", eds[i].isbn13, "isbn10",
                             eds[i].isbn10[0] ? eds[i].isbn10 : NULL, "year",
                             eds[i].year ? json_integer(eds[i].year) : json_null(), "title",
                             eds[i].title[0] ? eds[i].title : NULL, "publisher",
                             eds[i].publisher[0] ? eds[i].publisher : NULL));
        json_object_set_new(b, "editions", a);
        json_object_set_new(b, "editions_total", json_integer((json_int_t)total));
    }
    json_t *mine = json_null();
    if (r->user_id) {
        br_rating_row row;
        if (br_rating_get(st, r->user_id, id, &row) == 0)
            mine = json_pack("{s:o, s:I}", "rating", row.rating ? json_integer(row.rating)
                                                                : json_null(),
                             "ts", (json_int_t)row.ts);
    }
    json_object_set_new(b, "my_rating", mine);
    gw_json(r, 200, json_pack("{s:o}", "book", b));
}

void gw_books_by_isbn(gw_req *r)
{
    br_store *st = gw_store(r);
    int64_t id;
    if (!st)
        return;
    int rc = br_catalog_by_isbn(st, r->param[0], &id);
    if (rc == BR_EINVAL)
        gw_error(r, 400, "bad_request", "not an ISBN-10 or ISBN-13");
    else if (rc == BR_ENOENT)
        gw_error(r, 404, "not_found", "no edition with that ISBN");
    else if (rc)
        gw_error(r, 500, "internal", "lookup failed");
    else
        gw_json(r, 200, json_pack("{s:I}", "book", (json_int_t)id));
}

void gw_books_similar(gw_req *r)
{
    int64_t id, k;
    double w;
    const char *mode;
    if (gw_param_id(r, 0, &id) || gw_query_int(r, "k", 1, 100, 20, &k) ||
        gw_query_double(r, "w", 0, 1, 0.5, &w) || gw_query_str(r, "mode", 16, &mode))
        return;
    if (!mode)
        mode = "hybrid";
    if (strcmp(mode, "als") && strcmp(mode, "subject") && strcmp(mode, "hybrid")) {
        gw_error(r, 400, "bad_request", "mode must be als, subject or hybrid");
        return;
    }
    br_svc_reply rep;
    int st = gw_call(r, BR_ROLE_SIMILARITY, "/similar",
                     json_pack("{s:I, s:s, s:I, s:f}", "item", (json_int_t)id, "mode", mode, "k",
                               (json_int_t)k, "w", w),
                     &rep);
    if (st == 200) {
        gw_buf b = {0};
        if (gw_items_text(r, json_object_get(rep.body, "items"), 0, (size_t)k, &b, NULL) == 0)
            gw_reply_with_items(r, 200,
                                json_pack("{s:I, s:s, s:f}", "book", (json_int_t)id, "mode",
                                          mode, "w", w),
                                &b);
        free(b.p);
    } else if (st == 404 || st == 400) {
        /* The book exists but has no vector of that kind, or does not exist at all. */
        int32_t one = (int32_t)id;
        json_t *b = st == 404 ? gw_books(r, &one, 1) : NULL;
        if (b && json_is_object(json_array_get(b, 0)))
            gw_json(r, 200, json_pack("{s:I, s:s, s:f, s:[], s:s}", "book", (json_int_t)id,
                                      "mode", mode, "w", w, "items", "reason",
                                      "not enough data about this book for this kind of "
                                      "similarity"));
        else if (!gw_replied(r))
            gw_error(r, 404, "not_found", "no book %lld", (long long)id);
        json_decref(b);
    }
    br_svc_reply_free(&rep);
}

/* 1 when the book object lists every subject of want (comma-separated, case-insensitive). */
static int has_subjects(const json_t *book, const char *want)
{
    const json_t *subs = json_object_get(book, "subjects");
    while (want && *want) {
        size_t len = strcspn(want, ",");
        int found = 0;
        size_t i;
        const json_t *s;
        json_array_foreach(subs, i, s) found |=
            json_string_length(s) == len && !strncasecmp(json_string_value(s), want, len);
        if (len && !found)
            return 0;
        want += len + (want[len] == ',');
    }
    return 1;
}

void gw_search(gw_req *r)
{
    const char *q, *subjects;
    int64_t page, size;
    if (gw_query_str(r, "q", 512, &q) || gw_query_str(r, "subjects", 1024, &subjects) ||
        gw_paging(r, &page, &size))
        return;
    if (!q) {
        gw_error(r, 400, "bad_request", "give a query: q=...");
        return;
    }
    /* With a subject filter, rank more and filter: the filter needs the metadata, which
     * one /books call gives for at most 500 ids (docs/services.md). */
    size_t need = (size_t)(page * size) + 1, k = subjects ? 500 : need;
    br_svc_reply rep;
    if (gw_call(r, BR_ROLE_SEMANTIC, "/search",
                json_pack("{s:s, s:I}", "query", q, "k", (json_int_t)(k > 1000 ? 1000 : k)),
                &rep) != 200) {
        if (rep.status == 400)
            gw_error(r, 400, "bad_request", "%s",
                     json_string_value(json_object_get(json_object_get(rep.body, "error"),
                                                       "message")) ?: "bad query");
        br_svc_reply_free(&rep);
        return;
    }
    const json_t *items = json_object_get(rep.body, "items");
    json_t *all = NULL;
    size_t from = (size_t)((page - 1) * size);
    if (subjects) {
        json_t *rendered = gw_render_items(r, items, 0, json_array_size(items));
        if (rendered) {
            all = json_array();
            size_t i;
            json_t *it;
            json_array_foreach(rendered, i, it) if (has_subjects(json_object_get(it, "book"),
                                                                 subjects))
                json_array_append(all, it);
            json_decref(rendered);
            size_t total = json_array_size(all);
            json_t *pg = json_array();
            for (size_t j = from; j < total && j < from + (size_t)size; j++)
                json_array_append(pg, json_array_get(all, j));
            gw_json(r, 200, json_pack("{s:s, s:s, s:I, s:I, s:o, s:b}", "q", q, "subjects",
                                      subjects, "page", (json_int_t)page, "page_size",
                                      (json_int_t)size, "items", pg, "has_more",
                                      total > from + (size_t)size));
            json_decref(all);
        }
    } else {
        gw_buf b = {0};
        if (gw_items_text(r, items, from, (size_t)size, &b, NULL) == 0)
            gw_reply_with_items(r, 200,
                                json_pack("{s:s, s:n, s:I, s:I, s:b}", "q", q, "subjects",
                                          "page", (json_int_t)page, "page_size",
                                          (json_int_t)size, "has_more",
                                          json_array_size(items) > from + (size_t)size),
                                &b);
        free(b.p);
    }
    br_svc_reply_free(&rep);
}

void gw_subjects(gw_req *r)
{
    const char *q;
    int64_t k;
    br_store *st;
    if (gw_query_str(r, "q", BR_CATALOG_NAME_MAX, &q) || gw_query_int(r, "k", 1, 50, 10, &k) ||
        !(st = gw_store(r)))
        return;
    br_subject_row rows[BR_CATALOG_MAX_SUGGEST];
    size_t n;
    if (br_catalog_subject_suggest(st, q ? q : "", (size_t)k, rows, &n) != 0) {
        gw_error(r, 500, "internal", "subject lookup failed");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:i, s:s, s:i}", "id", rows[i].id, "name",
                                           rows[i].name, "books", rows[i].n_books));
    gw_json(r, 200, json_pack("{s:s, s:o}", "q", q ? q : "", "items", a));
}

void gw_popular(gw_req *r)
{
    int64_t page, size;
    if (gw_paging(r, &page, &size))
        return;
    br_svc_reply rep;
    if (gw_call(r, BR_ROLE_METADATA, "/popular",
                json_pack("{s:I, s:I}", "k", (json_int_t)size + 1, "offset",
                          (json_int_t)((page - 1) * size)),
                &rep) == 200) {
        const json_t *items = json_object_get(rep.body, "items");
        gw_buf b = {0};
        if (gw_items_text(r, items, 0, (size_t)size, &b, NULL) == 0)
            gw_reply_with_items(r, 200,
                                json_pack("{s:I, s:I, s:b}", "page", (json_int_t)page,
                                          "page_size", (json_int_t)size, "has_more",
                                          json_array_size(items) > (size_t)size),
                                &b);
        free(b.p);
    }
    br_svc_reply_free(&rep);
}
