/* A small test harness.
 *
 * TEST(name) defines a test and registers it before main() runs, so a new
 * test file needs no central list: the Makefile globs every tests/unit/ subdirectory.
 * ASSERT_* print both operands with file:line and end the current test;
 * the runner ends with the line "N passed, N failed". */
#ifndef BOOKREC_TEST_HARNESS_H
#define BOOKREC_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*br_test_fn)(void);
void br_test_register(const char *name, const char *file, br_test_fn fn);
void br_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A fresh empty directory for the current test, removed after the run. */
const char *br_test_tmpdir(void);
/* Path of a fixture under tests/fixtures/ (static buffer, one at a time). */
const char *br_test_fixture(const char *rel);
/* Real data directory ($BOOKREC_DATA or ../shared/data), or NULL when absent. */
const char *br_test_data_dir(void);

#define TEST(name)                                                             \
    static void name(void);                                                    \
    __attribute__((constructor)) static void br__reg_##name(void)              \
    {                                                                          \
        br_test_register(#name, __FILE__, name);                               \
    }                                                                          \
    static void name(void)

#define ASSERT_TRUE(c)                                                         \
    do {                                                                       \
        if (!(c)) {                                                            \
            br_test_fail(__FILE__, __LINE__, "expected true: %s", #c);         \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                    \
    do {                                                                       \
        long long br__a = (long long)(a), br__b = (long long)(b);              \
        if (br__a != br__b) {                                                  \
            br_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, \
                         br__a, br__b);                                        \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_NE_INT(a, b)                                                    \
    do {                                                                       \
        long long br__a = (long long)(a), br__b = (long long)(b);              \
        if (br__a == br__b) {                                                  \
            br_test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b,    \
                         br__a);                                               \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_CMP_INT(a, op, b)                                               \
    do {                                                                       \
        long long br__a = (long long)(a), br__b = (long long)(b);              \
        if (!(br__a op br__b)) {                                               \
            br_test_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a,     \
                         #op, #b, br__a, br__b);                               \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                 \
    do {                                                                       \
        double br__a = (double)(a), br__b = (double)(b);                       \
        if (!(fabs(br__a - br__b) <= (tol))) {                                 \
            br_test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", \
                         #a, #b, br__a, br__b, (double)(tol));                 \
            return;                                                            \
        }                                                                      \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                    \
    do {                                                                       \
        const char *br__a = (a), *br__b = (b);                                 \
        if (!br__a || !br__b || strcmp(br__a, br__b) != 0) {                   \
            br_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,  \
                         #b, br__a ? br__a : "(null)",                         \
                         br__b ? br__b : "(null)");                            \
            return;                                                            \
        }                                                                      \
    } while (0)

/* For calls returning 0 or a BR_E* code. */
#define ASSERT_OK(call)                                                        \
    do {                                                                       \
        int br__rc = (call);                                                   \
        if (br__rc != 0) {                                                     \
            br_test_fail(__FILE__, __LINE__, "%s returned %d", #call, br__rc); \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif
