/* bookrec pipeline: the daily training run (include/bookrec/pipeline.h, docs/operations.md).
 *
 * The library runs the nine steps and returns the run record; this file does what needs
 * processes and HTTP, which the library must not: the gateway's reload call
 * (pipeline.reload_url with serve.admin_token) after a publish, and the notifications
 * after a failure or a blocked gate (pipeline.notify_command: a sendmail-compatible command
 * given the message on stdin; pipeline.notify_webhook: a JSON POST). Exit status: 0 a new
 * version is serving (or the run was already published), 1 a step failed, 3 the gate blocked
 * the new version, 2 usage. */
#include "cli.h"

#include "bookrec/error.h"
#include "bookrec/pipeline.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const usage_text =
    "usage: bookrec pipeline run [--db PATH] [--artifacts DIR] [--runs DIR] [--full-retrain]\n"
    "       bookrec pipeline resume RUN [same options]\n"
    "       bookrec pipeline status [--runs DIR] [--limit N] [--json]\n"
    "       bookrec pipeline notify [--unit NAME] [--runs DIR]\n\n"
    "run: the daily training pipeline, nine steps, each timed and checksummed in a run\n"
    "directory (RUNS/<id>/run.json): export (snapshot of the database), clean, split (the\n"
    "frozen split kept), features, als, subjects (warm-started from the current version),\n"
    "indexes, gate (ALS recall@30 on the validation fold: at least pipeline.gate_floor and\n"
    "not more than pipeline.gate_margin below the current version), publish (CURRENT\n"
    "switched; services reload on inotify; pipeline.reload_url called; old versions\n"
    "pruned to pipeline.keep_versions).\n"
    "resume: continues a failed or blocked run at its first incomplete step (a blocked run\n"
    "reruns the gate, e.g. with a changed --set pipeline.gate_floor=...).\n"
    "status: recent runs with their step timings and gate results.\n"
    "notify: the notification for a run that could not send its own (systemd OnFailure=:\n"
    "killed, timed out, crashed); nothing when the latest run already notified.\n\n"
    "A failure or a blocked gate leaves the current version serving, exits non-zero (1\n"
    "failed, 3 blocked) and notifies: pipeline.notify_command (sendmail-compatible, message\n"
    "on stdin) and/or pipeline.notify_webhook (JSON POST).\n\n"
    "Options:\n"
    "  --db PATH        the live database (config db.path); only read, by the export step\n"
    "  --artifacts DIR  artifacts directory (config artifacts.dir)\n"
    "  --runs DIR       run directories (config pipeline.runs_dir)\n"
    "  --full-retrain   subject model from scratch (config pipeline.full_retrain)\n"
    "  --limit N        status: runs shown (default 10)\n"
    "  --json           status: the run records as JSON\n"
    "Test only: BOOKREC_TEST_SCRAMBLE_FACTORS=1 scrambles the trained ALS factors so that the\n"
    "gate must block the run (never set it in production).\n";

/* Model and split settings from the config, as bookrec split and bookrec train read them. */
static void opts_from_config(br_config *cfg, br_pipeline_opts *o)
{
    br_split_params *sp = &o->split.split;
    sp->seed = (uint64_t)br_config_int(cfg, "split.seed");
    sp->cold_frac = br_config_double(cfg, "split.cold_frac");
    sp->val_frac = br_config_double(cfg, "split.val_frac");
    sp->test_frac = br_config_double(cfg, "split.test_frac");
    sp->cold_min_interactions = (uint32_t)br_config_int(cfg, "split.cold_min_interactions");
    sp->holdout_min_interactions = (uint32_t)br_config_int(cfg, "split.holdout_min_interactions");
    o->split.favsub.k = (size_t)br_config_int(cfg, "features.fav_subjects_k");
    o->split.pop.m = br_config_double(cfg, "popularity.bayes_m");
    br_train_opts *t = &o->train;
    t->warm_min = (size_t)br_config_int(cfg, "models.warm_min_ratings");
    t->min_item = (size_t)br_config_int(cfg, "train.min_item_interactions");
    t->bayes_m = br_config_double(cfg, "popularity.bayes_m");
    t->als.factors = (size_t)br_config_int(cfg, "als.factors");
    t->als.regularization = (float)br_config_double(cfg, "als.regularization");
    t->als.iterations = (int)br_config_int(cfg, "als.iterations");
    t->als.alpha = (float)br_config_double(cfg, "als.alpha");
    t->als.cg_steps = (int)br_config_int(cfg, "als.cg_steps");
    const char *w = br_config_str(cfg, "als.weighting");
    if (!strcmp(w, "constant"))
        t->als.weighting = BR_ALS_W_CONSTANT;
    else if (!strcmp(w, "rating"))
        t->als.weighting = BR_ALS_W_RATING;
    else
        cli_die("als.weighting must be constant or rating, not %s", w);
    t->semb.dim = (size_t)br_config_int(cfg, "subject.dim");
    t->semb.epochs = (size_t)br_config_int(cfg, "subject.epochs");
    t->semb.max_set = (size_t)br_config_int(cfg, "subject.max_set");
    t->semb.batch = (size_t)br_config_int(cfg, "subject.batch");
    t->generic_positives = br_config_bool(cfg, "subject.generic_positives");
    o->db = br_config_str(cfg, "db.path");
    o->artifacts = br_config_str(cfg, "artifacts.dir");
    o->runs = br_config_str(cfg, "pipeline.runs_dir");
    o->pool = br_config_str(cfg, "serve.subject_pool");
    o->prior = br_config_str(cfg, "serve.prior");
    o->gate_floor = br_config_double(cfg, "pipeline.gate_floor");
    o->gate_margin = br_config_double(cfg, "pipeline.gate_margin");
    o->keep_versions = (size_t)br_config_int(cfg, "pipeline.keep_versions");
    o->keep_runs = (size_t)br_config_int(cfg, "pipeline.keep_runs");
    o->full_retrain = br_config_bool(cfg, "pipeline.full_retrain");
    o->warm_epochs = (size_t)br_config_int(cfg, "pipeline.warm_epochs");
    o->boot_resamples = (uint32_t)br_config_int(cfg, "eval.bootstrap");
    const char *scr = getenv("BOOKREC_TEST_SCRAMBLE_FACTORS");
    if (scr && !strcmp(scr, "1")) {
        fprintf(stderr, "bookrec: warning: BOOKREC_TEST_SCRAMBLE_FACTORS=1: the ALS factors "
                        "will be scrambled (test only); the gate must block this run\n");
        t->test_scramble = 1;
    }
}

/* ---- HTTP and processes ------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

/* POSTs body to url; returns the HTTP status, or -1 when there was no answer. */
static long http_post(const char *url, const char *body, const char *bearer, char *why, size_t cap)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[1100];
    long status = -1;
    if (!c) {
        snprintf(why, cap, "curl_easy_init failed");
        return -1;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    if (bearer && *bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %.1000s", bearer);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(why, cap, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* Runs cmd with /bin/sh, text on its stdin; its exit status (-1: could not run it). */
static int run_with_stdin(const char *cmd, const char *text)
{
    signal(SIGPIPE, SIG_IGN); /* a command that exits early must not kill us */
    FILE *p = popen(cmd, "w");
    if (!p)
        return -1;
    fputs(text, p);
    int st = pclose(p);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* RUNS/<id>/notified: the run's notification went out (bookrec pipeline notify skips it). */
static void notified_path(br_config *cfg, const json_t *run, char *buf, size_t cap)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    buf[0] = 0;
    if (id)
        snprintf(buf, cap, "%s/%s/notified", br_config_str(cfg, "pipeline.runs_dir"), id);
}

static void notify(br_config *cfg, const json_t *run, const char *status, const char *error)
{
    int sent = 0;
    const char *cmd = br_config_str(cfg, "pipeline.notify_command");
    const char *hook = br_config_str(cfg, "pipeline.notify_webhook");
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *step = json_string_value(json_object_get(run, "failed_step"));
    const json_t *gate = json_object_get(run, "gate");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (!*cmd && !*hook) {
        fprintf(stderr, "bookrec: no notification configured (pipeline.notify_command, "
                        "pipeline.notify_webhook)\n");
        return;
    }
    if (*cmd) {
        char *gtext = gate ? json_dumps(gate, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        size_t cap = 4096 + (gtext ? strlen(gtext) : 0) + (error ? strlen(error) : 0);
        char *msg = malloc(cap);
        if (msg) {
            snprintf(msg, cap,
                     "Subject: bookrec pipeline %s on %s (run %s)\n"
                     "Content-Type: text/plain; charset=utf-8\n\n"
                     "The training pipeline run %s on %s ended: %s%s%s.\n"
                     "The current model version keeps serving.\n\n"
                     "Error: %s\n\nGate:\n%s\n\n"
                     "Details: bookrec pipeline status; resume with bookrec pipeline resume "
                     "%s (docs/operations.md).\n",
                     status, host, id ? id : "-", id ? id : "-", host, status,
                     step ? " at step " : "", step ? step : "", error ? error : "-",
                     gtext ? gtext : "-", id ? id : "RUN");
            int st = run_with_stdin(cmd, msg);
            if (st != 0)
                fprintf(stderr, "bookrec: warning: the notify command exited with %d\n", st);
            else
                fprintf(stderr, "bookrec: notification sent by pipeline.notify_command\n");
            sent |= st == 0;
            free(msg);
        }
        free(gtext);
    }
    if (*hook) {
        json_t *body =
            json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:O?, s:s, s:I}", "event", "bookrec.pipeline",
                      "run", id, "status", status, "step", step, "error", error, "gate", gate,
                      "host", host, "time", (json_int_t)time(NULL));
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        char why[256] = "";
        long code = text ? http_post(hook, text, NULL, why, sizeof why) : -1;
        sent |= code >= 200 && code < 300;
        if (code >= 200 && code < 300)
            fprintf(stderr, "bookrec: notification sent to pipeline.notify_webhook\n");
        else if (code < 0)
            fprintf(stderr, "bookrec: warning: webhook %s: %s\n", hook, why);
        else
            fprintf(stderr, "bookrec: warning: webhook %s answered %ld\n", hook, code);
        free(text);
        json_decref(body);
    }
    char mark[4200];
    notified_path(cfg, run, mark, sizeof mark);
    FILE *f = sent && mark[0] ? fopen(mark, "w") : NULL;
    if (f) {
        fprintf(f, "%s\n", status);
        fclose(f);
    }
}

static int cmd_notify(br_config *cfg, int argc, char **argv)
{
    const char *v, *unit = "bookrec-train.service";
    for (int i = 2; i < argc; i++) {
        if ((v = cli_opt(argc, argv, &i, "--unit")))
            unit = v;
        else if ((v = cli_opt(argc, argv, &i, "--runs")))
            cli_flag(cfg, "pipeline.runs_dir", v);
        else
            cli_die("pipeline notify: unknown argument %s (see bookrec pipeline --help)", argv[i]);
    }
    json_t *runs = NULL, *run;
    char mark[4200], msg[512];
    if (br_pipeline_list(br_config_str(cfg, "pipeline.runs_dir"), 1, &runs) != 0)
        cli_die("pipeline notify: out of memory");
    run = json_array_get(runs, 0);
    notified_path(cfg, run, mark, sizeof mark);
    /* OnFailure= starts us right after the failure: a marker of the last minutes is this
     * failure's (the run notified itself); an older one belongs to an earlier run, and this
     * failure (say, a bad config) never got as far as a run directory. */
    struct stat sb;
    if (mark[0] && stat(mark, &sb) == 0 && time(NULL) - sb.st_mtime < 600) {
        printf("the latest run (%s) already sent its notification\n",
               json_string_value(json_object_get(run, "id")));
    } else {
        snprintf(msg, sizeof msg,
                 "%.200s failed without reporting (killed, timed out or crashed); see "
                 "journalctl -u %.200s",
                 unit, unit);
        /* The run it was in the middle of, if it got that far; an older, finished run is
         * not this failure's. */
        const char *st = json_string_value(json_object_get(run, "status"));
        notify(cfg, st && !strcmp(st, "running") ? run : NULL, "failed", msg);
    }
    json_decref(runs);
    br_config_free(cfg);
    return 0;
}

/* The gateway's POST /api/v1/admin/reload: services on other hosts learn of the version
 * without inotify. A failure is a warning: local services reload on inotify anyway. */
static void reload(br_config *cfg)
{
    const char *url = br_config_str(cfg, "pipeline.reload_url");
    char why[256] = "";
    if (!*url)
        return;
    long code = http_post(url, "{}", br_config_str(cfg, "serve.admin_token"), why, sizeof why);
    if (code >= 200 && code < 300)
        printf("reload: %s answered %ld\n", url, code);
    else if (code < 0)
        fprintf(stderr, "bookrec: warning: reload %s: %s\n", url, why);
    else
        fprintf(stderr, "bookrec: warning: reload %s answered %ld\n", url, code);
}

/* ---- output --------------------------------------------------------------------------- */

static void print_run(const json_t *run)
{
    const json_t *steps = json_object_get(run, "steps"), *s;
    const json_t *gate = json_object_get(run, "gate");
    size_t i;
    printf("run %s: %s", json_string_value(json_object_get(run, "id")),
           json_string_value(json_object_get(run, "status")));
    if (json_is_number(json_object_get(run, "step_seconds")))
        printf(" (steps %.1f s)", json_number_value(json_object_get(run, "step_seconds")));
    if (json_is_string(json_object_get(run, "version")))
        printf(", version %s", json_string_value(json_object_get(run, "version")));
    printf("\n");
    json_array_foreach(steps, i, s)
    {
        const json_t *sec = json_object_get(s, "seconds");
        printf("  %zu %-9s %-8s", i + 1, json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "status")));
        if (json_is_number(sec))
            printf(" %8.2f s", json_number_value(sec));
        if (json_is_number(json_object_get(s, "cpu_seconds")))
            printf("  (cpu %.2f s)", json_number_value(json_object_get(s, "cpu_seconds")));
        const char *e = json_string_value(json_object_get(s, "error"));
        if (e)
            printf("  %s", e);
        printf("\n");
    }
    if (gate) {
        const json_t *cur = json_object_get(gate, "current_recall@30");
        const char *cv = json_string_value(json_object_get(gate, "current_version"));
        printf("  gate: ALS recall@30 on validation %.4f (%lld readers); current version ",
               json_number_value(json_object_get(gate, "recall@30")),
               (long long)json_integer_value(json_object_get(gate, "readers")));
        if (cv && json_is_number(cur))
            printf("%s %.4f", cv, json_number_value(cur));
        else
            printf("not compared");
        printf("; floor %.4f, margin %.4f: %s\n", json_number_value(json_object_get(gate, "floor")),
               json_number_value(json_object_get(gate, "margin")),
               json_is_true(json_object_get(gate, "passed")) ? "passed" : "BLOCKED");
    }
}

static int cmd_status(br_config *cfg, int argc, char **argv)
{
    const char *v;
    long limit = 10;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if ((v = cli_opt(argc, argv, &i, "--runs"))) {
            cli_flag(cfg, "pipeline.runs_dir", v);
        } else if ((v = cli_opt(argc, argv, &i, "--limit"))) {
            char *end;
            limit = strtol(v, &end, 10);
            if (!*v || *end || limit < 1 || limit > 100000)
                cli_die("pipeline status: --limit takes 1..100000, not %.40s", v);
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            cli_die("pipeline status: unknown argument %s (see bookrec pipeline --help)", argv[i]);
        }
    }
    json_t *runs;
    const char *dir = br_config_str(cfg, "pipeline.runs_dir");
    if (br_pipeline_list(dir, (size_t)limit, &runs) != 0)
        cli_die("pipeline status: out of memory");
    if (as_json) {
        char *t = json_dumps(runs, JSON_INDENT(2));
        printf("%s\n", t ? t : "[]");
        free(t);
    } else if (json_array_size(runs) == 0) {
        printf("no runs in %s\n", dir);
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r)
        {
            print_run(r);
        }
    }
    json_decref(runs);
    br_config_free(cfg);
    return 0;
}

int cmd_pipeline(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    br_config *cfg = cli_config();
    const char *sub = argv[1], *v, *resume_id = NULL;
    if (!strcmp(sub, "status"))
        return cmd_status(cfg, argc, argv);
    if (!strcmp(sub, "notify"))
        return cmd_notify(cfg, argc, argv);
    if (strcmp(sub, "run") && strcmp(sub, "resume"))
        cli_die("pipeline: unknown subcommand %s (run, resume, status or notify)", sub);
    int i = 2;
    if (!strcmp(sub, "resume")) {
        if (argc < 3 || argv[2][0] == '-')
            cli_die("pipeline resume: give the run id (bookrec pipeline status lists them)");
        resume_id = argv[2];
        i = 3;
    }
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if ((v = cli_opt(argc, argv, &i, "--db"))) {
            cli_flag(cfg, "db.path", v);
        } else if ((v = cli_opt(argc, argv, &i, "--artifacts"))) {
            cli_flag(cfg, "artifacts.dir", v);
        } else if ((v = cli_opt(argc, argv, &i, "--runs"))) {
            cli_flag(cfg, "pipeline.runs_dir", v);
        } else if (!strcmp(argv[i], "--full-retrain")) {
            cli_flag(cfg, "pipeline.full_retrain", "true");
        } else {
            cli_die("pipeline %s: unknown argument %s (see bookrec pipeline --help)", sub, argv[i]);
        }
    }
    br_pipeline_opts o;
    br_pipeline_opts_default(&o);
    opts_from_config(cfg, &o);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *run = NULL;
    char err[1024] = "";
    int rc = resume_id ? br_pipeline_resume(&o, resume_id, &run, err, sizeof err)
                       : br_pipeline_run(&o, &run, err, sizeof err);
    const char *status = json_string_value(json_object_get(run, "status"));
    if (run)
        print_run(run);
    int code;
    if (rc == 0 && status && !strcmp(status, "published")) {
        reload(cfg);
        code = 0;
    } else if (rc == 0 && status && !strcmp(status, "blocked")) {
        fprintf(stderr, "bookrec: %s\n", err[0] ? err : "the quality gate blocked the version");
        notify(cfg, run, "blocked", err[0] ? err : NULL);
        code = 3;
    } else {
        fprintf(stderr, "bookrec: error: pipeline %s failed: %s\n", sub,
                err[0] ? err : br_strerror(rc ? rc : BR_EINVAL));
        notify(cfg, run, "failed", err[0] ? err : br_strerror(rc ? rc : BR_EINVAL));
        code = 1;
    }
    json_decref(run);
    curl_global_cleanup();
    br_config_free(cfg);
    return code;
}
