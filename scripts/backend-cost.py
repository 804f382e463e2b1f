#!/usr/bin/env python3
"""What one request costs on each key-value backend, side by side in one run.

Starts roster-host (the debug build `cargo run -p roster-host` makes) once per backend
on a free loopback port: Spin's SQLite store in a file, in-memory SQLite, and a
throwaway Debian redis-server (persistence off); creates an organization, a token and a
user; then, interleaved in rounds, times sequential GETs of that user and of one
unauthenticated request (the 401 floor) with one client. Prints p50/p99 and requests/s
per backend. Needs `make build` first and redis-server on PATH.

    python3 scripts/backend-cost.py [--rounds 5] [--requests 200]
"""
import argparse, http.client, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def call(conn, method, path, token=None, body=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="roster-cost-")
    procs = []
    host_bin = os.path.join(ROOT, "target", "debug", "roster-host")
    subprocess.run(["cargo", "build", "-q", "-p", "roster-host"], cwd=ROOT, check=True)
    try:
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly", "no",
                                       "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL))
        configs = {
            "sqlite-file": f'[key_value_store.default]\ntype = "spin"\npath = "{tmp}/kv.db"\n',
            "sqlite-memory": '[key_value_store.default]\ntype = "spin"\n',
            "redis": f'[key_value_store.default]\ntype = "redis"\nurl = "redis://127.0.0.1:{rport}"\n',
        }
        apps = {}
        admin = "cost-admin-token"
        for name, cfg in configs.items():
            path = os.path.join(tmp, f"{name}.toml")
            open(path, "w").write(cfg)
            port = free_port()
            env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=admin)
            p = subprocess.Popen([host_bin, "up", "-f", os.path.join(ROOT, "spin.toml"), "--listen", f"127.0.0.1:{port}",
                                  "--runtime-config-file", path, "--state-dir", os.path.join(tmp, name)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_port(port, p, f"roster-host ({name})")
            conn = http.client.HTTPConnection("127.0.0.1", port)
            s, o = call(conn, "POST", "/v1/organizations", admin, {"name": "Cost", "slug": "cost"})
            assert s == 201, (name, s, o)
            s, t = call(conn, "POST", "/v1/organizations/cost/tokens", admin, {"name": "t", "permissions": ["*"]})
            assert s == 201, (name, s, t)
            token = t["data"]["secret"]
            s, u = call(conn, "POST", "/v1/organizations/cost/mdm/users", token,
                        {"username": "kim", "email": "kim@example.com"})
            assert s == 201, (name, s, u)
            apps[name] = (conn, token, f"/v1/organizations/cost/mdm/users/{u['data']['id']}")
        samples = {(n, k): [] for n in apps for k in ("get", "401")}
        for _ in range(args.rounds):
            for name, (conn, token, user) in apps.items():
                for kind in ("get", "401"):
                    for _ in range(args.requests):
                        t0 = time.perf_counter()
                        s, _ = call(conn, "GET", user, token if kind == "get" else None)
                        samples[(name, kind)].append(time.perf_counter() - t0)
                        assert s == (200 if kind == "get" else 401), (name, kind, s)
        print(f"{'backend':<14} {'request':<5} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for (name, kind), xs in samples.items():
            xs.sort()
            p50 = statistics.median(xs) * 1000
            p99 = xs[int(len(xs) * 0.99) - 1] * 1000
            print(f"{name:<14} {kind:<5} {p50:8.2f} {p99:8.2f} {len(xs) / sum(xs):8.0f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
