//! End-to-end tests of roster-host against the fixture components in `crates/host/fixtures`.
//!
//! The fixtures are built once per test run with
//! `cargo build --target wasm32-wasip2 --release -p fixture-echo -p fixture-kv-probe -p fixture-trap`
//! (a no-op when they are fresh).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use roster_host::{Host, HostConfig, StoreChoice};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_fixtures() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let status = std::process::Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args([
                "build",
                "--target",
                "wasm32-wasip2",
                "--release",
                "-p",
                "fixture-echo",
                "-p",
                "fixture-kv-probe",
                "-p",
                "fixture-trap",
            ])
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the fixture components failed");
    });
}

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = workspace_root()
        .join("target/roster-host-tests")
        .join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/spin.toml")
}

struct App {
    host: Arc<Host>,
    addr: SocketAddr,
    dir: PathBuf,
}

fn config(dir: &Path, store: StoreChoice, vars: &[(&str, &str)]) -> HostConfig {
    let rc = dir.join("runtime-config.toml");
    std::fs::write(
        &rc,
        "[key_value_store.other]\ntype = \"spin\"\npath = \"other.db\"\n",
    )
    .unwrap();
    let mut variables: HashMap<String, String> =
        HashMap::from([("api_key".to_owned(), "k-123".to_owned())]);
    for (k, v) in vars {
        variables.insert((*k).to_owned(), (*v).to_owned());
    }
    HostConfig {
        manifest: manifest(),
        state_dir: Some(dir.join(".spin")),
        runtime_config: Some(rc),
        store,
        variables,
    }
}

async fn start_with(name: &str, store: StoreChoice, vars: &[(&str, &str)]) -> App {
    build_fixtures();
    let dir = temp_dir(name);
    let (host, addr) = roster_host::spawn(config(&dir, store, vars)).await.unwrap();
    App { host, addr, dir }
}

async fn start(name: &str) -> App {
    start_with(name, StoreChoice::Memory, &[]).await
}

async fn send(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    send(addr, "GET", path).await
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "GET {path} answered {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn header<'a>(v: &'a Value, name: &str) -> &'a str {
    v["headers"][name]
        .as_str()
        .unwrap_or_else(|| panic!("missing header {name} in {v}"))
}

#[tokio::test]
async fn routing_precedence_and_spin_headers() {
    let app = start("routing").await;
    let a = app.addr;

    let v = json(a, "/echo/exact").await;
    assert_eq!(v["method"], "GET");
    assert_eq!(v["uri"], format!("http://{a}/echo/exact"));
    assert_eq!(header(&v, "spin-matched-route"), "/echo/exact");
    assert_eq!(header(&v, "spin-raw-component-route"), "/echo/exact");
    assert_eq!(header(&v, "spin-component-route"), "/echo/exact");
    assert_eq!(header(&v, "spin-path-info"), "");
    assert_eq!(header(&v, "spin-base-path"), "/");
    assert_eq!(
        header(&v, "spin-full-url"),
        format!("http://{a}/echo/exact")
    );
    let client: SocketAddr = header(&v, "spin-client-addr").parse().unwrap();
    assert_eq!(client.ip().to_string(), "127.0.0.1");

    let v = json(a, "/echo/bob").await;
    assert_eq!(header(&v, "spin-matched-route"), "/echo/:name");
    assert_eq!(header(&v, "spin-component-route"), "/echo/:name");
    assert_eq!(header(&v, "spin-path-match-name"), "bob");
    assert_eq!(header(&v, "spin-path-info"), "");

    let v = json(a, "/echo/bob/more?x=1&y=2").await;
    assert_eq!(header(&v, "spin-matched-route"), "/echo/...");
    assert_eq!(header(&v, "spin-raw-component-route"), "/echo/...");
    assert_eq!(header(&v, "spin-component-route"), "/echo");
    assert_eq!(header(&v, "spin-path-info"), "/bob/more");
    assert_eq!(
        header(&v, "spin-full-url"),
        format!("http://{a}/echo/bob/more?x=1&y=2")
    );
    assert_eq!(v["uri"], format!("http://{a}/echo/bob/more?x=1&y=2"));
    assert!(v["headers"].get("spin-path-match-name").is_none());

    let v = json(a, "/v1/organizations/org-1/mdm/users/user-2").await;
    assert_eq!(
        header(&v, "spin-matched-route"),
        "/v1/organizations/:organizationId/mdm/users/:mdm_user_id"
    );
    assert_eq!(header(&v, "spin-path-match-organizationid"), "org-1");
    assert_eq!(header(&v, "spin-path-match-mdm-user-id"), "user-2");

    let (status, body) = send(a, "POST", "/echo/exact").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"method\":\"POST\""), "{body}");
}

#[tokio::test]
async fn trailing_slashes() {
    let app = start("slashes").await;
    let a = app.addr;
    // A trailing slash on the request path still matches the exact route.
    let v = json(a, "/echo/exact/").await;
    assert_eq!(header(&v, "spin-matched-route"), "/echo/exact");
    // A trailing slash on the route pattern is stripped (Spin's sanitize), on both paths.
    let v = json(a, "/slashed").await;
    assert_eq!(header(&v, "spin-matched-route"), "/slashed");
    assert_eq!(header(&v, "spin-raw-component-route"), "/slashed/");
    let v = json(a, "/slashed/").await;
    assert_eq!(header(&v, "spin-matched-route"), "/slashed");
    // Wildcards keep the trailing slash in path-info.
    let v = json(a, "/echo/a/b/").await;
    assert_eq!(header(&v, "spin-path-info"), "/a/b/");
    let v = json(a, "/echo/").await;
    assert_eq!(header(&v, "spin-matched-route"), "/echo/...");
    assert_eq!(header(&v, "spin-path-info"), "/");
}

#[tokio::test]
async fn private_and_unrouted_paths_are_404() {
    let app = start("notfound").await;
    let a = app.addr;
    for path in [
        "/",
        "/nothing",
        "/kv/extra",
        "/private",
        "/.well-known/spin/nope",
    ] {
        let (status, body) = get(a, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body, "", "{path}");
    }
    assert_eq!(
        get(a, "/.well-known/spin/health").await,
        (200, "OK".to_owned())
    );
    // Spin's router (routefinder 0.5.4) needs the `/` between `echo` and `:name`:
    // `/echo-private` matches no route (routefinder 0.6 would route it to `/echo/:name`
    // with name `-private`; Spin does not).
    assert_eq!(get(a, "/echo-private").await, (404, String::new()));
    assert!(!app.host.routes().iter().any(|(c, _)| c == "echo-private"));
}

#[tokio::test]
async fn kv_spin_interface_semantics() {
    let app = start("kv-spin").await;
    let a = app.addr;
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], Value::Null);
    assert_eq!(json(a, "/kv?op=exists&key=k").await["ok"], false);
    assert_eq!(
        json(a, "/kv?op=delete&key=absent").await,
        serde_json::json!({"ok": null})
    );
    json(a, "/kv?op=set&key=k&value=v1").await;
    json(a, "/kv?op=set&key=k&value=v2").await;
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v2");
    assert_eq!(json(a, "/kv?op=exists&key=k").await["ok"], true);
    json(a, "/kv?op=set&key=j&value=x").await;
    assert_eq!(
        json(a, "/kv?op=get-keys").await["ok"],
        serde_json::json!(["j", "k"])
    );
    // The host's direct handle sees the same rows.
    assert_eq!(
        app.host.kv().get("default", "k").unwrap(),
        Some(b"v2".to_vec())
    );
    app.host.kv().set("default", "direct", b"d").unwrap();
    assert_eq!(json(a, "/kv?op=get&key=direct").await["ok"], "d");
    json(a, "/kv?op=delete&key=k").await;
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], Value::Null);
    // Stores are isolated by label.
    json(a, "/kv?op=set&store=other&key=o&value=1").await;
    assert_eq!(json(a, "/kv?op=get&key=o").await["ok"], Value::Null);
    assert_eq!(
        json(a, "/kv?op=get-keys&store=other").await["ok"],
        serde_json::json!(["o"])
    );
    let entries = app.host.kv().entries().unwrap();
    let rows: Vec<(String, String)> = entries.into_iter().map(|e| (e.store, e.key)).collect();
    assert_eq!(
        rows,
        vec![
            ("default".to_owned(), "direct".to_owned()),
            ("default".to_owned(), "j".to_owned()),
            ("other".to_owned(), "o".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kv_increment_is_atomic_under_concurrency() {
    let app = start_with("incr", StoreChoice::Sqlite, &[]).await;
    let a = app.addr;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(tokio::spawn(async move {
            json(a, "/kv?api=wasi&op=increment&key=counter&delta=1").await
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap()["ok"].as_i64().unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=50).collect::<Vec<_>>());
    assert_eq!(
        app.host.kv().get("default", "counter").unwrap(),
        Some(50i64.to_le_bytes().to_vec())
    );
    assert_eq!(
        json(a, "/kv?api=wasi&op=increment&key=counter&delta=-60").await["ok"],
        -10
    );
    assert_eq!(
        json(a, "/kv?api=wasi&op=increment&key=fresh&delta=7").await["ok"],
        7
    );
    // A value that is not an 8-byte integer is an error, not a panic.
    json(a, "/kv?op=set&key=text&value=abc").await;
    let v = json(a, "/kv?api=wasi&op=increment&key=text&delta=1").await;
    assert!(v["err"].as_str().unwrap().starts_with("other: "), "{v}");
}

#[tokio::test]
async fn kv_compare_and_swap() {
    let app = start_with("cas", StoreChoice::Sqlite, &[]).await;
    let a = app.addr;
    json(a, "/kv?op=set&key=c&value=one").await;
    let v = json(a, "/kv?api=wasi&op=cas&key=c&value=two").await;
    assert_eq!(v, serde_json::json!({"ok": {"current": "one"}}));
    assert_eq!(json(a, "/kv?op=get&key=c").await["ok"], "two");
    // A change between current() and swap() makes the swap fail; the new handle sees it.
    let v = json(a, "/kv?api=wasi&op=cas&key=c&value=three&interfere=other").await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(v["current"], "two");
    assert_eq!(v["now"], "other");
    assert_eq!(json(a, "/kv?op=get&key=c").await["ok"], "other");
    // current() saw no value: the swap is an unconditional upsert (Spin's behaviour), even if
    // the key was created in between.
    let v = json(a, "/kv?api=wasi&op=cas&key=new&value=first").await;
    assert_eq!(v, serde_json::json!({"ok": {"current": null}}));
    let v = json(
        a,
        "/kv?api=wasi&op=cas&key=new2&value=mine&interfere=theirs",
    )
    .await;
    assert_eq!(v, serde_json::json!({"ok": {"current": null}}));
    assert_eq!(json(a, "/kv?op=get&key=new2").await["ok"], "mine");
}

#[tokio::test]
async fn kv_wasi_store_and_batch() {
    let app = start("batch").await;
    let a = app.addr;
    json(a, "/kv?api=wasi&op=set&key=a&value=1").await;
    assert_eq!(json(a, "/kv?api=wasi&op=get&key=a").await["ok"], "1");
    assert_eq!(json(a, "/kv?api=wasi&op=exists&key=a").await["ok"], true);
    json(a, "/kv?api=wasi&op=set-many&keys=b,c&value=v").await;
    let v = json(a, "/kv?api=wasi&op=get-many&keys=a,zz,c").await;
    assert_eq!(v["ok"], serde_json::json!([["a", "1"], ["c", "v"]]));
    assert_eq!(
        json(a, "/kv?api=wasi&op=list-keys").await["ok"],
        serde_json::json!(["a", "b", "c"])
    );
    json(a, "/kv?api=wasi&op=delete-many&keys=a,b,absent").await;
    assert_eq!(
        json(a, "/kv?api=wasi&op=list-keys").await["ok"],
        serde_json::json!(["c"])
    );
    json(a, "/kv?api=wasi&op=delete&key=c").await;
    assert_eq!(
        json(a, "/kv?op=get-keys").await["ok"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn kv_store_access_rules() {
    let app = start("access").await;
    let a = app.addr;
    // Declared store, but not in this component's key_value_stores.
    assert_eq!(
        json(a, "/kv-limited?op=open&store=other").await["err"],
        "access-denied"
    );
    assert_eq!(
        json(a, "/kv-limited?api=wasi&op=open&store=other").await["err"],
        "access-denied"
    );
    // Undeclared label: Spin checks the component's list first, so this is access-denied too.
    assert_eq!(
        json(a, "/kv?op=open&store=nope").await["err"],
        "access-denied"
    );
    assert_eq!(
        json(a, "/kv-limited?op=open").await,
        serde_json::json!({"ok": null})
    );

    // A component listing a label that no configuration defines fails at startup, as in Spin.
    let dir = temp_dir("ghost");
    let wasm = workspace_root().join("target/wasm32-wasip2/release/fixture_kv_probe.wasm");
    std::fs::write(
        dir.join("spin.toml"),
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"ghost\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n[component.c]\nsource = {:?}\nkey_value_stores = [\"ghost\"]\n",
            wasm.display().to_string()
        ),
    )
    .unwrap();
    let cfg = HostConfig {
        manifest: dir.clone(),
        state_dir: Some(dir.join(".spin")),
        store: StoreChoice::Memory,
        ..HostConfig::default()
    };
    let err = Host::new(cfg).await.err().expect("startup must fail");
    // Spin's message (crates/factor-key-value/src/lib.rs, v3.0.0–v4.0.2).
    assert_eq!(
        err.to_string(),
        "unknown key_value_stores label \"ghost\" for component \"c\""
    );
}

#[tokio::test]
async fn variables() {
    let app = start("vars").await;
    let a = app.addr;
    assert_eq!(
        json(a, "/kv?op=var&name=greeting").await["ok"],
        "hello world!"
    );
    assert_eq!(json(a, "/kv?op=var&name=plain").await["ok"], "static value");
    assert_eq!(json(a, "/kv?op=var&name=key").await["ok"], "k-123");
    assert_eq!(json(a, "/kv?op=var&name=nope").await["err"], "undefined");
    // Application variables are not visible unless the component maps them.
    assert_eq!(json(a, "/kv?op=var&name=who").await["err"], "undefined");
    assert_eq!(
        json(a, "/kv?op=var&name=Bad-Name").await["err"],
        "invalid-name"
    );
    assert_eq!(json(a, "/kv?op=var&name=a__b").await["err"], "invalid-name");
    // Another component has no variables.
    assert_eq!(
        json(a, "/kv-limited?op=var&name=greeting").await["err"],
        "undefined"
    );

    // SPIN_VARIABLE_WHO-style override (names are case-insensitive).
    let app2 = start_with("vars2", StoreChoice::Memory, &[("WHO", "roster")]).await;
    assert_eq!(
        json(app2.addr, "/kv?op=var&name=greeting").await["ok"],
        "hello roster!"
    );

    // A required variable without a value is a startup error naming it.
    let dir = temp_dir("vars-missing");
    let mut cfg = config(&dir, StoreChoice::Memory, &[]);
    cfg.variables.clear();
    let err = Host::new(cfg).await.err().expect("startup must fail");
    assert!(err.to_string().contains("api_key"), "{err}");
}

#[tokio::test]
async fn trap_answers_500_and_the_server_keeps_serving() {
    let app = start("trap").await;
    let a = app.addr;
    for _ in 0..3 {
        let (status, body) = get(a, "/trap").await;
        assert_eq!(status, 500);
        assert!(!body.is_empty());
        assert_eq!(get(a, "/echo/exact").await.0, 200);
    }
}

#[tokio::test]
async fn fault_injection() {
    let app = start("faults").await;
    let a = app.addr;
    let f = app.host.faults();
    json(a, "/kv?op=set&key=k&value=v").await;
    f.clear();
    assert_eq!(f.kv_calls(), 0);
    // Call 1 is `open`, call 2 is `get`.
    f.fail_nth(2);
    let v = json(a, "/kv?op=get&key=k").await;
    assert_eq!(v["err"], "other: injected fault");
    assert_eq!(f.kv_calls(), 2);
    // Fires once.
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v");
    assert_eq!(f.kv_calls(), 4);
    // wasi:keyvalue calls count too.
    f.clear();
    f.fail_nth(1);
    assert_eq!(
        json(a, "/kv?api=wasi&op=get&key=k").await["err"],
        "other: injected fault"
    );
    f.clear();
    f.trap_nth(2);
    let (status, _) = get(a, "/kv?api=wasi&op=set&key=k&value=w").await;
    assert_eq!(status, 500);
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v");
    f.clear();
    f.fail_nth(2);
    let v = json(a, "/kv?op=get-keys").await;
    assert_eq!(v["err"], "other: injected fault");
}

#[tokio::test]
async fn sqlite_database_is_spins() {
    let app = start_with("sqlite", StoreChoice::Sqlite, &[]).await;
    let a = app.addr;
    json(a, "/kv?op=set&key=k&value=v").await;
    json(a, "/kv?op=set&store=other&key=o&value=w").await;
    let db = app.dir.join(".spin/sqlite_key_value.db");
    assert!(db.is_file(), "{} missing", db.display());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: Vec<(String, String, Vec<u8>)> = conn
        .prepare("SELECT store, key, value FROM spin_key_value")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![("default".to_owned(), "k".to_owned(), b"v".to_vec())]
    );
    let pk: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('spin_key_value') WHERE pk > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pk, 2);
    // The runtime config's store lives next to the runtime config file.
    let other = rusqlite::Connection::open(app.dir.join("other.db")).unwrap();
    let n: i64 = other
        .query_row(
            "SELECT count(*) FROM spin_key_value WHERE store = 'other' AND key = 'o'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);

    let mem = start("memory").await;
    json(mem.addr, "/kv?op=set&key=k&value=v").await;
    assert!(!mem.dir.join(".spin/sqlite_key_value.db").exists());
}

// ---- Redis: Spin's `type = "redis"` store, call by call ------------------------------------

async fn start_redis(name: &str) -> (App, roster_host::testing::RedisServer) {
    let redis = roster_host::testing::RedisServer::start().unwrap();
    let app = start_with(name, StoreChoice::Redis(redis.url()), &[]).await;
    (app, redis)
}

fn raw(redis: &roster_host::testing::RedisServer, key: &str) -> Option<Vec<u8>> {
    let mut c = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("GET").arg(key).query(&mut c).unwrap()
}

#[tokio::test]
async fn redis_get_set_delete_exists_and_keys() {
    let (app, redis) = start_redis("redis-basic").await;
    let a = app.addr;
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], Value::Null);
    json(a, "/kv?op=set&key=k&value=v1").await;
    assert_eq!(raw(&redis, "k"), Some(b"v1".to_vec()));
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v1");
    assert_eq!(json(a, "/kv?op=exists&key=k").await["ok"], true);
    json(a, "/kv?api=wasi&op=set&key=j&value=x").await;
    assert_eq!(
        json(a, "/kv?op=get-keys").await["ok"],
        serde_json::json!(["j", "k"])
    );
    assert_eq!(
        json(a, "/kv?api=wasi&op=list-keys").await["ok"],
        serde_json::json!(["j", "k"])
    );
    json(a, "/kv?op=delete&key=k").await;
    assert_eq!(raw(&redis, "k"), None);
    json(a, "/kv?api=wasi&op=set-many&keys=m1,m2&value=y").await;
    assert_eq!(raw(&redis, "m2"), Some(b"y".to_vec()));
    json(a, "/kv?api=wasi&op=delete-many&keys=m1,m2,absent").await;
    assert_eq!(raw(&redis, "m1"), None);
    // The host's own listing reads Redis too (SCAN), under the label it was configured for.
    let rows: Vec<(String, String)> = app
        .host
        .kv()
        .entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.store == "default")
        .map(|e| (e.store, e.key))
        .collect();
    assert_eq!(rows, vec![("default".to_owned(), "j".to_owned())]);
}

#[tokio::test]
async fn redis_increment_is_incrby_on_decimal_text() {
    let (app, redis) = start_redis("redis-incr").await;
    let a = app.addr;
    assert_eq!(
        json(a, "/kv?api=wasi&op=increment&key=n&delta=5").await["ok"],
        5
    );
    assert_eq!(
        json(a, "/kv?api=wasi&op=increment&key=n&delta=-7").await["ok"],
        -2
    );
    assert_eq!(raw(&redis, "n"), Some(b"-2".to_vec()));
    assert_eq!(json(a, "/kv?op=get&key=n").await["ok"], "-2");
    // A value that is not decimal text: INCRBY fails.
    json(a, "/kv?op=set&key=text&value=abc").await;
    let v = json(a, "/kv?api=wasi&op=increment&key=text&delta=1").await;
    assert!(v["err"].as_str().unwrap().starts_with("other: "), "{v}");
    // The rate limiter's old pattern: a swap that writes 8 raw little-endian bytes, then
    // INCRBY on the same key fails from then on.
    let le1 = "%01%00%00%00%00%00%00%00";
    let v = json(a, &format!("/kv?api=wasi&op=cas&key=rl&value={le1}")).await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(raw(&redis, "rl"), Some(1i64.to_le_bytes().to_vec()));
    let v = json(a, "/kv?api=wasi&op=increment&key=rl&delta=1").await;
    assert!(v["err"].as_str().unwrap().starts_with("other: "), "{v}");
    assert_eq!(raw(&redis, "rl"), Some(1i64.to_le_bytes().to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_increment_is_atomic_under_concurrency() {
    let (app, redis) = start_redis("redis-incr-race").await;
    let a = app.addr;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        tasks.push(tokio::spawn(async move {
            json(a, "/kv?api=wasi&op=increment&key=counter&delta=1").await
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap()["ok"].as_i64().unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=32).collect::<Vec<_>>());
    assert_eq!(raw(&redis, "counter"), Some(b"32".to_vec()));
}

#[tokio::test]
async fn redis_swap_always_reports_failure() {
    let (app, redis) = start_redis("redis-cas").await;
    let a = app.addr;
    // Uncontended, on an existing key: reports cas-failed, and wrote the value.
    json(a, "/kv?op=set&key=c&value=one").await;
    let v = json(a, "/kv?api=wasi&op=cas&key=c&value=two").await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(v["current"], "one");
    // The handle cas-failed hands back has read the latest value (Spin's fresh current()).
    assert_eq!(v["now"], "two");
    assert_eq!(raw(&redis, "c"), Some(b"two".to_vec()));
    // On an absent key: the same.
    let v = json(a, "/kv?api=wasi&op=cas&key=fresh&value=first").await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(v["current"], Value::Null);
    assert_eq!(raw(&redis, "fresh"), Some(b"first".to_vec()));
    // A swap that lost the race (the key changed after WATCH): writes nothing, reports
    // cas-failed too.
    let v = json(a, "/kv?api=wasi&op=cas&key=c&value=three&interfere=other").await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(v["current"], "two");
    assert_eq!(v["now"], "other");
    assert_eq!(raw(&redis, "c"), Some(b"other".to_vec()));
    // A concurrent create of an absent key is seen by WATCH as well.
    let v = json(
        a,
        "/kv?api=wasi&op=cas&key=new2&value=mine&interfere=theirs",
    )
    .await;
    assert_eq!(v["err"], "cas-failed", "{v}");
    assert_eq!(raw(&redis, "new2"), Some(b"theirs".to_vec()));
}

#[tokio::test]
async fn redis_get_many_is_spins_keys_call() {
    let (app, redis) = start_redis("redis-get-many").await;
    let a = app.addr;
    json(a, "/kv?op=set&key=a&value=1").await;
    json(a, "/kv?op=set&key=b&value=2").await;
    // Two keys or more: `KEYS a b` is a wrong number of arguments.
    // roster-spin recognises this refusal by the `'keys'` it names, and only it.
    let v = json(a, "/kv?api=wasi&op=get-many&keys=a,b").await;
    assert!(v["err"].as_str().unwrap().starts_with("other: "), "{v}");
    assert!(v["err"].as_str().unwrap().contains("'keys'"), "{v}");
    let v = json(a, "/kv?api=wasi&op=get-many&keys=a,zz").await;
    assert!(v["err"].as_str().unwrap().starts_with("other: "), "{v}");
    // One absent key: `KEYS zz` matches nothing, so the answer is empty.
    let v = json(a, "/kv?api=wasi&op=get-many&keys=zz").await;
    assert_eq!(v["ok"], serde_json::json!([]), "{v}");
    // One present key: `KEYS a` answers ["a"], which is not a list of (key, value) pairs;
    // the redis crate Spin 4.0.2 builds with (0.32) panics parsing it (`unreachable!`), so
    // the host task dies and the request answers 500, as under Spin. The server goes on.
    let (status, _) = get(a, "/kv?api=wasi&op=get-many&keys=a").await;
    assert_eq!(status, 500);
    assert_eq!(json(a, "/kv?op=get&key=a").await["ok"], "1");
    // Nothing was changed by any of it.
    assert_eq!(raw(&redis, "a"), Some(b"1".to_vec()));
}

#[tokio::test]
async fn redis_fault_injection() {
    let (app, redis) = start_redis("redis-faults").await;
    let a = app.addr;
    let f = app.host.faults();
    json(a, "/kv?op=set&key=k&value=v").await;
    f.clear();
    f.fail_nth(2);
    let v = json(a, "/kv?op=get&key=k").await;
    assert_eq!(v["err"], "other: injected fault");
    assert_eq!(f.kv_calls(), 2);
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v");
    f.clear();
    // `open`, then the `set`: the failed set writes nothing.
    f.fail_nth(2);
    let v = json(a, "/kv?api=wasi&op=set&key=k&value=w").await;
    assert_eq!(v["err"], "other: injected fault");
    assert_eq!(raw(&redis, "k"), Some(b"v".to_vec()));
    f.clear();
    f.trap_nth(2);
    let (status, _) = get(a, "/kv?api=wasi&op=set&key=k&value=w").await;
    assert_eq!(status, 500);
    assert_eq!(raw(&redis, "k"), Some(b"v".to_vec()));
    // Compare-and-swap calls count: open(1), new(2), current(3), swap(4).
    f.clear();
    f.fail_nth(4);
    let v = json(a, "/kv?api=wasi&op=cas&key=k&value=x").await;
    assert_eq!(v["err"], "other: injected fault", "{v}");
    assert_eq!(raw(&redis, "k"), Some(b"v".to_vec()));
}

#[tokio::test]
async fn redis_runtime_config_and_labels() {
    build_fixtures();
    let redis = roster_host::testing::RedisServer::start().unwrap();
    let dir = temp_dir("redis-rc");
    let rc = dir.join("runtime-config.toml");
    std::fs::write(
        &rc,
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n\n[key_value_store.other]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url(),
            redis.url()
        ),
    )
    .unwrap();
    let cfg = HostConfig {
        manifest: manifest(),
        state_dir: Some(dir.join(".spin")),
        runtime_config: Some(rc),
        store: StoreChoice::Sqlite,
        variables: HashMap::from([("api_key".to_owned(), "k".to_owned())]),
    };
    let (_host, a) = roster_host::spawn(cfg).await.unwrap();
    json(a, "/kv?op=set&key=k&value=v").await;
    // Spin's Redis store ignores the label: `other` on the same URL is the same keyspace.
    assert_eq!(json(a, "/kv?op=get&store=other&key=k").await["ok"], "v");
    assert_eq!(raw(&redis, "k"), Some(b"v".to_vec()));
    // No SQLite database was created for the default store.
    assert!(!dir.join(".spin/sqlite_key_value.db").exists());

    // A redis store without a url is a startup error naming the label.
    std::fs::write(
        dir.join("bad.toml"),
        "[key_value_store.default]\ntype = \"redis\"\n",
    )
    .unwrap();
    let cfg = HostConfig {
        manifest: manifest(),
        state_dir: Some(dir.join(".spin")),
        runtime_config: Some(dir.join("bad.toml")),
        store: StoreChoice::Memory,
        variables: HashMap::from([("api_key".to_owned(), "k".to_owned())]),
    };
    let err = Host::new(cfg).await.err().expect("startup must fail");
    assert!(err.to_string().contains("url"), "{err:#}");
}

#[tokio::test]
async fn spin_type_without_path_is_in_memory() {
    build_fixtures();
    let dir = temp_dir("rc-memory");
    let rc = dir.join("runtime-config.toml");
    std::fs::write(
        &rc,
        "[key_value_store.default]\ntype = \"spin\"\n\n[key_value_store.other]\ntype = \"spin\"\n",
    )
    .unwrap();
    let cfg = HostConfig {
        manifest: manifest(),
        state_dir: Some(dir.join(".spin")),
        runtime_config: Some(rc),
        store: StoreChoice::Sqlite,
        variables: HashMap::from([("api_key".to_owned(), "k".to_owned())]),
    };
    let (_host, a) = roster_host::spawn(cfg).await.unwrap();
    json(a, "/kv?op=set&key=k&value=v").await;
    assert_eq!(json(a, "/kv?op=get&key=k").await["ok"], "v");
    assert!(!dir.join(".spin/sqlite_key_value.db").exists());
}

#[tokio::test]
async fn a_component_released_spin_refuses_is_refused_at_load() {
    // A component exporting only `wasi:http/handler@0.3.0` (what spin-sdk 7 builds): Spin
    // 3.x and 4.0.x refuse it, so roster-host does too, naming the component and export.
    let dir = temp_dir("p3-only");
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $h (export "handle" (func $f)))
            (export "wasi:http/handler@0.3.0" (instance $h))
        )"#,
    )
    .unwrap();
    std::fs::write(dir.join("p3.wasm"), wasm).unwrap();
    std::fs::write(
        dir.join("spin.toml"),
        "spin_manifest_version = 2\n[application]\nname = \"p3\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"newer\"\n[component.newer]\nsource = \"p3.wasm\"\n",
    )
    .unwrap();
    let cfg = HostConfig {
        manifest: dir.clone(),
        state_dir: Some(dir.join(".spin")),
        store: StoreChoice::Memory,
        ..HostConfig::default()
    };
    let err = format!("{:#}", Host::new(cfg).await.err().expect("load must fail"));
    assert!(err.contains("\"newer\""), "{err}");
    assert!(err.contains("wasi:http/handler@0.3.0"), "{err}");
    assert!(err.contains("wasi:http/incoming-handler@0.2."), "{err}");
}
