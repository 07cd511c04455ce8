#!/usr/bin/env bash
# bench/tenants/run.sh - `fleet tenant list --search` over 10,000 tenants, at two levels, in one run
# against a controller built from this tree (src/Controller, Release) on its OWN PostgreSQL database
# (odoofleet_bench_tenants, migrated by the controller at start), RabbitMQ vhost
# (/odoofleet-bench-tenants) and loopback ports; the store is seeded with N tenants (two domains
# each) on 20 hosts by SQL.
#  1. SQL: the exact query TenantStore.ListAsync runs, R times per search in one psql session
#     (client-side \timing: parse, plan, execute, transfer of up to 1001 rows); the baseline is the
#     same query in the same run after the pg_trgm indexes are dropped (sequential scans).
#  2. End to end: R runs of the real CLI (src/Cli published Native AOT, as deploy/stack.sh does) `fleet tenant list --search X -o json`,
#     wall time per process (.NET start-up, gRPC call, controller, PostgreSQL, JSON out), after one
#     untimed warm-up run; rows parsed from the JSON. `fleet --version` in the same run is the
#     process start-up floor. The CLI uses a viewer API token made with `fleet apitoken create`.
# Prints median / p95 / max in ms, the rows, the target (p95 < 300 ms) and the load average, and
# writes the tables to bench/tenants/last-run.txt.
#
# Usage (as root): bench/tenants/run.sh [--tenants N] [--runs R]
#   --tenants N   tenants to seed, 100..1000000 (default 10000)
#   --runs R      timed runs per search and level, 5..1000 (default 30)
# Credentials come from /etc/odoofleet/stack.env (deploy/stack.sh deps); they and the API tokens
# go through files and the environment, never argv or logs. Everything it made (controller, database,
# vhost, temp dir) is removed at the end, also on failure. The quickstart stack is not touched.
set -euo pipefail
# A stack lock inherited from build.sh must not be held by the controller started here.
exec 9>&-
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TENANTS=10000
RUNS=30
TARGET_MS=300
DB=odoofleet_bench_tenants
VHOST=/odoofleet-bench-tenants
VHOST_ENC=%2Fodoofleet-bench-tenants
LOCK=/run/lock/odoofleet-bench-tenants.lock
while (($#)); do
  case $1 in
    --tenants) [ $# -ge 2 ] || { echo "bench: --tenants needs a value, e.g. --tenants 10000" >&2; exit 2; }; TENANTS=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || { echo "bench: --runs needs a value, e.g. --runs 30" >&2; exit 2; }; RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $TENANTS =~ ^[0-9]+$ ]] && ((TENANTS >= 100 && TENANTS <= 1000000)) || { echo "bench: --tenants must be 100..1000000 (got '$TENANTS')" >&2; exit 2; }
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 5 && RUNS <= 1000)) || { echo "bench: --runs must be 5..1000 (got '$RUNS')" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it reads /etc/odoofleet/stack.env and creates a database as postgres)" >&2; exit 2; }
[ -r /etc/odoofleet/stack.env ] || { echo "bench: /etc/odoofleet/stack.env is missing; run deploy/stack.sh deps first" >&2; exit 2; }
for tool in psql curl python3 openssl flock dotnet; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed; deploy/stack.sh deps installs what the benches need" >&2; exit 2; }
done
# shellcheck disable=SC1091
. /etc/odoofleet/stack.env
[ -n "${OF_PG_PASSWORD:-}" ] && [ -n "${OF_MQ_PASSWORD:-}" ] || { echo "bench: /etc/odoofleet/stack.env lacks OF_PG_PASSWORD or OF_MQ_PASSWORD; run deploy/stack.sh deps" >&2; exit 2; }

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# For failures that involve the controller: its log goes with the temp dir at exit, so show its tail.
die_ctl() { [ -s "${WORK:-}/controller.log" ] && { echo "--- controller log (last 20 lines)" >&2; tail -20 "$WORK/controller.log" >&2; }; die "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# One run at a time: two would share the database and vhost names.
exec 8>"$LOCK"
flock -n 8 || die "another bench/tenants/run.sh holds $LOCK; wait for it to finish"

# The management HTTP API with credentials on stdin (curl -K -), never in argv where `ps` shows them.
mq_api() {
  local method=$1 path=$2; shift 2
  printf 'user = "odoofleet:%s"\n' "$OF_MQ_PASSWORD" | curl -K - -fsS --max-time 60 -X "$method" -H 'content-type: application/json' \
    "http://127.0.0.1:15672/api$path" "$@"
}
pg_admin() { PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

runuser -u postgres -- psql -qAtc 'select 1' >/dev/null 2>&1 || die "PostgreSQL is not running (deploy/stack.sh deps starts it)"
mq_api GET /whoami -o /dev/null 2>/dev/null || die "RabbitMQ's management API on 127.0.0.1:15672 does not accept the odoofleet user (deploy/stack.sh deps sets it up)"
LOAD_START=$(loadavg)

# ---------------------------------------------------------------- build (this tree's controller and CLI)
log "building the controller (Release) and publishing the CLI as deploy/stack.sh does (Native AOT)"
# Without the lock's descriptor: build servers outlive the build and would hold the lock.
dotnet build "$ROOT/src/Controller" -c Release --nologo -v quiet -warnaserror >/dev/null 8>&- || die "dotnet build src/Controller failed; run it by hand to see why"
CLI_OUT="$ROOT/bench/tenants/bin/cli"
dotnet publish "$ROOT/src/Cli" -c Release -r linux-x64 -p:PublishAot=true -o "$CLI_OUT" --nologo -v quiet >/dev/null 8>&- \
  || die "dotnet publish src/Cli (Native AOT) failed; run it by hand to see why"
CONTROLLER_BIN="$ROOT/src/Controller/bin/Release/net10.0"
FLEET="$CLI_OUT/fleet"
[ -x "$CONTROLLER_BIN/odoofleet-controller" ] && [ -x "$FLEET" ] || die "build output missing ($CONTROLLER_BIN/odoofleet-controller, $FLEET)"

WORK=$(mktemp -d /tmp/odoofleet-tenants-bench.XXXXXX)
CONTROLLER_PID=""
(umask 077
 head -c32 /dev/urandom | base64 > "$WORK/secrets.key"
 # psql reads the password from a file: neither argv nor the environment of what it starts.
 printf '127.0.0.1:5432:%s:odoofleet:%s\n' "$DB" "$OF_PG_PASSWORD" > "$WORK/pgpass")
export PGPASSFILE="$WORK/pgpass"
# The controller's bootstrap admin token for this run only; it lives in this process and the
# controller's environment, and in the 0600 CLI config that makes the viewer token.
ADMIN_TOKEN="ofapi_$(openssl rand -hex 24)"

stop_controller() {
  [ -n "$CONTROLLER_PID" ] || return 0
  if kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    kill -TERM "$CONTROLLER_PID" 2>/dev/null || true
    local end=$((SECONDS + 30))
    while kill -0 "$CONTROLLER_PID" 2>/dev/null && ((SECONDS < end)); do sleep 0.3; done
    kill -0 "$CONTROLLER_PID" 2>/dev/null && kill -KILL "$CONTROLLER_PID" 2>/dev/null || true
  fi
  wait "$CONTROLLER_PID" 2>/dev/null || true
  CONTROLLER_PID=""
}

# Broker users are global, not per vhost: remove exactly the per-host users (fleet-host-*) holding
# permissions on this bench's vhost (none unless an agent enrolled), then the vhost and its queues.
drop_broker() {
  if mq_api GET "/vhosts/$VHOST_ENC" -o /dev/null 2>/dev/null; then
    # The body goes in a file: curl's stdin carries its credentials.
    mq_api GET "/vhosts/$VHOST_ENC/permissions" | python3 -c '
import json, sys
users = [p["user"] for p in json.load(sys.stdin) if p["user"].startswith("fleet-host-")]
if users:
    json.dump({"users": users}, open(sys.argv[1], "w"))' "$WORK/bulk-delete.json"
    if [ -s "$WORK/bulk-delete.json" ]; then
      mq_api POST /users/bulk-delete --data-binary "@$WORK/bulk-delete.json" -o /dev/null
      rm -f "$WORK/bulk-delete.json"
    fi
    mq_api DELETE "/vhosts/$VHOST_ENC" -o /dev/null
  fi
}

drop_database() { pg_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_controller
  drop_broker || log "could not remove vhost $VHOST and its users; remove them in the RabbitMQ management UI"
  drop_database || log "could not drop database $DB; drop it with: runuser -u postgres -- psql -c 'DROP DATABASE $DB WITH (FORCE)'"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- controller on its own database and vhost
# Leftovers of a run that was SIGKILLed go first (the lock says no other run uses them).
drop_broker
drop_database
pg_admin -c "CREATE DATABASE $DB OWNER odoofleet" >/dev/null
mq_api PUT "/vhosts/$VHOST_ENC" -o /dev/null
mq_api PUT "/permissions/$VHOST_ENC/odoofleet" --data-binary '{"configure":".*","write":".*","read":".*"}' -o /dev/null

API_PORT=$(free_port); AGENT_PORT=$(free_port); SILO_PORT=$(free_port); GATEWAY_PORT=$(free_port)
mkdir -p "$WORK/data"
log "starting the controller (API http://127.0.0.1:$API_PORT, database $DB, vhost $VHOST); it applies its migrations"
(
  exec 8>&-
  cd "$WORK/data"
  export ASPNETCORE_URLS="http://127.0.0.1:$API_PORT;https://127.0.0.1:$AGENT_PORT"
  export Security__ServerNames__0=127.0.0.1
  export ConnectionStrings__Fleet="Host=127.0.0.1;Username=odoofleet;Password=$OF_PG_PASSWORD;Database=$DB"
  # Read only by rollouts and agents' specs; this bench has neither, so nothing is fetched.
  export Fleet__SourceUrl="$WORK/no-odoo-source.git"
  export Fleet__AgentEndpoints__0="https://127.0.0.1:$AGENT_PORT"
  export Fleet__ApiToken="$ADMIN_TOKEN"
  export Fleet__DataDirectory="$WORK/data"
  export Secrets__KeyFile="$WORK/secrets.key"
  export Broker__Host=127.0.0.1 Broker__VirtualHost="$VHOST" Broker__Username=odoofleet Broker__Password="$OF_MQ_PASSWORD"
  export Cluster__ClusterId=odoofleet-bench-tenants Cluster__ServiceId=odoofleet-bench-tenants
  export Cluster__SiloPort=$SILO_PORT Cluster__GatewayPort=$GATEWAY_PORT
  exec "$CONTROLLER_BIN/odoofleet-controller" --contentRoot "$CONTROLLER_BIN" >"$WORK/controller.log" 2>&1 </dev/null
) &
CONTROLLER_PID=$!
end=$((SECONDS + 180))
until curl -ksf --http2 -o /dev/null --max-time 2 "https://127.0.0.1:$AGENT_PORT/fleet-ca.crt"; do
  kill -0 "$CONTROLLER_PID" 2>/dev/null || die_ctl "the controller exited at start (its log above)"
  ((SECONDS < end)) || die_ctl "the controller did not answer on :$AGENT_PORT within 180 s (its log above)"
  sleep 0.5
done

# The CLI finds the controller and its token in the file FLEET_CONFIG names (as the quickstart's
# /etc/odoofleet/fleet.json); FLEET_CONTROLLER from the caller's shell must not redirect it.
unset FLEET_CONTROLLER FLEET_DEBUG
(umask 077
 printf '{"controller": "http://127.0.0.1:%s", "apiToken": "%s"}\n' "$API_PORT" "$ADMIN_TOKEN" > "$WORK/admin.json")
log "making a viewer API token with fleet apitoken create"
FLEET_CONFIG="$WORK/admin.json" "$FLEET" apitoken create --name bench-tenants --role viewer --ttl 1d -o json 2>"$WORK/apitoken.err" \
  | (umask 077; python3 -c '
import json, sys
token = json.load(sys.stdin)["token"]
with open(sys.argv[1], "w") as f:
    json.dump({"controller": sys.argv[2], "apiToken": token}, f)
    f.write("\n")' "$WORK/viewer.json" "http://127.0.0.1:$API_PORT") \
  || { cat "$WORK/apitoken.err" >&2; die_ctl "fleet apitoken create failed (its error first, then the controller's log)"; }
export FLEET_CONFIG="$WORK/viewer.json"
# Both tokens, for the check at the end that none reached a log or an output file.
(umask 077
 { printf '%s\n' "$ADMIN_TOKEN"; python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["apiToken"])' "$FLEET_CONFIG"; } > "$WORK/secrets.patterns")

# ---------------------------------------------------------------- seed the controller's store
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U odoofleet -d "$DB" "$@"; }

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
  t.created_at, t.updated_at, t.database_bytes, t.filestore_bytes, t.last_backup_at, t.desired_state, t.sizes_measured_at,
  t.lang, t.country, t.clone_of, t.neutralize
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

# ---------------------------------------------------------------- 1. SQL level
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

log "SQL level: $RUNS runs of each search"
declare -A INDEXED BASELINE
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  INDEXED[${SEARCHES[s]}]=$(measure "${SEARCHES[s]}")
done
literal="'%${name_part}%'"
# A small store may be scanned (no index named): that is a finding, not a failure.
plan=$(psql_db -A -t -c "EXPLAIN ${QUERY//\$1/$literal}" | { grep -o 'Bitmap Index Scan on [a-z_]*' || true; } | sort -u | tr '\n' ' ')

# ---------------------------------------------------------------- 2. end to end: the CLI against the controller
# Runs `fleet ARGS` RUNS times after one untimed warm-up; each run's stdout goes to $WORK/cli/LABEL-I.out.
# bash's `time` (a keyword: no process around the measured one) gives each process's wall, user and
# system seconds: on a loaded box the wall time waits for a core, the CPU time does not.
TIMEFORMAT='%3R %3U %3S'
time_cli() {
  local label=$1; shift
  mkdir -p "$WORK/cli"
  "$FLEET" "$@" >"$WORK/cli/$label-warmup.out" 2>"$WORK/cli/$label.err" \
    || { cat "$WORK/cli/$label.err" >&2; die_ctl "fleet $* failed in the warm-up run (its error first, then the controller's log)"; }
  local i
  : >"$WORK/cli/$label.times"
  for ((i = 1; i <= RUNS; i++)); do
    { time "$FLEET" "$@" >"$WORK/cli/$label-$i.out" 2>"$WORK/cli/$label.err"; } 2>>"$WORK/cli/$label.times" \
      || { cat "$WORK/cli/$label.err" >&2; die_ctl "fleet $* failed in run $i (its error first, then the controller's log)"; }
  done
}

LOAD_CLI=$(loadavg)
log "end to end: $RUNS runs of fleet --version and of each fleet tenant list --search (load $LOAD_CLI)"
time_cli floor --version
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  time_cli "search$((s / 2))" tenant list --search "${SEARCHES[s]}" -o json
done

# Prints "median p95 max cpu-median" in ms, and for a search the rows every run returned (they must agree) and
# whether the controller said more matched ("truncated").
cli_stats() {  # LABEL [json]
  python3 - "$WORK/cli" "$1" "$RUNS" "${2:-}" <<'PY'
import json, sys
folder, label, runs, is_json = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "json"
times = [[float(x) * 1000 for x in line.split()] for line in open(f"{folder}/{label}.times")]
if len(times) != runs or any(len(t) != 3 for t in times):
    sys.exit(f"{label}: expected {runs} lines 'wall user sys' in {label}.times")
wall = sorted(t[0] for t in times)
cpu = sorted(t[1] + t[2] for t in times)
median, p95 = (runs + 1) // 2 - 1, min(max(int(runs * 0.95 + 0.5), 1), runs) - 1
stats = f"{wall[median]:.0f} {wall[p95]:.0f} {wall[-1]:.0f} {cpu[median]:.0f}"
if is_json:
    seen = set()
    for i in ["warmup"] + [str(i) for i in range(1, runs + 1)]:
        doc = json.load(open(f"{folder}/{label}-{i}.out"))
        seen.add((len(doc["tenants"]), doc["truncated"]))
    if len(seen) != 1:
        sys.exit(f"{label}: the runs returned different results {sorted(seen)}")
    rows, truncated = seen.pop()
    stats += f" {rows} {'yes' if truncated else 'no'}"
print(stats)
PY
}
floor_stats=$(cli_stats floor) || die "could not read the fleet --version timings"
read -r FLOOR_MED FLOOR_P95 FLOOR_MAX FLOOR_CPU <<<"$floor_stats"
declare -A CLI
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  CLI[${SEARCHES[s]}]=$(cli_stats "search$((s / 2))" json) || die "could not read the CLI's JSON output for '${SEARCHES[s]}'"
done

# ---------------------------------------------------------------- baseline: the SQL without the trigram indexes
log "baseline: dropping the trigram indexes"
psql_db -c "DROP INDEX tenants_name_trgm; DROP INDEX tenant_domains_trgm; ANALYZE tenants, tenant_domains;" >/dev/null
for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
  BASELINE[${SEARCHES[s]}]=$(measure "${SEARCHES[s]}")
done
LOAD_END=$(loadavg)

# Neither token may have reached the controller's log or any output the CLI wrote.
if leaked=$(grep -rlF -f "$WORK/secrets.patterns" "$WORK/controller.log" "$WORK/cli" "$WORK/apitoken.err"); then
  die "an API token appeared in $(tr '\n' ' ' <<<"$leaked")(files of this run, removed at exit); that is a bug to fix before publishing numbers"
fi

# ---------------------------------------------------------------- tables
verdict() { awk -v p="$1" -v t="$TARGET_MS" 'BEGIN { print (p < t) ? "ok" : "MISSED" }'; }
report() {
  # Not bench/tenants as a whole: tee is rewriting last-run.txt while this line is made.
  echo "bench/tenants/run.sh --tenants $TENANTS --runs $RUNS at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src bench/tenants/run.sh || echo '+changes'), $(date -u '+%Y-%m-%d %H:%M UTC'), PostgreSQL $(pg_admin -c 'SHOW server_version' | cut -d' ' -f1), $(nproc) cores"
  echo "load average (1/5/15 min): at start $LOAD_START, before the CLI runs $LOAD_CLI, at the end $LOAD_END"
  echo
  echo "fleet tenant list --search over $TENANTS tenants ($((TENANTS * 2)) domains, 20 hosts): TenantStore's query, $RUNS runs each, ms"
  echo "(client-side psql timing: plan, execute and transfer of up to 1001 rows; the gRPC and CLI start-up come on top)"
  echo
  printf '%-20s %-28s %6s  %8s %8s %8s  %8s %8s  %s\n' "search" "what" "rows" "median" "p95" "max" "base med" "base p95" "target (p95 < ${TARGET_MS} ms)"
  local s text med p95 max rows bmed bp95 truncated
  for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
    text=${SEARCHES[s]}
    read -r med p95 max rows <<<"${INDEXED[$text]}"
    read -r bmed bp95 _ _ <<<"${BASELINE[$text]}"
    printf '%-20s %-28s %6s  %8s %8s %8s  %8s %8s  %s\n' "$text" "${SEARCHES[s + 1]}" "$rows" "$med" "$p95" "$max" "$bmed" "$bp95" "$(verdict "$p95")"
  done
  echo
  echo "indexed plan uses: ${plan:-no trigram index (the planner chose a scan)}"
  echo "baseline: the same query after DROP INDEX tenants_name_trgm, tenant_domains_trgm (sequential scans)."
  echo
  echo "End to end: \`fleet tenant list --search TEXT -o json\` (src/Cli, Native AOT as deploy/stack.sh publishes it) against the controller (src/Controller,"
  echo "Release) on loopback, a viewer token, the trigram indexes in place; wall time per process, $RUNS runs each after one warm-up, ms"
  echo
  printf '%-20s %-28s %6s  %8s %8s %8s  %9s %8s  %s\n' "search" "what" "rows" "median" "p95" "max" "med-floor" "cpu med" "target (p95 < ${TARGET_MS} ms)"
  printf '%-20s %-28s %6s  %8s %8s %8s  %9s %8s  %s\n' "(fleet --version)" "start-up floor, no call" "-" "$FLOOR_MED" "$FLOOR_P95" "$FLOOR_MAX" "0" "$FLOOR_CPU" ""
  local cpu
  for ((s = 0; s < ${#SEARCHES[@]}; s += 2)); do
    text=${SEARCHES[s]}
    read -r med p95 max cpu rows truncated <<<"${CLI[$text]}"
    [ "$truncated" = yes ] && rows="$rows+"
    printf '%-20s %-28s %6s  %8s %8s %8s  %9s %8s  %s\n' "$text" "${SEARCHES[s + 1]}" "$rows" "$med" "$p95" "$max" "$((med - FLOOR_MED))" "$cpu" "$(verdict "$p95")"
  done
  echo
  echo "rows: tenants in the JSON (the same in every run; '+': the controller said more match, cut at the default --limit 1000)."
  echo "med-floor: median minus the median of \`fleet --version\` in the same run: the gRPC call (channel, token check,"
  echo "query, protobuf) and rendering the JSON; the rest of each figure is .NET starting the CLI process."
  echo "cpu med: the CLI process's own user + system CPU, median (the controller's and PostgreSQL's are not in it); wall time"
  echo "far above it means the process waited for a core (see the load average above)."
  local one_row share cpu_share
  read -r med _ _ cpu _ _ <<<"${CLI[$name_part]}"
  one_row=$(awk -v f="$FLOOR_MED" -v m="$med" -v fc="$FLOOR_CPU" -v c="$cpu" 'BEGIN { printf "%.0f %.0f", 100 * f / m, 100 * fc / c }')
  read -r share cpu_share <<<"$one_row"
  if ((share >= 50)); then
    echo "Start-up (fleet --version) is ${share}% of the wall median (${cpu_share}% of the CPU) of a one-row search: the CLI's .NET start-up, not the search, sets the time."
  else
    echo "Start-up (fleet --version) is ${share}% of the wall median (${cpu_share}% of the CPU) of a one-row search: the rest is the call (the CLI loading and JIT-compiling its gRPC client, the controller, PostgreSQL)."
  fi
}
report | tee "$HERE/last-run.txt"
