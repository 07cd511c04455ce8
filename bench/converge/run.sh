#!/usr/bin/env bash
# bench/converge/run.sh - one-shot converge of the full Odoo 18 profile on a converged test host:
# odoofleet-agent (no-op and --check) side by side with the same resources written as a Puppet
# manifest (`puppet apply`, Debian's puppet) and an Ansible playbook (`ansible-playbook -c local`,
# Debian's ansible), each in no-op and check mode, all measured in this run on the same host.
# Then the enrolled agent's idle RSS and CPU. Prints a table with the targets beside the figures.
#
# Usage (as root): bench/converge/run.sh [--runs N] [--idle-seconds S]
# Uses the quickstart stack (deploy/stack.sh up --hosts 1): a running quickstart is reused.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TESTHOSTS="$ROOT/tests/hosts/testhosts.sh"
HOST=th1
RUNS=7
IDLE_SECONDS=60
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --idle-seconds) IDLE_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 3 && RUNS <= 50)) || { echo "bench: --runs must be 3..50" >&2; exit 2; }
[[ $IDLE_SECONDS =~ ^[0-9]+$ ]] && ((IDLE_SECONDS >= 10 && IDLE_SECONDS <= 600)) || { echo "bench: --idle-seconds must be 10..600" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it boots a test host)" >&2; exit 2; }

log() { printf '[bench] %s\n' "$*" >&2; }
on() { bash "$TESTHOSTS" exec "$HOST" -- "$@"; }

# ---------------------------------------------------------------- a converged host
if ! fleet hosts -o json 2>/dev/null | grep -q "\"name\": *\"$HOST\""; then
  log "starting the quickstart stack with one host"
  bash "$ROOT/deploy/stack.sh" up --source fixture --hosts 1 >&2
fi
log "rolling $HOST out to 18.0 (a no-op when it already runs it)"
fleet rollout --version 18.0 --wait >&2
on systemctl is-active --quiet odoo nginx postgresql fail2ban || { echo "bench: $HOST is not fully converged" >&2; exit 1; }

log "installing puppet and ansible on $HOST (through the apt cache)"
on sh -c 'dpkg -s puppet ansible python3-apt >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends puppet ansible python3-apt >/dev/null; }'

# ---------------------------------------------------------------- the same resources, for Puppet and Ansible
# Read what the agent manages from the host itself, so all three tools hold the same desired state.
release=$(on readlink /opt/odoo/current)
commit=${release##*-}
pg_version=$(on sh -c 'ls /etc/postgresql | sort -V | tail -1')
packages=$(on sh -c "dpkg-query -W -f='\${Package}\n' git python3 python3-venv ca-certificates nginx ufw fail2ban python3-systemd logrotate wkhtmltopdf postgresql-$pg_version unattended-upgrades 2>/dev/null" | tr '\n' ' ')
settings=()
for s in max_connections shared_buffers effective_cache_size maintenance_work_mem work_mem; do
  settings+=("$s=$(on runuser -u postgres -- psql -XAtc "SHOW $s")")
done
files=(/etc/odoo.conf /etc/systemd/system/odoo.service /etc/nginx/sites-available/odoo /etc/fail2ban/filter.d/odoo-login.conf
  /etc/fail2ban/jail.d/odoofleet.conf /etc/logrotate.d/odoo /etc/apt/apt.conf.d/20auto-upgrades
  /etc/apt/apt.conf.d/52odoofleet-unattended-upgrades /etc/sysctl.d/60-odoofleet.conf "/etc/postgresql/$pg_version/main/pg_hba.conf"
  /etc/ssl/odoofleet/odoo.crt /etc/ssl/odoofleet/odoo.key)
on sh -c 'rm -rf /bench && mkdir -p /bench/files'
for f in "${files[@]}"; do on sh -c "mkdir -p /bench/files$(dirname "$f") && cp -p $f /bench/files$f"; done

mode_owner() { on stat -c '%a %U %G' "$1"; }
puppet_file() {  # PATH
  local m o g; read -r m o g < <(mode_owner "$1")
  printf "file { '%s': ensure => file, source => 'file:///bench/files%s', mode => '%s', owner => '%s', group => '%s' }\n" "$1" "$1" "$m" "$o" "$g"
}
ansible_file() {
  local m o g; read -r m o g < <(mode_owner "$1")
  printf "    - {name: 'file %s', copy: {src: '/bench/files%s', dest: '%s', mode: '0%s', owner: '%s', group: '%s'}}\n" "$1" "$1" "$1" "$m" "$o" "$g"
}
dirs=("/opt/odoo 750 odoo odoo" "/opt/odoo/releases 750 odoo odoo" "/var/lib/odoo 750 odoo odoo" "/var/log/odoo 750 odoo odoo"
  "/etc/ssl/odoofleet 755 root root" "/var/www/odoofleet-acme 755 root root" "/var/cache/nginx 755 root root"
  "/var/cache/nginx/odoofleet 700 www-data www-data")
services=(postgresql odoo nginx fail2ban)
# Checks that have no native resource in one of the tools are small scripts both call (exit 0 = as desired).
check() {  # NAME SCRIPT
  printf '%s\n' "$2" | on sh -c "cat > /bench/checks/$1.sh"
}
on mkdir -p /bench/checks
check release-checkout "test \"\$(git -C $release rev-parse HEAD)\" = $commit"
check release-venv "test -x $release/.venv/bin/python"
check sysctl-somaxconn "test \"\$(sysctl -n net.core.somaxconn)\" = 4096"
check odoo-health "curl -fsS -o /dev/null http://127.0.0.1:8069/web/health"
check pg-role-odoo "runuser -u postgres -- psql -XAtc \"SELECT rolcreatedb AND NOT rolsuper FROM pg_roles WHERE rolname = 'odoo'\" | grep -qx t"
for kv in "${settings[@]}"; do
  check "pg-${kv%%=*}" "runuser -u postgres -- psql -XAtc 'SHOW ${kv%%=*}' | grep -qx '${kv#*=}'"
done

{
  echo "# Generated by bench/converge/run.sh: the odoofleet-agent profile's resources, in Puppet."
  echo "Exec { path => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'] }"
  for p in $packages; do echo "package { '$p': ensure => installed }"; done
  echo "user { 'odoo': ensure => present, system => true, home => '/opt/odoo', shell => '/usr/sbin/nologin' }"
  for d in "${dirs[@]}"; do read -r p m o g <<<"$d"; echo "file { '$p': ensure => directory, mode => '$m', owner => '$o', group => '$g' }"; done
  echo "file { '/var/log/odoo/odoo.log': ensure => file, mode => '640', owner => 'odoo', group => 'odoo' }"
  for f in "${files[@]}"; do puppet_file "$f"; done
  echo "file { '/opt/odoo/current': ensure => link, target => '$release' }"
  echo "file { '/etc/nginx/sites-enabled/odoo': ensure => link, target => '/etc/nginx/sites-available/odoo' }"
  echo "file { '/etc/nginx/sites-enabled/default': ensure => absent }"
  for c in release-checkout release-venv; do echo "exec { '$c': command => '/bin/false', unless => '/bin/sh /bench/checks/$c.sh' }"; done
  for s in "${services[@]}"; do echo "service { '$s': ensure => running, enable => true }"; done
  for port in 22 80 443; do echo "exec { 'ufw $port': command => 'ufw allow $port/tcp', unless => \"ufw status | grep -q '^$port/tcp '\" }"; done
  echo "exec { 'ufw enabled': command => 'ufw --force enable', unless => \"ufw status | grep -q 'Status: active'\" }"
  echo "exec { 'sysctl-somaxconn': command => 'sysctl -w net.core.somaxconn=4096', unless => '/bin/sh /bench/checks/sysctl-somaxconn.sh' }"
  for c in pg-role-odoo odoo-health; do echo "exec { '$c': command => '/bin/false', unless => '/bin/sh /bench/checks/$c.sh' }"; done
  for kv in "${settings[@]}"; do
    echo "exec { 'pg-${kv%%=*}': command => '/bin/false', unless => '/bin/sh /bench/checks/pg-${kv%%=*}.sh' }"
  done
} | on sh -c 'cat > /bench/profile.pp'

{
  echo "# Generated by bench/converge/run.sh: the odoofleet-agent profile's resources, in Ansible."
  echo "- hosts: localhost"
  echo "  connection: local"
  echo "  gather_facts: false"
  echo "  tasks:"
  echo "    - {name: packages, apt: {name: [$(echo "$packages" | xargs | sed 's/ /, /g')], state: present}}"
  echo "    - {name: user, user: {name: odoo, system: true, home: /opt/odoo, shell: /usr/sbin/nologin, create_home: false}}"
  for d in "${dirs[@]}"; do read -r p m o g <<<"$d"; echo "    - {name: 'dir $p', file: {path: '$p', state: directory, mode: '0$m', owner: '$o', group: '$g'}}"; done
  echo "    - {name: logfile, file: {path: /var/log/odoo/odoo.log, state: file, mode: '0640', owner: odoo, group: odoo}}"
  for f in "${files[@]}"; do ansible_file "$f"; done
  echo "    - {name: current, file: {path: /opt/odoo/current, src: '$release', state: link}}"
  echo "    - {name: site enabled, file: {path: /etc/nginx/sites-enabled/odoo, src: /etc/nginx/sites-available/odoo, state: link}}"
  echo "    - {name: no default site, file: {path: /etc/nginx/sites-enabled/default, state: absent}}"
  for c in release-checkout release-venv; do echo "    - {name: '$c', command: '/bin/sh /bench/checks/$c.sh', changed_when: false}"; done
  for s in "${services[@]}"; do echo "    - {name: 'service $s', systemd: {name: '$s', state: started, enabled: true}}"; done
  for port in 22 80 443; do echo "    - {name: 'ufw $port', community.general.ufw: {rule: allow, port: '$port', proto: tcp}}"; done
  echo "    - {name: ufw enabled, community.general.ufw: {state: enabled}}"
  echo "    - {name: sysctl-somaxconn, command: '/bin/sh /bench/checks/sysctl-somaxconn.sh', changed_when: false}"
  echo "    - {name: pg role, become: true, become_user: postgres, become_method: su, community.postgresql.postgresql_user: {name: odoo, role_attr_flags: 'CREATEDB,NOSUPERUSER'}}"
  for kv in "${settings[@]}"; do
    echo "    - {name: 'pg ${kv%%=*}', become: true, become_user: postgres, become_method: su, community.postgresql.postgresql_set: {name: '${kv%%=*}', value: '${kv#*=}'}}"
  done
  echo "    - {name: odoo-health, uri: {url: 'http://127.0.0.1:8069/web/health'}}"
} | on sh -c 'cat > /bench/profile.yml'

# ---------------------------------------------------------------- measurements
# Wall time of one command inside the host, in ms (nsenter's own start is outside the measurement).
time_once() { on bash -c 'start=$(date +%s%N); "$@" >/tmp/bench.out 2>&1; rc=$?; end=$(date +%s%N); echo "$(( (end - start) / 1000000 )) $rc"' _ "$@"; }

AGENT=(/usr/local/bin/odoofleet-agent converge)
PUPPET=(puppet apply --detailed-exitcodes --color=false /bench/profile.pp)
ANSIBLE=(env ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ansible-playbook -i localhost, /bench/profile.yml)

declare -A MEDIAN MIN MAX
measure() {  # KEY EXPECT(ok|noop) CMD...
  local key=$1 expect=$2; shift 2
  local -a times=()
  time_once "$@" >/dev/null  # warm the page cache and the tool's own caches
  local r ms rc
  for ((i = 0; i < RUNS; i++)); do
    r=$(time_once "$@"); ms=${r% *}; rc=${r#* }
    case $expect in
      agent) [[ $rc == 0 ]] || { on cat /tmp/bench.out >&2; echo "bench: $key failed (exit $rc)" >&2; exit 1; } ;;
      puppet) [[ $rc == 0 ]] || { on cat /tmp/bench.out >&2; echo "bench: $key changed or failed something (exit $rc; 0 = no changes)" >&2; exit 1; } ;;
      ansible) [[ $rc == 0 ]] && on grep -q 'changed=0 .*failed=0' /tmp/bench.out || { on cat /tmp/bench.out >&2; echo "bench: $key changed or failed something" >&2; exit 1; } ;;
    esac
    times+=("$ms")
  done
  mapfile -t times < <(printf '%s\n' "${times[@]}" | sort -n)
  MEDIAN[$key]=${times[$((RUNS / 2))]}; MIN[$key]=${times[0]}; MAX[$key]=${times[-1]}
  log "$key: median ${MEDIAN[$key]} ms (min ${MIN[$key]}, max ${MAX[$key]})"
}

log "measuring $RUNS runs of each (the host is converged: every run must change nothing)"
on "${AGENT[@]}" | grep -q ' 0 changed,' || { echo "bench: the agent's converge is not a no-op on $HOST" >&2; exit 1; }
measure "agent apply" agent "${AGENT[@]}"
measure "agent --check" agent "${AGENT[@]}" --check
measure "puppet apply" puppet "${PUPPET[@]}"
measure "puppet --noop" puppet "${PUPPET[@]}" --noop
measure "ansible apply" ansible "${ANSIBLE[@]}"
measure "ansible --check" ansible "${ANSIBLE[@]}" --check

# ---------------------------------------------------------------- idle agent
pid=$(on systemctl show -p MainPID --value odoofleet-agent)
[[ $pid =~ ^[1-9][0-9]*$ ]] || { echo "bench: the agent service is not running on $HOST" >&2; exit 1; }
ticks() { on awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(on getconf CLK_TCK)
log "sampling the idle agent (pid $pid in $HOST) for $IDLE_SECONDS s"
t0=$(ticks); s0=$(date +%s%N)
rss_max=0
for ((i = 0; i < IDLE_SECONDS; i++)); do
  rss=$(on awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  ((rss > rss_max)) && rss_max=$rss
  sleep 1
done
t1=$(ticks); s1=$(date +%s%N)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v ns=$((s1 - s0)) 'BEGIN { printf "%.3f", 100 * d / hz / (ns / 1e9) }')
rss_mb=$(awk -v k="$rss_max" 'BEGIN { printf "%.1f", k / 1024 }')

# ---------------------------------------------------------------- table
agent=${MEDIAN["agent apply"]}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<") ? v < t : v >= t; print ok ? "ok" : "MISSED" }'; }
printf '\nOne-shot converge of the full Odoo 18 profile on converged test host %s (%s runs each, ms):\n\n' "$HOST" "$RUNS"
printf '%-18s %8s %8s %8s %10s  %s\n' "tool/mode" median min max "vs agent" "target"
for key in "agent apply" "agent --check" "puppet apply" "puppet --noop" "ansible apply" "ansible --check"; do
  target=""
  case $key in
    "agent apply"|"agent --check") target="< 500 ms: $(verdict "${MEDIAN[$key]}" 500 '<')" ;;
    "puppet apply") target=">= 5x: $(verdict "$(awk -v a="${MEDIAN[$key]}" -v b="$agent" 'BEGIN{print a/b}')" 5 '>=')" ;;
    "ansible apply") target=">= 30x: $(verdict "$(awk -v a="${MEDIAN[$key]}" -v b="$agent" 'BEGIN{print a/b}')" 30 '>=')" ;;
  esac
  printf '%-18s %8s %8s %8s %10s  %s\n' "$key" "${MEDIAN[$key]}" "${MIN[$key]}" "${MAX[$key]}" "$(ratio "${MEDIAN[$key]}" "$agent")" "$target"
done
printf '\nIdle agent service (%s s): max RSS %s MB (target < 40 MB: %s), CPU %s%% of one core (target < 0.5%%: %s)\n' \
  "$IDLE_SECONDS" "$rss_mb" "$(verdict "$rss_mb" 40 '<')" "$cpu" "$(verdict "$cpu" 0.5 '<')"
