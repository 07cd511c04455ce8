#!/usr/bin/env bash
# bench/rollout/run.sh - rollout orchestration overhead with simulated hosts: a real controller
# (built from this tree), real PostgreSQL and RabbitMQ, and N virtual agents (bench/FleetSim) that
# enroll, heartbeat, verify every signed command and answer instantly. For each N: a plain converge
# round (ConfigureHost on every host: the protocol floor, measured in the same run), then a rollout
# to 18.0 with batch 10% and a canary of 1, from StartRollout to SUCCEEDED. Prints a table with the
# target (5,000 hosts in under 60 s) and writes bench/rollout/last-run.txt.
#
# Usage (as root): bench/rollout/run.sh [--hosts LIST] [--keep] [--parallel P] [--heartbeat S]
#   --hosts LIST     comma-separated host counts (default 1000,5000), each 1..20000
#   --keep           keep the temp dir (controller logs, fixture) and the last count's database and vhost
#   --parallel P     concurrent enrollments / API calls of the simulator (default 16)
#   --heartbeat S    heartbeat interval the controller asks of agents (default 30; offline after 3x)
# Uses its OWN controller (ports on 127.0.0.1, database odoofleet_bench, vhost /odoofleet-bench,
# data dir under a temp dir), never the quickstart stack; credentials from /etc/odoofleet/stack.env.
set -euo pipefail
# A stack lock inherited from build.sh must not be held by the daemons started here.
exec 9>&-
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HOSTS_LIST=1000,5000
KEEP=0
PARALLEL=16
HEARTBEAT=30
DB=odoofleet_bench
VHOST=/odoofleet-bench
VHOST_ENC=%2Fodoofleet-bench
TARGET_HOSTS=5000
TARGET_SECONDS=60
PHASE_TIMEOUT=900
while (($#)); do
  case $1 in
    --hosts) HOSTS_LIST=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --heartbeat) HEARTBEAT=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a COUNTS <<<"$HOSTS_LIST"
for n in "${COUNTS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 20000)) || { echo "bench: --hosts takes counts 1..20000, comma-separated (got '$HOSTS_LIST')" >&2; exit 2; }
done
[[ $PARALLEL =~ ^[0-9]+$ ]] && ((PARALLEL >= 1 && PARALLEL <= 256)) || { echo "bench: --parallel must be 1..256" >&2; exit 2; }
[[ $HEARTBEAT =~ ^[0-9]+$ ]] && ((HEARTBEAT >= 1 && HEARTBEAT <= 3600)) || { echo "bench: --heartbeat must be 1..3600" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it reads /etc/odoofleet/stack.env and creates a database as postgres)" >&2; exit 2; }
[ -r /etc/odoofleet/stack.env ] || { echo "bench: /etc/odoofleet/stack.env is missing; run deploy/stack.sh deps first" >&2; exit 2; }
# shellcheck disable=SC1091
. /etc/odoofleet/stack.env

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# The management HTTP API with credentials on stdin (curl -K -), never in argv where `ps` shows them.
mq_api() {
  local method=$1 path=$2; shift 2
  printf 'user = "odoofleet:%s"\n' "$OF_MQ_PASSWORD" | curl -K - -fsS --max-time 60 -X "$method" -H 'content-type: application/json' \
    "http://127.0.0.1:15672/api$path" "$@"
}
pg() { PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

runuser -u postgres -- psql -qAtc 'select 1' >/dev/null 2>&1 || die "PostgreSQL is not running (deploy/stack.sh deps starts it)"
mq_api GET /whoami -o /dev/null 2>/dev/null || die "RabbitMQ's management API on 127.0.0.1:15672 does not accept the odoofleet user (deploy/stack.sh deps sets it up)"

# ---------------------------------------------------------------- build (this tree's controller and the simulator)
log "building the controller and the fleet simulator (Release)"
for p in src/Controller bench/FleetSim; do
  dotnet build "$ROOT/$p" -c Release --nologo -v quiet -warnaserror >/dev/null || die "dotnet build $p failed; run it by hand to see why"
done
CONTROLLER_BIN="$ROOT/src/Controller/bin/Release/net10.0"
FLEETSIM="$ROOT/bench/FleetSim/bin/Release/net10.0/odoofleet-fleetsim"
[ -x "$CONTROLLER_BIN/odoofleet-controller" ] && [ -x "$FLEETSIM" ] || die "build output missing ($CONTROLLER_BIN/odoofleet-controller, $FLEETSIM)"

WORK=$(mktemp -d /tmp/odoofleet-rollout-bench.XXXXXX)
CONTROLLER_PID=""
bash "$ROOT/tests/fixture/make-fixture-odoo.sh" "$WORK/fixture" >/dev/null
SOURCE_URL="$WORK/fixture/odoo.git"
(umask 077; head -c32 /dev/urandom | base64 > "$WORK/secrets.key")
# N agents hold N TLS connections to the controller, and the simulator holds their other ends.
ulimit -n "$(ulimit -Hn)"

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

# The per-host broker users the controller made are global (not per vhost): remove exactly those
# holding permissions on the bench vhost, then the vhost and its queues.
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

drop_database() { pg -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; }

cleanup() {
  local rc=$?
  stop_controller
  if ((KEEP)); then
    log "kept: $WORK (controller logs, fixture), database $DB, vhost $VHOST"
  else
    drop_broker || log "could not remove vhost $VHOST and its users"
    drop_database || log "could not drop database $DB"
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

fresh_backends() {
  drop_broker
  drop_database
  pg -c "CREATE DATABASE $DB OWNER odoofleet" >/dev/null
  mq_api PUT "/vhosts/$VHOST_ENC" -o /dev/null
  mq_api PUT "/permissions/$VHOST_ENC/odoofleet" --data-binary '{"configure":".*","write":".*","read":".*"}' -o /dev/null
}

start_controller() {  # N
  API_PORT=$(free_port); AGENT_PORT=$(free_port); SILO_PORT=$(free_port); GATEWAY_PORT=$(free_port)
  mkdir -p "$WORK/data-$1"
  (
    cd "$WORK/data-$1"
    export ASPNETCORE_URLS="http://127.0.0.1:$API_PORT;https://127.0.0.1:$AGENT_PORT"
    export Security__ServerNames__0=127.0.0.1
    # Virtual hosts never check the Odoo master password hash: 1,000 PBKDF2 rounds instead of
    # 600,000 spare setup ~0.6 CPU-seconds per host (not part of any measured phase).
    export Security__OdooAdminHashRounds=1000
    export ConnectionStrings__Fleet="Host=127.0.0.1;Username=odoofleet;Password=$OF_PG_PASSWORD;Database=$DB"
    export Fleet__SourceUrl="$SOURCE_URL"
    export Fleet__AgentEndpoints__0="https://127.0.0.1:$AGENT_PORT"
    export Fleet__ApiToken="$OF_API_TOKEN"
    export Fleet__HeartbeatIntervalSeconds="$HEARTBEAT" Fleet__OfflineAfterSeconds=$((HEARTBEAT * 3))
    # Where a controller keeps its own files (the rollout engine's release cache).
    export Fleet__DataDirectory="$WORK/data-$1"
    export Secrets__KeyFile="$WORK/secrets.key"
    export Broker__Host=127.0.0.1 Broker__VirtualHost="$VHOST" Broker__Username=odoofleet Broker__Password="$OF_MQ_PASSWORD"
    # One silo with Orleans' production timeouts (no fast failure detection: nothing to detect).
    export Cluster__ClusterId=odoofleet-bench Cluster__ServiceId=odoofleet-bench
    export Cluster__SiloPort=$SILO_PORT Cluster__GatewayPort=$GATEWAY_PORT
    exec "$CONTROLLER_BIN/odoofleet-controller" --contentRoot "$CONTROLLER_BIN" >"$WORK/controller-$1.log" 2>&1 </dev/null
  ) &
  CONTROLLER_PID=$!
  local end=$((SECONDS + 120))
  until curl -ksf --http2 -o /dev/null --max-time 2 "https://127.0.0.1:$AGENT_PORT/fleet-ca.crt"; do
    kill -0 "$CONTROLLER_PID" 2>/dev/null || { tail -20 "$WORK/controller-$1.log" >&2; die "the controller exited at start (log above)"; }
    ((SECONDS < end)) || die "the controller did not answer on :$AGENT_PORT within 120 s (log: $WORK/controller-$1.log)"
    sleep 0.5
  done
}

# ---------------------------------------------------------------- runs
RESULTS=()
for n in "${COUNTS[@]}"; do
  log "N=$n: fresh database $DB and vhost $VHOST, controller from this tree"
  fresh_backends
  start_controller "$n"
  log "N=$n: controller pid $CONTROLLER_PID, API http://127.0.0.1:$API_PORT, agents https://127.0.0.1:$AGENT_PORT"
  OF_BENCH_API_TOKEN=$OF_API_TOKEN OF_BENCH_MQ_PASSWORD=$OF_MQ_PASSWORD \
    timeout $((PHASE_TIMEOUT * 3 + n * 2 + 300)) "$FLEETSIM" --api "http://127.0.0.1:$API_PORT" --agent "https://127.0.0.1:$AGENT_PORT" \
      --hosts "$n" --controller-pid "$CONTROLLER_PID" --mq-vhost "$VHOST" --mq-user odoofleet --parallel "$PARALLEL" \
      --series 18.0 --batch 10% --canary 1 --timeout "$PHASE_TIMEOUT" --out "$WORK/result-$n.json" \
    || { tail -20 "$WORK/controller-$n.log" >&2; KEEP=1; die "N=$n: the simulated run failed (controller log tail above; kept $WORK)"; }
  RESULTS+=("$WORK/result-$n.json")
  stop_controller
  ((KEEP)) && [ "$n" = "${COUNTS[-1]}" ] || drop_broker
done

# ---------------------------------------------------------------- table
table() {
python3 - "$TARGET_HOSTS" "$TARGET_SECONDS" "$HEARTBEAT" "${RESULTS[@]}" <<'PY'
import json, sys
target_hosts, target_seconds, heartbeat = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
runs = [json.load(open(p)) for p in sys.argv[4:]]
print()
print("Rollout orchestration overhead: virtual agents answering instantly; real controller, PostgreSQL, RabbitMQ (loopback)")
print(f"heartbeat every {heartbeat} s; shortcut: {runs[0]['shortcut']}; Odoo master password hashes with 1,000 PBKDF2 rounds (setup only)")
print()
head = f"{'hosts':>6}  {'phase':<38} {'wall s':>8} {'hosts/s':>8} {'converge':>8} {'stage':>6} {'resent':>6} {'reports':>8} {'ctl CPU s':>9} {'ctl RSS MB':>10} {'sim CPU s':>9} {'pg CPU s':>8} {'mq CPU s':>8} {'load':>14}  target"
print(head)
print("-" * len(head))
for r in runs:
    n = r["hosts"]
    floor, rollout = r["phases"][0], r["phases"][1]
    for p in (floor, rollout):
        target = ""
        if p is rollout and n == target_hosts:
            target = f"< {target_seconds:.0f} s: {'ok' if p['wall_seconds'] < target_seconds and r['rollout_state'] == 'Succeeded' else 'MISSED'}"
        print(f"{n:>6}  {p['name'][:38]:<38} {p['wall_seconds']:>8.2f} {n / p['wall_seconds']:>8.0f} {p['converge_commands']:>8} "
              f"{p['stage_commands']:>6} {p['stale_commands']:>6} {p['converge_reports']:>8} {p['controller_cpu_seconds']:>9.1f} "
              f"{p['controller_peak_rss_mb']:>10.0f} {p['simulator_cpu_seconds']:>9.1f} {p['postgres_cpu_seconds']:>8.1f} {p['rabbit_mq_cpu_seconds']:>8.1f} {p['load_average']:>14}  {target}")
    overhead = rollout["wall_seconds"] - floor["wall_seconds"]
    print(f"{n:>6}  {'rollout overhead over the floor':<38} {overhead:>8.2f} {'':>8} {'(' + format(rollout['wall_seconds'] / floor['wall_seconds'], '.1f') + 'x)':>8}"
          f"   rollout {r['rollout_state']} in {r['rollout_batches'] or 'no'} batches ({r['rollout_poll_errors']} failed polls): {r['rollout_message']}; setup (not measured): enroll + first converge {r['enroll_seconds']:.0f} s, online {r['online_wait_seconds']:.0f} s")
print()
print("converge/stage: commands the hosts received (resent: converges for a generation already reported); reports: ReportConverge calls;")
print("ctl: the controller process (CPU seconds used, peak RSS sampled every 100 ms); sim: the simulator on the same 2 cores;")
print("pg / mq: every postgres / beam.smp (RabbitMQ) process on the box, with the children they reaped (the tests' load too, if any);")
print("load: the box's 1/5/15-minute load average when the phase started (other work on the 2 cores skews every figure).")
PY
}
{
  echo "bench/rollout/run.sh --hosts $HOSTS_LIST at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
  table
} | tee "$HERE/last-run.txt"
