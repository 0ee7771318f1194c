/* Import, phase 2: recognize each source and parse it into staging.
 *
 * Design decisions:
 * 1. A source is a file or a directory. A file's format is named by the user
 *    ("bx-ratings=PATH") or recognized from its header; a directory is read by
 *    its known layout (Book-Crossing, goodbooks-10k, descriptions, Open
 *    Library, demo data). Formats are listed in docs/data.md.
 * 2. Columns are found by header name, not position, so re-uploads with extra
 *    or reordered columns read the same. Headerless original files (a slice of
 *    BX-Book-Ratings.csv) are recognized by their shape.
 * 3. Nothing is dropped silently: every row that is not used is counted under
 *    a reason ("rating_isbn_asin_like"), every repaired field under "cleaned".
 * 4. Parsing does not resolve anything: editions, metadata works, tags and
 *    ratings are staged, and import_resolve.c joins them once all are read, so
 *    the order of the sources on the command line does not matter.
 */
#include "import_internal.h"

#include "bookrec/csv.h"
#include "bookrec/error.h"
#include "bookrec/isbn.h"
#include "bookrec/log.h"
#include "bookrec/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum fmt {
    F_UNKNOWN,
    F_GB_TAGS,
    F_GB_BOOKS,
    F_OL_SEARCH,
    F_OL_WORKS,
    F_OL_DUMP,
    F_GENERIC_BOOKS,
    F_DESCRIPTIONS,
    F_BX_BOOKS,
    F_GB_BOOK_TAGS,
    F_GENERIC_SUBJECTS,
    F_BX_USERS,
    F_BX_RATINGS,
    F_GENERIC_RATINGS,
    F__COUNT
};

static const char *const fmt_names[F__COUNT] = {
    "unknown",        "gb-tags",          "gb-books",  "ol-search",   "ol-works",
    "ol-dump",        "generic-books",    "descriptions", "bx-books", "gb-book-tags",
    "generic-subjects", "bx-users",       "bx-ratings", "generic-ratings",
};

const char *br_import_formats(void)
{
    return "bx-users bx-books bx-ratings gb-books gb-tags gb-book-tags descriptions ol-works "
           "ol-search ol-dump generic-books generic-subjects generic-ratings";
}

/* ---- small parsing helpers ---------------------------------------------- */

static int col(const br_csv_row *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++) {
        const char *f = h->fields[i];
        size_t n = h->lens[i];
        while (n && (*f == ' ' || *f == '"')) /* BOM is skipped by the reader */
            f++, n--;
        while (n && (f[n - 1] == ' ' || f[n - 1] == '"'))
            n--;
        if (br_streq_ci(f, n, name))
            return (int)i;
    }
    return -1;
}

static const char *fld(const br_csv_row *r, int c)
{
    return c >= 0 && (size_t)c < r->nfields ? r->fields[c] : "";
}

static size_t fld_len(const br_csv_row *r, int c)
{
    return c >= 0 && (size_t)c < r->nfields ? r->lens[c] : 0;
}

static int is_null_text(const char *s, size_t n)
{
    return n == 0 || br_streq_ci(s, n, "NULL") || br_streq_ci(s, n, "NA") ||
           br_streq_ci(s, n, "nan") || br_streq_ci(s, n, "n/a");
}

/* Strict integer (optionally "12.0" from a float column). */
static int parse_int(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf)
        return -1;
    if (*end == '.') { /* "18.0" */
        end++;
        while (*end == '0')
            end++;
    }
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* Cleaned copy of a text field: HTML entities decoded, whitespace squashed.
 * NULL for an empty or NULL-ish value. */
static const char *clean_text(br__import *im, const char *s, size_t n)
{
    char buf[8192];
    if (is_null_text(s, n))
        return NULL;
    if (n >= sizeof buf)
        n = sizeof buf - 1; /* display fields only: a cut is better than a reject */
    memcpy(buf, s, n);
    buf[n] = 0;
    n = br_html_unescape(buf, n);
    n = br_text_squash(buf, n);
    if (n == 0)
        return NULL;
    return br__imp_str(im, buf, n);
}

/* Authors from upper- or lower-cased sources ("JOHN SAUL", "john saul") get
 * title case; mixed case is kept as written ("J.R.R. Tolkien", "McCarthy"). */
static const char *clean_author(br__import *im, const char *s, size_t n)
{
    const char *t = clean_text(im, s, n);
    if (!t)
        return NULL;
    int upper = 0, lower = 0;
    for (const char *p = t; *p; p++) {
        upper += isupper((unsigned char)*p) != 0;
        lower += islower((unsigned char)*p) != 0;
    }
    if (upper && lower)
        return t;
    char *c = (char *)t; /* our own arena copy */
    int start = 1;
    for (char *p = c; *p; p++) {
        if (isalpha((unsigned char)*p)) {
            *p = (char)(start ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
            start = 0;
        } else if (!((unsigned char)*p & 0x80)) {
            start = *p == ' ' || *p == '.' || *p == '-' || *p == '\'';
        }
    }
    br__imp_clean(im, "author_case_fixed", 1);
    return c;
}

/* A publication year, or 0 when unknown: Book-Crossing writes 0 for unknown
 * and has author names shifted into the year column. */
static int32_t clean_year(br__import *im, const char *s, size_t n)
{
    int64_t y;
    static int32_t this_year;
    if (!this_year) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        this_year = (int32_t)tm.tm_year + 1900;
    }
    if (is_null_text(s, n))
        return 0;
    if (parse_int(s, n, &y) != 0) {
        br__imp_clean(im, "year_not_a_number", 1);
        return 0;
    }
    if (y == 0)
        return 0;
    if (y < -3000 || y > this_year + 1) {
        br__imp_clean(im, "year_out_of_range", 1);
        return 0;
    }
    return (int32_t)y;
}

/* prefix NULL: a fallback column tried quietly (the primary one was counted). */
static int normalize_isbn(br__import *im, const char *prefix, const char *s, size_t n,
                          char out[14])
{
    int flags = 0;
    br_isbn_reason why = br_isbn_normalize(s, n, out, &flags);
    if (why != BR_ISBN_OK && !prefix)
        return -1;
    if (why != BR_ISBN_OK) {
        char reason[96];
        snprintf(reason, sizeof reason, "%s_%s", prefix, br_isbn_reason_name(why));
        br__imp_reject(im, reason, 1);
        return -1;
    }
    if (flags & BR_ISBN_F_ZERO_PADDED)
        br__imp_clean(im, "isbn_zero_padding_restored", 1);
    return 0;
}

/* For rows that are kept without their ISBN (metadata works): a bad ISBN is
 * a repair, not a rejected row. */
static int isbn_of_kept_row(br__import *im, const char *prefix, const char *s, size_t n,
                            char out[14])
{
    int flags = 0;
    br_isbn_reason why = br_isbn_normalize(s, n, out, &flags);
    if (why != BR_ISBN_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s_isbn_dropped_%s", prefix, br_isbn_reason_name(why));
        br__imp_clean(im, what, 1);
        return -1;
    }
    if (flags & BR_ISBN_F_ZERO_PADDED)
        br__imp_clean(im, "isbn_zero_padding_restored", 1);
    return 0;
}

static const char *https_url(br__import *im, const char *s, size_t n)
{
    if (is_null_text(s, n) || strstr(s, "nophoto") || strstr(s, "avatar_book"))
        return NULL;
    if (n > 2 && s[0] == '/' && s[1] == '/') {
        char buf[1024];
        snprintf(buf, sizeof buf, "https:%.*s", (int)n, s);
        return br__imp_str(im, buf, strlen(buf));
    }
    return clean_text(im, s, n);
}

/* ---- staging ------------------------------------------------------------ */

static int64_t mwork_get(br__import *im, const char *key, const char *ext_source,
                         const char *ext_id, int prio)
{
    int64_t i;
    if (br_strmap_get(im->mwork_by_key, key, &i))
        return i;
    struct br__mwork m = {0};
    m.key = br__imp_str(im, key, strlen(key));
    m.ext_source = ext_source;
    m.ext_id = br__imp_str(im, ext_id, strlen(ext_id));
    m.prio = prio;
    m.work = -1;
    i = (int64_t)im->mworks.n;
    if (!m.key || !m.ext_id || !br_vec_push(&im->mworks, &m) || br_strmap_put(im->mwork_by_key, key, i))
        return -1;
    return i;
}

/* Fills the fields a metadata record has that the work lacks. */
static void mwork_fill(struct br__mwork *m, const char *title, const char *author, int32_t year,
                       const char *publisher, const char *image, int32_t pages)
{
    if (!m->title)
        m->title = title;
    if (!m->author)
        m->author = author;
    if (!m->year)
        m->year = year;
    if (!m->publisher)
        m->publisher = publisher;
    if (!m->image_url)
        m->image_url = image;
    if (!m->pages)
        m->pages = pages;
}

static int map_isbn(br__import *im, const char *isbn13, int64_t mwork)
{
    int64_t have;
    if (br_strmap_get(im->mwork_by_isbn, isbn13, &have))
        return 0; /* the first (highest-priority) source keeps it */
    return br_strmap_put(im->mwork_by_isbn, isbn13, mwork);
}

static int stage_edition(br__import *im, const char *isbn13, const char *title, const char *author,
                         int32_t year, const char *publisher, const char *image,
                         const char *description, int32_t pages, const char *source, int prio)
{
    struct br__sedition e = {0};
    memcpy(e.isbn13, isbn13, 14);
    e.title = title;
    e.author = author;
    e.year = year;
    e.publisher = publisher;
    e.image_url = image;
    e.description = description;
    e.pages = pages;
    e.source = source;
    e.prio = prio;
    e.mwork = -1;
    return br_vec_push(&im->seditions, &e) ? 0 : BR_ENOMEM;
}

static int stage_tag(br__import *im, int64_t mwork, int64_t item, const char *isbn13,
                     const char *tag, size_t len, double weight, const char *source)
{
    struct br__stag t = {0};
    t.mwork = mwork;
    t.item = item;
    if (isbn13)
        memcpy(t.isbn13, isbn13, 14);
    t.tag = br__imp_str(im, tag, len);
    t.weight = weight;
    t.source = source;
    return t.tag && br_vec_push(&im->stags, &t) ? 0 : BR_ENOMEM;
}

/* Splits a list of subjects ("Fiction, Romance, Historical") into tags. */
static int stage_tag_list(br__import *im, int64_t mwork, const char *isbn13, const char *s,
                          size_t n, char sep, const char *source)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != sep)
            j++;
        size_t a = i, b = j;
        while (a < b && (s[a] == ' ' || s[a] == '[' || s[a] == '\'' || s[a] == '"'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == ']' || s[b - 1] == '\'' || s[b - 1] == '"'))
            b--;
        if (b > a) {
            int rc = stage_tag(im, mwork, -1, isbn13, s + a, b - a, 1.0, source);
            if (rc)
                return rc;
        }
        i = j + 1;
    }
    return 0;
}

/* ---- formats ------------------------------------------------------------ */

struct src {
    const char *path, *name;
    enum fmt fmt;
    br_csv *csv;
    br_csv_row hdr;
    int have_hdr; /* 0: the first row is data (headerless original slices) */
    uint64_t rows, used;
    br_progress prog;
};

static int next_row(br__import *im, struct src *s, br_csv_row *r)
{
    for (;;) {
        int rc = br_csv_next(s->csv, r);
        if (rc == BR_ELIMIT) {
            br__imp_reject(im, "csv_record_over_limit", 1);
            continue;
        }
        if (rc < 0)
            return br__imp_errorf(im, rc, "%s: read error", s->path);
        if (rc == 0)
            return 0;
        if (r->nfields == 1 && r->lens[0] == 0)
            continue; /* blank line */
        if (++s->rows > im->o->max_rows)
            return br__imp_errorf(im, BR_ELIMIT, "%s: more than %llu rows (import.max_rows)",
                                  s->path, (unsigned long long)im->o->max_rows);
        im->rows_read++;
        br_progress_update(&s->prog, s->rows);
        return 1;
    }
}

static int parse_bx_users(br__import *im, struct src *s)
{
    br_csv_row r;
    int cu = col(&s->hdr, "User-ID"), cl = col(&s->hdr, "Location"), ca = col(&s->hdr, "Age");
    int rc;
    if (cu < 0 || cl < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing User-ID/Location columns", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t uid, slot;
        if (parse_int(fld(&r, cu), fld_len(&r, cu), &uid) != 0 || uid <= 0) {
            br__imp_reject(im, "user_id_invalid", 1);
            continue;
        }
        char ext[24];
        snprintf(ext, sizeof ext, "%lld", (long long)uid);
        if ((rc = br__imp_user_slot(im, "bx", ext, 1, &slot)))
            return rc;
        struct br__user *u = &br_vec_at(&im->users, struct br__user, slot);
        if (u->location && !u->in_db) {
            br__imp_reject(im, "user_duplicate", 1);
            continue;
        }
        const char *loc = clean_text(im, fld(&r, cl), fld_len(&r, cl));
        const char *country = NULL;
        if (loc) {
            const char *c = strrchr(loc, ',');
            c = c ? c + 1 : loc;
            while (*c == ' ')
                c++;
            size_t n = strlen(c);
            while (n && (c[n - 1] == '.' || c[n - 1] == ' '))
                n--;
            if (n && !is_null_text(c, n) && n < 64 && !strchr(c, '"'))
                country = br__imp_str(im, c, n);
        }
        if (!country)
            br__imp_clean(im, "country_unknown", 1);
        int32_t age = -1;
        int64_t a;
        const char *af = fld(&r, ca);
        size_t an = fld_len(&r, ca);
        if (!is_null_text(af, an)) {
            if (parse_int(af, an, &a) != 0 || a < im->o->min_age || a > im->o->max_age)
                br__imp_clean(im, "age_implausible_set_null", 1);
            else
                age = (int32_t)a;
        }
        static const struct {
            int upto;
            const char *name;
        } groups[] = {{17, "under-18"}, {24, "18-24"}, {34, "25-34"}, {44, "35-44"},
                      {54, "45-54"},    {64, "55-64"}, {1000, "65+"}};
        const char *group = NULL;
        for (size_t g = 0; age >= 0 && g < sizeof groups / sizeof groups[0]; g++)
            if (age <= groups[g].upto) {
                group = groups[g].name;
                break;
            }
        int changed = !u->location || !loc || strcmp(u->location, loc) || u->age != age;
        if (u->in_db && !changed) {
            s->used++;
            continue;
        }
        u->location = loc ? loc : "";
        u->country = country;
        u->age = age;
        u->age_group = group;
        u->dirty = 1;
        s->used++;
    }
    return rc;
}

static int parse_bx_books(br__import *im, struct src *s)
{
    br_csv_row r;
    int ci, ct, ca, cy, cp, cs, cm, cL;
    int rc;
    if (col(&s->hdr, "0") == 0 && col(&s->hdr, "7") == 7) { /* Grode23's "0;1;...;7" header */
        ci = 0, ct = 1, ca = 2, cy = 3, cp = 4, cs = 5, cm = 6, cL = 7;
    } else {
        ci = col(&s->hdr, "ISBN"), ct = col(&s->hdr, "Book-Title"), ca = col(&s->hdr, "Book-Author");
        cy = col(&s->hdr, "Year-Of-Publication"), cp = col(&s->hdr, "Publisher");
        cs = col(&s->hdr, "Image-URL-S"), cm = col(&s->hdr, "Image-URL-M");
        cL = col(&s->hdr, "Image-URL-L");
    }
    if (ci < 0 || ct < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing ISBN/Book-Title columns", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        char isbn[14];
        if (normalize_isbn(im, "book", fld(&r, ci), fld_len(&r, ci), isbn) != 0)
            continue;
        const char *img = https_url(im, fld(&r, cL), fld_len(&r, cL));
        if (!img)
            img = https_url(im, fld(&r, cm), fld_len(&r, cm));
        if (!img)
            img = https_url(im, fld(&r, cs), fld_len(&r, cs));
        if ((rc = stage_edition(im, isbn, clean_text(im, fld(&r, ct), fld_len(&r, ct)),
                                clean_author(im, fld(&r, ca), fld_len(&r, ca)),
                                clean_year(im, fld(&r, cy), fld_len(&r, cy)),
                                clean_text(im, fld(&r, cp), fld_len(&r, cp)), img, NULL, 0, "bx",
                                20)))
            return rc;
        s->used++;
    }
    return rc;
}

static int stage_rating(br__import *im, const char *usource, const char *uext, const char *isbn13,
                        int64_t mwork, int64_t item, int64_t rating, int64_t ts,
                        const char *source)
{
    int64_t slot;
    int rc = br__imp_user_slot(im, usource, uext, 1, &slot);
    if (rc)
        return rc;
    struct br__srating x = {0};
    x.user = slot;
    x.mwork = mwork;
    x.item = item;
    if (isbn13)
        memcpy(x.isbn13, isbn13, 14);
    x.rating = (int16_t)rating;
    x.ts = ts;
    x.source = source;
    return br_vec_push(&im->sratings, &x) ? 0 : BR_ENOMEM;
}

static int parse_rating_value(br__import *im, const char *s, size_t n, int64_t *v)
{
    if (parse_int(s, n, v) != 0) {
        br__imp_reject(im, "rating_not_a_number", 1);
        return -1;
    }
    if (*v < 0 || *v > 10) {
        br__imp_reject(im, "rating_out_of_range", 1);
        return -1;
    }
    return 0;
}

static int parse_bx_ratings(br__import *im, struct src *s)
{
    br_csv_row r;
    int cu = 0, ci = 1, cr = 2, rc;
    if (s->have_hdr) {
        cu = col(&s->hdr, "User-ID"), ci = col(&s->hdr, "ISBN");
        cr = col(&s->hdr, "Book-Rating");
        if (cr < 0)
            cr = col(&s->hdr, "Rating");
        if (cu < 0 || ci < 0 || cr < 0)
            return br__imp_errorf(im, BR_EFORMAT, "%s: missing User-ID/ISBN/Book-Rating", s->path);
    }
    for (int first = !s->have_hdr;; first = 0) {
        if (first)
            r = s->hdr, rc = 1;
        else if ((rc = next_row(im, s, &r)) != 1)
            break;
        int64_t uid, v;
        char isbn[14];
        if (parse_int(fld(&r, cu), fld_len(&r, cu), &uid) != 0 || uid <= 0) {
            br__imp_reject(im, "rating_user_id_invalid", 1);
            continue;
        }
        if (parse_rating_value(im, fld(&r, cr), fld_len(&r, cr), &v) != 0)
            continue;
        if (normalize_isbn(im, "rating", fld(&r, ci), fld_len(&r, ci), isbn) != 0)
            continue;
        char ext[24];
        snprintf(ext, sizeof ext, "%lld", (long long)uid);
        if ((rc = stage_rating(im, "bx", ext, isbn, -1, -1, v, 0, "bx")))
            return rc;
        s->used++;
    }
    return rc;
}

static int parse_gb_books(br__import *im, struct src *s)
{
    br_csv_row r;
    int cb = col(&s->hdr, "goodreads_book_id"), cw = col(&s->hdr, "work_id");
    int ci = col(&s->hdr, "isbn"), c13 = col(&s->hdr, "isbn13"), ca = col(&s->hdr, "authors");
    int cy = col(&s->hdr, "original_publication_year"), cot = col(&s->hdr, "original_title");
    int ct = col(&s->hdr, "title"), cl = col(&s->hdr, "language_code");
    int cimg = col(&s->hdr, "image_url"), rc;
    if (cb < 0 || cw < 0 || ct < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing goodreads_book_id/work_id/title",
                              s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t wid, bid;
        if (parse_int(fld(&r, cw), fld_len(&r, cw), &wid) || parse_int(fld(&r, cb), fld_len(&r, cb), &bid)) {
            br__imp_reject(im, "gb_book_id_invalid", 1);
            continue;
        }
        char key[64], ext[24], bext[24];
        snprintf(key, sizeof key, "goodreads:%lld", (long long)wid);
        snprintf(ext, sizeof ext, "%lld", (long long)wid);
        snprintf(bext, sizeof bext, "%lld", (long long)bid);
        int64_t m = mwork_get(im, key, "goodreads_work", ext, 90);
        if (m < 0)
            return BR_ENOMEM;
        struct br__mwork *mw = &br_vec_at(&im->mworks, struct br__mwork, m);
        mw->ext_source2 = "goodreads_book";
        mw->ext_id2 = br__imp_str(im, bext, strlen(bext));
        const char *title = clean_text(im, fld(&r, ct), fld_len(&r, ct));
        mwork_fill(mw, title, clean_author(im, fld(&r, ca), fld_len(&r, ca)),
                   clean_year(im, fld(&r, cy), fld_len(&r, cy)), NULL,
                   https_url(im, fld(&r, cimg), fld_len(&r, cimg)), 0);
        if (!mw->alt_title)
            mw->alt_title = clean_text(im, fld(&r, cot), fld_len(&r, cot));
        if (!mw->language)
            mw->language = clean_text(im, fld(&r, cl), fld_len(&r, cl));
        if ((rc = br_strmap_put(im->gr_book, bext, m)))
            return rc;
        /* isbn13 is float-mangled in this file; the ISBN-10 (zero-stripped) is the key. */
        char isbn[14];
        if (normalize_isbn(im, NULL, fld(&r, c13), fld_len(&r, c13), isbn) == 0 ||
            isbn_of_kept_row(im, "gb_book", fld(&r, ci), fld_len(&r, ci), isbn) == 0) {
            if ((rc = map_isbn(im, isbn, m)))
                return rc;
        }
        s->used++;
    }
    return rc;
}

static int parse_gb_tags(br__import *im, struct src *s)
{
    br_csv_row r;
    int ci = col(&s->hdr, "tag_id"), cn = col(&s->hdr, "tag_name"), rc;
    if (ci < 0 || cn < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing tag_id/tag_name", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        const char *name = br__imp_str(im, fld(&r, cn), fld_len(&r, cn));
        if (!name || !br_vec_push(&im->tag_name_vec, &name) ||
            br_strmap_putn(im->tag_names, fld(&r, ci), fld_len(&r, ci),
                           (int64_t)im->tag_name_vec.n - 1))
            return BR_ENOMEM;
        s->used++;
    }
    return rc;
}

static int parse_gb_book_tags(br__import *im, struct src *s)
{
    br_csv_row r;
    int cb = col(&s->hdr, "goodreads_book_id"), ct = col(&s->hdr, "tag_id");
    int cc = col(&s->hdr, "count"), rc;
    if (cb < 0 || ct < 0 || cc < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing goodreads_book_id/tag_id/count",
                              s->path);
    if (br_strmap_size(im->tag_names) == 0)
        return br__imp_errorf(im, BR_EINVAL, "%s: tag names unknown: import tags.csv with it",
                              s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t m = -1, item = -1, tag, count;
        if (!br_strmap_getn(im->gr_book, fld(&r, cb), fld_len(&r, cb), &m)) {
            char key[64];
            snprintf(key, sizeof key, "goodreads_book:%.*s", (int)fld_len(&r, cb) % 32, fld(&r, cb));
            if (!br_strmap_get(im->extid_to_item, key, &item)) {
                br__imp_reject(im, "tag_unknown_book", 1);
                continue;
            }
        }
        if (!br_strmap_getn(im->tag_names, fld(&r, ct), fld_len(&r, ct), &tag)) {
            br__imp_reject(im, "tag_unknown_tag_id", 1);
            continue;
        }
        if (parse_int(fld(&r, cc), fld_len(&r, cc), &count) || count <= 0) {
            br__imp_reject(im, "tag_count_invalid", 1);
            continue;
        }
        const char *name = br_vec_at(&im->tag_name_vec, const char *, tag);
        if ((rc = stage_tag(im, m, item, NULL, name, strlen(name), (double)count, "goodbooks")))
            return rc;
        s->used++;
    }
    return rc;
}

static int parse_descriptions(br__import *im, struct src *s)
{
    br_csv_row r;
    int c13 = col(&s->hdr, "isbn13"), c10 = col(&s->hdr, "isbn10"), ct = col(&s->hdr, "title");
    int ca = col(&s->hdr, "authors"), cc = col(&s->hdr, "categories");
    int ci = col(&s->hdr, "thumbnail"), cd = col(&s->hdr, "description");
    int cy = col(&s->hdr, "published_year"), cp = col(&s->hdr, "num_pages"), rc;
    if ((c13 < 0 && c10 < 0) || cd < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing isbn13/description", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        char isbn[14];
        if (normalize_isbn(im, NULL, fld(&r, c13), fld_len(&r, c13), isbn) != 0 &&
            normalize_isbn(im, "description", fld(&r, c10), fld_len(&r, c10), isbn) != 0)
            continue;
        /* Several authors are ';'-separated here. */
        char authors[1024];
        size_t an = fld_len(&r, ca) < sizeof authors - 1 ? fld_len(&r, ca) : sizeof authors - 1;
        size_t o = 0;
        for (size_t i = 0; i < an && o + 2 < sizeof authors; i++) {
            if (fld(&r, ca)[i] == ';') {
                authors[o++] = ',';
                authors[o++] = ' ';
            } else {
                authors[o++] = fld(&r, ca)[i];
            }
        }
        int64_t pages = 0;
        if (parse_int(fld(&r, cp), fld_len(&r, cp), &pages) || pages < 0 || pages > 100000)
            pages = 0;
        if ((rc = stage_edition(im, isbn, clean_text(im, fld(&r, ct), fld_len(&r, ct)),
                                clean_author(im, authors, o),
                                clean_year(im, fld(&r, cy), fld_len(&r, cy)), NULL,
                                https_url(im, fld(&r, ci), fld_len(&r, ci)),
                                clean_text(im, fld(&r, cd), fld_len(&r, cd)), (int32_t)pages,
                                "descriptions", 30)))
            return rc;
        if (fld_len(&r, cc) && !is_null_text(fld(&r, cc), fld_len(&r, cc)) &&
            (rc = stage_tag_list(im, -1, isbn, fld(&r, cc), fld_len(&r, cc), ',', "descriptions")))
            return rc;
        s->used++;
    }
    return rc;
}

/* "/works/OL66554W" or "OL66554W" -> "OL66554W" */
static const char *ol_id(const char *s, size_t n, size_t *len)
{
    const char *slash = memrchr(s, '/', n);
    if (slash) {
        n -= (size_t)(slash + 1 - s);
        s = slash + 1;
    }
    *len = n;
    return s;
}

static int64_t ol_mwork(br__import *im, const char *s, size_t n)
{
    char key[96], ext[64];
    size_t len;
    const char *id = ol_id(s, n, &len);
    if (len == 0 || len >= sizeof ext)
        return -2;
    snprintf(ext, sizeof ext, "%.*s", (int)len, id);
    snprintf(key, sizeof key, "openlibrary:%s", ext);
    return mwork_get(im, key, "openlibrary", ext, 60);
}

static int parse_ol_works(br__import *im, struct src *s)
{
    br_csv_row r;
    int ck = col(&s->hdr, "work_key"), ct = col(&s->hdr, "title"), ca = col(&s->hdr, "authors");
    int cs = col(&s->hdr, "subjects"), cy = col(&s->hdr, "first_publish_year");
    int cc = col(&s->hdr, "cover_url"), rc;
    if (ck < 0 || ct < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing work_key/title", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t m = ol_mwork(im, fld(&r, ck), fld_len(&r, ck));
        if (m == -2) {
            br__imp_reject(im, "ol_work_key_invalid", 1);
            continue;
        }
        if (m < 0)
            return BR_ENOMEM;
        mwork_fill(&br_vec_at(&im->mworks, struct br__mwork, m),
                   clean_text(im, fld(&r, ct), fld_len(&r, ct)),
                   clean_author(im, fld(&r, ca), fld_len(&r, ca)),
                   clean_year(im, fld(&r, cy), fld_len(&r, cy)), NULL,
                   https_url(im, fld(&r, cc), fld_len(&r, cc)), 0);
        if ((rc = stage_tag_list(im, m, NULL, fld(&r, cs), fld_len(&r, cs), ',', "openlibrary")))
            return rc;
        s->used++;
    }
    return rc;
}

static int parse_ol_search(br__import *im, struct src *s)
{
    br_csv_row r;
    int ck = col(&s->hdr, "ID"), ct = col(&s->hdr, "title"), ca = col(&s->hdr, "author");
    int cp = col(&s->hdr, "publisher"), cy = col(&s->hdr, "first_published_year");
    int cl = col(&s->hdr, "language"), cc = col(&s->hdr, "cover_image");
    int cpg = col(&s->hdr, "pages"), c10 = col(&s->hdr, "isbn_10"), c13 = col(&s->hdr, "isbn_13");
    int rc;
    if (ck < 0 || ct < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing ID/title", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t m = ol_mwork(im, fld(&r, ck), fld_len(&r, ck)), pages = 0;
        if (m == -2) {
            br__imp_reject(im, "ol_work_key_invalid", 1);
            continue;
        }
        if (m < 0)
            return BR_ENOMEM;
        if (parse_int(fld(&r, cpg), fld_len(&r, cpg), &pages) || pages < 0 || pages > 100000)
            pages = 0;
        struct br__mwork *mw = &br_vec_at(&im->mworks, struct br__mwork, m);
        mwork_fill(mw, clean_text(im, fld(&r, ct), fld_len(&r, ct)),
                   clean_author(im, fld(&r, ca), fld_len(&r, ca)),
                   clean_year(im, fld(&r, cy), fld_len(&r, cy)),
                   clean_text(im, fld(&r, cp), fld_len(&r, cp)),
                   https_url(im, fld(&r, cc), fld_len(&r, cc)), (int32_t)pages);
        if (!mw->language)
            mw->language = clean_text(im, fld(&r, cl), fld_len(&r, cl));
        int cols[2] = {c10, c13};
        for (int k = 0; k < 2; k++) {
            char isbn[14];
            if (fld_len(&r, cols[k]) == 0)
                continue;
            if (isbn_of_kept_row(im, "ol_search", fld(&r, cols[k]), fld_len(&r, cols[k]), isbn) == 0 &&
                (rc = map_isbn(im, isbn, m)))
                return rc;
        }
        s->used++;
    }
    return rc;
}

/* Open Library dump lines: type \t key \t revision \t last_modified \t json. */
static int ol_dump_line(br__import *im, char *line, size_t n)
{
    char *f[5];
    int nf = 0;
    f[nf++] = line;
    for (size_t i = 0; i < n && nf < 5; i++)
        if (line[i] == '\t') {
            line[i] = 0;
            f[nf++] = line + i + 1;
        }
    if (nf < 5) {
        br__imp_reject(im, "ol_dump_bad_line", 1);
        return 0;
    }
    int is_work = !strcmp(f[0], "/type/work"), is_ed = !strcmp(f[0], "/type/edition");
    if (!is_work && !is_ed) {
        br__imp_reject(im, "ol_dump_other_type", 1);
        return 0;
    }
    json_error_t jerr;
    json_t *j = json_loads(f[4], JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        br__imp_reject(im, "ol_dump_bad_json", 1);
        return 0;
    }
    int rc = 0;
    const char *title = json_string_value(json_object_get(j, "title"));
    const char *ctitle = title ? clean_text(im, title, strlen(title)) : NULL;
    if (is_work) {
        int64_t m = ol_mwork(im, f[1], strlen(f[1]));
        if (m < 0) {
            rc = m == -2 ? 0 : BR_ENOMEM;
            if (m == -2)
                br__imp_reject(im, "ol_work_key_invalid", 1);
            goto out;
        }
        struct br__mwork *mw = &br_vec_at(&im->mworks, struct br__mwork, m);
        const char *fpd = json_string_value(json_object_get(j, "first_publish_date"));
        int32_t year = 0;
        if (fpd && strlen(fpd) >= 4) {
            const char *y = fpd + strlen(fpd) - 4; /* "March 1, 1999" or "1999" */
            year = clean_year(im, y, 4);
        }
        mwork_fill(mw, ctitle, NULL, year, NULL, NULL, 0);
        json_t *d = json_object_get(j, "description");
        const char *desc = json_is_string(d) ? json_string_value(d)
                                             : json_string_value(json_object_get(d, "value"));
        if (desc && !mw->description)
            mw->description = clean_text(im, desc, strlen(desc));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "subjects"), i, v)
        {
            const char *sub = json_string_value(v);
            if (sub && (rc = stage_tag(im, m, -1, NULL, sub, strlen(sub), 1.0, "openlibrary")))
                goto out;
        }
    } else {
        json_t *works = json_object_get(j, "works");
        const char *wkey = json_string_value(json_object_get(json_array_get(works, 0), "key"));
        if (!wkey) {
            br__imp_reject(im, "ol_dump_edition_without_work", 1);
            goto out;
        }
        int64_t m = ol_mwork(im, wkey, strlen(wkey));
        if (m < 0) {
            rc = m == -2 ? 0 : BR_ENOMEM;
            goto out;
        }
        int64_t pages = json_integer_value(json_object_get(j, "number_of_pages"));
        const char *pub = json_string_value(json_array_get(json_object_get(j, "publishers"), 0));
        mwork_fill(&br_vec_at(&im->mworks, struct br__mwork, m), ctitle, NULL, 0,
                   pub ? clean_text(im, pub, strlen(pub)) : NULL, NULL,
                   pages > 0 && pages < 100000 ? (int32_t)pages : 0);
        const char *lists[2] = {"isbn_13", "isbn_10"};
        for (int k = 0; k < 2; k++) {
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(j, lists[k]), i, v)
            {
                const char *is = json_string_value(v);
                char isbn[14];
                if (is && isbn_of_kept_row(im, "ol_dump", is, strlen(is), isbn) == 0 &&
                    (rc = map_isbn(im, isbn, m)))
                    goto out;
            }
        }
    }
out:
    json_decref(j);
    return rc;
}

static int parse_ol_dump(br__import *im, struct src *s)
{
    FILE *f = fopen(s->path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    if (!f)
        return br__imp_errorf(im, BR_EIO, "%s: %s", s->path, strerror(errno));
    while ((n = getline(&line, &cap, f)) > 0) {
        if (++s->rows > im->o->max_rows) {
            rc = br__imp_errorf(im, BR_ELIMIT, "%s: more than %llu rows", s->path,
                                (unsigned long long)im->o->max_rows);
            break;
        }
        im->rows_read++;
        if ((size_t)n > im->o->max_field) {
            br__imp_reject(im, "ol_dump_line_over_limit", 1);
            continue;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        if ((rc = ol_dump_line(im, line, (size_t)n)))
            break;
        s->used++;
    }
    free(line);
    fclose(f);
    return rc;
}

/* Generic books: every book is a metadata work ("generic:<work or book>");
 * its ISBN, when valid, is listed under that work. */
static int parse_generic_books(br__import *im, struct src *s)
{
    br_csv_row r;
    int cb = col(&s->hdr, "book"), ci = col(&s->hdr, "isbn"), ct = col(&s->hdr, "title");
    int ca = col(&s->hdr, "author"), cy = col(&s->hdr, "year"), cp = col(&s->hdr, "publisher");
    int cimg = col(&s->hdr, "image_url"), cw = col(&s->hdr, "work"), rc;
    int cd = col(&s->hdr, "description");
    if (cb < 0 || ct < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing book/title columns", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        const char *book = fld(&r, cb);
        size_t bn = fld_len(&r, cb);
        const char *work = fld_len(&r, cw) ? fld(&r, cw) : book;
        size_t wn = fld_len(&r, cw) ? fld_len(&r, cw) : bn;
        if (bn == 0 || bn > 64 || wn > 64) {
            br__imp_reject(im, "generic_book_id_invalid", 1);
            continue;
        }
        char key[96], ext[72];
        snprintf(ext, sizeof ext, "%.*s", (int)wn, work);
        snprintf(key, sizeof key, "generic:%s", ext);
        int64_t m = mwork_get(im, key, "generic_work", ext, 80);
        if (m < 0)
            return BR_ENOMEM;
        mwork_fill(&br_vec_at(&im->mworks, struct br__mwork, m),
                   clean_text(im, fld(&r, ct), fld_len(&r, ct)),
                   clean_author(im, fld(&r, ca), fld_len(&r, ca)),
                   clean_year(im, fld(&r, cy), fld_len(&r, cy)),
                   clean_text(im, fld(&r, cp), fld_len(&r, cp)),
                   https_url(im, fld(&r, cimg), fld_len(&r, cimg)), 0);
        struct br__mwork *mw = &br_vec_at(&im->mworks, struct br__mwork, m);
        if (!mw->description && cd >= 0)
            mw->description = clean_text(im, fld(&r, cd), fld_len(&r, cd));
        if ((rc = br_strmap_putn(im->generic_book, book, bn, m)))
            return rc;
        char isbn[14];
        if (fld_len(&r, ci) &&
            isbn_of_kept_row(im, "generic_book", fld(&r, ci), fld_len(&r, ci), isbn) == 0 &&
            (rc = map_isbn(im, isbn, m)))
            return rc;
        s->used++;
    }
    return rc;
}

/* A generic item reference: a generic book id of this import, or an ISBN. */
static int generic_target(br__import *im, const char *s, size_t n, const char *prefix,
                          int64_t *mwork, char isbn[14])
{
    *mwork = -1;
    if (br_strmap_getn(im->generic_book, s, n, mwork))
        return 0;
    return normalize_isbn(im, prefix, s, n, isbn);
}

static int parse_generic_subjects(br__import *im, struct src *s)
{
    br_csv_row r;
    int cb = col(&s->hdr, "book"), cs = col(&s->hdr, "subject"), cc = col(&s->hdr, "count"), rc;
    if (cb < 0 || cs < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing book/subject columns", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t m, count = 1;
        char isbn[14] = "";
        if (generic_target(im, fld(&r, cb), fld_len(&r, cb), "subject", &m, isbn) != 0)
            continue;
        if (cc >= 0 && (parse_int(fld(&r, cc), fld_len(&r, cc), &count) || count <= 0)) {
            br__imp_reject(im, "subject_count_invalid", 1);
            continue;
        }
        if (fld_len(&r, cs) == 0) {
            br__imp_reject(im, "subject_empty", 1);
            continue;
        }
        if ((rc = stage_tag(im, m, -1, m < 0 ? isbn : NULL, fld(&r, cs), fld_len(&r, cs),
                            (double)count, "generic")))
            return rc;
        s->used++;
    }
    return rc;
}

static int parse_generic_ratings(br__import *im, struct src *s)
{
    br_csv_row r;
    int cu = col(&s->hdr, "user"), ci = col(&s->hdr, "item"), cr = col(&s->hdr, "rating");
    int ct = col(&s->hdr, "timestamp"), rc;
    if (cu < 0 || ci < 0 || cr < 0)
        return br__imp_errorf(im, BR_EFORMAT, "%s: missing user/item/rating columns", s->path);
    while ((rc = next_row(im, s, &r)) == 1) {
        int64_t m, v, ts = 0;
        char isbn[14] = "", ext[72];
        if (fld_len(&r, cu) == 0 || fld_len(&r, cu) > 64) {
            br__imp_reject(im, "rating_user_id_invalid", 1);
            continue;
        }
        if (parse_rating_value(im, fld(&r, cr), fld_len(&r, cr), &v) != 0)
            continue;
        if (ct >= 0 && fld_len(&r, ct) &&
            (parse_int(fld(&r, ct), fld_len(&r, ct), &ts) || ts < 0)) {
            br__imp_reject(im, "rating_timestamp_invalid", 1);
            continue;
        }
        if (generic_target(im, fld(&r, ci), fld_len(&r, ci), "rating", &m, isbn) != 0)
            continue;
        snprintf(ext, sizeof ext, "%.*s", (int)fld_len(&r, cu), fld(&r, cu));
        if ((rc = stage_rating(im, "generic", ext, m < 0 ? isbn : NULL, m, -1, v, ts, "generic")))
            return rc;
        s->used++;
    }
    return rc;
}

/* ---- detection ---------------------------------------------------------- */

static enum fmt fmt_by_name(const char *s, size_t n)
{
    for (int f = 1; f < F__COUNT; f++)
        if (strlen(fmt_names[f]) == n && !memcmp(fmt_names[f], s, n))
            return (enum fmt)f;
    return F_UNKNOWN;
}

static enum fmt fmt_by_header(const br_csv_row *h, int *have_hdr)
{
    *have_hdr = 1;
    if (col(h, "User-ID") >= 0 && col(h, "Location") >= 0)
        return F_BX_USERS;
    if (col(h, "User-ID") >= 0 && col(h, "ISBN") >= 0)
        return F_BX_RATINGS;
    if (col(h, "ISBN") >= 0 && col(h, "Book-Title") >= 0)
        return F_BX_BOOKS;
    if (col(h, "0") == 0 && col(h, "7") == 7 && h->nfields == 8)
        return F_BX_BOOKS;
    if (col(h, "goodreads_book_id") >= 0 && col(h, "work_id") >= 0)
        return F_GB_BOOKS;
    if (col(h, "tag_id") >= 0 && col(h, "tag_name") >= 0)
        return F_GB_TAGS;
    if (col(h, "goodreads_book_id") >= 0 && col(h, "tag_id") >= 0)
        return F_GB_BOOK_TAGS;
    if (col(h, "isbn13") >= 0 && col(h, "description") >= 0)
        return F_DESCRIPTIONS;
    if (col(h, "work_key") >= 0 && col(h, "subjects") >= 0)
        return F_OL_WORKS;
    if (col(h, "ID") >= 0 && col(h, "isbn_10") >= 0)
        return F_OL_SEARCH;
    if (col(h, "user") >= 0 && col(h, "item") >= 0 && col(h, "rating") >= 0)
        return F_GENERIC_RATINGS;
    if (col(h, "book") >= 0 && col(h, "subject") >= 0)
        return F_GENERIC_SUBJECTS;
    if (col(h, "book") >= 0 && col(h, "title") >= 0)
        return F_GENERIC_BOOKS;
    /* A headerless slice of the original BX-Book-Ratings.csv: user;isbn;rating. */
    int64_t v;
    if (h->nfields == 3 && parse_int(h->fields[0], h->lens[0], &v) == 0 &&
        parse_int(h->fields[2], h->lens[2], &v) == 0) {
        *have_hdr = 0;
        return F_BX_RATINGS;
    }
    return F_UNKNOWN;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Known directory layouts: the files in each that make up the dataset. */
static const char *const dir_layouts[] = {
    /* Book-Crossing as kept in shared/data */
    "users/Users.csv", "derived/books_union.csv", "derived/ratings_union.csv",
    /* Book-Crossing original dump and common re-upload */
    "BX-Users.csv", "BX-Books.csv", "BX-Book-Ratings.csv", "Users.csv", "Books.csv", "Ratings.csv",
    /* goodbooks-10k */
    "books.csv", "tags.csv", "derived/book_tags_union.csv", "book_tags.csv",
    /* descriptions, Open Library */
    "YSChandu+semantic_book_recommender/books_with_categories.csv", "books_with_categories.csv",
    "dejmengit+Book-Recommendation-Engine/data/openlibrary_books.csv",
    "SilasKal+COMPSCI_767_Big_Data_Data_Mining/openlibrary_books.csv",
    /* generic and demo data */
    "ratings.csv", "book_subjects.csv",
};

static int parse_file(br__import *im, const char *path, enum fmt want)
{
    struct src s = {0};
    int rc = 0;
    br_csv_opts co = {0};
    s.path = path;
    co.max_field = im->o->max_field;
    if (want == F_OL_DUMP) {
        s.fmt = F_OL_DUMP;
        goto parse;
    }
    if (want == F_UNKNOWN) { /* a dump is recognized by its first bytes */
        FILE *f = fopen(path, "rb");
        char head[16] = "";
        if (f) {
            size_t n = fread(head, 1, sizeof head - 1, f);
            head[n] = 0;
            fclose(f);
        }
        if (!strncmp(head, "/type/", 6)) {
            s.fmt = F_OL_DUMP;
            goto parse;
        }
    }
    if ((rc = br_csv_open_file(path, &co, &s.csv)) != 0)
        return br__imp_errorf(im, rc, "%s: cannot open (%s)", path, br_strerror(rc));
    rc = br_csv_next(s.csv, &s.hdr);
    if (rc <= 0) {
        br_csv_free(s.csv);
        return br__imp_errorf(im, rc ? rc : BR_EFORMAT, "%s: empty or unreadable header", path);
    }
    s.fmt = fmt_by_header(&s.hdr, &s.have_hdr);
    if (want != F_UNKNOWN && want != s.fmt) {
        if (want == F_BX_RATINGS && s.fmt == F_UNKNOWN)
            s.have_hdr = 0;
        s.fmt = want;
    }
    if (s.fmt == F_UNKNOWN) {
        br_csv_free(s.csv);
        return br__imp_errorf(im, BR_EFORMAT,
                              "%s: unknown format; name it as FORMAT=PATH (formats: %s)", path,
                              br_import_formats());
    }
    /* The header row's fields live in the reader's buffer: keep a copy. */
    {
        br_csv_row h = s.hdr;
        char **f = br_arena_alloc(im->strs, h.nfields * sizeof *f);
        size_t *l = br_arena_alloc(im->strs, h.nfields * sizeof *l);
        if (!f || !l)
            return BR_ENOMEM;
        for (size_t i = 0; i < h.nfields; i++) {
            f[i] = (char *)br__imp_str(im, h.fields[i], h.lens[i]);
            l[i] = h.lens[i];
        }
        s.hdr.fields = f;
        s.hdr.lens = l;
    }
parse:
    br_progress_start(&s.prog, path, 0);
    double t0 = br_now();
    switch (s.fmt) {
    case F_BX_USERS: rc = parse_bx_users(im, &s); break;
    case F_BX_BOOKS: rc = parse_bx_books(im, &s); break;
    case F_BX_RATINGS: rc = parse_bx_ratings(im, &s); break;
    case F_GB_BOOKS: rc = parse_gb_books(im, &s); break;
    case F_GB_TAGS: rc = parse_gb_tags(im, &s); break;
    case F_GB_BOOK_TAGS: rc = parse_gb_book_tags(im, &s); break;
    case F_DESCRIPTIONS: rc = parse_descriptions(im, &s); break;
    case F_OL_WORKS: rc = parse_ol_works(im, &s); break;
    case F_OL_SEARCH: rc = parse_ol_search(im, &s); break;
    case F_OL_DUMP: rc = parse_ol_dump(im, &s); break;
    case F_GENERIC_BOOKS: rc = parse_generic_books(im, &s); break;
    case F_GENERIC_SUBJECTS: rc = parse_generic_subjects(im, &s); break;
    case F_GENERIC_RATINGS: rc = parse_generic_ratings(im, &s); break;
    default: rc = BR_EINVAL;
    }
    br_progress_end(&s.prog, s.rows);
    if (s.csv) {
        const br_csv_stats *cs = br_csv_get_stats(s.csv);
        if (cs->converted_latin1)
            br__imp_clean(im, "records_converted_from_latin1", cs->converted_latin1);
    }
    br_csv_free(s.csv);
    if (rc == 0) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f}", "path", path, "format", fmt_names[s.fmt],
                              "rows", (json_int_t)s.rows, "used", (json_int_t)s.used, "seconds",
                              br_now() - t0);
        json_array_append_new(im->sources, o);
        br_info("%s: %s, %llu rows, %llu used", path, fmt_names[s.fmt],
                (unsigned long long)s.rows, (unsigned long long)s.used);
    }
    return rc;
}

/* Rank of a source spec, so that metadata is read before what refers to it. */
int br__imp_source_rank(const char *spec)
{
    const char *eq = strchr(spec, '=');
    enum fmt f = eq ? fmt_by_name(spec, (size_t)(eq - spec)) : F_UNKNOWN;
    if (f != F_UNKNOWN)
        return (int)f;
    if (is_dir(spec))
        return 0; /* directories order their own files */
    const char *b = strrchr(spec, '/');
    b = b ? b + 1 : spec;
    static const struct {
        const char *name;
        enum fmt f;
    } names[] = {{"book_tags", F_GB_BOOK_TAGS},     {"book_subjects", F_GENERIC_SUBJECTS},
                 {"tags.csv", F_GB_TAGS},           {"books.csv", F_GB_BOOKS},
                 {"Users", F_BX_USERS},             {"Ratings", F_BX_RATINGS},
                 {"ratings", F_BX_RATINGS},         {"Books", F_BX_BOOKS},
                 {"books_union", F_BX_BOOKS},       {"with_categories", F_DESCRIPTIONS},
                 {"openlibrary", F_OL_WORKS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strstr(b, names[i].name))
            return (int)names[i].f;
    return F_GENERIC_BOOKS;
}

static int cmp_rank(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return br__imp_source_rank(*x) - br__imp_source_rank(*y);
}

int br__imp_source(br__import *im, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (eq) {
        enum fmt f = fmt_by_name(spec, (size_t)(eq - spec));
        if (f != F_UNKNOWN)
            return parse_file(im, eq + 1, f);
    }
    if (!is_dir(spec)) {
        if (!file_exists(spec))
            return br__imp_errorf(im, BR_ENOENT, "%s: no such file or directory", spec);
        return parse_file(im, spec, F_UNKNOWN);
    }
    /* A directory: its known files, metadata first. */
    const char *files[sizeof dir_layouts / sizeof dir_layouts[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof dir_layouts / sizeof dir_layouts[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", spec, dir_layouts[i]);
        if (file_exists(p))
            files[n++] = br__imp_str(im, p, strlen(p));
    }
    if (n == 0)
        return br__imp_errorf(im, BR_ENOENT, "%s: no known data files in this directory (see "
                                             "docs/data.md)", spec);
    /* goodbooks' books.csv ranks as metadata; inside a Book-Crossing re-upload
     * "Books.csv" is a book list: the header decides, ranks only order. */
    qsort(files, n, sizeof files[0], cmp_rank);
    for (size_t i = 0; i < n; i++) {
        int rc = parse_file(im, files[i], F_UNKNOWN);
        if (rc)
            return rc;
    }
    return 0;
}
