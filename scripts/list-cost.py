#!/usr/bin/env python3
# Usage: python3 scripts/list-cost.py STORE.db  (a store seeded by `roster-bench seed`)
"""Time the two batch reads of a list page on a seeded store file, as Spin's SQLite
store issues them (one SELECT ... IN (...)), with SQLite's default page cache (what Spin
uses) and with a 1 GB one, to tell the B-tree/cache from Roster's own work."""
import sqlite3, sys, random, time, statistics
path = sys.argv[1]
def conn(cache):
    c = sqlite3.connect(path)
    if cache: c.execute(f"PRAGMA cache_size = {cache}")
    return c
c = conn(None)
org = c.execute("SELECT key FROM spin_key_value WHERE key LIKE 'org/%' LIMIT 1").fetchone()[0][4:]
top = int.from_bytes(c.execute("SELECT value FROM spin_key_value WHERE store='default' AND key=?", (f"o/{org}/users/seq",)).fetchone()[0], 'little')
def page_keys(start):
    seq = [f"o/{org}/users/seq/{n}" for n in range(start+1, start+101)]
    return seq
import json
def run(cache, reps=300):
    c = conn(cache)
    t_idx, t_rec, pages = [], [], []
    rnd = random.Random(7)
    for i in range(reps + 50):
        start = rnd.randrange(0, max(1, top-100))
        keys = page_keys(start)
        q = "SELECT key, value FROM spin_key_value WHERE store='default' AND key IN (%s)" % ",".join("?"*len(keys))
        t0 = time.perf_counter(); rows = c.execute(q, keys).fetchall(); t1 = time.perf_counter()
        recs = [f"o/{org}/user/{json.loads(v)['id']}" for k, v in rows][:50]
        q2 = "SELECT key, value FROM spin_key_value WHERE store='default' AND key IN (%s)" % ",".join("?"*len(recs))
        t2 = time.perf_counter(); c.execute(q2, recs).fetchall(); t3 = time.perf_counter()
        if i >= 50:
            t_idx.append((t1-t0)*1000); t_rec.append((t3-t2)*1000)
    return statistics.median(t_idx), statistics.median(t_rec)
for cache in (None, -1000000):
    i, r = run(cache)
    print(f"{path}: users={top} cache={'default (2 MB)' if cache is None else '1 GB'}: 100 index entries {i:.3f} ms, 50 records {r:.3f} ms (p50 of 300 pages)")
