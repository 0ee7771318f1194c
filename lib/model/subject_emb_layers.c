/* Forward and backward kernels of the subject-embedding model (see subject_emb_internal.h;
 * every equation and derivation is in docs/subject_embeddings.md, section numbers below).
 *
 * Design decisions:
 * 1. Pure functions in llm.c's manner: x_forward(out, in, weights, dims) and
 *    x_backward(din, dweights, dout, saved activations, dims); backward functions
 *    accumulate (+=) into gradients the caller zeroed; shapes in comments.
 * 2. Determinism that does not depend on the thread count: every parallel loop writes
 *    disjoint outputs, and whenever several sets touch one subject's gradient the
 *    parallel loop runs over blocks of dimensions (each (subject, dimension) cell is
 *    summed by one thread, in set order), never over sets. Losses are summed in double,
 *    serially, from per-row values. The BLAS calls are deterministic for a thread count.
 * 3. Padding is never read: loops stop at len[i]; padded attention weights are written as
 *    0 for clarity only.
 * 4. Softmaxes subtract the maximum (log-sum-exp trick) and use a vectorizable exp
 *    (br__semb_expf); activations and their sums are float32 as in PyTorch's CPU kernels,
 *    per-row losses and the batch sums are double.
 * 5. Inner loops over dimensions or over a row carry `omp simd` (the Makefile's -O2
 *    vectorizes almost nothing by itself); NO_OMP builds run them scalar. */
#include "subject_emb_internal.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define DBLK 16 /* dimensions per parallel block: one 64-byte cache line of floats */

/* §2.1 scores. PERDIM: z[S, D] = e[S, D] W[D, D]^T + b[D]. SCALAR: z[S] = e[S, D] w[D] + b. */
void br__semb_scores_forward(float *z, const float *e, const float *w, const float *b, size_t S,
                             size_t D, br_semb_pool_kind kind)
{
    if (kind == BR_SEMB_POOL_MEAN || S == 0)
        return;
    if (kind == BR_SEMB_POOL_PERDIM) {
        for (size_t s = 0; s < S; s++)
            memcpy(z + s * D, b, D * sizeof *z);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, (int)D, (int)D, 1.0f, e,
                    (int)D, w, (int)D, 1.0f, z, (int)D);
    } else {
        for (size_t s = 0; s < S; s++)
            z[s] = b[0];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)S, (int)D, 1.0f, e, (int)D, w, 1, 1.0f, z, 1);
    }
}

/* §3.4. PERDIM: de[S, D] += dz[S, D] W; dW[D, D] += dz^T e; db[D] += sum_s dz[s, :].
 * SCALAR: de[s, :] += dz[s] w; dw[D] += e^T dz; db += sum_s dz[s]. */
void br__semb_scores_backward(float *de, float *dw, float *db, const float *dz, const float *e,
                              const float *w, size_t S, size_t D, br_semb_pool_kind kind)
{
    if (kind == BR_SEMB_POOL_MEAN || S == 0)
        return;
    if (kind == BR_SEMB_POOL_PERDIM) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)S, (int)D, (int)D, 1.0f, dz,
                    (int)D, w, (int)D, 1.0f, de, (int)D);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)S, 1.0f, dz,
                    (int)D, e, (int)D, 1.0f, dw, (int)D);
        for (size_t s = 0; s < S; s++)
            for (size_t k = 0; k < D; k++)
                db[k] += dz[s * D + k];
    } else {
        cblas_sger(CblasRowMajor, (int)S, (int)D, 1.0f, dz, 1, w, 1, de, (int)D);
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)S, (int)D, 1.0f, e, (int)D, dz, 1, 1.0f, dw, 1);
        double sum = 0;
        for (size_t s = 0; s < S; s++)
            sum += dz[s];
        db[0] += (float)sum;
    }
}

/* §2.2 pooling of set i (members s_j = set[i, j], j < len[i]):
 *   PERDIM  a[i, j, d] = softmax_j z[s_j, d];  p[i, d] = sum_j a[i, j, d] e[s_j, d]
 *   SCALAR  a[i, j]    = softmax_j z[s_j];     p[i, :] = sum_j a[i, j] e[s_j, :]
 *   MEAN    p[i, :] = (1 / len[i]) sum_j e[s_j, :]
 * p: [ns, D], a: [ns, L, Dz], e: [S, D], z: [S, Dz], set: [ns, L], len: [ns]. */
void br__semb_pool_forward(float *p, float *a, const float *e, const float *z, const int32_t *set,
                           const int32_t *len, size_t ns, size_t L, size_t D,
                           br_semb_pool_kind kind, int threads)
{
    BR__SEMB_PARALLEL_FOR(threads)
    for (size_t i = 0; i < ns; i++) {
        const int32_t *si = set + i * L;
        size_t n = (size_t)len[i];
        float *pi = p + i * D;
        if (kind == BR_SEMB_POOL_PERDIM) {
            float *ai = a + i * L * D;
            /* pi holds the maximum, then the sum of exponentials, its inverse, then p */
            memcpy(pi, z + (size_t)si[0] * D, D * sizeof *pi);
            for (size_t j = 1; j < n; j++) {
                const float *zj = z + (size_t)si[j] * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    pi[d] = zj[d] > pi[d] ? zj[d] : pi[d];
            }
            for (size_t j = 0; j < n; j++) {
                const float *zj = z + (size_t)si[j] * D;
                float *aj = ai + j * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++) {
                    float x = zj[d] - pi[d];
                    aj[d] = x >= BR__SEMB_EXP_MIN ? x : BR__SEMB_EXP_MIN;
                }
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    aj[d] = br__semb_expf(aj[d]);
            }
            memcpy(pi, ai, D * sizeof *pi);
            for (size_t j = 1; j < n; j++) {
                const float *aj = ai + j * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    pi[d] += aj[d];
            }
            BR__SEMB_SIMD
            for (size_t d = 0; d < D; d++)
                pi[d] = 1.0f / pi[d];
            for (size_t j = 0; j < n; j++) {
                float *aj = ai + j * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    aj[d] *= pi[d];
            }
            memset(pi, 0, D * sizeof *pi);
            for (size_t j = 0; j < n; j++) {
                const float *ej = e + (size_t)si[j] * D, *aj = ai + j * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    pi[d] += aj[d] * ej[d];
            }
            memset(ai + n * D, 0, (L - n) * D * sizeof *ai);
        } else if (kind == BR_SEMB_POOL_SCALAR) {
            float *ai = a + i * L, mx = z[si[0]], sum = 0;
            for (size_t j = 1; j < n; j++)
                mx = z[si[j]] > mx ? z[si[j]] : mx;
            for (size_t j = 0; j < n; j++) {
                float x = z[si[j]] - mx;
                sum += ai[j] = br__semb_expf(x >= BR__SEMB_EXP_MIN ? x : BR__SEMB_EXP_MIN);
            }
            float inv = 1.0f / sum;
            memset(pi, 0, D * sizeof *pi);
            for (size_t j = 0; j < n; j++) {
                const float *ej = e + (size_t)si[j] * D;
                float aij = ai[j] *= inv;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    pi[d] += aij * ej[d];
            }
            for (size_t j = n; j < L; j++)
                ai[j] = 0;
        } else {
            memset(pi, 0, D * sizeof *pi);
            for (size_t j = 0; j < n; j++) {
                const float *ej = e + (size_t)si[j] * D;
                BR__SEMB_SIMD
                for (size_t d = 0; d < D; d++)
                    pi[d] += ej[d];
            }
            float fn = (float)n;
            BR__SEMB_SIMD
            for (size_t d = 0; d < D; d++)
                pi[d] /= fn;
        }
    }
}

/* §3.3 pooling backward, dp: [ns, D] -> de: [S, D], dz: [S, Dz] (accumulated):
 *   PERDIM  de[s_j, d] += dp[i, d] a[i, j, d]
 *           dz[s_j, d] += a[i, j, d] dp[i, d] (e[s_j, d] - p[i, d])
 *   SCALAR  de[s_j, :] += a[i, j] dp[i, :]
 *           dz[s_j]    += a[i, j] dp[i, :].(e[s_j, :] - p[i, :])     (gmem[i, j] first)
 *   MEAN    de[s_j, :] += dp[i, :] / len[i]
 * Parallel over blocks of dimensions: sets share subjects, dimensions never do. */
void br__semb_pool_backward(float *de, float *dz, float *gmem, const float *dp, const float *p,
                            const float *a, const float *e, const int32_t *set, const int32_t *len,
                            size_t ns, size_t L, size_t D, br_semb_pool_kind kind, int threads)
{
    /* one block of dimensions per thread, whole cache lines (DBLK floats) each */
    size_t nblk = (D + DBLK - 1) / DBLK, per = (nblk + (size_t)threads - 1) / (size_t)threads;
    size_t bw = per * DBLK;
    nblk = (D + bw - 1) / bw;

    if (kind == BR_SEMB_POOL_SCALAR) {
        BR__SEMB_PARALLEL_FOR(threads)
        for (size_t i = 0; i < ns; i++)
            for (size_t j = 0; j < (size_t)len[i]; j++) {
                const float *ej = e + (size_t)set[i * L + j] * D, *dpi = dp + i * D,
                            *pi = p + i * D;
                float g = 0;
                BR__SEMB_SIMD_SUM(g)
                for (size_t d = 0; d < D; d++)
                    g += dpi[d] * (ej[d] - pi[d]);
                gmem[i * L + j] = a[i * L + j] * g;
            }
        for (size_t i = 0; i < ns; i++) /* serial: a subject recurs across sets */
            for (size_t j = 0; j < (size_t)len[i]; j++)
                dz[set[i * L + j]] += gmem[i * L + j];
    }
    BR__SEMB_PARALLEL_FOR(threads)
    for (size_t blk = 0; blk < nblk; blk++) {
        size_t d0 = blk * bw, d1 = d0 + bw < D ? d0 + bw : D;
        for (size_t i = 0; i < ns; i++) {
            const float *dpi = dp + i * D, *pi = p + i * D;
            size_t n = (size_t)len[i];
            float invn = 1.0f / (float)n;
            for (size_t j = 0; j < n; j++) {
                size_t s = (size_t)set[i * L + j];
                float *des = de + s * D;
                const float *es = e + s * D;
                if (kind == BR_SEMB_POOL_PERDIM) {
                    const float *aij = a + (i * L + j) * D;
                    float *dzs = dz + s * D;
                    BR__SEMB_SIMD
                    for (size_t d = d0; d < d1; d++) {
                        float g = dpi[d] * aij[d];
                        des[d] += g;
                        dzs[d] += g * (es[d] - pi[d]);
                    }
                } else if (kind == BR_SEMB_POOL_SCALAR) {
                    float aij = a[i * L + j];
                    BR__SEMB_SIMD
                    for (size_t d = d0; d < d1; d++)
                        des[d] += dpi[d] * aij;
                } else {
                    BR__SEMB_SIMD
                    for (size_t d = d0; d < d1; d++)
                        des[d] += dpi[d] * invn;
                }
            }
        }
    }
}

/* §2.3 rating prediction and its mean squared error (triples t < n). */
double br__semb_mse_forward(float *pred, const float *pu, const float *pb, const int32_t *tu,
                            const int32_t *tb, const int32_t *uid, const int32_t *bid,
                            const float *ub, const float *ib, const float *gb, const float *r,
                            size_t n, size_t D)
{
    double sum = 0;
    for (size_t t = 0; t < n; t++) {
        const float *u = pu + (size_t)tu[t] * D, *v = pb + (size_t)tb[t] * D;
        float dot = 0;
        for (size_t d = 0; d < D; d++)
            dot += u[d] * v[d];
        /* the error in double: the rating sits ~5 away from 0 and float32 would round
         * the small changes that a gradient check or a late epoch makes */
        double pr = (double)dot + ub[uid[tu[t]]] + ib[bid[tb[t]]] + gb[0];
        double err = pr - r[t];
        pred[t] = (float)pr;
        sum += err * err;
    }
    return n ? sum / (double)n : 0;
}

/* §3.1: dL/dpred_t = scale * 2 (pred_t - r_t) / n; then the dot product and the biases. */
void br__semb_mse_backward(float *dpu, float *dpb, float *dub, float *dib, float *dgb,
                           const float *pred, const float *pu, const float *pb, const int32_t *tu,
                           const int32_t *tb, const int32_t *uid, const int32_t *bid,
                           const float *r, size_t n, size_t D, float scale)
{
    double dg = 0;
    for (size_t t = 0; t < n; t++) {
        float g = (float)(2.0 * scale * ((double)pred[t] - r[t]) / (double)n);
        const float *u = pu + (size_t)tu[t] * D, *v = pb + (size_t)tb[t] * D;
        float *du = dpu + (size_t)tu[t] * D, *dv = dpb + (size_t)tb[t] * D;
        for (size_t d = 0; d < D; d++) {
            du[d] += g * v[d];
            dv[d] += g * u[d];
        }
        dub[uid[tu[t]]] += g;
        dib[bid[tb[t]]] += g;
        dg += g;
    }
    dgb[0] += (float)dg;
}

#define NORM_EPS 1e-12f /* torch.nn.functional.normalize's eps */

/* §2.4: h[i, :] = p[i, :] / max(|p[i, :]|, eps); nrm[i] = |p[i, :]|. */
void br__semb_l2norm_forward(float *h, float *nrm, const float *p, size_t n, size_t D)
{
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t d = 0; d < D; d++)
            ss += (double)p[i * D + d] * p[i * D + d];
        nrm[i] = (float)sqrt(ss);
        float den = nrm[i] > NORM_EPS ? nrm[i] : NORM_EPS;
        for (size_t d = 0; d < D; d++)
            h[i * D + d] = p[i * D + d] / den;
    }
}

/* §3.2: dp += (dh - h (h.dh)) / |p| (the projection off h), or dh / eps below eps. */
void br__semb_l2norm_backward(float *dp, const float *dh, const float *h, const float *nrm,
                              size_t n, size_t D)
{
    for (size_t i = 0; i < n; i++) {
        const float *hi = h + i * D, *dhi = dh + i * D;
        float *dpi = dp + i * D;
        if (nrm[i] > NORM_EPS) {
            double hd = 0;
            for (size_t d = 0; d < D; d++)
                hd += (double)hi[d] * dhi[d];
            for (size_t d = 0; d < D; d++)
                dpi[d] += (dhi[d] - hi[d] * (float)hd) / nrm[i];
        } else {
            for (size_t d = 0; d < D; d++)
                dpi[d] += dhi[d] / NORM_EPS;
        }
    }
}

/* §2.5 multi-positive InfoNCE. s[i, k] = h_i.h_k / tau; for an anchor i (npos[i] > 0)
 *   loss_i = lse_{k != i} s[i, k] - (1 / |P_i|) sum_{k in P_i} s[i, k]
 *   loss   = (1 / |A|) sum_{i in A} loss_i.
 * prob: [n, n] gets softmax_{k != i} s[i, k] (diagonal 0); h: [n, D]; pos: [n, n]. */
double br__semb_infonce_forward(float *prob, double *rowloss, const float *h, const uint8_t *pos,
                                const int32_t *npos, size_t n, size_t D, float tau, int threads,
                                size_t *n_anchors)
{
    size_t na = 0;
    double sum = 0;

    if (n < 2) {
        if (n)
            prob[0] = 0, rowloss[0] = 0;
        *n_anchors = 0;
        return 0;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)D, 1.0f, h, (int)D, h,
                (int)D, 0.0f, prob, (int)n);
    BR__SEMB_PARALLEL_FOR(threads)
    for (size_t i = 0; i < n; i++) {
        float *si = prob + i * n, mx = -INFINITY, spos = 0, se = 0;
        const uint8_t *pi = pos + i * n;
        BR__SEMB_SIMD
        for (size_t k = 0; k < n; k++)
            si[k] /= tau;
        si[i] = -FLT_MAX; /* k != i below: pos is 0/1 and 0 there, the max skips it */
        BR__SEMB_PRAGMA_SIMD_SUM_MAX(spos, mx)
        for (size_t k = 0; k < n; k++) {
            spos += (float)pi[k] * si[k];
            mx = si[k] > mx ? si[k] : mx;
        }
        BR__SEMB_SIMD
        for (size_t k = 0; k < n; k++) {
            float x = si[k] - mx;
            si[k] = x >= BR__SEMB_EXP_MIN ? x : BR__SEMB_EXP_MIN;
        }
        BR__SEMB_SIMD_SUM(se)
        for (size_t k = 0; k < n; k++) {
            si[k] = br__semb_expf(si[k]);
            se += si[k];
        }
        se -= si[i]; /* e^-87, below float resolution next to the maximum's 1 anyway */
        si[i] = 0;
        float inv = 1.0f / se;
        BR__SEMB_SIMD
        for (size_t k = 0; k < n; k++)
            si[k] *= inv;
        rowloss[i] = npos[i] > 0 ? (double)mx + log((double)se) - (double)spos / npos[i] : 0.0;
    }
    for (size_t i = 0; i < n; i++)
        if (npos[i] > 0) {
            na++;
            sum += rowloss[i];
        }
    *n_anchors = na;
    return na ? sum / (double)na : 0;
}

#define SYM_BLK 64

/* §3.2: G[i, k] = scale / |A| (prob[i, k] - [k in P_i] / |P_i|) for anchors i (0 otherwise
 * and on the diagonal); dh += (G + G^T) h / tau. G, then G + G^T, overwrites prob. */
void br__semb_infonce_backward(float *dh, float *prob, const float *h, const uint8_t *pos,
                               const int32_t *npos, size_t n, size_t D, float tau, size_t n_anchors,
                               float scale, int threads)
{
    if (n < 2 || n_anchors == 0)
        return;
    float c = (float)((double)scale / (double)n_anchors);
    BR__SEMB_PARALLEL_FOR(threads)
    for (size_t i = 0; i < n; i++) {
        float *gi = prob + i * n;
        const uint8_t *pi = pos + i * n;
        if (npos[i] == 0) {
            memset(gi, 0, n * sizeof *gi);
            continue;
        }
        float ip = 1.0f / (float)npos[i];
        BR__SEMB_SIMD
        for (size_t k = 0; k < n; k++)
            gi[k] = c * (gi[k] - (float)pi[k] * ip);
        gi[i] = 0;
    }
    /* G + G^T in place, by tiles: tile row ib owns the pairs (i in ib, k >= i), so the
     * threads write disjoint cells; one sgemm then does both products. */
    size_t nt = (n + SYM_BLK - 1) / SYM_BLK;
    BR__SEMB_PARALLEL_FOR(threads)
    for (size_t ib = 0; ib < nt; ib++)
        for (size_t kb = ib; kb < nt; kb++) {
            size_t i1 = (ib + 1) * SYM_BLK < n ? (ib + 1) * SYM_BLK : n;
            size_t k1 = (kb + 1) * SYM_BLK < n ? (kb + 1) * SYM_BLK : n;
            for (size_t i = ib * SYM_BLK; i < i1; i++)
                for (size_t k = kb == ib ? i + 1 : kb * SYM_BLK; k < k1; k++) {
                    float t = prob[i * n + k] + prob[k * n + i];
                    prob[i * n + k] = t;
                    prob[k * n + i] = t;
                }
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)D, (int)n, 1.0f / tau, prob,
                (int)n, h, (int)D, 1.0f, dh, (int)D);
}
