/* ISBN normalization and validation (see isbn.h).
 *
 * Design decisions:
 * 1. One pass strips the wrapping (whitespace, '=', quotes, an "ISBN" prefix), then the
 *    body is matched against the rejected shapes in a fixed order: NULL-ish words (EMPTY),
 *    spreadsheet floats (FLOAT), ASINs (ASIN), then character by character. The order
 *    matters: "9.78E+12" would otherwise be BADCHAR and "B00008NRHQ" BADCHAR too, and the
 *    import report should say what the value really was.
 * 2. Separators ('-', ' ', '.') are accepted only between two ISBN characters, so
 *    "0-306-40615-2" and "2.207.50119.1" clean up but "-0306406152" or "123." do not.
 * 3. Fewer than 10 digits is read as an ISBN-10 whose leading zeros a spreadsheet dropped
 *    (QUIRKS.md: "34542252", goodbooks "439023483"): it is padded and accepted only if the
 *    check digit then holds. A stripped number never starts with '0', so a short value
 *    that does is a truncated ISBN (LENGTH), not a stripped one; padding it would accept
 *    one in eleven truncated ISBNs as some other book.
 * 4. The all-zero body ("0000000000", "9780000000002") is a placeholder in the data, not a
 *    book; its check digit happens to hold, so it is rejected explicitly (CHECK).
 * 5. A 13-digit number outside the 978/979 Bookland prefixes (EAN of a magazine, junk such
 *    as "0000001042283") is not an ISBN-13: br_isbn13_valid() fails and the reason is
 *    CHECK, the same as for a wrong check digit. 'X' in a 13-character value is BADCHAR.
 * 6. No allocation: everything happens in a 64-byte stack copy. */
#include "bookrec/isbn.h"

#include <string.h>

#define MAX_IN 64

const char *br_isbn_reason_name(br_isbn_reason r)
{
    switch (r) {
#define BR__ISBN_NAME(name, str)                                               \
    case BR_ISBN_##name:                                                       \
        return str;
        BR_ISBN_REASONS(BR__ISBN_NAME)
#undef BR__ISBN_NAME
    case BR_ISBN__COUNT:
        break;
    }
    return "isbn_unknown_reason";
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ASCII case-insensitive comparison of s[0..n) with the NUL-terminated lower-case word. */
static int eq_word(const char *s, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n && word[i]; i++)
        if (to_upper(s[i]) != to_upper(word[i]))
            return 0;
    return i == n && word[i] == '\0';
}

static int all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

static int isbn10_check_value(const char s[9])
{
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (10 - i) * (s[i] - '0');
    return (11 - sum % 11) % 11; /* 10 is written 'X' */
}

static int isbn13_check_value(const char s[12])
{
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (i % 2 ? 3 : 1) * (s[i] - '0');
    return (10 - sum % 10) % 10;
}

int br_isbn10_valid(const char s[10])
{
    for (int i = 0; i < 9; i++)
        if (!is_digit(s[i]))
            return 0;
    int c = isbn10_check_value(s);
    return c == 10 ? s[9] == 'X' : s[9] == (char)('0' + c);
}

int br_isbn13_valid(const char s[13])
{
    for (int i = 0; i < 13; i++)
        if (!is_digit(s[i]))
            return 0;
    if (memcmp(s, "978", 3) != 0 && memcmp(s, "979", 3) != 0)
        return 0;
    return s[12] - '0' == isbn13_check_value(s);
}

void br_isbn10_to_13(const char in10[10], char out13[14])
{
    memcpy(out13, "978", 3);
    memcpy(out13 + 3, in10, 9);
    out13[12] = (char)('0' + isbn13_check_value(out13));
    out13[13] = '\0';
}

int br_isbn13_to_10(const char in13[13], char out10[11])
{
    /* 979- books have no ISBN-10: the 979 prefix was opened when 978 ran out. */
    if (memcmp(in13, "978", 3) != 0)
        return -1;
    for (int i = 3; i < 12; i++)
        if (!is_digit(in13[i]))
            return -1;
    memcpy(out10, in13 + 3, 9);
    int c = isbn10_check_value(out10);
    out10[9] = c == 10 ? 'X' : (char)('0' + c);
    out10[10] = '\0';
    return 0;
}

/* digits [.,] digits [eE] [+-] digits: what a spreadsheet or Python writes for a 13-digit
 * number. Both always write the exponent's sign, and requiring it keeps "0451E64100" (a
 * mistyped ISBN in the original data) out of this bucket. */
static int is_float_mangled(const char *s, size_t n)
{
    size_t i = 0, d;
    for (d = i; i < n && is_digit(s[i]); i++)
        ;
    if (i == d)
        return 0;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i >= n || (s[i] != 'e' && s[i] != 'E'))
        return 0;
    i++;
    if (i >= n || (s[i] != '+' && s[i] != '-'))
        return 0;
    i++;
    for (d = i; i < n && is_digit(s[i]); i++)
        ;
    return i > d && i == n;
}

static int is_null_word(const char *s, size_t n)
{
    static const char *const words[] = {"null", "none", "nan", "n/a", "na", "nil", "-"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (eq_word(s, n, words[i]))
            return 1;
    return 0;
}

/* Removes whitespace, '=' and quote wrapping, and an "ISBN" / "ISBN-13:" prefix. */
static void unwrap(const char **ps, size_t *pn, int *flags)
{
    const char *s = *ps;
    size_t n = *pn, n0 = n;

    for (int again = 1; again;) {
        again = 0;
        while (n && is_space(s[0]))
            s++, n--;
        while (n && is_space(s[n - 1]))
            n--;
        if (n && s[0] == '=') /* spreadsheet ="0195153448" */
            s++, n--, again = 1;
        while (n && (s[0] == '"' || s[0] == '\''))
            s++, n--, again = 1;
        while (n && (s[n - 1] == '"' || s[n - 1] == '\''))
            n--, again = 1;
    }
    if (n >= 4 && eq_word(s, 4, "isbn")) {
        s += 4, n -= 4;
        while (n && (s[0] == '-' || is_space(s[0])))
            s++, n--;
        /* "ISBN-10:", "ISBN 13 ": the 10/13 goes only when ':' or a space follows, so
         * "ISBN 1300..." keeps its digits. */
        if (n >= 3 && s[0] == '1' && (s[1] == '0' || s[1] == '3') &&
            (s[2] == ':' || is_space(s[2])))
            s += 2, n -= 2;
        if (n && s[0] == ':')
            s++, n--;
        while (n && is_space(s[0]))
            s++, n--;
    }
    if (n != n0)
        *flags |= BR_ISBN_F_CLEANED;
    *ps = s;
    *pn = n;
}

br_isbn_reason br_isbn_normalize(const char *in, size_t len, char out13[14], int *flags)
{
    char body[MAX_IN];
    size_t n, nb = 0;
    int f = 0;
    br_isbn_reason r;

    out13[0] = '\0';
    if (!in || len == 0) {
        r = BR_ISBN_EMPTY;
        goto done;
    }
    if (len > MAX_IN) {
        r = BR_ISBN_LENGTH;
        goto done;
    }
    n = len;
    unwrap(&in, &n, &f);
    if (n == 0 || is_null_word(in, n)) {
        r = BR_ISBN_EMPTY;
        goto done;
    }
    if (is_float_mangled(in, n)) {
        r = BR_ISBN_FLOAT;
        goto done;
    }
    if (n == 10 && to_upper(in[0]) == 'B') {
        size_t i = 1;
        while (i < n && is_alnum(in[i]))
            i++;
        if (i == n) {
            r = BR_ISBN_ASIN;
            goto done;
        }
    }

    /* Collect digits and a final X; separators only between two of them. */
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (is_digit(c)) {
            body[nb++] = c;
        } else if (c == 'x' || c == 'X') {
            if (i != n - 1) {
                r = BR_ISBN_BADCHAR;
                goto done;
            }
            if (c == 'x')
                f |= BR_ISBN_F_CLEANED;
            body[nb++] = 'X';
        } else if (c == '-' || c == ' ' || c == '.') {
            if (nb == 0 || i == n - 1) {
                r = BR_ISBN_BADCHAR;
                goto done;
            }
            f |= BR_ISBN_F_CLEANED;
        } else {
            r = BR_ISBN_BADCHAR;
            goto done;
        }
    }
    if (nb == 13) {
        if (body[12] == 'X') {
            r = BR_ISBN_BADCHAR;
            goto done;
        }
        if (!br_isbn13_valid(body) || all_zero(body + 3, 9)) {
            r = BR_ISBN_CHECK;
            goto done;
        }
        memcpy(out13, body, 13);
        out13[13] = '\0';
        r = BR_ISBN_OK;
        goto done;
    }
    if (nb < 10) {
        if (body[0] == '0') {
            r = BR_ISBN_LENGTH;
            goto done;
        }
        memmove(body + (10 - nb), body, nb);
        memset(body, '0', 10 - nb);
        if (!br_isbn10_valid(body)) {
            r = BR_ISBN_LENGTH; /* not an ISBN-10 after all, just a short number */
            goto done;
        }
        f |= BR_ISBN_F_ZERO_PADDED;
        nb = 10;
    }
    if (nb != 10) {
        r = BR_ISBN_LENGTH;
        goto done;
    }
    if (!br_isbn10_valid(body) || all_zero(body, 9)) {
        r = BR_ISBN_CHECK;
        goto done;
    }
    f |= BR_ISBN_F_FROM_10;
    br_isbn10_to_13(body, out13);
    r = BR_ISBN_OK;

done:
    if (r != BR_ISBN_OK)
        out13[0] = '\0';
    if (flags)
        *flags = f;
    return r;
}
