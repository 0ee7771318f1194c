#!/usr/bin/env bash
# ANN benchmark: bookrec's HNSW against hnswlib and FAISS IndexHNSWFlat (bench/ann.md).
#
#   BENCH_BIN=build/bench-ann bash bench/ann.sh            (make bench-ann; ~10 min budget)
#   BENCH_BIN=build/bench-ann bash bench/ann.sh --large    (make bench-ann-large; 1M x 64)
#
# Writes bench/results/ann.json (the issue's format: one row per impl, dataset and ef),
# bench/results/ann_details.json (every field, ties-counted recall, the MIPS choice, the
# hybrid table, first-query latency after open, the machine) and bench/results/ann_tables.md
# (the tables of bench/ann.md, with QPS at recall 0.95 interpolated per library).
#
# Datasets: synthetic ones from bench/gen_vectors.py (always), and real model outputs when
# ANN_REAL_DIR (default var/model, where `bookrec train` writes) holds item_factors.npy
# (bench/ann_real.py lists what it reads and the sets it makes).
# Settings: ANN_M (16), ANN_EFC (200), ANN_EFS, ANN_REPEAT (2), ANN_MIN_ALS (10),
# ANN_MIN_HYBRID (5), ANN_SUBJECT (subject_perdim), ANN_WORK (scratch; build/bench-ann-data).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
BIN=${BENCH_BIN:-build/bench-ann}
M=${ANN_M:-16}
EFC=${ANN_EFC:-200}
EFS=${ANN_EFS:-10,16,20,24,32,48,64,128,256}
REPEAT=${ANN_REPEAT:-2}
WORK=${ANN_WORK:-build/bench-ann-data}
LARGE=0
[ "${1:-}" = "--large" ] && LARGE=1
mkdir -p "$WORK" bench/results
OUT=$WORK/rows.jsonl
: > "$OUT"
start=$(date +%s)
log() { echo "[ann.sh $(( $(date +%s) - start ))s] $*" >&2; }
[ -x "$BIN" ] || { echo "ann.sh: $BIN not built (make build/bench-ann)" >&2; exit 1; }
# One BLAS thread per OpenMP thread of ours; the references are told their thread counts.
export OMP_WAIT_POLICY=PASSIVE

# The machine may be shared: the load average goes into the details next to each set.
load() { echo "{\"what\": \"loadavg\", \"before\": \"$1\", \"value\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$OUT"; }

# compare NAME DIR METRIC [extra bench-ann args]: ours, then hnswlib and FAISS, same data.
compare() {
    local name=$1 dir=$2 metric=$3
    shift 3
    load "$name"
    log "$name: bookrec"
    "$BIN" run --base "$dir/base.npy" --queries "$dir/queries.npy" --dataset "$name" \
        --metric "$metric" --M "$M" --efc "$EFC" --efs "$EFS" --repeat "$REPEAT" \
        --gt-dir "$dir" "$@" >> "$OUT"
    log "$name: hnswlib, faiss"
    local refmetric=$metric
    [ "$metric" = ip_aug ] && return
    $PY bench/ann_ref.py run "$dir" --dataset "$name" --metric "$refmetric" --M "$M" \
        --efc "$EFC" --efs "$EFS" --repeat "$REPEAT" >> "$OUT"
}

if [ $LARGE = 1 ]; then
    D=$WORK/large
    log "generating 1M x 64"
    $PY bench/gen_vectors.py mixture "$D" --n 1000000 --queries 10000 --clusters 3000
    compare synthetic-1M-64 "$D" cosine --save "$D/index.hnsw"
else
    # 1. The main comparison: 100k x 64 clustered, cosine.
    D=$WORK/mixture
    log "generating 100k x 64 mixture"
    $PY bench/gen_vectors.py mixture "$D" --n 100000 --queries 10000
    compare synthetic-100k-64 "$D" cosine --save "$D/index.hnsw"

    # 2. First query after open (fresh processes): warm page cache, then cold.
    for i in 1 2 3; do "$BIN" open --index "$D/index.hnsw" --queries "$D/queries.npy" >> "$OUT"; done
    if sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
        "$BIN" open --index "$D/index.hnsw" --queries "$D/queries.npy" | \
            sed 's/"cache": "warm"/"cache": "cold (drop_caches)"/' >> "$OUT"
    else
        log "drop_caches not permitted: cold runs evict only the index file"
    fi
    for i in 1 2; do "$BIN" open --cold --index "$D/index.hnsw" --queries "$D/queries.npy" >> "$OUT"; done

    # 3. Book-Crossing-like near-duplicates: plain vs ties-counted recall.
    D=$WORK/dups
    log "generating 50k x 64 with near-duplicates"
    $PY bench/gen_vectors.py dups "$D" --n 50000 --queries 5000 --clusters 500
    compare dups-50k-64 "$D" cosine

    # 4. User-to-item maximum inner product: plain inner product vs norm augmentation.
    D=$WORK/mips
    log "generating 50k x 64 ALS-like factors"
    $PY bench/gen_vectors.py mips "$D" --n 50000 --queries 5000 --clusters 500
    compare mips-50k-64 "$D" ip
    "$BIN" run --base "$D/base.npy" --queries "$D/queries.npy" --dataset mips-50k-64+augmented \
        --metric ip_aug --M "$M" --efc "$EFC" --efs "$EFS" --repeat "$REPEAT" >> "$OUT"

    # 5. Hybrid: approximate vs exact recall@10 for w in {0, .25, .5, .75, 1}.
    D=$WORK/hybrid
    log "hybrid 50k items, 64 + 64 dims"
    $PY bench/gen_vectors.py hybrid "$D" --n 50000 --queries 2000 --clusters 500
    "$BIN" hybrid --subj "$D/subj.npy" --als "$D/als.npy" --queries "$D/queries.npy" \
        --dataset hybrid-50k-64+64 --M "$M" --efc "$EFC" --efs 32,64,128,256 >> "$OUT"

    # 6. Real vectors, when the models exist.
    R=${ANN_REAL_DIR:-var/model}
    if [ -f "$R/item_factors.npy" ]; then
        log "real vectors from $R"
        rm -rf "$WORK/real"
        $PY bench/ann_real.py "$R" "$WORK/real" --min-als "${ANN_MIN_ALS:-10}" \
            --min-hybrid "${ANN_MIN_HYBRID:-5}" --subject "${ANN_SUBJECT:-subject_perdim}"
        for d in "$WORK"/real/*/; do
            name=$(basename "$d")
            case $name in
            hybrid)
                "$BIN" hybrid --subj "$d/subj.npy" --als "$d/als.npy" --queries "$d/queries.npy" \
                    --dataset "real-hybrid-min${ANN_MIN_HYBRID:-5}" --M "$M" --efc "$EFC" \
                    --efs 32,64,128,256 >> "$OUT" ;;
            als-users-*)
                compare "real-$name" "$d" ip
                "$BIN" run --base "$d/base.npy" --queries "$d/queries.npy" \
                    --dataset "real-$name+augmented" --metric ip_aug --M "$M" --efc "$EFC" \
                    --efs "$EFS" --repeat "$REPEAT" >> "$OUT" ;;
            *) compare "real-$name" "$d" cosine ;;
            esac
        done
    else
        log "no real vectors ($R/item_factors.npy missing): synthetic only"
    fi
fi

# Results: the issue's format, the details, the tables.
$PY - "$OUT" "$BIN" "$LARGE" <<'EOF'
import json, os, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
keys = ["impl", "dataset", "n", "dim", "M", "ef_construction", "ef", "recall_at_10",
        "qps_1t", "qps_2t", "build_s", "memory_mb"]
main = [{k: r[k] for k in keys} for r in rows if r.get("impl") in ("bookrec", "hnswlib", "faiss")]
suffix = "_large" if sys.argv[3] == "1" else ""
with open(f"bench/results/ann{suffix}.json", "w") as f:
    json.dump(main, f, indent=1)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
env = {"cpu": cpu, "cores": os.cpu_count(), "load_average_at_end": os.getloadavg(),
       "kernel": platform.release(),
       "simd_kernel": "see stderr of bench-ann (avx512 on this machine)"}
try:
    import hnswlib, faiss
    env["faiss"] = faiss.__version__
    env["faiss_simd"] = faiss.get_compile_options()
except Exception as e:
    env["refs"] = str(e)
with open(f"bench/results/ann_details{suffix}.json", "w") as f:
    json.dump({"environment": env, "rows": rows}, f, indent=1)
EOF
$PY bench/ann_ref.py report "$OUT" > "bench/results/ann_tables$([ $LARGE = 1 ] && echo _large).md"
log "done: bench/results/ann$([ $LARGE = 1 ] && echo _large).json"
cat "bench/results/ann_tables$([ $LARGE = 1 ] && echo _large).md"
