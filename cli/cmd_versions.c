/* bookrec versions: list, show, verify, activate, roll back and prune the model versions
 * of an artifacts directory (the registry of lib/artifact/version.c, docs/artifacts.md).
 * Every id typed by the user is checked with br_version_id_valid before it is used; every
 * failure is one line on stderr and exit status 1. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/version.h"

#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const usage_text =
    "usage: bookrec versions [--artifacts DIR] COMMAND [ARGS]\n\n"
    "The model versions under DIR/versions/ (default: config artifacts.dir):\n"
    "  list [--json]          one line per version (* marks CURRENT)\n"
    "  show ID [--verify]     the manifest; --verify checks every file's size and xxh64\n"
    "  activate ID            verify ID, then point CURRENT at it\n"
    "  rollback               activate the version that was current before (per HISTORY)\n"
    "  prune --keep N         remove the oldest versions beyond N (never CURRENT nor the\n"
    "                         previous one) and staging directories idle for an hour\n"
    "Each command takes --help. See docs/artifacts.md.\n";

struct ctx {
    br_config *cfg;
    const char *artifacts; /* from --artifacts, else the config */
};

static void want_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(text, stdout);
            exit(0);
        }
}

/* Resolves and checks the artifacts directory (once the command line is parsed). */
static const char *artifacts_dir(struct ctx *c)
{
    struct stat st;
    if (!c->artifacts) {
        c->cfg = cli_config();
        c->artifacts = br_config_str(c->cfg, "artifacts.dir");
    }
    if (stat(c->artifacts, &st) != 0 || !S_ISDIR(st.st_mode))
        cli_die("versions: no artifacts directory %s (config artifacts.dir or --artifacts DIR)",
                c->artifacts);
    return c->artifacts;
}

static void check_id(const char *cmd, const char *id)
{
    if (!br_version_id_valid(id))
        cli_die("versions %s: not a version id: %.80s (ids look like "
                "20240501-120000-123-0123abcd)",
                cmd, id);
}

/* Dies with the reason a version cannot be used. */
static void die_version(const char *cmd, const char *dir, const char *id, int rc,
                        const char *err)
{
    if (rc == BR_ENOENT && !strstr(err, "manifest"))
        cli_die("versions %s: no version %s in %s", cmd, id, dir);
    cli_die("versions %s: version %s is unusable: %s", cmd, id, err[0] ? err : br_strerror(rc));
}

static uint64_t g_du;

static int du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F && S_ISREG(sb->st_mode))
        g_du += (uint64_t)sb->st_size;
    return 0;
}

static uint64_t dir_size(const char *artifacts, const char *id)
{
    char dir[4096];
    g_du = 0;
    if (br_version_dir(artifacts, id, dir, sizeof dir) == 0)
        nftw(dir, du_entry, 16, FTW_PHYS);
    return g_du;
}

static void human_size(uint64_t b, char *buf, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

static void format_time(const json_t *t, char *buf, size_t cap)
{
    if (json_is_integer(t)) {
        time_t s = (time_t)json_integer_value(t);
        struct tm tm;
        if (gmtime_r(&s, &tm) && strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
            return;
    }
    snprintf(buf, cap, "%.40s", json_is_string(t) ? json_string_value(t) : "-");
}

/* metrics."recall@30": at the top of metrics, else the first found in nested objects
 * (e.g. metrics.warm."recall@30"). */
static const json_t *find_recall30(const json_t *o, int depth)
{
    const json_t *v = json_object_get(o, "recall@30");
    if (json_is_number(v))
        return v;
    if (depth >= 3)
        return NULL;
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)o, k, sub)
    {
        if (json_is_object(sub) && (v = find_recall30(sub, depth + 1)))
            return v;
    }
    return NULL;
}

static int cmd_list(struct ctx *c, int argc, char **argv)
{
    int as_json = 0;
    want_help(argc, argv,
              "usage: bookrec versions [--artifacts DIR] list [--json]\n\n"
              "One line per version, oldest first: id, created_at (UTC), split id,\n"
              "recall@30 from the manifest's metrics when present, size on disk; * marks\n"
              "CURRENT. --json prints a JSON array of {id, current, created_at, split_id,\n"
              "recall_at_30, size_bytes} (error instead of the manifest fields when the\n"
              "manifest is unreadable).\n");
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if ((v = cli_opt(argc, argv, &i, "--artifacts")))
            c->artifacts = v;
        else
            cli_die("versions list: unknown argument %s (see bookrec versions list --help)",
                    argv[i]);
    }
    const char *dir = artifacts_dir(c);
    char **ids, cur[BR_VERSION_ID_MAX] = "";
    size_t n;
    int rc = br_version_list(dir, &ids, &n);
    if (rc)
        cli_die("versions list: cannot list %s: %s", dir, br_strerror(rc));
    if (br_version_current(dir, cur, sizeof cur) != 0)
        cur[0] = 0;
    json_t *arr = as_json ? json_array() : NULL;
    if (as_json && !arr)
        cli_die("out of memory");
    if (!as_json && n == 0)
        printf("no versions in %s\n", dir);
    else if (!as_json)
        printf("  %-28s  %-20s  %-24s  %-9s  %s\n", "ID", "CREATED", "SPLIT", "RECALL@30",
               "SIZE");
    for (size_t i = 0; i < n; i++) {
        json_t *m = NULL;
        int mrc = br_version_manifest(dir, ids[i], &m);
        int is_cur = !strcmp(ids[i], cur);
        uint64_t size = dir_size(dir, ids[i]);
        const json_t *r30 = m ? find_recall30(json_object_get(m, "metrics"), 0) : NULL;
        const char *split = m ? json_string_value(json_object_get(m, "split_id")) : NULL;
        if (as_json) {
            json_t *o = json_pack("{s:s, s:b, s:I}", "id", ids[i], "current", is_cur,
                                  "size_bytes", (json_int_t)size);
            if (!o)
                cli_die("out of memory");
            if (m) {
                json_t *t = json_object_get(m, "created_at");
                json_object_set(o, "created_at", t ? t : json_null());
                json_object_set_new(o, "split_id", split ? json_string(split) : json_null());
                json_object_set(o, "recall_at_30", r30 ? (json_t *)r30 : json_null());
            } else {
                json_object_set_new(o, "error", json_string(br_strerror(mrc)));
            }
            json_array_append_new(arr, o);
        } else {
            char when[48], rec[32], sz[32];
            format_time(m ? json_object_get(m, "created_at") : NULL, when, sizeof when);
            if (r30)
                snprintf(rec, sizeof rec, "%.4f", json_number_value(r30));
            else
                snprintf(rec, sizeof rec, "-");
            human_size(size, sz, sizeof sz);
            if (m)
                printf("%c %-28s  %-20s  %-24.40s  %-9s  %s\n", is_cur ? '*' : ' ', ids[i], when,
                       split ? split : "-", rec, sz);
            else
                printf("%c %-28s  (manifest unreadable: %s)\n", is_cur ? '*' : ' ', ids[i],
                       br_strerror(mrc));
        }
        json_decref(m);
    }
    if (as_json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(arr);
    }
    free(ids);
    return 0;
}

static int cmd_show(struct ctx *c, int argc, char **argv)
{
    const char *id = NULL, *v;
    int verify = 0;
    want_help(argc, argv,
              "usage: bookrec versions [--artifacts DIR] show ID [--verify]\n\n"
              "Prints the manifest of version ID. --verify also checks that every listed\n"
              "file exists with its recorded size and xxh64, and prints OK or what is\n"
              "wrong (exit status 1).\n");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verify"))
            verify = 1;
        else if ((v = cli_opt(argc, argv, &i, "--artifacts")))
            c->artifacts = v;
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else
            cli_die("versions show: unknown argument %s (see bookrec versions show --help)",
                    argv[i]);
    }
    if (!id)
        cli_die("versions show: give a version id (bookrec versions list)");
    check_id("show", id);
    const char *dir = artifacts_dir(c);
    char err[1024] = "";
    json_t *m;
    int rc = br_version_manifest(dir, id, &m);
    if (rc) {
        /* verify stops at the same manifest check and says why. */
        rc = br_version_verify(dir, id, NULL, err, sizeof err);
        die_version("show", dir, id, rc ? rc : BR_EIO, err);
    }
    json_dumpf(m, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    size_t nfiles = json_array_size(json_object_get(m, "files"));
    json_decref(m);
    if (!verify)
        return 0;
    fflush(stdout);
    rc = br_version_verify(dir, id, NULL, err, sizeof err);
    if (rc)
        cli_die("versions show: verify FAILED: %s", err[0] ? err : br_strerror(rc));
    printf("verify: OK (%zu files)\n", nfiles);
    return 0;
}

static void current_or(const char *dir, char *buf, size_t cap)
{
    int rc = br_version_current(dir, buf, cap);
    if (rc)
        snprintf(buf, cap, "%s", rc == BR_ENOENT ? "(none)" : "(unreadable)");
}

static int cmd_activate(struct ctx *c, int argc, char **argv)
{
    const char *id = NULL, *v;
    want_help(argc, argv,
              "usage: bookrec versions [--artifacts DIR] activate ID\n\n"
              "Verifies version ID completely (checksums, and every model service's\n"
              "loader, in process: file shapes against the manifest), then replaces\n"
              "CURRENT atomically and appends to HISTORY. A version that fails is\n"
              "refused and CURRENT is left as it was. Prints the old and the new id.\n");
    for (int i = 1; i < argc; i++) {
        if ((v = cli_opt(argc, argv, &i, "--artifacts")))
            c->artifacts = v;
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else
            cli_die("versions activate: unknown argument %s (see bookrec versions activate "
                    "--help)",
                    argv[i]);
    }
    if (!id)
        cli_die("versions activate: give a version id (bookrec versions list)");
    check_id("activate", id);
    const char *dir = artifacts_dir(c);
    char old[BR_VERSION_ID_MAX + 16], err[1024] = "";
    current_or(dir, old, sizeof old);
    int rc = br_version_verify(dir, id, NULL, err, sizeof err);
    if (!rc && cli_version_loadable(dir, id, err, sizeof err))
        rc = BR_ECORRUPT;
    if (!rc)
        rc = br_version_activate(dir, id, err, sizeof err);
    if (rc == BR_ENOENT || rc == BR_ECORRUPT || rc == BR_EFORMAT)
        die_version("activate", dir, id, rc, err);
    if (rc)
        cli_die("versions activate: %s", err[0] ? err : br_strerror(rc));
    printf("CURRENT: %s -> %s\n", old, id);
    return 0;
}

static int cmd_rollback(struct ctx *c, int argc, char **argv)
{
    const char *v;
    want_help(argc, argv,
              "usage: bookrec versions [--artifacts DIR] rollback\n\n"
              "Activates the version that was current before the current one, per\n"
              "HISTORY, skipping versions that were removed or fail verification.\n"
              "Repeated, it keeps going back. Prints the old and the new id.\n");
    for (int i = 1; i < argc; i++) {
        if ((v = cli_opt(argc, argv, &i, "--artifacts")))
            c->artifacts = v;
        else
            cli_die("versions rollback: unknown argument %s (see bookrec versions rollback "
                    "--help)",
                    argv[i]);
    }
    const char *dir = artifacts_dir(c);
    char old[BR_VERSION_ID_MAX + 16], id[BR_VERSION_ID_MAX], err[1024] = "";
    current_or(dir, old, sizeof old);
    int rc = br_version_rollback(dir, id, sizeof id, err, sizeof err);
    if (rc)
        cli_die("versions rollback: %s", err[0] ? err : br_strerror(rc));
    printf("CURRENT: %s -> %s (rolled back)\n", old, id);
    return 0;
}

static int cmd_prune(struct ctx *c, int argc, char **argv)
{
    const char *v, *keep_s = NULL;
    want_help(argc, argv,
              "usage: bookrec versions [--artifacts DIR] prune --keep N\n\n"
              "Removes the oldest versions until at most N remain (N < 2 counts as 2),\n"
              "never CURRENT nor the version activated before it, and staging\n"
              "directories in which nothing changed for an hour. Prints what it removed.\n");
    for (int i = 1; i < argc; i++) {
        if ((v = cli_opt(argc, argv, &i, "--artifacts")))
            c->artifacts = v;
        else if ((v = cli_opt(argc, argv, &i, "--keep")))
            keep_s = v;
        else
            cli_die("versions prune: unknown argument %s (see bookrec versions prune --help)",
                    argv[i]);
    }
    if (!keep_s)
        cli_die("versions prune: give --keep N");
    char *end;
    unsigned long long keep = strtoull(keep_s, &end, 10);
    if (!*keep_s || *end || keep_s[0] == '-' || keep > 1000000)
        cli_die("versions prune: --keep wants a count, not %.40s", keep_s);
    const char *dir = artifacts_dir(c);
    char **before, **after;
    size_t nb, na, removed;
    int rc = br_version_list(dir, &before, &nb);
    if (rc)
        cli_die("versions prune: cannot list %s: %s", dir, br_strerror(rc));
    rc = br_version_prune(dir, (size_t)keep, &removed);
    if (br_version_list(dir, &after, &na) != 0)
        na = 0, after = NULL;
    /* The count from prune includes staging directories; names come from the lists. */
    size_t gone = 0;
    for (size_t i = 0, j = 0; i < nb; i++) {
        while (j < na && strcmp(after[j], before[i]) < 0)
            j++;
        if (j < na && !strcmp(after[j], before[i]))
            continue;
        printf("removed %s\n", before[i]);
        gone++;
    }
    if (removed > gone)
        printf("removed %zu stale staging director%s\n", removed - gone,
               removed - gone == 1 ? "y" : "ies");
    free(before);
    free(after);
    if (rc)
        cli_die("versions prune: stopped: %s", br_strerror(rc));
    if (!removed)
        printf("nothing to remove (%zu version%s)\n", na, na == 1 ? "" : "s");
    return 0;
}

int cmd_versions(int argc, char **argv)
{
    struct ctx c = {0};
    const char *v;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--artifacts"))) {
            c.artifacts = v;
        } else {
            cli_die("versions: unknown argument %s (see bookrec versions --help)", argv[i]);
        }
    }
    if (i == argc)
        cli_die("versions: give a command: list, show, activate, rollback or prune (see "
                "bookrec versions --help)");
    static const struct {
        const char *name;
        int (*run)(struct ctx *, int, char **);
    } cmds[] = {{"list", cmd_list},
                {"show", cmd_show},
                {"activate", cmd_activate},
                {"rollback", cmd_rollback},
                {"prune", cmd_prune}};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(argv[i], cmds[k].name)) {
            int rc = cmds[k].run(&c, argc - i, argv + i);
            br_config_free(c.cfg);
            return rc;
        }
    cli_die("versions: unknown command %.40s (list, show, activate, rollback or prune)",
            argv[i]);
}
