/* Shared pieces of the model-service roles (role_*.c): request fields common to several
 * endpoints, and rendering of ranked lists. Internal to server/. */
#ifndef BOOKREC_SERVER_ROLES_H
#define BOOKREC_SERVER_ROLES_H

#include "jsonreq.h"
#include "service.h"

#include "bookrec/npy.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BR_ROLE_MAX_K 1000        /* results per request */
#define BR_ROLE_DEFAULT_K 20
#define BR_ROLE_MAX_EXCLUDE 10000 /* excluded ids per request */
#define BR_ROLE_MAX_FOLDIN 1000   /* interactions per fold-in request */

/* A 400 reply carrying err (a jsonreq message), with code "bad_request". */
void br__role_bad(br_svc_reply *out, const char *err);

/* "k" in [1, BR_ROLE_MAX_K] (default BR_ROLE_DEFAULT_K); 0 or a 400 reply made. */
int br__role_k(const json_t *req, br_svc_reply *out, size_t *k);

/* "exclude": ids in [0, INT32_MAX), at most BR_ROLE_MAX_EXCLUDE, into a malloc'd array
 * (*ids NULL when absent). 0 or a 400/500 reply made. */
int br__role_exclude(const json_t *req, br_svc_reply *out, int32_t **ids, size_t *n);

/* An array of exactly dim finite numbers under name, into buf. 0 or a 400 reply made. */
int br__role_vector(const json_t *req, const char *name, size_t dim, float *buf,
                    br_svc_reply *out);

/* out->body = {"items": [{"id": ids[i], "score": scores[i]}, ...]} for ids[i] >= 0. */
void br__role_items(br_svc_reply *out, const int32_t *ids, const float *scores, size_t n);

/* A JSON array of n floats. */
json_t *br__role_floats(const float *v, size_t n);

/* Opens vdir/rel as an npy of dtype t with rows (and cols unless cols_any) as given;
 * err says which file and why. */
int br__role_npy(const char *vdir, const char *rel, enum br_npy_dtype t, size_t rows,
                 size_t cols, br_npy *out, char *err, size_t errcap);

/* manifest.dims[name] as a size; 0 and err set when absent. */
size_t br__role_dim(const json_t *manifest, const char *name);

#endif
