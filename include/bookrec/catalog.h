/* Catalog lookups for serving: editions by ISBN, subject suggestions and names, a work's
 * editions. Read-only queries through the store interface. */
#ifndef BOOKREC_CATALOG_H
#define BOOKREC_CATALOG_H

#include "bookrec/store.h"

#include <stddef.h>
#include <stdint.h>

#define BR_CATALOG_MAX_SUGGEST 50
#define BR_CATALOG_NAME_MAX 128

/* The work (item_idx) an ISBN belongs to, in any spelling the importer accepts (isbn.h).
 * 0; BR_EINVAL (not an ISBN); BR_ENOENT (no such edition); BR_ESTORE. */
int br_catalog_by_isbn(br_store *st, const char *isbn, int64_t *item_idx);

typedef struct br_subject_row {
    int32_t id;
    int32_t n_books;
    char name[BR_CATALOG_NAME_MAX];
} br_subject_row;

/* Subjects whose name starts with prefix (case-insensitive; "" = all), most common first,
 * at most k (<= BR_CATALOG_MAX_SUGGEST). Also names containing prefix after a space
 * ("fan" finds "epic fantasy") when there is room. 0 or BR_EINVAL / BR_ESTORE. */
int br_catalog_subject_suggest(br_store *st, const char *prefix, size_t k, br_subject_row *out,
                               size_t *n);

/* Subject ids of names (exact, case-insensitive); ids[i] = -1 for an unknown name. */
int br_catalog_subject_ids(br_store *st, const char *const *names, size_t n, int32_t *ids);

typedef struct br_edition_row {
    char isbn13[14];
    char isbn10[11];
    int32_t year;   /* 0 when unknown */
    char title[256];
    char publisher[128];
} br_edition_row;

/* Editions of a work (ISBN order), at most cap; *total gets how many it has. */
int br_catalog_editions(br_store *st, int64_t item_idx, br_edition_row *out, size_t cap,
                        size_t *n, size_t *total);

#endif
