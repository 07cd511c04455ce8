#!/usr/bin/env bash
# One entry point for building and testing OdooFleet.
#
#   ./build.sh build     restore and build everything (warnings are errors)
#   ./build.sh test      as root on Debian/Ubuntu: install and start what the tests need
#                        (PostgreSQL, RabbitMQ, debootstrap, systemd-nspawn), build, then run
#                        unit, integration and system tests; ends with "N passed, N failed"
#   ./build.sh unit      only the unit and integration test projects (needs `./build.sh deps` once)
#   ./build.sh system    as root: only the system tests (they take over the single-box stack)
#   ./build.sh deps      only install and start PostgreSQL and RabbitMQ
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
RESULTS="$ROOT/artifacts/test-results"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build() { dotnet build OdooFleet.sln -c Release --nologo -v quiet -warnaserror; }

deps() { bash deploy/stack.sh deps; }

pg_for_tests() {
  # shellcheck disable=SC1091
  . /etc/odoofleet/stack.env
  export OF_TEST_PG="Host=127.0.0.1;Username=odoofleet;Password=$OF_PG_PASSWORD;Database=postgres"
  export OF_TEST_MQ="amqp://odoofleet:$OF_MQ_PASSWORD@127.0.0.1:5672/%2Fodoofleet"
}

# Runs one test project's executable; records its counts in $RESULTS/<name>.counts.
run_project() {
  local name=$1 exe="$ROOT/tests/$1/bin/Release/net10.0/OdooFleet.$1"
  local out="$RESULTS/$name.log"
  echo "== $name" >&2
  set +e
  "$exe" -noColor -result-trx "$RESULTS/$name.trx" 2>&1 | tee "$out" >&2
  local rc=${PIPESTATUS[0]}
  set -e
  if [ -f "$RESULTS/$name.trx" ]; then
    python3 "$ROOT/.ci/trx-counts.py" "$RESULTS/$name.trx" > "$RESULTS/$name.counts"
  else
    echo "$name: the test run wrote no results (crashed or did not start); counted as one failure" >&2
    echo "0 1" > "$RESULTS/$name.counts"
  fi
  return "$rc"
}

summary() {
  local passed=0 failed=0 p f
  for c in "$RESULTS"/*.counts; do
    [ -f "$c" ] || continue
    read -r p f < "$c"
    passed=$((passed + p)); failed=$((failed + f))
  done
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

tests() {
  rm -rf "$RESULTS"; mkdir -p "$RESULTS"
  local rc=0 project
  for project in "$@"; do run_project "$project" || rc=1; done
  summary || rc=1
  return "$rc"
}

# The system tests take over the machine-wide stack (ports, /opt/odoofleet, test hosts): one run at a time,
# also across checkouts.
stack_lock() { exec 9>/run/lock/odoofleet-stack.lock; flock 9; }

case ${1:-} in
  build) build ;;
  deps) deps ;;
  unit) build; pg_for_tests; tests Agent.Tests Cli.Tests Controller.Tests Integration.Tests ;;
  test)
    [ "$(id -u)" = 0 ] || { echo "build.sh test: run as root (installs packages, boots test hosts)" >&2; exit 2; }
    stack_lock
    deps
    build
    pg_for_tests
    tests Agent.Tests Cli.Tests Controller.Tests Integration.Tests System.Tests ;;
  system)
    [ "$(id -u)" = 0 ] || { echo "build.sh system: run as root (installs packages, boots test hosts)" >&2; exit 2; }
    stack_lock
    deps
    build
    pg_for_tests
    tests System.Tests ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
