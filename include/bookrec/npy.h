/* NumPy .npy files (format 1.0): how dense model arrays are stored, so that
 * numpy reads them (np.load, mmap_mode="r") and we map them without copying.
 *
 * Supported dtypes: '<f4' float32, '<i4' int32, '<i8' int64, '<f8' float64, '|u1' uint8
 * (flags); C order; 1 or 2
 * dimensions. The loader validates the magic, version, header, dtype, shape
 * against the file length before handing out a pointer. */
#ifndef BOOKREC_NPY_H
#define BOOKREC_NPY_H

#include <stddef.h>
#include <stdint.h>

enum br_npy_dtype { BR_NPY_F32 = 1, BR_NPY_I32 = 2, BR_NPY_I64 = 3, BR_NPY_F64 = 4, BR_NPY_U8 = 5 };

/* Writes rows x cols (cols 0 = a 1-D array of rows elements), atomically:
 * a temp file, fsync, rename, fsync of the directory (br_atomic_begin/end). */
int br_npy_write(const char *path, enum br_npy_dtype dtype, const void *data, size_t rows,
                 size_t cols);

typedef struct br_npy {
    enum br_npy_dtype dtype;
    size_t rows, cols; /* cols 0 for 1-D */
    const void *data;  /* into the mapping */
    void *map;
    size_t map_len;
} br_npy;

/* Maps path read-only. 0, BR_ENOENT, BR_EIO, BR_EFORMAT (not an npy we read),
 * BR_ECORRUPT (sizes disagree with the file length). */
int br_npy_open(const char *path, br_npy *out);
/* Same checks on a buffer (no mapping; data points into buf): for the fuzzer. */
int br_npy_parse(const void *buf, size_t len, br_npy *out);
void br_npy_close(br_npy *a);

#endif
