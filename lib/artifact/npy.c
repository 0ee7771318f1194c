/* NumPy .npy files, format 1.0 (see npy.h).
 *
 * Design decisions:
 * 1. Only what our models store: little-endian float32/int32/int64, C order,
 *    1-D or 2-D. Anything else is BR_EFORMAT, not a guess.
 * 2. The header is padded so the data starts at a multiple of 64 bytes, as
 *    numpy does, so a mapped array is aligned for SIMD loads.
 * 3. Reading maps the file read-only and validates the header and the sizes
 *    against the file length before any pointer is handed out; nothing is
 *    copied. A parse of a buffer runs the same checks (for the fuzzer).
 * 4. Writing goes to a temp file, fsync, rename, fsync of the directory
 *    (br_atomic_begin/end): a crash never leaves a half-written array under
 *    the final name.
 */
#include "bookrec/npy.h"
#include "bookrec/error.h"
#include "bookrec/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER 4096

static const char *descr_of(enum br_npy_dtype t)
{
    switch (t) {
    case BR_NPY_F32: return "<f4";
    case BR_NPY_I32: return "<i4";
    case BR_NPY_I64: return "<i8";
    case BR_NPY_F64: return "<f8";
    case BR_NPY_U8: return "|u1";
    }
    return NULL;
}

static size_t size_of(enum br_npy_dtype t)
{
    return t == BR_NPY_I64 || t == BR_NPY_F64 ? 8 : t == BR_NPY_U8 ? 1 : 4;
}

int br_npy_write(const char *path, enum br_npy_dtype dtype, const void *data, size_t rows,
                 size_t cols)
{
    const char *descr = descr_of(dtype);
    char hdr[256];
    if (!path || !descr || (!data && rows))
        return BR_EINVAL;
    size_t n = cols ? rows * cols : rows;
    if (cols && rows && n / cols != rows)
        return BR_ELIMIT;
    int h;
    if (cols)
        h = snprintf(hdr + 10, sizeof hdr - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                     rows, cols);
    else
        h = snprintf(hdr + 10, sizeof hdr - 10,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
    size_t total = 10 + (size_t)h + 1; /* + '\n' */
    size_t padded = (total + 63) / 64 * 64;
    memset(hdr + 10 + h, ' ', padded - total);
    hdr[padded - 1] = '\n';
    memcpy(hdr, NPY_MAGIC, 6);
    hdr[6] = 1;
    hdr[7] = 0;
    hdr[8] = (char)((padded - 10) & 0xff);
    hdr[9] = (char)((padded - 10) >> 8);
    br_atomic_file af;
    int rc = br_atomic_begin(path, &af);
    if (rc)
        return rc;
    rc = br_write_all(af.fd, hdr, padded);
    if (!rc)
        rc = br_write_all(af.fd, data, n * size_of(dtype));
    return br_atomic_end(&af, rc);
}

/* Finds 'key': in the header dict and returns the text after the colon. */
static const char *dict_value(const char *h, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 3 <= n; i++) {
        if ((h[i] == '\'' || h[i] == '"') && !memcmp(h + i + 1, key, kl) && h[i + 1 + kl] == h[i]) {
            const char *p = h + i + kl + 2;
            while (p < h + n && (*p == ' ' || *p == ':'))
                p++;
            return p < h + n ? p : NULL;
        }
    }
    return NULL;
}

static int parse_size(const char **p, const char *end, size_t *out)
{
    size_t v = 0;
    int digits = 0;
    while (*p < end && **p == ' ')
        (*p)++;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(**p - '0');
        (*p)++;
        digits++;
    }
    *out = v;
    return digits ? 0 : -1;
}

int br_npy_parse(const void *buf, size_t len, br_npy *out)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, NPY_MAGIC, 6) != 0)
        return BR_EFORMAT;
    if (b[6] != 1 || b[7] != 0)
        return BR_EFORMAT; /* only format 1.0, which is what we write */
    size_t hl = (size_t)b[8] | (size_t)b[9] << 8;
    if (hl > NPY_MAX_HEADER || 10 + hl > len)
        return BR_ECORRUPT;
    const char *h = (const char *)b + 10, *end = h + hl;
    const char *d = dict_value(h, hl, "descr"), *f = dict_value(h, hl, "fortran_order"),
               *s = dict_value(h, hl, "shape");
    if (!d || !f || !s)
        return BR_EFORMAT;
    if (end - d >= 5 && !memcmp(d, "'<f4'", 5))
        out->dtype = BR_NPY_F32;
    else if (end - d >= 5 && !memcmp(d, "'<i4'", 5))
        out->dtype = BR_NPY_I32;
    else if (end - d >= 5 && !memcmp(d, "'<i8'", 5))
        out->dtype = BR_NPY_I64;
    else if (end - d >= 5 && !memcmp(d, "'<f8'", 5))
        out->dtype = BR_NPY_F64;
    else if (end - d >= 5 && !memcmp(d, "'|u1'", 5))
        out->dtype = BR_NPY_U8;
    else
        return BR_EFORMAT;
    if (end - f < 5 || memcmp(f, "False", 5) != 0)
        return BR_EFORMAT;
    if (*s != '(')
        return BR_EFORMAT;
    s++;
    size_t dims[2], nd = 0;
    /* "(rows,)" or "(rows, cols)": numbers separated by commas. */
    while (s < end && *s != ')') {
        if (nd == 2 || parse_size(&s, end, &dims[nd]) != 0)
            return BR_EFORMAT;
        nd++;
        while (s < end && *s == ' ')
            s++;
        if (s < end && *s == ',')
            s++;
        else if (s < end && *s != ')')
            return BR_EFORMAT;
        while (s < end && *s == ' ')
            s++;
    }
    /* cols == 0 means 1-D in br_npy: a 2-D array without columns is not ours. */
    if (s >= end || nd == 0 || (nd == 2 && dims[1] == 0))
        return BR_EFORMAT;
    out->rows = dims[0];
    out->cols = nd == 2 ? dims[1] : 0;
    size_t n = out->rows;
    if (nd == 2 && out->cols && n > SIZE_MAX / out->cols)
        return BR_ECORRUPT;
    if (nd == 2)
        n *= out->cols;
    if (n > (SIZE_MAX - 10 - hl) / size_of(out->dtype) || 10 + hl + n * size_of(out->dtype) != len)
        return BR_ECORRUPT; /* the data must fill the rest of the file exactly */
    out->data = b + 10 + hl;
    return 0;
}

int br_npy_open(const char *path, br_npy *out)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? BR_ENOENT : BR_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return BR_EIO;
    }
    size_t len = (size_t)st.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED)
        return len ? BR_EIO : BR_EFORMAT;
    int rc = br_npy_parse(map, len, out);
    if (rc) {
        munmap(map, len);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->map = map;
    out->map_len = len;
    return 0;
}

void br_npy_close(br_npy *a)
{
    if (a && a->map)
        munmap(a->map, a->map_len);
    if (a)
        memset(a, 0, sizeof *a);
}
