//! Helpers for tests: a throwaway Redis server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` (Debian's, found on `PATH`) on a free loopback port, with persistence off
/// (`--save '' --appendonly no`), killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server and waits (up to 10 s) until it answers `PING`.
    pub fn start() -> anyhow::Result<Self> {
        let mut last_err = None;
        // A free port can be taken between probing and binding: retry a few times.
        for _ in 0..5 {
            match Self::try_start() {
                Ok(s) => return Ok(s),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("cannot start redis-server")))
    }

    fn try_start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("roster-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot run redis-server ({e}); install it with `make redis` \
                     (Debian's redis-server package)"
                )
            })?;
        let mut server = Self { child, port, dir };
        let client = redis::Client::open(server.url())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                anyhow::bail!("redis-server on port {port} exited at once: {status}");
            }
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if matches!(pong.as_deref(), Ok("PONG")) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                anyhow::bail!("redis-server on port {port} did not answer PING within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Writes a Spin runtime config putting the stores `labels` on this server
    /// (`type = "redis"`, its [`RedisServer::url`]) into its directory, and returns its
    /// path (removed with the server).
    pub fn runtime_config(&self, labels: &[&str]) -> std::io::Result<PathBuf> {
        let text: String = labels
            .iter()
            .map(|l| {
                format!(
                    "[key_value_store.{l}]\ntype = \"redis\"\nurl = \"{}\"\n",
                    self.url()
                )
            })
            .collect();
        let path = self.dir.join("runtime-config.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
