/* CSV reader for the messy files of real book data.
 *
 * Design decisions:
 * 1. Streaming: a record at a time from a file or a memory buffer, fields
 *    handed out as NUL-terminated UTF-8 strings valid until the next call.
 * 2. Separator: given, or detected from the first record (';' ',' '\t' '|').
 * 3. Line ends: "\n", "\r\n" and a lone "\r" (old Mac spreadsheet exports).
 * 4. Quoting: RFC 4180 ("" inside quotes), plus the leniency the original
 *    Book-Crossing dump needs: a quote closes a quoted field only when the
 *    separator, a line end or the end of input follows; any other quote in a
 *    quoted field is literal, and \" is a literal quote. A quote inside an
 *    unquoted field is literal. Quoted fields may hold line ends. A field is
 *    quoted only when '"' is its first byte. Where \" and RFC doubling meet
 *    (RFC re-exports of values holding \", as in Users.csv) the field's own
 *    earlier escapes decide; lib/data/csv.c parse_record has the exact rules.
 *    An unterminated quoted field runs to the end of input (or to max_record).
 * 5. Encoding: each record that is not valid UTF-8 is read as Windows-1252 /
 *    latin-1 and converted to UTF-8 (counted in br_csv_stats). A UTF-8 BOM at
 *    the start is skipped.
 * 6. Limits: field length, record length and field count are bounded; a
 *    record over a limit is skipped up to the next line end and reported as
 *    BR_ELIMIT, after which reading continues. Precisely: reading resumes
 *    after the first line end after the record's start (for a one-line
 *    record, its end), since a record that breaks a limit is most often an
 *    unbalanced quote that swallowed the lines after it. max_record counts
 *    the raw bytes without the line end. The outcome depends only on the
 *    bytes, so a file and the same bytes in memory give the same rows.
 * 7. Blank lines (nothing between two line ends) are skipped; a line of
 *    separators only (",,") is a record of empty fields.
 * 8. Fields may contain NUL bytes (then use lens, not strlen).
 */
#ifndef BOOKREC_CSV_H
#define BOOKREC_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_csv br_csv;

typedef struct br_csv_opts {
    char sep;            /* 0 = detect from the first record */
    size_t max_field;    /* bytes after decoding; 0 = 1 MiB */
    size_t max_record;   /* bytes of raw input per record; 0 = 4 MiB */
    size_t max_fields;   /* 0 = 512 */
} br_csv_opts;

typedef struct br_csv_row {
    size_t nfields;
    char **fields;       /* fields[i] is NUL-terminated UTF-8 */
    size_t *lens;        /* byte length of each field */
    uint64_t line;       /* 1-based physical line where the record starts */
    uint64_t record;     /* 1-based number among returned records (header = 1) */
} br_csv_row;

typedef struct br_csv_stats {
    uint64_t records;         /* records returned */
    uint64_t skipped_limit;   /* records skipped for a limit */
    uint64_t converted_latin1;/* records converted from latin-1/cp1252 */
    uint64_t bytes;           /* raw bytes consumed */
} br_csv_stats;

/* opts may be NULL for the defaults. BR_EINVAL for sep '"', '\\', CR or LF,
 * max_record over 1 GiB or max_fields over 2^24; BR_ENOENT when the file is
 * missing. Files are read with read(2) in chunks of up to 1 MiB. */
int br_csv_open_file(const char *path, const br_csv_opts *opts, br_csv **out);
/* The buffer must outlive the reader. */
int br_csv_open_mem(const void *buf, size_t len, const br_csv_opts *opts, br_csv **out);
void br_csv_free(br_csv *c);

/* 1: a record in *row; 0: end of input; BR_ELIMIT: a record was skipped
 * (row->line says where; call again to go on); BR_EIO: read error (sticky);
 * BR_ENOMEM. The row's strings stay valid until the next call or free. */
int br_csv_next(br_csv *c, br_csv_row *row);

/* The separator in use ('\0' until the first record when detecting). */
char br_csv_sep(const br_csv *c);
const br_csv_stats *br_csv_get_stats(const br_csv *c);
/* Total size of the input in bytes when known (files, buffers), for progress. */
uint64_t br_csv_size(const br_csv *c);

#endif
