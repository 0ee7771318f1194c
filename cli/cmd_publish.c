/* bookrec publish: a model version from a trained model, made current. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/publish.h"
#include "bookrec/version.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int cmd_publish(int argc, char **argv)
{
    br_config *cfg = cli_config();
    br_publish_opts o;
    const char *v, *metrics = NULL;
    br_publish_opts_default(&o);
    o.activate = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bookrec publish [--db PATH] --model DIR [--artifacts DIR] [--id ID]\n"
                   "                       [--eval-report PATH] [--no-activate]\n\n"
                   "Builds a model version from a trained model (bookrec train --out DIR) and the\n"
                   "catalog: each model service's files (docs/artifacts.md), the HNSW and text\n"
                   "indexes, book metadata and the popular list, and manifest.json with every\n"
                   "file's checksum. The version is written aside and appears complete or not\n"
                   "at all; then CURRENT is switched to it atomically, and services watching\n"
                   "the artifacts directory reload it.\n\n"
                   "Options:\n"
                   "  --db PATH           catalog database (config db.path)\n"
                   "  --model DIR         the trained model\n"
                   "  --artifacts DIR     artifacts directory (config artifacts.dir)\n"
                   "  --id ID             version id (default: a new one, time-ordered)\n"
                   "  --eval-report PATH  bookrec eval's report, recorded as the metrics\n"
                   "  --no-activate       write the version but leave CURRENT alone\n"
                   "Served models: config serve.subject_pool and serve.prior.\n");
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--artifacts"))) {
            cli_flag(cfg, "artifacts.dir", v);
        } else if ((v = cli_opt(argc, argv, &i, "--model"))) {
            o.model_dir = v;
        } else if ((v = cli_opt(argc, argv, &i, "--id"))) {
            o.id = v;
        } else if ((v = cli_opt(argc, argv, &i, "--eval-report"))) {
            metrics = v;
        } else if (!strcmp(argv[i], "--no-activate")) {
            o.activate = 0;
        } else {
            cli_die("publish: unknown argument %s (see bookrec publish --help)", argv[i]);
        }
    }
    if (!o.model_dir)
        cli_die("publish: give --model DIR (see bookrec publish --help)");
    o.artifacts = br_config_str(cfg, "artifacts.dir");
    o.pool = br_config_str(cfg, "serve.subject_pool");
    o.prior = br_config_str(cfg, "serve.prior");
    json_t *m = NULL;
    if (metrics) {
        json_error_t je;
        if (!(m = json_load_file(metrics, 0, &je)))
            cli_die("publish: %s: %s", metrics, je.text);
        o.metrics = m;
    }
    br_store *st;
    const char *db = br_config_str(cfg, "db.path");
    if (br_store_open(db, &st) != 0)
        cli_die("cannot open database %s: %s", db, br_store_errmsg(NULL));
    char id[BR_VERSION_ID_MAX], err[1024];
    /* Written first, loaded by every service's loader, and only then made current. */
    int activate = o.activate;
    o.activate = 0;
    int rc = br_publish(st, &o, id, err, sizeof err);
    br_store_close(st);
    json_decref(m);
    if (rc)
        cli_die("publish failed: %s", err[0] ? err : br_strerror(rc));
    if (activate && cli_version_loadable(o.artifacts, id, err, sizeof err))
        cli_die("publish: version %s written but not activated: %s", id, err);
    if (activate && (rc = br_version_activate(o.artifacts, id, err, sizeof err)))
        cli_die("publish: version %s written but not activated: %s", id, err);
    o.activate = activate;
    printf("version %s written to %s/versions/%s%s\n", id, o.artifacts, id,
           o.activate ? " and made current" : "");
    br_config_free(cfg);
    return 0;
}
