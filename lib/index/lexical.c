/* Lexical index over titles, authors and subjects (see include/bookrec/lexical.h; the file
 * format is documented in docs/indexes.md, "Lexical index").
 *
 * Design decisions:
 * 1. Scores are computed at build time. A posting holds the finished BM25F contribution of
 *    its term to its document, idf(t) * tf~ (k1 + 1) / (k1 + tf~) with
 *    tf~ = sum over fields of w_f tf_f / (1 - b + b len_f / avglen_f) (Robertson, Zaragoza &
 *    Taylor 2004), so a search is additions into a per-document accumulator (term at a time)
 *    and a bounded top-k. The parameters are recorded in the file; changing k1, b or a
 *    weight means rebuilding, which takes well under a second on the catalog.
 * 2. The file is the in-memory layout, as the HNSW file: a 128-byte header, then doc ids,
 *    term offsets, posting offsets, posting documents, posting scores and the term bytes at
 *    offsets computed from the sizes. A built index is the same image in a malloc'd block
 *    and goes through the same validation as a file, so there is one reading path and save
 *    writes the block as it is.
 * 3. Terms are sorted bytewise: an exact lookup is a binary search and the completions of a
 *    prefix are one contiguous range. Of a range larger than max_expansions the most
 *    frequent terms are taken (autocomplete wants the common completions), in
 *    O(range log max_expansions); this bounds the work of a one-letter prefix.
 * 4. The last token contributes max(full match, discount * best completion) to a document,
 *    not a sum over its completions, so a prefix that hits several words of one book does
 *    not outweigh a whole word. A query that ends in a separator ("harry potter ") has a
 *    finished last word and completes nothing.
 * 5. Documents are stored sorted by id and postings by document, so document order is id
 *    order and equal scores go to the smaller id (br_topk's order).
 * 6. Search scratch is an accumulator per document with a "seen" flag, and a list of the
 *    touched documents, so only those are ranked and reset. Scratches are kept in a pool
 *    per index (a free list under a mutex, as the HNSW search's): allocating half a
 *    megabyte per call cost more than the search itself (glibc returns it to the kernel
 *    and page-faults it back). The pool holds as many scratches as there were concurrent
 *    searches.
 * 7. Accent folding duplicates the table of lib/data/text.c, which keeps it static; both
 *    fold Latin-1 and Latin Extended-A the same way, so title keys and search terms agree.
 */
#include "bookrec/lexical.h"

#include "bookrec/arena.h"
#include "bookrec/error.h"
#include "bookrec/fsutil.h"
#include "bookrec/hashmap.h"
#include "bookrec/store.h"
#include "bookrec/topk.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- file format (docs/indexes.md) ---- */
#define LEX_MAGIC "BRLEXI\r\n"
#define LEX_VERSION 1u
#define LEX_HEADER_SIZE 128u
#define LEX_ENDIAN 0x01020304u
#define LEX_MAX_POSTINGS (UINT32_MAX - 1u)
#define LEX_MAX_TERM_BYTES (UINT32_MAX - 1u)
#define LEX_MAX_SCORE 1e6f /* far above any BM25 score; keeps 16 summed terms finite */
/* Far below any BM25 score (~0.5/N at worst), far above the denormals: a posting times the
 * completion discount (>= 0.01) stays a positive normal float. */
#define LEX_MIN_SCORE 1e-30f
#define FIELDS 3

typedef struct lex_header {
    char magic[8];        /* LEX_MAGIC */
    uint32_t version;     /* LEX_VERSION */
    uint32_t header_size; /* LEX_HEADER_SIZE */
    uint32_t endian;      /* LEX_ENDIAN as written by the host */
    uint32_t reserved0;   /* zero */
    uint64_t file_size;   /* the whole file */
    uint64_t checksum;    /* XXH64 (seed 0) of the file with this field zeroed */
    uint64_t n_docs, n_terms, n_postings, term_bytes;
    float k1, b, w[FIELDS], prefix_discount;
    float avg_len[FIELDS]; /* mean tokens per field, informative */
    uint32_t max_expansions, min_prefix;
    uint8_t reserved[12]; /* zero */
} lex_header;

_Static_assert(sizeof(lex_header) == LEX_HEADER_SIZE, "header is 128 bytes");

enum { SEC_IDS, SEC_TOFF, SEC_POFF, SEC_PDOC, SEC_PSCORE, SEC_TBYTES, SEC_COUNT };

typedef struct lex_layout {
    uint64_t off[SEC_COUNT];
    uint64_t file_size;
} lex_layout;

/* A document's running score: the sum of its full tokens and the best of the last token
 * (decision 4); seen says whether the rest is valid in this search. */
typedef struct doc_acc {
    float sum, best;
    uint32_t seen;
} doc_acc;

typedef struct scratch scratch;
typedef struct scratch_pool scratch_pool;

struct br_lexical {
    const int32_t *ids;   /* n_docs, strictly increasing */
    const uint32_t *toff; /* n_terms + 1: term i is tbytes[toff[i], toff[i+1]) */
    const uint32_t *poff; /* n_terms + 1: postings of term i are [poff[i], poff[i+1]) */
    const uint32_t *pdoc; /* n_postings: document index, increasing within a term */
    const float *pscore;  /* n_postings: BM25F contribution */
    const char *tbytes;
    size_t n_docs, n_terms, n_postings;
    float discount;
    uint32_t max_expansions, min_prefix;
    const void *image;
    size_t image_len;
    void *map;   /* mmap'd file, or NULL */
    void *block; /* built image, or NULL */
    scratch_pool *pool;
};

/* Per-search memory (decision 6). */
struct scratch {
    struct scratch *next; /* in the pool's free list */
    doc_acc *acc;         /* by document */
    uint32_t *touched;    /* documents with acc[d].seen set */
    br_topk_item heap[BR_LEXICAL_MAX_K];
    uint32_t exp[BR_LEXICAL_MAX_EXPANSIONS];
};

struct scratch_pool {
    pthread_mutex_t mu;
    scratch *free_list;
};

void br_lexical_params_default(br_lexical_params *p)
{
    p->k1 = 1.2f;
    p->b = 0.75f;
    p->w_title = 3.0f;
    p->w_author = 2.0f;
    p->w_subjects = 1.0f;
    p->prefix_discount = 0.9f;
    p->max_expansions = 64;
    p->min_prefix = 2;
}

static int weight_ok(float w)
{
    return w > 0.0f && w <= 1000.0f; /* positive: every posting scores above zero */
}

static int params_ok(float k1, float b, const float w[FIELDS], float disc, uint32_t max_exp,
                     uint32_t min_prefix)
{
    return k1 > 0.0f && k1 <= 100.0f && b >= 0.0f && b <= 1.0f && weight_ok(w[0]) &&
           weight_ok(w[1]) && weight_ok(w[2]) && disc >= 0.01f && disc <= 1.0f &&
           max_exp <= BR_LEXICAL_MAX_EXPANSIONS && min_prefix >= 1 &&
           min_prefix <= BR_LEXICAL_MAX_TOKEN;
}

/* ---- tokenizer ------------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at p (1-4) and its code point (Unicode Table 3-7: no
 * overlongs, surrogates or values above U+10FFFF). A byte that starts no valid sequence is
 * one latin-1 character (as lib/data/text.c reads the Book-Crossing dump). */
static size_t decode(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t n, avail = (size_t)(end - p);
    uint32_t v;

    *cp = c;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 1;
    }
    if (avail < n)
        return 1;
    for (size_t i = 1; i < n; i++) {
        unsigned x = p[i];
        if (x < lo || x > hi)
            return 1;
        lo = 0x80, hi = 0xBF;
        v = (v << 6) | (x & 0x3F);
    }
    *cp = v;
    return n;
}

static size_t encode(uint32_t cp, char *o)
{
    unsigned char *u = (unsigned char *)o;
    if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ASCII folds of U+00C0..U+017F (decision 7); "" marks the symbols × and ÷. */
/* clang-format off */
static const char *const fold_latin[192] = {
    /* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

enum { C_SEP, C_DROP, C_WORD };

/* Class of a code point; for C_WORD its folded bytes (at most 4) go to buf. */
static int fold(uint32_t cp, char *buf, size_t *n)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            buf[0] = (char)cp, *n = 1;
            return C_WORD;
        }
        if (cp >= 'A' && cp <= 'Z') {
            buf[0] = (char)(cp + 32), *n = 1;
            return C_WORD;
        }
        return C_SEP;
    }
    if (cp >= 0xC0 && cp < 0x180) {
        const char *f = fold_latin[cp - 0xC0];
        *n = strlen(f);
        memcpy(buf, f, *n);
        return *n ? C_WORD : C_SEP;
    }
    /* Combining accents (a decomposed "e\u0301"), the soft hyphen, zero-width joiners and
     * the BOM vanish inside a word. */
    if ((cp >= 0x300 && cp <= 0x36F) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200D) ||
        cp == 0xFEFF)
        return C_DROP;
    /* C1 controls and Latin-1 symbols, general punctuation, currency, CJK and fullwidth
     * punctuation separate; letters of other scripts are kept as they are. */
    if (cp < 0xC0 || (cp >= 0x2000 && cp <= 0x20CF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20))
        return C_SEP;
    *n = encode(cp, buf);
    return C_WORD;
}

typedef struct tok_iter {
    const unsigned char *p, *end;
} tok_iter;

/* The next token of at most BR_LEXICAL_MAX_TOKEN bytes into out (that many bytes + 1 of
 * room), its length in *n; *at_end = 1 when no separator follows it. Longer tokens are
 * skipped whole. 0 when the text is done. */
static int next_token(tok_iter *it, char *out, size_t *n, int *at_end)
{
    for (;;) {
        size_t len = 0;
        int in_word = 0, too_long = 0;
        while (it->p < it->end) {
            uint32_t cp;
            char buf[4];
            size_t bn = 0, k = decode(it->p, it->end, &cp);
            int c = fold(cp, buf, &bn);
            if (c == C_SEP && in_word)
                break;
            it->p += k;
            if (c != C_WORD)
                continue;
            in_word = 1;
            if (len + bn <= BR_LEXICAL_MAX_TOKEN) {
                memcpy(out + len, buf, bn);
                len += bn;
            } else {
                too_long = 1;
            }
        }
        if (!in_word)
            return 0;
        if (too_long)
            continue;
        out[len] = '\0';
        *n = len;
        *at_end = it->p == it->end;
        return 1;
    }
}

size_t br_lexical_tokenize(const char *text, char *out, size_t cap)
{
    if (!text || !out)
        return 0;
    tok_iter it = {(const unsigned char *)text, (const unsigned char *)text + strlen(text)};
    char tok[BR_LEXICAL_MAX_TOKEN + 1];
    size_t n, used = 0, count = 0;
    int at_end;
    while (next_token(&it, tok, &n, &at_end)) {
        if (n + 1 > cap - used)
            break;
        memcpy(out + used, tok, n + 1);
        used += n + 1;
        count++;
    }
    return count;
}

/* ---- layout, checksum, validation -------------------------------------------------------- */

static uint64_t align8(uint64_t x)
{
    return (x + 7) & ~(uint64_t)7;
}

/* The canonical layout; sizes are bounded by the caller (n_docs <= INT32_MAX, the rest
 * below 2^32), so no sum here can overflow. */
static void layout_of(uint64_t n_docs, uint64_t n_terms, uint64_t n_postings, uint64_t term_bytes,
                      lex_layout *lay)
{
    uint64_t len[SEC_COUNT] = {n_docs * 4,     (n_terms + 1) * 4, (n_terms + 1) * 4,
                               n_postings * 4, n_postings * 4,    term_bytes};
    uint64_t at = LEX_HEADER_SIZE;
    for (int s = 0; s < SEC_COUNT; s++) {
        at = align8(at);
        lay->off[s] = at;
        at += len[s];
    }
    lay->file_size = at;
}

/* XXH64 of the header (its checksum field read as zero) followed by the body. */
static uint64_t image_checksum(const lex_header *hd, const char *body, size_t body_len)
{
    lex_header copy = *hd;
    copy.checksum = 0;
    XXH64_state_t *st = XXH64_createState();
    if (!st) /* a checksum that cannot be computed cannot match */
        return ~hd->checksum;
    XXH64_reset(st, 0);
    XXH64_update(st, &copy, sizeof copy);
    XXH64_update(st, body, body_len);
    uint64_t d = XXH64_digest(st);
    XXH64_freeState(st);
    return d;
}

static int term_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static int term_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Checks the image in buf and points x into it (design decision 2): cheapest first, and a
 * failure names the first thing that is wrong. */
static int validate(const void *buf, size_t len, char *err, size_t errcap, br_lexical *x)
{
    const char *b = buf;
    if ((uintptr_t)buf % 8)
        return br_errf(err, errcap, BR_EINVAL, "buffer is not 8-byte aligned");
    if (len < 8 || memcmp(b, LEX_MAGIC, 8) != 0)
        return br_errf(err, errcap, BR_EFORMAT, "not a lexical index (bad magic)");
    if (len < LEX_HEADER_SIZE)
        return br_errf(err, errcap, BR_ECORRUPT, "truncated: %zu bytes, the header alone is %u",
                       len, LEX_HEADER_SIZE);
    lex_header hd;
    memcpy(&hd, b, sizeof hd);
    if (hd.version != LEX_VERSION)
        return br_errf(err, errcap, BR_EFORMAT, "format version %u, this build reads %u",
                       hd.version, LEX_VERSION);
    if (hd.endian != LEX_ENDIAN)
        return br_errf(err, errcap, BR_EFORMAT, "written with another byte order");
    if (hd.header_size != LEX_HEADER_SIZE)
        return br_errf(err, errcap, BR_ECORRUPT, "header size %u, expected %u", hd.header_size,
                       LEX_HEADER_SIZE);
    if (hd.file_size != len)
        return br_errf(err, errcap, BR_ECORRUPT, "%s: the header says %llu bytes, there are %zu",
                       hd.file_size > len ? "truncated" : "trailing bytes",
                       (unsigned long long)hd.file_size, len);
    uint64_t sum = image_checksum(&hd, b + LEX_HEADER_SIZE, len - LEX_HEADER_SIZE);
    if (sum != hd.checksum)
        return br_errf(err, errcap, BR_ECORRUPT,
                       "checksum mismatch: header 0x%016llx, content 0x%016llx",
                       (unsigned long long)hd.checksum, (unsigned long long)sum);

    /* Fields. The checksum matched, so a bad value means a bad writer: still refuse it. */
    static const uint8_t zero[sizeof hd.reserved];
    if (hd.reserved0 || memcmp(hd.reserved, zero, sizeof zero) != 0)
        return br_errf(err, errcap, BR_ECORRUPT, "reserved header bytes are not zero");
    if (!params_ok(hd.k1, hd.b, hd.w, hd.prefix_discount, hd.max_expansions, hd.min_prefix))
        return br_errf(err, errcap, BR_ECORRUPT, "parameters out of range");
    for (int f = 0; f < FIELDS; f++)
        if (!(hd.avg_len[f] >= 0.0f && hd.avg_len[f] <= BR_LEXICAL_MAX_DOC_TOKENS))
            return br_errf(err, errcap, BR_ECORRUPT, "mean field length out of range");
    if (hd.n_docs > INT32_MAX || hd.n_terms > hd.n_postings || hd.n_postings > LEX_MAX_POSTINGS ||
        hd.term_bytes > LEX_MAX_TERM_BYTES || hd.term_bytes < hd.n_terms ||
        hd.term_bytes > hd.n_terms * BR_LEXICAL_MAX_TOKEN || (hd.n_postings && !hd.n_docs))
        return br_errf(err, errcap, BR_ECORRUPT,
                       "bad sizes (docs %llu, terms %llu, postings %llu, term bytes %llu)",
                       (unsigned long long)hd.n_docs, (unsigned long long)hd.n_terms,
                       (unsigned long long)hd.n_postings, (unsigned long long)hd.term_bytes);
    lex_layout lay;
    layout_of(hd.n_docs, hd.n_terms, hd.n_postings, hd.term_bytes, &lay);
    if (lay.file_size != hd.file_size)
        return br_errf(err, errcap, BR_ECORRUPT, "file size disagrees with the section sizes");

    x->n_docs = (size_t)hd.n_docs;
    x->n_terms = (size_t)hd.n_terms;
    x->n_postings = (size_t)hd.n_postings;
    x->discount = hd.prefix_discount;
    x->max_expansions = hd.max_expansions;
    x->min_prefix = hd.min_prefix;
    x->ids = (const int32_t *)(const void *)(b + lay.off[SEC_IDS]);
    x->toff = (const uint32_t *)(const void *)(b + lay.off[SEC_TOFF]);
    x->poff = (const uint32_t *)(const void *)(b + lay.off[SEC_POFF]);
    x->pdoc = (const uint32_t *)(const void *)(b + lay.off[SEC_PDOC]);
    x->pscore = (const float *)(const void *)(b + lay.off[SEC_PSCORE]);
    x->tbytes = b + lay.off[SEC_TBYTES];
    x->image = buf;
    x->image_len = len;

    for (size_t i = 0; i < x->n_docs; i++)
        /* Below INT32_MAX: br_lexical_id_bound (largest id + 1) must fit in an int32. */
        if (x->ids[i] < 0 || x->ids[i] == INT32_MAX || (i > 0 && x->ids[i] <= x->ids[i - 1]))
            return br_errf(err, errcap, BR_ECORRUPT, "doc ids not increasing at doc %zu", i);
    if (x->toff[0] != 0 || x->toff[x->n_terms] != hd.term_bytes || x->poff[0] != 0 ||
        x->poff[x->n_terms] != hd.n_postings)
        return br_errf(err, errcap, BR_ECORRUPT, "offsets do not span their sections");
    for (size_t t = 0; t < x->n_terms; t++) {
        uint32_t a = x->toff[t], e = x->toff[t + 1];
        /* e - a is checked before e is used, so no term reaches past the section. */
        if (e <= a || e - a > BR_LEXICAL_MAX_TOKEN || e > hd.term_bytes)
            return br_errf(err, errcap, BR_ECORRUPT, "term %zu: bad offsets", t);
        for (uint32_t j = a; j < e; j++)
            if (!term_byte_ok((unsigned char)x->tbytes[j]))
                return br_errf(err, errcap, BR_ECORRUPT, "term %zu: byte 0x%02x", t,
                               (unsigned char)x->tbytes[j]);
        if (t > 0 &&
            term_cmp(x->tbytes + x->toff[t - 1], a - x->toff[t - 1], x->tbytes + a, e - a) >= 0)
            return br_errf(err, errcap, BR_ECORRUPT, "terms not sorted at term %zu", t);
        uint32_t pa = x->poff[t], pe = x->poff[t + 1];
        if (pe <= pa || pe > hd.n_postings)
            return br_errf(err, errcap, BR_ECORRUPT, "term %zu: bad posting offsets", t);
        for (uint32_t j = pa; j < pe; j++) {
            if (x->pdoc[j] >= x->n_docs || (j > pa && x->pdoc[j] <= x->pdoc[j - 1]))
                return br_errf(err, errcap, BR_ECORRUPT,
                               "term %zu: posting %u: document out of range or out of order", t, j);
            float s = x->pscore[j];
            if (!(s >= LEX_MIN_SCORE && s <= LEX_MAX_SCORE)) /* also refuses NaN */
                return br_errf(err, errcap, BR_ECORRUPT, "term %zu: posting %u: score %g", t, j,
                               (double)s);
        }
    }
    return 0;
}

static void pool_free(scratch_pool *p);
static int pool_new(scratch_pool **out);

void br_lexical_free(br_lexical *x)
{
    if (!x)
        return;
    pool_free(x->pool);
    if (x->map)
        munmap(x->map, x->image_len);
    free(x->block);
    free(x);
}

int br_lexical_parse(const void *buf, size_t len, char *err, size_t errcap, br_lexical **out)
{
    if (!buf || !out)
        return br_errf(err, errcap, BR_EINVAL, "NULL argument");
    *out = NULL;
    br_lexical *x = calloc(1, sizeof *x);
    if (!x)
        return br_errf(err, errcap, BR_ENOMEM, "out of memory");
    int rc = validate(buf, len, err, errcap, x);
    if (!rc && pool_new(&x->pool) != 0)
        rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
    if (rc) {
        br_lexical_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

int br_lexical_open(const char *path, char *err, size_t errcap, br_lexical **out)
{
    if (!path || !out)
        return br_errf(err, errcap, BR_EINVAL, "NULL argument");
    *out = NULL;
    int rc;
    char why[200] = "";
    br_lexical *x = NULL;
    void *map = NULL;
    size_t map_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return br_errf(err, errcap, errno == ENOENT ? BR_ENOENT : BR_EIO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = br_errf(err, errcap, BR_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 8) {
        rc = br_errf(err, errcap, S_ISREG(st.st_mode) ? BR_ECORRUPT : BR_EIO, "%s: %s", path,
                     S_ISREG(st.st_mode) ? "truncated (under 8 bytes)" : "not a regular file");
        goto fail;
    }
    map_len = (size_t)st.st_size;
    /* Populated at once: validation reads every page anyway. */
    map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        rc = br_errf(err, errcap, BR_EIO, "%s: mmap: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (!(x = calloc(1, sizeof *x))) {
        rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = validate(map, map_len, why, sizeof why, x);
    if (rc) {
        br_errf(err, errcap, rc, "%s: %s", path, why);
        goto fail;
    }
    x->map = map;
    map = NULL;
    if (pool_new(&x->pool) != 0) {
        rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
        goto fail;
    }
    *out = x;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (map)
        munmap(map, map_len);
    br_lexical_free(x);
    return rc;
}

int br_lexical_save(const br_lexical *x, const char *path)
{
    if (!x || !path)
        return BR_EINVAL;
    /* The image is complete, checksum included (decision 2): written as it is. */
    return br_write_file_atomic(path, x->image, x->image_len);
}

size_t br_lexical_size(const br_lexical *x)
{
    return x ? x->n_docs : 0;
}

size_t br_lexical_terms(const br_lexical *x)
{
    return x ? x->n_terms : 0;
}

int32_t br_lexical_id_bound(const br_lexical *x)
{
    return x && x->n_docs ? x->ids[x->n_docs - 1] + 1 : 0;
}

size_t br_lexical_memory(const br_lexical *x)
{
    return x ? x->image_len : 0;
}

/* ---- build ----------------------------------------------------------------------------- */

/* One (term, document) pair with its frequency per field. */
typedef struct entry {
    uint32_t term, doc;
    uint16_t tf[FIELDS];
} entry;

typedef struct doc_tok {
    uint32_t term;
    uint8_t field;
} doc_tok;

typedef struct builder {
    br_strmap *terms; /* term -> id in order of first appearance */
    entry *ent;
    size_t n_ent, cap_ent;
    uint32_t *df; /* by term id */
    size_t cap_df;
    uint64_t term_bytes;
    uint16_t (*len)[FIELDS]; /* tokens per field, by document */
    doc_tok tok[BR_LEXICAL_MAX_DOC_TOKENS];
} builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t limit)
{
    if (need <= *cap)
        return 0;
    if (need > limit)
        return BR_ELIMIT;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c = c > limit / 2 ? limit : c * 2;
    if (c > SIZE_MAX / elem)
        return BR_ELIMIT;
    void *q = realloc(*p, c * elem);
    if (!q)
        return BR_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int cmp_doc_tok(const void *a, const void *b)
{
    const doc_tok *x = a, *y = b;
    return x->term != y->term ? (x->term > y->term) - (x->term < y->term) : x->field - y->field;
}

/* Tokenizes document d (fields in order, at most BR_LEXICAL_MAX_DOC_TOKENS tokens) and
 * appends its entries. */
static int add_doc(builder *B, uint32_t d, const br_lexical_doc *doc)
{
    const char *field[FIELDS] = {doc->title, doc->author, doc->subjects};
    char tok[BR_LEXICAL_MAX_TOKEN + 1];
    size_t nt = 0, n;
    int at_end, rc;

    for (int f = 0; f < FIELDS; f++) {
        size_t before = nt;
        if (field[f]) {
            tok_iter it = {(const unsigned char *)field[f],
                           (const unsigned char *)field[f] + strlen(field[f])};
            while (nt < BR_LEXICAL_MAX_DOC_TOKENS && next_token(&it, tok, &n, &at_end)) {
                int64_t id;
                if (!br_strmap_getn(B->terms, tok, n, &id)) {
                    id = (int64_t)br_strmap_size(B->terms);
                    if ((uint64_t)id >= LEX_MAX_POSTINGS || B->term_bytes + n > LEX_MAX_TERM_BYTES)
                        return BR_ELIMIT;
                    if ((rc = br_strmap_putn(B->terms, tok, n, id)) != 0)
                        return rc;
                    if ((rc = grow((void **)&B->df, &B->cap_df, (size_t)id + 1, sizeof *B->df,
                                   LEX_MAX_POSTINGS)) != 0)
                        return rc;
                    B->df[id] = 0;
                    B->term_bytes += n;
                }
                B->tok[nt].term = (uint32_t)id;
                B->tok[nt].field = (uint8_t)f;
                nt++;
            }
        }
        B->len[d][f] = (uint16_t)(nt - before);
    }
    qsort(B->tok, nt, sizeof B->tok[0], cmp_doc_tok);
    for (size_t i = 0; i < nt;) {
        uint32_t t = B->tok[i].term;
        if ((rc = grow((void **)&B->ent, &B->cap_ent, B->n_ent + 1, sizeof *B->ent,
                       LEX_MAX_POSTINGS)) != 0)
            return rc;
        entry *e = &B->ent[B->n_ent++];
        e->term = t;
        e->doc = d;
        memset(e->tf, 0, sizeof e->tf);
        for (; i < nt && B->tok[i].term == t; i++)
            e->tf[B->tok[i].field]++;
        B->df[t]++;
    }
    return 0;
}

typedef struct term_ref {
    const char *s;
    uint32_t id;
} term_ref;

static int cmp_term_ref(const void *a, const void *b)
{
    return strcmp(((const term_ref *)a)->s, ((const term_ref *)b)->s);
}

/* Sorts document indices by id with a thread-safe merge sort (qsort has no context
 * argument in C11, and a static base pointer would make concurrent builds race). */
static void sort_by_id(const br_lexical_doc *docs, uint32_t *ix, uint32_t *tmp, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = docs[ix[b]].id < docs[ix[a]].id ? ix[b++] : ix[a++];
            while (a < mid)
                tmp[o++] = ix[a++];
            while (b < hi)
                tmp[o++] = ix[b++];
        }
        memcpy(ix, tmp, n * sizeof *ix);
    }
}

int br_lexical_build(const br_lexical_doc *docs, size_t n, const br_lexical_params *p,
                     br_lexical **out)
{
    br_lexical_params def;
    if (!p) {
        br_lexical_params_default(&def);
        p = &def;
    }
    if (!out || (!docs && n))
        return BR_EINVAL;
    *out = NULL;
    const float w[FIELDS] = {p->w_title, p->w_author, p->w_subjects};
    if (!params_ok(p->k1, p->b, w, p->prefix_discount, p->max_expansions, p->min_prefix))
        return BR_EINVAL;
    if (n > INT32_MAX)
        return BR_ELIMIT;

    int rc = BR_ENOMEM;
    builder B;
    memset(&B, 0, sizeof B);
    uint32_t *order = NULL, *tmp = NULL, *rank = NULL, *cursor = NULL;
    term_ref *refs = NULL;
    char *block = NULL;
    br_lexical *x = NULL;

    if (!(order = malloc((n ? n : 1) * sizeof *order)) ||
        !(tmp = malloc((n ? n : 1) * sizeof *tmp)) ||
        !(B.len = malloc((n ? n : 1) * sizeof *B.len)))
        goto fail;
    if ((rc = br_strmap_new(&B.terms)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    sort_by_id(docs, order, tmp, n);
    rc = BR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (docs[order[i]].id < 0 || docs[order[i]].id == INT32_MAX ||
            (i > 0 && docs[order[i]].id == docs[order[i - 1]].id))
            goto fail;
    for (size_t i = 0; i < n; i++)
        if ((rc = add_doc(&B, (uint32_t)i, &docs[order[i]])) != 0)
            goto fail;

    /* Mean field lengths over every document, for the length normalization. */
    double avg[FIELDS] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int f = 0; f < FIELDS; f++)
            avg[f] += B.len[i][f];
    for (int f = 0; f < FIELDS; f++)
        avg[f] = n ? avg[f] / (double)n : 0.0;

    /* Terms in bytewise order (decision 3). */
    size_t n_terms = br_strmap_size(B.terms);
    rc = BR_ENOMEM;
    if (!(refs = malloc((n_terms ? n_terms : 1) * sizeof *refs)) ||
        !(rank = malloc((n_terms ? n_terms : 1) * sizeof *rank)) ||
        !(cursor = malloc((n_terms + 1) * sizeof *cursor)))
        goto fail;
    {
        size_t it = 0;
        const char *key;
        int64_t val;
        while (br_strmap_iter(B.terms, &it, &key, &val)) {
            refs[val].s = key;
            refs[val].id = (uint32_t)val;
        }
    }
    qsort(refs, n_terms, sizeof *refs, cmp_term_ref);
    for (size_t r = 0; r < n_terms; r++)
        rank[refs[r].id] = (uint32_t)r;

    lex_layout lay;
    layout_of(n, n_terms, B.n_ent, B.term_bytes, &lay);
    if (lay.file_size > SIZE_MAX) {
        rc = BR_ELIMIT;
        goto fail;
    }
    if (!(block = calloc(1, (size_t)lay.file_size)))
        goto fail;
    int32_t *ids = (int32_t *)(void *)(block + lay.off[SEC_IDS]);
    uint32_t *toff = (uint32_t *)(void *)(block + lay.off[SEC_TOFF]);
    uint32_t *poff = (uint32_t *)(void *)(block + lay.off[SEC_POFF]);
    uint32_t *pdoc = (uint32_t *)(void *)(block + lay.off[SEC_PDOC]);
    float *pscore = (float *)(void *)(block + lay.off[SEC_PSCORE]);
    char *tb = block + lay.off[SEC_TBYTES];

    for (size_t i = 0; i < n; i++)
        ids[i] = docs[order[i]].id;
    toff[0] = poff[0] = 0;
    for (size_t r = 0; r < n_terms; r++) {
        size_t len = strlen(refs[r].s);
        memcpy(tb + toff[r], refs[r].s, len);
        toff[r + 1] = toff[r] + (uint32_t)len;
        poff[r + 1] = poff[r] + B.df[refs[r].id];
        cursor[r] = poff[r];
    }
    /* Entries come document by document, so each posting list fills in document order. */
    double k1 = p->k1, bb = p->b;
    for (size_t e = 0; e < B.n_ent; e++) {
        const entry *en = &B.ent[e];
        double df = B.df[en->term], tfw = 0.0;
        for (int f = 0; f < FIELDS; f++)
            if (en->tf[f])
                tfw += w[f] * en->tf[f] /
                       (1.0 - bb + bb * B.len[en->doc][f] / avg[f]); /* avg > 0 here */
        /* Robertson-Sparck Jones idf with 1 added inside the log (as Lucene), never negative
         * for terms in most documents. */
        double idf = log1p(((double)n - df + 0.5) / (df + 0.5));
        double s = idf * tfw * (k1 + 1.0) / (k1 + tfw);
        uint32_t r = rank[en->term];
        pdoc[cursor[r]] = en->doc;
        pscore[cursor[r]] = s < FLT_MIN ? FLT_MIN : (float)s;
        cursor[r]++;
    }

    lex_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, LEX_MAGIC, 8);
    hd.version = LEX_VERSION;
    hd.header_size = LEX_HEADER_SIZE;
    hd.endian = LEX_ENDIAN;
    hd.file_size = lay.file_size;
    hd.n_docs = n;
    hd.n_terms = n_terms;
    hd.n_postings = B.n_ent;
    hd.term_bytes = B.term_bytes;
    hd.k1 = p->k1;
    hd.b = p->b;
    memcpy(hd.w, w, sizeof hd.w);
    hd.prefix_discount = p->prefix_discount;
    for (int f = 0; f < FIELDS; f++)
        hd.avg_len[f] = (float)avg[f];
    hd.max_expansions = p->max_expansions;
    hd.min_prefix = p->min_prefix;
    hd.checksum =
        image_checksum(&hd, block + LEX_HEADER_SIZE, (size_t)lay.file_size - LEX_HEADER_SIZE);
    memcpy(block, &hd, sizeof hd);

    rc = BR_ENOMEM;
    if (!(x = calloc(1, sizeof *x)))
        goto fail;
    /* The built image is read through the same checks as a file (decision 2); failing them
     * is a bug here, reported as such. */
    if (validate(block, (size_t)lay.file_size, NULL, 0, x) != 0) {
        rc = BR_ECORRUPT;
        goto fail;
    }
    x->block = block;
    block = NULL;
    if ((rc = pool_new(&x->pool)) != 0)
        goto fail;
    *out = x;
    x = NULL;
    rc = 0;
fail:
    br_lexical_free(x);
    free(block);
    free(refs);
    free(rank);
    free(cursor);
    free(order);
    free(tmp);
    free(B.len);
    free(B.ent);
    free(B.df);
    br_strmap_free(B.terms);
    return rc;
}

/* ---- build from the catalog -------------------------------------------------------------- */

#define STORE_MAX_SUBJECT_BYTES 65536 /* per work; far past the token cap */

static int store_fail(br_store *st, int rc, char *err, size_t errcap)
{
    return br_errf(err, errcap, rc == BR_ENOMEM ? BR_ENOMEM : BR_ESTORE, "catalog: %s",
                   br_store_errmsg(st));
}

int br_lexical_build_from_store(br_store *st, const br_lexical_params *p, br_lexical **out,
                                char *err, size_t errcap)
{
    if (!st || !out)
        return br_errf(err, errcap, BR_EINVAL, "NULL argument");
    *out = NULL;
    int rc;
    br_arena *ar = NULL;
    br_stmt *q = NULL;
    br_lexical_doc *docs = NULL;
    size_t n = 0, cap = 0;
    char *subj = NULL;
    size_t subj_len = 0;

    if ((rc = br_arena_new(0, &ar)) != 0 || !(subj = malloc(STORE_MAX_SUBJECT_BYTES + 1))) {
        rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
        goto fail;
    }
    rc = br_store_prepare(st,
                          "SELECT item_idx, title, author FROM works WHERE has_title = 1 "
                          "ORDER BY item_idx",
                          &q);
    if (rc) {
        rc = store_fail(st, rc, err, errcap);
        goto fail;
    }
    while ((rc = br_stmt_step(q)) == 1) {
        int64_t id = br_stmt_int(q, 0);
        if (id < 0 || id >= INT32_MAX) {
            rc =
                br_errf(err, errcap, BR_EINVAL, "works: item_idx %lld out of range", (long long)id);
            goto fail;
        }
        if ((rc = grow((void **)&docs, &cap, n + 1, sizeof *docs, INT32_MAX)) != 0) {
            rc = br_errf(err, errcap, rc, "works: %s", br_strerror(rc));
            goto fail;
        }
        const char *t = br_stmt_text(q, 1), *a = br_stmt_text(q, 2);
        docs[n] = (br_lexical_doc){(int32_t)id, t ? br_arena_strdup(ar, t) : NULL,
                                   a ? br_arena_strdup(ar, a) : NULL, NULL};
        if ((t && !docs[n].title) || (a && !docs[n].author)) {
            rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
            goto fail;
        }
        n++;
    }
    if (rc < 0) {
        rc = store_fail(st, rc, err, errcap);
        goto fail;
    }
    br_stmt_free(q);
    q = NULL;

    /* Subjects, heaviest first so that the token cap keeps the ones that matter; merged
     * into the works by item_idx (both in item_idx order). */
    rc = br_store_prepare(st,
                          "SELECT ws.item_idx, s.name FROM work_subjects ws "
                          "JOIN subjects s ON s.subject_id = ws.subject_id "
                          "JOIN works w ON w.item_idx = ws.item_idx "
                          "WHERE w.has_title = 1 "
                          "ORDER BY ws.item_idx, ws.weight DESC, ws.subject_id",
                          &q);
    if (rc) {
        rc = store_fail(st, rc, err, errcap);
        goto fail;
    }
    size_t at = 0;
    int64_t cur = -1;
    for (;;) {
        rc = br_stmt_step(q);
        if (rc < 0) {
            rc = store_fail(st, rc, err, errcap);
            goto fail;
        }
        int64_t id = rc == 1 ? br_stmt_int(q, 0) : INT64_MAX;
        if (id != cur && cur >= 0 && subj_len) {
            /* Flush the subjects of work cur. */
            while (at < n && docs[at].id < cur)
                at++;
            if (at < n && docs[at].id == cur) {
                subj[subj_len] = '\0';
                if (!(docs[at].subjects = br_arena_strndup(ar, subj, subj_len))) {
                    rc = br_errf(err, errcap, BR_ENOMEM, "out of memory");
                    goto fail;
                }
            }
            subj_len = 0;
        }
        if (rc == 0)
            break;
        cur = id;
        const char *name = br_stmt_text(q, 1);
        size_t len = name ? strlen(name) : 0;
        if (len && subj_len + len + 1 <= STORE_MAX_SUBJECT_BYTES) {
            if (subj_len)
                subj[subj_len++] = '\n';
            memcpy(subj + subj_len, name, len);
            subj_len += len;
        }
    }
    br_stmt_free(q);
    q = NULL;

    rc = br_lexical_build(docs, n, p, out);
    if (rc)
        br_errf(err, errcap, rc, "building the lexical index: %s", br_strerror(rc));
fail:
    br_stmt_free(q);
    free(docs);
    free(subj);
    br_arena_free(ar);
    return rc;
}

/* ---- search ---------------------------------------------------------------------------- */

static void scratch_free(scratch *s)
{
    if (!s)
        return;
    free(s->acc);
    free(s->touched);
    free(s);
}

static scratch *scratch_new(size_t n_docs)
{
    scratch *s = calloc(1, sizeof *s);
    size_t n = n_docs ? n_docs : 1;
    if (!s)
        return NULL;
    s->acc = calloc(n, sizeof *s->acc);
    s->touched = malloc(n * sizeof *s->touched);
    if (!s->acc || !s->touched) {
        scratch_free(s);
        return NULL;
    }
    return s;
}

static int pool_new(scratch_pool **out)
{
    scratch_pool *p = calloc(1, sizeof *p);
    if (!p)
        return BR_ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return BR_ENOMEM;
    }
    *out = p;
    return 0;
}

static void pool_free(scratch_pool *p)
{
    if (!p)
        return;
    while (p->free_list) {
        scratch *s = p->free_list;
        p->free_list = s->next;
        scratch_free(s);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static scratch *pool_get(const br_lexical *x)
{
    pthread_mutex_lock(&x->pool->mu);
    scratch *s = x->pool->free_list;
    if (s)
        x->pool->free_list = s->next;
    pthread_mutex_unlock(&x->pool->mu);
    return s ? s : scratch_new(x->n_docs);
}

static void pool_put(const br_lexical *x, scratch *s)
{
    pthread_mutex_lock(&x->pool->mu);
    s->next = x->pool->free_list;
    x->pool->free_list = s;
    pthread_mutex_unlock(&x->pool->mu);
}

static const char *term_at(const br_lexical *x, size_t t, size_t *len)
{
    *len = x->toff[t + 1] - x->toff[t];
    return x->tbytes + x->toff[t];
}

/* First term >= q. */
static size_t lower_bound(const br_lexical *x, const char *q, size_t qn)
{
    size_t lo = 0, hi = x->n_terms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, tn;
        const char *t = term_at(x, mid, &tn);
        if (term_cmp(t, tn, q, qn) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First term at or after lo that does not start with q: the completions of q are [lo, it). */
static size_t prefix_end(const br_lexical *x, size_t lo, const char *q, size_t qn)
{
    size_t hi = x->n_terms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, tn;
        const char *t = term_at(x, mid, &tn);
        if (tn >= qn && memcmp(t, q, qn) == 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t df_of(const br_lexical *x, uint32_t t)
{
    return x->poff[t + 1] - x->poff[t];
}

/* Term a is a better completion than b: more documents, then earlier. */
static int exp_better(const br_lexical *x, uint32_t a, uint32_t b)
{
    size_t da = df_of(x, a), db = df_of(x, b);
    return da > db || (da == db && a < b);
}

/* The m most frequent terms of [lo, hi) into out (decision 3): a min-heap on frequency. */
static size_t pick_expansions(const br_lexical *x, size_t lo, size_t hi, size_t m, uint32_t *h)
{
    size_t n = 0;
    for (size_t t = lo; t < hi; t++) {
        uint32_t c = (uint32_t)t;
        size_t i;
        if (n < m) {
            for (i = n++; i > 0 && exp_better(x, h[(i - 1) / 2], c); i = (i - 1) / 2)
                h[i] = h[(i - 1) / 2];
            h[i] = c;
            continue;
        }
        if (!exp_better(x, c, h[0]))
            continue;
        for (i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            uint32_t worst = c;
            if (l < n && exp_better(x, worst, h[l]))
                w = l, worst = h[l];
            if (r < n && exp_better(x, worst, h[r]))
                w = r;
            if (w == i)
                break;
            h[i] = h[w];
            i = w;
        }
        h[i] = c;
    }
    return n;
}

/* Full token: every posting adds its score. Returns the new number of touched documents. */
static size_t add_term(const br_lexical *x, scratch *s, size_t nt, uint32_t t)
{
    doc_acc *acc = s->acc;
    for (uint32_t j = x->poff[t], e = x->poff[t + 1]; j < e; j++) {
        doc_acc *a = &acc[x->pdoc[j]];
        if (!a->seen) {
            *a = (doc_acc){0.0f, 0.0f, 1};
            s->touched[nt++] = x->pdoc[j];
        }
        a->sum += x->pscore[j];
    }
    return nt;
}

/* Last token: the best of its full match and its discounted completions (decision 4). */
static size_t max_term(const br_lexical *x, scratch *s, size_t nt, uint32_t t, float factor)
{
    doc_acc *acc = s->acc;
    for (uint32_t j = x->poff[t], e = x->poff[t + 1]; j < e; j++) {
        doc_acc *a = &acc[x->pdoc[j]];
        float v = factor * x->pscore[j];
        if (!a->seen) {
            *a = (doc_acc){0.0f, 0.0f, 1};
            s->touched[nt++] = x->pdoc[j];
        }
        if (v > a->best)
            a->best = v;
    }
    return nt;
}

static int run_search(const br_lexical *x, scratch *s, const char *query, size_t k,
                      const uint8_t *allow, int32_t *ids, float *scores, size_t *n_out)
{
    char toks[BR_LEXICAL_MAX_QUERY_TOKENS][BR_LEXICAL_MAX_TOKEN + 1];
    size_t tlen[BR_LEXICAL_MAX_QUERY_TOKENS], nq = 0, n;
    int at_end = 0, last_at_end = 0;
    size_t qlen = strnlen(query, BR_LEXICAL_MAX_QUERY + 1);
    if (qlen > BR_LEXICAL_MAX_QUERY)
        return BR_ELIMIT;
    tok_iter it = {(const unsigned char *)query, (const unsigned char *)query + qlen};
    char tok[BR_LEXICAL_MAX_TOKEN + 1];
    while (next_token(&it, tok, &n, &at_end)) {
        if (nq == BR_LEXICAL_MAX_QUERY_TOKENS)
            return BR_ELIMIT;
        memcpy(toks[nq], tok, n + 1);
        tlen[nq++] = n;
        last_at_end = at_end;
    }

    /* The last token completes when the query stops inside it (decision 4) and it is long
     * enough; it is then scored apart, unless the same word also appears whole. */
    size_t n_full = nq;
    int prefix = nq > 0 && last_at_end && x->max_expansions > 0 && tlen[nq - 1] >= x->min_prefix;
    if (prefix) {
        n_full = nq - 1;
        for (size_t i = 0; i < n_full; i++)
            if (tlen[i] == tlen[nq - 1] && memcmp(toks[i], toks[nq - 1], tlen[i]) == 0)
                prefix = 0;
    }

    size_t nt = 0; /* touched documents */
    for (size_t i = 0; i < n_full; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = tlen[i] == tlen[j] && memcmp(toks[i], toks[j], tlen[i]) == 0;
        if (dup)
            continue;
        size_t t = lower_bound(x, toks[i], tlen[i]), tn;
        if (t < x->n_terms) {
            const char *ts = term_at(x, t, &tn);
            if (term_cmp(ts, tn, toks[i], tlen[i]) == 0)
                nt = add_term(x, s, nt, (uint32_t)t);
        }
    }
    if (prefix) {
        const char *q = toks[nq - 1];
        size_t qn = tlen[nq - 1], tn;
        size_t lo = lower_bound(x, q, qn);
        size_t hi = prefix_end(x, lo, q, qn);
        /* The word itself sorts first in its range and counts undiscounted. */
        if (lo < hi && (term_at(x, lo, &tn), tn == qn)) {
            nt = max_term(x, s, nt, (uint32_t)lo, 1.0f);
            lo++;
        }
        size_t m = pick_expansions(x, lo, hi, x->max_expansions, s->exp);
        for (size_t i = 0; i < m; i++)
            nt = max_term(x, s, nt, s->exp[i], x->discount);
    }

    size_t nh = 0;
    for (size_t i = 0; i < nt; i++) {
        uint32_t d = s->touched[i];
        doc_acc *a = &s->acc[d];
        a->seen = 0; /* leaves the scratch clean for the next search */
        float v = a->sum + a->best;
        /* Most documents lose to the heap's worst: skip the call (ties need the id). */
        if (nh == k && v < s->heap[0].score)
            continue;
        int32_t id = x->ids[d];
        if (allow && !allow[id])
            continue;
        br_topk_push(s->heap, &nh, k, (br_topk_item){v, id});
    }
    br_topk_sort(s->heap, nh);
    for (size_t i = 0; i < k; i++) {
        ids[i] = i < nh ? s->heap[i].id : -1;
        if (scores)
            scores[i] = i < nh ? s->heap[i].score : -INFINITY;
    }
    *n_out = nh;
    return 0;
}

int br_lexical_search(const br_lexical *x, const char *query, size_t k, const uint8_t *allow,
                      int32_t *ids, float *scores, size_t *n_out)
{
    if (!x || !query || !n_out || (k && !ids))
        return BR_EINVAL;
    *n_out = 0;
    if (k > BR_LEXICAL_MAX_K)
        return BR_ELIMIT;
    scratch *s = pool_get(x);
    if (!s)
        return BR_ENOMEM;
    int rc = run_search(x, s, query, k, allow, ids, scores, n_out);
    pool_put(x, s);
    return rc;
}
