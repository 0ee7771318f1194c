/* Book metadata artifact: what the "metadata" model service serves
 * (POST /books {ids} -> the metadata of up to a few hundred books, fast).
 *
 * Two files in one directory:
 *   books.jsonl         one line per item_idx 0..n-1, each line ending in '\n'.
 *                       A line is a complete compact JSON object, pre-rendered
 *                       so the service concatenates lines into a response
 *                       without re-encoding, or the 4 bytes "null" for an index
 *                       with no work (aliases, gaps). UTF-8, not ASCII-escaped.
 *   books_offsets.npy   int64 ('<i8'), 1-D, n+1 entries: offsets[i] is the
 *                       byte where line i starts, offsets[n] the file size.
 *                       Line i is [offsets[i], offsets[i+1] - 1): the byte at
 *                       offsets[i+1] - 1 is its '\n', which is not part of it.
 *
 * An object's fields: id (item_idx), title, author, year, publisher, pages,
 * language, image_url, description (at most BR_BOOKMETA_MAX_DESC bytes, cut
 * at a UTF-8 boundary), has_title (bool), main_subject (name or null),
 * subjects (names by weight desc, at most BR_BOOKMETA_MAX_SUBJECTS), isbn13
 * (the smallest ISBN-13 of the work's editions, or null), n_editions,
 * n_ratings (explicit ratings 1-10, over all interactions), n_interactions
 * (including implicit 0s), avg_rating (mean of the explicit ratings, 6
 * significant digits, or null). A missing value is null.
 *
 * The reader maps both files read-only and validates all of it before it
 * returns; a br_bookmeta is immutable, so any number of threads may read one.
 */
#ifndef BOOKREC_BOOKMETA_H
#define BOOKREC_BOOKMETA_H

#include "bookrec/store.h"

#include <stddef.h>
#include <stdint.h>

#define BR_BOOKMETA_JSONL "books.jsonl"
#define BR_BOOKMETA_OFFSETS "books_offsets.npy"

#define BR_BOOKMETA_MAX_DESC 2000        /* bytes of description kept */
#define BR_BOOKMETA_MAX_FIELD 512        /* bytes of any other text field kept */
#define BR_BOOKMETA_MAX_SUBJECTS 10      /* subjects listed per book */
#define BR_BOOKMETA_MAX_LINE 65536       /* bytes of one line, '\n' excluded */
#define BR_BOOKMETA_MAX_ITEMS (1u << 27) /* item_idx bound for the writer */

/* What an export did. */
typedef struct br_bookmeta_stats {
    size_t n_items;       /* lines written: max(item_idx) + 1 */
    size_t n_works;       /* lines that are objects */
    size_t n_null;        /* lines that are "null" (gaps, aliases) */
    size_t n_bad_utf8;    /* text fields whose invalid UTF-8 was replaced by U+FFFD */
    size_t n_truncated;   /* text fields cut to their byte limit */
    size_t n_orphans;     /* subject/edition/interaction rows of no work (skipped) */
    uint64_t jsonl_bytes; /* size of books.jsonl */
} br_bookmeta_stats;

/* Exports the metadata of every work in st into dir (created when missing;
 * its parent must exist). Streams: the queries are walked together in
 * item_idx order (one GROUP BY pass per aggregate) and each line is written
 * as soon as it is rendered. Both files are written to temp names, fsync'd,
 * renamed, then the directory is fsync'd. *n_items_out (may be NULL) gets n.
 * 0, BR_ESTORE, BR_EIO, BR_ENOENT (dir's parent missing), BR_ELIMIT, BR_ENOMEM;
 * err says why. */
int br_bookmeta_export(br_store *st, const char *dir, size_t *n_items_out, char *err,
                       size_t errcap);
/* The same with the counts of what was done (stats may be NULL). */
int br_bookmeta_export_stats(br_store *st, const char *dir, br_bookmeta_stats *stats, char *err,
                             size_t errcap);

typedef struct br_bookmeta br_bookmeta;

/* Maps dir/books.jsonl and dir/books_offsets.npy read-only and validates them:
 * the npy is int64 1-D with n+1 entries, offsets start at 0, increase, the
 * last equals the size of books.jsonl, every line ends in '\n' (and has no
 * other), starts with '{' and ends with '}' or is exactly "null", and is at
 * most BR_BOOKMETA_MAX_LINE bytes. 0, BR_ENOENT, BR_EIO, BR_EFORMAT (not our
 * npy), BR_ECORRUPT (files disagree), BR_ELIMIT (a line too long), BR_ENOMEM;
 * err says which check failed. */
int br_bookmeta_open(const char *dir, char *err, size_t errcap, br_bookmeta **out);
/* The same checks on two buffers, which are not copied: they must outlive *out
 * (for the fuzzer and for tests). */
int br_bookmeta_parse(const void *jsonl, size_t jsonl_len, const void *offsets_npy, size_t npy_len,
                      char *err, size_t errcap, br_bookmeta **out);
/* Number of lines n (max item_idx + 1). */
size_t br_bookmeta_count(const br_bookmeta *m);
/* Line of book id: *json points into the mapping (not NUL-terminated), *len
 * excludes the newline. 0, BR_ENOENT (id out of range or a "null" line),
 * BR_EINVAL (NULL arguments). */
int br_bookmeta_get(const br_bookmeta *m, int64_t id, const char **json, size_t *len);
void br_bookmeta_free(br_bookmeta *m);

#endif
