#!/usr/bin/env bash
# `make openapi-check`: docs/openapi.json against two independent tools from PyPI.
#
# 1. openapi-spec-validator: the description is valid OpenAPI 3.1 (no app needed).
# 2. schemathesis (unless --validate-only): the app under roster-host (scripts/openapi_check.py
#    serves it on a free loopback port over an in-memory store and seeds an organization
#    and a `*` token of it) answers every operation as described — no 5xx, documented
#    status codes, content types and headers, bodies conforming to their schemas — with
#    the description loaded from the app's own GET /openapi.json. Expects `make build`.
#
# Keeps a virtual environment in target/openapi-venv with
# scripts/openapi-check-requirements.txt installed (scripts/python-venv.sh: reinstalled
# when that file changes).
# Exits 1 when a check fails, 2 when it cannot set up.
#
# Usage: scripts/openapi-check.sh [--validate-only] [openapi_check.py options]
# Needs python3 >= 3.11 with venv and ensurepip (Debian: python3-venv; `make python-venv`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/openapi-venv
./scripts/python-venv.sh "$venv" scripts/openapi-check-requirements.txt

echo "openapi-check: openapi-spec-validator docs/openapi.json"
"$venv/bin/openapi-spec-validator" docs/openapi.json
if [ "${1:-}" = "--validate-only" ]; then
  exit 0
fi
exec "$venv/bin/python" scripts/openapi_check.py "$@"
