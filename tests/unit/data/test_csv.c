/* Tests of lib/data/csv.c: the dialect (separators, line ends, quoting, the
 * Book-Crossing leniencies), encoding, limits and their recovery, file input
 * across chunk borders, and, when the real data is present, record counts. */
#include "harness.h"

#include "bookrec/csv.h"
#include "bookrec/error.h"
#include "bookrec/text.h"

#include <stdio.h>
#include <stdlib.h>

/* Renders every row of a reader as "f1|f2|f3\n" and every skipped record as
 * "!<line>\n", so a test can compare the whole parse with one string. */
static int dump_reader(br_csv *c, char *out, size_t cap)
{
    br_csv_row row;
    size_t n = 0;
    int rc;

    out[0] = '\0';
    while ((rc = br_csv_next(c, &row)) != 0) {
        if (rc == BR_ELIMIT) {
            n += (size_t)snprintf(out + n, cap - n, "!%llu\n", (unsigned long long)row.line);
        } else if (rc < 0) {
            return rc;
        } else {
            for (size_t i = 0; i < row.nfields; i++)
                n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", row.fields[i]);
            n += (size_t)snprintf(out + n, cap - n, "\n");
        }
        if (n >= cap)
            return BR_ELIMIT;
    }
    return 0;
}

static char g_dump[8192];

/* Parses s (a C string) from memory with the given separator and limits. */
static const char *parse(const char *s, char sep, size_t max_field, size_t max_record,
                         size_t max_fields)
{
    br_csv_opts o = {sep, max_field, max_record, max_fields};
    br_csv *c;
    if (br_csv_open_mem(s, strlen(s), &o, &c) != 0)
        return "(open failed)";
    int rc = dump_reader(c, g_dump, sizeof g_dump);
    br_csv_free(c);
    return rc ? "(read failed)" : g_dump;
}

#define P(s) parse((s), 0, 0, 0, 0)
#define PS(s, sep) parse((s), (sep), 0, 0, 0)

TEST(csv_fields_lines_records)
{
    const char *s = "a,bb,\n\"x\",y,z\n";
    br_csv *c;
    br_csv_row row;

    ASSERT_OK(br_csv_open_mem(s, strlen(s), NULL, &c));
    ASSERT_EQ_INT(br_csv_sep(c), 0);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(br_csv_sep(c), ',');
    ASSERT_EQ_INT(row.nfields, 3);
    ASSERT_EQ_STR(row.fields[0], "a");
    ASSERT_EQ_STR(row.fields[1], "bb");
    ASSERT_EQ_STR(row.fields[2], "");
    ASSERT_EQ_INT(row.lens[1], 2);
    ASSERT_EQ_INT(row.lens[2], 0);
    ASSERT_EQ_INT(row.line, 1);
    ASSERT_EQ_INT(row.record, 1);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "x");
    ASSERT_EQ_INT(row.line, 2);
    ASSERT_EQ_INT(row.record, 2);
    ASSERT_EQ_INT(br_csv_next(c, &row), 0);
    ASSERT_EQ_INT(br_csv_next(c, &row), 0); /* stays at the end */
    ASSERT_EQ_INT(br_csv_get_stats(c)->records, 2);
    ASSERT_EQ_INT(br_csv_get_stats(c)->bytes, strlen(s));
    ASSERT_EQ_INT(br_csv_size(c), strlen(s));
    br_csv_free(c);
    br_csv_free(NULL);
}

TEST(csv_detects_separator)
{
    br_csv *c;
    br_csv_row row;
    const struct {
        const char *in;
        char sep;
    } cases[] = {
        {"\"276725\";\"034545104X\";\"0\"\r\n", ';'},
        {"User-ID,Location,Age\n", ','},
        {"id\tname\tx,y\n", '\t'},
        {"a|b|c\n", '|'},
        {"\"a;b;c;d\",e,f\n", ','}, /* separators inside quotes do not count */
        {"a;b,c\n", ';'},           /* a tie goes to ';' */
        {"single\n", ','},          /* one column */
        {"\"x;y,z,w\n", ','},       /* unbalanced quote: counted without quotes */
        {"\n\n\na;b\n", ';'},       /* blank lines first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_OK(br_csv_open_mem(cases[i].in, strlen(cases[i].in), NULL, &c));
        ASSERT_TRUE(br_csv_next(c, &row) != 0);
        ASSERT_EQ_INT(br_csv_sep(c), cases[i].sep);
        br_csv_free(c);
    }
    /* A given separator is used as is. */
    ASSERT_EQ_STR(PS("a;b,c\n", ','), "a;b|c\n");
}

TEST(csv_line_ends)
{
    ASSERT_EQ_STR(P("a,b\nc,d\n"), "a|b\nc|d\n");
    ASSERT_EQ_STR(P("a,b\r\nc,d\r\n"), "a|b\nc|d\n");
    ASSERT_EQ_STR(P("a,b\rc,d\r"), "a|b\nc|d\n");
    ASSERT_EQ_STR(P("a,b\rc,d\r\ne,f\ng,h"), "a|b\nc|d\ne|f\ng|h\n");
    /* Blank lines are skipped; a line of separators is a record. */
    ASSERT_EQ_STR(P("a,b\n\n\r\n\r\r,\nc,d"), "a|b\n|\nc|d\n");
    ASSERT_EQ_STR(P(""), "");
    ASSERT_EQ_STR(P("\n\r\n"), "");

    /* Line numbers count every kind of line end, inside quotes too. */
    const char *s = "h\r\n\r\n\"x\ny\"\rz\n\nw";
    br_csv *c;
    br_csv_row row;
    ASSERT_OK(br_csv_open_mem(s, strlen(s), NULL, &c));
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.line, 1);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.line, 3);
    ASSERT_EQ_STR(row.fields[0], "x\ny");
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.line, 5);
    ASSERT_EQ_STR(row.fields[0], "z");
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.line, 7);
    ASSERT_EQ_INT(row.record, 4);
    ASSERT_EQ_INT(br_csv_next(c, &row), 0);
    br_csv_free(c);
}

TEST(csv_rfc_quoting)
{
    ASSERT_EQ_STR(P("\"a,b\",\"c\"\"d\",\"\"\n"), "a,b|c\"d|\n");
    ASSERT_EQ_STR(P("\"multi\nline\r\nfield\",x\n"), "multi\nline\r\nfield|x\n");
    ASSERT_EQ_STR(P("\"\"\"q\"\"\",1\n"), "\"q\"|1\n"); /* cyadusha's """ISBN""" */
    ASSERT_EQ_STR(P("a\"b,c\"\n"), "a\"b|c\"\n");       /* quotes in unquoted fields */
    ASSERT_EQ_STR(P(" \"a\",b\n"), " \"a\"|b\n");       /* not first byte: not quoted */
    ASSERT_EQ_STR(P("a,\n"), "a|\n");
    ASSERT_EQ_STR(P("a,"), "a|\n");
    ASSERT_EQ_STR(P("a,\"b"), "a|b\n");               /* unterminated at the end of input */
    ASSERT_EQ_STR(P("a,\"b\nc,d\n"), "a|b\nc,d\n\n"); /* the LF is data */
    ASSERT_EQ_STR(P("x,\"end\""), "x|end\n");
    ASSERT_EQ_STR(P(" a , b \n"), " a | b \n"); /* no trimming */
}

TEST(csv_bookcrossing_leniency)
{
    /* A quote closes only before a separator, a line end or the end. */
    ASSERT_EQ_STR(PS("\"Blood Music\" \";\"Greg\"\n", ';'), "Blood Music\" |Greg\n");
    ASSERT_EQ_STR(PS("\"a \"b\" c\";d\n", ';'), "a \"b\" c|d\n");
    /* The dump's backslash escapes. */
    ASSERT_EQ_STR(PS("\"Story \\\"Smoke\\\" (Easy)\";x\n", ';'), "Story \"Smoke\" (Easy)|x\n");
    ASSERT_EQ_STR(PS("\"\\\"Smoke\\\"\";x\n", ';'), "\"Smoke\"|x\n");
    ASSERT_EQ_STR(PS("\"\\\"Smoke\\\"\"\r\n", ';'), "\"Smoke\"\n");
    ASSERT_EQ_STR(PS("\"\\\"Smoke\\\"\"", ';'), "\"Smoke\"\n");
    /* "...Readers)\";" keeps the next field in its place. */
    ASSERT_EQ_STR(PS("\"Readers)\\\";\"Author\";\"2000\"\n", ';'), "Readers)\\|Author|2000\n");
    ASSERT_EQ_STR(PS("\"a\\b\\\\\";c\n", ';'), "a\\b\\\\|c\n");
    /* RFC re-exports of values that held \" (Users.csv, books_union.csv). */
    ASSERT_EQ_STR(P("1,\"aarhus, \\n/a\\\"\", denmark\"\"\",\n"),
                  "1|aarhus, \\n/a\\\", denmark\"|\n");
    ASSERT_EQ_STR(P("2,\"lisbon, \\n/a\\\"\",\"\"\",41.0\n3,x,\n"),
                  "2|lisbon, \\n/a\\\",\"|41.0\n3|x|\n");
    ASSERT_EQ_STR(P("3,\"am, \\\\\"\"n/a\\\"\", nl\"\"\",\n"), "3|am, \\\\\"n/a\\\", nl\"|\n");
    ASSERT_EQ_STR(PS("\"\\Girls\\\"\"/\\\"\"Boys\\\"\"\"\"\";G\n", ';'),
                  "\\Girls\\\"/\\\"Boys\\\"\"|G\n");
    /* Backslash at the end of input. */
    ASSERT_EQ_STR(PS("\"a\\", ';'), "a\\\n");
    ASSERT_EQ_STR(PS("\"a\\\"", ';'), "a\\\n");
    ASSERT_EQ_STR(PS("\"a\\\"\"", ';'), "a\\\"\n");
}

TEST(csv_latin1_records_converted)
{
    /* 0xE9 = é, 0x92 = ’ (cp1252), 0x96 = – ; the UTF-8 record is kept. */
    const char *s = "caf\xe9;it\x92s \x96 ok\n"
                    "caf\xc3\xa9;ok\n"
                    "\xc3\xa9 and \xe9;x\n";
    br_csv *c;
    br_csv_row row;
    ASSERT_OK(br_csv_open_mem(s, strlen(s), NULL, &c));
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "caf\xc3\xa9");
    ASSERT_EQ_STR(row.fields[1], "it\xe2\x80\x99s \xe2\x80\x93 ok");
    ASSERT_EQ_INT(row.lens[1], 13);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "caf\xc3\xa9");
    /* A record mixing UTF-8 and latin-1 is not valid UTF-8: read as cp1252. */
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "\xc3\x83\xc2\xa9 and \xc3\xa9");
    ASSERT_TRUE(br_utf8_valid(row.fields[0], row.lens[0]));
    ASSERT_EQ_INT(br_csv_next(c, &row), 0);
    ASSERT_EQ_INT(br_csv_get_stats(c)->converted_latin1, 2);
    br_csv_free(c);
}

TEST(csv_bom_and_nul)
{
    ASSERT_EQ_STR(P("\xef\xbb\xbf"
                    "a;b\n"),
                  "a|b\n");
    ASSERT_EQ_STR(P("\xef\xbb\xbf"), "");

    static const char s[] = "a\0b,c\n";
    br_csv *c;
    br_csv_row row;
    ASSERT_OK(br_csv_open_mem(s, sizeof s - 1, NULL, &c));
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.lens[0], 3);
    ASSERT_TRUE(memcmp(row.fields[0], "a\0b", 4) == 0);
    br_csv_free(c);
}

TEST(csv_limits_skip_and_continue)
{
    /* max_field: the record is skipped and reported with its line. */
    ASSERT_EQ_STR(parse("a,b\nabcdef,x\nc,d\n", 0, 5, 0, 0), "a|b\n!2\nc|d\n");
    /* max_fields */
    ASSERT_EQ_STR(parse("a,b\n1,2,3,4\nc,d\n", 0, 0, 0, 3), "a|b\n!2\nc|d\n");
    ASSERT_EQ_STR(parse("1,2,3\n", 0, 0, 0, 3), "1|2|3\n");
    /* max_record counts raw bytes without the line end. */
    ASSERT_EQ_STR(parse("12345\r\n123456\r\nab\r\n", 0, 0, 5, 0), "12345\n!2\nab\n");
    ASSERT_EQ_STR(parse("123456", 0, 0, 5, 0), "!1\n");
    /* An unbalanced quote: skipped through its first line, then reading goes
     * on (with the default limits it would have swallowed the rest). */
    ASSERT_EQ_STR(P("id;t\n1;\"Half\" q;x\n2;b\n"), "id|t\n1|Half\" q;x\n2;b\n\n");
    ASSERT_EQ_STR(parse("id;t\n1;\"Half\" quoted;x\n2;b\n3;c\n", 0, 10, 0, 0),
                  "id|t\n!2\n2|b\n3|c\n");
    ASSERT_EQ_STR(parse("id;t\n1;\"Half\" q\n2;b\n3;c\n4;d\n", 0, 0, 12, 0),
                  "id|t\n!2\n2|b\n3|c\n4|d\n");
    /* max_field applies after decoding: 4 latin-1 bytes become 8. */
    ASSERT_EQ_STR(parse("\xe9\xe9\xe9\xe9,x\n\xc3\xa9,y\n", 0, 6, 0, 0), "!1\n\xc3\xa9|y\n");

    br_csv_opts o = {.max_field = 2};
    br_csv *c;
    br_csv_row row;
    const char *s = "abc\nd\n";
    ASSERT_OK(br_csv_open_mem(s, strlen(s), &o, &c));
    ASSERT_EQ_INT(br_csv_next(c, &row), BR_ELIMIT);
    ASSERT_EQ_INT(row.line, 1);
    ASSERT_EQ_INT(row.nfields, 0);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "d");
    ASSERT_EQ_INT(row.line, 2);
    ASSERT_EQ_INT(row.record, 1);
    ASSERT_EQ_INT(br_csv_get_stats(c)->skipped_limit, 1);
    br_csv_free(c);
}

TEST(csv_open_errors)
{
    br_csv *c = (br_csv *)1;
    br_csv_opts bad = {.sep = '"'};
    ASSERT_EQ_INT(br_csv_open_mem("a", 1, &bad, &c), BR_EINVAL);
    ASSERT_TRUE(c == NULL);
    bad.sep = '\n';
    ASSERT_EQ_INT(br_csv_open_mem("a", 1, &bad, &c), BR_EINVAL);
    br_csv_opts big = {.max_record = (size_t)1 << 31};
    ASSERT_EQ_INT(br_csv_open_mem("a", 1, &big, &c), BR_EINVAL);
    ASSERT_EQ_INT(br_csv_open_mem(NULL, 1, NULL, &c), BR_EINVAL);
    ASSERT_OK(br_csv_open_mem(NULL, 0, NULL, &c));
    br_csv_free(c);
    ASSERT_EQ_INT(br_csv_open_file(br_test_fixture("csv/no-such-file.csv"), NULL, &c), BR_ENOENT);
    ASSERT_EQ_INT(br_csv_open_file(br_test_tmpdir(), NULL, &c), BR_EINVAL);
}

/* Reads a file and returns its dump (in g_dump). */
static const char *parse_file(const char *path, const br_csv_opts *o)
{
    br_csv *c;
    if (br_csv_open_file(path, o, &c) != 0)
        return "(open failed)";
    int rc = dump_reader(c, g_dump, sizeof g_dump);
    br_csv_free(c);
    return rc ? "(read failed)" : g_dump;
}

TEST(csv_fixtures)
{
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/bx_dump.csv"), NULL),
                  "ISBN|Book-Title|Book-Author|Year-Of-Publication|Publisher\n"
                  "0000000011|Caf\xc3\xa9 Stories \xe2\x80\x93 Part One|Ren\xc3\xa9"
                  "e Dupont|"
                  "1999|Maison \"Bleue\"\n"
                  "0000000022|The Story \"Smoke\" (Easy Tales)|A. Writer|2001|Pocket\n"
                  "0000000033|Learn It (Level 4: Readers)\\|Sam Teller|2000|DK Press\n"
                  "0000000044|Green Music\" |Gail Bearn|1991|Ace\n"
                  "0000000055|It\xe2\x80\x99s \"Quoted\"|Someone|1990|X &amp; Y\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/users_comma.csv"), NULL),
                  "User-ID|Location|Age\n"
                  "1|springfield, oregon, usa|\n"
                  "2|lakeside\n, ontario, canada|34.0\n"
                  "3|north bay, \\n/a\\\", canada\"|\n"
                  "4|porto, \\n/a\\\",\"|41.0\n"
                  "5|caf\xc3\xa9 town, x, france|17.0\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/mac_cr.csv"), NULL),
                  "User-ID|ISBN|Book-Rating\n9001|\"012345678X\"|0\n9002|\"0987654321\"|5\n"
                  "||\n||\n9003|\"1111111111\"|10\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/semicolon_latin1.csv"), NULL),
                  "0|1|2|3\n0000000101|Le Gar\xc3\xa7on|Fran\xc3\xa7ois Auteur|1985\n"
                  "0000000102|Plain Title|Plain Author|2001\n"
                  "0000000103|Half \"quoted\"|Q. Writer|1999\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/goodbooks_like.csv"), NULL),
                  "book_id|isbn|authors|title|average_rating\n"
                  "1|000000001X|A.B. Writer, C. Helper|The Long Road (Road Tales, #1)|4.21\n"
                  "2|000000002X|D. Solo|Commas, Quotes \"and\" More|3.90\n"
                  "3||E. Empty|Untitled|\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/descriptions_like.csv"), NULL),
                  "isbn13|title|description\n"
                  "9780000000011|First|Line one of the description.\nLine two, with a "
                  "comma.\n\nA blank line above and \"quotes\" here.\n"
                  "9780000000028|Second|Short.\n");
    ASSERT_EQ_STR(parse_file(br_test_fixture("csv/bom_tab.csv"), NULL),
                  "id|name\n1|Alpha\n2|Beta\n");
}

/* A deterministic generator of nasty CSV: separators, quotes, backslashes,
 * every line end, latin-1 and UTF-8 bytes, long fields now and then. */
static uint64_t g_rng = 88172645463325252ull;
static unsigned rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (unsigned)(g_rng >> 32);
}

static char *gen_csv(size_t len)
{
    static const char *const atoms[] = {
        ";",    ";",    ";",    ",",        "\"",           "\"\"",    "\\\"",
        "\\",   "\n",   "\r\n", "\r",       "abc",          "0345451", "X",
        " ",    "\xe9", "\x92", "\xc3\xa9", "\xe2\x80\x99", "\"a;b\"", "\"\"\"",
        "\n\n",
    };
    char *buf = malloc(len + 1);
    size_t n = 0;
    if (!buf)
        return NULL;
    while (n < len) {
        const char *a = atoms[rnd() % (sizeof atoms / sizeof atoms[0])];
        size_t al = strlen(a);
        if (rnd() % 2000 == 0) { /* a long plain run, to cross limits and chunks */
            size_t run = rnd() % 300000;
            for (size_t i = 0; i < run && n < len; i++)
                buf[n++] = (char)('a' + i % 26);
            continue;
        }
        for (size_t i = 0; i < al && n < len; i++)
            buf[n++] = a[i];
    }
    buf[n] = '\0';
    return buf;
}

/* Same input from a file (read in chunks) and from memory: same rows. */
static int same_rows(const char *path, const char *data, size_t len, const br_csv_opts *o,
                     uint64_t *nrows)
{
    br_csv *f = NULL, *m = NULL;
    br_csv_row rf, rm;
    int rc = -1, a, b;

    if (br_csv_open_file(path, o, &f) != 0 || br_csv_open_mem(data, len, o, &m) != 0)
        goto fail;
    *nrows = 0;
    do {
        a = br_csv_next(f, &rf);
        b = br_csv_next(m, &rm);
        if (a != b || rf.line != rm.line || rf.nfields != rm.nfields || rf.record != rm.record)
            goto fail;
        for (size_t i = 0; i < rf.nfields; i++)
            if (rf.lens[i] != rm.lens[i] || memcmp(rf.fields[i], rm.fields[i], rf.lens[i]) ||
                !br_utf8_valid(rf.fields[i], rf.lens[i]))
                goto fail;
        *nrows += a == 1;
    } while (a == 1 || a == BR_ELIMIT);
    if (br_csv_get_stats(f)->bytes != len || br_csv_get_stats(m)->bytes != len)
        goto fail;
    rc = a;
fail:
    br_csv_free(f);
    br_csv_free(m);
    return rc;
}

TEST(csv_file_chunks_match_memory)
{
    const size_t len = (size_t)5 << 20; /* several 1 MiB chunks */
    char path[512];
    char *data = gen_csv(len);
    uint64_t rows;
    ASSERT_TRUE(data != NULL);
    snprintf(path, sizeof path, "%s/gen.csv", br_test_tmpdir());
    FILE *fp = fopen(path, "wb");
    ASSERT_TRUE(fp != NULL);
    ASSERT_EQ_INT(fwrite(data, 1, len, fp), len);
    fclose(fp);

    const br_csv_opts opts[] = {
        {0, 0, 0, 0},                           /* defaults: 1 MiB chunks */
        {';', 0, 0, 0},    {';', 0, 200000, 0}, /* records over the limit across chunks */
        {',', 40, 100, 6},                      /* a 102-byte buffer: a refill every record */
        {';', 3, 1, 2},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        int rc = same_rows(path, data, len, &opts[i], &rows);
        if (rc != 0)
            fprintf(stderr, "    opts #%zu: rc %d\n", i, rc);
        ASSERT_EQ_INT(rc, 0);
        ASSERT_CMP_INT(rows, >, 0);
    }
    free(data);
}

TEST(csv_record_longer_than_a_chunk)
{
    /* 1.5 MiB fits max_record but not the first 1 MiB buffer, which must
     * grow; 5 MiB does not fit, and is skipped across several refills. */
    const size_t mid = (size_t)3 << 19, huge = (size_t)5 << 20;
    size_t len = 0;
    char *data = malloc(mid + huge + 64), path[512];
    uint64_t rows;
    ASSERT_TRUE(data != NULL);
#define ADD(lit) (memcpy(data + len, (lit), sizeof(lit) - 1), len += sizeof(lit) - 1)
    ADD("a,b\r\n\"");
    memset(data + len, 'x', mid), len += mid;
    ADD("\",1\r\nc,d\r\n");
    memset(data + len, 'y', huge), len += huge;
    ADD("\re,f");
#undef ADD
    snprintf(path, sizeof path, "%s/long.csv", br_test_tmpdir());
    FILE *fp = fopen(path, "wb");
    ASSERT_TRUE(fp != NULL);
    ASSERT_EQ_INT(fwrite(data, 1, len, fp), len);
    fclose(fp);

    br_csv_opts o = {.max_field = (size_t)8 << 20, .max_record = (size_t)2 << 20};
    ASSERT_EQ_INT(same_rows(path, data, len, &o, &rows), 0);
    ASSERT_EQ_INT(rows, 4);

    br_csv *c;
    br_csv_row row;
    ASSERT_OK(br_csv_open_file(path, &o, &c));
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_INT(row.lens[0], mid);
    ASSERT_EQ_STR(row.fields[1], "1");
    ASSERT_EQ_INT(row.line, 2);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[0], "c");
    ASSERT_EQ_INT(br_csv_next(c, &row), BR_ELIMIT);
    ASSERT_EQ_INT(row.line, 4);
    ASSERT_EQ_INT(br_csv_next(c, &row), 1);
    ASSERT_EQ_STR(row.fields[1], "f");
    ASSERT_EQ_INT(row.line, 5);
    ASSERT_EQ_INT(br_csv_next(c, &row), 0);
    ASSERT_EQ_INT(br_csv_get_stats(c)->bytes, len);
    br_csv_free(c);
    free(data);
}

/* Counts the records of a real file and checks that every field is UTF-8. */
static int count_real(const char *rel, uint64_t *records, size_t want_fields, uint64_t *bad)
{
    char path[1024];
    br_csv *c;
    br_csv_row row;
    int rc;

    snprintf(path, sizeof path, "%s/%s", br_test_data_dir(), rel);
    if ((rc = br_csv_open_file(path, NULL, &c)) != 0)
        return rc;
    *records = *bad = 0;
    while ((rc = br_csv_next(c, &row)) == 1) {
        (*records)++;
        if (want_fields && row.nfields != want_fields)
            (*bad)++;
        for (size_t i = 0; i < row.nfields; i++)
            if (!br_utf8_valid(row.fields[i], row.lens[i]) || strlen(row.fields[i]) != row.lens[i])
                (*bad)++;
    }
    br_csv_free(c);
    return rc;
}

TEST(csv_real_data_counts)
{
    uint64_t n, bad;
    if (!br_test_data_dir())
        return; /* the data is not shipped with the repo */
    ASSERT_OK(count_real("bookcrossing/users/Users.csv", &n, 3, &bad));
    ASSERT_EQ_INT(n, 278858 + 1);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_OK(count_real("bookcrossing/derived/ratings_union.csv", &n, 5, &bad));
    ASSERT_EQ_INT(n, 464828 + 1);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_OK(count_real("bookcrossing/derived/books_union.csv", &n, 9, &bad));
    ASSERT_EQ_INT(n, 34408 + 1);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_OK(count_real("goodbooks10k/books.csv", &n, 23, &bad));
    ASSERT_EQ_INT(n, 10000 + 1);
    ASSERT_EQ_INT(bad, 0);
    /* Original-format latin-1 slice, no header. */
    ASSERT_OK(count_real("bookcrossing/ratings/parts/LaxmiVanam+Book-recommendation-system-"
                         "using-Pyspark/BX-Book-Ratings.csv",
                         &n, 3, &bad));
    ASSERT_EQ_INT(n, 39268);
    ASSERT_EQ_INT(bad, 0);
    /* Old-Mac CR line ends; the ",," lines are records of empty fields. */
    ASSERT_OK(count_real("bookcrossing/ratings/parts/cyadusha+BX-CSV-Dump/BX-Book-Ratings.csv", &n,
                         3, &bad));
    ASSERT_CMP_INT(n, >, 9000);
    ASSERT_EQ_INT(bad, 0);
    /* Long quoted multi-line descriptions. */
    ASSERT_OK(count_real("descriptions/YSChandu+semantic_book_recommender/"
                         "books_with_categories.csv",
                         &n, 15, &bad));
    ASSERT_EQ_INT(n, 5197 + 1);
    ASSERT_EQ_INT(bad, 0);
}
