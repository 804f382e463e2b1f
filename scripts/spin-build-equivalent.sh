#!/usr/bin/env bash
# Runs spin.toml's build commands exactly as `spin build` does, without Spin, and times
# them, to compare with `make build` (one cargo invocation for every component).
#
# What `spin build` does (spinframework/spin crates/build/src/lib.rs, v3.0.0 to v4.0.2):
# every [component.<id>.build] `command` (a string, or a list run in order) is run
# through the shell (`subprocess::Exec::shell`, i.e. `sh -c`) in the directory holding
# spin.toml (or <that dir>/<workdir> when `workdir` is set), one component after the
# other, never in parallel, stopping at the first failure. Order: manifest order up to
# Spin 3.4; from 3.5 the list first goes through a topological sort on local component
# dependencies, which for components without dependencies (all of ours) yields an
# unspecified order. Each command here is independent, so the order changes nothing.
#
# Usage: scripts/spin-build-equivalent.sh [-n] [-f spin.toml]
#   -n   print the commands (with their working directories), run nothing
# Compare, on the same tree:  time make build   vs   time scripts/spin-build-equivalent.sh
set -euo pipefail

manifest=spin.toml
dry_run=
while getopts "nf:" opt; do
  case "$opt" in
    n) dry_run=1 ;;
    f) manifest="$OPTARG" ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
app_dir="$(cd "$(dirname "$manifest")" && pwd)"

# id, workdir, command (separated by \x1f, which `read` does not collapse), one line per
# command, in manifest order.
steps="$(python3 - "$manifest" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    manifest = tomllib.load(f)
for cid, comp in manifest.get("component", {}).items():
    build = comp.get("build")
    if not build:
        continue
    cmds = build["command"]
    for cmd in [cmds] if isinstance(cmds, str) else cmds:
        print(f"{cid}\x1f{build.get('workdir', '')}\x1f{cmd}")
EOF
)"

count=0
total_start=$SECONDS
while IFS=$'\x1f' read -r id workdir cmd; do
  count=$((count + 1))
  dir="$app_dir${workdir:+/$workdir}"
  if [ -n "$dry_run" ]; then
    printf '%s\t(cd %s && sh -c %q)\n' "$id" "$dir" "$cmd"
    continue
  fi
  start=$(date +%s.%N)
  (cd "$dir" && sh -c "$cmd") || { echo "build command for component $id failed" >&2; exit 1; }
  printf 'spin-build-equivalent: %-28s %6.1f s\n' "$id" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >&2
done <<<"$steps"
if [ -z "$dry_run" ]; then
  echo "spin-build-equivalent: $count build commands, $((SECONDS - total_start)) s in all" >&2
fi
