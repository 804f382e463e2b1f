#!/usr/bin/env bash
# A project-local Python virtual environment with a pinned requirements file installed:
# creates VENV (under target/) when missing, and recreates it when REQUIREMENTS changed
# (a sha256 stamp in the venv). Shared by `make scim-check` (scim2-tester, target/scim-venv),
# `make openapi-check` (openapi-spec-validator and schemathesis, target/openapi-venv) and
# `make bench` (the peer scim2-server, target/peer-venv).
#
# Usage: scripts/python-venv.sh VENV REQUIREMENTS
# Prints nothing on success when the venv is current. Exits 2 when python3 is older than
# 3.11 or cannot create a venv (Debian: python3-venv; `make python-venv`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$1"
requirements="$2"
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "python-venv: $requirements needs Python 3.11 or newer; $python is $("$python" -V 2>&1)" >&2
  exit 2
fi
want="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "python-venv: installing $requirements into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" || exit 2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
  echo "$want" > "$stamp"
fi
