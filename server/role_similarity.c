/* The similarity service: similar books by ALS, subject or hybrid (HNSW indexes), and
 * cold-reader recommendations: subject similarity blended with the popularity prior.
 *
 *   POST /similar      {item, mode: "als"|"subject"|"hybrid", k?, w?, exclude?}
 *                      -> {item, mode, w, items: [{id, score}]}
 *   POST /subject_recs {vector, k?, a?, exclude?} -> {a, items: [{id, score}]}
 * Only books that may be shown (allow.npy: books with a title) are returned. w (hybrid) is
 * the subject side's weight, default 0.5; a (cold blend) the subject side's weight,
 * default the version's cold_a. The blend is exact (recommend.h): it is a per-request
 * min-max of two scores over the books with subjects, which no index answers. */
#include "roles.h"

#include "bookrec/error.h"
#include "bookrec/hnsw.h"
#include "bookrec/hybrid.h"
#include "bookrec/recommend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_model {
    br_npy book_vecs, has_subject, prior, allow;
    br_hnsw *subject, *als;
    br_hybrid *hybrid;
    size_t n_items, dim, factors;
    double cold_a;
};

static void sim_free(void *p)
{
    struct sim_model *m = p;
    if (!m)
        return;
    br_npy_close(&m->book_vecs);
    br_npy_close(&m->has_subject);
    br_npy_close(&m->prior);
    br_npy_close(&m->allow);
    br_hnsw_free(m->subject);
    br_hnsw_free(m->als);
    br_hybrid_free(m->hybrid);
    free(m);
}

static int open_index(const char *vdir, const char *rel, size_t dim, size_t n_items,
                      br_hnsw **out, char *err, size_t errcap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", vdir, rel);
    int rc = br_hnsw_open(path, err, errcap, out);
    if (!rc && (br_hnsw_dim(*out) != dim || (size_t)br_hnsw_label_bound(*out) > n_items)) {
        snprintf(err, errcap, "%s: dimensions disagree with the manifest", rel);
        rc = BR_ECORRUPT;
    }
    return rc;
}

static int sim_load(const char *vdir, const json_t *man, void **out, char *err, size_t errcap)
{
    struct sim_model *m = calloc(1, sizeof *m);
    char path[4096];
    int rc;
    if (!m)
        return BR_ENOMEM;
    m->n_items = br__role_dim(man, "n_items");
    m->dim = br__role_dim(man, "subject_dim");
    m->factors = br__role_dim(man, "factors");
    const json_t *a = json_object_get(json_object_get(json_object_get(man, "params"), "serving"),
                                      "cold_a");
    m->cold_a = json_is_number(a) ? json_number_value(a) : 0.8;
    if (!m->n_items || !m->dim || !m->factors || !(m->cold_a >= 0 && m->cold_a <= 1)) {
        snprintf(err, errcap, "manifest: dims or serving parameters missing");
        rc = BR_EFORMAT;
        goto fail;
    }
    if ((rc = br__role_npy(vdir, "similarity/book_vectors.npy", BR_NPY_F32, m->n_items, m->dim,
                           &m->book_vecs, err, errcap)) ||
        (rc = br__role_npy(vdir, "similarity/has_subject.npy", BR_NPY_U8, m->n_items, 0,
                           &m->has_subject, err, errcap)) ||
        (rc = br__role_npy(vdir, "similarity/prior.npy", BR_NPY_F64, m->n_items, 0, &m->prior,
                           err, errcap)) ||
        (rc = br__role_npy(vdir, "similarity/allow.npy", BR_NPY_U8, m->n_items, 0, &m->allow,
                           err, errcap)) ||
        (rc = open_index(vdir, "similarity/subject.hnsw", m->dim, m->n_items, &m->subject, err,
                         errcap)) ||
        (rc = open_index(vdir, "similarity/als.hnsw", m->factors, m->n_items, &m->als, err,
                         errcap)))
        goto fail;
    snprintf(path, sizeof path, "%s/similarity/hybrid.hnsw", vdir);
    if ((rc = br_hybrid_open(path, err, errcap, &m->hybrid)))
        goto fail;
    if ((size_t)br_hybrid_label_bound(m->hybrid) > m->n_items ||
        br_hnsw_dim(br_hybrid_index(m->hybrid)) != m->dim + m->factors) {
        snprintf(err, errcap, "similarity/hybrid.hnsw: dimensions disagree with the manifest");
        rc = BR_ECORRUPT;
        goto fail;
    }
    *out = m;
    return 0;
fail:
    sim_free(m);
    return rc;
}

static size_t sim_mapped(const void *p)
{
    const struct sim_model *m = p;
    return m->book_vecs.map_len + m->has_subject.map_len + m->prior.map_len +
           m->allow.map_len + br_hnsw_memory(m->subject) + br_hnsw_memory(m->als) +
           br_hnsw_memory(br_hybrid_index(m->hybrid));
}

/* Neighbours of an indexed book in one HNSW index (cosine), itself excluded. */
static int similar_in(const br_hnsw *h, int32_t item, size_t k, const int32_t *ex, size_t nex,
                      const uint8_t *allow, int32_t *ids, float *scores)
{
    float q[4096];
    size_t d = br_hnsw_dim(h);
    if (d > sizeof q / sizeof q[0] || br_hnsw_get_vector(h, item, q) != 0)
        return BR_ENOENT;
    int32_t *all = malloc((nex + 1) * sizeof *all);
    if (!all)
        return BR_ENOMEM;
    if (nex)
        memcpy(all, ex, nex * sizeof *ex);
    all[nex] = item;
    br_hnsw_search_opts so = {.ef = k < 100 ? 100 : k, .exclude = all, .n_exclude = nex + 1,
                              .allow = allow};
    int rc = br_hnsw_search(h, q, k, &so, ids, scores);
    free(all);
    return rc;
}

static void ep_similar(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"item", "mode", "k", "w", "exclude", NULL};
    const struct sim_model *m = p;
    char err[256];
    int64_t item;
    const char *mode;
    double w;
    size_t k, nex = 0;
    int32_t *ex = NULL, *ids = NULL;
    float *scores = NULL;
    int rc;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_int(req, "item", 1, 0, (int64_t)m->n_items - 1, 0, &item, err, sizeof err) ||
        br_jreq_string(req, "mode", 0, 16, &mode, NULL, err, sizeof err) ||
        br_jreq_double(req, "w", 0, 0, 1, 0.5, &w, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (!mode)
        mode = "hybrid";
    if (strcmp(mode, "als") && strcmp(mode, "subject") && strcmp(mode, "hybrid")) {
        br_svc_error(out, 400, "bad_request", "mode must be als, subject or hybrid");
        return;
    }
    if (br__role_k(req, out, &k) || br__role_exclude(req, out, &ex, &nex))
        return;
    ids = malloc(k * sizeof *ids);
    scores = malloc(k * sizeof *scores);
    if (!ids || !scores) {
        br_svc_error(out, 500, "internal", "out of memory");
        goto out;
    }
    if (!strcmp(mode, "hybrid")) {
        br_hybrid_query_opts o = {.w = w, .exclude = ex, .n_exclude = nex,
                                  .allow = m->allow.data};
        rc = br_hybrid_similar(m->hybrid, (int32_t)item, k, &o, ids, scores);
    } else {
        rc = similar_in(mode[0] == 'a' ? m->als : m->subject, (int32_t)item, k, ex, nex,
                        m->allow.data, ids, scores);
    }
    if (rc == BR_ENOENT) {
        br_svc_error(out, 404, "no_vector", "book %lld has no %s vector in this model",
                     (long long)item, mode);
    } else if (rc) {
        br_svc_error(out, 500, "internal", "search failed: %s", br_strerror(rc));
    } else {
        br__role_items(out, ids, scores, k);
        json_t *items = json_incref(json_object_get(out->body, "items"));
        json_decref(out->body);
        out->body = json_pack("{s:I, s:s, s:f, s:o}", "item", (json_int_t)item, "mode", mode,
                              "w", w, "items", items);
    }
out:
    free(ex);
    free(ids);
    free(scores);
}

static void ep_subject_recs(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"vector", "k", "a", "exclude", NULL};
    const struct sim_model *m = p;
    char err[256];
    double a;
    size_t k, nex = 0, n = 0;
    int32_t *ex = NULL, *ids = NULL;
    float *scores = NULL, *vec = NULL;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_double(req, "a", 0, 0, 1, m->cold_a, &a, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (br__role_k(req, out, &k))
        return;
    if (!(vec = malloc(m->dim * sizeof *vec))) {
        br_svc_error(out, 500, "internal", "out of memory");
        return;
    }
    if (br__role_vector(req, "vector", m->dim, vec, out) ||
        br__role_exclude(req, out, &ex, &nex))
        goto out;
    ids = malloc(k * sizeof *ids);
    scores = malloc(k * sizeof *scores);
    br_rec_filter flt = {.allow = m->allow.data, .exclude = ex, .n_exclude = nex};
    int rc = ids && scores ? br_rec_cold(m->book_vecs.data, m->has_subject.data, m->n_items,
                                         m->dim, vec, m->prior.data, a, &flt, k, ids, scores, &n)
                           : BR_ENOMEM;
    if (rc == BR_EINVAL) {
        br_svc_error(out, 400, "bad_request", "vector must not be zero");
    } else if (rc) {
        br_svc_error(out, 500, "internal", "ranking failed: %s", br_strerror(rc));
    } else {
        br__role_items(out, ids, scores, n);
        json_object_set_new(out->body, "a", json_real(a));
    }
out:
    free(vec);
    free(ex);
    free(ids);
    free(scores);
}

static const br_endpoint endpoints[] = {
    {"/similar", ep_similar},
    {"/subject_recs", ep_subject_recs},
};

const br_role br_role_similarity = {BR_ROLE_SIMILARITY, sim_load, sim_free, sim_mapped,
                                    endpoints, sizeof endpoints / sizeof endpoints[0]};
