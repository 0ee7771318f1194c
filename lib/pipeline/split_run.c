/* The split step on a store (see split_run.h).
 *
 * Design decisions:
 * 1. A split is frozen: once made it stays active, and running the step again
 *    reuses its folds (only new interactions get folds, by br_split_assign_new).
 *    --resplit makes a new one with a new split_id.
 * 2. Features are recomputed from the train fold every run and stored under
 *    the split_id: aggregates, favorite subjects (origin 'derived', never
 *    overwriting subjects a reader chose) and the Bayesian popularity.
 * 3. Everything is written in one transaction.
 */
#include "bookrec/split_run.h"

#include "bookrec/error.h"
#include "bookrec/hashmap.h"
#include "bookrec/log.h"
#include "bookrec/vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void br_split_run_opts_default(br_split_run_opts *o)
{
    memset(o, 0, sizeof *o);
    br_split_params_default(&o->split);
    br_favsub_params_default(&o->favsub);
    br_popularity_params_default(&o->pop);
}

static int fail_msg(char *err, size_t cap, int rc, const char *what, br_store *st)
{
    if (err && cap)
        snprintf(err, cap, "%s: %s", what, st ? br_store_errmsg(st) : br_strerror(rc));
    return rc;
}

/* Loads interactions, ordered by (user, item) so that ids and files are stable. */
static int load_interactions(br_store *st, br_vec *x, int64_t *max_user, int64_t *max_item)
{
    br_stmt *q;
    int rc = br_store_prepare(st,
                              "SELECT user_id, item_idx, rating, ts FROM interactions "
                              "ORDER BY user_id, item_idx",
                              &q);
    if (rc)
        return rc;
    br_vec_init(x, sizeof(br_interaction), 0);
    while ((rc = br_stmt_step(q)) == 1) {
        br_interaction it = {br_stmt_int(q, 0), br_stmt_int(q, 1), (float)br_stmt_int(q, 2),
                             br_stmt_is_null(q, 3) ? 0 : br_stmt_int(q, 3)};
        if (!br_vec_push(x, &it)) {
            rc = BR_ENOMEM;
            break;
        }
        if (it.user > *max_user)
            *max_user = it.user;
        if (it.item > *max_item)
            *max_item = it.item;
    }
    br_stmt_free(q);
    return rc < 0 ? rc : 0;
}

/* The active split's id and the params it was made with (p may be NULL):
 * late interactions must be assigned by the split's own params, not by
 * whatever the command line says today. */
static int active_split(br_store *st, char id[BR_SPLIT_ID_SIZE], br_split_params *p)
{
    br_stmt *q;
    int rc = br_store_prepare(st, "SELECT split_id, seed, params FROM splits WHERE active = 1", &q);
    id[0] = 0;
    if (rc)
        return rc;
    if ((rc = br_stmt_step(q)) == 1) {
        snprintf(id, BR_SPLIT_ID_SIZE, "%s", br_stmt_text(q, 0));
        if (p) {
            json_t *j = json_loads(br_stmt_text(q, 2), 0, NULL);
            br_split_params_default(p);
            p->seed = (uint64_t)br_stmt_int(q, 1);
            if (j) {
                p->cold_frac = json_number_value(json_object_get(j, "cold_frac"));
                p->val_frac = json_number_value(json_object_get(j, "val_frac"));
                p->test_frac = json_number_value(json_object_get(j, "test_frac"));
                p->cold_min_interactions =
                    (uint32_t)json_integer_value(json_object_get(j, "cold_min_interactions"));
                p->holdout_min_interactions =
                    (uint32_t)json_integer_value(json_object_get(j, "holdout_min_interactions"));
                json_decref(j);
            }
            if (!j || br_split_params_check(p) != 0)
                rc = BR_ECORRUPT;
        }
    }
    br_stmt_free(q);
    return rc < 0 ? rc : 0;
}

/* Folds of the active split for x; pairs it does not hold yet get
 * br_split_assign_new and are flagged in is_new[]. */
static int load_folds(br_store *st, const char *split_id, const br_interaction *x, size_t n,
                      const br_split_params *p, uint8_t *fold, uint8_t *is_new, size_t *n_new)
{
    br_stmt *q;
    br_intmap *known;
    br_vec fx, ff;
    br_split_frozen *fz = NULL;
    int rc = br_intmap_new(&known);
    if (rc)
        return rc;
    br_vec_init(&fx, sizeof(br_interaction), 0);
    br_vec_init(&ff, 1, 0);
    if ((rc = br_store_prepare(st, "SELECT user_id, item_idx, fold FROM split_folds WHERE split_id = ?",
                               &q)))
        goto out;
    br_stmt_bind_text(q, 1, split_id, -1);
    while ((rc = br_stmt_step(q)) == 1) {
        br_interaction it = {br_stmt_int(q, 0), br_stmt_int(q, 1), 0, 0};
        uint8_t f = (uint8_t)br_stmt_int(q, 2);
        if (!br_vec_push(&fx, &it) || !br_vec_push(&ff, &f) ||
            br_intmap_put(known, (it.user << 32) | it.item, f)) {
            rc = BR_ENOMEM;
            break;
        }
    }
    br_stmt_free(q);
    if (rc < 0 || (rc = br_split_frozen_new(fx.data, ff.data, fx.n, p, &fz)))
        goto out;
    *n_new = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t f;
        is_new[i] = !br_intmap_get(known, (x[i].user << 32) | x[i].item, &f);
        if (!is_new[i])
            fold[i] = (uint8_t)f;
        else if ((rc = br_split_assign_new(fz, x[i].user, x[i].item, &fold[i])))
            goto out;
        *n_new += is_new[i];
    }
    rc = 0;
out:
    br_split_frozen_free(fz);
    br_intmap_free(known);
    br_vec_free(&fx);
    br_vec_free(&ff);
    return rc;
}

static int exec_bind1(br_store *st, const char *sql, const char *a)
{
    br_stmt *q;
    int rc = br_store_prepare(st, sql, &q);
    if (rc)
        return rc;
    br_stmt_bind_text(q, 1, a, -1);
    rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
    br_stmt_free(q);
    return rc;
}

/* Item -> subjects CSR from work_subjects, for favorite subjects. */
static int load_item_subjects(br_store *st, size_t n_items, br_item_subjects *is, size_t **off,
                              int32_t **subj, float **w)
{
    br_stmt *q;
    br_vec rows;
    struct row {
        int64_t item;
        int32_t s;
        float w;
    };
    int rc = br_store_prepare(st,
                              "SELECT item_idx, subject_id, weight FROM work_subjects "
                              "ORDER BY item_idx, weight DESC, subject_id",
                              &q);
    if (rc)
        return rc;
    br_vec_init(&rows, sizeof(struct row), 0);
    while ((rc = br_stmt_step(q)) == 1) {
        struct row r = {br_stmt_int(q, 0), (int32_t)br_stmt_int(q, 1), (float)br_stmt_double(q, 2)};
        if (r.item < 0 || (size_t)r.item >= n_items)
            continue; /* a work with subjects but no interactions */
        if (!br_vec_push(&rows, &r)) {
            rc = BR_ENOMEM;
            break;
        }
    }
    br_stmt_free(q);
    if (rc < 0) {
        br_vec_free(&rows);
        return rc;
    }
    *off = calloc(n_items + 1, sizeof **off);
    *subj = malloc((rows.n + 1) * sizeof **subj);
    *w = malloc((rows.n + 1) * sizeof **w);
    if (!*off || !*subj || !*w) {
        br_vec_free(&rows);
        return BR_ENOMEM;
    }
    for (size_t i = 0; i < rows.n; i++) {
        struct row *r = &br_vec_at(&rows, struct row, i);
        (*off)[r->item + 1]++;
        (*subj)[i] = r->s;
        (*w)[i] = r->w;
    }
    for (size_t i = 0; i < n_items; i++)
        (*off)[i + 1] += (*off)[i];
    is->n_items = n_items;
    is->offsets = *off;
    is->subject = *subj;
    is->weight = *w;
    br_vec_free(&rows);
    return 0;
}

static int write_features(br_store *st, const char *split_id, const br_features *f,
                          const br_popularity *pop, const br_favsub *fav)
{
    br_stmt *q = NULL;
    size_t nu, ni;
    const br_agg *ua = br_features_users(f, &nu), *ia = br_features_items(f, &ni);
    const double *bayes = br_popularity_bayes(pop);
    int rc;
    if ((rc = exec_bind1(st, "DELETE FROM user_aggregates WHERE split_id = ?", split_id)) ||
        (rc = exec_bind1(st, "DELETE FROM work_aggregates WHERE split_id = ?", split_id)) ||
        (rc = br_store_exec(st, "DELETE FROM user_fav_subjects WHERE origin = 'derived'")))
        return rc;
    if ((rc = br_store_prepare(st,
                               "INSERT INTO user_aggregates (split_id, user_id, n, n_explicit, "
                               "mean, std) VALUES (?,?,?,?,?,?)",
                               &q)))
        return rc;
    for (size_t u = 0; u < nu && !rc; u++) {
        if (!ua[u].count)
            continue;
        br_stmt_bind_text(q, 1, split_id, -1);
        br_stmt_bind_int(q, 2, (int64_t)u);
        br_stmt_bind_int(q, 3, ua[u].count);
        br_stmt_bind_int(q, 4, ua[u].n_explicit);
        if (ua[u].n_explicit) {
            br_stmt_bind_double(q, 5, ua[u].mean);
            br_stmt_bind_double(q, 6, ua[u].std);
        } else {
            br_stmt_bind_null(q, 5);
            br_stmt_bind_null(q, 6);
        }
        rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
        br_stmt_reset(q);
    }
    br_stmt_free(q);
    if (rc || (rc = br_store_prepare(st,
                                     "INSERT INTO work_aggregates (split_id, item_idx, n, "
                                     "n_explicit, mean, std, bayes) VALUES (?,?,?,?,?,?,?)",
                                     &q)))
        return rc;
    for (size_t i = 0; i < ni && !rc; i++) {
        if (!ia[i].count)
            continue;
        br_stmt_bind_text(q, 1, split_id, -1);
        br_stmt_bind_int(q, 2, (int64_t)i);
        br_stmt_bind_int(q, 3, ia[i].count);
        br_stmt_bind_int(q, 4, ia[i].n_explicit);
        if (ia[i].n_explicit) {
            br_stmt_bind_double(q, 5, ia[i].mean);
            br_stmt_bind_double(q, 6, ia[i].std);
        } else {
            br_stmt_bind_null(q, 5);
            br_stmt_bind_null(q, 6);
        }
        br_stmt_bind_double(q, 7, bayes[i]);
        rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
        br_stmt_reset(q);
    }
    br_stmt_free(q);
    /* Derived favorites only for readers who chose none themselves. */
    if (rc || (rc = br_store_prepare(st,
                                     "INSERT INTO user_fav_subjects (user_id, subject_id, score, "
                                     "origin, split_id) SELECT ?, ?, ?, 'derived', ? WHERE NOT "
                                     "EXISTS (SELECT 1 FROM user_fav_subjects WHERE user_id = ?)",
                                     &q)))
        return rc;
    for (size_t u = 0; u < br_favsub_n_users(fav) && !rc; u++) {
        const int32_t *s;
        const float *sc;
        size_t k = br_favsub_get(fav, (int64_t)u, &s, &sc);
        for (size_t j = 0; j < k && !rc; j++) {
            br_stmt_bind_int(q, 1, (int64_t)u);
            br_stmt_bind_int(q, 2, s[j]);
            br_stmt_bind_double(q, 3, sc[j]);
            br_stmt_bind_text(q, 4, split_id, -1);
            br_stmt_bind_int(q, 5, (int64_t)u);
            rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
            br_stmt_reset(q);
        }
    }
    br_stmt_free(q);
    return rc;
}

static int write_folds(br_store *st, const char *split_id, const br_interaction *x,
                       const uint8_t *fold, size_t n)
{
    br_stmt *q;
    int rc = br_store_prepare(st,
                              "INSERT INTO split_folds (split_id, user_id, item_idx, fold) "
                              "VALUES (?,?,?,?)",
                              &q);
    br_progress p;
    if (rc)
        return rc;
    br_progress_start(&p, "split: writing folds", n);
    for (size_t i = 0; i < n && !rc; i++) {
        br_stmt_bind_text(q, 1, split_id, -1);
        br_stmt_bind_int(q, 2, x[i].user);
        br_stmt_bind_int(q, 3, x[i].item);
        br_stmt_bind_int(q, 4, fold[i]);
        rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
        br_stmt_reset(q);
        br_progress_update(&p, i);
    }
    br_progress_end(&p, n);
    br_stmt_free(q);
    return rc;
}

int br_split_run(br_store *st, const br_split_run_opts *o, json_t **summary, char *err,
                 size_t errcap)
{
    br_vec x;
    int64_t max_user = 0, max_item = 0;
    uint8_t *fold = NULL;
    br_features *f = NULL;
    br_popularity *pop = NULL;
    br_favsub *fav = NULL;
    size_t *off = NULL;
    int32_t *subj = NULL;
    float *w = NULL;
    char split_id[BR_SPLIT_ID_SIZE], active[BR_SPLIT_ID_SIZE];
    size_t n_new = 0;
    int rc, made = 0;

    br_vec_init(&x, sizeof(br_interaction), 0);
    if ((rc = br_store_migrate(st, NULL)))
        return fail_msg(err, errcap, rc, "migrating", st);
    if ((rc = br_store_begin(st)))
        return fail_msg(err, errcap, rc, "begin", st);
    if ((rc = load_interactions(st, &x, &max_user, &max_item))) {
        fail_msg(err, errcap, rc, "loading interactions", st);
        goto fail;
    }
    if (x.n == 0) {
        rc = BR_EINVAL;
        snprintf(err, errcap, "no interactions in the database: run bookrec import first");
        goto fail;
    }
    fold = malloc(x.n);
    if (!fold) {
        rc = BR_ENOMEM;
        goto fail;
    }
    br_split_params frozen;
    if ((rc = active_split(st, active, &frozen))) {
        fail_msg(err, errcap, rc, "reading the active split", st);
        goto fail;
    }
    if (active[0] && !o->resplit) {
        uint8_t *is_new = malloc(x.n);
        br_vec nx, nf;
        br_vec_init(&nx, sizeof(br_interaction), 0);
        br_vec_init(&nf, 1, 0);
        rc = is_new ? load_folds(st, active, x.data, x.n, &frozen, fold, is_new, &n_new)
                    : BR_ENOMEM;
        /* Only the pairs the frozen split did not hold are written. */
        for (size_t i = 0; i < x.n && !rc && n_new; i++)
            if (is_new[i] && (!br_vec_push(&nx, &br_vec_at(&x, br_interaction, i)) ||
                              !br_vec_push(&nf, &fold[i])))
                rc = BR_ENOMEM;
        snprintf(split_id, sizeof split_id, "%s", active);
        if (!rc && n_new)
            rc = write_folds(st, split_id, nx.data, nf.data, nx.n);
        free(is_new);
        br_vec_free(&nx);
        br_vec_free(&nf);
        if (rc) {
            fail_msg(err, errcap, rc, "assigning new interactions to the frozen split", NULL);
            goto fail;
        }
    } else {
        if ((rc = br_split_assign(x.data, x.n, &o->split, fold)) ||
            (rc = br_split_id(x.data, fold, x.n, &o->split, split_id))) {
            fail_msg(err, errcap, rc, "assigning folds", NULL);
            goto fail;
        }
        char params[256];
        snprintf(params, sizeof params,
                 "{\"seed\":%llu,\"cold_frac\":%g,\"val_frac\":%g,\"test_frac\":%g,"
                 "\"cold_min_interactions\":%u,\"holdout_min_interactions\":%u}",
                 (unsigned long long)o->split.seed, o->split.cold_frac, o->split.val_frac,
                 o->split.test_frac, o->split.cold_min_interactions,
                 o->split.holdout_min_interactions);
        br_stmt *q = NULL;
        if ((rc = br_store_exec(st, "UPDATE splits SET active = 0")) ||
            (rc = exec_bind1(st, "DELETE FROM split_folds WHERE split_id = ?", split_id)) ||
            (rc = exec_bind1(st, "DELETE FROM splits WHERE split_id = ?", split_id)) ||
            (rc = br_store_prepare(st,
                                   "INSERT INTO splits (split_id, seed, params, created_at, "
                                   "active) VALUES (?,?,?,?,1)",
                                   &q))) {
            fail_msg(err, errcap, rc, "writing the split", st);
            goto fail;
        }
        br_stmt_bind_text(q, 1, split_id, -1);
        br_stmt_bind_int(q, 2, (int64_t)o->split.seed);
        br_stmt_bind_text(q, 3, params, -1);
        br_stmt_bind_int(q, 4, (int64_t)time(NULL));
        rc = br_stmt_step(q) < 0 ? BR_ESTORE : 0;
        br_stmt_free(q);
        if (rc || (rc = write_folds(st, split_id, x.data, fold, x.n))) {
            fail_msg(err, errcap, rc, "writing folds", st);
            goto fail;
        }
        made = 1;
    }

    br_item_subjects is;
    if ((rc = br_features_new(x.data, fold, x.n, (size_t)max_user + 1, (size_t)max_item + 1, &f)) ||
        (rc = br_popularity_new(f, &o->pop, &pop)) ||
        (rc = load_item_subjects(st, (size_t)max_item + 1, &is, &off, &subj, &w)) ||
        (rc = br_favsub_new(x.data, fold, x.n, &is, &o->favsub, (size_t)max_user + 1, &fav))) {
        fail_msg(err, errcap, rc, "computing features", NULL);
        goto fail;
    }
    if ((rc = write_features(st, split_id, f, pop, fav))) {
        fail_msg(err, errcap, rc, "writing features", st);
        goto fail;
    }
    if ((rc = br_store_commit(st))) {
        fail_msg(err, errcap, rc, "commit", st);
        goto out;
    }
    if (summary) {
        br_fold_counts c;
        br_split_counts(x.data, fold, x.n, &c);
        json_t *s = json_pack("{s:s, s:b, s:I, s:I}", "split_id", split_id, "new_split", made,
                              "interactions", (json_int_t)x.n, "new_interactions_assigned",
                              (json_int_t)n_new);
        json_t *folds = json_object();
        for (int k = 0; k < BR_FOLD_COUNT; k++)
            json_object_set_new(folds, br_fold_name(k),
                                json_pack("{s:I, s:I}", "interactions",
                                          (json_int_t)c.interactions[k], "users",
                                          (json_int_t)c.users[k]));
        json_object_set_new(s, "folds", folds);
        json_object_set_new(s, "popularity_prior_C", json_real(br_popularity_prior(pop)));
        *summary = s;
    }
    goto out;
fail:
    br_store_rollback(st);
out:
    br_features_free(f);
    br_popularity_free(pop);
    br_favsub_free(fav);
    free(off);
    free(subj);
    free(w);
    free(fold);
    br_vec_free(&x);
    return rc;
}

int br_split_export(br_store *st, const char *dir, char *err, size_t errcap)
{
    char active[BR_SPLIT_ID_SIZE], path[4096];
    FILE *out[BR_FOLD_COUNT] = {0};
    br_stmt *q = NULL;
    int rc;
    if ((rc = active_split(st, active, NULL)) || !active[0]) {
        snprintf(err, errcap, "no active split: run bookrec split first");
        return rc ? rc : BR_ENOENT;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "%s: %s", dir, strerror(errno));
        return BR_EIO;
    }
    for (int k = 0; k < BR_FOLD_COUNT; k++) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, br_fold_name(k));
        if (!(out[k] = fopen(path, "w"))) {
            snprintf(err, errcap, "%s: %s", path, strerror(errno));
            rc = BR_EIO;
            goto out;
        }
        fprintf(out[k], "user,item_idx,rating\n");
    }
    if ((rc = br_store_prepare(st,
                               "SELECT f.user_id, f.item_idx, i.rating, f.fold FROM split_folds f "
                               "JOIN interactions i ON i.user_id = f.user_id AND "
                               "i.item_idx = f.item_idx WHERE f.split_id = ? "
                               "ORDER BY f.user_id, f.item_idx",
                               &q)))
        goto out;
    br_stmt_bind_text(q, 1, active, -1);
    while ((rc = br_stmt_step(q)) == 1) {
        int k = (int)br_stmt_int(q, 3);
        if (k < 0 || k >= BR_FOLD_COUNT)
            continue;
        fprintf(out[k], "%lld,%lld,%lld\n", (long long)br_stmt_int(q, 0),
                (long long)br_stmt_int(q, 1), (long long)br_stmt_int(q, 2));
    }
    if (rc < 0) {
        snprintf(err, errcap, "reading folds: %s", br_store_errmsg(st));
        goto out;
    }
    rc = 0;
    snprintf(path, sizeof path, "%s/split.json", dir);
    FILE *j = fopen(path, "w");
    if (!j) {
        rc = BR_EIO;
        goto out;
    }
    fprintf(j, "{\"split_id\": \"%s\", \"files\": [\"train.csv\", \"val.csv\", \"test.csv\", "
               "\"cold.csv\"], \"columns\": [\"user\", \"item_idx\", \"rating\"], "
               "\"rating_0\": \"implicit interaction\"}\n",
            active);
    if (fclose(j) != 0)
        rc = BR_EIO;
out:
    br_stmt_free(q);
    for (int k = 0; k < BR_FOLD_COUNT; k++)
        if (out[k] && fclose(out[k]) != 0 && !rc)
            rc = BR_EIO;
    return rc;
}
