/* loadgen: drives the model services with composite requests, as the gateway will, and
 * checks version consistency; or measures each endpoint's latency.
 *
 * A composite request (one "request" of the gateway) picks a version with the router
 * (svc_client.h) and names it in each of its sub-requests:
 *   warm     is_warm(user) -> als_recs(user) -> books(ids)
 *   cold     embed(subjects) -> subject_recs(vector) -> books(ids)
 *   similar  similar(item, mode als|subject|hybrid) -> books(ids)
 *   search   search(query) -> books(ids)
 *   popular  popular(k, offset) -> books(ids)
 *   foldin   fold_in(interactions, k) -> books(ids)
 * Every sub-reply must come from that version (X-Model-Version), else the request "mixed"
 * versions. A 409 (the version is no longer held) restarts the request with a fresh pick;
 * a transport error, a 5xx or an unexpected 4xx fails it. Every --sample-every'th request
 * is kept; with --verify its sub-requests are replayed offline, in process, on the version
 * it named, and the answers must be identical: a service that answered from another
 * version's data while labelling it would be caught (versions are trained with different
 * seeds, so their answers differ).
 *
 * Usage:
 *   loadgen --url URL | --services role=URL,...  --artifacts DIR [--duration S]
 *           [--threads N] [--token T] [--sample-every N] [--verify] [--report PATH]
 *   loadgen --bench N ...      N sequential calls of each endpoint: p50/p99 per endpoint
 * The report is JSON on stdout (and in --report). */
#include "svc_client.h"

#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"
#include "bookrec/version.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum op { OP_WARM, OP_COLD, OP_SIMILAR, OP_SEARCH, OP_POPULAR, OP_FOLDIN, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"warm",   "cold",    "similar",
                                               "search", "popular", "foldin"};

#define MAX_SUBS 4
#define MAX_VERSIONS 256

struct sample {
    char version[80];
    int n;
    enum br_role_id role[MAX_SUBS];
    char endpoint[MAX_SUBS][24];
    json_t *req[MAX_SUBS], *reply[MAX_SUBS];
    int status[MAX_SUBS];
};

static struct {
    br_svc_client *clients[BR_ROLE_COUNT];
    br_router *router;
    /* what requests are made of */
    int32_t *warm_users;
    size_t n_warm, n_items;
    char **subjects;
    size_t n_subjects;
    /* run */
    double deadline;
    int sample_every;
    atomic_long ok, failed, mixed, retries, no_common, by_op[OP_COUNT];
    atomic_long seq;
    pthread_mutex_t mu;
    char versions[MAX_VERSIONS][80];
    double first_seen[MAX_VERSIONS];
    int n_versions;
    struct sample *samples;
    size_t n_samples, cap_samples;
    char last_error[512];
    double t0;
} G;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static void load_inputs(const char *artifacts)
{
    char id[BR_VERSION_ID_MAX], dir[4096], path[4200];
    br_npy a;
    if (br_version_current(artifacts, id, sizeof id) || br_version_dir(artifacts, id, dir,
                                                                        sizeof dir))
        die("no current version in the artifacts directory");
    snprintf(path, sizeof path, "%s/als/als_users.npy", dir);
    if (br_npy_open(path, &a) || a.dtype != BR_NPY_I32 || !a.rows)
        die("cannot read als/als_users.npy");
    G.n_warm = a.rows;
    G.warm_users = malloc(a.rows * sizeof *G.warm_users);
    memcpy(G.warm_users, a.data, a.rows * sizeof *G.warm_users);
    br_npy_close(&a);
    snprintf(path, sizeof path, "%s/similarity/allow.npy", dir);
    if (br_npy_open(path, &a))
        die("cannot read similarity/allow.npy");
    G.n_items = a.rows;
    br_npy_close(&a);
    snprintf(path, sizeof path, "%s/embedder/subjects.txt", dir);
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f)
        die("cannot read embedder/subjects.txt");
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0])
            continue;
        G.subjects = realloc(G.subjects, (G.n_subjects + 1) * sizeof *G.subjects);
        G.subjects[G.n_subjects++] = strdup(line);
    }
    fclose(f);
    if (!G.n_subjects)
        die("no subjects");
}

static void note_version(const char *v)
{
    pthread_mutex_lock(&G.mu);
    int i;
    for (i = 0; i < G.n_versions; i++)
        if (!strcmp(G.versions[i], v))
            break;
    if (i == G.n_versions && i < MAX_VERSIONS) {
        snprintf(G.versions[i], sizeof G.versions[i], "%s", v);
        G.first_seen[i] = now_s() - G.t0;
        G.n_versions++;
    }
    pthread_mutex_unlock(&G.mu);
}

/* The ids of a reply's "items" as a books request. */
static json_t *books_req(const json_t *reply)
{
    json_t *ids = json_array();
    const json_t *items = json_object_get(reply, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it)
        json_array_append(ids, json_object_get(it, "id"));
    return json_pack("{s:o}", "ids", ids);
}

/* The first sub-request of op. */
static json_t *first_req(enum op op, uint64_t *s, enum br_role_id *role, const char **ep)
{
    static const char *const modes[] = {"als", "subject", "hybrid"};
    switch (op) {
    case OP_WARM:
        *role = BR_ROLE_ALS;
        *ep = "/is_warm";
        return json_pack("{s:i}", "user", (int)G.warm_users[rnd(s) % G.n_warm]);
    case OP_COLD: {
        json_t *subs = json_array();
        for (int i = 0; i < 3; i++)
            json_array_append_new(subs, json_string(G.subjects[rnd(s) % G.n_subjects]));
        *role = BR_ROLE_EMBEDDER;
        *ep = "/embed";
        return json_pack("{s:o}", "subjects", subs);
    }
    case OP_SIMILAR:
        *role = BR_ROLE_SIMILARITY;
        *ep = "/similar";
        return json_pack("{s:i, s:s, s:i, s:f}", "item", (int)(rnd(s) % G.n_items), "mode",
                         modes[rnd(s) % 3], "k", 20, "w", (double)(rnd(s) % 11) / 10);
    case OP_SEARCH:
        *role = BR_ROLE_SEMANTIC;
        *ep = "/search";
        return json_pack("{s:s, s:i}", "query", G.subjects[rnd(s) % G.n_subjects], "k", 20);
    case OP_POPULAR:
        *role = BR_ROLE_METADATA;
        *ep = "/popular";
        return json_pack("{s:i, s:i}", "k", 20, "offset", (int)(rnd(s) % 100));
    case OP_FOLDIN: {
        json_t *in = json_array();
        size_t n = 1 + rnd(s) % 8;
        int32_t used[8];
        for (size_t i = 0; i < n; i++) {
            int32_t item = (int32_t)(rnd(s) % G.n_items);
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                dup |= used[j] == item;
            used[i] = dup ? -1 : item;
            if (!dup)
                json_array_append_new(in, json_pack("{s:i, s:i}", "item", item, "rating",
                                                    (int)(rnd(s) % 11)));
        }
        *role = BR_ROLE_ALS;
        *ep = "/fold_in";
        return json_pack("{s:o, s:i}", "interactions", in, "k", 20);
    }
    default:
        return NULL;
    }
}

/* An answer that is a valid, version-specific outcome though not a 200. */
static int expected_4xx(const br_svc_reply *r)
{
    const char *code = json_string_value(
        json_object_get(json_object_get(r->body, "error"), "code"));
    return r->status == 404 && code && (!strcmp(code, "no_vector") || !strcmp(code, "not_warm"));
}

enum outcome { OUT_OK, OUT_RETRY, OUT_FAILED, OUT_MIXED };

/* One attempt of a composite request at version v. */
static enum outcome attempt(enum op op, uint64_t *s, const char *v, struct sample *sm)
{
    enum br_role_id role;
    const char *ep;
    json_t *req = first_req(op, s, &role, &ep);
    enum outcome res = OUT_OK;
    sm->n = 0;
    for (int step = 0; req && step < MAX_SUBS; step++) {
        br_svc_reply r;
        int rc = br_router_call(G.router, role, ep, req, v, &r);
        sm->role[sm->n] = role;
        snprintf(sm->endpoint[sm->n], sizeof sm->endpoint[0], "%s", ep);
        sm->req[sm->n] = req;
        sm->status[sm->n] = r.status;
        sm->reply[sm->n] = r.body ? json_incref(r.body) : json_loadb(r.raw, r.raw_len, 0, NULL);
        sm->n++;
        req = NULL;
        if (rc || r.status >= 500 || (r.status >= 400 && r.status != 409 && !expected_4xx(&r))) {
            res = OUT_FAILED;
            pthread_mutex_lock(&G.mu);
            char *t = r.body ? json_dumps(r.body, JSON_COMPACT) : NULL;
            snprintf(G.last_error, sizeof G.last_error, "%s %d %s", ep, r.status,
                     t ? t : "");
            free(t);
            pthread_mutex_unlock(&G.mu);
        } else if (r.status == 409) {
            res = OUT_RETRY;
        } else if (strcmp(r.version, v) != 0) {
            res = OUT_MIXED;
        } else if (r.status == 200) {
            /* the next step */
            if (!strcmp(ep, "/is_warm")) {
                if (json_is_true(json_object_get(r.body, "warm"))) {
                    req = json_pack("{s:O, s:i}", "user", json_object_get(r.body, "user"), "k",
                                    20);
                    ep = "/als_recs";
                }
            } else if (!strcmp(ep, "/embed")) {
                req = json_pack("{s:O, s:i, s:f}", "vector", json_object_get(r.body, "vector"),
                                "k", 20, "a", (double)(rnd(s) % 11) / 10);
                role = BR_ROLE_SIMILARITY;
                ep = "/subject_recs";
            } else if (strcmp(ep, "/books") != 0) {
                req = books_req(r.body);
                role = BR_ROLE_METADATA;
                ep = "/books";
            }
        }
        br_svc_reply_free(&r);
        if (res != OUT_OK)
            break;
    }
    json_decref(req);
    return res;
}

static void sample_clear(struct sample *sm)
{
    for (int i = 0; i < sm->n; i++) {
        json_decref(sm->req[i]);
        json_decref(sm->reply[i]);
    }
    sm->n = 0;
}

static void *worker(void *arg)
{
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg * 0x2545F4914F6CDD1Dull;
    while (now_s() < G.deadline) {
        enum op op = (enum op)(rnd(&s) % OP_COUNT);
        struct sample sm = {0};
        enum outcome res = OUT_RETRY;
        uint64_t saved = s;
        for (int tries = 0; tries < 20 && res == OUT_RETRY; tries++) {
            char v[80];
            if (br_router_pick(G.router, v, sizeof v) != 0) {
                atomic_fetch_add(&G.no_common, 1);
                usleep(10000);
                continue;
            }
            s = saved; /* a retry repeats the same request */
            sample_clear(&sm);
            res = attempt(op, &s, v, &sm);
            snprintf(sm.version, sizeof sm.version, "%s", v);
            if (res == OUT_RETRY)
                atomic_fetch_add(&G.retries, 1);
        }
        atomic_fetch_add(&G.by_op[op], 1);
        if (res == OUT_OK) {
            atomic_fetch_add(&G.ok, 1);
            note_version(sm.version);
        } else if (res == OUT_MIXED) {
            atomic_fetch_add(&G.mixed, 1);
        } else {
            atomic_fetch_add(&G.failed, 1);
        }
        long n = atomic_fetch_add(&G.seq, 1);
        if (res == OUT_OK && G.sample_every > 0 && n % G.sample_every == 0) {
            pthread_mutex_lock(&G.mu);
            if (G.n_samples == G.cap_samples) {
                G.cap_samples = G.cap_samples ? 2 * G.cap_samples : 256;
                G.samples = realloc(G.samples, G.cap_samples * sizeof *G.samples);
            }
            G.samples[G.n_samples++] = sm;
            pthread_mutex_unlock(&G.mu);
        } else {
            sample_clear(&sm);
        }
    }
    return NULL;
}

/* Replays the samples in process, each on the version it named. */
static long verify(const char *artifacts, long *checked)
{
    long bad = 0;
    *checked = 0;
    for (int vi = 0; vi < G.n_versions; vi++) {
        br_service *svc[BR_ROLE_COUNT] = {0};
        br_service_opts so = {.artifacts = artifacts, .grace_ms = 0};
        for (int r = 0; r < BR_ROLE_COUNT; r++) {
            char err[512];
            if (br_service_new((enum br_role_id)r, &so, &svc[r]) ||
                br_service_load_version(svc[r], G.versions[vi], err, sizeof err)) {
                fprintf(stderr, "loadgen: verify: cannot load %s: %s\n", G.versions[vi], err);
                bad++;
            }
        }
        for (size_t i = 0; i < G.n_samples; i++) {
            struct sample *sm = &G.samples[i];
            if (strcmp(sm->version, G.versions[vi]))
                continue;
            for (int k = 0; k < sm->n; k++) {
                br_svc_reply r;
                br_service_call(svc[sm->role[k]], sm->endpoint[k], sm->req[k], NULL, &r);
                json_t *got = r.body ? json_incref(r.body) : json_loadb(r.raw, r.raw_len, 0, NULL);
                /* As it would travel: the services print reals with 9 significant digits. */
                char *wire = got ? json_dumps(got, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
                json_decref(got);
                got = wire ? json_loads(wire, 0, NULL) : NULL;
                free(wire);
                (*checked)++;
                if (r.status != sm->status[k] || !json_equal(got, sm->reply[k])) {
                    if (bad < 5) {
                        char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(sm->reply[k],
                                                                                JSON_COMPACT);
                        fprintf(stderr, "loadgen: verify: %s %s differs:\n  live %.300s\n  "
                                "offline %.300s\n", sm->version, sm->endpoint[k], b, a);
                        free(a);
                        free(b);
                    }
                    bad++;
                }
                json_decref(got);
                br_svc_reply_free(&r);
            }
        }
        for (int r = 0; r < BR_ROLE_COUNT; r++)
            br_service_free(svc[r]);
    }
    return bad;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --bench: n sequential calls of each endpoint kind (after n/10 untimed warm-up calls):
 * latency p50, p99 (nearest rank) and mean, in ms, client side (request encoding, HTTP
 * round trip, reply parsing). Only calls that did the endpoint's work are timed: a book
 * with no vector in the mode asked (404 no_vector) is drawn again and counted as skipped,
 * so cheap refusals do not flatter the figures. The ranking endpoints ask for k = 200, as
 * the seed's model-server benchmark did; books asks for the 20 ids of a popular page. */
static json_t *bench(int n)
{
    static const struct {
        const char *name;
        enum op op;
        int second;       /* measure the second step (subject_recs after embed, ...) */
        const char *mode; /* /similar's mode */
        int k;            /* k asked for; 0: none (the endpoint takes no k) */
    } kinds[] = {{"als_recs", OP_WARM, 1, NULL, 200},
                 {"is_warm", OP_WARM, 0, NULL, 0},
                 {"fold_in", OP_FOLDIN, 0, NULL, 200},
                 {"embed", OP_COLD, 0, NULL, 0},
                 {"subject_recs", OP_COLD, 1, NULL, 200},
                 {"similar_als", OP_SIMILAR, 0, "als", 200},
                 {"similar_subject", OP_SIMILAR, 0, "subject", 200},
                 {"similar_hybrid", OP_SIMILAR, 0, "hybrid", 200},
                 {"search", OP_SEARCH, 0, NULL, 20},
                 {"popular", OP_POPULAR, 0, NULL, 20},
                 {"books", OP_POPULAR, 1, NULL, 0}};
    json_t *out = json_array();
    double *lat = malloc((size_t)n * sizeof *lat);
    char v[80];
    if (!lat)
        die("out of memory");
    if (br_router_pick(G.router, v, sizeof v))
        die("no version loaded");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint64_t s = 12345 + k;
        int m = 0, errors = 0, skipped = 0, done = 0, warm = n / 10;
        double sum = 0;
        /* bounded: a service that refuses everything ends the kind, not the run */
        for (long tries = 0; done < n + warm && errors <= n && tries < 50L * (n + warm);
             tries++) {
            enum br_role_id role;
            const char *ep;
            json_t *req = first_req(kinds[k].op, &s, &role, &ep);
            br_svc_reply r;
            if (kinds[k].second && kinds[k].op == OP_WARM) {
                ep = "/als_recs"; /* the user was drawn from als_users.npy: warm */
            } else if (kinds[k].second) {
                br_router_call(G.router, role, ep, req, v, &r);
                json_decref(req);
                req = NULL;
                if (r.status == 200 && kinds[k].op == OP_COLD)
                    req = json_pack("{s:O}", "vector", json_object_get(r.body, "vector"));
                else if (r.status == 200)
                    req = books_req(r.body); /* the 20 ids of a popular page */
                br_svc_reply_free(&r);
                if (!req) {
                    errors++;
                    continue;
                }
                role = kinds[k].op == OP_COLD ? BR_ROLE_SIMILARITY : BR_ROLE_METADATA;
                ep = kinds[k].op == OP_COLD ? "/subject_recs" : "/books";
            }
            if (kinds[k].mode)
                json_object_set_new(req, "mode", json_string(kinds[k].mode));
            if (kinds[k].k)
                json_object_set_new(req, "k", json_integer(kinds[k].k));
            double t = now_s();
            int rc = br_router_call(G.router, role, ep, req, v, &r);
            t = (now_s() - t) * 1e3;
            if (!rc && expected_4xx(&r)) {
                skipped++;
            } else if (rc || r.status != 200) {
                errors++;
            } else {
                if (done >= warm) {
                    lat[m++] = t;
                    sum += t;
                }
                done++;
            }
            br_svc_reply_free(&r);
            json_decref(req);
        }
        qsort(lat, (size_t)m, sizeof *lat, cmp_double);
        json_t *row = json_pack("{s:s, s:i, s:i, s:i, s:i}", "endpoint", kinds[k].name, "k",
                                kinds[k].k, "n", m, "errors", errors, "skipped", skipped);
        json_object_set_new(row, "p50_ms", m ? json_real(lat[(m + 1) / 2 - 1]) : json_null());
        json_object_set_new(row, "p99_ms",
                            m ? json_real(lat[(size_t)ceil(0.99 * m) - 1]) : json_null());
        json_object_set_new(row, "mean_ms", m ? json_real(sum / m) : json_null());
        json_array_append_new(out, row);
    }
    free(lat);
    return out;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *services = NULL, *artifacts = NULL, *token = NULL, *report = NULL;
    double duration = 10;
    int threads = 4, do_verify = 0, bench_n = 0;
    G.sample_every = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--url") && v)
            url = argv[++i];
        else if (!strcmp(a, "--services") && v)
            services = argv[++i];
        else if (!strcmp(a, "--artifacts") && v)
            artifacts = argv[++i];
        else if (!strcmp(a, "--token") && v)
            token = argv[++i];
        else if (!strcmp(a, "--report") && v)
            report = argv[++i];
        else if (!strcmp(a, "--duration") && v)
            duration = atof(argv[++i]);
        else if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--sample-every") && v)
            G.sample_every = atoi(argv[++i]);
        else if (!strcmp(a, "--bench") && v)
            bench_n = atoi(argv[++i]);
        else if (!strcmp(a, "--verify"))
            do_verify = 1;
        else {
            fprintf(stderr, "usage: see the comment at the top of tests/load/loadgen.c\n");
            return 2;
        }
    }
    if (!artifacts || (!url == !services) || threads < 1 || threads > 256)
        die("give --artifacts and one of --url / --services");
    br_log_set_level(BR_LOG_WARN);
    load_inputs(artifacts);
    char spec[4096], err[256];
    if (url) /* one host serving every role (bookrec serve) */
        for (int r = 0, n = 0; r < BR_ROLE_COUNT; r++)
            n += snprintf(spec + n, sizeof spec - (size_t)n, "%s%s=%s", r ? "," : "",
                          br_role_name((enum br_role_id)r), url);
    else
        snprintf(spec, sizeof spec, "%s", services);
    if (br_svc_clients_open(spec, token, NULL, G.clients, err, sizeof err))
        die(err);
    if (br_router_new(G.clients, &G.router))
        die("out of memory");
    pthread_mutex_init(&G.mu, NULL);
    json_t *rep;
    if (bench_n > 0) {
        rep = json_pack("{s:o}", "endpoints", bench(bench_n));
    } else {
        G.t0 = now_s();
        G.deadline = G.t0 + duration;
        pthread_t *t = calloc((size_t)threads, sizeof *t);
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        double secs = now_s() - G.t0;
        long checked = 0, bad = do_verify ? verify(artifacts, &checked) : 0;
        json_t *vs = json_array(), *ops = json_object();
        for (int i = 0; i < G.n_versions; i++)
            json_array_append_new(vs, json_pack("{s:s, s:f}", "id", G.versions[i], "first_seen_s",
                                                G.first_seen[i]));
        for (int i = 0; i < OP_COUNT; i++)
            json_object_set_new(ops, op_names[i], json_integer(atomic_load(&G.by_op[i])));
        rep = json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:I, s:I, s:s}", "seconds",
                        secs, "ok", (json_int_t)atomic_load(&G.ok), "failed",
                        (json_int_t)atomic_load(&G.failed), "mixed",
                        (json_int_t)atomic_load(&G.mixed), "retries",
                        (json_int_t)atomic_load(&G.retries), "no_common_version",
                        (json_int_t)atomic_load(&G.no_common), "requests_per_s",
                        (double)atomic_load(&G.ok) / secs, "by_op", ops, "versions", vs,
                        "verified_subrequests", (json_int_t)checked, "verify_mismatches",
                        (json_int_t)bad, "last_error", G.last_error);
        free(t);
    }
    char *text = json_dumps(rep, JSON_INDENT(2));
    printf("%s\n", text);
    if (report) {
        FILE *f = fopen(report, "w");
        if (f) {
            fprintf(f, "%s\n", text);
            fclose(f);
        }
    }
    free(text);
    json_decref(rep);
    return 0;
}
