/* Evaluation split (see split.h and docs/evaluation.md).
 *
 * Design decisions:
 * 1. Order independence by construction: interactions are sorted by (user, hash(seed, user,
 *    item), item) and users are ranked by hash(seed, user), so the input order never matters.
 *    Hashes are XXH3-64 with the seed over little-endian encodings, identical on every host.
 * 2. Cold users are the round(cold_frac * eligible) eligible users with the smallest user hash
 *    (ties by user id): an exact count, not a coin flip per user, so small sets get the
 *    fraction too. Their interactions all go to the cold fold and never reach training.
 * 3. Per warm user the smallest pair hashes go to test, the next to val: the same ordering
 *    br_split_assign_new thresholds later (u < test_frac -> test), so a late interaction
 *    lands where it would have landed in the batch, roughly.
 * 4. Duplicate (user, item) pairs are an error, not a tie to break: the importer drops them,
 *    and accepting them would make the split depend on which duplicate came first.
 * 5. The split id sums two independent 64-bit hashes of each (user, item, fold) triple, an
 *    order-independent digest that needs no sort and no allocation, then hashes those sums
 *    with the protocol version and the params.
 * 6. The frozen state is the sorted triples, searched by bisection: one allocation, exact
 *    pair lookups (a re-rated book keeps its fold), and the user's state from its first pair. */
#include "bookrec/split.h"
#include "bookrec/error.h"
#include "bookrec/hashmap.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Bump when the assignment rules change: old split ids must not match new splits. */
#define SPLIT_PROTOCOL "bookrec-split/1"

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t hash_user(uint64_t seed, int64_t user)
{
    unsigned char b[8];
    put_le64(b, (uint64_t)user);
    return XXH3_64bits_withSeed(b, sizeof b, seed);
}

static uint64_t hash_pair(uint64_t seed, int64_t user, int64_t item)
{
    unsigned char b[16];
    put_le64(b, (uint64_t)user);
    put_le64(b + 8, (uint64_t)item);
    return XXH3_64bits_withSeed(b, sizeof b, seed);
}

/* Top 53 bits as a double in [0, 1). */
static double unit_interval(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

static size_t round_half_up(double v)
{
    return (size_t)floor(v + 0.5);
}

const char *br_fold_name(int fold)
{
    static const char *names[BR_FOLD_COUNT] = {"train", "val", "test", "cold"};
    return fold >= 0 && fold < BR_FOLD_COUNT ? names[fold] : "?";
}

void br_split_params_default(br_split_params *p)
{
    *p = (br_split_params){
        .seed = 42,
        .cold_frac = 0.10,
        .val_frac = 0.10,
        .test_frac = 0.10,
        .cold_min_interactions = 4,
        .holdout_min_interactions = 5,
    };
}

static int frac_ok(double f)
{
    return isfinite(f) && f >= 0.0 && f <= 1.0;
}

int br_split_params_check(const br_split_params *p)
{
    if (!p || !frac_ok(p->cold_frac) || !frac_ok(p->val_frac) || !frac_ok(p->test_frac))
        return BR_EINVAL;
    if (p->val_frac + p->test_frac > 0.5)
        return BR_EINVAL;
    if (p->cold_min_interactions < 1 || p->holdout_min_interactions < 4)
        return BR_EINVAL;
    return 0;
}

/* Resolves NULL to the defaults (in *buf) and checks. */
static int resolve_params(const br_split_params **p, br_split_params *buf)
{
    if (!*p) {
        br_split_params_default(buf);
        *p = buf;
    }
    return br_split_params_check(*p);
}

void br_split_holdout_sizes(size_t k, const br_split_params *p, size_t *n_val, size_t *n_test)
{
    size_t nv = 0, nt = 0;
    if (k >= p->holdout_min_interactions) {
        size_t min_v = p->val_frac > 0, min_t = p->test_frac > 0;
        nv = min_v ? round_half_up(p->val_frac * (double)k) : 0;
        nt = min_t ? round_half_up(p->test_frac * (double)k) : 0;
        nv = nv < min_v ? min_v : nv;
        nt = nt < min_t ? min_t : nt;
        /* Rounding up both can exceed half; holdout_min >= 4 leaves room for 1 + 1. */
        while (nv + nt > k / 2) {
            if (nv >= nt && nv > min_v)
                nv--;
            else if (nt > min_t)
                nt--;
            else
                nv--;
        }
    }
    *n_val = nv;
    *n_test = nt;
}

struct rec {
    int64_t user;
    uint64_t h; /* hash(seed, user, item) */
    int64_t item;
    size_t idx; /* position in the input */
};

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* A user's run in the sorted records. */
struct urun {
    uint64_t h; /* hash(seed, user) */
    int64_t user;
    size_t start, k;
    int cold;
};

static int urun_ptr_cmp(const void *a, const void *b)
{
    const struct urun *x = *(struct urun *const *)a, *y = *(struct urun *const *)b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

int br_split_assign(const br_interaction *x, size_t n, const br_split_params *p, uint8_t *fold_out)
{
    br_split_params def;
    struct rec *recs = NULL;
    struct urun *runs = NULL;
    struct urun **elig = NULL;
    size_t nruns = 0, nelig = 0;
    int rc = resolve_params(&p, &def);

    if (rc)
        return rc;
    if (!x || !fold_out || n == 0)
        return BR_EINVAL;
    if (n > BR_SPLIT_MAX_INTERACTIONS)
        return BR_ELIMIT;
    rc = BR_ENOMEM;
    if (!(recs = malloc(n * sizeof *recs)))
        goto fail;
    for (size_t i = 0; i < n; i++)
        recs[i] = (struct rec){x[i].user, hash_pair(p->seed, x[i].user, x[i].item), x[i].item, i};
    qsort(recs, n, sizeof *recs, rec_cmp);

    for (size_t i = 0; i < n; i++) {
        if (i > 0 && recs[i].user == recs[i - 1].user && recs[i].item == recs[i - 1].item) {
            rc = BR_EINVAL; /* duplicate pair: equal hashes made them adjacent */
            goto fail;
        }
        nruns += i == 0 || recs[i].user != recs[i - 1].user;
    }
    if (!(runs = malloc(nruns * sizeof *runs)) || !(elig = malloc(nruns * sizeof *elig)))
        goto fail;
    nruns = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || recs[i].user != recs[i - 1].user)
            runs[nruns++] = (struct urun){hash_user(p->seed, recs[i].user), recs[i].user, i, 0, 0};
        runs[nruns - 1].k++;
    }

    for (size_t r = 0; r < nruns; r++)
        if (runs[r].k >= p->cold_min_interactions)
            elig[nelig++] = &runs[r];
    qsort(elig, nelig, sizeof *elig, urun_ptr_cmp);
    size_t ncold = round_half_up(p->cold_frac * (double)nelig);
    for (size_t e = 0; e < ncold && e < nelig; e++)
        elig[e]->cold = 1;

    for (size_t r = 0; r < nruns; r++) {
        const struct urun *u = &runs[r];
        size_t nv = 0, nt = 0;
        if (!u->cold)
            br_split_holdout_sizes(u->k, p, &nv, &nt);
        for (size_t j = 0; j < u->k; j++) {
            uint8_t f = u->cold       ? BR_FOLD_COLD
                        : j < nt      ? BR_FOLD_TEST
                        : j < nt + nv ? BR_FOLD_VAL
                                      : BR_FOLD_TRAIN;
            fold_out[recs[u->start + j].idx] = f;
        }
    }
    rc = 0;
fail:
    free(elig);
    free(runs);
    free(recs);
    return rc;
}

int br_split_id(const br_interaction *x, const uint8_t *fold, size_t n, const br_split_params *p,
                char out[BR_SPLIT_ID_SIZE])
{
    br_split_params def;
    uint64_t s1 = 0, s2 = 0;
    unsigned char b[17];
    int rc = resolve_params(&p, &def);

    if (rc)
        return rc;
    if (!x || !fold || !out || n == 0)
        return BR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] >= BR_FOLD_COUNT)
            return BR_EINVAL;
        put_le64(b, (uint64_t)x[i].user);
        put_le64(b + 8, (uint64_t)x[i].item);
        b[16] = fold[i];
        /* Wrapping sums commute: the digest ignores order. Two seeds make a collision of
         * the sums alone need two independent coincidences. */
        s1 += XXH3_64bits_withSeed(b, sizeof b, 0x9E3779B97F4A7C15u);
        s2 += XXH3_64bits_withSeed(b, sizeof b, 0xC2B2AE3D27D4EB4Fu);
    }

    unsigned char d[sizeof SPLIT_PROTOCOL + 8 * 9];
    unsigned char *q = d + sizeof SPLIT_PROTOCOL;
    uint64_t v[9];
    memcpy(d, SPLIT_PROTOCOL, sizeof SPLIT_PROTOCOL);
    v[0] = p->seed;
    memcpy(&v[1], &p->cold_frac, 8);
    memcpy(&v[2], &p->val_frac, 8);
    memcpy(&v[3], &p->test_frac, 8);
    v[4] = p->cold_min_interactions;
    v[5] = p->holdout_min_interactions;
    v[6] = (uint64_t)n;
    v[7] = s1;
    v[8] = s2;
    for (int i = 0; i < 9; i++)
        put_le64(q + 8 * i, v[i]);
    snprintf(out, BR_SPLIT_ID_SIZE, "s%" PRIu64 "-%016" PRIx64, p->seed,
             (uint64_t)XXH3_64bits(d, sizeof d));
    return 0;
}

int br_split_counts(const br_interaction *x, const uint8_t *fold, size_t n, br_fold_counts *out)
{
    br_intmap *seen = NULL; /* user -> bit mask of its folds */
    int rc;

    if (!out || (n > 0 && (!x || !fold)))
        return BR_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = br_intmap_new(&seen)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t mask = 0;
        if (fold[i] >= BR_FOLD_COUNT) {
            rc = BR_EINVAL;
            goto fail;
        }
        out->interactions[fold[i]]++;
        br_intmap_get(seen, x[i].user, &mask);
        if ((rc = br_intmap_put(seen, x[i].user, mask | (1 << fold[i]))) != 0)
            goto fail;
    }
    size_t it = 0;
    int64_t user, mask;
    while (br_intmap_iter(seen, &it, &user, &mask)) {
        out->users_total++;
        for (int f = 0; f < BR_FOLD_COUNT; f++)
            out->users[f] += (mask >> f) & 1;
    }
    rc = 0;
fail:
    br_intmap_free(seen);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

struct fpair {
    int64_t user, item;
    uint8_t fold;
};

struct br_split_frozen {
    br_split_params p;
    struct fpair *v; /* sorted by (user, item) */
    size_t n;
};

static int fpair_cmp(const void *a, const void *b)
{
    const struct fpair *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

int br_split_frozen_new(const br_interaction *x, const uint8_t *fold, size_t n,
                        const br_split_params *p, br_split_frozen **out)
{
    br_split_params def;
    br_split_frozen *s = NULL;
    int rc = resolve_params(&p, &def);

    if (rc)
        return rc;
    if (!out || (n > 0 && (!x || !fold)))
        return BR_EINVAL;
    *out = NULL;
    if (n > BR_SPLIT_MAX_INTERACTIONS)
        return BR_ELIMIT;
    rc = BR_ENOMEM;
    if (!(s = calloc(1, sizeof *s)) || (n > 0 && !(s->v = malloc(n * sizeof *s->v))))
        goto fail;
    s->p = *p;
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] >= BR_FOLD_COUNT) {
            rc = BR_EINVAL;
            goto fail;
        }
        s->v[i] = (struct fpair){x[i].user, x[i].item, fold[i]};
    }
    if (n > 0)
        qsort(s->v, n, sizeof *s->v, fpair_cmp);
    for (size_t i = 1; i < n; i++) {
        if (s->v[i].user != s->v[i - 1].user)
            continue;
        if (s->v[i].item == s->v[i - 1].item) {
            rc = BR_EINVAL;
            goto fail;
        }
        if ((s->v[i].fold == BR_FOLD_COLD) != (s->v[i - 1].fold == BR_FOLD_COLD)) {
            rc = BR_ECORRUPT;
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    br_split_frozen_free(s);
    return rc;
}

void br_split_frozen_free(br_split_frozen *s)
{
    if (!s)
        return;
    free(s->v);
    free(s);
}

/* First index whose (user, item) >= the key. */
static size_t lower_bound(const br_split_frozen *s, int64_t user, int64_t item)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct fpair *m = &s->v[mid];
        if (m->user < user || (m->user == user && m->item < item))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int br_split_assign_new(const br_split_frozen *s, int64_t user, int64_t item, uint8_t *fold_out)
{
    if (!s || !fold_out)
        return BR_EINVAL;
    const br_split_params *p = &s->p;
    size_t i = lower_bound(s, user, INT64_MIN);
    if (i < s->n && s->v[i].user == user) {
        size_t j = lower_bound(s, user, item);
        if (j < s->n && s->v[j].user == user && s->v[j].item == item)
            *fold_out = s->v[j].fold;
        else if (s->v[i].fold == BR_FOLD_COLD)
            *fold_out = BR_FOLD_COLD;
        else {
            double u = unit_interval(hash_pair(p->seed, user, item));
            *fold_out = u < p->test_frac                 ? BR_FOLD_TEST
                        : u < p->test_frac + p->val_frac ? BR_FOLD_VAL
                                                         : BR_FOLD_TRAIN;
        }
        return 0;
    }
    *fold_out =
        unit_interval(hash_user(p->seed, user)) < p->cold_frac ? BR_FOLD_COLD : BR_FOLD_TRAIN;
    return 0;
}
