/* Internal state of an import, shared by its phases:
 *   import_db.c       load the store's current catalog; write what changed
 *   import_sources.c  detect each source's format and parse it into staging
 *   import_resolve.c  editions -> works, aliases, ratings -> interactions, subjects
 *   import.c          orchestration and the report
 * Everything lives in memory for the length of one import: the catalog is a
 * few hundred thousand rows, and holding it whole keeps the diff exact. */
#ifndef BOOKREC_IMPORT_INTERNAL_H
#define BOOKREC_IMPORT_INTERNAL_H

#include "bookrec/arena.h"
#include "bookrec/hashmap.h"
#include "bookrec/import.h"
#include "bookrec/store.h"
#include "bookrec/vec.h"

#include <jansson.h>
#include <stdint.h>

/* How an edition found its work, weakest first. A stronger match found by a
 * later import moves the edition; a weaker one never does. */
enum br__match {
    BR__M_OWN_ISBN = 1, /* no title known: a work of its own */
    BR__M_OWN_TA = 2,   /* grouped with editions of the same title + author */
    BR__M_TA = 3,       /* matched to a metadata work by title + author */
    BR__M_ISBN = 4      /* a metadata source lists this ISBN under the work */
};
const char *br__match_name(int m);
int br__match_parse(const char *s);

struct br__work {
    int64_t idx;
    const char *key;
    const char *title, *author, *publisher, *image_url, *description, *language, *msource;
    int32_t year, pages;
    int32_t field_prio; /* priority of the source that set the fields (higher wins) */
    int64_t main_subject; /* subject_id as stored, -1 = none */
    int64_t main_vocab;   /* this import's vocabulary index, when it rebuilt one */
    int64_t created_import;
    uint8_t in_db, dirty, dead, has_title;
    int64_t alias_of; /* item_idx it merged into when dead */
    int32_t n_editions;
};

struct br__edition {
    char isbn13[14];
    int64_t work; /* slot in works */
    const char *title, *author, *publisher, *image_url, *source;
    int32_t year;
    uint8_t match, in_db, dirty;
};

struct br__user {
    int64_t id;
    const char *source, *ext, *location, *country, *age_group;
    int32_t age; /* -1 = NULL */
    int64_t created_import;
    uint8_t in_db, dirty;
};

struct br__inter {
    int64_t user;  /* user_id */
    int64_t item;  /* item_idx */
    int16_t rating;
    int64_t ts;    /* 0 = NULL */
    const char *source;
    uint8_t in_db, dirty, dead, touched; /* touched: rated by this import */
    int16_t db_rating;
    int64_t db_item, db_ts;
};

/* Staged records from metadata sources (goodbooks, Open Library, generic books
 * with a work id): each names a metadata work by key. */
struct br__mwork {
    const char *key, *ext_source, *ext_id, *ext_source2, *ext_id2;
    const char *title, *alt_title, *author, *publisher, *image_url, *description, *language;
    int32_t year, pages, prio;
    int64_t work; /* slot after resolution */
};

/* Staged editions from book lists (Book-Crossing books, descriptions, generic). */
struct br__sedition {
    char isbn13[14];
    const char *title, *author, *publisher, *image_url, *description, *source;
    int32_t year, pages, prio;
    int64_t mwork; /* metadata work that lists this ISBN, or -1 */
};

struct br__stag {
    int64_t mwork;      /* or -1: then item, or else isbn13, names the target */
    int64_t item;
    char isbn13[14];
    const char *tag, *source;
    double weight;
};

struct br__srating {
    int64_t user; /* slot */
    int64_t mwork, item; /* -1 unless the rating names a metadata work or a stored work */
    char isbn13[14];
    int16_t rating;
    int64_t ts;
    const char *source;
};

struct br__subj { /* the vocabulary built by this import */
    const char *name;
    int64_t n_books, id;
    uint8_t generic;
};

struct br__wsubj {
    int64_t item;
    int32_t subj; /* index into subjs */
    float weight;
};

struct br__rawtag { /* work_raw_tags rows */
    int64_t item;
    const char *source, *tag;
    double weight;
    uint8_t in_db, dead;
};

typedef struct br__import {
    br_store *st;
    const br_import_opts *o;
    br_arena *strs;
    int64_t import_id;

    br_vec works, editions, users, inters, rawtags;  /* current + new state */
    br_strmap *work_by_key, *ed_by_isbn, *user_by_ext, *extid_to_item, *rawtag_by_key;
    br_intmap *work_by_idx, *inter_by_pair;
    int64_t next_item, next_user;
    br_vec aliases; /* int64 pairs (alias, item) created by this import */

    br_vec mworks, seditions, stags, sratings;
    br_strmap *mwork_by_key, *mwork_by_isbn, *mwork_by_ta, *gr_book; /* staging */
    br_strmap *generic_book; /* generic book id -> mwork */
    br_strmap *tag_names; /* goodbooks tag_id -> name (index into tag_name_vec) */
    br_vec tag_name_vec;

    br_vec subjs, wsubjs;
    br_strmap *subject_id_by_name;
    int64_t next_subject;

    json_t *rejected;  /* reason -> count */
    json_t *cleaned;   /* what was repaired -> count */
    json_t *sources;   /* per-source summaries */
    uint64_t rows_read;
    int subjects_changed;
    char *err;
    size_t errcap;
} br__import;

void br__imp_reject(br__import *im, const char *reason, uint64_t n);
void br__imp_clean(br__import *im, const char *what, uint64_t n);
const char *br__imp_str(br__import *im, const char *s, size_t len);
int br__imp_errorf(br__import *im, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* import_db.c */
int br__imp_load(br__import *im);
int br__imp_write(br__import *im, const char *report_json);

/* import_sources.c */
int br__imp_source(br__import *im, const char *spec);
int br__imp_source_rank(const char *spec);

/* import_resolve.c */
int br__imp_resolve(br__import *im);
int br__imp_user_slot(br__import *im, const char *source, const char *ext, int create,
                      int64_t *slot);
int br__imp_subjects(br__import *im, json_t *report);

#endif
