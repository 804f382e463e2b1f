//! The peer (issue 16): the same SCIM GET of one user through Roster and through the
//! reference Python server scim2-server, on the same machine, in the same run, with the
//! same client and concurrency.
//!
//! - The peer is PyPI's `scim2-server` ([`PEER_VERSION`], pinned with its dependencies in
//!   `crates/bench/peer-requirements.txt`), installed into the project-local virtual
//!   environment [`PEER_VENV`] by `scripts/python-venv.sh` (the one `make scim-check`
//!   uses for scim2-tester). Its `scim2-server` command is run as its README says:
//!   one process (Python's `wsgiref` server, one thread per request, answering
//!   HTTP/1.0 so every request is a new connection), the RFC 7643 schemas, the
//!   in-memory store (the only storage it ships), and `--bearer-token` so that it
//!   checks a token as Roster does.
//! - One user is created through its SCIM API (`POST /v2/Users`), then
//!   `GET /v2/Users/{id}` of that user is measured; Roster's side is
//!   `GET /v1/organizations/{org}/scim/v2/Users/{id}` of one seeded user through
//!   roster-host, the store on disk (the first size's SQLite file).
//! - Both are driven by [`measure::drive_http`] with the same `reqwest` client settings:
//!   a warm-up, then `rounds` slices of `concurrency` clients each, alternating Roster
//!   and the peer so that outside load weighs on both alike.
//!
//! The target: Roster's throughput at least [`TARGET_RATIO`] times the peer's.

use crate::measure::{self, Budget, MakeCall, Sample};
use crate::scenarios::Call;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The scim2-server release the benchmark pins (`crates/bench/peer-requirements.txt`).
pub const PEER_VERSION: &str = "0.8.3";
/// The virtual environment the peer runs from, relative to the workspace root.
pub const PEER_VENV: &str = "target/peer-venv";
/// The pinned requirements, relative to the workspace root.
pub const PEER_REQUIREMENTS: &str = "crates/bench/peer-requirements.txt";
/// Roster's throughput must be at least this many times the peer's.
pub const TARGET_RATIO: f64 = 3.0;

/// Installs (or refreshes) [`PEER_VENV`] from [`PEER_REQUIREMENTS`] with
/// `scripts/python-venv.sh`, and returns the path of its `scim2-server` command.
///
/// # Errors
/// When Python 3.11+ with venv is missing or pip cannot install the requirements.
pub fn ensure_venv(root: &Path) -> anyhow::Result<PathBuf> {
    let status = std::process::Command::new("bash")
        .current_dir(root)
        .args(["scripts/python-venv.sh", PEER_VENV, PEER_REQUIREMENTS])
        .status()
        .context("cannot run scripts/python-venv.sh")?;
    anyhow::ensure!(
        status.success(),
        "scripts/python-venv.sh {PEER_VENV} {PEER_REQUIREMENTS} failed ({status})"
    );
    let exe = root.join(PEER_VENV).join("bin/scim2-server");
    anyhow::ensure!(exe.is_file(), "{} is missing", exe.display());
    Ok(exe)
}

/// A running `scim2-server` on a free loopback port; killed on drop.
pub struct PeerServer {
    child: std::process::Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The bearer token it accepts.
    pub token: String,
}

impl PeerServer {
    /// Starts `exe --hostname 127.0.0.1 --port P --bearer-token T` and waits (up to 30 s)
    /// until it answers `GET /v2/ServiceProviderConfig`.
    ///
    /// # Errors
    /// When it cannot start, exits, or does not answer in time.
    pub async fn start(exe: &Path) -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let token = format!("bench-peer-{}", std::process::id());
        let child = std::process::Command::new(exe)
            .args([
                "--hostname",
                "127.0.0.1",
                "--port",
                &addr.port().to_string(),
            ])
            .args(["--bearer-token", &token])
            .stdout(std::process::Stdio::null())
            // It logs every request on stderr, which would drown the benchmark's output.
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let mut me = Self { child, addr, token };
        let client = reqwest::Client::new();
        let probe = format!("{}/ServiceProviderConfig", me.base_url());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = me.child.try_wait()? {
                anyhow::bail!("scim2-server exited at start ({status})");
            }
            if client
                .get(&probe)
                .bearer_auth(&me.token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(me);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "scim2-server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://<addr>/v2`, its SCIM base.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Creates one user through `POST /v2/Users` and returns its `id`.
    ///
    /// # Errors
    /// When the server does not answer 201 with an `id`.
    pub async fn create_user(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bench.peer",
            "name": {"givenName": "Bench", "familyName": "Peer"},
            "emails": [{"value": "bench.peer@example.com", "primary": true}],
            "active": true
        });
        let resp = client
            .post(format!("{}/Users", self.base_url()))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status();
        let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
        anyhow::ensure!(status == 201, "POST /v2/Users answered {status}: {v}");
        v["id"]
            .as_str()
            .map(str::to_owned)
            .context("POST /v2/Users answered no id")
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One side of the comparison.
#[derive(Debug, Clone)]
pub struct Side {
    /// The request, e.g. `GET /v2/Users/{id}`.
    pub request: String,
    /// `concurrency` clients, all slices together.
    pub loaded: Sample,
    /// What was wrong with the first answer (status or body), if anything.
    pub probe_error: Option<String>,
}

impl Side {
    /// Whether the probe's answer was right, no request failed and some were timed.
    pub fn clean(&self) -> bool {
        self.probe_error.is_none() && self.loaded.errors == 0 && self.loaded.n() > 0
    }
}

/// Roster against the peer, measured side by side.
#[derive(Debug, Clone)]
pub struct PeerComparison {
    /// Concurrent clients of each slice.
    pub concurrency: usize,
    /// Where Roster's store file is (the first size's store directory): on disk unless
    /// `--work-dir` points at a tmpfs.
    pub store_dir: PathBuf,
    /// Roster through roster-host, the store on disk.
    pub roster: Side,
    /// scim2-server.
    pub peer: Side,
}

impl PeerComparison {
    /// Roster's throughput over the peer's (requests/s over requests/s); NaN when
    /// either side has none.
    pub fn ratio(&self) -> f64 {
        self.roster.loaded.throughput() / self.peer.loaded.throughput()
    }

    /// Whether both sides ran clean and the ratio reaches [`TARGET_RATIO`].
    pub fn met(&self) -> bool {
        self.roster.clean() && self.peer.clean() && self.ratio() >= TARGET_RATIO
    }
}

/// Where one side sends its GET.
pub struct Target {
    /// The base URL the call's path is appended to.
    pub base: Arc<str>,
    /// The bearer token.
    pub bearer: Arc<str>,
    /// The GET of one user (its path relative to `base`).
    pub call: Call,
    /// The `id` its answer must carry.
    pub id: String,
}

async fn probe(client: &reqwest::Client, t: &Target) -> Option<String> {
    match measure::send(client, &t.base, &t.bearer, &t.call).await {
        Ok(a) if a.status == 200 => {
            let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
            (v["id"].as_str() != Some(t.id.as_str()))
                .then(|| format!("answered 200 without id {}: {v}", t.id))
        }
        Ok(a) => Some(format!(
            "answered {}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        )),
        Err(e) => Some(format!("failed: {e}")),
    }
}

/// Measures `roster` and `peer` side by side with `cfg`'s clients and times: a probe
/// of each, a warm-up of `cfg.warmup` each (one client), then `cfg.rounds` slices of
/// `cfg.duration / cfg.rounds` with `cfg.concurrency` clients, alternating.
pub async fn compare(
    store_dir: PathBuf,
    client: &reqwest::Client,
    roster: &Target,
    peer: &Target,
    cfg: &crate::Config,
) -> PeerComparison {
    let (concurrency, duration, warmup, rounds) =
        (cfg.concurrency, cfg.duration, cfg.warmup, cfg.rounds);
    let mut sides = Vec::new();
    for t in [roster, peer] {
        sides.push(Side {
            request: format!("{} {}", t.call.method, t.call.path),
            loaded: Sample::default(),
            probe_error: probe(client, t).await,
        });
    }
    let make = |t: &Target| -> MakeCall {
        let call = t.call.clone();
        Arc::new(move |_| call.clone())
    };
    let run = |t: &Target, budget: Budget| {
        measure::drive_http(
            client.clone(),
            t.base.clone(),
            t.bearer.clone(),
            make(t),
            0,
            usize::MAX,
            budget,
        )
    };
    if !warmup.is_zero() {
        for t in [roster, peer] {
            let _ = run(
                t,
                Budget {
                    concurrency: 1,
                    duration: warmup,
                },
            )
            .await;
        }
    }
    let rounds = rounds.max(1);
    let slice = Budget {
        concurrency: concurrency.max(1),
        duration: duration / u32::try_from(rounds).unwrap_or(1),
    };
    for _ in 0..rounds {
        for (side, t) in sides.iter_mut().zip([roster, peer]) {
            let (sample, _) = run(t, slice).await;
            side.loaded.absorb(sample);
        }
    }
    let mut sides = sides.into_iter().map(|mut s| {
        s.loaded.latencies_ns.sort_unstable();
        s
    });
    let (Some(roster), Some(peer)) = (sides.next(), sides.next()) else {
        unreachable!("two sides were measured")
    };
    PeerComparison {
        concurrency: slice.concurrency,
        store_dir,
        roster,
        peer,
    }
}

/// The report's section "Against a peer": both sides' throughput and latency, and the
/// ratio against [`TARGET_RATIO`]; or why the peer could not be measured.
pub fn markdown(peer: &Result<PeerComparison, String>) -> String {
    let mut out = String::from("\n### Against a peer: scim2-server\n\n");
    let c = match peer {
        Ok(c) => c,
        Err(why) => {
            out.push_str(&format!(
                "Not measured: {why}. Target: Roster ≥ {TARGET_RATIO}x the peer's throughput — **MISSED** (no figure).\n"
            ));
            return out;
        }
    };
    out.push_str(&format!(
        "The same SCIM GET of one user, {} clients, same client, same run (scim2-server {PEER_VERSION}, \
         in-memory store, one process; Roster through roster-host, its SQLite store in `{}`).\n\n",
        c.concurrency,
        c.store_dir.display()
    ));
    out.push_str("| server | request | requests/s | p50 ms | p99 ms | errors |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (name, s) in [("Roster", &c.roster), ("scim2-server", &c.peer)] {
        let errors = match &s.probe_error {
            Some(e) => format!("{} (probe {e})", s.loaded.errors),
            None => s.loaded.errors.to_string(),
        };
        out.push_str(&format!(
            "| {name} | `{}` | {:.0} | {:.2} | {:.2} | {errors} |\n",
            s.request,
            s.loaded.throughput(),
            s.loaded.p50_ms(),
            s.loaded.p99_ms(),
        ));
    }
    let verdict = if c.met() {
        "met".to_owned()
    } else if !(c.roster.clean() && c.peer.clean()) {
        "**MISSED**: a side had errors".to_owned()
    } else {
        "**MISSED**".to_owned()
    };
    out.push_str(&format!(
        "\nRoster / peer throughput: **{:.1}x** (target ≥ {TARGET_RATIO}x): {verdict}.\n",
        c.ratio()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(n: usize, wall_ms: u64, errors: u64) -> Side {
        Side {
            request: "GET /x".into(),
            loaded: Sample {
                latencies_ns: vec![1_000_000; n],
                errors,
                first_error: None,
                wall: Duration::from_millis(wall_ms),
            },
            probe_error: None,
        }
    }

    #[test]
    fn the_ratio_is_throughput_over_throughput_and_meets_at_three() {
        let c = PeerComparison {
            concurrency: 4,
            store_dir: PathBuf::from("target/roster-bench/store-1k"),
            roster: side(3000, 1000, 0),
            peer: side(1000, 1000, 0),
        };
        assert!((c.ratio() - 3.0).abs() < 1e-9);
        assert!(c.met());
        let md = markdown(&Ok(c));
        assert!(md.contains("**3.0x** (target ≥ 3x): met"), "{md}");
        let slow = PeerComparison {
            concurrency: 4,
            store_dir: PathBuf::from("target/roster-bench/store-1k"),
            roster: side(2900, 1000, 0),
            peer: side(1000, 1000, 0),
        };
        assert!(!slow.met());
        assert!(markdown(&Ok(slow)).contains(": **MISSED**"));
    }

    #[test]
    fn errors_or_no_peer_miss_the_target() {
        let c = PeerComparison {
            concurrency: 4,
            store_dir: PathBuf::from("target/roster-bench/store-1k"),
            roster: side(9000, 1000, 0),
            peer: side(1000, 1000, 2),
        };
        assert!(!c.met());
        assert!(markdown(&Ok(c)).contains("a side had errors"));
        let md = markdown(&Err("python3 is missing".into()));
        assert!(md.contains("Not measured: python3 is missing") && md.contains("**MISSED**"));
    }
}
