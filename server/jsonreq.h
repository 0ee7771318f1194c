/* Validated JSON request bodies: parse with limits, then typed getters with
 * ranges, each failing with a one-line message that names the field.
 *
 * Design decisions:
 * 1. The body must be one JSON object, at most max_len bytes, nested at most
 *    BR_JREQ_MAX_DEPTH deep (the top-level object is depth 1), without
 *    duplicate keys. Depth is checked by a scan of the bytes before jansson
 *    sees them, so a deep document costs nothing to refuse.
 * 2. Messages never contain raw input: field names are the caller's, and
 *    anything from the body (an unknown key, a parser remark) is reduced to
 *    printable ASCII without quotes or backslashes and cut short. They are
 *    meant for br_http_resp_error (400, code "bad_request").
 * 3. A field that is absent or JSON null is "absent": a required one is an
 *    error, an optional one takes the default (or n = 0 / NULL).
 * 4. Getters do not allocate: strings point into the object (valid while it
 *    lives); arrays fill a caller buffer of max_n entries.
 *
 * Return codes: 0; BR_EFORMAT malformed JSON, not an object, or duplicate
 * key; BR_ELIMIT body too long, too deep, string too long, array too long;
 * BR_EINVAL missing required field, wrong type, unknown field; BR_ERANGE a
 * number out of range.
 */
#ifndef BOOKREC_SERVER_JSONREQ_H
#define BOOKREC_SERVER_JSONREQ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BR_JREQ_MAX_DEPTH 16

/* Parses body[0..len) into *obj (a new reference; json_decref it). */
int br_jreq_parse(const char *body, size_t len, size_t max_len, json_t **obj, char *err,
                  size_t errcap);

/* Fails naming the first key of obj not in allowed (NULL-terminated). */
int br_jreq_only(const json_t *obj, const char *const *allowed, char *err, size_t errcap);

/* An integer (a JSON number without fraction or exponent) in [min, max]. */
int br_jreq_int(const json_t *obj, const char *name, int required, int64_t min, int64_t max,
                int64_t def, int64_t *out, char *err, size_t errcap);

/* A number (integer or real) in [min, max]. */
int br_jreq_double(const json_t *obj, const char *name, int required, double min, double max,
                   double def, double *out, char *err, size_t errcap);

/* true or false. */
int br_jreq_bool(const json_t *obj, const char *name, int required, int def, int *out,
                 char *err, size_t errcap);

/* A string of at most max_len bytes (UTF-8, no NUL: jansson guarantees
 * both). *out points into obj, or is NULL when absent and optional; *len
 * (may be NULL) gets its length. */
int br_jreq_string(const json_t *obj, const char *name, int required, size_t max_len,
                   const char **out, size_t *len, char *err, size_t errcap);

/* An array of at most max_n integers each in [min, max], copied into
 * buf[0..max_n); *n gets the count (0 when absent and optional). */
int br_jreq_int_array(const json_t *obj, const char *name, int required, size_t max_n,
                      int32_t min, int32_t max, int32_t *buf, size_t *n, char *err,
                      size_t errcap);

/* An array of at most max_n strings each of at most max_len bytes; buf gets
 * pointers into obj. */
int br_jreq_string_array(const json_t *obj, const char *name, int required, size_t max_n,
                         size_t max_len, const char **buf, size_t *n, char *err, size_t errcap);

#endif
