#!/usr/bin/env bash
# Checks scripts/up.sh's choice between the Spin CLI and roster-host, with a fake `spin`
# on PATH printing each version string, and its --runtime-config-file pass-through.
# Runs nothing but up.sh in dry-run mode (UP_DRY_RUN=1): no build, no server. Under a second.
#   bash scripts/test-up.sh        (also run by `make test`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export SPIN_VARIABLE_ADMIN_TOKEN=test-token UP_DRY_RUN=1
unset RUNTIME_CONFIG

# PATH without any real spin, so "no spin" and the fake are the only two cases.
clean_path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ ! -x "$d/spin" ] && clean_path="${clean_path:+$clean_path:}$d"
done
mkdir -p "$tmp/bin"

fails=0
check() { # name, expected prefix of the command line, actual output
  local got
  got="$(tail -n 1 <<<"$3")"
  if [[ "$got" == "$2"* ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected '$2…', got '$got'"
    fails=$((fails + 1))
  fi
}
fake_spin() { # the line `spin --version` prints
  printf '#!/bin/sh\necho "%s"\n' "$1" >"$tmp/bin/spin"
  chmod +x "$tmp/bin/spin"
}
up() { PATH="$tmp/bin:$clean_path" "$root/scripts/up.sh" "$@" 2>&1; }

# Without a runtime config, up.sh passes the project's own (the `ratelimit` store).
own_rc="--runtime-config-file $root/runtime-config.toml"
spin_up="spin up --listen 127.0.0.1:3000"
host_up="cargo run --quiet -p roster-host -- up --listen 127.0.0.1:3000"

rm -f "$tmp/bin/spin"
check "no spin on PATH -> roster-host" "$host_up $own_rc" "$(up)"
for v in "spin 3.0.0 (3a4a9b8 2024-11-11)" "spin 3.6.3 (abc 2026-01-01)" "spin 4.0.2 (abc 2026-03-01)" \
  "spin 4.1.0-pre0 (abc 2026-05-01)" "spin 4.1.0" "spin 10.0.0"; do
  fake_spin "$v"
  check "'$v' -> spin up" "$spin_up $own_rc" "$(up)"
done
for v in "spin 2.7.0 (abc 2024-08-01)" "spin 1.5.1" "spin" "" "spin version unknown"; do
  fake_spin "$v"
  check "'$v' -> roster-host" "$host_up $own_rc" "$(up)"
done
printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/spin"
check "spin --version failing -> roster-host" "$host_up $own_rc" "$(up)"

# Listen address and runtime config pass-through, by flag and by RUNTIME_CONFIG, with a
# relative path resolved from the caller's directory.
printf '[key_value_store.default]\ntype = "spin"\n' >"$tmp/rc.toml"
fake_spin "spin 3.0.0 (abc 2024-11-11)"
check "listen address" "spin up --listen 0.0.0.0:8080" "$(up 0.0.0.0:8080)"
check "--runtime-config-file FILE" "$spin_up --runtime-config-file $tmp/rc.toml" \
  "$(up --runtime-config-file "$tmp/rc.toml")"
check "RUNTIME_CONFIG=relative" "$spin_up --runtime-config-file $tmp/rc.toml" \
  "$(cd "$tmp" && RUNTIME_CONFIG=rc.toml up)"
rm -f "$tmp/bin/spin"
check "roster-host gets it too" "$host_up --runtime-config-file $tmp/rc.toml" \
  "$(up --runtime-config-file="$tmp/rc.toml")"
check "missing runtime config file" "up.sh: runtime config file not found" \
  "$(up --runtime-config-file "$tmp/nope.toml" || true)"

if ((fails)); then
  echo "$fails check(s) failed"
  exit 1
fi
echo "scripts/up.sh: all checks passed"
