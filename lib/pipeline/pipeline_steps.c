/* The nine steps of the training pipeline (pipeline.h; the runner is pipeline.c).
 *
 * Design decisions:
 * 1. Each step is the existing library function that does the job: br_split_run,
 *    br_trainer_* (br_train_run in phases), br_publish, br_evaluate_run, version.h. The
 *    steps only decide inputs and outputs and record what happened.
 * 2. The snapshot (step 1) is SQLite's VACUUM INTO: one read transaction, so it is
 *    consistent while the gateway keeps writing, and the live database is never written.
 *    The copy is scrubbed of what training does not need and should not be lying around in
 *    run directories: accounts (password hashes), sessions, events (secure_delete on).
 * 3. The watermark (step 1) is what the snapshot holds: the newest rating time, the highest
 *    reader and book ids, the counts. The published version records it, so that the next
 *    run can say what is new since the version that is serving ("new since the last run").
 * 4. Cleaning (step 2) applies the import rules to every row, not only the new ones: the
 *    imported rows already pass them, so the rejects are the new data's, and a row that
 *    slipped in by any path is caught. Duplicates cannot exist in SQLite (the primary key
 *    makes a re-rating an update); the rule is kept for stores without that key.
 * 5. The frozen split is extended in the run's copy only (step 3): the live database's split
 *    stays the batch split, so every run assigns a late pair by the same frozen state and a
 *    pair never moves between folds from one run to the next.
 * 6. The gate (step 8) compares like with like: both models on the validation fold of this
 *    run's split, on the readers both have factors for, with the same evaluation code. The
 *    current version's item factors are padded for books added since it was trained.
 * 7. Step 7 builds the complete version (indexes included) inside the run directory; step 9
 *    copies it (hard links) into the artifacts with the gate's report as its metrics, so a
 *    blocked run never leaves a version behind in the artifacts.
 */
#include "pipeline_internal.h"

#include "bookrec/error.h"
#include "bookrec/evaluate.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"
#include "bookrec/publish.h"
#include "bookrec/split.h"
#include "bookrec/split_run.h"
#include "bookrec/train_data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static json_t *step_report(json_t *step)
{
    json_t *rep = json_object_get(step, "report");
    if (!rep) {
        rep = json_object();
        json_object_set_new(step, "report", rep);
    }
    return rep;
}

/* The report of an earlier step (by index), or NULL. */
static json_t *earlier(br__prun *r, int step)
{
    return json_object_get(json_array_get(json_object_get(r->rec, "steps"), (size_t)step),
                           "report");
}

static int query_int(br__prun *r, br_store *st, const char *sql, int64_t *v)
{
    int rc = br_store_query_int(st, sql, 0, v);
    return rc ? br__prun_fail(r, rc, "%s: %s", sql, br_store_errmsg(st)) : 0;
}

static int exec(br__prun *r, br_store *st, const char *sql)
{
    int rc = br_store_exec(st, sql);
    return rc ? br__prun_fail(r, rc, "%s: %s", sql, br_store_errmsg(st)) : 0;
}

/* Makes RUN/sub (emptied first when fresh is set). */
static int step_dir(br__prun *r, const char *sub, int fresh)
{
    char path[4096];
    int rc = br__prun_path(r, sub, path, sizeof path);
    if (!rc && fresh)
        rc = br__rm_rf(path);
    if (!rc)
        rc = br__mkdir_p(path);
    return rc ? br__prun_fail(r, rc, "%s: cannot create it", path) : 0;
}

/* RUN/from -> RUN/to, a fresh copy (a database the next step changes). */
static int copy_db(br__prun *r, const char *from, const char *to)
{
    char a[4096], b[4096];
    int rc;
    if ((rc = br__prun_path(r, from, a, sizeof a)) || (rc = br__prun_path(r, to, b, sizeof b)))
        return rc;
    static const char *const stale[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s", b, stale[i]);
        unlink(p);
    }
    if ((rc = br__copy_file(a, b)))
        return br__prun_fail(r, rc, "copying %s to %s: %s", from, to, br_strerror(rc));
    return 0;
}

static int open_db(br__prun *r, const char *rel, br_store **st)
{
    char path[4096];
    int rc = br__prun_path(r, rel, path, sizeof path);
    if (!rc && (rc = br_store_open(path, st)))
        br__prun_fail(r, rc, "opening %s: %s", path, br_store_errmsg(NULL));
    return rc;
}

/* The current version's id, or "" when there is none. */
static void current_version(const br__prun *r, char *id, size_t cap)
{
    if (br_version_current(r->o->artifacts, id, cap) != 0)
        id[0] = 0;
}

/* ---- 1. export ------------------------------------------------------------------------ */

static int watermark(br__prun *r, br_store *st, json_t **out)
{
    static const struct {
        const char *name, *sql;
    } q[] = {
        {"interactions", "SELECT COUNT(*) FROM interactions"},
        {"api_interactions", "SELECT COUNT(*) FROM interactions WHERE source = 'api'"},
        {"max_ts", "SELECT COALESCE(MAX(ts), 0) FROM interactions"},
        {"users", "SELECT COUNT(*) FROM users WHERE deleted_at IS NULL"},
        {"max_user_id", "SELECT COALESCE(MAX(user_id), -1) FROM users"},
        {"books", "SELECT COUNT(*) FROM works"},
        {"max_item_idx", "SELECT COALESCE(MAX(item_idx), -1) FROM works"},
    };
    json_t *w = json_object();
    int rc = w ? 0 : BR_ENOMEM;
    for (size_t i = 0; !rc && i < sizeof q / sizeof q[0]; i++) {
        int64_t v;
        if (!(rc = query_int(r, st, q[i].sql, &v)))
            json_object_set_new(w, q[i].name, json_integer((json_int_t)v));
    }
    if (rc) {
        json_decref(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* What is new in st since the watermark prev (the serving version's). */
static int new_since(br__prun *r, br_store *st, const json_t *prev, json_t *rep)
{
    char sql[256];
    int64_t ts = json_integer_value(json_object_get(prev, "max_ts"));
    int64_t mu = json_integer_value(json_object_get(prev, "max_user_id"));
    int64_t mi = json_integer_value(json_object_get(prev, "max_item_idx"));
    int64_t a, u, au, b;
    int rc;
    if (!prev)
        ts = -1, mu = -1, mi = -1; /* no version made by the pipeline yet: all of it */
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM interactions WHERE source = 'api' AND ts > %" PRId64, ts);
    if ((rc = query_int(r, st, sql, &a)))
        return rc;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM users WHERE user_id > %" PRId64, mu);
    if ((rc = query_int(r, st, sql, &u)))
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM users WHERE source = 'api' AND user_id > %" PRId64, mu);
    if ((rc = query_int(r, st, sql, &au)))
        return rc;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM works WHERE item_idx > %" PRId64, mi);
    if ((rc = query_int(r, st, sql, &b)))
        return rc;
    json_object_set_new(rep, "new_since_last",
                        json_pack("{s:I, s:I, s:I, s:I}", "api_ratings", (json_int_t)a, "readers",
                                  (json_int_t)u, "api_readers", (json_int_t)au, "books",
                                  (json_int_t)b));
    return 0;
}

static int step_export(br__prun *r, json_t *step)
{
    char path[4096], cur[BR_VERSION_ID_MAX];
    br_store *live = NULL, *snap = NULL;
    br_stmt *q = NULL;
    json_t *rep = step_report(step), *wm = NULL, *man = NULL;
    int rc;
    if ((rc = step_dir(r, "export", 1)) ||
        (rc = br__prun_path(r, "export/snapshot.db", path, sizeof path)))
        return rc;
    if ((rc = br_store_open(r->o->db, &live)))
        return br__prun_fail(r, rc, "opening %s: %s", r->o->db, br_store_errmsg(NULL));
    if (strcmp(br_store_driver(live), "sqlite") != 0) {
        rc = br__prun_fail(r, BR_EUNSUPPORTED, "export: snapshots of %s stores are not supported",
                           br_store_driver(live));
        goto out;
    }
    /* One read transaction: a consistent copy while writers go on. */
    double t0 = br_now();
    if ((rc = br_store_prepare(live, "VACUUM INTO ?", &q)) ||
        (rc = br_stmt_bind_text(q, 1, path, -1)) || (rc = br_stmt_step(q)) < 0) {
        br__prun_fail(r, rc, "snapshot of %s: %s", r->o->db, br_store_errmsg(live));
        goto out;
    }
    rc = 0;
    br_stmt_free(q);
    q = NULL;
    br_store_close(live);
    live = NULL;
    br_info("pipeline: export: snapshot of %s in %.2f s", r->o->db, br_now() - t0);
    if ((rc = br_store_open(path, &snap))) {
        br__prun_fail(r, rc, "opening the snapshot: %s", br_store_errmsg(NULL));
        goto out;
    }
    if ((rc = br_store_migrate(snap, NULL))) {
        br__prun_fail(r, rc, "the snapshot's schema: %s", br_store_errmsg(snap));
        goto out;
    }
    int64_t n_acc = 0, n_ses = 0, n_ev = 0;
    if ((rc = query_int(r, snap, "SELECT COUNT(*) FROM accounts", &n_acc)) ||
        (rc = query_int(r, snap, "SELECT COUNT(*) FROM sessions", &n_ses)) ||
        (rc = query_int(r, snap, "SELECT COUNT(*) FROM events", &n_ev)) ||
        (rc = exec(r, snap,
                   "PRAGMA secure_delete = ON; DELETE FROM events; DELETE FROM sessions; "
                   "DELETE FROM accounts;")) ||
        (rc = watermark(r, snap, &wm)))
        goto out;
    json_object_set_new(rep, "scrubbed",
                        json_pack("{s:I, s:I, s:I}", "accounts", (json_int_t)n_acc, "sessions",
                                  (json_int_t)n_ses, "events", (json_int_t)n_ev));
    /* The serving version's watermark, when the pipeline made it. */
    current_version(r, cur, sizeof cur);
    const json_t *prev = NULL;
    if (cur[0] && br_version_manifest(r->o->artifacts, cur, &man) == 0)
        prev = json_object_get(json_object_get(man, "pipeline"), "watermark");
    if ((rc = new_since(r, snap, prev, rep)))
        goto out;
    json_object_set(rep, "watermark", wm);
    json_object_set_new(rep, "previous_watermark", prev ? json_deep_copy(prev) : json_null());
    json_object_set_new(rep, "serving_version", cur[0] ? json_string(cur) : json_null());
    json_object_set(r->rec, "watermark", wm);
    br_info("pipeline: export: %" PRId64 " interactions (%" PRId64 " from the API), %" PRId64
            " books; new since the serving version: %" PRId64 " API ratings",
            (int64_t)json_integer_value(json_object_get(wm, "interactions")),
            (int64_t)json_integer_value(json_object_get(wm, "api_interactions")),
            (int64_t)json_integer_value(json_object_get(wm, "books")),
            (int64_t)json_integer_value(
                json_object_get(json_object_get(rep, "new_since_last"), "api_ratings")));
    br_store_close(snap);
    snap = NULL; /* closed (WAL checkpointed) before its checksum */
    rc = br__prun_output(r, step, "export/snapshot.db");
out:
    br_stmt_free(q);
    br_store_close(live);
    br_store_close(snap);
    json_decref(wm);
    json_decref(man);
    return rc;
}

/* ---- 2. clean ------------------------------------------------------------------------- */

static int step_clean(br__prun *r, json_t *step)
{
    /* The import rules for ratings (docs/data.md), as WHERE clauses on interactions. */
    static const struct {
        const char *rule, *where;
    } rules[] = {
        {"rating_out_of_range", "rating IS NULL OR rating < 0 OR rating > 10"},
        {"unknown_book", "item_idx NOT IN (SELECT item_idx FROM works)"},
        {"unknown_reader", "user_id NOT IN (SELECT user_id FROM users)"},
        {"deleted_reader", "user_id IN (SELECT user_id FROM users WHERE deleted_at IS NOT NULL)"},
        {"future_timestamp", "ts > %lld"},
        {"duplicate", "EXISTS (SELECT 1 FROM interactions b WHERE b.user_id = "
                      "interactions.user_id AND b.item_idx = interactions.item_idx AND "
                      "b.rowid < interactions.rowid)"},
    };
    br_store *st = NULL;
    json_t *rep = step_report(step), *rej = json_object();
    int64_t kept = 0, v;
    int rc;
    if (!rej)
        return BR_ENOMEM;
    json_object_set_new(rep, "rejects", rej);
    if ((rc = step_dir(r, "clean", 1)) ||
        (rc = copy_db(r, "export/snapshot.db", "clean/catalog.db")) ||
        (rc = open_db(r, "clean/catalog.db", &st)))
        goto out;
    if ((rc = br_store_begin(st)))
        goto out;
    long long future = (long long)time(NULL) + 86400; /* a day of clock skew */
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char where[512], sql[700];
        snprintf(where, sizeof where, rules[i].where, future);
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM interactions WHERE %s", where);
        if ((rc = query_int(r, st, sql, &v)))
            break;
        if (v > 0) {
            snprintf(sql, sizeof sql, "DELETE FROM interactions WHERE %s", where);
            if ((rc = exec(r, st, sql)))
                break;
            br_warn("pipeline: clean: %" PRId64 " interactions rejected: %s", v, rules[i].rule);
        }
        json_object_set_new(rej, rules[i].rule, json_integer((json_int_t)v));
    }
    /* A deleted reader's chosen subjects go too (the account deletion removes them; this is
     * for a store that missed it). */
    if (!rc && (rc = query_int(r, st,
                               "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id IN (SELECT "
                               "user_id FROM users WHERE deleted_at IS NOT NULL)",
                               &v)) == 0) {
        json_object_set_new(rej, "deleted_reader_subjects", json_integer((json_int_t)v));
        if (v > 0)
            rc = exec(r, st,
                      "DELETE FROM user_fav_subjects WHERE user_id IN (SELECT user_id FROM "
                      "users WHERE deleted_at IS NOT NULL)");
    }
    if (rc) {
        br_store_rollback(st);
        goto out;
    }
    if ((rc = br_store_commit(st))) {
        br__prun_fail(r, rc, "clean: commit: %s", br_store_errmsg(st));
        goto out;
    }
    /* Books added since the serving version that readers will not be shown (no title). */
    const json_t *prev = json_object_get(earlier(r, 0), "previous_watermark");
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM works WHERE has_title = 0 AND item_idx > %lld",
             json_is_object(prev)
                 ? (long long)json_integer_value(json_object_get(prev, "max_item_idx"))
                 : -1LL);
    if ((rc = query_int(r, st, sql, &v)) ||
        (rc = query_int(r, st, "SELECT COUNT(*) FROM interactions", &kept)))
        goto out;
    json_object_set_new(rep, "new_books_without_title", json_integer((json_int_t)v));
    json_int_t n_rej = 0;
    const char *k;
    json_t *x;
    json_object_foreach(rej, k, x) n_rej +=
        strcmp(k, "deleted_reader_subjects") ? json_integer_value(x) : 0;
    json_object_set_new(rep, "rejected", json_integer(n_rej));
    json_object_set_new(rep, "interactions_kept", json_integer((json_int_t)kept));
    br_info("pipeline: clean: %lld interactions kept, %lld rejected", (long long)kept,
            (long long)n_rej);
    br_store_close(st);
    st = NULL;
    rc = br__prun_output(r, step, "clean/catalog.db");
out:
    br_store_close(st);
    return rc;
}

/* ---- 3. split ------------------------------------------------------------------------- */

static int step_split(br__prun *r, json_t *step)
{
    br_store *st = NULL;
    json_t *sum = NULL;
    char err[512] = "";
    int rc;
    br_store_close(r->st); /* a rerun replaces the database the later steps read */
    r->st = NULL;
    br_trainer_free(r->tr);
    r->tr = NULL;
    if ((rc = step_dir(r, "split", 1)) ||
        (rc = copy_db(r, "clean/catalog.db", "split/catalog.db")) ||
        (rc = open_db(r, "split/catalog.db", &st)))
        goto out;
    if ((rc = br_split_run(st, &r->o->split, &sum, err, sizeof err))) {
        br__prun_fail(r, rc, "split: %s", err);
        goto out;
    }
    json_object_set_new(step, "report", sum);
    json_object_set(r->rec, "split_id", json_object_get(sum, "split_id"));
    br_info("pipeline: split %s: %lld new interactions assigned to the frozen split",
            json_string_value(json_object_get(sum, "split_id")),
            (long long)json_integer_value(json_object_get(sum, "new_interactions_assigned")));
    br_store_close(st);
    st = NULL;
    rc = br__prun_output(r, step, "split/catalog.db");
out:
    br_store_close(st);
    return rc;
}

/* ---- 4-6. features and training ------------------------------------------------------- */

/* The trainer of this invocation: the served pool only, warm-started from the current
 * version's embedder files unless a full retrain is asked for. The decision is recorded in
 * the step's report. */
static int trainer(br__prun *r, json_t *rep, br_trainer **out)
{
    br_train_opts to = r->o->train;
    br_semb_pool_kind pk;
    char cur[BR_VERSION_ID_MAX], warm[4200] = "", model[4096];
    br_store *st;
    int rc;
    if (r->tr) {
        *out = r->tr;
        return 0;
    }
    if (br_semb_pool_parse(r->o->pool, &pk) != 0)
        return br__prun_fail(r, BR_EINVAL, "unknown subject pool %s", r->o->pool);
    to.pools = 1u << pk;
    current_version(r, cur, sizeof cur);
    if (!r->o->full_retrain && cur[0]) {
        char vd[4096], pj[4200];
        if (br_version_dir(r->o->artifacts, cur, vd, sizeof vd) == 0) {
            snprintf(warm, sizeof warm, "%s/embedder", vd);
            snprintf(pj, sizeof pj, "%s/params.json", warm);
            if (access(pj, R_OK) != 0)
                warm[0] = 0;
        }
    }
    snprintf(r->warm_dir, sizeof r->warm_dir, "%s", warm);
    if (warm[0]) {
        to.warm_dir = r->warm_dir;
        to.semb.epochs = r->o->warm_epochs;
    }
    if (rep)
        json_object_set_new(rep, "subject_start",
                            json_pack("{s:s, s:s?, s:I}", "mode", warm[0] ? "warm" : "scratch",
                                      "from_version", warm[0] ? cur : NULL, "epochs",
                                      (json_int_t)to.semb.epochs));
    char err[512] = "";
    if ((rc = br__prun_store(r, &st)) || (rc = br__prun_path(r, "model", model, sizeof model)))
        return rc;
    if ((rc = br_trainer_new(st, &to, model, &r->tr, err, sizeof err)))
        return br__prun_fail(r, rc, "loading the training data: %s", err);
    *out = r->tr;
    return 0;
}

/* The trainer's files from index `from` on, as this step's outputs. */
static int trainer_outputs(br__prun *r, json_t *step, size_t from)
{
    const json_t *files = br_trainer_files(r->tr);
    json_t *outs = json_object_get(step, "outputs");
    if (!outs) {
        outs = json_array();
        json_object_set_new(step, "outputs", outs);
    }
    for (size_t i = from; i < json_array_size(files); i++) {
        const json_t *e = json_array_get(files, i);
        char rel[1024];
        snprintf(rel, sizeof rel, "model/%s", json_string_value(json_object_get(e, "name")));
        if (json_array_append_new(outs, json_pack("{s:s, s:O, s:O}", "path", rel, "bytes",
                                                  json_object_get(e, "bytes"), "xxh64",
                                                  json_object_get(e, "xxh64"))))
            return BR_ENOMEM;
    }
    return 0;
}

/* training.<key> of RUN/model/manifest.json into the report. */
static void training_stats(br__prun *r, json_t *rep, const char *key)
{
    char path[4096];
    if (br__prun_path(r, "model/manifest.json", path, sizeof path))
        return;
    json_t *m = json_load_file(path, 0, NULL);
    json_t *v = json_object_get(json_object_get(m, "training"), key);
    if (v)
        json_object_set(rep, key, v);
    json_decref(m);
}

static int step_features(br__prun *r, json_t *step)
{
    json_t *rep = step_report(step);
    br_trainer *t;
    char err[512] = "";
    int rc;
    br_trainer_free(r->tr); /* fresh model directory, fresh trainer */
    r->tr = NULL;
    if ((rc = step_dir(r, "model", 1)) || (rc = trainer(r, rep, &t)))
        return rc;
    if ((rc = br_trainer_popularity(t, err, sizeof err)))
        return br__prun_fail(r, rc, "popularity: %s", err);
    const br_train_data *d = br_trainer_data(t);
    size_t folds[BR_FOLD_COUNT] = {0}, favs = 0, with_subj = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->fold[i] < BR_FOLD_COUNT)
            folds[d->fold[i]]++;
    for (size_t u = 0; u < d->user_favs.n_rows; u++)
        favs += d->user_favs.indptr[u + 1] > d->user_favs.indptr[u];
    for (size_t i = 0; i < d->item_subjects.n_rows; i++)
        with_subj += d->item_subjects.indptr[i + 1] > d->item_subjects.indptr[i];
    json_object_set_new(
        rep, "data",
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:I}", "split_id",
                  d->split_id, "interactions", (json_int_t)d->n, "readers", (json_int_t)d->n_users,
                  "books", (json_int_t)d->n_items, "subjects", (json_int_t)d->n_subjects, "folds",
                  "train", (json_int_t)folds[BR_FOLD_TRAIN], "val", (json_int_t)folds[BR_FOLD_VAL],
                  "test", (json_int_t)folds[BR_FOLD_TEST], "cold", (json_int_t)folds[BR_FOLD_COLD],
                  "readers_with_favorite_subjects", (json_int_t)favs, "books_with_subjects",
                  (json_int_t)with_subj));
    json_object_set_new(rep, "note",
                        json_string("aggregates and favorite subjects are recomputed from the "
                                    "train fold by the split step (br_split_run), popularity "
                                    "here; the subject vocabulary is the catalog's"));
    return trainer_outputs(r, step, 0);
}

static int step_als(br__prun *r, json_t *step)
{
    br_trainer *t;
    char err[512] = "";
    int rc;
    if ((rc = trainer(r, NULL, &t)))
        return rc;
    size_t from = json_array_size(br_trainer_files(t));
    if ((rc = br_trainer_als(t, err, sizeof err)))
        return br__prun_fail(r, rc, "ALS: %s", err);
    training_stats(r, step_report(step), "als");
    if (r->o->train.test_scramble)
        json_object_set_new(step_report(step), "test_scramble", json_true());
    return trainer_outputs(r, step, from);
}

static int step_subjects(br__prun *r, json_t *step)
{
    json_t *rep = step_report(step);
    br_trainer *t;
    char err[512] = "";
    int rc;
    if ((rc = trainer(r, NULL, &t)))
        return rc;
    /* The start of the trainer actually used (made by an earlier step of this process, or
     * just now by a resumed run). */
    json_object_set_new(
        rep, "subject_start",
        json_pack("{s:s, s:s?, s:I}", "mode", r->warm_dir[0] ? "warm" : "scratch", "from",
                  r->warm_dir[0] ? r->warm_dir : NULL, "epochs",
                  (json_int_t)(r->warm_dir[0] ? r->o->warm_epochs : r->o->train.semb.epochs)));
    size_t from = json_array_size(br_trainer_files(t));
    if ((rc = br_trainer_subjects(t, err, sizeof err)))
        return br__prun_fail(r, rc, "subject model: %s", err);
    training_stats(r, rep, "subject");
    if ((rc = trainer_outputs(r, step, from)))
        return rc;
    return br__prun_output(r, step, "model/manifest.json");
}

/* ---- 7. indexes ----------------------------------------------------------------------- */

static int step_indexes(br__prun *r, json_t *step)
{
    br_publish_opts po;
    br_store *st;
    char vid[BR_VERSION_ID_MAX], build[4096], model[4096], err[512] = "";
    json_t *man = NULL;
    int rc;
    br_trainer_free(r->tr); /* training is over: its data need not stay in memory */
    r->tr = NULL;
    if ((rc = step_dir(r, "build", 1)) || (rc = br__prun_store(r, &st)) ||
        (rc = br__prun_path(r, "build", build, sizeof build)) ||
        (rc = br__prun_path(r, "model", model, sizeof model)))
        return rc;
    br_version_new_id(vid);
    br_publish_opts_default(&po);
    po.artifacts = build;
    po.model_dir = model;
    po.pool = r->o->pool;
    po.prior = r->o->prior;
    po.cold_a = r->o->cold_a;
    po.id = vid;
    po.activate = 0;
    po.threads = r->o->threads;
    if ((rc = br_publish(st, &po, NULL, err, sizeof err)))
        return br__prun_fail(r, rc, "building the version: %s", err);
    if ((rc = br_version_manifest(build, vid, &man)))
        return br__prun_fail(r, rc, "reading the built manifest: %s", br_strerror(rc));
    size_t i;
    json_t *e, *outs = json_array();
    json_object_set_new(step, "outputs", outs);
    json_array_foreach(json_object_get(man, "files"), i, e)
    {
        char rel[1024];
        snprintf(rel, sizeof rel, "build/versions/%s/%s", vid,
                 json_string_value(json_object_get(e, "path")));
        json_array_append_new(outs, json_pack("{s:s, s:O, s:O}", "path", rel, "bytes",
                                              json_object_get(e, "size"), "xxh64",
                                              json_object_get(e, "xxh64")));
    }
    char rel[256];
    snprintf(rel, sizeof rel, "build/versions/%s/manifest.json", vid);
    json_t *rep = step_report(step);
    json_object_set_new(rep, "version", json_string(vid));
    json_object_set(rep, "dims", json_object_get(man, "dims"));
    json_object_set_new(rep, "files", json_integer((json_int_t)json_array_size(outs)));
    json_object_set_new(rep, "indexes",
                        json_pack("[s, s, s, s, s]", "als/items_mips.hnsw", "similarity/als.hnsw",
                                  "similarity/subject.hnsw", "similarity/hybrid.hnsw",
                                  "semantic/lexical.idx"));
    json_decref(man);
    return br__prun_output(r, step, rel);
}

/* ---- 8. evaluate and gate --------------------------------------------------------------- */

/* Sorted readers present in both als_users files (b may be NULL: a's). */
static int common_readers(const char *a, const char *b, int64_t **out, size_t *n)
{
    br_npy x = {0}, y = {0};
    int rc = br_npy_open(a, &x);
    if (!rc && b)
        rc = br_npy_open(b, &y);
    if (!rc && (x.dtype != BR_NPY_I32 || (b && y.dtype != BR_NPY_I32)))
        rc = BR_EFORMAT;
    *out = NULL;
    *n = 0;
    if (!rc && !(*out = malloc((x.rows + 1) * sizeof **out)))
        rc = BR_ENOMEM;
    const int32_t *xa = x.data, *ya = y.data;
    for (size_t i = 0, j = 0; !rc && i < x.rows; i++) {
        if (b) {
            while (j < y.rows && ya[j] < xa[i])
                j++;
            if (j == y.rows || ya[j] != xa[i])
                continue;
        }
        if (*n && (*out)[*n - 1] >= xa[i]) {
            rc = BR_ECORRUPT; /* not sorted: not an als_users file */
            break;
        }
        (*out)[(*n)++] = xa[i];
    }
    if (rc) {
        free(*out);
        *out = NULL;
    }
    br_npy_close(&x);
    br_npy_close(&y);
    return rc;
}

/* recall@30 of ALS on the warm protocol in an evaluation report; -1 when missing. */
static double als_recall30(const json_t *rep, json_int_t *users)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(rep, "results"), i, x)
    {
        const char *m = json_string_value(json_object_get(x, "model"));
        const char *p = json_string_value(json_object_get(x, "protocol"));
        if (m && p && !strcmp(m, "als") && !strcmp(p, "warm") &&
            json_integer_value(json_object_get(x, "k")) == 30) {
            if (users)
                *users = json_integer_value(json_object_get(x, "users"));
            return json_number_value(json_object_get(x, "recall"));
        }
    }
    return -1;
}

static int evaluate(br__prun *r, br_store *st, const char *model_dir, unsigned models,
                    const int64_t *users, size_t n_users, const char *out_rel, json_t **report)
{
    br_evaluate_opts eo;
    char err[512] = "", path[4096];
    int rc;
    br_evaluate_opts_default(&eo);
    eo.model_dir = model_dir;
    eo.fold = BR_FOLD_VAL;
    eo.protocols = BR_EVAL_WARM;
    eo.models = models;
    eo.boot.resamples = r->o->boot_resamples ? r->o->boot_resamples : 200;
    eo.only_users = users;
    eo.n_only_users = n_users;
    if ((rc = br_evaluate_run(st, &eo, report, err, sizeof err)))
        return br__prun_fail(r, rc, "evaluating %s: %s", model_dir, err);
    if ((rc = br__prun_path(r, out_rel, path, sizeof path)))
        return rc;
    if (json_dump_file(*report, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return br__prun_fail(r, BR_EIO, "writing %s", path);
    return 0;
}

static int step_gate(br__prun *r, json_t *step)
{
    br_store *st;
    char cur[BR_VERSION_ID_MAX], cur_als[4200] = "", model[4096], mine[4200], theirs[4300];
    json_t *rep_new = NULL, *rep_cur = NULL, *reasons = json_array();
    int64_t *users = NULL;
    size_t n_users = 0;
    int rc;
    if (!reasons)
        return BR_ENOMEM;
    if ((rc = step_dir(r, "gate", 1)) || (rc = br__prun_store(r, &st)) ||
        (rc = br__prun_path(r, "model", model, sizeof model)))
        goto out;
    snprintf(mine, sizeof mine, "%s/als_users.npy", model);
    current_version(r, cur, sizeof cur);
    /* The current version's ALS files (als/ holds user_factors, item_factors, als_users
     * under the names of a trained model directory). A margin of 1 turns the comparison
     * off (e.g. after a change that makes the versions incomparable). */
    if (cur[0] && r->o->gate_margin < 1) {
        char vd[4096];
        if (br_version_dir(r->o->artifacts, cur, vd, sizeof vd) == 0) {
            snprintf(cur_als, sizeof cur_als, "%s/als", vd);
            snprintf(theirs, sizeof theirs, "%s/als_users.npy", cur_als);
            if (access(theirs, R_OK) != 0)
                cur_als[0] = 0;
        }
    }
    if ((rc = common_readers(mine, cur_als[0] ? theirs : NULL, &users, &n_users))) {
        br__prun_fail(r, rc, "reading the readers of the models: %s", br_strerror(rc));
        goto out;
    }
    /* The gate needs ALS; popularity is the baseline a reader of the report compares it
     * with. The subject model and its blends are left to `bookrec eval` (they would double
     * the step's time and decide nothing here). */
    if ((rc = evaluate(r, st, model, BR_EVAL_ALS | BR_EVAL_POPULARITY, users, n_users,
                       "gate/new.json", &rep_new)) ||
        (cur_als[0] && (rc = evaluate(r, st, cur_als, BR_EVAL_ALS, users, n_users,
                                      "gate/current.json", &rep_cur))))
        goto out;
    json_int_t readers = 0;
    double mine30 = als_recall30(rep_new, &readers);
    double cur30 = rep_cur ? als_recall30(rep_cur, NULL) : -1;
    const br_pipeline_opts *o = r->o;
    if (mine30 < 0) {
        rc = br__prun_fail(r, BR_ECORRUPT,
                           "the evaluation has no ALS recall@30 on validation readers (is "
                           "the validation fold empty?)");
        goto out;
    }
    if (mine30 < o->gate_floor) {
        char why[200];
        snprintf(why, sizeof why, "recall@30 %.4f is below the floor %.4f", mine30, o->gate_floor);
        json_array_append_new(reasons, json_string(why));
    }
    if (cur30 >= 0 && mine30 < cur30 - o->gate_margin) {
        char why[240];
        snprintf(why, sizeof why,
                 "recall@30 %.4f is more than %.4f below the current version %s (%.4f)", mine30,
                 o->gate_margin, cur, cur30);
        json_array_append_new(reasons, json_string(why));
    }
    int passed = json_array_size(reasons) == 0;
    json_t *gate =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:s?, s:o, s:f, s:f, s:b, s:O}", "metric",
                  "recall@30", "model", "als", "protocol", "warm", "fold", "val", "readers",
                  readers, "recall@30", mine30, "current_version", cur_als[0] ? cur : NULL,
                  "current_recall@30", cur30 >= 0 ? json_real(cur30) : json_null(), "floor",
                  o->gate_floor, "margin", o->gate_margin, "passed", passed, "reasons", reasons);
    if (!gate) {
        rc = BR_ENOMEM;
        goto out;
    }
    json_object_set_new(step, "report", gate);
    json_object_set(r->rec, "gate", gate);
    br_info("pipeline: gate: ALS recall@30 on validation %.4f (%lld readers), current version "
            "%s %.4f, floor %.4f, margin %.4f: %s",
            mine30, (long long)readers, cur_als[0] ? cur : "(not compared)",
            cur30 >= 0 ? cur30 : 0.0, o->gate_floor, o->gate_margin, passed ? "passed" : "BLOCKED");
    if ((rc = br__prun_output(r, step, "gate/new.json")) ||
        (rep_cur && (rc = br__prun_output(r, step, "gate/current.json"))))
        goto out;
    rc = passed ? 0 : BR__STEP_BLOCKED;
    if (!passed)
        br__prun_fail(r, 0, "quality gate blocked the new version: %s",
                      json_string_value(json_array_get(reasons, 0)));
out:
    json_decref(reasons);
    json_decref(rep_new);
    json_decref(rep_cur);
    free(users);
    return rc;
}

/* ---- 9. publish ----------------------------------------------------------------------- */

/* Copies (hard links) the built version into the artifacts, with metrics and the run's
 * watermark in its manifest; commits it (not yet current). */
static int import_version(br__prun *r, const char *vid)
{
    char build[4096], src_dir[4096], staged[4096], path[4096], from[4300], to[4300];
    json_t *src = NULL, *man = NULL, *val = NULL;
    int rc, staged_ok = 0;
    if ((rc = br__prun_path(r, "build", build, sizeof build)) ||
        (rc = br_version_dir(build, vid, src_dir, sizeof src_dir)) ||
        (rc = br_version_manifest(build, vid, &src)))
        return br__prun_fail(r, rc, "reading the built version %s: %s", vid, br_strerror(rc));
    if ((rc = br__prun_path(r, "gate/new.json", path, sizeof path)))
        goto out;
    val = json_load_file(path, 0, NULL);
    if (!(man = json_deep_copy(src))) {
        rc = BR_ENOMEM;
        goto out;
    }
    json_object_del(man, "files");
    json_object_del(man, "id");
    json_t *gate = json_object_get(r->rec, "gate");
    json_object_set_new(man, "metrics",
                        json_pack("{s:O?, s:O?, s:O?}", "recall@30",
                                  json_object_get(gate, "recall@30"), "gate", gate, "validation",
                                  val));
    json_object_set_new(man, "pipeline",
                        json_pack("{s:s, s:O?, s:O?}", "run", r->id, "watermark",
                                  json_object_get(r->rec, "watermark"), "split_id",
                                  json_object_get(r->rec, "split_id")));
    snprintf(path, sizeof path, "%s/versions", r->o->artifacts);
    if ((rc = br__mkdir_p(path)) ||
        (rc = br_version_stage(r->o->artifacts, vid, staged, sizeof staged))) {
        br__prun_fail(r, rc, "staging version %s in %s", vid, r->o->artifacts);
        goto out;
    }
    staged_ok = 1;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(src, "files"), i, e)
    {
        const char *rel = json_string_value(json_object_get(e, "path"));
        const char *role = json_string_value(json_object_get(e, "role"));
        const char *want = json_string_value(json_object_get(e, "xxh64"));
        snprintf(from, sizeof from, "%s/%s", src_dir, rel);
        snprintf(to, sizeof to, "%s/%s", staged, rel);
        char *slash = strrchr(to, '/');
        *slash = 0;
        rc = br__mkdir_p(to);
        *slash = '/';
        if (!rc && link(from, to) != 0)
            rc = br__copy_file(from, to);
        if (!rc)
            rc = br_version_add_file(man, staged, rel, role);
        /* The entry just added was computed from the copy: it must match the build's. */
        json_t *added = json_array_get(json_object_get(man, "files"), i);
        if (!rc && (!want || strcmp(want, json_string_value(json_object_get(added, "xxh64")))))
            rc = BR_ECORRUPT;
        if (rc) {
            br__prun_fail(r, rc, "copying %s into the version: %s", rel, br_strerror(rc));
            goto out;
        }
    }
    if ((rc = br_version_commit(r->o->artifacts, vid, staged, man))) {
        br__prun_fail(r, rc, "committing version %s: %s", vid, br_strerror(rc));
        goto out;
    }
    staged_ok = 0;
out:
    if (staged_ok)
        br__rm_rf(staged);
    json_decref(src);
    json_decref(man);
    json_decref(val);
    return rc;
}

static int step_publish(br__prun *r, json_t *step)
{
    const char *vid = json_string_value(json_object_get(earlier(r, 6), "version"));
    const json_t *gate = json_object_get(r->rec, "gate");
    char vd[4096], err[512] = "";
    size_t removed = 0;
    int rc;
    br_store_close(r->st); /* nothing reads the split database any more */
    r->st = NULL;
    if (!vid || !br_version_id_valid(vid))
        return br__prun_fail(r, BR_ECORRUPT, "the indexes step recorded no version");
    if (!json_is_true(json_object_get(gate, "passed")))
        return br__prun_fail(r, BR_EINVAL, "the gate did not pass: nothing to publish");
    /* A rerun after a crash between commit and activation finds the version there. */
    if ((rc = br_version_dir(r->o->artifacts, vid, vd, sizeof vd)))
        return br__prun_fail(r, rc, "%s: bad artifacts path", r->o->artifacts);
    if (access(vd, F_OK) == 0) {
        if ((rc = br_version_verify(r->o->artifacts, vid, NULL, err, sizeof err)))
            return br__prun_fail(r, rc, "version %s exists but is incomplete: %s", vid, err);
    } else if ((rc = import_version(r, vid))) {
        return rc;
    }
    if ((rc = br_version_activate(r->o->artifacts, vid, err, sizeof err)))
        return br__prun_fail(r, rc, "activating %s: %s", vid, err);
    br_info("pipeline: version %s is current; services reload on inotify of %s/CURRENT", vid,
            r->o->artifacts);
    if ((rc = br_version_prune(r->o->artifacts, r->o->keep_versions, &removed)))
        br_warn("pipeline: pruning old versions: %s", br_strerror(rc)); /* not fatal */
    json_t *rep = step_report(step);
    json_object_set_new(rep, "version", json_string(vid));
    json_object_set_new(rep, "pruned", json_integer((json_int_t)removed));
    json_object_set_new(rep, "reload",
                        json_string("services watch CURRENT (inotify) and reload; the CLI also "
                                    "calls pipeline.reload_url when set"));
    json_object_set_new(rep, "caches",
                        json_string("the gateway's cache keys contain the model version: a new "
                                    "version never gets the old version's entries, which age "
                                    "out"));
    json_object_set_new(r->rec, "version", json_string(vid));
    return 0;
}

const br__step_fn br__pipeline_steps[BR_PIPELINE_STEPS] = {step_export,   step_clean, step_split,
                                                           step_features, step_als,   step_subjects,
                                                           step_indexes,  step_gate,  step_publish};
