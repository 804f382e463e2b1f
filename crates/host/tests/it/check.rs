//! `roster-host check`: the invariants checker over a store file.

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

    // An empty store is no success: there is nothing of Roster's to check.
    let empty = Command::new(bin)
        .args(["check", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no keys in store"));

    backend.increment("default", "orgs/seq", 0).unwrap();
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

    // A SQLite database that is not Spin's is refused, and left exactly as it was.
    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute("CREATE TABLE t (x)", [])
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let refused = Command::new(bin)
        .args(["check", "--db"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a Spin key-value database"));
    assert_eq!(std::fs::read(&other).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reads_a_redis_store() {
    let redis = roster_host::testing::RedisServer::start().unwrap();
    let bin = env!("CARGO_BIN_EXE_roster-host");
    let backend = roster_host::redis_kv::RedisBackend::open(&redis.url(), "default").unwrap();
    let empty = Command::new(bin)
        .args(["check", "--redis", &redis.url()])
        .output()
        .unwrap();
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no keys in store"));
    // A password in the URL never reaches the output.
    let url = redis.url().replacen("redis://", "redis://:s3cret@", 1);
    let denied = Command::new(bin)
        .args(["check", "--redis", &url])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(!String::from_utf8_lossy(&denied.stderr).contains("s3cret"));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("***"));

    backend.increment("default", "orgs/seq", 0).unwrap();
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
    assert!(String::from_utf8_lossy(&clean.stdout).contains("1 keys checked, 0 violations"));

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
