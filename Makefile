# Roster: two commands for a new machine with only rustup/cargo.
#   make up    build every component and serve the app on 127.0.0.1:3000
#   make test  every test (unit, integration through roster-host, host conformance), then
#              the integration suite again over a real Redis (ROSTER_KV=redis), then the
#              independent SCIM checker scim2-tester (make scim-check), the OpenAPI
#              checks (make openapi-check) and the console's browser tests (make console-check)
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
COMPONENTS := $(notdir $(wildcard components/*))
LISTEN ?= 127.0.0.1:3000
# A Spin runtime config for `make up`, e.g. RUNTIME_CONFIG=deploy/runtime-config.redis.toml
# (default: runtime-config.toml, the `ratelimit` store in memory; scripts/up.sh).
RUNTIME_CONFIG ?=

.PHONY: up build test test-scripts scim-check openapi-check console-check lint sizes bench wasm-target redis python-venv binaryen chromium reference-assets

## Install the wasm32-wasip2 target when it is missing. rust-toolchain.toml names it, but
## rustup does not add it to an already installed toolchain with RUSTUP_AUTO_INSTALL=0.
wasm-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

## Install Debian's redis-server when it is not on PATH (the Redis tests start their own
## throwaway servers on free loopback ports, persistence off).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
redis:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

## Install Debian's python3-venv when python3 cannot create a virtual environment with pip
## (Debian splits venv's ensurepip out of python3; scim-check keeps one in target/scim-venv).
python-venv:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

## Install Debian's binaryen (wasm-opt) when it is not on PATH: `make build` shrinks
## every component with it (`cargo xtask shrink`, docs/benchmarks.md "Component size").
binaryen:
	@command -v wasm-opt >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq binaryen; }

## Install Debian's chromium and chromium-driver when either is not on PATH: the admin
## console's browser tests (make console-check) drive a headless Chromium with them.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }

## The reference page's viewer (GET /reference): RapiDoc, pinned in
## crates/api/reference/package-lock.json, installed by `npm ci` into
## target/reference-assets/ (Debian's nodejs and npm installed first when npm is missing);
## crates/api/build.rs embeds it, so every build of roster-api needs it. A no-op once there.
reference-assets:
	@./scripts/reference-assets.sh

## Build every component for wasm32-wasip2 (size-tuned release profile), then run
## wasm-opt -Oz on each one's core module and leave out its component-name (debug names)
## section (skipped for those already shrunk).
build: wasm-target binaryen reference-assets
	$(CARGO) build --target $(WASM_TARGET) --release $(addprefix -p ,$(COMPONENTS))
	$(CARGO) xtask shrink

## Serve the app: `spin up` when a Spin CLI >= 3.0 is on PATH, otherwise roster-host.
up: build
	@./scripts/up.sh $(LISTEN) $(if $(RUNTIME_CONFIG),--runtime-config-file $(RUNTIME_CONFIG))

## Every test. Components are built first; the host's own fixtures are built by its tests.
## Then the domain, API and integration suites again with Redis's semantics
## (ROSTER_KV=redis): the domain and API ones over the in-memory store's Redis flavour,
## the integration one with each App on a fresh redis-server. Last, scim2-tester, and
## the OpenAPI description checked by openapi-spec-validator and schemathesis, and the
## admin console's browser tests in a headless Chromium.
test: build redis python-venv chromium test-scripts
	$(CARGO) test
	ROSTER_KV=redis $(CARGO) test -p roster-domain -p roster-api -p roster-tests
	./scripts/scim-check.sh
	./scripts/openapi-check.sh
	./scripts/console-check.sh

## scim2-tester (PyPI, pinned in scripts/scim-check-requirements.txt, installed into
## target/scim-venv) against one organization's SCIM base, the app under roster-host on a
## free loopback port: fails on any ERROR. Results in target/scim-check/.
scim-check: build python-venv
	./scripts/scim-check.sh

## docs/openapi.json: valid OpenAPI 3.1 (openapi-spec-validator), then schemathesis over
## every operation of the app's own GET /openapi.json under roster-host on a free loopback
## port, with a seeded organization token (both pinned in
## scripts/openapi-check-requirements.txt, installed into target/openapi-venv). Reports in
## target/openapi-check/. OPENAPI_CHECK_ARGS=--validate-only skips schemathesis.
OPENAPI_CHECK_ARGS ?=
openapi-check: build python-venv
	./scripts/openapi-check.sh $(OPENAPI_CHECK_ARGS)

## The admin console (GET /console) in a real headless Chromium (Debian's chromium and
## chromium-driver, `make chromium`) driven by Selenium (pinned in
## scripts/console-check-requirements.txt, installed into target/console-venv), against the
## app under roster-host on a free loopback port: sign in, search, a user's page, a
## blocked removal cleared from the page, an If-Match conflict, bulk and soft removal and
## restore, a bad token, 375 px wide. Screenshots and server.log in target/console-check/.
console-check: build python-venv chromium
	./scripts/console-check.sh

## scripts/up.sh's Spin version check and flag pass-through, with a fake `spin` (dry run).
test-scripts:
	@bash scripts/test-up.sh

## Formatting and lints, native crates and the wasm components alike; and spin.toml and
## components/ exactly as `cargo xtask gen` writes them from the route catalogue.
lint: wasm-target reference-assets
	$(CARGO) fmt --all --check
	$(CARGO) xtask gen --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) -p roster-spin -p bench-empty $(addprefix -p ,$(COMPONENTS)) -- -D warnings

## The benchmark (docs/benchmarks.md): seeds 1k, 100k and 1M users, measures every
## scenario through roster-host, natively and against an empty component. Needs several
## GB of disk under target/ for the 1M store. Override with BENCH_ARGS="--sizes 1k,100k".
## It also measures the peer, scim2-server (PyPI, crates/bench/peer-requirements.txt,
## installed into target/peer-venv); --no-peer skips it.
BENCH_ARGS ?= --sizes 1k,100k,1m
bench: build python-venv
	$(CARGO) run --profile perf -p roster-bench -- $(BENCH_ARGS)

## Print each component's .wasm size; fails when one is over SIZE_LIMIT bytes (issue 16:
## 400 KB, 400,000 bytes, the same limit as the benchmark's report::MAX_COMPONENT_BYTES).
SIZE_LIMIT ?= 400000
sizes: build
	$(CARGO) xtask sizes --max $(SIZE_LIMIT)
