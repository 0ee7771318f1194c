/* Fold-in: a user vector solved at request time against fixed item factors (see als.h).
 *
 * Design decisions:
 * 1. The same normal equations as a training half-step, solved exactly (Cholesky in
 *    double, als_solve.c): for f = 64 and 50 interactions that is ~0.10 M multiply-adds for
 *    the rank-50 update of the lower triangle and ~0.04 M for the factorization, ~25 us
 *    (bench/als.md), so CG's approximation buys nothing here. Folding in a training user reproduces its row of one
 *    more exact user half-step.
 * 2. YtY + reg I is computed once per item-factor version, at construction; a solve reads
 *    it and the borrowed item factors only, so concurrent solves need no lock.
 * 3. A solve allocates its own f^2 scratch (33 KB at f = 64) rather than sharing one: the
 *    allocation costs far less than the solve, and the struct stays immutable. */
#include "als_internal.h"

#include "bookrec/error.h"

#include <stdlib.h>
#include <string.h>

struct br_als_foldin {
    const float *Y; /* [n_items][f], borrowed */
    size_t n_items, f;
    float *G; /* [f][f] = YtY + reg I */
    br__als_conf cf;
};

int br_als_foldin_new(const float *item_factors, size_t n_items, const br_als_params *p,
                      br_als_foldin **out)
{
    br_als_foldin *fi = NULL;
    int rc = BR_EINVAL;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (!item_factors || !p || n_items == 0 || br_als_params_check(p, NULL) < 0)
        return BR_EINVAL;
    if (n_items > BR_ALS_MAX_ROWS || n_items > SIZE_MAX / sizeof(float) / p->factors)
        return BR_ELIMIT;
    rc = BR_ENOMEM;
    if (!(fi = calloc(1, sizeof *fi)) || !(fi->G = malloc(p->factors * p->factors * sizeof(float))))
        goto fail;
    fi->Y = item_factors;
    fi->n_items = n_items;
    fi->f = p->factors;
    fi->cf = br__als_conf_of(p);
    if ((rc = br__als_gram(item_factors, n_items, fi->f, p->regularization, br__als_threads(p),
                           fi->G)) < 0)
        goto fail;
    *out = fi;
    return 0;
fail:
    br_als_foldin_free(fi);
    return rc;
}

void br_als_foldin_free(br_als_foldin *fi)
{
    if (!fi)
        return;
    free(fi->G);
    free(fi);
}

size_t br_als_foldin_factors(const br_als_foldin *fi)
{
    return fi ? fi->f : 0;
}

int br_als_foldin_solve(const br_als_foldin *fi, const int32_t *items, const float *ratings,
                        size_t n, float *user_out)
{
    if (!fi || !user_out || (n > 0 && !items))
        return BR_EINVAL;
    if (n > BR_ALS_MAX_FOLDIN)
        return BR_ELIMIT;
    for (size_t k = 0; k < n; k++)
        if (items[k] < 0 || (size_t)items[k] >= fi->n_items ||
            (ratings && !(ratings[k] >= 0 && ratings[k] <= BR_ALS_MAX_RATING)))
            return BR_EINVAL;
    if (n == 0) {
        memset(user_out, 0, fi->f * sizeof *user_out);
        return 0;
    }
    size_t f = fi->f;
    double *A = malloc((f * f + 2 * f) * sizeof *A);
    if (!A)
        return BR_ENOMEM;
    int rc = br__als_solve_exact(fi->G, fi->Y, f, items, ratings, n, fi->cf, A, A + f * f,
                                 user_out);
    free(A);
    return rc;
}
