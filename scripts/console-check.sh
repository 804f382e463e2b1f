#!/usr/bin/env bash
# `make console-check`: the admin console's browser tests (issue 18). A real headless
# Chromium (Debian's chromium and chromium-driver; `make chromium` installs them), driven
# by Selenium (pinned in scripts/console-check-requirements.txt, installed into
# target/console-venv by scripts/python-venv.sh, reinstalled when that file changes),
# against the app under roster-host on a free loopback port (scripts/console_check.py,
# scripts/roster_host.py). Screenshots of every step and server.log in
# target/console-check/. Expects `make build`.
#
# Exits 1 when a step fails, 2 when it cannot set up.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in chromium chromedriver; do
  if ! command -v "$tool" >/dev/null; then
    echo "console-check: $tool is not installed; run \`make chromium\`" >&2
    exit 2
  fi
done
venv=target/console-venv
./scripts/python-venv.sh "$venv" scripts/console-check-requirements.txt
exec "$venv/bin/python" scripts/console_check.py "$@"
