/* Lexical search over book titles, authors and subjects: the text index the "semantic"
 * model service serves until real semantic search lands.
 *
 * BM25F (Robertson, Zaragoza & Taylor, "Simple BM25 extension to multiple weighted
 * fields", CIKM 2004) over three fields with weights (title 3, author 2, subjects 1 by
 * default), k1 = 1.2, b = 0.75. The last query token also matches as a prefix ("harry pot"
 * finds Harry Potter) at a small discount, for search-as-you-type. The index is saved in a
 * documented, checksummed file format (docs/indexes.md, "Lexical index") and opened by mmap
 * after complete validation; nothing is copied. Search is thread-safe: any number of threads
 * may search one index at once.
 *
 * Tokens: UTF-8 is decoded (a byte that is not valid UTF-8 counts as one latin-1
 * character), ASCII is lower-cased, the accented letters of Latin-1 and Latin Extended-A
 * fold to ASCII ("é" -> "e", "ß" -> "ss", "Ł" -> "l"), combining accents vanish, letters of
 * other scripts are kept as they are, and everything else (spaces, punctuation, apostrophes,
 * symbols) separates tokens. Tokens longer than BR_LEXICAL_MAX_TOKEN bytes are dropped.
 * Results are sorted by score descending, ties by smaller id. */
#ifndef BOOKREC_LEXICAL_H
#define BOOKREC_LEXICAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_store br_store;
typedef struct br_lexical br_lexical;

#define BR_LEXICAL_MAX_TOKEN 64        /* bytes of one token, after folding */
#define BR_LEXICAL_MAX_DOC_TOKENS 1024 /* tokens indexed per document (title first) */
#define BR_LEXICAL_MAX_QUERY 512       /* bytes of a query */
#define BR_LEXICAL_MAX_QUERY_TOKENS 16
#define BR_LEXICAL_MAX_K 1000
#define BR_LEXICAL_MAX_EXPANSIONS 1024 /* hard limit of params.max_expansions */

typedef struct br_lexical_doc {
    int32_t id;        /* the caller's id (item_idx), >= 0, unique */
    const char *title; /* NUL-terminated UTF-8; any of the three may be NULL */
    const char *author;
    const char *subjects; /* subject names separated by '\n' */
} br_lexical_doc;

typedef struct br_lexical_params {
    float k1;      /* term-frequency saturation; default 1.2 */
    float b;       /* length normalization; default 0.75 */
    float w_title; /* field weights; defaults 3, 2, 1 */
    float w_author;
    float w_subjects;
    float prefix_discount;   /* a prefix completion scores this times a full match; 0.9 */
    uint32_t max_expansions; /* completions of the last token tried (the most frequent
                                terms with that prefix); default 64 */
    uint32_t min_prefix;     /* bytes the last token needs before it completes; default 2 */
} br_lexical_params;

void br_lexical_params_default(br_lexical_params *p);

/* Builds an index over n documents (any order). p NULL = defaults. The strings are read,
 * not kept. A document whose fields hold no token is indexed but never matches.
 * 0, BR_EINVAL (NULL, negative, INT32_MAX or duplicate id, bad params), BR_ELIMIT (n > INT32_MAX, more
 * than 2^32 - 2 postings or term bytes), BR_ENOMEM. */
int br_lexical_build(const br_lexical_doc *docs, size_t n, const br_lexical_params *p,
                     br_lexical **out);

/* Builds from the catalog: works with has_title = 1 (title, author) and their subjects
 * (work_subjects joined with subjects, heaviest first), id = item_idx. err (may be NULL)
 * receives a one-line reason on failure. 0, BR_ESTORE, BR_ENOMEM, BR_ELIMIT, BR_EINVAL. */
int br_lexical_build_from_store(br_store *st, const br_lexical_params *p, br_lexical **out,
                                char *err, size_t errcap);

/* Writes the index to path atomically (temp file, fsync, rename, fsync of the directory).
 * 0, BR_EINVAL, BR_ENOENT (no such directory), BR_EIO. */
int br_lexical_save(const br_lexical *idx, const char *path);

/* Maps path read-only and validates it completely before returning (magic, version, sizes
 * against the file length, XXH64 checksum, parameters, sorted terms, posting offsets,
 * doc indices and ids, scores); nothing is copied. err (may be NULL) gets a one-line
 * reason on failure. 0, BR_ENOENT, BR_EIO, BR_EFORMAT (not a lexical index, or another
 * format version), BR_ECORRUPT (checksum or structure wrong, truncated), BR_ENOMEM. */
int br_lexical_open(const char *path, char *err, size_t errcap, br_lexical **out);

/* The same validation on a buffer that must outlive the index (no copy), for the fuzzer
 * and for callers holding the bytes. buf must be 8-byte aligned. */
int br_lexical_parse(const void *buf, size_t len, char *err, size_t errcap, br_lexical **out);

void br_lexical_free(br_lexical *idx);

/* Top k documents for query. allow: NULL, or one byte per id below br_lexical_id_bound()
 * (non-zero = may be returned). ids[k], scores[k] (scores may be NULL): the *n_out results
 * first, the rest padded with -1 and -INFINITY. A query with no token that matches gives
 * *n_out = 0. Thread-safe; the search memory (about 12 bytes per document) comes from a
 * pool kept by the index, one per concurrent search, so a search allocates nothing.
 * 0, BR_EINVAL (NULL), BR_ELIMIT (k > BR_LEXICAL_MAX_K, query longer than
 * BR_LEXICAL_MAX_QUERY bytes or with more than BR_LEXICAL_MAX_QUERY_TOKENS tokens),
 * BR_ENOMEM. */
int br_lexical_search(const br_lexical *idx, const char *query, size_t k, const uint8_t *allow,
                      int32_t *ids, float *scores, size_t *n_out);

/* Tokenizes text as the index does: the tokens, each NUL-terminated, one after another in
 * out (at most cap bytes, whole tokens only); returns how many were written. For tests and
 * for showing what a query matched. */
size_t br_lexical_tokenize(const char *text, char *out, size_t cap);

size_t br_lexical_size(const br_lexical *idx);      /* documents */
size_t br_lexical_terms(const br_lexical *idx);     /* distinct terms */
int32_t br_lexical_id_bound(const br_lexical *idx); /* largest id + 1 (0 when empty): the
                                                       size of allow[] */
size_t br_lexical_memory(const br_lexical *idx);    /* bytes of the image (= file size) */

#endif
