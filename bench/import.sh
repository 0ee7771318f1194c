#!/usr/bin/env bash
# Import throughput and peak memory on the real data (bookcrossing + goodbooks10k +
# descriptions) into a fresh SQLite database; then a re-import of the same data
# (incremental: nothing changes). Writes bench/results/import.json.
set -euo pipefail
BIN=${BOOKREC_BIN:-build/bookrec}
DATA=${BOOKREC_DATA:-../shared/data}
OUT=bench/results/import.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -d "$DATA/bookcrossing" ] || { echo "bench-import: $DATA not found" >&2; exit 1; }
measure() { # label, then the command
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" > /dev/null 2> "$TMP/log"
    read -r secs kb < "$TMP/time"
    echo "$label $secs $kb"
}
src=("$DATA/bookcrossing" "$DATA/goodbooks10k" "$DATA/descriptions")
first=$(measure fresh "$BIN" import --db "$TMP/b.db" --report-json "$TMP/r1.json" "${src[@]}")
second=$(measure reimport "$BIN" import --db "$TMP/b.db" --report-json "$TMP/r2.json" "${src[@]}")
/usr/bin/python3 - "$first" "$second" "$TMP/r1.json" "$OUT" <<'PY'
import json, sys, platform, os
runs = []
for arg, rep in ((sys.argv[1], sys.argv[3]), (sys.argv[2], None)):
    label, secs, kb = arg.split()
    runs.append({"run": label, "wall_s": float(secs), "peak_rss_mb": round(int(kb) / 1024, 1)})
r = json.load(open(sys.argv[3]))
rows = r["rows_read"]
for x in runs:
    x["rows_per_s"] = round(rows / x["wall_s"]) if x["wall_s"] else None
out = {"rows_read": rows, "runs": runs, "phases_s": r["seconds"],
       "machine": {"cpus": os.cpu_count(), "python_platform": platform.platform()}}
json.dump(out, open(sys.argv[4], "w"), indent=2)
print(json.dumps(out, indent=2))
PY
