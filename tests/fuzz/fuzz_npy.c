/* libFuzzer driver for the .npy header parser. Invariant: an accepted buffer
 * describes data that lies entirely inside it. */
#include "bookrec/npy.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    br_npy a;
    if (br_npy_parse(data, size, &a) != 0)
        return 0;
    size_t n = a.cols ? a.rows * a.cols : a.rows;
    size_t el = a.dtype == BR_NPY_I64 || a.dtype == BR_NPY_F64 ? 8 : a.dtype == BR_NPY_U8 ? 1 : 4;
    const uint8_t *p = a.data;
    if (p < data || p + n * el != data + size)
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n * el; i++)
        sink ^= p[i]; /* ASan checks every byte is inside */
    (void)sink;
    return 0;
}
