//! Shared support for the integration tests: builds the components (once per test
//! process; cargo makes this a no-op when they are fresh), starts roster-host on the
//! project's own spin.toml over loopback, and offers a small JSON client.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use roster_host::{Host, HostConfig, StoreChoice};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Once};

pub mod openapi;

/// The workspace root (where spin.toml lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds every component for wasm32-wasip2, once per process.
pub fn build_components() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let root = root();
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.current_dir(&root)
            .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"]);
        for entry in std::fs::read_dir(root.join("components")).unwrap() {
            cmd.arg("-p").arg(entry.unwrap().file_name());
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the components failed");
    });
}

/// A running app: roster-host serving spin.toml on an ephemeral loopback port, with the
/// key-value backend named by `ROSTER_KV`: `memory` (the default) is in-memory SQLite
/// (Spin's `type = "spin"` without `path`) for `default`, and the project's
/// runtime-config.toml for `ratelimit` (in memory too); `redis` a fresh Redis server of
/// its own (Spin's `type = "redis"`) for both stores, stopped when the App is dropped.
pub struct App {
    pub host: Arc<Host>,
    pub addr: SocketAddr,
    pub admin_token: String,
    client: reqwest::Client,
    /// The App's own Redis server when `ROSTER_KV=redis`; kept alive as long as the App.
    pub redis: Option<roster_host::testing::RedisServer>,
}

/// The key-value backend the integration tests run on (`ROSTER_KV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In-memory SQLite (`ROSTER_KV=memory` or unset).
    Memory,
    /// A real Redis server (`ROSTER_KV=redis`).
    Redis,
}

/// The backend chosen by `ROSTER_KV`; panics on an unknown value rather than silently
/// testing something else.
pub fn backend() -> Backend {
    match std::env::var("ROSTER_KV").as_deref() {
        Err(_) | Ok("") | Ok("memory") => Backend::Memory,
        Ok("redis") => Backend::Redis,
        Ok(other) => panic!("ROSTER_KV={other:?}: expected `memory` or `redis`"),
    }
}

/// A response: status, headers, body parsed as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl App {
    pub async fn start() -> App {
        Self::start_with_variables(&[]).await
    }

    /// Starts the app with application variables besides `admin_token` (e.g.
    /// `event_hosts`), as `SPIN_VARIABLE_*` would give them.
    pub async fn start_with_variables(extra: &[(&str, &str)]) -> App {
        build_components();
        let admin_token = format!("test-admin-{}", std::process::id());
        let (store, runtime_config, redis) = match backend() {
            Backend::Memory => (
                StoreChoice::Memory,
                root().join("runtime-config.toml"),
                None,
            ),
            Backend::Redis => {
                let server = roster_host::testing::RedisServer::start()
                    .expect("redis-server starts (ROSTER_KV=redis; `make redis` installs it)");
                let rc = server
                    .runtime_config(&["default", "ratelimit"])
                    .expect("the runtime config is written");
                (StoreChoice::Redis(server.url()), rc, Some(server))
            }
        };
        let cfg = HostConfig {
            manifest: root().join("spin.toml"),
            state_dir: None,
            runtime_config: Some(runtime_config),
            store,
            variables: std::iter::once(("admin_token".to_owned(), admin_token.clone()))
                .chain(
                    extra
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
                )
                .collect(),
        };
        let (host, addr) = roster_host::spawn(cfg).await.expect("roster-host starts");
        App {
            host,
            addr,
            admin_token,
            client: reqwest::Client::new(),
            redis,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with the admin token.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send(
            method,
            path,
            Some(&self.admin_token),
            &[],
            body.map(|b| b.to_string()),
        )
        .await
    }

    /// Sends a request with full control over token, headers and raw body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let method_name = method;
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reply = Reply {
            status,
            headers,
            body,
            text,
        };
        let broken = openapi::headers_broken(method_name, path, &reply);
        assert!(
            broken.is_empty(),
            "{method_name} {path} answered {} with headers docs/openapi.json does not \
             describe: {broken:#?}\n{:#?}",
            reply.status,
            reply.headers
        );
        reply
    }

    /// Creates an organization and returns its id.
    pub async fn org(&self, slug: &str) -> String {
        self.org_with(serde_json::json!({"name": slug, "slug": slug}))
            .await
    }

    /// Creates an organization from a whole body (policy, aliases) and returns its id.
    pub async fn org_with(&self, body: Value) -> String {
        let r = self.call("POST", "/v1/organizations", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Mints a token of `org` from a whole body (name, permissions, limits, owner) and
    /// returns its id and its secret.
    pub async fn token_with(&self, org: &str, body: Value) -> (String, String) {
        let r = self
            .call(
                "POST",
                &format!("/v1/organizations/{org}/tokens"),
                Some(body),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        (
            r.body["data"]["id"].as_str().unwrap().to_owned(),
            r.body["data"]["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Mints a token of `org` with `permissions` (and a rate limit per minute) and returns
    /// its secret.
    pub async fn org_token(&self, org: &str, permissions: Value, rate: Option<u32>) -> String {
        let mut body = serde_json::json!({"name": "t", "permissions": permissions});
        if let Some(r) = rate {
            body["rateLimitPerMinute"] = serde_json::json!(r);
        }
        self.token_with(org, body).await.1
    }

    /// How many `user.removed` events the audit log holds for a user, and the log's text.
    pub async fn removals_in_audit(&self, org: &str, id: &str) -> (usize, String) {
        let audit = self
            .call(
                "GET",
                &format!("/v1/organizations/{org}/audit?userId={id}"),
                None,
            )
            .await;
        let removals = audit.body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "user.removed")
            .count();
        (removals, audit.text)
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, org: &str, username: &str) -> String {
        let r = self
            .call(
                "POST",
                &format!("/v1/organizations/{org}/mdm/users"),
                Some(serde_json::json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "firstName": "Firstname",
                    "lastName": "Lastname",
                })),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["data"]["id"].as_str().unwrap().to_owned()
    }
}

impl App {
    /// Every key and value of the `default` store.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        self.host
            .kv()
            .entries()
            .expect("the store can be read")
            .into_iter()
            .filter(|e| e.store == "default")
            .map(|e| (e.key, e.value))
            .collect()
    }

    /// Asserts the invariants checker finds nothing in the store.
    pub fn assert_consistent(&self) {
        let violations = roster_domain::invariants::check(&self.snapshot());
        assert!(violations.is_empty(), "invariants broken: {violations:#?}");
    }
}

/// Asserts a seed-000 error envelope.
pub fn assert_error(r: &Reply, status: u16, code: u64) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["status"], Value::Bool(false), "{}", r.text);
    assert_eq!(r.body["error"]["code"].as_u64(), Some(code), "{}", r.text);
}
