/* libFuzzer driver for server/jsonreq.c: parse arbitrary bytes as a request
 * body and run every getter on the result. Invariants: no crash or leak; an
 * error always comes with a one-line message of printable text; getters
 * that succeed return values inside the ranges asked for. */
#include "bookrec/error.h"
#include "jsonreq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_msg(int rc, const char *err)
{
    if (rc == 0)
        return;
    if (rc > 0 || !err[0])
        abort();
    for (const char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20)
            abort(); /* raw input leaked into a message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Fields of the model services' and the gateway's requests. */
    static const char *const names[] = {"k", "user", "ids", "w", "q", "subjects", "b",
                                        "book", "rating", "username", "favorite_subjects",
                                        "type", NULL};
    char err[200];
    json_t *o = NULL;
    int rc = br_jreq_parse((const char *)data, size, 2048, &o, err, sizeof err);
    check_msg(rc, err);
    if (rc != 0) {
        if (o)
            abort();
        return 0;
    }
    check_msg(br_jreq_only(o, names, err, sizeof err), err);
    for (int i = 0; names[i]; i++) {
        int64_t k;
        double w;
        int b;
        const char *s;
        size_t len, n;
        int32_t ids[8];
        const char *strs[8];
        err[0] = '\0';
        rc = br_jreq_int(o, names[i], i & 1, -5, 100, 7, &k, err, sizeof err);
        check_msg(rc, err);
        if (rc == 0 && (k < -5 || k > 100))
            abort();
        rc = br_jreq_double(o, names[i], i & 1, 0, 1, 0.5, &w, err, sizeof err);
        check_msg(rc, err);
        if (rc == 0 && !(w >= 0 && w <= 1))
            abort();
        check_msg(br_jreq_bool(o, names[i], 0, 0, &b, err, sizeof err), err);
        rc = br_jreq_string(o, names[i], 0, 32, &s, &len, err, sizeof err);
        check_msg(rc, err);
        if (rc == 0 && s && (len > 32 || strlen(s) != len))
            abort();
        rc = br_jreq_int_array(o, names[i], 0, 8, 0, 1000, ids, &n, err, sizeof err);
        check_msg(rc, err);
        if (rc == 0)
            for (size_t j = 0; j < n; j++)
                if (n > 8 || ids[j] < 0 || ids[j] > 1000)
                    abort();
        rc = br_jreq_string_array(o, names[i], 0, 8, 16, strs, &n, err, sizeof err);
        check_msg(rc, err);
        if (rc == 0)
            for (size_t j = 0; j < n; j++)
                if (n > 8 || strlen(strs[j]) > 16)
                    abort();
    }
    json_decref(o);
    return 0;
}
