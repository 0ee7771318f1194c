#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd with `systemd-analyze verify`.
#
# verify resolves ExecStart= binaries, so bookrec is installed at the path the units name
# (/usr/local/bin/bookrec) first; systemd's tools are installed with apt when missing.
# Template units are verified through instances (bookrec-model@als.service, the
# notification unit for bookrec-train.service), all from a private unit directory so that
# the units' references to each other resolve. Exits non-zero on any finding.
#
#   scripts/systemd_verify.sh [path/to/bookrec]    (default: $BOOKREC_BIN, else build/bookrec)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${BOOKREC_BIN:-build/bookrec}}
UNITS=deploy/systemd
DEST=/usr/local/bin/bookrec

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd_verify: installing systemd (systemd-analyze)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
[ -x "$BIN" ] || { echo "systemd_verify: $BIN not built (make all)" >&2; exit 1; }
if ! cmp -s "$BIN" "$DEST" 2>/dev/null; then
    install -D -m 0755 "$BIN" "$DEST"
    echo "systemd_verify: installed $BIN as $DEST"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$UNITS"/*.service "$UNITS"/*.timer "$tmp"/
# Instances of the templates, as systemd would name them.
for role in embedder similarity als metadata semantic; do
    ln -s "bookrec-model@.service" "$tmp/bookrec-model@$role.service"
done
ln -s "bookrec-notify@.service" "$tmp/bookrec-notify@bookrec-train.service.service"

units=()
for f in "$tmp"/*.service "$tmp"/*.timer; do
    case "$(basename "$f")" in
        *@.service) ;; # templates: verified through their instances
        *) units+=("$f") ;;
    esac
done
# The units run as User=bookrec: verify does not need the user, but say if it is missing.
getent passwd bookrec >/dev/null || echo "systemd_verify: note: no bookrec user on this host (docs/operations.md creates it)"
out=$(SYSTEMD_UNIT_PATH="$tmp:" systemd-analyze verify --man=no "${units[@]}" 2>&1) || {
    echo "$out" >&2
    echo "systemd_verify: FAILED" >&2
    exit 1
}
# verify exits 0 on some warnings: treat any line about our units as a finding.
if echo "$out" | grep -E "bookrec" >&2; then
    echo "systemd_verify: FAILED (warnings above)" >&2
    exit 1
fi
echo "systemd_verify: ${#units[@]} units OK: $(for u in "${units[@]}"; do basename "$u"; done | tr '\n' ' ')"
