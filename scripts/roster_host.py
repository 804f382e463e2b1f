"""Roster under roster-host for the Python checks: the app on a free loopback port, over
an in-memory key-value store, with a random admin token, and a small client of the
canonical API. Standard library only, so every check's virtual environment can import
it (scripts/ is on sys.path of a script run from it). Used by scripts/console_check.py,
scripts/openapi_check.py and scripts/scim_check.py.

    with RosterHost(out_dir) as host:       # builds roster-host, starts it, waits
        status, body, headers = host.call("GET", "/v1/organizations", host.admin)

The server's output goes to `out_dir/server.log`; it is always stopped (its whole
process group: `cargo run` and roster-host).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 600  # the first start compiles every component (then cached)


class SetupError(Exception):
    """The harness could not set up (no build, the server did not start, …)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_components_built(manifest: Path = ROOT / "spin.toml") -> None:
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


class RosterHost:
    """roster-host serving spin.toml on a free loopback port (a context manager)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = secrets.token_hex(32)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "RosterHost":
        check_components_built()
        cargo = os.environ.get("CARGO", "cargo")
        if subprocess.run([cargo, "build", "--quiet", "-p", "roster-host"], cwd=ROOT).returncode:
            raise SetupError("`cargo build -p roster-host` failed")
        state = self.out / "state"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        runtime_config = state / "runtime-config.toml"
        # `type = "spin"` without `path`: in-memory SQLite stores, nothing outlives the run;
        # `ratelimit` too, which every component names (runtime-config.toml).
        runtime_config.write_text(
            '[key_value_store.default]\ntype = "spin"\n\n[key_value_store.ratelimit]\ntype = "spin"\n'
        )
        log = open(self.out / "server.log", "wb")
        cmd = [
            cargo, "run", "--quiet", "-p", "roster-host", "--", "up",
            "--from", str(ROOT / "spin.toml"),
            "--listen", f"127.0.0.1:{self.port}",
            "--state-dir", str(state),
            "--runtime-config-file", str(runtime_config),
        ]
        env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=self.admin)
        # Its own process group, so stopping it also stops what `cargo run` started.
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _wait(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(
                    f"roster-host exited with {self.proc.returncode}; see {self.out / 'server.log'}"
                )
            try:
                self.call("GET", "/openapi.json")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise SetupError(f"roster-host did not answer within {STARTUP_TIMEOUT_S} s")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, object, dict[str, str]]:
        """One request: (status, JSON body or None, headers)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw or b"null")
            except ValueError:
                parsed = None
            return e.code, parsed, dict(e.headers)

    def must(self, want: int, method: str, path: str, token: str | None = None,
             body: object = None) -> dict:
        """A request that must answer `want`; its `data` (canonical envelope)."""
        status, answer, _ = self.call(method, path, token, body)
        if status != want:
            raise SetupError(f"{method} {path} answered {status}, not {want}: {answer}")
        return answer["data"] if isinstance(answer, dict) else answer
