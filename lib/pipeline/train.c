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
 * 5. Training runs in phases (br_trainer_*: popularity, ALS, subject models) that may run in
 *    separate processes (the pipeline's steps, resumable): each phase merges its files and
 *    statistics into DIR/manifest.json, so the manifest always describes what DIR holds.
 *    br_train_run is the three phases in one go.
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
    if (opt->test_scramble) {
        /* Fisher-Yates over item rows with a fixed LCG: deterministic, and the rows stay
         * plausible vectors, so only an evaluation can tell. */
        float tmp[1024];
        uint64_t s = 0x9e3779b97f4a7c15u;
        size_t f = m.factors < 1024 ? m.factors : 1024;
        br_warn("train: TEST ONLY: scrambling the ALS item factors (test_scramble)");
        for (size_t i = m.n_items; i > 1; i--) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            size_t j = (size_t)((s >> 33) % i);
            float *a = m.item_factors + (i - 1) * m.factors, *b = m.item_factors + j * m.factors;
            memcpy(tmp, a, f * sizeof *tmp);
            memcpy(a, b, f * sizeof *tmp);
            memcpy(b, tmp, f * sizeof *tmp);
        }
    }
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

/* Sets the serving tensors of m (subject_emb, attn_w, attn_b) from dir/<name>.npy when dir
 * holds a model of the same pooling kind (dir/params.json) and the shapes agree; the rest
 * stay freshly initialized. *n gets the number of tensors taken (-1: dir not usable). A
 * tensor with a different shape (the vocabulary or dim changed) is not an error: the model
 * then trains from scratch, which is what a full retrain does anyway. */
static int warm_start(br_semb *m, const char *dir, const char *pool, int *n)
{
    static const char *const names[] = {"subject_emb", "attn_w", "attn_b"};
    char path[4096];
    br_semb_tensor have;
    br_npy a;
    *n = -1;
    snprintf(path, sizeof path, "%s/params.json", dir);
    json_t *pj = json_load_file(path, 0, NULL);
    const char *pk = json_string_value(json_object_get(pj, "pool"));
    int same = pk && !strcmp(pk, pool);
    json_decref(pj);
    if (!same) {
        br_warn("train: %s holds no %s subject model: training from scratch", dir, pool);
        return 0;
    }
    *n = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (br_semb_tensor_get(m, names[k], &have) != 0)
            continue; /* the mean pooling has no attention tensors */
        snprintf(path, sizeof path, "%s/%s.npy", dir, names[k]);
        if (br_npy_open(path, &a) != 0)
            continue;
        int rc = a.dtype == BR_NPY_F32 && a.rows == have.rows && a.cols == have.cols
                     ? br_semb_tensor_set(m, names[k], a.data, a.rows, a.cols)
                     : BR_ERANGE;
        br_npy_close(&a);
        if (rc == 0)
            (*n)++;
        else
            br_warn("train: %s does not fit the model (shape or values): not warm-started",
                    path);
    }
    br_info("train: subject model %s warm-started from %s (%d tensors)", pool, dir, *n);
    return 0;
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
        int warm = -1;
        if (!(rc = br_semb_new(&p, d->n_subjects, d->n_users, d->n_items, &m)) &&
            opt->warm_dir)
            rc = warm_start(m, opt->warm_dir, pool, &warm);
        if (rc || (rc = br_semb_train(m, &sd, semb_progress, (void *)pool))) {
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
                                json_pack("{s:f, s:I, s:o, s:i}", "seconds", secs, "steps",
                                          (json_int_t)br_semb_steps(m), "params", pj,
                                          "warm_started_tensors", warm));
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

struct br_trainer {
    br_store *st;
    br_train_opts o;
    char dir[4096];
    br_train_data d;
    json_t *files; /* entries written by this trainer's phases */
    json_t *stats; /* their statistics, by phase */
};

int br_trainer_new(br_store *st, const br_train_opts *opt, const char *dir, br_trainer **out,
                   char *err, size_t errcap)
{
    br_trainer *t;
    int rc;
    if (err && errcap)
        err[0] = 0;
    *out = NULL;
    if (!st || !opt || !dir || strlen(dir) >= sizeof t->dir)
        return BR_EINVAL;
    if (!(t = calloc(1, sizeof *t)))
        return BR_ENOMEM;
    t->st = st;
    t->o = *opt;
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    t->files = json_array();
    t->stats = json_object();
    if (!t->files || !t->stats) {
        rc = BR_ENOMEM;
        goto fail;
    }
    if ((rc = mkdir_p(dir))) {
        snprintf(err, errcap, "%s: cannot create the directory", dir);
        goto fail;
    }
    if ((rc = br_train_data_load(st, opt->semb.max_set, &t->d, err, errcap)))
        goto fail;
    br_info("train: split %s, %zu interactions, %zu readers, %zu books, %zu subjects",
            t->d.split_id, t->d.n, t->d.n_users, t->d.n_items, t->d.n_subjects);
    *out = t;
    return 0;
fail:
    json_decref(t->files);
    json_decref(t->stats);
    free(t);
    return rc;
}

void br_trainer_free(br_trainer *t)
{
    if (!t)
        return;
    br_train_data_free(&t->d);
    json_decref(t->files);
    json_decref(t->stats);
    free(t);
}

const br_train_data *br_trainer_data(const br_trainer *t)
{
    return &t->d;
}

const json_t *br_trainer_files(const br_trainer *t)
{
    return t->files;
}

/* The manifest: parameters, split_id, files and statistics, merged with an earlier phase's
 * manifest of the same split in DIR (entries of files rewritten now replace theirs). */
static int write_manifest(br_trainer *t, json_t **manifest, char *err, size_t errcap)
{
    char path[4200];
    const br_als_params *a = &t->o.als;
    snprintf(path, sizeof path, "%s/manifest.json", t->dir);
    json_t *old = json_load_file(path, 0, NULL);
    const char *old_split = json_string_value(json_object_get(old, "split_id"));
    json_t *files = json_array(), *stats = json_object(), *e;
    size_t i;
    if (old && old_split && !strcmp(old_split, t->d.split_id)) {
        json_array_foreach(json_object_get(old, "files"), i, e)
        {
            const char *name = json_string_value(json_object_get(e, "name"));
            int mine = 0;
            size_t j;
            json_t *f;
            json_array_foreach(t->files, j, f)
                mine |= name && !strcmp(name, json_string_value(json_object_get(f, "name")));
            if (!mine)
                json_array_append(files, e);
        }
        json_object_update(stats, json_object_get(old, "training"));
    }
    json_decref(old);
    json_array_extend(files, t->files);
    json_object_update(stats, t->stats);
    json_t *m = json_pack(
        "{s:s, s:s, s:I, s:s, s:{s:{s:I, s:f, s:I, s:f, s:I, s:s, s:s, s:f, s:I}, s:{s:f}, "
        "s:I}, s:o, s:o, s:{}}",
        "format", "bookrec-model-draft/1", "split_id", t->d.split_id, "created_at",
        (json_int_t)time(NULL), "code_commit", getenv("BOOKREC_COMMIT") ? getenv("BOOKREC_COMMIT")
                                                                         : "unknown",
        "params", "als", "factors", (json_int_t)a->factors, "regularization",
        (double)a->regularization, "iterations", (json_int_t)a->iterations, "alpha",
        (double)a->alpha, "cg_steps", (json_int_t)a->cg_steps, "solver",
        a->solver == BR_ALS_CG ? "cg" : "cholesky", "weighting",
        a->weighting == BR_ALS_W_CONSTANT ? "constant" : "rating", "weight_base",
        (double)a->weight_base, "seed", (json_int_t)a->seed, "popularity", "bayes_m",
        t->o.bayes_m, "warm_min_ratings", (json_int_t)t->o.warm_min, "files", files, "training",
        stats, "metrics");
    /* Written aside and renamed: a crash leaves the previous phase's manifest. */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!m || json_dump_file(m, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
        rename(tmp, path) != 0) {
        json_decref(m);
        snprintf(err, errcap, "writing %s failed", path);
        return m ? BR_EIO : BR_ENOMEM;
    }
    if (manifest)
        *manifest = m;
    else
        json_decref(m);
    return 0;
}

static int phase(br_trainer *t, int which, char *err, size_t errcap)
{
    struct out o = {t->dir, t->files, err, errcap};
    int rc;
    if (err && errcap)
        err[0] = 0;
    if (which == 0) {
        rc = train_popularity(&t->d, &t->o, &o);
    } else if (which == 1) {
        rc = train_als(&t->d, &t->o, &o, t->stats);
    } else {
        uint8_t *positive = NULL;
        if (!t->o.generic_positives &&
            !(positive = load_positive_subjects(t->st, t->d.n_subjects)))
            return BR_ENOMEM;
        rc = train_subjects(&t->d, &t->o, &o, positive, t->stats);
        free(positive);
    }
    if (rc && err && errcap && !err[0])
        snprintf(err, errcap, "training failed: %s", br_strerror(rc));
    return rc ? rc : write_manifest(t, NULL, err, errcap);
}

int br_trainer_popularity(br_trainer *t, char *err, size_t errcap)
{
    return phase(t, 0, err, errcap);
}

int br_trainer_als(br_trainer *t, char *err, size_t errcap)
{
    return phase(t, 1, err, errcap);
}

int br_trainer_subjects(br_trainer *t, char *err, size_t errcap)
{
    return phase(t, 2, err, errcap);
}

int br_train_run(br_store *st, const br_train_opts *opt, const char *dir, json_t **manifest,
                 char *err, size_t errcap)
{
    br_trainer *t = NULL;
    char path[4096];
    int rc;
    if ((rc = br_trainer_new(st, opt, dir, &t, err, errcap)))
        return rc;
    /* A fresh training: nothing of an earlier one in DIR is merged. */
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (remove(path) != 0 && errno != ENOENT) {
        snprintf(err, errcap, "%s: cannot replace it", path);
        rc = BR_EIO;
    }
    if (!rc && !(rc = br_trainer_popularity(t, err, errcap)) &&
        !(rc = br_trainer_als(t, err, errcap)) && !(rc = br_trainer_subjects(t, err, errcap)))
        rc = write_manifest(t, manifest, err, errcap);
    br_trainer_free(t);
    return rc;
}
