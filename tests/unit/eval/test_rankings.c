/* Tests of lib/eval/rankings.c: good files (order, ties, extra columns, other column order),
 * every kind of bad row with its count and its message naming the line, duplicates keeping
 * the earliest line, limits, headers, files vs memory, alignment with truth users, and an
 * end-to-end evaluation of a rankings file. */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/rankings.h"

#include <stdlib.h>

static int read_str(const char *s, const br_rankings_opts *o, br_rankings **r, char *err)
{
    return br_rankings_read_mem(s, strlen(s), o, r, err, 256);
}

/* Items of user row u as a comma-separated string. */
static const char *row_str(const br_rankings *r, size_t u)
{
    static char buf[256];
    const br_lists *l = br_rankings_lists(r);
    size_t o = 0;
    buf[0] = '\0';
    for (int64_t i = l->ptr[u]; i < l->ptr[u + 1] && o < sizeof buf - 16; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", i > l->ptr[u] ? "," : "",
                              (int)l->items[i]);
    return buf;
}

static int stats_add_up(const br_rankings_stats *s)
{
    return s->rows == s->kept + s->bad_fields + s->bad_integer + s->negative + s->out_of_range +
                          s->dup_pair + s->dup_rank + s->over_list;
}

TEST(rankings_good_file)
{
    const char *csv = "user,item_idx,rank\n"
                      "20,7,2\n"
                      "3,40,1\n"
                      "20,9,1\n"
                      "3,41,5\n"
                      "20,1,3\n"
                      "3,2,3\n";
    br_rankings *r;
    char err[256] = "";
    ASSERT_OK(read_str(csv, NULL, &r, err));
    size_t n;
    const int64_t *users = br_rankings_users(r, &n);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(users[0], 3);
    ASSERT_EQ_INT(users[1], 20);
    ASSERT_EQ_STR(row_str(r, 0), "40,2,41");
    ASSERT_EQ_STR(row_str(r, 1), "9,7,1");
    const int64_t *ranks = br_rankings_ranks(r);
    ASSERT_EQ_INT(ranks[0], 1);
    ASSERT_EQ_INT(ranks[1], 3);
    ASSERT_EQ_INT(ranks[2], 5);
    const br_rankings_stats *s = br_rankings_get_stats(r);
    ASSERT_EQ_INT(s->rows, 6);
    ASSERT_EQ_INT(s->kept, 6);
    ASSERT_EQ_INT(s->users, 2);
    ASSERT_EQ_INT(br_rankings_n_examples(r), 0);
    ASSERT_TRUE(stats_add_up(s));
    br_rankings_free(r);
}

TEST(rankings_columns_by_name)
{
    /* Another order, an extra score column, CRLF, spaces around header names, 0-based. */
    const char *csv = "rank, score ,user , item_idx\r\n"
                      "1,0.5,8,100\r\n"
                      "0,0.9,8,200\r\n";
    br_rankings *r;
    char err[256];
    ASSERT_OK(read_str(csv, NULL, &r, err));
    ASSERT_EQ_STR(row_str(r, 0), "200,100");
    br_rankings_free(r);

    /* Tab-separated works too (the separator is detected from the header). */
    ASSERT_OK(read_str("user\titem_idx\trank\n1\t2\t3\n", NULL, &r, err));
    ASSERT_EQ_STR(row_str(r, 0), "2");
    br_rankings_free(r);
}

TEST(rankings_bad_rows_counted_and_named)
{
    const char *csv = "user,item_idx,rank\n"       /* line 1 */
                      "1,10,1\n"                   /* 2 ok */
                      "1,x,2\n"                    /* 3 not an integer */
                      "1,11,-2\n"                  /* 4 negative */
                      "1,12,1.0\n"                 /* 5 not an integer */
                      "1, 13,3\n"                  /* 6 space: not an integer */
                      "1,14\n"                     /* 7 two fields */
                      "1,,4\n"                     /* 8 empty */
                      "1,2147483648,5\n"           /* 9 item over 2^31 - 1 */
                      "99999999999999999999,1,1\n" /* 10 user overflows */
                      "-5,1,1\n"                   /* 11 negative user */
                      "2,\"a\x01\"\"b\",1\n"       /* 12 escaped in the message */
                      "1,15,6\n";                  /* 13 ok */
    br_rankings *r;
    char err[256];
    ASSERT_OK(read_str(csv, NULL, &r, err));
    const br_rankings_stats *s = br_rankings_get_stats(r);
    ASSERT_EQ_INT(s->rows, 12);
    ASSERT_EQ_INT(s->kept, 2);
    ASSERT_EQ_INT(s->bad_integer, 4);
    ASSERT_EQ_INT(s->negative, 2);
    ASSERT_EQ_INT(s->bad_fields, 2);
    ASSERT_EQ_INT(s->out_of_range, 2);
    ASSERT_TRUE(stats_add_up(s));
    ASSERT_EQ_STR(row_str(r, 0), "10,15");
    ASSERT_EQ_INT(br_rankings_n_examples(r), 10);
    ASSERT_EQ_STR(br_rankings_example(r, 0), "line 3: item_idx is not an integer: \"x\"");
    ASSERT_EQ_STR(br_rankings_example(r, 1), "line 4: rank is negative: \"-2\"");
    ASSERT_EQ_STR(br_rankings_example(r, 2), "line 5: rank is not an integer: \"1.0\"");
    ASSERT_EQ_STR(br_rankings_example(r, 4), "line 7: 2 fields, the header has 3");
    ASSERT_EQ_STR(br_rankings_example(r, 5), "line 8: item_idx is empty");
    ASSERT_EQ_STR(br_rankings_example(r, 6), "line 9: item_idx is out of range: \"2147483648\"");
    ASSERT_EQ_STR(br_rankings_example(r, 9),
                  "line 12: item_idx is not an integer: \"a\\x01\\x22b\"");
    ASSERT_TRUE(br_rankings_example(r, 10) == NULL);

    json_t *j = br_rankings_stats_json(r);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "bad_integer")), 4);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "examples")), 10);
    json_decref(j);
    br_rankings_free(r);

    /* n_items: item_idx 10 and over are out of range. */
    br_rankings_opts o;
    br_rankings_opts_default(&o);
    o.n_items = 12;
    ASSERT_OK(read_str("user,item_idx,rank\n1,11,1\n1,12,2\n", &o, &r, err));
    ASSERT_EQ_INT(br_rankings_get_stats(r)->out_of_range, 1);
    ASSERT_EQ_STR(br_rankings_example(r, 0), "line 3: item_idx 12 >= n_items 12");
    br_rankings_free(r);
}

TEST(rankings_duplicates_keep_earliest)
{
    const char *csv = "user,item_idx,rank\n"
                      "5,1,3\n"  /* 2 */
                      "5,2,1\n"  /* 3 */
                      "5,1,2\n"  /* 4: (5, 1) again -> dropped */
                      "5,3,1\n"  /* 5: rank 1 again -> dropped */
                      "6,3,1\n"  /* 6: another user, fine */
                      "5,4,2\n"; /* 7: rank 2 is free (line 4 was dropped first) */
    br_rankings *r;
    char err[256];
    ASSERT_OK(read_str(csv, NULL, &r, err));
    const br_rankings_stats *s = br_rankings_get_stats(r);
    ASSERT_EQ_INT(s->dup_pair, 1);
    ASSERT_EQ_INT(s->dup_rank, 1);
    ASSERT_EQ_INT(s->kept, 4);
    ASSERT_TRUE(stats_add_up(s));
    ASSERT_EQ_STR(row_str(r, 0), "2,4,1");
    ASSERT_EQ_STR(row_str(r, 1), "3");
    ASSERT_EQ_STR(br_rankings_example(r, 0), "line 4: user 5, item_idx 1 again (first on line 2)");
    ASSERT_EQ_STR(br_rankings_example(r, 1), "line 5: user 5 has rank 1 already (line 3)");
    br_rankings_free(r);

    /* With ties allowed, equal ranks are kept and ordered by item_idx. */
    br_rankings_opts o;
    br_rankings_opts_default(&o);
    o.allow_ties = 1;
    ASSERT_OK(read_str("user,item_idx,rank\n5,9,1\n5,3,1\n5,4,0\n5,3,7\n", &o, &r, err));
    s = br_rankings_get_stats(r);
    ASSERT_EQ_INT(s->rank_ties, 1);
    ASSERT_EQ_INT(s->dup_pair, 1);
    ASSERT_EQ_INT(s->dup_rank, 0);
    ASSERT_EQ_STR(row_str(r, 0), "4,3,9");
    br_rankings_free(r);
}

TEST(rankings_limits)
{
    br_rankings_opts o;
    br_rankings *r = (br_rankings *)1;
    char err[256];

    /* max_list keeps the best ranks and counts the rest. */
    br_rankings_opts_default(&o);
    o.max_list = 2;
    ASSERT_OK(read_str("user,item_idx,rank\n1,10,3\n1,11,1\n1,12,2\n1,13,4\n2,5,1\n", &o, &r, err));
    ASSERT_EQ_INT(br_rankings_get_stats(r)->over_list, 2);
    ASSERT_TRUE(stats_add_up(br_rankings_get_stats(r)));
    ASSERT_EQ_STR(row_str(r, 0), "11,12");
    ASSERT_EQ_STR(br_rankings_example(r, 0),
                  "line 2: user 1 has 4 rows, more than max_list 2; the 2 worst ranks are "
                  "dropped");
    br_rankings_free(r);

    /* max_rows is fatal and names the line. */
    o.max_list = 0;
    o.max_rows = 2;
    ASSERT_EQ_INT(read_str("user,item_idx,rank\n1,1,1\n1,2,2\n1,3,3\n", &o, &r, err), BR_ELIMIT);
    ASSERT_TRUE(r == NULL);
    ASSERT_EQ_STR(err, "line 4: more than 2 rows (max_rows)");

    /* max_bad: the third bad row is fatal, the message quotes the first. */
    br_rankings_opts_default(&o);
    o.max_bad = 2;
    ASSERT_OK(read_str("user,item_idx,rank\na,1,1\nb,1,1\n1,1,1\n", &o, &r, err));
    br_rankings_free(r);
    ASSERT_EQ_INT(read_str("user,item_idx,rank\na,1,1\nb,1,1\nc,1,1\n", &o, &r, err), BR_EFORMAT);
    ASSERT_EQ_STR(err, "more than 2 bad rows (max_bad); first: line 2: user is not an integer: "
                       "\"a\"");

    /* A record over the CSV limits is skipped and counted. */
    char big[600];
    int off = snprintf(big, sizeof big, "user,item_idx,rank\n1,");
    memset(big + off, '7', 300);
    snprintf(big + off + 300, sizeof big - (size_t)off - 300, ",1\n2,3,1\n");
    ASSERT_OK(read_str(big, NULL, &r, err));
    ASSERT_EQ_INT(br_rankings_get_stats(r)->csv_skipped, 1);
    ASSERT_EQ_INT(br_rankings_get_stats(r)->rows, 1);
    ASSERT_EQ_STR(br_rankings_example(r, 0), "line 2: record over the CSV limits, skipped");
    br_rankings_free(r);

    /* Options over the hard limits. */
    br_rankings_opts_default(&o);
    o.max_list = BR_RANKINGS_MAX_LIST + 1;
    ASSERT_EQ_INT(read_str("user,item_idx,rank\n", &o, &r, err), BR_EINVAL);
}

TEST(rankings_examples_keep_earliest_lines)
{
    /* 30 bad rows: the 10 messages kept are those of lines 2..11, in order. */
    char csv[2048];
    int off = snprintf(csv, sizeof csv, "user,item_idx,rank\n");
    for (int i = 0; i < 30; i++)
        off += snprintf(csv + off, sizeof csv - (size_t)off, "%d,1,1\n", 1 + (i % 3));
    br_rankings *r;
    char err[256];
    ASSERT_OK(read_str(csv, NULL, &r, err));
    /* Users 1, 2, 3 each get their first row (lines 2, 3, 4); the other 27 are duplicates. */
    ASSERT_EQ_INT(br_rankings_get_stats(r)->dup_pair, 27);
    ASSERT_EQ_INT(br_rankings_n_examples(r), 10);
    ASSERT_EQ_STR(br_rankings_example(r, 0), "line 5: user 1, item_idx 1 again (first on line 2)");
    ASSERT_EQ_STR(br_rankings_example(r, 9), "line 14: user 1, item_idx 1 again (first on line 2)");
    br_rankings_free(r);
}

TEST(rankings_headers)
{
    br_rankings *r;
    char err[256];
    ASSERT_EQ_INT(read_str("", NULL, &r, err), BR_EFORMAT);
    ASSERT_EQ_STR(err, "empty input: the header user,item_idx,rank is missing");
    ASSERT_EQ_INT(read_str("1,2,3\n4,5,6\n", NULL, &r, err), BR_EFORMAT);
    ASSERT_EQ_STR(err, "line 1: the header must name the columns user, item_idx and rank (no "
                       "column user; first field \"1\")");
    ASSERT_EQ_INT(read_str("user,item,rank\n", NULL, &r, err), BR_EFORMAT);
    ASSERT_TRUE(strstr(err, "no column item_idx") != NULL);
    ASSERT_EQ_INT(read_str("user,item_idx,rank,rank\n", NULL, &r, err), BR_EFORMAT);
    ASSERT_EQ_STR(err, "line 1: column rank named twice in the header");
    /* Blank lines before the header do not count as the header. */
    ASSERT_OK(read_str("\n\nuser,item_idx,rank\n1,2,3\n", NULL, &r, err));
    ASSERT_EQ_INT(br_rankings_get_stats(r)->kept, 1);
    br_rankings_free(r);
    /* A header alone: no users, no error. */
    ASSERT_OK(read_str("user,item_idx,rank\n", NULL, &r, err));
    ASSERT_EQ_INT(br_rankings_lists(r)->n, 0);
    br_rankings_free(r);
}

TEST(rankings_file_matches_memory)
{
    const char *csv = "user,item_idx,rank\n4,1,2\n4,2,1\n9,x,1\n9,5,1\n";
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/rankings.csv", br_test_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs(csv, f);
    fclose(f);
    br_rankings *a, *b;
    ASSERT_OK(br_rankings_read_file(path, NULL, &a, err, sizeof err));
    ASSERT_OK(read_str(csv, NULL, &b, err));
    ASSERT_TRUE(
        memcmp(br_rankings_get_stats(a), br_rankings_get_stats(b), sizeof(br_rankings_stats)) == 0);
    ASSERT_EQ_STR(row_str(a, 0), "2,1");
    ASSERT_EQ_STR(row_str(a, 1), "5");
    ASSERT_EQ_STR(br_rankings_example(a, 0), br_rankings_example(b, 0));
    br_rankings_free(a);
    br_rankings_free(b);

    snprintf(path, sizeof path, "%s/missing.csv", br_test_tmpdir());
    ASSERT_EQ_INT(br_rankings_read_file(path, NULL, &a, err, sizeof err), BR_ENOENT);
    ASSERT_TRUE(strstr(err, "missing.csv") != NULL);
}

TEST(rankings_align_and_evaluate)
{
    /* Users 1, 2 ranked; truth for users 2, 3, 1 (3 has no ranking: empty list, zeros). */
    const char *csv = "user,item_idx,rank\n"
                      "1,4,1\n1,2,2\n1,9,3\n"
                      "2,7,1\n2,3,2\n";
    br_rankings *r;
    char err[256];
    ASSERT_OK(read_str(csv, NULL, &r, err));
    const int64_t users[] = {2, 3, 1};
    br_lists al;
    size_t missing = 99;
    ASSERT_OK(br_rankings_align(r, users, 3, &al, &missing));
    ASSERT_EQ_INT(missing, 1);
    ASSERT_EQ_INT(al.n, 3);
    ASSERT_EQ_INT(al.ptr[1], 2);
    ASSERT_EQ_INT(al.ptr[2], 2);
    ASSERT_EQ_INT(al.ptr[3], 5);
    ASSERT_EQ_INT(al.items[0], 7);
    ASSERT_EQ_INT(al.items[2], 4);

    int64_t tp[] = {0, 1, 2, 4};
    int32_t ti[] = {3, 1, 2, 8};
    br_lists truth = {3, tp, ti};
    br_eval_opts o = {.k = 2, .n_items = 10, .user_ids = users};
    br_eval *e;
    ASSERT_OK(br_eval_new(&al, &truth, &o, &e));
    ASSERT_EQ_INT(br_eval_users(e), 3);
    /* User 2: hit at rank 2 -> recall 1; user 3: 0; user 1: hit at rank 2 of {2, 8} -> 1/2. */
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_RECALL), (1 + 0 + 0.5) / 3, 1e-15);
    ASSERT_NEAR(br_eval_mean(e, BR_METRIC_HIT_RATE), 2.0 / 3.0, 1e-15);
    br_eval_free(e);
    br_lists_free(&al);
    br_rankings_free(r);
}
