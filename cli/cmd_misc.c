/* Small subcommands: config show, version, demo-data. */
#include "cli.h"

#include "bookrec/demo.h"
#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>

#ifndef BOOKREC_VERSION
#define BOOKREC_VERSION "0.1.0"
#endif

int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("bookrec %s\n", BOOKREC_VERSION);
    return 0;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        strcmp(argv[1], "show") != 0) {
        printf("usage: bookrec [--config PATH] [--set key=value]... config show\n\n"
               "Prints every configuration key, its effective value and where it came from:\n"
               "default < config file (--config, $BOOKREC_CONFIG or ./bookrec.conf) <\n"
               "environment (BOOKREC_<KEY>, e.g. BOOKREC_SPLIT_SEED; BOOKREC_DATA for data.dir)\n"
               "< flags (--set key=value, or a command's own flags).\n"
               "Format and keys: docs/configuration.md.\n");
        return argc < 2 ? 2 : 0;
    }
    br_config *cfg = cli_config();
    printf("%-34s %-24s %s\n", "key", "value", "source");
    for (size_t i = 0; i < br_config_count(); i++) {
        const char *k, *v, *src, *desc;
        br_config_entry(cfg, i, &k, &v, &src, &desc);
        printf("%-34s %-24s %s\n", k, v, src);
    }
    br_config_free(cfg);
    return 0;
}

int cmd_demo_data(int argc, char **argv)
{
    br_demo_params p;
    const char *dir = NULL, *v;
    br_demo_params_default(&p);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bookrec demo-data [--seed N] [--users N] [--works N] [--ratings N] DIR\n\n"
                   "Writes a SYNTHETIC catalog into DIR in the original Book-Crossing format\n"
                   "(BX-Users.csv, BX-Books.csv, BX-Book-Ratings.csv: ';', quoted, latin-1)\n"
                   "with book_subjects.csv in the generic format and a README.txt saying it is\n"
                   "synthetic. It carries the real data's kinds of noise. Defaults: %zu users,\n"
                   "%zu works, %zu ratings, seed %llu. Import it with 'bookrec import DIR'.\n",
                   p.users, p.works, p.ratings, (unsigned long long)p.seed);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--seed"))) {
            p.seed = strtoull(v, NULL, 10);
        } else if ((v = cli_opt(argc, argv, &i, "--users"))) {
            p.users = strtoull(v, NULL, 10);
        } else if ((v = cli_opt(argc, argv, &i, "--works"))) {
            p.works = strtoull(v, NULL, 10);
        } else if ((v = cli_opt(argc, argv, &i, "--ratings"))) {
            p.ratings = strtoull(v, NULL, 10);
        } else if (argv[i][0] == '-') {
            cli_die("demo-data: unknown option %s", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        cli_die("demo-data: give the output directory (see bookrec demo-data --help)");
    int rc = br_demo_write(dir, &p);
    if (rc)
        cli_die("demo-data: cannot write %s: %s", dir, br_strerror(rc));
    printf("wrote a synthetic catalog to %s\n", dir);
    return 0;
}
