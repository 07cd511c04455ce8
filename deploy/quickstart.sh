#!/usr/bin/env bash
# OdooFleet quickstart, as root on a fresh Debian 12 / Ubuntu 22.04 / 24.04 machine:
# installs PostgreSQL and RabbitMQ, builds, starts two controller processes, boots 3 test hosts
# with enrolled agents, puts `fleet` on PATH and runs `fleet rollout --version 18.0 --wait`.
#
#   deploy/quickstart.sh [--source real|fixture] [--hosts N]   (default source: real Odoo repository)
#   deploy/quickstart.sh --down                                  remove everything it started
#
# Idempotent: a second run reuses what exists.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" = --down ]; then exec bash "$HERE/stack.sh" down; fi
args=(--source real)
while (($#)); do
  case $1 in
    --source|--hosts) args+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
bash "$HERE/stack.sh" up "${args[@]}"
fleet hosts
fleet rollout --version 18.0 --wait
