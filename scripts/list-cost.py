#!/usr/bin/env python3
# Usage: python3 scripts/list-cost.py STORE.db [STORE.db ...]  (stores seeded by `roster-bench seed`)
"""Time the two batch reads of a list page on seeded store files, as Spin's SQLite store
issues them (one SELECT ... IN (...)), with SQLite's default page cache (what Spin uses)
and with a 1 GB one, to tell the B-tree/cache from Roster's own work.

With several files, the files take turns in ROUNDS rounds of PAGES pages each (so that
load from outside weighs on them alike) and each line gives the median over all rounds:
compare e.g. a 1k-user and a 1M-user store, or two 1M-user stores seeded with different
`--per-second` (creation pace, hence key order)."""
import json
import random
import sqlite3
import statistics
import sys
import time

ROUNDS, PAGES, WARM = 3, 300, 50


class Store:
    def __init__(self, path, cache):
        self.path, self.cache = path, cache
        self.c = sqlite3.connect(path)
        if cache:
            self.c.execute(f"PRAGMA cache_size = {cache}")
        row = self.c.execute(
            "SELECT key FROM spin_key_value WHERE key LIKE 'org/%' LIMIT 1").fetchone()
        self.org = row[0][4:]
        counter = self.c.execute(
            "SELECT value FROM spin_key_value WHERE store='default' AND key=?",
            (f"o/{self.org}/users/seq",)).fetchone()[0]
        self.top = int.from_bytes(counter, 'little')
        self.rnd = random.Random(7)
        self.t_idx, self.t_rec = [], []

    def read(self, keys):
        q = ("SELECT key, value FROM spin_key_value WHERE store='default' AND key IN (%s)"
             % ",".join("?" * len(keys)))
        t0 = time.perf_counter()
        rows = self.c.execute(q, keys).fetchall()
        return rows, (time.perf_counter() - t0) * 1000

    def page(self, timed):
        start = self.rnd.randrange(0, max(1, self.top - 100))
        seq = [f"o/{self.org}/users/seq/{n}" for n in range(start + 1, start + 101)]
        rows, t_idx = self.read(seq)
        recs = [f"o/{self.org}/user/{json.loads(v)['id']}" for _, v in rows][:50]
        _, t_rec = self.read(recs)
        if timed:
            self.t_idx.append(t_idx)
            self.t_rec.append(t_rec)


for cache in (None, -1000000):
    stores = [Store(p, cache) for p in sys.argv[1:]]
    for s in stores:
        for _ in range(WARM):
            s.page(False)
    for _ in range(ROUNDS):
        for s in stores:
            for _ in range(PAGES):
                s.page(True)
    for s in stores:
        i, r = statistics.median(s.t_idx), statistics.median(s.t_rec)
        label = 'default (2 MB)' if cache is None else '1 GB'
        print(f"{s.path}: users={s.top} cache={label}: 100 index entries {i:.3f} ms, "
              f"50 records {r:.3f} ms (p50 of {ROUNDS} x {PAGES} pages)", flush=True)
