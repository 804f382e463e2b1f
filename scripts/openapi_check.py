"""Run schemathesis against Roster under roster-host, over every operation of the app's
own GET /openapi.json (issue 17).

Run by scripts/openapi-check.sh (`make openapi-check`, and `make test`) with the Python of
target/openapi-venv. It does not build the components: `make build` must have run. Like
scripts/scim_check.py it builds roster-host and starts it with `cargo run -p roster-host
-- up` on a free loopback port, over an in-memory key-value store, with a random admin
token (scripts/roster_host.py, shared with the console's browser tests); then:

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
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from roster_host import ROOT, RosterHost, SetupError

MAX_EXAMPLES = 8
SEED = 17


def seed_organization(host: RosterHost) -> tuple[str, str]:
    admin = host.admin
    status, body, _ = host.call("POST", "/v1/organizations", admin,
                                {"name": "schemathesis", "slug": "schemathesis"})
    if status != 201:
        raise SetupError(f"POST /v1/organizations answered {status}: {body}")
    org = body["data"]["id"]
    status, body, _ = host.call("POST", f"/v1/organizations/{org}/tokens", admin,
                        # Its own limit, so a generated PATCH of the organization's
                        # policy (rateLimitPerMinute: 1) cannot starve the run.
                        {"name": "schemathesis", "permissions": ["*"],
                         "rateLimitPerMinute": 1000000})
    if status != 201:
        raise SetupError(f"POST …/tokens answered {status}: {body}")
    return org, body["data"]["secret"]


def seed_resources(host: RosterHost, org: str, token: str) -> dict[str, str]:
    """A user and a group of the organization, whose ids every operation naming a user
    or a group is given (random ids would only ever be 404): {env name: id}."""
    base = f"/v1/organizations/{org}"
    status, user, _ = host.call("POST", f"{base}/mdm/users", token,
                        {"username": "st-user", "email": "st-user@example.com",
                         "firstName": "Schema", "lastName": "Thesis"})
    if status != 201:
        raise SetupError(f"POST …/mdm/users answered {status}: {user}")
    status, group, _ = host.call("POST", f"{base}/mdm/groups", token, {"name": "st-group"})
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
    host = RosterHost(out)
    api = host.url
    print(f"openapi-check: starting roster-host on {api} (log: {out / 'server.log'})", flush=True)
    try:
        host.__enter__()  # stopped in `finally`
        org, token = seed_organization(host)
        config = ROOT / "scripts" / "schemathesis.toml"
        os.environ["ROSTER_ORG"] = org
        os.environ.update(seed_resources(host, org, token))
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
        host.stop()


if __name__ == "__main__":
    sys.exit(main())
