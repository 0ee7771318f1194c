/* Tests of lib/data/isbn.c: every ISBN shape listed in the Book-Crossing QUIRKS.md and
 * PROVENANCE.md, the conversions, and (when the real data is present) the reason counts
 * over every ISBN of derived/ratings_union.csv. */
#include "harness.h"

#include "bookrec/isbn.h"

#include <stdlib.h>

/* Normalizes a NUL-terminated string; out and flags are per-test locals. */
#define NORM(s) br_isbn_normalize((s), strlen(s), out, &flags)

#define ASSERT_ISBN_OK(s, want13, want_flags)                                  \
    do {                                                                       \
        ASSERT_EQ_STR(br_isbn_reason_name(NORM(s)), "ok");                     \
        ASSERT_EQ_STR(out, (want13));                                          \
        ASSERT_EQ_INT(flags, (want_flags));                                    \
    } while (0)

/* Comparing names prints a readable mismatch; out must be emptied on rejection. */
#define ASSERT_ISBN_REJECT(s, reason)                                          \
    do {                                                                       \
        ASSERT_EQ_STR(br_isbn_reason_name(NORM(s)), br_isbn_reason_name(reason)); \
        ASSERT_EQ_STR(out, "");                                                \
    } while (0)

enum { F10 = BR_ISBN_F_FROM_10, FCL = BR_ISBN_F_CLEANED, FZP = BR_ISBN_F_ZERO_PADDED };

TEST(isbn_reason_names)
{
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_OK), "ok");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_EMPTY), "isbn_empty");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_FLOAT), "isbn_float_mangled");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_ASIN), "isbn_asin_like");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_BADCHAR), "isbn_bad_characters");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_LENGTH), "isbn_bad_length");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN_CHECK), "isbn_bad_check_digit");
    ASSERT_EQ_STR(br_isbn_reason_name(BR_ISBN__COUNT), "isbn_unknown_reason");
}

TEST(isbn10_valid_and_check_digit_x)
{
    ASSERT_TRUE(br_isbn10_valid("0306406152"));
    ASSERT_TRUE(br_isbn10_valid("037379116X"));
    ASSERT_TRUE(!br_isbn10_valid("037379116x")); /* canonical form only */
    ASSERT_TRUE(!br_isbn10_valid("0306406153"));
    ASSERT_TRUE(!br_isbn10_valid("030640615X"));
    ASSERT_TRUE(!br_isbn10_valid("X306406152"));
    ASSERT_TRUE(!br_isbn10_valid("03064O6152"));
}

TEST(isbn13_valid_prefix_and_check)
{
    ASSERT_TRUE(br_isbn13_valid("9780306406157"));
    ASSERT_TRUE(br_isbn13_valid("9791234567896"));
    ASSERT_TRUE(!br_isbn13_valid("9780306406158"));
    ASSERT_TRUE(!br_isbn13_valid("9770390107900")); /* valid EAN, not Bookland */
    ASSERT_TRUE(!br_isbn13_valid("0000001042283")); /* valid EAN check, junk */
    ASSERT_TRUE(!br_isbn13_valid("978030640615X"));
}

TEST(isbn_conversions_10_13)
{
    char s13[14], s10[11];
    br_isbn10_to_13("0306406152", s13);
    ASSERT_EQ_STR(s13, "9780306406157");
    br_isbn10_to_13("037379116X", s13); /* the ISBN-10's X does not carry over */
    ASSERT_EQ_STR(s13, "9780373791163");
    ASSERT_EQ_INT(br_isbn13_to_10("9780306406157", s10), 0);
    ASSERT_EQ_STR(s10, "0306406152");
    ASSERT_EQ_INT(br_isbn13_to_10("9780373791163", s10), 0);
    ASSERT_EQ_STR(s10, "037379116X");
    ASSERT_EQ_INT(br_isbn13_to_10("9791234567896", s10), -1); /* 979: no ISBN-10 */
}

TEST(isbn_plain_10_and_13)
{
    char out[14];
    int flags;
    ASSERT_ISBN_OK("0195153448", "9780195153446", F10);
    ASSERT_ISBN_OK("0306406152", "9780306406157", F10);
    ASSERT_ISBN_OK("9780306406157", "9780306406157", 0);
    ASSERT_ISBN_OK("9791234567896", "9791234567896", 0);
    ASSERT_ISBN_OK("9788874330881", "9788874330881", 0);
}

TEST(isbn_check_digit_x_and_lower_case_x)
{
    char out[14];
    int flags;
    ASSERT_ISBN_OK("037379116X", "9780373791163", F10);
    ASSERT_ISBN_OK("037379116x", "9780373791163", F10 | FCL);
    ASSERT_ISBN_OK("01402.5448X", "9780140254488", F10 | FCL);
    ASSERT_ISBN_REJECT("030640615X", BR_ISBN_CHECK);
    ASSERT_ISBN_REJECT("X000000000", BR_ISBN_BADCHAR); /* X only as the check digit */
    ASSERT_ISBN_REJECT("03X6406152", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("XXXXXXXXXXXXX", BR_ISBN_BADCHAR);
}

TEST(isbn_separators_between_digits)
{
    char out[14];
    int flags;
    ASSERT_ISBN_OK("0 7336 1053 6", "9780733610530", F10 | FCL);
    ASSERT_ISBN_OK("0-306-40615-2", "9780306406157", F10 | FCL);
    ASSERT_ISBN_OK("978-0-306-40615-7", "9780306406157", FCL);
    ASSERT_ISBN_OK("2.207.50119.1", "9782207501191", F10 | FCL);
    ASSERT_ISBN_OK("0 - 306 - 40615 - 2", "9780306406157", F10 | FCL);
    ASSERT_ISBN_OK("0-8044-2957-X", "9780804429573", F10 | FCL);
    ASSERT_ISBN_REJECT("-0306406152", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("0306406152-", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("030640615X.", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("100940/86", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("0/330/25864/8", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("0385=426151", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("0553248987>>2", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("03064\t06152", BR_ISBN_BADCHAR);
}

TEST(isbn_wrapping_quotes_prefix_whitespace)
{
    char out[14];
    int flags;
    ASSERT_ISBN_OK("\"\"\"0195153448\"\"\"", "9780195153446", F10 | FCL);
    ASSERT_ISBN_OK("=\"0195153448\"", "9780195153446", F10 | FCL);
    ASSERT_ISBN_OK("'0195153448'", "9780195153446", F10 | FCL);
    ASSERT_ISBN_OK("  0195153448\r\n", "9780195153446", F10 | FCL);
    ASSERT_ISBN_OK("ISBN 0-306-40615-2", "9780306406157", F10 | FCL);
    ASSERT_ISBN_OK("isbn:0306406152", "9780306406157", F10 | FCL);
    ASSERT_ISBN_OK("ISBN-13: 978-0-306-40615-7", "9780306406157", FCL);
    ASSERT_ISBN_OK("ISBN-10 0306406152", "9780306406157", F10 | FCL);
    ASSERT_ISBN_OK("\" 0195153448 \"", "9780195153446", F10 | FCL);
    ASSERT_ISBN_REJECT("\\0432534220\\", BR_ISBN_BADCHAR);
}

TEST(isbn_empty_and_null_words)
{
    char out[14];
    int flags;
    ASSERT_EQ_INT(br_isbn_normalize("", 0, out, &flags), BR_ISBN_EMPTY);
    ASSERT_EQ_INT(br_isbn_normalize(NULL, 0, out, NULL), BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("   ", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("\"\"", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("\"\"\"\"\"\"", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("ISBN", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("NULL", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("null", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("\"NULL\"", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("NaN", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("N/A", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("NA", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("None", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("-", BR_ISBN_EMPTY);
    ASSERT_ISBN_REJECT("NULLS", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("NOTAVAILABLE", BR_ISBN_BADCHAR);
}

TEST(isbn_float_mangled)
{
    char out[14];
    int flags;
    ASSERT_ISBN_REJECT("9,78E+12", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("9.78E+12", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("9.78043902348e+12", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("9.78043902348E-12", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("0451E64100", BR_ISBN_BADCHAR); /* no exponent sign: a typo */
    ASSERT_ISBN_REJECT("\"9,78E+12\"", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("9E+12", BR_ISBN_FLOAT);
    ASSERT_ISBN_REJECT("9.78E+", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT(".78E+12", BR_ISBN_BADCHAR);
}

TEST(isbn_asin_like)
{
    char out[14];
    int flags;
    ASSERT_ISBN_REJECT("B00008NRHQ", BR_ISBN_ASIN);
    ASSERT_ISBN_REJECT("B00009EF82", BR_ISBN_ASIN);
    ASSERT_ISBN_REJECT("b00009ef82", BR_ISBN_ASIN);
    ASSERT_ISBN_REJECT("\"B0000C37EK\"", BR_ISBN_ASIN);
    ASSERT_ISBN_REJECT("B00008NRH", BR_ISBN_BADCHAR);    /* 9 chars: not an ASIN */
    ASSERT_ISBN_REJECT("B00008NRHQ1", BR_ISBN_BADCHAR);  /* 11 chars */
    ASSERT_ISBN_REJECT("B0000-8NRHQ", BR_ISBN_BADCHAR);
}

TEST(isbn_zero_stripped_padding)
{
    char out[14];
    int flags;
    /* goodbooks' isbn column and the fernandajacob spreadsheet dropped leading zeros. */
    ASSERT_ISBN_OK("439023483", "9780439023481", F10 | FZP);
    ASSERT_ISBN_OK("11238356", "9780011238357", F10 | FZP);
    ASSERT_ISBN_OK("345245504", "9780345245502", F10 | FZP);
    ASSERT_ISBN_OK("51513628X", "9780515136289", F10 | FZP);
    ASSERT_ISBN_OK("6440031X", "9780064400312", F10 | FZP);
    ASSERT_ISBN_OK("14025448x", "9780140254488", F10 | FZP | FCL);
    /* Padding does not yield a valid check digit: a short number, not an ISBN. */
    ASSERT_ISBN_REJECT("34542252", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("265124", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("617683993", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("8804315X", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("38208715X", BR_ISBN_LENGTH);
    /* A stripped number never starts with 0: this one lost a digit instead. */
    ASSERT_ISBN_REJECT("043902348", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("0", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("X", BR_ISBN_LENGTH);
}

TEST(isbn_13_digit_junk_and_bad_check)
{
    char out[14];
    int flags;
    ASSERT_ISBN_REJECT("0000001042283", BR_ISBN_CHECK); /* not 978/979 */
    ASSERT_ISBN_REJECT("9770390107900", BR_ISBN_CHECK); /* magazine EAN */
    ASSERT_ISBN_REJECT("9788874330880", BR_ISBN_CHECK);
    ASSERT_ISBN_REJECT("978887433088X", BR_ISBN_BADCHAR); /* no X in an ISBN-13 */
    ASSERT_ISBN_REJECT("0306406153", BR_ISBN_CHECK);
    ASSERT_ISBN_REJECT("0140254480", BR_ISBN_CHECK);
    /* Placeholders whose check digit happens to hold. */
    ASSERT_ISBN_REJECT("0000000000", BR_ISBN_CHECK);
    ASSERT_ISBN_REJECT("9780000000002", BR_ISBN_CHECK);
}

TEST(isbn_bad_characters_and_length)
{
    char out[14];
    int flags;
    ASSERT_ISBN_REJECT("O345438329", BR_ISBN_BADCHAR); /* letter O for zero */
    ASSERT_ISBN_REJECT("844507118I", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("Narraciones", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("03064\xc3\xa9" "06152", BR_ISBN_BADCHAR);
    ASSERT_EQ_INT(br_isbn_normalize("0306\0" "406152", 11, out, &flags), BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("88741800047", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("0884590184X0", BR_ISBN_BADCHAR);
    ASSERT_ISBN_REJECT("030640615200", BR_ISBN_LENGTH);
    ASSERT_ISBN_REJECT("97803064061570", BR_ISBN_LENGTH);
}

TEST(isbn_over_long_input)
{
    char out[14], buf[200];
    int flags;
    memset(buf, ' ', sizeof buf);
    memcpy(buf + 100, "0306406152", 10);
    /* 64 bytes is the limit, whatever the content. */
    ASSERT_EQ_INT(br_isbn_normalize(buf + 100 - 54, 64, out, &flags), BR_ISBN_OK);
    ASSERT_EQ_STR(out, "9780306406157");
    ASSERT_EQ_INT(br_isbn_normalize(buf + 100 - 55, 65, out, &flags), BR_ISBN_LENGTH);
    ASSERT_EQ_STR(out, "");
    memset(buf, '1', sizeof buf);
    ASSERT_EQ_INT(br_isbn_normalize(buf, sizeof buf, out, &flags), BR_ISBN_LENGTH);
    ASSERT_EQ_INT(br_isbn_normalize(buf, 40, out, &flags), BR_ISBN_LENGTH);
}

TEST(isbn_length_argument_bounds_input)
{
    char out[14];
    int flags;
    /* Only in[0..len) is read: a field inside a larger line. */
    const char *line = "7;0195153448;0;fernandajacob;1";
    ASSERT_EQ_INT(br_isbn_normalize(line + 2, 10, out, &flags), BR_ISBN_OK);
    ASSERT_EQ_STR(out, "9780195153446");
}

TEST(isbn_ratings_union_reason_counts)
{
    const char *dir = br_test_data_dir();
    char path[1024], line[4096], out[14];
    long counts[BR_ISBN__COUNT] = {0}, padded = 0, rows = 0;
    if (!dir)
        return; /* real data absent: nothing to check */
    snprintf(path, sizeof path, "%s/bookcrossing/derived/ratings_union.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int header = 1, bad_line = 0;
    while (fgets(line, sizeof line, f)) {
        if (header) {
            header = 0;
            continue;
        }
        char *a = strchr(line, ';'), *b = a ? strchr(a + 1, ';') : NULL;
        if (!b) {
            bad_line = 1;
            break;
        }
        int flags;
        br_isbn_reason r = br_isbn_normalize(a + 1, (size_t)(b - a - 1), out, &flags);
        counts[r]++;
        padded += (flags & BR_ISBN_F_ZERO_PADDED) != 0;
        rows++;
    }
    fclose(f);
    ASSERT_TRUE(!bad_line);
    if (getenv("BR_TEST_VERBOSE")) {
        for (int r = 0; r < BR_ISBN__COUNT; r++)
            fprintf(stderr, "    %-22s %ld\n", br_isbn_reason_name((br_isbn_reason)r), counts[r]);
        fprintf(stderr, "    zero-padded ok       %ld of %ld rows\n", padded, rows);
    }
    ASSERT_EQ_INT(rows, 464828);
    /* QUIRKS.md: 463,028 ten-character values of which 536 fail the check leave 462,492;
     * valid ISBN-13s, spaced and zero-stripped values add a few hundred. */
    ASSERT_CMP_INT(counts[BR_ISBN_OK], >=, 462700);
    ASSERT_CMP_INT(counts[BR_ISBN_ASIN], >=, 100);
    ASSERT_CMP_INT(counts[BR_ISBN_ASIN], <=, 150);
    ASSERT_EQ_INT(counts[BR_ISBN_EMPTY], 0);
    ASSERT_EQ_INT(counts[BR_ISBN_FLOAT], 0); /* the union dropped the E+ rows */
    /* QUIRKS.md: 536 ten-character ISBNs fail the check digit, plus some 13-digit junk. */
    ASSERT_CMP_INT(counts[BR_ISBN_CHECK], >=, 500);
    ASSERT_CMP_INT(counts[BR_ISBN_CHECK], <=, 700);
    ASSERT_CMP_INT(counts[BR_ISBN_BADCHAR] + counts[BR_ISBN_LENGTH], <=, 1500);
}
