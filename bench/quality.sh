#!/usr/bin/env bash
# Model quality on the real data: import (Book-Crossing union + goodbooks subjects +
# descriptions), split, train, evaluate; writes bench/results/quality.json (the eval
# report) and bench/results/quality_tables.md (the tables of bench/quality.md).
set -euo pipefail
BIN=${BOOKREC_BIN:-build/bookrec}
DATA=${BOOKREC_DATA:-../shared/data}
WORK=${QUALITY_DIR:-var/quality}
[ -d "$DATA/bookcrossing" ] || { echo "bench-quality: $DATA not found" >&2; exit 1; }
mkdir -p "$WORK" bench/results
rm -f "$WORK/q.db"
"$BIN" import --quiet --db "$WORK/q.db" "$DATA/bookcrossing" "$DATA/goodbooks10k" "$DATA/descriptions"
"$BIN" split --db "$WORK/q.db" > /dev/null
/usr/bin/time -f "train: %e s, %M KB" "$BIN" train --db "$WORK/q.db" --out "$WORK/model" 2> "$WORK/train.log" \
    || { tail -20 "$WORK/train.log"; exit 1; }
tail -1 "$WORK/train.log"
"$BIN" eval --db "$WORK/q.db" --model "$WORK/model" --report-json bench/results/quality.json
/usr/bin/python3 bench/quality_table.py bench/results/quality.json > bench/results/quality_tables.md
cat bench/results/quality_tables.md
