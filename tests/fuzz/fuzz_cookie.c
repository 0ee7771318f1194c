/* libFuzzer driver for the header parsers of server/auth.c: the input is
 * taken as a Cookie header and as an Authorization header. Invariants: no
 * crash or overread; only the documented codes; out is "" unless the call
 * succeeded, and then holds a value that fits cap, is made of the allowed
 * alphabet and occurs in the input; a valid token survives the round trip
 * Set-Cookie -> Cookie. */
#include "auth.h"
#include "bookrec/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cookie_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int token68(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("-._~+/=", c) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {BR_AUTH_COOKIE, "sid", "a", NULL};
    static const size_t caps[] = {1, 2, 8, BR_AUTH_TOKEN_CAP, 512};
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char out[512];
    for (int n = 0; names[n]; n++) {
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            memset(out, 'Z', sizeof out);
            int rc = br_auth_cookie_get(in, names[n], out, caps[c]);
            if (rc != 0 && rc != BR_ENOENT && rc != BR_EFORMAT && rc != BR_ELIMIT)
                abort();
            if (rc != 0 && out[0] != '\0')
                abort();
            if (rc == 0) {
                size_t len = strnlen(out, caps[c]);
                if (len >= caps[c] || (len && !strstr(in, out)))
                    abort();
                for (size_t i = 0; i < len; i++)
                    if (!cookie_octet((unsigned char)out[i]))
                        abort();
            }
            if (strlen(in) > BR_AUTH_COOKIE_HEADER_MAX && rc != BR_ELIMIT)
                abort();
        }
    }
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        memset(out, 'Z', sizeof out);
        int rc = br_auth_bearer(in, out, caps[c]);
        if (rc != 0 && rc != BR_ENOENT && rc != BR_EFORMAT && rc != BR_ELIMIT)
            abort();
        if (rc != 0 && out[0] != '\0')
            abort();
        if (rc != 0)
            continue;
        size_t len = strnlen(out, caps[c]);
        if (len == 0 || len >= caps[c] || !strstr(in, out) || out[0] == '=')
            abort();
        for (size_t i = 0; i < len; i++)
            if (!token68((unsigned char)out[i]))
                abort();
        /* A token of our shape round-trips through our own cookie. */
        if (br_auth_token_valid(out)) {
            char set[256], back[BR_AUTH_TOKEN_CAP];
            if (br_auth_session_cookie(set, sizeof set, out, 3600, 1) != 0)
                abort();
            *strchr(set, ';') = '\0';
            if (br_auth_cookie_get(set, BR_AUTH_COOKIE, back, sizeof back) != 0 ||
                strcmp(back, out) != 0)
                abort();
        }
    }
    free(in);
    return 0;
}
