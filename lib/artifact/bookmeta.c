/* Book metadata artifact (see bookmeta.h): export from the store, zero-copy
 * reader for the metadata service.
 *
 * Design decisions:
 * 1. Lines are rendered once, at export, with jansson (compact, UTF-8 kept):
 *    the service answers POST /books by concatenating lines, so a request
 *    never touches a JSON encoder. A gap in item_idx is the line "null" so
 *    that line i is always book i and lookup is two offset reads.
 * 2. The export streams. One query per source, each ordered by item_idx
 *    (works; work_subjects by weight; editions and interactions GROUP BY
 *    item_idx, one pass each), walked together as a merge join: no per-book
 *    query, nothing held but the current line and the offsets (8 bytes per
 *    book). The cursors run concurrently on one connection, so SQLite reads
 *    them in one snapshot.
 * 3. jansson refuses invalid UTF-8, and old catalog text can hold some. Each
 *    invalid byte is replaced by U+FFFD (the field stays readable), and the
 *    field is counted in the stats. Every text field is cut at a byte limit
 *    at a character boundary (description 2000, others 512), which bounds a
 *    line below BR_BOOKMETA_MAX_LINE even if every byte needed a \u escape;
 *    the writer still checks the bound, so it never writes a file the reader
 *    would refuse.
 * 4. Offsets mark line starts, the last one the file size; the '\n' ending
 *    each line is outside it. The reader validates every offset and line
 *    (start/end byte, no inner newline, length) before returning, so get()
 *    does no checks but the range. Offsets are read with memcpy: a buffer
 *    given to br_bookmeta_parse need not be aligned. The host is assumed
 *    little-endian, as everywhere in bookrec's .npy code.
 * 5. Publishing: both files go to temp names, are fsync'd, renamed, and the
 *    directory is fsync'd. Between the two renames a reader may see a new
 *    jsonl with old offsets; the size check refuses that pair, and versions
 *    are new directories anyway (DESIGN.md §7).
 */
#include "bookrec/bookmeta.h"

#include "bookrec/error.h"
#include "bookrec/fsutil.h"
#include "bookrec/npy.h"
#include "bookrec/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

/* ---- writer ------------------------------------------------------------ */

/* Length of the valid UTF-8 character at p (the rules jansson checks: no
 * overlongs, no surrogates, nothing above U+10FFFF), 0 when invalid. */
static size_t utf8_char(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        n = 2, cp = c & 0x1F;
    else if (c < 0xF0)
        n = 3, cp = c & 0x0F;
    else if (c < 0xF5)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    return n;
}

/* Copies s into out (cap bytes at most, whole characters only), replacing
 * each invalid byte by U+FFFD. *bad / *cut are set when that happened. */
static size_t clean_text(const char *s, char *out, size_t cap, int *bad, int *cut)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0, o = 0;
    *bad = *cut = 0;
    while (i < len) {
        size_t k = utf8_char(p + i, len - i);
        const char *src = (const char *)p + i;
        size_t w = k;
        if (!k) {
            src = "\xEF\xBF\xBD";
            w = 3;
            *bad = 1;
        }
        if (o + w > cap) {
            *cut = 1;
            break;
        }
        memcpy(out + o, src, w);
        o += w;
        i += k ? k : 1;
    }
    return o;
}

struct render {
    br_bookmeta_stats *stats;
    char scratch[BR_BOOKMETA_MAX_DESC + 4];
};

/* Sets key to the cleaned text s, or null when s is NULL. */
static int set_text(struct render *r, json_t *obj, const char *key, const char *s, size_t cap)
{
    json_t *v;
    if (!s) {
        v = json_null();
    } else {
        int bad, cut;
        size_t n = clean_text(s, r->scratch, cap, &bad, &cut);
        r->stats->n_bad_utf8 += bad;
        r->stats->n_truncated += cut;
        v = json_stringn(r->scratch, n);
    }
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : BR_ENOMEM;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : BR_ENOMEM;
}

static json_t *int_or_null(br_stmt *q, int col)
{
    return br_stmt_is_null(q, col) ? json_null() : json_integer(br_stmt_int(q, col));
}

/* A cursor over one query whose first column is item_idx, ascending. */
struct cur {
    br_stmt *q;
    int row; /* 1 while a row is current */
    int64_t item;
};

static int cur_next(struct cur *c)
{
    int r = br_stmt_step(c->q);
    if (r < 0)
        return r;
    c->row = r;
    c->item = r ? br_stmt_int(c->q, 0) : 0;
    return 0;
}

/* Skips rows of items below idx (no such work): they are orphans. */
static int cur_seek(struct cur *c, int64_t idx, size_t *orphans)
{
    int rc;
    while (c->row && c->item < idx) {
        (*orphans)++;
        if ((rc = cur_next(c)))
            return rc;
    }
    return 0;
}

static const char *const queries[4] = {
    "SELECT w.item_idx, w.title, w.author, w.year, w.publisher, w.pages, w.language, "
    "w.image_url, w.description, w.has_title, s.name FROM works w "
    "LEFT JOIN subjects s ON s.subject_id = w.main_subject_id ORDER BY w.item_idx",
    "SELECT ws.item_idx, s.name FROM work_subjects ws JOIN subjects s "
    "ON s.subject_id = ws.subject_id ORDER BY ws.item_idx, ws.weight DESC, ws.subject_id",
    "SELECT item_idx, MIN(isbn13), COUNT(*) FROM editions GROUP BY item_idx ORDER BY item_idx",
    "SELECT item_idx, COUNT(*), SUM(CASE WHEN rating BETWEEN 1 AND 10 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN rating BETWEEN 1 AND 10 THEN rating ELSE 0 END) FROM interactions "
    "GROUP BY item_idx ORDER BY item_idx",
};
enum { Q_WORKS, Q_SUBJ, Q_ED, Q_INT };

/* Builds the object of the work at the current row of c[Q_WORKS], consuming
 * the other cursors' rows of that item. */
static int build(struct render *r, struct cur *c, json_t **out)
{
    br_stmt *w = c[Q_WORKS].q;
    int64_t idx = c[Q_WORKS].item;
    size_t *orph = &r->stats->n_orphans;
    int rc;
    json_t *o = json_object(), *subj = NULL;
    *out = NULL;
    if (!o)
        return BR_ENOMEM;
    if ((rc = set_new(o, "id", json_integer(idx))) ||
        (rc = set_text(r, o, "title", br_stmt_text(w, 1), BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_text(r, o, "author", br_stmt_text(w, 2), BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_new(o, "year", int_or_null(w, 3))) ||
        (rc = set_text(r, o, "publisher", br_stmt_text(w, 4), BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_new(o, "pages", int_or_null(w, 5))) ||
        (rc = set_text(r, o, "language", br_stmt_text(w, 6), BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_text(r, o, "image_url", br_stmt_text(w, 7), BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_text(r, o, "description", br_stmt_text(w, 8), BR_BOOKMETA_MAX_DESC)) ||
        (rc = set_new(o, "has_title", json_boolean(br_stmt_int(w, 9) != 0))) ||
        (rc = set_text(r, o, "main_subject", br_stmt_text(w, 10), BR_BOOKMETA_MAX_FIELD)))
        goto fail;

    /* Subjects come by weight desc: keep the first ten names. */
    if (!(subj = json_array())) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = cur_seek(&c[Q_SUBJ], idx, orph)))
        goto fail;
    while (c[Q_SUBJ].row && c[Q_SUBJ].item == idx) {
        const char *name = br_stmt_text(c[Q_SUBJ].q, 1);
        if (name && json_array_size(subj) < BR_BOOKMETA_MAX_SUBJECTS) {
            int bad, cut;
            size_t n = clean_text(name, r->scratch, BR_BOOKMETA_MAX_FIELD, &bad, &cut);
            r->stats->n_bad_utf8 += bad;
            r->stats->n_truncated += cut;
            if (json_array_append_new(subj, json_stringn(r->scratch, n)) != 0) {
                rc = BR_ENOMEM;
                goto fail;
            }
        }
        if ((rc = cur_next(&c[Q_SUBJ])))
            goto fail;
    }
    rc = set_new(o, "subjects", subj);
    subj = NULL;
    if (rc)
        goto fail;

    const char *isbn = NULL;
    int64_t n_ed = 0, n_int = 0, n_rat = 0, sum = 0;
    if ((rc = cur_seek(&c[Q_ED], idx, orph)))
        goto fail;
    if (c[Q_ED].row && c[Q_ED].item == idx) {
        isbn = br_stmt_text(c[Q_ED].q, 1); /* valid until the cursor moves */
        n_ed = br_stmt_int(c[Q_ED].q, 2);
    }
    if ((rc = set_text(r, o, "isbn13", isbn, BR_BOOKMETA_MAX_FIELD)) ||
        (rc = set_new(o, "n_editions", json_integer(n_ed))))
        goto fail;
    if (c[Q_ED].row && c[Q_ED].item == idx && (rc = cur_next(&c[Q_ED])))
        goto fail;

    if ((rc = cur_seek(&c[Q_INT], idx, orph)))
        goto fail;
    if (c[Q_INT].row && c[Q_INT].item == idx) {
        n_int = br_stmt_int(c[Q_INT].q, 1);
        n_rat = br_stmt_int(c[Q_INT].q, 2);
        sum = br_stmt_int(c[Q_INT].q, 3);
        if ((rc = cur_next(&c[Q_INT])))
            goto fail;
    }
    if ((rc = set_new(o, "n_ratings", json_integer(n_rat))) ||
        (rc = set_new(o, "n_interactions", json_integer(n_int))) ||
        (rc = set_new(o, "avg_rating",
                      n_rat > 0 ? json_real((double)sum / (double)n_rat) : json_null())))
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(subj);
    json_decref(o);
    return rc;
}

struct out {
    FILE *f;
    uint64_t pos;
    br_vec offsets; /* int64 line starts */
};

static int put_line(struct out *o, const char *s, size_t len)
{
    int64_t start = (int64_t)o->pos;
    if (!br_vec_push(&o->offsets, &start))
        return o->offsets.n >= o->offsets.limit ? BR_ELIMIT : BR_ENOMEM;
    if (fwrite(s, 1, len, o->f) != len || fputc('\n', o->f) == EOF)
        return BR_EIO;
    o->pos += len + 1;
    return 0;
}

#define RENDER_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))

int br_bookmeta_export_stats(br_store *st, const char *dir, br_bookmeta_stats *stats, char *err,
                             size_t errcap)
{
    char tmp_j[PATH_CAP], tmp_o[PATH_CAP], fin_j[PATH_CAP], fin_o[PATH_CAP];
    br_bookmeta_stats local;
    struct cur c[4];
    struct out o = {0};
    struct render *r = NULL;
    char *line = NULL;
    size_t line_cap = 4096;
    int rc = 0, made_tmp = 0;
    struct stat sb;

    memset(c, 0, sizeof c);
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (err && errcap)
        err[0] = 0;
    br_vec_init(&o.offsets, sizeof(int64_t), (size_t)BR_BOOKMETA_MAX_ITEMS + 1);
    if (!st || !dir)
        return br_errf(err, errcap, BR_EINVAL, "bookmeta export: no store or directory");
    int pid = (int)getpid();
    if (snprintf(tmp_j, PATH_CAP, "%s/." BR_BOOKMETA_JSONL ".tmp.%d", dir, pid) >= PATH_CAP ||
        snprintf(tmp_o, PATH_CAP, "%s/." BR_BOOKMETA_OFFSETS ".tmp.%d", dir, pid) >= PATH_CAP ||
        snprintf(fin_j, PATH_CAP, "%s/" BR_BOOKMETA_JSONL, dir) >= PATH_CAP ||
        snprintf(fin_o, PATH_CAP, "%s/" BR_BOOKMETA_OFFSETS, dir) >= PATH_CAP)
        return br_errf(err, errcap, BR_ELIMIT, "bookmeta export: path too long: %s", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return br_errf(err, errcap, errno == ENOENT ? BR_ENOENT : BR_EIO,
                       "bookmeta export: cannot create %s: %s", dir, strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return br_errf(err, errcap, BR_EIO, "bookmeta export: %s is not a directory", dir);

    r = malloc(sizeof *r);
    line = malloc(line_cap);
    if (!r || !line) {
        rc = br_errf(err, errcap, BR_ENOMEM, "bookmeta export: out of memory");
        goto fail;
    }
    r->stats = stats;
    for (int i = 0; i < 4; i++) {
        if ((rc = br_store_prepare(st, queries[i], &c[i].q)) || (rc = cur_next(&c[i]))) {
            br_errf(err, errcap, rc, "bookmeta export: query failed: %s", br_store_errmsg(st));
            goto fail;
        }
    }
    o.f = fopen(tmp_j, "wb");
    if (!o.f) {
        rc = br_errf(err, errcap, BR_EIO, "bookmeta export: cannot write %s: %s", tmp_j,
                     strerror(errno));
        goto fail;
    }
    made_tmp = 1;
    setvbuf(o.f, NULL, _IOFBF, 1 << 20);

    int64_t next = 0; /* the next line to write */
    while (c[Q_WORKS].row) {
        int64_t idx = c[Q_WORKS].item;
        json_t *obj;
        if (idx < 0) { /* cannot be a line */
            stats->n_orphans++;
            if ((rc = cur_next(&c[Q_WORKS])))
                goto store_fail;
            continue;
        }
        if (idx >= (int64_t)BR_BOOKMETA_MAX_ITEMS) {
            rc = br_errf(err, errcap, BR_ELIMIT, "bookmeta export: item_idx %lld over the limit",
                         (long long)idx);
            goto fail;
        }
        for (; next < idx; next++) {
            if ((rc = put_line(&o, "null", 4)))
                goto io_fail;
            stats->n_null++;
        }
        if ((rc = build(r, c, &obj)))
            goto store_fail;
        size_t need = json_dumpb(obj, line, line_cap, RENDER_FLAGS);
        if (need > line_cap && need <= BR_BOOKMETA_MAX_LINE) {
            char *bigger = realloc(line, BR_BOOKMETA_MAX_LINE);
            if (!bigger) {
                json_decref(obj);
                rc = br_errf(err, errcap, BR_ENOMEM, "bookmeta export: out of memory");
                goto fail;
            }
            line = bigger;
            line_cap = BR_BOOKMETA_MAX_LINE;
            need = json_dumpb(obj, line, line_cap, RENDER_FLAGS);
        }
        json_decref(obj);
        if (need == 0 || need > BR_BOOKMETA_MAX_LINE) {
            rc = br_errf(err, errcap, need ? BR_ELIMIT : BR_ENOMEM,
                         "bookmeta export: book %lld does not render in %d bytes", (long long)idx,
                         BR_BOOKMETA_MAX_LINE);
            goto fail;
        }
        if ((rc = put_line(&o, line, need)))
            goto io_fail;
        stats->n_works++;
        next = idx + 1;
        if ((rc = cur_next(&c[Q_WORKS])))
            goto store_fail;
    }
    for (int i = 1; i < 4; i++) /* the rest belong to no work */
        while (c[i].row) {
            stats->n_orphans++;
            if ((rc = cur_next(&c[i])))
                goto store_fail;
        }
    for (int i = 0; i < 4; i++) {
        br_stmt_free(c[i].q);
        c[i].q = NULL;
    }
    stats->n_items = (size_t)next;
    stats->jsonl_bytes = o.pos;
    int64_t end = (int64_t)o.pos;
    if (!br_vec_push(&o.offsets, &end)) {
        rc = br_errf(err, errcap, BR_ENOMEM, "bookmeta export: out of memory");
        goto fail;
    }
    if (fflush(o.f) != 0 || ferror(o.f) || fsync(fileno(o.f)) != 0) {
        rc = BR_EIO;
        goto io_fail;
    }
    int cl = fclose(o.f);
    o.f = NULL;
    if (cl != 0) {
        rc = BR_EIO;
        goto io_fail;
    }
    if ((rc = br_npy_write(tmp_o, BR_NPY_I64, o.offsets.data, o.offsets.n, 0))) {
        br_errf(err, errcap, rc, "bookmeta export: cannot write %s", tmp_o);
        goto fail;
    }
    if (rename(tmp_j, fin_j) != 0 || rename(tmp_o, fin_o) != 0 || br_fsync_dir(dir) != 0) {
        rc = BR_EIO;
        goto io_fail;
    }
    made_tmp = 0;
    goto done;

store_fail:
    if (rc != BR_ENOMEM)
        br_errf(err, errcap, rc, "bookmeta export: query failed: %s", br_store_errmsg(st));
    else
        br_errf(err, errcap, rc, "bookmeta export: out of memory");
    goto fail;
io_fail:
    if (rc == BR_EIO)
        br_errf(err, errcap, rc, "bookmeta export: writing in %s failed: %s", dir, strerror(errno));
    else
        br_errf(err, errcap, rc, "bookmeta export: %s", br_strerror(rc));
fail:
done:
    for (int i = 0; i < 4; i++)
        br_stmt_free(c[i].q);
    if (o.f)
        fclose(o.f);
    if (made_tmp) {
        unlink(tmp_j);
        unlink(tmp_o);
    }
    br_vec_free(&o.offsets);
    free(line);
    free(r);
    return rc;
}

int br_bookmeta_export(br_store *st, const char *dir, size_t *n_items_out, char *err, size_t errcap)
{
    br_bookmeta_stats s;
    int rc = br_bookmeta_export_stats(st, dir, &s, err, errcap);
    if (n_items_out)
        *n_items_out = rc ? 0 : s.n_items;
    return rc;
}

/* ---- reader ------------------------------------------------------------ */

struct br_bookmeta {
    const char *jsonl;
    size_t jsonl_len;
    const unsigned char *off; /* n+1 int64, maybe unaligned */
    size_t n;
    void *jsonl_map; /* when opened from files */
    size_t jsonl_map_len;
    br_npy npy; /* owns its mapping when opened from a file */
};

static int64_t off_at(const br_bookmeta *m, size_t i)
{
    int64_t v;
    memcpy(&v, m->off + i * 8, 8);
    return v;
}

/* Every check of bookmeta.h, cheapest first; names the first failure. */
static int validate(br_bookmeta *m, char *err, size_t errcap)
{
    const br_npy *arr = &m->npy;
    if (arr->dtype != BR_NPY_I64 || arr->cols != 0)
        return br_errf(err, errcap, BR_EFORMAT, "offsets: not a 1-D int64 array");
    if (arr->rows == 0)
        return br_errf(err, errcap, BR_ECORRUPT, "offsets: empty (need n+1 entries)");
    m->n = arr->rows - 1;
    m->off = arr->data;
    if (off_at(m, 0) != 0)
        return br_errf(err, errcap, BR_ECORRUPT, "offsets: first is not 0");
    int64_t last = off_at(m, m->n);
    if (last < 0 || (uint64_t)last != (uint64_t)m->jsonl_len)
        return br_errf(err, errcap, BR_ECORRUPT, "offsets: last is %lld, books.jsonl has %zu bytes",
                       (long long)last, m->jsonl_len);
    /* The offsets alone first, then each line's bytes. */
    for (size_t i = 0; i < m->n; i++) {
        int64_t a = off_at(m, i), b = off_at(m, i + 1);
        if (b <= a || b > last)
            return br_errf(err, errcap, BR_ECORRUPT, "offsets: entry %zu is not increasing", i + 1);
    }
    for (size_t i = 0; i < m->n; i++) {
        int64_t a = off_at(m, i), b = off_at(m, i + 1);
        size_t len = (size_t)(b - a) - 1;
        const char *s = m->jsonl + a;
        if (len > BR_BOOKMETA_MAX_LINE)
            return br_errf(err, errcap, BR_ELIMIT, "line %zu: %zu bytes, over the limit", i, len);
        if (s[len] != '\n')
            return br_errf(err, errcap, BR_ECORRUPT, "line %zu: does not end in a newline", i);
        if (!(len == 4 && !memcmp(s, "null", 4)) && !(len >= 2 && s[0] == '{' && s[len - 1] == '}'))
            return br_errf(err, errcap, BR_ECORRUPT, "line %zu: neither an object nor null", i);
        if (memchr(s, '\n', len))
            return br_errf(err, errcap, BR_ECORRUPT, "line %zu: holds a newline", i);
    }
    return 0;
}

int br_bookmeta_parse(const void *jsonl, size_t jsonl_len, const void *offsets_npy, size_t npy_len,
                      char *err, size_t errcap, br_bookmeta **out)
{
    int rc;
    br_bookmeta *m;
    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if ((!jsonl && jsonl_len) || !offsets_npy)
        return br_errf(err, errcap, BR_EINVAL, "bookmeta: no buffer");
    if (!(m = calloc(1, sizeof *m)))
        return br_errf(err, errcap, BR_ENOMEM, "bookmeta: out of memory");
    m->jsonl = jsonl_len ? jsonl : "";
    m->jsonl_len = jsonl_len;
    if ((rc = br_npy_parse(offsets_npy, npy_len, &m->npy))) {
        br_errf(err, errcap, rc, "offsets: not a valid .npy (%s)", br_strerror(rc));
        goto fail;
    }
    if ((rc = validate(m, err, errcap)))
        goto fail;
    *out = m;
    return 0;
fail:
    free(m);
    return rc;
}

int br_bookmeta_open(const char *dir, char *err, size_t errcap, br_bookmeta **out)
{
    char pj[PATH_CAP], po[PATH_CAP];
    br_bookmeta *m = NULL;
    struct stat sb;
    int rc, fd = -1;
    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (!dir)
        return br_errf(err, errcap, BR_EINVAL, "bookmeta: no directory");
    if (snprintf(pj, PATH_CAP, "%s/" BR_BOOKMETA_JSONL, dir) >= PATH_CAP ||
        snprintf(po, PATH_CAP, "%s/" BR_BOOKMETA_OFFSETS, dir) >= PATH_CAP)
        return br_errf(err, errcap, BR_ELIMIT, "bookmeta: path too long: %s", dir);
    if (!(m = calloc(1, sizeof *m)))
        return br_errf(err, errcap, BR_ENOMEM, "bookmeta: out of memory");
    fd = open(pj, O_RDONLY);
    if (fd < 0) {
        rc = br_errf(err, errcap, errno == ENOENT ? BR_ENOENT : BR_EIO, "%s: %s", pj,
                     strerror(errno));
        goto fail;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = br_errf(err, errcap, BR_EIO, "%s: not a regular file", pj);
        goto fail;
    }
    m->jsonl_len = (size_t)sb.st_size;
    m->jsonl = "";
    if (m->jsonl_len) {
        /* Validation reads every page; one populate beats a fault per page. */
        void *map = mmap(NULL, m->jsonl_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = br_errf(err, errcap, BR_EIO, "%s: mmap: %s", pj, strerror(errno));
            goto fail;
        }
        m->jsonl_map = map;
        m->jsonl_map_len = m->jsonl_len;
        m->jsonl = map;
    }
    close(fd);
    fd = -1;
    if ((rc = br_npy_open(po, &m->npy))) {
        br_errf(err, errcap, rc, "%s: %s", po, br_strerror(rc));
        goto fail;
    }
    if ((rc = validate(m, err, errcap)))
        goto fail;
    *out = m;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    br_bookmeta_free(m);
    return rc;
}

size_t br_bookmeta_count(const br_bookmeta *m)
{
    return m ? m->n : 0;
}

int br_bookmeta_get(const br_bookmeta *m, int64_t id, const char **json, size_t *len)
{
    if (!m || !json || !len)
        return BR_EINVAL;
    *json = NULL;
    *len = 0;
    if (id < 0 || (uint64_t)id >= (uint64_t)m->n)
        return BR_ENOENT;
    int64_t a = off_at(m, (size_t)id), b = off_at(m, (size_t)id + 1);
    const char *s = m->jsonl + a;
    if (s[0] == 'n') /* validated: a line starting with 'n' is "null" */
        return BR_ENOENT;
    *json = s;
    *len = (size_t)(b - a) - 1;
    return 0;
}

void br_bookmeta_free(br_bookmeta *m)
{
    if (!m)
        return;
    if (m->jsonl_map)
        munmap(m->jsonl_map, m->jsonl_map_len);
    br_npy_close(&m->npy);
    free(m);
}
