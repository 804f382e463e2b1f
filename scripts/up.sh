#!/usr/bin/env bash
# Serves the app like `spin up`: with the Spin CLI (4.1 or newer: spin-sdk 7 components
# export wasi:http/handler@0.3.0, which Spin 4.0 does not accept) when it is on PATH,
# otherwise with roster-host, which takes the same flags and variables.
set -euo pipefail
cd "$(dirname "$0")/.."
listen="${1:-127.0.0.1:3000}"

if [ -z "${SPIN_VARIABLE_ADMIN_TOKEN:-}" ]; then
  mkdir -p .spin
  if [ ! -s .spin/admin_token ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > .spin/admin_token)
  fi
  SPIN_VARIABLE_ADMIN_TOKEN="$(cat .spin/admin_token)"
  export SPIN_VARIABLE_ADMIN_TOKEN
  echo "admin token (SPIN_VARIABLE_ADMIN_TOKEN) is in .spin/admin_token"
fi

spin_is_new_enough() {
  command -v spin >/dev/null 2>&1 || return 1
  local v major minor
  v="$(spin --version 2>/dev/null | awk '{print $2}')"
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  (( major > 4 || (major == 4 && minor >= 1) ))
}

if spin_is_new_enough; then
  exec spin up --listen "$listen"
else
  echo "no Spin CLI >= 4.1 on PATH: serving with roster-host"
  exec cargo run --quiet -p roster-host -- up --listen "$listen"
fi
