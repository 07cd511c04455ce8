#!/usr/bin/env bash
# bench/drift/run.sh - how fast an enrolled agent finds and puts back drift on a converged test host.
# Watched class, M rounds: /etc/odoo.conf workers line hand-edited, /etc/odoo.conf chmod-ed 0666,
# `systemctl stop nginx`, the fail2ban jail file removed. Latency = detectedAt / correctedAt of the
# record (`fleet drift -o json`, stamped by the agent) minus the time taken on the host's clock just
# before the edit (one kernel clock in nspawn). Periodic class, P rounds, with the host's re-observe
# interval set small: a PostgreSQL setting changed with ALTER SYSTEM + reload, an extra pg_hba line,
# a ufw rule deleted: detected within one interval. Baseline in the same run: a manual
# `odoofleet-agent converge` of the same drift (agent service stopped). Then the idle agent's CPU.
# Prints a table with the targets beside the figures and writes it to bench/drift/last-run.txt.
#
# Usage (as root): bench/drift/run.sh [--rounds M] [--periodic-rounds P] [--interval S] [--idle-seconds S] [--host thN]
# Uses the quickstart stack (deploy/stack.sh up --hosts 1): a running quickstart is reused.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TESTHOSTS="$ROOT/tests/hosts/testhosts.sh"
HOST=th1
ROUNDS=20
PERIODIC_ROUNDS=3
INTERVAL=30
IDLE_SECONDS=60
BASELINE_RUNS=5
DEADLINE=60
while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --periodic-rounds) PERIODIC_ROUNDS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --idle-seconds) IDLE_SECONDS=$2; shift 2 ;;
    --host) HOST=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 3 && ROUNDS <= 200)) || { echo "bench: --rounds must be 3..200" >&2; exit 2; }
[[ $PERIODIC_ROUNDS =~ ^[0-9]+$ ]] && ((PERIODIC_ROUNDS >= 1 && PERIODIC_ROUNDS <= 50)) || { echo "bench: --periodic-rounds must be 1..50" >&2; exit 2; }
[[ $INTERVAL =~ ^[0-9]+$ ]] && ((INTERVAL >= 30 && INTERVAL <= 600)) || { echo "bench: --interval must be 30..600 (seconds; the policy's minimum is 30)" >&2; exit 2; }
[[ $IDLE_SECONDS =~ ^[0-9]+$ ]] && ((IDLE_SECONDS >= 10 && IDLE_SECONDS <= 600)) || { echo "bench: --idle-seconds must be 10..600" >&2; exit 2; }
[[ $HOST =~ ^th[0-9]{1,2}$ ]] || { echo "bench: --host must be a test host name like th1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it drives a test host)" >&2; exit 2; }

log() { printf '[bench] %s\n' "$*" >&2; }
on() { bash "$TESTHOSTS" exec "$HOST" -- "$@"; }
now_ns() { on date +%s%N; }

# ---------------------------------------------------------------- a converged host, small interval
hosts_json=$(fleet hosts -o json 2>/dev/null || true)
if ! [[ $hosts_json =~ \"name\":\ *\"$HOST\" ]]; then
  log "starting the quickstart stack with one host"
  bash "$ROOT/deploy/stack.sh" up --source fixture --hosts 1 >&2
fi
log "rolling $HOST out to 18.0 (a no-op when it already runs it)"
fleet rollout --version 18.0 --wait >&2
on systemctl is-active --quiet odoo nginx postgresql fail2ban odoofleet-agent || { echo "bench: $HOST is not fully converged" >&2; exit 1; }

converged() {
  fleet host show "$HOST" -o json | python3 -c 'import json,sys; h=json.load(sys.stdin); sys.exit(0 if h["appliedGeneration"] == h["desiredGeneration"] else 1)'
}
wait_converged() {
  local end=$((SECONDS + 180))
  until converged; do ((SECONDS < end)) || { echo "bench: $HOST did not converge its spec within 180 s" >&2; exit 1; }; sleep 1; done
}
log "drift policy of $HOST: correct everything, re-observe every ${INTERVAL}s"
fleet drift policy "$HOST" --mode default --interval "${INTERVAL}s" --no-maintenance --no-ignore >/dev/null
wait_converged
restore_policy() { fleet drift policy "$HOST" --interval default >/dev/null 2>&1 || true; }
trap restore_policy EXIT

# The agent keeps a resource's drift history in memory: three corrections of one resource within
# ten minutes are flapping and correction backs off. Each round starts from a fresh agent so the
# rounds measure correction, not the backoff; it is measured once the agent watches again.
fresh_agent() {
  local since; since=$(on date '+%Y-%m-%d %H:%M:%S')
  on systemctl restart odoofleet-agent
  # Watching, and the startup round (which observes everything) over: its journal quiet for 1.5 s.
  local end=$((SECONDS + 90)) lines=-1 quiet=0 now journal
  while :; do
    ((SECONDS < end)) || { echo "bench: the agent on $HOST did not settle within 90 s of its restart" >&2; exit 1; }
    # Read whole, then searched: `grep -q` in the pipe could end it early (SIGPIPE fails it under pipefail).
    journal=$(on journalctl -u odoofleet-agent --since "$since" -q -o cat)
    now=$(printf '%s\n' "$journal" | wc -l)
    if [ "$now" = "$lines" ] && [[ $journal == *"drift watch for generation"* ]]; then
      quiet=$((quiet + 1)); ((quiet >= 3)) && return
    else
      quiet=0; lines=$now
    fi
    sleep 0.5
  done
}

# `fleet drift` JSON -> "detect_ms correct_ms" of the first record of RESOURCE (or with that prefix,
# when it ends in ':') detected at or after EDIT_NS; nothing when there is none yet.
latency() {  # RESOURCE EDIT_NS
  fleet drift --host "$HOST" --since "$(date -u -d "@$(($2 / 1000000000 - 2))" +%Y-%m-%dT%H:%M:%SZ)" -o json | python3 -c '
import json, sys
from datetime import datetime, timezone
resource, edit_ns = sys.argv[1], int(sys.argv[2])
def ns(text):
    whole, _, frac = text.rstrip("Z").partition(".")
    seconds = int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())
    return seconds * 10**9 + int((frac + "000000000")[:9])
for r in json.load(sys.stdin):
    rid = r["resourceId"]
    if (rid == resource or (resource.endswith(":") and rid.startswith(resource))) and ns(r["detectedAt"]) >= edit_ns and r["correctedAt"]:
        print((ns(r["detectedAt"]) - edit_ns) // 10**6, (ns(r["correctedAt"]) - edit_ns) // 10**6)
        break
' "$1" "$2"
}
wait_latency() {  # RESOURCE EDIT_NS -> "detect correct", or "timeout timeout" after DEADLINE s
  local end=$((SECONDS + DEADLINE)) r
  while ((SECONDS < end)); do
    r=$(latency "$1" "$2")
    [ -n "$r" ] && { echo "$r"; return; }
    sleep 0.5
  done
  echo "timeout timeout"
}

declare -A DETECT CORRECT MISSED
record() {  # KEY "detect correct"
  local d=${2% *} c=${2#* }
  if [ "$d" = timeout ]; then MISSED[$1]=$((${MISSED[$1]:-0} + 1)); return; fi
  DETECT[$1]+="$d "; CORRECT[$1]+="$c "
}

# ---------------------------------------------------------------- watched class
workers=$(on sh -c "sed -n 's/^workers *= *//p' /etc/odoo.conf")
[[ $workers =~ ^[0-9]+$ ]] || { echo "bench: no workers line in $HOST's /etc/odoo.conf" >&2; exit 1; }
JAIL=/etc/fail2ban/jail.d/odoofleet.conf
log "watched class: $ROUNDS rounds of 4 drifts on $HOST"
for ((round = 1; round <= ROUNDS; round++)); do
  fresh_agent
  t=$(on sh -c "date +%s%N; sed -i 's/^workers *= *.*/workers = $((workers + 1))/' /etc/odoo.conf" | awk 'NR == 1')
  record "odoo.conf workers edited" "$(wait_latency file:/etc/odoo.conf "$t")"
  t=$(on sh -c 'date +%s%N; chmod 0666 /etc/odoo.conf' | awk 'NR == 1')
  record "odoo.conf chmod 0666" "$(wait_latency file:/etc/odoo.conf "$t")"
  t=$(on sh -c 'date +%s%N; systemctl stop nginx' | awk 'NR == 1')
  record "nginx stopped" "$(wait_latency service:nginx.service "$t")"
  t=$(on sh -c "date +%s%N; rm -f $JAIL" | awk 'NR == 1')
  record "fail2ban jail removed" "$(wait_latency "file:$JAIL" "$t")"
  log "round $round/$ROUNDS done"
done

# ---------------------------------------------------------------- periodic class
# The three edits are made together right after the agent (re)armed its periodic timer, so the
# figures are close to the worst case (a whole interval); pg_hba.conf is also file-watched.
log "periodic class: $PERIODIC_ROUNDS rounds of 3 drifts (interval ${INTERVAL}s)"
hba=$(on sh -c 'ls /etc/postgresql/*/main/pg_hba.conf | sort -V | tail -1')
PDEADLINE=$((INTERVAL * 2 + 30))
for ((round = 1; round <= PERIODIC_ROUNDS; round++)); do
  fresh_agent
  tp=$(on sh -c "date +%s%N; runuser -u postgres -- psql -XAtqc \"ALTER SYSTEM SET work_mem = '77MB'\" && runuser -u postgres -- psql -XAtqc 'SELECT pg_reload_conf()' >/dev/null" | awk 'NR == 1')
  th=$(on sh -c "date +%s%N; echo 'host all all 10.9.9.9/32 scram-sha-256' >> $hba" | awk 'NR == 1')
  tu=$(on sh -c 'date +%s%N; ufw delete allow 80/tcp >/dev/null' | awk 'NR == 1')
  DEADLINE=$PDEADLINE
  record "work_mem ALTER SYSTEM" "$(wait_latency pg-settings: "$tp")"
  record "pg_hba extra line" "$(wait_latency pg-hba: "$th")"
  record "ufw rule 80/tcp deleted" "$(wait_latency firewall:ufw "$tu")"
  DEADLINE=60
  log "periodic round $round/$PERIODIC_ROUNDS done"
done

# ---------------------------------------------------------------- baseline: a manual converge
declare -A MANUAL
log "baseline: $BASELINE_RUNS manual \`odoofleet-agent converge\` runs per drift (agent service stopped)"
on systemctl stop odoofleet-agent
converge_ms() {  # the converge alone, on the host's clock
  on bash -c 'start=$(date +%s%N); /usr/local/bin/odoofleet-agent converge >/tmp/bench.out 2>&1; rc=$?; end=$(date +%s%N); echo "$(( (end - start) / 1000000 )) $rc"'
}
for ((i = 0; i < BASELINE_RUNS; i++)); do
  on sed -i "s/^workers *= *.*/workers = $((workers + 1))/" /etc/odoo.conf
  r=$(converge_ms); [ "${r#* }" = 0 ] || { on cat /tmp/bench.out >&2; echo "bench: manual converge failed" >&2; exit 1; }
  MANUAL["odoo.conf workers edited"]+="${r% *} "
  on systemctl stop nginx
  r=$(converge_ms); [ "${r#* }" = 0 ] || { on cat /tmp/bench.out >&2; echo "bench: manual converge failed" >&2; exit 1; }
  MANUAL["nginx stopped"]+="${r% *} "
done
on systemctl start odoofleet-agent

# ---------------------------------------------------------------- idle agent
fresh_agent
sleep 5
pid=$(on systemctl show -p MainPID --value odoofleet-agent)
[[ $pid =~ ^[1-9][0-9]*$ ]] || { echo "bench: the agent service is not running on $HOST" >&2; exit 1; }
ticks() { on awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(on getconf CLK_TCK)
log "sampling the idle agent (pid $pid in $HOST, re-observe every ${INTERVAL}s) for $IDLE_SECONDS s"
t0=$(ticks); s0=$(date +%s%N)
sleep "$IDLE_SECONDS"
t1=$(ticks); s1=$(date +%s%N)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v ns=$((s1 - s0)) 'BEGIN { printf "%.3f", 100 * d / hz / (ns / 1e9) }')

# ---------------------------------------------------------------- table
stat() {  # "v v v ..." -> "p50 p95 max n" (nearest rank)
  printf '%s\n' $1 | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - 0"; exit }
    p50 = v[int((NR * 50 + 99) / 100)]; p95 = v[int((NR * 95 + 99) / 100)]; print p50, p95, v[NR], NR }'
}
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "-" && v < t) ? "ok" : "MISSED" }'; }
{
  printf '\nDrift put back by an enrolled agent on test host %s: ms from the edit (host clock) to the\n' "$HOST"
  printf 'record'"'"'s detectedAt and correctedAt; %s rounds, each from a freshly started agent.\n\n' "$ROUNDS"
  printf '%-26s %7s %7s %7s   %9s %9s %9s %7s  %s\n' "watched drift" "det p50" "det p95" "det max" "fixed p50" "fixed p95" "fixed max" missed "target (fixed p95 < 5000 ms)"
  all_fixed=""
  for key in "odoo.conf workers edited" "odoo.conf chmod 0666" "nginx stopped" "fail2ban jail removed"; do
    read -r d50 d95 dmax _ < <(stat "${DETECT[$key]:-}")
    read -r c50 c95 cmax _ < <(stat "${CORRECT[$key]:-}")
    all_fixed+="${CORRECT[$key]:-} "
    printf '%-26s %7s %7s %7s   %9s %9s %9s %7s  %s\n' "$key" "$d50" "$d95" "$dmax" "$c50" "$c95" "$cmax" "${MISSED[$key]:-0}" "$(verdict "$c95" 5000)"
  done
  read -r a50 a95 amax an < <(stat "$all_fixed")
  printf '%-26s %7s %7s %7s   %9s %9s %9s %7s  %s\n' "all file and service drift" "" "" "" "$a50" "$a95" "$amax" "" "$(verdict "$a95" 5000) ($an corrections)"

  printf '\nPeriodic class (re-observe every %s s, %s rounds; edits made just after the timer was armed,\nso close to the worst case):\n\n' "$INTERVAL" "$PERIODIC_ROUNDS"
  printf '%-26s %7s %7s   %9s %7s  %s\n' "drift" "det p50" "det max" "fixed max" missed "target (detected < ${INTERVAL}000 ms)"
  for key in "work_mem ALTER SYSTEM" "pg_hba extra line" "ufw rule 80/tcp deleted"; do
    read -r d50 _ dmax _ < <(stat "${DETECT[$key]:-}")
    read -r _ _ cmax _ < <(stat "${CORRECT[$key]:-}")
    printf '%-26s %7s %7s   %9s %7s  %s\n' "$key" "$d50" "$dmax" "$cmax" "${MISSED[$key]:-0}" "$(verdict "$dmax" $((INTERVAL * 1000)))"
  done

  printf '\nBaseline, same run: a manual `odoofleet-agent converge` after the same drift (agent service\nstopped; the converge alone, not the time until someone runs it), %s runs, ms:\n\n' "$BASELINE_RUNS"
  printf '%-26s %7s %7s %7s   %s\n' "drift" median min max "watch-driven fixed p50"
  for key in "odoo.conf workers edited" "nginx stopped"; do
    read -r m50 _ mmax _ < <(stat "${MANUAL[$key]}")
    mmin=$(printf '%s\n' ${MANUAL[$key]} | sort -n | awk 'NR == 1')
    read -r c50 _ _ _ < <(stat "${CORRECT[$key]:-}")
    printf '%-26s %7s %7s %7s   %s\n' "$key" "$m50" "$mmin" "$mmax" "$c50"
  done

  printf '\nIdle agent service (%s s, re-observe every %s s): CPU %s%% of one core (target < 0.5%%: %s)\n' \
    "$IDLE_SECONDS" "$INTERVAL" "$cpu" "$(verdict "$cpu" 0.5)"
} | tee "$HERE/last-run.txt"
