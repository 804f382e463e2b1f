#!/usr/bin/env bash
# Where a request's time goes: instructions per request through roster-host, counted by
# valgrind's callgrind (repeatable, unlike times on a shared machine), for the empty
# component, a 401 without a token and a GET of one user, N requests each, one client.
#
#   scripts/request-profile.sh [N] [COMPONENTS_DIR]
#
# Needs valgrind and the `perf` builds of roster-host and roster-bench
# (`cargo build --profile perf -p roster-host -p roster-bench`; PROFILE=debug takes the dev
# builds instead, whose wasmtime is optimized too but whose host glue is not) and the components
# (`make build`). COMPONENTS_DIR (default target/wasm32-wasip2/release) is where
# mdm_user.wasm, mdm_users.wasm and bench_empty.wasm are taken from, so that two builds
# can be compared. Work files go to /dev/shm/roster-profile-$$ (removed at the end);
# the callgrind dumps to target/request-profile/ (one per phase, callgrind_annotate reads
# them). Prints Ir (instructions) per request per phase, and the inclusive share of the
# host functions named below.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-200}"
wasm="${2:-$root/target/wasm32-wasip2/release}"
profile="${PROFILE:-perf}"
host="$root/target/$profile/roster-host"
bench="$root/target/$profile/roster-bench"
out="$root/target/request-profile"
work="/dev/shm/roster-profile-$$"
mkdir -p "$work/state" "$out"
rm -f "$out"/callgrind.out.*
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

bearer="$("$bench" seed --users 1000 --db "$work/state/sqlite_key_value.db" --threads 1 | tail -n 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["bearer"])')"
cat >"$work/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "profile"
[variables]
admin_token = { required = true, secret = true }
[[trigger.http]]
route = "/v1/organizations/:organizationId/mdm/users/:mdmUserId"
component = "mdm-user"
[[trigger.http]]
route = "/v1/organizations/:organizationId/mdm/users"
component = "mdm-users"
[[trigger.http]]
route = "/bench/empty"
component = "bench-empty"
[component.mdm-user]
source = "$wasm/mdm_user.wasm"
key_value_stores = ["default", "ratelimit"]
[component.mdm-user.variables]
admin_token = "{{ admin_token }}"
[component.mdm-users]
source = "$wasm/mdm_users.wasm"
key_value_stores = ["default", "ratelimit"]
[component.mdm-users.variables]
admin_token = "{{ admin_token }}"
[component.bench-empty]
source = "$wasm/bench_empty.wasm"
TOML
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# A small instance pool (the variables released Spin reads for it, roster_host::PoolingLimits):
# valgrind cannot reserve the default pool's address space (1,000 memories of 288 MiB).
SPIN_WASMTIME_INSTANCE_COUNT=4 SPIN_WASMTIME_TOTAL_MEMORIES=8 SPIN_WASMTIME_TOTAL_TABLES=16 \
SPIN_VARIABLE_ADMIN_TOKEN=profile-admin valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$out/callgrind.out.%p" "$host" up --from "$work/spin.toml" \
  --listen "127.0.0.1:$port" --state-dir "$work/state" \
  --runtime-config-file "$root/runtime-config.toml" >"$work/host.log" 2>&1 &
pid=$!
python3 - "$port" "$bearer" "$n" "$pid" <<'PY'
import http.client, json, subprocess, sys, time
port, bearer, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
deadline = time.time() + 600
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/.well-known/spin/health"); c.getresponse().read(); break
    except OSError:
        if time.time() > deadline: sys.exit("roster-host did not start")
        time.sleep(1)
def get(path, token=None):
    h = {"authorization": f"Bearer {token}"} if token else {}
    c.request("GET", path, headers=h); r = c.getresponse(); return r.status, r.read()
s, body = get("/v1/organizations/bench/mdm/users?limit=1", bearer)
assert s == 200, body
user = json.loads(body)["data"]["users"][0]["id"]
phases = [("empty", "/bench/empty", None, 200),
          ("401", f"/v1/organizations/bench/mdm/users/{user}", None, 401),
          ("get", f"/v1/organizations/bench/mdm/users/{user}", bearer, 200)]
for name, path, token, want in phases:
    for _ in range(5):  # warm: first instantiation of each component, caches
        get(path, token)
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    for _ in range(n):
        s, body = get(path, token)
        assert s == want, (name, s, body)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "--dump=" + name, pid], check=True, capture_output=True)
PY
kill "$pid"; wait "$pid" 2>/dev/null || true
for f in "$out"/callgrind.out.*.[1-9]*; do
  phase="$(grep -m1 '^desc: Trigger' "$f" | sed 's/.*--dump=//; s/.*Trigger: //')"
  total="$(grep -m1 '^totals:' "$f" | awk '{print $2}')"
  printf '%-6s %12.0f Ir per request   (%s)\n' "$phase" "$(echo "$total / $n" | bc -l)" "$f"
done
