/* ISBN normalization and validation.
 *
 * Every ISBN is stored as its ISBN-13 (13 ASCII digits). Accepted spellings:
 * ISBN-10 or ISBN-13 with hyphens, spaces or dots between digits, a lower-case
 * 'x' check digit, surrounding quotes or '=' (spreadsheet "=\"...\""),
 * an "ISBN" prefix, and zero-stripped ISBN-10s (fewer than 10 digits) when
 * left-padding with zeros yields a valid check digit. Rejected, each with a
 * reason: empty, float-mangled ("9.78E+12", "9,78E+12", "9.78043902348e+12"),
 * ASIN-like ("B00008NRHQ"), letters or other characters inside, wrong length,
 * wrong check digit. */
#ifndef BOOKREC_ISBN_H
#define BOOKREC_ISBN_H

#include <stddef.h>

#define BR_ISBN_REASONS(X)                                                     \
    X(OK, "ok")                                                                \
    X(EMPTY, "isbn_empty")                                                     \
    X(FLOAT, "isbn_float_mangled")                                             \
    X(ASIN, "isbn_asin_like")                                                  \
    X(BADCHAR, "isbn_bad_characters")                                          \
    X(LENGTH, "isbn_bad_length")                                               \
    X(CHECK, "isbn_bad_check_digit")

typedef enum br_isbn_reason {
#define BR__ISBN_ENUM(name, str) BR_ISBN_##name,
    BR_ISBN_REASONS(BR__ISBN_ENUM)
#undef BR__ISBN_ENUM
        BR_ISBN__COUNT
} br_isbn_reason;

/* Reason name as used in import reports ("isbn_bad_check_digit"). */
const char *br_isbn_reason_name(br_isbn_reason r);

/* Flags describing what normalization did. */
enum {
    BR_ISBN_F_ZERO_PADDED = 1, /* leading zeros were restored */
    BR_ISBN_F_FROM_10 = 2,     /* input was an ISBN-10 */
    BR_ISBN_F_CLEANED = 4      /* separators, case or wrapping were removed */
};

/* Normalizes in[0..len) to an ISBN-13 in out13 (14 bytes with the NUL).
 * Returns BR_ISBN_OK or the reason for rejecting; *flags (may be NULL) gets
 * BR_ISBN_F_* bits. Inputs longer than 64 bytes are rejected (LENGTH). */
br_isbn_reason br_isbn_normalize(const char *in, size_t len, char out13[14], int *flags);

/* Checks of canonical forms (digits only, 'X' upper-case for ISBN-10). */
int br_isbn10_valid(const char s[10]);
int br_isbn13_valid(const char s[13]);
/* Conversions between canonical forms; to10 fails (returns -1) for 979-. */
void br_isbn10_to_13(const char in10[10], char out13[14]);
int br_isbn13_to_10(const char in13[13], char out10[11]);

#endif
