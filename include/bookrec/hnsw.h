/* HNSW approximate nearest-neighbour index (Malkov & Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
 * IEEE TPAMI 2018) over float32 vectors, scored by inner product or cosine.
 *
 * Built in parallel (OpenMP), saved in a documented file format (docs/indexes.md: magic,
 * format version, sizes, XXH64 checksum) and opened by mmap without copying or rebuilding.
 * Every node carries a label (the caller's id, e.g. an item_idx); searches return labels,
 * and exclusions and the allow filter are given by label. Search is thread-safe: any number
 * of threads may search one index at once.
 *
 * Scores are similarities, larger is better: for BR_HNSW_IP and BR_HNSW_IP_AUGMENTED the
 * inner product of the query and the stored vector, for BR_HNSW_COSINE the cosine (vectors
 * and queries are normalized). Results are sorted by score descending, ties by label. */
#ifndef BOOKREC_HNSW_H
#define BOOKREC_HNSW_H

#include "bookrec/flat.h"

#include <stddef.h>
#include <stdint.h>

typedef struct br_hnsw br_hnsw;

enum br_hnsw_metric {
    BR_HNSW_IP = 1,     /* inner product on the vectors as given */
    BR_HNSW_COSINE = 2, /* vectors and queries normalized to unit length */
    /* Maximum inner product by norm augmentation (Bachrach et al. 2014): each vector x gets
     * an extra coordinate sqrt(R^2 - |x|^2), R the largest norm, so that all stored vectors
     * have norm R and the graph is built on a metric (cosine) neighbourhood; the query gets
     * 0 there, so the score is still exactly q . x. See docs/indexes.md for the choice. */
    BR_HNSW_IP_AUGMENTED = 3,
};

/* After the build, make every node reachable at level 0 from the entry point (a node
 * whose in-links were all pruned can never be returned). AUTO does it for BR_HNSW_COSINE
 * and BR_HNSW_IP_AUGMENTED and not for BR_HNSW_IP: under inner product, short vectors have
 * no in-links by design (they are nobody's best match), and linking them all would replace
 * the links to the long "hub" vectors the search relies on (docs/indexes.md). */
enum br_hnsw_reach { BR_HNSW_REACH_AUTO = 0, BR_HNSW_REACH_ON = 1, BR_HNSW_REACH_OFF = 2 };

typedef struct br_hnsw_params {
    enum br_hnsw_metric metric; /* default BR_HNSW_COSINE */
    uint32_t M;                 /* links per node above level 0 (2M at level 0); default 16 */
    uint32_t ef_construction;   /* default 200 */
    uint64_t seed;              /* levels are drawn from it; default 42 */
    int threads;                /* 0 = OpenMP default */
    uint32_t split_dim;         /* recorded for hybrid.h (subject dims); 0 otherwise */
    int reach;                  /* enum br_hnsw_reach; default BR_HNSW_REACH_AUTO */
} br_hnsw_params;

void br_hnsw_params_default(br_hnsw_params *p);

/* Builds an index over n vectors of dim floats (row-major). labels: n strictly increasing
 * ids in [0, INT32_MAX), or NULL for 0..n-1. The vectors are copied.
 * Deterministic for a fixed seed with threads = 1; with more threads the insertion order
 * varies between runs and so does the graph (recall does not).
 * 0, BR_EINVAL (NULL, n or dim 0, labels not increasing, bad params), BR_ELIMIT
 * (n > INT32_MAX, dim > 4096, M > 128, ef_construction > 100000), BR_ENOMEM. */
int br_hnsw_build(const float *vectors, size_t n, size_t dim, const int32_t *labels,
                  const br_hnsw_params *p, br_hnsw **out);

/* Writes the index to path atomically (temp file, fsync, rename, fsync of the directory).
 * 0, BR_EIO. */
int br_hnsw_save(const br_hnsw *h, const char *path);

/* Maps path read-only and validates it completely (sizes against the file length,
 * checksum, every link, level and label) before returning; nothing is copied.
 * err (may be NULL) receives a one-line reason on failure.
 * 0, BR_ENOENT, BR_EIO, BR_EFORMAT (not an index file, or another format version),
 * BR_ECORRUPT (checksum or structure wrong, truncated), BR_ENOMEM. */
int br_hnsw_open(const char *path, char *err, size_t errcap, br_hnsw **out);

/* The same validation on a buffer that must outlive the index (no mapping, no copy), for
 * the fuzzer and for callers holding the bytes. buf must be 8-byte aligned. */
int br_hnsw_parse(const void *buf, size_t len, char *err, size_t errcap, br_hnsw **out);

void br_hnsw_free(br_hnsw *h);

typedef struct br_hnsw_search_opts {
    size_t ef;               /* candidate list size; raised to k; 0 = max(k, 64) */
    const int32_t *exclude;  /* labels never returned (read books, the query item), any order */
    size_t n_exclude;
    const uint8_t *allow;    /* NULL, or one byte per label below br_hnsw_label_bound():
                                non-zero = may be returned (e.g. books with >= N ratings) */
} br_hnsw_search_opts;

/* Top k labels for one query of br_hnsw_dim() floats. ids[k], scores[k] (scores may be
 * NULL); fewer than k results are padded with -1 and -INFINITY. Excluded and disallowed
 * nodes are still walked through (the graph stays connected), only never returned.
 * 0, BR_EINVAL, BR_ELIMIT (k or ef > 100000), BR_ENOMEM. */
int br_hnsw_search(const br_hnsw *h, const float *query, size_t k,
                   const br_hnsw_search_opts *opts, int32_t *ids, float *scores);

typedef struct br_hnsw_batch_opts {
    size_t ef;                      /* as in br_hnsw_search_opts */
    const br_flat_exclude *exclude; /* per-query excluded labels (CSR), NULL = none */
    const uint8_t *allow;           /* as in br_hnsw_search_opts, shared by every query */
    int threads;                    /* 0 = OpenMP default */
} br_hnsw_batch_opts;

/* n_queries searches in parallel: ids[q][k], scores[q][k] (may be NULL). */
int br_hnsw_search_batch(const br_hnsw *h, const float *queries, size_t n_queries, size_t k,
                         const br_hnsw_batch_opts *opts, int32_t *ids, float *scores);

size_t br_hnsw_size(const br_hnsw *h);        /* nodes */
size_t br_hnsw_dim(const br_hnsw *h);         /* the caller's dimension */
enum br_hnsw_metric br_hnsw_metric_of(const br_hnsw *h);
int32_t br_hnsw_label_bound(const br_hnsw *h); /* largest label + 1: the size of allow[] */
uint32_t br_hnsw_split_dim(const br_hnsw *h);
size_t br_hnsw_memory(const br_hnsw *h);       /* bytes of vectors, links and labels */
/* Copies the stored vector of label (as stored: normalized for cosine, without the
 * augmentation coordinate) into out[br_hnsw_dim()]. 0, BR_ENOENT. */
int br_hnsw_get_vector(const br_hnsw *h, int32_t label, float *out);
/* The distance kernel in use ("avx512", "avx2", "sse", "portable"), for benchmarks. */
const char *br_hnsw_kernel(void);

#endif
