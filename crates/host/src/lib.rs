//! roster-host: a small wasmtime host that runs a Spin application (`spin.toml` plus WASIp2
//! `.wasm` components exporting `wasi:http/incoming-handler@0.2.*`, as built with spin-sdk 5.2)
//! as `spin up` from a released Spin (3.x, 4.0.x, 4.1) would, for tests and local runs where the
//! Spin CLI is not available.
//!
//! It implements the HTTP trigger (Spin's routing and `spin-*` request headers, one fresh
//! instance per request from a pre-instantiated component on the pooling allocator), the
//! interfaces Spin provides to such components — `fermyon:spin/key-value@2.0.0`,
//! `fermyon:spin/variables@2.0.0`, `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch), plus
//! Spin 4's `spin:key-value@3.0.0` and `spin:variables@3.0.0` — and WASI p2 with `wasi:http`
//! p2. A component that released Spin would refuse (one exporting only
//! `wasi:http/handler@0.3.0`, say) is refused at load time.
//!
//! Key-value stores are chosen as Spin chooses them ([`KvStores::configure`]): SQLite with
//! Spin's own table by default, in-memory SQLite, or Redis ([`redis_kv`]), each reproducing
//! Spin's store for that type call by call. Key-value calls can be made to fail or trap on
//! demand through [`Faults`], on every backend. [`testing::RedisServer`] starts a throwaway
//! Redis for tests.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let (host, addr) = roster_host::spawn(roster_host::HostConfig::new("spin.toml")).await?;
//! println!("serving on {addr}; {} kv calls so far", host.faults().kv_calls());
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod error;
pub mod faults;
pub mod kv;
pub mod manifest;
pub mod outbound;
pub mod redis_kv;
pub mod routes;
mod server;
pub mod testing;
pub mod variables;
mod wit_impl;

pub use error::HostError;
pub use faults::Faults;
pub use kv::{
    KvBackend, KvCas, KvCounts, KvEntry, KvError, KvStores, LabelCounts, StoreChoice, SwapError,
};
pub use manifest::Manifest;

use anyhow::Context as _;
use outbound::AllowedHosts;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use variables::Variables;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How to load and run an application.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// The `spin.toml` manifest.
    pub manifest: PathBuf,
    /// Spin's state directory; default `<manifest dir>/.spin`.
    pub state_dir: Option<PathBuf>,
    /// A Spin runtime config file (`--runtime-config-file`), for `[key_value_store.<label>]`.
    pub runtime_config: Option<PathBuf>,
    /// Where the `default` key-value store lives.
    pub store: StoreChoice,
    /// Application variable values (as Spin's `SPIN_VARIABLE_<NAME>` provider would supply);
    /// keys are variable names, case-insensitive. They win over manifest defaults.
    pub variables: HashMap<String, String>,
}

impl HostConfig {
    /// A configuration with defaults for everything but the manifest path.
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            ..Self::default()
        }
    }
}

/// State shared by all instances of one application.
pub(crate) struct Shared {
    pub(crate) stores: KvStores,
    pub(crate) faults: Faults,
    pub(crate) variables: Variables,
}

/// A compiled, pre-instantiated component.
pub(crate) struct Loaded {
    pub(crate) id: Arc<str>,
    pub(crate) pre: ProxyPre<Ctx>,
    pub(crate) allowed_stores: Arc<HashSet<String>>,
    pub(crate) outbound: Arc<AllowedHosts>,
    pub(crate) environment: Vec<(String, String)>,
}

/// A loaded application, ready to serve HTTP.
pub struct Host {
    engine: Engine,
    manifest: Manifest,
    state_dir: PathBuf,
    router: routes::Router,
    components: HashMap<String, Loaded>,
    shared: Arc<Shared>,
}

/// The store data of one instance.
pub(crate) struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) hooks: outbound::OutboundHooks,
    kv: wit_impl::KvCtx,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ROSTER_HOST_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("roster-host");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("roster-host");
    }
    std::env::temp_dir().join("roster-host-cache")
}

/// The pooling allocator's pool sizes, read from the environment variables released Spin
/// reads for the same knobs (spin-core's `Config::default`), so that an operator's settings
/// mean the same under both hosts, and so that a tool that cannot reserve the default pool's
/// address space (valgrind: 1,000 memories of 288 MiB each) can run the host with a small one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolingLimits {
    /// Component instances alive at once: `SPIN_WASMTIME_INSTANCE_COUNT`, default 1,000
    /// (as Spin). Also bounds the pooled async stacks, and four core instances each.
    pub instances: u32,
    /// Linear memories alive at once: `SPIN_WASMTIME_TOTAL_MEMORIES`, default 1,000 (as Spin).
    pub memories: u32,
    /// Tables alive at once: `SPIN_WASMTIME_TOTAL_TABLES`, default 2,000 (as Spin).
    pub tables: u32,
}

impl PoolingLimits {
    /// The pool sizes from `lookup` (an environment): `Ok(None)` when `SPIN_WASMTIME_POOLING`
    /// is `0` (instances allocated on demand, as Spin does then), `Ok(Some(_))` otherwise.
    /// Errors name the variable when a value is not `0`/`1` (pooling) or not a whole number
    /// above zero (the counts); Spin panics on the same values.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        match lookup("SPIN_WASMTIME_POOLING").as_deref() {
            None | Some("1") => {}
            Some("0") => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "SPIN_WASMTIME_POOLING={other} not supported, only 1/0 supported"
                ));
            }
        }
        let count = |name: &str, default: u32| match lookup(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name}={v}: expected a whole number above 0")),
            },
        };
        Ok(Some(Self {
            instances: count("SPIN_WASMTIME_INSTANCE_COUNT", 1_000)?,
            memories: count("SPIN_WASMTIME_TOTAL_MEMORIES", 1_000)?,
            tables: count("SPIN_WASMTIME_TOTAL_TABLES", 2_000)?,
        }))
    }
}

/// The process-wide engine: pooling allocator with modest limits (pool sizes from
/// [`PoolingLimits::from_env`], or on-demand allocation with `SPIN_WASMTIME_POOLING=0`),
/// component-model async, and the compilation cache (in `$ROSTER_HOST_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/roster-host`, else `~/.cache/roster-host`).
fn engine() -> anyhow::Result<Engine> {
    static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);
    let mut slot = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = &*slot {
        return Ok(e.clone());
    }
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    let limits =
        PoolingLimits::from_env(|name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
    if let Some(limits) = limits {
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling
            .total_component_instances(limits.instances)
            .total_core_instances(limits.instances.saturating_mul(4))
            .total_memories(limits.memories)
            .total_tables(limits.tables)
            .total_stacks(limits.instances)
            .max_memory_size(256 << 20)
            .max_component_instance_size(1 << 20)
            .max_core_instances_per_component(50)
            .max_memories_per_component(10)
            .max_tables_per_component(20);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    }
    // Keep each pooled memory slot small so many instances fit in the address space.
    config.memory_reservation(256 << 20);
    config.memory_guard_size(32 << 20);
    let mut cache = wasmtime::CacheConfig::new();
    cache.with_directory(cache_dir());
    match wasmtime::Cache::new(cache) {
        Ok(c) => {
            config.cache(Some(c));
        }
        Err(e) => eprintln!("roster-host: compilation cache disabled: {e}"),
    }
    let engine = Engine::new(&config)
        .map_err(anyhow::Error::msg)
        .context("cannot create the wasmtime engine")?;
    *slot = Some(engine.clone());
    Ok(engine)
}

fn linker(engine: &Engine) -> anyhow::Result<Linker<Ctx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::msg)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(anyhow::Error::msg)?;
    bindings::SpinImports::add_to_linker::<Ctx, wit_impl::KvData>(&mut linker, |c| &mut c.kv)
        .map_err(anyhow::Error::msg)?;
    Ok(linker)
}

/// The export prefix of the only HTTP handler roster-host runs: `wasi:http/incoming-handler`
/// 0.2.x, the one every released Spin (3.x, 4.0.x, 4.1) accepts.
pub const HTTP_EXPORT_PREFIX: &str = "wasi:http/incoming-handler@0.2.";

/// Refuses a component that does not export `wasi:http/incoming-handler@0.2.*`, naming the
/// component and what it exports instead (Spin 3.x refuses it; Spin 4.0.x takes only the
/// `wasi:http/handler@0.3.0-rc-2026-03-15` release candidate besides, and `0.3.0` itself is
/// accepted only by Spin built after 4.0.2).
fn check_http_export(
    engine: &Engine,
    component: &Component,
    id: &str,
    source: &Path,
) -> anyhow::Result<()> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    if exports.iter().any(|e| e.starts_with(HTTP_EXPORT_PREFIX)) {
        return Ok(());
    }
    let http: Vec<&String> = exports
        .iter()
        .filter(|e| e.starts_with("wasi:http/") || e.starts_with("fermyon:spin/inbound-http"))
        .collect();
    let found = if http.is_empty() {
        "no HTTP handler".to_owned()
    } else {
        http.iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    anyhow::bail!(
        "component {id:?} ({}) does not export `{HTTP_EXPORT_PREFIX}*` (it exports {found}): \
         released Spin (3.x, 4.0.x) refuses it. `wasi:http/handler@0.3.0` (spin-sdk 7) runs only \
         on Spin built after 4.0.2; build the component with spin-sdk 5.2 \
         (`#[spin_sdk::http_component]`) for wasm32-wasip2",
        source.display()
    )
}

impl Host {
    /// Loads the application: parses the manifest, resolves variables (failing on a required
    /// variable without a value), configures key-value stores (creating the default SQLite
    /// database), builds the router, and compiles (through the compilation cache) and
    /// pre-instantiates every component.
    pub async fn new(cfg: HostConfig) -> anyhow::Result<Arc<Host>> {
        let manifest_path = if cfg.manifest.is_dir() {
            cfg.manifest.join("spin.toml")
        } else {
            cfg.manifest.clone()
        };
        let manifest = Manifest::load(&manifest_path)?;
        let state_dir = cfg
            .state_dir
            .clone()
            .unwrap_or_else(|| manifest.dir.join(".spin"));
        let variables = Variables::resolve(&manifest, &cfg.variables)?;
        let stores = KvStores::configure(&state_dir, cfg.store, cfg.runtime_config.as_deref())?;
        for c in manifest.components.values() {
            for label in &c.key_value_stores {
                if !stores.is_defined(label) {
                    return Err(HostError::UnknownStore {
                        label: label.clone(),
                        component: c.id.clone(),
                    }
                    .into());
                }
            }
        }
        if let Some(base) = manifest.http_base.as_deref().filter(|b| *b != "/") {
            eprintln!(
                "roster-host: warning: [application.trigger.http] base = {base:?} is ignored, as Spin ignores it"
            );
        }
        let router = routes::Router::build("/", &manifest.http_triggers)?;
        let engine = engine()?;
        let linker = linker(&engine)?;

        let mut compiles = Vec::new();
        for c in manifest.components.values() {
            let engine = engine.clone();
            let path = c.source.clone();
            let id = c.id.clone();
            compiles.push(tokio::task::spawn_blocking(move || {
                Component::from_file(&engine, &path)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| {
                        format!("cannot load component {id:?} from {}", path.display())
                    })
            }));
        }
        let mut components = HashMap::new();
        for (c, compile) in manifest.components.values().zip(compiles) {
            let component = compile.await.context("component compilation panicked")??;
            check_http_export(&engine, &component, &c.id, &c.source)?;
            let pre = linker
                .instantiate_pre(&component)
                .and_then(ProxyPre::new)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("cannot pre-instantiate component {:?}", c.id))?;
            components.insert(
                c.id.clone(),
                Loaded {
                    id: c.id.as_str().into(),
                    pre,
                    allowed_stores: Arc::new(c.key_value_stores.iter().cloned().collect()),
                    outbound: Arc::new(AllowedHosts::parse(
                        &c.allowed_outbound_hosts
                            .iter()
                            .map(|h| variables.resolve_app_template(h))
                            .collect::<Result<Vec<_>, _>>()
                            .with_context(|| {
                                format!("component {:?}: allowed_outbound_hosts", c.id)
                            })?,
                    )),
                    environment: c
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                },
            );
        }
        Ok(Arc::new(Host {
            engine,
            manifest,
            state_dir,
            router,
            components,
            shared: Arc::new(Shared {
                stores,
                faults: Faults::default(),
                variables,
            }),
        }))
    }

    /// The fault injection handle for key-value calls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The application's key-value stores, to read, write and list rows directly.
    pub fn kv(&self) -> &KvStores {
        &self.shared.stores
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The state directory (where the default SQLite database lives).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `(component id, printable route)` for every routable route, as `spin up` lists them.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.router.routes()
    }

    /// The resolved value of application variable `name`, if declared.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.shared.variables.app_value(name)
    }

    pub(crate) fn new_store(&self, c: &Loaded) -> Store<Ctx> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        for (k, v) in &c.environment {
            wasi.env(k, v);
        }
        Store::new(
            &self.engine,
            Ctx {
                table: ResourceTable::new(),
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                hooks: outbound::OutboundHooks {
                    component: c.id.clone(),
                    allowed: c.outbound.clone(),
                },
                kv: wit_impl::KvCtx {
                    table: ResourceTable::new(),
                    component: c.id.clone(),
                    allowed: c.allowed_stores.clone(),
                    shared: self.shared.clone(),
                },
            },
        )
    }

    /// Serves HTTP/1.1 on `listener` until an accept error occurs. Prints `Serving http://…`
    /// and the available routes first, as `spin up` does. Each request gets a fresh instance;
    /// a trapping component answers 500 and does not stop the server.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
        server::serve(self, listener).await
    }
}

/// Loads the application and serves it on `127.0.0.1:<ephemeral port>` in a background tokio
/// task; returns the host and the bound address.
pub async fn spawn(cfg: HostConfig) -> anyhow::Result<(Arc<Host>, SocketAddr)> {
    let host = Host::new(cfg).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let h = host.clone();
    tokio::spawn(async move {
        if let Err(e) = h.serve(listener).await {
            eprintln!("roster-host: server stopped: {e:#}");
        }
    });
    Ok((host, addr))
}

#[cfg(test)]
mod tests {
    use super::PoolingLimits;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn pool_sizes_default_to_spins_and_follow_spins_variables() {
        assert_eq!(
            PoolingLimits::from_env(env(&[])),
            Ok(Some(PoolingLimits {
                instances: 1_000,
                memories: 1_000,
                tables: 2_000
            }))
        );
        let small = [
            ("SPIN_WASMTIME_POOLING", "1"),
            ("SPIN_WASMTIME_INSTANCE_COUNT", "4"),
            ("SPIN_WASMTIME_TOTAL_MEMORIES", "8"),
            ("SPIN_WASMTIME_TOTAL_TABLES", "16"),
        ];
        assert_eq!(
            PoolingLimits::from_env(env(&small)),
            Ok(Some(PoolingLimits {
                instances: 4,
                memories: 8,
                tables: 16
            }))
        );
        assert_eq!(
            PoolingLimits::from_env(env(&[("SPIN_WASMTIME_POOLING", "0")])),
            Ok(None)
        );
    }

    #[test]
    fn a_bad_pool_setting_is_an_error_naming_the_variable() {
        for (name, value) in [
            ("SPIN_WASMTIME_POOLING", "yes"),
            ("SPIN_WASMTIME_INSTANCE_COUNT", "0"),
            ("SPIN_WASMTIME_TOTAL_MEMORIES", "-3"),
            ("SPIN_WASMTIME_TOTAL_TABLES", "many"),
        ] {
            let err = PoolingLimits::from_env(env(&[(name, value)])).unwrap_err();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
    }
}
