/* Configuration loading and flag helpers shared by the subcommands. */
#include "cli.h"

#include "bookrec/log.h"
#include "service.h"

#include "bookrec/log.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

const char *cli_config_path;
static const char *g_sets[64];
static int g_nsets;

void cli_add_set(const char *pair)
{
    if (g_nsets == (int)(sizeof g_sets / sizeof g_sets[0]))
        cli_die("too many --set flags (limit 64)");
    g_sets[g_nsets++] = pair;
}

void cli_die_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bookrec: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (getenv("BOOKREC_DEBUG"))
        fprintf(stderr, " (%s:%d)", file, line);
    fputc('\n', stderr);
    exit(1);
}

br_config *cli_config(void)
{
    br_config *cfg;
    char err[512];
    if (br_config_new(&cfg) != 0)
        cli_die("out of memory");
    if (br_config_load(cfg, cli_config_path, err, sizeof err) != 0)
        cli_die("%s", err);
    for (int i = 0; i < g_nsets; i++)
        if (br_config_set_pair(cfg, g_sets[i], BR_CFG_FLAG, err, sizeof err) != 0)
            cli_die("--set %s: %s", g_sets[i], err);
    const char *lvl = br_config_str(cfg, "log.level");
    static const char *levels[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(lvl, levels[i]))
            br_log_set_level((enum br_log_level)i);
    return cfg;
}

void cli_flag(br_config *cfg, const char *key, const char *value)
{
    char err[512];
    if (br_config_set(cfg, key, value, BR_CFG_FLAG, err, sizeof err) != 0)
        cli_die("%s", err);
}

const char *cli_opt(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != 0)
        return NULL;
    if (*i + 1 >= argc)
        cli_die("%s needs a value", name);
    (*i)++;
    return argv[*i];
}

int cli_ensure_parent(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = 0;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int cli_version_loadable(const char *artifacts, const char *id, char *err, size_t errcap)
{
    br_service_opts o = {.artifacts = artifacts, .grace_ms = 0};
    int rc = 0;
    enum br_log_level level = br_log_get_level();
    br_log_set_level(BR_LOG_ERROR); /* the caller reports the refusal, in one line */
    for (int r = 0; r < BR_ROLE_COUNT && !rc; r++) {
        br_service *s;
        char e[512] = "";
        if ((rc = br_service_new((enum br_role_id)r, &o, &s)))
            break;
        if ((rc = br_service_load_version(s, id, e, sizeof e)))
            snprintf(err, errcap, "the %s service cannot load it: %s",
                     br_role_name((enum br_role_id)r), e);
        br_service_free(s);
    }
    br_log_set_level(level);
    return rc;
}
