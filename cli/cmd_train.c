/* bookrec train and bookrec eval. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/evaluate.h"
#include "bookrec/split.h"
#include "bookrec/train.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static br_store *open_db(br_config *cfg)
{
    br_store *st;
    const char *db = br_config_str(cfg, "db.path");
    if (br_store_open(db, &st) != 0)
        cli_die("cannot open database %s: %s", db, br_store_errmsg(NULL));
    return st;
}

int cmd_train(int argc, char **argv)
{
    br_config *cfg = cli_config();
    const char *out = NULL, *v;
    unsigned pools = 0;
    unsigned long long seed = 42;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bookrec train [--db PATH] --out DIR [--pool perdim|scalar|mean]...\n\n"
                   "Trains every model on the train fold of the active split (bookrec split):\n"
                   "ALS (readers with at least models.warm_min_ratings train interactions),\n"
                   "the subject-embedding models (one per pooling kind: per-dimension attention,\n"
                   "scalar attention, mean), and popularity. Writes DIR/*.npy (numpy-readable),\n"
                   "DIR/subject_<pool>/ and DIR/manifest.json.\n\n"
                   "Options:\n"
                   "  --db PATH     SQLite database (config db.path)\n"
                   "  --out DIR     output directory (created)\n"
                   "  --pool KIND   train only these pooling kinds (repeatable; default all)\n"
                   "  --seed N      seed of ALS and the subject models (default 42)\n"
                   "Model settings: config keys als.*, subject.*, popularity.bayes_m,\n"
                   "models.warm_min_ratings (bookrec config show).\n");
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--out"))) {
            out = v;
        } else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
            char *end;
            seed = strtoull(v, &end, 10);
            if (!*v || *end)
                cli_die("train: --seed takes a non-negative integer, not %s", v);
            have_seed = 1;
        } else if ((v = cli_opt(argc, argv, &i, "--pool"))) {
            br_semb_pool_kind k;
            if (br_semb_pool_parse(v, &k) != 0)
                cli_die("train: unknown pooling kind %s (perdim, scalar or mean)", v);
            pools |= 1u << k;
        } else {
            cli_die("train: unknown argument %s (see bookrec train --help)", argv[i]);
        }
    }
    if (!out)
        cli_die("train: give --out DIR (see bookrec train --help)");
    br_train_opts o;
    br_train_opts_default(&o);
    if (pools)
        o.pools = pools;
    o.warm_min = (size_t)br_config_int(cfg, "models.warm_min_ratings");
    o.min_item = (size_t)br_config_int(cfg, "train.min_item_interactions");
    o.bayes_m = br_config_double(cfg, "popularity.bayes_m");
    o.als.factors = (size_t)br_config_int(cfg, "als.factors");
    o.als.regularization = (float)br_config_double(cfg, "als.regularization");
    o.als.iterations = (int)br_config_int(cfg, "als.iterations");
    o.als.alpha = (float)br_config_double(cfg, "als.alpha");
    o.als.cg_steps = (int)br_config_int(cfg, "als.cg_steps");
    const char *w = br_config_str(cfg, "als.weighting");
    if (!strcmp(w, "constant"))
        o.als.weighting = BR_ALS_W_CONSTANT;
    else if (!strcmp(w, "rating"))
        o.als.weighting = BR_ALS_W_RATING;
    else
        cli_die("als.weighting must be constant or rating, not %s", w);
    o.semb.dim = (size_t)br_config_int(cfg, "subject.dim");
    o.semb.epochs = (size_t)br_config_int(cfg, "subject.epochs");
    o.semb.max_set = (size_t)br_config_int(cfg, "subject.max_set");
    o.semb.batch = (size_t)br_config_int(cfg, "subject.batch");
    o.generic_positives = br_config_bool(cfg, "subject.generic_positives");

    if (have_seed)
        o.als.seed = o.semb.seed = seed;
    br_store *st = open_db(cfg);
    char err[1024];
    json_t *m = NULL;
    int rc = br_train_run(st, &o, out, &m, err, sizeof err);
    br_store_close(st);
    if (rc)
        cli_die("train failed: %s", err[0] ? err : br_strerror(rc));
    printf("trained models written to %s (split %s)\n", out,
           json_string_value(json_object_get(m, "split_id")));
    json_decref(m);
    br_config_free(cfg);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    br_config *cfg = cli_config();
    br_evaluate_opts o;
    const char *report = NULL, *v;
    br_evaluate_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bookrec eval [--db PATH] (--model DIR | --user-factors U.npy\n"
                   "                    --item-factors V.npy [--user-ids R.npy] [--item-ids\n"
                   "                    I.npy] | --rankings CSV) [--name NAME] --report-json PATH\n\n"
                   "Evaluates on the active split (the one bookrec split --export wrote):\n"
                   "  warm        readers in the model, their test-fold books held out;\n"
                   "  cold        cold readers: favorite subjects from half their books, the\n"
                   "              other half held out (prior of the blend chosen on a separate\n"
                   "              tuning half of them);\n"
                   "  similarity  books by the same author as the weak ground truth.\n"
                   "Metrics at K = 10, 30, 100 with bootstrap intervals (docs/evaluation.md).\n\n"
                   "External models are scored on the warm protocol with the same code:\n"
                   "  --user-factors/--item-factors  float32 .npy; rows are user_id / item_idx\n"
                   "                 unless --user-ids / --item-ids (.npy int32/int64) map them\n"
                   "  --rankings CSV  user,item_idx,rank (e.g. from another library)\n"
                   "  --name NAME     the model's name in the report (default external)\n"
                   "  --fold F        fold held out by the warm protocol: test (default) or\n"
                   "                  val (for choosing models; the pipeline's gate uses it)\n");
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--model"))) {
            o.model_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--report-json"))) {
            report = v;
        } else if ((v = cli_opt(argc, argv, &i, "--user-factors"))) {
            o.user_factors = v;
        } else if ((v = cli_opt(argc, argv, &i, "--item-factors"))) {
            o.item_factors = v;
        } else if ((v = cli_opt(argc, argv, &i, "--user-ids"))) {
            o.user_ids = v;
        } else if ((v = cli_opt(argc, argv, &i, "--item-ids"))) {
            o.item_ids = v;
        } else if ((v = cli_opt(argc, argv, &i, "--rankings"))) {
            o.rankings = v;
        } else if ((v = cli_opt(argc, argv, &i, "--name"))) {
            o.external_name = v;
        } else if ((v = cli_opt(argc, argv, &i, "--fold"))) {
            if (strcmp(v, "test") && strcmp(v, "val"))
                cli_die("eval: --fold takes test or val, not %s", v);
            o.fold = !strcmp(v, "val") ? BR_FOLD_VAL : BR_FOLD_TEST;
        } else {
            cli_die("eval: unknown argument %s (see bookrec eval --help)", argv[i]);
        }
    }
    if (!report)
        cli_die("eval: give --report-json PATH (see bookrec eval --help)");
    o.boot.resamples = (uint32_t)br_config_int(cfg, "eval.bootstrap");
    br_store *st = open_db(cfg);
    char err[1024];
    json_t *rep = NULL;
    int rc = br_evaluate_run(st, &o, &rep, err, sizeof err);
    br_store_close(st);
    if (rc)
        cli_die("eval failed: %s", err[0] ? err : br_strerror(rc));
    if (json_dump_file(rep, report, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        cli_die("cannot write %s", report);
    /* A short table: recall@30 and ndcg@10 per model and protocol. */
    printf("%-28s %-11s %8s %8s %8s\n", "model", "protocol", "users", "rec@30", "ndcg@10");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rep, "results"), i, r)
    {
        json_int_t k = json_integer_value(json_object_get(r, "k"));
        if (k != 30)
            continue;
        const char *model = json_string_value(json_object_get(r, "model"));
        const char *proto = json_string_value(json_object_get(r, "protocol"));
        double ndcg10 = 0;
        size_t j;
        json_t *q;
        json_array_foreach(json_object_get(rep, "results"), j, q)
        {
            if (json_integer_value(json_object_get(q, "k")) == 10 && model && proto &&
                !strcmp(model, json_string_value(json_object_get(q, "model"))) &&
                !strcmp(proto, json_string_value(json_object_get(q, "protocol"))))
                ndcg10 = json_number_value(json_object_get(q, "ndcg"));
        }
        printf("%-28s %-11s %8lld %8.4f %8.4f\n", model, proto,
               (long long)json_integer_value(json_object_get(r, "users")),
               json_number_value(json_object_get(r, "recall")), ndcg10);
    }
    printf("report: %s\n", report);
    json_decref(rep);
    br_config_free(cfg);
    return 0;
}
