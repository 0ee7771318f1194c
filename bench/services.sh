#!/usr/bin/env bash
# Model-service latency and memory on the real data (bench/services.md).
# Publishes a version of the trained model (var/model) into a temporary artifacts directory,
# then measures two deployments one after the other, so that neither shares CPU or page
# Pss with the other: the five services as separate processes (`serve --role R`), and the
# all-in-one process (`serve`: the five services and the gateway on one listener). Each is
# driven by `loadgen --bench N` (N sequential keep-alive calls per endpoint) and its memory
# read from /proc after the run.
# Writes bench/results/services.json and nothing else in the repository: the model comes
# from var/ (read only; when var/model is missing it is imported and trained in the
# temporary directory, not in var/), the artifacts and logs live in the temporary directory,
# removed at exit with every process started here.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BOOKREC_BIN:-build/bookrec}
LOADGEN=${BOOKREC_LOADGEN:-build/loadgen}
VAR=${BOOKREC_VAR:-var}
DATA=${BOOKREC_DATA:-../shared/data}
N=${BENCH_N:-2000}
OUT=bench/results/services.json
ROLES=(embedder similarity als metadata semantic)

if [ -z "${BOOKREC_BIN:-}" ] || [ -z "${BOOKREC_LOADGEN:-}" ]; then
    make -s -j2 all build/loadgen
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-services.XXXXXX")
ART="$TMP/art"
PIDS=()

# Stops every server started here (TERM, then KILL after 5 s) and waits for it.
stop_all() {
    local p i
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2> /dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for i in $(seq 50); do
            kill -0 "$p" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench-services: $*" >&2
    exit 1
}

# The model: var/model, or one trained here from the real data.
DB="$VAR/bookrec.db"
MODEL="$VAR/model"
if [ ! -f "$MODEL/manifest.json" ] || [ ! -f "$DB" ]; then
    [ -d "$DATA/bookcrossing" ] || die "no $MODEL and no data in $DATA (make run, or BOOKREC_DATA)"
    echo "bench-services: $MODEL missing: importing and training in $TMP ($VAR/ is left alone)"
    DB="$TMP/bookrec.db"
    MODEL="$TMP/model"
    "$BIN" import --quiet --db "$DB" "$DATA/goodbooks10k" "$DATA/descriptions" \
        "$DATA/openlibrary" "$DATA/bookcrossing"
    "$BIN" split --db "$DB" > /dev/null
    "$BIN" train --db "$DB" --out "$MODEL" 2> "$TMP/train.log" || { tail -20 "$TMP/train.log"; exit 1; }
fi

# Publish hard-links the model's files into the version. A private copy keeps those inodes
# away from other processes on the machine that map var/model's files (e.g. `make run`'s
# services): sharing pages with them would split this run's Pss.
cp -r "$MODEL" "$TMP/model-copy"
MODEL_SRC=$MODEL
MODEL="$TMP/model-copy"
echo "bench-services: publishing $MODEL_SRC (a private copy) into $ART"
/usr/bin/time -f "%e %M" -o "$TMP/publish.time" \
    "$BIN" publish --db "$DB" --model "$MODEL" --artifacts "$ART" > "$TMP/publish.log" 2>&1 \
    || { tail -20 "$TMP/publish.log"; die "publish failed"; }
read -r PUB_S PUB_KB < "$TMP/publish.time"
VERSION=$(cat "$ART/CURRENT")
echo "bench-services: version $VERSION published in $PUB_S s"

# start NAME [serve args]: a server on a free loopback port; waits until /health reports
# the version loaded (by every service it hosts). Sets PORT and PID.
start() {
    local name=$1 want=1 i h
    shift
    [ $# -eq 0 ] && want=${#ROLES[@]}
    : > "$TMP/$name.log" # the child opens it after the fork: it must exist for sed below
    # db.path: the all-in-one process also runs the gateway, which opens (and migrates) the
    # database; it gets an empty one here, so that var/ is never written
    "$BIN" --set db.path="$TMP/gateway.db" serve --listen 127.0.0.1:0 --artifacts "$ART" "$@" \
        > "$TMP/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    PORT=
    for i in $(seq 600); do
        kill -0 "$PID" 2> /dev/null || { cat "$TMP/$name.log" >&2; die "$name exited"; }
        [ -n "$PORT" ] || PORT=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\) .*|\1|p' \
            "$TMP/$name.log" || true)
        if [ -n "$PORT" ]; then
            h=$(curl -sf "http://127.0.0.1:$PORT/health" || true)
            [ "$(grep -o "\"version\":\"$VERSION\"" <<< "$h" | wc -l)" -eq "$want" ] && return 0
        fi
        sleep 0.1
    done
    die "$name: no healthy answer within 60 s (see $TMP/$name.log)"
}

# mem NAME PID SUBDIR: resident memory of PID into $TMP/mem-NAME.json; the artifact share is
# the Pss of the mappings of files inside the artifacts directory; SUBDIR ("" for all) says
# which of the version's files are this process's.
mem() {
    /usr/bin/python3 - "$1" "$2" "$(realpath "$ART")" "$ART/versions/$VERSION/$3" \
        "http://127.0.0.1:$PORT/health" > "$TMP/mem-$1.json" <<'PY'
import json, os, re, sys, urllib.request
name, pid, art, files, health = sys.argv[1:]
def kb(text, key):
    m = re.search(r"^%s:\s+(\d+) kB" % key, text, re.M)
    return int(m.group(1)) if m else None
status = open(f"/proc/{pid}/status").read()
rollup = open(f"/proc/{pid}/smaps_rollup").read()
art_pss = art_rss = 0
by_file = {}
path = None
for line in open(f"/proc/{pid}/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        f = line.split(None, 5)
        path = f[5].strip() if len(f) > 5 else ""
    elif path and path.startswith(art + "/"):
        if line.startswith("Pss:"):
            art_pss += int(line.split()[1])
            by_file[path] = by_file.get(path, 0) + int(line.split()[1])
        elif line.startswith("Rss:"):
            art_rss += int(line.split()[1])
by_file = {"/".join(p.split("/")[-2:]): {"pss_kb": v, "bytes": os.path.getsize(p)}
           for p, v in sorted(by_file.items())}  # "role/file"
disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(files) for f in fs)
h = json.load(urllib.request.urlopen(health))
mapped = sum(s["mapped_bytes"] for s in h.get("services", [h]))
json.dump({"role": name, "rss_kb": kb(status, "VmRSS"), "pss_kb": kb(rollup, "Pss"),
           "anon_kb": kb(rollup, "Anonymous"), "artifact_rss_kb": art_rss,
           "artifact_pss_kb": art_pss, "artifact_pss_kb_by_file": by_file,
           "artifact_bytes_on_disk": disk,
           "mapped_bytes": mapped,
           "threads": int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))}, sys.stdout)
PY
}

# bench DEPLOYMENT ARGS...: loadgen --bench into $TMP/bench-DEPLOYMENT.json.
bench() {
    local dep=$1
    shift
    cut -d' ' -f1-3 /proc/loadavg > "$TMP/load-$dep"
    echo "bench-services: $dep: $N calls per endpoint (load average $(cat "$TMP/load-$dep"))"
    "$LOADGEN" "$@" --artifacts "$ART" --bench "$N" --report "$TMP/bench-$dep.json" > /dev/null
}

# 1. The five services, one process each.
urls=()
svc_pids=()
for r in "${ROLES[@]}"; do
    start "$r" --role "$r"
    urls+=("$r=http://127.0.0.1:$PORT")
    svc_pids+=("$PID:$PORT")
done
bench services --services "$(IFS=,; echo "${urls[*]}")"
for i in "${!ROLES[@]}"; do
    PORT=${svc_pids[$i]#*:}
    mem "${ROLES[$i]}" "${svc_pids[$i]%:*}" "${ROLES[$i]}"
done
stop_all

# 2. The all-in-one process.
start allinone
bench allinone --url "http://127.0.0.1:$PORT"
mem allinone "$PID" ""
stop_all

# 3. Where the time goes: the same calls in process, no HTTP (bench/services_inproc.c; it
#    links the server archive, which the bench-% rule does not, so it is built here).
BUILD=$(dirname "$BIN")
PKGS=(sqlite3 jansson libxxhash openblas lapacke libmicrohttpd libcurl)
# shellcheck disable=SC2046 # the flags are words
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Iserver $(pkg-config --cflags "${PKGS[@]}") -fopenmp \
    -o "$TMP/inproc" bench/services_inproc.c "$BUILD/libbookrec-server.a" "$BUILD/libbookrec.a" \
    $(pkg-config --libs "${PKGS[@]}") -lm -lpthread
echo "bench-services: in process: $N calls per endpoint"
"$TMP/inproc" "$ART" "$N" > "$TMP/inproc.json"

/usr/bin/python3 - "$TMP" "$VERSION" "$PUB_S" "$PUB_KB" "$N" "$OUT" "${ROLES[@]}" <<'PY'
import json, os, platform, sys
tmp, version, pub_s, pub_kb, n, out, *roles = sys.argv[1:]
# The seed's model server (FastAPI + numpy), medians on its own hardware. Its "subject
# similarity" is held against both similar_subject and subject_recs (see services.md).
seed = {"als_recs": 11, "similar_subject": 8, "subject_recs": 8, "similar_hybrid": 15,
        "embed": 3, "books": 4}
target = 50
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), platform.processor())
mem_total = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
endpoints, ratios, load = [], {}, {}
for dep in ("services", "allinone"):
    rep = json.load(open(f"{tmp}/bench-{dep}.json"))
    load[dep] = [float(x) for x in open(f"{tmp}/load-{dep}").read().split()]
    ratios[dep] = {}
    for e in rep["endpoints"]:
        row = {"endpoint": e["endpoint"], "deployment": dep}
        row.update({k: e[k] for k in ("k", "n", "p50_ms", "p99_ms", "mean_ms", "errors",
                                      "skipped")})
        endpoints.append(row)
        if e["endpoint"] in seed and e["p50_ms"]:
            x = seed[e["endpoint"]] / e["p50_ms"]
            ratios[dep][e["endpoint"]] = {"seed_ms": seed[e["endpoint"]],
                                          "p50_ms": round(e["p50_ms"], 4), "x": round(x, 1),
                                          "met": x >= target}
inproc = json.load(open(f"{tmp}/inproc.json"))
memory = [json.load(open(f"{tmp}/mem-{r}.json")) for r in roles + ["allinone"]]
res = {
    "machine": {"cpu": cpu, "cpus": os.cpu_count(), "mem_total_kb": mem_total,
                "kernel": platform.release(),
                "note": "client (loadgen) and servers share these cores; load averages "
                        "(1, 5, 15 min) before each run below",
                "load_average_before": load},
    "version": version,
    "calls_per_endpoint": int(n),
    "publish": {"seconds": float(pub_s), "peak_rss_kb": int(pub_kb)},
    "endpoints": endpoints,
    "in_process": inproc,
    "memory": memory,
    "seed_medians_ms": seed,
    "ratios": {"target_x": target, **ratios},
}
with open(out, "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
print(f"{'endpoint':16} {'k':>4} {'services p50/p99 ms':>20} {'all-in-one p50/p99':>19} "
      f"{'seed':>5} {'x (svc)':>8} {'in process: compute/render/parse':>33}")
by = {(e["endpoint"], e["deployment"]): e for e in endpoints}
ip = {e["endpoint"]: e for e in inproc}
for e in [e for e in endpoints if e["deployment"] == "services"]:
    a = by[(e["endpoint"], "allinone")]
    r = ratios["services"].get(e["endpoint"])
    i = ip.get(e["endpoint"])
    fmt = lambda x: f"{x['p50_ms']:.3f} / {x['p99_ms']:.3f}" if x["p50_ms"] else "-"
    fi = (f"{i['compute_p50_ms']:.3f} / {i['render_p50_ms']:.3f} / {i['parse_p50_ms']:.3f}"
          if i else "")
    print(f"{e['endpoint']:16} {e['k']:>4} {fmt(e):>20} {fmt(a):>19} "
          f"{r['seed_ms'] if r else '':>5} {r['x'] if r else '':>8} {fi:>33}")
print(f"{'process':12} {'RSS MB':>8} {'PSS MB':>8} {'anon MB':>8} {'artifact PSS MB':>16} "
      f"{'on disk MB':>11}")
for m in memory:
    print(f"{m['role']:12} {m['rss_kb']/1024:8.1f} {m['pss_kb']/1024:8.1f} "
          f"{m['anon_kb']/1024:8.1f} {m['artifact_pss_kb']/1024:16.1f} "
          f"{m['artifact_bytes_on_disk']/2**20:11.1f}")
print(f"publish: {pub_s} s, peak RSS {int(pub_kb)/1024:.0f} MB; written to {out}")
PY
