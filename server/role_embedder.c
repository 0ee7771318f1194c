/* The embedder service: subject embeddings and their attention pooling.
 *
 *   POST /embed {subjects: [name or id, ...]} -> {vector, subjects: [ids used], unknown: [...]}
 * Names are matched exactly as the catalog spells them (subjects.txt; docs/subjects.md);
 * the first max_set known subjects are pooled, in the order given (best first). A request
 * with no known subject is refused (422): there is nothing to embed.
 *
 * The served tensors are copied into a pooling model at load (br_semb keeps its parameters
 * in one allocation; they are small: n_subjects x dim plus dim x dim floats). */
#include "roles.h"

#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/subject_emb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_MAX_SUBJECTS 64
#define EMBED_MAX_NAME 128

struct emb_model {
    br_semb *semb;
    br_strmap *by_name;
    size_t n_subjects, dim, max_set;
    size_t bytes;
};

static void emb_free(void *p)
{
    struct emb_model *m = p;
    if (!m)
        return;
    br_semb_free(m->semb);
    br_strmap_free(m->by_name);
    free(m);
}

static int load_tensor(struct emb_model *m, const char *vdir, const char *name, size_t rows,
                       size_t cols, char *err, size_t errcap)
{
    char rel[128];
    br_npy a;
    snprintf(rel, sizeof rel, "embedder/%s.npy", name);
    int rc = br__role_npy(vdir, rel, BR_NPY_F32, rows, cols, &a, err, errcap);
    if (rc)
        return rc;
    if ((rc = br_semb_tensor_set(m->semb, name, a.data, rows, cols)))
        snprintf(err, errcap, "%s: %s", rel, br_strerror(rc));
    m->bytes += a.map_len;
    br_npy_close(&a);
    return rc;
}

static int load_names(struct emb_model *m, const char *vdir, char *err, size_t errcap)
{
    char path[4096], line[EMBED_MAX_NAME + 2];
    snprintf(path, sizeof path, "%s/embedder/subjects.txt", vdir);
    FILE *f = fopen(path, "r");
    size_t id = 0;
    int rc = 0;
    if (!f) {
        snprintf(err, errcap, "embedder/subjects.txt: cannot open");
        return BR_ENOENT;
    }
    while (!rc && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        else if (!feof(f))
            rc = BR_ECORRUPT; /* a name longer than any subject can be */
        if (!rc && len)
            rc = br_strmap_put(m->by_name, line, (int64_t)id);
        id++;
    }
    fclose(f);
    if (!rc && id != m->n_subjects)
        rc = BR_ECORRUPT;
    if (rc)
        snprintf(err, errcap, "embedder/subjects.txt: %zu lines for %zu subjects", id,
                 m->n_subjects);
    return rc;
}

static int emb_load(const char *vdir, const json_t *man, void **out, char *err, size_t errcap)
{
    char path[4096];
    struct emb_model *m = calloc(1, sizeof *m);
    json_t *pj = NULL;
    int rc;
    if (!m)
        return BR_ENOMEM;
    m->n_subjects = br__role_dim(man, "n_subjects");
    m->dim = br__role_dim(man, "subject_dim");
    snprintf(path, sizeof path, "%s/embedder/params.json", vdir);
    pj = json_load_file(path, 0, NULL);
    br_semb_params p;
    br_semb_params_default(&p);
    const char *pool = json_string_value(json_object_get(pj, "pool"));
    json_int_t max_set = json_integer_value(json_object_get(pj, "max_set"));
    if (!m->n_subjects || !m->dim || !pool || br_semb_pool_parse(pool, &p.pool) != 0 ||
        max_set <= 0 || max_set > BR_SEMB_MAX_SET ||
        json_integer_value(json_object_get(pj, "dim")) != (json_int_t)m->dim) {
        snprintf(err, errcap, "embedder/params.json disagrees with the manifest");
        rc = BR_ECORRUPT;
        goto fail;
    }
    p.dim = m->dim;
    p.max_set = m->max_set = (size_t)max_set;
    if ((rc = br_semb_new(&p, m->n_subjects, 0, 0, &m->semb)) ||
        (rc = br_strmap_new(&m->by_name))) {
        snprintf(err, errcap, "embedder: cannot make the pooling model");
        goto fail;
    }
    if ((rc = load_tensor(m, vdir, "subject_emb", m->n_subjects, m->dim, err, errcap)))
        goto fail;
    if (p.pool == BR_SEMB_POOL_PERDIM &&
        ((rc = load_tensor(m, vdir, "attn_w", m->dim, m->dim, err, errcap)) ||
         (rc = load_tensor(m, vdir, "attn_b", m->dim, 0, err, errcap))))
        goto fail;
    if (p.pool == BR_SEMB_POOL_SCALAR &&
        ((rc = load_tensor(m, vdir, "attn_w", m->dim, 0, err, errcap)) ||
         (rc = load_tensor(m, vdir, "attn_b", 1, 0, err, errcap))))
        goto fail;
    if ((rc = load_names(m, vdir, err, errcap)))
        goto fail;
    json_decref(pj);
    *out = m;
    return 0;
fail:
    json_decref(pj);
    emb_free(m);
    return rc;
}

static size_t emb_mapped(const void *p)
{
    return ((const struct emb_model *)p)->bytes;
}

static void ep_embed(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"subjects", NULL};
    const struct emb_model *m = p;
    char err[256];
    int32_t ids[EMBED_MAX_SUBJECTS];
    size_t n = 0;
    if (br_jreq_only(req, allowed, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    const json_t *a = json_object_get(req, "subjects");
    if (!json_is_array(a) || json_array_size(a) == 0 ||
        json_array_size(a) > EMBED_MAX_SUBJECTS) {
        br_svc_error(out, 400, "bad_request",
                     "subjects must be an array of 1 to %d subject names or ids",
                     EMBED_MAX_SUBJECTS);
        return;
    }
    json_t *unknown = json_array(), *used = json_array();
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *x = json_array_get(a, i);
        int64_t id = -1;
        if (json_is_integer(x)) {
            id = json_integer_value(x);
            if (id < 0 || (size_t)id >= m->n_subjects)
                id = -1;
        } else if (json_is_string(x) && json_string_length(x) <= EMBED_MAX_NAME) {
            if (!br_strmap_getn(m->by_name, json_string_value(x), json_string_length(x), &id))
                id = -1;
        } else {
            br_svc_error(out, 400, "bad_request",
                         "subjects[%zu] must be a name (at most %d bytes) or an id", i,
                         EMBED_MAX_NAME);
            goto out;
        }
        if (id < 0) {
            json_array_append_new(unknown, json_deep_copy(x));
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= ids[j] == id;
        if (!dup && n < m->max_set) {
            ids[n++] = (int32_t)id;
            json_array_append_new(used, json_integer(id));
        }
    }
    if (n == 0) {
        br_svc_error(out, 422, "no_known_subjects", "none of the subjects is in this model");
        goto out;
    }
    float vec[BR_SEMB_MAX_DIM];
    if (br_semb_pool(m->semb, ids, n, vec) != 0) {
        br_svc_error(out, 500, "internal", "pooling failed");
        goto out;
    }
    out->body = json_pack("{s:o, s:O, s:O}", "vector", br__role_floats(vec, m->dim), "subjects",
                          used, "unknown", unknown);
out:
    json_decref(unknown);
    json_decref(used);
}

static const br_endpoint endpoints[] = {{"/embed", ep_embed}};

const br_role br_role_embedder = {BR_ROLE_EMBEDDER, emb_load, emb_free, emb_mapped, endpoints,
                                  sizeof endpoints / sizeof endpoints[0]};
