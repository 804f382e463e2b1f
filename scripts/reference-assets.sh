#!/usr/bin/env bash
# The API reference page's viewer (GET /reference, docs/api.md "OpenAPI description"):
# RapiDoc from the npm registry, pinned with its integrity hashes in
# crates/api/reference/package.json and package-lock.json, installed by `npm ci` into
# target/reference-assets/. crates/api/build.rs embeds
# target/reference-assets/node_modules/rapidoc/dist/rapidoc-min.js (compressed) in the
# reference-rapidoc component, so this runs before any component compiles: `make build`
# (and `make lint`) and the `spin build` command of spin.toml call it.
#
# Installs Debian's nodejs and npm when npm is not on PATH (a fresh CI machine has only
# rustup, cargo and python3). Does nothing when the installed lock file is the committed
# one and the bundle is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/crates/api/reference
out=$root/target/reference-assets
bundle=$out/node_modules/rapidoc/dist/rapidoc-min.js

if [[ -f $bundle ]] && cmp -s "$src/package-lock.json" "$out/package-lock.json" \
    && cmp -s "$src/package.json" "$out/package.json"; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    sudo=$([[ $(id -u) == 0 ]] || echo sudo)
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq nodejs npm
fi
mkdir -p "$out"
cp "$src/package.json" "$src/package-lock.json" "$out/"
# --ignore-scripts: nothing of the package runs here; only its files are used.
(cd "$out" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
test -f "$bundle" || { echo "reference-assets: $bundle missing after npm ci" >&2; exit 1; }
