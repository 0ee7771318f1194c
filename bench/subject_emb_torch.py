#!/usr/bin/python3
"""The subject-embedding model in PyTorch, step for step against the C implementation.

    make build/bench-subject_emb
    /usr/bin/python3 bench/subject_emb_torch.py [--bin build/bench-subject_emb]
        [--threads 1,2] [--pools perdim,scalar,mean] [--steps 100] [--repeat 3]
        [--work DIR] [--json bench/results/subject_emb.json [--append]]

For every (threads, pool): runs the C benchmark, which writes a deterministic problem
(initial tensors, data, the triple order of 100 batches of 2048) and its own loss per step;
then trains the same model here from the same files with the same optimizer
(torch.optim.AdamW, torch.nn.utils.clip_grad_norm_) and compares the losses step by step.
The C run must agree with float32 PyTorch within a relative error of 1e-4 at every step;
float64 PyTorch is run too, to show how far each float32 implementation is from exact
arithmetic. The time of the 100 steps (one epoch of the problem's 204,800 triples,
batch assembly included on both sides) is the time per epoch.

The model (docs/subject_embeddings.md): per-dimension attention pooling z = W e + b,
softmax over the set per dimension, padding masked; scalar attention; mean pooling.
loss = lambda_mse * MSE(dot(p_u, p_b) + b_u + b_b + g, r)
     + lambda_con * InfoNCE over the batch's distinct books (normalized, / tau; positives:
       other books of the batch sharing a subject; mean over anchors with a positive).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TOLERANCE = 1e-4


def load_problem(d):
    ld = lambda name: np.load(os.path.join(d, name + ".npy"))
    prob = {k: ld(k) for k in ["item_offsets", "item_subjects", "user_offsets", "user_subjects",
                               "triple_user", "triple_item", "triple_rating", "batches"]}
    with open(os.path.join(d, "params.json")) as f:
        prob["params"] = json.load(f)
    init = {}
    for name in ["subject_emb", "attn_w", "attn_b", "user_bias", "item_bias", "global_bias"]:
        path = os.path.join(d, "init_" + name + ".npy")
        if os.path.exists(path):
            init[name] = np.load(path)
    prob["init"] = init
    with open(os.path.join(d, "c_run.json")) as f:
        prob["c"] = json.load(f)
    return prob


def padded_sets(offsets, subjects, rows, L):
    """First L subjects of each row (rows best first, as in C), padded with 0 + a mask."""
    start = offsets[rows]
    n = np.minimum(offsets[rows + 1] - start, L)
    ar = np.arange(L)
    mask = ar[None, :] < n[:, None]
    pos = np.where(mask, start[:, None] + ar[None, :], 0)
    return np.where(mask, subjects[pos], 0), mask


class SubjectModel(torch.nn.Module):
    def __init__(self, init, pool, dtype):
        super().__init__()
        P = lambda a: torch.nn.Parameter(torch.tensor(a, dtype=dtype))
        self.pool_kind = pool
        self.subject_emb = P(init["subject_emb"])
        if pool != "mean":
            self.attn_w = P(init["attn_w"])
            self.attn_b = P(init["attn_b"])
        self.user_bias = P(init["user_bias"])
        self.item_bias = P(init["item_bias"])
        self.global_bias = P(init["global_bias"])

    def pool(self, sets, mask):
        """sets, mask: [n, L] -> pooled [n, D]."""
        E = self.subject_emb[sets]                                      # [n, L, D]
        if self.pool_kind == "perdim":
            # scores depend on the subject alone: z = W e + b per subject, then gathered
            Z = F.linear(self.subject_emb, self.attn_w, self.attn_b)[sets]  # [n, L, D]
            Z = Z.masked_fill(~mask[:, :, None], float("-inf"))
            A = torch.softmax(Z, dim=1)                                 # per dimension
            return (A * E).sum(1)
        if self.pool_kind == "scalar":
            z = (self.subject_emb @ self.attn_w + self.attn_b)[sets]    # [n, L]
            a = torch.softmax(z.masked_fill(~mask, float("-inf")), dim=1)
            return (a[:, :, None] * E).sum(1)
        m = mask.to(E.dtype)
        return (E * m[:, :, None]).sum(1) / m.sum(1, keepdim=True)

    def loss(self, batch, lam_mse, lam_con, tau):
        uid, bid, tu, tb, r, us, um, bs, bm, pos = batch
        pu, pb = self.pool(us, um), self.pool(bs, bm)
        pred = (pu[tu] * pb[tb]).sum(1) + self.user_bias[uid][tu] + self.item_bias[bid][tb] \
            + self.global_bias[0]
        mse = ((pred - r) ** 2).mean()
        h = F.normalize(pb, dim=1)
        sim = (h @ h.T) / tau
        eye = torch.eye(len(bid), dtype=torch.bool)
        logp = F.log_softmax(sim.masked_fill(eye, float("-inf")), dim=1)
        npos = pos.sum(1)
        anchors = npos > 0
        per = -torch.where(pos, logp, torch.zeros_like(logp)).sum(1) / npos.clamp(min=1)
        con = per[anchors].mean() if anchors.any() else sim.sum() * 0
        return lam_mse * mse + lam_con * con, mse, con


def make_batch(prob, idx, L, dtype):
    users = prob["triple_user"][idx]
    items = prob["triple_item"][idx]
    uid, tu = np.unique(users, return_inverse=True)
    bid, tb = np.unique(items, return_inverse=True)
    us, um = padded_sets(prob["user_offsets"], prob["user_subjects"], uid, L)
    bs, bm = padded_sets(prob["item_offsets"], prob["item_subjects"], bid, L)
    # positives: books sharing a subject; a sparse one-hot book x subject matrix times its
    # transpose counts shared subjects (a dense product would cost nb^2 x S flops)
    S, nb = prob["params"]["n_subjects"], len(bid)
    rows = np.repeat(np.arange(nb), bm.sum(1))
    oh = torch.sparse_coo_tensor(torch.from_numpy(np.stack([rows, bs[bm]])).long(),
                                 torch.ones(len(rows)), (nb, S))
    pos = torch.sparse.mm(oh, oh.to_dense().T) > 0
    pos.fill_diagonal_(False)
    T = lambda a: torch.from_numpy(np.ascontiguousarray(a)).long()
    return (T(uid), T(bid), T(tu), T(tb),
            torch.tensor(prob["triple_rating"][idx], dtype=dtype),
            T(us), torch.from_numpy(um), T(bs), torch.from_numpy(bm), pos)


def run_torch(prob, dtype, threads):
    torch.set_num_threads(threads)
    p = prob["params"]
    model = SubjectModel(prob["init"], p["pool"], dtype)
    decay = [model.subject_emb] + ([model.attn_w] if p["pool"] != "mean" else [])
    no_decay = ([model.attn_b] if p["pool"] != "mean" else []) + \
        [model.user_bias, model.item_bias, model.global_bias]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": p["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"])
    losses, t_batch = [], 0.0
    t0 = time.perf_counter()
    for s in range(p["steps"]):
        tb = time.perf_counter()
        batch = make_batch(prob, prob["batches"][s], p["max_set"], dtype)
        t_batch += time.perf_counter() - tb
        opt.zero_grad()
        loss, mse, con = model.loss(batch, p["lambda_mse"], p["lambda_con"], p["tau"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), p["clip"])
        opt.step()
        losses.append((loss.item(), mse.item(), con.item()))
    return np.array(losses), time.perf_counter() - t0, t_batch


def rel_err(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bench-subject_emb")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pools", default="perdim,scalar,mean")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each side (min kept)")
    ap.add_argument("--work", default="/tmp/bookrec-bench-subject_emb")
    ap.add_argument("--json", default=None)
    ap.add_argument("--append", action="store_true",
                    help="add the results to those already in --json")
    args = ap.parse_args()
    policy = os.environ.get("OMP_WAIT_POLICY", "default")

    results, ok = [], True
    for threads in [int(t) for t in args.threads.split(",")]:
        for pool in args.pools.split(","):
            d = os.path.join(args.work, f"{pool}-t{threads}")
            os.makedirs(d, exist_ok=True)
            c_secs, t_secs, t_batch, load = [], [], [], []
            for rep in range(args.repeat):  # alternate, so both sides see the same load
                load.append(os.getloadavg()[0])
                subprocess.run([args.bin, "--out", d, "--pool", pool, "--threads",
                                str(threads), "--steps", str(args.steps)], check=True)
                prob = load_problem(d)
                c_secs.append(prob["c"]["epoch_seconds"])
                t32, sec, tb = run_torch(prob, torch.float32, threads)
                t_secs.append(sec)
                t_batch.append(tb)
                if rep == 0:
                    first = (prob, t32)
            prob, t32 = first
            c = np.stack([np.array(prob["c"][k]) for k in ("loss", "mse", "con")], axis=1)
            t64, _, _ = run_torch(prob, torch.float64, threads)
            r = {
                "pool": pool, "threads": threads, "steps": args.steps, "omp_wait_policy": policy,
                "c_epoch_seconds": min(c_secs), "c_epoch_seconds_all": c_secs,
                "torch_epoch_seconds": min(t_secs), "torch_epoch_seconds_all": t_secs,
                "torch_batch_assembly_seconds": t_batch[int(np.argmin(t_secs))],
                "load_average_1min": load,
                "max_rel_err_c_vs_torch32": rel_err(c[:, 0], t32[:, 0]),
                "max_rel_err_c_vs_torch64": rel_err(c[:, 0], t64[:, 0]),
                "max_rel_err_torch32_vs_torch64": rel_err(t32[:, 0], t64[:, 0]),
                "max_rel_err_mse_c_vs_torch32": rel_err(c[:, 1], t32[:, 1]),
                "max_rel_err_con_c_vs_torch32": rel_err(c[:, 2], t32[:, 2]),
                "loss_first": float(c[0, 0]), "loss_last": float(c[-1, 0]),
                "mean_distinct_books": prob["c"]["mean_distinct_books"],
                "mean_anchors": prob["c"]["mean_anchors"],
                "c_loss": c[:, 0].tolist(), "torch32_loss": t32[:, 0].tolist(),
                "torch64_loss": t64[:, 0].tolist(),
            }
            passed = r["max_rel_err_c_vs_torch32"] <= TOLERANCE
            ok &= passed
            print(f"{pool:6s} threads {threads}: C {r['c_epoch_seconds']:.3f} s/epoch, "
                  f"torch {r['torch_epoch_seconds']:.3f} s/epoch "
                  f"({r['torch_epoch_seconds'] / r['c_epoch_seconds']:.1f}x); "
                  f"loss {r['loss_first']:.5f} -> {r['loss_last']:.5f}; max rel err "
                  f"C/torch32 {r['max_rel_err_c_vs_torch32']:.2e} "
                  f"C/torch64 {r['max_rel_err_c_vs_torch64']:.2e} "
                  f"torch32/torch64 {r['max_rel_err_torch32_vs_torch64']:.2e} "
                  f"{'ok' if passed else 'FAIL'}", flush=True)
            results.append(r)
    if args.json:
        if args.append and os.path.exists(args.json):
            with open(args.json) as f:
                results = json.load(f)["results"] + results
        meta = {
            "tolerance": TOLERANCE, "torch": torch.__version__, "numpy": np.__version__,
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name")), "?"),
            "nproc": os.cpu_count(), "repeat": args.repeat,
            "problem": {k: v for k, v in prob["params"].items()
                        if k not in ("pool", "threads")},
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
