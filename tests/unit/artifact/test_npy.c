/* Tests of lib/artifact/npy.c, including a check that numpy reads what we
 * write (when /usr/bin/python3 has numpy). */
#include "harness.h"

#include "bookrec/error.h"
#include "bookrec/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(npy_roundtrip_2d_f32_and_1d_i64)
{
    char p1[512], p2[512];
    float m[6] = {1, 2, 3, 4, 5, 6.5f};
    int64_t v[3] = {-1, 0, 1LL << 40};
    br_npy a, b;
    snprintf(p1, sizeof p1, "%s/m.npy", br_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/v.npy", br_test_tmpdir());
    ASSERT_OK(br_npy_write(p1, BR_NPY_F32, m, 2, 3));
    ASSERT_OK(br_npy_write(p2, BR_NPY_I64, v, 3, 0));
    ASSERT_OK(br_npy_open(p1, &a));
    ASSERT_EQ_INT(a.dtype, BR_NPY_F32);
    ASSERT_EQ_INT(a.rows, 2);
    ASSERT_EQ_INT(a.cols, 3);
    ASSERT_EQ_INT((uintptr_t)a.data % 64, 0);
    ASSERT_NEAR(((const float *)a.data)[5], 6.5, 0);
    ASSERT_OK(br_npy_open(p2, &b));
    ASSERT_EQ_INT(b.cols, 0);
    ASSERT_EQ_INT(((const int64_t *)b.data)[2], 1LL << 40);
    br_npy_close(&a);
    br_npy_close(&b);
    br_npy_close(NULL);
}

TEST(npy_numpy_reads_our_files)
{
    char p[512], cmd[1200];
    float m[4] = {0.5f, -1, 2, 3};
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        return; /* numpy is optional on a developer machine */
    snprintf(p, sizeof p, "%s/n.npy", br_test_tmpdir());
    ASSERT_OK(br_npy_write(p, BR_NPY_F32, m, 2, 2));
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; a = np.load('%s', mmap_mode='r'); "
             "sys.exit(0 if a.shape == (2, 2) and a.dtype == np.float32 and a[1, 1] == 3 and "
             "a[0, 0] == 0.5 else 1)\"",
             p);
    ASSERT_EQ_INT(system(cmd), 0);
}

TEST(npy_rejects_bad_files)
{
    char p[512];
    br_npy a;
    float m[4] = {0};
    snprintf(p, sizeof p, "%s/t.npy", br_test_tmpdir());
    ASSERT_OK(br_npy_write(p, BR_NPY_F32, m, 2, 2));
    /* Truncated: the data no longer fills the declared shape. */
    ASSERT_EQ_INT(truncate(p, 64 + 8), 0);
    ASSERT_EQ_INT(br_npy_open(p, &a), BR_ECORRUPT);
    ASSERT_EQ_INT(br_npy_open("/nonexistent/x.npy", &a), BR_ENOENT);
    ASSERT_EQ_INT(br_npy_parse("\x93NUMPY\x02\x00\x00\x00", 10, &a), BR_EFORMAT);
    ASSERT_EQ_INT(br_npy_parse("PK\x03\x04 not numpy", 16, &a), BR_EFORMAT);
    const char fortran[] = "\x93NUMPY\x01\x00\x36\x00{'descr': '<f4', 'fortran_order': True, "
                           "'shape': (1,), }  \n\x00\x00\x80\x3f";
    ASSERT_EQ_INT(br_npy_parse(fortran, sizeof fortran - 1, &a), BR_EFORMAT);
    const char f8[] = "\x93NUMPY\x01\x00\x36\x00{'descr': '<f2', 'fortran_order': False, "
                      "'shape': (1,), } \n\x00\x00\x00\x00\x00\x00\xf0\x3f";
    ASSERT_EQ_INT(br_npy_parse(f8, sizeof f8 - 1, &a), BR_EFORMAT);
    ASSERT_EQ_INT(br_npy_write(p, (enum br_npy_dtype)9, m, 1, 0), BR_EINVAL);
}

TEST(npy_f64_and_u8_roundtrip_and_numpy_reads_them)
{
    char p1[512], p2[512], cmd[1400];
    double d[3] = {0.25, -1e300, 3};
    uint8_t u[5] = {0, 1, 255, 7, 1};
    br_npy a, b;
    snprintf(p1, sizeof p1, "%s/d.npy", br_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/u.npy", br_test_tmpdir());
    ASSERT_OK(br_npy_write(p1, BR_NPY_F64, d, 3, 0));
    ASSERT_OK(br_npy_write(p2, BR_NPY_U8, u, 5, 0));
    ASSERT_OK(br_npy_open(p1, &a));
    ASSERT_OK(br_npy_open(p2, &b));
    ASSERT_EQ_INT(a.dtype, BR_NPY_F64);
    ASSERT_EQ_INT(b.dtype, BR_NPY_U8);
    ASSERT_NEAR(((const double *)a.data)[1], -1e300, 0);
    ASSERT_EQ_INT(((const uint8_t *)b.data)[2], 255);
    ASSERT_EQ_INT(b.rows, 5);
    br_npy_close(&a);
    br_npy_close(&b);
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        return;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, sys; a = np.load('%s'); b = np.load('%s'); "
             "sys.exit(0 if a.dtype == np.float64 and a[0] == 0.25 and b.dtype == np.uint8 and "
             "list(b) == [0, 1, 255, 7, 1] else 1)\"",
             p1, p2);
    ASSERT_EQ_INT(system(cmd), 0);
}
