#!/usr/bin/env bash
# Browser tests of the web UI (tests/e2e/e2e.test.mjs), or with "screenshots" the
# screenshots of every page into docs/screenshots/ (tests/e2e/screenshots.mjs).
#
# 1. npm dependencies (playwright-core, pinned in package-lock.json) with `npm ci` when
#    node_modules is missing; Debian's chromium (apt package "chromium") must be there
#    (installed here when running as root with apt-get; else the script says so).
# 2. The data, as scripts/run.sh builds it: the real data (../shared/data or
#    $BOOKREC_DATA: goodbooks10k, descriptions, openlibrary, bookcrossing), or when it is
#    absent the synthetic `bookrec demo-data`; imported, split, trained (ALS, the served
#    subject model, popularity) and published, with models.warm_min_ratings=5. The
#    result is cached in $BOOKREC_E2E_CACHE (default var/e2e) and reused while the
#    binary's version and the sources are the same (BOOKREC_E2E_REBUILD=1 forces a
#    rebuild); each run serves a copy of its database, so runs do not see each other's
#    accounts.
# 3. The all-in-one server on a free port with the web UI from web/ ($BOOKREC_WEB_DIR
#    overrides it), until the tests end.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
MODE=${1:-test}
BIN=${BOOKREC_BIN:-build/bookrec}
DATA=${BOOKREC_DATA:-../shared/data}
CACHE=${BOOKREC_E2E_CACHE:-var/e2e}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
WEB=${BOOKREC_WEB_DIR:-$ROOT/web}
SET=(--set models.warm_min_ratings=5)
log() { echo "e2e: $*" >&2; }

[ -x "$BIN" ] || { log "$BIN not found: build it first (make -j2 all)"; exit 2; }
command -v node >/dev/null || { log "node is required (apt: nodejs npm)"; exit 2; }
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing chromium (apt)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
    else
        log "$CHROMIUM not found: install Debian's chromium (apt-get install chromium)"
        exit 2
    fi
fi
if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    log "installing npm dependencies (npm ci)"
    (cd tests/e2e && npm ci --no-audit --no-fund >&2)
fi

# ---- data ----
if [ -d "$DATA/bookcrossing" ]; then
    sources=("$DATA/goodbooks10k" "$DATA/descriptions" "$DATA/openlibrary" "$DATA/bookcrossing")
    kind=real
else
    sources=("$CACHE/demo-data")
    kind=demo
fi
stamp="$("$BIN" version) | $kind | ${sources[*]} | warm_min_ratings=5"
if [ "${BOOKREC_E2E_REBUILD:-0}" = 1 ] || [ ! -f "$CACHE/stamp" ] || [ "$(cat "$CACHE/stamp")" != "$stamp" ]; then
    log "building the $kind data into $CACHE (import, split, train, publish)"
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    t0=$SECONDS
    [ "$kind" = demo ] && "$BIN" demo-data "$CACHE/demo-data"
    "$BIN" "${SET[@]}" import --db "$CACHE/bookrec.db" --report-json "$CACHE/import-report.json" "${sources[@]}" >&2
    log "import: $((SECONDS - t0)) s"
    "$BIN" "${SET[@]}" split --db "$CACHE/bookrec.db" >&2
    log "split: $((SECONDS - t0)) s"
    pool=$("$BIN" config show 2>/dev/null | awk '$1 == "serve.subject_pool" {print $2}')
    "$BIN" "${SET[@]}" train --db "$CACHE/bookrec.db" --out "$CACHE/model" --pool "${pool:-perdim}" >&2
    log "train: $((SECONDS - t0)) s"
    "$BIN" "${SET[@]}" publish --db "$CACHE/bookrec.db" --model "$CACHE/model" --artifacts "$CACHE/artifacts" >&2
    log "publish: $((SECONDS - t0)) s (data ready)"
    echo "$stamp" > "$CACHE/stamp"
else
    log "reusing the $kind data in $CACHE"
fi

# ---- server ----
RUN=$(mktemp -d "${TMPDIR:-/tmp}/bookrec-e2e.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$RUN"
}
trap cleanup EXIT
cp "$CACHE/bookrec.db" "$RUN/bookrec.db"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" "${SET[@]}" --set serve.web_dir="$WEB" serve --db "$RUN/bookrec.db" \
    --artifacts "$CACHE/artifacts" --listen "127.0.0.1:$PORT" > "$RUN/server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    if curl -fsS "$URL/health/ready" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "the server exited:"; cat "$RUN/server.log" >&2; exit 1
    fi
    sleep 0.2
done
curl -fsS "$URL/health/ready" >/dev/null || { log "the server is not ready:"; tail -20 "$RUN/server.log" >&2; exit 1; }
log "server ready at $URL ($kind data)"

export BOOKREC_URL=$URL BOOKREC_DATA_KIND=$kind CHROMIUM
status=0
case "$MODE" in
    test) node --test --test-reporter=spec --test-concurrency=1 tests/e2e/e2e.test.mjs || status=$? ;;
    screenshots) node tests/e2e/screenshots.mjs "$ROOT/docs/screenshots" || status=$? ;;
    *) log "usage: tests/e2e/run.sh [test|screenshots]"; status=2 ;;
esac
if [ "$status" != 0 ]; then
    log "failed; the server's log:"
    tail -40 "$RUN/server.log" >&2
fi
exit "$status"
