/* `bookrec eval` (see evaluate.h and docs/evaluation.md).
 *
 * Design decisions:
 * 1. One exact scorer for every model: a block of queries is scored against
 *    every book with one or two sgemm calls (ALS factors, subject vectors, or
 *    both for hybrid similarity), then each row is filtered (candidates, the
 *    reader's known books), optionally blended with a prior after min-max
 *    scaling, and cut to the top K. The same code ranks ALS, popularity,
 *    subject models and blends, so their differences are the models', not
 *    the evaluation's.
 * 2. Candidates are the books with at least one train interaction; subject
 *    models and blends rank the books that also have a subject vector, as
 *    they do in serving.
 * 3. Cold protocol: each cold reader's interactions are ordered by a seeded
 *    hash; the first half is the profile (favorite subjects derived exactly
 *    as at split time, and the fold-in input), the rest is the truth. Cold
 *    readers are split by hash into a tuning half, on which the prior of the
 *    blend is chosen, and a reporting half, on which everything is reported.
 * 4. Similarity protocol: a weak ground truth, the other books by the same
 *    author; queries are a seeded sample of books with both vectors whose
 *    author has another such book.
 * 5. The warm protocol holds out the test fold, or the validation fold for the
 *    pipeline's quality gate (opts.fold); the known books excluded from a
 *    reader's ranking are those of the other non-cold folds either way. A model
 *    with fewer item rows than the split has books (an older version, made
 *    before books were added) scores the missing books 0.
 */
#include "bookrec/evaluate.h"

#include "bookrec/als.h"
#include "bookrec/error.h"
#include "bookrec/features.h"
#include "bookrec/log.h"
#include "bookrec/metrics.h"
#include "bookrec/npy.h"
#include "bookrec/rankings.h"
#include "bookrec/subject_emb.h"
#include "bookrec/topk.h"
#include "bookrec/train_data.h"
#include "bookrec/vec.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define KMAX 100
#define BLOCK 64

static const size_t g_ks[] = {10, 30, 100};
#define NKS (sizeof g_ks / sizeof g_ks[0])

void br_evaluate_opts_default(br_evaluate_opts *o)
{
    memset(o, 0, sizeof *o);
    br_boot_opts_default(&o->boot);
    o->seed = 42;
    o->sim_queries = 2000;
    o->external_name = "external";
    o->fold = BR_FOLD_TEST;
    o->protocols = BR_EVAL_WARM | BR_EVAL_COLD | BR_EVAL_SIMILARITY;
    o->models = BR_EVAL_ALS | BR_EVAL_POPULARITY | BR_EVAL_SUBJECT;
}

/* A set of queries: who they are, what they must not be shown, what counts. */
struct queries {
    size_t n;
    int64_t *ids;    /* user_id or item_idx */
    br_lists known;  /* excluded from their rankings */
    br_lists truth;
};

static void queries_free(struct queries *q)
{
    free(q->ids);
    br_lists_free(&q->known);
    br_lists_free(&q->truth);
    memset(q, 0, sizeof *q);
}

/* Growable list builder. */
struct lb {
    int64_t *ptr;
    int32_t *items;
    size_t n, cap_rows, nnz, cap_items;
};

static int lb_row(struct lb *b)
{
    if (b->n + 2 > b->cap_rows) {
        size_t c = b->cap_rows ? b->cap_rows * 2 : 1024;
        int64_t *p = realloc(b->ptr, c * sizeof *p);
        if (!p)
            return BR_ENOMEM;
        b->ptr = p, b->cap_rows = c;
    }
    if (b->n == 0)
        b->ptr[0] = 0;
    b->ptr[++b->n] = (int64_t)b->nnz;
    return 0;
}

static int lb_add(struct lb *b, int32_t item)
{
    if (b->nnz == b->cap_items) {
        size_t c = b->cap_items ? b->cap_items * 2 : 4096;
        int32_t *p = realloc(b->items, c * sizeof *p);
        if (!p)
            return BR_ENOMEM;
        b->items = p, b->cap_items = c;
    }
    b->items[b->nnz++] = item;
    b->ptr[b->n] = (int64_t)b->nnz;
    return 0;
}

static void lb_finish(struct lb *b, br_lists *out)
{
    if (!b->ptr) { /* no rows at all */
        b->ptr = calloc(1, sizeof *b->ptr);
    }
    out->n = b->n;
    out->ptr = b->ptr;
    out->items = b->items;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* ---- the scorer ---------------------------------------------------------- */

struct part {
    const float *Q; /* n_queries x dim, row-major */
    const float *B; /* n_items x dim */
    size_t dim;
    float w;
};

struct rank_spec {
    struct part p[2];
    int nparts;
    const double *prior; /* blended (blend) or used alone (nparts == 0) */
    int blend;
    double a;
    const uint8_t *cand; /* n_items */
};

/* Ranks every query of qs by spec; out gets the top KMAX lists. */
static int rank_all(const struct rank_spec *sp, size_t n_items, const struct queries *qs,
                    br_lists *out)
{
    float *S = malloc((size_t)BLOCK * n_items * sizeof *S);
    struct lb b = {0};
    int rc = 0;
    if (!S)
        return BR_ENOMEM;
    for (size_t q0 = 0; q0 < qs->n && !rc; q0 += BLOCK) {
        size_t bq = qs->n - q0 < BLOCK ? qs->n - q0 : BLOCK;
        if (sp->nparts == 0) {
            for (size_t r = 0; r < bq; r++)
                for (size_t i = 0; i < n_items; i++)
                    S[r * n_items + i] = (float)sp->prior[i];
        }
        for (int p = 0; p < sp->nparts; p++) {
            const struct part *pt = &sp->p[p];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bq, (int)n_items,
                        (int)pt->dim, pt->w, pt->Q + q0 * pt->dim, (int)pt->dim, pt->B,
                        (int)pt->dim, p == 0 ? 0.0f : 1.0f, S, (int)n_items);
        }
        br_topk_item heaps[BLOCK][KMAX];
        size_t hn[BLOCK];
#pragma omp parallel for schedule(dynamic, 4)
        for (size_t r = 0; r < bq; r++) {
            float *s = S + r * n_items;
            const br_lists *kn = &qs->known;
            size_t qi = q0 + r;
            for (size_t i = 0; i < n_items; i++)
                if (!sp->cand[i])
                    s[i] = -INFINITY;
            for (int64_t j = kn->ptr[qi]; j < kn->ptr[qi + 1]; j++)
                s[kn->items[j]] = -INFINITY;
            if (sp->blend) {
                double smin = INFINITY, smax = -INFINITY, pmin = INFINITY, pmax = -INFINITY;
                for (size_t i = 0; i < n_items; i++)
                    if (s[i] != -INFINITY) {
                        smin = fmin(smin, s[i]), smax = fmax(smax, s[i]);
                        pmin = fmin(pmin, sp->prior[i]), pmax = fmax(pmax, sp->prior[i]);
                    }
                double ss = smax > smin ? 1 / (smax - smin) : 0;
                double ps = pmax > pmin ? 1 / (pmax - pmin) : 0;
                for (size_t i = 0; i < n_items; i++)
                    if (s[i] != -INFINITY)
                        s[i] = (float)(sp->a * (s[i] - smin) * ss +
                                       (1 - sp->a) * (sp->prior[i] - pmin) * ps);
            }
            hn[r] = 0;
            for (size_t i = 0; i < n_items; i++)
                if (s[i] != -INFINITY)
                    br_topk_push(heaps[r], &hn[r], KMAX, (br_topk_item){s[i], (int32_t)i});
            br_topk_sort(heaps[r], hn[r]);
        }
        for (size_t r = 0; r < bq && !rc; r++) {
            rc = lb_row(&b);
            for (size_t j = 0; j < hn[r] && !rc; j++)
                rc = lb_add(&b, heaps[r][j].id);
        }
    }
    free(S);
    lb_finish(&b, out);
    if (rc)
        br_lists_free(out);
    return rc;
}

/* ---- context --------------------------------------------------------------- */

struct subj {
    const char *pool;
    br_semb *m;
    br_npy book;       /* unit rows; zero rows = no subjects */
    uint8_t *has;      /* n_items */
    uint8_t *cand;     /* has && train candidate */
};

struct ctx {
    const br_evaluate_opts *o;
    br_train_data d;
    size_t n_items;
    double *count, *prior_count, *prior_bayes;
    uint8_t *cand;
    size_t n_cand;
    br_npy U, V, users;
    const float *Vd; /* V, or V_pad when V has fewer rows than the split has books */
    float *V_pad;
    int have_als;
    const char *cold_prior; /* chosen on the tuning half, with the blend weight */
    double cold_a;
    struct subj subj[3];
    int n_subj;
    br_report *rep;
    char *err;
    size_t errcap;
};

static int fail(struct ctx *c, int rc, const char *fmt, const char *arg)
{
    if (c->err && c->errcap && !c->err[0])
        snprintf(c->err, c->errcap, fmt, arg ? arg : "", br_strerror(rc));
    return rc;
}

static int open_npy(struct ctx *c, const char *dir, const char *name, br_npy *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = br_npy_open(path, a);
    return rc ? fail(c, rc, "%s: %s", path) : 0;
}

/* Train counts, the two priors, and the candidate mask. */
static int load_priors(struct ctx *c)
{
    c->count = calloc(c->n_items, sizeof *c->count);
    c->prior_count = calloc(c->n_items, sizeof *c->prior_count);
    c->prior_bayes = calloc(c->n_items, sizeof *c->prior_bayes);
    c->cand = calloc(c->n_items, 1);
    if (!c->count || !c->prior_count || !c->prior_bayes || !c->cand)
        return BR_ENOMEM;
    double sum = 0, n_exp = 0, m = 30;
    double *s = calloc(c->n_items, sizeof *s), *ne = calloc(c->n_items, sizeof *ne);
    if (!s || !ne) {
        free(s);
        free(ne);
        return BR_ENOMEM;
    }
    for (size_t i = 0; i < c->d.n; i++) {
        if (c->d.fold[i] != BR_FOLD_TRAIN)
            continue;
        size_t it = (size_t)c->d.x[i].item;
        c->count[it]++;
        if (c->d.x[i].rating > 0) {
            s[it] += c->d.x[i].rating, ne[it]++;
            sum += c->d.x[i].rating, n_exp++;
        }
    }
    double C = n_exp ? sum / n_exp : 0;
    if (c->o->model_dir) { /* the model's own popularity, when it has one */
        br_npy b;
        char path[4096];
        snprintf(path, sizeof path, "%s/popularity_bayes.npy", c->o->model_dir);
        if (br_npy_open(path, &b) == 0) {
            if (b.dtype == BR_NPY_F32 && b.rows == c->n_items && b.cols == 0) {
                for (size_t i = 0; i < c->n_items; i++)
                    c->prior_bayes[i] = ((const float *)b.data)[i];
                m = -1;
            }
            br_npy_close(&b);
        }
    }
    for (size_t i = 0; i < c->n_items; i++) {
        c->prior_count[i] = log1p(c->count[i]);
        if (m >= 0)
            c->prior_bayes[i] = (s[i] + m * C) / (ne[i] + m);
        c->cand[i] = c->count[i] > 0;
        c->n_cand += c->cand[i];
    }
    free(s);
    free(ne);
    return 0;
}

static int load_model(struct ctx *c)
{
    const char *dir = c->o->model_dir;
    static const char *const pools[] = {"perdim", "scalar", "mean"};
    int rc;
    if ((rc = open_npy(c, dir, "user_factors.npy", &c->U)) ||
        (rc = open_npy(c, dir, "item_factors.npy", &c->V)) ||
        (rc = open_npy(c, dir, "als_users.npy", &c->users)))
        return rc;
    if (c->U.dtype != BR_NPY_F32 || c->V.dtype != BR_NPY_F32 || c->U.cols != c->V.cols ||
        c->V.rows > c->n_items || !c->V.cols || c->users.dtype != BR_NPY_I32)
        return fail(c, BR_ECORRUPT, "%s: ALS arrays disagree with the catalog (%s)", dir);
    c->Vd = c->V.data;
    if (c->V.rows < c->n_items) { /* books added since this model was trained */
        if (!(c->V_pad = calloc(c->n_items * c->V.cols, sizeof *c->V_pad)))
            return BR_ENOMEM;
        memcpy(c->V_pad, c->V.data, c->V.rows * c->V.cols * sizeof *c->V_pad);
        c->Vd = c->V_pad;
    }
    c->have_als = 1;
    for (int p = 0; p < 3; p++) {
        char sub[2048], path[4096];
        struct subj *s = &c->subj[c->n_subj];
        snprintf(sub, sizeof sub, "%s/subject_%s", dir, pools[p]);
        snprintf(path, sizeof path, "%s/book_vectors.npy", sub);
        if (br_npy_open(path, &s->book) != 0)
            continue; /* a model trained without this pooling kind */
        if (s->book.dtype != BR_NPY_F32 || s->book.rows != c->n_items)
            return fail(c, BR_ECORRUPT, "%s: book vectors disagree with the catalog (%s)", path);
        s->pool = pools[p];
        s->has = calloc(c->n_items, 1);
        s->cand = calloc(c->n_items, 1);
        if (!s->has || !s->cand)
            return BR_ENOMEM;
        const float *bv = s->book.data;
        for (size_t i = 0; i < c->n_items; i++) {
            for (size_t j = 0; j < s->book.cols; j++)
                if (bv[i * s->book.cols + j] != 0) {
                    s->has[i] = 1;
                    break;
                }
            s->cand[i] = s->has[i] && c->cand[i];
        }
        /* The pooling model itself, for readers' favorite subjects. */
        br_semb_params sp;
        br_semb_params_default(&sp);
        if (br_semb_pool_parse(pools[p], &sp.pool) != 0)
            return BR_EINVAL;
        sp.dim = s->book.cols;
        br_npy t;
        snprintf(path, sizeof path, "%s/params.json", sub);
        json_t *pj = json_load_file(path, 0, NULL);
        if (pj) {
            sp.max_set = (size_t)json_integer_value(json_object_get(pj, "max_set"));
            json_decref(pj);
        }
        if ((rc = br_semb_new(&sp, c->d.n_subjects, 0, 0, &s->m)))
            return fail(c, rc, "subject model %s: %s", pools[p]);
        for (size_t k = 0; k < br_semb_n_tensors(s->m); k++) {
            br_semb_tensor ti;
            br_semb_tensor_at(s->m, k, &ti);
            if (strstr(ti.name, "bias") && strcmp(ti.name, "attn_b") != 0)
                continue; /* user/book/global biases: training only, not for pooling */
            snprintf(path, sizeof path, "%s/%s.npy", sub, ti.name);
            if (br_npy_open(path, &t) != 0)
                continue;
            rc = br_semb_tensor_set(s->m, ti.name, t.data, t.rows, t.cols);
            br_npy_close(&t);
            if (rc)
                return fail(c, rc, "%s: %s", path);
        }
        c->n_subj++;
    }
    return 0;
}

/* Gathers rows of a float matrix for the queries (missing rows -> zeros). */
static float *gather(const float *M, size_t rows, size_t dim, const int64_t *ids, size_t n)
{
    float *out = calloc(n * dim + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t q = 0; q < n; q++)
        if (ids[q] >= 0 && (size_t)ids[q] < rows)
            memcpy(out + q * dim, M + (size_t)ids[q] * dim, dim * sizeof *out);
    return out;
}

static void normalize(float *x, size_t n, size_t dim)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < dim; j++)
            s += (double)x[i * dim + j] * x[i * dim + j];
        if (s > 0)
            for (size_t j = 0; j < dim; j++)
                x[i * dim + j] = (float)(x[i * dim + j] / sqrt(s));
    }
}

static int add_results(struct ctx *c, const char *model, const char *protocol,
                       const struct queries *qs, const br_lists *ranked, br_eval **keep30)
{
    for (size_t k = 0; k < NKS; k++) {
        br_eval *e;
        br_eval_opts eo = {0};
        eo.k = g_ks[k];
        eo.n_items = c->n_items;
        eo.n_candidates = c->n_cand;
        eo.popularity = c->count;
        eo.user_ids = qs->ids;
        int rc = br_eval_new(ranked, &qs->truth, &eo, &e);
        if (!rc)
            rc = br_report_add(c->rep, model, protocol, e);
        if (rc) {
            br_eval_free(e);
            return fail(c, rc, "evaluating %s: %s", model);
        }
        if (keep30 && g_ks[k] == 30)
            *keep30 = e;
        else
            br_eval_free(e);
    }
    br_info("eval: %s / %s done (%zu queries)", model, protocol, qs->n);
    return 0;
}

/* User vectors of a subject model from favorite-subject sets (one per query). */
static float *user_subject_vectors(const struct subj *s, const br_csr *favs, const int64_t *ids,
                                   size_t n)
{
    size_t dim = s->book.cols;
    float *out = calloc(n * dim + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t q = 0; q < n; q++) {
        int64_t u = ids[q];
        if (u < 0 || (size_t)u >= favs->n_rows)
            continue;
        int64_t a = favs->indptr[u], b = favs->indptr[u + 1];
        if (b > a)
            br_semb_pool(s->m, favs->indices + a, (size_t)(b - a), out + q * dim);
    }
    normalize(out, n, dim);
    return out;
}

static const double g_blend_a[] = {0.2, 0.4, 0.6, 0.8};

/* Every recommendation model on one set of reader queries. favs: their favorite
 * subjects. pop30 / blend30 (may be NULL) receive the recall@30 evaluations of
 * popularity and of one blend: the one with a = keep_a, or the best when keep_a < 0
 * (its a in *best_a), for a paired comparison. */
static int rec_protocol(struct ctx *c, const char *protocol, const struct queries *qs,
                        const br_csr *favs, const float *als_user, const double *prior,
                        const char *prior_name, br_eval **pop30, br_eval **blend30,
                        double keep_a, double *best_a, char *blend_name, size_t blend_cap)
{
    br_lists ranked = {0};
    struct rank_spec sp;
    int rc = 0;
    double best = -1;
    unsigned models = c->o->models;
    if (als_user && (models & BR_EVAL_ALS)) {
        memset(&sp, 0, sizeof sp);
        sp.p[0] = (struct part){als_user, c->Vd, c->V.cols, 1.0f};
        sp.nparts = 1;
        sp.cand = c->cand;
        if ((rc = rank_all(&sp, c->n_items, qs, &ranked)) ||
            (rc = add_results(c, "als", protocol, qs, &ranked, NULL)))
            return rc;
        br_lists_free(&ranked);
    }
    static const char *const pnames[] = {"popularity", "popularity_bayes"};
    const double *priors[] = {c->prior_count, c->prior_bayes};
    for (int p = 0; p < 2 && (models & BR_EVAL_POPULARITY); p++) {
        memset(&sp, 0, sizeof sp);
        sp.prior = priors[p];
        sp.cand = c->cand;
        if ((rc = rank_all(&sp, c->n_items, qs, &ranked)) ||
            (rc = add_results(c, pnames[p], protocol, qs, &ranked, p == 0 ? pop30 : NULL)))
            return rc;
        br_lists_free(&ranked);
    }
    for (int s = 0; s < c->n_subj && (models & BR_EVAL_SUBJECT); s++) {
        struct subj *sj = &c->subj[s];
        float *uq = user_subject_vectors(sj, favs, qs->ids, qs->n);
        char name[64];
        if (!uq)
            return BR_ENOMEM;
        memset(&sp, 0, sizeof sp);
        sp.p[0] = (struct part){uq, sj->book.data, sj->book.cols, 1.0f};
        sp.nparts = 1;
        sp.cand = sj->cand;
        snprintf(name, sizeof name, "subject_%s", sj->pool);
        rc = rank_all(&sp, c->n_items, qs, &ranked);
        if (!rc)
            rc = add_results(c, name, protocol, qs, &ranked, NULL);
        br_lists_free(&ranked);
        /* Blends use the per-dimension model (the product's choice). */
        for (size_t b = 0; !rc && s == 0 && b < sizeof g_blend_a / sizeof g_blend_a[0]; b++) {
            br_eval *e30 = NULL;
            sp.blend = 1;
            sp.a = g_blend_a[b];
            sp.prior = prior;
            snprintf(name, sizeof name, "blend_a%.1f_%s", g_blend_a[b], prior_name);
            rc = rank_all(&sp, c->n_items, qs, &ranked);
            if (!rc)
                rc = add_results(c, name, protocol, qs, &ranked, blend30 ? &e30 : NULL);
            br_lists_free(&ranked);
            if (!rc && e30) {
                double r = br_eval_mean(e30, BR_METRIC_RECALL);
                if (keep_a >= 0 ? fabs(g_blend_a[b] - keep_a) < 1e-9 : r > best) {
                    if (best_a)
                        *best_a = g_blend_a[b];
                    best = r;
                    br_eval_free(*blend30);
                    *blend30 = e30;
                    snprintf(blend_name, blend_cap, "%s", name);
                } else {
                    br_eval_free(e30);
                }
            }
        }
        free(uq);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- query sets ------------------------------------------------------------ */

/* 1 when user is in the sorted list (or there is no list). */
static int listed(const int64_t *l, size_t n, int64_t user)
{
    size_t lo = 0, hi = n;
    if (!l)
        return 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l[mid] < user)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && l[lo] == user;
}

/* Warm: readers in the ALS model (and in opts.only_users) with interactions in the
 * held-out fold; known = the other non-cold folds. */
static int warm_queries(struct ctx *c, struct queries *qs)
{
    const int held = c->o->fold;
    uint8_t *in_model = calloc(c->d.n_users, 1);
    struct lb kn = {0}, tr = {0};
    br_vec ids;
    int rc = 0;
    if (!in_model)
        return BR_ENOMEM;
    const int32_t *mu = c->users.data;
    for (size_t i = 0; i < c->users.rows; i++)
        if (mu[i] >= 0 && (size_t)mu[i] < c->d.n_users)
            in_model[mu[i]] = 1;
    br_vec_init(&ids, sizeof(int64_t), 0);
    for (size_t i = 0; i < c->d.n && !rc;) {
        size_t j = i, n_test = 0;
        int64_t u = c->d.x[i].user;
        while (j < c->d.n && c->d.x[j].user == u)
            n_test += c->d.fold[j++] == held;
        if (n_test && u >= 0 && (size_t)u < c->d.n_users && in_model[u] &&
            listed(c->o->only_users, c->o->n_only_users, u)) {
            if (!br_vec_push(&ids, &u) || lb_row(&kn) || lb_row(&tr)) {
                rc = BR_ENOMEM;
                break;
            }
            for (size_t t = i; t < j && !rc; t++) {
                int32_t it = (int32_t)c->d.x[t].item;
                if (c->d.fold[t] == held)
                    rc = lb_add(&tr, it);
                else if (c->d.fold[t] != BR_FOLD_COLD)
                    rc = lb_add(&kn, it);
            }
        }
        i = j;
    }
    free(in_model);
    qs->n = ids.n;
    qs->ids = ids.data;
    lb_finish(&kn, &qs->known);
    lb_finish(&tr, &qs->truth);
    return rc;
}

static uint64_t h2(uint64_t seed, int64_t a, int64_t b)
{
    int64_t v[2] = {a, b};
    return XXH3_64bits_withSeed(v, sizeof v, seed);
}

struct hitem {
    uint64_t h;
    int32_t item;
    float rating;
};

static int cmp_hitem(const void *a, const void *b)
{
    const struct hitem *x = a, *y = b;
    return (x->h > y->h) - (x->h < y->h);
}

/* Cold: readers of the cold fold, in the half `group` (0 tune, 1 report); the
 * first half of each reader's hash-ordered interactions is the profile. The
 * profile's interactions are returned as train-fold triples for favsub. */
static int cold_queries(struct ctx *c, int group, struct queries *qs, br_vec *profile)
{
    struct lb kn = {0}, tr = {0};
    br_vec ids;
    struct hitem *tmp = NULL;
    size_t cap = 0;
    int rc = 0;
    br_vec_init(&ids, sizeof(int64_t), 0);
    br_vec_init(profile, sizeof(br_interaction), 0);
    for (size_t i = 0; i < c->d.n && !rc;) {
        size_t j = i;
        int64_t u = c->d.x[i].user;
        while (j < c->d.n && c->d.x[j].user == u)
            j++;
        size_t n = j - i;
        if (c->d.fold[i] != BR_FOLD_COLD || n < 2 ||
            (int)(h2(c->o->seed, u, -1) & 1) != group) {
            i = j;
            continue;
        }
        if (n > cap) {
            cap = n * 2;
            struct hitem *t = realloc(tmp, cap * sizeof *t);
            if (!t) {
                rc = BR_ENOMEM;
                break;
            }
            tmp = t;
        }
        for (size_t t = 0; t < n; t++)
            tmp[t] = (struct hitem){h2(c->o->seed, u, c->d.x[i + t].item),
                                    (int32_t)c->d.x[i + t].item, c->d.x[i + t].rating};
        qsort(tmp, n, sizeof *tmp, cmp_hitem);
        size_t half = n / 2;
        if (!br_vec_push(&ids, &u) || lb_row(&kn) || lb_row(&tr)) {
            rc = BR_ENOMEM;
            break;
        }
        qsort(tmp, half, sizeof *tmp, cmp_hitem);
        for (size_t t = 0; t < n && !rc; t++) {
            if (t < half) {
                br_interaction p = {u, tmp[t].item, tmp[t].rating, 0};
                rc = lb_add(&kn, tmp[t].item);
                if (!rc && !br_vec_push(profile, &p))
                    rc = BR_ENOMEM;
            } else {
                rc = lb_add(&tr, tmp[t].item);
            }
        }
        /* br_lists rows need no order, but profiles are kept sorted by item for favsub */
        i = j;
    }
    free(tmp);
    qs->n = ids.n;
    qs->ids = ids.data;
    lb_finish(&kn, &qs->known);
    lb_finish(&tr, &qs->truth);
    for (size_t q = 0; q < qs->n; q++)
        qsort(qs->truth.items + qs->truth.ptr[q], (size_t)(qs->truth.ptr[q + 1] - qs->truth.ptr[q]),
              sizeof(int32_t), cmp_i32);
    return rc;
}

/* Favorite subjects of the cold profiles, exactly as the split derives them. */
static int cold_favs(struct ctx *c, const br_vec *profile, br_csr *out)
{
    br_item_subjects is;
    br_favsub *fs = NULL;
    br_favsub_params fp;
    size_t *off = malloc((c->d.item_subjects.n_rows + 1) * sizeof *off);
    uint8_t *fold = calloc(profile->n + 1, 1); /* all BR_FOLD_TRAIN (0) */
    int rc = 0;
    if (!off || !fold) {
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t r = 0; r <= c->d.item_subjects.n_rows; r++)
        off[r] = (size_t)c->d.item_subjects.indptr[r];
    is.n_items = c->d.item_subjects.n_rows;
    is.offsets = off;
    is.subject = c->d.item_subjects.indices;
    is.weight = c->d.item_subjects.values;
    br_favsub_params_default(&fp);
    if (profile->n == 0) {
        memset(out, 0, sizeof *out);
        goto out;
    }
    if ((rc = br_favsub_new(profile->data, fold, profile->n, &is, &fp, c->d.n_users, &fs)))
        goto out;
    const size_t *fo;
    const int32_t *fsub;
    const float *fsc;
    br_favsub_csr(fs, &fo, &fsub, &fsc);
    size_t nu = br_favsub_n_users(fs), nnz = fo[nu];
    int32_t *rows = malloc((nnz + 1) * sizeof *rows);
    if (!rows) {
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t u = 0; u < nu; u++)
        for (size_t k = fo[u]; k < fo[u + 1]; k++)
            rows[k] = (int32_t)u;
    /* The favsub CSR is ordered by score; the builder sorts by subject id, which
     * loses the order max_set relies on: keep it by building row by row. */
    rc = br_csr_from_triples(c->d.n_users, c->d.n_subjects, rows, fsub, fsc, nnz, out);
    free(rows);
out:
    br_favsub_free(fs);
    free(off);
    free(fold);
    return rc;
}

/* Similarity: books with both vectors whose author has another such book. */
static int sim_queries(struct ctx *c, const struct subj *s, const float *A_unit,
                       struct queries *qs)
{
    size_t n = c->n_items;
    int32_t n_auth = 0;
    for (size_t i = 0; i < n; i++)
        if (c->d.author[i] >= n_auth)
            n_auth = c->d.author[i] + 1;
    int32_t *cnt = calloc((size_t)n_auth + 1, sizeof *cnt);
    uint8_t *ok = calloc(n, 1);
    struct lb kn = {0}, tr = {0};
    br_vec ids;
    int rc = 0;
    br_vec_init(&ids, sizeof(int64_t), 0);
    if (!cnt || !ok) {
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int has_a = 0;
        for (size_t j = 0; j < c->V.cols && !has_a; j++)
            has_a = A_unit[i * c->V.cols + j] != 0;
        ok[i] = c->cand[i] && s->has[i] && has_a && c->d.author[i] >= 0;
        if (ok[i])
            cnt[c->d.author[i]]++;
    }
    /* Members of each author group, for the truth lists. */
    int64_t *start = calloc((size_t)n_auth + 2, sizeof *start);
    int32_t *members = malloc((n + 1) * sizeof *members);
    if (!start || !members) {
        free(start);
        free(members);
        rc = BR_ENOMEM;
        goto out;
    }
    for (int32_t a = 0; a < n_auth; a++)
        start[a + 1] = start[a] + cnt[a];
    int64_t *fill = calloc((size_t)n_auth + 1, sizeof *fill);
    if (!fill) {
        free(start);
        free(members);
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (ok[i]) {
            int32_t a = c->d.author[i];
            members[start[a] + fill[a]++] = (int32_t)i;
        }
    free(fill);
    /* A seeded sample of eligible books: the smallest hashes. */
    struct hitem *el = malloc((n + 1) * sizeof *el);
    size_t ne = 0;
    if (!el) {
        free(start);
        free(members);
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (ok[i] && cnt[c->d.author[i]] >= 2)
            el[ne++] = (struct hitem){h2(c->o->seed, (int64_t)i, -2), (int32_t)i, 0};
    qsort(el, ne, sizeof *el, cmp_hitem);
    if (ne > c->o->sim_queries)
        ne = c->o->sim_queries;
    for (size_t e = 0; e < ne && !rc; e++) {
        int64_t q = el[e].item;
        int32_t a = c->d.author[q];
        if (!br_vec_push(&ids, &q) || lb_row(&kn) || lb_row(&tr)) {
            rc = BR_ENOMEM;
            break;
        }
        rc = lb_add(&kn, (int32_t)q);
        for (int64_t m = start[a]; m < start[a + 1] && !rc; m++)
            if (members[m] != q)
                rc = lb_add(&tr, members[m]);
    }
    free(el);
    free(start);
    free(members);
out:
    free(cnt);
    free(ok);
    qs->n = ids.n;
    qs->ids = ids.data;
    lb_finish(&kn, &qs->known);
    lb_finish(&tr, &qs->truth);
    return rc;
}

static int similarity_protocol(struct ctx *c)
{
    if (!c->have_als || c->n_subj == 0)
        return 0;
    const struct subj *s = &c->subj[0];
    size_t n = c->n_items, fa = c->V.cols, fs = s->book.cols;
    float *A = malloc(n * fa * sizeof *A);
    struct queries qs = {0};
    br_lists ranked = {0};
    int rc = 0;
    if (!A)
        return BR_ENOMEM;
    memcpy(A, c->Vd, n * fa * sizeof *A);
    normalize(A, n, fa);
    if ((rc = sim_queries(c, s, A, &qs)))
        goto out;
    float *qa = gather(A, n, fa, qs.ids, qs.n), *qsv = gather(s->book.data, n, fs, qs.ids, qs.n);
    if (!qa || !qsv) {
        free(qa);
        free(qsv);
        rc = BR_ENOMEM;
        goto out;
    }
    static const struct {
        const char *name;
        double w;
    } modes[] = {{"als", 0}, {"subject_perdim", 1}, {"hybrid_w0.25", 0.25},
                 {"hybrid_w0.5", 0.5}, {"hybrid_w0.75", 0.75}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0] && !rc; m++) {
        struct rank_spec sp = {0};
        double w = modes[m].w;
        if (w < 1)
            sp.p[sp.nparts++] = (struct part){qa, A, fa, (float)(1 - w)};
        if (w > 0)
            sp.p[sp.nparts++] = (struct part){qsv, s->book.data, fs, (float)w};
        sp.cand = c->cand;
        rc = rank_all(&sp, n, &qs, &ranked);
        if (!rc)
            rc = add_results(c, modes[m].name, "similarity", &qs, &ranked, NULL);
        br_lists_free(&ranked);
    }
    free(qa);
    free(qsv);
out:
    free(A);
    queries_free(&qs);
    return rc;
}

/* External factors or rankings on the warm protocol (every reader with test
 * interactions: the external model decides whom it covers). */
static int external_protocol(struct ctx *c)
{
    const br_evaluate_opts *o = c->o;
    struct queries qs = {0};
    br_lists ranked = {0};
    br_npy U = {0}, V = {0}, uid = {0}, iid = {0};
    int rc;
    /* Warm queries without the model filter: every user with test interactions. */
    {
        struct lb kn = {0}, tr = {0};
        br_vec ids;
        br_vec_init(&ids, sizeof(int64_t), 0);
        rc = 0;
        for (size_t i = 0; i < c->d.n && !rc;) {
            size_t j = i, n_test = 0;
            int64_t u = c->d.x[i].user;
            while (j < c->d.n && c->d.x[j].user == u)
                n_test += c->d.fold[j++] == BR_FOLD_TEST;
            if (n_test) {
                if (!br_vec_push(&ids, &u) || lb_row(&kn) || lb_row(&tr))
                    rc = BR_ENOMEM;
                for (size_t t = i; t < j && !rc; t++) {
                    if (c->d.fold[t] == BR_FOLD_TEST)
                        rc = lb_add(&tr, (int32_t)c->d.x[t].item);
                    else if (c->d.fold[t] != BR_FOLD_COLD)
                        rc = lb_add(&kn, (int32_t)c->d.x[t].item);
                }
            }
            i = j;
        }
        qs.n = ids.n;
        qs.ids = ids.data;
        lb_finish(&kn, &qs.known);
        lb_finish(&tr, &qs.truth);
        if (rc)
            goto out;
    }
    if (o->rankings) {
        br_rankings *rk = NULL;
        char rerr[256] = "";
        br_rankings_opts ro;
        br_rankings_opts_default(&ro);
        ro.n_items = c->n_items;
        if ((rc = br_rankings_read_file(o->rankings, &ro, &rk, rerr, sizeof rerr))) {
            snprintf(c->err, c->errcap, "%s: %s", o->rankings, rerr);
            goto out;
        }
        rc = br_rankings_align(rk, qs.ids, qs.n, &ranked, NULL);
        br_rankings_free(rk);
        if (!rc)
            rc = add_results(c, o->external_name, "warm", &qs, &ranked, NULL);
        br_lists_free(&ranked);
        if (rc)
            goto out;
    }
    if (o->user_factors || o->item_factors) {
        if (!o->user_factors || !o->item_factors) {
            rc = fail(c, BR_EINVAL, "give both --user-factors and --item-factors%s (%s)", "");
            goto out;
        }
        if ((rc = br_npy_open(o->user_factors, &U)) || (rc = br_npy_open(o->item_factors, &V))) {
            fail(c, rc, "external factors: %s (%s)", o->user_factors);
            goto out;
        }
        if (U.dtype != BR_NPY_F32 || V.dtype != BR_NPY_F32 || U.cols != V.cols || !U.cols) {
            rc = fail(c, BR_EFORMAT, "external factors must be float32 2-D with equal widths%s (%s)",
                      "");
            goto out;
        }
        int32_t *item_map = NULL;
        int64_t *rows = malloc((qs.n + 1) * sizeof *rows);
        if (!rows) {
            rc = BR_ENOMEM;
            goto out;
        }
        /* Query rows: user_id directly, or through the row -> user_id map. */
        for (size_t q = 0; q < qs.n; q++)
            rows[q] = qs.ids[q] < (int64_t)U.rows ? qs.ids[q] : -1;
        if (o->user_ids) {
            if ((rc = br_npy_open(o->user_ids, &uid)) != 0)
                fail(c, rc, "%s: %s", o->user_ids);
            else if ((uid.dtype != BR_NPY_I32 && uid.dtype != BR_NPY_I64) || uid.cols ||
                     uid.rows != U.rows)
                rc = fail(c, BR_EFORMAT, "%s: needs one int32/int64 id per user row (%s)",
                          o->user_ids);
            if (rc == 0) {
                for (size_t q = 0; q < qs.n; q++)
                    rows[q] = -1;
                for (size_t r = 0; r < uid.rows; r++) {
                    int64_t u = uid.dtype == BR_NPY_I64 ? ((const int64_t *)uid.data)[r]
                                                         : ((const int32_t *)uid.data)[r];
                    /* qs.ids is sorted: binary search. */
                    size_t lo = 0, hi = qs.n;
                    while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        if (qs.ids[mid] < u)
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    if (lo < qs.n && qs.ids[lo] == u)
                        rows[lo] = (int64_t)r;
                }
            }
        }
        if (!rc && o->item_ids && (rc = br_npy_open(o->item_ids, &iid)) == 0) {
            /* One item_idx per V row, each a valid int32 id. */
            if ((iid.dtype != BR_NPY_I32 && iid.dtype != BR_NPY_I64) || iid.cols ||
                iid.rows != V.rows) {
                rc = fail(c, BR_EFORMAT, "%s: needs one int32/int64 id per item row (%s)",
                          o->item_ids);
            } else if (!(item_map = malloc((V.rows + 1) * sizeof *item_map))) {
                rc = BR_ENOMEM;
            }
            for (size_t r = 0; !rc && r < V.rows; r++) {
                int64_t id = iid.dtype == BR_NPY_I64 ? ((const int64_t *)iid.data)[r]
                                                     : ((const int32_t *)iid.data)[r];
                if (id < 0 || id > INT32_MAX)
                    rc = fail(c, BR_ERANGE, "%s: an item id is out of range (%s)", o->item_ids);
                else
                    item_map[r] = (int32_t)id;
            }
        }
        /* Readers the external model does not cover get an empty list (they count). */
        size_t nq = 0;
        int64_t *qrows = malloc((qs.n + 1) * sizeof *qrows);
        if (!rc && !qrows)
            rc = BR_ENOMEM;
        for (size_t q = 0; !rc && q < qs.n; q++)
            if (rows[q] >= 0)
                qrows[nq++] = rows[q];
        br_lists sub = {0}, excl = {0};
        if (!rc) {
            /* exclusions of the covered readers, in the same order */
            struct lb e = {0};
            for (size_t q = 0; q < qs.n && !rc; q++) {
                if (rows[q] < 0)
                    continue;
                rc = lb_row(&e);
                for (int64_t k = qs.known.ptr[q]; k < qs.known.ptr[q + 1] && !rc; k++)
                    rc = lb_add(&e, qs.known.items[k]);
            }
            lb_finish(&e, &excl);
        }
        if (!rc) {
            br_factor_opts fo = {0};
            fo.exclude = &excl;
            fo.item_ids = item_map;
            rc = br_factor_topk(U.data, U.rows, V.data, V.rows, U.cols, qrows, nq, KMAX, &fo,
                                &sub);
        }
        if (!rc) {
            struct lb b = {0};
            size_t s = 0;
            for (size_t q = 0; q < qs.n && !rc; q++) {
                rc = lb_row(&b);
                if (rows[q] < 0)
                    continue;
                for (int64_t k = sub.ptr[s]; k < sub.ptr[s + 1] && !rc; k++)
                    rc = lb_add(&b, sub.items[k]);
                s++;
            }
            lb_finish(&b, &ranked);
        }
        if (!rc)
            rc = add_results(c, o->external_name, "warm", &qs, &ranked, NULL);
        br_lists_free(&ranked);
        br_lists_free(&sub);
        br_lists_free(&excl);
        free(rows);
        free(qrows);
        free(item_map);
    }
out:
    br_npy_close(&U);
    br_npy_close(&V);
    br_npy_close(&uid);
    br_npy_close(&iid);
    queries_free(&qs);
    return rc;
}

/* ALS vectors of cold readers, folded in from their profile halves with the
 * training's normal equations and parameters (from the manifest). */
static float *cold_foldin(struct ctx *c, const struct queries *qs, const br_vec *profile)
{
    char path[4096];
    br_als_params p;
    br_als_foldin *fi = NULL;
    br_als_params_default(&p);
    snprintf(path, sizeof path, "%s/manifest.json", c->o->model_dir);
    json_t *m = json_load_file(path, 0, NULL);
    json_t *a = json_object_get(json_object_get(m, "params"), "als");
    if (a) {
        p.regularization = (float)json_number_value(json_object_get(a, "regularization"));
        p.alpha = (float)json_number_value(json_object_get(a, "alpha"));
        p.weight_base = (float)json_number_value(json_object_get(a, "weight_base"));
        const char *w = json_string_value(json_object_get(a, "weighting"));
        p.weighting = w && !strcmp(w, "rating") ? BR_ALS_W_RATING : BR_ALS_W_CONSTANT;
    }
    json_decref(m);
    p.factors = c->V.cols;
    size_t f = c->V.cols;
    float *out = calloc(qs->n * f + 1, sizeof *out);
    int32_t *items = malloc((profile->n + 1) * sizeof *items);
    float *ratings = malloc((profile->n + 1) * sizeof *ratings);
    if (!out || !items || !ratings || br_als_foldin_new(c->Vd, c->n_items, &p, &fi) != 0) {
        free(out);
        out = NULL;
        goto done;
    }
    const br_interaction *x = profile->data;
    size_t at = 0;
    for (size_t q = 0; q < qs->n; q++) {
        size_t n = 0;
        while (at < profile->n && x[at].user == qs->ids[q]) {
            items[n] = (int32_t)x[at].item;
            ratings[n++] = x[at++].rating;
        }
        if (n && br_als_foldin_solve(fi, items, ratings, n, out + q * f) != 0)
            memset(out + q * f, 0, f * sizeof *out);
    }
done:
    br_als_foldin_free(fi);
    free(items);
    free(ratings);
    return out;
}

int br_evaluate_run(br_store *st, const br_evaluate_opts *o, json_t **report, char *err,
                    size_t errcap)
{
    struct ctx c = {0};
    struct queries wq = {0}, cq = {0};
    br_vec profile;
    br_csr cfavs = {0};
    br_eval *pop30 = NULL, *blend30 = NULL, *tune_pop = NULL, *tune_bayes = NULL;
    float *als_u = NULL;
    int rc;
    br_vec_init(&profile, sizeof(br_interaction), 0);
    if (err && errcap)
        err[0] = 0;
    c.o = o;
    c.err = err;
    c.errcap = errcap;
    if (o->fold != BR_FOLD_TEST && o->fold != BR_FOLD_VAL) {
        snprintf(err, errcap, "the warm protocol holds out the test or the validation fold");
        return BR_EINVAL;
    }
    if (!o->model_dir && !o->user_factors && !o->rankings) {
        snprintf(err, errcap, "nothing to evaluate: give --model DIR, external factors or rankings");
        return BR_EINVAL;
    }
    if ((rc = br_train_data_load(st, 64, &c.d, err, errcap)))
        return rc;
    c.n_items = c.d.n_items;
    if ((rc = load_priors(&c)) || (rc = br_report_new(c.d.split_id, &o->boot, &c.rep)))
        goto out;
    if (o->rankings || o->user_factors) {
        if ((rc = external_protocol(&c)))
            goto out;
    }
    if (o->model_dir) {
        if ((rc = load_model(&c)))
            goto out;
        /* Warm. */
        if ((rc = warm_queries(&c, &wq)))
            goto out;
        als_u = gather(c.U.data, c.U.rows, c.U.cols, wq.ids, wq.n);
        if (!als_u) {
            rc = BR_ENOMEM;
            goto out;
        }
        char bname[64] = "";
        if ((rc = rec_protocol(&c, "warm", &wq, &c.d.user_favs, als_u, c.prior_count, "count", NULL,
                               NULL, -1, NULL, bname, sizeof bname)))
            goto out;
        if (o->protocols & BR_EVAL_COLD) {
            /* Cold: choose the blend's prior on the tuning half, report on the other. */
            const char *prior_name = "count";
            const double *prior = c.prior_count;
            double chosen_a = -1; /* the blend weight chosen on the tuning half */
            if (c.n_subj > 0) {
                br_report *keep = c.rep, *scratch = NULL;
                rc = cold_queries(&c, 0, &cq, &profile);
                if (!rc)
                    rc = cold_favs(&c, &profile, &cfavs);
                /* Each prior's best blend on the tuning half, into throwaway reports. */
                const double *pri[2] = {c.prior_count, c.prior_bayes};
                const char *pname[2] = {"count", "bayes"};
                br_eval **best[2] = {&tune_pop, &tune_bayes};
                double best_a[2] = {0.5, 0.5};
                for (int p = 0; p < 2 && !rc; p++) {
                    if ((rc = br_report_new(c.d.split_id, &o->boot, &scratch)))
                        break;
                    c.rep = scratch;
                    rc = rec_protocol(&c, "cold_tune", &cq, &cfavs, NULL, pri[p], pname[p], NULL,
                                      best[p], -1, &best_a[p], bname, sizeof bname);
                    c.rep = keep;
                    br_report_free(scratch);
                }
                if (rc)
                    goto out;
                if (tune_bayes && tune_pop &&
                    br_eval_mean(tune_bayes, BR_METRIC_RECALL) >
                        br_eval_mean(tune_pop, BR_METRIC_RECALL)) {
                    prior = c.prior_bayes;
                    prior_name = "bayes";
                    chosen_a = best_a[1];
                } else {
                    chosen_a = best_a[0];
                }
                c.cold_prior = prior_name;
                c.cold_a = chosen_a;
                br_info("eval: cold blend chosen on the tuning half: prior %s, a = %.1f",
                        prior_name, chosen_a);
                queries_free(&cq);
                br_csr_free(&cfavs);
                br_vec_free(&profile);
            }
            if ((rc = cold_queries(&c, 1, &cq, &profile)) || (rc = cold_favs(&c, &profile, &cfavs)))
                goto out;
            /* ALS on cold readers is fold-in from the same profile half. */
            float *als_cold = cold_foldin(&c, &cq, &profile);
            if (!als_cold) {
                rc = BR_ENOMEM;
                goto out;
            }
            rc = rec_protocol(&c, "cold", &cq, &cfavs, als_cold, prior, prior_name, &pop30,
                              &blend30, chosen_a, NULL, bname, sizeof bname);
            free(als_cold);
            if (rc)
                goto out;
            if (pop30 && blend30 &&
                (rc = br_report_add_paired(c.rep, bname, "popularity", "cold", BR_METRIC_RECALL,
                                           blend30, pop30)))
                goto out;
        }
        if ((o->protocols & BR_EVAL_SIMILARITY) && (rc = similarity_protocol(&c)))
            goto out;
    }
    json_t *j = br_report_json(c.rep); /* a new reference: outlives the report */
    if (!j) {
        rc = BR_ENOMEM;
        goto out;
    }
    json_object_set_new(j, "warm_fold", json_string(br_fold_name(o->fold)));
    if (c.cold_prior) {
        json_object_set_new(j, "cold_prior", json_string(c.cold_prior));
        json_object_set_new(j, "cold_blend_a", json_real(c.cold_a));
    }
    *report = j;
out:
    free(als_u);
    br_eval_free(pop30);
    br_eval_free(blend30);
    br_eval_free(tune_pop);
    br_eval_free(tune_bayes);
    queries_free(&wq);
    queries_free(&cq);
    br_csr_free(&cfavs);
    br_vec_free(&profile);
    br_npy_close(&c.U);
    br_npy_close(&c.V);
    free(c.V_pad);
    br_npy_close(&c.users);
    for (int s = 0; s < c.n_subj; s++) {
        br_semb_free(c.subj[s].m);
        br_npy_close(&c.subj[s].book);
        free(c.subj[s].has);
        free(c.subj[s].cand);
    }
    free(c.count);
    free(c.prior_count);
    free(c.prior_bayes);
    free(c.cand);
    br_report_free(c.rep);
    br_train_data_free(&c.d);
    if (rc && err && errcap && !err[0])
        snprintf(err, errcap, "evaluation failed: %s", br_strerror(rc));
    return rc;
}
