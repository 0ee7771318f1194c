#!/usr/bin/python3
"""Benchmark sets from real model outputs (bench/ann.sh, step "real vectors").

  ann_real.py MODEL_DIR OUT_DIR [--min-als 10] [--min-hybrid 5] [--subject subject_perdim]

MODEL_DIR is what `bookrec train` writes: item_factors.npy (rows item_idx, zero rows for
items without a vector), user_factors.npy, popularity_count.npy (training interactions per
item) and SUBJECT/book_vectors.npy. Writes one directory per set, each with base.npy and
queries.npy (bench-ann run / ann_ref.py run), and hybrid/ with subj.npy, als.npy and
queries.npy (row numbers, for bench-ann hybrid):

  als-items-all            every item with an ALS vector; queries: 5000 of them
  als-items-minN           the items served by the ALS index (>= N training interactions,
                           as the seed did); queries: 5000 of them
  als-users-to-items-minN  the same items, queried by 5000 in-model users (inner product)
  subject-items            every item with a subject vector
  hybrid                   items with >= N_hybrid interactions and at least one vector
"""
import argparse
import json
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--min-als", type=int, default=10)
    ap.add_argument("--min-hybrid", type=int, default=5)
    ap.add_argument("--subject", default="subject_perdim")
    ap.add_argument("--queries", type=int, default=5000)
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    src = lambda f: os.path.join(a.model, f)

    def put(name, base, queries):
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "base.npy"), np.ascontiguousarray(base, dtype=np.float32))
        np.save(os.path.join(d, "queries.npy"), np.ascontiguousarray(queries, dtype=np.float32))
        print(f"real: {name}: {len(base)} x {base.shape[1]}, {len(queries)} queries",
              file=sys.stderr)

    def sample(x, m):
        return x[rng.choice(len(x), size=min(m, len(x)), replace=False)]

    v = np.load(src("item_factors.npy")).astype(np.float32)
    counts = (np.load(src("popularity_count.npy")) if os.path.exists(src("popularity_count.npy"))
              else np.full(len(v), 1 << 30))
    has = np.linalg.norm(v, axis=1) > 0
    put("als-items-all", v[has], sample(v[has], a.queries))
    served = has & (counts >= a.min_als)
    put(f"als-items-min{a.min_als}", v[served], sample(v[served], a.queries))
    if os.path.exists(src("user_factors.npy")):
        u = np.load(src("user_factors.npy")).astype(np.float32)
        put(f"als-users-to-items-min{a.min_als}", v[served],
            sample(u[np.linalg.norm(u, axis=1) > 0], a.queries))
    spath = src(os.path.join(a.subject, "book_vectors.npy"))
    if os.path.exists(spath):
        s = np.load(spath).astype(np.float32)
        hs = np.linalg.norm(s, axis=1) > 0
        put("subject-items", s[hs], sample(s[hs], a.queries))
        if len(s) == len(v):
            d = os.path.join(a.out, "hybrid")
            os.makedirs(d, exist_ok=True)
            keep = (counts >= a.min_hybrid) & (hs | has)
            np.save(os.path.join(d, "subj.npy"), s[keep])
            np.save(os.path.join(d, "als.npy"), v[keep])
            np.save(os.path.join(d, "queries.npy"),
                    rng.choice(keep.sum(), size=min(2000, keep.sum()),
                               replace=False).astype(np.int32))
            print(f"real: hybrid: {keep.sum()} items (>= {a.min_hybrid} interactions), "
                  f"{(keep & ~has).sum()} without ALS, {(keep & ~hs).sum()} without subjects",
                  file=sys.stderr)
    if os.path.exists(src("manifest.json")):
        j = json.load(open(src("manifest.json")))
        print(f"real: model created_at {j.get('created_at')}, split {j.get('split_id')}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
