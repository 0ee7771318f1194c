/* The semantic service: text search. Until the semantic-search issue lands it serves the
 * lexical index (lexical.h: BM25 over titles, authors and subjects, with completion of
 * the last word).
 *
 *   POST /search {query, k?} -> {query, items: [{id, score}]} */
#include "roles.h"

#include "bookrec/error.h"
#include "bookrec/lexical.h"

#include <stdio.h>
#include <stdlib.h>

struct sem_model {
    br_lexical *lex;
    size_t n_items;
};

static void sem_free(void *p)
{
    struct sem_model *m = p;
    if (m)
        br_lexical_free(m->lex);
    free(m);
}

static int sem_load(const char *vdir, const json_t *man, void **out, char *err, size_t errcap)
{
    char path[4096];
    struct sem_model *m = calloc(1, sizeof *m);
    int rc;
    if (!m)
        return BR_ENOMEM;
    m->n_items = br__role_dim(man, "n_items");
    snprintf(path, sizeof path, "%s/semantic/lexical.idx", vdir);
    if (!(rc = br_lexical_open(path, err, errcap, &m->lex)) &&
        (size_t)br_lexical_id_bound(m->lex) > m->n_items) {
        snprintf(err, errcap, "semantic/lexical.idx: ids beyond the catalog's %zu books",
                 m->n_items);
        rc = BR_ECORRUPT;
    }
    if (rc) {
        sem_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static size_t sem_mapped(const void *p)
{
    return br_lexical_memory(((const struct sem_model *)p)->lex);
}

static void ep_search(const void *p, const json_t *req, br_svc_reply *out)
{
    static const char *const allowed[] = {"query", "k", NULL};
    const struct sem_model *m = p;
    char err[256];
    const char *q;
    size_t k, n = 0;
    if (br_jreq_only(req, allowed, err, sizeof err) ||
        br_jreq_string(req, "query", 1, BR_LEXICAL_MAX_QUERY, &q, NULL, err, sizeof err)) {
        br__role_bad(out, err);
        return;
    }
    if (br__role_k(req, out, &k))
        return;
    int32_t *ids = malloc(k * sizeof *ids);
    float *scores = malloc(k * sizeof *scores);
    int rc = ids && scores ? br_lexical_search(m->lex, q, k, NULL, ids, scores, &n) : BR_ENOMEM;
    if (rc) {
        br_svc_error(out, rc == BR_ENOMEM ? 500 : 400, rc == BR_ENOMEM ? "internal" : "bad_request",
                     "search refused: %s", br_strerror(rc));
    } else {
        br__role_items(out, ids, scores, n);
        json_object_set_new(out->body, "query", json_string(q));
    }
    free(ids);
    free(scores);
}

static const br_endpoint endpoints[] = {{"/search", ep_search}};

const br_role br_role_semantic = {BR_ROLE_SEMANTIC, sem_load, sem_free, sem_mapped, endpoints,
                                  sizeof endpoints / sizeof endpoints[0]};
