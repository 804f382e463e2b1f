//! `roster-host up`: runs a Spin application as `spin up` would, without the Spin CLI.

use clap::{Parser, Subcommand};
use roster_host::{Host, HostConfig, Manifest};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "roster-host", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application (same flags and defaults as `spin up`).
    Up(UpArgs),
    /// Check Roster's storage invariants over a key-value store (a SQLite database file, or a
    /// Redis server with `--redis`): report every
    /// index entry that points at nothing and every live record missing from its
    /// indexes. Exits 1 when anything is reported.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The SQLite key-value database (default: `.spin/sqlite_key_value.db`).
    #[arg(
        long = "db",
        default_value = ".spin/sqlite_key_value.db",
        conflicts_with = "redis"
    )]
    db: PathBuf,
    /// Read a Redis store instead (`redis://host:port[/db]`, the `url` of a
    /// `type = "redis"` store); every key of that database is checked, as Spin's Redis store
    /// ignores store labels.
    #[arg(long = "redis", value_name = "URL")]
    redis: Option<String>,
    /// The store label inside the SQLite database.
    #[arg(long = "store", default_value = "default")]
    store: String,
}

fn check(args: CheckArgs) -> anyhow::Result<bool> {
    let (backend, what): (Box<dyn roster_host::KvBackend>, String) = match &args.redis {
        Some(url) => (
            Box::new(
                roster_host::redis_kv::RedisBackend::open(url, &args.store)
                    .map_err(|e| anyhow::anyhow!("cannot open {}: {}", redacted(url), e.0))?,
            ),
            redacted(url),
        ),
        None => {
            if !args.db.is_file() {
                anyhow::bail!("no key-value database at {}", args.db.display());
            }
            (
                Box::new(
                    roster_host::kv::SqliteBackend::open_read_only(&args.db).map_err(|e| {
                        // A host killed mid-transaction leaves a hot journal, which a
                        // read-only open cannot roll back: the next writer does.
                        let journal = format!("{}-journal", args.db.display());
                        let hint = if std::path::Path::new(&journal).exists() {
                            " (a host stopped mid-write left a journal beside it: start the \
                             app on this file once, or stop the one serving it, then check \
                             again)"
                        } else {
                            ""
                        };
                        anyhow::anyhow!("cannot open {}: {}{hint}", args.db.display(), e.0)
                    })?,
                ),
                args.db.display().to_string(),
            )
        }
    };
    let snapshot: std::collections::BTreeMap<String, Vec<u8>> = backend
        .entries()
        .map_err(|e| anyhow::anyhow!("cannot read {what}: {}", e.0))?
        .into_iter()
        .filter(|e| e.store == args.store)
        .map(|e| (e.key, e.value))
        .collect();
    if snapshot.is_empty() {
        anyhow::bail!(
            "no keys in store {:?} of {what}: nothing to check (a wrong file, label or Redis database?)",
            args.store
        );
    }
    let violations = roster_domain::invariants::check(&snapshot);
    for v in &violations {
        println!("{v}");
    }
    println!(
        "{} keys checked, {} violations",
        snapshot.len(),
        violations.len()
    );
    Ok(violations.is_empty())
}

/// `url` with any password replaced by `***`, for messages that may end up in logs.
fn redacted(url: &str) -> String {
    match redis::parse_redis_url(url).ok_or(()) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<an unparsable Redis URL>".to_owned(),
    }
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application to run: a spin.toml file or a directory containing one.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// The address to listen on.
    #[arg(long = "listen", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Spin's state directory (default: `.spin` next to the manifest).
    #[arg(long = "state-dir")]
    state_dir: Option<PathBuf>,
    /// A runtime configuration file: `[key_value_store.<label>]` with `type = "spin"` (and
    /// `path`, relative to this file, or in memory without) or `type = "redis"` with `url`.
    #[arg(long = "runtime-config-file")]
    runtime_config_file: Option<PathBuf>,
}

fn manifest_path(from: PathBuf) -> PathBuf {
    if from.is_dir() {
        from.join("spin.toml")
    } else {
        from
    }
}

/// Values of the manifest's variables from `SPIN_VARIABLE_<NAME>` environment variables, as
/// Spin's environment variables provider reads them.
fn env_variables(manifest: &Manifest) -> HashMap<String, String> {
    manifest
        .variables
        .keys()
        .filter_map(|name| {
            let env = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            std::env::var(env).ok().map(|v| (name.clone(), v))
        })
        .collect()
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let manifest = manifest_path(args.from);
    let parsed = Manifest::load(&manifest)?;
    let cfg = HostConfig {
        manifest,
        state_dir: args.state_dir,
        runtime_config: args.runtime_config_file,
        variables: env_variables(&parsed),
        ..HostConfig::default()
    };
    let host = Host::new(cfg).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("unable to listen on {}: {e}", args.listen))?;
    tokio::select! {
        r = host.serve(listener) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up(args).await,
        Command::Check(args) => match check(args) {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(1),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}
