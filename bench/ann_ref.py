#!/usr/bin/python3
"""The reference side of the ANN benchmark (bench/ann.sh): hnswlib and FAISS IndexHNSWFlat.

  ann_ref.py run DIR --dataset NAME [--metric cosine|ip] [--M 16] [--efc 200] [--efs ...]
                 [--repeat 3] [--impls hnswlib,faiss]
      Reads DIR/base.npy, DIR/queries.npy and the exact answer DIR/gt_ids.npy,
      DIR/gt_scores.npy written by bench-ann (so all three libraries are scored against the
      same ground truth), builds each index with the same M and efConstruction on 2 threads,
      and for each ef measures recall@10 (plain and ties-counted) and batched queries per
      second at 1 and 2 threads (best of --repeat runs), exactly as bench-ann does. One JSON
      object per line on stdout, in bench-ann's format.
  ann_ref.py report RESULTS.jsonl
      The summary tables of bench/ann.md: queries per second at recall@10 = 0.95,
      interpolated on each library's recall/QPS curve (linear in recall, log in QPS), and
      the ratios to hnswlib.

Memory is the growth of the resident set while building (the data are loaded before).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

K = 10


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / 1048576.0


def recall(base, qs, ids, gt, gt_sc):
    hit = sum(len(set(ids[i][ids[i] >= 0]) & set(gt[i])) for i in range(len(qs)))
    s10 = gt_sc[:, K - 1]
    tol = 1e-5 * np.maximum(1.0, np.abs(s10))
    safe = np.where(ids >= 0, ids, 0)
    sc = np.einsum("qd,qkd->qk", qs.astype(np.float64), base[safe].astype(np.float64))
    hit_t = int(((sc >= (s10 - tol)[:, None]) & (ids >= 0)).sum())
    return hit / ids.size, hit_t / ids.size


class Hnswlib:
    name = "hnswlib"

    def __init__(self, dim, M, efc):
        import hnswlib
        self.idx = hnswlib.Index(space="ip", dim=dim)
        self.M, self.efc = M, efc

    def build(self, x):
        self.idx.init_index(max_elements=len(x), ef_construction=self.efc, M=self.M,
                            random_seed=100)
        self.idx.add_items(x, np.arange(len(x)), num_threads=2)

    def search(self, q, ef, threads):
        self.idx.set_ef(ef)
        ids, _ = self.idx.knn_query(q, k=K, num_threads=threads)
        return ids.astype(np.int64)


class Faiss:
    name = "faiss"

    def __init__(self, dim, M, efc):
        import faiss
        self.faiss = faiss
        self.idx = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        self.idx.hnsw.efConstruction = efc

    def build(self, x):
        self.faiss.omp_set_num_threads(2)
        self.idx.add(x)

    def search(self, q, ef, threads):
        self.faiss.omp_set_num_threads(threads)
        self.idx.hnsw.efSearch = ef
        _, ids = self.idx.search(q, K)
        return ids


def cmd_run(a):
    base = np.ascontiguousarray(np.load(os.path.join(a.dir, "base.npy")), dtype=np.float32)
    qs = np.ascontiguousarray(np.load(os.path.join(a.dir, "queries.npy")), dtype=np.float32)
    if a.metric == "cosine":
        base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
        qs /= np.maximum(np.linalg.norm(qs, axis=1, keepdims=True), 1e-30)
    if a.counts and a.min_count > 0:
        keep = np.load(a.counts) >= a.min_count
        base = np.ascontiguousarray(base[keep])
    gt = np.load(os.path.join(a.dir, "gt_ids.npy"))
    gt_sc = np.load(os.path.join(a.dir, "gt_scores.npy"))
    efs = [int(e) for e in a.efs.split(",")]
    for impl in a.impls.split(","):
        cls = {"hnswlib": Hnswlib, "faiss": Faiss}[impl]
        m0 = rss_mb()
        t0 = time.perf_counter()
        ix = cls(base.shape[1], a.M, a.efc)
        ix.build(base)
        build_s = time.perf_counter() - t0
        mem = rss_mb() - m0
        print(f"ann_ref: {a.dataset}: {impl} built {base.shape} in {build_s:.2f} s, "
              f"+{mem:.1f} MB", file=sys.stderr)
        for ef in efs:
            ids = ix.search(qs, ef, 2)
            r, rt = recall(base, qs, ids, gt, gt_sc)
            qps = {}
            for t in (1, 2):
                best = math.inf
                for _ in range(a.repeat):
                    t0 = time.perf_counter()
                    ix.search(qs, ef, t)
                    best = min(best, time.perf_counter() - t0)
                qps[t] = len(qs) / best
            print(json.dumps({"impl": impl, "dataset": a.dataset, "n": len(base),
                              "dim": base.shape[1], "M": a.M, "ef_construction": a.efc,
                              "ef": ef, "recall_at_10": round(r, 5),
                              "recall_ties_at_10": round(rt, 5), "qps_1t": round(qps[1], 1),
                              "qps_2t": round(qps[2], 1), "build_s": round(build_s, 3),
                              "memory_mb": round(mem, 1), "metric": a.metric}), flush=True)
        del ix


def qps_at(points, target, key):
    """QPS at recall == target on the curve (recall, qps), linear in recall and log in QPS.
    Returns (qps, note): note says when the curve never reaches the target or starts
    above it (then the QPS of the cheapest point above it, a lower bound)."""
    pts = sorted(points, key=lambda p: p["ef"])
    for lo, hi in zip(pts, pts[1:]):
        if lo[key] < target <= hi[key]:
            f = (target - lo[key]) / (hi[key] - lo[key])
            return math.exp(math.log(lo["qps"]) + f * (math.log(hi["qps"]) - math.log(lo["qps"]))), ""
    if pts and pts[0][key] >= target:
        return pts[0]["qps"], ">= (first ef already above)"
    return None, "never reaches it"


def cmd_report(a):
    rows = [json.loads(l) for l in open(a.results) if l.strip().startswith("{")]
    rows = [r for r in rows if r.get("impl") in ("bookrec", "hnswlib", "faiss")]
    sets = []
    for r in rows:
        if r["dataset"] not in sets:
            sets.append(r["dataset"])
    target = a.target
    report_extras([json.loads(l) for l in open(a.results) if l.strip().startswith("{")])
    for ds in sets:
        print(f"\n### {ds}\n")
        sub = [r for r in rows if r["dataset"] == ds]
        r0 = sub[0]
        print(f"n = {r0['n']}, dim = {r0['dim']}, M = {r0['M']}, "
              f"efConstruction = {r0['ef_construction']}\n")
        print("| impl | ef | recall@10 | recall@10 (ties) | QPS 1 thread | QPS 2 threads | "
              "build s | memory MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in sub:
            print(f"| {r['impl']} | {r['ef']} | {r['recall_at_10']:.4f} | "
                  f"{r.get('recall_ties_at_10', float('nan')):.4f} | {r['qps_1t']:.0f} | "
                  f"{r['qps_2t']:.0f} | {r['build_s']:.1f} | {r['memory_mb']:.0f} |")
        for key, label in (("recall_at_10", "plain"), ("recall_ties_at_10", "ties counted")):
            print(f"\nQPS at recall@10 = {target} ({label}), interpolated:\n")
            print("| impl | QPS 1 thread | QPS 2 threads | vs hnswlib (1 t) | "
                  "vs hnswlib (2 t) | build s | build vs hnswlib |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            res = {}
            for impl in ("bookrec", "hnswlib", "faiss"):
                pts = [r for r in sub if r["impl"] == impl]
                if not pts:
                    continue
                v = {}
                for t in (1, 2):
                    q, note = qps_at([dict(p, qps=p[f"qps_{t}t"]) for p in pts], target, key)
                    v[t] = (q, note)
                res[impl] = (v, pts[0]["build_s"])
            hl = res.get("hnswlib")
            for impl, (v, b) in res.items():
                cells = []
                for t in (1, 2):
                    q, note = v[t]
                    cells.append("n/a" if q is None else f"{q:.0f}{' ' + note if note else ''}")
                ratios = []
                for t in (1, 2):
                    q = v[t][0]
                    h = hl[0][t][0] if hl else None
                    ratios.append(f"{q / h:.2f}x" if q and h else "n/a")
                bratio = f"{b / hl[1]:.2f}x" if hl else "n/a"
                print(f"| {impl} | {cells[0]} | {cells[1]} | {ratios[0]} | {ratios[1]} | "
                      f"{b:.1f} | {bratio} |")


def report_extras(rows):
    hyb = [r for r in rows if r.get("what") == "hybrid"]
    for ds in sorted({r["dataset"] for r in hyb}):
        sub = [r for r in hyb if r["dataset"] == ds]
        efs = sorted({r["ef"] for r in sub})
        print(f"\n### Hybrid {ds}: approximate vs exact recall@10 (ties counted in brackets)\n")
        print(f"n = {sub[0]['n']}, build {sub[0]['build_s']:.1f} s (2 threads)\n")
        print("| w | " + " | ".join(f"ef {e}" for e in efs) + " | QPS 2 t at ef 128 | exact QPS 2 t |")
        print("|---:|" + "---:|" * (len(efs) + 2))
        for w in sorted({r["w"] for r in sub}):
            cells = []
            for e in efs:
                r = next(x for x in sub if x["w"] == w and x["ef"] == e)
                cells.append(f"{r['recall_at_10']:.4f} ({r['recall_ties_at_10']:.4f})")
            r128 = next((x for x in sub if x["w"] == w and x["ef"] == 128), sub[0])
            print(f"| {w:.2f} | " + " | ".join(cells) +
                  f" | {r128['qps_2t']:.0f} | {r128['exact_qps_2t']:.0f} |")
    op = [r for r in rows if r.get("what") == "open_first_query"]
    if op:
        print("\n### First query after opening the saved index (fresh process)\n")
        print("| cache | n | file MB | open ms | open + first query ms | second query ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in op:
            print(f"| {r['cache']} | {r['n']} | {r['file_mb']:.1f} | {r['open_ms']:.2f} | "
                  f"{r['first_query_ms']:.2f} | {r['second_query_ms']:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--dataset", required=True)
    r.add_argument("--metric", default="cosine", choices=["cosine", "ip"])
    r.add_argument("--M", type=int, default=16)
    r.add_argument("--efc", type=int, default=200)
    r.add_argument("--efs", default="10,16,24,32,48,64,128,256")
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--impls", default="hnswlib,faiss")
    r.add_argument("--counts")
    r.add_argument("--min-count", type=int, default=0)
    p = sub.add_parser("report")
    p.add_argument("results")
    p.add_argument("--target", type=float, default=0.95)
    a = ap.parse_args()
    {"run": cmd_run, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
