/* Configuration: one table of known keys, each with a type, default and description.
 *
 * Values come from four sources, each overriding the one before: the default, the config
 * file, environment variables, command-line flags (docs/configuration.md). A value set
 * from a lower-ranked source than the one a key already has is validated and then
 * ignored, so the order in which the CLI loads the sources does not matter. Every entry
 * remembers its source for `bookrec config show`: "default", "file:<path>", "env:<VAR>",
 * "flag". Errors are written to err (may be NULL) with the file:line or variable name. */
#ifndef BOOKREC_CONFIG_H
#define BOOKREC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_config br_config;

enum br_config_type { BR_CFG_STRING, BR_CFG_INT, BR_CFG_DOUBLE, BR_CFG_BOOL };
/* In order of precedence, lowest first. */
enum br_config_source { BR_CFG_DEFAULT, BR_CFG_FILE, BR_CFG_ENV, BR_CFG_FLAG };

/* Limits of the config file. */
#define BR_CONFIG_MAX_FILE (1 << 20)
#define BR_CONFIG_MAX_LINE 4096

/* A config holding every default. */
int br_config_new(br_config **out);
void br_config_free(br_config *cfg);

/* The usual sequence: the file (explicit path, else $BOOKREC_CONFIG, else ./bookrec.conf
 * when it exists, else none), then the environment. An explicit or $BOOKREC_CONFIG path
 * that does not exist is an error (BR_ENOENT). The CLI applies its flags afterwards. */
int br_config_load(br_config *cfg, const char *path, char *err, size_t errcap);
/* One INI file: `key = value`, `[section]`, `#`/`;` comments, "quoted values". Returns 0,
 * BR_ENOENT (no such file), BR_EIO, BR_ELIMIT (file over 1 MiB, line over 4096 bytes),
 * BR_EFORMAT (syntax), BR_EINVAL (unknown key, bad value), BR_ERANGE or BR_ENOMEM. */
int br_config_load_file(br_config *cfg, const char *path, char *err, size_t errcap);
/* BOOKREC_<KEY> for every key (upper case, '.' -> '_'), plus aliases (BOOKREC_DATA).
 * Other BOOKREC_* variables are not ours to judge and are ignored. */
int br_config_load_env(br_config *cfg, char *err, size_t errcap);
/* Sets one key; src is BR_CFG_FILE, BR_CFG_ENV or BR_CFG_FLAG. Unknown key: BR_EINVAL;
 * value not of the key's type: BR_EINVAL; outside the key's range: BR_ERANGE. */
int br_config_set(br_config *cfg, const char *key, const char *value, enum br_config_source src,
                  char *err, size_t errcap);
/* "key=value", as given to `--set`. */
int br_config_set_pair(br_config *cfg, const char *pair, enum br_config_source src, char *err,
                       size_t errcap);
/* Path of the file br_config_load read, or NULL. */
const char *br_config_path(const br_config *cfg);

/* Getters. An unknown key or a getter of the wrong type is a programming error: they
 * print the key and abort. br_config_str works on every type (the value as written). */
const char *br_config_str(const br_config *cfg, const char *key);
int64_t br_config_int(const br_config *cfg, const char *key);
double br_config_double(const br_config *cfg, const char *key);
int br_config_bool(const br_config *cfg, const char *key);

/* The key table, for `config show` and the docs check: entry i of br_config_count(), in
 * table order. Any out-pointer may be NULL. Returns 0, BR_EINVAL (cfg NULL) or BR_ERANGE
 * (i past the end). */
size_t br_config_count(void);
int br_config_entry(const br_config *cfg, size_t i, const char **key, const char **value,
                    const char **source, const char **desc);
/* Default value of entry i as written in the table; NULL past the end. */
const char *br_config_default(size_t i);

/* Internal, for tests: parses text as a value of type within [min, max] into *i, *d or *b
 * (by type). 0, BR_EINVAL (not of the type, or empty) or BR_ERANGE. */
int br__config_parse(enum br_config_type type, double min, double max, const char *text,
                     int64_t *i, double *d, int *b);

#endif
