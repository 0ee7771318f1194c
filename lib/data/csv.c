/* CSV reader for the messy files of real book data (dialect: include/bookrec/csv.h).
 *
 * Design decisions:
 * 1. One byte window buf[pos..end): the caller's buffer for memory input, or
 *    a buffer refilled with read(2) in 1 MiB chunks for files. A record is
 *    parsed only once it lies wholly in the window: when the parser runs out
 *    of bytes it gives up, the window is compacted (grown if the record is
 *    longer than the buffer) and refilled, and the record is parsed again
 *    from its start. Records are tiny next to a chunk, so the restart costs
 *    nothing measurable and the parser keeps no state between calls.
 * 2. The parser never looks more than max_record + 2 bytes past the start of
 *    a record, so whether a record is over the limit depends only on its
 *    bytes, never on where chunk borders fall: a file and the same bytes in
 *    memory give the same rows (the fuzz driver checks this).
 * 3. Field bytes are copied, unquoted, into one output buffer with a NUL after
 *    each field. The buffer is sized for the worst case of the window before
 *    parsing, so the inner loops do no bounds checks, and byte classes come
 *    from a 256-entry table: one load and one branch per byte.
 * 4. A record over a limit is skipped through the first line end after its
 *    start, not through its quote-aware end: the usual cause of a record
 *    that breaks a limit is an unbalanced quote ("Half" quoted;... in a file
 *    that never quotes), whose quote-aware end is far away or never comes,
 *    and skipping to it would lose every line it swallowed.
 * 5. Blank lines are skipped, not returned as records with one empty field.
 * 6. In a quoted field, \" is read by what follows it, so that both the
 *    original dump ("Story \"Smoke\" (Easy...") and its RFC 4180 re-exports
 *    ("Story \Smoke\"" (Easy...)", where \ was kept as text) come out as their
 *    writer meant, and a quote that is followed by a separator or line end
 *    always closes the field (the original's "...Readers)\";" rows would
 *    otherwise swallow the next field). See parse_record.
 */
#include "bookrec/csv.h"

#include "bookrec/error.h"
#include "bookrec/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_CHUNK (1u << 20)
#define CSV_MIN_BUF 64u
#define DEF_MAX_FIELD ((size_t)1 << 20)
#define DEF_MAX_RECORD ((size_t)4 << 20)
#define DEF_MAX_FIELDS 512u
/* Upper bounds on the options keep every size computation far from overflow. */
#define MAX_MAX_RECORD ((size_t)1 << 30)
#define MAX_MAX_FIELDS ((size_t)1 << 24)
/* The first record is looked for in at most this many bytes. */
#define DETECT_WINDOW ((size_t)64 << 10)

struct br_csv {
    int fd;                   /* -1 for memory input */
    const unsigned char *buf; /* the window: own buffer or the caller's */
    unsigned char *own;
    size_t bufcap, pos, end;
    uint64_t base; /* input offset of buf[0] */
    int eof;       /* no bytes after buf[end] */
    int err;       /* sticky read error */
    int skip_lf;   /* the last line ended with CR: a following LF belongs to it */
    int started;   /* the BOM check is done */
    char sep;
    size_t max_field, max_record, max_fields;
    uint64_t line; /* physical line of buf[pos] */
    uint64_t size;
    unsigned char ucls[256]; /* bytes that end a run outside quotes */
    unsigned char qcls[256]; /* bytes that end a run inside quotes */

    char *out; /* field bytes of the current record, NUL after each */
    size_t outcap;
    char *conv; /* the same after latin-1 conversion */
    size_t convcap;
    size_t *offs; /* field start offsets in out (then in conv) */
    size_t *lens;
    char **fields;
    size_t fieldcap;
    br_csv_stats st;
};

static void set_sep(br_csv *c, char sep)
{
    c->sep = sep;
    memset(c->ucls, 0, sizeof c->ucls);
    c->ucls[(unsigned char)sep] = 1;
    c->ucls['\r'] = c->ucls['\n'] = 1;
}

static int grow_buf(char **p, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 4096;
    char *q;

    if (need <= *cap)
        return 0;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    q = realloc(*p, n);
    if (!q)
        return BR_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int grow_fields(br_csv *c)
{
    size_t n = c->fieldcap ? c->fieldcap * 2 : 16;
    void *a, *b, *f;

    if (n > c->max_fields)
        n = c->max_fields;
    /* Each array is kept on failure; fieldcap moves only when all three grew. */
    a = realloc(c->offs, n * sizeof *c->offs);
    if (!a)
        return BR_ENOMEM;
    c->offs = a;
    b = realloc(c->lens, n * sizeof *c->lens);
    if (!b)
        return BR_ENOMEM;
    c->lens = b;
    f = realloc(c->fields, n * sizeof *c->fields);
    if (!f)
        return BR_ENOMEM;
    c->fields = f;
    c->fieldcap = n;
    return 0;
}

static int init(br_csv *c, const br_csv_opts *opts)
{
    br_csv_opts o = opts ? *opts : (br_csv_opts){0};

    if (o.sep == '"' || o.sep == '\\' || o.sep == '\r' || o.sep == '\n')
        return BR_EINVAL;
    if (o.max_record > MAX_MAX_RECORD || o.max_fields > MAX_MAX_FIELDS)
        return BR_EINVAL;
    c->fd = -1;
    c->max_field = o.max_field ? o.max_field : DEF_MAX_FIELD;
    c->max_record = o.max_record ? o.max_record : DEF_MAX_RECORD;
    c->max_fields = o.max_fields ? o.max_fields : DEF_MAX_FIELDS;
    c->line = 1;
    c->qcls['"'] = c->qcls['\\'] = c->qcls['\r'] = c->qcls['\n'] = 1;
    if (o.sep)
        set_sep(c, o.sep);
    return 0;
}

int br_csv_open_mem(const void *buf, size_t len, const br_csv_opts *opts, br_csv **out)
{
    br_csv *c;
    int rc;

    *out = NULL;
    if (!buf && len)
        return BR_EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return BR_ENOMEM;
    if ((rc = init(c, opts)) != 0)
        goto fail;
    c->buf = buf ? buf : (const unsigned char *)"";
    c->end = len;
    c->eof = 1;
    c->size = len;
    *out = c;
    return 0;
fail:
    br_csv_free(c);
    return rc;
}

int br_csv_open_file(const char *path, const br_csv_opts *opts, br_csv **out)
{
    br_csv *c;
    struct stat st;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return BR_ENOMEM;
    if ((rc = init(c, opts)) != 0)
        goto fail;
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? BR_ENOENT : BR_EIO;
        goto fail;
    }
    if (fstat(c->fd, &st) != 0) {
        rc = BR_EIO;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = BR_EINVAL;
        goto fail;
    }
    if (S_ISREG(st.st_mode))
        c->size = (uint64_t)st.st_size;
    /* Never more than a chunk, and no more than a record can need: a small
     * max_record gives a small buffer (the tests use that to cross chunk
     * borders often). */
    c->bufcap = c->max_record + 2;
    if (c->bufcap > CSV_CHUNK)
        c->bufcap = CSV_CHUNK;
    if (c->bufcap < CSV_MIN_BUF)
        c->bufcap = CSV_MIN_BUF;
    c->own = malloc(c->bufcap);
    if (!c->own) {
        rc = BR_ENOMEM;
        goto fail;
    }
    c->buf = c->own;
    *out = c;
    return 0;
fail:
    br_csv_free(c);
    return rc;
}

void br_csv_free(br_csv *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->own);
    free(c->out);
    free(c->conv);
    free(c->offs);
    free(c->lens);
    free(c->fields);
    free(c);
}

char br_csv_sep(const br_csv *c)
{
    return c->sep;
}

const br_csv_stats *br_csv_get_stats(const br_csv *c)
{
    return &c->st;
}

uint64_t br_csv_size(const br_csv *c)
{
    return c->size;
}

/* Moves the unread bytes to the front of the buffer, grows it when they fill
 * it (never past max_record + 2, the most a record needs), and reads until
 * the buffer is full or the file ends. */
static int fill(br_csv *c)
{
    if (c->fd < 0 || c->eof) {
        c->eof = 1;
        return 0;
    }
    if (c->pos > 0) {
        memmove(c->own, c->own + c->pos, c->end - c->pos);
        c->base += c->pos;
        c->end -= c->pos;
        c->pos = 0;
    }
    if (c->end == c->bufcap) {
        size_t ncap = c->bufcap * 2, most = c->max_record + 2;
        if (ncap > most)
            ncap = most;
        if (ncap <= c->bufcap) /* cannot happen: the parser stops at most */
            return BR_ELIMIT;
        unsigned char *n = realloc(c->own, ncap);
        if (!n)
            return BR_ENOMEM;
        c->own = n;
        c->bufcap = ncap;
    }
    c->buf = c->own;
    while (c->end < c->bufcap) {
        ssize_t n = read(c->fd, c->own + c->end, c->bufcap - c->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            c->err = BR_EIO;
            return BR_EIO;
        }
        if (n == 0) {
            c->eof = 1;
            break;
        }
        c->end += (size_t)n;
    }
    return 0;
}

/* Picks the separator that occurs most often outside quotes in the first
 * record (ties go to the earlier of ; , TAB |). */
static int detect_sep(br_csv *c)
{
    static const char cand[4] = {';', ',', '\t', '|'};
    size_t want = c->max_record + 2 < DETECT_WINDOW ? c->max_record + 2 : DETECT_WINDOW;
    size_t cnt[4] = {0}, lim;
    int rc, best = -1;

    if (c->end - c->pos < want && !c->eof && (rc = fill(c)) != 0)
        return rc;
    lim = c->end - c->pos < want ? c->end : c->pos + want;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        /* Pass 0 honours quotes; pass 1 ignores them, for a first line whose
         * quotes do not balance. */
        int inq = 0;
        memset(cnt, 0, sizeof cnt);
        for (size_t i = c->pos; i < lim; i++) {
            unsigned char ch = c->buf[i];
            if (ch == '"' && pass == 0) {
                inq = !inq;
                continue;
            }
            if (inq)
                continue;
            if (ch == '\n' || ch == '\r')
                break;
            for (int k = 0; k < 4; k++)
                cnt[k] += ch == (unsigned char)cand[k];
        }
        for (int k = 0; k < 4; k++)
            if (cnt[k] && (best < 0 || cnt[k] > cnt[best]))
                best = k;
    }
    /* One column: any separator reads it the same; say ',' for the caller. */
    set_sep(c, best < 0 ? ',' : cand[best]);
    return 0;
}

enum { P_DONE = 1, P_MORE = 2 };

struct rec {
    size_t next;    /* window offset after the record and its line end */
    size_t rec_end; /* window offset of its line end, or of the end of input */
    size_t nfields; /* fields seen; may exceed max_fields */
    size_t used;    /* output bytes, NULs included */
    uint64_t lines; /* line ends inside and after the record */
    int too_long;   /* a field over max_field */
    unsigned hi;    /* OR of the field bytes: bit 7 set when not all ASCII */
};

/* Parses the record at buf[pos] from the bytes before lim; at_eof says that
 * no bytes follow lim. Returns P_DONE, P_MORE when it needs bytes past lim,
 * or BR_ENOMEM. c->out must hold (lim - pos) + min(lim - pos + 1, max_fields)
 * bytes: each input byte gives at most one output byte, plus one NUL for each
 * stored field.
 *
 * Inside a quoted field:
 *   "   followed by the separator, a line end or the end closes the field;
 *   ""  is one quote; any other " is a literal quote;
 *   \"  followed by the separator/line end/end: a literal \, and the quote
 *       closes (the dump's "...Readers)\";" rows);
 *   \"x for any other x but ": one quote (the dump's escape); this also marks
 *       the field as one that escapes quotes with \;
 *   \"" followed by the separator/line end/end: in a marked field one quote,
 *       then the close (the dump's "\"Smoke\""); otherwise a literal \ and one
 *       quote, and the field goes on (RFC re-exports of values that held \",
 *       as 653 rows of Users.csv: "århus, \n/a\"", denmark""");
 *   \"" followed by anything else: a literal \, then "" is one quote.
 */
static int parse_record(br_csv *c, size_t lim, int at_eof, struct rec *r)
{
    const unsigned char *const b = c->buf;
    const unsigned char *p = b + c->pos, *const e = b + lim;
    unsigned char *const o0 = (unsigned char *)c->out;
    unsigned char *o = o0;
    const unsigned char *const ucls = c->ucls, *const qcls = c->qcls;
    const unsigned char sep = (unsigned char)c->sep;
    unsigned hi = 0;
    size_t nf = 0;
    uint64_t lines = 0;
    int too_long = 0;

/* The byte at q is needed: give up unless it is there or the input ended. */
#define NEED(q)                                                                                    \
    do {                                                                                           \
        if ((q) >= e && !at_eof)                                                                   \
            return P_MORE;                                                                         \
    } while (0)
/* After NEED(q): does q end a field (separator, line end, end of input)? */
#define TERM(q) ((q) >= e || *(q) == sep || *(q) == '\n' || *(q) == '\r')

    for (;;) {
        unsigned char *fo = o;
        int bsl = 0; /* the field escapes quotes with a backslash (see above) */

        if (p < e && *p == '"') {
            p++;
            for (;;) {
                while (p < e && !qcls[*p]) {
                    hi |= *p;
                    *o++ = *p++;
                }
                if (p >= e) {
                    NEED(p);
                    break; /* unterminated at the end of input: keep what we have */
                }
                if (*p == '"') {
                    NEED(p + 1);
                    if (TERM(p + 1)) {
                        p++;
                        break;
                    }
                    *o++ = '"';
                    p += p[1] == '"' ? 2 : 1;
                } else if (*p == '\\') {
                    NEED(p + 1);
                    if (p + 1 >= e || p[1] != '"') {
                        *o++ = *p++;
                        continue;
                    }
                    NEED(p + 2);
                    if (TERM(p + 2)) {
                        *o++ = *p++;
                        continue;
                    }
                    if (p[2] == '"') {
                        NEED(p + 3);
                        if (TERM(p + 3) && bsl) {
                            *o++ = '"';
                            p += 2;
                        } else {
                            *o++ = *p++;
                        }
                        continue;
                    }
                    *o++ = '"';
                    p += 2;
                    bsl = 1;
                } else { /* a line end inside quotes is data */
                    if (*p == '\r') {
                        NEED(p + 1);
                        *o++ = *p++;
                        if (p < e && *p == '\n')
                            *o++ = *p++;
                    } else {
                        *o++ = *p++;
                    }
                    lines++;
                }
            }
        } else {
            while (p < e && !ucls[*p]) {
                hi |= *p;
                *o++ = *p++;
            }
            NEED(p);
        }

        /* p is at the end of input, a separator or a line end. */
        size_t flen = (size_t)(o - fo);
        if (flen > c->max_field)
            too_long = 1;
        if (nf < c->max_fields) {
            if (nf == c->fieldcap && grow_fields(c) != 0)
                return BR_ENOMEM;
            c->offs[nf] = (size_t)(fo - o0);
            c->lens[nf] = flen;
            *o++ = '\0';
        }
        nf++;
        if (p < e && *p == sep) {
            p++;
            continue;
        }
        r->rec_end = (size_t)(p - b);
        if (p < e) {
            if (*p == '\r') {
                NEED(p + 1);
                p++;
                if (p < e && *p == '\n')
                    p++;
            } else {
                p++;
            }
            lines++;
        }
        break;
    }
#undef NEED
#undef TERM
    r->next = (size_t)(p - b);
    r->nfields = nf;
    r->used = (size_t)(o - o0);
    r->lines = lines;
    r->too_long = too_long;
    r->hi = hi;
    return P_DONE;
}

/* Skips from pos through the first line end (the recovery of decision 4). */
static int skip_line(br_csv *c)
{
    int rc;

    for (;;) {
        const unsigned char *p = c->buf + c->pos, *e = c->buf + c->end;
        while (p < e && *p != '\n' && *p != '\r')
            p++;
        if (p < e) {
            c->line++;
            c->pos = (size_t)(p - c->buf) + 1;
            c->skip_lf = *p == '\r';
            return 0;
        }
        c->pos = c->end;
        if (c->eof)
            return 0;
        if ((rc = fill(c)) != 0)
            return rc;
    }
}

/* Rewrites the fields of the record in out as UTF-8 from cp1252/latin-1. */
static int convert_latin1(br_csv *c, size_t nf, size_t used, int *too_long)
{
    size_t at = 0;
    int rc;

    if (used > (SIZE_MAX - 1) / 3)
        return BR_ENOMEM;
    if ((rc = grow_buf(&c->conv, &c->convcap, 3 * used + 1)) != 0)
        return rc;
    for (size_t i = 0; i < nf; i++) {
        size_t n = br_latin1_to_utf8(c->out + c->offs[i], c->lens[i], c->conv + at);
        c->offs[i] = at;
        c->lens[i] = n;
        if (n > c->max_field)
            *too_long = 1;
        at += n + 1;
    }
    return 0;
}

int br_csv_next(br_csv *c, br_csv_row *row)
{
    struct rec r = {0};
    uint64_t start_line;
    const char *data;
    int rc;

    memset(row, 0, sizeof *row);
    if (c->err)
        return c->err;

    if (!c->started) {
        if (c->end - c->pos < 3 && (rc = fill(c)) != 0)
            goto done;
        if (c->end - c->pos >= 3 && memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0)
            c->pos += 3;
        c->started = 1;
    }

    /* Blank lines, and the LF of a CR LF whose CR ended the last record. */
    for (;;) {
        if (c->pos == c->end) {
            if (c->eof) {
                rc = 0;
                goto done;
            }
            if ((rc = fill(c)) != 0)
                goto done;
            continue;
        }
        unsigned char ch = c->buf[c->pos];
        if (c->skip_lf) {
            c->skip_lf = 0;
            if (ch == '\n')
                c->pos++;
            continue;
        }
        if (ch != '\n' && ch != '\r')
            break;
        c->pos++;
        c->line++;
        c->skip_lf = ch == '\r';
    }
    if (!c->sep && (rc = detect_sep(c)) != 0)
        goto done;

    start_line = c->line;
    for (;;) {
        size_t most = c->max_record + 2;
        size_t avail = c->end - c->pos;
        size_t lim = avail < most ? c->end : c->pos + most;
        size_t span = lim - c->pos;
        size_t nuls = span + 1 < c->max_fields ? span + 1 : c->max_fields;
        if ((rc = grow_buf(&c->out, &c->outcap, span + nuls + 1)) != 0)
            goto done;
        rc = parse_record(c, lim, lim == c->end && c->eof, &r);
        if (rc < 0)
            goto done;
        if (rc == P_DONE)
            break;
        if (span >= most)
            goto over; /* no end within max_record + 2 bytes */
        if ((rc = fill(c)) != 0)
            goto done;
    }
    if (r.rec_end - c->pos > c->max_record || r.nfields > c->max_fields || r.too_long)
        goto over;
    data = c->out;
    if ((r.hi & 0x80) && !br_utf8_valid(c->out, r.used)) {
        if ((rc = convert_latin1(c, r.nfields, r.used, &r.too_long)) != 0)
            goto done;
        if (r.too_long)
            goto over;
        data = c->conv;
        c->st.converted_latin1++;
    }
    c->pos = r.next;
    c->line += r.lines;
    for (size_t i = 0; i < r.nfields; i++)
        c->fields[i] = (char *)data + c->offs[i];
    c->st.records++;
    row->nfields = r.nfields;
    row->fields = c->fields;
    row->lens = c->lens;
    row->line = start_line;
    row->record = c->st.records;
    rc = 1;
    goto done;

over:
    if ((rc = skip_line(c)) != 0)
        goto done;
    c->st.skipped_limit++;
    row->line = start_line;
    rc = BR_ELIMIT;
done: /* every exit, errors included: keep the byte count current */
    c->st.bytes = c->base + c->pos;
    return rc;
}
