/* Subjects: raw tags, Open Library subjects and Google Books categories
 * cleaned into one vocabulary of about a thousand subjects (DESIGN.md §4,
 * docs/subjects.md).
 *
 * Two layers. br_subject_canon() maps one raw string to its canonical form
 * (case, accents, punctuation, plural, merge table) without any context. A
 * br_subject_vocab collects (item, raw tag, weight) triples from any number
 * of sources, drops shelf tags (a committed pattern list plus a rule measured
 * on the data), keeps the most frequent subjects and gives every item its
 * subjects by weight and a main subject that is never a generic one.
 *
 * Everything is deterministic: the same triples, in any order, give the same
 * vocabulary, ids and weights. Nothing here reads ratings. */
#ifndef BOOKREC_SUBJECTS_H
#define BOOKREC_SUBJECTS_H

#include <stddef.h>
#include <stdint.h>

#define BR_SUBJECT_MAX 64                /* bytes of a canonical subject; longer is too_long */
#define BR_SUBJECT_RAW_MAX 1024          /* longer raw strings are rejected without reading */
#define BR_SUBJECT_MAX_PAIRS 10000000u   /* (item, tag) triples one vocabulary accepts */
#define BR_SUBJECT_MAX_DISTINCT 1000000u /* distinct raw strings (and canonicals) */
#define BR_SUBJECT_MAX_WEIGHT 1e15       /* per triple; sums stay exact enough and finite */

/* Why a raw tag does not become a subject: X(ENUM, name, description). */
#define BR_SUBJECT_REASON_MAP(X)                                                                   \
    X(OK, "ok", "kept")                                                                            \
    X(EMPTY, "empty", "nothing left after cleaning")                                               \
    X(NUMERIC, "numeric", "digits only: a number or a year")                                       \
    X(TOO_LONG, "too_long", "longer than BR_SUBJECT_MAX bytes after cleaning")                     \
    X(NON_LETTER, "non_letter", "fewer than two letters, or more digits than letters")             \
    X(SHELF_TAG, "shelf_tag", "describes a reader's shelf, not the book")                          \
    X(RARE, "rare", "on too few items, or beyond the vocabulary size")

// clang-format off
typedef enum {
#define BR__SUBJECT_ENUM(name, str, desc) BR_SUBJECT_##name,
    BR_SUBJECT_REASON_MAP(BR__SUBJECT_ENUM)
#undef BR__SUBJECT_ENUM
    BR_SUBJECT_REASON_COUNT
} br_subject_reason;
// clang-format on

/* "shelf_tag" etc.; "unknown" outside the enum. */
const char *br_subject_reason_name(br_subject_reason r);

/* Canonical form of raw[0..len) (any bytes; UTF-8 expected). Writes a
 * NUL-terminated string to out and returns BR_SUBJECT_OK, or
 * BR_SUBJECT_SHELF_TAG (out still holds the canonical form, so reports can
 * name it), or another reason with out set to "". cap should be at least
 * BR_SUBJECT_MAX + 1; a result that does not fit is TOO_LONG. The shelf
 * patterns are applied here; the data rule needs a catalog (br_subject_vocab). */
br_subject_reason br_subject_canon(const char *raw, size_t len, char *out, size_t cap);

/* 1 when a canonical subject is generic ("fiction", "general", ...): kept in
 * the vocabulary but never an item's main subject. */
int br_subject_is_generic(const char *canon);

/* Committed tables (lib/data/subject_merge.c), for tests and reports.
 * Merge keys are cleaned forms (lower case, single spaces); a key whose target
 * is itself protects that exact subject from the singularizer ("star wars"). */
typedef struct br_subject_merge {
    const char *from, *to;
} br_subject_merge;

const br_subject_merge *br_subject_merge_table(size_t *n);
const char *const *br_subject_generic_list(size_t *n);
/* Shelf patterns over canonical forms: '*' matches any run, '#' one digit. */
const char *const *br_subject_shelf_patterns(size_t *n);
/* The pattern a canonical form matches, or NULL. */
const char *br_subject_shelf_pattern(const char *canon);
/* Checks that every committed table is sorted, free of duplicates and stable
 * (each target is its own canonical form). 0, or BR_ECORRUPT. */
int br_subject_tables_check(void);

/* Vocabulary construction. */
typedef struct br_subject_vocab br_subject_vocab;

typedef struct br_subject_params {
    size_t vocab_size;  /* keep at most this many subjects (1000) */
    size_t min_books;   /* drop subjects on fewer items (5) */
    int shelf_patterns; /* 1: the committed shelf patterns apply (1; 0 for analysis) */
    /* Shelf data rule (docs/subjects.md): a candidate on at least
     * shelf_min_cover of the items, with weights that count readers, is a
     * shelf tag when the Jensen-Shannon divergence between the content profile
     * of the readers who used it and that of the others is below shelf_max_js. */
    int shelf_rounds;           /* 0 turns the data rule off (2) */
    size_t shelf_ref_size;      /* content profile: the most frequent subjects (300) */
    double shelf_ref_max_cover; /* ... leaving out those on more items than this (0.5) */
    double shelf_min_cover;     /* (0.02) */
    double shelf_max_js;        /* nats (0.06) */
    double shelf_min_weight;    /* candidates' mean weight per item: counts, not flags (2) */
} br_subject_params;

void br_subject_params_default(br_subject_params *p);

int br_subject_vocab_new(br_subject_vocab **out);
void br_subject_vocab_free(br_subject_vocab *v);

/* Adds one raw tag of an item. item: the caller's id of a work (any int64);
 * weight in (0, BR_SUBJECT_MAX_WEIGHT]: e.g. the Goodreads tag count, or 1.
 * Several raw tags of an item that share a canonical form sum their weights.
 * A rejected tag is counted (br_subject_vocab_rejected) and still returns 0.
 * BR_EINVAL on a bad weight, BR_ELIMIT past BR_SUBJECT_MAX_PAIRS or
 * BR_SUBJECT_MAX_DISTINCT, BR_ENOMEM. */
int br_subject_vocab_add(br_subject_vocab *v, int64_t item, const char *raw, size_t len,
                         double weight);

/* Finds shelf tags, chooses the vocabulary and every item's subjects. May be
 * called again (after more adds, or with other params); p NULL = defaults. */
int br_subject_vocab_build(br_subject_vocab *v, const br_subject_params *p);

/* After build. Ids run 0..size-1, most frequent first: by number of items,
 * then total weight, then name. */
size_t br_subject_vocab_size(const br_subject_vocab *v);
const char *br_subject_vocab_name(const br_subject_vocab *v, size_t id);
size_t br_subject_vocab_books(const br_subject_vocab *v, size_t id);
double br_subject_vocab_weight(const br_subject_vocab *v, size_t id);
int br_subject_vocab_generic(const br_subject_vocab *v, size_t id);
/* Vocabulary id of a canonical subject, or -1. */
int64_t br_subject_vocab_id(const br_subject_vocab *v, const char *canon);
/* Items that have at least one accepted raw tag. */
size_t br_subject_vocab_items(const br_subject_vocab *v);

/* An item's subjects: vocabulary ids by weight (descending, ties by id) and
 * their weights; both arrays belong to v. *n may be 0. BR_ENOENT for an item
 * never added, BR_EINVAL before build. */
int br_subject_vocab_item(const br_subject_vocab *v, int64_t item, const int32_t **ids,
                          const float **weights, size_t *n);
/* The item's first non-generic subject, or -1. */
int64_t br_subject_vocab_main(const br_subject_vocab *v, int64_t item);

/* (item, raw tag) triples not used, by reason (OK counts those used). */
uint64_t br_subject_vocab_rejected(const br_subject_vocab *v, br_subject_reason r);

/* What the vocabulary knows about one canonical form. */
typedef struct br_subject_info {
    const char *name;         /* canonical form */
    br_subject_reason status; /* OK (in the vocabulary), SHELF_TAG or RARE */
    int64_t id;               /* vocabulary id, or -1 */
    int generic;
    size_t books;        /* distinct items */
    double weight;       /* total weight */
    uint64_t pairs;      /* raw triples that resolved to it */
    size_t raw_forms;    /* distinct raw spellings */
    const char *pattern; /* shelf pattern it matches, or NULL */
    double cover;        /* books / items */
    double js;           /* divergence of the data rule; NAN when not a candidate */
} br_subject_info;

/* BR_ENOENT when canon was never seen. */
int br_subject_vocab_lookup(const br_subject_vocab *v, const char *canon, br_subject_info *out);
/* Shelf tags found by the last build, by number of items (then weight, name),
 * with their evidence (pattern, js, cover). BR_EINVAL when i is out of range. */
size_t br_subject_vocab_shelf_count(const br_subject_vocab *v);
int br_subject_vocab_shelf(const br_subject_vocab *v, size_t i, br_subject_info *out);

#endif
