"""Run scim2-tester, an independent RFC 7643/7644 checker, against Roster under roster-host.

Run by scripts/scim-check.sh (`make scim-check`, and `make test` after the Rust tests) with
the Python of target/scim-venv, where scim-check.sh installed
scripts/scim-check-requirements.txt. It does not build the components: `make build` must
have run. It builds roster-host (`cargo build -p roster-host`, a no-op when fresh) and
starts it with `cargo run -p roster-host -- up`, as scripts/up.sh does.

1. Serves spin.toml with roster-host on a free loopback port, over an in-memory key-value
   store (a runtime config with `type = "spin"` and no `path`), with a random admin token.
2. Creates an organization and an organization token with `*` through the canonical API
   (README's walk-through).
3. Runs every check of scim2-tester's `check_server` against the organization's SCIM base,
   unfiltered: discovery, the misc checks, and every check of every resource type the
   server publishes (User and Group).
4. Prints a summary (counts by status; each check that is not SUCCESS, COMPLIANT or
   ACCEPTABLE with the tool's reason) and writes, under the output directory
   (target/scim-check): results.json (every check, in full), http.jsonl (every request
   the checker sent and Roster's answer), summary.txt and server.log.

Exit status: 0 when no check is ERROR or CRITICAL and the checker reached both User and
Group; 1 when a check is ERROR or CRITICAL, or the checker stopped before the resource
checks or crashed; 2 when the harness could not set up (no build, the server did not
start, the organization could not be created). The server is always stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
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
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

ROOT = Path(__file__).resolve().parent.parent
# Statuses the issue's definition of done accepts (issue 15: "every check SUCCESS,
# COMPLIANT or ACCEPTABLE"); anything else is listed in the summary.
PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# Statuses that fail the run: a MUST violated, or worse.
FAILING = {Status.ERROR, Status.CRITICAL}
# The resource types the checker must reach (issue 15: "over Users and Groups").
REQUIRED_RESOURCE_TYPES = ("User", "Group")
STARTUP_TIMEOUT_S = 600  # the first start compiles every component (then cached); 2 busy cores are slow


class SetupError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_components_built(manifest: Path) -> None:
    """Every component source spin.toml names exists: `make build` has run."""
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


def build_host() -> None:
    """roster-host, built before the clock of the startup wait starts (a no-op when fresh)."""
    cargo = os.environ.get("CARGO", "cargo")
    if subprocess.run([cargo, "build", "--quiet", "-p", "roster-host"], cwd=ROOT).returncode:
        raise SetupError("`cargo build -p roster-host` failed")


def start_server(out: Path, port: int, admin_token: str) -> subprocess.Popen[bytes]:
    state = out / "state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    runtime_config = state / "runtime-config.toml"
    # `type = "spin"` without `path`: an in-memory SQLite store (crates/host's runtime
    # config), so nothing outlives the run.
    # `ratelimit` too, which every component names (runtime-config.toml).
    runtime_config.write_text(
        '[key_value_store.default]\ntype = "spin"\n\n[key_value_store.ratelimit]\ntype = "spin"\n'
    )
    log = open(out / "server.log", "wb")
    cmd = [
        os.environ.get("CARGO", "cargo"),
        "run",
        "--quiet",
        "-p",
        "roster-host",
        "--",
        "up",
        "--from",
        str(ROOT / "spin.toml"),
        "--listen",
        f"127.0.0.1:{port}",
        "--state-dir",
        str(state),
        "--runtime-config-file",
        str(runtime_config),
    ]
    env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=admin_token)
    # Its own process group, so stopping it also stops what `cargo run` started.
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


def wait_until_answering(proc: subprocess.Popen[bytes], api: str, out: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(
                f"roster-host exited with status {proc.returncode} before answering; "
                f"see {out / 'server.log'}"
            )
        try:
            # Any HTTP answer (here a 401) means the host is serving.
            httpx2.get(f"{api}/v1/organizations", timeout=2)
            return
        except httpx2.TransportError:
            time.sleep(0.25)
    raise SetupError(
        f"roster-host did not answer within {STARTUP_TIMEOUT_S} s; see {out / 'server.log'}"
    )


def create_organization(api: str, admin_token: str) -> tuple[str, str]:
    """An organization and a token confined to it with every permission: (id, secret)."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    r = httpx2.post(
        f"{api}/v1/organizations",
        headers=admin,
        json={"name": "scim2-tester", "slug": "scim2-tester"},
        timeout=10,
    )
    if r.status_code != 201:
        raise SetupError(f"POST /v1/organizations answered {r.status_code}: {r.text}")
    org = r.json()["data"]["id"]
    r = httpx2.post(
        f"{api}/v1/organizations/{org}/tokens",
        headers=admin,
        json={"name": "scim2-tester", "permissions": ["*"]},
        timeout=10,
    )
    if r.status_code != 201:
        raise SetupError(f"POST /v1/organizations/{org}/tokens answered {r.status_code}: {r.text}")
    return org, r.json()["data"]["secret"]


class HttpLog:
    """Every request the checker sends and the answer it gets, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "w")
        self.seq = 0

    def response_hook(self, response: httpx2.Response) -> None:
        response.read()
        request = response.request
        self.seq += 1
        entry = {
            "seq": self.seq,
            "method": request.method,
            "url": str(request.url),
            "request_body": request.content.decode("utf-8", "replace") or None,
            "status": response.status_code,
            "response_headers": {
                k: v for k, v in response.headers.items() if k.lower() in ("content-type", "location", "etag")
            },
            "response_body": response.text or None,
        }
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()


def to_json(value: Any) -> Any:
    """A displayable form of whatever a CheckResult's data holds."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json(v) for v in value]
    if isinstance(value, BaseException):
        return {"exception": type(value).__name__, "message": str(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_json(dump(mode="json", exclude_none=True))
        except Exception:
            pass
    return repr(value)


def result_to_json(r: Any) -> dict[str, Any]:
    return {
        "status": r.status.name,
        "resource_type": r.resource_type,
        "title": r.title,
        "tags": sorted(r.tags),
        "reason": r.reason,
        "data": to_json(r.data),
        "description": r.description,
    }


def summarize(results: list[Any], problems: list[str]) -> str:
    lines = []
    counts = Counter(r.status.name for r in results)
    order = [s.name for s in Status]
    lines.append(f"scim2-tester: {len(results)} checks")
    lines.append(
        "  " + ", ".join(f"{name} {counts[name]}" for name in order if counts[name])
    )
    reached = Counter(r.resource_type for r in results if r.resource_type)
    lines.append(
        "  per resource type: "
        + (", ".join(f"{k} {v}" for k, v in sorted(reached.items())) or "none reached")
    )
    non_passing = [r for r in results if r.status not in PASSING]
    if non_passing:
        lines.append("")
        lines.append(f"not SUCCESS, COMPLIANT or ACCEPTABLE ({len(non_passing)}):")
        for r in non_passing:
            where = f"{r.resource_type} " if r.resource_type else ""
            reason = " ".join((r.reason or "(no reason given)").split())
            lines.append(f"  {r.status.name:<9} {where}{r.title}: {reason}")
    for p in problems:
        lines.append("")
        lines.append(p)
    return "\n".join(lines)


def run_checks(base: str, token: str, out: Path) -> list[Any]:
    log = HttpLog(out / "http.jsonl")
    http = httpx2.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        event_hooks={"response": [log.response_hook]},
    )
    with http:
        client = SyncSCIMClient(http)
        return check_server(client)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "target" / "scim-check", help="where results go"
    )
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "http.jsonl", "summary.txt", "server.log"):
        (out / stale).unlink(missing_ok=True)

    try:
        check_components_built(ROOT / "spin.toml")
        build_host()
    except SetupError as e:
        print(f"scim-check: {e}", file=sys.stderr)
        return 2

    admin_token = secrets.token_hex(32)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    print(f"scim-check: starting roster-host on {api} (log: {out / 'server.log'})", flush=True)
    proc = start_server(out, port, admin_token)
    try:
        try:
            wait_until_answering(proc, api, out)
            org, token = create_organization(api, admin_token)
        except (SetupError, httpx2.HTTPError) as e:
            print(f"scim-check: {e}", file=sys.stderr)
            return 2
        base = f"{api}/v1/organizations/{org}/scim/v2"
        print(f"scim-check: scim2-tester against {base}")

        problems: list[str] = []
        try:
            results = run_checks(base, token, out)
        except Exception:
            results = []
            problems.append("scim2-tester crashed:\n" + traceback.format_exc())
    finally:
        stop_server(proc)

    reached = {r.resource_type for r in results}
    missing = [t for t in REQUIRED_RESOURCE_TYPES if t not in reached]
    if not results and not problems:
        problems.append("scim2-tester ran no check")
    if results and missing:
        problems.append(
            "scim2-tester stopped before checking "
            + " and ".join(missing)
            + " (it runs the resource checks only when discovery describes the server)"
        )

    (out / "results.json").write_text(
        json.dumps([result_to_json(r) for r in results], indent=2) + "\n"
    )
    summary = summarize(results, problems)
    (out / "summary.txt").write_text(summary + "\n")
    print(summary)
    print(f"\nfull results: {out / 'results.json'}; requests and answers: {out / 'http.jsonl'}")

    failed = problems or any(r.status in FAILING for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
