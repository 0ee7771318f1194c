/* Shared pieces of the model-service roles (see roles.h). */
#include "roles.h"

#include "bookrec/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void br__role_bad(br_svc_reply *out, const char *err)
{
    br_svc_error(out, 400, "bad_request", "%s", err);
}

int br__role_k(const json_t *req, br_svc_reply *out, size_t *k)
{
    char err[256];
    int64_t v;
    if (br_jreq_int(req, "k", 0, 1, BR_ROLE_MAX_K, BR_ROLE_DEFAULT_K, &v, err, sizeof err)) {
        br__role_bad(out, err);
        return -1;
    }
    *k = (size_t)v;
    return 0;
}

int br__role_exclude(const json_t *req, br_svc_reply *out, int32_t **ids, size_t *n)
{
    char err[256];
    *ids = NULL;
    *n = 0;
    const json_t *a = json_object_get(req, "exclude");
    size_t cap = json_is_array(a) ? json_array_size(a) : 1;
    if (cap > BR_ROLE_MAX_EXCLUDE)
        cap = BR_ROLE_MAX_EXCLUDE + 1; /* the getter then reports the limit */
    int32_t *buf = malloc((cap ? cap : 1) * sizeof *buf);
    if (!buf) {
        br_svc_error(out, 500, "internal", "out of memory");
        return -1;
    }
    if (br_jreq_int_array(req, "exclude", 0, cap < BR_ROLE_MAX_EXCLUDE ? cap : BR_ROLE_MAX_EXCLUDE,
                          0, INT32_MAX - 1, buf, n, err, sizeof err)) {
        free(buf);
        br__role_bad(out, err);
        return -1;
    }
    *ids = buf;
    return 0;
}

int br__role_vector(const json_t *req, const char *name, size_t dim, float *buf,
                    br_svc_reply *out)
{
    const json_t *a = json_object_get(req, name);
    if (!json_is_array(a) || json_array_size(a) != dim) {
        br_svc_error(out, 400, "bad_request", "%s must be an array of %zu numbers", name, dim);
        return -1;
    }
    for (size_t i = 0; i < dim; i++) {
        const json_t *x = json_array_get(a, i);
        double v = json_number_value(x);
        if (!json_is_number(x) || !isfinite(v) || fabs(v) > 1e30) {
            br_svc_error(out, 400, "bad_request", "%s[%zu] must be a finite number", name, i);
            return -1;
        }
        buf[i] = (float)v;
    }
    return 0;
}

void br__role_items(br_svc_reply *out, const int32_t *ids, const float *scores, size_t n)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (ids[i] >= 0)
            json_array_append_new(items, json_pack("{s:i, s:f}", "id", (int)ids[i], "score",
                                                   scores ? (double)scores[i] : 0.0));
    json_decref(out->body);
    out->body = items ? json_pack("{s:o}", "items", items) : NULL;
}

json_t *br__role_floats(const float *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

int br__role_npy(const char *vdir, const char *rel, enum br_npy_dtype t, size_t rows,
                 size_t cols, br_npy *out, char *err, size_t errcap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", vdir, rel);
    int rc = br_npy_open(path, out);
    if (rc) {
        snprintf(err, errcap, "%s: %s", rel, br_strerror(rc));
        return rc;
    }
    if (out->dtype != t || out->rows != rows || out->cols != cols) {
        snprintf(err, errcap, "%s: shape (%zu, %zu) disagrees with the manifest (%zu, %zu)", rel,
                 out->rows, out->cols, rows, cols);
        br_npy_close(out);
        return BR_ECORRUPT;
    }
    return 0;
}

size_t br__role_dim(const json_t *manifest, const char *name)
{
    json_int_t v = json_integer_value(json_object_get(json_object_get(manifest, "dims"), name));
    return v > 0 ? (size_t)v : 0;
}
