/* bookrec: one binary, subcommands. Each subcommand parses its own flags and
 * has --help. Configuration: defaults < config file < BOOKREC_* environment <
 * flags (see docs/configuration.md). The CLI may fail fast; the library never
 * exits. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cmd {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} cmds[] = {
    {"import", "import catalogs, readers and ratings into the database", cmd_import},
    {"split", "make (or keep) the frozen evaluation split; compute train-only features",
     cmd_split},
    {"train", "train ALS, the subject-embedding models and popularity on the train split",
     cmd_train},
    {"eval", "evaluate a trained model (or external factors/rankings) on the split", cmd_eval},
    {"publish", "build a model version from a trained model and make it current", cmd_publish},
    {"versions", "list, show, activate, roll back and prune model versions", cmd_versions},
    {"serve", "run the gateway and the model services (one role, or all in one process)",
     cmd_serve},
    {"users", "create an account, or attach a login to an imported reader", cmd_users},
    {"pipeline", "run the daily training pipeline (run, resume, status)", cmd_pipeline},
    {"demo-data", "write a synthetic Book-Crossing-format catalog (for machines without data)",
     cmd_demo_data},
    {"config", "show the effective configuration and where each value came from", cmd_config},
    {"version", "print the version", cmd_version},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bookrec [--config PATH] [--set key=value]... COMMAND [ARGS]\n\n"
               "bookrec is a hybrid book recommender. Commands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun 'bookrec COMMAND --help' for a command's options.\n"
               "Configuration: docs/configuration.md; data sources: docs/data.md.\n");
}

int main(int argc, char **argv)
{
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cli_config_path = argv[i + 1];
            i += 2;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            cli_add_set(argv[i + 1]);
            i += 2;
        } else {
            fprintf(stderr, "bookrec: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++)
        if (!strcmp(argv[i], cmds[c].name))
            return cmds[c].run(argc - i, argv + i);
    fprintf(stderr, "bookrec: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
