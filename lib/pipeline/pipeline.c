/* The pipeline's runner: run directories, run.json, resume, the list of runs (pipeline.h).
 * The steps themselves are in pipeline_steps.c.
 *
 * Design decisions:
 * 1. run.json is the only state: a step is complete when its record says "ok" and every
 *    output it lists still has its size and xxh64. Resuming recomputes the checksums, so a
 *    changed, truncated or deleted output reruns its step and everything after it.
 * 2. Every step writes its own files: the database is copied at each step that changes it
 *    (export, clean, split) rather than changed in place, so that earlier outputs stay valid
 *    and a step can be rerun from its inputs alone. The copies are removed once the run is
 *    published (and whole run directories beyond keep_runs are removed).
 * 3. run.json is rewritten after every status change by temp file, fsync and rename: a
 *    crash leaves the previous record, whose last step then shows "running" and is rerun.
 * 4. One run at a time: RUNS/.lock is held with flock for the whole invocation (a timer run
 *    and a manual one do not interleave); the kernel drops it if the process dies.
 */
#include "pipeline_internal.h"

#include "bookrec/error.h"
#include "bookrec/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define RUN_FORMAT "bookrec-pipeline-run/1"
#define MAX_RUN_JSON (16u << 20) /* run.json is a few KB; anything huge is not ours */
#define MAX_RUNS_LISTED 100000

static const char *const g_names[BR_PIPELINE_STEPS] = {
    "export", "clean", "split", "features", "als", "subjects", "indexes", "gate", "publish"};

const char *br_pipeline_step_name(int step)
{
    return step >= 0 && step < BR_PIPELINE_STEPS ? g_names[step] : NULL;
}

void br_pipeline_opts_default(br_pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    br_split_run_opts_default(&o->split);
    br_train_opts_default(&o->train);
    o->warm_epochs = 3;
    o->pool = "perdim";
    o->prior = "count";
    o->cold_a = 0.8;
    o->gate_floor = 0.01;
    o->gate_margin = 0.01;
    o->boot_resamples = 200;
    o->keep_versions = 5;
    o->keep_runs = 10;
}

/* ---- files ---------------------------------------------------------------------------- */

int br__file_xxh64(const char *path, uint64_t *h, uint64_t *size)
{
    char buf[1 << 16];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? BR_ENOENT : BR_EIO;
    XXH64_state_t *st = XXH64_createState();
    if (!st) {
        close(fd);
        return BR_ENOMEM;
    }
    XXH64_reset(st, 0);
    *size = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        XXH64_update(st, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    *h = XXH64_digest(st);
    XXH64_freeState(st);
    close(fd);
    return n < 0 ? BR_EIO : 0;
}

int br__copy_file(const char *from, const char *to)
{
    char buf[1 << 16];
    ssize_t n = 0;
    int rc = 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? BR_ENOENT : BR_EIO;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return BR_EIO;
    }
    while (!rc && (n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w <= 0) {
                rc = BR_EIO;
                break;
            }
            done += w;
        }
    if (n < 0)
        rc = BR_EIO;
    close(in);
    if (close(out) != 0)
        rc = BR_EIO;
    return rc;
}

int br__mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return BR_ELIMIT;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return BR_EIO;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? BR_EIO : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int br__rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : BR_EIO;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : BR_EIO;
}

/* ---- the run record ------------------------------------------------------------------- */

int br__prun_fail(br__prun *r, int rc, const char *fmt, ...)
{
    if (r->err && r->errcap && !r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int br__prun_path(const br__prun *r, const char *rel, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", r->dir, rel);
    return n < 0 || (size_t)n >= cap ? BR_ELIMIT : 0;
}

static void hex64(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int br__prun_output(br__prun *r, json_t *step, const char *rel)
{
    char path[4096], hex[17];
    uint64_t h, size;
    int rc = br__prun_path(r, rel, path, sizeof path);
    if (!rc)
        rc = br__file_xxh64(path, &h, &size);
    if (rc)
        return br__prun_fail(r, rc, "checksumming %s: %s", rel, br_strerror(rc));
    hex64(h, hex);
    json_t *outs = json_object_get(step, "outputs");
    if (!outs) {
        outs = json_array();
        json_object_set_new(step, "outputs", outs);
    }
    return json_array_append_new(outs, json_pack("{s:s, s:I, s:s}", "path", rel, "bytes",
                                                 (json_int_t)size, "xxh64", hex)) == 0
               ? 0
               : BR_ENOMEM;
}

int br__prun_save(br__prun *r)
{
    char path[4096], tmp[4200];
    int rc = br__prun_path(r, "run.json", path, sizeof path);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *text = json_dumps(r->rec, JSON_INDENT(2));
    if (!text)
        return BR_ENOMEM;
    size_t len = strlen(text);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    rc = fd < 0 ? BR_EIO : 0;
    if (!rc && (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd)))
        rc = BR_EIO;
    if (fd >= 0 && close(fd) != 0)
        rc = BR_EIO;
    free(text);
    if (!rc && rename(tmp, path) != 0)
        rc = BR_EIO;
    if (rc) {
        unlink(tmp);
        br_error("pipeline: cannot write %s", path);
    }
    return rc;
}

int br__prun_store(br__prun *r, br_store **out)
{
    char path[4096];
    int rc;
    if (!r->st) {
        if ((rc = br__prun_path(r, "split/catalog.db", path, sizeof path)))
            return rc;
        if (access(path, R_OK) != 0)
            return br__prun_fail(r, BR_ENOENT, "%s: missing (rerun from the split step)", path);
        if ((rc = br_store_open(path, &r->st)))
            return br__prun_fail(r, rc, "opening %s: %s", path, br_store_errmsg(NULL));
    }
    *out = r->st;
    return 0;
}

static int valid_step(const json_t *s, int i)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *st = json_string_value(json_object_get(s, "status"));
    const json_t *outs = json_object_get(s, "outputs");
    if (!json_is_object(s) || !name || strcmp(name, g_names[i]) || !st)
        return 0;
    if (outs && !json_is_array(outs))
        return 0;
    size_t k;
    json_t *e;
    json_array_foreach(outs, k, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *x = json_string_value(json_object_get(e, "xxh64"));
        /* A path inside the run directory: relative, no "..". */
        if (!p || !*p || p[0] == '/' || strstr(p, "..") || !x || strlen(x) != 16 ||
            !json_is_integer(json_object_get(e, "bytes")))
            return 0;
    }
    return 1;
}

int br_pipeline_run_parse(const char *text, size_t len, json_t **out)
{
    json_error_t je;
    *out = NULL;
    if (!text || len > MAX_RUN_JSON)
        return BR_EFORMAT;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    const char *fmt = json_string_value(json_object_get(j, "format"));
    const json_t *steps = json_object_get(j, "steps");
    int ok = json_is_object(j) && fmt && !strcmp(fmt, RUN_FORMAT) &&
             br_version_id_valid(json_string_value(json_object_get(j, "id"))) &&
             json_is_string(json_object_get(j, "status")) && json_is_array(steps) &&
             json_array_size(steps) == BR_PIPELINE_STEPS;
    for (int i = 0; ok && i < BR_PIPELINE_STEPS; i++)
        ok = valid_step(json_array_get(steps, (size_t)i), i);
    if (!ok) {
        json_decref(j);
        return BR_EFORMAT;
    }
    *out = j;
    return 0;
}

static int load_record(const char *path, json_t **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? BR_ENOENT : BR_EIO;
    char *buf = malloc(MAX_RUN_JSON + 1);
    size_t n = buf ? fread(buf, 1, MAX_RUN_JSON + 1, f) : 0;
    int rc = !buf ? BR_ENOMEM : ferror(f) ? BR_EIO : n > MAX_RUN_JSON ? BR_EFORMAT : 0;
    fclose(f);
    if (!rc)
        rc = br_pipeline_run_parse(buf, n, out);
    free(buf);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *options_json(const br_pipeline_opts *o)
{
    return json_pack("{s:f, s:f, s:b, s:I, s:s, s:s, s:f, s:I, s:b}", "gate_floor", o->gate_floor,
                     "gate_margin", o->gate_margin, "full_retrain", o->full_retrain, "warm_epochs",
                     (json_int_t)o->warm_epochs, "pool", o->pool, "prior", o->prior, "cold_a",
                     o->cold_a, "keep_versions", (json_int_t)o->keep_versions, "test_scramble",
                     o->train.test_scramble);
}

/* ---- running -------------------------------------------------------------------------- */

/* CPU seconds (user + system) of this process so far: with the wall time, it tells a slow
 * step from a starved one on a busy host. */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Keeps the newest keep run directories (by id, which sorts by time), never cur. */
static void prune_runs(const char *runs, size_t keep, const char *cur)
{
    json_t *all = NULL;
    if (br_pipeline_list(runs, MAX_RUNS_LISTED, &all) != 0)
        return;
    size_t i;
    json_t *run;
    json_array_foreach(all, i, run)
    {
        const char *id = json_string_value(json_object_get(run, "id"));
        char path[4096];
        if (i < keep || !id || !strcmp(id, cur))
            continue;
        snprintf(path, sizeof path, "%s/%s", runs, id);
        if (br__rm_rf(path) == 0)
            br_info("pipeline: removed old run %s", id);
    }
    json_decref(all);
}

static int run_from(br__prun *r, int first)
{
    json_t *steps = json_object_get(r->rec, "steps");
    double t_run = now_s();
    int rc = 0;
    json_object_set_new(r->rec, "status", json_string("running"));
    json_object_del(r->rec, "error");
    json_object_del(r->rec, "failed_step");
    for (int i = first; i < BR_PIPELINE_STEPS; i++) {
        json_t *s = json_pack("{s:s, s:s, s:f}", "name", g_names[i], "status", "running",
                              "started_at", now_s());
        if (!s)
            return BR_ENOMEM;
        json_array_set_new(steps, (size_t)i, s);
        if ((rc = br__prun_save(r)))
            return br__prun_fail(r, rc, "cannot write %s/run.json", r->dir);
        br_info("pipeline: step %d/%d %s ...", i + 1, BR_PIPELINE_STEPS, g_names[i]);
        double t0 = br_now(), c0 = cpu_s();
        if (r->err && r->errcap)
            r->err[0] = 0;
        rc = br__pipeline_steps[i](r, s);
        double secs = br_now() - t0;
        const char *st = rc == 0 ? "ok" : rc == BR__STEP_BLOCKED ? "blocked" : "failed";
        json_object_set_new(s, "status", json_string(st));
        json_object_set_new(s, "finished_at", json_real(now_s()));
        json_object_set_new(s, "seconds", json_real(secs));
        json_object_set_new(s, "cpu_seconds", json_real(cpu_s() - c0));
        if (rc < 0) {
            if (r->err && !r->err[0])
                snprintf(r->err, r->errcap, "%s", br_strerror(rc));
            json_object_set_new(s, "error", json_string(r->err ? r->err : br_strerror(rc)));
        }
        br_info("pipeline: step %d/%d %s: %s in %.2f s (cpu %.2f s)", i + 1, BR_PIPELINE_STEPS,
                g_names[i], st, secs, json_number_value(json_object_get(s, "cpu_seconds")));
        if (rc != 0) {
            json_object_set_new(r->rec, "status",
                                json_string(rc == BR__STEP_BLOCKED ? "blocked" : "failed"));
            json_object_set_new(r->rec, "failed_step", json_string(g_names[i]));
            if (rc < 0)
                json_object_set_new(r->rec, "error", json_string(r->err ? r->err : ""));
            break;
        }
    }
    json_object_set_new(r->rec, "finished_at", json_real(now_s()));
    json_object_set_new(r->rec, "seconds", json_real(now_s() - t_run));
    double total = 0;
    size_t k;
    json_t *s;
    json_array_foreach(steps, k, s) total += json_number_value(json_object_get(s, "seconds"));
    json_object_set_new(r->rec, "step_seconds", json_real(total));
    if (rc == 0)
        json_object_set_new(r->rec, "status", json_string("published"));
    int wrc = br__prun_save(r);
    if (rc == 0 && !wrc) {
        /* The database copies are only needed to resume; a published run is done. */
        static const char *const dbs[] = {"export/snapshot.db", "clean/catalog.db",
                                          "split/catalog.db"};
        char path[4096];
        br_store_close(r->st);
        r->st = NULL;
        for (size_t d = 0; d < sizeof dbs / sizeof dbs[0]; d++)
            if (br__prun_path(r, dbs[d], path, sizeof path) == 0)
                unlink(path);
        prune_runs(r->o->runs, r->o->keep_runs, r->id);
    }
    if (rc == BR__STEP_BLOCKED)
        rc = 0;
    return rc ? rc : wrc;
}

/* Opens RUNS/.lock exclusively; -1 with rc when another run holds it. */
static int lock_runs(const br_pipeline_opts *o, int *fd, char *err, size_t errcap)
{
    char path[4096];
    int rc = br__mkdir_p(o->runs);
    if (rc) {
        snprintf(err, errcap, "%s: cannot create the runs directory", o->runs);
        return rc;
    }
    snprintf(path, sizeof path, "%s/.lock", o->runs);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return BR_EIO;
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        snprintf(err, errcap, "another pipeline run holds %s", path);
        return BR_EEXIST;
    }
    return 0;
}

static int check_opts(const br_pipeline_opts *o, char *err, size_t errcap)
{
    if (!o || !o->db || !o->artifacts || !o->runs || !o->pool || !o->prior ||
        !(o->gate_floor >= 0 && o->gate_floor <= 1) ||
        !(o->gate_margin >= 0 && o->gate_margin <= 1) || !o->warm_epochs) {
        snprintf(err, errcap, "pipeline: invalid options");
        return BR_EINVAL;
    }
    return 0;
}

static int finish(br__prun *r, int lockfd, int rc, json_t **run)
{
    br_trainer_free(r->tr);
    br_store_close(r->st);
    if (run)
        *run = r->rec;
    else
        json_decref(r->rec);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}

int br_pipeline_run(const br_pipeline_opts *o, json_t **run, char *err, size_t errcap)
{
    br__prun r = {.o = o, .err = err, .errcap = errcap};
    int lockfd = -1, rc;
    if (err && errcap)
        err[0] = 0;
    if (run)
        *run = NULL;
    if ((rc = check_opts(o, err, errcap)) || (rc = lock_runs(o, &lockfd, err, errcap)))
        return rc;
    br_version_new_id(r.id);
    if (snprintf(r.dir, sizeof r.dir, "%s/%s", o->runs, r.id) >= (int)sizeof r.dir) {
        close(lockfd);
        snprintf(err, errcap, "%s: path too long", o->runs);
        return BR_ELIMIT;
    }
    /* The snapshot holds readers' data: the run directory is private. */
    if (mkdir(r.dir, 0700) != 0) {
        close(lockfd);
        snprintf(err, errcap, "%s: %s", r.dir, strerror(errno));
        return BR_EIO;
    }
    json_t *steps = json_array();
    for (int i = 0; steps && i < BR_PIPELINE_STEPS; i++)
        json_array_append_new(steps,
                              json_pack("{s:s, s:s}", "name", g_names[i], "status", "pending"));
    r.rec = json_pack("{s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:o, s:i, s:o}", "format", RUN_FORMAT,
                      "id", r.id, "status", "running", "created_at", now_s(), "db", o->db,
                      "artifacts", o->artifacts, "runs", o->runs, "options", options_json(o),
                      "attempts", 1, "steps", steps);
    if (!r.rec)
        return finish(&r, lockfd, BR_ENOMEM, run);
    br_info("pipeline: run %s in %s", r.id, r.dir);
    return finish(&r, lockfd, run_from(&r, 0), run);
}

/* The first step to run again: not ok, or an output that changed. */
static int first_incomplete(br__prun *r)
{
    json_t *steps = json_object_get(r->rec, "steps");
    for (int i = 0; i < BR_PIPELINE_STEPS; i++) {
        json_t *s = json_array_get(steps, (size_t)i), *e;
        const char *st = json_string_value(json_object_get(s, "status"));
        size_t k;
        if (strcmp(st, "ok") != 0)
            return i;
        json_array_foreach(json_object_get(s, "outputs"), k, e)
        {
            char path[4096], hex[17];
            uint64_t h, size;
            const char *rel = json_string_value(json_object_get(e, "path"));
            if (br__prun_path(r, rel, path, sizeof path) || br__file_xxh64(path, &h, &size) ||
                (hex64(h, hex), strcmp(hex, json_string_value(json_object_get(e, "xxh64")))) ||
                (json_int_t)size != json_integer_value(json_object_get(e, "bytes"))) {
                br_warn("pipeline: %s (output of step %s) is missing or changed: rerunning from "
                        "there",
                        rel, g_names[i]);
                return i;
            }
        }
    }
    return BR_PIPELINE_STEPS;
}

int br_pipeline_resume(const br_pipeline_opts *o, const char *id, json_t **run, char *err,
                       size_t errcap)
{
    br__prun r = {.o = o, .err = err, .errcap = errcap};
    char path[4096];
    int lockfd = -1, rc;
    if (err && errcap)
        err[0] = 0;
    if (run)
        *run = NULL;
    if ((rc = check_opts(o, err, errcap)))
        return rc;
    if (!br_version_id_valid(id)) {
        snprintf(err, errcap, "%.80s is not a run id (bookrec pipeline status lists them)",
                 id ? id : "(null)");
        return BR_EINVAL;
    }
    if ((rc = lock_runs(o, &lockfd, err, errcap)))
        return rc;
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.dir, sizeof r.dir, "%s/%s", o->runs, id);
    snprintf(path, sizeof path, "%s/run.json", r.dir);
    if ((rc = load_record(path, &r.rec))) {
        snprintf(err, errcap, "%s: %s", path,
                 rc == BR_ENOENT ? "no such run" : "not a readable run record");
        return finish(&r, lockfd, rc, run);
    }
    if (strcmp(json_string_value(json_object_get(r.rec, "id")), id) != 0) {
        snprintf(err, errcap, "%s: the record names another run", path);
        return finish(&r, lockfd, BR_EFORMAT, run);
    }
    if (!strcmp(json_string_value(json_object_get(r.rec, "status")), "published")) {
        br_info("pipeline: run %s is already published", id);
        return finish(&r, lockfd, 0, run);
    }
    int first = first_incomplete(&r);
    json_object_set_new(r.rec, "attempts",
                        json_integer(json_integer_value(json_object_get(r.rec, "attempts")) + 1));
    json_object_set_new(r.rec, "options", options_json(o));
    json_object_set_new(r.rec, "resumed_at",
                        json_string(br_pipeline_step_name(first) ? g_names[first] : "end"));
    br_info("pipeline: resuming run %s at step %d/%d %s", id, first + 1, BR_PIPELINE_STEPS,
            first < BR_PIPELINE_STEPS ? g_names[first] : "(all complete)");
    return finish(&r, lockfd, run_from(&r, first), run);
}

static int cmp_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

int br_pipeline_list(const char *runs, size_t max, json_t **out)
{
    json_t *arr = json_array();
    char **ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    *out = NULL;
    if (!arr)
        return BR_ENOMEM;
    DIR *d = runs ? opendir(runs) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < MAX_RUNS_LISTED) {
        if (!br_version_id_valid(e->d_name) || strlen(e->d_name) != 28)
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            char **p = realloc(ids, c * sizeof *p);
            if (!p) {
                rc = BR_ENOMEM;
                break;
            }
            ids = p, cap = c;
        }
        if (!(ids[n] = strdup(e->d_name))) {
            rc = BR_ENOMEM;
            break;
        }
        n++;
    }
    if (d)
        closedir(d);
    if (!rc && n)
        qsort(ids, n, sizeof *ids, cmp_desc);
    for (size_t i = 0; !rc && i < n && json_array_size(arr) < max; i++) {
        char path[4096];
        json_t *rec;
        snprintf(path, sizeof path, "%s/%s/run.json", runs, ids[i]);
        if (load_record(path, &rec) == 0)
            json_array_append_new(arr, rec);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
