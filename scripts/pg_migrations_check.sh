#!/usr/bin/env bash
# Applies lib/store/migrations/*.sql to a real, throwaway PostgreSQL, the way the store's
# migrations runner does (schema_migrations first, then each file and the row recording it
# in one transaction), and checks that every table the migrations create exists.
#
# The server lives in a fresh temporary directory (listening on a unix socket there only,
# fsync off) and is stopped and removed on exit, so runs are independent and repeatable.
# Quiet on success: prints "pg migrations: N applied, schema ok". Exits 1 on any failure,
# including a missing postgresql package. PG_BINDIR overrides the server's bin directory.
set -euo pipefail

die() {
    echo "pg_migrations_check: $*" >&2
    exit 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
export LC_ALL=C # glob order = version order

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    # The newest installed major version (sort -V: 9.6 < 15).
    bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/psql" ]; then
    die "PostgreSQL server not found (no initdb under ${bindir:-/usr/lib/postgresql/*/bin});" \
        "install the postgresql package: bash scripts/deps.sh"
fi

files=("$root"/lib/store/migrations/*.sql)
[ -e "${files[0]}" ] || die "no migrations in lib/store/migrations/"

# postgres refuses to run as root: run it, and everything that talks to it, as postgres.
as_pg() {
    "$@"
}
if [ "$(id -u)" -eq 0 ]; then
    id -u postgres >/dev/null 2>&1 || die "running as root but there is no postgres user"
    if command -v runuser >/dev/null; then
        as_pg() { runuser -u postgres -- "$@"; }
    else
        as_pg() { su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; }
    fi
fi

tmp=$(mktemp -d /tmp/bookrec-pg.XXXXXX)
started=0
cleanup() {
    if [ "$started" = 1 ]; then
        as_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp"
cd "$tmp" # the server user may not be able to enter the caller's directory

as_pg "$bindir/initdb" -D "$tmp/data" -U bookrec -A trust -E UTF8 --locale=C --no-sync \
    >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
started=1
as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 15 \
    -o "-c listen_addresses='' -k $tmp -c fsync=off -c full_page_writes=off" start \
    >/dev/null 2>&1 || { tail -n 20 "$tmp/server.log" >&2; die "the server did not start"; }

# SQL goes through stdin: the server user may not be able to read the repository.
psql_run() {
    as_pg env PGOPTIONS='-c client_min_messages=warning' "$bindir/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$tmp" -U bookrec -d postgres "$@"
}

# The same table as k_create_migrations in lib/store/store.c.
psql_run -c "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,
    name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)" || die "schema_migrations failed"

n=0
for f in "${files[@]}"; do
    name=$(basename "$f" .sql)
    version=$((10#${name%%_*}))
    {
        cat "$f"
        printf '\n;INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '\''%s'\'', %d);\n' \
            "$version" "$name" "$(date +%s)"
    } | psql_run --single-transaction -f - || die "migration $name failed on PostgreSQL"
    n=$((n + 1))
done

# Expected: every table the migrations create and do not drop, and schema_migrations.
expected=$( (
    echo schema_migrations
    cat "${files[@]}" | tr '[:upper:]' '[:lower:]' |
        sed -n 's/^[[:space:]]*create table \(if not exists \)\{0,1\}\([a-z_0-9]*\).*/+\2/p;
                s/^[[:space:]]*drop table \(if exists \)\{0,1\}\([a-z_0-9]*\).*/-\2/p' |
        awk '{ t = substr($0, 2); if (substr($0, 1, 1) == "+") have[t] = 1; else delete have[t] }
             END { for (t in have) print t }'
) | sort -u)
actual=$(psql_run -At -c "SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1") ||
    die "could not list tables"
missing=$(comm -23 <(echo "$expected") <(echo "$actual" | sort))
[ -z "$missing" ] || die "tables missing after the migrations: $(tr '\n' ' ' <<<"$missing")"
recorded=$(psql_run -At -c "SELECT COUNT(*) FROM schema_migrations") || die "no schema_migrations"
[ "$recorded" = "$n" ] || die "schema_migrations has $recorded rows, expected $n"

echo "pg migrations: $n applied, schema ok"
