/* The metadata service: book metadata, aggregates and the popular list.
 *
 *   POST /books   {ids: [...]}       -> {"books": [{...} or null, ...]}  (in the order asked)
 *   POST /popular {k?, offset?}      -> {items: [{id, score}], total, offset}
 * Book objects are pre-rendered JSON lines (bookmeta.h), spliced into the reply without
 * re-encoding; an id with no book (out of range, a gap) gives null. */
#include "roles.h"

#include "bookrec/bookmeta.h"
#include "bookrec/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOKS_MAX_IDS 500

struct meta_model {
    br_bookmeta *books;
    br_npy popular, scores;
    size_t n_items;
};

static void meta_free(void *p)
{
    struct meta_model *m = p;
    if (!m)
        return;
    br_bookmeta_free(m->books);
    br_npy_close(&m->popular);
    br_npy_close(&m->scores);
    free(m);
}

static int meta_load(const char *vdir, const json_t *man, void **out, char *err, size_t errcap)
{
    char path[4096];
    struct meta_model *m = calloc(1, sizeof *m);
    int rc;
    if (!m)
        return BR_ENOMEM;
    m->n_items = br__role_dim(man, "n_items");
    snprintf(path, sizeof path, "%s/metadata", vdir);
    if ((rc = br_bookmeta_open(path, err, errcap, &m->books)))
        goto fail;
    if (br_bookmeta_count(m->books) > m->n_items) {
        snprintf(err, errcap, "metadata: %zu books for a catalog of %zu",
                 br_bookmeta_count(m->books), m->n_items);
        rc = BR_ECORRUPT;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/metadata/popular.npy", vdir);
    if ((rc = br_npy_open(path, &m->popular)) || m->popular.dtype != BR_NPY_I32 ||
        m->popular.cols) {
        snprintf(err, errcap, "metadata/popular.npy: not a 1-D int32 array");
        rc = rc ? rc : BR_ECORRUPT;
        goto fail;
    }
    if ((rc = br__role_npy(vdir, "metadata/popular_scores.npy", BR_NPY_F32, m->popular.rows, 0,
                           &m->scores, err, errcap)))
        goto fail;
    const int32_t *ids = m->popular.data;
    for (size_t i = 0; i < m->popular.rows; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->n_items) {
            snprintf(err, errcap, "metadata/popular.npy: id out of range");
            rc = BR_ECORRUPT;
            goto fail;
        }
    *out = m;
    return 0;
fail:
    meta_free(m);
    return rc;
}

static size_t meta_mapped(const void *p)
{
    const struct meta_model *m = p;
    return m->popular.map_len + m->scores.map_len; /* + the metadata files, not exposed */
}

static void ep_books(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"ids", NULL};
    const struct meta_model *m = p;
    char err[256];
    int32_t ids[BOOKS_MAX_IDS];
    size_t n;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_int_array(req, "ids", 1, BOOKS_MAX_IDS, 0, INT32_MAX, ids, &n, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    /* Two passes: the size, then the text. */
    size_t total = 16;
    const char *line;
    size_t len;
    for (size_t i = 0; i < n; i++)
        total += 1 + (br_bookmeta_get(m->books, ids[i], &line, &len) == 0 ? len : 4);
    char *buf = malloc(total), *w = buf;
    if (!buf) {
        br_svc_error(out, 500, "internal", "out of memory");
        return;
    }
    w += sprintf(w, "{\"books\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        if (br_bookmeta_get(m->books, ids[i], &line, &len) != 0) {
            line = "null";
            len = 4;
        }
        memcpy(w, line, len);
        w += len;
    }
    w += sprintf(w, "]}");
    out->raw = buf;
    out->raw_len = (size_t)(w - buf);
}

static void ep_popular(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"k", "offset", NULL};
    const struct meta_model *m = p;
    char err[256];
    size_t k;
    int64_t off;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_int(req, "offset", 0, 0, 1000000, 0, &off, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (br__role_k(req, out, &k))
        return;
    size_t total = m->popular.rows, from = (size_t)off < total ? (size_t)off : total;
    size_t cnt = total - from < k ? total - from : k;
    br__role_items(out, (const int32_t *)m->popular.data + from,
                   (const float *)m->scores.data + from, cnt);
    json_object_set_new(out->body, "total", json_integer((json_int_t)total));
    json_object_set_new(out->body, "offset", json_integer(off));
}

static const br_endpoint endpoints[] = {
    {"/books", ep_books},
    {"/popular", ep_popular},
};

const br_role br_role_metadata = {BR_ROLE_METADATA, meta_load, meta_free, meta_mapped,
                                  endpoints, sizeof endpoints / sizeof endpoints[0]};
