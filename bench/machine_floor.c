/* This machine's compute and memory ceilings, for the floors of bench/als.md.
 *
 *   build/bench-machine_floor [OUT.json]     (default bench/results/machine.json)
 *
 * sgemm GFLOP/s (OpenBLAS) at 1 and 2 threads for the shapes ALS uses and a large square
 * one; ssyrk for YtY; and a STREAM-like triad a = b + s c over arrays far larger than the
 * last-level cache (McCalpin's convention: 24 bytes per double element, no write-allocate
 * traffic counted). Every figure is the best of several repetitions. Two ways of using two
 * threads are measured for sgemm: OpenBLAS threading one call ("blas"), and two OpenMP
 * threads each calling single-threaded sgemm on its own block ("omp"), which is what
 * lib/model/als_solve.c does. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "%s:%d: out of memory (%zu bytes)\n", __FILE__, __LINE__, n);
        exit(1);
    }
    return p;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

static void set_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* Best GFLOP/s of C[m][n] = A[m][k] B[k][n] over reps runs of `calls` calls. mode "blas": one
 * call threaded by OpenBLAS with `threads` threads; "omp": `threads` OpenMP threads, each
 * calling single-threaded sgemm on its own A, C. */
static double sgemm_gflops(int m, int n, int k, int threads, const char *mode, int calls)
{
    int omp = strcmp(mode, "omp") == 0, copies = omp ? threads : 1;
    float *A = xmalloc((size_t)copies * m * k * sizeof *A), *B = xmalloc((size_t)k * n * sizeof *B);
    float *C = xmalloc((size_t)copies * m * n * sizeof *C);
    fill(A, (size_t)copies * m * k, 1);
    fill(B, (size_t)k * n, 2);
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = now();
        if (omp) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
            {
#ifdef _OPENMP
                int t = omp_get_thread_num();
#else
                int t = 0;
#endif
                for (int c = 0; c < calls; c++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                                A + (size_t)t * m * k, k, B, n, 0.0f, C + (size_t)t * m * n, n);
            }
        } else {
            set_threads(threads);
            for (int c = 0; c < calls; c++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A, k, B, n,
                            0.0f, C, n);
        }
        double dt = now() - t0, g = 2.0 * m * n * k * calls * copies / dt / 1e9;
        if (rep > 0 && g > best) /* the first run warms up */
            best = g;
    }
    free(A);
    free(B);
    free(C);
    return best;
}

static double ssyrk_gflops(int n, int f, int threads)
{
    float *Y = xmalloc((size_t)n * f * sizeof *Y), *G = xmalloc((size_t)f * f * sizeof *G);
    fill(Y, (size_t)n * f, 3);
    set_threads(threads);
    double best = 0;
    for (int rep = 0; rep < 8; rep++) {
        double t0 = now();
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, f, n, 1.0f, Y, f, 0.0f, G, f);
        double g = (double)n * f * (f + 1) / (now() - t0) / 1e9;
        if (rep > 0 && g > best)
            best = g;
    }
    free(Y);
    free(G);
    return best;
}

/* STREAM triad, GB/s (1e9 bytes), 24 bytes per element. */
static double triad_gbs(size_t n, int threads)
{
    double *a = xmalloc(n * sizeof *a), *b = xmalloc(n * sizeof *b), *c = xmalloc(n * sizeof *c);
    const double s = 3.0;
    double best = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (size_t i = 0; i < n; i++) { /* first touch by the threads that use the pages */
        a[i] = 0;
        b[i] = 1;
        c[i] = 2;
    }
    for (int rep = 0; rep < 10; rep++) {
        double t0 = now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double g = 24.0 * (double)n / (now() - t0) / 1e9;
        if (rep > 0 && g > best)
            best = g;
    }
    if (a[n / 2] != 7.0) { /* keeps the loop honest */
        fprintf(stderr, "triad: wrong result %g\n", a[n / 2]);
        exit(1);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static void cpu_model(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, cap, "unknown");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 2;
                v[strcspn(v, "\n")] = 0;
                snprintf(buf, cap, "%s", v);
            }
            break;
        }
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "bench/results/machine.json";
    const size_t stream_n = (size_t)1 << 25; /* 3 arrays x 256 MiB: 24x a 32 MiB L3 */
    char cpu[256];
    cpu_model(cpu, sizeof cpu);

    struct {
        const char *name, *mode;
        int m, n, k, calls;
    } shapes[] = {
        {"als_block_32x64x64", "omp", 32, 64, 64, 20000},
        {"tall_123267x64x64", "blas", 123267, 64, 64, 5},
        {"square_2048", "blas", 2048, 2048, 2048, 2},
    };
    enum { NSH = sizeof shapes / sizeof shapes[0] };
    double sg[NSH][2], syrk[2], bw[2], peak[2] = {0, 0};
    for (int t = 1; t <= 2; t++) {
        for (int s = 0; s < NSH; s++) {
            sg[s][t - 1] = sgemm_gflops(shapes[s].m, shapes[s].n, shapes[s].k, t, shapes[s].mode,
                                        shapes[s].calls);
            if (sg[s][t - 1] > peak[t - 1])
                peak[t - 1] = sg[s][t - 1];
            fprintf(stderr, "sgemm %-20s threads %d: %7.1f GFLOP/s\n", shapes[s].name, t,
                    sg[s][t - 1]);
        }
        syrk[t - 1] = ssyrk_gflops(123267, 64, t);
        fprintf(stderr, "ssyrk 123267x64        threads %d: %7.1f GFLOP/s\n", t, syrk[t - 1]);
        bw[t - 1] = triad_gbs(stream_n, t);
        fprintf(stderr, "triad                  threads %d: %7.1f GB/s\n", t, bw[t - 1]);
    }

    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "{\n  \"cpu\": \"%s\",\n  \"openblas\": \"%s\",\n  \"openblas_core\": \"%s\",\n", cpu,
            openblas_get_config(), openblas_get_corename());
    fprintf(f, "  \"sgemm_gflops\": {\n");
    for (int s = 0; s < NSH; s++)
        fprintf(f, "    \"%s\": {\"mode_2t\": \"%s\", \"1\": %.1f, \"2\": %.1f}%s\n", shapes[s].name,
                shapes[s].mode, sg[s][0], sg[s][1], s + 1 < NSH ? "," : "");
    fprintf(f, "  },\n  \"ssyrk_123267x64_gflops\": {\"1\": %.1f, \"2\": %.1f},\n", syrk[0], syrk[1]);
    fprintf(f, "  \"peak_gflops\": {\"1\": %.1f, \"2\": %.1f},\n", peak[0], peak[1]);
    fprintf(f, "  \"triad_gbs\": {\"1\": %.1f, \"2\": %.1f},\n", bw[0], bw[1]);
    fprintf(f, "  \"triad_array_bytes\": %zu\n}\n", stream_n * sizeof(double));
    fclose(f);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}
