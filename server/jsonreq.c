/* Validated JSON request bodies (see jsonreq.h).
 *
 * Design decisions beyond the header's:
 * 1. The depth scan tracks strings and escapes only; on malformed input its
 *    count may be off, but then jansson refuses the document anyway, and on
 *    a valid document it is exact.
 * 2. jansson's own error text quotes input ("near 'xyz'"), so it is passed
 *    through the same reduction as unknown keys before it reaches a message.
 */
#include "jsonreq.h"

#include "bookrec/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ECHO 40 /* characters of input text a message may carry */

static int fail(int rc, char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;
    if (err && errcap) {
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Printable ASCII without quotes or backslashes, at most MAX_ECHO characters
 * (then "..."): safe to show whatever the client sent. */
static const char *tame(const char *s, char *buf, size_t cap)
{
    size_t o = 0, i = 0;
    for (; s[i] && o + 4 < cap && i < MAX_ECHO; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    if (s[i] && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int too_deep(const char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > BR_JREQ_MAX_DEPTH)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

int br_jreq_parse(const char *body, size_t len, size_t max_len, json_t **obj, char *err,
                  size_t errcap)
{
    json_error_t je;
    char t[64];
    if (!obj)
        return fail(BR_EINVAL, err, errcap, "internal: no output");
    *obj = NULL;
    if (len > max_len)
        return fail(BR_ELIMIT, err, errcap, "request body exceeds %zu bytes", max_len);
    if (!body || len == 0)
        return fail(BR_EFORMAT, err, errcap, "empty request body: expected a JSON object");
    if (too_deep(body, len))
        return fail(BR_ELIMIT, err, errcap, "JSON nested deeper than %d levels",
                    BR_JREQ_MAX_DEPTH);
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        if (json_error_code(&je) == json_error_duplicate_key)
            return fail(BR_EFORMAT, err, errcap, "duplicate key in JSON object (line %d)",
                        je.line);
        return fail(BR_EFORMAT, err, errcap, "malformed JSON at line %d column %d: %s", je.line,
                    je.column, tame(je.text, t, sizeof t));
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return fail(BR_EFORMAT, err, errcap, "request body must be a JSON object");
    }
    *obj = j;
    return 0;
}

int br_jreq_only(const json_t *obj, const char *const *allowed, char *err, size_t errcap)
{
    const char *key;
    json_t *v;
    char t[64];
    if (!json_is_object(obj))
        return fail(BR_EINVAL, err, errcap, "request body must be a JSON object");
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; a && *a && !ok; a++)
            ok = !strcmp(*a, key);
        if (!ok)
            return fail(BR_EINVAL, err, errcap, "unknown field \"%s\"", tame(key, t, sizeof t));
    }
    return 0;
}

/* The field's value, NULL when absent or null; *rc set when that is an error. */
static json_t *field(const json_t *obj, const char *name, int required, int *rc, char *err,
                     size_t errcap)
{
    json_t *v = json_object_get(obj, name);
    *rc = 0;
    if (v && json_is_null(v))
        v = NULL;
    if (!v && required)
        *rc = fail(BR_EINVAL, err, errcap, "missing required field \"%s\"", name);
    return v;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int br_jreq_int(const json_t *obj, const char *name, int required, int64_t min, int64_t max,
                int64_t def, int64_t *out, char *err, size_t errcap)
{
    int rc;
    if (!out || !name)
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *out = def;
    json_t *v = field(obj, name, required, &rc, err, errcap);
    if (!v)
        return rc;
    if (!json_is_integer(v))
        return fail(BR_EINVAL, err, errcap, "field \"%s\" must be an integer, not %s", name,
                    type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return fail(BR_ERANGE, err, errcap, "field \"%s\" must be between %" PRId64 " and %" PRId64,
                    name, min, max);
    *out = (int64_t)x;
    return 0;
}

int br_jreq_double(const json_t *obj, const char *name, int required, double min, double max,
                   double def, double *out, char *err, size_t errcap)
{
    int rc;
    if (!out || !name)
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *out = def;
    json_t *v = field(obj, name, required, &rc, err, errcap);
    if (!v)
        return rc;
    if (!json_is_number(v))
        return fail(BR_EINVAL, err, errcap, "field \"%s\" must be a number, not %s", name,
                    type_name(v));
    double x = json_number_value(v);
    if (!(x >= min && x <= max)) /* also refuses NaN */
        return fail(BR_ERANGE, err, errcap, "field \"%s\" must be between %g and %g", name, min,
                    max);
    *out = x;
    return 0;
}

int br_jreq_bool(const json_t *obj, const char *name, int required, int def, int *out,
                 char *err, size_t errcap)
{
    int rc;
    if (!out || !name)
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *out = def;
    json_t *v = field(obj, name, required, &rc, err, errcap);
    if (!v)
        return rc;
    if (!json_is_boolean(v))
        return fail(BR_EINVAL, err, errcap, "field \"%s\" must be true or false, not %s", name,
                    type_name(v));
    *out = json_is_true(v);
    return 0;
}

int br_jreq_string(const json_t *obj, const char *name, int required, size_t max_len,
                   const char **out, size_t *len, char *err, size_t errcap)
{
    int rc;
    if (!out || !name)
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *out = NULL;
    if (len)
        *len = 0;
    json_t *v = field(obj, name, required, &rc, err, errcap);
    if (!v)
        return rc;
    if (!json_is_string(v))
        return fail(BR_EINVAL, err, errcap, "field \"%s\" must be a string, not %s", name,
                    type_name(v));
    size_t l = json_string_length(v);
    if (l > max_len)
        return fail(BR_ELIMIT, err, errcap, "field \"%s\" is longer than %zu bytes", name,
                    max_len);
    *out = json_string_value(v);
    if (len)
        *len = l;
    return 0;
}

/* The array under name with at most max_n items, NULL when absent or on error. */
static json_t *array_field(const json_t *obj, const char *name, int required, size_t max_n,
                           const char *what, int *rc, char *err, size_t errcap)
{
    json_t *v = field(obj, name, required, rc, err, errcap);
    if (!v)
        return NULL;
    if (!json_is_array(v)) {
        *rc = fail(BR_EINVAL, err, errcap, "field \"%s\" must be an array of %s, not %s", name,
                   what, type_name(v));
        return NULL;
    }
    if (json_array_size(v) > max_n) {
        *rc = fail(BR_ELIMIT, err, errcap, "field \"%s\" has more than %zu items", name, max_n);
        return NULL;
    }
    return v;
}

int br_jreq_int_array(const json_t *obj, const char *name, int required, size_t max_n,
                      int32_t min, int32_t max, int32_t *buf, size_t *n, char *err,
                      size_t errcap)
{
    int rc;
    size_t i;
    json_t *e;
    if (!n || !name || (!buf && max_n))
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *n = 0;
    json_t *v = array_field(obj, name, required, max_n, "integers", &rc, err, errcap);
    if (!v)
        return rc;
    json_array_foreach(v, i, e)
    {
        if (!json_is_integer(e))
            return fail(BR_EINVAL, err, errcap, "field \"%s\" item %zu must be an integer, not %s",
                        name, i, type_name(e));
        json_int_t x = json_integer_value(e);
        if (x < min || x > max)
            return fail(BR_ERANGE, err, errcap,
                        "field \"%s\" item %zu must be between %" PRId32 " and %" PRId32, name, i,
                        min, max);
        buf[i] = (int32_t)x;
    }
    *n = json_array_size(v);
    return 0;
}

int br_jreq_string_array(const json_t *obj, const char *name, int required, size_t max_n,
                         size_t max_len, const char **buf, size_t *n, char *err, size_t errcap)
{
    int rc;
    size_t i;
    json_t *e;
    if (!n || !name || (!buf && max_n))
        return fail(BR_EINVAL, err, errcap, "internal: bad getter call");
    *n = 0;
    json_t *v = array_field(obj, name, required, max_n, "strings", &rc, err, errcap);
    if (!v)
        return rc;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return fail(BR_EINVAL, err, errcap, "field \"%s\" item %zu must be a string, not %s",
                        name, i, type_name(e));
        if (json_string_length(e) > max_len)
            return fail(BR_ELIMIT, err, errcap, "field \"%s\" item %zu is longer than %zu bytes",
                        name, i, max_len);
        buf[i] = json_string_value(e);
    }
    *n = json_array_size(v);
    return 0;
}
