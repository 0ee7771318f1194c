/* ALS training time per iteration against this machine's floor, and fold-in latency.
 *
 *   build/bench-als [--train var/split/train.csv] [--min-ratings 5] [--iterations 15]
 *                   [--machine bench/results/machine.json] [--out bench/results/als.json]
 *                   [--foldin-reps 20]
 *
 * Reads a split export (`user,item_idx,rating`, from `make run`), keeps the users with at
 * least --min-ratings train interactions (the warm users; item_idx kept as is, so the item
 * count is the largest index + 1), and trains with the default parameters at 1 and 2
 * threads. The floor of one iteration is the sum over its two half-steps of
 * max(flops / peak sgemm GFLOP/s, bytes / triad GB/s), counted as in bench/als.md, with
 * the figures of bench/machine_floor.c. A breakdown run times YtY and the CG solves of
 * each half-step apart. Fold-in: every user with >= 50 interactions, folded in from its
 * first 50, --foldin-reps times, one call at a time on one thread. Last, the objective
 * of the CG run against an exact (Cholesky) run from the same seed. */
#include "../lib/model/als_internal.h"
#include "bookrec/als.h"
#include "bookrec/csr.h"
#include "bookrec/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROWS 50000000

#define CHECK(call)                                                                            \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ < 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, br_strerror(rc_));   \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s:%d: out of memory (%zu bytes)\n", __FILE__, __LINE__, n);
        exit(1);
    }
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) /* this thread's CPU time: less sensitive to a busy machine */
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(double *v, size_t n, double q) /* sorts v */
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Reads the CSV into a CSR of the users with >= min_ratings rows. */
static void load(const char *path, int min_ratings, br_csr *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        fprintf(stderr, "hint: `make run` exports the split to var/split/\n");
        exit(1);
    }
    size_t cap = 1 << 20, n = 0;
    int64_t *u = xmalloc(cap * sizeof *u), max_user = -1;
    int32_t *it = xmalloc(cap * sizeof *it), max_item = -1;
    float *r = xmalloc(cap * sizeof *r);
    char line[256];
    size_t lineno = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        long long uu;
        long ii;
        float rr;
        if (lineno++ == 0 && strncmp(line, "user", 4) == 0)
            continue;
        if (sscanf(line, "%lld,%ld,%f", &uu, &ii, &rr) != 3 || uu < 0 || uu > INT32_MAX ||
            ii < 0 || ii > INT32_MAX || !(rr >= 0 && rr <= 10)) {
            bad++;
            continue;
        }
        if (n == cap) {
            if (cap >= MAX_ROWS) {
                fprintf(stderr, "%s: more than %d rows\n", path, MAX_ROWS);
                exit(1);
            }
            cap *= 2;
            u = realloc(u, cap * sizeof *u);
            it = realloc(it, cap * sizeof *it);
            r = realloc(r, cap * sizeof *r);
            if (!u || !it || !r) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        u[n] = uu;
        it[n] = (int32_t)ii;
        r[n] = rr;
        max_user = uu > max_user ? uu : max_user;
        max_item = (int32_t)ii > max_item ? (int32_t)ii : max_item;
        n++;
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "%s: %zu malformed rows skipped\n", path, bad);
    if (n == 0) {
        fprintf(stderr, "%s: no rows\n", path);
        exit(1);
    }
    int32_t *dense = xmalloc((size_t)(max_user + 1) * sizeof *dense);
    int32_t n_users = 0;
    memset(dense, 0, (size_t)(max_user + 1) * sizeof *dense);
    for (size_t k = 0; k < n; k++)
        dense[u[k]]++;
    for (int64_t x = 0; x <= max_user; x++)
        dense[x] = dense[x] >= min_ratings ? n_users++ : -1;
    int32_t *rows = xmalloc(n * sizeof *rows);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (dense[u[k]] < 0)
            continue;
        rows[m] = dense[u[k]];
        it[m] = it[k];
        r[m] = r[k];
        m++;
    }
    CHECK(br_csr_from_triples((size_t)n_users, (size_t)max_item + 1, rows, it, r, m, out));
    free(u);
    free(it);
    free(r);
    free(rows);
    free(dense);
}

/* Flops and DRAM bytes of one half-step solving the rows of `a` against n_other fixed rows
 * (bench/als.md, "Counting"). */
struct cost {
    double gram_flops, cg_flops, bytes;
    size_t nonempty;
};

static struct cost half_cost(const br_csr *a, size_t n_other, size_t f, int steps)
{
    struct cost c = {0};
    double F = (double)f;
    for (size_t u = 0; u < a->n_rows; u++)
        c.nonempty += a->indptr[u + 1] > a->indptr[u];
    c.gram_flops = (double)n_other * F * (F + 1);
    c.cg_flops = (double)c.nonempty * ((steps + 1) * 2 * F * F + steps * 10 * F + 2 * F) +
                 (double)a->nnz * (steps + 1) * 4 * F;
    c.bytes = (double)n_other * F * 4 + 2.0 * (double)a->n_rows * F * 4 +
              (double)(a->n_rows + 1) * 8 + (double)a->nnz * 8;
    return c;
}

struct iter_log {
    int n;
    double sec[BR_ALS_MAX_ITERATIONS > 64 ? 64 : BR_ALS_MAX_ITERATIONS];
};

static void on_iter(const br_als_progress *pr, void *ctx)
{
    struct iter_log *l = ctx;
    if (l->n < 64)
        l->sec[l->n++] = pr->seconds;
    fprintf(stderr, "  iteration %2d/%d  %.1f ms\n", pr->iteration, pr->iterations,
            pr->seconds * 1e3);
}

static double json_num(json_t *root, const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(root, obj), key);
    if (!json_is_number(v)) {
        fprintf(stderr, "machine json: %s.%s missing (run build/bench-machine_floor)\n", obj, key);
        exit(1);
    }
    return json_number_value(v);
}

int main(int argc, char **argv)
{
    const char *train = "var/split/train.csv", *machine = "bench/results/machine.json",
               *out = "bench/results/als.json";
    int min_ratings = 5, iterations = 15, foldin_reps = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s: missing value\n", a);
            return 2;
        }
        if (!strcmp(a, "--train"))
            train = v;
        else if (!strcmp(a, "--machine"))
            machine = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--min-ratings"))
            min_ratings = atoi(v);
        else if (!strcmp(a, "--iterations"))
            iterations = atoi(v);
        else if (!strcmp(a, "--foldin-reps"))
            foldin_reps = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (min_ratings < 1 || iterations < 1 || iterations > 64 || foldin_reps < 1) {
        fprintf(stderr, "bad option value\n");
        return 2;
    }
    json_error_t jerr;
    json_t *mj = json_load_file(machine, 0, &jerr);
    if (!mj) {
        fprintf(stderr, "%s: %s (run build/bench-machine_floor first)\n", machine, jerr.text);
        return 1;
    }

    br_csr ui, iu;
    load(train, min_ratings, &ui);
    CHECK(br_csr_transpose(&ui, &iu));
    br_als_params p;
    br_als_params_default(&p);
    p.iterations = iterations;
    size_t f = p.factors;
    struct cost cu = half_cost(&ui, ui.n_cols, f, p.cg_steps);
    struct cost ci = half_cost(&iu, ui.n_rows, f, p.cg_steps);
    double flops = cu.gram_flops + cu.cg_flops + ci.gram_flops + ci.cg_flops;
    fprintf(stderr, "data: %zu users (>= %d), %zu items (%zu with interactions), %zu nnz\n",
            ui.n_rows, min_ratings, ui.n_cols, ci.nonempty, ui.nnz);
    fprintf(stderr, "per iteration: %.3f GFLOP, %.1f MB\n", flops / 1e9,
            (cu.bytes + ci.bytes) / 1e6);

    json_t *res = json_object(), *runs = json_array();
    json_object_set_new(res, "train_csv", json_string(train));
    json_object_set_new(res, "data", json_pack("{s:I,s:I,s:I,s:I,s:i}", "users", (json_int_t)ui.n_rows,
                                              "items", (json_int_t)ui.n_cols, "items_nonempty",
                                              (json_int_t)ci.nonempty, "nnz", (json_int_t)ui.nnz,
                                              "min_ratings", min_ratings));
    json_object_set_new(res, "params",
                        json_pack("{s:I,s:f,s:i,s:f,s:i,s:s,s:s}", "factors", (json_int_t)f,
                                  "regularization", (double)p.regularization, "iterations",
                                  iterations, "alpha", (double)p.alpha, "cg_steps", p.cg_steps,
                                  "solver", "cg", "weighting", "constant"));
    json_object_set_new(
        res, "counts_per_iteration",
        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "gflop", flops / 1e9, "users_gram_gflop",
                  cu.gram_flops / 1e9, "users_cg_gflop", cu.cg_flops / 1e9, "items_gram_gflop",
                  ci.gram_flops / 1e9, "items_cg_gflop", ci.cg_flops / 1e9, "users_mb",
                  cu.bytes / 1e6, "items_mb", ci.bytes / 1e6));

    br_als_model keep = {0};
    for (int t = 1; t <= 2; t++) {
        char key[4];
        snprintf(key, sizeof key, "%d", t);
        double peak = json_num(mj, "peak_gflops", key) * 1e9;
        double bw = json_num(mj, "triad_gbs", key) * 1e9;
        double floor_u = fmax((cu.gram_flops + cu.cg_flops) / peak, cu.bytes / bw);
        double floor_i = fmax((ci.gram_flops + ci.cg_flops) / peak, ci.bytes / bw);
        struct iter_log log = {0};
        br_als_model m;
        p.threads = t;
        p.progress = on_iter;
        p.progress_ctx = &log;
        double la = loadavg();
        fprintf(stderr, "training, %d thread(s), load average %.2f\n", t, la);
        double t0 = now();
        CHECK(br_als_train(&ui, &p, &m));
        double total = now() - t0;
        double sorted[64];
        memcpy(sorted, log.sec, (size_t)log.n * sizeof *sorted);
        double med = quantile(sorted, (size_t)log.n, 0.5), best = sorted[0], mean = 0;
        for (int k = 0; k < log.n; k++)
            mean += log.sec[k] / log.n;
        double fl = floor_u + floor_i;
        fprintf(stderr,
                "threads %d: %.1f ms/iteration (median; min %.1f), floor %.1f ms -> %.2fx floor, "
                "%.1f GFLOP/s\n",
                t, med * 1e3, best * 1e3, fl * 1e3, med / fl, flops / med / 1e9);
        json_t *its = json_array();
        for (int k = 0; k < log.n; k++)
            json_array_append_new(its, json_real(log.sec[k]));
        json_array_append_new(
            runs, json_pack("{s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o}", "threads", t,
                            "sec_per_iter_median", med, "sec_per_iter_mean", mean,
                            "sec_per_iter_min", best, "total_sec", total, "floor_sec_per_iter", fl,
                            "ratio_to_floor", med / fl, "achieved_gflops", flops / med / 1e9,
                            "loadavg_before", la, "sec_per_iter", its));
        if (t == 1) {
            keep = m;
        } else {
            /* the determinism claim of als_train.c, on the real data */
            int same = memcmp(m.user_factors, keep.user_factors,
                              m.n_users * f * sizeof(float)) == 0 &&
                       memcmp(m.item_factors, keep.item_factors,
                              m.n_items * f * sizeof(float)) == 0;
            fprintf(stderr, "factors of the 1- and 2-thread runs: %s\n",
                    same ? "bitwise identical" : "DIFFERENT");
            json_object_set_new(res, "identical_1_vs_2_threads", json_boolean(same));
            br_als_model_free(&m);
        }
    }
    json_object_set_new(res, "runs", runs);

    /* Breakdown: YtY and the CG solves of each half-step, one thread, from the trained
     * factors (so CG does what it does late in training), in CPU time of the thread (best
     * of 3): a busy machine inflates it less than wall time. */
    {
        br_als_params q = p;
        q.threads = 1;
        float *G = xmalloc(f * f * sizeof *G);
        float *X = xmalloc(ui.n_rows * f * sizeof *X), *Y = xmalloc(ui.n_cols * f * sizeof *Y);
        double tg_u = 1e9, tg_i = 1e9, th_u = 1e9, th_i = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            memcpy(X, keep.user_factors, ui.n_rows * f * sizeof *X);
            memcpy(Y, keep.item_factors, ui.n_cols * f * sizeof *Y);
            double t0 = cpu_now();
            CHECK(br__als_gram(Y, ui.n_cols, f, q.regularization, 1, G));
            double t1 = cpu_now();
            CHECK(br__als_half_step(&ui, Y, ui.n_cols, &q, 1, X));
            double t2 = cpu_now();
            CHECK(br__als_gram(X, ui.n_rows, f, q.regularization, 1, G));
            double t3 = cpu_now();
            CHECK(br__als_half_step(&iu, X, ui.n_rows, &q, 1, Y));
            double t4 = cpu_now();
            tg_u = fmin(tg_u, t1 - t0);
            th_u = fmin(th_u, t2 - t1);
            tg_i = fmin(tg_i, t3 - t2);
            th_i = fmin(th_i, t4 - t3);
        }
        fprintf(stderr,
                "1 thread breakdown (CPU time): users YtY %.1f ms + CG %.1f ms (%.1f GFLOP/s); items XtX "
                "%.1f ms + CG %.1f ms (%.1f GFLOP/s)\n",
                tg_u * 1e3, (th_u - tg_u) * 1e3, cu.cg_flops / (th_u - tg_u) / 1e9, tg_i * 1e3,
                (th_i - tg_i) * 1e3, ci.cg_flops / (th_i - tg_i) / 1e9);
        json_object_set_new(
            res, "breakdown_1_thread_cpu_sec",
            json_pack("{s:f,s:f,s:f,s:f}", "users_gram", tg_u, "users_cg", th_u - tg_u,
                      "items_gram", tg_i, "items_cg", th_i - tg_i));
        free(G);
        free(X);
        free(Y);
    }

    /* Quality of the 3-step CG: its objective after the run against the exact solver's
     * (same seed, same iterations). */
    {
        br_als_model ex;
        br_als_params q = p;
        double l_cg, l_ex;
        q.threads = 2;
        q.progress = NULL;
        q.solver = BR_ALS_CHOLESKY;
        double t0 = now();
        CHECK(br_als_train(&ui, &q, &ex));
        double t_ex = now() - t0;
        CHECK(br_als_loss(&ui, &p, &keep, &l_cg));
        CHECK(br_als_loss(&ui, &p, &ex, &l_ex));
        fprintf(stderr, "objective after %d iterations: CG %.6g, exact %.6g (CG +%.3f%%); exact "
                        "run %.1f s\n",
                iterations, l_cg, l_ex, 100 * (l_cg / l_ex - 1), t_ex);
        json_object_set_new(res, "objective",
                            json_pack("{s:f,s:f,s:f,s:f}", "cg", l_cg, "exact", l_ex,
                                      "cg_over_exact", l_cg / l_ex - 1, "exact_run_sec", t_ex));
        br_als_model_free(&ex);
    }

    /* Fold-in latency. */
    {
        br_als_foldin *fi;
        p.threads = 1;
        CHECK(br_als_foldin_new(keep.item_factors, keep.n_items, &p, &fi));
        size_t n_users = 0;
        for (size_t u = 0; u < ui.n_rows; u++)
            n_users += ui.indptr[u + 1] - ui.indptr[u] >= 50;
        size_t ns = n_users * (size_t)foldin_reps, k = 0;
        double *lat = xmalloc(ns * sizeof *lat);
        float x[BR_ALS_MAX_FACTORS];
        for (int rep = -1; rep < foldin_reps; rep++) /* rep -1 warms up */
            for (size_t u = 0; u < ui.n_rows; u++) {
                int64_t lo = ui.indptr[u];
                if (ui.indptr[u + 1] - lo < 50)
                    continue;
                double t0 = now();
                CHECK(br_als_foldin_solve(fi, ui.indices + lo, ui.values + lo, 50, x));
                double dt = now() - t0;
                if (rep >= 0)
                    lat[k++] = dt;
            }
        double mean = 0;
        for (size_t j = 0; j < k; j++)
            mean += lat[j] / (double)k;
        double p50 = quantile(lat, k, 0.5), p99 = quantile(lat, k, 0.99), mx = lat[k - 1];
        fprintf(stderr, "fold-in, 50 interactions, f=%zu: p50 %.1f us, p99 %.1f us, max %.1f us "
                        "(%zu calls)\n",
                f, p50 * 1e6, p99 * 1e6, mx * 1e6, k);
        json_object_set_new(res, "foldin_50",
                            json_pack("{s:I,s:f,s:f,s:f,s:f,s:f}", "calls", (json_int_t)k,
                                      "p50_us", p50 * 1e6, "p99_us", p99 * 1e6, "mean_us",
                                      mean * 1e6, "max_us", mx * 1e6, "target_p99_us", 200.0));
        free(lat);
        br_als_foldin_free(fi);
    }

    json_object_set_new(res, "machine", json_incref(mj));
    json_object_set_new(res, "target_ratio_to_floor", json_real(5.0));
    if (json_dump_file(res, out, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) < 0) {
        fprintf(stderr, "cannot write %s\n", out);
        return 1;
    }
    fprintf(stderr, "wrote %s\n", out);
    json_decref(res);
    json_decref(mj);
    br_als_model_free(&keep);
    br_csr_free(&ui);
    br_csr_free(&iu);
    return 0;
}
