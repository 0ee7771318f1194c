/* libFuzzer driver for subject cleaning: br_subject_canon on any bytes, and a
 * small vocabulary built from the input split into tags. Invariants: a kept
 * canonical form is non-empty, within BR_SUBJECT_MAX, and canonical again
 * (canon(canon(x)) == canon(x)). */
#include "bookrec/subjects.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[BR_SUBJECT_MAX + 1], again[BR_SUBJECT_MAX + 1];
    br_subject_reason r = br_subject_canon((const char *)data, size, out, sizeof out);
    if (r == BR_SUBJECT_OK) {
        size_t n = strlen(out);
        if (n == 0 || n > BR_SUBJECT_MAX)
            abort();
        if (br_subject_canon(out, n, again, sizeof again) != BR_SUBJECT_OK || strcmp(out, again))
            abort();
    }
    /* Tags separated by '\n', items by tag position: exercise the builder too. */
    br_subject_vocab *v;
    if (br_subject_vocab_new(&v) != 0)
        return 0;
    size_t start = 0;
    int64_t item = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            br_subject_vocab_add(v, item % 7, (const char *)data + start, i - start,
                                 1.0 + (double)item);
            item++;
            start = i + 1;
        }
    }
    br_subject_params p;
    br_subject_params_default(&p);
    p.min_books = 1;
    if (br_subject_vocab_build(v, &p) == 0) {
        for (size_t id = 0; id < br_subject_vocab_size(v); id++)
            if (!br_subject_vocab_name(v, id))
                abort();
        for (int64_t it = 0; it < 7; it++) {
            int64_t m = br_subject_vocab_main(v, it);
            if (m >= 0 && br_subject_vocab_generic(v, (size_t)m))
                abort(); /* main_subject is never generic */
        }
    }
    br_subject_vocab_free(v);
    return 0;
}
