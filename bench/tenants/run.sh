#!/usr/bin/env bash
# bench/tenants/run.sh - `fleet tenant list --search` over 10,000 tenants: the exact query
# TenantStore.ListAsync runs, in a throwaway database migrated with the controller's own
# migrations (0001..0012) and seeded with N tenants (two domains each) on 20 hosts. Each search
# runs R times in one psql session (client-side \timing: parse, plan, execute, transfer of up to
# 1001 rows); the baseline is the same query in the same run after the pg_trgm indexes are
# dropped (a sequential scan of both tables). Prints median / p95 / max in ms and the rows.
#
# Usage: bench/tenants/run.sh [--tenants N] [--runs R]
# Needs: psql, and a PostgreSQL role that may create databases, as the tests use it:
#   . /etc/odoofleet/stack.env; export OF_TEST_PG="Host=127.0.0.1;Username=odoofleet;Password=$OF_PG_PASSWORD;Database=postgres"
# The database is dropped at the end (also on failure). Nothing else is touched.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MIGRATIONS="$ROOT/src/Controller/Persistence/Migrations"
TENANTS=10000
RUNS=30
TARGET_MS=300
while (($#)); do
  case $1 in
    --tenants) TENANTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $TENANTS =~ ^[0-9]+$ ]] && ((TENANTS >= 100 && TENANTS <= 1000000)) || { echo "bench: --tenants must be 100..1000000" >&2; exit 2; }
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 5 && RUNS <= 1000)) || { echo "bench: --runs must be 5..1000" >&2; exit 2; }
[ -n "${OF_TEST_PG:-}" ] || { echo "bench: set OF_TEST_PG (see --help)" >&2; exit 2; }

log() { printf '[bench] %s\n' "$*" >&2; }

# OF_TEST_PG is an Npgsql connection string; psql takes the same fields from the environment.
field() { tr ';' '\n' <<<"$OF_TEST_PG" | sed -n "s/^$1=//Ip" | head -1; }
export PGHOST=$(field Host) PGUSER=$(field Username) PGPASSWORD=$(field Password) PGPORT=$(field Port)
[ -n "$PGPORT" ] || export PGPORT=5432
DB="of_bench_tenants_$$"
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d "$(field Database)" "$@"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
cleanup() { psql_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "creating $DB and applying the controller's migrations"
psql_admin -c "CREATE DATABASE \"$DB\"" >/dev/null
for migration in "$MIGRATIONS"/[0-9][0-9][0-9][0-9]_*.sql; do
  psql_db -f "$migration" >/dev/null
done

log "seeding $TENANTS tenants (two domains each) on 20 hosts"
psql_db >/dev/null <<SQL
INSERT INTO hosts (id, name, queue, enrolled_at)
SELECT 'h-bench' || lpad(h::text, 5, '0'), 'web-' || lpad(h::text, 2, '0'), 'q', now() FROM generate_series(1, 20) h;
WITH words(w) AS (SELECT unnest(ARRAY['acme','globex','initech','umbrella','stark','wayne','hooli','vandelay','wonka','tyrell']))
INSERT INTO tenants (id, name, host_id, plan, state, database_name, primary_domain, modules, request, spec_generation, created_at, updated_at)
SELECT 'n-' || lpad(i::text, 10, '0'), n, 'h-bench' || lpad((i % 20 + 1)::text, 5, '0'), 'small', 'active', n, n || '.erp.example.com',
       ARRAY['base'], '{}', 1, now(), now()
FROM (SELECT i, (SELECT w FROM words OFFSET i % 10 LIMIT 1) || '-' || substr(md5(i::text), 1, 6) || '-' || i AS n
      FROM generate_series(1, $TENANTS) i) s;
INSERT INTO tenant_domains (domain, tenant_id, position)
SELECT primary_domain, id, 0 FROM tenants
UNION ALL
SELECT 'shop-' || substr(md5(name), 1, 10) || '.example.org', id, 1 FROM tenants;
ANALYZE hosts, tenants, tenant_domains;
SQL

# The query of TenantStore.ListAsync with a search (limit 1000 + 1), as Npgsql sends it.
QUERY="SELECT t.id, t.name, t.host_id, COALESCE(h.name, ''), t.plan, t.state, t.database_name, t.primary_domain, t.modules,
  t.created_at, t.updated_at, t.database_bytes, t.filestore_bytes, t.last_backup_at
FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE true
  AND t.id IN (SELECT id FROM tenants WHERE name LIKE \$1 UNION SELECT tenant_id FROM tenant_domains WHERE domain LIKE \$1)
ORDER BY t.name LIMIT 1001"

# search text -> what it stands for (parts of one seeded tenant's name and alias, taken from the data)
pick=n-$(printf '%010d' $((TENANTS / 2)))
name_part=$(psql_db -A -t -c "SELECT substr(name, 1, length(name) - 2) FROM tenants WHERE id = '$pick'")
alias_part=$(psql_db -A -t -c "SELECT substr(domain, 3, 12) FROM tenant_domains WHERE tenant_id = '$pick' AND position = 1")
SEARCHES=("$name_part" "part of a tenant's name"
          "$alias_part" "part of a tenant's alias"
          "erp.example" "every tenant (cut at 1000)"
          "zzz-nothing" "no match")

# Prints "median p95 max rows" for one search text.
measure() {
  local text=$1 out literal="'%$1%'"
  out=$( { echo '\timing on'; echo "PREPARE q(text) AS $QUERY;";
           for ((i = 0; i < RUNS; i++)); do echo "EXECUTE q('%${text}%');"; done
           echo '\timing off'; echo "SELECT count(*) FROM (${QUERY//\$1/$literal}) x;"; } | psql_db -A -t 2>&1)
  local rows times
  rows=$(grep -v '^Time:' <<<"$out" | tail -1)
  times=$(grep '^Time:' <<<"$out" | tail -n "$RUNS" | awk '{print $2}' | sort -n)
  awk -v rows="$rows" -v n="$RUNS" '{ t[NR] = $1 } END {
      p95 = int(n * 0.95 + 0.5); if (p95 < 1) p95 = 1; if (p95 > n) p95 = n
      printf "%.2f %.2f %.2f %s\n", t[int((n + 1) / 2)], t[p95], t[n], rows }' <<<"$times"
}

declare -A INDEXED
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  INDEXED[${SEARCHES[s]}]=$(measure "${SEARCHES[s]}")
done
literal="'%${name_part}%'"
plan=$(psql_db -A -t -c "EXPLAIN ${QUERY//\$1/$literal}" | grep -o 'Bitmap Index Scan on [a-z_]*' | sort -u | tr '\n' ' ')

log "baseline: dropping the trigram indexes"
psql_db -c "DROP INDEX tenants_name_trgm; DROP INDEX tenant_domains_trgm; ANALYZE tenants, tenant_domains;" >/dev/null

echo
echo "fleet tenant list --search over $TENANTS tenants ($((TENANTS * 2)) domains, 20 hosts): TenantStore's query, $RUNS runs each, ms"
echo "(client-side psql timing: plan, execute and transfer of up to 1001 rows; the gRPC and CLI start-up come on top)"
echo
printf '%-20s %-28s %6s  %8s %8s %8s  %8s %8s  %s\n' "search" "what" "rows" "median" "p95" "max" "base med" "base p95" "target (p95 < ${TARGET_MS} ms)"
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  text=${SEARCHES[s]}
  read -r med p95 max rows <<<"${INDEXED[$text]}"
  read -r bmed bp95 _ _ <<<"$(measure "$text")"
  verdict=$(awk -v p="$p95" -v t="$TARGET_MS" 'BEGIN { print (p < t) ? "ok" : "MISSED" }')
  printf '%-20s %-28s %6s  %8s %8s %8s  %8s %8s  %s\n' "$text" "${SEARCHES[s + 1]}" "$rows" "$med" "$p95" "$max" "$bmed" "$bp95" "$verdict"
done
echo
echo "indexed plan uses: ${plan:-no trigram index (the planner chose a scan)}"
echo "baseline: the same query after DROP INDEX tenants_name_trgm, tenant_domains_trgm (sequential scans)."
