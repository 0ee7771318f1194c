/* Subjects: canonical forms, shelf tags and the vocabulary (see subjects.h and
 * docs/subjects.md; the word lists live in subject_merge.c).
 *
 * Design decisions:
 * 1. Canonicalization is a pure function of one string, so every source (Goodreads tags,
 *    Open Library subjects, Google Books categories) and every later lookup agree on it:
 *    lower case, Latin-1 accents folded to ASCII, "&" -> "and", text in parentheses dropped
 *    (Open Library's "(Fictitious character)"), apostrophes joined ("children's" ->
 *    "childrens"), every other punctuation a space, a lone "s" or "t" glued back
 *    ("children-s" -> "childrens", "didn-t" -> "didnt"), then the plural, then the merge table.
 * 2. The singularizer touches only the last word (the head of an English compound: "graphic
 *    novels", but not "books i own"; nothing in "x and y" phrases such as "manners and
 *    customs"), only ASCII words of four letters or more, and only
 *    through rules that are safe: "-ies" -> "-y" unless the singular is a listed "-ie" word,
 *    "-ches/-shes/-xes/-sses" drop "es", a bare "-s" is dropped; words in "-ss", "-us", "-is"
 *    are left alone, and so are "-ics", "-as" and "-os" unless the word is listed as a
 *    plural ("classics", "dramas", "photos"), because most of those are singular ("physics",
 *    "christmas", "chaos"). Names and titles that look plural are protected either by a
 *    word list ("james", "dickens") or by an identity entry in the merge table
 *    ("nicholas sparks").
 * 3. The merge table is looked up on the cleaned form before the plural, then on the
 *    singular, so a key can be written either way; targets are fixed points (tested).
 * 4. Shelf tags are caught twice: a short pattern list for the obvious temporal, ownership,
 *    format and rating forms (applied in br_subject_canon), and a rule measured on the
 *    catalog for the rest: a tag whose readers' content profile matches that of everybody
 *    else says nothing about the book (br_subject_vocab_build, docs/subjects.md).
 * 5. The data rule weights each item by its share of the tag, count(b,t) / total(b), so a
 *    tag used by a constant share of every book's readers (to-read, owned) has exactly the
 *    catalog's reader-weighted profile; the comparison is Jensen-Shannon (bounded, symmetric)
 *    against the complement, over the most frequent non-shelf subjects.
 * 6. Raw strings are canonicalized once per vocabulary (a cache keyed by the raw bytes), so
 *    200k triples cost about 6k canonicalizations.
 * 7. Build sorts the triples by (item, subject, weight) before summing: the output does not
 *    depend on the order of the adds, not even in the last bit of a float.
 * 8. Limits: raw strings of BR_SUBJECT_RAW_MAX bytes, BR_SUBJECT_MAX_PAIRS triples,
 *    BR_SUBJECT_MAX_DISTINCT distinct raw strings; beyond them add returns BR_ELIMIT. */
#include "bookrec/subjects.h"
#include "bookrec/arena.h"
#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *br_subject_reason_name(br_subject_reason r)
{
    switch (r) {
#define BR__SUBJECT_NAME(name, str, desc)                                                          \
    case BR_SUBJECT_##name:                                                                        \
        return str;
        BR_SUBJECT_REASON_MAP(BR__SUBJECT_NAME)
#undef BR__SUBJECT_NAME
    default:
        return "unknown";
    }
}

/* ---- Word lists of the singularizer (all sorted: bsearch) ---- */

/* Words ending in s that are not plurals (or whose singular would be wrong). */
static const char *const plural_invariant[] = {
    "achilles", "adams", "aesthetics", "alps", "andrews", "angeles", "arkansas", "athens",
    "atkins", "brussels", "burroughs", "canvas", "cervantes", "chaos", "charles", "christmas",
    "collins", "cosmos", "dawkins", "descartes", "dickens", "dumas", "edwards", "ethos",
    "euripides", "evans", "gymnastics", "hades", "hawkins", "hebrides", "hercules", "hermes",
    "higgins", "holmes", "hopkins", "hughes", "illinois", "james", "jenkins", "jones", "kansas",
    "kudos", "lens", "mars", "massachusetts", "matthews", "meyers", "moses", "myers", "naples",
    "netherlands", "news", "orleans", "pathos", "perkins", "pres", "reynolds", "rhodes",
    "richards", "roberts", "sanders", "saunders", "series", "simmons", "socrates", "sophocles",
    "sparks", "species", "stevens", "texas", "thanatos", "thomas", "wales", "watkins", "wilkins",
    "williams",
};

struct word_pair {
    const char *a, *b;
};

/* Whole words: plural -> singular. */
static const struct word_pair plural_irregular[] = {
    {"analyses", "analysis"}, {"calves", "calf"},         {"crises", "crisis"},
    {"diagnoses", "diagnosis"}, {"halves", "half"},       {"hypotheses", "hypothesis"},
    {"leaves", "leaf"},       {"lives", "life"},          {"neuroses", "neurosis"},
    {"oases", "oasis"},       {"psychoses", "psychosis"}, {"quizzes", "quiz"},
    {"synopses", "synopsis"}, {"theses", "thesis"},
};

/* Word endings: plural -> singular ("werewolves" -> "werewolf"). Not sorted: scanned. */
static const struct word_pair plural_suffix[] = {
    {"dwarves", "dwarf"}, {"elves", "elf"},     {"hooves", "hoof"},     {"knives", "knife"},
    {"loaves", "loaf"},   {"scarves", "scarf"}, {"thieves", "thief"},   {"wives", "wife"},
    {"wolves", "wolf"},
};

/* Singulars in "-ie" whose plural "-ies" must not become "-y". */
static const char *const ie_words[] = {
    "aussie", "auntie", "barbie", "birdie", "bookie", "boogie",   "brownie", "calorie", "collie",
    "cookie", "cutie",  "die",    "faerie", "foodie", "freebie",  "genie",   "goalie",  "groupie",
    "hippie", "hoodie", "hottie", "indie",  "junkie", "kiddie",   "lie",     "magpie",  "movie",
    "newbie", "pie",    "pixie",  "prairie", "quickie", "roadie", "rookie",  "selfie",  "smoothie",
    "sweetie", "techie", "tie",   "veggie", "yuppie", "zombie",
};

/* "-ics" words that are plurals (most "-ics" words are singular: physics). */
static const char *const ics_plurals[] = {
    "classics", "comics",  "critics",  "cynics",   "epics",    "fanatics",
    "heretics", "lyrics",  "mystics",  "relics",   "romantics", "sceptics",
    "skeptics", "topics",
};

/* "-as" words that are plurals (most "-as" words are not: christmas, atlas). */
static const char *const as_plurals[] = {
    "agendas",  "areas",    "arenas",  "ballerinas", "cameras", "cinemas", "cobras",
    "dilemmas", "divas",    "dramas",  "dystopias",  "eras",    "formulas", "geishas",
    "gorillas", "hyenas",   "ideas",   "koalas",     "llamas",  "mafias",  "mangas",
    "mantras",  "militias", "ninjas",  "novellas",   "operas",  "orcas",   "pandas",
    "personas", "quotas",   "sagas",   "stanzas",    "tundras", "umbrellas", "utopias",
    "vistas",   "zebras",
};

/* "-os" words that are plurals (most "-os" words are not: chaos, cosmos). */
static const char *const os_plurals[] = {
    "avocados", "burritos",  "casinos", "cellos",  "demos",  "dinos",    "duos",
    "egos",     "embryos",   "hippos",  "memos",   "patios", "photos",   "pianos",
    "portfolios", "radios",  "ratios",  "rhinos",  "rodeos", "scenarios", "stereos",
    "studios",  "tacos",     "tornados", "trios",  "videos", "volcanos",
};

/* "-oes" plurals that drop "es" (others drop "s": shoes, canoes). */
static const char *const oes_plurals[] = {
    "dominoes", "echoes",   "heroes",  "mangoes",  "mosquitoes", "potatoes",
    "superheroes", "tomatoes", "tornadoes", "torpedoes", "vetoes", "volcanoes",
};

/* "-uses" plurals of "-us" words (others drop "s": horses... houses, causes). */
static const char *const uses_plurals[] = {
    "apparatuses", "buses",    "cactuses", "campuses", "censuses", "choruses",
    "circuses",    "fetuses",  "geniuses", "octopuses", "platypuses", "sinuses",
    "statuses",    "syllabuses", "viruses", "walruses",
};

/* "-ches" singulars in "-che" besides the "-aches" rule. */
static const char *const che_plurals[] = {
    "avalanches", "cliches", "creches", "niches", "psyches", "quiches",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *const *list, size_t n, const char *w)
{
    return bsearch(&w, list, n, sizeof *list, cmp_str) != NULL;
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const struct word_pair *)a)->a, ((const struct word_pair *)b)->a);
}

static int ends_with(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Singular of the word w[0..n) written to out (cap >= n + 2); returns its
 * length. Only lower-case ASCII words of four letters or more change. */
static size_t singular(const char *w, size_t n, char *out)
{
    char word[BR_SUBJECT_MAX + 1];

    memcpy(out, w, n);
    out[n] = '\0';
    if (n < 4 || n > BR_SUBJECT_MAX || w[n - 1] != 's')
        return n;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n;
    memcpy(word, w, n);
    word[n] = '\0';

    if (in_list(plural_invariant, NELEM(plural_invariant), word))
        return n;
    struct word_pair key = {word, NULL};
    const struct word_pair *irr =
        bsearch(&key, plural_irregular, NELEM(plural_irregular), sizeof key, cmp_pair);
    if (irr) {
        strcpy(out, irr->b);
        return strlen(irr->b);
    }
    for (size_t i = 0; i < NELEM(plural_suffix); i++) {
        const struct word_pair *s = &plural_suffix[i];
        if (ends_with(word, n, s->a)) {
            size_t stem = n - strlen(s->a);
            strcpy(out + stem, s->b);
            return stem + strlen(s->b);
        }
    }
    if (ends_with(word, n, "ss") || ends_with(word, n, "us") || ends_with(word, n, "is"))
        return n;
    size_t len = n - 1; /* default: drop the "s" */
    if (ends_with(word, n, "ies")) {
        /* "mysteries" -> "mystery", but "movies" -> "movie" */
        out[n - 1] = '\0';
        if (!in_list(ie_words, NELEM(ie_words), out)) {
            out[n - 3] = 'y';
            len = n - 2;
        }
    } else if (ends_with(word, n, "sses") || ends_with(word, n, "shes") ||
               ends_with(word, n, "xes") || ends_with(word, n, "zzes")) {
        len = n - 2;
    } else if (ends_with(word, n, "ches")) {
        /* "witches" -> "witch"; "headaches" -> "headache" but "beaches" -> "beach" */
        int ache = ends_with(word, n, "aches") && (n == 5 || !is_vowel(word[n - 6]));
        if (!ache && !in_list(che_plurals, NELEM(che_plurals), word))
            len = n - 2;
    } else if (ends_with(word, n, "oes")) {
        if (in_list(oes_plurals, NELEM(oes_plurals), word))
            len = n - 2;
    } else if (ends_with(word, n, "uses")) {
        if (in_list(uses_plurals, NELEM(uses_plurals), word))
            len = n - 2;
    } else if (ends_with(word, n, "ics")) {
        if (!in_list(ics_plurals, NELEM(ics_plurals), word))
            return n;
    } else if (ends_with(word, n, "as")) {
        if (!in_list(as_plurals, NELEM(as_plurals), word))
            return n;
    } else if (ends_with(word, n, "os") && !ends_with(word, n, "oos")) {
        if (!in_list(os_plurals, NELEM(os_plurals), word))
            return n;
    }
    out[len] = '\0';
    return len;
}

/* ---- Cleaning ---- */

/* ASCII folding of U+00C0..U+00FF (NULL: not a letter, a separator). */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", /* C0 */
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "ss", /* D0 */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", /* E0 */
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "y", /* F0 */
};

/* Length of the UTF-8 sequence at s[0..n) and its code point, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t k;
    uint32_t c;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        k = 2, c = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        k = 3, c = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        k = 4, c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    /* overlongs, surrogates, beyond U+10FFFF */
    if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return k;
}

/* Non-ASCII code points kept as letters: Latin Extended, Greek, Cyrillic, ...
 * Latin-1 symbols, general punctuation, arrows, math, dingbats, CJK
 * punctuation and everything beyond the BMP (emoji) separate words. */
static int cp_is_letter(uint32_t c)
{
    if (c < 0x100)
        return 0; /* ASCII and Latin-1 are handled by the caller */
    if (c >= 0x2000 && c <= 0x2BFF)
        return 0;
    if ((c >= 0x3000 && c <= 0x303F) || (c >= 0xFE10 && c <= 0xFE6F) ||
        (c >= 0xFF00 && c <= 0xFF0F) || c >= 0xFFF0)
        return 0;
    return c < 0x10000;
}

struct cleaner {
    char *out;
    size_t n, cap;
    int space;    /* a separator is pending */
    int overflow; /* out was too small */
};

static void put(struct cleaner *c, const char *s, size_t k)
{
    if (c->space && c->n > 0) {
        if (c->n + 1 > c->cap) {
            c->overflow = 1;
            return;
        }
        c->out[c->n++] = ' ';
    }
    c->space = 0;
    if (c->n + k > c->cap) {
        c->overflow = 1;
        return;
    }
    memcpy(c->out + c->n, s, k);
    c->n += k;
}

/* Cleans raw into out (words separated by one space, no NUL); returns the
 * length, or SIZE_MAX when it does not fit in cap. */
static size_t clean(const char *raw, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)raw;
    struct cleaner c = {out, 0, cap, 0, 0};
    int depth = 0; /* inside parentheses or brackets */

    for (size_t i = 0; i < len && !c.overflow;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, len - i, &cp);
        if (k == 0) { /* invalid byte: a separator */
            c.space = 1;
            i++;
            continue;
        }
        i += k;
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0; /* fullwidth ASCII */
        if (cp == '(' || cp == '[') {
            depth++;
            c.space = 1;
        } else if (cp == ')' || cp == ']') {
            depth -= depth > 0;
            c.space = 1;
        } else if (depth > 0) {
            continue;
        } else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            char ch = (char)cp;
            put(&c, &ch, 1);
        } else if (cp >= 'A' && cp <= 'Z') {
            char ch = (char)(cp - 'A' + 'a');
            put(&c, &ch, 1);
        } else if (cp == '\'' || cp == '`' || cp == 0x2019 || cp == 0x2018 || cp == 0xB4 ||
                   cp == 0xAD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 ||
                   cp == 0xFEFF) {
            continue; /* apostrophes and invisible marks join: "children's" -> "childrens" */
        } else if (cp == '&') {
            c.space = 1;
            put(&c, "and", 3);
            c.space = 1;
        } else if (cp >= 0xC0 && cp <= 0xFF && latin1_fold[cp - 0xC0]) {
            const char *f = latin1_fold[cp - 0xC0];
            put(&c, f, strlen(f));
        } else if (cp_is_letter(cp)) {
            put(&c, raw + i - k, k);
        } else {
            c.space = 1;
        }
    }
    return c.overflow ? SIZE_MAX : c.n;
}

/* Glues a lone "s" (possessive) or a lone "t" after "...n" (negation) to the
 * previous word unless that word is an initial: "children s" -> "childrens",
 * "didn t" -> "didnt", but "c s lewis" stays. In place; returns the length. */
static size_t glue(char *s, size_t n)
{
    size_t w = 0, prev_len = 0; /* w <= i always, so writing behind i is safe */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        size_t k = j - i;
        if (w > 0 && k == 1 && prev_len >= 2 &&
            (s[i] == 's' || (s[i] == 't' && s[w - 1] == 'n'))) {
            s[w++] = s[i];
            prev_len++;
        } else {
            if (w > 0)
                s[w++] = ' ';
            memmove(s + w, s + i, k);
            w += k;
            prev_len = k;
        }
        i = j + 1;
    }
    return w;
}

static int is_ordinal_suffix(const char *s, size_t n)
{
    return (n == 1 && s[0] == 's') ||
           (n == 2 && (!memcmp(s, "st", 2) || !memcmp(s, "nd", 2) || !memcmp(s, "rd", 2) ||
                       !memcmp(s, "th", 2)));
}

/* Drops a leading "the" (and "a", "an" before a word of two letters or more,
 * so "a a milne" stays): "the classics" -> "classics". In place. */
static size_t drop_article(char *s, size_t n)
{
    size_t k = 0;
    if (n > 4 && !memcmp(s, "the ", 4))
        k = 4;
    else if (n > 3 && !memcmp(s, "an ", 3))
        k = 3;
    else if (n > 2 && !memcmp(s, "a ", 2))
        k = 2;
    if (k == 0 || (k < 4 && (n - k < 2 || s[k + 1] == ' ')))
        return n;
    memmove(s, s + k, n - k + 1);
    return n - k;
}

/* Classifies a cleaned string by its letters and digits. A decade or an
 * ordinal ("1960s", "20th") counts as a word, not as digits. */
static br_subject_reason letter_check(const char *s, size_t n)
{
    size_t letters = 0, digits = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, lead = i, l = 0, d = 0;
        while (j < n && s[j] != ' ')
            j++;
        while (lead < j && s[lead] >= '0' && s[lead] <= '9')
            lead++;
        for (size_t x = i; x < j; x++) {
            unsigned char ch = (unsigned char)s[x];
            if (ch >= '0' && ch <= '9')
                d++;
            else if ((ch >= 'a' && ch <= 'z') || ch >= 0xC0) /* a UTF-8 lead byte: one letter */
                l++;
        }
        if (lead > i && lead - i == d && is_ordinal_suffix(s + lead, j - lead))
            l += d, d = 0;
        letters += l, digits += d;
        i = j + 1;
    }
    if (letters == 0)
        return digits ? BR_SUBJECT_NUMERIC : BR_SUBJECT_EMPTY;
    if (letters < 2 || letters < digits)
        return BR_SUBJECT_NON_LETTER;
    return BR_SUBJECT_OK;
}

/* ---- Merge table and shelf patterns ---- */

static int cmp_merge(const void *a, const void *b)
{
    return strcmp(((const br_subject_merge *)a)->from, ((const br_subject_merge *)b)->from);
}

static const char *merge_lookup(const char *s)
{
    size_t n;
    const br_subject_merge *t = br_subject_merge_table(&n), key = {s, NULL};
    const br_subject_merge *m = bsearch(&key, t, n, sizeof key, cmp_merge);
    return m ? m->to : NULL;
}

/* Glob over a canonical form: '*' any run (also empty), '#' one ASCII digit. */
static int glob(const char *p, const char *s)
{
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p && (*p == *s || (*p == '#' && *s >= '0' && *s <= '9'))) {
            p++, s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

const char *br_subject_shelf_pattern(const char *canon)
{
    size_t n;
    const char *const *pat = br_subject_shelf_patterns(&n);
    for (size_t i = 0; i < n; i++)
        if (glob(pat[i], canon))
            return pat[i];
    return NULL;
}

int br_subject_is_generic(const char *canon)
{
    size_t n;
    const char *const *g = br_subject_generic_list(&n);
    return canon && in_list(g, n, canon);
}

/* ---- Canonical form ---- */

br_subject_reason br_subject_canon(const char *raw, size_t len, char *out, size_t cap)
{
    char buf[4 * BR_SUBJECT_MAX], sing[BR_SUBJECT_MAX + 2];

    if (!out || cap == 0)
        return BR_SUBJECT_TOO_LONG;
    out[0] = '\0';
    if (!raw || len == 0)
        return BR_SUBJECT_EMPTY;
    if (len > BR_SUBJECT_RAW_MAX)
        return BR_SUBJECT_TOO_LONG;
    size_t n = clean(raw, len, buf, sizeof buf - 1);
    if (n == SIZE_MAX)
        return BR_SUBJECT_TOO_LONG;
    n = glue(buf, n);
    buf[n] = '\0';
    n = drop_article(buf, n);
    br_subject_reason r = letter_check(buf, n);
    if (r != BR_SUBJECT_OK)
        return r;
    if (n > BR_SUBJECT_MAX)
        return BR_SUBJECT_TOO_LONG;

    const char *canon = merge_lookup(buf);
    if (!canon && strstr(buf, " and ")) {
        canon = buf; /* "brothers and sisters": both plural or neither, so leave it */
    } else if (!canon) {
        size_t last = n;
        while (last > 0 && buf[last - 1] != ' ')
            last--;
        memcpy(sing, buf, last);
        singular(buf + last, n - last, sing + last);
        canon = merge_lookup(sing);
        if (!canon)
            canon = sing;
    }
    size_t k = strlen(canon);
    if (k >= cap)
        return BR_SUBJECT_TOO_LONG;
    memcpy(out, canon, k + 1);
    return br_subject_shelf_pattern(out) ? BR_SUBJECT_SHELF_TAG : BR_SUBJECT_OK;
}

int br_subject_tables_check(void)
{
    return 0;
}
