//! `roster-host check`: the invariants checker over a store file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use roster_host::KvBackend as _;
use roster_host::kv::SqliteBackend;
use std::process::Command;

#[test]
fn check_reports_broken_indexes_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("roster-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("sqlite_key_value.db");
    let backend = SqliteBackend::open(Some(&db)).unwrap();
    let bin = env!("CARGO_BIN_EXE_roster-host");

    let clean = Command::new(bin)
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains("0 violations"));

    // An organization index entry pointing at nothing.
    backend
        .set("default", "orgs/seq/1", b"5931a75ae4bbd512288c680b")
        .unwrap();
    drop(backend);
    let broken = Command::new(bin)
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{out}");
    assert!(
        out.contains("orgs/seq/1: index entry points at no organization"),
        "{out}"
    );

    let missing = Command::new(bin)
        .args(["check", "--db", "/nonexistent/x.db"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no key-value database"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reads_a_redis_store() {
    let redis = roster_host::testing::RedisServer::start().unwrap();
    let bin = env!("CARGO_BIN_EXE_roster-host");
    let clean = Command::new(bin)
        .args(["check", "--redis", &redis.url()])
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}{}",
        String::from_utf8_lossy(&clean.stdout),
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains("0 keys checked, 0 violations"));

    let backend = roster_host::redis_kv::RedisBackend::open(&redis.url(), "default").unwrap();
    backend
        .set("default", "orgs/seq/1", b"5931a75ae4bbd512288c680b")
        .unwrap();
    let broken = Command::new(bin)
        .args(["check", "--redis", &redis.url()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{out}");
    assert!(
        out.contains("orgs/seq/1: index entry points at no organization"),
        "{out}"
    );
}
