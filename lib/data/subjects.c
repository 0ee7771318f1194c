/* Subjects: canonical forms, shelf tags and the vocabulary (see subjects.h and
 * docs/subjects.md; the merge table, generic list and shelf patterns live in
 * subject_merge.c).
 *
 * Design decisions:
 * 1. Canonicalization is a pure function of one string, so every source (Goodreads tags,
 *    Open Library subjects, Google Books categories) and every later lookup agree on it:
 *    lower case; Latin-1 accents and fullwidth forms folded to ASCII; "&" -> "and"; text in
 *    parentheses dropped (Open Library's "(Fictitious character)"); apostrophes,
 *    zero-width marks and combining accents joined ("children's" -> "childrens"); every other
 * punctuation, symbol or invalid byte a space; a lone "s" or "t" glued back ("children-s" ->
 * "childrens", "didn-t" -> "didnt"); leading articles dropped; then the plural, then the merge
 * table.
 * 2. The singularizer touches only the last word (the head of an English compound: "graphic
 *    novels", not "books i own"; nothing in "x and y" phrases such as "manners and
 *    customs"), only ASCII words of four letters or more, and only through safe rules:
 *    "-ies" -> "-y" unless the singular is a listed "-ie" word, "-ches/-shes/-xes/-sses"
 *    drop "es", otherwise "-s" is dropped. Words in "-ss", "-us", "-is" are left alone, and
 *    so are "-ics", "-as" and "-os" unless listed as plurals ("classics", "dramas",
 *    "photos"), because most of those are singular ("physics", "christmas", "chaos").
 *    Names that look plural are protected by a word list ("james", "dickens") or by an
 *    identity entry in the merge table ("nicholas sparks").
 * 3. The merge table is looked up on the cleaned form before the plural, then on the
 *    singular, so a key can be written either way. The letter checks run on the final
 *    form, so a canonical form is always its own canonical form (tested on every real tag).
 * 4. Shelf tags are caught twice: a short pattern list for the obvious temporal, ownership,
 *    format and rating forms (applied in br_subject_canon), and a rule measured on the
 *    catalog (br_subject_vocab_build): a tag whose readers' content profile matches that of
 *    everybody else says nothing about the book. Generic subjects are exempt from the data
 *    rule: "fiction" is nearly as uninformative as a shelf, but it is content.
 * 5. The data rule weights each item by its share of the tag, count(b,t) / total(b), so a
 *    tag used by a constant share of every book's readers (to-read, owned) has exactly the
 *    catalog's reader-weighted profile whatever the books' popularity; the comparison is
 *    Jensen-Shannon (bounded, symmetric) against the complement, over the most frequent
 *    subjects that are not shelf tags and not on most items.
 * 6. Raw strings are canonicalized once per vocabulary (a cache keyed by the raw bytes), so
 *    200k Goodreads triples cost about 6k canonicalizations.
 * 7. Build sorts the triples by (item, subject, weight) before summing: the output does not
 *    depend on the order of the adds, not even in the last bit of a float.
 * 8. Limits: raw strings of BR_SUBJECT_RAW_MAX bytes, BR_SUBJECT_MAX_PAIRS triples,
 *    BR_SUBJECT_MAX_DISTINCT distinct raw strings, weights up to BR_SUBJECT_MAX_WEIGHT;
 *    beyond them add returns BR_ELIMIT (BR_EINVAL for a weight). */
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
    "achilles", "adams",       "aesthetics",    "alps",      "andrews", "angeles",    "arkansas",
    "athens",   "atkins",      "brussels",      "burroughs", "canvas",  "cervantes",  "chaos",
    "charles",  "christmas",   "collins",       "cosmos",    "dawkins", "descartes",  "dickens",
    "dumas",    "edwards",     "ethos",         "euripides", "evans",   "gymnastics", "hades",
    "hawkins",  "hebrides",    "hercules",      "hermes",    "higgins", "holmes",     "hopkins",
    "hughes",   "illinois",    "james",         "jenkins",   "jones",   "kansas",     "kudos",
    "lens",     "mars",        "massachusetts", "matthews",  "meyers",  "moses",      "myers",
    "naples",   "netherlands", "news",          "orleans",   "pathos",  "perkins",    "pres",
    "reynolds", "rhodes",      "richards",      "roberts",   "sanders", "saunders",   "series",
    "simmons",  "socrates",    "sophocles",     "sparks",    "species", "stevens",    "texas",
    "thanatos", "thomas",      "wales",         "watkins",   "wilkins", "williams",
};

struct word_pair {
    const char *a, *b;
};

/* Whole words: plural -> singular. */
static const struct word_pair plural_irregular[] = {
    {"analyses", "analysis"},   {"calves", "calf"},         {"crises", "crisis"},
    {"diagnoses", "diagnosis"}, {"halves", "half"},         {"hypotheses", "hypothesis"},
    {"leaves", "leaf"},         {"lives", "life"},          {"neuroses", "neurosis"},
    {"oases", "oasis"},         {"psychoses", "psychosis"}, {"quizzes", "quiz"},
    {"synopses", "synopsis"},   {"theses", "thesis"},
};

/* Word endings: plural -> singular ("werewolves" -> "werewolf"). Not sorted: scanned. */
static const struct word_pair plural_suffix[] = {
    {"dwarves", "dwarf"}, {"elves", "elf"},   {"hooves", "hoof"},
    {"knives", "knife"},  {"loaves", "loaf"}, {"scarves", "scarf"},
    {"thieves", "thief"}, {"wives", "wife"},  {"wolves", "wolf"},
};

/* Singulars in "-ie" whose plural "-ies" must not become "-y". */
static const char *const ie_words[] = {
    "auntie",   "aussie",  "barbie",  "birdie",  "boogie", "bookie", "brownie",
    "calorie",  "collie",  "cookie",  "cutie",   "die",    "faerie", "foodie",
    "freebie",  "genie",   "goalie",  "groupie", "hippie", "hoodie", "hottie",
    "indie",    "junkie",  "kiddie",  "lie",     "magpie", "movie",  "newbie",
    "pie",      "pixie",   "prairie", "quickie", "roadie", "rookie", "selfie",
    "smoothie", "sweetie", "techie",  "tie",     "veggie", "yuppie", "zombie",
};

/* "-ics" words that are plurals (most "-ics" words are singular: physics). */
static const char *const ics_plurals[] = {
    "classics", "comics",  "critics", "cynics",    "epics",    "fanatics", "heretics",
    "lyrics",   "mystics", "relics",  "romantics", "sceptics", "skeptics", "topics",
};

/* "-as" words that are plurals (most "-as" words are not: christmas, atlas). */
static const char *const as_plurals[] = {
    "agendas",  "areas",    "arenas", "ballerinas", "cameras", "cinemas",   "cobras",
    "dilemmas", "divas",    "dramas", "dystopias",  "eras",    "formulas",  "geishas",
    "gorillas", "hyenas",   "ideas",  "koalas",     "llamas",  "mafias",    "mangas",
    "mantras",  "militias", "ninjas", "novellas",   "operas",  "orcas",     "pandas",
    "personas", "quotas",   "sagas",  "stanzas",    "tundras", "umbrellas", "utopias",
    "vistas",   "zebras",
};

/* "-os" words that are plurals (most "-os" words are not: chaos, cosmos). */
static const char *const os_plurals[] = {
    "avocados",   "burritos", "casinos",  "cellos", "demos",  "dinos",     "duos",
    "egos",       "embryos",  "hippos",   "memos",  "patios", "photos",    "pianos",
    "portfolios", "radios",   "ratios",   "rhinos", "rodeos", "scenarios", "stereos",
    "studios",    "tacos",    "tornados", "trios",  "videos", "volcanos",
};

/* "-oes" plurals that drop "es" (others drop "s": shoes, canoes). */
static const char *const oes_plurals[] = {
    "dominoes",    "echoes",   "heroes",    "mangoes",   "mosquitoes", "potatoes",
    "superheroes", "tomatoes", "tornadoes", "torpedoes", "vetoes",     "volcanoes",
};

/* "-uses" plurals of "-us" words (others drop "s": horses... houses, causes). */
static const char *const uses_plurals[] = {
    "apparatuses", "buses",      "cactuses", "campuses",  "censuses",   "choruses",
    "circuses",    "fetuses",    "geniuses", "octopuses", "platypuses", "sinuses",
    "statuses",    "syllabuses", "viruses",  "walruses",
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

/* Singular of the word w[0..n) written to out (cap >= n + 1); returns its
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
    "a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",  /* C0 */
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "ss", /* D0 */
    "a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",  /* E0 */
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "y",  /* F0 */
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
                   cp == 0xAD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF ||
                   (cp >= 0x300 && cp <= 0x36F)) {
            /* apostrophes, invisible marks and combining accents (a decomposed "e" + U+0301)
             * join: "children's" -> "childrens" */
            continue;
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
        if (w > 0 && k == 1 && prev_len >= 2 && (s[i] == 's' || (s[i] == 't' && s[w - 1] == 'n'))) {
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
    return (n == 1 && s[0] == 's') || (n == 2 && (!memcmp(s, "st", 2) || !memcmp(s, "nd", 2) ||
                                                  !memcmp(s, "rd", 2) || !memcmp(s, "th", 2)));
}

/* Drops leading articles: "the" always, "a" and "an" before a word of two
 * letters or more (so "a a milne" stays): "the classics" -> "classics". In
 * place; repeated, so that the result has none left (idempotence). */
static size_t drop_article(char *s, size_t n)
{
    for (;;) {
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
        n -= k;
    }
}

/* 1 when every word is a function word ("and", "of the"): nothing is left. */
static int only_stopwords(const char *s, size_t n)
{
    static const char *const stop[] = {"a",  "an", "and", "at", "by", "for", "from", "in",
                                       "is", "it", "of",  "on", "or", "the", "to",   "with"};
    for (size_t i = 0; i < n;) {
        size_t j = i, hit = 0;
        while (j < n && s[j] != ' ')
            j++;
        for (size_t k = 0; k < NELEM(stop) && !hit; k++)
            hit = strlen(stop[k]) == j - i && memcmp(stop[k], s + i, j - i) == 0;
        if (!hit)
            return 0;
        i = j + 1;
    }
    return 1;
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
    if (only_stopwords(s, n))
        return BR_SUBJECT_EMPTY;
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
    if (n > BR_SUBJECT_MAX)
        return letter_check(buf, n) == BR_SUBJECT_OK ? BR_SUBJECT_TOO_LONG : letter_check(buf, n);

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
    /* checked on the final form, so that a canonical form is its own canonical form */
    size_t k = strlen(canon);
    br_subject_reason r = letter_check(canon, k);
    if (r != BR_SUBJECT_OK)
        return r;
    if (k >= cap)
        return BR_SUBJECT_TOO_LONG;
    memcpy(out, canon, k + 1);
    return br_subject_shelf_pattern(out) ? BR_SUBJECT_SHELF_TAG : BR_SUBJECT_OK;
}

/* ---- Self-check of the committed tables ---- */

static int sorted_unique(const char *const *list, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(list[i - 1], list[i]) >= 0)
            return 0;
    return 1;
}

static int pairs_sorted(const struct word_pair *t, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(t[i - 1].a, t[i].a) >= 0)
            return 0;
    return 1;
}

int br_subject_tables_check(void)
{
    static const struct {
        const char *const *list;
        size_t n;
    } lists[] = {
        {plural_invariant, NELEM(plural_invariant)},
        {ie_words, NELEM(ie_words)},
        {ics_plurals, NELEM(ics_plurals)},
        {as_plurals, NELEM(as_plurals)},
        {os_plurals, NELEM(os_plurals)},
        {oes_plurals, NELEM(oes_plurals)},
        {uses_plurals, NELEM(uses_plurals)},
        {che_plurals, NELEM(che_plurals)},
    };
    char out[BR_SUBJECT_MAX + 1];
    size_t n;

    for (size_t i = 0; i < NELEM(lists); i++)
        if (!sorted_unique(lists[i].list, lists[i].n))
            return BR_ECORRUPT;
    if (!pairs_sorted(plural_irregular, NELEM(plural_irregular)))
        return BR_ECORRUPT;
    const char *const *g = br_subject_generic_list(&n);
    if (!sorted_unique(g, n))
        return BR_ECORRUPT;
    for (size_t i = 0; i < n; i++) {
        br_subject_reason r = br_subject_canon(g[i], strlen(g[i]), out, sizeof out);
        if (r != BR_SUBJECT_OK || strcmp(out, g[i]) != 0)
            return BR_ECORRUPT;
    }
    const br_subject_merge *m = br_subject_merge_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(m[i - 1].from, m[i].from) >= 0)
            return BR_ECORRUPT;
        /* the key and its target both resolve to the target */
        for (int k = 0; k < 2; k++) {
            const char *s = k ? m[i].to : m[i].from;
            br_subject_reason r = br_subject_canon(s, strlen(s), out, sizeof out);
            if ((r != BR_SUBJECT_OK && r != BR_SUBJECT_SHELF_TAG) || strcmp(out, m[i].to) != 0)
                return BR_ECORRUPT;
        }
    }
    return 0;
}

/* ---- Vocabulary ---- */

struct canon_rec {
    const char *name;    /* in v->arena */
    const char *pattern; /* shelf pattern, or NULL */
    uint64_t pairs;      /* raw triples */
    size_t raw_forms;
    int generic;
    /* set by build */
    size_t books;
    double weight, js;
    int64_t id;
    br_subject_reason status;
};

struct pair {
    int64_t item;
    double weight;
    int32_t canon;
};

struct br_subject_vocab {
    br_arena *arena;
    br_strmap *raw;   /* raw bytes -> canon index, or -1 - reason */
    br_strmap *names; /* canonical form -> canon index */
    br_vec canons;    /* struct canon_rec */
    br_vec pairs;     /* struct pair, as added */
    uint64_t rejected_add[BR_SUBJECT_REASON_COUNT];

    /* Build results; built is 0 until build succeeds and after any add. */
    int built;
    uint64_t rejected[BR_SUBJECT_REASON_COUNT];
    size_t n_items;
    int64_t *items;   /* sorted distinct items */
    size_t *item_off; /* n_items + 1 offsets into sub_ids / sub_w */
    int32_t *sub_ids;
    float *sub_w;
    int64_t *item_main;
    int32_t *vocab; /* id -> canon index */
    size_t vocab_n;
    int32_t *shelf; /* canon indices of shelf tags, by frequency */
    size_t shelf_n;
};

#define CANON(v, i) (&br_vec_at(&(v)->canons, struct canon_rec, (i)))

void br_subject_params_default(br_subject_params *p)
{
    *p = (br_subject_params){
        .vocab_size = 1000,
        .min_books = 5,
        .shelf_patterns = 1,
        .shelf_rounds = 2,
        .shelf_ref_size = 300,
        .shelf_ref_max_cover = 0.5,
        .shelf_min_cover = 0.02,
        .shelf_max_js = 0.06,
        .shelf_min_weight = 2,
    };
}

static void *xcalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return calloc(n ? n : 1, size);
}

static void free_build(br_subject_vocab *v)
{
    free(v->items);
    free(v->item_off);
    free(v->sub_ids);
    free(v->sub_w);
    free(v->item_main);
    free(v->vocab);
    free(v->shelf);
    v->items = NULL, v->item_off = NULL, v->sub_ids = NULL, v->sub_w = NULL;
    v->item_main = NULL, v->vocab = NULL, v->shelf = NULL;
    v->n_items = v->vocab_n = v->shelf_n = 0;
    v->built = 0;
}

int br_subject_vocab_new(br_subject_vocab **out)
{
    int rc = BR_ENOMEM;
    br_subject_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return BR_ENOMEM;
    br_vec_init(&v->canons, sizeof(struct canon_rec), BR_SUBJECT_MAX_DISTINCT);
    br_vec_init(&v->pairs, sizeof(struct pair), BR_SUBJECT_MAX_PAIRS);
    if ((rc = br_arena_new(0, &v->arena)) != 0 || (rc = br_strmap_new(&v->raw)) != 0 ||
        (rc = br_strmap_new(&v->names)) != 0)
        goto fail;
    *out = v;
    return 0;
fail:
    br_subject_vocab_free(v);
    return rc;
}

void br_subject_vocab_free(br_subject_vocab *v)
{
    if (!v)
        return;
    free_build(v);
    br_vec_free(&v->canons);
    br_vec_free(&v->pairs);
    br_strmap_free(v->raw);
    br_strmap_free(v->names);
    br_arena_free(v->arena);
    free(v);
}

/* Canon index of raw (canonicalized once, then cached), or -1 - reason. */
static int resolve(br_subject_vocab *v, const char *raw, size_t len, int64_t *code)
{
    char buf[BR_SUBJECT_MAX + 1];
    int rc;

    if (br_strmap_getn(v->raw, raw, len, code))
        return 0;
    if (br_strmap_size(v->raw) >= BR_SUBJECT_MAX_DISTINCT)
        return BR_ELIMIT;
    br_subject_reason r = br_subject_canon(raw, len, buf, sizeof buf);
    if (r != BR_SUBJECT_OK && r != BR_SUBJECT_SHELF_TAG) {
        *code = -1 - (int64_t)r;
    } else if (!br_strmap_get(v->names, buf, code)) {
        struct canon_rec rec = {0};
        if (v->canons.n >= v->canons.limit)
            return BR_ELIMIT;
        if (!(rec.name = br_arena_strdup(v->arena, buf)))
            return BR_ENOMEM;
        rec.pattern = r == BR_SUBJECT_SHELF_TAG ? br_subject_shelf_pattern(buf) : NULL;
        rec.generic = br_subject_is_generic(buf);
        *code = (int64_t)v->canons.n;
        if (!br_vec_push(&v->canons, &rec))
            return BR_ENOMEM;
        if ((rc = br_strmap_put(v->names, buf, *code)) != 0) {
            v->canons.n--; /* unwind: the name is not reachable */
            return rc;
        }
    }
    if ((rc = br_strmap_putn(v->raw, raw, len, *code)) != 0)
        return rc;
    if (*code >= 0)
        CANON(v, *code)->raw_forms++;
    return 0;
}

int br_subject_vocab_add(br_subject_vocab *v, int64_t item, const char *raw, size_t len,
                         double weight)
{
    int64_t code;
    int rc;

    if (!v || (!raw && len > 0) || !(weight > 0) || !(weight <= BR_SUBJECT_MAX_WEIGHT))
        return BR_EINVAL;
    v->built = 0;
    if (len > BR_SUBJECT_RAW_MAX) { /* not cached: the cache would hold the long key */
        v->rejected_add[BR_SUBJECT_TOO_LONG]++;
        return 0;
    }
    if ((rc = resolve(v, raw ? raw : "", len, &code)) != 0)
        return rc;
    if (code < 0) {
        v->rejected_add[-1 - code]++;
        return 0;
    }
    if (v->pairs.n >= v->pairs.limit)
        return BR_ELIMIT;
    struct pair p = {item, weight, (int32_t)code};
    if (!br_vec_push(&v->pairs, &p))
        return BR_ENOMEM;
    CANON(v, code)->pairs++;
    return 0;
}

static int cmp_pair_sort(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    if (x->canon != y->canon)
        return x->canon < y->canon ? -1 : 1;
    return (x->weight > y->weight) - (x->weight < y->weight);
}

/* Frequency order: items desc, weight desc, name asc. */
struct freq {
    size_t books;
    double weight;
    const char *name;
    int32_t canon;
};

static int cmp_freq(const void *a, const void *b)
{
    const struct freq *x = a, *y = b;
    if (x->books != y->books)
        return x->books > y->books ? -1 : 1;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

struct sub {
    int32_t id;
    double w;
};

static int cmp_sub(const void *a, const void *b)
{
    const struct sub *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The merged catalog: items in order, each with its (canon, weight) list. */
struct catalog {
    size_t ni, nm;
    size_t *off;    /* ni + 1 */
    int32_t *canon; /* nm */
    double *w;      /* nm */
    double *total;  /* ni: an item's total weight, shelf tags included */
};

/* Jensen-Shannon divergence (nats) of p and r over k slots, skipping slot
 * skip; both are normalized here, r clamped at 0 (it is a difference). NAN
 * when either is empty. */
static double js_divergence(const double *p, const double *q, size_t k, size_t skip)
{
    double sp = 0, sr = 0, js = 0;
    for (size_t s = 0; s < k; s++) {
        if (s == skip)
            continue;
        double r = q[s] - p[s];
        sp += p[s];
        sr += r > 0 ? r : 0;
    }
    if (!(sp > 0) || !(sr > 0))
        return NAN;
    for (size_t s = 0; s < k; s++) {
        if (s == skip)
            continue;
        double a = p[s] / sp, r = q[s] - p[s], b = (r > 0 ? r : 0) / sr, m = (a + b) / 2;
        if (a > 0)
            js += 0.5 * a * log(a / m);
        if (b > 0)
            js += 0.5 * b * log(b / m);
    }
    return js;
}

/* The shelf data rule (docs/subjects.md). For a candidate t, P is the
 * reference-subject profile of t's readers: every item b contributes its
 * reference weights scaled by t's share count(b,t) / total(b); Q is the same
 * over all items with share 1, so Q - P is everybody else. A tag used by a
 * constant share of each book's readers gives P proportional to Q - P, and a
 * divergence of 0. Sets rec->js for candidates and excl[c] for shelf tags. */
static int shelf_rule(br_subject_vocab *v, const br_subject_params *p, const struct catalog *cat,
                      const struct freq *order, size_t no, uint8_t *excl)
{
    size_t nc = v->canons.n, ncand = 0, k = 0;
    int32_t *slot = NULL, *cand = NULL;
    size_t *coff = NULL, *citem = NULL;
    double *cw = NULL, *q = NULL, *pr = NULL;
    int rc = BR_ENOMEM;

    double min_items = p->shelf_min_cover * (double)cat->ni;
    if (!(slot = xcalloc(nc, sizeof *slot)) || !(cand = xcalloc(nc, sizeof *cand)))
        goto fail;
    for (size_t c = 0; c < nc; c++) {
        struct canon_rec *r = CANON(v, c);
        /* weights must be counts of readers: a presence flag (weight 1) has no share */
        int counted = r->books > 0 && r->weight >= p->shelf_min_weight * (double)r->books;
        cand[c] = counted && (double)r->books >= min_items ? (int32_t)ncand++ : -1;
    }
    /* inverted lists of the candidates: (item, weight) */
    if (!(coff = xcalloc(ncand + 1, sizeof *coff)))
        goto fail;
    for (size_t c = 0; c < nc; c++)
        if (cand[c] >= 0)
            coff[cand[c] + 1] = CANON(v, c)->books;
    for (size_t i = 0; i < ncand; i++)
        coff[i + 1] += coff[i];
    if (!(citem = xcalloc(coff[ncand], sizeof *citem)) || !(cw = xcalloc(coff[ncand], sizeof *cw)))
        goto fail;
    {
        size_t *fill = xcalloc(ncand + 1, sizeof *fill);
        if (!fill)
            goto fail;
        memcpy(fill, coff, (ncand + 1) * sizeof *fill);
        for (size_t b = 0; b < cat->ni; b++)
            for (size_t m = cat->off[b]; m < cat->off[b + 1]; m++) {
                int32_t t = cand[cat->canon[m]];
                if (t >= 0) {
                    citem[fill[t]] = b;
                    cw[fill[t]++] = cat->w[m];
                }
            }
        free(fill);
    }
    size_t kmax = p->shelf_ref_size < no ? p->shelf_ref_size : no;
    if (!(q = xcalloc(kmax + 1, sizeof *q)) || !(pr = xcalloc(kmax + 1, sizeof *pr)))
        goto fail;

    for (int round = 0; round < p->shelf_rounds; round++) {
        /* reference: the most frequent subjects not yet known as shelf tags,
         * leaving out those on most items (they cannot tell contents apart) */
        for (size_t c = 0; c < nc; c++)
            slot[c] = -1;
        k = 0;
        for (size_t i = 0; i < no && k < kmax; i++) {
            int32_t c = order[i].canon;
            if (!excl[c] && (double)order[i].books <= p->shelf_ref_max_cover * (double)cat->ni)
                slot[c] = (int32_t)k++;
        }
        memset(q, 0, (kmax + 1) * sizeof *q);
        for (size_t m = 0; m < cat->nm; m++)
            if (slot[cat->canon[m]] >= 0)
                q[slot[cat->canon[m]]] += cat->w[m];
        for (size_t c = 0; c < nc; c++) {
            int32_t t = cand[c];
            if (t < 0)
                continue;
            memset(pr, 0, (kmax + 1) * sizeof *pr);
            for (size_t x = coff[t]; x < coff[t + 1]; x++) {
                size_t b = citem[x];
                double share = cw[x] / cat->total[b];
                for (size_t m = cat->off[b]; m < cat->off[b + 1]; m++)
                    if (slot[cat->canon[m]] >= 0)
                        pr[slot[cat->canon[m]]] += share * cat->w[m];
            }
            CANON(v, c)->js = js_divergence(pr, q, k, slot[c] >= 0 ? (size_t)slot[c] : SIZE_MAX);
        }
        for (size_t c = 0; c < nc; c++) {
            struct canon_rec *r = CANON(v, c);
            excl[c] = (p->shelf_patterns && r->pattern != NULL) ||
                      (cand[c] >= 0 && !r->generic && r->js < p->shelf_max_js); /* NAN: no */
        }
    }
    rc = 0;
fail:
    free(slot);
    free(cand);
    free(coff);
    free(citem);
    free(cw);
    free(q);
    free(pr);
    return rc;
}

static int params_valid(const br_subject_params *p)
{
    return p->vocab_size > 0 && p->shelf_rounds >= 0 && p->shelf_rounds <= 16 &&
           (p->shelf_rounds == 0 || p->shelf_ref_size > 0) && p->shelf_ref_max_cover > 0 &&
           p->shelf_ref_max_cover <= 1 && p->shelf_min_cover >= 0 && p->shelf_min_cover <= 1 &&
           p->shelf_max_js >= 0 && p->shelf_min_weight >= 0;
}

int br_subject_vocab_build(br_subject_vocab *v, const br_subject_params *pin)
{
    br_subject_params p;
    struct catalog cat = {0};
    struct freq *order = NULL;
    uint8_t *excl = NULL;
    struct sub *tmp = NULL;
    int rc = BR_ENOMEM;

    if (!v)
        return BR_EINVAL;
    if (pin)
        p = *pin;
    else
        br_subject_params_default(&p);
    if (!params_valid(&p))
        return BR_EINVAL;
    free_build(v);

    /* 1. merge the triples of one (item, subject); sorted first, so the sums
     * do not depend on the order of the adds */
    size_t np = v->pairs.n, nc = v->canons.n;
    struct pair *pr = v->pairs.data;
    if (np > 0)
        qsort(pr, np, sizeof *pr, cmp_pair_sort);
    for (size_t i = 0; i < np; i++) {
        int new_item = i == 0 || pr[i].item != pr[i - 1].item;
        cat.ni += new_item;
        cat.nm += new_item || pr[i].canon != pr[i - 1].canon;
    }
    if (!(v->items = xcalloc(cat.ni, sizeof *v->items)) ||
        !(cat.off = xcalloc(cat.ni + 1, sizeof *cat.off)) ||
        !(cat.canon = xcalloc(cat.nm, sizeof *cat.canon)) ||
        !(cat.w = xcalloc(cat.nm, sizeof *cat.w)) ||
        !(cat.total = xcalloc(cat.ni, sizeof *cat.total)))
        goto fail;
    for (size_t i = 0, b = 0, m = 0; i < np; i++) {
        if (i == 0 || pr[i].item != pr[i - 1].item) {
            v->items[b] = pr[i].item;
            cat.off[b++] = m;
        }
        if (i == 0 || pr[i].item != pr[i - 1].item || pr[i].canon != pr[i - 1].canon) {
            cat.canon[m] = pr[i].canon;
            cat.w[m++] = 0;
        }
        cat.w[m - 1] += pr[i].weight;
        cat.total[b - 1] += pr[i].weight;
    }
    cat.off[cat.ni] = cat.nm;
    v->n_items = cat.ni;

    /* 2. items and weight of every subject, and the frequency order */
    for (size_t c = 0; c < nc; c++) {
        struct canon_rec *r = CANON(v, c);
        r->books = 0, r->weight = 0, r->js = NAN, r->id = -1, r->status = BR_SUBJECT_RARE;
    }
    for (size_t m = 0; m < cat.nm; m++) {
        struct canon_rec *r = CANON(v, cat.canon[m]);
        r->books++;
        r->weight += cat.w[m];
    }
    size_t no = 0;
    if (!(order = xcalloc(nc, sizeof *order)) || !(excl = xcalloc(nc, sizeof *excl)))
        goto fail;
    for (size_t c = 0; c < nc; c++) {
        struct canon_rec *r = CANON(v, c);
        excl[c] = p.shelf_patterns && r->pattern != NULL;
        if (r->books > 0)
            order[no++] = (struct freq){r->books, r->weight, r->name, (int32_t)c};
    }
    qsort(order, no, sizeof *order, cmp_freq);

    /* 3. shelf tags */
    if (p.shelf_rounds > 0 && cat.ni > 0 && (rc = shelf_rule(v, &p, &cat, order, no, excl)) != 0)
        goto fail;
    rc = BR_ENOMEM;

    /* 4. the vocabulary and the shelf list, both in frequency order */
    size_t min_books = p.min_books ? p.min_books : 1, nshelf = 0;
    for (size_t i = 0; i < no; i++)
        nshelf += excl[order[i].canon];
    if (!(v->vocab = xcalloc(p.vocab_size < no ? p.vocab_size : no, sizeof *v->vocab)) ||
        !(v->shelf = xcalloc(nshelf, sizeof *v->shelf)))
        goto fail;
    for (size_t i = 0; i < no; i++) {
        struct canon_rec *r = CANON(v, order[i].canon);
        if (excl[order[i].canon]) {
            r->status = BR_SUBJECT_SHELF_TAG;
            v->shelf[v->shelf_n++] = order[i].canon;
        } else if (r->books >= min_books && v->vocab_n < p.vocab_size) {
            r->status = BR_SUBJECT_OK;
            r->id = (int64_t)v->vocab_n;
            v->vocab[v->vocab_n++] = order[i].canon;
        }
    }

    /* 5. every item's subjects by weight, and its main subject */
    size_t nsub = 0, maxlen = 0;
    for (size_t b = 0; b < cat.ni; b++) {
        size_t len = 0;
        for (size_t m = cat.off[b]; m < cat.off[b + 1]; m++)
            len += CANON(v, cat.canon[m])->status == BR_SUBJECT_OK;
        nsub += len;
        maxlen = len > maxlen ? len : maxlen;
    }
    if (!(v->item_off = xcalloc(cat.ni + 1, sizeof *v->item_off)) ||
        !(v->sub_ids = xcalloc(nsub, sizeof *v->sub_ids)) ||
        !(v->sub_w = xcalloc(nsub, sizeof *v->sub_w)) ||
        !(v->item_main = xcalloc(cat.ni, sizeof *v->item_main)) ||
        !(tmp = xcalloc(maxlen, sizeof *tmp)))
        goto fail;
    for (size_t b = 0, o = 0; b < cat.ni; b++) {
        size_t len = 0;
        for (size_t m = cat.off[b]; m < cat.off[b + 1]; m++) {
            struct canon_rec *r = CANON(v, cat.canon[m]);
            if (r->status == BR_SUBJECT_OK)
                tmp[len++] = (struct sub){(int32_t)r->id, cat.w[m]};
        }
        qsort(tmp, len, sizeof *tmp, cmp_sub);
        v->item_off[b] = o;
        v->item_main[b] = -1;
        for (size_t j = 0; j < len; j++) {
            v->sub_ids[o + j] = tmp[j].id;
            v->sub_w[o + j] = (float)tmp[j].w;
            if (v->item_main[b] < 0 && !CANON(v, v->vocab[tmp[j].id])->generic)
                v->item_main[b] = tmp[j].id;
        }
        o += len;
    }
    v->item_off[cat.ni] = nsub;

    /* 6. what became of every raw triple */
    memcpy(v->rejected, v->rejected_add, sizeof v->rejected);
    for (size_t c = 0; c < nc; c++)
        v->rejected[CANON(v, c)->status] += CANON(v, c)->pairs;
    v->built = 1;
    rc = 0;
fail:
    free(cat.off);
    free(cat.canon);
    free(cat.w);
    free(cat.total);
    free(order);
    free(excl);
    free(tmp);
    if (rc != 0)
        free_build(v);
    return rc;
}

/* ---- Queries ---- */

size_t br_subject_vocab_size(const br_subject_vocab *v)
{
    return v && v->built ? v->vocab_n : 0;
}

static const struct canon_rec *vocab_rec(const br_subject_vocab *v, size_t id)
{
    if (!v || !v->built || id >= v->vocab_n)
        return NULL;
    return &br_vec_at(&v->canons, struct canon_rec, v->vocab[id]);
}

const char *br_subject_vocab_name(const br_subject_vocab *v, size_t id)
{
    const struct canon_rec *r = vocab_rec(v, id);
    return r ? r->name : NULL;
}

size_t br_subject_vocab_books(const br_subject_vocab *v, size_t id)
{
    const struct canon_rec *r = vocab_rec(v, id);
    return r ? r->books : 0;
}

double br_subject_vocab_weight(const br_subject_vocab *v, size_t id)
{
    const struct canon_rec *r = vocab_rec(v, id);
    return r ? r->weight : 0;
}

int br_subject_vocab_generic(const br_subject_vocab *v, size_t id)
{
    const struct canon_rec *r = vocab_rec(v, id);
    return r ? r->generic : 0;
}

int64_t br_subject_vocab_id(const br_subject_vocab *v, const char *canon)
{
    int64_t c;
    if (!v || !v->built || !canon || !br_strmap_get(v->names, canon, &c))
        return -1;
    return br_vec_at(&v->canons, struct canon_rec, c).id;
}

size_t br_subject_vocab_items(const br_subject_vocab *v)
{
    return v && v->built ? v->n_items : 0;
}

/* Index of item in v->items, or -1. */
static int64_t find_item(const br_subject_vocab *v, int64_t item)
{
    size_t lo = 0, hi = v->n_items;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->items[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_items && v->items[lo] == item ? (int64_t)lo : -1;
}

int br_subject_vocab_item(const br_subject_vocab *v, int64_t item, const int32_t **ids,
                          const float **weights, size_t *n)
{
    if (!v || !v->built || !ids || !weights || !n)
        return BR_EINVAL;
    int64_t b = find_item(v, item);
    if (b < 0)
        return BR_ENOENT;
    *ids = v->sub_ids + v->item_off[b];
    *weights = v->sub_w + v->item_off[b];
    *n = v->item_off[b + 1] - v->item_off[b];
    return 0;
}

int64_t br_subject_vocab_main(const br_subject_vocab *v, int64_t item)
{
    if (!v || !v->built)
        return -1;
    int64_t b = find_item(v, item);
    return b < 0 ? -1 : v->item_main[b];
}

uint64_t br_subject_vocab_rejected(const br_subject_vocab *v, br_subject_reason r)
{
    if (!v || (unsigned)r >= BR_SUBJECT_REASON_COUNT)
        return 0;
    return v->built ? v->rejected[r] : v->rejected_add[r];
}

static void fill_info(const br_subject_vocab *v, const struct canon_rec *r, br_subject_info *out)
{
    *out = (br_subject_info){
        .name = r->name,
        .status = v->built ? r->status : BR_SUBJECT_RARE,
        .id = v->built ? r->id : -1,
        .generic = r->generic,
        .books = r->books,
        .weight = r->weight,
        .pairs = r->pairs,
        .raw_forms = r->raw_forms,
        .pattern = r->pattern,
        .cover = v->n_items ? (double)r->books / (double)v->n_items : 0,
        .js = v->built ? r->js : NAN,
    };
}

int br_subject_vocab_lookup(const br_subject_vocab *v, const char *canon, br_subject_info *out)
{
    int64_t c;
    if (!v || !canon || !out)
        return BR_EINVAL;
    if (!br_strmap_get(v->names, canon, &c))
        return BR_ENOENT;
    fill_info(v, &br_vec_at(&v->canons, struct canon_rec, c), out);
    return 0;
}

size_t br_subject_vocab_shelf_count(const br_subject_vocab *v)
{
    return v && v->built ? v->shelf_n : 0;
}

int br_subject_vocab_shelf(const br_subject_vocab *v, size_t i, br_subject_info *out)
{
    if (!v || !out || !v->built || i >= v->shelf_n)
        return BR_EINVAL;
    fill_info(v, &br_vec_at(&v->canons, struct canon_rec, v->shelf[i]), out);
    return 0;
}
