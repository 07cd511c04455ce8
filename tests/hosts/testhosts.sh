#!/usr/bin/env bash
# testhosts.sh - boot real Debian 12 "test hosts" with systemd-nspawn, one network
# namespace each, on a private bridge. Test-only tooling; see
# /work/shared/design/TEST-HOSTS.md for the facts this relies on.
#
# Conventions (other code depends on them):
#   bridge ofbr0 = 10.231.0.1/24; host thN (N=1..50) = 10.231.0.(10+N), MAC 02:0f:00:00:00:NN,
#   netns/machine of-thN, hostname thN, veth ve-of-thN (host side) / host0 (inside).
#
# Usage:
#   testhosts.sh base
#   testhosts.sh up [--bind-ro SRC:DST]... thN...
#   testhosts.sh start [--bind-ro SRC:DST]... thN...
#   testhosts.sh stop thN...
#   testhosts.sh destroy thN...|--all
#   testhosts.sh down
#   testhosts.sh exec thN -- CMD [ARGS...]
#   testhosts.sh ip thN | pid thN | list
#   testhosts.sh git-serve DIR | git-serve --stop
#
# Hosts install packages through an apt-cacher-ng on the bridge (started by `up`, cache kept in
# $OF_CACHE_DIR/apt-cacher-ng so a rerun downloads nothing); their network has no other way out.
#
# Environment: OF_CACHE_DIR (/var/cache/odoofleet), OF_STATE_DIR (/var/lib/odoofleet-testhosts),
#   OF_BOOT_TIMEOUT (120 s), OF_STOP_TIMEOUT (30 s), OF_EXTRA_BIND_RO ("SRC:DST ..."),
#   OF_DEBIAN_MIRROR (default: first URIs: line of /etc/apt/sources.list.d/debian.sources).
# Progress goes to stderr, results to stdout.
set -euo pipefail
# build.sh holds the machine-wide stack lock on fd 9: daemons started from here must not inherit it
# (a PostgreSQL or controller holding it would block every later run).
exec 9>&-

readonly SCRIPT_VERSION=1
readonly PACKAGES="systemd,systemd-sysv,dbus,iproute2,python3,python3-venv,python3-psycopg2,git,ca-certificates,procps,curl,iputils-ping"
readonly CACHE_DIR="${OF_CACHE_DIR:-/var/cache/odoofleet}"
readonly STATE_DIR="${OF_STATE_DIR:-/var/lib/odoofleet-testhosts}"
readonly BOOT_TIMEOUT="${OF_BOOT_TIMEOUT:-120}"
readonly STOP_TIMEOUT="${OF_STOP_TIMEOUT:-30}"
readonly BRIDGE=ofbr0
readonly BRIDGE_ADDR=10.231.0.1
readonly PREFIX_LEN=24
readonly CG_SYSTEMD=/sys/fs/cgroup/systemd
readonly CG_UNIFIED=/sys/fs/cgroup/unified
readonly GIT_PORT=9418
readonly APT_PROXY_PORT=3142
readonly INNER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'testhosts: %s\n' "$*" >&2; }
die() { printf 'testhosts: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- naming helpers

check_name() {
  [[ "$1" =~ ^th([1-9]|[1-4][0-9]|50)$ ]] || die "invalid test host name '$1' (expected th1..th50)"
}
host_num() { echo "${1#th}"; }
host_ip() { echo "10.231.0.$(( 10 + $(host_num "$1") ))"; }
host_mac() { printf '02:0f:00:00:00:%02x' "$(host_num "$1")"; }
host_side_mac() { printf '02:0f:00:00:01:%02x' "$(host_num "$1")"; }
machine_name() { echo "of-$1"; }
veth_name() { echo "ve-of-$1"; }
host_dir() { echo "$STATE_DIR/$1"; }
root_dir() { echo "$STATE_DIR/$1/root"; }
pid_file() { echo "$STATE_DIR/$1/nspawn.pid"; }

base_key() {
  printf '%s\n%s\n' "$PACKAGES" "$SCRIPT_VERSION" | sha256sum | cut -c1-12
}
base_dir() { echo "$CACHE_DIR/testhost-base-$(base_key)"; }

require_root() { [[ $EUID -eq 0 ]] || die "must run as root"; }

# Serialise state-changing commands (up/start/stop/destroy/down/git-serve).
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "could not take $STATE_DIR/.lock within 300 s"
}

# ---------------------------------------------------------------- base root fs

debian_mirror() {
  if [[ -n "${OF_DEBIAN_MIRROR:-}" ]]; then echo "$OF_DEBIAN_MIRROR"; return; fi
  local src=/etc/apt/sources.list.d/debian.sources uri
  [[ -r $src ]] || die "cannot read $src (set OF_DEBIAN_MIRROR)"
  uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
  [[ -n $uri ]] || die "no URIs: line in $src (set OF_DEBIAN_MIRROR)"
  echo "$uri"
}

# Unmount everything at or below $1 (deepest first).
umount_below() {
  local dir=$1 m
  while read -r m; do
    if [[ -n $m ]]; then umount -l "$m" 2>/dev/null || true; fi
  done < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts | sort -r)
}

remove_tree() {
  local dir=$1
  [[ -e $dir ]] || return 0
  umount_below "$dir"
  if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {found=1} END {exit !found}' /proc/self/mounts; then
    die "refusing to delete $dir: something is still mounted below it"
  fi
  rm -rf --one-file-system "$dir"
}

customize_base() {
  local r=$1
  : > "$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
  printf '# test host: no DNS (private network, no way out)\n' > "$r/etc/resolv.conf"
  echo localhost > "$r/etc/hostname"
  local u
  for u in systemd-networkd-wait-online.service getty@.service console-getty.service \
           container-getty@.service serial-getty@.service apt-daily.timer \
           apt-daily-upgrade.timer systemd-timesyncd.service e2scrub_reap.service \
           systemd-firstboot.service; do
    ln -sf /dev/null "$r/etc/systemd/system/$u"
  done
  rm -f "$r"/var/cache/apt/archives/*.deb
  mkdir -p "$r/usr/share/dotnet"
}

ensure_base() {
  local base tmp mirror
  base=$(base_dir)
  if [[ -d $base ]]; then echo "$base"; return; fi
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.base.lock"
  flock -w 900 8 || die "could not take $CACHE_DIR/.base.lock within 900 s"
  if [[ -d $base ]]; then exec 8>&-; echo "$base"; return; fi
  # Anything left by a killed build is stale (we hold the lock).
  for tmp in "$CACHE_DIR"/.tmp-testhost-base-*; do
    [[ -e $tmp ]] && { log "removing stale partial build $tmp"; remove_tree "$tmp"; }
  done
  command -v debootstrap >/dev/null || die "debootstrap is not installed"
  mirror=$(debian_mirror)
  tmp="$CACHE_DIR/.tmp-testhost-base-$(base_key).$$"
  log "building base root fs (debootstrap bookworm from $mirror; takes ~2 min) ..."
  local start=$SECONDS
  if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$tmp" "$mirror" \
        > "$CACHE_DIR/.debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/.debootstrap.log" >&2 || true
    remove_tree "$tmp"
    die "debootstrap failed (log: $CACHE_DIR/.debootstrap.log)"
  fi
  umount_below "$tmp"
  customize_base "$tmp"
  mv -T "$tmp" "$base"
  exec 8>&-
  log "base ready in $((SECONDS - start)) s: $base"
  echo "$base"
}

# ---------------------------------------------------------------- network

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "creating bridge $BRIDGE ($BRIDGE_ADDR/$PREFIX_LEN)"
    ip link add "$BRIDGE" type bridge
  fi
  if ! ip -4 addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_ADDR/"; then
    ip addr add "$BRIDGE_ADDR/$PREFIX_LEN" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  # Machines may reach only the bridge: never forward what arrives on it.
  echo 0 > "/proc/sys/net/ipv4/conf/$BRIDGE/forwarding" 2>/dev/null || true
}

ensure_netns() {
  local h=$1 ns veth
  ns=$(machine_name "$h"); veth=$(veth_name "$h")
  [[ -e /run/netns/$ns ]] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip -n "$ns" link del host0 2>/dev/null || true
    ip link add "$veth" address "$(host_side_mac "$h")" type veth \
      peer name host0 address "$(host_mac "$h")" netns "$ns"
  fi
  ip link set "$veth" master "$BRIDGE"
  ip link set "$veth" up
  ip -n "$ns" link set lo up
  if ! ip -n "$ns" -4 addr show dev host0 | grep -q "inet $(host_ip "$h")/"; then
    ip -n "$ns" addr add "$(host_ip "$h")/$PREFIX_LEN" dev host0
  fi
  ip -n "$ns" link set host0 up
  ip -n "$ns" route replace default via "$BRIDGE_ADDR" dev host0
}

# ---------------------------------------------------------------- overlay

ensure_overlay() {
  local h=$1 base=$2 d root
  d=$(host_dir "$h"); root=$(root_dir "$h")
  if [[ -f $d/base ]] && [[ $(cat "$d/base") != "$base" ]]; then
    log "$h: base changed ($(cat "$d/base") -> $base), resetting its overlay"
    remove_tree "$d/upper"; remove_tree "$d/work"
  fi
  mkdir -p "$d/upper" "$d/work" "$root"
  echo "$base" > "$d/base"
  if ! mountpoint -q "$root"; then
    mount -t overlay "overlay-of-$h" -o "lowerdir=$base,upperdir=$d/upper,workdir=$d/work" "$root"
  fi
  if [[ ! -s $root/etc/machine-id ]]; then
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$root/etc/machine-id"
    echo >> "$root/etc/machine-id"
  fi
  # Packages come through the cacher on the bridge; dpkg skips fsync (a test host is disposable).
  printf 'Acquire::http::Proxy "http://%s:%s";\n' "$BRIDGE_ADDR" "$APT_PROXY_PORT" > "$root/etc/apt/apt.conf.d/01odoofleet-proxy"
  printf 'force-unsafe-io\n' > "$root/etc/dpkg/dpkg.cfg.d/odoofleet-unsafe-io"
  echo "$h" > "$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' \
    "$(host_ip "$h")" "$h" > "$root/etc/hosts"
}

# ---------------------------------------------------------------- processes

nspawn_pid() {  # prints the live nspawn pid of host $1, or fails
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid && -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]] || return 1
  echo "$pid"
}

init_pid() {  # the machine's init = the nspawn process's child
  local np c
  np=$(nspawn_pid "$1") || return 1
  local -a kids=()
  read -r -a kids < "/proc/$np/task/$np/children" 2>/dev/null || true
  for c in "${kids[@]+"${kids[@]}"}"; do
    if [[ $(cat "/proc/$c/comm" 2>/dev/null) == systemd ]]; then echo "$c"; return 0; fi
  done
  return 1
}

is_running() { nspawn_pid "$1" >/dev/null; }

# True while the launched process lives, also in the instant before the subshell has exec'd nspawn.
is_launched() {
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid && -d /proc/$pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) =~ ^(systemd-nspawn|bash)$ ]]
}

cg_create() {
  local m=$1 root
  for root in "$CG_SYSTEMD" "$CG_UNIFIED"; do mkdir -p "$root/$m"; done
}

cg_pids() {  # all pids in the host's cgroups (both hierarchies)
  local m=$1 root
  for root in "$CG_SYSTEMD" "$CG_UNIFIED"; do
    [[ -d $root/$m ]] && find "$root/$m" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

cg_remove() {
  local m=$1 root deadline=$((SECONDS + 10))
  for root in "$CG_SYSTEMD" "$CG_UNIFIED"; do
    [[ -d $root/$m ]] || continue
    while ! find "$root/$m" -depth -type d -exec rmdir {} + 2>/dev/null; do
      [[ -d $root/$m ]] || break
      if (( SECONDS >= deadline )); then log "warning: could not remove cgroup $root/$m"; break; fi
      sleep 0.2
    done
  done
}

# Read saved + new bind specs for a host; echo the union (one per line).
merge_binds() {
  local h=$1; shift
  local f; f="$(host_dir "$h")/binds"
  { [[ -f $f ]] && cat "$f"; for b in "$@"; do echo "$b"; done; } | awk 'NF && !seen[$0]++'
}

launch() {  # launch nspawn for host $1 (overlay + netns ready); remaining args: bind specs
  local h=$1; shift
  local m root d logf
  m=$(machine_name "$h"); root=$(root_dir "$h"); d=$(host_dir "$h"); logf="$d/nspawn.log"
  local -a args=(--quiet --register=no --keep-unit -b -D "$root" -M "$m" --hostname="$h"
                 --network-namespace-path="/run/netns/$m" --console=passive
                 --resolv-conf=off --link-journal=no --bind-ro=/usr/share/dotnet:/usr/share/dotnet
                 # Services see the machine's own bounding set, which lacks CAP_NET_ADMIN unless granted:
                 # the agent's firewall (ufw) and fail2ban's bans need it, as on a real host.
                 --capability=CAP_NET_ADMIN)
  local b
  for b in "$@"; do args+=("--bind-ro=$b"); done
  cg_create "$m"
  rm -rf "/run/systemd/nspawn/propagate/$m"
  : > "$logf"
  (
    exec 8>&- 9>&-  # never let the machine inherit our lock fds
    echo "$BASHPID" > "$CG_SYSTEMD/$m/cgroup.procs"
    echo "$BASHPID" > "$CG_UNIFIED/$m/cgroup.procs"
    exec systemd-nspawn "${args[@]}" < /dev/null >> "$logf" 2>&1
  ) &
  echo $! > "$(pid_file "$h")"
  disown $! 2>/dev/null || true
}

# Wait until all given hosts have booted and answer ping, with one shared deadline.
wait_booted() {
  local deadline=$((SECONDS + BOOT_TIMEOUT)) h ip st ip_ok ip_pid
  local -a pending=("$@")
  while ((${#pending[@]})); do
    local -a still=()
    for h in "${pending[@]}"; do
      if ! is_launched "$h"; then
        tail -n 20 "$(host_dir "$h")/nspawn.log" >&2 || true
        die "$h: systemd-nspawn exited during boot (log: $(host_dir "$h")/nspawn.log)"
      fi
      st=""
      if ip_pid=$(init_pid "$h"); then
        st=$(timeout 5 nsenter -t "$ip_pid" -a env -i PATH="$INNER_PATH" systemctl is-system-running 2>/dev/null || true)
      fi
      ip_ok=no
      if [[ $st == running || $st == degraded ]]; then
        ip=$(host_ip "$h")
        if command -v ping >/dev/null; then
          ping -c1 -W1 -I "$BRIDGE" "$ip" >/dev/null 2>&1 && ip_ok=yes
        else  # no ping on this box: ping the bridge from inside instead (same path, both ways)
          timeout 5 nsenter -t "$ip_pid" -a ping -c1 -W1 "$BRIDGE_ADDR" >/dev/null 2>&1 && ip_ok=yes
        fi
      fi
      if [[ $ip_ok == yes ]]; then
        log "$h: up ($st) at $(host_ip "$h")"
      else
        still+=("$h")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if (( SECONDS >= deadline )); then
      die "timed out after ${BOOT_TIMEOUT} s waiting for boot of: ${pending[*]} (see $STATE_DIR/<host>/nspawn.log)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local -a binds=() hosts=()
  while (($#)); do
    case $1 in
      --bind-ro) [[ $# -ge 2 ]] || die "--bind-ro needs SRC:DST"; binds+=("$2"); shift 2 ;;
      --bind-ro=*) binds+=("${1#--bind-ro=}"); shift ;;
      -*) die "unknown option $1" ;;
      *) check_name "$1"; hosts+=("$1"); shift ;;
    esac
  done
  ((${#hosts[@]})) || die "usage: testhosts.sh up [--bind-ro SRC:DST]... thN..."
  local b e
  for b in "${binds[@]+"${binds[@]}"}"; do
    [[ $b == *:* ]] || die "--bind-ro '$b': expected SRC:DST"
    [[ -e ${b%%:*} ]] || die "--bind-ro '$b': ${b%%:*} does not exist"
  done
  # shellcheck disable=SC2206  # space-separated list by contract
  local -a extra=(${OF_EXTRA_BIND_RO:-})
  for e in "${extra[@]+"${extra[@]}"}"; do
    [[ $e == *:* ]] || die "OF_EXTRA_BIND_RO entry '$e': expected SRC:DST"
    [[ -e ${e%%:*} ]] || die "OF_EXTRA_BIND_RO entry '$e': ${e%%:*} does not exist"
  done
  [[ -d /usr/share/dotnet ]] || die "/usr/share/dotnet does not exist on this box"
  take_lock
  local base; base=$(ensure_base)
  ensure_bridge
  cacher_start
  local h started=()
  for h in "${hosts[@]}"; do
    if is_running "$h"; then log "$h: already running"; continue; fi
    mkdir -p "$(host_dir "$h")"
    ensure_netns "$h"
    ensure_overlay "$h" "$base"
    local -a hb=()
    mapfile -t hb < <(merge_binds "$h" "${binds[@]+"${binds[@]}"}")
    printf '%s\n' "${hb[@]+"${hb[@]}"}" > "$(host_dir "$h")/binds"
    log "$h: booting"
    launch "$h" "${hb[@]+"${hb[@]}"}" "${extra[@]+"${extra[@]}"}"
    started+=("$h")
  done
  if ((${#started[@]})); then wait_booted "${started[@]}"; fi
  for h in "${hosts[@]}"; do printf '%s\t%s\t%s\n' "$h" "$(host_ip "$h")" "$(init_pid "$h" || echo -)"; done
}

stop_hosts() {  # stop (power off) the given hosts in parallel; keeps overlay upper + netns
  local h pid m deadline=$((SECONDS + STOP_TIMEOUT))
  local -a waiting=()
  for h in "$@"; do
    if pid=$(nspawn_pid "$h"); then
      log "$h: powering off"
      kill -TERM "$pid" 2>/dev/null || true
      waiting+=("$h")
    fi
  done
  while ((${#waiting[@]})); do
    local -a still=()
    for h in "${waiting[@]}"; do is_running "$h" && still+=("$h"); done
    waiting=("${still[@]+"${still[@]}"}")
    ((${#waiting[@]})) || break
    if (( SECONDS >= deadline )); then
      for h in "${waiting[@]}"; do
        log "$h: no clean power-off within ${STOP_TIMEOUT} s, killing"
        if pid=$(nspawn_pid "$h"); then kill -KILL "$pid" 2>/dev/null || true; fi
      done
      deadline=$((SECONDS + 10)); sleep 0.5
      local -a still2=()
      for h in "${waiting[@]}"; do is_running "$h" && still2+=("$h"); done
      ((${#still2[@]})) && die "could not kill: ${still2[*]}"
      break
    fi
    sleep 0.2
  done
  for h in "$@"; do
    m=$(machine_name "$h")
    # Anything left in the host's cgroups (there should be nothing) gets killed.
    local left tries=0
    while left=$(cg_pids "$m") && [[ -n $left ]]; do
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
      (( ++tries > 50 )) && { log "warning: processes left in cgroup $m: $left"; break; }
      sleep 0.1
    done
    cg_remove "$m"
    rm -rf "/run/systemd/nspawn/propagate/$m"
    rm -f "$(pid_file "$h")"
    local root; root=$(root_dir "$h")
    if mountpoint -q "$root" 2>/dev/null; then
      local t=0
      until umount "$root" 2>/dev/null; do
        (( ++t > 25 )) && { log "$h: overlay busy, lazy unmount"; umount -l "$root"; break; }
        sleep 0.2
      done
    fi
  done
}

cmd_stop() {
  (($#)) || die "usage: testhosts.sh stop thN..."
  local h; for h in "$@"; do check_name "$h"; done
  take_lock
  stop_hosts "$@"
  for h in "$@"; do printf '%s\tstopped\n' "$h"; done
}

known_hosts() {  # every host with any trace on this box
  {
    local p
    for p in "$STATE_DIR"/th*; do [[ -d $p ]] && basename "$p"; done
    for p in /run/netns/of-th*; do [[ -e $p ]] && basename "$p" | sed 's/^of-//'; done
    for p in "$CG_SYSTEMD"/of-th* "$CG_UNIFIED"/of-th*; do [[ -d $p ]] && basename "$p" | sed 's/^of-//'; done
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed -n 's/^ve-of-\(th[0-9]*\).*/\1/p'
  } | grep -E '^th([1-9]|[1-4][0-9]|50)$' | sort -u -V || true
}

destroy_hosts() {
  local h m
  stop_hosts "$@"
  for h in "$@"; do
    m=$(machine_name "$h")
    ip link del "$(veth_name "$h")" 2>/dev/null || true
    [[ -e /run/netns/$m ]] && ip netns del "$m"
    cg_remove "$m"
    rm -rf "/run/systemd/nspawn/propagate/$m"
    remove_tree "$(host_dir "$h")"
    log "$h: destroyed"
  done
}

cmd_destroy() {
  (($#)) || die "usage: testhosts.sh destroy thN...|--all"
  local -a hosts=()
  if [[ $1 == --all ]]; then
    mapfile -t hosts < <(known_hosts)
  else
    local h; for h in "$@"; do check_name "$h"; done
    hosts=("$@")
  fi
  take_lock
  ((${#hosts[@]})) && destroy_hosts "${hosts[@]}"
  local x; for x in "${hosts[@]+"${hosts[@]}"}"; do printf '%s\tdestroyed\n' "$x"; done
}

cmd_down() {
  take_lock
  local -a hosts=()
  mapfile -t hosts < <(known_hosts)
  ((${#hosts[@]})) && destroy_hosts "${hosts[@]}"
  git_stop
  cacher_stop
  if ip link show "$BRIDGE" >/dev/null 2>&1; then log "removing bridge $BRIDGE"; ip link del "$BRIDGE"; fi
  rm -f "$STATE_DIR/.lock"
  rmdir "$STATE_DIR" 2>/dev/null || true
  echo down
}

cmd_exec() {
  [[ $# -ge 1 ]] || die "usage: testhosts.sh exec thN -- CMD [ARGS...]"
  local h=$1; shift
  check_name "$h"
  [[ ${1:-} == -- ]] && shift
  (($#)) || die "usage: testhosts.sh exec thN -- CMD [ARGS...]"
  local ip_pid
  ip_pid=$(init_pid "$h") || die "$h is not running"
  exec nsenter -t "$ip_pid" -a -- env -i PATH="$INNER_PATH" HOME=/root LANG=C.UTF-8 \
    TERM="${TERM:-dumb}" "$@"
}

cmd_ip() { [[ $# -eq 1 ]] || die "usage: testhosts.sh ip thN"; check_name "$1"; host_ip "$1"; }

cmd_pid() {
  [[ $# -eq 1 ]] || die "usage: testhosts.sh pid thN"
  check_name "$1"
  init_pid "$1" || die "$1 is not running"
}

cmd_list() {
  local h
  while read -r h; do
    [[ -n $h ]] || continue
    if is_running "$h"; then st=running; else st=stopped; fi
    printf '%s\t%s\t%s\n' "$h" "$(host_ip "$h")" "$st"
  done < <(known_hosts)
}

# ---------------------------------------------------------------- apt cache for hosts

cacher_pidfile() { echo "$STATE_DIR/apt-cacher-ng.pid"; }

cacher_running() {
  local pid; pid=$(cat "$(cacher_pidfile)" 2>/dev/null) || return 1
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == apt-cacher-ng ]]
}

cacher_start() {
  cacher_running && return 0
  command -v apt-cacher-ng >/dev/null || die "apt-cacher-ng is not installed (deploy/stack.sh deps installs it)"
  local conf="$STATE_DIR/apt-cacher-ng" cache="$CACHE_DIR/apt-cacher-ng"
  mkdir -p "$conf" "$cache"
  # The stock config remaps the Debian mirror to a name that does not resolve here: no Remap lines.
  printf '%s\n' "CacheDir: $cache" "LogDir: $conf" "SupportDir: /usr/lib/apt-cacher-ng" \
    "Port: $APT_PROXY_PORT" "BindAddress: $BRIDGE_ADDR" "PidFile: $(cacher_pidfile)" "ExThreshold: 4" > "$conf/acng.conf"
  log "starting apt-cacher-ng on $BRIDGE_ADDR:$APT_PROXY_PORT (cache $cache)"
  apt-cacher-ng -c "$conf" ForeGround=0 8>&- 9>&- >/dev/null 2>&1 || die "apt-cacher-ng failed to start (see $conf)"
  local t=0
  until cacher_running && (exec 3<>"/dev/tcp/$BRIDGE_ADDR/$APT_PROXY_PORT") 2>/dev/null; do
    (( ++t > 50 )) && die "apt-cacher-ng is not listening on $BRIDGE_ADDR:$APT_PROXY_PORT after 5 s"
    sleep 0.1
  done
}

cacher_stop() {
  local pid t=0
  if cacher_running; then
    pid=$(cat "$(cacher_pidfile)")
    kill -TERM "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]]; do (( ++t > 50 )) && { kill -KILL "$pid" 2>/dev/null || true; break; }; sleep 0.1; done
  fi
  rm -f "$(cacher_pidfile)"
}

git_pidfile() { echo "$STATE_DIR/git-daemon.pid"; }

git_running_pid() {
  local f pid; f=$(git_pidfile)
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == git-daemon ]] || return 1
  echo "$pid"
}

git_stop() {
  local pid t=0
  if pid=$(git_running_pid); then
    log "stopping git daemon ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]]; do
      (( ++t > 50 )) && { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.1
    done
  fi
  rm -f "$(git_pidfile)" "$STATE_DIR/git-daemon.dir"
}

cmd_git_serve() {
  [[ $# -eq 1 ]] || die "usage: testhosts.sh git-serve DIR | git-serve --stop"
  take_lock
  if [[ $1 == --stop ]]; then git_stop; echo stopped; return; fi
  local dir; dir=$(realpath -e "$1") || die "no such directory: $1"
  if git_running_pid >/dev/null && [[ $(cat "$STATE_DIR/git-daemon.dir" 2>/dev/null) == "$dir" ]]; then
    log "git daemon already serving $dir"
  else
    git_stop
    ensure_bridge
    log "serving $dir on git://$BRIDGE_ADDR:$GIT_PORT/"
    git -c uploadpack.allowAnySHA1InWant=true -c uploadpack.allowReachableSHA1InWant=true \
      daemon --reuseaddr --export-all --base-path="$dir" --listen="$BRIDGE_ADDR" \
      --port="$GIT_PORT" --detach --pid-file="$(git_pidfile)" 8>&- 9>&- \
      || die "git daemon failed to start"
    echo "$dir" > "$STATE_DIR/git-daemon.dir"
    local t=0
    until git_running_pid >/dev/null && (exec 3<>"/dev/tcp/$BRIDGE_ADDR/$GIT_PORT") 2>/dev/null; do
      (( ++t > 50 )) && die "git daemon is not listening on $BRIDGE_ADDR:$GIT_PORT after 5 s"
      sleep 0.1
    done
  fi
  echo "git://$BRIDGE_ADDR/"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

main() {
  (($#)) || usage
  local cmd=$1; shift
  case $cmd in
    base) require_root; ensure_base ;;
    up|start) require_root; cmd_up "$@" ;;
    stop) require_root; cmd_stop "$@" ;;
    destroy) require_root; cmd_destroy "$@" ;;
    down) require_root; cmd_down ;;
    exec) require_root; cmd_exec "$@" ;;
    ip) cmd_ip "$@" ;;
    pid) cmd_pid "$@" ;;
    list) cmd_list ;;
    git-serve) require_root; cmd_git_serve "$@" ;;
    -h|--help|help) usage ;;
    *) die "unknown command '$cmd' (try --help)" ;;
  esac
}

main "$@"
