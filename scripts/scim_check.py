"""Run scim2-tester, an independent RFC 7643/7644 checker, against Roster under roster-host.

Run by scripts/scim-check.sh (`make scim-check`, and `make test` after the Rust tests) with
the Python of target/scim-venv, where scim-check.sh installed
scripts/scim-check-requirements.txt. It does not build the components: `make build` must
have run. The host is started by scripts/roster_host.py (shared with the console and
OpenAPI checks): roster-host built and run with `cargo run -p roster-host -- up`, as
scripts/up.sh does.

1. Serves spin.toml with roster-host on a free loopback port, over an in-memory key-value
   store, with a random admin token.
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
import json
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
from roster_host import ROOT, RosterHost, SetupError
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# Statuses the issue's definition of done accepts (issue 15: "every check SUCCESS,
# COMPLIANT or ACCEPTABLE"); anything else is listed in the summary.
PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# Statuses that fail the run: a MUST violated, or worse.
FAILING = {Status.ERROR, Status.CRITICAL}
# The resource types the checker must reach (issue 15: "over Users and Groups").
REQUIRED_RESOURCE_TYPES = ("User", "Group")


def create_organization(host: RosterHost) -> tuple[str, str]:
    """An organization and a token confined to it with every permission: (id, secret)."""
    org = host.must(201, "POST", "/v1/organizations", host.admin,
                    {"name": "scim2-tester", "slug": "scim2-tester"})["id"]
    secret = host.must(201, "POST", f"/v1/organizations/{org}/tokens", host.admin,
                       {"name": "scim2-tester", "permissions": ["*"]})["secret"]
    return org, secret


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

    results: list[Any] = []
    problems: list[str] = []
    try:
        host_cm = RosterHost(out)
        print(f"scim-check: starting roster-host on {host_cm.url} (log: {out / 'server.log'})",
              flush=True)
        with host_cm as host:
            org, token = create_organization(host)
            base = f"{host.url}/v1/organizations/{org}/scim/v2"
            print(f"scim-check: scim2-tester against {base}")
            try:
                results = run_checks(base, token, out)
            except Exception:
                problems.append("scim2-tester crashed:\n" + traceback.format_exc())
    except SetupError as e:
        print(f"scim-check: {e}", file=sys.stderr)
        return 2

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
