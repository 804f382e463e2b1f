//! The benchmark's smoke mode, in the test suite: it runs end to end, every scenario
//! answers correctly through the host and natively, and cost scales as designed, judged
//! by key-value calls per request, never by time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use roster_bench::scenarios::Kind;
use roster_bench::{Config, Report, ScenarioOutcome, Seeder, seed};
use roster_host::KvBackend as _;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A fresh directory for store files, removed when dropped (a failing test too). The
/// smoke test judges structure, not speed: on tmpfs, when the machine has one, SQLite's
/// fsyncs cost nothing and the test stays short.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> Self {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        };
        Self(base.join(format!("roster-bench-{name}-{}", std::process::id())))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn snapshot(db: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    roster_host::kv::SqliteBackend::open(Some(db))
        .unwrap()
        .entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.store == "default")
        .map(|e| (e.key, e.value))
        .collect()
}

#[test]
fn a_seeded_store_satisfies_the_invariants() {
    let dir = WorkDir::new("seed");
    let db = dir.0.join("sqlite_key_value.db");
    let stats = seed::seed(&db, 1_000, 2, seed::CREATED_PER_SECOND).unwrap();
    assert_eq!(stats.users, 1_000);
    // The documented proportions: 1.1 devices and 0.2 tokens per user.
    assert_eq!(stats.devices, 1_100);
    assert_eq!(stats.tokens, 200);
    let data = snapshot(&db);
    assert_eq!(data.len() as u64, stats.rows);
    let violations = roster_domain::invariants::check(&data);
    assert!(violations.is_empty(), "{violations:#?}");
}

fn kv(report: &Report, size: usize, kind: Kind) -> (u64, u64) {
    let (host, native) = report.sizes[size]
        .ran(kind)
        .unwrap_or_else(|| panic!("{kind:?} did not run"));
    (host.kv_calls, native.kv_calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_runs_and_scales_as_designed() {
    let dir = WorkDir::new("smoke");
    let mut cfg = Config::smoke(dir.0.clone());
    cfg.seeder = Seeder::InProcess;
    cfg.keep = true;
    let report = roster_bench::run(&cfg).await.unwrap();
    let md = roster_bench::report::markdown(&report);
    println!("{md}");
    assert_eq!(report.sizes.len(), 2);

    for size in &report.sizes {
        assert!(size.empty.clean(), "empty component: {:?}", size.empty);
        assert_eq!(
            size.empty.kv_calls, 0,
            "the empty component touches no store"
        );
        for row in &size.rows {
            match &row.outcome {
                ScenarioOutcome::Ran {
                    host,
                    native,
                    empty,
                } => {
                    assert!(empty.clean() && empty.kv_calls == 0, "{empty:?}");
                    assert!(
                        host.clean(),
                        "{} (a) at {}: {host:?}",
                        row.scenario.id,
                        size.users
                    );
                    assert!(
                        native.clean(),
                        "{} (b) at {}: {native:?}",
                        row.scenario.id,
                        size.users
                    );
                    // A request without a token opens no store (they open on first
                    // use); every other one opens `default` and `ratelimit`.
                    if row.scenario.kind == Kind::NoToken {
                        assert_eq!(host.kv_calls, 0, "{host:?}");
                    } else {
                        assert!(host.kv_calls >= 2);
                    }
                    assert_eq!(
                        native.kv_calls == 0,
                        row.scenario.kind == Kind::NoToken,
                        "{}",
                        row.scenario.id
                    );
                }
            }
        }
    }

    // O(1) in users per organization: the same key-value calls at 1k and 10k users,
    // through the host and natively alike.
    for kind in [
        Kind::NoToken,
        Kind::GetUser,
        Kind::Count,
        Kind::ListPage,
        Kind::Wso2View,
        Kind::Create,
        Kind::PatchIfMatch,
        Kind::RemoveNoDependents,
        Kind::RemoveWith200Devices,
    ] {
        assert_eq!(kv(&report, 0, kind), kv(&report, 1, kind), "{kind:?}");
    }
    // The component makes exactly the store calls the native handler makes, plus its two
    // store opens, `default` and `ratelimit` (for reads, which use no compare-and-swap: a
    // component's `cas` is two host calls).
    for size in 0..2 {
        for kind in [
            Kind::GetUser,
            Kind::Count,
            Kind::ListPage,
            Kind::Search,
            Kind::Wso2View,
        ] {
            let (host, native) = kv(&report, size, kind);
            assert_eq!(host, native + 2, "{kind:?}");
        }
    }
    // Search reads the n-gram index (one flag read for up to 1000 flags: 1 batch × 2
    // n-grams at 1k, 10 × 2 at 10k) and then only the one batch that holds the needle:
    // the same calls at 1k and 10k, where a scan of the entries made 9 more.
    let (small, small_native) = kv(&report, 0, Kind::Search);
    let (large, large_native) = kv(&report, 1, Kind::Search);
    assert_eq!((small, small_native), (large, large_native));
    assert!(large <= roster_bench::search_report::allowed_search_calls(small, 10_000));
    // The index's flags in the seeded store: some for every user, and fewer than the
    // n-grams of every user's text (users of one batch share most of theirs).
    for size in &report.sizes {
        assert!(size.seed.index_rows > size.users, "{}", size.users);
        assert!(size.seed.index_rows < size.users * 150, "{}", size.users);
    }

    // The components and the empty one were all measured for size.
    assert!(report.components.iter().any(|(id, _)| id == "bench-empty"));
    assert!(report.components.iter().any(|(id, _)| id == "mdm-user"));
    assert_eq!(
        roster_bench::report::targets(&report).len(),
        roster_bench::report::TARGETS.len()
    );
    // Reads make no durable write: no read's request wrote to `default` (its rate-limit
    // counter went to `ratelimit`), and the target says so.
    for size in &report.sizes {
        for kind in [
            Kind::NoToken,
            Kind::GetUser,
            Kind::Count,
            Kind::ListPage,
            Kind::Search,
            Kind::Wso2View,
        ] {
            let (host, _) = size.ran(kind).unwrap();
            assert_eq!(host.default_writes, Some(0), "{kind:?}");
        }
        let (create, _) = size.ran(Kind::Create).unwrap();
        assert!(create.default_writes.unwrap() > 0, "the count sees writes");
    }
    let durable = roster_bench::report::no_durable_write_on_read(&report);
    assert_eq!(durable.met, Some(true), "{durable:?}");
    // The disk-vs-tmpfs pass ran at the smallest size (its figure is a time: shown,
    // never asserted).
    if std::path::Path::new("/dev/shm").is_dir() {
        let d = report.sizes[0]
            .disk_vs_tmpfs
            .as_ref()
            .expect("the pass ran");
        assert!(d.disk.n() > 0 && d.tmpfs.n() > 0, "{d:?}");
        assert_eq!(d.disk.errors + d.tmpfs.errors, 0, "{d:?}");
    }

    // What the benchmark did to the store left it consistent. (At 1k only: the checker
    // compares every user list with every user, which takes half a minute at 10k.)
    let db = dir.0.join("store-1k").join("sqlite_key_value.db");
    let violations = roster_domain::invariants::check(&snapshot(&db));
    assert!(violations.is_empty(), "{violations:#?}");
}
