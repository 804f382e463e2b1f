//! roster-bench: what a Roster request costs, and how that cost grows with the number
//! of users in an organization.
//!
//! For each size (users in one organization) the benchmark
//!
//! 1. seeds a fresh SQLite key-value file (Spin's own table) through the domain's own
//!    code, in-process or in a child process ([`seed`]);
//! 2. starts roster-host on a generated manifest: the app's routes plus an empty
//!    spin-sdk component ([`app`]);
//! 3. runs every scenario of [`scenarios::SCENARIOS`] through
//!    - (a) roster-host over loopback HTTP with concurrent clients,
//!    - (b) the same `roster_api` endpoint types compiled natively, in-process, over the
//!      same store engine and file ([`native`]),
//!
//!    and measures (c), the empty component on the same host;
//! 4. reports p50 / p99 latency, throughput and key-value calls per request for each,
//!    the ratios (a)/(b) and (a)/(c), each component's `.wasm` size, the process's peak
//!    RSS, and whether the design's targets are met ([`report`]).
//!
//! `cargo run --profile perf -p roster-bench -- --sizes 1k,100k,1m` (or `make bench`)
//! runs it; [`Config::smoke`] is the short mode the test suite runs.

#![deny(missing_docs)]

pub mod app;
pub mod measure;
pub mod native;
pub mod peer;
pub mod report;
pub mod scenarios;
pub mod search_report;
pub mod seed;

use anyhow::Context as _;
use measure::{Budget, MakeCall, Sample};
use native::KvStore;
use scenarios::{Fixture, Kind, Prepared, SCENARIOS, Scenario};
use seed::SeedStats;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the store files are seeded.
#[derive(Debug, Clone)]
pub enum Seeder {
    /// In this process (its peak RSS then includes seeding).
    InProcess,
    /// In a child process: this executable with `seed --users N --db PATH --threads T`,
    /// which prints the [`SeedStats`] as JSON on its last line of output.
    Subprocess(PathBuf),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Users in the organization, one measurement round per size.
    pub sizes: Vec<u64>,
    /// Scenario ids to run (empty: all).
    pub scenarios: Vec<String>,
    /// Concurrent clients (tasks for HTTP, threads natively).
    pub concurrency: usize,
    /// Time budget of each timed measurement.
    pub duration: Duration,
    /// Untimed warm-up before each read measurement.
    pub warmup: Duration,
    /// Each phase (one client, then `concurrency`) is split into this many slices,
    /// interleaved across (c), (a) and (b).
    pub rounds: usize,
    /// At most this many users patched per mode (each PATCH changes another user).
    pub max_patches: usize,
    /// Users removed per removal measurement (prepared beforehand).
    pub removals: usize,
    /// Users with 200 devices removed per asynchronous-removal measurement.
    pub heavy_removals: usize,
    /// Users sampled for reads.
    pub sample: usize,
    /// Where store files and the generated manifest go.
    pub work_dir: PathBuf,
    /// Threads that build users while seeding.
    pub seed_threads: usize,
    /// How seeding runs.
    pub seeder: Seeder,
    /// Keep the store files afterwards.
    pub keep: bool,
    /// Build the components first (a no-op when fresh).
    pub build: bool,
    /// roster-host's own binary: when given, each size ends with a memory pass, the
    /// host alone in a child process under the same clients ([`HostMemory`]).
    pub host_binary: Option<PathBuf>,
    /// Measure the peer ([`peer`]): scim2-server from a project-local venv, against
    /// Roster's SCIM GET of one user at the first size.
    pub peer: bool,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Config {
    /// The full benchmark's defaults for `sizes`.
    pub fn full(sizes: Vec<u64>, work_dir: PathBuf) -> Self {
        Self {
            sizes,
            scenarios: Vec::new(),
            concurrency: 8,
            duration: Duration::from_secs(3),
            warmup: Duration::from_millis(500),
            rounds: 3,
            max_patches: 20_000,
            removals: 60,
            heavy_removals: 12,
            sample: 10_000,
            work_dir,
            seed_threads: cores(),
            seeder: Seeder::InProcess,
            keep: false,
            build: true,
            host_binary: None,
            peer: true,
        }
    }

    /// The short mode the test suite runs: 1k and 10k users, a few requests per
    /// measurement, seeding in-process. It checks that everything runs and scales as
    /// designed, not how fast.
    pub fn smoke(work_dir: PathBuf) -> Self {
        Self {
            sizes: vec![1_000, 10_000],
            concurrency: 2,
            duration: Duration::from_millis(100),
            warmup: Duration::ZERO,
            rounds: 1,
            max_patches: 20,
            removals: 6,
            heavy_removals: 2,
            sample: 100,
            peer: false,
            ..Self::full(Vec::new(), work_dir)
        }
    }

    fn selected(&self) -> impl Iterator<Item = &'static Scenario> + '_ {
        SCENARIOS
            .iter()
            .filter(|s| self.scenarios.is_empty() || self.scenarios.iter().any(|id| id == s.id))
    }
}

/// Parses a size: `1000`, `1k`, `100k`, `1m`.
pub fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim().to_ascii_lowercase();
    let (digits, unit) = match raw.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => match raw.strip_suffix('m') {
            Some(d) => (d, 1_000_000),
            None => (raw.as_str(), 1),
        },
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| *n > 0)
}

/// A size as the report writes it: `1k`, `100k`, `1m`, or the number.
pub fn size_label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// One measurement: one request alone (the probe: its key-value calls and the check of
/// its answer), then requests from one client (service time, no queueing), then from
/// `concurrency` clients at once (throughput, and latency under load).
#[derive(Debug, Clone)]
pub struct Measured {
    /// One client, back to back.
    pub single: Sample,
    /// `concurrency` clients.
    pub loaded: Sample,
    /// Key-value calls of the probe request: host calls for (a) and (c) (a `cas` is
    /// two; the store opens of each request count: `default` and `ratelimit` for an
    /// authenticated request, none for a 401 without a token), store-port calls for (b).
    pub kv_calls: u64,
    /// Writes the probe made to the `default` store (roster-host's per-label counts;
    /// `None` for (b), whose store has no labels). Zero for a read: the rate-limit
    /// counters live in the `ratelimit` store.
    pub default_writes: Option<u64>,
    /// What was wrong with the probe's answer, if anything.
    pub probe_error: Option<String>,
    /// HTTP requests (or native handler calls) the probe took: more than one for a call
    /// that polls an asynchronous operation to its end.
    pub probe_requests: u32,
}

impl Measured {
    /// Whether the probe's answer was right, no request failed and some were timed.
    pub fn clean(&self) -> bool {
        self.probe_error.is_none()
            && self.single.errors == 0
            && self.loaded.errors == 0
            && self.single.n() + self.loaded.n() > 0
    }
}

/// What happened to one scenario at one size.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a dozen rows per size; boxing buys nothing
pub enum ScenarioOutcome {
    /// Measured through the host (a), natively (b), and the empty component (c) in
    /// the same rounds.
    Ran {
        /// (a)
        host: Measured,
        /// (b)
        native: Measured,
        /// (c), interleaved with (a) and (b).
        empty: Measured,
    },
}

/// One scenario at one size.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario measured (its kind, component and request).
    pub scenario: Scenario,
    /// What happened.
    pub outcome: ScenarioOutcome,
}

/// Everything measured at one size.
#[derive(Debug, Clone)]
pub struct SizeReport {
    /// Users seeded.
    pub users: u64,
    /// The seeding.
    pub seed: SeedStats,
    /// (c) alone, before the scenarios.
    pub empty: Measured,
    /// The scenarios, in table order.
    pub rows: Vec<Row>,
    /// RSS when the host was about to start, KiB.
    pub rss_before_kib: Option<u64>,
    /// Peak RSS from then to the end of this size's measurements, KiB.
    pub peak_rss_kib: Option<u64>,
    /// roster-host alone, in its own process (when [`Config::host_binary`] is given).
    pub host_memory: Option<HostMemory>,
    /// The get through the host with the `default` store on disk and on tmpfs (the
    /// smallest size only, when /dev/shm exists).
    pub disk_vs_tmpfs: Option<DiskVsTmpfs>,
}

/// The same get user through two roster-hosts in the same rounds, one on the size's
/// store file on disk (the work directory), one on a copy of it in /dev/shm (tmpfs: an
/// fsync costs nothing there). Their throughput ratio is what a durable write per read
/// would cost; issue 16 wants it ≤ 1.2.
#[derive(Debug, Clone)]
pub struct DiskVsTmpfs {
    /// Concurrent clients (the issue measured with 4 connections).
    pub concurrency: usize,
    /// Through the host on the store on disk.
    pub disk: Sample,
    /// Through the host on the copy on tmpfs.
    pub tmpfs: Sample,
}

/// roster-host's memory in its own process: started on the size's store, then driven by
/// `concurrency` clients through the empty component and each read scenario and
/// creates, for the measurement duration each.
#[derive(Debug, Clone)]
pub struct HostMemory {
    /// RSS once it answers its health check, KiB.
    pub idle_kib: Option<u64>,
    /// Peak RSS (VmHWM) after the load, KiB.
    pub peak_kib: Option<u64>,
    /// Requests it answered during the pass.
    pub requests: usize,
    /// Requests that failed.
    pub errors: u64,
}

impl SizeReport {
    /// The outcome of scenario `kind`.
    pub fn row(&self, kind: Kind) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario.kind == kind)
    }

    /// (a) and (b) of scenario `kind`, when it ran.
    pub fn ran(&self, kind: Kind) -> Option<(&Measured, &Measured)> {
        let ScenarioOutcome::Ran { host, native, .. } = &self.row(kind)?.outcome;
        Some((host, native))
    }

    /// (c) as measured alongside scenario `kind`.
    pub fn empty_with(&self, kind: Kind) -> Option<&Measured> {
        let ScenarioOutcome::Ran { empty, .. } = &self.row(kind)?.outcome;
        Some(empty)
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The configuration.
    pub config: Config,
    /// One entry per size.
    pub sizes: Vec<SizeReport>,
    /// `(component id, bytes)` of every `.wasm` served.
    pub components: Vec<(String, u64)>,
    /// The generated manifest.
    pub manifest: PathBuf,
    /// Roster against scim2-server ([`peer`]), or why it was not measured; `None` when
    /// not asked ([`Config::peer`]).
    pub peer: Option<Result<peer::PeerComparison, String>>,
}

fn seed_size(cfg: &Config, db: &Path, users: u64) -> anyhow::Result<SeedStats> {
    match &cfg.seeder {
        Seeder::InProcess => seed::seed(db, users, cfg.seed_threads, seed::CREATED_PER_SECOND),
        Seeder::Subprocess(exe) => {
            let out = std::process::Command::new(exe)
                .args(["seed", "--users", &users.to_string(), "--db"])
                .arg(db)
                .args(["--threads", &cfg.seed_threads.to_string()])
                .stderr(std::process::Stdio::inherit())
                .output()
                .with_context(|| format!("cannot run {}", exe.display()))?;
            anyhow::ensure!(out.status.success(), "seeding failed ({})", out.status);
            let text = String::from_utf8_lossy(&out.stdout);
            let last = text.lines().last().unwrap_or_default();
            serde_json::from_str(last).with_context(|| format!("seeder printed {last:?}"))
        }
    }
}

fn progress(msg: impl AsRef<str>) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("roster-bench [{t:7.1} s]: {}", msg.as_ref());
}

/// What a measurement needs, shared with its client tasks and threads.
struct Env {
    fx: Arc<Fixture>,
    client: reqwest::Client,
    base: Arc<str>,
    bearer: Arc<str>,
    host: Arc<roster_host::Host>,
    budget: Budget,
}

fn maker(kind: Kind, fx: &Arc<Fixture>, prepared: Prepared, tag: &'static str) -> MakeCall {
    let fx = fx.clone();
    Arc::new(move |i| kind.call(&fx, &prepared, tag, i))
}

/// Where a mode sends its requests.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Over loopback HTTP to roster-host: (a), and (c) for the empty component.
    Http,
    /// The endpoint of this component, natively: (b).
    Native(&'static str),
}

/// One mode's measurement, built up slice by slice.
struct Run {
    via: Via,
    kind: Option<Kind>,
    make: MakeCall,
    next: usize,
    end: usize,
    m: Measured,
}

impl Run {
    fn new(via: Via, kind: Option<Kind>, make: MakeCall, end: usize) -> Self {
        Self {
            via,
            kind,
            make,
            next: 0,
            end,
            m: Measured {
                single: Sample::default(),
                loaded: Sample::default(),
                kv_calls: 0,
                default_writes: None,
                probe_error: None,
                probe_requests: 0,
            },
        }
    }

    /// Request 0, alone: its key-value calls and the check of its answer. A count
    /// request with the same token goes first, so that the probe is never the first
    /// request of a rate-limit window (which also resets the window: a compare-and-swap
    /// more).
    async fn probe(&mut self, env: &Env) -> anyhow::Result<()> {
        if self.kind.is_some() {
            let prime = Kind::Count.call(&env.fx, &Prepared::Nothing, "p", 0);
            match self.via {
                Via::Http => {
                    let _ = measure::send(&env.client, &env.base, &env.bearer, &prime).await;
                }
                Via::Native(_) => {
                    let (fx, bearer) = (env.fx.clone(), env.bearer.clone());
                    tokio::task::spawn_blocking(move || {
                        measure::handle_native(
                            &fx.store,
                            "mdm-users-count",
                            fx.admin_token.as_deref(),
                            &bearer,
                            &prime,
                        )
                    })
                    .await
                    .context("the native probe panicked")?;
                }
            }
        }
        let call = (self.make)(0);
        self.next = 1;
        let (answer, kv_calls) = match self.via {
            Via::Http => {
                let before = env.host.faults().kv_calls();
                let writes = env.host.kv().counts().get("default").writes;
                let answer = measure::send(&env.client, &env.base, &env.bearer, &call).await;
                self.m.default_writes = Some(env.host.kv().counts().get("default").writes - writes);
                (answer, env.host.faults().kv_calls() - before)
            }
            Via::Native(component) => {
                let (fx, bearer, call) = (env.fx.clone(), env.bearer.clone(), call.clone());
                tokio::task::spawn_blocking(move || {
                    let before = fx.store.calls();
                    let answer = measure::handle_native(
                        &fx.store,
                        component,
                        fx.admin_token.as_deref(),
                        &bearer,
                        &call,
                    );
                    (Ok(answer), fx.store.calls() - before)
                })
                .await
                .context("the native probe panicked")?
            }
        };
        self.m.kv_calls = kv_calls;
        self.m.probe_requests = answer.as_ref().map_or(0, |a| a.requests);
        self.m.probe_error = match answer {
            Ok(a) if a.status == call.expect => {
                self.kind.and_then(|k| k.check(&env.fx, &call, &a).err())
            }
            Ok(a) => Some(format!(
                "probe answered {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )),
            Err(e) => Some(format!("probe failed: {e}")),
        };
        Ok(())
    }

    /// Sends the next requests within `budget`.
    async fn drive(&mut self, env: &Env, budget: Budget) -> anyhow::Result<Sample> {
        let (sample, next) = match self.via {
            Via::Http => {
                measure::drive_http(
                    env.client.clone(),
                    env.base.clone(),
                    env.bearer.clone(),
                    self.make.clone(),
                    self.next,
                    self.end,
                    budget,
                )
                .await
            }
            Via::Native(component) => {
                let (fx, bearer, make) = (env.fx.clone(), env.bearer.clone(), self.make.clone());
                let (next, end) = (self.next, self.end);
                tokio::task::spawn_blocking(move || {
                    measure::drive_native(
                        fx.store.clone(),
                        component,
                        fx.admin_token.clone(),
                        bearer,
                        make,
                        next,
                        end,
                        budget,
                    )
                })
                .await
                .context("the native run panicked")?
            }
        };
        self.next = next;
        Ok(sample)
    }
}

pub(crate) fn is_read(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::NoToken
            | Kind::GetUser
            | Kind::ListPage
            | Kind::Search
            | Kind::Count
            | Kind::Wso2View
    )
}

/// Probes every run, warms them up, then measures them in interleaved rounds — one
/// client first, then `concurrency` clients — so that load from outside the benchmark
/// weighs on all modes alike and their ratios hold.
async fn measure_runs(env: &Env, cfg: &Config, runs: &mut [Run], warm: bool) -> anyhow::Result<()> {
    for r in runs.iter_mut() {
        r.probe(env).await?;
    }
    if warm && !cfg.warmup.is_zero() {
        for r in runs.iter_mut() {
            // One client: a warm-up warms caches; it need not queue anything.
            let b = Budget {
                duration: cfg.warmup,
                concurrency: 1,
            };
            r.drive(env, b).await?;
        }
    }
    let rounds = cfg.rounds.max(1);
    let slice = Budget {
        duration: env.budget.duration / u32::try_from(rounds).unwrap_or(1),
        ..env.budget
    };
    for _ in 0..rounds {
        for r in runs.iter_mut() {
            let one = Budget {
                concurrency: 1,
                ..slice
            };
            let sample = r.drive(env, one).await?;
            r.m.single.absorb(sample);
        }
    }
    for _ in 0..rounds {
        for r in runs.iter_mut() {
            // A request slower alone than a whole slice (a search of a large
            // organization) would only queue behind itself: its loaded phase would take
            // `concurrency` times as long and say nothing new.
            let mut single = r.m.single.latencies_ns.clone();
            single.sort_unstable();
            let p50 = single.get(single.len() / 2).copied().unwrap_or(0);
            if u128::from(p50) > slice.duration.as_nanos() {
                continue;
            }
            let sample = r.drive(env, slice).await?;
            r.m.loaded.absorb(sample);
        }
    }
    for r in runs.iter_mut() {
        r.m.single.latencies_ns.sort_unstable();
        r.m.loaded.latencies_ns.sort_unstable();
    }
    Ok(())
}

fn empty_run() -> Run {
    Run::new(Via::Http, None, Arc::new(|_| empty_call()), usize::MAX)
}

async fn run_scenario(env: &Env, cfg: &Config, s: &Scenario) -> anyhow::Result<ScenarioOutcome> {
    let kind = s.kind;
    let component = kind
        .component()
        .with_context(|| format!("{kind:?} has no component"))?;
    let want = if kind == Kind::RemoveWith200Devices {
        cfg.heavy_removals + 1
    } else if kind.consumes() {
        cfg.removals + 1
    } else {
        cfg.max_patches + 1
    };
    let mut runs = vec![empty_run()];
    for (tag, via) in [("a", Via::Http), ("b", Via::Native(component))] {
        let fx = env.fx.clone();
        let (prepared, allowed) = tokio::task::spawn_blocking(move || kind.prepare(&fx, tag, want))
            .await
            .context("preparing panicked")??;
        let make = maker(kind, &env.fx, prepared, tag);
        // Only what a preparation made bounds a run; reads and creates go on until the
        // time budget is spent.
        runs.push(Run::new(via, Some(kind), make, allowed));
    }
    measure_runs(env, cfg, &mut runs, is_read(kind)).await?;
    let mut ms = runs.into_iter().map(|r| r.m);
    let (Some(empty), Some(host), Some(native)) = (ms.next(), ms.next(), ms.next()) else {
        anyhow::bail!("a measurement is missing");
    };
    Ok(ScenarioOutcome::Ran {
        host,
        native,
        empty,
    })
}

fn empty_call() -> scenarios::Call {
    scenarios::Call {
        method: http::Method::GET,
        path: app::EMPTY_ROUTE.to_owned(),
        query: String::new(),
        params: Vec::new(),
        headers: Vec::new(),
        body: None,
        authenticated: true,
        follow_location: false,
        expect: 200,
    }
}

/// The memory pass: roster-host alone in a child process on the size's store, driven
/// like the measurements (see [`HostMemory`]).
async fn host_memory(
    cfg: &Config,
    binary: &Path,
    manifest: &Path,
    state_dir: &Path,
    fx: &Arc<Fixture>,
) -> anyhow::Result<HostMemory> {
    let admin = fx.admin_token.clone().unwrap_or_default();
    let child = app::HostProcess::start(binary, manifest, state_dir, &admin).await?;
    let idle_kib = child.rss_kib();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(cfg.concurrency.max(1))
        .build()?;
    let base: Arc<str> = child.base_url().into();
    let bearer: Arc<str> = fx.bearer.clone().into();
    let budget = Budget {
        concurrency: cfg.concurrency,
        duration: cfg.duration,
    };
    let mut makes: Vec<MakeCall> = vec![Arc::new(|_| empty_call())];
    for kind in [
        Kind::NoToken,
        Kind::GetUser,
        Kind::ListPage,
        Kind::Count,
        Kind::Create,
    ] {
        makes.push(maker(kind, fx, Prepared::Nothing, "m"));
    }
    let (mut requests, mut errors) = (0, 0);
    for make in makes {
        let (sample, _) = measure::drive_http(
            client.clone(),
            base.clone(),
            bearer.clone(),
            make,
            0,
            usize::MAX,
            budget,
        )
        .await;
        requests += sample.n();
        errors += sample.errors;
    }
    Ok(HostMemory {
        idle_kib,
        peak_kib: child.peak_rss_kib(),
        requests,
        errors,
    })
}

async fn run_size(
    cfg: &Config,
    manifest: &Path,
    users: u64,
    peer: Option<&mut Option<Result<peer::PeerComparison, String>>>,
) -> anyhow::Result<SizeReport> {
    let label = size_label(users);
    let state_dir = cfg.work_dir.join(format!("store-{label}"));
    let db = state_dir.join(roster_host::kv::DEFAULT_DB_FILE);
    progress(format!("seeding {label} users into {}", db.display()));
    let seeded = {
        let (cfg, db) = (cfg.clone(), db.clone());
        tokio::task::spawn_blocking(move || seed_size(&cfg, &db, users))
            .await
            .context("seeding panicked")??
    };
    progress(format!(
        "seeded {} users, {} devices, {} tokens ({} rows) in {:.1} s",
        seeded.users, seeded.devices, seeded.tokens, seeded.rows, seeded.seconds
    ));

    let reset = app::reset_peak_rss();
    let rss_before_kib = app::rss_kib();
    let admin_token = format!("bench-admin-{}-{users}", std::process::id());
    let running = app::RunningHost::start(manifest, &state_dir, &admin_token).await?;
    let backend = running
        .host
        .kv()
        .backend("default")
        .context("the host has no default store")?
        .clone();
    let counters = running
        .host
        .kv()
        .backend("ratelimit")
        .context("the host has no ratelimit store (runtime-config.toml)")?
        .clone();
    let store = Arc::new(
        KvStore::new(backend, "default").with_rate_limits(KvStore::new(counters, "ratelimit")),
    );
    let fx = {
        let (store, token) = (store.clone(), admin_token.clone());
        let sample = cfg.sample;
        let bearer = seeded.bearer.clone();
        tokio::task::spawn_blocking(move || {
            Fixture::read(store, seed::ORG_SLUG, sample, bearer, Some(token))
        })
        .await
        .context("reading the fixture panicked")??
    };
    let env = Env {
        fx: Arc::new(fx),
        client: reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(cfg.concurrency.max(1))
            .build()?,
        base: running.base_url().into(),
        bearer: seeded.bearer.clone().into(),
        host: running.host.clone(),
        budget: Budget {
            concurrency: cfg.concurrency,
            duration: cfg.duration,
        },
    };
    progress(format!("{label}: (c) empty component"));
    let mut runs = [empty_run()];
    measure_runs(&env, cfg, &mut runs, true).await?;
    let [Run { m: empty, .. }] = runs;
    let mut rows = Vec::new();
    for s in cfg.selected() {
        progress(format!("{label}: {}", s.title));
        let outcome = run_scenario(&env, cfg, s).await?;
        rows.push(Row {
            scenario: *s,
            outcome,
        });
    }
    if let Some(slot) = peer {
        progress(format!(
            "{label}: against a peer, scim2-server {}",
            peer::PEER_VERSION
        ));
        *slot = Some(
            compare_with_peer(&env, cfg, &state_dir)
                .await
                .map_err(|e| format!("{e:#}")),
        );
    }
    let peak_rss_kib = if reset { app::peak_rss_kib() } else { None };
    let disk_vs_tmpfs =
        if cfg.sizes.first() == Some(&users) && cfg.selected().any(|s| s.kind == Kind::GetUser) {
            progress(format!("{label}: get user, store on disk vs on tmpfs"));
            match disk_vs_tmpfs(&env, cfg, manifest, &state_dir).await {
                Ok(d) => d,
                Err(e) => {
                    progress(format!("{label}: no disk-vs-tmpfs pass: {e:#}"));
                    None
                }
            }
        } else {
            None
        };
    let fx = env.fx.clone();
    drop(env);
    drop(running);
    let host_memory = match &cfg.host_binary {
        Some(binary) => {
            progress(format!("{label}: roster-host's memory, in its own process"));
            Some(host_memory(cfg, binary, manifest, &state_dir, &fx).await?)
        }
        None => None,
    };
    drop(fx);
    if !cfg.keep {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    Ok(SizeReport {
        users,
        seed: seeded,
        empty,
        rows,
        rss_before_kib,
        peak_rss_kib,
        host_memory,
        disk_vs_tmpfs,
    })
}

/// Clients of the disk-vs-tmpfs pass: issue 16 measured with 4 connections.
const DISK_VS_TMPFS_CLIENTS: usize = 4;

/// The disk-vs-tmpfs pass ([`DiskVsTmpfs`]): copies the size's store directory (the host
/// on it idle) to /dev/shm, starts a second host there, and drives get user through both
/// in interleaved rounds. `None` without /dev/shm.
async fn disk_vs_tmpfs(
    env: &Env,
    cfg: &Config,
    manifest: &Path,
    state_dir: &Path,
) -> anyhow::Result<Option<DiskVsTmpfs>> {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return Ok(None);
    }
    let copy = shm.join(format!("roster-bench-tmpfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy)?;
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let gone = Gone(copy.clone());
    for entry in std::fs::read_dir(state_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name()))?;
        }
    }
    let admin = env.fx.admin_token.clone().unwrap_or_default();
    let tmpfs_host = app::RunningHost::start(manifest, &copy, &admin).await?;
    let tmpfs_base: Arc<str> = tmpfs_host.base_url().into();
    let make = maker(Kind::GetUser, &env.fx, Prepared::Nothing, "t");
    let rounds = cfg.rounds.max(1);
    let budget = Budget {
        concurrency: DISK_VS_TMPFS_CLIENTS,
        duration: cfg.duration / u32::try_from(rounds).unwrap_or(1),
    };
    let (mut disk, mut tmpfs) = (Sample::default(), Sample::default());
    for base in [&env.base, &tmpfs_base] {
        // Warm-up: one client, not counted.
        let warm = Budget {
            concurrency: 1,
            duration: cfg.warmup,
        };
        let _ = measure::drive_http(
            env.client.clone(),
            base.clone(),
            env.bearer.clone(),
            make.clone(),
            0,
            usize::MAX,
            warm,
        )
        .await;
    }
    for _ in 0..rounds {
        for (base, into) in [(&env.base, &mut disk), (&tmpfs_base, &mut tmpfs)] {
            let (sample, _) = measure::drive_http(
                env.client.clone(),
                base.clone(),
                env.bearer.clone(),
                make.clone(),
                0,
                usize::MAX,
                budget,
            )
            .await;
            into.absorb(sample);
        }
    }
    disk.latencies_ns.sort_unstable();
    tmpfs.latencies_ns.sort_unstable();
    drop(tmpfs_host);
    drop(gone);
    Ok(Some(DiskVsTmpfs {
        concurrency: DISK_VS_TMPFS_CLIENTS,
        disk,
        tmpfs,
    }))
}

/// Runs the benchmark (on a multi-threaded tokio runtime): builds the components if
/// asked, writes the manifest, then measures every size in turn.
pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    let started = Instant::now();
    let root = app::workspace_root();
    if cfg.build {
        progress("building the components (wasm32-wasip2, release)");
        let r = root.clone();
        tokio::task::spawn_blocking(move || app::build_components(&r))
            .await
            .context("building panicked")??;
    }
    std::fs::create_dir_all(&cfg.work_dir)?;
    let manifest = app::write_manifest(&root, &cfg.work_dir)?;
    let components = app::component_sizes(&manifest)?
        .into_iter()
        .map(|(id, _, bytes)| (id, bytes))
        .collect();
    let mut sizes = Vec::new();
    let mut peer = None;
    for (i, &users) in cfg.sizes.iter().enumerate() {
        let slot = (cfg.peer && i == 0).then_some(&mut peer);
        sizes.push(run_size(cfg, &manifest, users, slot).await?);
    }
    progress(format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(Report {
        config: cfg.clone(),
        sizes,
        components,
        manifest,
        peer,
    })
}

/// The peer comparison ([`peer`]) at this size: starts scim2-server from its venv,
/// creates one user there, and measures its `GET /v2/Users/{id}` against Roster's SCIM
/// GET of one seeded user through roster-host (this size's store, on disk).
async fn compare_with_peer(
    env: &Env,
    cfg: &Config,
    store_dir: &Path,
) -> anyhow::Result<peer::PeerComparison> {
    let root = app::workspace_root();
    let exe = tokio::task::spawn_blocking(move || peer::ensure_venv(&root))
        .await
        .context("installing the peer panicked")??;
    let server = peer::PeerServer::start(&exe).await?;
    let peer_id = server.create_user(&env.client).await?;
    let id = env
        .fx
        .sample
        .first()
        .context("no seeded user to read")?
        .to_string();
    let roster = peer::Target {
        base: env.base.clone(),
        bearer: env.bearer.clone(),
        call: scenarios::Call::get(&format!(
            "/v1/organizations/{}/scim/v2/Users/{id}",
            env.fx.org.id
        )),
        id,
    };
    let peer = peer::Target {
        base: server.base_url().into(),
        bearer: server.token.clone().into(),
        call: scenarios::Call::get(&format!("/Users/{peer_id}")),
        id: peer_id,
    };
    Ok(peer::compare(store_dir.to_path_buf(), &env.client, &roster, &peer, cfg).await)
}
