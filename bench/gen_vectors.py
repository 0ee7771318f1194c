#!/usr/bin/python3
"""Synthetic vectors for bench/ann.sh: clustered, like real embeddings.

A Gaussian mixture with uneven cluster sizes (Zipf weights) in which each cluster spreads
along its own low-rank basis with a decaying spectrum plus a little isotropic noise: real
embeddings have a low intrinsic dimension, and plain Gaussian noise at 64 dimensions makes
every index look bad. Seeded, so every run writes the same files.

Kinds (all float32 .npy, C order):
  mixture  base.npy (n x dim) and queries.npy (nq x dim), unit-normalized; queries are
           fresh draws from the same mixture.
  dups     as mixture, but a fraction of the rows are near-copies of a few prototypes (the
           Book-Crossing case: items with one or two interactions get near-identical ALS
           vectors), so the exact top 10 is often an arbitrary pick among near-ties.
  mips     ALS-like item factors with uneven norms (log-normal, popular items longer) as
           base.npy, and user vectors (mixtures of a few clusters) as queries.npy; not
           normalized: the search is maximum inner product.
  hybrid   subj.npy and als.npy for the same items (cluster memberships correlated), with a
           fraction of the ALS rows zero (books without an ALS vector), and queries.npy: the
           row numbers of the items used as queries (int32).
"""
import argparse
import os

import numpy as np


def mixture(rng, n, dim, clusters, rank, spread, noise, zipf):
    w = 1.0 / np.arange(1, clusters + 1) ** zipf
    w /= w.sum()
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    # Each cluster: a random orthonormal-ish basis with a decaying spectrum.
    spectrum = (1.0 / np.sqrt(np.arange(1, rank + 1))).astype(np.float32)
    bases = rng.standard_normal((clusters, rank, dim)).astype(np.float32) / np.sqrt(dim)
    bases *= spectrum[None, :, None]
    return w, centers, bases, spread, noise


def draw(rng, model, n, labels=None):
    w, centers, bases, spread, noise = model
    clusters, rank, dim = bases.shape
    if labels is None:
        labels = rng.choice(clusters, size=n, p=w)
    x = np.empty((n, dim), dtype=np.float32)
    step = 65536
    for s in range(0, n, step):
        lab = labels[s:s + step]
        z = rng.standard_normal((len(lab), rank)).astype(np.float32)
        x[s:s + step] = (centers[lab]
                         + spread * np.einsum("nr,nrd->nd", z, bases[lab]) * np.sqrt(dim)
                         / np.sqrt(rank)
                         + noise * rng.standard_normal((len(lab), dim)).astype(np.float32))
    return x, labels


def unit(x):
    nrm = np.linalg.norm(x, axis=1, keepdims=True)
    nrm[nrm == 0] = 1
    return (x / nrm).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["mixture", "dups", "mips", "hybrid"])
    ap.add_argument("out", help="output directory")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--rank", type=int, default=32, help="intrinsic dimension per cluster")
    ap.add_argument("--spread", type=float, default=1.5, help="cluster radius vs center scale")
    ap.add_argument("--noise", type=float, default=0.3, help="isotropic noise per coordinate")
    ap.add_argument("--zipf", type=float, default=1.0, help="cluster size exponent")
    ap.add_argument("--dup-frac", type=float, default=0.4)
    ap.add_argument("--no-als-frac", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=20240501)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    path = lambda f: os.path.join(a.out, f)
    model = mixture(rng, a.n, a.dim, a.clusters, a.rank, a.spread, a.noise, a.zipf)

    if a.kind in ("mixture", "dups"):
        base, _ = draw(rng, model, a.n)
        queries, _ = draw(rng, model, a.queries)
        if a.kind == "dups":
            nd = int(a.n * a.dup_frac)
            protos = max(1, nd // 25)
            rows = rng.choice(a.n, size=nd, replace=False)
            src = rng.choice(protos, size=nd)
            p = unit(draw(rng, model, protos)[0])
            base[rows] = p[src] + 1e-4 * rng.standard_normal((nd, a.dim)).astype(np.float32)
        np.save(path("base.npy"), unit(base))
        np.save(path("queries.npy"), unit(queries))
    elif a.kind == "mips":
        base, lab = draw(rng, model, a.n)
        # Popular clusters (low index) get longer vectors, plus per-item log-normal spread.
        pop = 1.0 / np.sqrt(1.0 + lab / 50.0)
        norms = pop * np.exp(0.5 * rng.standard_normal(a.n))
        base = unit(base) * norms[:, None].astype(np.float32)
        # Users: a weighted sum of 1-3 cluster draws, uneven norms too.
        q = np.zeros((a.queries, a.dim), dtype=np.float32)
        for _ in range(3):
            d, _ = draw(rng, model, a.queries)
            q += unit(d) * rng.exponential(1.0, a.queries)[:, None].astype(np.float32)
        np.save(path("base.npy"), base.astype(np.float32))
        np.save(path("queries.npy"), q)
    else:
        subj, lab = draw(rng, model, a.n)
        # ALS clusters agree with the subject clusters for 60% of the items.
        amodel = mixture(rng, a.n, a.dim, a.clusters, a.rank, a.spread, a.noise, a.zipf)
        alab = np.where(rng.random(a.n) < 0.6, lab, rng.choice(a.clusters, size=a.n,
                                                                p=amodel[0]))
        als, _ = draw(rng, amodel, a.n, alab)
        als = unit(als) * np.exp(0.3 * rng.standard_normal(a.n))[:, None].astype(np.float32)
        als[rng.random(a.n) < a.no_als_frac] = 0
        np.save(path("subj.npy"), subj.astype(np.float32))
        np.save(path("als.npy"), als.astype(np.float32))
        np.save(path("queries.npy"),
                rng.choice(a.n, size=min(a.queries, a.n), replace=False).astype(np.int32))


if __name__ == "__main__":
    main()
