//! `roster-bench`: Roster's benchmark (see the library's docs and docs/benchmarks.md).
//!
//! ```sh
//! make bench                     # = the command below, after `make build`
//! cargo run --profile perf -p roster-bench -- --sizes 1k,100k,1m
//! cargo run --profile perf -p roster-bench -- --smoke
//! cargo run --profile perf -p roster-bench -- seed --users 100k --db /tmp/roster.db
//! ```

use clap::{Parser, Subcommand};
use roster_bench::{Config, Seeder, parse_size};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "roster-bench",
    version,
    about = "What a Roster request costs, and how it grows with users per organization."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Users in the organization, comma-separated (`1k`, `100k`, `1m`, or numbers).
    #[arg(long, default_value = "1k,100k,1m", value_delimiter = ',')]
    sizes: Vec<String>,
    /// Only these scenarios (ids: no-token, get, list, search, count, wso2-view, create,
    /// patch, remove, remove-200-devices).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds per timed measurement.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Seconds of warm-up before each read measurement.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Most users patched per mode (each PATCH changes a different user).
    #[arg(long, default_value_t = 20_000)]
    max_patches: usize,
    /// Users prepared for each removal measurement (each costs a user creation, about a
    /// dozen synchronous SQLite writes, before the clock starts).
    #[arg(long, default_value_t = 60)]
    removals: usize,
    /// Users with 200 devices prepared for each asynchronous-removal measurement.
    #[arg(long, default_value_t = 12)]
    heavy_removals: usize,
    /// Threads building users while seeding (default: the number of cores).
    #[arg(long)]
    seed_threads: Option<usize>,
    /// Where store files and the generated manifest go.
    #[arg(long, default_value = "target/roster-bench")]
    work_dir: PathBuf,
    /// Keep the seeded store files.
    #[arg(long)]
    keep: bool,
    /// Do not build the components first.
    #[arg(long)]
    no_build: bool,
    /// Do not measure the peer (scim2-server from target/peer-venv, installed from
    /// crates/bench/peer-requirements.txt on first use; needs python3 >= 3.11 with venv).
    #[arg(long)]
    no_peer: bool,
    /// Seed in this process instead of a child process (peak RSS then includes it).
    #[arg(long)]
    seed_in_process: bool,
    /// The test suite's short mode: 1k and 10k users, a few requests each.
    #[arg(long)]
    smoke: bool,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Seed one store file and print what was made (JSON) on the last line.
    Seed {
        /// Users in the organization.
        #[arg(long)]
        users: String,
        /// The SQLite key-value database to (re)create.
        #[arg(long)]
        db: PathBuf,
        /// Threads building users (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Users created a second, the last one now (0: all at the same instant).
        #[arg(long, default_value_t = roster_bench::seed::CREATED_PER_SECOND)]
        per_second: u64,
    },
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn size(raw: &str) -> anyhow::Result<u64> {
    parse_size(raw).ok_or_else(|| anyhow::anyhow!("not a size: {raw:?} (try 1k, 100k, 1m)"))
}

/// roster-host's binary built with this executable's profile (`target/<profile>/`),
/// building it first when asked; `None` (no memory pass) when it cannot be had.
fn host_binary(exe: &std::path::Path, build: bool) -> Option<PathBuf> {
    let dir = exe.parent()?;
    let binary = dir.join("roster-host");
    if build {
        let profile = match dir.file_name()?.to_str()? {
            "debug" => "dev",
            other => other,
        };
        eprintln!("roster-bench: building roster-host (profile {profile})");
        let ok = std::process::Command::new(env!("CARGO"))
            .current_dir(roster_bench::app::workspace_root())
            .args([
                "build",
                "--quiet",
                "--profile",
                profile,
                "-p",
                "roster-host",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("roster-bench: cannot build roster-host: no memory pass");
        }
    }
    binary.is_file().then_some(binary)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Seed {
        users,
        db,
        threads,
        per_second,
    }) = cli.command
    {
        let stats = roster_bench::seed::seed(
            &db,
            size(&users)?,
            threads.unwrap_or_else(cores),
            per_second,
        )?;
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(());
    }
    let mut cfg = if cli.smoke {
        Config::smoke(cli.work_dir.clone())
    } else {
        let mut c = Config::full(
            cli.sizes
                .iter()
                .map(|s| size(s))
                .collect::<Result<_, _>>()?,
            cli.work_dir.clone(),
        );
        c.concurrency = cli.concurrency;
        c.duration = Duration::from_secs_f64(cli.duration);
        c.warmup = Duration::from_secs_f64(cli.warmup);
        c.max_patches = cli.max_patches;
        c.removals = cli.removals;
        c.heavy_removals = cli.heavy_removals;
        c
    };
    cfg.scenarios = cli.scenarios;
    cfg.keep = cli.keep;
    cfg.build = !cli.no_build;
    cfg.peer = cfg.peer && !cli.no_peer;
    if let Some(t) = cli.seed_threads {
        cfg.seed_threads = t;
    }
    let exe = std::env::current_exe()?;
    if !cli.seed_in_process {
        cfg.seeder = Seeder::Subprocess(exe.clone());
    }
    cfg.host_binary = host_binary(&exe, cfg.build);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(roster_bench::run(&cfg))?;
    let md = roster_bench::report::markdown(&report);
    println!("{md}");
    if let Some(path) = cli.markdown {
        std::fs::write(&path, &md)?;
    }
    Ok(())
}
