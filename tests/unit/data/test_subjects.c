/* Subjects: canonical forms, plurals, merge table, shelf tags, vocabulary. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/subjects.h"

#include <stdlib.h>

/* Canonical form of s (static buffer), reason in *r. */
static const char *canon_r(const char *s, br_subject_reason *r)
{
    static char out[BR_SUBJECT_MAX + 1];
    *r = br_subject_canon(s, strlen(s), out, sizeof out);
    return out;
}

static const char *canon(const char *s)
{
    br_subject_reason r;
    return canon_r(s, &r);
}

static br_subject_reason reason(const char *s)
{
    br_subject_reason r;
    canon_r(s, &r);
    return r;
}

TEST(subject_reason_names)
{
    ASSERT_EQ_STR(br_subject_reason_name(BR_SUBJECT_OK), "ok");
    ASSERT_EQ_STR(br_subject_reason_name(BR_SUBJECT_SHELF_TAG), "shelf_tag");
    ASSERT_EQ_STR(br_subject_reason_name(BR_SUBJECT_RARE), "rare");
    ASSERT_EQ_STR(br_subject_reason_name(BR_SUBJECT_REASON_COUNT), "unknown");
}

TEST(subject_canon_cleaning)
{
    static const char *const cases[][2] = {
        {"Fantasy", "fantasy"},
        {"  Fantasy  ", "fantasy"},
        {"FANTASY.", "fantasy"},
        {"science_fiction", "science fiction"},
        {"Science-Fiction", "science fiction"},
        {"urban--fantasy", "urban fantasy"},
        {"Body, Mind & Spirit", "body mind and spirit"},
        {"Hercule Poirot (Fictitious character)", "hercule poirot"},
        {"Fiction [from old catalog]", "fiction"},
        {"clàssics", "classic"},
        {"Ficción", "fiction"},
        {"Ficcio\xcc\x81n", "fiction"}, /* decomposed accent */
        {"contempor\xe2\x80\x8b"
         "ary",
         "contemporary"}, /* zero-width space */
        {"\xef\xbc\xa6\xef\xbd\x81\xef\xbd\x8e\xef\xbd\x94\xef\xbd\x81\xef\xbd\x93\xef\xbd\x99",
         "fantasy"},                                     /* fullwidth letters */
        {"fantasy \xe2\x98\x85\xe2\x98\x85", "fantasy"}, /* stars separate words */
        {"fantasy\xff", "fantasy"},                      /* invalid UTF-8 byte */
        {"\xd1\x84\xd1\x8d\xd0\xbd\xd1\x82\xd0\xb5\xd0\xb7\xd0\xb8",
         "\xd1\x84\xd1\x8d\xd0\xbd\xd1\x82\xd0\xb5\xd0\xb7\xd0\xb8"}, /* Cyrillic kept */
        {"children's-books", "children"},
        {"children-s-books", "children"},
        {"C. S. Lewis", "c s lewis"},
        {"didn-t-finish", "did not finish"},
        {"The Classics", "classic"},
        {"a-series-of-unfortunate-events", "series of unfortunate events"},
        {"A. A. Milne", "a a milne"},
        {"20th-century", "20th century"},
        {"1960s", "1960s"},
        {"1001-books", "1001 books"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        br_subject_reason r;
        const char *got = canon_r(cases[i][0], &r);
        ASSERT_TRUE(r == BR_SUBJECT_OK || r == BR_SUBJECT_SHELF_TAG);
        ASSERT_EQ_STR(got, cases[i][1]);
    }
}

TEST(subject_canon_rejects)
{
    char big[BR_SUBJECT_RAW_MAX + 2];
    char out[BR_SUBJECT_MAX + 1];

    ASSERT_EQ_INT(reason(""), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("-"), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("!!! ???"), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85"), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("and"), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("of-the"), BR_SUBJECT_EMPTY);
    ASSERT_EQ_INT(reason("2015"), BR_SUBJECT_NUMERIC);
    ASSERT_EQ_INT(reason("--1-"), BR_SUBJECT_NUMERIC);
    ASSERT_EQ_INT(reason("02-500-750"), BR_SUBJECT_NUMERIC);
    ASSERT_EQ_INT(reason("x"), BR_SUBJECT_NON_LETTER);
    ASSERT_EQ_INT(reason("0-pgs-200-to-299"), BR_SUBJECT_NON_LETTER);
    ASSERT_EQ_INT(reason("2016-favs"), BR_SUBJECT_NON_LETTER); /* also after the plural */
    ASSERT_EQ_INT(reason("subject-name-that-goes-on-and-on-and-on-well-beyond-sixty-four-bytes"),
                  BR_SUBJECT_TOO_LONG);
    memset(big, 'a', sizeof big);
    ASSERT_EQ_INT(br_subject_canon(big, sizeof big, out, sizeof out), BR_SUBJECT_TOO_LONG);
    ASSERT_EQ_INT(br_subject_canon(NULL, 0, out, sizeof out), BR_SUBJECT_EMPTY);
    ASSERT_EQ_STR(out, "");
    ASSERT_EQ_INT(br_subject_canon("fantasy", 7, out, 4), BR_SUBJECT_TOO_LONG); /* small cap */
    ASSERT_EQ_INT(br_subject_canon("fantasy", 7, out, 8), BR_SUBJECT_OK);
    ASSERT_EQ_STR(out, "fantasy");
    /* embedded NUL is a separator, not an end */
    ASSERT_EQ_INT(br_subject_canon("sci\0fi", 6, out, sizeof out), BR_SUBJECT_OK);
    ASSERT_EQ_STR(out, "science fiction");
}

TEST(subject_plurals)
{
    static const char *const merged[][2] = {
        {"classics", "classic"},
        {"mysteries", "mystery"},
        {"short-stories", "short story"},
        {"graphic-novels", "graphic novel"},
        {"vampires", "vampire"},
        {"witches", "witch"},
        {"werewolves", "werewolf"},
        {"elves", "elf"},
        {"movies", "movie"},
        {"zombies", "zombie"},
        {"spies", "spy"},
        {"heroes", "hero"},
        {"shoes", "shoe"},
        {"headaches", "headache"},
        {"beaches", "beach"},
        {"boxes", "box"},
        {"princesses", "princess"},
        {"crises", "crisis"},
        {"viruses", "virus"},
        {"horses", "horse"},
        {"comics", "comic"},
        {"dramas", "drama"},
        {"novellas", "novella"},
        {"photos", "photo"},
        {"tattoos", "tattoo"},
        {"fairy-tales", "fairy tale"},
        {"lives", "life"},
        {"dystopias", "dystopia"},
    };
    static const char *const kept[] = {
        "physics",
        "series",
        "mathematics",
        "witness",
        "pres",
        "news",
        "species",
        "economics",
        "politics",
        "christmas",
        "chaos",
        "atlas",
        "analysis",
        "virus",
        "status",
        "campus",
        "bus",
        "gas",
        "kudos",
        "texas",
        "james",
        "charles dickens",
        "sherlock holmes",
        "nicholas sparks",
        "star wars",
        "united states",
        "brothers and sisters",
        "manners and customs",
        "jane austen",
    };
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++)
        ASSERT_EQ_STR(canon(merged[i][0]), merged[i][1]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ASSERT_EQ_STR(canon(kept[i]), kept[i]);
    /* only the last word: the head of the compound */
    ASSERT_EQ_STR(canon("books-about-books"), "books about books");
    ASSERT_EQ_STR(canon("kids-chapter-books"), "kids chapter book");
}

TEST(subject_synonyms)
{
    static const char *const cases[][2] = {
        {"sci-fi", "science fiction"},
        {"scifi", "science fiction"},
        {"science-fiction", "science fiction"},
        {"SF", "science fiction"},
        {"ya", "young adult"},
        {"young-adult-fiction", "young adult"},
        {"Young Adult Fiction", "young adult"},
        {"non-fiction", "nonfiction"},
        {"nonfiction", "nonfiction"},
        {"favourites", "favorite"},
        {"favorites", "favorite"},
        {"childrens", "children"},
        {"children s books", "children"},
        {"Juvenile Fiction", "children"},
        {"Children's stories", "children"},
        {"historical-fiction", "historical fiction"},
        {"hist-fic", "historical fiction"},
        {"Detective and mystery stories", "mystery"},
        {"mystery & detective", "mystery"},
        {"Comics & Graphic Novels", "graphic novel"},
        {"Biography & Autobiography", "biography"},
        {"sci-fi-fantasy", "science fiction and fantasy"},
        {"fantasy-sci-fi", "science fiction and fantasy"},
        {"wwii", "world war ii"},
        {"lgbtq+", "lgbt"},
        {"Fiction / Classics", "classic"},
        {"classic-literature", "classic"},
        {"1001-books-to-read-before-you-die", "1001 books"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_EQ_STR(canon(cases[i][0]), cases[i][1]);
}

TEST(subject_merge_table_stable)
{
    size_t n;
    const br_subject_merge *m = br_subject_merge_table(&n);
    char a[BR_SUBJECT_MAX + 1], b[BR_SUBJECT_MAX + 1];

    ASSERT_OK(br_subject_tables_check());
    ASSERT_CMP_INT(n, >, 100);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(m[i - 1].from, m[i].from) >= 0) {
            br_test_fail(__FILE__, __LINE__, "merge table out of order at \"%s\"", m[i].from);
            return;
        }
        br_subject_reason r1 = br_subject_canon(m[i].from, strlen(m[i].from), a, sizeof a);
        br_subject_reason r2 = br_subject_canon(m[i].to, strlen(m[i].to), b, sizeof b);
        ASSERT_TRUE(r1 == BR_SUBJECT_OK || r1 == BR_SUBJECT_SHELF_TAG);
        ASSERT_EQ_INT(r1, r2);
        ASSERT_EQ_STR(a, m[i].to);
        ASSERT_EQ_STR(b, m[i].to); /* the target is a fixed point */
    }
}

/* canon(canon(x)) == canon(x), with the same reason. */
static int idempotent(const char *raw, size_t len)
{
    char a[BR_SUBJECT_MAX + 1], b[BR_SUBJECT_MAX + 1];
    br_subject_reason r1 = br_subject_canon(raw, len, a, sizeof a);
    if (r1 != BR_SUBJECT_OK && r1 != BR_SUBJECT_SHELF_TAG)
        return 1;
    br_subject_reason r2 = br_subject_canon(a, strlen(a), b, sizeof b);
    if (r1 != r2 || strcmp(a, b) != 0) {
        fprintf(stderr, "    not idempotent: \"%.*s\" -> \"%s\" -> \"%s\"\n", (int)len, raw, a, b);
        return 0;
    }
    return 1;
}

TEST(subject_canon_idempotent)
{
    static const char *const cases[] = {
        "Classics",         "to-read",          "read-in-2015",
        "children-s-books", "The Hunger Games", "Fiction / Classics",
        "a a milne",        "the the classics", "sci-fi-and-fantasy",
        "Fantasies",        "faeries",          "kids",
        "books-i-own",      "five-stars",       "1001-books",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_TRUE(idempotent(cases[i], strlen(cases[i])));
}

/* Random bytes and UTF-8 fragments: no crash (run under the sanitizers), and
 * every accepted result is short, clean and idempotent. */
TEST(subject_canon_random_input)
{
    static const char *const frag[] = {
        "Fantasy",
        "-",
        "_",
        " ",
        "s",
        "'",
        "&",
        "(",
        ")",
        "[",
        "2015",
        "\xc3\xa9",
        "e\xcc\x81",
        "\xe2\x80\x8b",
        "\xe2\x98\x85",
        "\xf0\x9f\x93\x9a",
        "\xff",
        "\xc3",
        "\xd1\x84",
        "ies",
        "the ",
        "and",
        "Classics",
        "read-in-",
        "owned",
        "\xef\xbc\xa1",
        "t",
        "",
    };
    char raw[256], out[BR_SUBJECT_MAX + 1];
    uint64_t rng = 7;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int parts = (int)((rng >> 33) % 12);
        for (int k = 0; k < parts; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            if ((rng >> 60) < 4) { /* a random byte, NUL included */
                raw[len++] = (char)(rng >> 40);
                continue;
            }
            const char *f = frag[(rng >> 33) % (sizeof frag / sizeof frag[0])];
            size_t fl = strlen(f);
            if (len + fl > sizeof raw)
                break;
            memcpy(raw + len, f, fl);
            len += fl;
        }
        br_subject_reason r = br_subject_canon(raw, len, out, sizeof out);
        ASSERT_TRUE((unsigned)r < BR_SUBJECT_REASON_COUNT && r != BR_SUBJECT_RARE);
        if (r != BR_SUBJECT_OK && r != BR_SUBJECT_SHELF_TAG) {
            ASSERT_EQ_STR(out, "");
            continue;
        }
        size_t n = strlen(out);
        ASSERT_TRUE(n > 0 && n <= BR_SUBJECT_MAX && out[0] != ' ' && out[n - 1] != ' ');
        ASSERT_TRUE(strstr(out, "  ") == NULL);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)out[i];
            ASSERT_TRUE(c == ' ' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80);
        }
        ASSERT_TRUE(idempotent(raw, len));
    }
}

TEST(subject_shelf_patterns)
{
    static const char *const shelf[] = {
        "to-read",
        "currently-reading",
        "favorites",
        "owned",
        "books-i-own",
        "kindle",
        "ebook",
        "e-books",
        "library",
        "default",
        "wish-list",
        "to-buy",
        "my-library",
        "re-read",
        "read-in-2015",
        "2016-reads",
        "audiobook",
        "audio-books",
        "book-club",
        "i-own",
        "own-it",
        "5-stars",
        "all-time-favorites",
        "dnf",
        "did-not-finish",
        "read-for-school",
        "rory-gilmore-reading-challenge",
        "classics-to-read",
        "tbr",
        "on-my-kindle",
        "Large type books",
        "school",
        "english",
    };
    static const char *const content[] = {
        "fantasy",
        "read-aloud",
        "high-school",
        "1001-books-to-read-before-you-die",
        "oprah-s-book-club",
        "science fiction",
        "english-literature",
        "childhood",
    };
    for (size_t i = 0; i < sizeof shelf / sizeof shelf[0]; i++) {
        if (reason(shelf[i]) != BR_SUBJECT_SHELF_TAG) {
            br_test_fail(__FILE__, __LINE__, "\"%s\" is not a shelf tag", shelf[i]);
            return;
        }
    }
    for (size_t i = 0; i < sizeof content / sizeof content[0]; i++) {
        if (reason(content[i]) != BR_SUBJECT_OK) {
            br_test_fail(__FILE__, __LINE__, "\"%s\" is not kept", content[i]);
            return;
        }
    }
    ASSERT_EQ_STR(br_subject_shelf_pattern("read in 2015"), "read in *");
    ASSERT_EQ_STR(br_subject_shelf_pattern("2016 read"), "#### read*");
    ASSERT_TRUE(br_subject_shelf_pattern("2016 release") == NULL);
    ASSERT_EQ_STR(canon("owned-books"), "owned");
}

TEST(subject_generic)
{
    ASSERT_TRUE(br_subject_is_generic("fiction"));
    ASSERT_TRUE(br_subject_is_generic("general"));
    ASSERT_TRUE(br_subject_is_generic("nonfiction"));
    ASSERT_TRUE(br_subject_is_generic("literature"));
    ASSERT_TRUE(br_subject_is_generic(canon("Novels")));
    ASSERT_TRUE(br_subject_is_generic(canon("FICTION")));
    ASSERT_TRUE(!br_subject_is_generic("fantasy"));
    ASSERT_TRUE(!br_subject_is_generic("literary fiction"));
    ASSERT_TRUE(!br_subject_is_generic(NULL));
}

static int add(br_subject_vocab *v, int64_t item, const char *raw, double w)
{
    return br_subject_vocab_add(v, item, raw, strlen(raw), w);
}

static br_subject_params params_no_shelf_rule(void)
{
    br_subject_params p;
    br_subject_params_default(&p);
    p.shelf_rounds = 0;
    p.min_books = 1;
    return p;
}

TEST(subject_vocab_basics)
{
    br_subject_vocab *v = NULL;
    const int32_t *ids;
    const float *w;
    size_t n;
    br_subject_params p = params_no_shelf_rule();

    ASSERT_OK(br_subject_vocab_new(&v));
    ASSERT_EQ_INT(br_subject_vocab_item(v, 1, &ids, &w, &n), BR_EINVAL); /* not built */
    ASSERT_OK(add(v, 1, "Fantasy", 10));
    ASSERT_OK(add(v, 1, "fantasy", 5)); /* same subject: weights sum */
    ASSERT_OK(add(v, 1, "Fiction", 100));
    ASSERT_OK(add(v, 1, "to-read", 1000));
    ASSERT_OK(add(v, 1, "2015", 3));
    ASSERT_OK(add(v, 2, "sci-fi", 7));
    ASSERT_OK(add(v, 2, "Science Fiction", 1));
    ASSERT_OK(add(v, 2, "fantasy", 2));
    ASSERT_OK(add(v, 3, "fiction", 1));
    ASSERT_OK(add(v, 3, "", 1));
    ASSERT_EQ_INT(add(v, 3, "fantasy", 0), BR_EINVAL);
    ASSERT_EQ_INT(add(v, 3, "fantasy", -1), BR_EINVAL);
    ASSERT_EQ_INT(add(v, 3, "fantasy", NAN), BR_EINVAL);
    ASSERT_EQ_INT(add(v, 3, "fantasy", INFINITY), BR_EINVAL);
    ASSERT_EQ_INT(br_subject_vocab_add(NULL, 3, "x", 1, 1), BR_EINVAL);
    ASSERT_OK(br_subject_vocab_build(v, &p));

    ASSERT_EQ_INT(br_subject_vocab_size(v), 3);
    ASSERT_EQ_STR(br_subject_vocab_name(v, 0), "fiction"); /* 2 items, weight 101 */
    ASSERT_EQ_STR(br_subject_vocab_name(v, 1), "fantasy"); /* 2 items, weight 17 */
    ASSERT_EQ_STR(br_subject_vocab_name(v, 2), "science fiction");
    ASSERT_EQ_INT(br_subject_vocab_books(v, 1), 2);
    ASSERT_NEAR(br_subject_vocab_weight(v, 1), 17, 1e-9);
    ASSERT_TRUE(br_subject_vocab_generic(v, 0));
    ASSERT_TRUE(br_subject_vocab_name(v, 3) == NULL);
    ASSERT_EQ_INT(br_subject_vocab_id(v, "fantasy"), 1);
    ASSERT_EQ_INT(br_subject_vocab_id(v, "to read"), -1);
    ASSERT_EQ_INT(br_subject_vocab_id(v, "nothing"), -1);
    ASSERT_EQ_INT(br_subject_vocab_items(v), 3);

    ASSERT_OK(br_subject_vocab_item(v, 1, &ids, &w, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], 0); /* fiction 100 */
    ASSERT_EQ_INT(ids[1], 1); /* fantasy 10 + 5 */
    ASSERT_NEAR(w[1], 15, 1e-6);
    ASSERT_EQ_INT(br_subject_vocab_main(v, 1), 1); /* fiction is generic */
    ASSERT_OK(br_subject_vocab_item(v, 2, &ids, &w, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], 2); /* science fiction 8 */
    ASSERT_NEAR(w[0], 8, 1e-6);
    ASSERT_EQ_INT(br_subject_vocab_main(v, 2), 2);
    ASSERT_EQ_INT(br_subject_vocab_main(v, 3), -1); /* only generic */
    ASSERT_EQ_INT(br_subject_vocab_item(v, 99, &ids, &w, &n), BR_ENOENT);
    ASSERT_EQ_INT(br_subject_vocab_main(v, 99), -1);

    ASSERT_EQ_INT(br_subject_vocab_rejected(v, BR_SUBJECT_OK), 7);
    ASSERT_EQ_INT(br_subject_vocab_rejected(v, BR_SUBJECT_SHELF_TAG), 1);
    ASSERT_EQ_INT(br_subject_vocab_rejected(v, BR_SUBJECT_NUMERIC), 1);
    ASSERT_EQ_INT(br_subject_vocab_rejected(v, BR_SUBJECT_EMPTY), 1);
    ASSERT_EQ_INT(br_subject_vocab_shelf_count(v), 1);
    br_subject_info in;
    ASSERT_OK(br_subject_vocab_shelf(v, 0, &in));
    ASSERT_EQ_STR(in.name, "to read");
    ASSERT_EQ_STR(in.pattern, "to read*");
    ASSERT_EQ_INT(in.status, BR_SUBJECT_SHELF_TAG);
    ASSERT_OK(br_subject_vocab_lookup(v, "science fiction", &in));
    ASSERT_EQ_INT(in.raw_forms, 2);
    ASSERT_EQ_INT(in.pairs, 2);
    ASSERT_EQ_INT(br_subject_vocab_lookup(v, "nothing", &in), BR_ENOENT);

    /* adding invalidates the build until the next one */
    ASSERT_OK(add(v, 4, "horror", 1));
    ASSERT_EQ_INT(br_subject_vocab_size(v), 0);
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_EQ_INT(br_subject_vocab_size(v), 4);
    br_subject_vocab_free(v);
    br_subject_vocab_free(NULL);
}

TEST(subject_vocab_size_and_min_books)
{
    br_subject_vocab *v = NULL;
    char name[32];
    br_subject_params p = params_no_shelf_rule();

    ASSERT_OK(br_subject_vocab_new(&v));
    /* subject k is on k items: "topic k" for k = 1..20 */
    for (int k = 1; k <= 20; k++)
        for (int item = 0; item < k; item++) {
            snprintf(name, sizeof name, "topic %c%c", 'a' + k, 'a' + k);
            ASSERT_OK(add(v, item, name, 1));
        }
    p.min_books = 5;
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_EQ_INT(br_subject_vocab_size(v), 16); /* k = 5..20 */
    ASSERT_EQ_INT(br_subject_vocab_books(v, 0), 20);
    ASSERT_EQ_INT(br_subject_vocab_books(v, 15), 5);
    ASSERT_EQ_INT(br_subject_vocab_rejected(v, BR_SUBJECT_RARE), 1 + 2 + 3 + 4);
    p.vocab_size = 3;
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_EQ_INT(br_subject_vocab_size(v), 3);
    ASSERT_EQ_INT(br_subject_vocab_books(v, 2), 18);
    for (size_t id = 1; id < 3; id++)
        ASSERT_TRUE(br_subject_vocab_books(v, id - 1) >= br_subject_vocab_books(v, id));
    p.vocab_size = 0;
    ASSERT_EQ_INT(br_subject_vocab_build(v, &p), BR_EINVAL);
    br_subject_vocab_free(v);
}

/* Ties on items and weight are broken by name. */
TEST(subject_vocab_tie_order)
{
    br_subject_vocab *v = NULL;
    br_subject_params p = params_no_shelf_rule();
    ASSERT_OK(br_subject_vocab_new(&v));
    ASSERT_OK(add(v, 1, "zebras", 2));
    ASSERT_OK(add(v, 2, "apples", 2));
    ASSERT_OK(add(v, 3, "mango", 2));
    ASSERT_OK(add(v, 4, "mango", 1)); /* more items first */
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_EQ_STR(br_subject_vocab_name(v, 0), "mango");
    ASSERT_EQ_STR(br_subject_vocab_name(v, 1), "apple");
    ASSERT_EQ_STR(br_subject_vocab_name(v, 2), "zebra");
    br_subject_vocab_free(v);
}

struct triple {
    int64_t item;
    const char *raw;
    double w;
};

/* A vocabulary's observable state as one string, to compare two builds. */
static void dump(const br_subject_vocab *v, char *buf, size_t cap, const int64_t *items, size_t ni)
{
    size_t o = 0;
    for (size_t id = 0; id < br_subject_vocab_size(v) && o < cap; id++)
        o += (size_t)snprintf(buf + o, cap - o, "%s:%zu:%.17g;", br_subject_vocab_name(v, id),
                              br_subject_vocab_books(v, id), br_subject_vocab_weight(v, id));
    for (size_t i = 0; i < ni && o < cap; i++) {
        const int32_t *ids;
        const float *w;
        size_t n;
        if (br_subject_vocab_item(v, items[i], &ids, &w, &n) != 0)
            continue;
        for (size_t j = 0; j < n && o < cap; j++)
            o += (size_t)snprintf(buf + o, cap - o, "%d=%a,", ids[j], (double)w[j]);
        o += (size_t)snprintf(buf + o, cap - o, "|%lld;",
                              (long long)br_subject_vocab_main(v, items[i]));
    }
}

TEST(subject_vocab_deterministic)
{
    static const struct triple t[] = {
        {5, "Fantasy", 0.1}, {5, "fantasy", 0.2}, {5, "magic", 0.7},    {9, "sci-fi", 3},
        {9, "scifi", 0.3},   {9, "fiction", 1e6}, {-4, "Mystery", 1},   {-4, "crime", 2},
        {7, "fantasy", 0.3}, {7, "MAGIC", 0.1},   {7, "dragons", 0.01}, {5, "FANTASY", 0.4},
        {8, "horror", 1},    {8, "to-read", 99},  {9, "fantasy", 0.05}, {-4, "mysteries", 1},
    };
    size_t n = sizeof t / sizeof t[0];
    int64_t items[] = {5, 9, -4, 7, 8};
    static char a[8192], b[8192];
    br_subject_params p = params_no_shelf_rule();

    for (int pass = 0; pass < 2; pass++) {
        br_subject_vocab *v = NULL;
        ASSERT_OK(br_subject_vocab_new(&v));
        for (size_t i = 0; i < n; i++) {
            const struct triple *x = &t[pass == 0 ? i : n - 1 - i]; /* reversed on pass 1 */
            ASSERT_OK(add(v, x->item, x->raw, x->w));
        }
        ASSERT_OK(br_subject_vocab_build(v, &p));
        dump(v, pass == 0 ? a : b, sizeof a, items, sizeof items / sizeof items[0]);
        br_subject_vocab_free(v);
    }
    ASSERT_EQ_STR(a, b);
}

/* Synthetic catalog: 4 genres of 3 clustered content tags; "bucket" is used
 * by a constant share of every item's readers, "stack" by a constant share
 * on a pseudo-random 40% of the items; "fiction" is on every item too but
 * generic. The data rule must flag bucket and stack and nothing else. */
TEST(subject_shelf_rule_synthetic)
{
    static const char *const genre[4][3] = {
        {"dragons", "magic", "quests"},
        {"detectives", "murder", "police"},
        {"spaceships", "aliens", "robots"},
        {"courtship", "weddings", "regency"},
    };
    br_subject_vocab *v = NULL;
    br_subject_params p;
    br_subject_info in;
    uint64_t rng = 42;

    ASSERT_OK(br_subject_vocab_new(&v));
    for (int64_t item = 0; item < 400; item++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        double readers = 100 + (double)(rng >> 40) / 1000; /* popularity varies */
        int g = (int)(item % 4);
        for (int k = 0; k < 3; k++)
            ASSERT_OK(add(v, item, genre[g][k], readers * (0.3 - 0.08 * k)));
        if (item % 7 == 0) /* a little cross-genre noise */
            ASSERT_OK(add(v, item, genre[(g + 1) % 4][0], readers * 0.05));
        ASSERT_OK(add(v, item, "bucket", readers * 0.5));
        ASSERT_OK(add(v, item, "fiction", readers * 0.4));
        if ((rng >> 20) % 10 < 4)
            ASSERT_OK(add(v, item, "stack", readers * 0.2));
    }
    br_subject_params_default(&p);
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_OK(br_subject_vocab_lookup(v, "bucket", &in));
    ASSERT_EQ_INT(in.status, BR_SUBJECT_SHELF_TAG);
    ASSERT_TRUE(in.pattern == NULL);
    ASSERT_TRUE(in.js < 0.01);
    ASSERT_OK(br_subject_vocab_lookup(v, "stack", &in));
    ASSERT_EQ_INT(in.status, BR_SUBJECT_SHELF_TAG);
    ASSERT_TRUE(in.js < p.shelf_max_js);
    ASSERT_OK(br_subject_vocab_lookup(v, "fiction", &in));
    ASSERT_EQ_INT(in.status, BR_SUBJECT_OK); /* generic: exempt, however low */
    ASSERT_TRUE(in.generic && in.js < p.shelf_max_js);
    for (int g = 0; g < 4; g++)
        for (int k = 0; k < 3; k++) {
            ASSERT_OK(br_subject_vocab_lookup(v, canon(genre[g][k]), &in));
            ASSERT_EQ_INT(in.status, BR_SUBJECT_OK);
            ASSERT_TRUE(in.js > 0.2);
        }
    ASSERT_EQ_INT(br_subject_vocab_shelf_count(v), 2);
    ASSERT_EQ_INT(br_subject_vocab_size(v), 13);

    /* with the data rule off, both stay */
    p.shelf_rounds = 0;
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_TRUE(br_subject_vocab_id(v, "bucket") >= 0);
    ASSERT_TRUE(br_subject_vocab_id(v, "stack") >= 0);
    ASSERT_EQ_INT(br_subject_vocab_shelf_count(v), 0);
    br_subject_vocab_free(v);

    /* presence flags (weight 1, as Open Library subjects) carry no reader
     * shares: the rule does not judge them */
    ASSERT_OK(br_subject_vocab_new(&v));
    for (int64_t item = 0; item < 400; item++) {
        int g = (int)(item % 4);
        for (int k = 0; k < 3; k++)
            ASSERT_OK(add(v, item, genre[g][k], 1));
        ASSERT_OK(add(v, item, "bucket", 1));
    }
    br_subject_params_default(&p);
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_OK(br_subject_vocab_lookup(v, "bucket", &in));
    ASSERT_EQ_INT(in.status, BR_SUBJECT_OK);
    ASSERT_TRUE(isnan(in.js));
    p.shelf_min_weight = 0; /* lifted: a tag on every item, whatever its weights */
    ASSERT_OK(br_subject_vocab_build(v, &p));
    ASSERT_OK(br_subject_vocab_lookup(v, "bucket", &in));
    ASSERT_EQ_INT(in.status, BR_SUBJECT_SHELF_TAG);
    br_subject_vocab_free(v);
}

/* ---- Real data (skipped when ../shared/data is absent) ---- */

#define MAX_TAG_ID 40000

struct gb {
    char **tags; /* tag_id -> name */
    int64_t *book;
    int32_t *tag;
    double *count;
    size_t n;
};

static void gb_free(struct gb *g)
{
    if (g->tags)
        for (size_t i = 0; i < MAX_TAG_ID; i++)
            free(g->tags[i]);
    free(g->tags);
    free(g->book);
    free(g->tag);
    free(g->count);
}

/* Loads goodbooks tags.csv and derived/book_tags_union.csv. Both are plain
 * comma CSV; tag names contain no comma or quote (checked by the loader). */
static int gb_load(const char *dir, struct gb *g)
{
    char path[1024], line[1024];
    size_t cap = 0;
    FILE *f;

    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/goodbooks10k/tags.csv", dir);
    if (!(f = fopen(path, "r")))
        return -1;
    g->tags = calloc(MAX_TAG_ID, sizeof *g->tags);
    if (!g->tags || !fgets(line, sizeof line, f))
        goto fail;
    while (fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        long id = strtol(line, NULL, 10);
        if (!comma || id < 0 || id >= MAX_TAG_ID || strchr(comma + 1, ',') ||
            strchr(comma + 1, '"'))
            goto fail;
        comma[1 + strcspn(comma + 1, "\r\n")] = '\0';
        if (!(g->tags[id] = strdup(comma + 1)))
            goto fail;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/goodbooks10k/derived/book_tags_union.csv", dir);
    if (!(f = fopen(path, "r")) || !fgets(line, sizeof line, f))
        goto fail;
    while (fgets(line, sizeof line, f)) {
        long long book;
        int tag;
        double count;
        if (sscanf(line, "%lld,%d,%lf", &book, &tag, &count) != 3 || tag < 0 || tag >= MAX_TAG_ID ||
            !g->tags[tag])
            goto fail;
        if (g->n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            int64_t *b = realloc(g->book, cap * sizeof *b);
            if (b)
                g->book = b;
            int32_t *t = realloc(g->tag, cap * sizeof *t);
            if (t)
                g->tag = t;
            double *c = realloc(g->count, cap * sizeof *c);
            if (c)
                g->count = c;
            if (!b || !t || !c)
                goto fail;
        }
        g->book[g->n] = book, g->tag[g->n] = tag, g->count[g->n++] = count;
    }
    fclose(f);
    return 0;
fail:
    if (f)
        fclose(f);
    gb_free(g);
    return -1;
}

static int gb_vocab(const struct gb *g, br_subject_vocab **out)
{
    int rc;
    if ((rc = br_subject_vocab_new(out)) != 0)
        return rc;
    for (size_t i = 0; i < g->n; i++) {
        const char *t = g->tags[g->tag[i]];
        if ((rc = br_subject_vocab_add(*out, g->book[i], t, strlen(t), g->count[i])) != 0)
            return rc;
    }
    return 0;
}

/* The top 30 of the real vocabulary: no shelf tag, the main genres present. */
TEST(subject_vocab_real_goodbooks)
{
    const char *dir = br_test_data_dir();
    struct gb g;
    br_subject_vocab *v = NULL;

    if (!dir || gb_load(dir, &g) != 0) {
        fprintf(stderr, "    (skipped: no goodbooks data)\n");
        return;
    }
    double t0 = br_now();
    int rc = gb_vocab(&g, &v);
    if (rc == 0)
        rc = br_subject_vocab_build(v, NULL);
    double secs = br_now() - t0;
    size_t n = g.n;
    gb_free(&g);
    ASSERT_OK(rc);
    size_t size = br_subject_vocab_size(v);
    if (getenv("BR_TEST_VERBOSE")) {
        fprintf(stderr, "    %zu triples, vocabulary %zu, %zu shelf tags, %.3f s\n", n, size,
                br_subject_vocab_shelf_count(v), secs);
        for (size_t id = 0; id < 30 && id < size; id++)
            fprintf(stderr, "    %2zu %-28s %5zu%s\n", id + 1, br_subject_vocab_name(v, id),
                    br_subject_vocab_books(v, id),
                    br_subject_vocab_generic(v, id) ? " generic" : "");
    }
    ASSERT_CMP_INT(size, >=, 800);
    ASSERT_CMP_INT(size, <=, 1000);
    ASSERT_TRUE(secs < 2.0); /* about 0.05 s optimized; sanitizers are slower */

    static const char *const shelf[] = {
        "to-read",      "currently-reading",
        "favorites",    "favourites",
        "owned",        "owned-books",
        "books-i-own",  "kindle",
        "ebook",        "ebooks",
        "library",      "default",
        "wish-list",    "to-buy",
        "my-library",   "my-books",
        "re-read",      "read-in-2015",
        "read-in-2016", "audiobook",
        "audio",        "book-club",
        "i-own",        "abandoned",
        "books",        "school",
        "english",      "all-time-favorites",
        "dnf",          "tbr",
    };
    for (size_t i = 0; i < sizeof shelf / sizeof shelf[0]; i++) {
        int64_t id = br_subject_vocab_id(v, canon(shelf[i]));
        if (id >= 0 && id < 30) {
            br_test_fail(__FILE__, __LINE__, "shelf tag \"%s\" at rank %lld", shelf[i],
                         (long long)id + 1);
            goto out;
        }
    }
    static const char *const genres[] = {
        "fantasy", "romance", "mystery",    "science fiction", "young adult", "historical fiction",
        "classic", "horror",  "nonfiction", "thriller",        "children",    "history",
    };
    for (size_t i = 0; i < sizeof genres / sizeof genres[0]; i++) {
        int64_t id = br_subject_vocab_id(v, genres[i]);
        if (id < 0 || id >= 30) {
            br_test_fail(__FILE__, __LINE__, "genre \"%s\" at rank %lld", genres[i],
                         (long long)id + 1);
            goto out;
        }
    }
    /* generic subjects stay in the vocabulary but are never a main subject */
    ASSERT_TRUE(br_subject_vocab_generic(v, (size_t)br_subject_vocab_id(v, "fiction")));
    ASSERT_EQ_INT(br_subject_vocab_main(v, 1), br_subject_vocab_id(v, "fantasy")); /* HP 6 */
    for (size_t id = 0; id < size; id++)
        ASSERT_TRUE(br_subject_shelf_pattern(br_subject_vocab_name(v, id)) == NULL);
out:
    br_subject_vocab_free(v);
}

/* The data rule alone (no patterns) finds the broad shelf tags of the real
 * catalog and none of the genres (docs/subjects.md has the numbers). */
TEST(subject_shelf_rule_real_goodbooks)
{
    const char *dir = br_test_data_dir();
    struct gb g;
    br_subject_vocab *v = NULL;
    br_subject_params p;
    br_subject_info in;

    if (!dir || gb_load(dir, &g) != 0) {
        fprintf(stderr, "    (skipped: no goodbooks data)\n");
        return;
    }
    int rc = gb_vocab(&g, &v);
    gb_free(&g);
    ASSERT_OK(rc);
    br_subject_params_default(&p);
    p.shelf_patterns = 0;
    ASSERT_OK(br_subject_vocab_build(v, &p));
    static const char *const shelf[] = {
        "to read",      "currently reading", "favorite", "owned", "library",
        "kindle",       "audiobook",         "to buy",   "ebook", "default",
        "read in 2015", "read in 2016",
    };
    for (size_t i = 0; i < sizeof shelf / sizeof shelf[0]; i++) {
        ASSERT_OK(br_subject_vocab_lookup(v, shelf[i], &in));
        if (in.status != BR_SUBJECT_SHELF_TAG) {
            br_test_fail(__FILE__, __LINE__, "\"%s\" not found by the data rule (js %.4f)",
                         shelf[i], in.js);
            goto out;
        }
    }
    /* every subject the data rule flags is also a pattern shelf tag */
    for (size_t i = 0; i < br_subject_vocab_shelf_count(v); i++) {
        ASSERT_OK(br_subject_vocab_shelf(v, i, &in));
        if (!in.pattern) {
            br_test_fail(__FILE__, __LINE__, "data rule flags \"%s\" (js %.4f)", in.name, in.js);
            goto out;
        }
    }
    static const char *const genres[] = {
        "fantasy", "romance", "mystery",   "science fiction", "young adult", "historical fiction",
        "classic", "horror",  "adventure", "humor",           "thriller",
    };
    for (size_t i = 0; i < sizeof genres / sizeof genres[0]; i++) {
        ASSERT_OK(br_subject_vocab_lookup(v, genres[i], &in));
        ASSERT_EQ_INT(in.status, BR_SUBJECT_OK);
        ASSERT_TRUE(in.js > p.shelf_max_js);
    }
out:
    br_subject_vocab_free(v);
}

/* Every real tag name is idempotent under canonicalization. */
TEST(subject_canon_idempotent_real_tags)
{
    const char *dir = br_test_data_dir();
    char path[1024], line[1024];
    FILE *f;
    size_t n = 0;

    if (!dir) {
        fprintf(stderr, "    (skipped: no data)\n");
        return;
    }
    snprintf(path, sizeof path, "%s/goodbooks10k/tags.csv", dir);
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "    (skipped: no goodbooks data)\n");
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        if (!comma)
            continue;
        size_t len = strcspn(comma + 1, "\r\n");
        if (!idempotent(comma + 1, len)) {
            fclose(f);
            ASSERT_TRUE(0);
        }
        n++;
    }
    fclose(f);
    ASSERT_CMP_INT(n, >, 30000);
}
