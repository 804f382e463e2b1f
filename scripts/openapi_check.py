"""Run schemathesis against Roster under roster-host, over every operation of the app's
own GET /openapi.json (issue 17).

Run by scripts/openapi-check.sh (`make openapi-check`, and `make test`) with the Python of
target/openapi-venv. It does not build the components: `make build` must have run. Like
scripts/scim_check.py it builds roster-host and starts it with `cargo run -p roster-host
-- up` on a free loopback port, over an in-memory key-value store, with a random admin
token; then:

1. creates an organization and a `*` token confined to it (the seeded organization
   token every request carries; global-only operations therefore answer their
   documented 403), and with it a user and a group;
2. runs `schemathesis run http://127.0.0.1:<port>/openapi.json` with every check
   schemathesis has but those scripts/schemathesis.toml turns off (with the reasons)
   and that file's settings (the organization's id as every
   `organizationId` path parameter; per-operation exceptions with their reasons), a
   fixed seed and at most MAX_EXAMPLES cases per operation and phase, so the run is
   bounded (a few minutes on 2 cores) and repeatable;
3. writes schemathesis's JUnit and NDJSON reports and server.log under the output
   directory (target/openapi-check).

Exit status: schemathesis's
(0 when every check passed), 2 when the harness could not set up. The server is always
stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 600  # the first start compiles every component (then cached)
MAX_EXAMPLES = 8
SEED = 17


class SetupError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_components_built(manifest: Path) -> None:
    parsed = tomllib.loads(manifest.read_text())
    missing = [
        c["source"]
        for c in parsed.get("component", {}).values()
        if isinstance(c.get("source"), str) and not (ROOT / c["source"]).is_file()
    ]
    if missing:
        raise SetupError(
            f"{len(missing)} component(s) not built, e.g. {missing[0]}: run `make build` first"
        )


def start_server(out: Path, port: int, admin_token: str) -> subprocess.Popen[bytes]:
    cargo = os.environ.get("CARGO", "cargo")
    if subprocess.run([cargo, "build", "--quiet", "-p", "roster-host"], cwd=ROOT).returncode:
        raise SetupError("`cargo build -p roster-host` failed")
    state = out / "state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    runtime_config = state / "runtime-config.toml"
    # Both labels the components use, in memory (`ratelimit`: docs/storage.md).
    runtime_config.write_text(
        '[key_value_store.default]\ntype = "spin"\n\n[key_value_store.ratelimit]\ntype = "spin"\n'
    )
    log = open(out / "server.log", "wb")
    cmd = [
        cargo, "run", "--quiet", "-p", "roster-host", "--", "up",
        "--from", str(ROOT / "spin.toml"),
        "--listen", f"127.0.0.1:{port}",
        "--state-dir", str(state),
        "--runtime-config-file", str(runtime_config),
    ]
    env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=admin_token)
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def call(method: str, url: str, token: str | None = None, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_until_answering(proc: subprocess.Popen[bytes], api: str, out: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"roster-host exited with {proc.returncode}; see {out / 'server.log'}")
        try:
            call("GET", f"{api}/openapi.json")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.25)
    raise SetupError(f"roster-host did not answer within {STARTUP_TIMEOUT_S} s")


def seed_organization(api: str, admin: str) -> tuple[str, str]:
    status, body = call("POST", f"{api}/v1/organizations", admin,
                        {"name": "schemathesis", "slug": "schemathesis"})
    if status != 201:
        raise SetupError(f"POST /v1/organizations answered {status}: {body}")
    org = body["data"]["id"]
    status, body = call("POST", f"{api}/v1/organizations/{org}/tokens", admin,
                        # Its own limit, so a generated PATCH of the organization's
                        # policy (rateLimitPerMinute: 1) cannot starve the run.
                        {"name": "schemathesis", "permissions": ["*"],
                         "rateLimitPerMinute": 1000000})
    if status != 201:
        raise SetupError(f"POST …/tokens answered {status}: {body}")
    return org, body["data"]["secret"]


def seed_resources(api: str, org: str, token: str) -> dict[str, str]:
    """A user and a group of the organization, whose ids every operation naming a user
    or a group is given (random ids would only ever be 404): {env name: id}."""
    base = f"{api}/v1/organizations/{org}"
    status, user = call("POST", f"{base}/mdm/users", token,
                        {"username": "st-user", "email": "st-user@example.com",
                         "firstName": "Schema", "lastName": "Thesis"})
    if status != 201:
        raise SetupError(f"POST …/mdm/users answered {status}: {user}")
    status, group = call("POST", f"{base}/mdm/groups", token, {"name": "st-group"})
    if status != 201:
        raise SetupError(f"POST …/mdm/groups answered {status}: {group}")
    return {"ROSTER_USER": user["data"]["id"], "ROSTER_GROUP": group["data"]["id"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "openapi-check")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument(
        "--from-file",
        action="store_true",
        help="load docs/openapi.json from disk instead of the app's GET /openapi.json "
        "(while iterating on the description without rebuilding the components)",
    )
    parser.add_argument("extra", nargs="*", help="more schemathesis run options (after --)")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        check_components_built(ROOT / "spin.toml")
    except SetupError as e:
        print(f"openapi-check: {e}", file=sys.stderr)
        return 2
    admin = secrets.token_hex(32)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    print(f"openapi-check: starting roster-host on {api} (log: {out / 'server.log'})", flush=True)
    proc = None
    try:
        proc = start_server(out, port, admin)
        wait_until_answering(proc, api, out)
        org, token = seed_organization(api, admin)
        config = ROOT / "scripts" / "schemathesis.toml"
        os.environ["ROSTER_ORG"] = org
        os.environ.update(seed_resources(api, org, token))
        cmd = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file", str(config),
            "run",
            *((str(ROOT / "docs" / "openapi.json"), "--url", api) if args.from_file
              else (f"{api}/openapi.json",)),
            "--header", f"Authorization: Bearer {token}",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(args.max_examples),
            "--seed", str(SEED),
            # One worker: with two, CPython 3.11's ast.parse (which hypothesis calls to
            # describe strategies) failed once with "AST constructor recursion depth
            # mismatch", a crash of the tool, not an answer of the app.
            "--workers", "1",
            "--request-timeout", "30",
            "--suppress-health-check", "all",
            "--report", "junit,ndjson",
            "--report-dir", str(out),
            *args.extra,
        ]
        print("openapi-check: " + " ".join(c if "Bearer" not in c else "--header 'Authorization: Bearer …'" for c in cmd[1:]), flush=True)
        started = time.monotonic()
        # In the output directory: schemathesis keeps its cache (.schemathesis/) where it runs.
        code = subprocess.run(cmd, cwd=out).returncode
        print(f"openapi-check: schemathesis exited {code} after {time.monotonic() - started:.0f} s")
        return code
    except (SetupError, OSError) as e:
        print(f"openapi-check: {e}", file=sys.stderr)
        return 2
    finally:
        if proc is not None:
            stop_server(proc)


if __name__ == "__main__":
    sys.exit(main())
