/* Popularity (see popularity.h and docs/evaluation.md).
 *
 * Design decisions:
 * 1. Computed from br_features rather than from interactions: the train-only filter and the
 *    exact integer sums live in one place, and popularity cannot drift from the aggregates.
 * 2. The Bayesian average uses the integer sum, (sum + m*C) / (n + m), which is n*avg + m*C
 *    without the rounding of avg.
 * 3. Both rankings are sorted once at construction: serving asks for "top k not yet read"
 *    many times, and walking a ranked list beats sorting per request. */
#include "bookrec/popularity.h"
#include "bookrec/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct br_popularity {
    size_t n_items, n_ranked;
    double prior;
    double *bayes;
    uint32_t *count;
    int64_t *rank[2]; /* by br_pop_kind */
};

void br_popularity_params_default(br_popularity_params *p)
{
    p->m = 30.0;
}

struct keyed {
    double key; /* bayes, or count (exact in a double) */
    int64_t item;
};

static int keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Sorts the items with train interactions by the score of kind into pop->rank[kind]. */
static int rank_items(br_popularity *pop, br_pop_kind kind)
{
    struct keyed *k = malloc((pop->n_ranked ? pop->n_ranked : 1) * sizeof *k);
    if (!k)
        return BR_ENOMEM;
    for (size_t i = 0, j = 0; i < pop->n_items; i++)
        if (pop->count[i] > 0)
            k[j++] = (struct keyed){kind == BR_POP_BAYES ? pop->bayes[i] : (double)pop->count[i],
                                    (int64_t)i};
    qsort(k, pop->n_ranked, sizeof *k, keyed_cmp);
    for (size_t j = 0; j < pop->n_ranked; j++)
        pop->rank[kind][j] = k[j].item;
    free(k);
    return 0;
}

int br_popularity_new(const br_features *f, const br_popularity_params *p, br_popularity **out)
{
    br_popularity_params def;
    br_popularity *pop = NULL;
    size_t n_items;
    int rc = BR_ENOMEM;

    if (!p) {
        br_popularity_params_default(&def);
        p = &def;
    }
    if (!f || !out || !isfinite(p->m) || p->m < 0)
        return BR_EINVAL;
    *out = NULL;
    const br_agg *items = br_features_items(f, &n_items);
    double C = br_features_global(f).mean;
    if (!(pop = calloc(1, sizeof *pop)) || !(pop->bayes = calloc(n_items, sizeof *pop->bayes)) ||
        !(pop->count = calloc(n_items, sizeof *pop->count)) ||
        !(pop->rank[0] = malloc(n_items * sizeof *pop->rank[0])) ||
        !(pop->rank[1] = malloc(n_items * sizeof *pop->rank[1])))
        goto fail;
    pop->n_items = n_items;
    pop->prior = C;
    for (size_t i = 0; i < n_items; i++) {
        const br_agg *a = &items[i];
        pop->count[i] = a->count;
        pop->bayes[i] =
            a->n_explicit == 0 ? C : ((double)a->sum + p->m * C) / ((double)a->n_explicit + p->m);
        pop->n_ranked += a->count > 0;
    }
    if (rank_items(pop, BR_POP_BAYES) != 0 || rank_items(pop, BR_POP_COUNT) != 0)
        goto fail;
    *out = pop;
    return 0;
fail:
    br_popularity_free(pop);
    return rc;
}

void br_popularity_free(br_popularity *p)
{
    if (!p)
        return;
    free(p->bayes);
    free(p->count);
    free(p->rank[0]);
    free(p->rank[1]);
    free(p);
}

size_t br_popularity_n_items(const br_popularity *p)
{
    return p->n_items;
}

const double *br_popularity_bayes(const br_popularity *p)
{
    return p->bayes;
}

const uint32_t *br_popularity_count(const br_popularity *p)
{
    return p->count;
}

double br_popularity_prior(const br_popularity *p)
{
    return p->prior;
}

const int64_t *br_popularity_ranking(const br_popularity *p, br_pop_kind kind, size_t *n)
{
    if (kind != BR_POP_BAYES && kind != BR_POP_COUNT) {
        *n = 0;
        return NULL;
    }
    *n = p->n_ranked;
    return p->rank[kind];
}

int br_popularity_top(const br_popularity *p, br_pop_kind kind, size_t k, int64_t *items_out,
                      size_t *n_out)
{
    if (!p || !n_out || (k > 0 && !items_out) || (kind != BR_POP_BAYES && kind != BR_POP_COUNT))
        return BR_EINVAL;
    size_t m = k < p->n_ranked ? k : p->n_ranked;
    if (m > 0)
        memcpy(items_out, p->rank[kind], m * sizeof *items_out);
    *n_out = m;
    return 0;
}

double br_popularity_score(const br_popularity *p, br_pop_kind kind, size_t item)
{
    if (!p || item >= p->n_items)
        return 0.0;
    if (kind == BR_POP_BAYES)
        return p->bayes[item];
    /* log1p: a thousand readers is not a hundred times ten. */
    return log1p((double)p->count[item]);
}
