#!/usr/bin/env bash
# OdooFleet single-box stack: PostgreSQL, RabbitMQ, two controller processes, fixture source
# and test hosts with enrolled agents. Used by quickstart.sh, the system tests and CI.
#
#   stack.sh deps                  install and start PostgreSQL and RabbitMQ, create db/vhost/users
#   stack.sh build                 publish controller, agent and CLI into $OF_PREFIX
#   stack.sh up [--source fixture|real] [--hosts N]
#                                  deps + build + controllers + N test hosts (default 3) enrolled
#   stack.sh controller start|stop|kill N    manage controller process N (1 or 2)
#   stack.sh broker stop|start|restart   RabbitMQ fault injection for tests
#   stack.sh enroll thN...         boot and enroll test hosts
#   stack.sh status                what runs
#   stack.sh down                  stop and remove everything up created (keeps apt packages and caches)
set -euo pipefail
# build.sh holds the machine-wide stack lock on fd 9: daemons started from here must not inherit it
# (a PostgreSQL or controller holding it would block every later run).
exec 9>&-

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OF_PREFIX=${OF_PREFIX:-/opt/odoofleet}
OF_RUN=${OF_RUN:-/var/lib/odoofleet/stack}
OF_ETC=${OF_ETC:-/etc/odoofleet}
OF_DB=${OF_DB:-odoofleet}
OF_VHOST=${OF_VHOST:-/odoofleet}
BRIDGE_IP=10.231.0.1
TESTHOSTS="$ROOT/tests/hosts/testhosts.sh"
FIXTURE="$ROOT/tests/fixture/make-fixture-odoo.sh"
CONTROLLER_PORTS=(7001 7002)
SILO_PORTS=(11111 11112)
GATEWAY_PORTS=(30000 30001)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# Poll CMD until it succeeds or DEADLINE seconds pass (never an unbounded wait).
wait_for() {
  local deadline=$1 what=$2; shift 2
  local end=$((SECONDS + deadline))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what did not happen within ${deadline}s"
    sleep 0.3
  done
}

have_systemd() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------- dependencies
install_packages() {
  # clang links the agent's native (AOT) binary.
  local want=(postgresql rabbitmq-server debootstrap systemd-container git curl iproute2 python3 openssl clang)
  # Programs the agent's validators call (nginx -t, fail2ban-regex, logrotate -d, apt-config)
  # and its backups run (restic), exercised by unit tests on this box; their services must not start here.
  local tools=(nginx fail2ban logrotate python3-venv apt-cacher-ng restic)
  local missing=() quiet=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  for p in "${tools[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || quiet+=("$p"); done
  if ((${#missing[@]} + ${#quiet[@]})); then
    apt-get update -qq
  fi
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ((${#quiet[@]})); then
    log "installing ${quiet[*]} (services not started)"
    local policy=/usr/sbin/policy-rc.d restore=""
    [ -e "$policy" ] && { restore=$(mktemp); cp -p "$policy" "$restore"; }
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 0755 "$policy"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${quiet[@]}" >/dev/null || { rm -f "$policy"; [ -n "$restore" ] && mv "$restore" "$policy"; die "apt-get install ${quiet[*]} failed"; }
    rm -f "$policy"; [ -n "$restore" ] && mv "$restore" "$policy"
  fi
}

secrets() {
  mkdir -p "$OF_ETC" && chmod 0700 "$OF_ETC"
  local f="$OF_ETC/stack.env"
  if [ ! -s "$f" ]; then
    # umask in a subshell only: the rest of the script (rabbitmq-plugins writing
    # /etc/rabbitmq/enabled_plugins, which the broker must read) keeps the normal one.
    (umask 077
     { echo "OF_PG_PASSWORD=$(openssl rand -hex 24)"
       echo "OF_MQ_PASSWORD=$(openssl rand -hex 24)"
       echo "OF_API_TOKEN=ofapi_$(openssl rand -hex 24)"; } > "$f.tmp"
     mv "$f.tmp" "$f")
  fi
  # The controllers' secret store key (never in the database, never in argv or logs).
  if [ ! -s "$OF_ETC/secrets.key" ]; then
    (umask 077; head -c32 /dev/urandom | base64 > "$OF_ETC/secrets.key.tmp" && mv "$OF_ETC/secrets.key.tmp" "$OF_ETC/secrets.key")
  fi
  # shellcheck disable=SC1090
  . "$f"
}

start_postgres() {
  if have_systemd; then systemctl start postgresql; else
    local v; v=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster "$v" main status >/dev/null 2>&1 || pg_ctlcluster "$v" main start
  fi
  wait_for 60 "PostgreSQL start" runuser -u postgres -- psql -qAtc 'select 1'
}

start_rabbitmq() {
  if have_systemd; then systemctl start rabbitmq-server; else
    rabbitmqctl -q status >/dev/null 2>&1 || { rabbitmq-server -detached >/dev/null 2>&1 || true; }
  fi
  wait_for 90 "RabbitMQ start" rabbitmqctl -q await_startup
}

stop_rabbitmq() {
  if have_systemd; then systemctl stop rabbitmq-server; else rabbitmqctl -q stop >/dev/null 2>&1 || true; fi
  wait_for 60 "RabbitMQ stop" bash -c '! rabbitmqctl -q status'
}

setup_postgres() {
  # SQL (with the password) on stdin, never in argv.
  runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'odoofleet') THEN CREATE ROLE odoofleet LOGIN CREATEDB; END IF;
END \$\$;
ALTER ROLE odoofleet PASSWORD '$OF_PG_PASSWORD';
SQL
  if [ -z "$(runuser -u postgres -- psql -qAtc "select 1 from pg_database where datname='$OF_DB'")" ]; then
    runuser -u postgres -- createdb -O odoofleet "$OF_DB"
  fi
}

# The management HTTP API with credentials on stdin (curl -K -), never in argv where `ps` shows them.
mq_api() {
  local user=$1 pass=$2 method=$3 path=$4; shift 4
  printf 'user = "%s:%s"\n' "$user" "$pass" | curl -K - -fsS --max-time 10 -X "$method" -H 'content-type: application/json' \
    "http://127.0.0.1:15672/api$path" "$@"
}

setup_rabbitmq() {
  # The controller creates one broker user per host (read-only on that host's queue) through the
  # management HTTP API.
  # A file left unreadable by an earlier run (root, 0600) stops the broker from reading its plugins.
  [ ! -f /etc/rabbitmq/enabled_plugins ] || chmod 0644 /etc/rabbitmq/enabled_plugins
  # Always applied: "enable" is idempotent and also starts the plugin on a node that could not
  # read the file when it booted.
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null
  [ ! -f /etc/rabbitmq/enabled_plugins ] || chmod 0644 /etc/rabbitmq/enabled_plugins
  wait_for 60 "RabbitMQ management API on :15672" curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:15672/
  rabbitmqctl -q list_vhosts | grep -qx "$OF_VHOST" || rabbitmqctl -q add_vhost "$OF_VHOST"
  if ! mq_api odoofleet "$OF_MQ_PASSWORD" GET /whoami -o /dev/null 2>/dev/null; then
    # rabbitmqctl 3.10 takes passwords only in argv: give it a throwaway one, then set the real one
    # over the API (body from a 0600 file).
    local throwaway body
    throwaway=$(openssl rand -hex 24)
    if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx odoofleet; then
      rabbitmqctl -q change_password odoofleet "$throwaway" >/dev/null
    else
      rabbitmqctl -q add_user odoofleet "$throwaway" >/dev/null
    fi
    rabbitmqctl -q set_user_tags odoofleet administrator >/dev/null
    body=$(umask 077; mktemp)
    printf '{"password":"%s","tags":"administrator"}' "$OF_MQ_PASSWORD" > "$body"
    mq_api odoofleet "$throwaway" PUT /users/odoofleet --data-binary "@$body" -o /dev/null || { rm -f "$body"; die "setting the broker password failed"; }
    rm -f "$body"
  fi
  rabbitmqctl -q set_user_tags odoofleet administrator >/dev/null
  rabbitmqctl -q set_permissions -p "$OF_VHOST" odoofleet '.*' '.*' '.*' >/dev/null
  # Earlier versions' shared consume-only agent user: per-host users replace it. guest has no use here.
  local u
  for u in fleet-agent guest; do
    if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$u"; then rabbitmqctl -q delete_user "$u" >/dev/null; fi
  done
}

cmd_deps() { install_packages; secrets; start_postgres; start_rabbitmq; setup_postgres; setup_rabbitmq; log "PostgreSQL and RabbitMQ ready"; }

# ---------------------------------------------------------------- build
# Copies a tree file by file, each renamed into place: running processes (and the agent
# directory bind-mounted into test hosts) keep a consistent view, never a half-written file.
install_tree() {
  local src=$1 dst=$2 f
  mkdir -p "$dst"
  (cd "$src" && find . -type f -print0) | while IFS= read -r -d '' f; do
    mkdir -p "$dst/$(dirname "$f")"
    cp -p "$src/$f" "$dst/$f.new.$$"
    mv -f "$dst/$f.new.$$" "$dst/$f"
  done
}

cmd_build() {
  log "publishing controller, agent and CLI to $OF_PREFIX"
  local tmp; tmp=$(mktemp -d)
  for p in Controller:controller Agent:agent Cli:cli; do
    local extra=()
    # The agent is a native binary (Native AOT): no .NET runtime on hosts, a one-shot `converge`
    # starts in milliseconds and the idle service stays small. So is the CLI: a JIT-compiled `fleet`
    # spent ~0.5 s of CPU per call loading its gRPC client; native, a call takes ~0.1 s.
    case ${p%%:*} in Agent|Cli) extra=(-r linux-x64 -p:PublishAot=true) ;; esac
    dotnet publish "$ROOT/src/${p%%:*}" -c Release "${extra[@]}" -o "$tmp/${p#*:}" --nologo -v quiet >/dev/null \
      || die "dotnet publish src/${p%%:*} failed; run it by hand to see why"
    install_tree "$tmp/${p#*:}" "$OF_PREFIX/${p#*:}"
  done
  rm -rf "$tmp"
  cat > /usr/local/bin/fleet <<W
#!/bin/sh
exec $OF_PREFIX/cli/fleet "\$@"
W
  chmod 0755 /usr/local/bin/fleet
}

# ---------------------------------------------------------------- source
source_url() {
  case "${OF_SOURCE:-fixture}" in
    fixture) echo "git://$BRIDGE_IP/odoo.git" ;;
    real) echo "https://github.com/odoo/odoo.git" ;;
    *) die "--source must be fixture or real (got '$OF_SOURCE')" ;;
  esac
}

prepare_source() {
  [ "${OF_SOURCE:-fixture}" = fixture ] || return 0
  bash "$FIXTURE" "$OF_RUN/fixture" >/dev/null
  bash "$TESTHOSTS" git-serve "$OF_RUN/fixture" >/dev/null
}

# ---------------------------------------------------------------- controllers
controller_pid() { cat "$OF_RUN/controller-$1.pid" 2>/dev/null || true; }
controller_running() { local pid; pid=$(controller_pid "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

controller_start() {
  local n=$1 i=$(($1 - 1))
  controller_running "$n" && return 0
  secrets
  mkdir -p "$OF_RUN"
  local port=${CONTROLLER_PORTS[$i]}
  log "starting controller $n on :$port"
  (
    cd "$OF_PREFIX/controller"
    # The CLI's API on loopback; agents on the bridge over TLS (server certificate from the fleet CA,
    # client certificates required by every agent call but Enroll).
    export ASPNETCORE_URLS="http://127.0.0.1:$port;https://$BRIDGE_IP:$port"
    export Security__ServerNames__0=$BRIDGE_IP
    export ConnectionStrings__Fleet="Host=127.0.0.1;Username=odoofleet;Password=$OF_PG_PASSWORD;Database=$OF_DB"
    export Fleet__SourceUrl; Fleet__SourceUrl=$(source_url)
    # The fixture source has no Python requirements: an empty wheelhouse spares test hosts the compilers.
    [ "${OF_SOURCE:-fixture}" = fixture ] && export Fleet__Wheelhouse=/opt/wheelhouse
    export Fleet__AgentEndpoints__0="https://$BRIDGE_IP:${CONTROLLER_PORTS[0]}"
    export Fleet__AgentEndpoints__1="https://$BRIDGE_IP:${CONTROLLER_PORTS[1]}"
    export Fleet__ApiToken="$OF_API_TOKEN"
    # Each controller keeps its own release cache, as separate machines would.
    export Fleet__DataDirectory="$OF_RUN/data-$n"; mkdir -p "$Fleet__DataDirectory"
    export Secrets__KeyFile="$OF_ETC/secrets.key"
    export Broker__Host=127.0.0.1 Broker__AgentHost=$BRIDGE_IP Broker__VirtualHost="$OF_VHOST"
    export Broker__Username=odoofleet Broker__Password="$OF_MQ_PASSWORD"
    export Cluster__SiloPort=${SILO_PORTS[$i]} Cluster__GatewayPort=${GATEWAY_PORTS[$i]} Cluster__FastFailureDetection=true
    setsid nohup ./odoofleet-controller >>"$OF_RUN/controller-$n.log" 2>&1 < /dev/null &
    echo $! > "$OF_RUN/controller-$n.pid"
  )
  wait_for 90 "controller $n answering on :$port" fleet --controller "http://127.0.0.1:$port" hosts -o json
}

controller_stop() {
  local n=$1 sig=${2:-TERM} pid
  pid=$(controller_pid "$n")
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    log "controller $n: SIG$sig"
    kill -s "$sig" "$pid" 2>/dev/null || true
    local end=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.3; done
    if kill -0 "$pid" 2>/dev/null; then
      log "controller $n did not stop within 30s of SIG$sig: SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      wait_for 10 "controller $n exit after SIGKILL" bash -c "! kill -0 $pid"
    fi
  fi
  rm -f "$OF_RUN/controller-$n.pid"
}

write_cli_config() {
  secrets
  (umask 077
   cat > "$OF_ETC/fleet.json.tmp" <<J
{
  "controller": "http://127.0.0.1:${CONTROLLER_PORTS[0]}",
  "controllers": ["http://127.0.0.1:${CONTROLLER_PORTS[0]}", "http://127.0.0.1:${CONTROLLER_PORTS[1]}"],
  "apiToken": "$OF_API_TOKEN"
}
J
   mv "$OF_ETC/fleet.json.tmp" "$OF_ETC/fleet.json")
}

# ---------------------------------------------------------------- hosts
host_enrolled() { bash "$TESTHOSTS" exec "$1" -- test -s /etc/odoofleet/agent.json; }

boot_hosts() { bash "$TESTHOSTS" up --bind-ro "$OF_PREFIX/agent:/opt/odoofleet/agent" "$@" >/dev/null; }

cmd_enroll() {
  boot_hosts "$@"
  local h token
  for h in "$@"; do
    bash "$TESTHOSTS" exec "$h" -- ln -sfn /opt/odoofleet/agent/odoofleet-agent /usr/local/bin/odoofleet-agent
    bash "$TESTHOSTS" exec "$h" -- mkdir -p /opt/wheelhouse
    bash "$TESTHOSTS" exec "$h" -- sh -c 'cat > /etc/systemd/system/odoofleet-agent.service' < "$HERE/systemd/odoofleet-agent.service"
    if ! host_enrolled "$h"; then
      # A token bound to this host's name; the CA pin tells the agent the controller is ours.
      read -r token pin < <(fleet token create --ttl 10m --name "$h" -o json 2>/dev/null \
        | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["token"], t["caSha256"])')
      [ -n "${pin:-}" ] || die "fleet token create gave no CA fingerprint"
      log "enrolling $h"
      bash "$TESTHOSTS" exec "$h" -- odoofleet-agent enroll \
        --controller "https://$BRIDGE_IP:${CONTROLLER_PORTS[0]}" --controller "https://$BRIDGE_IP:${CONTROLLER_PORTS[1]}" \
        --token "$token" --ca-sha256 "$pin" --name "$h" >/dev/null
    fi
    bash "$TESTHOSTS" exec "$h" -- systemctl daemon-reload
    bash "$TESTHOSTS" exec "$h" -- systemctl enable --now odoofleet-agent.service >/dev/null 2>&1
  done
}

online_count() {
  fleet hosts -o json | python3 -c 'import json,sys; print(sum(1 for h in json.load(sys.stdin) if h["state"]=="online"))'
}

all_online() { [ "$(online_count)" -ge "$1" ]; }

cmd_up() {
  local hosts=3
  while (($#)); do
    case $1 in
      --source) OF_SOURCE=$2; shift 2 ;;
      --hosts) hosts=$2; shift 2 ;;
      *) die "unknown option $1 (see the header of $0)" ;;
    esac
  done
  [[ $hosts =~ ^[0-9]+$ ]] && ((hosts >= 1 && hosts <= 20)) || die "--hosts must be 1..20"
  export OF_SOURCE=${OF_SOURCE:-fixture}
  mkdir -p "$OF_RUN"; echo "$OF_SOURCE" > "$OF_RUN/source"
  cmd_deps
  [ -x "$OF_PREFIX/controller/odoofleet-controller" ] && [ "${OF_REBUILD:-1}" = 0 ] || cmd_build
  local names=() i
  for ((i = 1; i <= hosts; i++)); do names+=("th$i"); done
  # Hosts first: their bridge carries the controllers' agent endpoint and the fixture source.
  boot_hosts "${names[@]}"
  prepare_source
  write_cli_config
  controller_start 1
  controller_start 2
  cmd_enroll "${names[@]}"
  wait_for 120 "$hosts host(s) online" all_online "$hosts"
  log "up: $hosts host(s) online; try: fleet hosts"
}

cmd_down() {
  controller_stop 1 TERM || true
  controller_stop 2 TERM || true
  [ -x "$TESTHOSTS" ] || [ -f "$TESTHOSTS" ] && { bash "$TESTHOSTS" down || true; bash "$TESTHOSTS" git-serve --stop || true; }
  if command -v rabbitmqctl >/dev/null && rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmqctl -q list_vhosts | grep -qx "$OF_VHOST" && rabbitmqctl -q delete_vhost "$OF_VHOST" >/dev/null || true
    # Users are not per vhost: the per-host users the controllers made go too.
    rabbitmqctl -q list_users | awk '$1 ~ /^fleet-host-/ {print $1}' | while read -r u; do rabbitmqctl -q delete_user "$u" >/dev/null || true; done
  fi
  if command -v psql >/dev/null && runuser -u postgres -- psql -qAtc 'select 1' >/dev/null 2>&1; then
    runuser -u postgres -- dropdb --if-exists --force "$OF_DB" || true
  fi
  rm -rf "$OF_RUN" "$OF_ETC/fleet.json"
  log "down: controllers stopped, test hosts removed, database and vhost dropped"
}

cmd_status() {
  local n
  for n in 1 2; do
    if controller_running "$n"; then echo "controller $n: running (pid $(controller_pid "$n"))"; else echo "controller $n: stopped"; fi
  done
  bash "$TESTHOSTS" list 2>/dev/null || true
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root (it installs packages and boots test hosts)"
  local cmd=${1:-}; shift || true
  [ -f "$OF_RUN/source" ] && OF_SOURCE=${OF_SOURCE:-$(cat "$OF_RUN/source")}
  case $cmd in
    deps) cmd_deps ;;
    build) cmd_build ;;
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    enroll) cmd_enroll "$@" ;;
    status) cmd_status ;;
    controller)
      local action=${1:-} n=${2:-}
      [[ $n =~ ^[12]$ ]] || die "controller number must be 1 or 2"
      case $action in
        start) controller_start "$n" ;;
        stop) controller_stop "$n" TERM ;;
        kill) controller_stop "$n" KILL ;;
        *) die "controller start|stop|kill N" ;;
      esac ;;
    broker)
      case ${1:-} in
        stop) log "stopping RabbitMQ"; stop_rabbitmq ;;
        start) start_rabbitmq ;;
        restart) log "restarting RabbitMQ"; stop_rabbitmq; start_rabbitmq ;;
        *) die "broker stop|start|restart" ;;
      esac ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
  esac
}

main "$@"
