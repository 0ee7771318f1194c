/* libFuzzer driver for the book metadata reader (bookmeta.h).
 *
 * Input: 2 bytes little-endian = length of books.jsonl (clamped to what is
 * left), then books.jsonl, then books_offsets.npy. Invariant: an accepted pair
 * hands out, for every id, either BR_ENOENT or a line inside the jsonl buffer
 * that starts with '{', ends with '}' and is followed by its '\n'. */
#include "bookrec/bookmeta.h"
#include "bookrec/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8;
    const uint8_t *rest = data + 2;
    size_t left = size - 2;
    if (split > left)
        split = left;
    const char *jsonl = (const char *)rest;
    br_bookmeta *m;
    char err[128];
    if (br_bookmeta_parse(jsonl, split, rest + split, left - split, err, sizeof err, &m) != 0) {
        if (!memchr(err, 0, sizeof err)) /* the message is always terminated */
            abort();
        return 0;
    }
    size_t n = br_bookmeta_count(m);
    for (int64_t id = -1; id <= (int64_t)n; id++) {
        const char *s;
        size_t len;
        int rc = br_bookmeta_get(m, id, &s, &len);
        if (rc == BR_ENOENT)
            continue;
        if (rc != 0 || id < 0 || (size_t)id >= n)
            abort();
        if (s < jsonl || len < 2 || (size_t)(s - jsonl) + len >= split)
            abort();
        if (s[0] != '{' || s[len - 1] != '}' || s[len] != '\n' || memchr(s, '\n', len))
            abort();
    }
    br_bookmeta_free(m);
    return 0;
}
