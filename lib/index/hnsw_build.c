/* HNSW construction (see hnsw.h): Algorithms 1, 2 and 4 of Malkov & Yashunin 2018.
 *
 * Design decisions:
 * 1. The index is built inside one allocation laid out exactly as the file (hnsw_io.c), so
 *    saving is one write and an opened file and a built index are the same structure.
 * 2. Levels are drawn from (seed, node) before the build (hnsw_utils.c), so the upper link
 *    lists are allocated once and never move; threads only lock the lists they touch.
 * 3. Parallel insertion as hnswlib does it: a spin lock per node guards its link lists
 *    (held only to copy or rewrite a list), and a global lock guards the entry point; a
 *    node that raises the top level holds the global lock for its whole insertion. Another
 *    thread may link to a node still being inserted (found through a level above), so a
 *    node's own list is merged with what is already there, never overwritten: overwriting
 *    lost links and cost up to 0.9 points of recall on 2-thread builds. With one thread,
 *    nodes go in in order and the graph is a pure function of data and seed.
 * 4. Neighbour selection is the heuristic (Algorithm 4) without extendCandidates and
 *    keepPrunedConnections, as hnswlib and FAISS do: the new node keeps M links at every
 *    level; a neighbour whose list is full (M, or M0 = 2M at level 0) is re-pruned with the
 *    same heuristic over its old links plus the new node. One change: exact duplicates may
 *    fill at most half a list (select_heuristic), so clumps of identical vectors stay open.
 * 5. Vectors are stored padded with zeros to a multiple of 16 floats; for cosine they are
 *    normalized once here; for BR_HNSW_IP_AUGMENTED they get the coordinate
 *    sqrt(R^2 - |x|^2) that gives all of them the norm R (docs/indexes.md).
 * 6. A final serial pass makes every node reachable at level 0 from the entry point
 *    (repair_reachability): an index that cannot return some book is a silent bug in
 *    coverage, not an approximation. Not under plain inner product (hnsw.h, br_hnsw_reach):
 *    there, half the nodes of an ALS-like set have no in-link by design, and linking them
 *    all cost most of the recall (0.97 -> 0.43 at ef 64, measured). */
#include "bookrec/error.h"
#include "bookrec/log.h"
#include "hnsw_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void br_hnsw_params_default(br_hnsw_params *p)
{
    memset(p, 0, sizeof *p);
    p->metric = BR_HNSW_COSINE;
    p->M = 16;
    p->ef_construction = 200;
    p->seed = 42;
}

struct build {
    br_hnsw *h;
    _Atomic uint8_t *locks; /* one per node */
    pthread_mutex_t global;
    _Atomic int64_t entry; /* -1 until the first node */
    _Atomic uint32_t max_level;
    uint32_t ef;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void node_lock(struct build *b, uint32_t i)
{
    while (atomic_exchange_explicit(&b->locks[i], 1, memory_order_acquire))
        while (atomic_load_explicit(&b->locks[i], memory_order_relaxed))
            cpu_relax();
}

static inline void node_unlock(struct build *b, uint32_t i)
{
    atomic_store_explicit(&b->locks[i], 0, memory_order_release);
}

/* Copies the list of node at level into dst (the node's lock held only for the copy);
 * returns the count. */
static uint32_t copy_links(struct build *b, uint32_t node, uint32_t level, uint32_t *dst)
{
    node_lock(b, node);
    const uint32_t *l = br__links(b->h, node, level);
    uint32_t cnt = l[0];
    for (uint32_t j = 0; j < cnt; j++) /* short: no libc call */
        dst[j] = l[1 + j];
    node_unlock(b, node);
    return cnt;
}

/* Greedy walk at one level with ef = 1 (the upper-layer loop of Algorithm 1). */
static uint32_t greedy(struct build *b, br__scratch *s, const float *q, uint32_t cur, float *cur_s,
                       uint32_t level)
{
    br_hnsw *h = b->h;
    for (int changed = 1; changed;) {
        changed = 0;
        uint32_t cnt = copy_links(b, cur, level, s->nbr);
        for (uint32_t j = 0; j < cnt; j++) {
            float v = h->dot(q, br__vec(h, s->nbr[j]), h->dim_pad);
            if (v > *cur_s) {
                *cur_s = v;
                cur = s->nbr[j];
                changed = 1;
            }
        }
    }
    return cur;
}

/* Algorithm 2 (SEARCH-LAYER) during construction: the ef best nodes from ep at level, left
 * in s->res sorted best first; returns their count. */
static size_t search_layer(struct build *b, br__scratch *s, const float *q, uint32_t ep,
                           float ep_s, uint32_t level)
{
    br_hnsw *h = b->h;
    size_t nc = 0, nr = 0;
    br__scratch_new_epoch(s);
    s->tags[ep] = s->epoch;
    br__heap_push_max(s->cand, &nc, (br__cand){ep_s, ep});
    br__heap_push_min(s->res, &nr, (br__cand){ep_s, ep});
    while (nc > 0) {
        br__cand c = br__heap_pop_max(s->cand, &nc);
        if (nr == b->ef && c.s < s->res[0].s)
            break;
        if (nc > 0) /* the likely next candidate's links, fetched meanwhile */
            __builtin_prefetch(br__links(h, s->cand[0].id, level), 0, 3);
        uint32_t cnt = copy_links(b, c.id, level, s->nbr), m = 0;
        /* As in the search (hnsw_search.c): gather the unvisited, prefetch, score at once. */
        for (uint32_t j = 0; j < cnt; j++)
            __builtin_prefetch(&s->tags[s->nbr[j]], 1, 3);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t e = s->nbr[j];
            if (s->tags[e] != s->epoch) {
                s->tags[e] = s->epoch;
                s->nbr[m++] = e;
                br__prefetch_vec(h, e);
            }
        }
        h->dot_many(q, h->vec, h->dim_pad, s->nbr, m, h->dim_pad, s->nbr_s);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t e = s->nbr[j];
            float v = s->nbr_s[j];
            if (nr < b->ef || v > s->res[0].s) {
                if (nc + 1 > s->cand_cap && br__scratch_reserve(s, nc + 1, 0, 0))
                    continue; /* out of memory: drop the candidate, the walk stays valid */
                br__heap_push_max(s->cand, &nc, (br__cand){v, e});
                if (nr < b->ef)
                    br__heap_push_min(s->res, &nr, (br__cand){v, e});
                else
                    br__heap_sift(s->res, nr, (br__cand){v, e}, 0);
            }
        }
    }
    br__heap_min_sort(s->res, nr);
    return nr;
}

/* Algorithm 4 (SELECT-NEIGHBORS-HEURISTIC): from c[0..m) sorted best first by similarity
 * to the base node, keeps a candidate only if it is not closer to a candidate kept before
 * it than to the base, up to max. Exact duplicates (a tie with a kept candidate) are kept,
 * as hnswlib keeps them, but only up to half the list: a clump of identical vectors (books
 * with the same subjects) that fills its members' lists with each other is closed, and a
 * search that walks into it cannot leave. Writes ids to out; returns the count. */
static uint32_t select_heuristic(const br_hnsw *h, const br__cand *c, size_t m, uint32_t max,
                                 uint32_t *out)
{
    uint32_t n = 0, ties = 0;
    for (size_t i = 0; i < m && n < max; i++) {
        const float *v = br__vec(h, c[i].id);
        int good = 1, tie = 0;
        for (uint32_t r = 0; r < n && good; r++) {
            float d = h->dot(v, br__vec(h, out[r]), h->dim_pad);
            good = !(d > c[i].s);
            tie |= d == c[i].s;
        }
        if (good && tie && ties >= max / 2)
            good = 0;
        if (good) {
            ties += (uint32_t)tie;
            out[n++] = c[i].id;
        }
    }
    return n;
}

/* Links q to its selected neighbours at level and each of them back to q (the connection
 * step of Algorithm 1). */
static void connect(struct build *b, br__scratch *s, uint32_t q, size_t nw, uint32_t level)
{
    br_hnsw *h = b->h;
    uint32_t max = level ? h->M : h->M0;
    uint32_t sel[BR__HNSW_MAX_M];
    uint32_t ns = select_heuristic(h, s->res, nw, h->M, sel);

    node_lock(b, q);
    uint32_t *ql = br__links(h, q, level);
    if (ql[0] == 0) {
        ql[0] = ns;
        memcpy(ql + 1, sel, ns * sizeof *sel);
    } else {
        /* Another thread already linked q here (it found q through a level above, while
         * q was still being inserted): merge, never overwrite, or its link is lost. */
        br__cand u[3 * BR__HNSW_MAX_M];
        size_t m = 0;
        const float *qv = br__vec(h, q);
        for (uint32_t i = 0; i < ns; i++)
            u[m++] = (br__cand){h->dot(qv, br__vec(h, sel[i]), h->dim_pad), sel[i]};
        for (uint32_t j = 0; j < ql[0]; j++) {
            int dup = 0;
            for (uint32_t i = 0; i < ns && !dup; i++)
                dup = sel[i] == ql[1 + j];
            if (!dup)
                u[m++] = (br__cand){h->dot(qv, br__vec(h, ql[1 + j]), h->dim_pad), ql[1 + j]};
        }
        br__cand_sort(u, m);
        ql[0] = m <= max ? (uint32_t)m : select_heuristic(h, u, m, max, ql + 1);
        if (m <= max)
            for (size_t i = 0; i < m; i++)
                ql[1 + i] = u[i].id;
    }
    node_unlock(b, q);

    for (uint32_t i = 0; i < ns; i++) {
        uint32_t e = sel[i];
        node_lock(b, e);
        uint32_t *el = br__links(h, e, level);
        uint32_t cnt = el[0];
        if (cnt < max) {
            el[1 + cnt] = q;
            el[0] = cnt + 1;
        } else {
            const float *ev = br__vec(h, e);
            size_t m = 0;
            s->sel[m++] = (br__cand){h->dot(ev, br__vec(h, q), h->dim_pad), q};
            for (uint32_t j = 0; j < cnt; j++)
                s->sel[m++] = (br__cand){h->dot(ev, br__vec(h, el[1 + j]), h->dim_pad), el[1 + j]};
            br__cand_sort(s->sel, m);
            el[0] = select_heuristic(h, s->sel, m, max, el + 1);
        }
        node_unlock(b, e);
    }
}

/* Algorithm 1 (INSERT). */
static void insert(struct build *b, br__scratch *s, uint32_t q)
{
    br_hnsw *h = b->h;
    const float *qv = br__vec(h, q);
    uint32_t l = h->level[q];

    pthread_mutex_lock(&b->global);
    int64_t ep = atomic_load(&b->entry);
    uint32_t top = atomic_load(&b->max_level);
    int hold = l > top || ep < 0; /* a new top level: keep the entry point to ourselves */
    if (ep < 0) {
        atomic_store(&b->max_level, l);
        atomic_store(&b->entry, q);
        pthread_mutex_unlock(&b->global);
        return;
    }
    if (!hold)
        pthread_mutex_unlock(&b->global);

    uint32_t cur = (uint32_t)ep;
    float cur_s = h->dot(qv, br__vec(h, cur), h->dim_pad);
    for (uint32_t lc = top; lc > l; lc--)
        cur = greedy(b, s, qv, cur, &cur_s, lc);
    for (int64_t lc = l < top ? l : top; lc >= 0; lc--) {
        size_t nw = search_layer(b, s, qv, cur, cur_s, (uint32_t)lc);
        connect(b, s, q, nw, (uint32_t)lc);
        cur = s->res[0].id;
        cur_s = s->res[0].s;
    }
    if (hold) {
        atomic_store(&b->max_level, l);
        atomic_store(&b->entry, q);
        pthread_mutex_unlock(&b->global);
    }
}

/* Adds the link e -> u at level 0 (e reached): appended if e has room, else it replaces
 * e's least similar link that is not an edge of the walk's tree (parent[t] != e). Removing
 * a non-tree edge cannot unlink anything the walk reached, and the least similar link is the
 * one the heuristic ranks last, never a "hub" the search relies on. Returns 1 if linked. */
static int add_in_link(br_hnsw *h, uint32_t e, uint32_t u, const uint32_t *parent)
{
    uint32_t *l = br__links(h, e, 0);
    if (l[0] < h->M0) {
        l[1 + l[0]++] = u;
        return 1;
    }
    const float *ev = br__vec(h, e);
    int64_t worst = -1;
    float worst_s = INFINITY;
    for (uint32_t j = 0; j < l[0]; j++) {
        if (parent[l[1 + j]] == e)
            continue;
        float v = h->dot(ev, br__vec(h, l[1 + j]), h->dim_pad);
        if (v < worst_s) {
            worst_s = v;
            worst = j;
        }
    }
    if (worst < 0)
        return 0;
    l[1 + worst] = u;
    return 1;
}

/* Marks what level 0 reaches from the queue's pending nodes (BFS), recording the tree. */
static void flood(const br_hnsw *h, uint8_t *seen, uint32_t *parent, uint32_t *queue,
                  size_t *head, size_t *tail)
{
    while (*head < *tail) {
        uint32_t c = queue[(*head)++];
        const uint32_t *l = br__links(h, c, 0);
        for (uint32_t j = 0; j < l[0]; j++)
            if (!seen[l[1 + j]]) {
                seen[l[1 + j]] = 1;
                parent[l[1 + j]] = c;
                queue[(*tail)++] = l[1 + j];
            }
    }
}

/* The graph of Malkov & Yashunin is not guaranteed connected: a node whose in-links were
 * all pruned can never be found (5 of 100k on the benchmark set), and near-duplicates
 * form closed clumps that nothing outside links to (thousands of nodes in a Book-Crossing-
 * like set). This pass walks level 0 from the entry point; for each node it did not reach
 * it searches the reached part of the graph (a level-0 search from the entry point, which
 * cannot leave it) for the nodes nearest to it, links it from the first one that has room
 * or a link off the walk's tree, and walks on from it, which brings in the node's whole
 * clump. Tree edges are never removed, so one pass reaches everything. Serial and
 * deterministic. */
static int repair_reachability(br_hnsw *h)
{
    int rc = BR_ENOMEM;
    uint8_t *seen = calloc(h->n, 1);
    uint32_t *queue = malloc(h->n * sizeof *queue), *parent = malloc(h->n * sizeof *parent);
    br__scratch *s = br__pool_get(h->pool);
    if (!seen || !queue || !parent || !s)
        goto fail;
    size_t head = 0, tail = 0;
    queue[tail++] = h->entry;
    seen[h->entry] = 1;
    parent[h->entry] = h->entry;
    flood(h, seen, parent, queue, &head, &tail);
    for (size_t u = 0; u < h->n && tail < h->n; u++) {
        if (seen[u])
            continue;
        /* From the entry on level 0, a walk stays inside the reached part. */
        memcpy(s->q, br__vec(h, (uint32_t)u), h->dim_pad * sizeof *s->q);
        int got = br__hnsw_knn_from(h, s, h->entry, 16, h->ef_construction, NULL, 0, NULL, seen);
        if (got < 0) {
            rc = got;
            goto fail;
        }
        for (int j = 0; j < got; j++)
            if (add_in_link(h, s->res[j].id, (uint32_t)u, parent)) {
                seen[u] = 1;
                parent[u] = s->res[j].id;
                queue[tail++] = (uint32_t)u;
                flood(h, seen, parent, queue, &head, &tail);
                break;
            }
    }
    rc = 0;
fail:
    if (s)
        br__pool_put(h->pool, s);
    free(seen);
    free(queue);
    free(parent);
    return rc;
}

/* Copies the caller's vectors into the padded store, normalizing or augmenting them. */
static void store_vectors(br_hnsw *h, const float *x)
{
    double r2 = 0;
    if (h->metric == BR_HNSW_IP_AUGMENTED)
        for (size_t i = 0; i < h->n; i++) {
            double ss = 0;
            for (size_t j = 0; j < h->dim; j++)
                ss += (double)x[i * h->dim + j] * x[i * h->dim + j];
            r2 = ss > r2 ? ss : r2;
        }
    for (size_t i = 0; i < h->n; i++) {
        float *v = h->vec + i * h->dim_pad;
        const float *src = x + i * h->dim;
        double ss = 0;
        for (size_t j = 0; j < h->dim; j++)
            ss += (double)src[j] * src[j];
        memcpy(v, src, h->dim * sizeof *v);
        if (h->metric == BR_HNSW_COSINE && ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < h->dim; j++)
                v[j] *= inv;
        } else if (h->metric == BR_HNSW_IP_AUGMENTED) {
            v[h->dim] = (float)sqrt(r2 - ss > 0 ? r2 - ss : 0);
        }
    }
}

/* Lays the index out in one zeroed block shaped like the file and points h into it. */
static int alloc_image(br_hnsw *h)
{
    br__hnsw_layout lay;
    int rc = br__hnsw_layout_of(h->n, h->dim_pad, h->M, h->M0, h->n_upper, &lay);
    if (rc)
        return rc;
    if (lay.file_size > SIZE_MAX)
        return BR_ELIMIT;
    h->block_len = (size_t)lay.file_size;
    h->block = aligned_alloc(BR__HNSW_ALIGN, h->block_len);
    if (!h->block)
        return BR_ENOMEM;
    memset(h->block, 0, h->block_len);
    char *b = h->block;
    h->vec = (float *)(b + lay.off[SEC_VEC]);
    h->links0 = (uint32_t *)(b + lay.off[SEC_LINKS0]);
    h->level = (uint8_t *)(b + lay.off[SEC_LEVEL]);
    h->upper_idx = (uint32_t *)(b + lay.off[SEC_UPPER_IDX]);
    h->upper = (uint32_t *)(b + lay.off[SEC_UPPER]);
    h->labels = (int32_t *)(b + lay.off[SEC_LABELS]);
    return 0;
}

int br_hnsw_build(const float *vectors, size_t n, size_t dim, const int32_t *labels,
                  const br_hnsw_params *p, br_hnsw **out)
{
    br_hnsw_params def;
    if (!p) {
        br_hnsw_params_default(&def);
        p = &def;
    }
    if (!vectors || !out || n == 0 || dim == 0 || p->M < 2 || p->ef_construction == 0 ||
        (p->metric != BR_HNSW_IP && p->metric != BR_HNSW_COSINE &&
         p->metric != BR_HNSW_IP_AUGMENTED) ||
        p->split_dim >= dim || p->reach < BR_HNSW_REACH_AUTO || p->reach > BR_HNSW_REACH_OFF)
        return BR_EINVAL;
    if (n > BR__HNSW_MAX_N || dim > BR__HNSW_MAX_DIM || p->M > BR__HNSW_MAX_M ||
        p->ef_construction > BR__HNSW_MAX_EF)
        return BR_ELIMIT;
    for (size_t i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] == INT32_MAX || (i > 0 && labels[i] <= labels[i - 1]))
            return BR_EINVAL;

    int rc = BR_ENOMEM;
    struct build b = {0};
    br_hnsw *h = calloc(1, sizeof *h);
    *out = NULL;
    if (!h)
        return BR_ENOMEM;
    h->metric = p->metric;
    h->n = n;
    h->dim = dim;
    h->dim_pad = (dim + (p->metric == BR_HNSW_IP_AUGMENTED) + BR__HNSW_PAD - 1) / BR__HNSW_PAD *
                 BR__HNSW_PAD;
    h->M = p->M;
    h->M0 = 2 * p->M;
    h->ef_construction = p->ef_construction;
    h->seed = p->seed;
    h->split_dim = p->split_dim;
    h->dot = br__dot_select();
    h->dot_many = br__dot_many_select();

    /* Levels first: they size the upper lists (decision 2). */
    uint8_t *lv = malloc(n);
    if (!lv)
        goto fail;
    double mL = 1.0 / log((double)p->M);
    for (size_t i = 0; i < n; i++) {
        lv[i] = (uint8_t)br__hnsw_draw_level(p->seed, i, mL);
        h->n_upper += lv[i];
    }
    rc = h->n_upper >= BR__NO_UPPER ? BR_ELIMIT : alloc_image(h); /* indexes are 32-bit */
    if (rc) {
        free(lv);
        goto fail;
    }
    memcpy(h->level, lv, n);
    free(lv);
    for (size_t i = 0, at = 0; i < n; i++) {
        h->upper_idx[i] = h->level[i] ? (uint32_t)at : BR__NO_UPPER;
        at += h->level[i];
        h->labels[i] = labels ? labels[i] : (int32_t)i;
    }
    h->label_bound = h->labels[n - 1] + 1;
    store_vectors(h, vectors);

    rc = BR_ENOMEM;
    if (br__pool_new(n, h->dim_pad, h->M0, &h->pool))
        goto fail;
    b.h = h;
    b.ef = p->ef_construction;
    b.locks = calloc(n, sizeof *b.locks);
    if (!b.locks || pthread_mutex_init(&b.global, NULL) != 0)
        goto fail;
    atomic_init(&b.entry, -1);
    atomic_init(&b.max_level, 0);

    _Atomic int failed = 0;
    _Atomic uint64_t done = 0;
    br_progress prog;
    br_progress_start(&prog, "hnsw build", n);
#ifdef _OPENMP
    int nt = p->threads > 0 ? p->threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#endif
    {
        br__scratch *s = br__pool_get(h->pool);
        if (!s || br__scratch_reserve(s, 2 * (size_t)b.ef + 64, (size_t)b.ef + 1, 0))
            atomic_store(&failed, 1);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) /* interleaved as hnswlib: early nodes see each other */
#endif
        for (size_t i = 0; i < n; i++) {
            if (atomic_load_explicit(&failed, memory_order_relaxed))
                continue;
            insert(&b, s, (uint32_t)i);
            uint64_t d = atomic_fetch_add_explicit(&done, 1, memory_order_relaxed) + 1;
#ifdef _OPENMP
            if (omp_get_thread_num() == 0)
#endif
                br_progress_update(&prog, d);
        }
        br__pool_put(h->pool, s);
    }
    br_progress_end(&prog, n);
    pthread_mutex_destroy(&b.global);
    if (atomic_load(&failed)) {
        rc = BR_ENOMEM;
        goto fail;
    }
    h->entry = (uint32_t)atomic_load(&b.entry);
    h->max_level = atomic_load(&b.max_level);
    free(b.locks);
    b.locks = NULL;
    int repair = p->reach == BR_HNSW_REACH_ON ||
                 (p->reach == BR_HNSW_REACH_AUTO && p->metric != BR_HNSW_IP);
    if (repair && (rc = repair_reachability(h)))
        goto fail;
    *out = h;
    return 0;
fail:
    free(b.locks);
    br_hnsw_free(h);
    return rc;
}
