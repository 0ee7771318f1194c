/* Tests of lib/base/config.c: defaults, the INI file and its errors, the environment,
 * precedence (default < file < env < flag), `config show` entries, and that
 * docs/configuration.md documents every key. */
#include "harness.h"

#include "bookrec/config.h"
#include "bookrec/error.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        if (!strstr((hay), (needle))) {                                        \
            br_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", (hay), (needle)); \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Writes content to <tmpdir>/name; returns the path (static buffer, one at a time). */
static const char *write_file(const char *name, const char *content, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", br_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(content, 1, len, f);
    fclose(f);
    return path;
}

#define WRITE(name, s) write_file((name), (s), strlen(s))

/* The source of key per br_config_entry. */
static const char *source_of(const br_config *cfg, const char *key)
{
    for (size_t i = 0; i < br_config_count(); i++) {
        const char *k, *src;
        br_config_entry(cfg, i, &k, NULL, &src, NULL);
        if (!strcmp(k, key))
            return src;
    }
    return "(no such key)";
}

/* Environment variables a test changes, restored afterwards: the runner itself may have
 * BOOKREC_DATA set. */
static const char *const g_env_vars[] = {"BOOKREC_DATA", "BOOKREC_DATA_DIR", "BOOKREC_SPLIT_SEED",
                                         "BOOKREC_SPLIT_VAL_FRAC", "BOOKREC_CONFIG",
                                         "BOOKREC_LOG_LEVEL"};
#define NENV (sizeof g_env_vars / sizeof g_env_vars[0])
static char *g_env_saved[NENV];

static void env_save_clear(void)
{
    for (size_t i = 0; i < NENV; i++) {
        const char *v = getenv(g_env_vars[i]);
        g_env_saved[i] = v ? strdup(v) : NULL;
        unsetenv(g_env_vars[i]);
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < NENV; i++) {
        if (g_env_saved[i])
            setenv(g_env_vars[i], g_env_saved[i], 1);
        else
            unsetenv(g_env_vars[i]);
        free(g_env_saved[i]);
        g_env_saved[i] = NULL;
    }
}

TEST(config_defaults)
{
    br_config *cfg;
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_EQ_STR(br_config_str(cfg, "data.dir"), "../shared/data");
    ASSERT_EQ_STR(br_config_str(cfg, "db.path"), "var/bookrec.db");
    ASSERT_EQ_STR(br_config_str(cfg, "artifacts.dir"), "var/artifacts");
    ASSERT_EQ_INT(br_config_int(cfg, "import.min_age"), 5);
    ASSERT_EQ_INT(br_config_int(cfg, "import.max_age"), 100);
    ASSERT_EQ_INT(br_config_int(cfg, "import.max_rows"), 50000000);
    ASSERT_EQ_INT(br_config_int(cfg, "import.max_field_bytes"), 1048576);
    ASSERT_EQ_INT(br_config_int(cfg, "subjects.vocab_size"), 1000);
    ASSERT_EQ_INT(br_config_int(cfg, "subjects.min_books"), 5);
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 42);
    ASSERT_NEAR(br_config_double(cfg, "split.cold_frac"), 0.10, 0);
    ASSERT_EQ_INT(br_config_int(cfg, "split.cold_min_interactions"), 4);
    ASSERT_EQ_INT(br_config_int(cfg, "split.holdout_min_interactions"), 5);
    ASSERT_NEAR(br_config_double(cfg, "split.val_frac"), 0.10, 0);
    ASSERT_NEAR(br_config_double(cfg, "split.test_frac"), 0.10, 0);
    ASSERT_EQ_INT(br_config_int(cfg, "als.factors"), 64);
    ASSERT_EQ_INT(br_config_int(cfg, "train.min_item_interactions"), 1);
    ASSERT_NEAR(br_config_double(cfg, "popularity.bayes_m"), 30, 0);
    ASSERT_EQ_INT(br_config_int(cfg, "features.fav_subjects_k"), 10);
    ASSERT_EQ_INT(br_config_int(cfg, "models.warm_min_ratings"), 5);
    ASSERT_EQ_STR(br_config_str(cfg, "log.level"), "info");
    ASSERT_EQ_STR(br_config_str(cfg, "split.seed"), "42"); /* str works on every type */
    ASSERT_TRUE(br_config_path(cfg) == NULL);
    ASSERT_EQ_STR(source_of(cfg, "split.seed"), "default");
    br_config_free(cfg);
    br_config_free(NULL);
}

TEST(config_table_is_well_formed)
{
    size_t n = br_config_count();
    char env_i[128], env_j[128];
    ASSERT_CMP_INT(n, >=, 21);
    br_config *cfg;
    ASSERT_OK(br_config_new(&cfg));
    for (size_t i = 0; i < n; i++) {
        const char *k, *v, *src, *desc;
        ASSERT_OK(br_config_entry(cfg, i, &k, &v, &src, &desc));
        ASSERT_EQ_STR(v, br_config_default(i));
        ASSERT_EQ_STR(src, "default");
        ASSERT_TRUE(desc[0] != '\0' && !strchr(desc, '\n'));
        ASSERT_TRUE(strchr(k, '.') != NULL);
        for (const char *p = k; *p; p++)
            ASSERT_TRUE((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                        *p == '.');
        /* Environment names must not collide ("a.b_c" vs "a_b.c"). */
        snprintf(env_i, sizeof env_i, "%s", k);
        for (char *p = env_i; *p; p++)
            *p = *p == '.' ? '_' : *p;
        for (size_t j = 0; j < i; j++) {
            const char *kj;
            br_config_entry(cfg, j, &kj, NULL, NULL, NULL);
            snprintf(env_j, sizeof env_j, "%s", kj);
            for (char *p = env_j; *p; p++)
                *p = *p == '.' ? '_' : *p;
            ASSERT_TRUE(strcmp(env_i, env_j) != 0);
        }
    }
    ASSERT_EQ_INT(br_config_entry(cfg, n, NULL, NULL, NULL, NULL), BR_ERANGE);
    ASSERT_TRUE(br_config_default(n) == NULL);
    br_config_free(cfg);
}

TEST(config_parse_values_by_type)
{
    int64_t i = 0;
    double d = 0;
    int b = -1;
    ASSERT_OK(br__config_parse(BR_CFG_INT, -10, 10, "-7", &i, &d, &b));
    ASSERT_EQ_INT(i, -7);
    ASSERT_OK(br__config_parse(BR_CFG_INT, 0, 10, "+3", &i, &d, &b));
    ASSERT_EQ_INT(i, 3);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, 10, "11", &i, &d, &b), BR_ERANGE);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, INFINITY, "99999999999999999999", &i, &d, &b),
                  BR_ERANGE);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, 10, "1.5", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, 10, " 1", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, 10, "0x5", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_INT, 0, 10, "", &i, &d, &b), BR_EINVAL);
    ASSERT_OK(br__config_parse(BR_CFG_DOUBLE, 0, 1, "0.25", &i, &d, &b));
    ASSERT_NEAR(d, 0.25, 0);
    ASSERT_OK(br__config_parse(BR_CFG_DOUBLE, 0, 1, "1e-1", &i, &d, &b));
    ASSERT_NEAR(d, 0.1, 0);
    ASSERT_OK(br__config_parse(BR_CFG_DOUBLE, 0, 1, ".5", &i, &d, &b));
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "nan", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "inf", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "0x1p-2", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "0.5x", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "abc", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, 1, "1.5", &i, &d, &b), BR_ERANGE);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_DOUBLE, 0, INFINITY, "1e999", &i, &d, &b), BR_ERANGE);
    /* Bool: no key has this type yet, so it is tested here. */
    const char *yes[] = {"true", "TRUE", "yes", "on", "1"}, *no[] = {"false", "No", "off", "0"};
    for (size_t k = 0; k < 5; k++) {
        ASSERT_OK(br__config_parse(BR_CFG_BOOL, 0, 0, yes[k], &i, &d, &b));
        ASSERT_EQ_INT(b, 1);
    }
    for (size_t k = 0; k < 4; k++) {
        ASSERT_OK(br__config_parse(BR_CFG_BOOL, 0, 0, no[k], &i, &d, &b));
        ASSERT_EQ_INT(b, 0);
    }
    ASSERT_EQ_INT(br__config_parse(BR_CFG_BOOL, 0, 0, "2", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_BOOL, 0, 0, "maybe", &i, &d, &b), BR_EINVAL);
    ASSERT_EQ_INT(br__config_parse(BR_CFG_BOOL, 0, 0, "", &i, &d, &b), BR_EINVAL);
    ASSERT_OK(br__config_parse(BR_CFG_STRING, 0, 0, "anything at all", &i, &d, &b));
}

TEST(config_file_sections_quotes_comments)
{
    br_config *cfg;
    char err[512] = "";
    const char *path = WRITE("a.conf", "\xef\xbb\xbf# comment\n"
                                       "; another comment\n"
                                       "\n"
                                       "data.dir = /data/books   # trailing comment\r\n"
                                       "db.path=\"var/my #1 db;x.db\"  ; comment after quotes\n"
                                       "  log.level   =   debug  \n"
                                       "artifacts.dir = a#b\n"
                                       "[split]\n"
                                       "seed = 7\n"
                                       "val_frac = \"0.2\"\n"
                                       "  [ import ]  \n");
    ASSERT_OK(br_config_new(&cfg));
    /* "[ import ]" has spaces inside the brackets: a bad section name. */
    ASSERT_EQ_INT(br_config_load_file(cfg, path, err, sizeof err), BR_EFORMAT);
    ASSERT_CONTAINS(err, "a.conf:11:");
    br_config_free(cfg);

    path = WRITE("b.conf", "data.dir = /data/books   # trailing comment\r\n"
                           "db.path=\"var/my #1 \\\"db\\\";x.db\"  ; comment after quotes\n"
                           "  log.level   =   debug  \n"
                           "artifacts.dir = a#b\n"
                           "[split]\n"
                           "seed = 7\n"
                           "val_frac = \"0.2\"\n"
                           "[import]\n"
                           "min_age=12\n"
                           "[split]\n"
                           "seed = 8\n"); /* a later line wins */
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_OK(br_config_load_file(cfg, path, err, sizeof err));
    ASSERT_EQ_STR(br_config_str(cfg, "data.dir"), "/data/books");
    ASSERT_EQ_STR(br_config_str(cfg, "db.path"), "var/my #1 \"db\";x.db");
    ASSERT_EQ_STR(br_config_str(cfg, "log.level"), "debug");
    ASSERT_EQ_STR(br_config_str(cfg, "artifacts.dir"), "a#b");
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 8);
    ASSERT_NEAR(br_config_double(cfg, "split.val_frac"), 0.2, 0);
    ASSERT_EQ_INT(br_config_int(cfg, "import.min_age"), 12);
    char want[600];
    snprintf(want, sizeof want, "file:%s", path);
    ASSERT_EQ_STR(source_of(cfg, "split.seed"), want);
    ASSERT_EQ_STR(source_of(cfg, "split.test_frac"), "default");
    br_config_free(cfg);

    /* A BOM, CRLF line ends and no final newline. */
    path = WRITE("c.conf", "\xef\xbb\xbf[split]\r\nseed = 9\r\n\r\ntest_frac=0.05");
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_OK(br_config_load_file(cfg, path, err, sizeof err));
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 9);
    ASSERT_NEAR(br_config_double(cfg, "split.test_frac"), 0.05, 0);
    br_config_free(cfg);

    /* An empty file changes nothing. */
    path = WRITE("d.conf", "");
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_OK(br_config_load_file(cfg, path, err, sizeof err));
    ASSERT_EQ_STR(source_of(cfg, "data.dir"), "default");
    br_config_free(cfg);
}

/* Loads content as a config file and expects rc, with every needle in the message. */
static int load_expect(const char *content, size_t len, int want_rc, const char *n1,
                       const char *n2, char *err, size_t errcap)
{
    br_config *cfg;
    err[0] = '\0';
    const char *path = write_file("e.conf", content, len);
    if (!path || br_config_new(&cfg) != 0)
        return 0;
    int rc = br_config_load_file(cfg, path, err, errcap);
    br_config_free(cfg);
    return rc == want_rc && (!n1 || strstr(err, n1)) && (!n2 || strstr(err, n2));
}

#define ASSERT_LOAD_FAILS(content, rc, n1, n2)                                 \
    do {                                                                       \
        if (!load_expect((content), strlen(content), (rc), (n1), (n2), err, sizeof err)) { \
            br_test_fail(__FILE__, __LINE__, "want %s with \"%s\", \"%s\"; got \"%s\"", \
                         br_err_name(rc), (n1) ? (n1) : "", (n2) ? (n2) : "", err); \
            return;                                                            \
        }                                                                      \
    } while (0)

TEST(config_file_errors_name_file_line_and_key)
{
    char err[512];
    ASSERT_LOAD_FAILS("# ok\nsplit.seed = 1\nsplit.sead = 2\n", BR_EINVAL, "e.conf:3:",
                      "unknown key \"split.sead\"");
    ASSERT_LOAD_FAILS("[split]\nnope = 1\n", BR_EINVAL, "e.conf:2:", "\"split.nope\"");
    ASSERT_LOAD_FAILS("split.seed = 1\n[train]\nseed = 1\n", BR_EINVAL, "e.conf:3:",
                      "train.seed");
    ASSERT_LOAD_FAILS("\n\nsplit.seed = seven\n", BR_EINVAL, "e.conf:3:", "split.seed");
    ASSERT_LOAD_FAILS("split.seed = 7.5\n", BR_EINVAL, "e.conf:1:", "not an integer");
    ASSERT_LOAD_FAILS("split.val_frac = ten percent\n", BR_EINVAL, "e.conf:1: split.val_frac",
                      "not a number");
    ASSERT_LOAD_FAILS("split.val_frac = 0.9\n", BR_ERANGE, "e.conf:1: split.val_frac",
                      "out of range [0, 0.5]");
    ASSERT_LOAD_FAILS("import.min_age = -1\n", BR_ERANGE, "import.min_age",
                      "out of range [0, 200]");
    ASSERT_LOAD_FAILS("split.seed = -1\n", BR_ERANGE, "split.seed", "[0, inf]");
    ASSERT_LOAD_FAILS("split.seed =\n", BR_EINVAL, "e.conf:1: split.seed", "empty value");
    ASSERT_LOAD_FAILS("data.dir = \"\"\n", BR_EINVAL, "data.dir", "empty value");
    ASSERT_LOAD_FAILS("split.seed 7\n", BR_EFORMAT, "e.conf:1:", "expected key = value");
    ASSERT_LOAD_FAILS(" = 7\n", BR_EFORMAT, "e.conf:1:", "missing key");
    ASSERT_LOAD_FAILS("data.dir = \"abc\n", BR_EFORMAT, "e.conf:1: data.dir", "unterminated");
    ASSERT_LOAD_FAILS("data.dir = \"abc\" def\n", BR_EFORMAT, "data.dir", "after quoted");
    ASSERT_LOAD_FAILS("[split\nseed = 1\n", BR_EFORMAT, "e.conf:1:", "[section]");
    ASSERT_LOAD_FAILS("[]\n", BR_EFORMAT, "e.conf:1:", NULL);
    ASSERT_LOAD_FAILS("[a/b]\n", BR_EFORMAT, "e.conf:1:", "bad section name");
    /* Raw input is quoted escaped in the message. */
    ASSERT_LOAD_FAILS("split.seed = \x1b[31m\n", BR_EINVAL, "\"\\x1b[31m\"", NULL);
    static const char nul[] = "data.dir = a\0b\n";
    ASSERT_TRUE(load_expect(nul, sizeof nul - 1, BR_EFORMAT, "e.conf:1:", "NUL", err, sizeof err));
}

TEST(config_file_limits)
{
    char err[512];
    /* A line of exactly 4096 bytes is fine; 4097 is not. */
    size_t cap = 2 * BR_CONFIG_MAX_FILE;
    char *buf = malloc(cap);
    ASSERT_TRUE(buf != NULL);
    const char *head = "data.dir = ";
    size_t h = strlen(head);
    memcpy(buf, head, h);
    memset(buf + h, 'a', BR_CONFIG_MAX_LINE - h);
    memcpy(buf + BR_CONFIG_MAX_LINE, "\n", 2);
    int ok_exact = load_expect(buf, strlen(buf), 0, NULL, NULL, err, sizeof err);
    memcpy(buf + BR_CONFIG_MAX_LINE, "a\n", 3);
    memcpy(buf, "#xx ", 4); /* now a comment, yet still too long */
    int ok_long = load_expect(buf, strlen(buf), BR_ELIMIT, "e.conf:1:", "longer than 4096", err,
                              sizeof err);
    /* A file over 1 MiB of comment lines. */
    for (size_t i = 0; i + 1 < cap; i += 2)
        memcpy(buf + i, "#\n", 2);
    int ok_big = load_expect(buf, BR_CONFIG_MAX_FILE + 2, BR_ELIMIT, "larger than", NULL, err,
                             sizeof err);
    int ok_max = load_expect(buf, BR_CONFIG_MAX_FILE, 0, NULL, NULL, err, sizeof err);
    free(buf);
    ASSERT_TRUE(ok_exact);
    ASSERT_TRUE(ok_long);
    ASSERT_TRUE(ok_big);
    ASSERT_TRUE(ok_max);
}

TEST(config_file_missing_or_not_a_file)
{
    br_config *cfg;
    char err[512], path[512];
    ASSERT_OK(br_config_new(&cfg));
    snprintf(path, sizeof path, "%s/nope.conf", br_test_tmpdir());
    ASSERT_EQ_INT(br_config_load_file(cfg, path, err, sizeof err), BR_ENOENT);
    ASSERT_CONTAINS(err, "nope.conf");
    ASSERT_EQ_INT(br_config_load_file(cfg, br_test_tmpdir(), err, sizeof err), BR_EIO);
    ASSERT_CONTAINS(err, "not a regular file");
    ASSERT_EQ_INT(br_config_load_file(cfg, path, NULL, 0), BR_ENOENT); /* err optional */
    br_config_free(cfg);
}

TEST(config_env_overrides_and_alias)
{
    br_config *cfg = NULL;
    char err[512] = "";
    env_save_clear();
    setenv("BOOKREC_SPLIT_SEED", "123", 1);
    setenv("BOOKREC_DATA", "/from/alias", 1);
    int rc = br_config_new(&cfg);
    if (rc == 0)
        rc = br_config_load_env(cfg, err, sizeof err);
    int64_t seed = rc == 0 ? br_config_int(cfg, "split.seed") : 0;
    char dir[64] = "", src_dir[64] = "", src_seed[64] = "";
    if (rc == 0) {
        snprintf(dir, sizeof dir, "%s", br_config_str(cfg, "data.dir"));
        snprintf(src_dir, sizeof src_dir, "%s", source_of(cfg, "data.dir"));
        snprintf(src_seed, sizeof src_seed, "%s", source_of(cfg, "split.seed"));
    }
    /* The canonical name beats the alias. */
    setenv("BOOKREC_DATA_DIR", "/from/canonical", 1);
    int rc2 = rc == 0 ? br_config_load_env(cfg, err, sizeof err) : rc;
    char dir2[64] = "";
    if (rc2 == 0)
        snprintf(dir2, sizeof dir2, "%s", br_config_str(cfg, "data.dir"));
    br_config_free(cfg);
    env_restore();
    ASSERT_OK(rc);
    ASSERT_OK(rc2);
    ASSERT_EQ_INT(seed, 123);
    ASSERT_EQ_STR(dir, "/from/alias");
    ASSERT_EQ_STR(src_dir, "env:BOOKREC_DATA");
    ASSERT_EQ_STR(src_seed, "env:BOOKREC_SPLIT_SEED");
    ASSERT_EQ_STR(dir2, "/from/canonical");
}

TEST(config_env_bad_values_name_the_variable)
{
    br_config *cfg;
    char err[512] = "", err2[512] = "";
    ASSERT_OK(br_config_new(&cfg));
    env_save_clear();
    setenv("BOOKREC_SPLIT_SEED", "abc", 1);
    int rc = br_config_load_env(cfg, err, sizeof err);
    unsetenv("BOOKREC_SPLIT_SEED");
    setenv("BOOKREC_SPLIT_VAL_FRAC", "2", 1);
    int rc2 = br_config_load_env(cfg, err2, sizeof err2);
    env_restore();
    br_config_free(cfg);
    ASSERT_EQ_INT(rc, BR_EINVAL);
    ASSERT_CONTAINS(err, "BOOKREC_SPLIT_SEED");
    ASSERT_CONTAINS(err, "not an integer");
    ASSERT_EQ_INT(rc2, BR_ERANGE);
    ASSERT_CONTAINS(err2, "BOOKREC_SPLIT_VAL_FRAC");
}

TEST(config_precedence_file_env_flag)
{
    br_config *cfg;
    char err[512] = "";
    const char *path = WRITE("p.conf", "split.seed = 1\nsplit.cold_frac = 0.3\ndb.path = f.db\n");

    /* Usual order: file, env, flag. */
    ASSERT_OK(br_config_new(&cfg));
    env_save_clear();
    setenv("BOOKREC_SPLIT_SEED", "2", 1);
    int rc_file = br_config_load_file(cfg, path, err, sizeof err);
    int rc_env = br_config_load_env(cfg, err, sizeof err);
    env_restore();
    ASSERT_OK(rc_file);
    ASSERT_OK(rc_env);
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 2);
    ASSERT_NEAR(br_config_double(cfg, "split.cold_frac"), 0.3, 0);
    ASSERT_OK(br_config_set(cfg, "split.seed", "3", BR_CFG_FLAG, err, sizeof err));
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 3);
    ASSERT_EQ_STR(source_of(cfg, "split.seed"), "flag");
    ASSERT_EQ_STR(source_of(cfg, "db.path"), source_of(cfg, "split.cold_frac"));
    br_config_free(cfg);

    /* Reverse order: the flag still wins, a file loaded late does not override env. */
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_OK(br_config_set(cfg, "split.seed", "3", BR_CFG_FLAG, err, sizeof err));
    ASSERT_OK(br_config_set(cfg, "split.cold_frac", "0.4", BR_CFG_ENV, err, sizeof err));
    ASSERT_OK(br_config_load_file(cfg, path, err, sizeof err));
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 3);
    ASSERT_NEAR(br_config_double(cfg, "split.cold_frac"), 0.4, 0);
    ASSERT_EQ_STR(source_of(cfg, "split.cold_frac"), "env");
    ASSERT_EQ_STR(br_config_str(cfg, "db.path"), "f.db");
    /* A lower-ranked value is still checked. */
    ASSERT_EQ_INT(br_config_set(cfg, "split.seed", "x", BR_CFG_FILE, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 3);
    br_config_free(cfg);
}

TEST(config_set_and_set_pair)
{
    br_config *cfg;
    char err[512] = "";
    ASSERT_OK(br_config_new(&cfg));
    ASSERT_OK(br_config_set_pair(cfg, "split.seed=99", BR_CFG_FLAG, err, sizeof err));
    ASSERT_EQ_INT(br_config_int(cfg, "split.seed"), 99);
    ASSERT_OK(br_config_set_pair(cfg, "data.dir=a=b", BR_CFG_FLAG, err, sizeof err));
    ASSERT_EQ_STR(br_config_str(cfg, "data.dir"), "a=b");
    ASSERT_EQ_INT(br_config_set_pair(cfg, "split.seed", BR_CFG_FLAG, err, sizeof err),
                  BR_EINVAL);
    ASSERT_CONTAINS(err, "expected key=value");
    ASSERT_EQ_INT(br_config_set_pair(cfg, "nope=1", BR_CFG_FLAG, err, sizeof err), BR_EINVAL);
    ASSERT_CONTAINS(err, "unknown config key \"nope\"");
    ASSERT_EQ_INT(br_config_set(cfg, "split.seed", "1", BR_CFG_DEFAULT, err, sizeof err),
                  BR_EINVAL);
    ASSERT_EQ_INT(br_config_set(cfg, "split.test_frac", "0.6", BR_CFG_FLAG, err, sizeof err),
                  BR_ERANGE);
    ASSERT_CONTAINS(err, "split.test_frac");
    ASSERT_NEAR(br_config_double(cfg, "split.test_frac"), 0.1, 0); /* unchanged */
    ASSERT_EQ_STR(source_of(cfg, "split.test_frac"), "default");
    br_config_free(cfg);
}

TEST(config_load_locates_the_file)
{
    br_config *cfg;
    char err[512] = "", cwd[4096], path[600];
    const char *dir = br_test_tmpdir();
    ASSERT_TRUE(getcwd(cwd, sizeof cwd) != NULL);
    env_save_clear();
    int ok = 1;

    /* No explicit path, no $BOOKREC_CONFIG, no ./bookrec.conf: defaults. */
    ok &= chdir(dir) == 0;
    ok &= br_config_new(&cfg) == 0 && br_config_load(cfg, NULL, err, sizeof err) == 0 &&
          br_config_path(cfg) == NULL;
    br_config_free(cfg);
    /* ./bookrec.conf */
    ok &= WRITE("bookrec.conf", "split.seed = 5\n") != NULL;
    ok &= br_config_new(&cfg) == 0 && br_config_load(cfg, NULL, err, sizeof err) == 0 &&
          br_config_int(cfg, "split.seed") == 5 && br_config_path(cfg) &&
          !strcmp(br_config_path(cfg), "bookrec.conf") &&
          !strcmp(source_of(cfg, "split.seed"), "file:bookrec.conf");
    br_config_free(cfg);
    /* $BOOKREC_CONFIG beats ./bookrec.conf; the explicit path beats both. */
    snprintf(path, sizeof path, "%s", WRITE("env.conf", "split.seed = 6\n"));
    setenv("BOOKREC_CONFIG", path, 1);
    ok &= br_config_new(&cfg) == 0 && br_config_load(cfg, NULL, err, sizeof err) == 0 &&
          br_config_int(cfg, "split.seed") == 6;
    br_config_free(cfg);
    ok &= WRITE("explicit.conf", "split.seed = 7\n") != NULL;
    ok &= br_config_new(&cfg) == 0 &&
          br_config_load(cfg, "explicit.conf", err, sizeof err) == 0 &&
          br_config_int(cfg, "split.seed") == 7;
    br_config_free(cfg);
    /* The environment still overrides the file. */
    setenv("BOOKREC_SPLIT_SEED", "8", 1);
    ok &= br_config_new(&cfg) == 0 &&
          br_config_load(cfg, "explicit.conf", err, sizeof err) == 0 &&
          br_config_int(cfg, "split.seed") == 8;
    br_config_free(cfg);
    /* A named file that does not exist is an error, from either place. */
    int rc_explicit = -1, rc_env = -1;
    ok &= br_config_new(&cfg) == 0;
    rc_explicit = br_config_load(cfg, "missing.conf", err, sizeof err);
    setenv("BOOKREC_CONFIG", "missing-too.conf", 1);
    rc_env = br_config_load(cfg, NULL, err, sizeof err);
    br_config_free(cfg);

    env_restore();
    ASSERT_TRUE(chdir(cwd) == 0);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(rc_explicit, BR_ENOENT);
    ASSERT_EQ_INT(rc_env, BR_ENOENT);
    ASSERT_CONTAINS(err, "missing-too.conf");
}

/* Runs fn in a child and reports whether it died of SIGABRT. */
static int aborts(void (*fn)(const br_config *), const br_config *cfg)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        fn(cfg);
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 0;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void get_unknown(const br_config *cfg)
{
    (void)br_config_str(cfg, "no.such.key");
}

static void get_wrong_type(const br_config *cfg)
{
    (void)br_config_int(cfg, "split.val_frac");
}

static void get_string_as_double(const br_config *cfg)
{
    (void)br_config_double(cfg, "data.dir");
}

TEST(config_getter_misuse_aborts)
{
    br_config *cfg;
    ASSERT_OK(br_config_new(&cfg));
    fflush(NULL);
    int a = aborts(get_unknown, cfg), b = aborts(get_wrong_type, cfg),
        c = aborts(get_string_as_double, cfg);
    br_config_free(cfg);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    ASSERT_TRUE(c);
}

TEST(config_docs_mention_every_key)
{
    static char doc[1 << 17];
    char want[256], line[1024];
    br_config *cfg;
    /* Tests run from the repository root. */
    FILE *f = fopen("docs/configuration.md", "r");
    ASSERT_TRUE(f != NULL);
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    ASSERT_OK(br_config_new(&cfg));
    for (size_t i = 0; i < br_config_count(); i++) {
        const char *key;
        br_config_entry(cfg, i, &key, NULL, NULL, NULL);
        /* The table row "| `key` | type | `default` | ..." of this key, at a line start. */
        snprintf(want, sizeof want, "\n| `%s` |", key);
        const char *row = strstr(doc, want);
        if (!row) {
            br_test_fail(__FILE__, __LINE__, "docs/configuration.md has no row for %s", key);
            break;
        }
        row++;
        size_t len = strcspn(row, "\n");
        snprintf(line, sizeof line, "%.*s", (int)len, row);
        snprintf(want, sizeof want, "`%s`", br_config_default(i));
        if (!strstr(line + strlen(key) + 4, want)) {
            br_test_fail(__FILE__, __LINE__, "docs row of %s lacks its default %s", key, want);
            break;
        }
    }
    br_config_free(cfg);
}
