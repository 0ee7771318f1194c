/* bookrec split: the frozen evaluation split and train-only features. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/split_run.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: bookrec split [--db PATH] [--seed N] [--resplit] [--export DIR]\n\n"
           "Makes the evaluation split (or keeps the active one: splits are frozen) and\n"
           "computes from the train fold only: per-user and per-book aggregates, favorite\n"
           "subjects of imported readers and popularity. Protocol: docs/evaluation.md.\n\n"
           "Options:\n"
           "  --db PATH      SQLite database (config db.path)\n"
           "  --seed N       seed of a new split (config split.seed)\n"
           "  --resplit      make a new split even if one is active\n"
           "  --export DIR   write DIR/{train,val,test,cold}.csv (user,item_idx,rating) and\n"
           "                 DIR/split.json, so other tools use the identical split\n"
           "Split fractions and thresholds: config keys split.* (bookrec config show).\n");
}

int cmd_split(int argc, char **argv)
{
    br_config *cfg = cli_config();
    br_split_run_opts o;
    const char *v, *export_dir = NULL;
    br_split_run_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help();
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
            cli_flag(cfg, "split.seed", v);
        } else if ((v = cli_opt(argc, argv, &i, "--export"))) {
            export_dir = v;
        } else if (!strcmp(argv[i], "--resplit")) {
            o.resplit = 1;
        } else {
            cli_die("split: unknown argument %s (see bookrec split --help)", argv[i]);
        }
    }
    o.split.seed = (uint64_t)br_config_int(cfg, "split.seed");
    o.split.cold_frac = br_config_double(cfg, "split.cold_frac");
    o.split.val_frac = br_config_double(cfg, "split.val_frac");
    o.split.test_frac = br_config_double(cfg, "split.test_frac");
    o.split.cold_min_interactions = (uint32_t)br_config_int(cfg, "split.cold_min_interactions");
    o.split.holdout_min_interactions =
        (uint32_t)br_config_int(cfg, "split.holdout_min_interactions");
    o.favsub.k = (size_t)br_config_int(cfg, "features.fav_subjects_k");
    o.pop.m = br_config_double(cfg, "popularity.bayes_m");

    br_store *st;
    const char *db = br_config_str(cfg, "db.path");
    if (br_store_open(db, &st) != 0)
        cli_die("cannot open database %s: %s", db, br_store_errmsg(NULL));
    json_t *sum = NULL;
    char err[1024] = "";
    int rc = br_split_run(st, &o, &sum, err, sizeof err);
    if (rc) {
        br_store_close(st);
        cli_die("split failed, database unchanged: %s", err);
    }
    if (export_dir && (rc = br_split_export(st, export_dir, err, sizeof err)) != 0) {
        br_store_close(st);
        cli_die("split --export: %s", err);
    }
    br_store_close(st);
    char *text = json_dumps(sum, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", text ? text : "{}");
    if (export_dir)
        printf("exported folds to %s\n", export_dir);
    free(text);
    json_decref(sum);
    br_config_free(cfg);
    return 0;
}
