/* Shared pieces of the bookrec command-line tool. */
#ifndef BOOKREC_CLI_H
#define BOOKREC_CLI_H

#include "bookrec/config.h"

#include <stdio.h>

int cmd_import(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_demo_data(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_publish(int argc, char **argv); /* cmd_publish.c */
int cmd_versions(int argc, char **argv); /* cmd_versions.c */
int cmd_serve(int argc, char **argv);   /* cmd_serve.c */
int cmd_users(int argc, char **argv);   /* cmd_users.c */
int cmd_pipeline(int argc, char **argv); /* cmd_pipeline.c */

extern const char *cli_config_path;
void cli_add_set(const char *pair);

/* Loads defaults, file, environment and the global --set flags; exits with a
 * one-line message on error. */
br_config *cli_config(void);
/* Applies one flag value to a key (source "flag"); exits on a bad value. */
void cli_flag(br_config *cfg, const char *key, const char *value);

/* Fails fast with file:line and a hint (llm.c's mallocCheck style). */
#define cli_die(...) cli_die_at(__FILE__, __LINE__, __VA_ARGS__)
void cli_die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Flag parsing: returns the value of --name VALUE or --name=VALUE at argv[*i]
 * (advancing *i), or NULL when argv[*i] is not that flag. */
const char *cli_opt(int argc, char **argv, int *i, const char *name);

/* Loads version id with every model service's loader, in process, as the services will
 * after a switch: checksums, and every file's shape against the manifest and the others.
 * 0, or non-zero with the first refusal in err. */
int cli_version_loadable(const char *artifacts, const char *id, char *err, size_t errcap);

/* Creates the parent directory of a file path when missing. */
int cli_ensure_parent(const char *path);

#endif
