/* Train-only features (see features.h and docs/evaluation.md).
 *
 * Design decisions:
 * 1. The fold array is the only gate: each function skips every interaction whose fold is not
 *    BR_FOLD_TRAIN before reading its rating, so held-out data cannot reach an output.
 * 2. Ratings are integers, so counts, sums and sums of squares are exact integers whatever
 *    the order; mean and std are computed once from them (std from n*sumsq - sum^2, which is
 *    exact and never negative). Same train set -> bit-identical aggregates.
 * 3. Favorite-subject scores are floating sums, so the train interactions are first sorted by
 *    (user, item, rating): the summation order is canonical, not the input's.
 * 4. A subject's weight is normalized by its item's total, so a book with forty tags gives
 *    each a fortieth and cannot dominate a user's profile.
 * 5. Dense arrays default to max id + 1 over all folds, so any id in the data is a valid
 *    index; their length is the only thing held-out data can change, never a value. */
#include "bookrec/features.h"
#include "bookrec/error.h"
#include "bookrec/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int br_rating_valid(float r)
{
    return r >= 0.0f && r <= 10.0f && r == floorf(r); /* false for NaN */
}

/* Checks x[0..n) and folds; *max_user / *max_item get the largest ids. */
static int check_input(const br_interaction *x, const uint8_t *fold, size_t n, int64_t *max_user,
                       int64_t *max_item)
{
    if (!x || !fold || n == 0)
        return BR_EINVAL;
    if (n > BR_FEATURES_MAX_INTERACTIONS)
        return BR_ELIMIT;
    int64_t mu = 0, mi = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i].user < 0 || x[i].item < 0 || fold[i] >= BR_FOLD_COUNT ||
            !br_rating_valid(x[i].rating))
            return BR_EINVAL;
        mu = x[i].user > mu ? x[i].user : mu;
        mi = x[i].item > mi ? x[i].item : mi;
    }
    *max_user = mu;
    *max_item = mi;
    return 0;
}

/* Size of a dense array: the caller's, or max id + 1. */
static int dense_size(size_t given, int64_t max_id, size_t *size)
{
    if (given) {
        if ((uint64_t)max_id >= given)
            return BR_ERANGE;
        if (given > BR_FEATURES_MAX_IDS)
            return BR_ELIMIT;
        *size = given;
        return 0;
    }
    if ((uint64_t)max_id >= BR_FEATURES_MAX_IDS)
        return BR_ELIMIT;
    *size = (size_t)max_id + 1;
    return 0;
}

struct br_features {
    br_agg *users, *items, global;
    size_t n_users, n_items;
};

/* While accumulating, std holds the sum of squares (an exact integer below 2^53). */
static void agg_add(br_agg *a, float r)
{
    a->count++;
    if (r > 0) {
        uint32_t v = (uint32_t)r;
        a->n_explicit++;
        a->sum += v;
        a->std += (double)(v * v);
    }
}

static void agg_finish(br_agg *a)
{
    if (a->n_explicit == 0) {
        a->mean = a->std = 0;
        return;
    }
    /* n <= 2^28 and r <= 10 keep n * sumsq and sum^2 below 2^63. */
    int64_t n = a->n_explicit, s = (int64_t)a->sum, sq = (int64_t)a->std;
    a->mean = (double)s / (double)n;
    a->std = sqrt((double)(n * sq - s * s)) / (double)n;
}

int br_features_new(const br_interaction *x, const uint8_t *fold, size_t n, size_t n_users,
                    size_t n_items, br_features **out)
{
    br_features *f = NULL;
    int64_t mu, mi;
    int rc;

    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if ((rc = check_input(x, fold, n, &mu, &mi)) != 0)
        return rc;
    if ((rc = dense_size(n_users, mu, &n_users)) != 0 ||
        (rc = dense_size(n_items, mi, &n_items)) != 0)
        return rc;
    rc = BR_ENOMEM;
    if (!(f = calloc(1, sizeof *f)) || !(f->users = calloc(n_users, sizeof *f->users)) ||
        !(f->items = calloc(n_items, sizeof *f->items)))
        goto fail;
    f->n_users = n_users;
    f->n_items = n_items;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] != BR_FOLD_TRAIN)
            continue;
        agg_add(&f->users[x[i].user], x[i].rating);
        agg_add(&f->items[x[i].item], x[i].rating);
        agg_add(&f->global, x[i].rating);
    }
    for (size_t u = 0; u < n_users; u++)
        agg_finish(&f->users[u]);
    for (size_t i = 0; i < n_items; i++)
        agg_finish(&f->items[i]);
    agg_finish(&f->global);
    *out = f;
    return 0;
fail:
    br_features_free(f);
    return rc;
}

void br_features_free(br_features *f)
{
    if (!f)
        return;
    free(f->users);
    free(f->items);
    free(f);
}

const br_agg *br_features_users(const br_features *f, size_t *n_users)
{
    if (n_users)
        *n_users = f->n_users;
    return f->users;
}

const br_agg *br_features_items(const br_features *f, size_t *n_items)
{
    if (n_items)
        *n_items = f->n_items;
    return f->items;
}

br_agg br_features_global(const br_features *f)
{
    return f->global;
}

/* ---- Favorite subjects ---- */

void br_favsub_params_default(br_favsub_params *p)
{
    *p = (br_favsub_params){.k = 10, .implicit_weight = 0.5f};
}

struct br_favsub {
    size_t n_users;
    size_t *offsets; /* n_users + 1 */
    int32_t *subject;
    float *score;
};

/* Checks the CSR; *n_subjects gets max subject id + 1 (0 when there are none). */
static int check_csr(const br_item_subjects *is, size_t *n_subjects)
{
    if (!is || (is->n_items > 0 && (!is->offsets || is->offsets[0] != 0)))
        return BR_EINVAL;
    if (is->n_items >= BR_FEATURES_MAX_IDS)
        return BR_ELIMIT;
    size_t nnz = is->n_items ? is->offsets[is->n_items] : 0;
    if (nnz > 0 && (!is->subject || !is->weight))
        return BR_EINVAL;
    for (size_t i = 0; i < is->n_items; i++)
        if (is->offsets[i + 1] < is->offsets[i])
            return BR_EINVAL;
    int32_t ms = -1;
    for (size_t j = 0; j < nnz; j++) {
        if (is->subject[j] < 0 || !isfinite(is->weight[j]) || is->weight[j] < 0)
            return BR_EINVAL;
        ms = is->subject[j] > ms ? is->subject[j] : ms;
    }
    if ((size_t)ms + 1 > BR_FEATURES_MAX_IDS)
        return BR_ELIMIT;
    *n_subjects = (size_t)ms + 1;
    return 0;
}

struct tr {
    int64_t user, item;
    float rating;
};

static int tr_cmp(const void *a, const void *b)
{
    const struct tr *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return (x->rating > y->rating) - (x->rating < y->rating);
}

struct cand {
    double score;
    int32_t subject;
};

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->subject > y->subject) - (x->subject < y->subject);
}

int br_favsub_new(const br_interaction *x, const uint8_t *fold, size_t n,
                  const br_item_subjects *is, const br_favsub_params *p, size_t n_users,
                  br_favsub **out)
{
    br_favsub_params def;
    br_favsub *f = NULL;
    struct tr *trs = NULL;
    struct cand *cands = NULL;
    double *norm = NULL, *score = NULL;
    br_vec vsub, vscore;
    size_t n_subjects = 0, ntr = 0;
    int64_t mu, mi;
    int rc;

    br_vec_init(&vsub, sizeof(int32_t), 0);
    br_vec_init(&vscore, sizeof(float), 0);
    if (!p) {
        br_favsub_params_default(&def);
        p = &def;
    }
    if (!out)
        return BR_EINVAL;
    *out = NULL;
    if (p->k < 1 || !isfinite(p->implicit_weight) || p->implicit_weight < 0)
        return BR_EINVAL;
    if ((rc = check_input(x, fold, n, &mu, &mi)) != 0 || (rc = check_csr(is, &n_subjects)) != 0 ||
        (rc = dense_size(n_users, mu, &n_users)) != 0)
        return rc;

    rc = BR_ENOMEM;
    if (!(f = calloc(1, sizeof *f)) || !(f->offsets = calloc(n_users + 1, sizeof *f->offsets)) ||
        !(norm = calloc(is->n_items ? is->n_items : 1, sizeof *norm)) ||
        !(score = calloc(n_subjects ? n_subjects : 1, sizeof *score)) ||
        !(cands = malloc((n_subjects ? n_subjects : 1) * sizeof *cands)) ||
        !(trs = malloc(n * sizeof *trs)))
        goto fail;
    f->n_users = n_users;
    for (size_t i = 0; i < is->n_items; i++)
        for (size_t j = is->offsets[i]; j < is->offsets[i + 1]; j++)
            norm[i] += is->weight[j];
    for (size_t i = 0; i < n; i++) {
        const br_interaction *t = &x[i];
        if (fold[i] == BR_FOLD_TRAIN && (size_t)t->item < is->n_items && norm[t->item] > 0)
            trs[ntr++] = (struct tr){t->user, t->item, t->rating};
    }
    qsort(trs, ntr, sizeof *trs, tr_cmp);

    for (size_t a = 0, b; a < ntr; a = b) {
        int64_t user = trs[a].user;
        size_t nc = 0;
        for (b = a; b < ntr && trs[b].user == user; b++) {
            const struct tr *t = &trs[b];
            double w = t->rating > 0 ? t->rating / 10.0 : (double)p->implicit_weight;
            w /= norm[t->item];
            for (size_t j = is->offsets[t->item]; j < is->offsets[t->item + 1]; j++) {
                double c = w * is->weight[j];
                int32_t s = is->subject[j];
                if (c <= 0)
                    continue;
                if (score[s] == 0) /* first positive contribution: scores only grow */
                    cands[nc++].subject = s;
                score[s] += c;
            }
        }
        for (size_t c = 0; c < nc; c++) {
            cands[c].score = score[cands[c].subject];
            score[cands[c].subject] = 0;
        }
        qsort(cands, nc, sizeof *cands, cand_cmp);
        for (size_t c = 0; c < nc && c < p->k; c++) {
            float sc = (float)cands[c].score;
            if (!br_vec_push(&vsub, &cands[c].subject) || !br_vec_push(&vscore, &sc))
                goto fail;
        }
        f->offsets[user + 1] = vsub.n; /* users without train subjects are filled below */
    }
    for (size_t u = 1; u <= n_users; u++)
        if (f->offsets[u] < f->offsets[u - 1])
            f->offsets[u] = f->offsets[u - 1];
    f->subject = vsub.data;
    f->score = vscore.data;
    vsub.data = vscore.data = NULL;
    *out = f;
    rc = 0;
fail:
    if (rc)
        br_favsub_free(f);
    br_vec_free(&vsub);
    br_vec_free(&vscore);
    free(trs);
    free(cands);
    free(score);
    free(norm);
    return rc;
}

void br_favsub_free(br_favsub *f)
{
    if (!f)
        return;
    free(f->offsets);
    free(f->subject);
    free(f->score);
    free(f);
}

size_t br_favsub_n_users(const br_favsub *f)
{
    return f->n_users;
}

size_t br_favsub_get(const br_favsub *f, int64_t user, const int32_t **subject, const float **score)
{
    if (user < 0 || (uint64_t)user >= f->n_users) {
        if (subject)
            *subject = NULL;
        if (score)
            *score = NULL;
        return 0;
    }
    size_t a = f->offsets[user], b = f->offsets[user + 1];
    if (subject)
        *subject = f->subject ? f->subject + a : NULL;
    if (score)
        *score = f->score ? f->score + a : NULL;
    return b - a;
}

void br_favsub_csr(const br_favsub *f, const size_t **offsets, const int32_t **subject,
                   const float **score)
{
    *offsets = f->offsets;
    *subject = f->subject;
    *score = f->score;
}
