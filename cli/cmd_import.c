/* bookrec import: sources -> database, with a report. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/import.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("usage: bookrec import [--db PATH] [--report-json PATH] SOURCE...\n\n"
           "Imports catalogs, readers and ratings into the database in one transaction: a\n"
           "failed import leaves the database as it was. Re-import is incremental: works keep\n"
           "their item_idx and readers their user_id.\n\n"
           "A SOURCE is a file, a directory with a known layout (Book-Crossing, goodbooks-10k,\n"
           "descriptions, Open Library, demo data), or FORMAT=PATH to name the format.\n"
           "Formats: %s\n\n"
           "Options:\n"
           "  --db PATH            SQLite database (config db.path, env BOOKREC_DB_PATH)\n"
           "  --report-json PATH   write the import report as JSON\n"
           "  --quiet              print no summary table\n"
           "Cleaning limits come from the configuration (import.*, subjects.*):\n"
           "see 'bookrec config show'. Formats and rules: docs/data.md.\n",
           br_import_formats());
}

static void print_summary(json_t *rep)
{
    static const char *keys[] = {"users",
                                 "works",
                                 "works_without_title",
                                 "editions",
                                 "ratings_kept",
                                 "editions_matched_to_metadata",
                                 "metadata_works_matched",
                                 "ratings_on_metadata_works",
                                 "works_with_subjects",
                                 "ratings_on_works_with_subjects",
                                 "subject_vocab_size",
                                 "rows_read"};
    printf("%-40s %12s\n", "total", "count");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        printf("%-40s %12lld\n", keys[i], (long long)json_integer_value(json_object_get(rep, keys[i])));
    const char *sections[] = {"rejected", "cleaned"};
    for (int s = 0; s < 2; s++) {
        json_t *obj = json_object_get(rep, sections[s]);
        const char *k;
        json_t *v;
        printf("\n%-40s %12s\n", s == 0 ? "rejected (reason)" : "cleaned (what)", "rows");
        if (!obj || json_object_size(obj) == 0)
            printf("%-40s %12s\n", "(none)", "");
        json_object_foreach(obj, k, v)
        {
            printf("%-40s %12lld\n", k, (long long)json_integer_value(v));
        }
    }
    json_t *sec = json_object_get(rep, "seconds");
    printf("\ntime %.2fs, %.0f rows/s\n", json_real_value(json_object_get(sec, "total")),
           json_real_value(json_object_get(rep, "rows_per_second")));
}

int cmd_import(int argc, char **argv)
{
    br_config *cfg = cli_config();
    const char *report_path = NULL, *v;
    const char **sources = calloc((size_t)argc, sizeof *sources);
    size_t n = 0;
    int quiet = 0;
    if (!sources)
        cli_die("out of memory");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help();
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--report-json"))) {
            report_path = v;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_die("import: unknown option %s (see bookrec import --help)", argv[i]);
        } else {
            sources[n++] = argv[i];
        }
    }
    if (n == 0)
        cli_die("import: no sources given (see bookrec import --help)");

    br_import_opts o;
    br_import_opts_default(&o);
    o.min_age = (int)br_config_int(cfg, "import.min_age");
    o.max_age = (int)br_config_int(cfg, "import.max_age");
    o.max_rows = (uint64_t)br_config_int(cfg, "import.max_rows");
    o.max_field = (size_t)br_config_int(cfg, "import.max_field_bytes");
    o.vocab_size = (size_t)br_config_int(cfg, "subjects.vocab_size");
    o.min_books = (size_t)br_config_int(cfg, "subjects.min_books");

    br_store *st;
    const char *db = br_config_str(cfg, "db.path");
    if (cli_ensure_parent(db) != 0 || br_store_open(db, &st) != 0)
        cli_die("cannot open database %s", db);
    json_t *rep = NULL;
    char err[1024];
    int rc = br_import_run(st, sources, n, &o, &rep, err, sizeof err);
    br_store_close(st);
    if (report_path && rep) {
        if (rc)
            json_object_set_new(rep, "error", json_string(err));
        if (json_dump_file(rep, report_path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
            cli_die("cannot write %s", report_path);
    }
    if (rc) {
        json_decref(rep);
        cli_die("import failed, database unchanged: %s", err);
    }
    if (!quiet)
        print_summary(rep);
    json_decref(rep);
    free(sources);
    br_config_free(cfg);
    return 0;
}
