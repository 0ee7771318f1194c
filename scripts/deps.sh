#!/usr/bin/env bash
# Installs the Debian packages that bookrec's build and tests need, when missing.
# Idempotent and quiet when everything is present. Extra packages may be given
# as arguments (CI adds clang for the fuzzers).
set -euo pipefail

PKGS=(
    gcc make pkg-config            # toolchain (libgomp comes with gcc)
    libsqlite3-dev                 # embedded store
    libjansson-dev                 # JSON (reports, manifests)
    libxxhash-dev                  # hashing
    libopenblas-openmp-dev         # BLAS, the OpenMP build (no thread fight inside our regions)
    liblapacke-dev                 # LAPACKE (exact Cholesky solves for checking ALS)
    libmicrohttpd-dev              # HTTP server (model services, gateway)
    libcurl4-openssl-dev           # HTTP client (gateway -> services)
    libsodium-dev                  # Argon2id password hashes, session tokens
    python3-pytest                 # black-box CLI/integration tests (/usr/bin/python3)
    python3-requests               # black-box HTTP tests
    python3-numpy                  # tests read .npy artifacts; benchmark baselines
    postgresql                     # migrations are checked against a real PostgreSQL
    chromium                       # browser tests of the web UI (playwright-core from npm)
)
PKGS+=("$@")

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js and npm may come from another packaging (whose nodejs bundles npm and conflicts
# with Debian's npm): only the commands matter.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
