/* Importing catalogs, readers and ratings into the store.
 *
 * `bookrec import` reads every source named on the command line (files, or
 * directories with a known layout), cleans them by the rules of DESIGN.md §4
 * and writes the result in one transaction: an import that fails leaves the
 * database as it was. Re-import is incremental: works keep their item_idx,
 * readers keep their user_id, only new or changed rows are written, and a work
 * that new metadata merges into another becomes an alias of it.
 *
 * Sources and their formats are described in docs/data.md. */
#ifndef BOOKREC_IMPORT_H
#define BOOKREC_IMPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bookrec/store.h"

typedef struct br_import_opts {
    int min_age, max_age;     /* plausible ages; others become NULL */
    uint64_t max_rows;        /* per source file */
    size_t max_field;         /* bytes per CSV field */
    size_t vocab_size;        /* subject vocabulary target */
    size_t min_books;         /* a subject must be on this many books */
} br_import_opts;

void br_import_opts_default(br_import_opts *o);

/* A source as given by the user: "PATH" (format detected from the file name,
 * header or directory layout) or "FORMAT=PATH" with a format name from
 * br_import_formats(). */
const char *br_import_formats(void);

/* Runs the import. *report (may be NULL) receives a new JSON object with the
 * counts described in docs/data.md, even on failure when it could be built.
 * errbuf gets a one-line reason on failure. */
int br_import_run(br_store *st, const char *const *sources, size_t nsources,
                  const br_import_opts *o, json_t **report, char *errbuf, size_t errcap);

#endif
