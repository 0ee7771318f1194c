/* Building and publishing a model version (see publish.h for the layout).
 *
 * Design decisions:
 * 1. Files of the trained model are hard-linked into the version when they are on the same
 *    filesystem (br_npy_write replaces files by rename, so a later training never changes a
 *    linked inode), else copied.
 * 2. Everything a service derives is computed here, once, and stored: unit vectors, flags,
 *    the prior, the popular list, the indexes. A service maps files and builds nothing, so
 *    a reload costs a few mmap calls and a validation pass.
 * 3. The build happens in a staging directory; any failure removes it. Only br_version_commit
 *    makes the version visible, and only after that may CURRENT name it.
 */
#include "bookrec/publish.h"

#include "bookrec/bookmeta.h"
#include "bookrec/error.h"
#include "bookrec/fsutil.h"
#include "bookrec/hnsw.h"
#include "bookrec/hybrid.h"
#include "bookrec/lexical.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"
#include "bookrec/subject_emb.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void br_publish_opts_default(br_publish_opts *o)
{
    memset(o, 0, sizeof *o);
    o->pool = "perdim";
    o->prior = "count";
    o->cold_a = 0.8;
}

struct pub {
    const br_publish_opts *o;
    br_store *st;
    char dir[2048];          /* the staging directory */
    json_t *man;
    char *err;
    size_t errcap;
    size_t n_items, n_users, factors, dim, n_subjects;
    br_npy item_f, user_f, als_users, pop_count, pop_bayes, book_vecs;
    uint8_t *allow, *has_subject;
    double *prior;
};

static int fail(struct pub *p, int rc, const char *fmt, const char *what)
{
    if (p->err && p->errcap && !p->err[0]) {
        snprintf(p->err, p->errcap, fmt, what);
        size_t n = strlen(p->err);
        snprintf(p->err + n, p->errcap - n, ": %s", br_strerror(rc));
    }
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? BR_ENOENT : BR_EIO;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return BR_EIO;
    }
    while ((n = read(in, buf, sizeof buf)) > 0)
        if ((rc = br_write_all(out, buf, (size_t)n)))
            break;
    if (n < 0)
        rc = BR_EIO;
    close(in);
    if (close(out) != 0)
        rc = BR_EIO;
    return rc;
}

/* model_dir/from -> staging/to (hard link, else copy), recorded for role. */
static int take(struct pub *p, const char *from, const char *to, const char *role)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", p->o->model_dir, from);
    snprintf(dst, sizeof dst, "%s/%s", p->dir, to);
    int rc = 0;
    if (link(src, dst) != 0)
        rc = copy_file(src, dst);
    if (!rc)
        rc = br_version_add_file(p->man, p->dir, to, role);
    return rc ? fail(p, rc, "taking %s", from) : 0;
}

static int save_npy(struct pub *p, const char *rel, const char *role, enum br_npy_dtype t,
                    const void *data, size_t rows, size_t cols)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, rel);
    int rc = br_npy_write(path, t, data, rows, cols);
    if (!rc)
        rc = br_version_add_file(p->man, p->dir, rel, role);
    return rc ? fail(p, rc, "writing %s", rel) : 0;
}

static int open_model_npy(struct pub *p, const char *rel, enum br_npy_dtype t, br_npy *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->o->model_dir, rel);
    int rc = br_npy_open(path, out);
    if (!rc && out->dtype != t) {
        br_npy_close(out);
        rc = BR_EFORMAT;
    }
    return rc ? fail(p, rc, "reading the trained model's %s", rel) : 0;
}

static int row_nonzero(const float *v, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (v[j] != 0)
            return 1;
    return 0;
}

/* Builds an index over the non-zero rows of m (labels = row ids). */
static int build_index(struct pub *p, const float *m, size_t n, size_t d,
                       enum br_hnsw_metric metric, const char *rel, const char *role)
{
    size_t cnt = 0;
    int32_t *labels = malloc((n ? n : 1) * sizeof *labels);
    float *rows = malloc((n ? n : 1) * d * sizeof *rows);
    br_hnsw *h = NULL;
    int rc = BR_ENOMEM;
    if (!labels || !rows)
        goto out;
    /* Only books that may be shown: a search that must skip most of its graph (85k books
     * with ALS vectors, 25k of them shown, on the real data) loses a third of its recall. */
    for (size_t i = 0; i < n; i++)
        if (p->allow[i] && row_nonzero(m + i * d, d)) {
            memcpy(rows + cnt * d, m + i * d, d * sizeof *rows);
            labels[cnt++] = (int32_t)i;
        }
    br_hnsw_params hp;
    br_hnsw_params_default(&hp);
    hp.metric = metric;
    hp.threads = p->o->threads;
    if (p->o->seed)
        hp.seed = p->o->seed;
    if (cnt == 0) {
        rc = BR_EINVAL;
        fail(p, rc, "no vectors for %s", rel);
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, rel);
    if ((rc = br_hnsw_build(rows, cnt, d, labels, &hp, &h)) || (rc = br_hnsw_save(h, path)) ||
        (rc = br_version_add_file(p->man, p->dir, rel, role)))
        fail(p, rc, "building %s", rel);
    else
        br_info("publish: %s: %zu vectors of %zu dims", rel, cnt, d);
out:
    br_hnsw_free(h);
    free(labels);
    free(rows);
    return rc;
}

static int mkdirs(struct pub *p)
{
    static const char *const roles[] = {"embedder", "similarity", "als", "metadata", "semantic"};
    char path[4096];
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", p->dir, roles[i]);
        if (mkdir(path, 0755) != 0)
            return fail(p, BR_EIO, "creating %s", path);
    }
    return 0;
}

/* Books that may be shown to readers: works with a title (docs/data.md). */
static int load_allow(struct pub *p)
{
    br_stmt *q;
    int rc, r;
    if (!(p->allow = calloc(p->n_items ? p->n_items : 1, 1)))
        return BR_ENOMEM;
    if ((rc = br_store_prepare(p->st, "SELECT item_idx FROM works WHERE has_title = 1", &q)))
        return fail(p, rc, "%s", "reading works");
    while ((r = br_stmt_step(q)) == 1) {
        int64_t i = br_stmt_int(q, 0);
        if (i >= 0 && (size_t)i < p->n_items)
            p->allow[i] = 1;
    }
    br_stmt_free(q);
    return r < 0 ? fail(p, r, "%s", "reading works") : 0;
}

static int write_subjects(struct pub *p)
{
    char path[4096];
    br_stmt *q;
    int rc, r;
    int64_t next = 0;
    snprintf(path, sizeof path, "%s/embedder/subjects.txt", p->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return fail(p, BR_EIO, "creating %s", path);
    if ((rc = br_store_prepare(p->st, "SELECT subject_id, name FROM subjects ORDER BY subject_id",
                               &q))) {
        fclose(f);
        return fail(p, rc, "%s", "reading subjects");
    }
    /* Line i names subject i; a gap in the ids is an empty line. */
    while ((r = br_stmt_step(q)) == 1) {
        int64_t id = br_stmt_int(q, 0);
        const char *name = br_stmt_text(q, 1);
        if (id < next || id >= (int64_t)p->n_subjects || strchr(name, '\n'))
            continue;
        for (; next < id; next++)
            fputc('\n', f);
        fprintf(f, "%s\n", name);
        next++;
    }
    br_stmt_free(q);
    for (; next < (int64_t)p->n_subjects; next++)
        fputc('\n', f);
    if (fclose(f) != 0 || r < 0)
        return fail(p, r < 0 ? r : BR_EIO, "writing %s", path);
    return br_version_add_file(p->man, p->dir, "embedder/subjects.txt", "embedder");
}

static int embedder(struct pub *p)
{
    char from[256], to[256];
    static const char *const names[] = {"subject_emb.npy", "attn_w.npy", "attn_b.npy",
                                        "params.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(from, sizeof from, "subject_%s/%s", p->o->pool, names[i]);
        snprintf(to, sizeof to, "embedder/%s", names[i]);
        int rc = take(p, from, to, "embedder");
        if (rc == BR_ENOENT && !strcmp(p->o->pool, "mean") && i > 0 && i < 3) {
            p->err[0] = 0; /* the mean pooling has no attention tensors */
            continue;
        }
        if (rc)
            return rc;
    }
    return write_subjects(p);
}

static int similarity(struct pub *p)
{
    char rel[256];
    int rc;
    snprintf(rel, sizeof rel, "subject_%s/book_vectors.npy", p->o->pool);
    if ((rc = take(p, rel, "similarity/book_vectors.npy", "similarity")))
        return rc;
    const float *bv = p->book_vecs.data, *itf = p->item_f.data;
    for (size_t i = 0; i < p->n_items; i++)
        p->has_subject[i] = (uint8_t)row_nonzero(bv + i * p->dim, p->dim);
    if ((rc = save_npy(p, "similarity/has_subject.npy", "similarity", BR_NPY_U8, p->has_subject,
                       p->n_items, 0)) ||
        (rc = save_npy(p, "similarity/prior.npy", "similarity", BR_NPY_F64, p->prior, p->n_items,
                       0)) ||
        (rc = save_npy(p, "similarity/allow.npy", "similarity", BR_NPY_U8, p->allow, p->n_items,
                       0)) ||
        (rc = build_index(p, bv, p->n_items, p->dim, BR_HNSW_COSINE, "similarity/subject.hnsw",
                          "similarity")) ||
        (rc = build_index(p, itf, p->n_items, p->factors, BR_HNSW_COSINE, "similarity/als.hnsw",
                          "similarity")))
        return rc;
    br_hybrid_params hp;
    br_hybrid_params_default(&hp);
    hp.hnsw.threads = p->o->threads;
    if (p->o->seed)
        hp.hnsw.seed = p->o->seed;
    br_hybrid *hy = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/similarity/hybrid.hnsw", p->dir);
    /* The shown books only, as for the other indexes. */
    size_t cnt = 0;
    int32_t *labels = malloc((p->n_items ? p->n_items : 1) * sizeof *labels);
    float *sv = malloc((p->n_items ? p->n_items : 1) * p->dim * sizeof *sv);
    float *av = malloc((p->n_items ? p->n_items : 1) * p->factors * sizeof *av);
    rc = labels && sv && av ? 0 : BR_ENOMEM;
    for (size_t i = 0; !rc && i < p->n_items; i++)
        if (p->allow[i] && (p->has_subject[i] || row_nonzero(itf + i * p->factors, p->factors))) {
            memcpy(sv + cnt * p->dim, bv + i * p->dim, p->dim * sizeof *sv);
            memcpy(av + cnt * p->factors, itf + i * p->factors, p->factors * sizeof *av);
            labels[cnt++] = (int32_t)i;
        }
    if (!rc && (rc = cnt ? 0 : BR_EINVAL))
        fail(p, rc, "%s", "no vectors for similarity/hybrid.hnsw");
    if (!rc && ((rc = br_hybrid_build(sv, p->dim, av, p->factors, cnt, labels, &hp, &hy)) ||
                (rc = br_hybrid_save(hy, path)) ||
                (rc = br_version_add_file(p->man, p->dir, "similarity/hybrid.hnsw",
                                          "similarity"))))
        fail(p, rc, "%s", "building similarity/hybrid.hnsw");
    br_hybrid_free(hy);
    free(labels);
    free(sv);
    free(av);
    return rc;
}

static int als(struct pub *p)
{
    int rc;
    if ((rc = take(p, "user_factors.npy", "als/user_factors.npy", "als")) ||
        (rc = take(p, "item_factors.npy", "als/item_factors.npy", "als")) ||
        (rc = take(p, "als_users.npy", "als/als_users.npy", "als")) ||
        (rc = save_npy(p, "als/allow.npy", "als", BR_NPY_U8, p->allow, p->n_items, 0)))
        return rc;
    const int32_t *u = p->als_users.data;
    for (size_t i = 1; i < p->als_users.rows; i++)
        if (u[i] <= u[i - 1])
            return fail(p, BR_ECORRUPT, "%s", "als_users.npy is not sorted");
    return build_index(p, p->item_f.data, p->n_items, p->factors, BR_HNSW_IP_AUGMENTED,
                       "als/items_mips.hnsw", "als");
}

static int cmp_pop(const void *a, const void *b, void *ctx)
{
    const double *prior = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (prior[x] != prior[y])
        return prior[x] > prior[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static int metadata(struct pub *p)
{
    char path[4096];
    size_t n = 0, m = 0;
    int rc;
    snprintf(path, sizeof path, "%s/metadata", p->dir);
    if ((rc = br_bookmeta_export(p->st, path, &n, p->err, p->errcap)))
        return rc;
    if ((rc = br_version_add_file(p->man, p->dir, "metadata/books.jsonl", "metadata")) ||
        (rc = br_version_add_file(p->man, p->dir, "metadata/books_offsets.npy", "metadata")))
        return fail(p, rc, "%s", "recording metadata files");
    /* The popular list: shown books with train interactions, by the prior. */
    const int32_t *cnt = p->pop_count.data;
    int32_t *ids = malloc((p->n_items ? p->n_items : 1) * sizeof *ids);
    float *scores = malloc((p->n_items ? p->n_items : 1) * sizeof *scores);
    if (!ids || !scores) {
        free(ids);
        free(scores);
        return BR_ENOMEM;
    }
    for (size_t i = 0; i < p->n_items; i++)
        if (p->allow[i] && i < p->pop_count.rows && cnt[i] > 0)
            ids[m++] = (int32_t)i;
    qsort_r(ids, m, sizeof *ids, cmp_pop, p->prior);
    for (size_t i = 0; i < m; i++)
        scores[i] = (float)p->prior[ids[i]];
    rc = save_npy(p, "metadata/popular.npy", "metadata", BR_NPY_I32, ids, m, 0);
    if (!rc)
        rc = save_npy(p, "metadata/popular_scores.npy", "metadata", BR_NPY_F32, scores, m, 0);
    free(ids);
    free(scores);
    return rc;
}

static int semantic(struct pub *p)
{
    br_lexical *lx = NULL;
    char path[4096];
    int rc = br_lexical_build_from_store(p->st, NULL, &lx, p->err, p->errcap);
    snprintf(path, sizeof path, "%s/semantic/lexical.idx", p->dir);
    if (!rc && (rc = br_lexical_save(lx, path)))
        fail(p, rc, "%s", "writing semantic/lexical.idx");
    if (!rc)
        rc = br_version_add_file(p->man, p->dir, "semantic/lexical.idx", "semantic");
    br_lexical_free(lx);
    return rc;
}

/* The trained model's arrays and the derived prior, checked against each other. */
static int load_model(struct pub *p)
{
    char rel[256];
    int rc;
    snprintf(rel, sizeof rel, "subject_%s/book_vectors.npy", p->o->pool);
    if ((rc = open_model_npy(p, "item_factors.npy", BR_NPY_F32, &p->item_f)) ||
        (rc = open_model_npy(p, "user_factors.npy", BR_NPY_F32, &p->user_f)) ||
        (rc = open_model_npy(p, "als_users.npy", BR_NPY_I32, &p->als_users)) ||
        (rc = open_model_npy(p, "popularity_count.npy", BR_NPY_I32, &p->pop_count)) ||
        (rc = open_model_npy(p, "popularity_bayes.npy", BR_NPY_F32, &p->pop_bayes)) ||
        (rc = open_model_npy(p, rel, BR_NPY_F32, &p->book_vecs)))
        return rc;
    p->n_items = p->item_f.rows;
    p->factors = p->item_f.cols;
    p->n_users = p->user_f.rows;
    p->dim = p->book_vecs.cols;
    if (p->book_vecs.rows != p->n_items || p->user_f.cols != p->factors || !p->factors ||
        !p->dim || p->pop_count.rows > p->n_items || p->pop_bayes.rows > p->n_items)
        return fail(p, BR_ECORRUPT, "%s", "the trained model's arrays disagree in size");
    p->prior = calloc(p->n_items ? p->n_items : 1, sizeof *p->prior);
    p->has_subject = calloc(p->n_items ? p->n_items : 1, 1);
    if (!p->prior || !p->has_subject)
        return BR_ENOMEM;
    int count = strcmp(p->o->prior, "bayes") != 0;
    const int32_t *c = p->pop_count.data;
    const float *b = p->pop_bayes.data;
    for (size_t i = 0; i < p->n_items; i++) {
        /* As the evaluation defines them (lib/pipeline/evaluate.c): log1p(count), or the
         * Bayesian average. */
        if (count)
            p->prior[i] = i < p->pop_count.rows ? log1p((double)c[i]) : 0;
        else
            p->prior[i] = i < p->pop_bayes.rows ? b[i] : 0;
    }
    int64_t v;
    if ((rc = br_store_query_int(p->st, "SELECT COALESCE(MAX(subject_id), -1) FROM subjects", 0,
                                 &v)))
        return fail(p, rc, "%s", "reading subjects");
    p->n_subjects = (size_t)(v + 1);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static json_t *read_json(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return json_load_file(path, 0, NULL);
}

int br_publish(br_store *st, const br_publish_opts *o, char *id_out, char *err, size_t errcap)
{
    struct pub p = {.o = o, .st = st, .err = err, .errcap = errcap};
    char id[BR_VERSION_ID_MAX], vdir[4096];
    json_t *train = NULL;
    int rc, staged = 0;
    if (err && errcap)
        err[0] = 0;
    if (!st || !o || !o->artifacts || !o->model_dir || !o->pool || !o->prior ||
        !(o->cold_a >= 0 && o->cold_a <= 1))
        return fail(&p, BR_EINVAL, "%s", "publish: invalid options");
    br_semb_pool_kind pk;
    if (br_semb_pool_parse(o->pool, &pk) != 0 ||
        (strcmp(o->prior, "count") && strcmp(o->prior, "bayes")))
        return fail(&p, BR_EINVAL, "publish: unknown pool or prior (%s)", o->pool);
    if (o->id && !br_version_id_valid(o->id))
        return fail(&p, BR_EINVAL, "publish: %s is not a version id", o->id);
    snprintf(id, sizeof id, "%s", o->id ? o->id : "");
    if (!o->id)
        br_version_new_id(id);
    if (!(train = read_json(o->model_dir, "manifest.json")))
        return fail(&p, BR_ENOENT, "%s/manifest.json: not a trained model", o->model_dir);
    mkdir(o->artifacts, 0755);
    snprintf(vdir, sizeof vdir, "%s/versions", o->artifacts);
    mkdir(vdir, 0755);
    if ((rc = br_version_stage(o->artifacts, id, p.dir, sizeof p.dir))) {
        fail(&p, rc, "staging version %s", id);
        goto out;
    }
    staged = 1;
    if (!(p.man = json_object())) {
        rc = BR_ENOMEM;
        goto out;
    }
    if ((rc = load_model(&p)) || (rc = load_allow(&p)) || (rc = mkdirs(&p)))
        goto out;
    br_info("publish: version %s: %zu books, %zu readers, ALS %zu factors, subjects %zu dims",
            id, p.n_items, p.n_users, p.factors, p.dim);
    if ((rc = embedder(&p)) || (rc = similarity(&p)) || (rc = als(&p)) || (rc = metadata(&p)) ||
        (rc = semantic(&p)))
        goto out;
    json_t *params = json_deep_copy(json_object_get(train, "params"));
    if (!params)
        params = json_object();
    json_object_set_new(params, "serving",
                        json_pack("{s:s, s:s, s:f}", "pool", o->pool, "prior", o->prior,
                                  "cold_a", o->cold_a));
    const char *commit = getenv("BOOKREC_COMMIT");
    json_object_set_new(p.man, "format", json_string("bookrec-version/1"));
    json_object_set_new(p.man, "created_at", json_integer((json_int_t)time(NULL)));
    json_object_set_new(p.man, "code_commit", json_string(commit ? commit : "unknown"));
    json_object_set(p.man, "split_id", json_object_get(train, "split_id"));
    json_object_set_new(p.man, "params", params);
    json_object_set_new(p.man, "metrics", o->metrics ? json_deep_copy(o->metrics) : json_object());
    json_object_set(p.man, "training", json_object_get(train, "training"));
    json_object_set_new(p.man, "dims",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "n_items", (json_int_t)p.n_items,
                                  "n_users", (json_int_t)p.n_users, "factors",
                                  (json_int_t)p.factors, "subject_dim", (json_int_t)p.dim,
                                  "n_subjects", (json_int_t)p.n_subjects));
    if ((rc = br_version_commit(o->artifacts, id, p.dir, p.man))) {
        fail(&p, rc, "committing version %s", id);
        goto out;
    }
    staged = 0;
    if (o->activate && (rc = br_version_activate(o->artifacts, id, err, errcap)))
        goto out;
    if (id_out)
        snprintf(id_out, BR_VERSION_ID_MAX, "%s", id);
out:
    if (staged)
        nftw(p.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    json_decref(p.man);
    json_decref(train);
    br_npy_close(&p.item_f);
    br_npy_close(&p.user_f);
    br_npy_close(&p.als_users);
    br_npy_close(&p.pop_count);
    br_npy_close(&p.pop_bayes);
    br_npy_close(&p.book_vecs);
    free(p.allow);
    free(p.has_subject);
    free(p.prior);
    return rc;
}
