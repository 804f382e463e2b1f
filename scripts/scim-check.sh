#!/usr/bin/env bash
# `make scim-check`: scim2-tester (an independent RFC 7643/7644 checker, from PyPI) against
# Roster under roster-host. Expects the components built (`make build`).
#
# Keeps a virtual environment in target/scim-venv with scripts/scim-check-requirements.txt
# installed (scripts/python-venv.sh: reinstalled when that file changes), then runs scripts/scim_check.py with it:
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

venv=target/scim-venv
./scripts/python-venv.sh "$venv" scripts/scim-check-requirements.txt

exec "$venv/bin/python" scripts/scim_check.py "$@"
