/* Tests of lib/index/lexical.c: tokenization, BM25F ranking, prefix completion of the last
 * token, filters and ties, the file format (round trip, every corruption refused), limits,
 * threads, and a build from a small SQLite catalog. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/lexical.h"
#include "bookrec/store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

/* Tokens of text joined by spaces, in a static buffer. */
static const char *toks(const char *text)
{
    static char joined[1024];
    char buf[1024];
    size_t n = br_lexical_tokenize(text, buf, sizeof buf), at = 0;
    const char *p = buf;
    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        at += (size_t)snprintf(joined + at, sizeof joined - at, "%s%s", i ? " " : "", p);
        p += strlen(p) + 1;
    }
    return joined;
}

TEST(lexical_tokenize_folds_case_accents_and_punctuation)
{
    ASSERT_EQ_STR(toks("Harry Potter and the Sorcerer's Stone (Harry Potter, #1)"),
                  "harry potter and the sorcerer s stone harry potter 1");
    ASSERT_EQ_STR(toks("Café NOIR — L'Étranger; SCHÖNE Grüße! naïve Œuvres Łódź"),
                  "cafe noir l etranger schone grusse naive oeuvres lodz");
    ASSERT_EQ_STR(toks("J.R.R. Tolkien/C.S. Lewis & co-authors_2nd"),
                  "j r r tolkien c s lewis co authors 2nd");
    /* Decomposed accent, latin-1 bytes that are not UTF-8, a soft hyphen inside a word. */
    ASSERT_EQ_STR(toks("Cafe\xcc\x81 \xe9t\xe9 hyphen\xc2\xad"
                       "ated"),
                  "cafe ete hyphenated");
    /* Other scripts are kept; CJK punctuation separates; × separates. */
    ASSERT_EQ_STR(toks("Война и мир 東京、物語 2×3"), "Война и мир 東京 物語 2 3");
    ASSERT_EQ_STR(toks("  ...  "), "");
    /* A token of 64 bytes is kept, one of 65 dropped (after folding: "ß" is two bytes). */
    char t64[80], t65[80];
    memset(t64, 'a', 64);
    t64[64] = '\0';
    memset(t65, 'b', 63);
    memcpy(t65 + 63, "\xc3\x9f", 3); /* 63 + "ss" = 65 bytes folded */
    char line[200];
    snprintf(line, sizeof line, "x %s y %s z", t64, t65);
    char expect[200];
    snprintf(expect, sizeof expect, "x %s y z", t64);
    ASSERT_EQ_STR(toks(line), expect);
}

/* Builds from docs with default params (or p). */
static br_lexical *build(const br_lexical_doc *d, size_t n, const br_lexical_params *p)
{
    br_lexical *x = NULL;
    int rc = br_lexical_build(d, n, p, &x);
    if (rc)
        fprintf(stderr, "    build: %s\n", br_err_name(rc));
    return x;
}

static size_t search(const br_lexical *x, const char *q, size_t k, const uint8_t *allow,
                     int32_t *ids, float *sc)
{
    size_t n = 999;
    int rc = br_lexical_search(x, q, k, allow, ids, sc, &n);
    if (rc) {
        fprintf(stderr, "    search \"%s\": %s\n", q, br_err_name(rc));
        return 999;
    }
    return n;
}

/* Score of id for query q, or -1 when not returned. */
static float score_of(const br_lexical *x, const char *q, int32_t id)
{
    int32_t ids[50];
    float sc[50];
    size_t n = search(x, q, 50, NULL, ids, sc);
    for (size_t i = 0; i < n && i < 50; i++)
        if (ids[i] == id)
            return sc[i];
    return -1.0f;
}

TEST(lexical_title_match_beats_subject_match)
{
    br_lexical_doc d[] = {
        {10, "The Last Unicorn", "Peter Beagle", "fantasy\nclassics"},
        {11, "A Field Guide", "Anne Smith", "dragons\nnature"},
        {12, "Dragons of Autumn", "Tracy Hickman", "fantasy\nadventure"},
        {13, "The Road", "Cormac McCarthy", "fiction"},
    };
    br_lexical *x = build(d, 4, NULL);
    ASSERT_TRUE(x);
    int32_t ids[4];
    float sc[4];
    ASSERT_EQ_INT(search(x, "dragons", 4, NULL, ids, sc), 2);
    ASSERT_EQ_INT(ids[0], 12);
    ASSERT_EQ_INT(ids[1], 11);
    ASSERT_TRUE(sc[0] > sc[1] && sc[1] > 0.0f);
    ASSERT_EQ_INT(ids[2], -1);
    ASSERT_TRUE(sc[2] == -INFINITY);
    /* Author beats subject too (weight 2 against 1). */
    br_lexical_doc e[] = {
        {1, "Poems", "Anne Summer", "poetry"},
        {2, "Poems", "John Smith", "summer\npoetry"},
    };
    br_lexical *y = build(e, 2, NULL);
    ASSERT_TRUE(y);
    ASSERT_EQ_INT(search(y, "summer", 4, NULL, ids, sc), 2);
    ASSERT_EQ_INT(ids[0], 1);
    br_lexical_free(x);
    br_lexical_free(y);
}

TEST(lexical_bm25_length_normalization_and_idf)
{
    br_lexical_doc d[] = {
        {1, "Dune Messiah and Other Long Stories of the Desert Planet Arrakis", "Frank Herbert",
         NULL},
        {2, "Dune", "Frank Herbert", NULL},
        {3, "Children of Dune", "Frank Herbert", NULL},
        {4, "Foundation", "Isaac Asimov", NULL},
    };
    br_lexical *x = build(d, 4, NULL);
    ASSERT_TRUE(x);
    int32_t ids[4];
    float sc[4];
    ASSERT_EQ_INT(search(x, "dune", 4, NULL, ids, sc), 3);
    ASSERT_EQ_INT(ids[0], 2); /* shortest title first */
    ASSERT_EQ_INT(ids[1], 3);
    ASSERT_EQ_INT(ids[2], 1);
    ASSERT_TRUE(sc[0] > sc[1] && sc[1] > sc[2]);
    /* A rarer term weighs more: "foundation" (1 doc) vs "herbert" (3 docs). */
    ASSERT_TRUE(score_of(x, "foundation ", 4) > score_of(x, "herbert ", 2));
    /* A token that matches nothing contributes nothing. */
    ASSERT_TRUE(score_of(x, "dune zzzzzz ", 2) == score_of(x, "dune ", 2));
    ASSERT_EQ_INT(search(x, "zzzzzz qqqq", 4, NULL, ids, sc), 0);
    ASSERT_EQ_INT(ids[0], -1);
    /* Repeating a word does not count it twice; case and accents do not matter. */
    ASSERT_TRUE(score_of(x, "dune dune DÜNE ", 2) == score_of(x, "dune ", 2));
    br_lexical_free(x);
}

TEST(lexical_prefix_of_the_last_token)
{
    br_lexical_doc d[] = {
        {1, "Harry Potter and the Chamber of Secrets", "J.K. Rowling", "fantasy"},
        {2, "Harry Houdini: A Life", "Someone Else", "biography"},
        {3, "Pottery for Beginners", "A. Potter", "crafts"},
        {4, "Pot Roast", "Chef Cook", "cooking"},
        {5, "Secret Garden", "Frances Burnett", "classics"},
    };
    br_lexical_params p;
    br_lexical_params_default(&p);
    br_lexical *x = build(d, 5, &p);
    ASSERT_TRUE(x);
    int32_t ids[5];
    float sc[5];
    ASSERT_EQ_INT(search(x, "harry pott", 5, NULL, ids, sc), 3);
    ASSERT_EQ_INT(ids[0], 1); /* harry + potter */
    ASSERT_EQ_INT(ids[1], 3); /* potter (author) and pottery: the best completion counts */
    ASSERT_EQ_INT(ids[2], 2); /* harry */
    /* With "pot", Pot Roast matches a whole word of a short title: BM25 may rank it above
     * the completion (discounted) of a longer one. Both are there. */
    ASSERT_EQ_INT(search(x, "harry pot", 5, NULL, ids, sc), 4);
    /* The completion scores prefix_discount times the whole word. */
    float harry = score_of(x, "harry ", 1);
    float whole = score_of(x, "harry potter ", 1) - harry;
    float part = score_of(x, "harry pot", 1) - harry;
    ASSERT_TRUE(whole > 0.0f);
    ASSERT_NEAR(part, p.prefix_discount * whole, 1e-5);
    /* A trailing space finishes the word: "pot " matches only the word "pot". */
    ASSERT_EQ_INT(search(x, "harry pot ", 5, NULL, ids, sc), 3);
    ASSERT_TRUE(score_of(x, "harry pot ", 1) == harry);
    /* The whole word beats its completions: "pot" ranks Pot Roast first. */
    ASSERT_EQ_INT(search(x, "pot", 5, NULL, ids, sc), 3);
    ASSERT_EQ_INT(ids[0], 4);
    /* Only the last token completes; a middle one must be whole. */
    ASSERT_TRUE(score_of(x, "pot harry", 1) < score_of(x, "potter harry", 1));
    /* Shorter than min_prefix: no completion ("p" is no term). */
    ASSERT_EQ_INT(search(x, "p", 5, NULL, ids, sc), 0);
    /* The best completion counts, not their sum: "secret" completes to "secrets" (1) and
     * is whole in 5, each once. */
    ASSERT_EQ_INT(search(x, "secre", 5, NULL, ids, sc), 2);
    br_lexical_free(x);

    /* max_expansions keeps the most frequent completions. */
    br_lexical_doc e[] = {
        {1, "alpha", NULL, NULL},
        {2, "alpine alpine", NULL, NULL},
        {3, "alpine", NULL, NULL},
        {4, "alps", NULL, NULL},
    };
    p.max_expansions = 1;
    x = build(e, 4, &p);
    ASSERT_TRUE(x);
    ASSERT_EQ_INT(search(x, "alp", 5, NULL, ids, sc), 2); /* "alpine": 2 docs */
    ASSERT_TRUE((ids[0] == 2 || ids[0] == 3) && (ids[1] == 2 || ids[1] == 3));
    br_lexical_free(x);
    p.max_expansions = 0; /* no completion at all */
    x = build(e, 4, &p);
    ASSERT_TRUE(x);
    ASSERT_EQ_INT(search(x, "alp", 5, NULL, ids, sc), 0);
    br_lexical_free(x);
}

TEST(lexical_allow_filter_ties_and_k)
{
    /* Given out of order; 7 and 3 are the same text, so they tie. */
    br_lexical_doc d[] = {
        {7, "Moby Dick", "Herman Melville", NULL},
        {100, "Moby Dick or The Whale Annotated Edition", "Herman Melville", NULL},
        {3, "Moby Dick", "Herman Melville", NULL},
        {0, "Typee", "Herman Melville", NULL},
    };
    br_lexical *x = build(d, 4, NULL);
    ASSERT_TRUE(x);
    ASSERT_EQ_INT(br_lexical_size(x), 4);
    ASSERT_EQ_INT(br_lexical_id_bound(x), 101);
    int32_t ids[4];
    float sc[4];
    ASSERT_EQ_INT(search(x, "moby dick", 4, NULL, ids, sc), 3);
    ASSERT_EQ_INT(ids[0], 3);
    ASSERT_EQ_INT(ids[1], 7);
    ASSERT_TRUE(sc[0] == sc[1]);
    ASSERT_EQ_INT(ids[2], 100);
    uint8_t allow[101];
    memset(allow, 1, sizeof allow);
    allow[3] = 0;
    ASSERT_EQ_INT(search(x, "moby dick", 4, allow, ids, sc), 2);
    ASSERT_EQ_INT(ids[0], 7);
    ASSERT_EQ_INT(ids[1], 100);
    ASSERT_EQ_INT(search(x, "melville", 2, NULL, ids, sc), 2);
    ASSERT_EQ_INT(ids[0], 0); /* shortest title, then ties by id */
    ASSERT_EQ_INT(search(x, "melville", 0, NULL, NULL, NULL), 0);
    ASSERT_EQ_INT(search(x, "", 4, NULL, ids, NULL), 0);
    br_lexical_free(x);
}

TEST(lexical_limits_and_bad_arguments)
{
    br_lexical_doc d[] = {{1, "one two three", "four", "five"}};
    br_lexical *x = build(d, 1, NULL);
    ASSERT_TRUE(x);
    int32_t *ids = malloc(1001 * sizeof *ids);
    float *sc = malloc(1001 * sizeof *sc);
    size_t n;
    ASSERT_TRUE(ids && sc);
    ASSERT_EQ_INT(br_lexical_search(x, "one", 1001, NULL, ids, sc, &n), BR_ELIMIT);
    ASSERT_EQ_INT(br_lexical_search(x, "one", (size_t)-1, NULL, ids, sc, &n), BR_ELIMIT);
    ASSERT_OK(br_lexical_search(x, "one", 1000, NULL, ids, sc, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(ids[999], -1);
    char q[600];
    memset(q, 'a', sizeof q);
    q[513] = '\0';
    ASSERT_EQ_INT(br_lexical_search(x, q, 5, NULL, ids, sc, &n), BR_ELIMIT);
    q[512] = '\0'; /* 512 bytes: one over-long token, dropped */
    ASSERT_OK(br_lexical_search(x, q, 5, NULL, ids, sc, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(br_lexical_search(x, "a b c d e f g h i j k l m n o one", 5, NULL, ids, sc, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(br_lexical_search(x, "a b c d e f g h i j k l m n o p one", 5, NULL, ids, sc, &n),
                  BR_ELIMIT);
    ASSERT_EQ_INT(br_lexical_search(NULL, "one", 5, NULL, ids, sc, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_lexical_search(x, NULL, 5, NULL, ids, sc, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_lexical_search(x, "one", 5, NULL, NULL, sc, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_lexical_search(x, "one", 5, NULL, ids, sc, NULL), BR_EINVAL);
    free(ids);
    free(sc);

    /* Build arguments. */
    br_lexical *y = NULL;
    br_lexical_doc dup[] = {{4, "a", NULL, NULL}, {4, "b", NULL, NULL}};
    ASSERT_EQ_INT(br_lexical_build(dup, 2, NULL, &y), BR_EINVAL);
    dup[0].id = -1;
    ASSERT_EQ_INT(br_lexical_build(dup, 2, NULL, &y), BR_EINVAL);
    ASSERT_TRUE(y == NULL);
    /* The id bound (largest id + 1) must fit in an int32. */
    dup[0].id = INT32_MAX;
    ASSERT_EQ_INT(br_lexical_build(dup, 2, NULL, &y), BR_EINVAL);
    dup[0].id = INT32_MAX - 1;
    ASSERT_OK(br_lexical_build(dup, 2, NULL, &y));
    ASSERT_EQ_INT(br_lexical_id_bound(y), INT32_MAX);
    br_lexical_free(y);
    y = NULL;
    br_lexical_params p;
    br_lexical_params_default(&p);
    p.w_subjects = 0.0f;
    ASSERT_EQ_INT(br_lexical_build(d, 1, &p, &y), BR_EINVAL);
    br_lexical_params_default(&p);
    p.b = 1.5f;
    ASSERT_EQ_INT(br_lexical_build(d, 1, &p, &y), BR_EINVAL);
    br_lexical_params_default(&p);
    p.max_expansions = BR_LEXICAL_MAX_EXPANSIONS + 1;
    ASSERT_EQ_INT(br_lexical_build(d, 1, &p, &y), BR_EINVAL);
    ASSERT_EQ_INT(br_lexical_build(NULL, 1, NULL, &y), BR_EINVAL);

    /* An empty index, and a document without a token. */
    ASSERT_OK(br_lexical_build(NULL, 0, NULL, &y));
    ASSERT_EQ_INT(br_lexical_size(y), 0);
    ASSERT_EQ_INT(br_lexical_id_bound(y), 0);
    int32_t id1;
    ASSERT_OK(br_lexical_search(y, "one", 1, NULL, &id1, NULL, &n));
    ASSERT_EQ_INT(n, 0);
    br_lexical_free(y);
    br_lexical_doc blank[] = {{9, "!!!", NULL, ""}};
    ASSERT_OK(br_lexical_build(blank, 1, NULL, &y));
    ASSERT_EQ_INT(br_lexical_size(y), 1);
    ASSERT_EQ_INT(br_lexical_terms(y), 0);
    br_lexical_free(y);

    /* A document's tokens are capped: the words after the cap are not indexed. */
    size_t cap = (BR_LEXICAL_MAX_DOC_TOKENS + 10) * 2 + 16;
    char *big = malloc(cap);
    ASSERT_TRUE(big);
    size_t at = 0;
    for (int i = 0; i < BR_LEXICAL_MAX_DOC_TOKENS; i++)
        big[at++] = 'w', big[at++] = ' ';
    strcpy(big + at, "late");
    br_lexical_doc capd[] = {{1, "early", NULL, big}};
    ASSERT_OK(br_lexical_build(capd, 1, NULL, &y));
    ASSERT_OK(br_lexical_search(y, "early ", 1, NULL, &id1, NULL, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_OK(br_lexical_search(y, "late ", 1, NULL, &id1, NULL, &n));
    ASSERT_EQ_INT(n, 0);
    br_lexical_free(y);
    free(big);
    br_lexical_free(x);
    br_lexical_free(NULL);
}

/* ---- a synthetic catalog for round trips and threads ---- */

static const char *const words[] = {
    "harry",   "potter", "stone",  "secret",  "garden", "night",  "dragon",  "river",
    "café",    "étoile", "wind",   "shadow",  "king",   "queen",  "war",     "peace",
    "love",    "death",  "house",  "city",    "sea",    "island", "moon",    "sun",
    "fire",    "ice",    "game",   "throne",  "book",   "thief",  "girl",    "boy",
    "lost",    "found",  "silent", "patient", "murder", "orient", "express", "time",
    "machine", "world",  "brave",  "new",     "old",    "man",    "woman",   "child",
};
#define N_WORDS (sizeof words / sizeof words[0])

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void phrase(uint64_t *s, char *out, size_t cap, size_t nw, char sep)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nw; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? (char[]){sep, 0} : "",
                               words[rng(s) % N_WORDS]);
}

typedef struct corpus {
    br_lexical_doc *d;
    char (*text)[3][200];
    size_t n;
} corpus;

static int make_corpus(corpus *c, size_t n, uint64_t seed)
{
    c->n = n;
    c->d = calloc(n, sizeof *c->d);
    c->text = calloc(n, sizeof *c->text);
    if (!c->d || !c->text)
        return -1;
    for (size_t i = 0; i < n; i++) {
        phrase(&seed, c->text[i][0], 200, 1 + rng(&seed) % 8, ' ');
        phrase(&seed, c->text[i][1], 200, 1 + rng(&seed) % 3, ' ');
        phrase(&seed, c->text[i][2], 200, rng(&seed) % 5, '\n');
        c->d[i] =
            (br_lexical_doc){(int32_t)(3 * i + 1), c->text[i][0], c->text[i][1], c->text[i][2]};
    }
    return 0;
}

static void free_corpus(corpus *c)
{
    free(c->d);
    free(c->text);
}

static const char *const queries[] = {
    "harry pot", "secret garden",    "the king",        "cafe", "etoile du",
    "mur",       "brave new world ", "DRAGON fire ice", "s",    "time mach",
    "zzz",       "lost and found",   "queen",           "ga",   "",
};
#define N_QUERIES (sizeof queries / sizeof queries[0])

/* 1 when a and b give bitwise the same answers to every query. */
static int same_answers(const br_lexical *a, const br_lexical *b)
{
    for (size_t q = 0; q < N_QUERIES; q++) {
        int32_t ia[20], ib[20];
        float sa[20], sb[20];
        size_t na, nb;
        if (br_lexical_search(a, queries[q], 20, NULL, ia, sa, &na) ||
            br_lexical_search(b, queries[q], 20, NULL, ib, sb, &nb) || na != nb ||
            memcmp(ia, ib, sizeof ia) || memcmp(sa, sb, sizeof sa)) {
            fprintf(stderr, "    query \"%s\" differs\n", queries[q]);
            return 0;
        }
    }
    return 1;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = aligned_alloc(64, ((size_t)n + 63) / 64 * 64 + 64);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void put(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, len, f);
        fclose(f);
    }
}

TEST(lexical_save_open_round_trip)
{
    corpus c;
    ASSERT_OK(make_corpus(&c, 500, 77));
    br_lexical *x = build(c.d, c.n, NULL), *y = NULL, *z = NULL;
    ASSERT_TRUE(x);
    char path[512], path2[512], err[256] = "";
    snprintf(path, sizeof path, "%s/lex.idx", br_test_tmpdir());
    snprintf(path2, sizeof path2, "%s/lex2.idx", br_test_tmpdir());
    ASSERT_OK(br_lexical_save(x, path));
    ASSERT_OK(br_lexical_open(path, err, sizeof err, &y));
    ASSERT_EQ_INT(br_lexical_size(y), 500);
    ASSERT_EQ_INT(br_lexical_terms(y), br_lexical_terms(x));
    ASSERT_EQ_INT(br_lexical_id_bound(y), 3 * 499 + 2);
    ASSERT_TRUE(same_answers(x, y));
    /* An opened index saves the same bytes; a parsed buffer answers the same. */
    ASSERT_OK(br_lexical_save(y, path2));
    size_t l1, l2;
    uint8_t *b1 = slurp(path, &l1), *b2 = slurp(path2, &l2);
    ASSERT_TRUE(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    ASSERT_EQ_INT(br_lexical_memory(y), l1);
    ASSERT_OK(br_lexical_parse(b1, l1, err, sizeof err, &z));
    ASSERT_TRUE(same_answers(x, z));
    /* The same documents in another order build the same bytes. */
    br_lexical_doc t = c.d[0];
    c.d[0] = c.d[c.n - 1];
    c.d[c.n - 1] = t;
    br_lexical *w = build(c.d, c.n, NULL);
    ASSERT_TRUE(w);
    ASSERT_OK(br_lexical_save(w, path2));
    free(b2);
    b2 = slurp(path2, &l2);
    ASSERT_TRUE(b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    /* Saving into a missing directory fails cleanly. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.idx", br_test_tmpdir());
    ASSERT_EQ_INT(br_lexical_save(x, bad), BR_ENOENT);
    free(b1);
    free(b2);
    br_lexical_free(w);
    br_lexical_free(z);
    br_lexical_free(y);
    br_lexical_free(x);
    free_corpus(&c);
}

/* ---- corruption ---- */

/* Header fields used here (docs/indexes.md). */
#define H_VERSION 8
#define H_CHECKSUM 32
#define H_N_DOCS 40
#define H_N_TERMS 48
#define H_N_POSTINGS 56
#define H_TERM_BYTES 64
#define H_K1 72

static uint64_t rd64(const uint8_t *b, size_t off)
{
    uint64_t v;
    memcpy(&v, b + off, 8);
    return v;
}

static void reseal(uint8_t *b, size_t len)
{
    memset(b + H_CHECKSUM, 0, 8);
    uint64_t h = XXH64(b, len, 0);
    memcpy(b + H_CHECKSUM, &h, 8);
}

/* Section offsets from the header's sizes (the canonical layout). */
static void sections(const uint8_t *b, size_t off[6])
{
    uint64_t len[6] = {rd64(b, H_N_DOCS) * 4,        (rd64(b, H_N_TERMS) + 1) * 4,
                       (rd64(b, H_N_TERMS) + 1) * 4, rd64(b, H_N_POSTINGS) * 4,
                       rd64(b, H_N_POSTINGS) * 4,    rd64(b, H_TERM_BYTES)};
    size_t at = 128;
    for (int s = 0; s < 6; s++) {
        at = (at + 7) & ~(size_t)7;
        off[s] = at;
        at += len[s];
    }
}

/* rc of parsing b (the reason in err) */
static int parse_rc(const uint8_t *b, size_t len, char *err, size_t errcap)
{
    br_lexical *x = NULL;
    err[0] = '\0';
    int rc = br_lexical_parse(b, len, err, errcap, &x);
    if (rc != 0 && (x != NULL || err[0] == '\0'))
        return 12345; /* a failure must hand out nothing and say why */
    br_lexical_free(x);
    return rc;
}

TEST(lexical_every_corruption_is_refused)
{
    corpus c;
    ASSERT_OK(make_corpus(&c, 60, 5));
    br_lexical *x = build(c.d, c.n, NULL);
    ASSERT_TRUE(x);
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/c.idx", br_test_tmpdir());
    ASSERT_OK(br_lexical_save(x, path));
    br_lexical_free(x);
    size_t len;
    uint8_t *b = slurp(path, &len);
    ASSERT_TRUE(b);
    ASSERT_OK(parse_rc(b, len, err, sizeof err));

    /* Truncation anywhere, and a trailing byte. */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 3)
        ASSERT_NE_INT(parse_rc(b, cut, err, sizeof err), 0);
    ASSERT_EQ_INT(parse_rc(b, len - 1, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "truncated") != NULL);
    ASSERT_EQ_INT(parse_rc(b, 100, err, sizeof err), BR_ECORRUPT);
    ASSERT_EQ_INT(parse_rc(b, len + 1, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "trailing") != NULL);
    /* A flipped bit anywhere after the magic: checksum (or a header field before it). */
    for (size_t i = 8; i < len; i += 7) {
        b[i] ^= 0x10;
        int rc = parse_rc(b, len, err, sizeof err);
        b[i] ^= 0x10;
        ASSERT_TRUE(rc == BR_ECORRUPT || rc == BR_EFORMAT);
    }
    b[len / 2] ^= 1;
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "checksum") != NULL);
    b[len / 2] ^= 1;
    /* Magic, version. */
    b[2] = 'X';
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "magic") != NULL);
    b[2] = 'L';
    b[H_VERSION] = 2;
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_EFORMAT);
    reseal(b, len);
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "version") != NULL);
    b[H_VERSION] = 1;
    reseal(b, len);
    ASSERT_OK(parse_rc(b, len, err, sizeof err));
    /* Unaligned buffer. */
    uint8_t *u = malloc(len + 1);
    ASSERT_TRUE(u);
    memcpy(u + 1, b, len);
    ASSERT_EQ_INT(parse_rc(u + 1, len, err, sizeof err), BR_EINVAL);
    free(u);

    /* Structure behind a valid checksum: each change resealed, then undone. */
    size_t off[6];
    sections(b, off);
    uint64_t n_docs = rd64(b, H_N_DOCS), n_terms = rd64(b, H_N_TERMS);
    struct {
        const char *what;
        size_t at;
        uint32_t val;
    } bad[] = {
        {"doc ids", off[0] + 4, 0},             /* ids[1] = 0: not increasing */
        {"doc ids", off[0], (uint32_t)-3},      /* negative */
        {"offsets", off[1], 1},                 /* toff[0] != 0 */
        {"term 0", off[1] + 4, 200},            /* a term past 64 bytes */
        {"offsets", off[2] + 4 * n_terms, 0},   /* poff[n] != n_postings */
        {"term 1", off[2] + 8, 0},              /* empty posting list */
        {"document", off[3], (uint32_t)n_docs}, /* doc index out of range */
        {"score", off[4], 0x7fc00000u},         /* NaN */
        {"score", off[4] + 4, 0xbf800000u},     /* -1 */
        {"score", off[4] + 8, 0},               /* 0 */
        {"parameters", H_K1, 0xbf800000u},      /* k1 = -1 */
        {"sizes", H_N_TERMS, 0xffffffu},        /* more terms than postings */
        {"file size", H_TERM_BYTES, (uint32_t)rd64(b, H_TERM_BYTES) + 8},
        {"reserved", 124, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t old;
        memcpy(&old, b + bad[i].at, 4);
        memcpy(b + bad[i].at, &bad[i].val, 4);
        reseal(b, len);
        int rc = parse_rc(b, len, err, sizeof err);
        memcpy(b + bad[i].at, &old, 4);
        if (rc != BR_ECORRUPT || !strstr(err, bad[i].what))
            fprintf(stderr, "    case %zu (%s): rc %d, \"%s\"\n", i, bad[i].what, rc, err);
        ASSERT_EQ_INT(rc, BR_ECORRUPT);
        ASSERT_TRUE(strstr(err, bad[i].what) != NULL);
    }
    /* Term bytes: an upper-case letter, then two terms out of order. */
    char *tb = (char *)b + off[5];
    tb[0] = 'A';
    reseal(b, len);
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "byte") != NULL);
    tb[0] = 'z';
    reseal(b, len);
    ASSERT_EQ_INT(parse_rc(b, len, err, sizeof err), BR_ECORRUPT);
    ASSERT_TRUE(strstr(err, "sorted") != NULL);

    /* Through a file: truncated, missing, a directory. */
    put(path, b, len - 3);
    ASSERT_EQ_INT(br_lexical_open(path, err, sizeof err, &x), BR_ECORRUPT);
    ASSERT_TRUE(x == NULL && strstr(err, path) != NULL);
    put(path, b, 4);
    ASSERT_EQ_INT(br_lexical_open(path, err, sizeof err, &x), BR_ECORRUPT);
    snprintf(path, sizeof path, "%s/missing.idx", br_test_tmpdir());
    ASSERT_EQ_INT(br_lexical_open(path, err, sizeof err, &x), BR_ENOENT);
    ASSERT_EQ_INT(br_lexical_open(br_test_tmpdir(), err, sizeof err, &x), BR_EIO);
    free(b);
    free_corpus(&c);
}

/* ---- threads ---- */

typedef struct thread_arg {
    const br_lexical *x;
    int32_t ids[N_QUERIES][10];
    float sc[N_QUERIES][10];
    int rc;
} thread_arg;

static void *search_all(void *p)
{
    thread_arg *a = p;
    for (int round = 0; round < 20 && !a->rc; round++)
        for (size_t q = 0; q < N_QUERIES && !a->rc; q++) {
            size_t n;
            a->rc = br_lexical_search(a->x, queries[q], 10, NULL, a->ids[q], a->sc[q], &n);
        }
    return NULL;
}

TEST(lexical_concurrent_searches_agree)
{
    corpus c;
    ASSERT_OK(make_corpus(&c, 2000, 9));
    br_lexical *x = build(c.d, c.n, NULL);
    ASSERT_TRUE(x);
    static thread_arg a[5];
    pthread_t th[4];
    for (int i = 0; i < 5; i++)
        a[i].x = x;
    search_all(&a[4]); /* the reference, alone */
    ASSERT_OK(a[4].rc);
    for (int i = 0; i < 4; i++)
        ASSERT_OK(pthread_create(&th[i], NULL, search_all, &a[i]));
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(a[i].rc);
        ASSERT_TRUE(memcmp(a[i].ids, a[4].ids, sizeof a[i].ids) == 0);
        ASSERT_TRUE(memcmp(a[i].sc, a[4].sc, sizeof a[i].sc) == 0);
    }
    br_lexical_free(x);
    free_corpus(&c);
}

/* ---- from the catalog ---- */

static int exec_bound(br_store *s, const char *sql, int64_t a, const char *t1, const char *t2,
                      int64_t b)
{
    br_stmt *st;
    int rc = br_store_prepare(s, sql, &st);
    if (rc)
        return rc;
    rc = br_stmt_bind_int(st, 1, a);
    if (!rc && t1)
        rc = br_stmt_bind_text(st, 2, t1, -1);
    if (!rc && t2)
        rc = br_stmt_bind_text(st, 3, t2, -1);
    if (!rc && b >= 0)
        rc = br_stmt_bind_int(st, t1 ? (t2 ? 4 : 3) : 2, b);
    if (!rc)
        rc = br_stmt_step(st);
    br_stmt_free(st);
    return rc < 0 ? rc : 0;
}

TEST(lexical_build_from_store)
{
    br_store *s;
    char err[256] = "";
    ASSERT_OK(br_store_open("sqlite::memory:", &s));
    ASSERT_OK(br_store_migrate(s, NULL));
    static const struct {
        int64_t idx;
        const char *title, *author;
        int has_title;
    } works[] = {
        {0, "The Hunger Games (The Hunger Games, #1)", "Suzanne Collins", 1},
        {5, "Le Petit Prince", "Antoine de Saint-Exupéry", 1},
        {7, "Untitled draft about hunger", "Nobody", 0},
        {9, "Dracula", "Bram Stoker", 1},
        {12, "Catching Fire", NULL, 1},
    };
    for (size_t i = 0; i < sizeof works / sizeof works[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "w%lld", (long long)works[i].idx);
        br_stmt *st;
        ASSERT_OK(br_store_prepare(s,
                                   "INSERT INTO works (item_idx, work_key, title, author, "
                                   "has_title, created_import) VALUES (?, ?, ?, ?, ?, 1)",
                                   &st));
        ASSERT_OK(br_stmt_bind_int(st, 1, works[i].idx));
        ASSERT_OK(br_stmt_bind_text(st, 2, key, -1));
        ASSERT_OK(br_stmt_bind_text(st, 3, works[i].title, -1));
        ASSERT_OK(br_stmt_bind_text(st, 4, works[i].author, -1));
        ASSERT_OK(br_stmt_bind_int(st, 5, works[i].has_title));
        ASSERT_EQ_INT(br_stmt_step(st), 0);
        br_stmt_free(st);
    }
    static const struct {
        int64_t id;
        const char *name;
    } subj[] = {{1, "dystopia"},
                {2, "young adult"},
                {3, "vampires"},
                {4, "children's"},
                {5, "gothic horror"}};
    for (size_t i = 0; i < 5; i++)
        ASSERT_OK(exec_bound(s, "INSERT INTO subjects (subject_id, name, n_books) VALUES (?, ?, 1)",
                             subj[i].id, subj[i].name, NULL, -1));
    static const int64_t ws[][2] = {{0, 1}, {0, 2}, {12, 1}, {9, 3}, {9, 5}, {5, 4}, {7, 3}};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        ASSERT_OK(exec_bound(s,
                             "INSERT INTO work_subjects (item_idx, subject_id, weight) "
                             "VALUES (?, ?, 1.0)",
                             ws[i][0], NULL, NULL, ws[i][1]));

    br_lexical *x = NULL;
    ASSERT_OK(br_lexical_build_from_store(s, NULL, &x, err, sizeof err));
    ASSERT_EQ_INT(br_lexical_size(x), 4); /* has_title = 0 is left out */
    ASSERT_EQ_INT(br_lexical_id_bound(x), 13);
    int32_t ids[5];
    float sc[5];
    ASSERT_EQ_INT(search(x, "dystopia", 5, NULL, ids, sc), 2);
    ASSERT_EQ_INT(ids[0], 12); /* the shorter subject field */
    ASSERT_EQ_INT(ids[1], 0);
    ASSERT_EQ_INT(search(x, "vampires", 5, NULL, ids, sc), 1);
    ASSERT_EQ_INT(ids[0], 9);
    ASSERT_EQ_INT(search(x, "hunger", 5, NULL, ids, sc), 1);
    ASSERT_EQ_INT(ids[0], 0);
    ASSERT_EQ_INT(search(x, "exupery", 5, NULL, ids, sc), 1);
    ASSERT_EQ_INT(ids[0], 5);
    ASSERT_EQ_INT(search(x, "children", 5, NULL, ids, sc), 1);
    ASSERT_EQ_INT(search(x, "gothic horr", 5, NULL, ids, sc), 1);
    br_lexical_free(x);

    /* A catalog without the tables fails with the store's reason. */
    br_store *empty;
    ASSERT_OK(br_store_open("sqlite::memory:", &empty));
    x = NULL;
    ASSERT_EQ_INT(br_lexical_build_from_store(empty, NULL, &x, err, sizeof err), BR_ESTORE);
    ASSERT_TRUE(x == NULL && strstr(err, "works") != NULL);
    br_store_close(empty);
    br_store_close(s);
}

/* ---- fuzz seeds ---- */

/* Writes tests/fuzz/corpus/lexical/ when BR_WRITE_FUZZ_SEEDS names that directory (else a
 * temp dir, so this also checks that every seed is small and valid or not as meant). */
static int seed(const char *dir, const char *name, const uint8_t *b, size_t len, int valid)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    put(path, b, len);
    br_lexical *x = NULL;
    int rc = br_lexical_open(path, err, sizeof err, &x);
    br_lexical_free(x);
    if ((rc == 0) != valid || len > 4096) {
        fprintf(stderr, "    seed %s: rc %d, %zu bytes\n", name, rc, len);
        return 0;
    }
    return 1;
}

static uint8_t *seed_image(const br_lexical_doc *d, size_t n, const br_lexical_params *p,
                           size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed.tmp", br_test_tmpdir());
    br_lexical *x = NULL;
    if (br_lexical_build(d, n, p, &x) || br_lexical_save(x, path)) {
        br_lexical_free(x);
        return NULL;
    }
    br_lexical_free(x);
    return slurp(path, len);
}

TEST(lexical_write_fuzz_seeds)
{
    const char *dir = getenv("BR_WRITE_FUZZ_SEEDS");
    if (!dir)
        dir = br_test_tmpdir();
    br_lexical_doc d[] = {
        {1, "Harry Potter and the Chamber of Secrets", "J.K. Rowling", "fantasy\nmagic"},
        {4, "Pot Roast", "Chef Cook", "cooking"},
        {9, "Café Étoile", "Zoë Brontë", "romance\nfrance"},
        {30, "Dracula", "Bram Stoker", "vampires\ngothic horror"},
    };
    br_lexical_params p;
    br_lexical_params_default(&p);
    size_t len;
    uint8_t *b;
    int ok = 1;
    ASSERT_TRUE((b = seed_image(d, 4, NULL, &len)) != NULL);
    ok &= seed(dir, "valid_4docs", b, len, 1);
    size_t off[6];
    sections(b, off);
    b[off[5]] = 'z';
    reseal(b, len);
    ok &= seed(dir, "broken_unsorted_resealed", b, len, 0);
    free(b);
    ASSERT_TRUE((b = seed_image(d, 1, NULL, &len)) != NULL);
    ok &= seed(dir, "valid_1doc", b, len, 1);
    ok &= seed(dir, "broken_truncated", b, len - 5, 0);
    b[len - 1] ^= 2;
    ok &= seed(dir, "broken_bitflip", b, len, 0);
    b[len - 1] ^= 2;
    b[H_VERSION] = 7;
    reseal(b, len);
    ok &= seed(dir, "broken_version_resealed", b, len, 0);
    free(b);
    p.max_expansions = 1;
    p.min_prefix = 1;
    p.prefix_discount = 0.5f;
    ASSERT_TRUE((b = seed_image(d + 1, 3, &p, &len)) != NULL);
    ok &= seed(dir, "valid_3docs_params", b, len, 1);
    free(b);
    ASSERT_TRUE((b = seed_image(NULL, 0, NULL, &len)) != NULL);
    ok &= seed(dir, "valid_empty", b, len, 1);
    free(b);
    ok &= seed(dir, "junk_text", (const uint8_t *)"BRLEXI\r\nnot really an index", 27, 0);
    ASSERT_TRUE(ok);
}
