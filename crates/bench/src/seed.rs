//! Seeding a store file directly, through the domain's own code paths.
//!
//! One organization (slug [`ORG_SLUG`]) gets `n` users with devices and enrollment
//! tokens in the proportions of [`plan`]. Every entity is made by the real
//! `roster_domain` operations (`orgs::create`, `users::create`, `devices::enroll`,
//! `enrollment::issue` and `revoke`), so a seeded store satisfies the storage invariants
//! exactly as one filled over HTTP would; only the transport differs:
//!
//! - the organization-wide keys that every user creation touches (the user sequence
//!   counter and the count shards) live in one shared in-memory store with Spin's
//!   semantics;
//! - everything else a user's creation writes concerns that user alone, so worker
//!   threads build users in chunks, each chunk against its own small in-memory store;
//! - a writer thread inserts each finished chunk into Spin's `spin_key_value` table, all
//!   in one transaction; the shared keys go in last.
//!
//! Seeded users have no password (no Argon2 hashing). The organization is bound to an
//! API Management service ([`APIM_SERVICE`]) and gets an API token with every
//! permission and the highest rate limit, which the benchmark's clients use.

use crate::native::block_on;
use roster_domain::model::{ApimBinding, DeviceStatus, Organization, Ownership};
use roster_domain::store::MemoryCas;
use roster_domain::{
    DomainError, MemoryStore, Store, StoreError, Timestamp, devices, enrollment, keys, orgs,
    tokens, users,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// The slug of the seeded organization.
pub const ORG_SLUG: &str = "bench";

/// The Azure API Management service the seeded organization is bound to (its APIM
/// alias): subscription, resource group, service name.
pub const APIM_SERVICE: (&str, &str, &str) = (
    "00000000-0000-4000-8000-00000000b7c4",
    "roster-bench",
    "roster-bench",
);

/// How fast the seeded users were created, in users a second, the last one now: user
/// `i` of `n` is created `(n - 1 - i) / CREATED_PER_SECOND` seconds ago (its devices
/// and tokens at the same instant). A directory's users arrive over time — one by
/// one, or in bulk imports (SCIM provisioning of a whole tenant) — never all in the
/// same second; 1,000 a second is a fast bulk import, faster than Roster creates
/// users through the API on this machine. It matters because an [`ObjectId`] starts
/// with its creation second: users created in different seconds sit in creation order
/// in the store's key order, those of one second in random order.
///
/// [`ObjectId`]: roster_domain::ids::ObjectId
pub const CREATED_PER_SECOND: u64 = 1_000;

/// Users built per chunk (one in-memory store, one batch for the writer).
const CHUNK: u64 = 512;

/// What one seeded user gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPlan {
    /// Devices enrolled (0, 1 or 2); a second device is INACTIVE (a replaced phone).
    pub devices: u8,
    /// A pending enrollment token (users not enrolled yet).
    pub pending_token: bool,
    /// An enrollment token that was issued and then revoked.
    pub revoked_token: bool,
}

/// The proportions, by user number modulo 20: 15 % of users have no device yet and one
/// pending enrollment token; 60 % have one active device; 25 % have an active and an
/// inactive device; 5 % also have a revoked token. That is 1.1 devices and 0.2 tokens
/// per user.
pub fn plan(i: u64) -> UserPlan {
    let r = i % 20;
    UserPlan {
        devices: match r {
            0..=2 => 0,
            3..=14 => 1,
            _ => 2,
        },
        pending_token: r <= 2,
        revoked_token: r == 5,
    }
}

/// The username of seeded user `i`: `u` and seven digits (unique, and no other
/// seeded field contains it, so a search for it finds exactly that user).
pub fn username(i: u64) -> String {
    format!("u{i:07}")
}

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Barbara",
    "Brian",
    "Claude",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "Ivan",
    "Jean",
    "Ken",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
    "Whitfield",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Liskov",
    "Kernighan",
    "Shannon",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Lamarr",
    "Sutherland",
    "Sammet",
    "Thompson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "Diffie",
    "Ritchie",
    "Backus",
    "Hoare",
];

/// What a seeding run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedStats {
    /// Users created.
    pub users: u64,
    /// Devices enrolled.
    pub devices: u64,
    /// Enrollment tokens issued (pending and revoked).
    pub tokens: u64,
    /// Rows inserted into `spin_key_value`.
    pub rows: u64,
    /// Of those, the search index's flags (`o/{org}/users/ng/…`): what the index costs
    /// in rows.
    pub index_rows: u64,
    /// Worker threads that built users.
    pub threads: usize,
    /// Wall time of the whole seeding, from an empty file to the commit.
    pub seconds: f64,
    /// Size of the database file.
    pub file_bytes: u64,
    /// The secret of the organization token minted for the benchmark (every
    /// permission, the highest rate limit), to send as `Authorization: Bearer`. It
    /// opens nothing but this throwaway store.
    pub bearer: String,
}

/// The rate limit of the benchmark's token: the highest allowed, so the per-token
/// limiter counts every request (one atomic increment, as for any client) but never
/// refuses one.
pub const TOKEN_RATE_LIMIT: i64 = roster_domain::tokens::MAX_RATE_LIMIT as i64;

/// The [`Store`] of one seeding worker: organization-wide keys in `shared`, every other
/// key in `local`.
struct SeedStore<'a> {
    shared: &'a MemoryStore,
    shared_keys: &'a HashSet<String>,
    local: &'a MemoryStore,
}

enum SeedCas {
    Shared(MemoryCas),
    Local(MemoryCas),
}

impl SeedStore<'_> {
    fn pick(&self, key: &str) -> &MemoryStore {
        if self.shared_keys.contains(key) {
            self.shared
        } else {
            self.local
        }
    }
}

impl Store for SeedStore<'_> {
    type Cas = SeedCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.pick(key).get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.pick(key).set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.pick(key).delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.pick(key).exists(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.pick(key).increment(key, delta).await
    }
    async fn cas(&self, key: &str) -> Result<(SeedCas, Option<Vec<u8>>), StoreError> {
        if self.shared_keys.contains(key) {
            let (c, v) = self.shared.cas(key).await?;
            Ok((SeedCas::Shared(c), v))
        } else {
            let (c, v) = self.local.cas(key).await?;
            Ok((SeedCas::Local(c), v))
        }
    }
    async fn swap(&self, cas: SeedCas, value: &[u8]) -> Result<roster_domain::Swap, StoreError> {
        match cas {
            SeedCas::Shared(c) => self.shared.swap(c, value).await,
            SeedCas::Local(c) => self.local.swap(c, value).await,
        }
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.pick(k).get(k).await?);
        }
        Ok(out)
    }
    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        for k in keys {
            self.pick(k).delete(k).await?;
        }
        Ok(())
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in pairs {
            self.pick(k).set(k, v).await?;
        }
        Ok(())
    }
}

/// Counts of what one chunk made.
#[derive(Default)]
struct Made {
    devices: u64,
    tokens: u64,
}

/// Builds seeded user `i` (and its devices and tokens) through the domain.
async fn make_user<S: Store>(
    store: &S,
    org: &Organization,
    i: u64,
    now: Timestamp,
) -> Result<Made, DomainError> {
    let name = username(i);
    let first = FIRST[(i % FIRST.len() as u64) as usize];
    let last = LAST[((i / FIRST.len() as u64) % LAST.len() as u64) as usize];
    let new = users::NewUser::parse(
        &name,
        Some(&format!("{name}@example.com")),
        Some(first),
        Some(last),
    )?;
    let user = users::create(store, org, new, now).await?;
    let p = plan(i);
    let mut made = Made::default();
    for d in 0..p.devices {
        let (device_type, model) = if i.is_multiple_of(3) {
            ("ios", "iPhone")
        } else {
            ("android", "Pixel")
        };
        let new = devices::NewDevice::parse(
            &format!("{first}'s {model}"),
            device_type,
            None,
            &format!("35{:013}", i * 2 + u64::from(d)),
            if i.is_multiple_of(4) {
                Ownership::Cope
            } else {
                Ownership::Byod
            },
            if d == 0 {
                DeviceStatus::Active
            } else {
                DeviceStatus::Inactive
            },
            Vec::new(),
        )?;
        devices::enroll(store, org, &user.id, new, now).await?;
        made.devices += 1;
    }
    if p.pending_token {
        enrollment::issue(store, org, &user.id, enrollment::DEFAULT_TTL_SECS, now).await?;
        made.tokens += 1;
    }
    if p.revoked_token {
        let t = enrollment::issue(store, org, &user.id, enrollment::DEFAULT_TTL_SECS, now).await?;
        enrollment::revoke(store, org, &user.id, &t.id).await?;
        made.tokens += 1;
    }
    Ok(made)
}

fn remove_db_files(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

type Rows = Vec<(String, Vec<u8>)>;

/// Rows inserted by one statement.
const ROWS_PER_INSERT: usize = 64;

/// An insert of `rows` rows. A key already written is left as it is: the only keys two
/// chunks both write are search-index flags (`users/ng/…`), whose value is always the
/// same (users of one search batch are seeded by different chunks, since sequence
/// numbers come from the shared counter). Rows are counted as inserted.
fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("('default', ?{}, ?{})", 2 * i + 1, 2 * i + 2))
        .collect();
    format!(
        "INSERT INTO spin_key_value (store, key, value) VALUES {} ON CONFLICT DO NOTHING",
        values.join(", ")
    )
}

fn write_rows(path: &Path, rx: mpsc::Receiver<Rows>) -> anyhow::Result<u64> {
    let mut conn = rusqlite::Connection::open(path)?;
    // A fresh file that nobody else has open: no journal, no fsync until the end, a
    // page cache big enough for the key index.
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -1048576;",
    )?;
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    {
        // Many rows per statement: a third less time than one statement per row.
        let mut one = tx.prepare(&insert_sql(1))?;
        let mut many = tx.prepare(&insert_sql(ROWS_PER_INSERT))?;
        for batch in rx {
            let mut chunks = batch.chunks_exact(ROWS_PER_INSERT);
            for chunk in &mut chunks {
                let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(2 * ROWS_PER_INSERT);
                for (key, value) in chunk {
                    params.push(key);
                    params.push(value);
                }
                rows += many.execute(params.as_slice())? as u64;
            }
            for (key, value) in chunks.remainder() {
                rows += one.execute(rusqlite::params![key, value])? as u64;
            }
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA locking_mode = NORMAL;")?;
    Ok(rows)
}

/// The rows of store `default` whose key starts with `prefix` (a range of the primary
/// key: no table scan).
fn count_under(path: &Path, prefix: &str) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open(path)?;
    // Keys are ASCII here; the range ends just before the prefix with its last byte + 1.
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let end = String::from_utf8(end)?;
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM spin_key_value WHERE store = 'default' AND key >= ?1 AND key < ?2",
        rusqlite::params![prefix, end],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(n)?)
}

/// Creates (replacing any previous one) the SQLite key-value database at `path` with
/// one organization of `n` users, using `threads` worker threads (at least one), the
/// users created `per_second` a second ending now ([`CREATED_PER_SECOND`] in the
/// benchmark; 0: all at the same instant).
pub fn seed(path: &Path, n: u64, threads: usize, per_second: u64) -> anyhow::Result<SeedStats> {
    let started = Instant::now();
    let threads = threads.max(1);
    remove_db_files(path)?;
    // Spin's table, created exactly as roster-host creates it.
    drop(
        roster_host::kv::SqliteBackend::open(Some(path))
            .map_err(|e| anyhow::anyhow!("cannot create {}: {}", path.display(), e.0))?,
    );
    let now = Timestamp::now();
    // The organization and its token exist before the first user.
    let span_ms = n.saturating_mul(1000) / per_second.max(1);
    let founded = if per_second == 0 {
        now
    } else {
        Timestamp(now.0 - i64::try_from(span_ms).unwrap_or(i64::MAX) - 1000)
    };
    let shared = MemoryStore::new();
    let mut new_org = orgs::NewOrganization::parse("Bench", ORG_SLUG)?;
    let (subscription, group, service) = APIM_SERVICE;
    new_org.apim = Some(ApimBinding::parse(subscription, group, service)?);
    let org = block_on(orgs::create(&shared, new_org, founded))?;
    let token = block_on(tokens::create(
        &shared,
        Some(&org),
        tokens::NewToken::parse(
            "roster-bench",
            &["*".to_owned()],
            None,
            None,
            Some(TOKEN_RATE_LIMIT),
        )?,
        None,
        now,
    ))?;
    let shared_keys: HashSet<String> = std::iter::once(keys::user_seq_counter(&org.id))
        .chain((0..keys::COUNT_SHARDS).map(|s| keys::user_count_shard(&org.id, s)))
        .collect();

    let (tx, rx) = mpsc::sync_channel::<Rows>(threads * 4);
    let writer_path = path.to_owned();
    let writer = std::thread::spawn(move || write_rows(&writer_path, rx));
    let next_chunk = AtomicU64::new(0);
    let made_devices = AtomicU64::new(0);
    let made_tokens = AtomicU64::new(0);
    let work = std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut handles = Vec::new();
        for _ in 0..threads {
            let tx = tx.clone();
            let (org, shared, shared_keys) = (&org, &shared, &shared_keys);
            let (next_chunk, made_devices, made_tokens) =
                (&next_chunk, &made_devices, &made_tokens);
            handles.push(scope.spawn(move || -> anyhow::Result<()> {
                loop {
                    let start = next_chunk.fetch_add(1, Ordering::Relaxed) * CHUNK;
                    if start >= n {
                        return Ok(());
                    }
                    let local = MemoryStore::new();
                    let store = SeedStore {
                        shared,
                        shared_keys,
                        local: &local,
                    };
                    for i in start..(start + CHUNK).min(n) {
                        // 0 a second: all at the same instant.
                        let at = (n - 1 - i)
                            .saturating_mul(1000)
                            .checked_div(per_second)
                            .map_or(now, |ago_ms| {
                                Timestamp(now.0 - i64::try_from(ago_ms).unwrap_or(i64::MAX))
                            });
                        let made = block_on(make_user(&store, org, i, at))?;
                        made_devices.fetch_add(made.devices, Ordering::Relaxed);
                        made_tokens.fetch_add(made.tokens, Ordering::Relaxed);
                    }
                    let rows: Rows = local.snapshot().into_iter().collect();
                    if tx.send(rows).is_err() {
                        anyhow::bail!("the writer thread stopped");
                    }
                }
            }));
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    });
    // The organization-wide keys last: the counter and count shards are final now.
    let shared_rows: Rows = shared.snapshot().into_iter().collect();
    let sent = work.and_then(|()| {
        tx.send(shared_rows)
            .map_err(|_| anyhow::anyhow!("the writer thread stopped"))
    });
    drop(tx);
    let rows = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    sent?;
    let index_rows = count_under(path, &format!("o/{}/users/ng/", org.id))?;
    Ok(SeedStats {
        users: n,
        devices: made_devices.into_inner(),
        tokens: made_tokens.into_inner(),
        rows,
        index_rows,
        threads,
        seconds: started.elapsed().as_secs_f64(),
        file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        bearer: token.secret,
    })
}
