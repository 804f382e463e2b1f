#!/usr/bin/env bash
# Serves the app like `spin up`: with the Spin CLI when a supported one (3.0 or newer)
# is on PATH, otherwise with roster-host, which takes the same flags and variables.
#
# Usage: scripts/up.sh [LISTEN] [--runtime-config-file FILE]
#   LISTEN                      address to listen on (default 127.0.0.1:3000)
#   --runtime-config-file FILE  a Spin runtime config (e.g. deploy/runtime-config.redis.toml);
#                               RUNTIME_CONFIG=FILE in the environment does the same.
#                               Default: the project's runtime-config.toml (the `ratelimit`
#                               store in memory, which every component needs)
#   UP_DRY_RUN=1                print the command instead of running it (scripts/test-up.sh)
#
# Supported Spin: 3.x (3.0 brought wasi:keyvalue@0.2.0-draft2, which the components
# import), 4.0.x and 4.1. Spin 2.x lacks wasi:keyvalue and cannot run them.
set -euo pipefail

listen="127.0.0.1:3000"
runtime_config="${RUNTIME_CONFIG:-}"
while (($#)); do
  case "$1" in
    --runtime-config-file) runtime_config="${2:?--runtime-config-file needs a file}"; shift 2 ;;
    --runtime-config-file=*) runtime_config="${1#*=}"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "up.sh: unknown option $1" >&2; exit 2 ;;
    *) listen="$1"; shift ;;
  esac
done

# The runtime config path is taken relative to where the caller stands, before the cd.
# Without one, the project's own: every component uses the `ratelimit` store, which
# only a runtime config defines (Spin refuses the app otherwise).
if [ -z "$runtime_config" ]; then
  runtime_config="$(dirname "$0")/../runtime-config.toml"
fi
if [ -n "$runtime_config" ]; then
  if [ ! -f "$runtime_config" ]; then
    echo "up.sh: runtime config file not found: $runtime_config" >&2
    exit 2
  fi
  runtime_config="$(cd "$(dirname "$runtime_config")" && pwd)/$(basename "$runtime_config")"
fi

cd "$(dirname "$0")/.."

if [ -z "${SPIN_VARIABLE_ADMIN_TOKEN:-}" ]; then
  mkdir -p .spin
  if [ ! -s .spin/admin_token ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > .spin/admin_token)
  fi
  SPIN_VARIABLE_ADMIN_TOKEN="$(cat .spin/admin_token)"
  export SPIN_VARIABLE_ADMIN_TOKEN
  echo "admin token (SPIN_VARIABLE_ADMIN_TOKEN) is in .spin/admin_token"
fi

# `spin --version` prints "spin 3.0.0 (<sha> <date>)" (Spin's src/bin/spin.rs); a
# pre-release reads "spin 4.1.0-pre0 (…)". Supported: major version 3 or newer.
spin_is_supported() {
  command -v spin >/dev/null 2>&1 || return 1
  local v major
  v="$(spin --version 2>/dev/null | awk 'NR == 1 {print $2}')" || return 1
  major="${v%%.*}"
  [[ "$major" =~ ^[0-9]+$ ]] || return 1
  ((major >= 3))
}

run() {
  if [ -n "${UP_DRY_RUN:-}" ]; then
    echo "$*"
    exit 0
  fi
  exec "$@"
}

rc_args=()
if [ -n "$runtime_config" ]; then
  rc_args=(--runtime-config-file "$runtime_config")
fi

if spin_is_supported; then
  run spin up --listen "$listen" "${rc_args[@]}"
else
  echo "no Spin CLI 3.0 or newer on PATH: serving with roster-host (its first run compiles it, wasmtime included: several minutes without output)"
  run cargo run --quiet -p roster-host -- up --listen "$listen" "${rc_args[@]}"
fi
