/* Rankings produced by other tools (implicit, LightFM, anything that writes a CSV), read so
 * that they are scored by the same metric code on the identical split
 * (docs/evaluation.md, "External rankings").
 *
 * Format: CSV with a header that names the columns user, item_idx and rank (any order; other
 * columns such as a score are ignored), one row per recommended (user, item):
 *     user,item_idx,rank
 *     17,4021,1
 *     17,96,2
 * user is the internal user id of `bookrec split --export`, item_idx the item index, rank a
 * non-negative integer, smaller = better (0- or 1-based, gaps allowed). Each user's list is
 * sorted by rank, ties by item_idx.
 *
 * A bad row is counted by reason and skipped, never silently: the first few are kept as
 * messages naming the line. Fatal: no header, more rows than max_rows, more bad rows than
 * max_bad, a read error. */
#ifndef BOOKREC_RANKINGS_H
#define BOOKREC_RANKINGS_H

#include "bookrec/metrics.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits on the options. */
#define BR_RANKINGS_MAX_ROWS ((uint64_t)1 << 31)
#define BR_RANKINGS_MAX_LIST 1000000u
/* Messages kept (those of the bad rows with the smallest line numbers). */
#define BR_RANKINGS_EXAMPLES 10

typedef struct br_rankings_opts {
    uint64_t max_rows; /* data rows, fatal beyond (BR_ELIMIT); 0 = 2^25 */
    size_t max_list;   /* rows kept per user, the best ranks; the rest are counted; 0 = 1000 */
    uint64_t max_bad;  /* bad rows tolerated, fatal beyond (BR_EFORMAT); 0 = unlimited */
    size_t n_items;    /* 0, or item_idx must be < n_items <= 2^31 - 1 (others: out_of_range) */
    int allow_ties;    /* 0: a second row with a user's rank is a bad row (dup_rank);
                          1: kept, ordered by item_idx, counted in rank_ties */
} br_rankings_opts;

void br_rankings_opts_default(br_rankings_opts *o);

typedef struct br_rankings_stats {
    uint64_t rows;         /* data records read (header excluded) */
    uint64_t kept;         /* rows in the lists */
    uint64_t bad_fields;   /* wrong number of fields, or an empty one */
    uint64_t bad_integer;  /* a field that is not a plain decimal integer */
    uint64_t negative;     /* a negative user, item_idx or rank */
    uint64_t out_of_range; /* user > 2^63-1, item_idx > 2^31-1 or >= n_items, rank > 2^63-1 */
    uint64_t dup_pair;     /* (user, item_idx) seen on an earlier line */
    uint64_t dup_rank;     /* (user, rank) seen on an earlier line (allow_ties 0) */
    uint64_t over_list;    /* beyond max_list for its user */
    uint64_t csv_skipped;  /* records over the CSV reader's limits (not in rows) */
    uint64_t rank_ties;    /* rows kept that share a rank with an earlier row (allow_ties 1) */
    uint64_t users;        /* users with a list */
} br_rankings_stats;
/* rows = kept + bad_fields + bad_integer + negative + out_of_range + dup_pair + dup_rank +
 * over_list. */

typedef struct br_rankings br_rankings;

/* Reads a rankings file (or a buffer that must outlive the call only). opts NULL = defaults.
 * errbuf (may be NULL) gets a one-line reason on failure, naming the line.
 * 0, BR_EINVAL (bad args or opts), BR_ENOENT, BR_EIO, BR_EFORMAT (no header, too many bad
 * rows), BR_ELIMIT (max_rows) or BR_ENOMEM. */
int br_rankings_read_file(const char *path, const br_rankings_opts *o, br_rankings **out,
                          char *errbuf, size_t errcap);
int br_rankings_read_mem(const void *buf, size_t len, const br_rankings_opts *o, br_rankings **out,
                         char *errbuf, size_t errcap);
void br_rankings_free(br_rankings *r);

/* Users with a list, ascending; row i of br_rankings_lists belongs to users[i]. */
const int64_t *br_rankings_users(const br_rankings *r, size_t *n);
/* The ranked lists, and the rank of each entry (parallel to lists->items). */
const br_lists *br_rankings_lists(const br_rankings *r);
const int64_t *br_rankings_ranks(const br_rankings *r);
const br_rankings_stats *br_rankings_get_stats(const br_rankings *r);
/* Messages of the first bad rows ("line 7: item_idx is not an integer: \"4x\""), by line. */
size_t br_rankings_n_examples(const br_rankings *r);
const char *br_rankings_example(const br_rankings *r, size_t i);
/* The stats and the examples as a JSON object (new reference), for reports; NULL on ENOMEM. */
json_t *br_rankings_stats_json(const br_rankings *r);

/* Lists aligned with users[0..n) (e.g. the users with a held-out truth, in the truth's row
 * order): row i is users[i]'s list, empty when the file has none. *n_missing (may be NULL)
 * gets the number of such users. 0, BR_EINVAL or BR_ENOMEM. */
int br_rankings_align(const br_rankings *r, const int64_t *users, size_t n, br_lists *out,
                      size_t *n_missing);

#endif
