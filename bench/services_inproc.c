/* Where a model-service call's time goes, measured in process on the current version of an
 * artifacts directory (bench/services.md): for each endpoint kind of `loadgen --bench`, the
 * medians of
 *   compute  br_service_call: request validation, the model's work, building the reply tree
 *   render   json_dumps of the reply, as the HTTP front does (0 for pre-rendered replies)
 *   parse    json_loadb of the reply text, as the HTTP client does
 * and the reply's size. What is left of the HTTP latency is transport (libmicrohttpd,
 * libcurl, loopback) and the request's own encoding and parsing.
 *
 * Usage: bench-services_inproc ARTIFACTS N   (JSON on stdout). It links the server archive,
 * so bench/services.sh builds it (the bench-% rule links the library only). */
#include "service.h"

#include "bookrec/log.h"
#include "bookrec/npy.h"
#include "bookrec/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind {
    ALS_RECS,
    FOLD_IN,
    EMBED,
    SUBJECT_RECS,
    SIM_ALS,
    SIM_SUBJECT,
    SIM_HYBRID,
    POPULAR,
    BOOKS,
    N_KINDS
};
static const char *const kind_names[N_KINDS] = {"als_recs",       "fold_in",     "embed",
                                                "subject_recs",   "similar_als", "similar_subject",
                                                "similar_hybrid", "popular",     "books"};

static br_service *svc[BR_ROLE_COUNT];
static br_npy users;
static size_t n_items, n_subjects;
static json_t *cold_vector; /* an embedding, for subject_recs */
static uint64_t seed = 0x9e3779b97f4a7c15ull;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *msg)
{
    fprintf(stderr, "services_inproc: %s\n", msg);
    exit(2);
}

/* The request of kind k, as loadgen --bench makes it; *role and *ep say where it goes. */
static json_t *make_req(enum kind k, enum br_role_id *role, const char **ep)
{
    static const char *const modes[] = {"als", "subject", "hybrid"};
    json_t *in, *ids, *it;
    br_svc_reply r;
    size_t i;
    switch (k) {
    case ALS_RECS:
        *role = BR_ROLE_ALS;
        *ep = "/als_recs";
        return json_pack("{s:i, s:i}", "user",
                         (int)((const int32_t *)users.data)[rnd() % users.rows], "k", 200);
    case FOLD_IN:
        in = json_array();
        for (size_t n = 1 + rnd() % 8, j = 0; j < n; j++)
            json_array_append_new(in, json_pack("{s:i, s:i}", "item",
                                                (int)(n_items / 8 * j + rnd() % (n_items / 8)),
                                                "rating", (int)(rnd() % 11)));
        *role = BR_ROLE_ALS;
        *ep = "/fold_in";
        return json_pack("{s:o, s:i}", "interactions", in, "k", 200);
    case EMBED:
        *role = BR_ROLE_EMBEDDER;
        *ep = "/embed";
        return json_pack("{s:[i, i, i]}", "subjects", (int)(rnd() % n_subjects),
                         (int)(rnd() % n_subjects), (int)(rnd() % n_subjects));
    case SUBJECT_RECS:
        *role = BR_ROLE_SIMILARITY;
        *ep = "/subject_recs";
        return json_pack("{s:O, s:i}", "vector", cold_vector, "k", 200);
    case SIM_ALS:
    case SIM_SUBJECT:
    case SIM_HYBRID:
        *role = BR_ROLE_SIMILARITY;
        *ep = "/similar";
        return json_pack("{s:i, s:s, s:i}", "item", (int)(rnd() % n_items), "mode",
                         modes[k - SIM_ALS], "k", 200);
    case POPULAR:
        *role = BR_ROLE_METADATA;
        *ep = "/popular";
        return json_pack("{s:i, s:i}", "k", 20, "offset", (int)(rnd() % 100));
    case BOOKS:
        in = json_pack("{s:i, s:i}", "k", 20, "offset", (int)(rnd() % 100));
        br_service_call(svc[BR_ROLE_METADATA], "/popular", in, NULL, &r);
        ids = json_array();
        json_array_foreach(json_object_get(r.body, "items"), i, it)
            json_array_append(ids, json_object_get(it, "id"));
        br_svc_reply_free(&r);
        json_decref(in);
        *role = BR_ROLE_METADATA;
        *ep = "/books";
        return json_pack("{s:o}", "ids", ids);
    default:
        return NULL;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) < 10)
        die("usage: bench-services_inproc ARTIFACTS N");
    const char *artifacts = argv[1];
    int n = atoi(argv[2]);
    char id[BR_VERSION_ID_MAX], dir[4096], path[4200], err[512];
    br_log_set_level(BR_LOG_WARN);
    br_service_opts so = {.artifacts = artifacts, .grace_ms = 0};
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        if (br_service_new((enum br_role_id)r, &so, &svc[r]) ||
            br_service_reload(svc[r], NULL, err, sizeof err))
            die(err);
    if (br_version_current(artifacts, id, sizeof id) ||
        br_version_dir(artifacts, id, dir, sizeof dir))
        die("no current version");
    snprintf(path, sizeof path, "%s/als/als_users.npy", dir);
    if (br_npy_open(path, &users) || !users.rows)
        die("cannot read als/als_users.npy");
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_t *man = json_load_file(path, 0, NULL);
    json_t *dims = json_object_get(man, "dims");
    n_items = (size_t)json_integer_value(json_object_get(dims, "n_items"));
    n_subjects = (size_t)json_integer_value(json_object_get(dims, "n_subjects"));
    json_decref(man);
    if (n_items < 8 || !n_subjects)
        die("manifest: dims missing");

    double *t[3];
    for (int j = 0; j < 3; j++)
        if (!(t[j] = malloc((size_t)n * sizeof *t[j])))
            die("out of memory");
    json_t *out = json_array();
    for (int k = 0; k < N_KINDS; k++) {
        int m = 0, warm = n / 10;
        size_t bytes = 0;
        for (long tries = 0; m < n && tries < 50L * (n + warm); tries++) {
            enum br_role_id role;
            const char *ep;
            br_svc_reply r;
            json_t *req = make_req((enum kind)k, &role, &ep);
            double t0 = now_s();
            br_service_call(svc[role], ep, req, NULL, &r);
            double t1 = now_s();
            json_decref(req);
            if (r.status != 200) { /* a book with no vector in this mode: draw again */
                br_svc_reply_free(&r);
                continue;
            }
            char *text = r.raw;
            size_t len = r.raw_len;
            if (text)
                r.raw = NULL;
            else if ((text = json_dumps(r.body, JSON_COMPACT)))
                len = strlen(text);
            double t2 = now_s();
            json_t *back = text ? json_loadb(text, len, 0, NULL) : NULL;
            double t3 = now_s();
            if (!back)
                die("a reply does not render or parse");
            if (k == EMBED && !cold_vector)
                cold_vector = json_incref(json_object_get(back, "vector"));
            if (warm > 0) {
                warm--;
            } else {
                t[0][m] = (t1 - t0) * 1e3;
                t[1][m] = (t2 - t1) * 1e3;
                t[2][m] = (t3 - t2) * 1e3;
                bytes += len;
                m++;
            }
            json_decref(back);
            free(text);
            br_svc_reply_free(&r);
        }
        if (m == 0)
            die("no successful call");
        for (int j = 0; j < 3; j++)
            qsort(t[j], (size_t)m, sizeof *t[j], cmp_double);
        json_array_append_new(
            out, json_pack("{s:s, s:i, s:f, s:f, s:f, s:I}", "endpoint", kind_names[k], "n", m,
                           "compute_p50_ms", t[0][(m + 1) / 2 - 1], "render_p50_ms",
                           t[1][(m + 1) / 2 - 1], "parse_p50_ms", t[2][(m + 1) / 2 - 1],
                           "reply_bytes", (json_int_t)(bytes / (size_t)m)));
    }
    char *text = json_dumps(out, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
    json_decref(out);
    json_decref(cold_vector);
    br_npy_close(&users);
    for (int j = 0; j < 3; j++)
        free(t[j]);
    for (int r = 0; r < BR_ROLE_COUNT; r++)
        br_service_free(svc[r]);
    return 0;
}
