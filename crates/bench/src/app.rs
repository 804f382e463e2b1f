//! The application under test: building the components, the generated manifest (the
//! app's own routes plus the empty component), roster-host's lifecycle, component
//! sizes and the process's resident memory.

use anyhow::Context as _;
use roster_host::{Host, HostConfig, StoreChoice};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The package of the empty baseline component.
pub const EMPTY_PACKAGE: &str = "bench-empty";
/// Its component id in the generated manifest.
pub const EMPTY_COMPONENT: &str = "bench-empty";
/// Its route in the generated manifest.
pub const EMPTY_ROUTE: &str = "/bench/empty";

/// The workspace root (where spin.toml lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The project's runtime config (runtime-config.toml): the `ratelimit` store every
/// component needs, in memory; `default` stays in the state directory. The benchmark
/// serves the app with it, as `make up` does.
pub fn runtime_config() -> PathBuf {
    workspace_root().join("runtime-config.toml")
}

/// Where the `.wasm` files are built.
pub fn wasm_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    target.join("wasm32-wasip2").join("release")
}

/// Builds every component of `components/` and the empty component for
/// wasm32-wasip2 (size-tuned release profile) and shrinks them (`cargo xtask shrink`),
/// as `make build` does; a no-op when they are fresh.
pub fn build_components(root: &Path) -> anyhow::Result<()> {
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.current_dir(root).args([
        "build",
        "--quiet",
        "--target",
        "wasm32-wasip2",
        "--release",
        "-p",
        EMPTY_PACKAGE,
    ]);
    for entry in std::fs::read_dir(root.join("components"))? {
        cmd.arg("-p").arg(entry?.file_name());
    }
    let status = cmd.status().context("cannot run cargo")?;
    anyhow::ensure!(status.success(), "building the components failed");
    // `make build`'s last step: wasm-opt on each component not yet shrunk (a no-op
    // without wasm-opt; see crates/xtask/src/size.rs).
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["xtask", "shrink"])
        .status()
        .context("cannot run cargo xtask shrink")?;
    anyhow::ensure!(status.success(), "shrinking the components failed");
    Ok(())
}

/// Writes `<dir>/spin.toml`: the app's `spin.toml` with every `source` made absolute
/// (and no build sections), plus the empty component on [`EMPTY_ROUTE`].
pub fn write_manifest(root: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(root.join("spin.toml"))?;
    let mut doc: toml::Table = toml::from_str(&text)?;
    let components = doc
        .get_mut("component")
        .and_then(toml::Value::as_table_mut)
        .context("spin.toml has no components")?;
    for (id, c) in components.iter_mut() {
        let c = c
            .as_table_mut()
            .with_context(|| format!("component {id} is not a table"))?;
        let source = c
            .get("source")
            .and_then(toml::Value::as_str)
            .with_context(|| format!("component {id} has no local source"))?;
        let absolute = root.join(source);
        c.insert(
            "source".into(),
            toml::Value::String(absolute.display().to_string()),
        );
        c.remove("build");
    }
    let mut empty = toml::Table::new();
    empty.insert(
        "source".into(),
        toml::Value::String(
            wasm_dir(root)
                .join(format!("{}.wasm", EMPTY_PACKAGE.replace('-', "_")))
                .display()
                .to_string(),
        ),
    );
    components.insert(EMPTY_COMPONENT.into(), toml::Value::Table(empty));
    let mut trigger = toml::Table::new();
    trigger.insert("route".into(), EMPTY_ROUTE.into());
    trigger.insert("component".into(), EMPTY_COMPONENT.into());
    doc.get_mut("trigger")
        .and_then(|t| t.get_mut("http"))
        .and_then(toml::Value::as_array_mut)
        .context("spin.toml has no HTTP triggers")?
        .push(toml::Value::Table(trigger));
    std::fs::create_dir_all(dir)?;
    let path = dir.join("spin.toml");
    std::fs::write(&path, toml::to_string(&doc)?)?;
    Ok(path)
}

/// `(component id, .wasm path, bytes)` of every component of a manifest, by id.
pub fn component_sizes(manifest: &Path) -> anyhow::Result<Vec<(String, PathBuf, u64)>> {
    let m = roster_host::Manifest::load(manifest)?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in m.components.values() {
        // Several ids may share one file; list each file once, under its first id.
        if !seen.insert(c.source.clone()) {
            continue;
        }
        let bytes = std::fs::metadata(&c.source)
            .with_context(|| format!("{}", c.source.display()))?
            .len();
        out.push((c.id.clone(), c.source.clone(), bytes));
    }
    out.sort();
    Ok(out)
}

/// roster-host serving the generated manifest over loopback, stopped on drop.
pub struct RunningHost {
    /// The host (its key-value stores, its fault counter).
    pub host: Arc<Host>,
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningHost {
    /// Loads `manifest` with the default store at `<state_dir>/sqlite_key_value.db` (and
    /// [`runtime_config`]) and serves it on an ephemeral loopback port.
    pub async fn start(
        manifest: &Path,
        state_dir: &Path,
        admin_token: &str,
    ) -> anyhow::Result<Self> {
        let cfg = HostConfig {
            manifest: manifest.to_owned(),
            state_dir: Some(state_dir.to_owned()),
            runtime_config: Some(runtime_config()),
            store: StoreChoice::Sqlite,
            variables: HashMap::from([("admin_token".to_owned(), admin_token.to_owned())]),
        };
        let host = Host::new(cfg).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let h = host.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = h.serve(listener).await {
                eprintln!("roster-bench: roster-host stopped: {e:#}");
            }
        });
        Ok(Self { host, addr, task })
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// roster-host's own binary (`roster-host up`) serving the generated manifest in a child
/// process, so its memory can be read apart from the load generator's. Killed on drop.
pub struct HostProcess {
    child: std::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl HostProcess {
    /// Starts `binary up` on a free loopback port over `state_dir`'s store and waits
    /// (up to a minute) until it answers its health check.
    pub async fn start(
        binary: &Path,
        manifest: &Path,
        state_dir: &Path,
        admin_token: &str,
    ) -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = std::process::Command::new(binary)
            .arg("up")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--runtime-config-file")
            .arg(runtime_config())
            .env("SPIN_VARIABLE_ADMIN_TOKEN", admin_token)
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut me = Self { child, addr };
        let client = reqwest::Client::new();
        let health = format!("http://{addr}/.well-known/spin/health");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = me.child.try_wait()? {
                anyhow::bail!("roster-host exited at start ({status})");
            }
            if client
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(me);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "roster-host did not answer within a minute"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its resident set size now (VmRSS), KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        status_kib(&format!("/proc/{}/status", self.child.id()), "VmRSS:")
    }

    /// Its peak resident set size (VmHWM), KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        status_kib(&format!("/proc/{}/status", self.child.id()), "VmHWM:")
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_kib(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's peak resident set size (VmHWM), in KiB (Linux only).
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("/proc/self/status", "VmHWM:")
}

/// This process's resident set size now (VmRSS), in KiB (Linux only).
pub fn rss_kib() -> Option<u64> {
    status_kib("/proc/self/status", "VmRSS:")
}

/// Resets the peak resident set size to the current one (`/proc/self/clear_refs`,
/// Linux ≥ 4.0); whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
