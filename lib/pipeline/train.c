/* `bookrec train` (see train.h).
 *
 * Design decisions:
 * 1. Rows are ids: user_factors row u is user_id u, item rows are item_idx,
 *    so serving needs no id maps. Readers below warm_min train interactions
 *    get zero rows (they are served by fold-in); als_users.npy lists those in
 *    the model.
 * 2. Popularity comes from the train fold only (br_features), like every
 *    model here.
 * 3. Each subject model lives in its own subdirectory with one .npy per
 *    tensor (names from br_semb_tensor_at), its pooled, unit-normalized book
 *    vectors, and params.json, so that a later reader needs nothing else.
 * 4. The manifest lists every file with its size and xxh64 checksum.
 */
#include "bookrec/train.h"

#include "bookrec/error.h"
#include "bookrec/features.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"
#include "bookrec/popularity.h"
#include "bookrec/train_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

void br_train_opts_default(br_train_opts *o)
{
    memset(o, 0, sizeof *o);
    br_als_params_default(&o->als);
    br_semb_params_default(&o->semb);
    o->pools = 1u << BR_SEMB_POOL_PERDIM | 1u << BR_SEMB_POOL_SCALAR | 1u << BR_SEMB_POOL_MEAN;
    o->warm_min = 5;
    o->min_item = 1;
    o->bayes_m = 30;
    o->generic_positives = 1;
}

struct out {
    const char *dir;
    json_t *files;
    char *err;
    size_t errcap;
};

static int file_xxh64(const char *path, uint64_t *h, size_t *size)
{
    FILE *f = fopen(path, "rb");
    char buf[1 << 16];
    size_t n;
    if (!f)
        return BR_EIO;
    XXH64_state_t *st = XXH64_createState();
    if (!st) {
        fclose(f);
        return BR_ENOMEM;
    }
    XXH64_reset(st, 0);
    *size = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        XXH64_update(st, buf, n);
        *size += n;
    }
    int rc = ferror(f) ? BR_EIO : 0;
    *h = XXH64_digest(st);
    XXH64_freeState(st);
    fclose(f);
    return rc;
}

/* Writes DIR/name and records it in the manifest. */
static int save(struct out *o, const char *name, enum br_npy_dtype t, const void *data,
                size_t rows, size_t cols)
{
    char path[4096], hex[17];
    uint64_t h;
    size_t size;
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    int rc = br_npy_write(path, t, data, rows, cols);
    if (!rc)
        rc = file_xxh64(path, &h, &size);
    if (rc) {
        snprintf(o->err, o->errcap, "writing %s: %s", path, br_strerror(rc));
        return rc;
    }
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    static const char *const dt[] = {"", "<f4", "<i4", "<i8"};
    json_t *shape = cols ? json_pack("[I, I]", (json_int_t)rows, (json_int_t)cols)
                         : json_pack("[I]", (json_int_t)rows);
    json_array_append_new(o->files, json_pack("{s:s, s:s, s:o, s:I, s:s}", "name", name, "dtype",
                                              dt[t], "shape", shape, "bytes", (json_int_t)size,
                                              "xxh64", hex));
    return 0;
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return BR_EIO;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? BR_EIO : 0;
}

static void als_progress(const br_als_progress *pr, void *ctx)
{
    (void)ctx;
    br_info("train: ALS iteration %d/%d, %.2fs", pr->iteration, pr->iterations, pr->seconds);
}

static int semb_progress(void *ctx, const br_semb_epoch *e)
{
    br_info("train: subject model %s epoch %zu/%zu, loss %.4f (mse %.4f, con %.4f), %.1fs",
            (const char *)ctx, e->epoch, e->epochs, e->loss, e->mse, e->con, e->seconds);
    return 0;
}

static int train_als(const br_train_data *d, const br_train_opts *opt, struct out *o,
                     json_t *stats)
{
    size_t nt = 0;
    uint32_t *per_user = calloc(d->n_users, sizeof *per_user);
    uint32_t *per_item = calloc(d->n_items, sizeof *per_item);
    if (!per_user || !per_item) {
        free(per_user);
        free(per_item);
        return BR_ENOMEM;
    }
    for (size_t i = 0; i < d->n; i++)
        if (d->fold[i] == BR_FOLD_TRAIN) {
            per_user[d->x[i].user]++;
            per_item[d->x[i].item]++;
        }
    int32_t *rows = malloc((d->n + 1) * sizeof *rows), *cols = malloc((d->n + 1) * sizeof *cols);
    float *vals = malloc((d->n + 1) * sizeof *vals);
    int32_t *in_model = malloc((d->n_users + 1) * sizeof *in_model);
    size_t n_in = 0;
    int rc = BR_ENOMEM;
    br_csr ui = {0};
    br_als_model m = {0};
    if (!rows || !cols || !vals || !in_model)
        goto out;
    for (size_t u = 0; u < d->n_users; u++)
        if (per_user[u] >= opt->warm_min && per_user[u] > 0)
            in_model[n_in++] = (int32_t)u;
    for (size_t i = 0; i < d->n; i++) {
        const br_interaction *x = &d->x[i];
        if (d->fold[i] != BR_FOLD_TRAIN || per_user[x->user] < opt->warm_min ||
            per_item[x->item] < opt->min_item)
            continue;
        rows[nt] = (int32_t)x->user, cols[nt] = (int32_t)x->item, vals[nt++] = x->rating;
    }
    if ((rc = br_csr_from_triples(d->n_users, d->n_items, rows, cols, vals, nt, &ui)))
        goto out;
    br_als_params p = opt->als;
    p.progress = als_progress;
    double t0 = br_now();
    br_info("train: ALS on %zu readers, %zu interactions, %zu factors", n_in, nt, p.factors);
    if ((rc = br_als_train(&ui, &p, &m))) {
        snprintf(o->err, o->errcap, "ALS training failed: %s", br_strerror(rc));
        goto out;
    }
    double secs = br_now() - t0;
    if ((rc = save(o, "user_factors.npy", BR_NPY_F32, m.user_factors, m.n_users, m.factors)) ||
        (rc = save(o, "item_factors.npy", BR_NPY_F32, m.item_factors, m.n_items, m.factors)) ||
        (rc = save(o, "als_users.npy", BR_NPY_I32, in_model, n_in, 0)))
        goto out;
    json_object_set_new(stats, "als",
                        json_pack("{s:I, s:I, s:f, s:f}", "users", (json_int_t)n_in,
                                  "interactions", (json_int_t)nt, "seconds", secs,
                                  "seconds_per_iteration",
                                  p.iterations ? secs / p.iterations : 0.0));
out:
    br_als_model_free(&m);
    br_csr_free(&ui);
    free(per_user);
    free(per_item);
    free(rows);
    free(cols);
    free(vals);
    free(in_model);
    return rc;
}

static int train_popularity(const br_train_data *d, const br_train_opts *opt, struct out *o)
{
    br_features *f = NULL;
    br_popularity *pop = NULL;
    br_popularity_params pp;
    float *bayes = NULL;
    int32_t *count = NULL;
    int rc;
    br_popularity_params_default(&pp);
    pp.m = opt->bayes_m;
    if ((rc = br_features_new(d->x, d->fold, d->n, d->n_users, d->n_items, &f)) ||
        (rc = br_popularity_new(f, &pp, &pop)))
        goto out;
    size_t n = br_popularity_n_items(pop);
    bayes = malloc((n + 1) * sizeof *bayes);
    count = malloc((n + 1) * sizeof *count);
    if (!bayes || !count) {
        rc = BR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bayes[i] = (float)br_popularity_bayes(pop)[i];
        count[i] = (int32_t)br_popularity_count(pop)[i];
    }
    if ((rc = save(o, "popularity_bayes.npy", BR_NPY_F32, bayes, n, 0)))
        goto out;
    rc = save(o, "popularity_count.npy", BR_NPY_I32, count, n, 0);
out:
    free(bayes);
    free(count);
    br_popularity_free(pop);
    br_features_free(f);
    return rc;
}

static void sets_of(const br_csr *m, size_t *off, br_semb_sets *s)
{
    for (size_t r = 0; r <= m->n_rows; r++)
        off[r] = (size_t)m->indptr[r];
    s->n = m->n_rows;
    s->offsets = off;
    s->subject = m->indices;
}

/* InfoNCE positives when generic subjects do not count: books sharing a
 * non-generic subject ("fiction" is on most books). */
static uint8_t *load_positive_subjects(br_store *st, size_t n_subjects)
{
    uint8_t *pos = malloc(n_subjects + 1);
    br_stmt *q;
    if (!pos)
        return NULL;
    memset(pos, 1, n_subjects);
    if (br_store_prepare(st, "SELECT subject_id FROM subjects WHERE generic = 1", &q) == 0) {
        while (br_stmt_step(q) == 1) {
            int64_t id = br_stmt_int(q, 0);
            if (id >= 0 && (size_t)id < n_subjects)
                pos[id] = 0;
        }
        br_stmt_free(q);
    }
    return pos;
}

static int train_subjects(const br_train_data *d, const br_train_opts *opt, struct out *o,
                          const uint8_t *positive, json_t *stats)
{
    size_t *ioff = malloc((d->item_subjects.n_rows + 1) * sizeof *ioff);
    size_t *uoff = malloc((d->user_favs.n_rows + 1) * sizeof *uoff);
    int32_t *tu = malloc((d->n + 1) * sizeof *tu), *ti = malloc((d->n + 1) * sizeof *ti);
    float *tr = malloc((d->n + 1) * sizeof *tr), *vecs = NULL;
    int rc = BR_ENOMEM;
    br_semb_data sd = {0};
    if (!ioff || !uoff || !tu || !ti || !tr)
        goto out;
    sets_of(&d->item_subjects, ioff, &sd.items);
    sets_of(&d->user_favs, uoff, &sd.users);
    /* Explicit train ratings: the regression target. */
    for (size_t i = 0; i < d->n; i++)
        if (d->fold[i] == BR_FOLD_TRAIN && d->x[i].rating > 0) {
            tu[sd.n_triples] = (int32_t)d->x[i].user;
            ti[sd.n_triples] = (int32_t)d->x[i].item;
            tr[sd.n_triples++] = d->x[i].rating;
        }
    sd.user = tu, sd.item = ti, sd.rating = tr;
    sd.positive_subjects = positive;
    json_t *js = json_object();
    json_object_set_new(stats, "subject", js);
    for (int k = 0; k < 3; k++) {
        if (!(opt->pools & 1u << k))
            continue;
        br_semb_params p = opt->semb;
        br_semb *m = NULL;
        char sub[4096], name[4200];
        const char *pool = br_semb_pool_name((br_semb_pool_kind)k);
        p.pool = (br_semb_pool_kind)k;
        snprintf(sub, sizeof sub, "subject_%s", pool);
        snprintf(name, sizeof name, "%s/%s", o->dir, sub);
        if ((rc = mkdir_p(name)))
            goto out;
        double t0 = br_now();
        if ((rc = br_semb_new(&p, d->n_subjects, d->n_users, d->n_items, &m)) ||
            (rc = br_semb_train(m, &sd, semb_progress, (void *)pool))) {
            br_semb_free(m);
            snprintf(o->err, o->errcap, "subject model %s: %s", pool, br_strerror(rc));
            goto out;
        }
        double secs = br_now() - t0;
        for (size_t t = 0; t < br_semb_n_tensors(m) && !rc; t++) {
            br_semb_tensor ten;
            br_semb_tensor_at(m, t, &ten);
            snprintf(name, sizeof name, "%s/%s.npy", sub, ten.name);
            rc = save(o, name, BR_NPY_F32, ten.data, ten.rows, ten.cols);
        }
        /* Pooled book vectors, unit length (zero rows: no subjects). */
        vecs = rc ? NULL : malloc((d->n_items * p.dim + 1) * sizeof *vecs);
        if (!rc && !vecs)
            rc = BR_ENOMEM;
        if (!rc)
            rc = br_semb_pool_rows(m, &sd.items, d->n_items, vecs, NULL);
        if (!rc) {
            for (size_t i = 0; i < d->n_items; i++) {
                double s = 0;
                for (size_t j = 0; j < p.dim; j++)
                    s += (double)vecs[i * p.dim + j] * vecs[i * p.dim + j];
                for (size_t j = 0; s > 0 && j < p.dim; j++)
                    vecs[i * p.dim + j] = (float)(vecs[i * p.dim + j] / sqrt(s));
            }
            snprintf(name, sizeof name, "%s/book_vectors.npy", sub);
            rc = save(o, name, BR_NPY_F32, vecs, d->n_items, p.dim);
        }
        free(vecs);
        vecs = NULL;
        if (!rc) {
            json_t *pj = json_pack(
                "{s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:I, s:f, s:b}", "pool", pool,
                "dim", (json_int_t)p.dim, "max_set", (json_int_t)p.max_set, "tau", (double)p.tau,
                "lambda_mse", (double)p.lambda_mse, "lambda_con", (double)p.lambda_con, "epochs",
                (json_int_t)p.epochs, "seed", (json_int_t)p.seed, "lr", (double)p.lr,
                "weight_decay", (double)p.weight_decay, "batch", (json_int_t)p.batch, "clip",
                (double)p.clip, "generic_subjects_not_positives", positive != NULL);
            snprintf(name, sizeof name, "%s/%s/params.json", o->dir, sub);
            if (json_dump_file(pj, name, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
                rc = BR_EIO;
            json_object_set_new(js, pool,
                                json_pack("{s:f, s:I, s:o}", "seconds", secs, "steps",
                                          (json_int_t)br_semb_steps(m), "params", pj));
        }
        br_semb_free(m);
        if (rc)
            goto out;
    }
out:
    free(ioff);
    free(uoff);
    free(tu);
    free(ti);
    free(tr);
    return rc;
}

int br_train_run(br_store *st, const br_train_opts *opt, const char *dir, json_t **manifest,
                 char *err, size_t errcap)
{
    br_train_data d;
    struct out o = {dir, json_array(), err, errcap};
    json_t *stats = json_object();
    int rc;
    if (err && errcap)
        err[0] = 0;
    if (!o.files || !stats)
        return BR_ENOMEM;
    if ((rc = mkdir_p(dir))) {
        snprintf(err, errcap, "%s: cannot create the directory", dir);
        json_decref(o.files);
        json_decref(stats);
        return rc;
    }
    if ((rc = br_train_data_load(st, opt->semb.max_set, &d, err, errcap))) {
        json_decref(o.files);
        json_decref(stats);
        return rc;
    }
    br_info("train: split %s, %zu interactions, %zu readers, %zu books, %zu subjects", d.split_id,
            d.n, d.n_users, d.n_items, d.n_subjects);
    uint8_t *positive = NULL;
    if (!opt->generic_positives && !(positive = load_positive_subjects(st, d.n_subjects))) {
        rc = BR_ENOMEM;
        goto out;
    }
    rc = train_popularity(&d, opt, &o);
    if (!rc)
        rc = train_als(&d, opt, &o, stats);
    if (!rc)
        rc = train_subjects(&d, opt, &o, positive, stats);
    free(positive);
    if (rc)
        goto out;
    const br_als_params *a = &opt->als;
    json_t *m = json_pack(
        "{s:s, s:s, s:I, s:s, s:{s:{s:I, s:f, s:I, s:f, s:I, s:s, s:s, s:f, s:I}, s:{s:f}, "
        "s:I}, s:o, s:o, s:{}}",
        "format", "bookrec-model-draft/1", "split_id", d.split_id, "created_at",
        (json_int_t)time(NULL), "code_commit", getenv("BOOKREC_COMMIT") ? getenv("BOOKREC_COMMIT")
                                                                         : "unknown",
        "params", "als", "factors", (json_int_t)a->factors, "regularization",
        (double)a->regularization, "iterations", (json_int_t)a->iterations, "alpha",
        (double)a->alpha, "cg_steps", (json_int_t)a->cg_steps, "solver",
        a->solver == BR_ALS_CG ? "cg" : "cholesky", "weighting",
        a->weighting == BR_ALS_W_CONSTANT ? "constant" : "rating", "weight_base",
        (double)a->weight_base, "seed", (json_int_t)a->seed, "popularity", "bayes_m",
        opt->bayes_m, "warm_min_ratings", (json_int_t)opt->warm_min, "files", o.files, "training",
        stats, "metrics");
    o.files = stats = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (!m || json_dump_file(m, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        json_decref(m);
        snprintf(err, errcap, "writing %s failed", path);
        rc = BR_EIO;
        goto out;
    }
    if (manifest)
        *manifest = m;
    else
        json_decref(m);
out:
    json_decref(o.files);
    json_decref(stats);
    br_train_data_free(&d);
    return rc;
}
