/* Internal header of the index module (lib/index/): what flat.c, hnsw_build.c,
 * hnsw_search.c, hnsw_io.c, hnsw_utils.c and hybrid.c share and nothing else sees.
 * Split by phase as pgvector splits hnswbuild.c / hnswscan.c / hnswutils.c under hnsw.h. */
#ifndef BOOKREC_HNSW_INTERNAL_H
#define BOOKREC_HNSW_INTERNAL_H

#include "bookrec/hnsw.h"

#include <stddef.h>
#include <stdint.h>

/* ---- limits (every input is bounded) ---- */
#define BR__HNSW_MAX_DIM 4096
#define BR__HNSW_MAX_M 128
#define BR__HNSW_MAX_LEVEL 31  /* levels 0..31; a node's level is drawn then clamped */
#define BR__HNSW_MAX_N INT32_MAX
#define BR__HNSW_MAX_EF 100000 /* search and construction */
#define BR__HNSW_MAX_K 100000
#define BR__HNSW_PAD 16        /* floats: vectors start on a 64-byte line and span whole lines */
#define BR__NO_UPPER UINT32_MAX

/* ---- file format (docs/indexes.md) ---- */
#define BR__HNSW_MAGIC "BRHNSW\r\n"
#define BR__HNSW_VERSION 1u
#define BR__HNSW_HEADER_SIZE 256u
#define BR__HNSW_ALIGN 64u
#define BR__HNSW_ENDIAN 0x01020304u

/* The header as it lies in the file (little-endian, naturally aligned fields). */
typedef struct br__hnsw_header {
    char magic[8];          /* BR__HNSW_MAGIC */
    uint32_t version;       /* BR__HNSW_VERSION */
    uint32_t header_size;   /* BR__HNSW_HEADER_SIZE */
    uint32_t endian;        /* BR__HNSW_ENDIAN as written by the host */
    uint32_t metric;        /* enum br_hnsw_metric */
    uint64_t file_size;     /* the whole file */
    uint64_t checksum;      /* XXH64 (seed 0) of the file with this field zeroed */
    uint64_t n;             /* nodes */
    uint64_t n_upper;       /* link lists above level 0 (sum of node levels) */
    uint64_t seed;          /* build seed, informative */
    uint32_t dim;           /* the caller's dimension */
    uint32_t dim_pad;       /* stored floats per vector */
    uint32_t M, M0;         /* max links above level 0, at level 0 */
    uint32_t ef_construction;
    uint32_t max_level;
    uint32_t entry;         /* entry point node, at max_level */
    uint32_t split_dim;     /* hybrid: dims of the subject half; 0 otherwise */
    uint64_t off[6];        /* sections, see enum br__sec; must equal the canonical layout */
    uint8_t reserved[256 - 144]; /* zero */
} br__hnsw_header;

enum br__sec { SEC_VEC, SEC_LINKS0, SEC_LEVEL, SEC_UPPER_IDX, SEC_UPPER, SEC_LABELS, SEC_COUNT };

typedef struct br__hnsw_layout {
    uint64_t off[SEC_COUNT], len[SEC_COUNT];
    uint64_t file_size;
} br__hnsw_layout;

/* Computes the canonical layout; BR_ELIMIT when sizes overflow. */
int br__hnsw_layout_of(uint64_t n, uint64_t dim_pad, uint64_t M, uint64_t M0, uint64_t n_upper,
                       br__hnsw_layout *out);

/* ---- distance kernels (hnsw_utils.c) ---- */
/* Inner product of two vectors of n floats, n a multiple of 16. */
typedef float (*br__dot_fn)(const float *a, const float *b, size_t n);
/* out[i] = dot(q, base + ids[i] * stride) for i < m, vectors of n floats. */
typedef void (*br__dot_many_fn)(const float *q, const float *base, size_t stride,
                                const uint32_t *ids, size_t m, size_t n, float *out);
br__dot_many_fn br__dot_many_select(void);
/* The kernel "portable", "sse", "avx2" or "avx512", or NULL when this CPU lacks it. */
br__dot_fn br__dot_by_name(const char *name);
/* The fastest kernel this CPU runs (AVX-512F, AVX2+FMA, SSE, or portable C). */
br__dot_fn br__dot_select(void);
const char *br__dot_name(void);
float br__dot_portable(const float *a, const float *b, size_t n);

/* ---- candidates and heaps ---- */
typedef struct br__cand {
    float s;     /* similarity: larger is better */
    uint32_t id; /* node */
} br__cand;

/* ---- per-search scratch (hnsw_utils.c) ---- */
typedef struct br__scratch {
    uint16_t *tags; /* visited: tags[node] == epoch (epoch counters, reset on wrap) */
    uint16_t epoch;
    size_t n;
    br__cand *cand; /* candidate max-heap (best on top) */
    size_t cand_cap;
    br__cand *res; /* result min-heap (worst on top) */
    size_t res_cap;
    float *q;      /* the query, padded to dim_pad (64-byte aligned) */
    uint32_t *nbr; /* a copy of one link list, or unvisited neighbours */
    float *nbr_s;  /* their scores */
    br__cand *sel; /* neighbour selection buffer */
    uint32_t *excl; /* sorted excluded nodes */
    size_t excl_cap;
    struct br__scratch *next;
} br__scratch;

typedef struct br__pool br__pool;

struct br_hnsw {
    uint32_t metric;
    size_t n, dim, dim_pad;
    uint32_t M, M0, ef_construction, max_level, entry, split_dim;
    uint64_t seed;
    size_t n_upper;
    float *vec;          /* n x dim_pad */
    uint32_t *links0;    /* n x (1 + M0): count, then ids */
    uint8_t *level;      /* n */
    uint32_t *upper_idx; /* n: first upper list of the node, or BR__NO_UPPER */
    uint32_t *upper;     /* n_upper x (1 + M) */
    int32_t *labels;     /* n, strictly increasing */
    int32_t label_bound; /* labels[n-1] + 1 */
    void *block;         /* owned body (built) ... */
    size_t block_len;
    void *map; /* ... or the whole file mapped read-only */
    size_t map_len;
    br__dot_fn dot;
    br__dot_many_fn dot_many;
    br__pool *pool;
};

/* Link list of node at level (0 or above); list[0] is the count. */
static inline uint32_t *br__links(const struct br_hnsw *h, uint32_t node, uint32_t level)
{
    if (level == 0)
        return h->links0 + (size_t)node * (1 + h->M0);
    return h->upper + ((size_t)h->upper_idx[node] + level - 1) * (1 + h->M);
}

static inline const float *br__vec(const struct br_hnsw *h, uint32_t node)
{
    return h->vec + (size_t)node * h->dim_pad;
}

/* Every cache line of a node's vector, ahead of its use. */
static inline void br__prefetch_vec(const struct br_hnsw *h, uint32_t node)
{
    const char *p = (const char *)br__vec(h, node);
    for (size_t b = 0; b < h->dim_pad * sizeof(float); b += 64)
        __builtin_prefetch(p + b, 0, 3);
}

int br__pool_new(size_t n, size_t dim_pad, size_t M0, br__pool **out);
void br__pool_free(br__pool *p);
/* A scratch for one search; NULL on BR_ENOMEM. */
br__scratch *br__pool_get(br__pool *p);
void br__pool_put(br__pool *p, br__scratch *s);
/* Starts a new visited epoch. */
void br__scratch_new_epoch(br__scratch *s);
/* Ensures room for cap candidates in cand, res (BR_ENOMEM). */
int br__scratch_reserve(br__scratch *s, size_t cand_cap, size_t res_cap, size_t excl_cap);

/* Binary heaps over br__cand. "max" keeps the best on top, "min" the worst. */
/* Binary heaps over br__cand, inline because they sit in the search loop. "Better" is the
 * larger score, then the smaller id, so that ties resolve the same way on every run.
 * The max-heap keeps the best on top (candidates), the min-heap the worst (results). */
static inline int br__better(br__cand a, br__cand b)
{
    return a.s > b.s || (a.s == b.s && a.id < b.id);
}

static inline void br__heap_push_max(br__cand *h, size_t *n, br__cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!br__better(c, h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline void br__heap_push_min(br__cand *h, size_t *n, br__cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!br__better(h[p], c))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

/* Replaces the top of a heap of n and sifts down; max selects the heap kind. */
static inline void br__heap_sift(br__cand *h, size_t n, br__cand c, int max)
{
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, b;
        if (l >= n)
            break;
        b = l;
        if (l + 1 < n && (max ? br__better(h[l + 1], h[l]) : br__better(h[l], h[l + 1])))
            b = l + 1;
        if (max ? !br__better(h[b], c) : !br__better(c, h[b]))
            break;
        h[i] = h[b];
        i = b;
    }
    h[i] = c;
}

static inline br__cand br__heap_pop_max(br__cand *h, size_t *n)
{
    br__cand top = h[0];
    if (--*n > 0)
        br__heap_sift(h, *n, h[*n], 1);
    return top;
}

static inline br__cand br__heap_pop_min(br__cand *h, size_t *n)
{
    br__cand top = h[0];
    if (--*n > 0)
        br__heap_sift(h, *n, h[*n], 0);
    return top;
}

/* Turns a min-heap of n into an array sorted best first, in place (heapsort). */
static inline void br__heap_min_sort(br__cand *h, size_t n)
{
    while (n > 1) {
        br__cand worst = br__heap_pop_min(h, &n);
        h[n] = worst;
    }
}

/* Sorts best first: score descending, then id ascending. */
void br__cand_sort(br__cand *c, size_t n);

/* Level of a node: floor(-ln(U) * mL) with U from a hash of (seed, node) (Malkov &
 * Yashunin section 4, mL = 1/ln(M)), clamped to BR__HNSW_MAX_LEVEL. */
uint32_t br__hnsw_draw_level(uint64_t seed, uint64_t node, double mL);

/* The node of a label, or -1 (labels are strictly increasing). */
int64_t br__hnsw_node_of(const struct br_hnsw *h, int32_t label);

/* Copies query into s->q padded to dim_pad, normalized for cosine. */
void br__hnsw_prepare_query(const struct br_hnsw *h, const float *query, br__scratch *s);

/* Search with filters (Algorithms 2 and 5 of Malkov & Yashunin) for the prepared query
 * s->q; excl: sorted node ids (n_excl), allow by label, allow2 by node (NULL = all). Leaves the
 * results best first in s->res; returns how many of them to take (<= k), or a BR_E* code. */
int br__hnsw_knn(const struct br_hnsw *h, br__scratch *s, size_t k, size_t ef,
                 const uint32_t *excl, size_t n_excl, const uint8_t *allow,
                 const uint8_t *allow2);

/* The same, starting at node start on level 0 (no descent); start < 0 = as above. */
int br__hnsw_knn_from(const struct br_hnsw *h, br__scratch *s, int64_t start, size_t k,
                      size_t ef, const uint32_t *excl, size_t n_excl, const uint8_t *allow,
                      const uint8_t *allow2);

/* ---- exact search, shared by flat.c and hybrid.c ---- */
typedef struct br__flat_req {
    const float *base; /* n rows of dim floats, row stride ld */
    size_t n, dim, ld;
    const int32_t *labels; /* row -> returned id; NULL = the row itself. Strictly increasing. */
    size_t label_bound;    /* ids are < label_bound */
    const float *queries;  /* n_queries rows, stride ldq */
    size_t n_queries, ldq;
    size_t k;
    const int64_t *excl_ptr; /* CSR of excluded ids per query, NULL = none */
    const int32_t *excl_idx;
    const uint8_t *allow;  /* byte per id; NULL = all */
    const uint8_t *allow2; /* byte per row; NULL = all */
    int threads;
} br__flat_req;

int br__flat_run(const br__flat_req *r, int32_t *out_ids, float *out_scores);

#endif
