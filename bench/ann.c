/* bench-ann: our side of the ANN benchmark (bench/ann.sh, bench/ann.md).
 *
 *   bench-ann run --base B.npy --queries Q.npy --dataset NAME [--metric cosine|ip|ip_aug]
 *                 [--M 16] [--efc 200] [--efs 10,16,...] [--build-threads 2] [--repeat 3]
 *                 [--gt-dir DIR] [--save PATH] [--min-count N --counts C.npy]
 *                 [--reach auto|on|off]
 *       Exact top 10 with br_flat_topk (written to DIR/gt_ids.npy, gt_scores.npy for
 *       bench/ann_ref.py), an HNSW build timed with its resident-memory growth, then per ef:
 *       recall@10 (plain, and with ties counted: a hit is any result scoring at least the
 *       exact 10th score) and batched queries per second at 1 and 2 threads (best of
 *       --repeat runs). One JSON object per line on stdout.
 *   bench-ann open --index PATH --queries Q.npy [--cold]
 *       Time from br_hnsw_open to the first answered query, in a fresh process; --cold first
 *       evicts the file from the page cache (POSIX_FADV_DONTNEED; bench/ann.sh also drops
 *       every cache when it may).
 *   bench-ann hybrid --subj S.npy --als A.npy --queries IDX.npy [--efs ...] [--ws ...]
 *       Hybrid approximate vs exact recall@10 per w (hybrid.h), by item queries.
 *
 * Every input comes from .npy files (bench/gen_vectors.py, or real model outputs). */
#include "bookrec/error.h"
#include "bookrec/flat.h"
#include "bookrec/hnsw.h"
#include "bookrec/hybrid.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define K 10
#define MAX_EFS 32

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-ann: %s: %s (%s)\n", what, br_strerror(rc), br_err_name(rc));
    exit(1);
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static size_t parse_list(const char *s, double *out, size_t max)
{
    size_t n = 0;
    while (s && *s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return n;
}

/* A float32 matrix from a .npy file, copied out of the mapping (small next to the index). */
static float *load_f32(const char *path, size_t *rows, size_t *cols)
{
    br_npy a;
    int rc = br_npy_open(path, &a);
    if (rc)
        die(path, rc);
    if (a.dtype != BR_NPY_F32 || a.cols == 0)
        die(path, BR_EFORMAT);
    *rows = a.rows;
    *cols = a.cols;
    float *x = malloc(a.rows * a.cols * sizeof *x);
    if (!x)
        die(path, BR_ENOMEM);
    memcpy(x, a.data, a.rows * a.cols * sizeof *x);
    br_npy_close(&a);
    return x;
}

static int32_t *load_i32(const char *path, size_t *n)
{
    br_npy a;
    int rc = br_npy_open(path, &a);
    if (rc)
        die(path, rc);
    *n = a.rows * (a.cols ? a.cols : 1);
    int32_t *x = malloc(*n * sizeof *x);
    if (!x)
        die(path, BR_ENOMEM);
    if (a.dtype == BR_NPY_I32)
        memcpy(x, a.data, *n * sizeof *x);
    else if (a.dtype == BR_NPY_I64)
        for (size_t i = 0; i < *n; i++)
            x[i] = (int32_t)((const int64_t *)a.data)[i];
    else
        die(path, BR_EFORMAT);
    br_npy_close(&a);
    return x;
}

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* Plain and ties-counted recall@K of ids against the exact answer. */
static void recall(const float *base, size_t dim, const float *qs, size_t nq, const int32_t *ids,
                   const int32_t *gt, const float *gt_sc, double *plain, double *ties)
{
    size_t hit = 0, hit_t = 0, tot = 0;
    for (size_t q = 0; q < nq; q++) {
        float s10 = gt_sc[q * K + K - 1];
        float tol = 1e-5f * (fabsf(s10) > 1 ? fabsf(s10) : 1);
        for (size_t j = 0; j < K; j++) {
            int32_t id = ids[q * K + j];
            tot++;
            if (id < 0)
                continue;
            for (size_t i = 0; i < K; i++)
                if (gt[q * K + i] == id) {
                    hit++;
                    break;
                }
            double s = 0;
            for (size_t d = 0; d < dim; d++)
                s += (double)qs[q * dim + d] * base[(size_t)id * dim + d];
            if (s >= s10 - tol)
                hit_t++;
        }
    }
    *plain = (double)hit / (double)tot;
    *ties = (double)hit_t / (double)tot;
}

static void write_gt(const char *dir, const int32_t *ids, const float *sc, size_t nq)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/gt_ids.npy", dir);
    int rc = br_npy_write(p, BR_NPY_I32, ids, nq, K);
    if (rc)
        die(p, rc);
    snprintf(p, sizeof p, "%s/gt_scores.npy", dir);
    if ((rc = br_npy_write(p, BR_NPY_F32, sc, nq, K)))
        die(p, rc);
}

static double time_batch(const br_hnsw *h, const float *qs, size_t nq, size_t ef, int threads,
                         int repeat, int32_t *ids)
{
    double best = 1e30;
    br_hnsw_batch_opts o = {.ef = ef, .threads = threads};
    for (int r = 0; r < repeat; r++) {
        double t0 = br_now();
        int rc = br_hnsw_search_batch(h, qs, nq, K, &o, ids, NULL);
        double t = br_now() - t0;
        if (rc)
            die("search", rc);
        best = t < best ? t : best;
    }
    return (double)nq / best;
}

static int cmd_run(int argc, char **argv)
{
    size_t n, dim, nq, qdim;
    const char *name = arg(argc, argv, "--dataset", "synthetic");
    float *base = load_f32(arg(argc, argv, "--base", "base.npy"), &n, &dim);
    float *qs = load_f32(arg(argc, argv, "--queries", "queries.npy"), &nq, &qdim);
    if (qdim != dim)
        die("queries and base differ in dimension", BR_EINVAL);
    const char *metric_s = arg(argc, argv, "--metric", "cosine");
    br_hnsw_params p;
    br_hnsw_params_default(&p);
    p.metric = strcmp(metric_s, "ip") == 0       ? BR_HNSW_IP
               : strcmp(metric_s, "ip_aug") == 0 ? BR_HNSW_IP_AUGMENTED
                                                 : BR_HNSW_COSINE;
    p.M = (uint32_t)atoi(arg(argc, argv, "--M", "16"));
    p.ef_construction = (uint32_t)atoi(arg(argc, argv, "--efc", "200"));
    p.threads = atoi(arg(argc, argv, "--build-threads", "2"));
    const char *reach = arg(argc, argv, "--reach", "auto");
    p.reach = strcmp(reach, "on") == 0    ? BR_HNSW_REACH_ON
              : strcmp(reach, "off") == 0 ? BR_HNSW_REACH_OFF
                                          : BR_HNSW_REACH_AUTO;
    int repeat = atoi(arg(argc, argv, "--repeat", "3"));
    double efs[MAX_EFS];
    size_t n_efs = parse_list(arg(argc, argv, "--efs", "10,16,24,32,48,64,128,256"), efs,
                              MAX_EFS);
    if (p.metric == BR_HNSW_COSINE) { /* the ground truth is then the cosine too */
        br_normalize_rows(base, n, dim);
        br_normalize_rows(qs, nq, dim);
    }

    /* Optional "served" filter: keep rows whose count is at least N (as the seed did). */
    const char *counts_path = arg(argc, argv, "--counts", NULL);
    int min_count = atoi(arg(argc, argv, "--min-count", "0"));
    if (counts_path && min_count > 0) {
        size_t nc;
        int32_t *cnt = load_i32(counts_path, &nc);
        if (nc != n)
            die("counts and base differ in length", BR_EINVAL);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (cnt[i] >= min_count)
                memmove(base + m++ * dim, base + i * dim, dim * sizeof *base);
        fprintf(stderr, "bench-ann: %zu of %zu rows with count >= %d\n", m, n, min_count);
        n = m;
        free(cnt);
    }

    int32_t *gt = malloc(nq * K * sizeof *gt), *ids = malloc(nq * K * sizeof *ids);
    float *gt_sc = malloc(nq * K * sizeof *gt_sc);
    double t0 = br_now();
    br_flat_opts fo = {.threads = 2};
    int rc = br_flat_topk(base, n, dim, qs, nq, K, &fo, gt, gt_sc);
    if (rc)
        die("flat", rc);
    fprintf(stderr, "bench-ann: %s: exact top %d of %zu queries in %.2f s\n", name, K, nq,
            br_now() - t0);
    const char *gt_dir = arg(argc, argv, "--gt-dir", NULL);
    if (gt_dir)
        write_gt(gt_dir, gt, gt_sc, nq);

    double m0 = rss_mb();
    t0 = br_now();
    br_hnsw *h;
    if ((rc = br_hnsw_build(base, n, dim, NULL, &p, &h)))
        die("build", rc);
    double build_s = br_now() - t0, mem = rss_mb() - m0;
    fprintf(stderr, "bench-ann: %s: built %zu x %zu (M %u, efc %u, %d threads, kernel %s) in "
                    "%.2f s, +%.1f MB resident, index %.1f MB\n",
            name, n, dim, p.M, p.ef_construction, p.threads, br_hnsw_kernel(), build_s, mem,
            (double)br_hnsw_memory(h) / 1048576.0);
    const char *save = arg(argc, argv, "--save", NULL);
    if (save && (rc = br_hnsw_save(h, save)))
        die("save", rc);

    for (size_t e = 0; e < n_efs; e++) {
        size_t ef = (size_t)efs[e];
        br_hnsw_batch_opts o = {.ef = ef, .threads = 2};
        if ((rc = br_hnsw_search_batch(h, qs, nq, K, &o, ids, NULL)))
            die("search", rc);
        double r, rt;
        recall(base, dim, qs, nq, ids, gt, gt_sc, &r, &rt);
        double q1 = time_batch(h, qs, nq, ef, 1, repeat, ids);
        double q2 = time_batch(h, qs, nq, ef, 2, repeat, ids);
        printf("{\"impl\": \"bookrec\", \"dataset\": \"%s\", \"n\": %zu, \"dim\": %zu, \"M\": %u, "
               "\"ef_construction\": %u, \"ef\": %zu, \"recall_at_10\": %.5f, "
               "\"recall_ties_at_10\": %.5f, \"qps_1t\": %.1f, \"qps_2t\": %.1f, "
               "\"build_s\": %.3f, \"memory_mb\": %.1f, \"metric\": \"%s\"}\n",
               name, n, dim, p.M, p.ef_construction, ef, r, rt, q1, q2, build_s, mem, metric_s);
        fflush(stdout);
    }
    br_hnsw_free(h);
    free(base), free(qs), free(gt), free(ids), free(gt_sc);
    return 0;
}

/* Sweeps ef over a saved index (for tuning the search without rebuilding). */
static int cmd_search(int argc, char **argv)
{
    size_t nq, dim, n, bdim, ng, gk;
    const char *dir = arg(argc, argv, "--dir", ".");
    char p[4096];
    snprintf(p, sizeof p, "%s/base.npy", dir);
    float *base = load_f32(p, &n, &bdim);
    snprintf(p, sizeof p, "%s/queries.npy", dir);
    float *qs = load_f32(p, &nq, &dim);
    br_normalize_rows(base, n, bdim);
    br_normalize_rows(qs, nq, dim);
    snprintf(p, sizeof p, "%s/gt_scores.npy", dir);
    float *gt_sc = load_f32(p, &ng, &gk);
    snprintf(p, sizeof p, "%s/gt_ids.npy", dir);
    int32_t *gt = load_i32(p, &ng);
    char err[256];
    br_hnsw *h;
    int rc = br_hnsw_open(arg(argc, argv, "--index", "index.hnsw"), err, sizeof err, &h);
    if (rc) {
        fprintf(stderr, "bench-ann: %s\n", err);
        die("open", rc);
    }
    double efs[MAX_EFS];
    size_t n_efs = parse_list(arg(argc, argv, "--efs", "16,32,64,128"), efs, MAX_EFS);
    int repeat = atoi(arg(argc, argv, "--repeat", "3"));
    int32_t *ids = malloc(nq * K * sizeof *ids);
    for (size_t e = 0; e < n_efs; e++) {
        /* CPU time as well as wall time: on a shared machine the first is steadier. */
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        double q1 = time_batch(h, qs, nq, (size_t)efs[e], 1, repeat, ids), r, rt;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
        recall(base, dim, qs, nq, ids, gt, gt_sc, &r, &rt);
        printf("ef %4zu recall %.4f ties %.4f qps_1t %.0f qps_cpu %.0f\n", (size_t)efs[e], r,
               rt, q1, (double)nq * repeat / cpu);
    }
    br_hnsw_free(h);
    free(base), free(qs), free(gt_sc), free(gt), free(ids);
    return 0;
}

static int cmd_open(int argc, char **argv)
{
    const char *path = arg(argc, argv, "--index", "index.hnsw");
    size_t nq, dim;
    float *qs = load_f32(arg(argc, argv, "--queries", "queries.npy"), &nq, &dim);
    int cold = flag(argc, argv, "--cold");
    if (cold) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
            die("evicting the index from the page cache", BR_EIO);
        close(fd);
    }
    char err[256];
    br_hnsw *h;
    int32_t ids[K];
    double t0 = br_now();
    int rc = br_hnsw_open(path, err, sizeof err, &h);
    if (rc) {
        fprintf(stderr, "bench-ann: %s\n", err);
        die("open", rc);
    }
    double t_open = br_now() - t0;
    br_hnsw_search_opts o = {.ef = 64};
    if ((rc = br_hnsw_search(h, qs, K, &o, ids, NULL)))
        die("search", rc);
    double t_first = br_now() - t0;
    double t1 = br_now();
    if ((rc = br_hnsw_search(h, qs + dim, K, &o, ids, NULL)))
        die("search", rc);
    double t_second = br_now() - t1;
    printf("{\"what\": \"open_first_query\", \"cache\": \"%s\", \"n\": %zu, \"file_mb\": %.1f, "
           "\"open_ms\": %.3f, \"first_query_ms\": %.3f, \"second_query_ms\": %.3f}\n",
           cold ? "cold" : "warm", br_hnsw_size(h), (double)br_hnsw_memory(h) / 1048576.0,
           t_open * 1e3, t_first * 1e3, t_second * 1e3);
    br_hnsw_free(h);
    free(qs);
    return 0;
}

static int cmd_hybrid(int argc, char **argv)
{
    size_t n, ds, n2, da, nq;
    float *subj = load_f32(arg(argc, argv, "--subj", "subj.npy"), &n, &ds);
    float *als = load_f32(arg(argc, argv, "--als", "als.npy"), &n2, &da);
    int32_t *qi = load_i32(arg(argc, argv, "--queries", "queries.npy"), &nq);
    if (n2 != n)
        die("subject and ALS rows differ", BR_EINVAL);
    const char *name = arg(argc, argv, "--dataset", "hybrid");
    double efs[MAX_EFS], ws[MAX_EFS];
    size_t n_efs = parse_list(arg(argc, argv, "--efs", "32,64,128,256"), efs, MAX_EFS);
    size_t n_ws = parse_list(arg(argc, argv, "--ws", "0,0.25,0.5,0.75,1"), ws, MAX_EFS);
    br_hybrid_params hp;
    br_hybrid_params_default(&hp);
    hp.hnsw.M = (uint32_t)atoi(arg(argc, argv, "--M", "16"));
    hp.hnsw.ef_construction = (uint32_t)atoi(arg(argc, argv, "--efc", "200"));
    hp.hnsw.threads = 2;
    double t0 = br_now();
    br_hybrid *hy;
    int rc = br_hybrid_build(subj, ds, als, da, n, NULL, &hp, &hy);
    if (rc)
        die("hybrid build", rc);
    double build_s = br_now() - t0;
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
        missing += !br_hybrid_has_als(hy, (int32_t)i);
    fprintf(stderr, "bench-ann: hybrid %zu items (%zu without ALS) built in %.2f s\n", n,
            missing, build_s);
    int32_t *want = malloc(nq * K * sizeof *want), *got = malloc(nq * K * sizeof *got);
    float *want_sc = malloc(nq * K * sizeof *want_sc);
    for (size_t w = 0; w < n_ws; w++) {
        br_hybrid_query_opts ex = {.w = ws[w], .exact = 1, .threads = 2};
        t0 = br_now();
        if ((rc = br_hybrid_similar_batch(hy, qi, nq, K, &ex, want, want_sc)))
            die("hybrid exact", rc);
        double t_exact = br_now() - t0;
        for (size_t e = 0; e < n_efs; e++) {
            br_hybrid_query_opts ap = {.w = ws[w], .ef = (size_t)efs[e], .threads = 2};
            t0 = br_now();
            if ((rc = br_hybrid_similar_batch(hy, qi, nq, K, &ap, got, NULL)))
                die("hybrid approximate", rc);
            double t = br_now() - t0;
            size_t hit = 0, tot = 0, hit_t = 0;
            for (size_t q = 0; q < nq; q++) {
                float s10 = want_sc[q * K + K - 1];
                for (size_t j = 0; j < K; j++) {
                    if (want[q * K + j] < 0)
                        continue;
                    tot++;
                    for (size_t i = 0; i < K; i++)
                        if (got[q * K + i] == want[q * K + j]) {
                            hit++;
                            break;
                        }
                    float s;
                    if (got[q * K + j] >= 0 &&
                        br_hybrid_score(hy, qi[q], got[q * K + j], ws[w], &s) == 0 &&
                        s >= s10 - 1e-5f)
                        hit_t++;
                }
            }
            printf("{\"what\": \"hybrid\", \"dataset\": \"%s\", \"n\": %zu, \"w\": %.2f, \"ef\": "
                   "%zu, \"recall_at_10\": %.5f, \"recall_ties_at_10\": %.5f, \"qps_2t\": %.1f, "
                   "\"exact_qps_2t\": %.1f, \"build_s\": %.3f}\n",
                   name, n, ws[w], (size_t)efs[e], tot ? (double)hit / (double)tot : 1.0,
                   tot ? (double)hit_t / (double)tot : 1.0, (double)nq / t,
                   (double)nq / t_exact, build_s);
            fflush(stdout);
        }
    }
    br_hybrid_free(hy);
    free(subj), free(als), free(qi), free(want), free(got), free(want_sc);
    return 0;
}

int main(int argc, char **argv)
{
    br_log_set_level(BR_LOG_WARN);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "search") == 0)
        return cmd_search(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "open") == 0)
        return cmd_open(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "hybrid") == 0)
        return cmd_hybrid(argc, argv);
    fprintf(stderr, "usage: bench-ann run|open|hybrid ... (see bench/ann.c)\n");
    return 2;
}
