/* Gateway: rendering ranked lists with book metadata as JSON text.
 *
 * The metadata service answers /books with pre-rendered JSON objects spliced together
 * (role_metadata.c). Lists are rendered by splicing those objects again, byte for byte,
 * instead of parsing them into jansson values and dumping them back: on a page of 20
 * books that parse-and-dump was most of a request's time. The splitter below walks the
 * top-level elements of the "books" array of our own service's reply; it tracks strings
 * and nesting only, and refuses anything that does not end where it should. */
#include "gw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_buf_add(gw_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        if (cap > GW_BUF_MAX)
            return -1;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int gw_buf_printf(gw_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof tmp ? -1 : gw_buf_add(b, tmp, (size_t)n);
}

/* The end of the JSON value starting at p (an object, array, string, or a bare word),
 * or NULL when it does not end before e. */
static const char *value_end(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p != '{' && *p != '[') {
        const char *q = p;
        while (q < e && *q != ',' && *q != ']')
            q++;
        return q > p ? q : NULL;
    }
    int depth = 0, in_str = 0;
    for (const char *q = p; q < e; q++) {
        char c = *q;
        if (in_str) {
            if (c == '\\')
                q++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return q + 1;
        }
    }
    return NULL;
}

/* Splits {"books":[e0,e1,...]} into element spans: start[i], len[i] (len 0 for null).
 * 0, or -1 when the text is not shaped so. */
static int split_books(const char *t, size_t n, size_t want, const char **start, size_t *len)
{
    static const char head[] = "{\"books\":[";
    const char *p = t, *e = t + n;
    if (n < sizeof head || memcmp(t, head, sizeof head - 1))
        return -1;
    p += sizeof head - 1;
    for (size_t i = 0; i < want; i++) {
        if (i) {
            if (p >= e || *p != ',')
                return -1;
            p++;
        }
        const char *q = value_end(p, e);
        if (!q)
            return -1;
        start[i] = p;
        len[i] = *p == '{' ? (size_t)(q - p) : 0;
        p = q;
    }
    return p + 2 <= e && p[0] == ']' && p[1] == '}' ? 0 : -1;
}

int gw_items_text(gw_req *r, const json_t *items, size_t offset, size_t limit, gw_buf *out,
                  size_t *n_out)
{
    size_t n = json_array_size(items), m = offset < n ? n - offset : 0, shown = 0;
    if (m > limit)
        m = limit;
    if (m > GW_MAX_ITEMS)
        m = GW_MAX_ITEMS;
    if (gw_buf_add(out, "[", 1))
        goto nomem;
    if (m) {
        int32_t ids[GW_MAX_ITEMS];
        const char *start[GW_MAX_ITEMS];
        size_t len[GW_MAX_ITEMS];
        json_t *a = json_array();
        for (size_t i = 0; i < m; i++) {
            ids[i] = (int32_t)json_integer_value(
                json_object_get(json_array_get(items, offset + i), "id"));
            json_array_append_new(a, json_integer(ids[i]));
        }
        br_svc_reply rep;
        int st = gw_call(r, BR_ROLE_METADATA, "/books", json_pack("{s:o}", "ids", a), &rep);
        if (st != 200) {
            br_svc_reply_free(&rep);
            if (st && !r->retry)
                gw_error(r, 502, "service_error", "the metadata service refused the request");
            return -1;
        }
        char *text = rep.raw;
        size_t tlen = rep.raw_len;
        char *dumped = NULL;
        if (!text) { /* a service that answered with a JSON value: render it */
            dumped = json_dumps(rep.body, JSON_COMPACT);
            text = dumped;
            tlen = dumped ? strlen(dumped) : 0;
        }
        int bad = !text || split_books(text, tlen, m, start, len) != 0;
        for (size_t i = 0; !bad && i < m; i++) {
            if (!len[i])
                continue; /* no such book (or not shown): leave it out */
            const json_t *sc = json_object_get(json_array_get(items, offset + i), "score");
            if ((shown && gw_buf_add(out, ",", 1)) || gw_buf_add(out, "{\"book\":", 8) ||
                gw_buf_add(out, start[i], len[i]) ||
                gw_buf_printf(out, ",\"score\":%.9g}", json_number_value(sc))) {
                bad = 2;
                break;
            }
            shown++;
        }
        free(dumped);
        br_svc_reply_free(&rep);
        if (bad == 1) {
            gw_error(r, 502, "service_error", "the metadata service's reply is malformed");
            return -1;
        }
        if (bad)
            goto nomem;
    }
    if (gw_buf_add(out, "]", 1))
        goto nomem;
    if (n_out)
        *n_out = shown;
    return 0;
nomem:
    gw_error(r, 500, "internal", "out of memory");
    return -1;
}

void gw_reply_with_items(gw_req *r, int status, json_t *head, const gw_buf *items)
{
    char *h = head ? json_dumps(head, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(head);
    size_t hl = h ? strlen(h) : 0;
    gw_buf b = {0};
    /* head is an object: "{...}" -> "{...,"items":[...]}" */
    if (!h || hl < 2 || gw_buf_add(&b, h, hl - 1) ||
        gw_buf_add(&b, hl > 2 ? ",\"items\":" : "\"items\":", hl > 2 ? 9 : 8) ||
        gw_buf_add(&b, items->p, items->n) || gw_buf_add(&b, "}", 1)) {
        free(h);
        free(b.p);
        gw_error(r, 500, "internal", "could not render the reply");
        return;
    }
    free(h);
    free(r->resp->body);
    r->resp->status = status;
    r->resp->content_type = "application/json";
    r->resp->body = b.p;
    r->resp->body_len = b.n;
}
