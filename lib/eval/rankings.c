/* Reader of external rankings (see rankings.h and docs/evaluation.md, "External rankings").
 *
 * Design decisions:
 * 1. Columns are found by name in the required header, so a file written by pandas with an
 *    extra score column, or with the columns in another order, reads as it is; a file
 *    without the header is refused rather than guessed at (its first row would be data).
 * 2. Numbers are plain decimal integers and nothing else ("1.0", " 3", "+2", "1e3" are bad
 *    rows): a rank written as a float usually means the tool produced something other than
 *    what we think, and saying so beats rounding it.
 * 3. Bad rows are skipped and counted by reason (DESIGN.md §10: counted and reported, never
 *    silently dropped), and the messages of the first BR_RANKINGS_EXAMPLES by line number
 *    are kept. max_bad turns a flood of them into an error.
 * 4. Duplicates are decided after reading, by sorting the rows with their line numbers: for a
 *    repeated (user, item_idx), and then a repeated (user, rank) unless ties are allowed, the
 *    row on the earliest line is kept, so the outcome depends only on the file, not on the
 *    reading order of anything.
 * 5. max_rows is fatal (BR_ELIMIT): memory is bounded by it, 32 bytes a row. max_list keeps
 *    each user's best ranks and counts the rest: a tool that wrote 500 items per user is
 *    still scored at K <= max_list.
 * 6. Messages never echo raw input: a field is quoted with non-printable bytes escaped and
 *    cut at 24 bytes. */
#include "bookrec/rankings.h"
#include "bookrec/csv.h"
#include "bookrec/error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rrow {
    int64_t user, rank;
    uint64_t line;
    int32_t item;
};

struct example {
    uint64_t line;
    char msg[160];
};

struct br_rankings {
    br_lists lists;
    int64_t *users;
    int64_t *ranks;
    size_t n_users;
    br_rankings_stats st;
    struct example ex[BR_RANKINGS_EXAMPLES];
    size_t n_ex;
};

void br_rankings_opts_default(br_rankings_opts *o)
{
    *o = (br_rankings_opts){.max_rows = (uint64_t)1 << 25,
                            .max_list = 1000,
                            .max_bad = 0,
                            .n_items = 0,
                            .allow_ties = 0};
}

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Keeps the message when it is among the BR_RANKINGS_EXAMPLES smallest line numbers. */
static void add_example(br_rankings *r, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_example(br_rankings *r, uint64_t line, const char *fmt, ...)
{
    size_t slot = r->n_ex;
    va_list ap;
    if (r->n_ex == BR_RANKINGS_EXAMPLES) {
        slot = 0;
        for (size_t i = 1; i < r->n_ex; i++)
            if (r->ex[i].line > r->ex[slot].line)
                slot = i;
        if (r->ex[slot].line <= line)
            return;
    } else {
        r->n_ex++;
    }
    r->ex[slot].line = line;
    va_start(ap, fmt);
    vsnprintf(r->ex[slot].msg, sizeof r->ex[slot].msg, fmt, ap);
    va_end(ap);
}

/* A field as a quoted, escaped string of at most 24 input bytes (decision 6). */
static const char *quoted(const char *s, size_t len, char *buf, size_t cap)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && i < 24 && o + 6 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    if (len > 24 && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

enum { NUM_OK, NUM_EMPTY, NUM_BAD, NUM_NEG, NUM_RANGE };

/* A plain decimal integer in [0, max] (decision 2). */
static int parse_num(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0, over = 0;
    if (len == 0)
        return NUM_EMPTY;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return NUM_BAD;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NUM_BAD;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
    }
    if (neg)
        return NUM_NEG;
    if (over || v > max)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

static int cmp_user_item_line(const void *a, const void *b)
{
    const struct rrow *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_user_rank_line(const void *a, const void *b)
{
    const struct rrow *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_user_rank_item(const void *a, const void *b)
{
    const struct rrow *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static uint64_t n_bad(const br_rankings_stats *st)
{
    return st->rows - st->kept + st->csv_skipped;
}

static int too_many_bad(const br_rankings *r, const br_rankings_opts *o, char *err, size_t cap)
{
    uint64_t bad = n_bad(&r->st);
    if (o->max_bad == 0 || bad <= o->max_bad)
        return 0;
    /* The earliest message is the most useful one. */
    size_t first = 0;
    for (size_t i = 1; i < r->n_ex; i++)
        if (r->ex[i].line < r->ex[first].line)
            first = i;
    seterr(err, cap, "more than %" PRIu64 " bad rows (max_bad); first: %s", o->max_bad,
           r->n_ex ? r->ex[first].msg : "?");
    return BR_EFORMAT;
}

static const char *const col_names[3] = {"user", "item_idx", "rank"};

/* Finds the three columns in the header; 0 or BR_EFORMAT. */
static int read_header(const br_csv_row *row, size_t col[3], char *err, size_t cap)
{
    char q[128];
    int found[3] = {0};
    for (size_t f = 0; f < row->nfields; f++) {
        const char *s = row->fields[f];
        size_t len = row->lens[f];
        /* Spaces around a header name are harmless (" rank"); inside data they are not. */
        while (len && *s == ' ')
            s++, len--;
        while (len && s[len - 1] == ' ')
            len--;
        for (int c = 0; c < 3; c++) {
            if (len != strlen(col_names[c]) || memcmp(s, col_names[c], len) != 0)
                continue;
            if (found[c]) {
                seterr(err, cap, "line %" PRIu64 ": column %s named twice in the header", row->line,
                       col_names[c]);
                return BR_EFORMAT;
            }
            found[c] = 1;
            col[c] = f;
        }
    }
    for (int c = 0; c < 3; c++)
        if (!found[c]) {
            seterr(err, cap,
                   "line %" PRIu64 ": the header must name the columns user, item_idx and "
                   "rank (no column %s; first field %s)",
                   row->line, col_names[c], quoted(row->fields[0], row->lens[0], q, sizeof q));
            return BR_EFORMAT;
        }
    return 0;
}

/* Parses one data record into *out; 0, or 1 for a bad row (counted, message kept). */
static int parse_row(br_rankings *r, const br_csv_row *row, size_t nf, const size_t col[3],
                     const br_rankings_opts *o, struct rrow *out)
{
    static const uint64_t max[3] = {INT64_MAX, INT32_MAX, INT64_MAX};
    uint64_t v[3] = {0};
    char q[128];

    if (row->nfields != nf) {
        r->st.bad_fields++;
        add_example(r, row->line, "line %" PRIu64 ": %zu fields, the header has %zu", row->line,
                    row->nfields, nf);
        return 1;
    }
    for (int c = 0; c < 3; c++) {
        const char *s = row->fields[col[c]];
        size_t len = row->lens[col[c]];
        switch (parse_num(s, len, max[c], &v[c])) {
        case NUM_OK:
            continue;
        case NUM_EMPTY:
            r->st.bad_fields++;
            add_example(r, row->line, "line %" PRIu64 ": %s is empty", row->line, col_names[c]);
            return 1;
        case NUM_BAD:
            r->st.bad_integer++;
            add_example(r, row->line, "line %" PRIu64 ": %s is not an integer: %s", row->line,
                        col_names[c], quoted(s, len, q, sizeof q));
            return 1;
        case NUM_NEG:
            r->st.negative++;
            add_example(r, row->line, "line %" PRIu64 ": %s is negative: %s", row->line,
                        col_names[c], quoted(s, len, q, sizeof q));
            return 1;
        default:
            r->st.out_of_range++;
            add_example(r, row->line, "line %" PRIu64 ": %s is out of range: %s", row->line,
                        col_names[c], quoted(s, len, q, sizeof q));
            return 1;
        }
    }
    if (o->n_items && v[1] >= o->n_items) {
        r->st.out_of_range++;
        add_example(r, row->line, "line %" PRIu64 ": item_idx %" PRIu64 " >= n_items %zu",
                    row->line, v[1], o->n_items);
        return 1;
    }
    *out = (struct rrow){(int64_t)v[0], (int64_t)v[2], row->line, (int32_t)v[1]};
    return 0;
}

/* Removes rows equal to their predecessor under the sort (decision 4); the predecessor is
 * the earliest line. dup_rank: compare ranks, else items. Returns the new count. */
static size_t drop_dups(br_rankings *r, struct rrow *x, size_t n, int dup_rank)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && x[m - 1].user == x[i].user &&
            (dup_rank ? x[m - 1].rank == x[i].rank : x[m - 1].item == x[i].item)) {
            if (dup_rank) {
                r->st.dup_rank++;
                add_example(r, x[i].line,
                            "line %" PRIu64 ": user %" PRId64 " has rank %" PRId64
                            " already (line %" PRIu64 ")",
                            x[i].line, x[i].user, x[i].rank, x[m - 1].line);
            } else {
                r->st.dup_pair++;
                add_example(r, x[i].line,
                            "line %" PRIu64 ": user %" PRId64 ", item_idx %" PRId32
                            " again (first on line %" PRIu64 ")",
                            x[i].line, x[i].user, x[i].item, x[m - 1].line);
            }
            continue;
        }
        x[m++] = x[i];
    }
    return m;
}

static int cmp_example(const void *a, const void *b)
{
    const struct example *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

/* Builds the lists from rows sorted by (user, rank, item), applying max_list. */
static int build_lists(br_rankings *r, const struct rrow *x, size_t n, size_t max_list)
{
    size_t users = 0, kept = 0;
    for (size_t i = 0; i < n; i++)
        users += i == 0 || x[i].user != x[i - 1].user;
    if (!(r->users = malloc((users ? users : 1) * sizeof *r->users)) ||
        !(r->lists.ptr = malloc((users + 1) * sizeof *r->lists.ptr)) ||
        !(r->lists.items = malloc((n ? n : 1) * sizeof *r->lists.items)) ||
        !(r->ranks = malloc((n ? n : 1) * sizeof *r->ranks)))
        return BR_ENOMEM;
    r->lists.ptr[0] = 0;
    size_t u = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && x[j].user == x[i].user)
            j++;
        size_t take = j - i < max_list ? j - i : max_list;
        for (size_t t = i; t < i + take; t++) {
            r->lists.items[kept] = x[t].item;
            r->ranks[kept++] = x[t].rank;
            if (t > i && x[t].rank == x[t - 1].rank)
                r->st.rank_ties++;
        }
        if (take < j - i) {
            /* The first dropped row by line, to name in the message. */
            uint64_t first = x[i + take].line;
            for (size_t t = i + take; t < j; t++)
                first = x[t].line < first ? x[t].line : first;
            r->st.over_list += j - i - take;
            add_example(r, first,
                        "line %" PRIu64 ": user %" PRId64 " has %zu rows, more than max_list "
                        "%zu; the %zu worst ranks are dropped",
                        first, x[i].user, j - i, max_list, j - i - take);
        }
        r->users[u++] = x[i].user;
        r->lists.ptr[u] = (int64_t)kept;
        i = j;
    }
    r->n_users = users;
    r->lists.n = users;
    r->st.kept = kept;
    r->st.users = users;
    return 0;
}

static int read_rankings(br_csv *c, const br_rankings_opts *o, br_rankings **out, char *err,
                         size_t cap)
{
    br_rankings *r = NULL;
    struct rrow *x = NULL;
    size_t n = 0, xcap = 0, col[3] = {0}, nf;
    br_csv_row row;
    int rc;

    if (!(r = calloc(1, sizeof *r))) {
        rc = BR_ENOMEM;
        goto fail;
    }
    rc = br_csv_next(c, &row);
    if (rc == 0) {
        seterr(err, cap, "empty input: the header user,item_idx,rank is missing");
        rc = BR_EFORMAT;
        goto fail;
    }
    if (rc == BR_ELIMIT) {
        seterr(err, cap, "line %" PRIu64 ": the header is over the CSV limits", row.line);
        rc = BR_EFORMAT;
        goto fail;
    }
    if (rc < 0) {
        seterr(err, cap, "reading the header: %s", br_strerror(rc));
        goto fail;
    }
    if ((rc = read_header(&row, col, err, cap)) != 0)
        goto fail;
    nf = row.nfields;

    while ((rc = br_csv_next(c, &row)) != 0) {
        if (rc == BR_ELIMIT) {
            r->st.csv_skipped++;
            add_example(r, row.line, "line %" PRIu64 ": record over the CSV limits, skipped",
                        row.line);
        } else if (rc < 0) {
            seterr(err, cap, "after line %" PRIu64 ": %s", row.line, br_strerror(rc));
            goto fail;
        } else if (++r->st.rows > o->max_rows) {
            seterr(err, cap, "line %" PRIu64 ": more than %" PRIu64 " rows (max_rows)", row.line,
                   o->max_rows);
            rc = BR_ELIMIT;
            goto fail;
        } else {
            struct rrow one;
            if (parse_row(r, &row, nf, col, o, &one) == 0) {
                if (n == xcap) {
                    size_t nc = xcap ? 2 * xcap : 1024;
                    struct rrow *t = realloc(x, nc * sizeof *x);
                    if (!t) {
                        rc = BR_ENOMEM;
                        goto fail;
                    }
                    x = t;
                    xcap = nc;
                }
                x[n++] = one;
                r->st.kept++;
            }
        }
        /* Fail early on a file that is mostly garbage. */
        if ((rc = too_many_bad(r, o, err, cap)) != 0)
            goto fail;
    }

    if (n > 1) { /* x is NULL when no row was kept */
        qsort(x, n, sizeof *x, cmp_user_item_line);
        n = drop_dups(r, x, n, 0);
        if (!o->allow_ties) {
            qsort(x, n, sizeof *x, cmp_user_rank_line);
            n = drop_dups(r, x, n, 1);
        }
        qsort(x, n, sizeof *x, cmp_user_rank_item);
    }
    if ((rc = build_lists(r, x, n, o->max_list)) != 0)
        goto fail;
    if ((rc = too_many_bad(r, o, err, cap)) != 0)
        goto fail;
    qsort(r->ex, r->n_ex, sizeof r->ex[0], cmp_example);
    free(x);
    *out = r;
    return 0;
fail:
    if (rc == BR_ENOMEM)
        seterr(err, cap, "out of memory");
    free(x);
    br_rankings_free(r);
    return rc;
}

static int check_opts(const br_rankings_opts *in, br_rankings_opts *o)
{
    if (in)
        *o = *in;
    else
        br_rankings_opts_default(o);
    if (o->max_rows == 0)
        o->max_rows = (uint64_t)1 << 25;
    if (o->max_list == 0)
        o->max_list = 1000;
    if (o->max_rows > BR_RANKINGS_MAX_ROWS || o->max_list > BR_RANKINGS_MAX_LIST ||
        o->n_items > INT32_MAX)
        return BR_EINVAL;
    return 0;
}

/* Small limits: every valid field is a number or a column name. */
static const br_csv_opts csv_opts = {
    .sep = 0, .max_field = 256, .max_record = 4096, .max_fields = 64};

int br_rankings_read_file(const char *path, const br_rankings_opts *opts, br_rankings **out,
                          char *err, size_t cap)
{
    br_rankings_opts o;
    br_csv *c;
    int rc;
    if (!out || !path || check_opts(opts, &o) != 0) {
        seterr(err, cap, "invalid arguments");
        return BR_EINVAL;
    }
    *out = NULL;
    if ((rc = br_csv_open_file(path, &csv_opts, &c)) != 0) {
        seterr(err, cap, "%s: %s", path, br_strerror(rc));
        return rc;
    }
    rc = read_rankings(c, &o, out, err, cap);
    br_csv_free(c);
    return rc;
}

int br_rankings_read_mem(const void *buf, size_t len, const br_rankings_opts *opts,
                         br_rankings **out, char *err, size_t cap)
{
    br_rankings_opts o;
    br_csv *c;
    int rc;
    if (!out || (!buf && len) || check_opts(opts, &o) != 0) {
        seterr(err, cap, "invalid arguments");
        return BR_EINVAL;
    }
    *out = NULL;
    if ((rc = br_csv_open_mem(buf ? buf : "", len, &csv_opts, &c)) != 0) {
        seterr(err, cap, "%s", br_strerror(rc));
        return rc;
    }
    rc = read_rankings(c, &o, out, err, cap);
    br_csv_free(c);
    return rc;
}

void br_rankings_free(br_rankings *r)
{
    if (!r)
        return;
    br_lists_free(&r->lists);
    free(r->users);
    free(r->ranks);
    free(r);
}

const int64_t *br_rankings_users(const br_rankings *r, size_t *n)
{
    *n = r->n_users;
    return r->users;
}

const br_lists *br_rankings_lists(const br_rankings *r)
{
    return &r->lists;
}

const int64_t *br_rankings_ranks(const br_rankings *r)
{
    return r->ranks;
}

const br_rankings_stats *br_rankings_get_stats(const br_rankings *r)
{
    return &r->st;
}

size_t br_rankings_n_examples(const br_rankings *r)
{
    return r->n_ex;
}

const char *br_rankings_example(const br_rankings *r, size_t i)
{
    return i < r->n_ex ? r->ex[i].msg : NULL;
}

json_t *br_rankings_stats_json(const br_rankings *r)
{
    const br_rankings_stats *s = &r->st;
    json_t *o = json_pack(
        "{sIsIsIsIsIsIsIsIsIsIsIsI}", "rows", (json_int_t)s->rows, "kept", (json_int_t)s->kept,
        "users", (json_int_t)s->users, "bad_fields", (json_int_t)s->bad_fields, "bad_integer",
        (json_int_t)s->bad_integer, "negative", (json_int_t)s->negative, "out_of_range",
        (json_int_t)s->out_of_range, "dup_pair", (json_int_t)s->dup_pair, "dup_rank",
        (json_int_t)s->dup_rank, "over_list", (json_int_t)s->over_list, "csv_skipped",
        (json_int_t)s->csv_skipped, "rank_ties", (json_int_t)s->rank_ties);
    json_t *ex = json_array();
    if (!o || !ex)
        goto fail;
    for (size_t i = 0; i < r->n_ex; i++)
        if (json_array_append_new(ex, json_string(r->ex[i].msg)) != 0)
            goto fail;
    if (json_object_set_new(o, "examples", ex) != 0) {
        ex = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(ex);
    json_decref(o);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int br_rankings_align(const br_rankings *r, const int64_t *users, size_t n, br_lists *out,
                      size_t *n_missing)
{
    int64_t *rows;
    size_t missing = 0;
    int rc;
    if (!r || !out || (n && !users))
        return BR_EINVAL;
    if (!(rows = malloc((n ? n : 1) * sizeof *rows)))
        return BR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const int64_t *p = bsearch(&users[i], r->users, r->n_users, sizeof *r->users, cmp_i64);
        rows[i] = p ? (int64_t)(p - r->users) : -1;
        missing += !p;
    }
    rc = br_lists_gather(&r->lists, rows, n, out);
    free(rows);
    if (rc == 0 && n_missing)
        *n_missing = missing;
    return rc;
}
