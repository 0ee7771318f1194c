/* Accounts, sessions, ratings, favorite subjects and events (lib/data/accounts.c, ratings.c,
 * events.c) on a migrated SQLite store in a temp dir: every function, every error path, and
 * that a rejected call writes nothing. */
#include "harness.h"

#include "bookrec/accounts.h"
#include "bookrec/error.h"
#include "bookrec/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define N_WORKS 60
#define HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

static int64_t count(br_store *s, const char *sql)
{
    int64_t n = -1;
    if (br_store_query_int(s, sql, -1, &n) < 0)
        return -2;
    return n;
}

static int exec_f(br_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int exec_f(br_store *s, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return br_store_exec(s, sql);
}

/* A migrated store with works 0..N_WORKS-1, subjects 1..3 ("fantasy", "science fiction",
 * "mystery"), imported readers 0..2 (reader 1 with three interactions, one without a time,
 * a derived favorite, folds in split s1 and s2, and aggregates), and split s1. */
static br_store *fixture(const char *name)
{
    char path[512];
    br_store *s = NULL;
    snprintf(path, sizeof path, "%s/%s", br_test_tmpdir(), name);
    if (br_store_open(path, &s) || br_store_migrate(s, NULL)) {
        fprintf(stderr, "    store: %s\n", br_store_errmsg(s));
        br_store_close(s);
        return NULL;
    }
    int rc = br_store_begin(s);
    for (int i = 0; i < N_WORKS && !rc; i++)
        rc = exec_f(s,
                    "INSERT INTO works (item_idx, work_key, created_import) VALUES (%d, 'w%d', 1)",
                    i, i);
    if (!rc)
        rc = br_store_exec(
            s, "INSERT INTO subjects (subject_id, name, n_books) VALUES (1, 'fantasy', 5), "
               "(2, 'science fiction', 4), (3, 'mystery', 3);"
               "INSERT INTO users (user_id, source, external_id, location, age) VALUES "
               "(0, 'goodbooks', '10', 'x', 30), (1, 'goodbooks', '11', 'paris', 40), "
               "(2, 'goodbooks', '12', NULL, NULL);"
               "INSERT INTO interactions (user_id, item_idx, rating, ts, source) VALUES "
               "(1, 5, 8, 1000, 'goodbooks'), (1, 6, 0, 2000, 'goodbooks'), "
               "(1, 7, 4, NULL, 'goodbooks'), (2, 5, 9, 1500, 'goodbooks');"
               "INSERT INTO user_fav_subjects (user_id, subject_id, score, origin, split_id) "
               "VALUES (1, 3, 0.5, 'derived', 's1'), (2, 3, 0.5, 'derived', 's1');"
               "INSERT INTO splits (split_id, seed, params, created_at, active) VALUES "
               "('s1', 1, '{}', 1, 1), ('s2', 2, '{}', 1, 0);"
               "INSERT INTO split_folds (split_id, user_id, item_idx, fold) VALUES "
               "('s1', 1, 5, 0), ('s1', 1, 6, 2), ('s2', 1, 7, 0), ('s1', 2, 5, 0);"
               "INSERT INTO user_aggregates (split_id, user_id, n, n_explicit, mean, std) "
               "VALUES ('s1', 1, 2, 1, 8, 0), ('s1', 2, 1, 1, 9, 0);");
    if (rc || br_store_commit(s)) {
        fprintf(stderr, "    fixture: %s\n", br_store_errmsg(s));
        br_store_close(s);
        return NULL;
    }
    return s;
}

TEST(accounts_validation)
{
    char big[300];
    ASSERT_TRUE(br_username_valid("abc"));
    ASSERT_TRUE(br_username_valid("A.b-c_9"));
    ASSERT_TRUE(!br_username_valid("ab"));
    ASSERT_TRUE(!br_username_valid(NULL));
    ASSERT_TRUE(!br_username_valid("abc def"));
    ASSERT_TRUE(!br_username_valid("abc'--"));
    ASSERT_TRUE(!br_username_valid("caf\xc3\xa9"));
    memset(big, 'a', 33);
    big[33] = '\0';
    ASSERT_TRUE(!br_username_valid(big));
    big[32] = '\0';
    ASSERT_TRUE(br_username_valid(big));

    ASSERT_TRUE(br_email_valid("a@b.org"));
    ASSERT_TRUE(br_email_valid("A.B+tag@Example.COM"));
    ASSERT_TRUE(!br_email_valid("ab.org"));
    ASSERT_TRUE(!br_email_valid("a@b@c"));
    ASSERT_TRUE(!br_email_valid("@b.org"));
    ASSERT_TRUE(!br_email_valid("a@"));
    ASSERT_TRUE(!br_email_valid("a b@c.org"));
    ASSERT_TRUE(!br_email_valid("a@c.org\n"));
    ASSERT_TRUE(!br_email_valid(NULL));
    memset(big, 'a', sizeof big);
    memcpy(big + 250, "@b.o", 5); /* 254 bytes */
    ASSERT_TRUE(br_email_valid(big));
    memset(big, 'a', sizeof big);
    memcpy(big + 251, "@b.o", 5); /* 255 bytes */
    ASSERT_TRUE(!br_email_valid(big));

    ASSERT_TRUE(br_opaque_valid(HASH, BR_PWHASH_MAX));
    ASSERT_TRUE(!br_opaque_valid("", BR_PWHASH_MAX));
    ASSERT_TRUE(!br_opaque_valid("a b", BR_PWHASH_MAX));
    ASSERT_TRUE(!br_opaque_valid(NULL, BR_PWHASH_MAX));
    memset(big, 'h', 257);
    big[257] = '\0';
    ASSERT_TRUE(!br_opaque_valid(big, BR_PWHASH_MAX));
    big[256] = '\0';
    ASSERT_TRUE(br_opaque_valid(big, BR_PWHASH_MAX));
}

TEST(accounts_create_and_lookup)
{
    br_store *s = fixture("create.db");
    ASSERT_TRUE(s);
    br_account a, b;
    int32_t fav[] = {2, 1, 2}; /* a duplicate is dropped */
    ASSERT_OK(br_account_create(s, "Alice", "Alice@Example.org", HASH, fav, 3, &a));
    ASSERT_EQ_INT(a.user_id, 3); /* after the imported 0..2 */
    ASSERT_EQ_INT(a.account_id, a.user_id);
    ASSERT_EQ_STR(a.username, "Alice");
    ASSERT_EQ_STR(a.email, "Alice@Example.org");
    ASSERT_EQ_STR(a.password_hash, HASH);
    ASSERT_CMP_INT(a.created_at, >, 1600000000);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM users WHERE user_id = 3 AND source = 'api' "
                           "AND external_id = 'Alice' AND deleted_at IS NULL"),
                  1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = 3 AND "
                           "origin = 'chosen'"),
                  2);

    /* Lookups, case-insensitive by name and email. */
    ASSERT_OK(br_account_by_username(s, "aLICE", &b));
    ASSERT_EQ_INT(b.account_id, 3);
    ASSERT_OK(br_account_by_email(s, "alice@EXAMPLE.org", &b));
    ASSERT_EQ_STR(b.username, "Alice");
    ASSERT_OK(br_account_by_id(s, 3, &b));
    ASSERT_OK(br_account_by_user(s, 3, &b));
    ASSERT_OK(br_account_by_id(s, 3, NULL));
    ASSERT_EQ_INT(br_account_by_username(s, "bob", &b), BR_ENOENT);
    ASSERT_EQ_INT(br_account_by_username(s, "x'; DROP TABLE accounts; --", &b), BR_ENOENT);
    ASSERT_EQ_INT(br_account_by_email(s, "nobody@example.org", &b), BR_ENOENT);
    ASSERT_EQ_INT(br_account_by_email(s, "not-an-email", &b), BR_ENOENT);
    ASSERT_EQ_INT(br_account_by_id(s, 99, &b), BR_ENOENT);
    ASSERT_EQ_INT(br_account_by_user(s, 1, &b), BR_ENOENT);

    /* Clashes: exact and case-insensitive, username and email; nothing written. */
    int64_t users = count(s, "SELECT COUNT(*) FROM users");
    ASSERT_EQ_INT(br_account_create(s, "Alice", "other@example.org", HASH, NULL, 0, NULL),
                  BR_EEXIST);
    ASSERT_EQ_INT(br_account_create(s, "ALICE", "other@example.org", HASH, NULL, 0, NULL),
                  BR_EEXIST);
    ASSERT_EQ_INT(br_account_create(s, "bob", "ALICE@example.ORG", HASH, NULL, 0, NULL), BR_EEXIST);
    /* Bad input: each kind of error, distinctly. */
    ASSERT_EQ_INT(br_account_create(s, "bo", "bob@example.org", HASH, NULL, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_account_create(s, "bob!", "bob@example.org", HASH, NULL, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob.example.org", HASH, NULL, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob@example.org", "", NULL, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob@example.org", NULL, NULL, 0, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob@example.org", HASH, NULL, 1, NULL), BR_EINVAL);
    int32_t many[BR_FAV_MAX + 1] = {0};
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob@example.org", HASH, many, BR_FAV_MAX + 1, NULL),
                  BR_ELIMIT);
    int32_t unknown[] = {1, 42};
    ASSERT_EQ_INT(br_account_create(s, "bob", "bob@example.org", HASH, unknown, 2, NULL),
                  BR_ENOENT);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM users"), users);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM accounts"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE subject_id = 1 AND "
                           "user_id <> 3"),
                  0);

    /* A second account gets the next id; no favorites is fine. */
    ASSERT_OK(br_account_create(s, "bob", "bob@example.org", HASH, NULL, 0, &b));
    ASSERT_EQ_INT(b.user_id, 4);
    ASSERT_EQ_INT(br_account_create(NULL, "bob", "bob@example.org", HASH, NULL, 0, NULL),
                  BR_EINVAL);
    br_store_close(s);
}

TEST(accounts_claim)
{
    br_store *s = fixture("claim.db");
    ASSERT_TRUE(s);
    br_account a;
    ASSERT_OK(br_account_claim(s, 1, "reader1", "r1@example.org", HASH, &a));
    ASSERT_EQ_INT(a.user_id, 1);
    ASSERT_EQ_INT(a.account_id, 1);
    ASSERT_EQ_STR(a.username, "reader1");
    /* The imported reader keeps its row, ratings and favorites. */
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM users WHERE user_id = 1 AND source = "
                           "'goodbooks' AND external_id = '11'"),
                  1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE user_id = 1"), 3);

    ASSERT_EQ_INT(br_account_claim(s, 1, "other", "other@example.org", HASH, NULL), BR_EEXIST);
    ASSERT_EQ_INT(br_account_claim(s, 2, "READER1", "r2@example.org", HASH, NULL), BR_EEXIST);
    ASSERT_EQ_INT(br_account_claim(s, 2, "reader2", "R1@example.org", HASH, NULL), BR_EEXIST);
    ASSERT_EQ_INT(br_account_claim(s, 77, "reader77", "r77@example.org", HASH, NULL), BR_ENOENT);
    ASSERT_EQ_INT(br_account_claim(s, 2, "r", "r2@example.org", HASH, NULL), BR_EINVAL);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM accounts"), 1);
    /* A sign-up cannot take a claimed name either. */
    ASSERT_EQ_INT(br_account_create(s, "Reader1", "x@example.org", HASH, NULL, 0, NULL), BR_EEXIST);

    /* A deleted reader cannot be claimed again. */
    ASSERT_OK(br_account_delete(s, 1));
    ASSERT_EQ_INT(br_account_claim(s, 1, "again", "again@example.org", HASH, NULL), BR_ENOENT);
    br_store_close(s);
}

TEST(accounts_update)
{
    br_store *s = fixture("update.db");
    ASSERT_TRUE(s);
    br_account a, b;
    br_user_state st0, st1;
    ASSERT_OK(br_account_create(s, "alice", "alice@example.org", HASH, NULL, 0, &a));
    ASSERT_OK(br_account_create(s, "bob", "bob@example.org", HASH, NULL, 0, &b));
    ASSERT_OK(br_user_state_get(s, a.user_id, &st0));

    br_account_changes ch = {0};
    ch.email = "Alice2@example.org";
    ASSERT_OK(br_account_update(s, a.account_id, &ch, &a));
    ASSERT_EQ_STR(a.email, "Alice2@example.org");
    ASSERT_OK(br_account_by_email(s, "alice2@example.org", NULL));
    ASSERT_EQ_INT(br_account_by_email(s, "alice@example.org", NULL), BR_ENOENT);
    /* Own email again (another case) is fine; someone else's is not. */
    ch.email = "ALICE2@example.org";
    ASSERT_OK(br_account_update(s, a.account_id, &ch, NULL));
    ch.email = "BOB@example.org";
    ASSERT_EQ_INT(br_account_update(s, a.account_id, &ch, NULL), BR_EEXIST);
    ch.email = "bad";
    ASSERT_EQ_INT(br_account_update(s, a.account_id, &ch, NULL), BR_EINVAL);

    memset(&ch, 0, sizeof ch);
    ch.password_hash = "$argon2id$new";
    ASSERT_OK(br_account_update(s, a.account_id, &ch, &a));
    ASSERT_EQ_STR(a.password_hash, "$argon2id$new");
    ASSERT_EQ_STR(a.email, "ALICE2@example.org");

    int32_t fav[] = {3, 1};
    memset(&ch, 0, sizeof ch);
    ch.set_fav = 1;
    ch.fav = fav;
    ch.n_fav = 2;
    ASSERT_OK(br_account_update(s, a.account_id, &ch, NULL));
    int32_t got[4];
    size_t n = 0;
    ASSERT_OK(br_fav_get(s, a.user_id, got, 4, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(got[0], 1);
    ASSERT_EQ_INT(got[1], 3);
    ASSERT_OK(br_user_state_get(s, a.user_id, &st1));
    ASSERT_CMP_INT(st1.rev, >, st0.rev);

    /* An unknown subject or too many: rejected, and the old favorites stay. */
    int32_t bad[] = {2, 9};
    ch.fav = bad;
    ch.email = "changed@example.org";
    ASSERT_EQ_INT(br_account_update(s, a.account_id, &ch, NULL), BR_ENOENT);
    ASSERT_OK(br_fav_get(s, a.user_id, got, 4, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(br_account_by_email(s, "changed@example.org", NULL), BR_ENOENT);
    ch.email = NULL;
    ch.n_fav = BR_FAV_MAX + 1;
    ASSERT_EQ_INT(br_account_update(s, a.account_id, &ch, NULL), BR_ELIMIT);
    /* Clearing. */
    ch.n_fav = 0;
    ch.fav = NULL;
    ASSERT_OK(br_account_update(s, a.account_id, &ch, NULL));
    ASSERT_OK(br_fav_get(s, a.user_id, got, 4, &n));
    ASSERT_EQ_INT(n, 0);

    memset(&ch, 0, sizeof ch);
    ASSERT_EQ_INT(br_account_update(s, 999, &ch, NULL), BR_ENOENT);
    ASSERT_EQ_INT(br_account_update(s, a.account_id, NULL, NULL), BR_EINVAL);
    br_store_close(s);
}

TEST(accounts_delete_removes_everything)
{
    br_store *s = fixture("delete.db");
    ASSERT_TRUE(s);
    br_account a, c;
    int32_t fav[] = {1};
    /* Reader 1 is imported, with folds in two splits and aggregates; give it an account,
     * sessions, an api rating, chosen favorites and events. */
    ASSERT_OK(br_account_claim(s, 1, "reader1", "r1@example.org", HASH, &a));
    ASSERT_OK(br_rating_put(s, 1, 9, 7, 3000));
    ASSERT_OK(br_fav_set(s, 1, fav, 1));
    ASSERT_OK(br_session_create(s, 1, "tok1", "csrf1", 5000));
    ASSERT_OK(br_session_create(s, 1, "tok2", "csrf2", 5000));
    br_event e = {100, 1, BR_EVENT_CLICK, BR_SURFACE_SIMILAR, "als", 5, "v1"};
    ASSERT_OK(br_event_insert(s, &e));
    /* A sign-up to delete too, and a bystander (reader 2) that must keep everything. */
    ASSERT_OK(br_account_create(s, "Zed", "zed@example.org", HASH, fav, 1, &c));
    ASSERT_OK(br_rating_put(s, c.user_id, 3, 5, 10));
    ASSERT_OK(br_session_create(s, c.account_id, "tok3", "c3", 5000));

    ASSERT_OK(br_account_delete(s, a.account_id));
    ASSERT_EQ_INT(br_account_by_id(s, 1, NULL), BR_ENOENT);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions WHERE account_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE user_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM split_folds WHERE user_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_aggregates WHERE user_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM events WHERE account_id = 1"), 0);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM events WHERE account_id = 0"), 1);
    /* The users row stays, marked and stripped of personal data; its id is not reused. */
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM users WHERE user_id = 1 AND deleted_at IS NOT "
                           "NULL AND location IS NULL AND age IS NULL AND external_id = '11'"),
                  1);
    /* The bystanders keep everything. */
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE user_id = 2"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM split_folds WHERE user_id = 2"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_aggregates WHERE user_id = 2"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = 2"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions"), 1);

    /* Nothing can be attached to the deleted reader any more. */
    ASSERT_EQ_INT(br_rating_put(s, 1, 5, 5, 1), BR_ENOENT);
    ASSERT_EQ_INT(br_fav_set(s, 1, fav, 1), BR_ENOENT);
    br_user_state us;
    ASSERT_EQ_INT(br_user_state_get(s, 1, &us), BR_ENOENT);
    ASSERT_EQ_INT(br_account_delete(s, a.account_id), BR_ENOENT);

    /* A sign-up's row frees its name: the same username can sign up again, with a new id. */
    int64_t zed = c.user_id;
    ASSERT_OK(br_account_delete(s, zed));
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE source = 'api'"), 0);
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM users WHERE user_id = %lld AND external_id = 'deleted-%lld'",
             (long long)zed, (long long)zed);
    ASSERT_EQ_INT(count(s, sql), 1);
    ASSERT_OK(br_account_create(s, "Zed", "zed@example.org", HASH, NULL, 0, &c));
    ASSERT_EQ_INT(c.user_id, zed + 1);
    ASSERT_EQ_INT(br_account_delete(NULL, 1), BR_EINVAL);
    br_store_close(s);
}

TEST(accounts_sessions)
{
    br_store *s = fixture("sessions.db");
    ASSERT_TRUE(s);
    br_account a;
    int64_t acc = -1;
    char csrf[BR_CSRF_MAX + 1], small[4];
    ASSERT_OK(br_account_create(s, "alice", "alice@example.org", HASH, NULL, 0, &a));
    ASSERT_OK(br_session_create(s, a.account_id, "h1", "csrf-one", 1000));
    ASSERT_OK(br_session_create(s, a.account_id, "h2", "csrf-two", 2000));
    ASSERT_EQ_INT(br_session_create(s, a.account_id, "h1", "x", 3000), BR_EEXIST);
    ASSERT_EQ_INT(br_session_create(s, 99, "h9", "x", 3000), BR_ENOENT);
    ASSERT_EQ_INT(br_session_create(s, a.account_id, "", "x", 3000), BR_EINVAL);
    ASSERT_EQ_INT(br_session_create(s, a.account_id, "h 3", "x", 3000), BR_EINVAL);
    ASSERT_EQ_INT(br_session_create(s, a.account_id, "h3", NULL, 3000), BR_EINVAL);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions"), 2);

    ASSERT_OK(br_session_lookup(s, "h1", 999, &acc, csrf, sizeof csrf));
    ASSERT_EQ_INT(acc, a.account_id);
    ASSERT_EQ_STR(csrf, "csrf-one");
    ASSERT_OK(br_session_lookup(s, "h2", 999, &acc, NULL, 0));
    ASSERT_EQ_INT(br_session_lookup(s, "h1", 999, &acc, small, sizeof small), BR_ERANGE);
    /* Expired at expires_at exactly; unknown and malformed are simply not found. */
    ASSERT_EQ_INT(br_session_lookup(s, "h1", 1000, &acc, csrf, sizeof csrf), BR_ENOENT);
    ASSERT_EQ_INT(br_session_lookup(s, "nope", 0, &acc, csrf, sizeof csrf), BR_ENOENT);
    ASSERT_EQ_INT(br_session_lookup(s, "' OR 1=1 --", 0, &acc, csrf, sizeof csrf), BR_ENOENT);
    ASSERT_EQ_INT(br_session_lookup(s, "h1", 0, NULL, csrf, sizeof csrf), BR_EINVAL);

    /* Purge takes the expired one only. */
    ASSERT_OK(br_session_purge_expired(s, 1500));
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions"), 1);
    ASSERT_OK(br_session_lookup(s, "h2", 1500, &acc, csrf, sizeof csrf));

    ASSERT_OK(br_session_delete(s, "h2"));
    ASSERT_EQ_INT(br_session_lookup(s, "h2", 0, &acc, csrf, sizeof csrf), BR_ENOENT);
    ASSERT_EQ_INT(br_session_delete(s, "h2"), BR_ENOENT);
    ASSERT_EQ_INT(br_session_delete(s, NULL), BR_ENOENT);

    /* Logout everywhere but here. */
    ASSERT_OK(br_session_create(s, a.account_id, "k1", "c", 9000));
    ASSERT_OK(br_session_create(s, a.account_id, "k2", "c", 9000));
    ASSERT_OK(br_session_create(s, a.account_id, "k3", "c", 9000));
    ASSERT_OK(br_session_delete_account(s, a.account_id, "k2"));
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions WHERE token_hash = 'k2'"), 1);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions"), 1);
    ASSERT_OK(br_session_delete_account(s, a.account_id, NULL));
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM sessions"), 0);
    br_store_close(s);
}

TEST(accounts_ratings_put_get_delete)
{
    br_store *s = fixture("ratings.db");
    ASSERT_TRUE(s);
    br_account a;
    br_rating_row r;
    br_user_state st0, st1;
    int64_t ts = -1;
    ASSERT_OK(br_account_create(s, "alice", "alice@example.org", HASH, NULL, 0, &a));
    int64_t u = a.user_id;
    ASSERT_OK(br_user_state_get(s, u, &st0));
    ASSERT_EQ_INT(st0.n_interactions, 0);
    ASSERT_OK(br_user_newest_ts(s, u, &ts));
    ASSERT_EQ_INT(ts, 0);

    ASSERT_OK(br_rating_put(s, u, 10, 7, 100));
    ASSERT_OK(br_rating_put(s, u, 11, 0, 200)); /* read, not rated */
    ASSERT_OK(br_rating_get(s, u, 10, &r));
    ASSERT_EQ_INT(r.rating, 7);
    ASSERT_EQ_INT(r.ts, 100);
    ASSERT_EQ_INT(r.item_idx, 10);
    ASSERT_OK(br_rating_put(s, u, 10, 9, 300)); /* upsert */
    ASSERT_OK(br_rating_get(s, u, 10, &r));
    ASSERT_EQ_INT(r.rating, 9);
    ASSERT_EQ_INT(r.ts, 300);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE user_id = 3 AND "
                           "source = 'api'"),
                  2);
    ASSERT_OK(br_user_newest_ts(s, u, &ts));
    ASSERT_EQ_INT(ts, 300);
    ASSERT_OK(br_user_state_get(s, u, &st1));
    ASSERT_EQ_INT(st1.n_interactions, 2);
    ASSERT_EQ_INT(st1.newest_ts, 300);
    ASSERT_EQ_INT(st1.rev, st0.rev + 3);

    /* Errors: range, unknown book, unknown reader; none writes. */
    ASSERT_EQ_INT(br_rating_put(s, u, 12, 11, 1), BR_ERANGE);
    ASSERT_EQ_INT(br_rating_put(s, u, 12, -1, 1), BR_ERANGE);
    ASSERT_EQ_INT(br_rating_put(s, u, 12, 5, -1), BR_ERANGE);
    ASSERT_EQ_INT(br_rating_put(s, u, N_WORKS, 5, 1), BR_ENOENT);
    ASSERT_EQ_INT(br_rating_put(s, u, -3, 5, 1), BR_ENOENT);
    ASSERT_EQ_INT(br_rating_put(s, 999, 12, 5, 1), BR_ENOENT);
    ASSERT_EQ_INT(br_rating_get(s, u, 12, &r), BR_ENOENT);
    ASSERT_EQ_INT(br_rating_get(s, u, 12, NULL), BR_EINVAL);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM interactions WHERE user_id IN (3, 999)"), 2);

    /* Delete, also an imported interaction of a claimed reader. */
    ASSERT_OK(br_rating_delete(s, u, 11));
    ASSERT_EQ_INT(br_rating_delete(s, u, 11), BR_ENOENT);
    ASSERT_EQ_INT(br_rating_get(s, u, 11, &r), BR_ENOENT);
    ASSERT_OK(br_rating_delete(s, 1, 5));
    ASSERT_EQ_INT(br_rating_delete(s, 1, 55), BR_ENOENT);
    /* The imported reader's interaction without a time reads as ts 0. */
    ASSERT_OK(br_rating_get(s, 1, 7, &r));
    ASSERT_EQ_INT(r.ts, 0);
    ASSERT_EQ_INT(r.rating, 4);
    br_store_close(s);
}

TEST(accounts_user_interactions)
{
    br_store *s = fixture("inter.db");
    ASSERT_TRUE(s);
    int32_t items[4];
    float ratings[4];
    int64_t ts[4];
    size_t n = 0;
    ASSERT_OK(br_user_interactions(s, 1, items, ratings, ts, 4, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(items[0], 5);
    ASSERT_EQ_INT(items[1], 6);
    ASSERT_EQ_INT(items[2], 7);
    ASSERT_NEAR(ratings[0], 8, 0);
    ASSERT_NEAR(ratings[1], 0, 0);
    ASSERT_EQ_INT(ts[1], 2000);
    ASSERT_EQ_INT(ts[2], 0);
    /* Too small a buffer: the first ones and the total. NULL outputs are skipped. */
    ASSERT_EQ_INT(br_user_interactions(s, 1, items, NULL, NULL, 2, &n), BR_ELIMIT);
    ASSERT_EQ_INT(n, 3);
    ASSERT_OK(br_user_interactions(s, 1, NULL, NULL, NULL, 3, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_OK(br_user_interactions(s, 77, items, ratings, ts, 4, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(br_user_interactions(s, 1, items, ratings, ts, 4, NULL), BR_EINVAL);
    int64_t newest;
    ASSERT_OK(br_user_newest_ts(s, 1, &newest));
    ASSERT_EQ_INT(newest, 2000);
    br_store_close(s);
}

/* Walks every page of reader u with page size k into out; returns the row count or -1. */
static int walk(br_store *s, int64_t u, size_t k, br_rating_row *out, size_t cap)
{
    br_rating_cursor cur;
    br_rating_row page[BR_RATING_PAGE_MAX];
    size_t total = 0, n;
    int more = 1, first = 1;
    while (more) {
        if (br_rating_list(s, u, first ? NULL : &cur, page, k, &n, &more))
            return -1;
        if (total + n > cap || (more && n != k))
            return -1;
        memcpy(out + total, page, n * sizeof *page);
        total += n;
        if (n) {
            cur.ts = page[n - 1].ts;
            cur.item_idx = page[n - 1].item_idx;
        }
        first = 0;
    }
    return (int)total;
}

TEST(accounts_ratings_keyset_pagination)
{
    br_store *s = fixture("pages.db");
    ASSERT_TRUE(s);
    br_account a;
    br_rating_row all[64], page[8];
    ASSERT_OK(br_account_create(s, "alice", "alice@example.org", HASH, NULL, 0, &a));
    int64_t u = a.user_id;
    /* 30 ratings, many sharing a ts, so ties are broken by item_idx. */
    for (int i = 0; i < 30; i++)
        ASSERT_OK(br_rating_put(s, u, i, i % 11, 1000 + (i % 4) * 10));
    for (size_t k = 1; k <= 31; k += 5) {
        ASSERT_EQ_INT(walk(s, u, k, all, 64), 30);
        for (int i = 1; i < 30; i++) {
            int ordered = all[i - 1].ts > all[i].ts ||
                          (all[i - 1].ts == all[i].ts && all[i - 1].item_idx > all[i].item_idx);
            ASSERT_TRUE(ordered);
        }
    }
    ASSERT_EQ_INT(all[0].ts, 1030);
    ASSERT_EQ_INT(all[0].item_idx, 27);

    /* Stability: take page 1, then add newer ratings (before the cursor) and older ones
     * (after it), and re-rate nothing: the remaining pages give every old row once, plus the
     * older new ones, and never a newer one. */
    size_t n;
    int more;
    ASSERT_OK(br_rating_list(s, u, NULL, page, 8, &n, &more));
    ASSERT_EQ_INT(n, 8);
    ASSERT_EQ_INT(more, 1);
    br_rating_cursor cur = {page[7].ts, page[7].item_idx};
    int seen[N_WORKS] = {0};
    for (size_t i = 0; i < n; i++)
        seen[page[i].item_idx]++;
    ASSERT_OK(br_rating_put(s, u, 40, 5, 5000));   /* newer: not on later pages */
    ASSERT_OK(br_rating_put(s, u, 41, 5, 500));    /* older: on a later page */
    ASSERT_OK(br_rating_put(s, u, 42, 5, cur.ts)); /* same ts, larger item: before the cursor */
    while (more) {
        ASSERT_OK(br_rating_list(s, u, &cur, page, 8, &n, &more));
        for (size_t i = 0; i < n; i++)
            seen[page[i].item_idx]++;
        if (n) {
            cur.ts = page[n - 1].ts;
            cur.item_idx = page[n - 1].item_idx;
        }
    }
    for (int i = 0; i < 30; i++)
        ASSERT_EQ_INT(seen[i], 1);
    ASSERT_EQ_INT(seen[40], 0);
    ASSERT_EQ_INT(seen[41], 1);
    ASSERT_EQ_INT(seen[42], 0);

    /* The last page says so; a cursor past the end gives an empty page. */
    br_rating_cursor end = {0, 0};
    ASSERT_OK(br_rating_list(s, u, &end, page, 8, &n, &more));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(more, 0);
    ASSERT_OK(br_rating_list(s, u, NULL, page, 8, &n, NULL));
    ASSERT_EQ_INT(br_rating_list(s, u, NULL, page, 0, &n, &more), BR_ERANGE);
    ASSERT_EQ_INT(br_rating_list(s, u, NULL, page, BR_RATING_PAGE_MAX + 1, &n, &more), BR_ERANGE);
    br_rating_cursor bad = {-1, 3};
    ASSERT_EQ_INT(br_rating_list(s, u, &bad, page, 8, &n, &more), BR_EINVAL);
    ASSERT_EQ_INT(br_rating_list(s, u, NULL, NULL, 8, &n, &more), BR_EINVAL);

    /* Imported rows without a time come last (as ts 0). */
    ASSERT_EQ_INT(walk(s, 1, 2, all, 64), 3);
    ASSERT_EQ_INT(all[0].item_idx, 6);
    ASSERT_EQ_INT(all[2].item_idx, 7);
    ASSERT_EQ_INT(all[2].ts, 0);
    br_store_close(s);
}

TEST(accounts_favorites_and_subjects)
{
    br_store *s = fixture("favs.db");
    ASSERT_TRUE(s);
    int32_t ids[8], id = -1;
    size_t n = 9;
    char name[BR_SUBJECT_NAME_MAX + 1];
    /* Reader 1 has only a derived favorite: no chosen ones. */
    ASSERT_OK(br_fav_get(s, 1, ids, 8, &n));
    ASSERT_EQ_INT(n, 0);
    int32_t set[] = {2, 1, 1};
    ASSERT_OK(br_fav_set(s, 1, set, 3));
    ASSERT_OK(br_fav_get(s, 1, ids, 8, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], 1);
    ASSERT_EQ_INT(ids[1], 2);
    /* The derived favorite gave way to the chosen ones. */
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = 1 AND "
                           "origin = 'derived'"),
                  0);
    ASSERT_EQ_INT(br_fav_get(s, 1, ids, 1, &n), BR_ELIMIT);
    ASSERT_EQ_INT(n, 2);
    int32_t bad[] = {1, 99};
    ASSERT_EQ_INT(br_fav_set(s, 1, bad, 2), BR_ENOENT);
    ASSERT_EQ_INT(br_fav_set(s, 42, set, 1), BR_ENOENT);
    ASSERT_EQ_INT(br_fav_set(s, 1, set, BR_FAV_MAX + 1), BR_ELIMIT);
    ASSERT_EQ_INT(br_fav_set(s, 1, NULL, 1), BR_EINVAL);
    ASSERT_OK(br_fav_get(s, 1, ids, 8, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_OK(br_fav_set(s, 1, NULL, 0));
    ASSERT_OK(br_fav_get(s, 1, NULL, 0, &n));
    ASSERT_EQ_INT(n, 0);
    /* Reader 2's derived favorite was left alone throughout. */
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = 2"), 1);

    ASSERT_OK(br_subject_find(s, "fantasy", &id));
    ASSERT_EQ_INT(id, 1);
    ASSERT_OK(br_subject_find(s, "  Science-Fiction ", &id));
    ASSERT_EQ_INT(id, 2);
    ASSERT_OK(br_subject_find(s, "sci-fi", &id));
    ASSERT_EQ_INT(id, 2);
    ASSERT_EQ_INT(br_subject_find(s, "cooking", &id), BR_ENOENT);
    ASSERT_EQ_INT(br_subject_find(s, "", &id), BR_ENOENT);
    ASSERT_EQ_INT(br_subject_find(s, NULL, &id), BR_ENOENT);
    ASSERT_OK(br_subject_name_get(s, 2, name, sizeof name));
    ASSERT_EQ_STR(name, "science fiction");
    ASSERT_EQ_INT(br_subject_name_get(s, 2, name, 5), BR_ERANGE);
    ASSERT_EQ_INT(br_subject_name_get(s, 9, name, sizeof name), BR_ENOENT);
    br_store_close(s);
}

TEST(accounts_events)
{
    br_store *s = fixture("events.db");
    ASSERT_TRUE(s);
    br_event_type t;
    br_event_surface su;
    ASSERT_OK(br_event_type_parse("click", &t));
    ASSERT_EQ_INT(t, BR_EVENT_CLICK);
    ASSERT_EQ_INT(br_event_type_parse("Click", &t), BR_EINVAL);
    ASSERT_EQ_INT(br_event_type_parse(NULL, &t), BR_EINVAL);
    ASSERT_OK(br_event_surface_parse("chat", &su));
    ASSERT_EQ_INT(su, BR_SURFACE_CHAT);
    ASSERT_EQ_INT(br_event_surface_parse("home", &su), BR_EINVAL);
    ASSERT_EQ_STR(br_event_type_name(BR_EVENT_IMPRESSION), "impression");
    ASSERT_EQ_STR(br_event_surface_name(BR_SURFACE_RECOMMENDATIONS), "recommendations");
    ASSERT_EQ_STR(br_event_surface_name((br_event_surface)9), "?");

    /* 10 impressions and 3 clicks on recommendations/als, 4 and 1 on similar/hybrid. */
    for (int i = 0; i < 13; i++) {
        br_event e = {100 + i,
                      i % 2,
                      i < 10 ? BR_EVENT_IMPRESSION : BR_EVENT_CLICK,
                      BR_SURFACE_RECOMMENDATIONS,
                      "als",
                      i,
                      "20240101-000000-000-0000abcd"};
        ASSERT_OK(br_event_insert(s, &e));
    }
    for (int i = 0; i < 5; i++) {
        br_event e = {200 + i,
                      0,
                      i < 4 ? BR_EVENT_IMPRESSION : BR_EVENT_CLICK,
                      BR_SURFACE_SIMILAR,
                      "hybrid",
                      1,
                      NULL};
        ASSERT_OK(br_event_insert(s, &e));
    }
    br_event anon = {300, 0, BR_EVENT_IMPRESSION, BR_SURFACE_SEARCH, NULL, 2, ""};
    ASSERT_OK(br_event_insert(s, &anon));

    br_event_count c[4];
    size_t n = 0;
    ASSERT_OK(br_event_counts(s, 0, 1000, c, 4, &n));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(c[0].surface, BR_SURFACE_RECOMMENDATIONS);
    ASSERT_EQ_STR(c[0].mode, "als");
    ASSERT_EQ_INT(c[0].impressions, 10);
    ASSERT_EQ_INT(c[0].clicks, 3);
    ASSERT_EQ_INT(c[1].surface, BR_SURFACE_SEARCH);
    ASSERT_EQ_STR(c[1].mode, "");
    ASSERT_EQ_INT(c[1].impressions, 1);
    ASSERT_EQ_INT(c[2].surface, BR_SURFACE_SIMILAR);
    ASSERT_EQ_STR(c[2].mode, "hybrid");
    ASSERT_EQ_INT(c[2].impressions, 4);
    ASSERT_EQ_INT(c[2].clicks, 1);
    /* A time window, and a buffer too small. */
    ASSERT_OK(br_event_counts(s, 200, 300, c, 4, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(c[0].impressions + c[0].clicks, 5);
    ASSERT_EQ_INT(br_event_counts(s, 0, 1000, c, 2, &n), BR_ELIMIT);
    ASSERT_EQ_INT(n, 3);

    /* Bad events write nothing. */
    int64_t before = count(s, "SELECT COUNT(*) FROM events");
    br_event e = {1, 0, BR_EVENT_CLICK, BR_SURFACE_SEARCH, "als", 1, "v"};
    e.mode = "has space";
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.mode = "m'; DELETE FROM events; --";
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.mode = "abcdefghijabcdefghijabcdefghijabc"; /* 33 */
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.mode = "abcdefghijabcdefghijabcdefghijab"; /* 32 is fine */
    e.version = "0123456789012345678901234567890123456789012345678901234567890123x"; /* 65 */
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.version = "v";
    e.type = (br_event_type)5;
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.type = BR_EVENT_CLICK;
    e.surface = (br_event_surface)-1;
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_EINVAL);
    e.surface = BR_SURFACE_CHAT;
    e.item_idx = N_WORKS + 5;
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_ENOENT);
    e.item_idx = 1;
    e.ts = -5;
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_ERANGE);
    e.ts = 1;
    e.account_id = -1;
    ASSERT_EQ_INT(br_event_insert(s, &e), BR_ERANGE);
    ASSERT_EQ_INT(br_event_insert(s, NULL), BR_EINVAL);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM events"), before);
    e.account_id = 0;
    ASSERT_OK(br_event_insert(s, &e)); /* 32-byte mode, ts 1 */

    /* Retention: everything before 200 goes. */
    ASSERT_OK(br_event_purge_older(s, 200));
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM events"), 6);
    ASSERT_EQ_INT(count(s, "SELECT COUNT(*) FROM events WHERE ts < 200"), 0);
    br_store_close(s);
}

TEST(accounts_null_store)
{
    int64_t v;
    size_t n;
    br_rating_row r;
    ASSERT_EQ_INT(br_account_by_id(NULL, 1, NULL), BR_EINVAL);
    ASSERT_EQ_INT(br_session_lookup(NULL, "x", 0, &v, NULL, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_session_purge_expired(NULL, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_rating_put(NULL, 1, 1, 1, 1), BR_EINVAL);
    ASSERT_EQ_INT(br_rating_get(NULL, 1, 1, &r), BR_EINVAL);
    ASSERT_EQ_INT(br_user_newest_ts(NULL, 1, &v), BR_EINVAL);
    ASSERT_EQ_INT(br_fav_get(NULL, 1, NULL, 0, &n), BR_EINVAL);
    ASSERT_EQ_INT(br_event_purge_older(NULL, 0), BR_EINVAL);
    ASSERT_EQ_INT(br_event_counts(NULL, 0, 1, NULL, 0, &n), BR_EINVAL);
}
