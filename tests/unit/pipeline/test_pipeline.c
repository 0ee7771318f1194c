/* Tests of the training pipeline (lib/pipeline/pipeline.c, pipeline_steps.c) and of the
 * phased trainer it uses (br_trainer_*): the run record's parser, a whole run on a small
 * synthetic catalog (published; a scrambled one blocked; resumed at the gate and after an
 * output changed), and phases run by separate trainers merging into one manifest. */
#include "harness.h"

#include "bookrec/demo.h"
#include "bookrec/error.h"
#include "bookrec/import.h"
#include "bookrec/pipeline.h"
#include "bookrec/publish.h"
#include "bookrec/split_run.h"
#include "bookrec/train.h"
#include "bookrec/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *good_record(void)
{
    return "{\"format\": \"bookrec-pipeline-run/1\", \"id\": \"20260101-000000-000-0000abcd\","
           " \"status\": \"failed\", \"steps\": ["
           "{\"name\": \"export\", \"status\": \"ok\", \"outputs\": [{\"path\": "
           "\"export/snapshot.db\", \"bytes\": 10, \"xxh64\": \"0123456789abcdef\"}]},"
           "{\"name\": \"clean\", \"status\": \"failed\"},"
           "{\"name\": \"split\", \"status\": \"pending\"},"
           "{\"name\": \"features\", \"status\": \"pending\"},"
           "{\"name\": \"als\", \"status\": \"pending\"},"
           "{\"name\": \"subjects\", \"status\": \"pending\"},"
           "{\"name\": \"indexes\", \"status\": \"pending\"},"
           "{\"name\": \"gate\", \"status\": \"pending\"},"
           "{\"name\": \"publish\", \"status\": \"pending\"}]}";
}

/* good_record() with the first occurrence of from replaced by to, parsed. */
static int parse_edit(const char *from, const char *to)
{
    char buf[4096];
    const char *g = good_record(), *at = strstr(g, from);
    json_t *j = NULL;
    if (!at)
        return 99;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - g), g, to, at + strlen(from));
    int rc = br_pipeline_run_parse(buf, strlen(buf), &j);
    json_decref(j);
    return rc;
}

TEST(pipeline_run_record_parser)
{
    json_t *j = NULL;
    const char *g = good_record();
    ASSERT_OK(br_pipeline_run_parse(g, strlen(g), &j));
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "steps")), BR_PIPELINE_STEPS);
    json_decref(j);
    ASSERT_EQ_INT(parse_edit("run/1", "run/2"), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit("0000abcd", "0000ABCD"), BR_EFORMAT);     /* not an id */
    ASSERT_EQ_INT(parse_edit("\"clean\"", "\"cleaner\""), BR_EFORMAT); /* step order */
    ASSERT_EQ_INT(parse_edit("export/snapshot.db", "../../etc/passwd"), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit("export/snapshot.db", "/etc/passwd"), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit("0123456789abcdef", "0123"), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit("\"bytes\": 10", "\"bytes\": \"10\""), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit(",{\"name\": \"publish\", \"status\": \"pending\"}", ""), BR_EFORMAT);
    ASSERT_EQ_INT(parse_edit("\"status\": \"failed\", \"steps\"", "\"steps\""), BR_EFORMAT);
    ASSERT_EQ_INT(br_pipeline_run_parse("{", 1, &j), BR_EFORMAT);
    ASSERT_TRUE(j == NULL);
    ASSERT_EQ_INT(br_pipeline_run_parse("[]", 2, &j), BR_EFORMAT);
    ASSERT_EQ_INT(br_pipeline_run_parse(NULL, 0, &j), BR_EFORMAT);
    ASSERT_EQ_STR(br_pipeline_step_name(0), "export");
    ASSERT_EQ_STR(br_pipeline_step_name(8), "publish");
    ASSERT_TRUE(br_pipeline_step_name(9) == NULL && br_pipeline_step_name(-1) == NULL);
}

TEST(pipeline_list_of_nothing)
{
    json_t *a = NULL;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/no-runs-here", br_test_tmpdir());
    ASSERT_OK(br_pipeline_list(dir, 10, &a));
    ASSERT_EQ_INT(json_array_size(a), 0);
    json_decref(a);
}

/* A small catalog, split, trained and published: the state the pipeline starts from. */
static void small_world(const char *dir, char *db, char *art, br_train_opts *to)
{
    char demo[600], model[600], err[512];
    br_demo_params dp;
    br_store *st;
    json_t *rep = NULL;
    br_demo_params_default(&dp);
    dp.users = 500, dp.works = 300, dp.ratings = 9000;
    snprintf(demo, sizeof demo, "%s/demo", dir);
    snprintf(model, sizeof model, "%s/model", dir);
    sprintf(db, "%s/t.db", dir);
    sprintf(art, "%s/art", dir);
    ASSERT_OK(br_demo_write(demo, &dp));
    ASSERT_OK(br_store_open(db, &st));
    const char *src[] = {demo};
    ASSERT_OK(br_import_run(st, src, 1, NULL, &rep, err, sizeof err));
    json_decref(rep);
    br_split_run_opts so;
    br_split_run_opts_default(&so);
    ASSERT_OK(br_split_run(st, &so, NULL, err, sizeof err));
    br_train_opts_default(to);
    to->als.factors = 8, to->als.iterations = 3;
    to->semb.dim = 8, to->semb.epochs = 1;
    to->pools = 1u << BR_SEMB_POOL_PERDIM;
    ASSERT_OK(br_train_run(st, to, model, NULL, err, sizeof err));
    br_publish_opts po;
    br_publish_opts_default(&po);
    po.artifacts = art;
    po.model_dir = model;
    po.activate = 1;
    ASSERT_OK(br_publish(st, &po, NULL, err, sizeof err));
    br_store_close(st);
}

static const char *status_of(const json_t *run)
{
    return json_string_value(json_object_get(run, "status"));
}

TEST(pipeline_publishes_blocks_and_resumes)
{
    char dir[512], db[600], art[600], runs[600], err[1024], v0[BR_VERSION_ID_MAX],
        v[BR_VERSION_ID_MAX], path[1200];
    br_train_opts to;
    snprintf(dir, sizeof dir, "%s/pipe", br_test_tmpdir());
    small_world(dir, db, art, &to);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    ASSERT_OK(br_version_current(art, v0, sizeof v0));

    br_pipeline_opts o;
    br_pipeline_opts_default(&o);
    o.db = db, o.artifacts = art, o.runs = runs;
    o.train = to;
    o.warm_epochs = 1;
    o.boot_resamples = 20;
    o.gate_margin = 0.05; /* a tiny catalog: small changes move recall */
    json_t *run = NULL;
    ASSERT_OK(br_pipeline_run(&o, &run, err, sizeof err));
    ASSERT_EQ_STR(status_of(run), "published");
    ASSERT_OK(br_version_current(art, v, sizeof v));
    ASSERT_TRUE(strcmp(v, v0) != 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(run, "version")), v);
    const json_t *gate = json_object_get(run, "gate");
    ASSERT_TRUE(json_is_true(json_object_get(gate, "passed")));
    ASSERT_EQ_STR(json_string_value(json_object_get(gate, "fold")), "val");
    ASSERT_EQ_STR(json_string_value(json_object_get(gate, "current_version")), v0);
    /* The manifest carries the gate's report and the watermark. */
    json_t *man = NULL;
    ASSERT_OK(br_version_manifest(art, v, &man));
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(man, "metrics"), "recall@30")),
                json_number_value(json_object_get(gate, "recall@30")), 1e-12);
    ASSERT_TRUE(json_is_object(json_object_get(json_object_get(man, "pipeline"), "watermark")));
    json_decref(man);
    /* Every step ok, timed, with outputs where it writes files; the database copies gone. */
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(run, "steps"), i, s)
    {
        ASSERT_EQ_STR(json_string_value(json_object_get(s, "status")), "ok");
        ASSERT_TRUE(json_number_value(json_object_get(s, "seconds")) >= 0);
        if (i < 8)
            ASSERT_CMP_INT(json_array_size(json_object_get(s, "outputs")), >, 0);
    }
    snprintf(path, sizeof path, "%s/%s/split/catalog.db", runs,
             json_string_value(json_object_get(run, "id")));
    struct stat sb;
    ASSERT_TRUE(stat(path, &sb) != 0);
    json_decref(run);

    /* Scrambled factors: blocked, CURRENT unchanged, no version added. */
    char **ids;
    size_t n_before, n_after;
    ASSERT_OK(br_version_list(art, &ids, &n_before));
    free(ids);
    o.train.test_scramble = 1;
    ASSERT_OK(br_pipeline_run(&o, &run, err, sizeof err));
    ASSERT_EQ_STR(status_of(run), "blocked");
    ASSERT_EQ_STR(json_string_value(json_object_get(run, "failed_step")), "gate");
    ASSERT_TRUE(strstr(err, "quality gate") != NULL);
    char now[BR_VERSION_ID_MAX];
    ASSERT_OK(br_version_current(art, now, sizeof now));
    ASSERT_EQ_STR(now, v);
    ASSERT_OK(br_version_list(art, &ids, &n_after));
    free(ids);
    ASSERT_EQ_INT(n_after, n_before);
    char id[BR_VERSION_ID_MAX];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(run, "id")));
    double als_started = json_number_value(
        json_object_get(json_array_get(json_object_get(run, "steps"), 4), "started_at"));
    json_decref(run);

    /* The listing: newest first. */
    json_t *all = NULL;
    ASSERT_OK(br_pipeline_list(runs, 10, &all));
    ASSERT_EQ_INT(json_array_size(all), 2);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(all, 0), "id")), id);
    json_decref(all);

    /* Resumed with the comparison off and no floor: only the gate and publish run. */
    o.train.test_scramble = 0;
    o.gate_floor = 0, o.gate_margin = 1;
    ASSERT_OK(br_pipeline_resume(&o, id, &run, err, sizeof err));
    ASSERT_EQ_STR(status_of(run), "published");
    ASSERT_EQ_STR(json_string_value(json_object_get(run, "resumed_at")), "gate");
    ASSERT_NEAR(json_number_value(json_object_get(json_array_get(json_object_get(run, "steps"), 4),
                                                  "started_at")),
                als_started, 1e-9);
    ASSERT_OK(br_version_current(art, now, sizeof now));
    ASSERT_TRUE(strcmp(now, v) != 0);
    json_decref(run);
    /* A published run is left alone. */
    ASSERT_OK(br_pipeline_resume(&o, id, &run, err, sizeof err));
    ASSERT_EQ_STR(status_of(run), "published");
    json_decref(run);
    ASSERT_EQ_INT(br_pipeline_resume(&o, "../../etc", &run, err, sizeof err), BR_EINVAL);
    ASSERT_EQ_INT(br_pipeline_resume(&o, "20000101-000000-000-00000000", &run, err, sizeof err),
                  BR_ENOENT);
    json_decref(run);
}

TEST(pipeline_reruns_from_a_changed_output)
{
    char dir[512], db[600], art[600], runs[600], err[1024], path[1200];
    br_train_opts to;
    snprintf(dir, sizeof dir, "%s/pipe2", br_test_tmpdir());
    small_world(dir, db, art, &to);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    br_pipeline_opts o;
    br_pipeline_opts_default(&o);
    o.db = db, o.artifacts = art, o.runs = runs;
    o.train = to;
    o.warm_epochs = 1;
    o.boot_resamples = 20;
    o.gate_floor = 1; /* unreachable: blocked, so the run stays resumable */
    json_t *run = NULL;
    ASSERT_OK(br_pipeline_run(&o, &run, err, sizeof err));
    ASSERT_EQ_STR(status_of(run), "blocked");
    char id[BR_VERSION_ID_MAX];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(run, "id")));
    json_decref(run);
    /* The ALS factors changed on disk: ALS and everything after it run again. */
    snprintf(path, sizeof path, "%s/%s/model/item_factors.npy", runs, id);
    FILE *f = fopen(path, "ab");
    ASSERT_TRUE(f != NULL);
    fputs("x", f);
    fclose(f);
    ASSERT_OK(br_pipeline_resume(&o, id, &run, err, sizeof err));
    ASSERT_EQ_STR(json_string_value(json_object_get(run, "resumed_at")), "als");
    ASSERT_EQ_STR(status_of(run), "blocked");
    ASSERT_EQ_INT(json_integer_value(json_object_get(run, "attempts")), 2);
    json_decref(run);
    /* A missing run directory's database: the split step's output is gone, so it reruns
     * from there (it needs the clean step's copy, which is still there). */
    snprintf(path, sizeof path, "%s/%s/split/catalog.db", runs, id);
    ASSERT_OK(remove(path) == 0 ? 0 : BR_EIO);
    ASSERT_OK(br_pipeline_resume(&o, id, &run, err, sizeof err));
    ASSERT_EQ_STR(json_string_value(json_object_get(run, "resumed_at")), "split");
    json_decref(run);
}

TEST(trainer_phases_in_separate_trainers_merge_one_manifest)
{
    char dir[512], db[600], art[600], model[600], err[512], path[700];
    br_train_opts to;
    br_store *st;
    br_trainer *t = NULL;
    snprintf(dir, sizeof dir, "%s/phases", br_test_tmpdir());
    small_world(dir, db, art, &to);
    snprintf(model, sizeof model, "%s/phased", dir);
    ASSERT_OK(br_store_open(db, &st));
    ASSERT_OK(br_trainer_new(st, &to, model, &t, err, sizeof err));
    ASSERT_OK(br_trainer_popularity(t, err, sizeof err));
    ASSERT_OK(br_trainer_als(t, err, sizeof err));
    ASSERT_EQ_INT(json_array_size(br_trainer_files(t)), 5);
    br_trainer_free(t);
    /* A second process, as a resumed pipeline: it adds the subject model. */
    to.warm_dir = NULL;
    ASSERT_OK(br_trainer_new(st, &to, model, &t, err, sizeof err));
    ASSERT_OK(br_trainer_subjects(t, err, sizeof err));
    br_trainer_free(t);
    br_trainer_free(NULL);
    snprintf(path, sizeof path, "%s/manifest.json", model);
    json_t *m = json_load_file(path, 0, NULL);
    ASSERT_TRUE(m != NULL);
    json_t *files = json_object_get(m, "files");
    int have_pop = 0, have_als = 0, have_subj = 0;
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        have_pop |= !strcmp(n, "popularity_count.npy");
        have_als |= !strcmp(n, "item_factors.npy");
        have_subj |= !strcmp(n, "subject_perdim/book_vectors.npy");
    }
    ASSERT_TRUE(have_pop && have_als && have_subj);
    ASSERT_TRUE(json_is_object(json_object_get(json_object_get(m, "training"), "als")));
    ASSERT_TRUE(json_is_object(json_object_get(json_object_get(m, "training"), "subject")));
    json_decref(m);
    /* A warm start from a version's embedder files takes the three serving tensors. */
    char cur[BR_VERSION_ID_MAX], vd[900], warm[1000];
    ASSERT_OK(br_version_current(art, cur, sizeof cur));
    ASSERT_OK(br_version_dir(art, cur, vd, sizeof vd));
    snprintf(warm, sizeof warm, "%s/embedder", vd);
    to.warm_dir = warm;
    ASSERT_OK(br_trainer_new(st, &to, model, &t, err, sizeof err));
    ASSERT_OK(br_trainer_subjects(t, err, sizeof err));
    br_trainer_free(t);
    m = json_load_file(path, 0, NULL);
    json_t *pd =
        json_object_get(json_object_get(json_object_get(m, "training"), "subject"), "perdim");
    ASSERT_EQ_INT(json_integer_value(json_object_get(pd, "warm_started_tensors")), 3);
    json_decref(m);
    br_store_close(st);
}
