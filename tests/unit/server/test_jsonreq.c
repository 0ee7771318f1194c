/* Tests of server/jsonreq.c: each error path gives its code and a message
 * naming the field, and no message carries raw input. */
#include "harness.h"

#include "bookrec/error.h"
#include "jsonreq.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, json_t **o, char *err)
{
    return br_jreq_parse(s, strlen(s), 4096, o, err, 200);
}

/* A message safe to show: printable ASCII or UTF-8, no control characters. */
static int tame_msg(const char *m)
{
    for (; *m; m++)
        if ((unsigned char)*m < 0x20)
            return 0;
    return 1;
}

TEST(jreq_parse_errors)
{
    json_t *o = NULL;
    char err[200];
    ASSERT_EQ_INT(parse("", &o, err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "empty") != NULL);
    ASSERT_EQ_INT(parse("[1,2]", &o, err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "must be a JSON object") != NULL);
    ASSERT_EQ_INT(parse("42", &o, err), BR_EFORMAT);
    ASSERT_EQ_INT(parse("\"s\"", &o, err), BR_EFORMAT);
    ASSERT_EQ_INT(parse("{\"a\":", &o, err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "malformed JSON") != NULL);
    ASSERT_EQ_INT(parse("{\"a\":1}{\"b\":2}", &o, err), BR_EFORMAT); /* trailing data */
    ASSERT_EQ_INT(parse("{\"a\":1,\"a\":2}", &o, err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "duplicate key") != NULL);
    ASSERT_EQ_INT(parse("{\"a\":\"\\u0000\"}", &o, err), BR_EFORMAT); /* NUL in a string */
    ASSERT_EQ_INT(parse("{\"a\":\"\xff\"}", &o, err), BR_EFORMAT);     /* invalid UTF-8 */
    ASSERT_TRUE(tame_msg(err));
    ASSERT_TRUE(strchr(err, '\xff') == NULL);
    /* A parser remark quoting the input is tamed: no quotes, no controls. */
    ASSERT_EQ_INT(parse("{\"a\": tru\x01\"e}", &o, err), BR_EFORMAT);
    ASSERT_TRUE(tame_msg(err));
    ASSERT_TRUE(o == NULL);

    /* Too long. */
    char big[64];
    memset(big, ' ', sizeof big);
    big[0] = '{', big[62] = '}', big[63] = '\0';
    ASSERT_EQ_INT(br_jreq_parse(big, 63, 62, &o, err, sizeof err), BR_ELIMIT);
    ASSERT_TRUE(strstr(err, "exceeds 62 bytes") != NULL);
    ASSERT_OK(br_jreq_parse(big, 63, 63, &o, err, sizeof err));
    json_decref(o);
}

TEST(jreq_depth_limit)
{
    json_t *o = NULL;
    char err[200], doc[256];
    /* Depth 16 (the object plus 15 arrays) passes; 17 fails. Brackets inside
     * strings do not count. */
    size_t at = (size_t)snprintf(doc, sizeof doc, "{\"s\":\"[[[[[[[[[[[[[[[[[[\",\"a\":");
    for (int i = 0; i < 15; i++)
        doc[at++] = '[';
    for (int i = 0; i < 15; i++)
        doc[at++] = ']';
    doc[at++] = '}';
    doc[at] = '\0';
    ASSERT_OK(parse(doc, &o, err));
    json_decref(o);
    o = NULL;
    at = (size_t)snprintf(doc, sizeof doc, "{\"a\":");
    for (int i = 0; i < 16; i++)
        doc[at++] = '[';
    for (int i = 0; i < 16; i++)
        doc[at++] = ']';
    doc[at++] = '}';
    doc[at] = '\0';
    ASSERT_EQ_INT(parse(doc, &o, err), BR_ELIMIT);
    ASSERT_TRUE(strstr(err, "deeper than 16") != NULL);
    /* An escaped quote does not end a string early. */
    ASSERT_OK(parse("{\"s\":\"\\\"[[[[[[[[[[[[[[[[[[[[\"}", &o, err));
    json_decref(o);
}

TEST(jreq_only_known_fields)
{
    json_t *o = NULL;
    char err[200];
    const char *allowed[] = {"k", "user", NULL};
    ASSERT_OK(parse("{\"k\":1,\"user\":2}", &o, err));
    ASSERT_OK(br_jreq_only(o, allowed, err, sizeof err));
    json_decref(o);
    ASSERT_OK(parse("{\"k\":1,\"x\\\"\\n\\u00e9yz\":2}", &o, err));
    ASSERT_EQ_INT(br_jreq_only(o, allowed, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "unknown field \"x????yz\""); /* quote, newline, 2-byte e-acute */
    json_decref(o);
    /* A very long unknown key is cut. */
    char doc[400];
    snprintf(doc, sizeof doc, "{\"%0300d\":1}", 7);
    ASSERT_OK(parse(doc, &o, err));
    ASSERT_EQ_INT(br_jreq_only(o, allowed, err, sizeof err), BR_EINVAL);
    ASSERT_CMP_INT(strlen(err), <, 70);
    ASSERT_TRUE(strstr(err, "...") != NULL);
    json_decref(o);
}

TEST(jreq_int_and_double)
{
    json_t *o = NULL;
    char err[200];
    int64_t k;
    double w;
    ASSERT_OK(parse("{\"k\":10,\"w\":0.25,\"i\":3,\"s\":\"5\",\"f\":2.5,\"n\":null,\"big\":-7}",
                    &o, err));
    ASSERT_OK(br_jreq_int(o, "k", 1, 1, 100, 20, &k, err, sizeof err));
    ASSERT_EQ_INT(k, 10);
    ASSERT_OK(br_jreq_int(o, "absent", 0, 1, 100, 20, &k, err, sizeof err));
    ASSERT_EQ_INT(k, 20);
    ASSERT_OK(br_jreq_int(o, "n", 0, 1, 100, 20, &k, err, sizeof err)); /* null = absent */
    ASSERT_EQ_INT(k, 20);
    ASSERT_EQ_INT(br_jreq_int(o, "absent", 1, 1, 100, 20, &k, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "missing required field \"absent\"");
    ASSERT_EQ_INT(br_jreq_int(o, "n", 1, 1, 100, 20, &k, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_jreq_int(o, "s", 1, 1, 100, 20, &k, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"s\" must be an integer, not a string");
    ASSERT_EQ_INT(br_jreq_int(o, "f", 1, 1, 100, 20, &k, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"f\" must be an integer, not a real number");
    ASSERT_EQ_INT(br_jreq_int(o, "big", 1, 1, 100, 20, &k, err, sizeof err), BR_ERANGE);
    ASSERT_EQ_STR(err, "field \"big\" must be between 1 and 100");
    ASSERT_EQ_INT(br_jreq_int(o, "k", 1, 11, 100, 20, &k, err, sizeof err), BR_ERANGE);
    ASSERT_EQ_INT(br_jreq_int(o, "k", 1, 1, 9, 20, &k, err, sizeof err), BR_ERANGE);

    ASSERT_OK(br_jreq_double(o, "w", 1, 0, 1, 0.5, &w, err, sizeof err));
    ASSERT_NEAR(w, 0.25, 0);
    ASSERT_OK(br_jreq_double(o, "i", 1, 0, 10, 0.5, &w, err, sizeof err)); /* an int is fine */
    ASSERT_NEAR(w, 3, 0);
    ASSERT_OK(br_jreq_double(o, "absent", 0, 0, 1, 0.5, &w, err, sizeof err));
    ASSERT_NEAR(w, 0.5, 0);
    ASSERT_EQ_INT(br_jreq_double(o, "f", 1, 0, 1, 0.5, &w, err, sizeof err), BR_ERANGE);
    ASSERT_EQ_STR(err, "field \"f\" must be between 0 and 1");
    ASSERT_EQ_INT(br_jreq_double(o, "s", 1, 0, 1, 0.5, &w, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_jreq_double(o, "absent", 1, 0, 1, 0.5, &w, err, sizeof err), BR_EINVAL);
    json_decref(o);

    /* Integers beyond 64 bits are refused by the parser. */
    ASSERT_EQ_INT(parse("{\"k\":123456789012345678901234567890}", &o, err), BR_EFORMAT);
}

TEST(jreq_bool_and_string)
{
    json_t *o = NULL;
    char err[200];
    int b;
    const char *s;
    size_t len;
    ASSERT_OK(parse("{\"b\":true,\"q\":\"d\\u00e9j\\u00e0\",\"e\":\"\",\"n\":1,\"long\":\"abcdef\"}",
                    &o, err));
    ASSERT_OK(br_jreq_bool(o, "b", 1, 0, &b, err, sizeof err));
    ASSERT_EQ_INT(b, 1);
    ASSERT_OK(br_jreq_bool(o, "absent", 0, 0, &b, err, sizeof err));
    ASSERT_EQ_INT(b, 0);
    ASSERT_EQ_INT(br_jreq_bool(o, "n", 1, 0, &b, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"n\" must be true or false, not an integer");

    ASSERT_OK(br_jreq_string(o, "q", 1, 16, &s, &len, err, sizeof err));
    ASSERT_EQ_STR(s, "d\xc3\xa9j\xc3\xa0");
    ASSERT_EQ_INT(len, 6);
    ASSERT_OK(br_jreq_string(o, "e", 1, 16, &s, &len, err, sizeof err));
    ASSERT_EQ_STR(s, "");
    ASSERT_OK(br_jreq_string(o, "absent", 0, 16, &s, NULL, err, sizeof err));
    ASSERT_TRUE(s == NULL);
    ASSERT_EQ_INT(br_jreq_string(o, "absent", 1, 16, &s, NULL, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_jreq_string(o, "n", 1, 16, &s, NULL, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"n\" must be a string, not an integer");
    ASSERT_EQ_INT(br_jreq_string(o, "long", 1, 5, &s, NULL, err, sizeof err), BR_ELIMIT);
    ASSERT_EQ_STR(err, "field \"long\" is longer than 5 bytes");
    ASSERT_OK(br_jreq_string(o, "long", 1, 6, &s, NULL, err, sizeof err));
    json_decref(o);
}

TEST(jreq_arrays)
{
    json_t *o = NULL;
    char err[200];
    int32_t ids[4];
    const char *strs[3];
    size_t n;
    ASSERT_OK(parse("{\"ids\":[1,2,3],\"empty\":[],\"many\":[1,2,3,4,5],\"mixed\":[1,\"2\"],"
                    "\"neg\":[1,-5],\"huge\":[5000000000],\"notarr\":7,"
                    "\"subj\":[\"fantasy\",\"sci-fi\"],\"sbad\":[\"a\",3],\"slong\":[\"abcdef\"]}",
                    &o, err));
    ASSERT_OK(br_jreq_int_array(o, "ids", 1, 4, 0, 100, ids, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(ids[2], 3);
    ASSERT_OK(br_jreq_int_array(o, "empty", 1, 4, 0, 100, ids, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(br_jreq_int_array(o, "absent", 0, 4, 0, 100, ids, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(br_jreq_int_array(o, "absent", 1, 4, 0, 100, ids, &n, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_INT(br_jreq_int_array(o, "many", 1, 4, 0, 100, ids, &n, err, sizeof err),
                  BR_ELIMIT);
    ASSERT_EQ_STR(err, "field \"many\" has more than 4 items");
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(br_jreq_int_array(o, "mixed", 1, 4, 0, 100, ids, &n, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"mixed\" item 1 must be an integer, not a string");
    ASSERT_EQ_INT(br_jreq_int_array(o, "neg", 1, 4, 0, 100, ids, &n, err, sizeof err),
                  BR_ERANGE);
    ASSERT_EQ_STR(err, "field \"neg\" item 1 must be between 0 and 100");
    ASSERT_EQ_INT(br_jreq_int_array(o, "huge", 1, 4, 0, INT32_MAX, ids, &n, err, sizeof err),
                  BR_ERANGE);
    ASSERT_EQ_INT(br_jreq_int_array(o, "notarr", 1, 4, 0, 100, ids, &n, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"notarr\" must be an array of integers, not an integer");

    ASSERT_OK(br_jreq_string_array(o, "subj", 1, 3, 16, strs, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(strs[1], "sci-fi");
    ASSERT_EQ_INT(br_jreq_string_array(o, "subj", 1, 1, 16, strs, &n, err, sizeof err),
                  BR_ELIMIT);
    ASSERT_EQ_INT(br_jreq_string_array(o, "sbad", 1, 3, 16, strs, &n, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_STR(err, "field \"sbad\" item 1 must be a string, not an integer");
    ASSERT_EQ_INT(br_jreq_string_array(o, "slong", 1, 3, 5, strs, &n, err, sizeof err),
                  BR_ELIMIT);
    ASSERT_EQ_STR(err, "field \"slong\" item 0 is longer than 5 bytes");
    ASSERT_EQ_INT(br_jreq_string_array(o, "ids", 1, 3, 5, strs, &n, err, sizeof err), BR_EINVAL);
    json_decref(o);
}
