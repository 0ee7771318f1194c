/* Tests of server/auth.c: password limits and hashing, the dummy verify's
 * cost, token shapes and hashes, cookies, the Cookie and Authorization
 * parsers on hostile input, and the CSRF rule. */
#include "harness.h"

#include "auth.h"
#include "bookrec/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(auth_password_limits)
{
    char err[100], h[BR_AUTH_HASH_CAP];
    char long_pw[BR_AUTH_PASSWORD_MAX + 2];
    memset(long_pw, 'x', sizeof long_pw - 1);
    long_pw[sizeof long_pw - 1] = '\0'; /* 129 bytes */
    ASSERT_EQ_INT(br_auth_password_check("1234567", err, sizeof err), BR_EINVAL);
    ASSERT_TRUE(strstr(err, "at least 8 bytes") != NULL);
    ASSERT_EQ_INT(br_auth_password_check(NULL, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_auth_password_check(long_pw, err, sizeof err), BR_ELIMIT);
    ASSERT_TRUE(strstr(err, "at most 128 bytes") != NULL);
    ASSERT_OK(br_auth_password_check("12345678", err, sizeof err));
    long_pw[BR_AUTH_PASSWORD_MAX] = '\0'; /* exactly 128 */
    ASSERT_OK(br_auth_password_check(long_pw, NULL, 0));
    /* The hash refuses the same, and a short output buffer. */
    ASSERT_EQ_INT(br_auth_hash_password("short", h, sizeof h), BR_EINVAL);
    ASSERT_EQ_STR(h, "");
    ASSERT_EQ_INT(br_auth_hash_password("long enough", h, BR_AUTH_HASH_CAP - 1), BR_EINVAL);
}

TEST(auth_hash_verify)
{
    char h1[BR_AUTH_HASH_CAP], h2[BR_AUTH_HASH_CAP];
    ASSERT_OK(br_auth_hash_password("correct horse battery", h1, sizeof h1));
    ASSERT_OK(br_auth_hash_password("correct horse battery", h2, sizeof h2));
    ASSERT_TRUE(!strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31));
    ASSERT_TRUE(strcmp(h1, h2) != 0); /* salted */
    ASSERT_EQ_INT(br_auth_verify_password(h1, "correct horse battery"), 1);
    ASSERT_EQ_INT(br_auth_verify_password(h2, "correct horse battery"), 1);
    ASSERT_EQ_INT(br_auth_verify_password(h1, "correct horse batterY"), 0);
    ASSERT_EQ_INT(br_auth_verify_password(h1, "short"), 0);
    ASSERT_EQ_INT(br_auth_verify_password(h1, NULL), 0);
    ASSERT_EQ_INT(br_auth_verify_password(NULL, "correct horse battery"), 0);
    ASSERT_EQ_INT(br_auth_verify_password("$argon2id$garbage", "correct horse battery"), 0);
    ASSERT_EQ_INT(br_auth_needs_rehash(h1), 0);
    /* Weaker parameters (as an older release might have used) need a rehash. */
    ASSERT_EQ_INT(br_auth_needs_rehash("$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
                                       "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"),
                  1);
    /* A string longer than any encoded hash is refused, not read past. */
    char big[300];
    memset(big, '$', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ_INT(br_auth_verify_password(big, "correct horse battery"), 0);
}

/* An unknown user's login costs what a wrong password costs: the median of
 * a few runs of each may differ by scheduling noise, not by a factor. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

TEST(auth_dummy_verify_timing)
{
    char h[BR_AUTH_HASH_CAP];
    double wrong[5], dummy[5];
    ASSERT_OK(br_auth_warmup());
    ASSERT_OK(br_auth_hash_password("the real password", h, sizeof h));
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        ASSERT_EQ_INT(br_auth_verify_password(h, "a wrong password"), 0);
        double t1 = now_s();
        ASSERT_EQ_INT(br_auth_dummy_verify("a wrong password"), 0);
        double t2 = now_s();
        wrong[i] = t1 - t0;
        dummy[i] = t2 - t1;
    }
    qsort(wrong, 5, sizeof wrong[0], cmp_double);
    qsort(dummy, 5, sizeof dummy[0], cmp_double);
    double ratio = dummy[2] / wrong[2];
    if (!(ratio > 0.5 && ratio < 2.0))
        br_test_fail(__FILE__, __LINE__, "dummy %.1f ms vs wrong password %.1f ms", dummy[2] * 1e3,
                     wrong[2] * 1e3);
    ASSERT_TRUE(wrong[2] > 0.005); /* really Argon2id at 64 MiB, not a shortcut */
}

TEST(auth_tokens)
{
    char t1[BR_AUTH_TOKEN_CAP], t2[BR_AUTH_TOKEN_CAP], c[BR_AUTH_TOKEN_CAP];
    char h1[BR_AUTH_TOKEN_HASH_CAP], h2[BR_AUTH_TOKEN_HASH_CAP];
    ASSERT_OK(br_auth_new_token(t1, sizeof t1));
    ASSERT_OK(br_auth_new_token(t2, sizeof t2));
    ASSERT_OK(br_auth_new_csrf(c, sizeof c));
    ASSERT_EQ_INT(strlen(t1), BR_AUTH_TOKEN_LEN);
    ASSERT_EQ_INT(strlen(c), BR_AUTH_TOKEN_LEN);
    ASSERT_TRUE(strcmp(t1, t2) != 0 && strcmp(t1, c) != 0);
    ASSERT_EQ_INT(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                  BR_AUTH_TOKEN_LEN);
    ASSERT_EQ_INT(br_auth_token_valid(t1), 1);
    ASSERT_EQ_INT(br_auth_new_token(t1, BR_AUTH_TOKEN_CAP - 1), BR_EINVAL);

    ASSERT_OK(br_auth_token_hash(t2, h1));
    ASSERT_OK(br_auth_token_hash(t2, h2));
    ASSERT_EQ_STR(h1, h2);
    ASSERT_EQ_INT(strlen(h1), 64);
    ASSERT_EQ_INT(strspn(h1, "0123456789abcdef"), 64);
    ASSERT_OK(br_auth_token_hash(c, h2));
    ASSERT_TRUE(strcmp(h1, h2) != 0);
    /* A known answer: BLAKE2b-256 of 43 'A's (b2sum -l 256). */
    ASSERT_OK(br_auth_token_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h1));
    ASSERT_EQ_STR(h1, "6342b384e5d6294c5df1110132b93b97b395a2ff4cca498af637b3e06b3095dd");

    const char *bad[] = {"",
                         "short",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;",
                         "' OR 1=1 --",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        ASSERT_EQ_INT(br_auth_token_valid(bad[i]), 0);
        ASSERT_EQ_INT(br_auth_token_hash(bad[i], h1), BR_EFORMAT);
        ASSERT_EQ_STR(h1, "");
    }
    ASSERT_EQ_INT(br_auth_token_hash(NULL, h1), BR_EFORMAT);
}

TEST(auth_cookies_set)
{
    char tok[BR_AUTH_TOKEN_CAP], out[256], want[256];
    ASSERT_OK(br_auth_new_token(tok, sizeof tok));
    ASSERT_OK(br_auth_session_cookie(out, sizeof out, tok, 86400, 0));
    snprintf(want, sizeof want, "bookrec_session=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400",
             tok);
    ASSERT_EQ_STR(out, want);
    ASSERT_OK(br_auth_session_cookie(out, sizeof out, tok, 60, 1));
    snprintf(want, sizeof want,
             "bookrec_session=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure", tok);
    ASSERT_EQ_STR(out, want);
    /* Refusals: injection through the token, bad ages, a short buffer. */
    ASSERT_EQ_INT(br_auth_session_cookie(out, sizeof out, "x\r\nSet-Cookie: a=b", 60, 0),
                  BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_session_cookie(out, sizeof out, tok, 0, 0), BR_ERANGE);
    ASSERT_EQ_INT(br_auth_session_cookie(out, sizeof out, tok, -5, 0), BR_ERANGE);
    ASSERT_EQ_INT(br_auth_session_cookie(out, sizeof out, tok, BR_AUTH_COOKIE_MAX_AGE + 1, 0),
                  BR_ERANGE);
    ASSERT_EQ_INT(br_auth_session_cookie(out, 60, tok, 60, 0), BR_ELIMIT);
    ASSERT_EQ_STR(out, "");

    ASSERT_OK(br_auth_clear_cookie(out, sizeof out, 1));
    ASSERT_TRUE(!strncmp(out, "bookrec_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", 59));
    ASSERT_TRUE(strstr(out, "Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure") != NULL);
    ASSERT_OK(br_auth_clear_cookie(out, sizeof out, 0));
    ASSERT_TRUE(strstr(out, "Secure") == NULL);
    ASSERT_EQ_INT(br_auth_clear_cookie(out, 10, 0), BR_ELIMIT);

    /* What we set, we parse back. */
    char got[64];
    ASSERT_OK(br_auth_session_cookie(out, sizeof out, tok, 60, 0));
    *strchr(out, ';') = '\0';
    ASSERT_OK(br_auth_cookie_get(out, BR_AUTH_COOKIE, got, sizeof got));
    ASSERT_EQ_STR(got, tok);
}

TEST(auth_cookie_parse)
{
    char v[16];
    const char *name = "sid";
    ASSERT_OK(br_auth_cookie_get("sid=abc", name, v, sizeof v));
    ASSERT_EQ_STR(v, "abc");
    ASSERT_OK(br_auth_cookie_get("  a=1;sid=abc ;b=2", name, v, sizeof v));
    ASSERT_EQ_STR(v, "abc");
    ASSERT_OK(br_auth_cookie_get("a=1; \t sid \t = \t abc\t; b=2", name, v, sizeof v));
    ASSERT_EQ_STR(v, "abc");
    ASSERT_OK(br_auth_cookie_get("sid=\"abc\"", name, v, sizeof v));
    ASSERT_EQ_STR(v, "abc");
    ASSERT_OK(br_auth_cookie_get("sid=first; sid=second", name, v, sizeof v));
    ASSERT_EQ_STR(v, "first");
    ASSERT_OK(br_auth_cookie_get("sid=", name, v, sizeof v));
    ASSERT_EQ_STR(v, "");
    ASSERT_OK(br_auth_cookie_get("sid=a=b", name, v, sizeof v)); /* '=' is a cookie-octet */
    ASSERT_EQ_STR(v, "a=b");
    /* Other applications' malformed cookies do not hide ours. */
    ASSERT_OK(br_auth_cookie_get("junk; x=\"un closed; ;;=; sid=ok", name, v, sizeof v));
    ASSERT_EQ_STR(v, "ok");
    /* Names match exactly: no prefix, suffix or case folding. */
    ASSERT_EQ_INT(br_auth_cookie_get("xsid=1; sidx=2; SID=3; si=4", name, v, sizeof v), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_cookie_get("", name, v, sizeof v), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_cookie_get(";;;", name, v, sizeof v), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_cookie_get("sid", name, v, sizeof v), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_cookie_get(NULL, name, v, sizeof v), BR_ENOENT);
    /* Our value must be clean; it is never truncated. */
    ASSERT_EQ_INT(br_auth_cookie_get("sid=a b", name, v, sizeof v), BR_EFORMAT);
    ASSERT_EQ_STR(v, "");
    ASSERT_EQ_INT(br_auth_cookie_get("sid=a\\b", name, v, sizeof v), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=\"a", name, v, sizeof v), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=a,b", name, v, sizeof v), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=\x01", name, v, sizeof v), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=\xc3\xa9", name, v, sizeof v), BR_EFORMAT);
    ASSERT_OK(br_auth_cookie_get("sid=123456789012345", name, v, sizeof v)); /* 15 fits */
    ASSERT_EQ_INT(br_auth_cookie_get("sid=1234567890123456", name, v, sizeof v), BR_ELIMIT);
    ASSERT_EQ_STR(v, "");
    /* An oversize header is refused as a whole. */
    size_t big = BR_AUTH_COOKIE_HEADER_MAX + 10;
    char *h = malloc(big + 1);
    ASSERT_TRUE(h != NULL);
    memset(h, 'a', big);
    memcpy(h, "sid=ok; x=", 10);
    h[big] = '\0';
    int rc = br_auth_cookie_get(h, name, v, sizeof v);
    h[BR_AUTH_COOKIE_HEADER_MAX] = '\0';
    int rc2 = br_auth_cookie_get(h, name, v, sizeof v);
    free(h);
    ASSERT_EQ_INT(rc, BR_ELIMIT);
    ASSERT_OK(rc2);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=1", "", v, sizeof v), BR_EINVAL);
    ASSERT_EQ_INT(br_auth_cookie_get("sid=1", name, v, 0), BR_EINVAL);
}

TEST(auth_bearer_parse)
{
    char t[16];
    ASSERT_OK(br_auth_bearer("Bearer abc", t, sizeof t));
    ASSERT_EQ_STR(t, "abc");
    ASSERT_OK(br_auth_bearer("bearer   a-b_c.d~e+f/g==  ", t, sizeof t));
    ASSERT_EQ_STR(t, "a-b_c.d~e+f/g==");
    ASSERT_OK(br_auth_bearer("  BEARER\tx", t, sizeof t));
    ASSERT_EQ_STR(t, "x");
    ASSERT_EQ_INT(br_auth_bearer(NULL, t, sizeof t), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_bearer("", t, sizeof t), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_bearer("Basic dXNlcjpwYXNz", t, sizeof t), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_bearer("Bearerabc", t, sizeof t), BR_ENOENT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer    ", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer a b", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer a=b", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer a;b", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer =", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_INT(br_auth_bearer("Bearer a\r\nX: y", t, sizeof t), BR_EFORMAT);
    ASSERT_EQ_STR(t, "");
    ASSERT_OK(br_auth_bearer("Bearer 123456789012345", t, sizeof t));
    ASSERT_EQ_INT(br_auth_bearer("Bearer 1234567890123456", t, sizeof t), BR_ELIMIT);
    ASSERT_EQ_STR(t, "");
}

TEST(auth_csrf_rule)
{
    ASSERT_EQ_INT(br_auth_csrf_required("POST", 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required("PATCH", 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required("DELETE", 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required("PUT", 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required("FOO", 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required(NULL, 1), 1);
    ASSERT_EQ_INT(br_auth_csrf_required("GET", 1), 0);
    ASSERT_EQ_INT(br_auth_csrf_required("HEAD", 1), 0);
    ASSERT_EQ_INT(br_auth_csrf_required("OPTIONS", 1), 0);
    ASSERT_EQ_INT(br_auth_csrf_required("POST", 0), 0); /* Bearer: exempt */
    ASSERT_EQ_INT(br_auth_csrf_required("DELETE", 0), 0);

    char c[BR_AUTH_TOKEN_CAP], d[BR_AUTH_TOKEN_CAP];
    ASSERT_OK(br_auth_new_csrf(c, sizeof c));
    memcpy(d, c, sizeof c);
    ASSERT_EQ_INT(br_auth_csrf_equal(c, d), 1);
    d[BR_AUTH_TOKEN_LEN - 1] ^= 1;
    ASSERT_EQ_INT(br_auth_csrf_equal(c, d), 0);
    d[BR_AUTH_TOKEN_LEN - 1] = '\0';
    ASSERT_EQ_INT(br_auth_csrf_equal(c, d), 0); /* a prefix */
    ASSERT_EQ_INT(br_auth_csrf_equal(c, NULL), 0);
    ASSERT_EQ_INT(br_auth_csrf_equal(c, ""), 0);
    ASSERT_EQ_INT(br_auth_csrf_equal("", ""), 0);
    ASSERT_EQ_INT(br_auth_csrf_equal(NULL, NULL), 0);
}

/* Hash calls from many threads at once: all succeed and verify (the
 * parallelism cap queues them rather than failing). */
static void *hash_thread(void *arg)
{
    char *h = arg;
    if (br_auth_hash_password("threaded password", h, BR_AUTH_HASH_CAP) != 0)
        h[0] = '\0';
    return NULL;
}

TEST(auth_hash_threads)
{
    enum { N = BR_AUTH_MAX_PARALLEL_HASHES + 2 };
    pthread_t th[N];
    static char hashes[N][BR_AUTH_HASH_CAP];
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, hash_thread, hashes[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(br_auth_verify_password(hashes[i], "threaded password"), 1);
}
