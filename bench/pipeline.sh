#!/usr/bin/env bash
# The training pipeline on the real data (bookrec pipeline run), step by step:
#   run 1  "first": an empty artifacts directory, subject model from scratch (subject.epochs);
#   then a day of simulated API traffic is added to the copy (new readers signing up and
#          rating books: rows as the gateway writes them, source 'api' with a timestamp);
#   run 2  "daily": the run the timer makes every day: warm-started subject model
#          (pipeline.warm_epochs), the gate evaluating the new model and the current version.
# The database is a COPY of $BOOKREC_DB (default var/bookrec.db, the imported real data);
# the original is never written. Writes bench/results/pipeline.json (both run records, the
# machine's load) and prints a table of step times. Target: the daily run under 180 s.
set -euo pipefail
BIN=${BOOKREC_BIN:-build/bookrec}
SRC_DB=${BOOKREC_DB:-var/bookrec.db}
WORK=${PIPELINE_BENCH_DIR:-var/bench-pipeline}
OUT=bench/results/pipeline.json
API_READERS=${API_READERS:-300}
[ -f "$SRC_DB" ] || { echo "bench-pipeline: $SRC_DB not found (bookrec import the real data)" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK" bench/results
# A consistent copy even if something writes the source (sqlite3's backup, read-only).
/usr/bin/python3 - "$SRC_DB" "$WORK/bench.db" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
run() { # label
    local label=$1
    local t0=$(date +%s.%N)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/$label.time" \
        "$BIN" pipeline run --db "$WORK/bench.db" --artifacts "$WORK/art" --runs "$WORK/runs" \
        > "$WORK/$label.out" 2> "$WORK/$label.log" || { tail -20 "$WORK/$label.log"; exit 1; }
    cat "$WORK/$label.out"
    uptime > "$WORK/$label.load"
}
run first
# A day of API traffic: new readers, each rating books (most of them popular ones, as real
# readers do), with timestamps, as POST /api/v1/ratings stores them.
/usr/bin/python3 - "$WORK/bench.db" "$API_READERS" <<'PY'
import random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
rnd = random.Random(7)
popular = [r[0] for r in con.execute(
    "SELECT i.item_idx FROM interactions i JOIN works w ON w.item_idx = i.item_idx "
    "WHERE w.has_title = 1 GROUP BY i.item_idx ORDER BY COUNT(*) DESC LIMIT 2000")]
uid = con.execute("SELECT MAX(user_id) FROM users").fetchone()[0]
now = int(time.time())
rows = 0
for k in range(n):
    uid += 1
    con.execute("INSERT INTO users (user_id, source, external_id) VALUES (?, 'api', ?)",
                (uid, f"bench-{uid}"))
    for item in rnd.sample(popular, rnd.randint(3, 25)):
        con.execute("INSERT INTO interactions (user_id, item_idx, rating, ts, source) "
                    "VALUES (?, ?, ?, ?, 'api')", (uid, item, rnd.choice([0, 6, 7, 8, 9, 10]),
                                                  now - rnd.randint(0, 86400)))
        rows += 1
con.commit()
print(f"added {n} API readers with {rows} ratings")
PY
run daily
/usr/bin/python3 - "$WORK" "$OUT" <<'PY'
import json, os, platform, sys
work, out = sys.argv[1], sys.argv[2]
runs = sorted(os.listdir(f"{work}/runs"))
runs = [json.load(open(f"{work}/runs/{r}/run.json")) for r in runs if not r.startswith(".")]
res = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "runs": []}
for label, rec in zip(("first", "daily"), runs):
    wall, user, sys_, rss = open(f"{work}/{label}.time").read().split()
    res["runs"].append({
        "label": label, "wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 1),
        "peak_rss_mb": round(int(rss) / 1024, 1),
        "load": open(f"{work}/{label}.load").read().strip(),
        "steps": {s["name"]: round(s["seconds"], 2) for s in rec["steps"]},
        "cpu": {s["name"]: round(s.get("cpu_seconds", 0), 2) for s in rec["steps"]},
        "gate": rec.get("gate"), "status": rec["status"],
        "export": rec["steps"][0].get("report"), "clean": rec["steps"][1].get("report"),
        "subject_start": rec["steps"][5].get("report", {}).get("subject_start")})
json.dump(res, open(out, "w"), indent=2)
names = list(res["runs"][0]["steps"])
print("| step | " + " | ".join(f"{r['label']} wall | {r['label']} cpu" for r in res["runs"])
      + " |")
print("|---|" + "---|---|" * len(res["runs"]))
for n in names:
    print(f"| {n} | " + " | ".join(f"{r['steps'][n]:.2f} s | {r['cpu'][n]:.2f} s"
                                   for r in res["runs"]) + " |")
print("| **whole run** | " + " | ".join(
    f"**{r['wall_s']:.1f} s** | {r['cpu_s']:.1f} s" for r in res["runs"]) + " |")
print("| peak RSS | " + " | ".join(f"{r['peak_rss_mb']} MB | " for r in res["runs"]) + " |")
for r in res["runs"]:
    g = r["gate"] or {}
    print(f"{r['label']}: gate recall@30 {g.get('recall@30')}, current "
          f"{g.get('current_recall@30')}, passed {g.get('passed')}; {r['load']}")
PY
