"""Helpers of bench/serving.sh (the serving benchmark, bench/serving.md).

  serving.py readers DB VERSION_DIR N SEED         warm readers to claim: "user_id" lines
  serving.py login URL READERS_FILE PASSWORD OUT   bearer tokens of the claimed readers
  serving.py lists VERSION_DIR TOKENS OUT_DIR N SEED   the request lists of every endpoint
  serving.py check NAME URL LIST_DIR OUT           first requests of each list: status, ids
  serving.py line CELL_JSON                        one cell's summary line
  serving.py report TMP OUT                        bench/results/serving.json + a table

Standard library and numpy only (/usr/bin/python3).
"""
import concurrent.futures
import json
import os
import random
import sqlite3
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

ENDPOINTS = ["recs_warm", "recs_cold", "similar_als", "similar_subject", "similar_hybrid",
             "book"]
PASSWORD_NOTE = "bench readers share one password; the database is a temporary copy"


def readers(db, vdir, n, seed):
    """n readers the model has a vector for (als_users.npy) with at least 5 interactions
    (models.warm_min_ratings), so that mode=auto serves them behavioral recommendations."""
    users = np.load(os.path.join(vdir, "als/als_users.npy"))
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counts = dict(con.execute("SELECT user_id, COUNT(*) FROM interactions GROUP BY user_id "
                              "HAVING COUNT(*) >= 5"))
    ok = [int(u) for u in users if int(u) in counts]
    rnd = random.Random(seed)
    rnd.shuffle(ok)
    for u in ok[:n]:
        print(u)
    print(f"serving: {len(ok)} warm readers eligible, {min(n, len(ok))} taken",
          file=sys.stderr)


def login(url, readers_file, password, out):
    ids = [int(x) for x in open(readers_file).read().split()]

    def one(uid):
        body = json.dumps({"login": f"bench{uid}", "password": password}).encode()
        req = urllib.request.Request(url + "/api/v1/auth/login", body,
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return uid, json.load(r)["token"]

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        toks = list(ex.map(one, ids))
    with open(out, "w") as f:
        for uid, t in toks:
            f.write(f"{uid}\t{t}\n")
    print(f"serving: {len(toks)} bearer tokens", file=sys.stderr)


def lists(vdir, tokens, out, n, seed):
    """One request list per endpoint (shuffled, at least n distinct requests except for the
    warm readers, of whom there are as many as were claimed)."""
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    allow = np.load(os.path.join(vdir, "similarity/allow.npy")).astype(bool)
    has_s = np.load(os.path.join(vdir, "similarity/has_subject.npy")).astype(bool)
    item_f = np.load(os.path.join(vdir, "als/item_factors.npy"), mmap_mode="r")
    has_a = np.any(np.asarray(item_f) != 0, axis=1)
    subjects = [s.rstrip("\n") for s in open(os.path.join(vdir, "embedder/subjects.txt"),
                                             encoding="utf-8")]
    subjects = [s for s in subjects if s and "," not in s]

    def write(name, lines):
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"serving: {name}: {len(lines)} requests, {len(set(lines))} distinct",
              file=sys.stderr)

    def books(mask):
        ids = np.flatnonzero(mask).tolist()
        if len(ids) < n:
            sys.exit(f"serving: only {len(ids)} books qualify, fewer than {n}")
        return rnd.sample(ids, n)

    toks = [ln.split("\t") for ln in open(tokens).read().splitlines() if ln]
    rnd.shuffle(toks)
    write("recs_warm", [f"/api/v1/recommendations\t{t}" for _, t in toks])
    # anonymous cold readers: n distinct sets of 2 or 3 subjects among the 300 most common
    common = subjects[:300]
    sets = set()
    while len(sets) < n:
        sets.add(",".join(rnd.sample(common, rnd.choice((2, 3)))))
    write("recs_cold", ["/api/v1/recommendations?subjects=" + urllib.parse.quote(s, safe=",")
                        for s in sorted(sets, key=lambda _: rnd.random())])
    # each mode over books that have the vectors it needs (and may be shown)
    write("similar_als", [f"/api/v1/books/{b}/similar?mode=als" for b in books(allow & has_a)])
    write("similar_subject", [f"/api/v1/books/{b}/similar?mode=subject"
                              for b in books(allow & has_s)])
    write("similar_hybrid", [f"/api/v1/books/{b}/similar?mode=hybrid"
                             for b in books(allow & (has_a | has_s))])
    write("book", [f"/api/v1/books/{b}" for b in books(allow)])


def check(name, url, list_dir, out, first=20):
    """Status and returned ids of the first requests of each list (answers compared across
    servers in the report)."""
    res = {}
    for ep in ENDPOINTS:
        lines = open(os.path.join(list_dir, ep + ".txt")).read().splitlines()[:first]
        got = []
        for ln in lines:
            path, _, tok = ln.partition("\t")
            req = urllib.request.Request(url + path,
                                         headers={"Authorization": "Bearer " + tok} if tok
                                         else {})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    body = json.load(r)
                    st = r.status
            except urllib.error.HTTPError as e:
                st, body = e.code, {"error": e.read().decode(errors="replace")[:300]}
            if "items" in body:
                ids = [it["book"]["id"] for it in body["items"]]
            elif "book" in body and isinstance(body["book"], dict):
                ids = [body["book"]["id"], len(body["book"].get("editions", []))]
            else:
                ids = None
            got.append({"path": path, "status": st, "ids": ids, "mode": body.get("mode"),
                        "error": body.get("error")})
        res[ep] = got
    json.dump(res, open(out, "w"))
    bad = [(ep, g["path"], g["status"], g["error"]) for ep, gs in res.items() for g in gs
           if g["status"] != 200 or not g["ids"]]
    for b in bad[:10]:
        print(f"serving: {name}: {b}", file=sys.stderr)
    return 1 if bad else 0


def line(cell):
    """One cell's summary line, as it is recorded."""
    d = json.loads(cell)
    w = d["wrk"]
    s = w["duration_us"] / 1e6
    e = sum(v for k, v in w.items() if k.startswith("errors"))
    h = d["hits"] + d["misses"]
    hit = f"  hit rate {d['hits'] / h:.2f}" if d["cache"] == "on" and h else ""
    print(f"  {d['server']:17} {d['endpoint']:16} cache {d['cache']:3} c={d['connections']:<3} "
          f"{w['requests'] / s:9.0f} rps  p50 {w['p50_us'] / 1e3:7.2f} ms  "
          f"p99 {w['p99_us'] / 1e3:7.2f} ms  errors {e}  server cpu "
          f"{d['server_cpu_s'] / s:.2f}  wrk cpu {d['wrk_cpu_s'] / s:.2f}{hit}", flush=True)


def overlap(a, b):
    """Mean |A n B| / |A| over requests answered by both (recall of b against a)."""
    xs = []
    for ga, gb in zip(a, b):
        if ga["ids"] and gb["ids"] is not None:
            xs.append(len(set(ga["ids"]) & set(gb["ids"])) / len(ga["ids"]))
    return round(sum(xs) / len(xs), 3) if xs else None


def report(tmp, out):
    rows = []
    for ln in open(os.path.join(tmp, "cells.jsonl")):
        c = json.loads(ln)
        w = c["wrk"]
        errors = sum(w[k] for k in ("errors_connect", "errors_read", "errors_write",
                                    "errors_status", "errors_timeout"))
        h, m = c["hits"], c["misses"]
        secs = w["duration_us"] / 1e6
        rows.append({
            "server": c["server"], "endpoint": c["endpoint"], "cache": c["cache"],
            "hit_rate": round(h / (h + m), 4) if c["cache"] == "on" and h + m else None,
            "connections": c["connections"], "rps": round(w["requests"] / secs, 1),
            "p50_ms": round(w["p50_us"] / 1000, 3), "p99_ms": round(w["p99_us"] / 1000, 3),
            "errors": errors,
            # beyond the fields: what the cell cost each side
            "requests": w["requests"], "seconds": round(secs, 2),
            "server_cpu": round(c["server_cpu_s"] / secs, 3),
            "wrk_cpu": round(c["wrk_cpu_s"] / secs, 3),
            "load1_before": c["load1"],
        })
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    # the table and ratios of bench/serving.md
    by = {(r["server"], r["endpoint"], r["cache"], r["connections"]): r for r in rows}
    servers = ["bookrec-allinone", "bookrec-services", "fastapi-baseline"]
    print("| endpoint | cache | conns | " + " | ".join(
        f"{s} rps / p50 / p99 ms (hit)" for s in servers) + " | x allinone | x services |")
    print("|---|---|---|" + "---|" * len(servers) + "---|---|")
    for ep in ENDPOINTS:
        for cache in ("off", "on"):
            for c in (16, 64):
                if not any((s, ep, cache, c) in by for s in servers):
                    continue
                cells, base = [], by.get(("fastapi-baseline", ep, cache, c))
                for s in servers:
                    r = by.get((s, ep, cache, c))
                    if not r:
                        cells.append("-")
                        continue
                    hit = f" ({r['hit_rate']:.2f})" if r["hit_rate"] is not None else ""
                    err = f" **{r['errors']} err**" if r["errors"] else ""
                    cells.append(f"{r['rps']:.0f} / {r['p50_ms']:.2f} / {r['p99_ms']:.2f}"
                                 f"{hit}{err}")
                xs = []
                for s in servers[:2]:
                    r = by.get((s, ep, cache, c))
                    xs.append(f"{r['rps'] / base['rps']:.1f}" if r and base and base["rps"]
                              else "-")
                print(f"| {ep} | {cache} | {c} | " + " | ".join(cells) + " | " +
                      " | ".join(xs) + " |")
    # answers compared with the baseline's
    checks = {}
    for s in servers:
        p = os.path.join(tmp, f"check-{s}.json")
        if os.path.exists(p):
            checks[s] = json.load(open(p))
    if "fastapi-baseline" in checks:
        print("\nanswers (first 20 requests): share of bookrec's ids the baseline also returns")
        for s in servers[:2]:
            if s in checks:
                print(s, {ep: overlap(checks[s][ep], checks["fastapi-baseline"][ep])
                          for ep in ENDPOINTS})


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "readers":
        readers(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "login":
        login(*args)
    elif cmd == "lists":
        lists(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif cmd == "check":
        sys.exit(check(*args))
    elif cmd == "line":
        line(args[0])
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)
