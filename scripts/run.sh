#!/usr/bin/env bash
# `make run`: the main job as far as the product goes at this commit.
# Imports the real data (../shared/data or $BOOKREC_DATA) or, when it is absent,
# a synthetic catalog written by `bookrec demo-data`; makes the frozen
# evaluation split with its train-only features and exports it; trains every
# model on the train fold and evaluates them (warm, cold, similarity); publishes
# the result as a model version and serves it: the gateway (API and web UI) and
# the five model services in one process on http://localhost:8080 ($PORT
# overrides the port), until interrupted.
# Re-running is incremental: the database in var/ is kept.
set -euo pipefail
BIN=${BOOKREC_BIN:-build/bookrec}
DATA=${BOOKREC_DATA:-../shared/data}
VAR=${BOOKREC_VAR:-var}
DB="$VAR/bookrec.db"
mkdir -p "$VAR"

if [ -d "$DATA/bookcrossing" ]; then
    echo "run: importing the real data from $DATA"
    sources=("$DATA/goodbooks10k" "$DATA/descriptions" "$DATA/openlibrary" "$DATA/bookcrossing")
else
    echo "run: $DATA not found: generating a SYNTHETIC demo catalog in $VAR/demo-data"
    "$BIN" demo-data "$VAR/demo-data"
    sources=("$VAR/demo-data")
fi
"$BIN" import --db "$DB" --report-json "$VAR/import-report.json" "${sources[@]}"
"$BIN" split --db "$DB" --export "$VAR/split"
"$BIN" train --db "$DB" --out "$VAR/model"
"$BIN" eval --db "$DB" --model "$VAR/model" --report-json "$VAR/eval-report.json"
"$BIN" publish --db "$DB" --model "$VAR/model" --artifacts "$VAR/artifacts" \
    --eval-report "$VAR/eval-report.json"
echo
echo "run: database $DB, import report $VAR/import-report.json, split exported to $VAR/split/,"
echo "run: models in $VAR/model/, evaluation report $VAR/eval-report.json,"
echo "run: model versions in $VAR/artifacts/ (bookrec versions list)"
echo "run: serving on http://localhost:${PORT:-8080} (API: docs/api.md); Ctrl-C stops"
exec "$BIN" serve --db "$DB" --artifacts "$VAR/artifacts" --listen "127.0.0.1:${PORT:-8080}"
