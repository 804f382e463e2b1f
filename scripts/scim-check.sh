#!/usr/bin/env bash
# `make scim-check`: scim2-tester (an independent RFC 7643/7644 checker, from PyPI) against
# Roster under roster-host. Expects the components built (`make build`).
#
# Keeps a virtual environment in target/scim-venv with scripts/scim-check-requirements.txt
# installed (reinstalled when that file changes), then runs scripts/scim_check.py with it:
# it serves the app on a free loopback port over an in-memory store, creates an
# organization and a `*` token, runs every check of scim2-tester against the
# organization's SCIM base, prints a summary and writes target/scim-check/ (results.json,
# http.jsonl, summary.txt, server.log). Exits 1 when a check is ERROR or CRITICAL or the
# checker stops early, 2 when it cannot set up.
#
# Usage: scripts/scim-check.sh [--out DIR]
# Needs python3 >= 3.11 with venv and ensurepip (Debian: python3-venv; `make python-venv`).
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
venv=target/scim-venv
requirements=scripts/scim-check-requirements.txt
stamp="$venv/.requirements.sha256"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "scim-check: scim2-tester needs Python 3.11 or newer; $python is $("$python" -V 2>&1)" >&2
  exit 2
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "scim-check: installing $requirements into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
  echo "$want" > "$stamp"
fi

exec "$venv/bin/python" scripts/scim_check.py "$@"
