/* Text utilities for cleaning catalog strings (see include/bookrec/text.h).
 *
 * Design decisions:
 * 1. Everything is byte-bounded: functions that take a length never look past
 *    it, and the key builders stop at the NUL and at cap-1 output bytes, never
 *    cutting a UTF-8 sequence in half.
 * 2. Bytes 0x80-0x9F are read as Windows-1252, not as C1 controls: the
 *    Book-Crossing dump came out of Windows tools, and 0x92 there is always an
 *    apostrophe. The five bytes cp1252 leaves undefined keep their latin-1
 *    (C1) meaning so that every byte still maps to something valid.
 * 3. The match keys decode UTF-8 leniently: a byte that does not start a valid
 *    sequence is taken as one cp1252/latin-1 character. So a stray latin-1
 *    "\xE9" folds to "e" just like "é" does, and a key never fails.
 * 4. Accent folding covers Latin-1 and Latin Extended-A (the letters of the
 *    European languages in the catalogs) plus combining marks; other scripts
 *    are kept as they are, so Cyrillic or CJK titles still get a key.
 */
#include "bookrec/text.h"

#include <stdint.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (1-4) with its code point in *cp,
 * or 0 when the bytes there are not a valid sequence (Unicode Table 3-7).
 * Reads at most avail bytes, and stops at the first byte that does not fit,
 * so a NUL terminator is never passed. */
static size_t utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;
    uint32_t v;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned b = p[i];
        if (b < lo || b > hi)
            return 0;
        lo = 0x80, hi = 0xBF;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return n;
}

int br_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    uint32_t cp;

    while (p < end) {
        /* Catalog text is mostly ASCII: skip it eight bytes at a time. */
        if ((size_t)(end - p) >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (!(w & 0x8080808080808080ull)) {
                p += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t n = utf8_decode(p, (size_t)(end - p), &cp);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

static size_t utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Windows-1252 bytes 0x80-0x9F; the undefined five map to themselves (C1). */
/* clang-format off */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};
/* clang-format on */

static uint32_t cp1252_to_cp(unsigned b)
{
    return (b >= 0x80 && b < 0xA0) ? cp1252_hi[b - 0x80] : b;
}

size_t br_latin1_to_utf8(const char *in, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *o = (unsigned char *)out;

    for (size_t i = 0; i < len; i++) {
        unsigned b = p[i];
        if (b < 0x80)
            *o++ = (unsigned char)b;
        else
            o += utf8_encode(cp1252_to_cp(b), o);
    }
    *o = '\0';
    return (size_t)(o - (unsigned char *)out);
}

/* ---- HTML entities ------------------------------------------------------ */

/* Names of U+00A0..U+00FF in order (HTML 4 Latin-1 entities). */
/* clang-format off */
static const char *const latin1_names[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",
    "uml",    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",
    "deg",    "plusmn", "sup2",   "sup3",   "acute",  "micro",  "para",   "middot",
    "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil",
    "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",
    "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",
    "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",
    "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",
    "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide",
    "oslash", "ugrave", "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml",
};
/* clang-format on */

static const struct {
    const char *name;
    uint32_t cp;
} other_names[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},     {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018},
    {"rsquo", 0x2019},  {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D},
    {"bdquo", 0x201E},  {"hellip", 0x2026}, {"bull", 0x2022},   {"trade", 0x2122},
    {"euro", 0x20AC},   {"OElig", 0x0152},  {"oelig", 0x0153},  {"Scaron", 0x0160},
    {"scaron", 0x0161}, {"Yuml", 0x0178},   {"Zcaron", 0x017D}, {"zcaron", 0x017E},
    {"fnof", 0x0192},   {"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203A},
};

/* Code point of the entity name s[0..n) (case-sensitive, as in HTML), or
 * UINT32_MAX when unknown. */
static uint32_t entity_named(const char *s, size_t n)
{
    for (size_t i = 0; i < 96; i++)
        if (strlen(latin1_names[i]) == n && memcmp(latin1_names[i], s, n) == 0)
            return 0xA0 + (uint32_t)i;
    for (size_t i = 0; i < sizeof other_names / sizeof other_names[0]; i++)
        if (strlen(other_names[i].name) == n && memcmp(other_names[i].name, s, n) == 0)
            return other_names[i].cp;
    return UINT32_MAX;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

/* Parses the entity that starts with '&' at s[0] (s has len bytes). On
 * success returns its length including ';' and sets *cp; 0 when it is not a
 * complete entity we know, so the caller leaves it as it is. */
static size_t entity_parse(const char *s, size_t len, uint32_t *cp)
{
    size_t i = 1;
    uint32_t v = 0;

    if (i < len && s[i] == '#') {
        int hex = 0, digits = 0;
        i++;
        if (i < len && (s[i] == 'x' || s[i] == 'X'))
            hex = 1, i++;
        /* Seven digits bound the value below 2^32 in both bases. */
        while (i < len && digits < 7) {
            int d =
                hex ? hexval((unsigned char)s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
            if (d < 0)
                break;
            v = v * (hex ? 16u : 10u) + (uint32_t)d;
            digits++, i++;
        }
        if (!digits || i >= len || s[i] != ';')
            return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        /* HTML5 reads &#128;-&#159; as Windows-1252, as browsers do. */
        *cp = cp1252_to_cp(v);
        return i + 1;
    }
    size_t start = i;
    while (i < len && i - start < 8 &&
           ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
            (s[i] >= '0' && s[i] <= '9')))
        i++;
    if (i == start || i >= len || s[i] != ';')
        return 0;
    v = entity_named(s + start, i - start);
    if (v == UINT32_MAX)
        return 0;
    *cp = v;
    return i + 1;
}

size_t br_html_unescape(char *s, size_t len)
{
    size_t r = 0, w = 0;

    while (r < len) {
        char *amp = memchr(s + r, '&', len - r);
        size_t plain = amp ? (size_t)(amp - (s + r)) : len - r;
        memmove(s + w, s + r, plain);
        w += plain, r += plain;
        if (r >= len)
            break;
        uint32_t cp;
        size_t n = entity_parse(s + r, len - r, &cp);
        if (!n) {
            s[w++] = s[r++];
            continue;
        }
        /* Every entity is at least as long as its UTF-8 (the shortest,
         * "&#N;", is 4 bytes for 1), so writing in place never overtakes r. */
        if (cp == 0xA0)
            s[w++] = ' ';    /* nbsp: a plain space, so squash and keys see one */
        else if (cp != 0xAD) /* shy: an invisible hyphenation hint, dropped */
            w += utf8_encode(cp, (unsigned char *)s + w);
        r += n;
    }
    if (w < len)
        s[w] = '\0';
    return w;
}

/* ---- whitespace --------------------------------------------------------- */

static int is_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t br_text_squash(char *s, size_t len)
{
    size_t w = 0;
    int gap = 0;

    for (size_t r = 0; r < len; r++) {
        unsigned c = (unsigned char)s[r];
        if (is_space(c)) {
            gap = 1;
            continue;
        }
        if (gap && w > 0)
            s[w++] = ' ';
        gap = 0;
        s[w++] = (char)c;
    }
    if (w < len)
        s[w] = '\0';
    return w;
}

int br_streq_ci(const char *s, size_t len, const char *lit)
{
    for (size_t i = 0; i < len; i++) {
        unsigned a = (unsigned char)s[i], b = (unsigned char)lit[i];
        if (b == 0)
            return 0;
        if (a >= 'A' && a <= 'Z')
            a += 32;
        if (b >= 'A' && b <= 'Z')
            b += 32;
        if (a != b)
            return 0;
    }
    return lit[len] == '\0';
}

/* ---- match keys ----------------------------------------------------------- */

enum fold_class {
    F_WORD, /* part of a word: the folded bytes are in the buffer */
    F_DROP, /* vanishes without splitting the word: apostrophes, combining marks */
    F_SEP,  /* separates words: spaces and punctuation */
};

/* ASCII folds of U+00C0..U+017F; "" marks the two symbols × and ÷. */
/* clang-format off */
static const char *const fold_latin[192] = {
    /* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", "",
    "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", "",
    "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c",
    "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e",
    "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h",
    "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k",
    "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n",
    "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r",
    "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t",
    "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y",
    "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

/* Folds one code point for a match key. For F_WORD the bytes go to buf (at
 * most 4) and their count to *n; for other ASCII the caller has already dealt
 * with the characters that mean something (& ( ) : , ...). */
static enum fold_class fold_cp(uint32_t cp, char *buf, size_t *n)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            buf[0] = (char)cp;
            *n = 1;
            return F_WORD;
        }
        if (cp >= 'A' && cp <= 'Z') {
            buf[0] = (char)(cp + 32);
            *n = 1;
            return F_WORD;
        }
        return (cp == '\'' || cp == '`') ? F_DROP : F_SEP;
    }
    if (cp >= 0xC0 && cp < 0x180) {
        const char *f = fold_latin[cp - 0xC0];
        *n = strlen(f);
        memcpy(buf, f, *n);
        return *n ? F_WORD : F_SEP;
    }
    /* Apostrophe look-alikes (’ ‘ ʼ ´), the soft hyphen, combining accents
     * (decomposed "e\u0301") and the BOM vanish inside a word. */
    if (cp == 0x2019 || cp == 0x2018 || cp == 0x02BC || cp == 0xB4 || cp == 0xAD ||
        (cp >= 0x300 && cp <= 0x36F) || cp == 0xFEFF)
        return F_DROP;
    /* C1 controls, Latin-1 symbols, general punctuation, CJK punctuation,
     * fullwidth ASCII punctuation. */
    if (cp < 0xC0 || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xFF01 && cp <= 0xFF0F))
        return F_SEP;
    if (cp == 0x192) { /* ƒ */
        buf[0] = 'f';
        *n = 1;
        return F_WORD;
    }
    *n = utf8_encode(cp, (unsigned char *)buf);
    return F_WORD;
}

/* Next code point of the NUL-terminated s at *i (never past the NUL). A byte
 * that starts no valid sequence counts as one cp1252 character. */
static uint32_t next_cp(const char *s, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    uint32_t cp;
    size_t n = utf8_decode(p, 4, &cp);

    if (!n) {
        *i += 1;
        return cp1252_to_cp(p[0]);
    }
    *i += n;
    return cp;
}

/* A bounded output for keys: at most cap-1 bytes, then a NUL. */
struct keyout {
    char *out;
    size_t cap, n;
    int full;
};

/* Appends a space (when sp) and b[0..n) as one unit, or marks the output full,
 * so a key never ends in a space or half a character. */
static void key_put(struct keyout *k, int sp, const char *b, size_t n)
{
    size_t need = n + (sp ? 1 : 0);
    if (k->full || k->cap == 0 || need > k->cap - 1 - k->n) {
        k->full = 1;
        return;
    }
    if (sp)
        k->out[k->n++] = ' ';
    memcpy(k->out + k->n, b, n);
    k->n += n;
}

static int is_article(const char *s, size_t n)
{
    return (n == 3 && memcmp(s, "the", 3) == 0) || (n == 1 && s[0] == 'a') ||
           (n == 2 && memcmp(s, "an", 2) == 0);
}

/* One pass of br_title_key; groups: drop (...) [...] {...}; subtitle: stop at
 * ':' or ';'. The caller retries with fewer rules when the key is empty. */
static size_t title_pass(const char *t, char *out, size_t cap, int groups, int subtitle)
{
    struct keyout k = {out, cap, 0, 0};
    unsigned depth = 0;
    int gap = 0;
    size_t comma_at = SIZE_MAX; /* key length at the last top-level comma */
    size_t i = 0;
    char buf[4];
    size_t n;

    while (t[i] && !k.full) {
        uint32_t cp = next_cp(t, &i);
        if (groups && (cp == '(' || cp == '[' || cp == '{')) {
            if (depth < 1000)
                depth++;
            gap = 1;
            continue;
        }
        if (groups && (cp == ')' || cp == ']' || cp == '}')) {
            if (depth)
                depth--;
            gap = 1;
            continue;
        }
        if (depth)
            continue;
        if (subtitle && (cp == ':' || cp == ';') && k.n > 0)
            break;
        if (cp == ',') {
            comma_at = k.n;
            gap = 1;
            continue;
        }
        if (cp == '&') {
            /* Also an undecoded "&amp;", which 214 Book-Crossing titles hold. */
            if (strncmp(t + i, "amp;", 4) == 0)
                i += 4;
            key_put(&k, k.n > 0, "and", 3);
            gap = 1;
            continue;
        }
        switch (fold_cp(cp, buf, &n)) {
        case F_DROP:
            break;
        case F_SEP:
            gap = 1;
            break;
        case F_WORD:
            key_put(&k, gap && k.n > 0, buf, n);
            gap = 0;
            break;
        }
    }

    /* Library-catalog inversion: "Two Princesses of Bamarre, The". */
    if (comma_at != SIZE_MAX && comma_at < k.n) {
        size_t s = comma_at + (out[comma_at] == ' ' ? 1 : 0);
        if (is_article(out + s, k.n - s) && comma_at > 0)
            k.n = comma_at;
    }
    /* A leading article, when words follow it. */
    char *sp = k.n ? memchr(out, ' ', k.n) : NULL;
    if (sp && is_article(out, (size_t)(sp - out))) {
        size_t drop = (size_t)(sp - out) + 1;
        memmove(out, out + drop, k.n - drop);
        k.n -= drop;
    }
    if (cap)
        out[k.n] = '\0';
    return k.n;
}

size_t br_title_key(const char *title, char *out, size_t cap)
{
    size_t n;

    if (cap)
        out[0] = '\0';
    if (!title)
        return 0;
    /* A title that is all parenthesis or starts with a colon would get an
     * empty key; fall back to keeping those parts rather than match nothing. */
    n = title_pass(title, out, cap, 1, 1);
    if (n == 0)
        n = title_pass(title, out, cap, 1, 0);
    if (n == 0)
        n = title_pass(title, out, cap, 0, 0);
    return n;
}

/* Name suffixes that are never the last name ("Martin Luther King Jr."). */
static int is_suffix(const char *w, size_t n)
{
    static const char *const sfx[] = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
        if (strlen(sfx[i]) == n && memcmp(sfx[i], w, n) == 0)
            return 1;
    return 0;
}

/* The word of an author string: where it starts and ends in the input. */
struct word {
    size_t start, end;
    int set;
};

/* Folds the input bytes a[w.start..w.end) into out as one word. */
static size_t author_emit(const char *a, struct word w, char *out, size_t cap)
{
    struct keyout k = {out, cap, 0, 0};
    size_t i = w.start;
    char buf[4];
    size_t n;

    while (i < w.end && !k.full) {
        uint32_t cp = next_cp(a, &i);
        if (fold_cp(cp, buf, &n) == F_WORD)
            key_put(&k, 0, buf, n);
    }
    if (cap)
        out[k.n] = '\0';
    return k.n;
}

/* The last name is the last word of the first author, so "Ursula K. Le Guin"
 * and "Le Guin, Ursula K." agree on "guin", and "Tolkien, J.R.R." (one word
 * before the comma) gives "tolkien". Words of one letter (initials) and
 * suffixes are passed over when a better word is there. */
size_t br_author_key(const char *author, char *out, size_t cap)
{
    struct word best = {0}, plain = {0}, any = {0}, cur = {0};
    char head[8]; /* the word's first folded bytes, enough to spot a suffix */
    size_t hlen = 0, wlen = 0;
    unsigned depth = 0;
    size_t i = 0;
    char buf[4];
    size_t n;

    if (cap)
        out[0] = '\0';
    if (!author)
        return 0;

    for (;;) {
        size_t at = i;
        uint32_t cp = author[i] ? next_cp(author, &i) : 0;
        enum fold_class cls;
        int end_author = 0;

        if (cp == 0) {
            cls = F_SEP;
            end_author = 1;
        } else if (cp == '(' || cp == '[' || cp == '{') {
            if (depth < 1000)
                depth++;
            cls = F_SEP;
        } else if (cp == ')' || cp == ']' || cp == '}') {
            if (depth)
                depth--;
            cls = F_SEP;
        } else if (depth) {
            continue;
        } else if (cp == ',' || cp == ';' || cp == '&' || cp == '/') {
            cls = F_SEP;
            end_author = 1;
        } else {
            cls = fold_cp(cp, buf, &n);
        }

        if (cls == F_WORD) {
            if (!cur.set)
                cur = (struct word){at, i, 1}, hlen = wlen = 0;
            cur.end = i;
            for (size_t j = 0; j < n && hlen < sizeof head; j++)
                head[hlen++] = buf[j];
            wlen += n;
            continue;
        }
        if (cls == F_DROP)
            continue;
        /* A word ends here. */
        if (cur.set) {
            size_t hl = wlen < sizeof head ? wlen : sizeof head;
            if (wlen == 3 && memcmp(head, "and", 3) == 0 && any.set) {
                end_author = 1; /* "Stephen King and Peter Straub" */
            } else {
                any = cur;
                if (!is_suffix(head, hl)) {
                    plain = cur;
                    if (wlen > 1)
                        best = cur;
                }
            }
            cur.set = 0;
        }
        if (end_author && (any.set || cp == 0))
            break;
    }
    if (best.set)
        return author_emit(author, best, out, cap);
    if (plain.set)
        return author_emit(author, plain, out, cap);
    if (any.set)
        return author_emit(author, any, out, cap);
    return 0;
}
