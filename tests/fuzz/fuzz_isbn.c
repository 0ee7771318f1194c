/* libFuzzer driver for br_isbn_normalize: any byte string is normalized and the result's
 * invariants are checked; abort() on a violation so both libFuzzer and the corpus replay
 * (tests/fuzz/replay.c) report it.
 *
 * Invariants: the reason is a known one; a rejection leaves out13 empty; OK yields 13
 * digits with a valid ISBN-13 check; normalizing the result again gives itself with no
 * flags; 978- round-trips through ISBN-10 and 979- has none; FROM_10 implies 978. */
#include "bookrec/isbn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_isbn: invariant failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out13[14], again[14], s10[11], back13[14];
    int flags = -1, flags2 = -1;
    const int known = BR_ISBN_F_ZERO_PADDED | BR_ISBN_F_FROM_10 | BR_ISBN_F_CLEANED;

    memset(out13, '?', sizeof out13);
    br_isbn_reason r = br_isbn_normalize((const char *)data, size, out13, &flags);
    CHECK(r >= BR_ISBN_OK && r < BR_ISBN__COUNT);
    CHECK((flags & ~known) == 0);
    CHECK(strcmp(br_isbn_reason_name(r), "isbn_unknown_reason") != 0);

    /* Same answer without the flags pointer. */
    memset(again, '?', sizeof again);
    CHECK(br_isbn_normalize((const char *)data, size, again, NULL) == r);

    if (r != BR_ISBN_OK) {
        CHECK(out13[0] == '\0' && again[0] == '\0');
        return 0;
    }
    CHECK(strcmp(out13, again) == 0);
    CHECK(strlen(out13) == 13);
    for (int i = 0; i < 13; i++)
        CHECK(out13[i] >= '0' && out13[i] <= '9');
    CHECK(br_isbn13_valid(out13));
    if (flags & BR_ISBN_F_ZERO_PADDED)
        CHECK(flags & BR_ISBN_F_FROM_10);
    if (flags & BR_ISBN_F_FROM_10)
        CHECK(memcmp(out13, "978", 3) == 0);

    /* The canonical form is a fixed point. */
    CHECK(br_isbn_normalize(out13, 13, again, &flags2) == BR_ISBN_OK);
    CHECK(strcmp(out13, again) == 0 && flags2 == 0);

    if (memcmp(out13, "978", 3) == 0) {
        CHECK(br_isbn13_to_10(out13, s10) == 0);
        CHECK(strlen(s10) == 10 && br_isbn10_valid(s10));
        br_isbn10_to_13(s10, back13);
        CHECK(strcmp(back13, out13) == 0);
        CHECK(br_isbn_normalize(s10, 10, again, &flags2) == BR_ISBN_OK);
        CHECK(strcmp(out13, again) == 0 && flags2 == BR_ISBN_F_FROM_10);
    } else {
        CHECK(memcmp(out13, "979", 3) == 0);
        CHECK(br_isbn13_to_10(out13, s10) == -1);
    }
    return 0;
}
