/* Tests of lib/data/text.c: UTF-8 validation, cp1252/latin-1 conversion,
 * HTML entities, whitespace, and the title and author match keys. */
#include "harness.h"

#include "bookrec/text.h"

#include <stdlib.h>

#define VALID(lit) br_utf8_valid((lit), sizeof(lit) - 1)

TEST(text_utf8_valid)
{
    ASSERT_TRUE(VALID(""));
    ASSERT_TRUE(VALID("plain ascii text that is longer than eight bytes"));
    ASSERT_TRUE(VALID("caf\xc3\xa9 \xe2\x80\x99 \xf0\x9f\x93\x9a \xf4\x8f\xbf\xbf"));
    ASSERT_TRUE(VALID("a\0b"));              /* NUL is ASCII */
    ASSERT_TRUE(!VALID("\xc0\x80"));         /* overlong NUL */
    ASSERT_TRUE(!VALID("\xc1\xbf"));         /* overlong */
    ASSERT_TRUE(!VALID("\xe0\x80\x80"));     /* overlong 3-byte */
    ASSERT_TRUE(!VALID("\xf0\x80\x80\x80")); /* overlong 4-byte */
    ASSERT_TRUE(!VALID("\xed\xa0\x80"));     /* surrogate U+D800 */
    ASSERT_TRUE(!VALID("\xf4\x90\x80\x80")); /* above U+10FFFF */
    ASSERT_TRUE(!VALID("\xf5\x80\x80\x80"));
    ASSERT_TRUE(!VALID("\x80"));         /* lone continuation */
    ASSERT_TRUE(!VALID("caf\xe9"));      /* latin-1 */
    ASSERT_TRUE(!VALID("abcdefgh\xc3")); /* truncated after the fast path */
    ASSERT_TRUE(!VALID("\xe2\x80"));
    ASSERT_TRUE(VALID("\xed\x9f\xbf")); /* U+D7FF */
    /* Never reads past len: the bad byte after it does not count. */
    ASSERT_TRUE(br_utf8_valid("ok\xff", 2));
    ASSERT_TRUE(!br_utf8_valid("\xc3\xa9", 1));
}

TEST(text_latin1_to_utf8)
{
    char out[64];
    ASSERT_EQ_INT(br_latin1_to_utf8("caf\xe9", 4, out), 5);
    ASSERT_EQ_STR(out, "caf\xc3\xa9");
    br_latin1_to_utf8("it\x92s \x80 \x96 \x9c \xff \x81", 14, out);
    ASSERT_EQ_STR(out, "it\xe2\x80\x99s \xe2\x82\xac \xe2\x80\x93 \xc5\x93 \xc3\xbf \xc2\x81");
    ASSERT_EQ_INT(br_latin1_to_utf8("", 0, out), 0);
    ASSERT_EQ_STR(out, "");

    /* Every byte maps to valid UTF-8 within the documented 3*len+1. */
    char all[256], big[3 * 256 + 1];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    size_t n = br_latin1_to_utf8(all, 256, big);
    ASSERT_TRUE(n <= 3 * 256);
    ASSERT_TRUE(br_utf8_valid(big, n));
}

static char g_buf[256];

static const char *unesc(const char *s)
{
    size_t len = strlen(s);
    memcpy(g_buf, s, len + 1);
    size_t n = br_html_unescape(g_buf, len);
    g_buf[n] = '\0';
    return g_buf;
}

TEST(text_html_unescape)
{
    ASSERT_EQ_STR(unesc("Angels &amp; Demons"), "Angels & Demons");
    ASSERT_EQ_STR(unesc("&lt;b&gt; &quot;x&quot; &apos;y&#39;"), "<b> \"x\" 'y'");
    ASSERT_EQ_STR(unesc("Ren&eacute;e Garc&iacute;a M&Aacute;rquez &szlig;&AElig;"),
                  "Ren\xc3\xa9"
                  "e Garc\xc3\xad"
                  "a M\xc3\x81rquez \xc3\x9f\xc3\x86");
    ASSERT_EQ_STR(unesc("a&nbsp;b&shy;c"), "a bc");
    ASSERT_EQ_STR(unesc("&#233;&#xE9;&#XE9;&#146;&#x1F4DA;"),
                  "\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\x99\xf0\x9f\x93\x9a");
    ASSERT_EQ_STR(unesc("&amp;amp;"), "&amp;"); /* one level only */
    /* Unknown or malformed: left alone. */
    ASSERT_EQ_STR(unesc("AT&T &foo; &eacute &#; &#x; &#0; &#xD800; &#x110000; &#12345678;"),
                  "AT&T &foo; &eacute &#; &#x; &#0; &#xD800; &#x110000; &#12345678;");
    ASSERT_EQ_STR(unesc("&"), "&");
    ASSERT_EQ_STR(unesc("x&am"), "x&am");
    ASSERT_EQ_STR(unesc(""), "");
    /* The length bounds the work, not a NUL. */
    char s[] = "&amp;&amp;";
    ASSERT_EQ_INT(br_html_unescape(s, 5), 1);
    ASSERT_EQ_INT(s[0], '&');
}

static const char *squash(const char *s)
{
    size_t len = strlen(s);
    memcpy(g_buf, s, len + 1);
    g_buf[br_text_squash(g_buf, len)] = '\0';
    return g_buf;
}

TEST(text_squash_and_streq)
{
    ASSERT_EQ_STR(squash("  a \t b\r\n\nc  "), "a b c");
    ASSERT_EQ_STR(squash("\t \n"), "");
    ASSERT_EQ_STR(squash("abc"), "abc");
    ASSERT_TRUE(br_streq_ci("NULL", 4, "null"));
    ASSERT_TRUE(br_streq_ci("n/A", 3, "N/a"));
    ASSERT_TRUE(!br_streq_ci("nul", 3, "null"));
    ASSERT_TRUE(!br_streq_ci("nulls", 5, "null"));
    ASSERT_TRUE(br_streq_ci("", 0, ""));
}

static char g_key[256];

static const char *tkey(const char *t)
{
    br_title_key(t, g_key, sizeof g_key);
    return g_key;
}

static const char *akey(const char *a)
{
    br_author_key(a, g_key, sizeof g_key);
    return g_key;
}

TEST(text_title_key)
{
    ASSERT_EQ_STR(tkey("The Hunger Games (The Hunger Games, #1)"), "hunger games");
    ASSERT_EQ_STR(tkey("Harry Potter and the Sorcerer's Stone (Book 1)"),
                  "harry potter and the sorcerers stone");
    ASSERT_EQ_STR(tkey("Harry Potter and the Sorcerer's Stone (Harry Potter, #1)"),
                  "harry potter and the sorcerers stone");
    ASSERT_EQ_STR(tkey("Harry Potter and the Sorcerer\xe2\x80\x99s Stone"),
                  "harry potter and the sorcerers stone");
    ASSERT_EQ_STR(tkey("harry potter and the sorcerer's stone (harry potter (paperback))"),
                  "harry potter and the sorcerers stone");
    ASSERT_EQ_STR(tkey("COAST ROAD : A NOVEL"), "coast road");
    ASSERT_EQ_STR(tkey("A Sorcerer's Treason: A Novel of Isavalta"), "sorcerers treason");
    ASSERT_EQ_STR(tkey("Angels & Demons"), "angels and demons");
    ASSERT_EQ_STR(tkey("Angels &amp; Demons"), "angels and demons");
    ASSERT_EQ_STR(tkey("Two Princesses of Bamarre, The"), "two princesses of bamarre");
    ASSERT_EQ_STR(tkey("An Equal Music"), "equal music");
    ASSERT_EQ_STR(tkey("A"), "a");
    ASSERT_EQ_STR(tkey("The"), "the");
    ASSERT_EQ_STR(tkey("Theory of Everything"), "theory of everything");
    ASSERT_EQ_STR(tkey("Cien a\xc3\xb1os de soledad [Spanish] {x}"), "cien anos de soledad");
    ASSERT_EQ_STR(tkey("\xc3\x89tude \xc3\xa0 la Stra\xc3\x9f"
                       "e \xc3\x98rsted \xc5\x81\xc3\xb3"
                       "d\xc5\xba \xc5\x92uvre"),
                  "etude a la strasse orsted lodz oeuvre");
    ASSERT_EQ_STR(tkey("Caf\xe9 Society"), "cafe society"); /* undecoded latin-1 */
    ASSERT_EQ_STR(tkey("\xc6\x92oo\xef\xbc\x81"
                       "bar"),
                  "foo bar");                                    /* ƒ, fullwidth ! */
    ASSERT_EQ_STR(tkey("Cafe\xcc\x81 Society"), "cafe society"); /* combining accent */
    ASSERT_EQ_STR(tkey("Spider-Man/Batman: Round 2"), "spider man batman");
    ASSERT_EQ_STR(tkey("  \"Quoted\"   --  Title!!  "), "quoted title");
    ASSERT_EQ_STR(
        tkey("\xd0\x92\xd0\xbe\xd0\xb9\xd0\xbd\xd0\xb0 \xd0\xb8 \xd0\xbc\xd0\xb8\xd1\x80"),
        "\xd0\x92\xd0\xbe\xd0\xb9\xd0\xbd\xd0\xb0 \xd0\xb8 \xd0\xbc\xd0\xb8\xd1\x80");
    /* Rules that would leave nothing are dropped. */
    ASSERT_EQ_STR(tkey("(Untitled)"), "untitled");
    ASSERT_EQ_STR(tkey(": The Beginning"), "beginning");
    ASSERT_EQ_STR(tkey("Unbalanced (paren"), "unbalanced");
    ASSERT_EQ_STR(tkey("closing) only"), "closing only");
    ASSERT_EQ_STR(tkey(""), "");
    ASSERT_EQ_STR(tkey("!!!"), "");
    ASSERT_EQ_INT(br_title_key(NULL, g_key, sizeof g_key), 0);
}

TEST(text_title_key_bounded)
{
    char small[8];
    ASSERT_EQ_INT(br_title_key("Harry Potter", small, sizeof small), 7);
    ASSERT_EQ_STR(small, "harry p");
    ASSERT_EQ_INT(br_title_key("Harry Potter", small, 7), 5); /* no trailing space */
    ASSERT_EQ_STR(small, "harry");
    ASSERT_EQ_INT(br_title_key("abc\xc3\xa6\xc3\xa6", small, 6), 5); /* "ae" fits whole */
    ASSERT_EQ_STR(small, "abcae");
    ASSERT_EQ_INT(br_title_key("ab \xd0\x92\xd0\x92", small, 5), 2); /* never half of a char */
    ASSERT_EQ_STR(small, "ab");
    ASSERT_EQ_INT(br_title_key("x", small, 1), 0);
    ASSERT_EQ_STR(small, "");
    ASSERT_EQ_INT(br_title_key("x", NULL, 0), 0);

    /* A long title fills the key and stops. */
    char *t = malloc(100001);
    ASSERT_TRUE(t != NULL);
    for (int i = 0; i < 100000; i++)
        t[i] = (char)("ab c"[i % 4]);
    t[100000] = '\0';
    ASSERT_EQ_INT(br_title_key(t, g_key, sizeof g_key), sizeof g_key - 1 - 1);
    free(t);
}

TEST(text_author_key)
{
    ASSERT_EQ_STR(akey("Suzanne Collins"), "collins");
    ASSERT_EQ_STR(akey("Tolkien, J.R.R."), "tolkien");
    ASSERT_EQ_STR(akey("J. K. Rowling"), "rowling");
    ASSERT_EQ_STR(akey("J.K. Rowling, Mary GrandPr\xc3\xa9"), "rowling");
    ASSERT_EQ_STR(akey("J.K. Rowling, Mary GrandPr\xc3\xa9, Rufus Beck"), "rowling");
    ASSERT_EQ_STR(akey("Rowling, J. K."), "rowling");
    ASSERT_EQ_STR(akey("JOHN GRISHAM"), "grisham");
    ASSERT_EQ_STR(akey("Martin Luther King Jr."), "king");
    ASSERT_EQ_STR(akey("Martin Luther King, Jr."), "king");
    ASSERT_EQ_STR(akey("Henry Louis Gates III"), "gates");
    ASSERT_EQ_STR(akey("Stephen King and Peter Straub"), "king");
    ASSERT_EQ_STR(akey("Stephen King & Peter Straub"), "king");
    ASSERT_EQ_STR(akey("King; Straub"), "king");
    ASSERT_EQ_STR(akey("Gabriel Garc\xc3\xad"
                       "a M\xc3\xa1rquez"),
                  "marquez");
    ASSERT_EQ_STR(akey("Ursula K. Le Guin"), "guin");
    ASSERT_EQ_STR(akey("Le Guin, Ursula K."), "guin");
    ASSERT_EQ_STR(akey("Mary Higgins-Clark"), "clark");
    ASSERT_EQ_STR(akey("Mary Higgins Clark"), "clark");
    ASSERT_EQ_STR(akey("Patrick O'Brian"), "obrian");
    ASSERT_EQ_STR(akey("Dr. Seuss"), "seuss");
    ASSERT_EQ_STR(akey("Seuss, Dr."), "seuss");
    ASSERT_EQ_STR(akey("Rowling J.K."), "rowling");
    ASSERT_EQ_STR(akey("Stephen King (Editor)"), "king");
    ASSERT_EQ_STR(akey("Andrews, V.C."), "andrews");
    ASSERT_EQ_STR(akey("Virginia Andrews"), "andrews");
    ASSERT_EQ_STR(akey("Ren\xe9"
                       "e Dupont"),
                  "dupont");
    ASSERT_EQ_STR(akey("Homer"), "homer");
    ASSERT_EQ_STR(akey("Malcolm X"), "malcolm");
    ASSERT_EQ_STR(akey("Sl\xc3\xa1vek \xc5\xbdi\xc5\xbe"
                       "ek"),
                  "zizek");
    ASSERT_EQ_STR(akey(", , Smith"), "smith");
    ASSERT_EQ_STR(akey("and"), "and");
    ASSERT_EQ_STR(akey("X"), "x");    /* only an initial */
    ASSERT_EQ_STR(akey("Jr."), "jr"); /* only a suffix */
    ASSERT_EQ_STR(akey("X Jr."), "x");
    ASSERT_EQ_INT(br_author_key("", g_key, sizeof g_key), 0);
    ASSERT_EQ_INT(br_author_key(" ,;&. ", g_key, sizeof g_key), 0);
    ASSERT_EQ_STR(g_key, "");
    ASSERT_EQ_INT(br_author_key(NULL, g_key, sizeof g_key), 0);

    char small[4];
    ASSERT_EQ_INT(br_author_key("Suzanne Collins", small, sizeof small), 3);
    ASSERT_EQ_STR(small, "col");
    ASSERT_EQ_INT(br_author_key("Suzanne Collins", NULL, 0), 0);
}

TEST(text_keys_match_across_sources)
{
    /* The pairs the BX-to-goodbooks matcher relies on. */
    char a[128], b[128];
    br_title_key("Harry Potter and the Sorcerer's Stone (Book 1)", a, sizeof a);
    br_title_key("Harry Potter and the Sorcerer's Stone (Harry Potter, #1)", b, sizeof b);
    ASSERT_EQ_STR(a, b);
    br_author_key("J. K. Rowling", a, sizeof a);
    br_author_key("J.K. Rowling, Mary GrandPr\xc3\xa9", b, sizeof b);
    ASSERT_EQ_STR(a, b);
    br_title_key("The Fellowship of the Ring (The Lord of the Rings, Part 1)", a, sizeof a);
    br_title_key("The Fellowship of the Ring (The Lord of the Rings, #1)", b, sizeof b);
    ASSERT_EQ_STR(a, b);
    br_author_key("TOLKIEN, J.R.R.", a, sizeof a);
    br_author_key("J.R.R. Tolkien", b, sizeof b);
    ASSERT_EQ_STR(a, b);
}
