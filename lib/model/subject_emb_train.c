/* Subject embeddings: batches, the loss with its backward pass, gradient clipping, AdamW
 * and the training loop (see subject_emb.h and docs/subject_embeddings.md).
 *
 * Design decisions:
 * 1. A batch pools each distinct user and each distinct book once (first-appearance order),
 *    and the MSE gathers from those: the same loss as pooling per triple, fewer flops.
 * 2. The contrastive term uses the batch's distinct books: no second sampler, the books
 *    the rating term sees are the ones pulled together or apart. Positives (two books
 *    sharing a subject) come from a counting sort of the books by subject, so the work is
 *    sum over subjects of (books with it)^2, not books^2 x set size.
 * 3. AdamW exactly as torch.optim.AdamW (single-tensor path, PyTorch 1.13): decay first,
 *    p *= 1 - lr wd; then the moments, bias corrections in double. Decay applies to the
 *    subject vectors and W / w only; attention bias and rating biases are not decayed
 *    (decaying a bias pulls predictions toward 0, not the model toward simplicity).
 * 4. Dense updates of every row every step, as PyTorch with dense gradients: rows absent
 *    from a batch still decay and follow their momentum. Required for the step-by-step
 *    comparison (bench/subject_emb.md), and cheap (the largest tensor is the item bias).
 * 5. Clipping as torch.nn.utils.clip_grad_norm_: one global norm over every gradient,
 *    scaled by clip / (norm + 1e-6) when that is below 1.
 * 6. The shuffling PRNG is the model's own xoshiro256** continuing after initialization,
 *    so a (seed, data, thread count) triple fixes the trained parameters bit for bit. */
#include "subject_emb_internal.h"

#include "bookrec/error.h"
#include "bookrec/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- workspace ---- */

static int grow(void **ptr, size_t n, size_t elem)
{
    void *q = realloc(*ptr, (n ? n : 1) * elem);
    if (!q)
        return BR_ENOMEM;
    *ptr = q;
    return 0;
}

/* Capacity for n triples: at most n users and n books, 2n sets. */
static int workspace_ensure(br_semb *m, size_t n)
{
    br__semb_batch *b = &m->batch;
    br__semb_acts *a = &m->acts;
    size_t L = m->p.max_set, D = m->D, Dz = m->p.pool == BR_SEMB_POOL_PERDIM ? D : 1;
    int rc = 0;

    /* once per model (each checked alone: an earlier call may have failed half-way) */
    if ((!m->mark_u && !(m->mark_u = calloc(m->U ? m->U : 1, sizeof *m->mark_u))) ||
        (!m->mark_i && !(m->mark_i = calloc(m->I ? m->I : 1, sizeof *m->mark_i))) ||
        (!m->sub_off && !(m->sub_off = calloc(m->S + 1, sizeof *m->sub_off))) ||
        (!a->z && !(a->z = malloc(m->S * Dz * sizeof *a->z))) ||
        (!a->dz && !(a->dz = malloc(m->S * Dz * sizeof *a->dz))))
        return BR_ENOMEM;
    if (n <= b->cap)
        return 0;
    if ((rc = grow((void **)&b->tu, n, sizeof *b->tu)) ||
        (rc = grow((void **)&b->tb, n, sizeof *b->tb)) ||
        (rc = grow((void **)&b->rating, n, sizeof *b->rating)) ||
        (rc = grow((void **)&b->id, 2 * n, sizeof *b->id)) ||
        (rc = grow((void **)&b->set, 2 * n * L, sizeof *b->set)) ||
        (rc = grow((void **)&b->len, 2 * n, sizeof *b->len)) ||
        (rc = grow((void **)&b->pos, n * n, sizeof *b->pos)) ||
        (rc = grow((void **)&b->npos, n, sizeof *b->npos)) ||
        (rc = grow((void **)&m->sub_books, n * L, sizeof *m->sub_books)) ||
        (rc = grow((void **)&a->a, 2 * n * L * Dz, sizeof *a->a)) ||
        (rc = grow((void **)&a->p, 2 * n * D, sizeof *a->p)) ||
        (rc = grow((void **)&a->pred, n, sizeof *a->pred)) ||
        (rc = grow((void **)&a->h, n * D, sizeof *a->h)) ||
        (rc = grow((void **)&a->nrm, n, sizeof *a->nrm)) ||
        (rc = grow((void **)&a->prob, n * n, sizeof *a->prob)) ||
        (rc = grow((void **)&a->rowloss, n, sizeof *a->rowloss)) ||
        (rc = grow((void **)&a->dp, 2 * n * D, sizeof *a->dp)) ||
        (rc = grow((void **)&a->dh, n * D, sizeof *a->dh)) ||
        (rc = grow((void **)&a->gmem, 2 * n * L, sizeof *a->gmem)))
        return rc;
    b->cap = n;
    return 0;
}

int br__semb_state_alloc(br_semb *m)
{
    if (m->grads)
        return 0;
    if (!(m->grads = calloc(m->n_params, sizeof *m->grads)) ||
        !(m->m1 = calloc(m->n_params, sizeof *m->m1)) ||
        !(m->m2 = calloc(m->n_params, sizeof *m->m2))) {
        free(m->grads);
        free(m->m1);
        m->grads = m->m1 = NULL;
        return BR_ENOMEM;
    }
    for (size_t k = 0, off = 0; k < BR__SEMB_NT; off += m->sizes[k], k++)
        m->g[k] = m->grads + off;
    return 0;
}

void br__semb_zero_grad(br_semb *m)
{
    memset(m->grads, 0, m->n_params * sizeof *m->grads);
}

/* ---- batch assembly ---- */

/* Row r of sets, checked: 0 with *off / *n set (n 0 for an empty row), or BR_EINVAL. */
static int set_row(const br_semb_sets *s, size_t r, size_t *off, size_t *n)
{
    *off = 0;
    *n = 0;
    if (r >= s->n)
        return 0;
    if (!s->offsets || s->offsets[r + 1] < s->offsets[r] || !s->subject)
        return BR_EINVAL;
    *off = s->offsets[r];
    *n = s->offsets[r + 1] - s->offsets[r];
    return 0;
}

/* Copies the first L subjects of a row into dst[L] (-1 padding); *len gets the count. */
static int copy_set(const br_semb *m, const br_semb_sets *s, size_t r, int32_t *dst, int32_t *len)
{
    size_t off, n, L = m->p.max_set;
    int rc = set_row(s, r, &off, &n);
    if (rc)
        return rc;
    if (n == 0)
        return BR_EINVAL; /* an empty set has no pooled vector to train */
    if (n > L)
        n = L;
    for (size_t j = 0; j < L; j++) {
        int32_t v = j < n ? s->subject[off + j] : -1;
        if (j < n && (v < 0 || (size_t)v >= m->S))
            return BR_ERANGE;
        dst[j] = v;
    }
    *len = (int32_t)n;
    return 0;
}

/* pos[i, k] = 1 when books i != k share a subject: books are sorted by subject (counting
 * sort into sub_off / sub_books), then each book marks the books of each of its subjects. */
static void build_positives(br_semb *m, const uint8_t *flag)
{
    br__semb_batch *b = &m->batch;
    size_t nb = b->nb, L = b->L;
    const int32_t *bset = b->set + b->nu * L, *blen = b->len + b->nu;
    int32_t *off = m->sub_off, *books = m->sub_books;

    memset(off, 0, (m->S + 1) * sizeof *off);
    for (size_t i = 0; i < nb; i++)
        for (int32_t j = 0; j < blen[i]; j++) {
            int32_t s = bset[i * L + (size_t)j];
            if (!flag || flag[s])
                off[s + 1]++;
        }
    for (size_t s = 0; s < m->S; s++)
        off[s + 1] += off[s];
    for (size_t i = 0; i < nb; i++) /* off[s] advances to the end of s; shifted back below */
        for (int32_t j = 0; j < blen[i]; j++) {
            int32_t s = bset[i * L + (size_t)j];
            if (!flag || flag[s])
                books[off[s]++] = (int32_t)i;
        }
    for (size_t s = m->S; s > 0; s--)
        off[s] = off[s - 1];
    off[0] = 0;
    BR__SEMB_PARALLEL_FOR(br__semb_threads(m))
    for (size_t i = 0; i < nb; i++) {
        uint8_t *row = b->pos + i * nb;
        int32_t cnt = 0;
        memset(row, 0, nb);
        for (int32_t j = 0; j < blen[i]; j++) {
            int32_t s = bset[i * L + (size_t)j];
            for (int32_t q = off[s]; q < off[s + 1]; q++)
                row[books[q]] = 1;
        }
        row[i] = 0;
        BR__SEMB_SIMD_SUM(cnt)
        for (size_t k = 0; k < nb; k++)
            cnt += row[k];
        b->npos[i] = cnt;
    }
}

int br__semb_batch_build(br_semb *m, const br_semb_data *d, const size_t *idx, size_t n)
{
    br__semb_batch *b = &m->batch;
    size_t L = m->p.max_set, nu = 0, nb = 0;
    int rc;

    if ((rc = workspace_ensure(m, n)) != 0)
        return rc;
    b->L = L;
    /* Pass 1: distinct users and books in first-appearance order; marks hold index + 1.
     * Book ids go to the upper half of id[] for now. */
    for (size_t t = 0; t < n; t++) {
        size_t k = idx[t];
        rc = BR_EINVAL;
        if (k >= d->n_triples)
            goto fail;
        int32_t u = d->user[k], it = d->item[k];
        if (u < 0 || (size_t)u >= m->U || it < 0 || (size_t)it >= m->I || !isfinite(d->rating[k]))
            goto fail;
        if (!m->mark_u[u]) {
            b->id[nu] = u;
            m->mark_u[u] = (int32_t)++nu;
        }
        if (!m->mark_i[it]) {
            b->id[n + nb] = it;
            m->mark_i[it] = (int32_t)++nb;
        }
        b->tu[t] = m->mark_u[u] - 1;
        b->tb[t] = m->mark_i[it] - 1;
        b->rating[t] = d->rating[k];
    }
    for (size_t i = 0; i < nu; i++)
        m->mark_u[b->id[i]] = 0;
    for (size_t i = 0; i < nb; i++)
        m->mark_i[b->id[n + i]] = 0;
    memmove(b->id + nu, b->id + n, nb * sizeof *b->id);
    b->n = n;
    b->nu = nu;
    b->nb = nb;
    b->ns = nu + nb;
    /* Pass 2: the padded sets. */
    for (size_t i = 0; i < b->ns; i++) {
        const br_semb_sets *s = i < nu ? &d->users : &d->items;
        if ((rc = copy_set(m, s, (size_t)b->id[i], b->set + i * L, b->len + i)) != 0)
            return rc;
    }
    if (m->p.lambda_con > 0)
        build_positives(m, d->positive_subjects);
    return 0;
fail:
    for (size_t i = 0; i < nu; i++)
        m->mark_u[b->id[i]] = 0;
    for (size_t i = 0; i < nb; i++)
        m->mark_i[b->id[n + i]] = 0;
    b->n = b->nu = b->nb = b->ns = 0;
    return rc;
}

/* ---- loss ---- */

int br__semb_forward_backward(br_semb *m, int want_grad, br_semb_step_stats *st)
{
    br__semb_batch *b = &m->batch;
    br__semb_acts *a = &m->acts;
    const br_semb_params *p = &m->p;
    size_t D = m->D, L = b->L, nu = b->nu, nb = b->nb, ns = b->ns, S = m->S;
    size_t Dz = p->pool == BR_SEMB_POOL_PERDIM ? D : 1, n_anchors = 0;
    int thr = br__semb_threads(m), con_on = p->lambda_con > 0;
    float *const *t = m->t;
    const int32_t *uid = b->id, *bid = b->id + nu;
    float *pu = a->p, *pb = a->p + nu * D;
    double mse, con = 0;

    /* forward */
    br__semb_scores_forward(a->z, t[BR__SEMB_EMB], t[BR__SEMB_ATT_W], t[BR__SEMB_ATT_B], S, D,
                            p->pool);
    br__semb_pool_forward(a->p, a->a, t[BR__SEMB_EMB], a->z, b->set, b->len, ns, L, D, p->pool,
                          thr);
    mse = br__semb_mse_forward(a->pred, pu, pb, b->tu, b->tb, uid, bid, t[BR__SEMB_UBIAS],
                               t[BR__SEMB_IBIAS], t[BR__SEMB_GBIAS], b->rating, b->n, D);
    if (con_on) {
        br__semb_l2norm_forward(a->h, a->nrm, pb, nb, D);
        con = br__semb_infonce_forward(a->prob, a->rowloss, a->h, b->pos, b->npos, nb, D, p->tau,
                                       thr, &n_anchors);
    }
    st->mse = mse;
    st->con = con;
    st->loss = (double)p->lambda_mse * mse + (double)p->lambda_con * con;
    st->n_triples = b->n;
    st->n_users = nu;
    st->n_books = nb;
    st->n_anchors = n_anchors;
    if (!want_grad)
        return 0;

    /* backward: loss -> pooled vectors -> (subject vectors, scores) -> attention */
    float *const *g = m->g;
    memset(a->dp, 0, ns * D * sizeof *a->dp);
    memset(a->dz, 0, S * Dz * sizeof *a->dz);
    br__semb_mse_backward(a->dp, a->dp + nu * D, g[BR__SEMB_UBIAS], g[BR__SEMB_IBIAS],
                          g[BR__SEMB_GBIAS], a->pred, pu, pb, b->tu, b->tb, uid, bid, b->rating,
                          b->n, D, p->lambda_mse);
    if (con_on && n_anchors > 0) {
        memset(a->dh, 0, nb * D * sizeof *a->dh);
        br__semb_infonce_backward(a->dh, a->prob, a->h, b->pos, b->npos, nb, D, p->tau, n_anchors,
                                  p->lambda_con, thr);
        br__semb_l2norm_backward(a->dp + nu * D, a->dh, a->h, a->nrm, nb, D);
    }
    br__semb_pool_backward(g[BR__SEMB_EMB], a->dz, a->gmem, a->dp, a->p, a->a, t[BR__SEMB_EMB],
                           b->set, b->len, ns, L, D, p->pool, thr);
    br__semb_scores_backward(g[BR__SEMB_EMB], g[BR__SEMB_ATT_W], g[BR__SEMB_ATT_B], a->dz,
                             t[BR__SEMB_EMB], t[BR__SEMB_ATT_W], S, D, p->pool);
    return 0;
}

/* ---- optimizer ---- */

double br__semb_clip(br_semb *m, float clip)
{
    double ss = 0;
    for (size_t i = 0; i < m->n_params; i++)
        ss += (double)m->grads[i] * m->grads[i];
    double norm = sqrt(ss);
    if (clip > 0) {
        double coef = (double)clip / (norm + 1e-6);
        if (coef < 1) {
            float c = (float)coef;
            for (size_t i = 0; i < m->n_params; i++)
                m->grads[i] *= c;
        }
    }
    return norm;
}

/* torch.optim.AdamW, single-tensor path (torch/optim/adamw.py, PyTorch 1.13). */
void br__semb_adamw(br_semb *m)
{
    const br_semb_params *p = &m->p;
    uint64_t step = ++m->steps;
    double bc1 = 1.0 - pow(p->beta1, (double)step), bc2 = 1.0 - pow(p->beta2, (double)step);
    float step_size = (float)(p->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float b1 = p->beta1, b2 = p->beta2, c1 = (float)(1.0 - p->beta1), c2 = (float)(1.0 - p->beta2),
          eps = p->eps;

    for (int k = 0; k < BR__SEMB_NT; k++) {
        int decay = k == BR__SEMB_EMB || k == BR__SEMB_ATT_W;
        float keep = (float)(1.0 - (decay ? (double)p->lr * p->weight_decay : 0.0));
        size_t off = (size_t)(m->t[k] - m->params), n = m->sizes[k];
        float *w = m->params + off, *g = m->grads + off, *m1 = m->m1 + off, *m2 = m->m2 + off;
        BR__SEMB_PARALLEL_FOR_SIMD_IF(br__semb_threads(m), n > 65536)
        for (size_t i = 0; i < n; i++) {
            w[i] *= keep;
            m1[i] = m1[i] * b1 + g[i] * c1;
            m2[i] = m2[i] * b2 + g[i] * g[i] * c2;
            float denom = sqrtf(m2[i]) / bc2_sqrt + eps;
            w[i] -= step_size * (m1[i] / denom);
        }
    }
}

/* ---- steps and epochs ---- */

static int step_checks(const br_semb *m, const br_semb_data *d)
{
    if (!m || !d || m->U == 0 || m->I == 0 ||
        (d->n_triples && (!d->user || !d->item || !d->rating)))
        return BR_EINVAL;
    return 0;
}

int br_semb_step(br_semb *m, const br_semb_data *d, const size_t *idx, size_t n,
                 br_semb_step_stats *stats)
{
    br_semb_step_stats st;
    int rc;

    if ((rc = step_checks(m, d)) != 0)
        return rc;
    if (!idx || n == 0 || n > BR_SEMB_MAX_BATCH)
        return BR_EINVAL;
    if ((rc = br__semb_state_alloc(m)) != 0 || (rc = br__semb_batch_build(m, d, idx, n)) != 0)
        return rc;
    br__semb_zero_grad(m);
    if ((rc = br__semb_forward_backward(m, 1, &st)) != 0)
        return rc;
    st.grad_norm = br__semb_clip(m, m->p.clip);
    if (!isfinite(st.loss) || !isfinite(st.grad_norm))
        return BR_ERANGE; /* diverged: the parameters are left as they were */
    br__semb_adamw(m);
    if (stats)
        *stats = st;
    return 0;
}

int br_semb_train(br_semb *m, const br_semb_data *d, br_semb_progress_fn progress, void *ctx)
{
    size_t *use = NULL, n_used = 0, n_skipped = 0;
    double rsum = 0;
    int rc;

    if ((rc = step_checks(m, d)) != 0)
        return rc;
    rc = BR_ENOMEM;
    if (!(use = malloc((d->n_triples ? d->n_triples : 1) * sizeof *use)))
        goto fail;
    /* Usable triples: ids in range, a finite rating, non-empty sets (subject ids are
     * checked when a batch gathers them). */
    for (size_t k = 0; k < d->n_triples; k++) {
        int32_t u = d->user[k], it = d->item[k];
        size_t off, nus, nis;
        rc = BR_EINVAL;
        if (u < 0 || (size_t)u >= m->U || it < 0 || (size_t)it >= m->I || !isfinite(d->rating[k]))
            goto fail;
        if ((rc = set_row(&d->users, (size_t)u, &off, &nus)) != 0 ||
            (rc = set_row(&d->items, (size_t)it, &off, &nis)) != 0)
            goto fail;
        if (nus == 0 || nis == 0) {
            n_skipped++;
            continue;
        }
        use[n_used++] = k;
        rsum += d->rating[k];
    }
    rc = BR_EINVAL;
    if (n_used == 0)
        goto fail;
    if (m->steps == 0)
        m->t[BR__SEMB_GBIAS][0] = (float)(rsum / (double)n_used);
    br_info("subject_emb: %zu triples (%zu skipped: empty set), %zu epochs of %zu "
            "steps, pool %s",
            n_used, n_skipped, m->p.epochs, (n_used + m->p.batch - 1) / m->p.batch,
            br_semb_pool_name(m->p.pool));

    for (size_t ep = 0; ep < m->p.epochs; ep++) {
        br_semb_epoch e = {
            .epoch = ep + 1, .epochs = m->p.epochs, .n_used = n_used, .n_skipped = n_skipped};
        double t0 = br_now();
        for (size_t i = n_used - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j =
                (size_t)((double)(br__semb_rng_next(m->rng) >> 11) * 0x1.0p-53 * (double)(i + 1));
            size_t tmp = use[i];
            use[i] = use[j];
            use[j] = tmp;
        }
        for (size_t s = 0; s < n_used; s += m->p.batch) {
            size_t nb = n_used - s < m->p.batch ? n_used - s : m->p.batch;
            br_semb_step_stats st;
            if ((rc = br_semb_step(m, d, use + s, nb, &st)) != 0)
                goto fail;
            e.steps++;
            e.loss += st.loss;
            e.mse += st.mse;
            e.con += st.con;
        }
        e.loss /= (double)e.steps;
        e.mse /= (double)e.steps;
        e.con /= (double)e.steps;
        e.seconds = br_now() - t0;
        br_info("subject_emb: epoch %zu/%zu loss %.5f (mse %.4f, infonce %.4f) %.2fs", e.epoch,
                e.epochs, e.loss, e.mse, e.con, e.seconds);
        if (progress && progress(ctx, &e) != 0)
            break;
    }
    rc = 0;
fail:
    free(use);
    return rc;
}
