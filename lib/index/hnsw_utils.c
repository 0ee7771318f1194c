/* HNSW utilities shared by build, search and io (see hnsw_internal.h): distance kernels,
 * the scratch pool, level draws, the file layout.
 *
 * Design decisions:
 * 1. One inner-product kernel per instruction set, chosen once at run time: AVX-512F, else
 *    AVX2+FMA, else SSE (part of x86-64 itself), else portable C elsewhere. Vectors are
 *    padded with zeros to a multiple of 16 floats (64 bytes), so the kernels have no tail
 *    and every vector starts on a cache line. BOOKREC_SIMD=portable|sse|avx2|avx512 forces
 *    one (for benchmarks); an unsupported request falls back to the best available.
 * 2. Visited sets are arrays of 16-bit epochs (as hnswlib's VisitedList): a search bumps
 *    the epoch instead of clearing n entries, and clears only when the epoch wraps.
 * 3. Scratches live in a mutex-guarded free list owned by the index, so searches are
 *    thread-safe without thread-local storage and a scratch is reused across searches; the
 *    lock is taken twice per search, never inside the walk.
 * 4. A node's level is a pure function of (seed, node), so levels, and the memory for the
 *    upper link lists, are known before the parallel build starts. */
#include "bookrec/error.h"
#include "hnsw_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- distance kernels ---- */

float br__dot_portable(const float *a, const float *b, size_t n)
{
    float acc[16] = {0};
    for (size_t i = 0; i < n; i += 16)
        for (int t = 0; t < 16; t++)
            acc[t] += a[i + t] * b[i + t];
    float s = 0;
    for (int t = 0; t < 16; t++)
        s += acc[t];
    return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BR__HAVE_X86 1

/* SSE is part of x86-64 itself: the floor on any x86-64 CPU (as Debian's hnswlib build). */
static inline float hsum128(__m128 x)
{
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

static float dot_sse(const float *a, const float *b, size_t n)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(),
           s3 = _mm_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
        s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
        s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
    }
    return hsum128(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b,
                                                           size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    s0 = _mm256_add_ps(s0, s1);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* One horizontal sum for both AVX-512 kernels: a pair of identical vectors must score the
 * same whichever kernel saw it, or the neighbour heuristic, which compares a score from
 * one with a score from the other, treats exact duplicates by rounding noise. */
__attribute__((target("avx512f,avx2,fma"))) static inline float hsum512(__m512 s)
{
    __m256 y = _mm256_add_ps(_mm512_castps512_ps256(s),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

__attribute__((target("avx512f,avx2,fma"))) static float dot_avx512(const float *a,
                                                                     const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    if (i < n)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    return hsum512(_mm512_add_ps(s0, s1));
}

/* Dots of q with m rows, the query kept in registers; for 64 floats the same operations in
 * the same order as dot_avx512 (a multiply is an FMA onto zero), so the same result. */
__attribute__((target("avx512f,avx2,fma"))) static void
dot_many_avx512(const float *q, const float *base, size_t stride, const uint32_t *ids, size_t m,
                size_t n, float *out)
{
    if (n == 64) {
        __m512 q0 = _mm512_loadu_ps(q), q1 = _mm512_loadu_ps(q + 16);
        __m512 q2 = _mm512_loadu_ps(q + 32), q3 = _mm512_loadu_ps(q + 48);
        for (size_t i = 0; i < m; i++) {
            const float *v = base + (size_t)ids[i] * stride;
            __m512 a = _mm512_mul_ps(q0, _mm512_loadu_ps(v));
            __m512 b = _mm512_mul_ps(q1, _mm512_loadu_ps(v + 16));
            a = _mm512_fmadd_ps(q2, _mm512_loadu_ps(v + 32), a);
            b = _mm512_fmadd_ps(q3, _mm512_loadu_ps(v + 48), b);
            out[i] = hsum512(_mm512_add_ps(a, b));
        }
        return;
    }
    for (size_t i = 0; i < m; i++)
        out[i] = dot_avx512(q, base + (size_t)ids[i] * stride, n);
}

static void dot_many_sse(const float *q, const float *base, size_t stride, const uint32_t *ids,
                         size_t m, size_t n, float *out)
{
    for (size_t i = 0; i < m; i++)
        out[i] = dot_sse(q, base + (size_t)ids[i] * stride, n);
}

__attribute__((target("avx2,fma"))) static void dot_many_avx2(const float *q, const float *base,
                                                               size_t stride, const uint32_t *ids,
                                                               size_t m, size_t n, float *out)
{
    for (size_t i = 0; i < m; i++)
        out[i] = dot_avx2(q, base + (size_t)ids[i] * stride, n);
}
#endif

static void dot_many_portable(const float *q, const float *base, size_t stride,
                              const uint32_t *ids, size_t m, size_t n, float *out)
{
    for (size_t i = 0; i < m; i++)
        out[i] = br__dot_portable(q, base + (size_t)ids[i] * stride, n);
}

br__dot_many_fn br__dot_many_select(void)
{
    const char *name = br__dot_name();
#ifdef BR__HAVE_X86
    if (strcmp(name, "avx512") == 0)
        return dot_many_avx512;
    if (strcmp(name, "avx2") == 0)
        return dot_many_avx2;
    if (strcmp(name, "sse") == 0)
        return dot_many_sse;
#endif
    (void)name;
    return dot_many_portable;
}

br__dot_fn br__dot_by_name(const char *name)
{
    if (strcmp(name, "portable") == 0)
        return br__dot_portable;
#ifdef BR__HAVE_X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx2") == 0 && avx2)
        return dot_avx2;
    if (strcmp(name, "avx512") == 0 && avx2 && __builtin_cpu_supports("avx512f"))
        return dot_avx512;
    if (strcmp(name, "sse") == 0)
        return dot_sse;
#endif
    return NULL;
}

static br__dot_fn g_dot;
static const char *g_dot_name;
static pthread_once_t g_dot_once = PTHREAD_ONCE_INIT;

static void dot_init(void)
{
    static const char *const order[] = {"avx512", "avx2", "sse", "portable"};
    const char *want = getenv("BOOKREC_SIMD");
    for (size_t i = 0; want && i < sizeof order / sizeof order[0]; i++)
        if (strcmp(want, order[i]) == 0 && (g_dot = br__dot_by_name(order[i]))) {
            g_dot_name = order[i];
            return;
        }
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((g_dot = br__dot_by_name(order[i]))) {
            g_dot_name = order[i];
            return;
        }
}

br__dot_fn br__dot_select(void)
{
    pthread_once(&g_dot_once, dot_init);
    return g_dot;
}

const char *br__dot_name(void)
{
    pthread_once(&g_dot_once, dot_init);
    return g_dot_name;
}

const char *br_hnsw_kernel(void)
{
    return br__dot_name();
}

/* ---- candidates ---- */

static int cand_cmp(const void *a, const void *b)
{
    br__cand x = *(const br__cand *)a, y = *(const br__cand *)b;
    if (br__better(x, y))
        return -1;
    return br__better(y, x);
}

void br__cand_sort(br__cand *c, size_t n)
{
    if (n > 48) {
        qsort(c, n, sizeof *c, cand_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) { /* short lists (link pruning): insertion sort */
        br__cand x = c[i];
        size_t j = i;
        for (; j > 0 && br__better(x, c[j - 1]); j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
}

/* ---- scratch pool ---- */

struct br__pool {
    pthread_mutex_t mu;
    br__scratch *free_list;
    size_t n, dim_pad, M0;
};

static void scratch_free(br__scratch *s)
{
    if (!s)
        return;
    free(s->tags);
    free(s->cand);
    free(s->res);
    free(s->q);
    free(s->nbr);
    free(s->nbr_s);
    free(s->sel);
    free(s->excl);
    free(s);
}

static br__scratch *scratch_new(size_t n, size_t dim_pad, size_t M0)
{
    br__scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = n;
    s->tags = calloc(n ? n : 1, sizeof *s->tags);
    s->q = aligned_alloc(64, dim_pad * sizeof(float));
    s->nbr = malloc((M0 + 1) * sizeof *s->nbr);
    s->nbr_s = malloc((M0 + 1) * sizeof *s->nbr_s);
    s->sel = malloc((M0 + 1) * sizeof *s->sel);
    if (!s->tags || !s->q || !s->nbr || !s->nbr_s || !s->sel || br__scratch_reserve(s, 256, 256, 0)) {
        scratch_free(s);
        return NULL;
    }
    return s;
}

int br__pool_new(size_t n, size_t dim_pad, size_t M0, br__pool **out)
{
    br__pool *p = calloc(1, sizeof *p);
    if (!p)
        return BR_ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return BR_ENOMEM;
    }
    p->n = n;
    p->dim_pad = dim_pad;
    p->M0 = M0;
    *out = p;
    return 0;
}

void br__pool_free(br__pool *p)
{
    if (!p)
        return;
    while (p->free_list) {
        br__scratch *s = p->free_list;
        p->free_list = s->next;
        scratch_free(s);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

br__scratch *br__pool_get(br__pool *p)
{
    pthread_mutex_lock(&p->mu);
    br__scratch *s = p->free_list;
    if (s)
        p->free_list = s->next;
    pthread_mutex_unlock(&p->mu);
    if (!s)
        s = scratch_new(p->n, p->dim_pad, p->M0);
    return s;
}

void br__pool_put(br__pool *p, br__scratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&p->mu);
    s->next = p->free_list;
    p->free_list = s;
    pthread_mutex_unlock(&p->mu);
}

void br__scratch_new_epoch(br__scratch *s)
{
    if (++s->epoch == 0) { /* wrapped: old marks could collide with the new epoch */
        memset(s->tags, 0, s->n * sizeof *s->tags);
        s->epoch = 1;
    }
}

static int grow(void **p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < want)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return BR_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

int br__scratch_reserve(br__scratch *s, size_t cand_cap, size_t res_cap, size_t excl_cap)
{
    if (grow((void **)&s->cand, &s->cand_cap, cand_cap, sizeof *s->cand) ||
        grow((void **)&s->res, &s->res_cap, res_cap, sizeof *s->res) ||
        grow((void **)&s->excl, &s->excl_cap, excl_cap, sizeof *s->excl))
        return BR_ENOMEM;
    return 0;
}

/* ---- levels, labels, queries ---- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint32_t br__hnsw_draw_level(uint64_t seed, uint64_t node, double mL)
{
    uint64_t r = splitmix64(splitmix64(seed) ^ node);
    double u = ((double)(r >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double l = floor(-log(u) * mL);
    return l >= BR__HNSW_MAX_LEVEL ? BR__HNSW_MAX_LEVEL : (uint32_t)l;
}

int64_t br__hnsw_node_of(const struct br_hnsw *h, int32_t label)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->labels[mid] < label)
            lo = mid + 1;
        else if (h->labels[mid] > label)
            hi = mid;
        else
            return (int64_t)mid;
    }
    return -1;
}

void br__hnsw_prepare_query(const struct br_hnsw *h, const float *query, br__scratch *s)
{
    memcpy(s->q, query, h->dim * sizeof(float));
    memset(s->q + h->dim, 0, (h->dim_pad - h->dim) * sizeof(float));
    if (h->metric == BR_HNSW_COSINE) {
        double ss = 0;
        for (size_t j = 0; j < h->dim; j++)
            ss += (double)s->q[j] * s->q[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < h->dim; j++)
                s->q[j] *= inv;
        }
    }
}

/* ---- layout ---- */

static int add_sec(uint64_t *at, uint64_t count, uint64_t elem, uint64_t *off, uint64_t *len)
{
    uint64_t l, o = (*at + BR__HNSW_ALIGN - 1) / BR__HNSW_ALIGN * BR__HNSW_ALIGN;
    if (o < *at || __builtin_mul_overflow(count, elem, &l) || __builtin_add_overflow(o, l, at))
        return BR_ELIMIT;
    *off = o;
    *len = l;
    return 0;
}

int br__hnsw_layout_of(uint64_t n, uint64_t dim_pad, uint64_t M, uint64_t M0, uint64_t n_upper,
                       br__hnsw_layout *out)
{
    uint64_t at = BR__HNSW_HEADER_SIZE, vec_elems;
    if (__builtin_mul_overflow(n, dim_pad, &vec_elems))
        return BR_ELIMIT;
    if (add_sec(&at, vec_elems, 4, &out->off[SEC_VEC], &out->len[SEC_VEC]) ||
        add_sec(&at, n, 4 * (1 + M0), &out->off[SEC_LINKS0], &out->len[SEC_LINKS0]) ||
        add_sec(&at, n, 1, &out->off[SEC_LEVEL], &out->len[SEC_LEVEL]) ||
        add_sec(&at, n, 4, &out->off[SEC_UPPER_IDX], &out->len[SEC_UPPER_IDX]) ||
        add_sec(&at, n_upper, 4 * (1 + M), &out->off[SEC_UPPER], &out->len[SEC_UPPER]) ||
        add_sec(&at, n, 4, &out->off[SEC_LABELS], &out->len[SEC_LABELS]))
        return BR_ELIMIT;
    out->file_size = (at + BR__HNSW_ALIGN - 1) / BR__HNSW_ALIGN * BR__HNSW_ALIGN;
    return 0;
}
