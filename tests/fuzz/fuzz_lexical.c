/* libFuzzer driver for the lexical index loader (lib/index/lexical.c): the input is an index
 * file. It is parsed from an 8-byte aligned copy (br_lexical_parse), and again after its
 * checksum has been recomputed, so that the structural checks behind the checksum are
 * reached too (the fuzzer cannot forge an XXH64). Invariants: a failure always says why and
 * hands out nothing; an index that loads answers searches (plain, completing the last word,
 * filtered) with ids it holds, best first, and never crashes.
 * Seeds: tests/fuzz/corpus/lexical/, written by the unit test lexical_write_fuzz_seeds. */
#include "bookrec/lexical.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHECKSUM_AT 32 /* docs/indexes.md, "Lexical index" */

static void exercise(br_lexical *x)
{
    static const char *const q[] = {"harry pot", "a", "the e", "cafe ", "zz9 ", "ä ö ü"};
    int32_t bound = br_lexical_id_bound(x), ids[8];
    float sc[8];
    /* Ids may legally reach INT32_MAX - 1: filter only where the mask is small. */
    uint8_t *allow = bound > 0 && bound <= (1 << 16) ? malloc((size_t)bound) : NULL;
    if (allow)
        for (int32_t i = 0; i < bound; i++)
            allow[i] = (uint8_t)(i % 2);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        size_t n;
        const uint8_t *al = (i % 2) ? allow : NULL;
        int rc = br_lexical_search(x, q[i], 8, al, ids, sc, &n);
        if (rc != 0 || n > 8)
            abort();
        for (size_t j = 0; j < 8; j++) {
            if (j >= n) {
                if (ids[j] != -1)
                    abort();
                continue;
            }
            if (ids[j] < 0 || ids[j] >= bound || (al && !al[ids[j]]) || !(sc[j] > 0.0f) ||
                !isfinite(sc[j]) || (j > 0 && sc[j] > sc[j - 1]))
                abort();
        }
    }
    free(allow);
}

static void load(const uint8_t *buf, size_t size)
{
    char err[256] = "";
    br_lexical *x = NULL;
    int rc = br_lexical_parse(buf, size, err, sizeof err, &x);
    if (rc != 0 && (err[0] == 0 || x != NULL))
        abort();
    if (rc == 0) {
        exercise(x);
        br_lexical_free(x);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An 8-aligned private copy: the loader requires the alignment a mapping gives. */
    uint8_t *buf = aligned_alloc(64, size / 64 * 64 + 64);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    load(buf, size);
    if (size >= CHECKSUM_AT + 8) {
        memset(buf + CHECKSUM_AT, 0, 8);
        uint64_t h = XXH64(buf, size, 0);
        memcpy(buf + CHECKSUM_AT, &h, 8);
        load(buf, size);
    }
    free(buf);
    return 0;
}
