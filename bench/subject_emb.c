/* Subject-embedding benchmark and reference problem (bench/subject_emb.md).
 *
 *   build/bench-subject_emb --out DIR [--pool perdim|scalar|mean] [--threads N]
 *                           [--steps 100] [--seed 1]
 *
 * Writes into DIR a deterministic problem shaped like the Book-Crossing training data
 * (1,000 subjects with Zipf popularity, 10,000 books with 3..20 subjects, 20,000 readers
 * with 1..10 favorite subjects, 204,800 rated triples whose ratings the subjects predict),
 * the model's initial tensors and the triple order of `steps` batches of 2048, all as
 * .npy, plus params.json. Then it runs those steps with br_semb_step and writes the loss
 * of every step and the time per step to c_run.json. 100 batches of 2048 are exactly one
 * epoch of these triples, so their total time is the time per epoch.
 * bench/subject_emb_torch.py trains the same model in PyTorch from these files and
 * compares the losses step by step.
 *
 * Design decisions:
 * 1. The problem is synthetic (and labelled so): the comparison needs identical inputs on
 *    both sides, not the real catalog; its sizes follow the real data so the timings mean
 *    something (bench/subject_emb.md gives the real data's sizes next to them).
 * 2. The global bias starts at the mean rating, as br_semb_train does, so step 1 sees
 *    the same model a real training run sees.
 * 3. --threads sets OpenMP's and OpenBLAS's thread counts, so one number governs both. */
#include "bookrec/subject_emb.h"
#include "bookrec/error.h"
#include "bookrec/log.h"
#include "bookrec/npy.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { NS = 1000, NI = 10000, NU = 20000, BATCH = 2048, K = 8 }; /* (cblas.h defines I) */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s:%d: out of memory (%zu bytes)\n", __FILE__, __LINE__, n);
        exit(1);
    }
    return p;
}

/* splitmix64: the bench's own generator (the model has its own). */
static uint64_t g_state;
static uint64_t next_u64(void)
{
    uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unit(void)
{
    return (double)(next_u64() >> 11) * 0x1.0p-53;
}
static double normal(void)
{
    return sqrt(-2 * log(1 - unit())) * cos(2 * M_PI * unit());
}

/* Sampling from a Zipf-like law over n ranks: cumulative weights 1 / (r + 1)^a. */
static double *zipf_cdf(size_t n, double a)
{
    double *c = xmalloc(n * sizeof *c), s = 0;
    for (size_t r = 0; r < n; r++)
        c[r] = (s += pow((double)r + 1, -a));
    for (size_t r = 0; r < n; r++)
        c[r] /= s;
    return c;
}
static size_t zipf_draw(const double *cdf, size_t n)
{
    double u = unit();
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* rows sets of lo..hi distinct subjects drawn from cdf. */
static void make_sets(size_t rows, size_t lo, size_t hi, const double *cdf, int64_t **off_out,
                      int32_t **sub_out)
{
    int64_t *off = xmalloc((rows + 1) * sizeof *off);
    int32_t *sub = xmalloc(rows * hi * sizeof *sub);
    off[0] = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t n = lo + (size_t)(unit() * (double)(hi - lo + 1)), k = (size_t)off[r];
        while (k - (size_t)off[r] < n) {
            int32_t v = (int32_t)zipf_draw(cdf, NS);
            int dup = 0;
            for (size_t q = (size_t)off[r]; q < k; q++)
                dup |= sub[q] == v;
            if (!dup)
                sub[k++] = v;
        }
        off[r + 1] = (int64_t)k;
    }
    *off_out = off;
    *sub_out = sub;
}

static void latent(const int64_t *off, const int32_t *sub, size_t r, double taste[][K], double *out)
{
    size_t n = (size_t)(off[r + 1] - off[r]);
    n = n > 16 ? 16 : n;
    for (int k = 0; k < K; k++) {
        double acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += taste[sub[off[r] + (int64_t)j]][k];
        out[k] = acc / sqrt((double)n);
    }
}

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench-subject_emb: %s: %s\n", what, br_strerror(rc));
        exit(1);
    }
}

static void save(const char *dir, const char *name, enum br_npy_dtype t, const void *data,
                 size_t rows, size_t cols)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    check(br_npy_write(path, t, data, rows, cols), path);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *pool = "perdim";
    int threads = 1;
    size_t steps = 100;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--pool") && i + 1 < argc)
            pool = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (uint64_t)atoll(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s --out DIR [--pool perdim|scalar|mean] [--threads N] "
                    "[--steps 100] [--seed 1]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!out || threads < 1 || steps < 1) {
        fprintf(stderr, "bench-subject_emb: --out DIR is required; threads, steps >= 1\n");
        return 2;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        perror(out);
        return 1;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);

    /* ---- the problem ---- */
    g_state = seed;
    double *scdf = zipf_cdf(NS, 0.9), *icdf = zipf_cdf(NI, 0.8), *ucdf = zipf_cdf(NU, 0.6);
    static double taste[NS][K];
    for (int s = 0; s < NS; s++)
        for (int k = 0; k < K; k++)
            taste[s][k] = normal();
    int64_t *ioff, *uoff;
    int32_t *isub, *usub;
    make_sets(NI, 3, 20, scdf, &ioff, &isub);
    make_sets(NU, 1, 10, scdf, &uoff, &usub);
    size_t T = steps * BATCH;
    int32_t *tu = xmalloc(T * sizeof *tu), *ti = xmalloc(T * sizeof *ti);
    float *tr = xmalloc(T * sizeof *tr);
    double rsum = 0;
    for (size_t t = 0; t < T; t++) {
        size_t u = zipf_draw(ucdf, NU), i = zipf_draw(icdf, NI);
        double lu[K], li[K], dot = 0;
        latent(uoff, usub, u, taste, lu);
        latent(ioff, isub, i, taste, li);
        for (int k = 0; k < K; k++)
            dot += lu[k] * li[k];
        double r = round(7.6 + 0.35 * dot + 1.2 * normal());
        tu[t] = (int32_t)u;
        ti[t] = (int32_t)i;
        tr[t] = (float)(r < 1 ? 1 : r > 10 ? 10 : r);
        rsum += tr[t];
    }
    /* batches: a permutation of the triples */
    int64_t *order = xmalloc(T * sizeof *order);
    for (size_t t = 0; t < T; t++)
        order[t] = (int64_t)t;
    for (size_t t = T - 1; t > 0; t--) {
        size_t j = (size_t)(unit() * (double)(t + 1));
        int64_t x = order[t];
        order[t] = order[j];
        order[j] = x;
    }

    /* ---- the model ---- */
    br_semb_params p;
    br_semb *m;
    br_semb_params_default(&p);
    check(br_semb_pool_parse(pool, &p.pool), "--pool");
    p.threads = threads;
    p.seed = seed;
    check(br_semb_new(&p, NS, NU, NI, &m), "br_semb_new");
    float gb = (float)(rsum / (double)T);
    check(br_semb_tensor_set(m, "global_bias", &gb, 1, 0), "global_bias");

    /* ---- files ---- */
    size_t *soff_i = xmalloc((NI + 1) * sizeof *soff_i),
           *soff_u = xmalloc((NU + 1) * sizeof *soff_u);
    for (size_t r = 0; r <= NI; r++)
        soff_i[r] = (size_t)ioff[r];
    for (size_t r = 0; r <= NU; r++)
        soff_u[r] = (size_t)uoff[r];
    save(out, "item_offsets", BR_NPY_I64, ioff, NI + 1, 0);
    save(out, "item_subjects", BR_NPY_I32, isub, (size_t)ioff[NI], 0);
    save(out, "user_offsets", BR_NPY_I64, uoff, NU + 1, 0);
    save(out, "user_subjects", BR_NPY_I32, usub, (size_t)uoff[NU], 0);
    save(out, "triple_user", BR_NPY_I32, tu, T, 0);
    save(out, "triple_item", BR_NPY_I32, ti, T, 0);
    save(out, "triple_rating", BR_NPY_F32, tr, T, 0);
    save(out, "batches", BR_NPY_I64, order, steps, BATCH);
    for (size_t k = 0; k < br_semb_n_tensors(m); k++) {
        br_semb_tensor t;
        char name[256];
        check(br_semb_tensor_at(m, k, &t), "tensor");
        snprintf(name, sizeof name, "init_%s", t.name);
        save(out, name, BR_NPY_F32, t.data, t.rows, t.cols);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/params.json", out);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "{\"synthetic\": true, \"n_subjects\": %d, \"n_users\": %d, \"n_items\": %d, "
            "\"n_triples\": %zu, \"steps\": %zu, \"batch\": %d, \"pool\": \"%s\", \"dim\": %zu, "
            "\"max_set\": %zu, \"lambda_mse\": %.9g, \"lambda_con\": %.9g, \"tau\": %.9g, "
            "\"lr\": %.9g, \"weight_decay\": %.9g, \"beta1\": %.9g, \"beta2\": %.9g, "
            "\"eps\": %.9g, \"clip\": %.9g, \"threads\": %d, \"seed\": %llu}\n",
            NS, NU, NI, T, steps, BATCH, pool, p.dim, p.max_set, p.lambda_mse, p.lambda_con, p.tau,
            p.lr, p.weight_decay, p.beta1, p.beta2, p.eps, p.clip, threads,
            (unsigned long long)seed);
    fclose(f);

    /* ---- the run ---- */
    br_semb_data d = {
        .items = {NI, soff_i, isub},
        .users = {NU, soff_u, usub},
        .user = tu,
        .item = ti,
        .rating = tr,
        .n_triples = T,
    };
    double *loss = xmalloc(steps * 3 * sizeof *loss), *secs = xmalloc(steps * sizeof *secs);
    size_t *idx = xmalloc(BATCH * sizeof *idx), books = 0, anchors = 0;
    double total = 0;
    for (size_t s = 0; s < steps; s++) {
        br_semb_step_stats st;
        for (size_t j = 0; j < BATCH; j++)
            idx[j] = (size_t)order[s * BATCH + j];
        double t0 = br_now();
        check(br_semb_step(m, &d, idx, BATCH, &st), "br_semb_step");
        secs[s] = br_now() - t0;
        total += secs[s];
        loss[3 * s] = st.loss;
        loss[3 * s + 1] = st.mse;
        loss[3 * s + 2] = st.con;
        books += st.n_books;
        anchors += st.n_anchors;
    }
    snprintf(path, sizeof path, "%s/c_run.json", out);
    if (!(f = fopen(path, "w"))) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "{\"threads\": %d, \"pool\": \"%s\", \"epoch_seconds\": %.6f, "
            "\"mean_distinct_books\": %.1f, \"mean_anchors\": %.1f,\n",
            threads, pool, total, (double)books / (double)steps, (double)anchors / (double)steps);
    const char *keys[3] = {"loss", "mse", "con"};
    for (int k = 0; k < 3; k++) {
        fprintf(f, " \"%s\": [", keys[k]);
        for (size_t s = 0; s < steps; s++)
            fprintf(f, "%s%.17g", s ? ", " : "", loss[3 * s + (size_t)k]);
        fprintf(f, "],\n");
    }
    fprintf(f, " \"step_seconds\": [");
    for (size_t s = 0; s < steps; s++)
        fprintf(f, "%s%.6f", s ? ", " : "", secs[s]);
    fprintf(f, "]}\n");
    fclose(f);
    printf("subject_emb %s, %d thread(s): %zu steps of %d in %.3f s (%.1f ms/step); loss %.5f "
           "-> %.5f\n",
           pool, threads, steps, BATCH, total, 1e3 * total / (double)steps, loss[0],
           loss[3 * (steps - 1)]);

    br_semb_free(m);
    free(scdf), free(icdf), free(ucdf), free(ioff), free(uoff), free(isub), free(usub);
    free(tu), free(ti), free(tr), free(order), free(soff_i), free(soff_u), free(loss);
    free(secs), free(idx);
    return 0;
}
