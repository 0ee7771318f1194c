/* The als service: user and item factors, the user-to-item maximum-inner-product index,
 * warm-reader detection and fold-in.
 *
 *   POST /als_recs {user, k?, exclude?}            -> {user, items: [{id, score}]}
 *   POST /is_warm  {user}                           -> {user, warm}
 *   POST /fold_in  {interactions: [{item, rating?}], k?, exclude?}
 *                                                   -> {vector, items}
 * A reader is warm when the model trained a vector for them (als_users.npy, sorted: a
 * binary search on the mapped file). Fold-in solves a vector against the item factors
 * exactly (als.h) and, with k > 0, ranks books for it; the rated books are excluded. */
#include "roles.h"

#include "bookrec/als.h"
#include "bookrec/error.h"
#include "bookrec/hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct als_model {
    br_npy user_f, item_f, users, allow;
    br_hnsw *mips;
    br_als_foldin *foldin;
    size_t n_items, n_users, factors;
};

static void als_free(void *p)
{
    struct als_model *m = p;
    if (!m)
        return;
    br_npy_close(&m->user_f);
    br_npy_close(&m->item_f);
    br_npy_close(&m->users);
    br_npy_close(&m->allow);
    br_hnsw_free(m->mips);
    br_als_foldin_free(m->foldin);
    free(m);
}

/* The training's ALS parameters from the manifest (fold-in must solve the same problem). */
static void params_from(const json_t *manifest, br_als_params *p)
{
    const json_t *a = json_object_get(json_object_get(manifest, "params"), "als");
    br_als_params_default(p);
    if (json_is_number(json_object_get(a, "regularization")))
        p->regularization = (float)json_number_value(json_object_get(a, "regularization"));
    if (json_is_number(json_object_get(a, "alpha")))
        p->alpha = (float)json_number_value(json_object_get(a, "alpha"));
    if (json_is_number(json_object_get(a, "weight_base")))
        p->weight_base = (float)json_number_value(json_object_get(a, "weight_base"));
    const char *w = json_string_value(json_object_get(a, "weighting"));
    p->weighting = w && !strcmp(w, "rating") ? BR_ALS_W_RATING : BR_ALS_W_CONSTANT;
    p->threads = 1; /* YtY at load: leave the cores to the requests being served */
}

static int als_load(const char *vdir, const json_t *man, void **out, char *err, size_t errcap)
{
    struct als_model *m = calloc(1, sizeof *m);
    char path[4096];
    int rc;
    if (!m)
        return BR_ENOMEM;
    m->n_items = br__role_dim(man, "n_items");
    m->n_users = br__role_dim(man, "n_users");
    m->factors = br__role_dim(man, "factors");
    if (!m->n_items || !m->n_users || !m->factors) {
        snprintf(err, errcap, "manifest: dims missing");
        rc = BR_EFORMAT;
        goto fail;
    }
    if ((rc = br__role_npy(vdir, "als/user_factors.npy", BR_NPY_F32, m->n_users, m->factors,
                           &m->user_f, err, errcap)) ||
        (rc = br__role_npy(vdir, "als/item_factors.npy", BR_NPY_F32, m->n_items, m->factors,
                           &m->item_f, err, errcap)) ||
        (rc = br__role_npy(vdir, "als/allow.npy", BR_NPY_U8, m->n_items, 0, &m->allow, err,
                           errcap)))
        goto fail;
    snprintf(path, sizeof path, "%s/als/als_users.npy", vdir);
    if ((rc = br_npy_open(path, &m->users)) || m->users.dtype != BR_NPY_I32 || m->users.cols) {
        snprintf(err, errcap, "als/als_users.npy: not a 1-D int32 array");
        rc = rc ? rc : BR_ECORRUPT;
        goto fail;
    }
    const int32_t *u = m->users.data;
    for (size_t i = 0; i < m->users.rows; i++)
        if (u[i] < 0 || (size_t)u[i] >= m->n_users || (i && u[i] <= u[i - 1])) {
            snprintf(err, errcap, "als/als_users.npy: ids not sorted or out of range");
            rc = BR_ECORRUPT;
            goto fail;
        }
    snprintf(path, sizeof path, "%s/als/items_mips.hnsw", vdir);
    if ((rc = br_hnsw_open(path, err, errcap, &m->mips)))
        goto fail;
    if (br_hnsw_dim(m->mips) != m->factors || (size_t)br_hnsw_label_bound(m->mips) > m->n_items) {
        snprintf(err, errcap, "als/items_mips.hnsw: dimensions disagree with the factors");
        rc = BR_ECORRUPT;
        goto fail;
    }
    br_als_params p;
    params_from(man, &p);
    p.factors = m->factors;
    if ((rc = br_als_foldin_new(m->item_f.data, m->n_items, &p, &m->foldin))) {
        snprintf(err, errcap, "fold-in: %s", br_strerror(rc));
        goto fail;
    }
    *out = m;
    return 0;
fail:
    als_free(m);
    return rc;
}

static size_t als_mapped(const void *p)
{
    const struct als_model *m = p;
    return m->user_f.map_len + m->item_f.map_len + m->users.map_len + m->allow.map_len +
           br_hnsw_memory(m->mips);
}

static int is_warm(const struct als_model *m, int64_t user)
{
    const int32_t *u = m->users.data;
    size_t lo = 0, hi = m->users.rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u[mid] < user)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->users.rows && u[lo] == user;
}

/* Top k for a user vector, excluding ex[0..nex): items for the reply. */
static void rank(const struct als_model *m, const float *vec, size_t k, const int32_t *ex,
                 size_t nex, br_svc_reply *out, json_t **items)
{
    int32_t *ids = malloc(k * sizeof *ids);
    float *scores = malloc(k * sizeof *scores);
    /* Inner-product search over ALS factors is hard for the graph (a few long "hub"
     * vectors): ef 100 found 0.78 of the exact top 20 on the real data, 400 finds 0.91
     * (1,600: 0.96). */
    br_hnsw_search_opts so = {.ef = k < 100 ? 400 : 4 * k, .exclude = ex, .n_exclude = nex,
                              .allow = m->allow.data};
    *items = NULL;
    if (!ids || !scores || br_hnsw_search(m->mips, vec, k, &so, ids, scores) != 0) {
        br_svc_error(out, 500, "internal", "search failed");
    } else {
        br__role_items(out, ids, scores, k);
        *items = json_incref(json_object_get(out->body, "items"));
        json_decref(out->body);
        out->body = NULL;
    }
    free(ids);
    free(scores);
}

static int get_user(const struct als_model *m, const json_t *req, br_svc_reply *out,
                    int64_t *user)
{
    char err[256];
    if (br_jreq_int(req, "user", 1, 0, INT32_MAX, 0, user, err, sizeof err)) {
        br__role_bad(out, err);
        return -1;
    }
    return 0;
}

static void ep_als_recs(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"user", "k", "exclude", NULL};
    const struct als_model *m = p;
    char err[256];
    int64_t user;
    size_t k, nex;
    int32_t *ex = NULL;
    if (br_jreq_only(req, allowed, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (get_user(m, req, out, &user) || br__role_k(req, out, &k) ||
        br__role_exclude(req, out, &ex, &nex))
        return;
    if (!is_warm(m, user)) {
        br_svc_error(out, 404, "not_warm", "reader %lld has no vector in this model (cold: "
                     "use fold-in or subject recommendations)", (long long)user);
    } else {
        json_t *items;
        rank(m, (const float *)m->user_f.data + (size_t)user * m->factors, k, ex, nex, out,
             &items);
        if (items)
            out->body = json_pack("{s:I, s:o}", "user", (json_int_t)user, "items", items);
    }
    free(ex);
}

static void ep_is_warm(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"user", NULL};
    char err[256];
    int64_t user;
    if (br_jreq_only(req, allowed, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (get_user(p, req, out, &user))
        return;
    out->body = json_pack("{s:I, s:b}", "user", (json_int_t)user, "warm", is_warm(p, user));
}

static void ep_fold_in(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"interactions", "k", "exclude", NULL};
    const struct als_model *m = p;
    char err[256];
    int64_t k = 0;
    size_t nex = 0;
    int32_t *ex = NULL, *items = NULL;
    float *ratings = NULL, *vec = NULL;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_int(req, "k", 0, 0, BR_ROLE_MAX_K, 0, &k, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    const json_t *in = json_object_get(req, "interactions");
    size_t n = json_array_size(in);
    if (!json_is_array(in) || n > BR_ROLE_MAX_FOLDIN) {
        br_svc_error(out, 400, "bad_request",
                     "interactions must be an array of at most %d {item, rating}",
                     BR_ROLE_MAX_FOLDIN);
        return;
    }
    if (br__role_exclude(req, out, &ex, &nex))
        return;
    items = malloc((n + nex + 1) * sizeof *items);
    ratings = malloc((n + 1) * sizeof *ratings);
    vec = malloc(m->factors * sizeof *vec);
    if (!items || !ratings || !vec) {
        br_svc_error(out, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(in, i);
        int64_t item, r;
        static const char *const fields[] = {"item", "rating", NULL};
        if (!json_is_object(o) || br_jreq_only(o, fields, err, sizeof err) ||
            br_jreq_int(o, "item", 1, 0, (int64_t)m->n_items - 1, 0, &item, err, sizeof err) ||
            br_jreq_int(o, "rating", 0, 0, 10, 0, &r, err, sizeof err)) {
            br_svc_error(out, 400, "bad_request", "interactions[%zu]: %s", i,
                         json_is_object(o) ? err : "must be an object {item, rating}");
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (items[j] == item) {
                br_svc_error(out, 400, "bad_request", "interactions[%zu]: item %lld twice", i,
                             (long long)item);
                goto out;
            }
        items[i] = (int32_t)item;
        ratings[i] = (float)r;
    }
    if (br_als_foldin_solve(m->foldin, items, ratings, n, vec) != 0) {
        br_svc_error(out, 500, "internal", "fold-in failed");
        goto out;
    }
    json_t *ranked = NULL;
    if (k == 0) {
        ranked = json_array();
    } else {
        if (nex)
            memcpy(items + n, ex, nex * sizeof *ex);
        rank(m, vec, (size_t)k, items, n + nex, out, &ranked);
        if (!ranked)
            goto out;
    }
    out->body = json_pack("{s:o, s:o}", "vector", br__role_floats(vec, m->factors), "items",
                          ranked);
out:
    free(ex);
    free(items);
    free(ratings);
    free(vec);
}

static const br_endpoint endpoints[] = {
    {"/als_recs", ep_als_recs},
    {"/is_warm", ep_is_warm},
    {"/fold_in", ep_fold_in},
};

const br_role br_role_als = {BR_ROLE_ALS, als_load, als_free, als_mapped, endpoints,
                             sizeof endpoints / sizeof endpoints[0]};
