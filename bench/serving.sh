#!/usr/bin/env bash
# Public API under load (bench/serving.md): wrk against three servers answering the same
# requests from the same published version and the same database:
#   bookrec-allinone   `bookrec serve` (gateway + the five services in one process)
#   bookrec-services   `bookrec serve --role gateway` + five `serve --role R` processes
#   fastapi-baseline   bench/baseline/app.py: FastAPI + uvicorn (2 workers) + numpy + FAISS
# The three run side by side, cache off, then restarted with the cache on; for each endpoint
# and 16 then 64 connections, each server in turn gets one cell: wrk -t2 --latency,
# keep-alive, BENCH_SECONDS, with bench/serving.lua cycling through the request lists. So the
# three cells of a row are taken within a minute of each other (an idle server costs no CPU),
# and a change of the machine's load hurts them alike. wrk runs on CPU 0, every server on
# CPU 1 (taskset).
#
# Prepared first, in a temporary directory (removed at exit, with every process started
# here): a copy of the database (SQLite's backup API), a version published from the trained
# model, the baseline's FAISS indexes, BENCH_WARM_USERS warm readers given a login
# (`bookrec users claim`) and their bearer tokens (POST /api/v1/auth/login), and the request
# lists (bench/serving.py). var/ is only read. Writes bench/results/serving.json and
# nothing else in the repository.
#
# Knobs (environment): BENCH_SECONDS (8) per cell, BENCH_WARMUP (2) s per endpoint before
# the first cell, BENCH_WARM_USERS (500) readers claimed, BENCH_DISTINCT (10000) requests of
# the other lists, BENCH_CONNECTIONS ("16 64"), BENCH_SERVERS, BENCH_ENDPOINTS, BENCH_SEED,
# BENCH_WRK_CPU (0), BENCH_SERVER_CPU (1), BENCH_OUT; BOOKREC_BIN (default: make, then
# build/bookrec), BOOKREC_VAR (var). For iterating on this script: BENCH_ART (a version
# published earlier), BENCH_FAISS (its baseline indexes), BENCH_KEEP=1 (keep the temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BOOKREC_BIN:-build/bookrec}
VAR=${BOOKREC_VAR:-var}
PY=/usr/bin/python3
SECONDS_CELL=${BENCH_SECONDS:-8}
WARMUP=${BENCH_WARMUP:-2}
WARM_USERS=${BENCH_WARM_USERS:-500}
N_DISTINCT=${BENCH_DISTINCT:-10000}
read -r -a CONNS <<< "${BENCH_CONNECTIONS:-16 64}"
read -r -a SERVERS <<< "${BENCH_SERVERS:-bookrec-allinone bookrec-services fastapi-baseline}"
read -r -a ENDPOINTS <<< \
    "${BENCH_ENDPOINTS:-recs_warm recs_cold similar_als similar_subject similar_hybrid book}"
SEED=${BENCH_SEED:-7}
WRK_CPU=${BENCH_WRK_CPU:-0}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
OUT=${BENCH_OUT:-bench/results/serving.json}
ROLES=(embedder similarity als metadata semantic)
PASSWORD=bench-serving-password
# Rate limits off (the load comes from one address and a few readers), the gateway's cache
# set per run below.
NOLIMITS=(--set serve.rate_ip=0 --set serve.rate_user=0 --set serve.rate_login=0)

if [ -z "${BOOKREC_BIN:-}" ]; then
    make -s -j2 all
fi
for t in wrk taskset curl pgrep; do
    command -v "$t" > /dev/null || { echo "bench-serving: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-serving.XXXXXX")
ART="$TMP/art"
DB="$TMP/bookrec.db"
PIDS=()

stop_all() {
    local p _
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2> /dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do
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
    [ -n "${BENCH_KEEP:-}" ] && { echo "bench-serving: kept $TMP" >&2; return; }
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench-serving: $*" >&2
    exit 1
}

if [ ! -f "$VAR/model/manifest.json" ] || [ ! -f "$VAR/bookrec.db" ]; then
    die "no trained model in $VAR (make run imports and trains one)"
fi

# ---- preparation ----
echo "bench-serving: copying $VAR/bookrec.db, publishing $VAR/model into $TMP"
$PY -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
    "$VAR/bookrec.db" "$DB"
if [ -n "${BENCH_ART:-}" ]; then # a version published earlier (iterating on this script)
    ART=$BENCH_ART
else
    "$BIN" publish --db "$DB" --model "$VAR/model" --artifacts "$ART" > "$TMP/publish.log" 2>&1 ||
        { tail -20 "$TMP/publish.log"; die "publish failed"; }
fi
VERSION=$(cat "$ART/CURRENT")
VDIR="$ART/versions/$VERSION"

FAISS=${BENCH_FAISS:-$TMP/faiss} # BENCH_FAISS: indexes built earlier for this version
if [ -z "${BENCH_FAISS:-}" ]; then
    echo "bench-serving: FAISS indexes for the baseline (in the background)"
    (cd bench/baseline && OMP_NUM_THREADS=1 $PY app.py build-indexes "$ART" "$FAISS") \
        > "$TMP/faiss.log" 2>&1 &
    FAISS_PID=$!
else
    : > "$TMP/faiss.log"
    sleep 0 & FAISS_PID=$!
fi

$PY bench/serving.py readers "$DB" "$VDIR" "$WARM_USERS" "$SEED" > "$TMP/readers.txt"
echo "bench-serving: claiming $(wc -l < "$TMP/readers.txt") warm readers (users claim, 4 at a time)"
t0=$(date +%s.%N)
export BIN DB PASSWORD
# shellcheck disable=SC2016 # expanded by the inner sh, from the exported variables
xargs -P 4 -I{} sh -c 'printf "%s\n" "$PASSWORD" | "$BIN" users claim --db "$DB" \
    --user-id {} --username bench{} --email bench{}@example.com --password-stdin > /dev/null' \
    < "$TMP/readers.txt"
CLAIM_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
echo "bench-serving: claimed in $CLAIM_S s"

# start NAME CPU [serve args]: a bookrec server on a free loopback port; waits until it
# answers URL_PATH (set by the caller in READY) with 200. Sets PORT and PID.
start() {
    local name=$1 log _
    shift
    log="$TMP/$name-$PHASE.log"
    : > "$log"
    taskset -c "$SERVER_CPU" "$BIN" "${NOLIMITS[@]}" "${EXTRA[@]}" serve --listen 127.0.0.1:0 \
        --artifacts "$ART" --db "$DB" "$@" > "$log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    PORT=
    for _ in $(seq 600); do
        kill -0 "$PID" 2> /dev/null || { cat "$log" >&2; die "$name exited"; }
        [ -n "$PORT" ] || PORT=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\) .*|\1|p' \
            "$log" || true)
        if [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT$READY"; then
            return 0
        fi
        sleep 0.1
    done
    die "$name: not ready within 60 s (see $log)"
}

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# up SERVER CACHE: starts SERVER with the cache on or off; sets URL and SRV_PIDS (the
# processes whose CPU time counts as the server's), and URLS[SERVER], SPIDS[SERVER].
declare -A URLS SPIDS
up() {
    local server=$1 cache=$2 entries=0 urls=() r
    [ "$cache" = on ] && entries=20000
    EXTRA=(--set "serve.cache_entries=$entries")
    SRV_PIDS=()
    case $server in
    bookrec-allinone)
        READY=/health/ready
        start allinone
        SRV_PIDS=("$PID")
        ;;
    bookrec-services)
        READY=/health
        for r in "${ROLES[@]}"; do
            start "$r" --role "$r"
            urls+=("$r=http://127.0.0.1:$PORT")
            SRV_PIDS+=("$PID")
        done
        READY=/health/ready
        EXTRA+=(--set "serve.services=$(IFS=,; echo "${urls[*]}")")
        start gateway --role gateway
        SRV_PIDS+=("$PID")
        ;;
    fastapi-baseline)
        PORT=$(free_port)
        rm -f "$TMP/counters"
        (cd bench/baseline && BASELINE_ARTIFACTS="$ART" BASELINE_DB="$DB" \
            BASELINE_FAISS="$FAISS" BASELINE_CACHE_ENTRIES=$entries \
            BASELINE_COUNTERS="$TMP/counters" \
            exec taskset -c "$SERVER_CPU" $PY -m uvicorn app:app --workers 2 \
            --host 127.0.0.1 --port "$PORT" --no-access-log --log-level warning) \
            > "$TMP/baseline-$PHASE.log" 2>&1 &
        PID=$!
        PIDS+=("$PID")
        for r in $(seq 1200); do
            kill -0 "$PID" 2> /dev/null || { cat "$TMP/baseline-$PHASE.log" >&2; die "baseline exited"; }
            curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break
            sleep 0.1
        done
        # both workers up: each claims a counters row when its app is imported
        for r in $(seq 1200); do
            [ "$($PY -c 'import numpy as np, sys; print(int((np.memmap(sys.argv[1], dtype=np.int64, mode="r")[0::3] != 0).sum()))' "$TMP/counters" 2> /dev/null || echo 0)" -ge 2 ] && break
            sleep 0.1
        done
        mapfile -t SRV_PIDS < <(echo "$PID"; pgrep -P "$PID" || true)
        PIDS+=("${SRV_PIDS[@]:1}") # the workers too, should the master not stop them
        ;;
    esac
    URL="http://127.0.0.1:$PORT"
    URLS[$server]=$URL
    SPIDS[$server]="${SRV_PIDS[*]}"
}

# cpu_s PIDS...: user + system CPU seconds of these processes so far.
cpu_s() {
    local p t=0 hz
    hz=$(getconf CLK_TCK)
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$t" -v hz="$hz" 'BEGIN{printf "%.3f", t / hz}'
}

# alive SERVER: dies, with the end of the server's logs, when one of its processes is gone.
alive() {
    local p
    for p in "${SRV_PIDS[@]}"; do
        kill -0 "$p" 2> /dev/null && continue
        tail -n 30 "$TMP"/*.log >&2
        die "$1: process $p is gone (logs above)"
    done
}

# hits_misses SERVER: the cache counters ("hits misses").
hits_misses() {
    if [ "$1" = fastapi-baseline ]; then
        curl -sf --max-time 10 "$URL/_bench/cache" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["hits"], d["misses"])'
    else
        curl -sf --max-time 10 "$URL/metrics" | awk '$1=="bookrec_cache_hits"{h=$2} $1=="bookrec_cache_misses"{m=$2} END{printf "%d %d\n", h, m}'
    fi
}

# cell SERVER ENDPOINT CACHE CONNS SECONDS [record]: one wrk run.
cell() {
    local server=$1 ep=$2 cache=$3 c=$4 secs=$5 rec=${6:-}
    local h0 m0 h1 m1 s0 s1 load out
    URL=${URLS[$server]}
    read -r -a SRV_PIDS <<< "${SPIDS[$server]}"
    read -r h0 m0 <<< "$(hits_misses "$server")"
    s0=$(cpu_s "${SRV_PIDS[@]}")
    load=$(cut -d' ' -f1 /proc/loadavg)
    out=$(/usr/bin/time -f "WRK_TIME %U %S" taskset -c "$WRK_CPU" wrk -t2 -c"$c" -d"${secs}s" \
        --timeout 10s --latency -s bench/serving.lua "$URL" -- "$TMP/lists/$ep.txt" 2>&1) || {
        echo "$out" >&2
        alive "$server"
        die "$server $ep: wrk failed"
    }
    alive "$server"
    s1=$(cpu_s "${SRV_PIDS[@]}")
    read -r h1 m1 <<< "$(hits_misses "$server")"
    [ -n "$rec" ] || return 0
    local js wt
    js=$(sed -n 's/^SERVING_JSON //p' <<< "$out")
    wt=$(sed -n 's/^WRK_TIME //p' <<< "$out" | awk '{print $1 + $2}')
    [ -n "$js" ] || { echo "$out" >&2; die "$server $ep: wrk printed no result"; }
    printf '{"server":"%s","endpoint":"%s","cache":"%s","connections":%d,"hits":%d,"misses":%d,"server_cpu_s":%s,"wrk_cpu_s":%s,"load1":%s,"wrk":%s}\n' \
        "$server" "$ep" "$cache" "$c" $((h1 - h0)) $((m1 - m0)) "$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.3f", b - a}')" \
        "$wt" "$load" "$js" >> "$TMP/cells.jsonl"
    $PY bench/serving.py line "$(tail -1 "$TMP/cells.jsonl")"
}

# ---- tokens and request lists (the allinone server answers the logins) ----
EXTRA=()
SRV_PIDS=()
PHASE=login
up bookrec-allinone off
echo "bench-serving: logging the readers in"
$PY bench/serving.py login "$URL" "$TMP/readers.txt" "$PASSWORD" "$TMP/tokens.txt"
stop_all
$PY bench/serving.py lists "$VDIR" "$TMP/tokens.txt" "$TMP/lists" "$N_DISTINCT" "$SEED"
wait "$FAISS_PID" || { cat "$TMP/faiss.log"; die "FAISS index build failed"; }
cat "$TMP/faiss.log"

# ---- the runs ----
: > "$TMP/cells.jsonl"
echo "bench-serving: ${SECONDS_CELL} s per cell; wrk on CPU $WRK_CPU, servers on CPU $SERVER_CPU"
for cache in off on; do
    PHASE=cache-$cache
    for server in "${SERVERS[@]}"; do
        up "$server" "$cache"
    done
    echo "bench-serving: cache $cache: ${SERVERS[*]} up (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ "$cache" = off ]; then
        for server in "${SERVERS[@]}"; do
            $PY bench/serving.py check "$server" "${URLS[$server]}" "$TMP/lists" \
                "$TMP/check-$server.json" ||
                echo "bench-serving: $server: some answers were not 200 with items (above)" >&2
            for ep in "${ENDPOINTS[@]}"; do # page cache and lazy initialisation
                cell "$server" "$ep" "$cache" 16 "$WARMUP"
            done
        done
    fi
    for ep in "${ENDPOINTS[@]}"; do
        for c in "${CONNS[@]}"; do
            for server in "${SERVERS[@]}"; do
                cell "$server" "$ep" "$cache" "$c" "$SECONDS_CELL" record
            done
        done
    done
    stop_all
done

mkdir -p "$(dirname "$OUT")"
$PY bench/serving.py report "$TMP" "$OUT"
echo "bench-serving: warm readers: $(wc -l < "$TMP/tokens.txt") (claimed in $CLAIM_S s); $SECONDS s in all; written to $OUT"
