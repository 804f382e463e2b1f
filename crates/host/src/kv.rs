//! Key-value storage, chosen and behaving as Spin's stores do.
//!
//! Every backend holds rows `(store, key, value)`, where `store` is the label a component
//! opened. [`SqliteBackend`] is Spin's `type = "spin"` store (`key-value-spin`): Spin's own
//! `spin_key_value` table, so a database written by roster-host can be read by `spin up` and
//! vice versa, in a file or in memory. [`crate::redis_kv::RedisBackend`] is Spin's
//! `type = "redis"` store (`key-value-redis`), which ignores labels. [`MemoryBackend`] is a
//! plain map with the SQLite semantics, for unit tests.
//!
//! Per backend, as Spin:
//!
//! | | SQLite (file or in memory) | Redis |
//! |---|---|---|
//! | `increment` | one transaction; 8 little-endian bytes; fails on a value of another length | `INCRBY`; decimal text; fails on a non-integer value |
//! | compare-and-swap | after `current()` read a value: `UPDATE … WHERE value = <read>`, reports the truth; else (no `current()`, or an absent key) an unconditional upsert reporting success | see [`crate::redis_kv`]: always reports `cas-failed`; wrote the value unless the key changed after `current()` |
//! | `get-many` | one `SELECT … IN`, absent keys left out, database order | `KEYS k1..kn`: fails for 2+ keys, `[]` for one absent key, the host panics (500) for one present key |
//! | `set-many` / `delete-many` | one transaction / one statement | `MSET` / `DEL k1..kn` |
//! | `get-keys` / `list-keys` | the label's keys | every key of the Redis database (`KEYS *`) |

use crate::error::HostError;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// File name of the default store's database inside the state directory (as Spin's).
pub const DEFAULT_DB_FILE: &str = "sqlite_key_value.db";

/// A backend failure; reported to components as the interface's `other(message)` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

impl KvError {
    fn from_debug(e: impl std::fmt::Debug) -> Self {
        Self(format!("{e:?}"))
    }
}

/// One row of a backend.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KvEntry {
    /// The store label.
    pub store: String,
    /// The key, as the component wrote it (UTF-8; Spin stores it as SQLite TEXT or a
    /// Redis key unprefixed).
    pub key: String,
    /// The value's bytes exactly as stored (an `increment` counter is 8 little-endian
    /// bytes on SQLite, decimal text on Redis).
    pub value: Vec<u8>,
}

/// `(key, value)` pairs as returned by `get-many`.
pub type KeyValues = Vec<(String, Option<Vec<u8>>)>;

/// A key-value backend. All operations are atomic with respect to each other.
pub trait KvBackend: Send + Sync + std::fmt::Debug {
    /// The value of `key`, or `None`.
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Inserts or replaces the value of `key`.
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; removing an absent key succeeds.
    fn delete(&self, store: &str, key: &str) -> Result<(), KvError>;
    /// Whether `key` exists.
    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError>;
    /// Every key of `store`.
    fn keys(&self, store: &str) -> Result<Vec<String>, KvError>;
    /// The `(key, value)` pairs of the requested keys that exist (absent keys are omitted, as
    /// Spin's SQLite store does).
    fn get_many(&self, store: &str, keys: &[String]) -> Result<KeyValues, KvError>;
    /// Sets every pair in one transaction.
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError>;
    /// Deletes every key.
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError>;
    /// Atomically adds `delta` to the counter at `key` (absent counts as 0) and returns the
    /// new value. SQLite: an 8-byte little-endian i64, failing on a value of another length;
    /// Redis: `INCRBY` on decimal text.
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Compare-and-swap: with `expected = Some(old)`, replaces the value only if it is still
    /// `old`; with `expected = None`, unconditionally upserts (Spin's behaviour). Returns
    /// whether exactly one row was written.
    fn swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError>;
    /// Every row of every store in this backend.
    fn entries(&self) -> Result<Vec<KvEntry>, KvError>;
    /// Opens a compare-and-swap on `key` with the backend's own protocol, or `None` to use
    /// Spin's SQLite protocol built on [`KvBackend::swap`] (`current()` remembers the value
    /// it read, `swap()` is a conditional update on it, or an upsert if it read nothing).
    fn new_cas(&self, store: &str, key: &str) -> Result<Option<Box<dyn KvCas>>, KvError> {
        let _ = (store, key);
        Ok(None)
    }
}

/// Why a compare-and-swap's `swap` failed (Spin's `SwapError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapError {
    /// The swap reports failure: the guest gets `cas-failed` and a fresh handle.
    CasFailed(String),
    /// Any other failure: the guest gets `store-error(other(..))`.
    Other(String),
}

/// A compare-and-swap in progress, for backends with their own protocol (Redis).
pub trait KvCas: Send + Sync + std::fmt::Debug {
    /// Starts the swap: reads the current value.
    fn current(&mut self) -> Result<Option<Vec<u8>>, KvError>;
    /// Ends the swap: writes `value` if the key did not change since `current()`.
    fn swap(&mut self, value: &[u8]) -> Result<(), SwapError>;
}

fn decode_i64(v: Vec<u8>) -> Result<i64, KvError> {
    let bytes: [u8; 8] = v.try_into().map_err(|v: Vec<u8>| {
        KvError(format!(
            "cannot increment: the value is {} bytes long, not an 8-byte little-endian integer",
            v.len()
        ))
    })?;
    Ok(i64::from_le_bytes(bytes))
}

/// The in-memory backend.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    rows: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryBackend {
    fn rows(&self) -> MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn k(store: &str, key: &str) -> (String, String) {
    (store.to_owned(), key.to_owned())
}

impl KvBackend for MemoryBackend {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.rows().get(&k(store, key)).cloned())
    }
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.rows().insert(k(store, key), value.to_vec());
        Ok(())
    }
    fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        self.rows().remove(&k(store, key));
        Ok(())
    }
    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.rows().contains_key(&k(store, key)))
    }
    fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        Ok(self
            .rows()
            .keys()
            .filter(|(s, _)| s == store)
            .map(|(_, k)| k.clone())
            .collect())
    }
    fn get_many(&self, store: &str, keys: &[String]) -> Result<KeyValues, KvError> {
        let rows = self.rows();
        Ok(keys
            .iter()
            .filter_map(|key| {
                rows.get(&k(store, key))
                    .map(|v| (key.clone(), Some(v.clone())))
            })
            .collect())
    }
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        let mut rows = self.rows();
        for (key, value) in pairs {
            rows.insert(k(store, key), value.clone());
        }
        Ok(())
    }
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError> {
        let mut rows = self.rows();
        for key in keys {
            rows.remove(&k(store, key));
        }
        Ok(())
    }
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut rows = self.rows();
        let current = match rows.get(&k(store, key)) {
            Some(v) => decode_i64(v.clone())?,
            None => 0,
        };
        let new = current.wrapping_add(delta);
        rows.insert(k(store, key), new.to_le_bytes().to_vec());
        Ok(new)
    }
    fn swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        let mut rows = self.rows();
        match expected {
            Some(old) => match rows.get_mut(&k(store, key)) {
                Some(v) if v.as_slice() == old => {
                    *v = value.to_vec();
                    Ok(true)
                }
                _ => Ok(false),
            },
            None => {
                rows.insert(k(store, key), value.to_vec());
                Ok(true)
            }
        }
    }
    fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        Ok(self
            .rows()
            .iter()
            .map(|((s, k), v)| KvEntry {
                store: s.clone(),
                key: k.clone(),
                value: v.clone(),
            })
            .collect())
    }
}

/// The SQLite backend: Spin's `spin_key_value` table behind one shared connection.
#[derive(Debug)]
pub struct SqliteBackend {
    path: Option<PathBuf>,
    conn: Mutex<Connection>,
}

const UPSERT: &str = "INSERT INTO spin_key_value (store, key, value) VALUES ($1, $2, $3)
     ON CONFLICT(store, key) DO UPDATE SET value=$3";

impl SqliteBackend {
    /// Opens an existing database file read-only, for inspection (`roster-host check`):
    /// nothing is created or written, and a file without Spin's table is an error.
    pub fn open_read_only(path: &Path) -> Result<Self, KvError> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(KvError::from_debug)?;
        let has_table: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spin_key_value')",
                    [],
                    |r| r.get(0),
                )
                .map_err(KvError::from_debug)?;
        if !has_table {
            return Err(KvError(
                "not a Spin key-value database (no spin_key_value table)".to_owned(),
            ));
        }
        rusqlite::vtab::array::load_module(&conn).map_err(KvError::from_debug)?;
        Ok(Self {
            path: Some(path.to_path_buf()),
            conn: Mutex::new(conn),
        })
    }

    /// Opens (creating if needed, with parent directories) the database at `path`, or an
    /// in-memory database for `None`, and creates Spin's table if missing.
    pub fn open(path: Option<&Path>) -> Result<Self, KvError> {
        let conn = match path {
            Some(p) => {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).map_err(KvError::from_debug)?;
                }
                Connection::open(p)
            }
            None => Connection::open_in_memory(),
        }
        .map_err(KvError::from_debug)?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
               store TEXT NOT NULL,
               key   TEXT NOT NULL,
               value BLOB NOT NULL,

               PRIMARY KEY (store, key)
            )",
            [],
        )
        .map_err(KvError::from_debug)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(KvError::from_debug)?;
        // `rarray`, for the batch reads and deletes: one statement each, as Spin's store.
        rusqlite::vtab::array::load_module(&conn).map_err(KvError::from_debug)?;
        Ok(Self {
            path: path.map(Path::to_path_buf),
            conn: Mutex::new(conn),
        })
    }

    /// The database file, or `None` when in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn select(conn: &Connection, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
    conn.prepare_cached("SELECT value FROM spin_key_value WHERE store=$1 AND key=$2")
        .map_err(KvError::from_debug)?
        .query_row(params![store, key], |row| row.get::<_, Vec<u8>>(0))
        .optional()
        .map_err(KvError::from_debug)
}

/// `keys` as the value of a `rarray(?)` parameter.
fn rarray(keys: &[String]) -> std::rc::Rc<Vec<rusqlite::types::Value>> {
    std::rc::Rc::new(
        keys.iter()
            .cloned()
            .map(rusqlite::types::Value::from)
            .collect(),
    )
}

fn upsert(conn: &Connection, store: &str, key: &str, value: &[u8]) -> Result<usize, KvError> {
    conn.prepare_cached(UPSERT)
        .map_err(KvError::from_debug)?
        .execute(params![store, key, value])
        .map_err(KvError::from_debug)
}

impl KvBackend for SqliteBackend {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        select(&self.conn(), store, key)
    }
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        upsert(&self.conn(), store, key, value).map(drop)
    }
    fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        self.conn()
            .prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key=$2")
            .map_err(KvError::from_debug)?
            .execute(params![store, key])
            .map_err(KvError::from_debug)
            .map(drop)
    }
    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        self.conn()
            .prepare_cached("SELECT 1 FROM spin_key_value WHERE store=$1 AND key=$2 LIMIT 1")
            .map_err(KvError::from_debug)?
            .exists(params![store, key])
            .map_err(KvError::from_debug)
    }
    fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT key FROM spin_key_value WHERE store=$1")
            .map_err(KvError::from_debug)?;
        let rows = stmt
            .query_map(params![store], |row| row.get::<_, String>(0))
            .map_err(KvError::from_debug)?;
        rows.collect::<Result<_, _>>().map_err(KvError::from_debug)
    }
    fn get_many(&self, store: &str, keys: &[String]) -> Result<KeyValues, KvError> {
        // One statement, as Spin's SQLite store: absent keys are left out, and the rows
        // come in the database's order, not the request's.
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, value FROM spin_key_value WHERE store=$1 AND key IN rarray($2)",
            )
            .map_err(KvError::from_debug)?;
        let rows = stmt
            .query_map(params![store, rarray(keys)], |row| {
                Ok((row.get::<_, String>(0)?, Some(row.get::<_, Vec<u8>>(1)?)))
            })
            .map_err(KvError::from_debug)?;
        rows.collect::<Result<_, _>>().map_err(KvError::from_debug)
    }
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(KvError::from_debug)?;
        for (key, value) in pairs {
            upsert(&tx, store, key, value)?;
        }
        tx.commit().map_err(KvError::from_debug)
    }
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError> {
        // One statement (atomic by itself), as Spin's SQLite store.
        self.conn()
            .prepare_cached("DELETE FROM spin_key_value WHERE store=$1 AND key IN rarray($2)")
            .map_err(KvError::from_debug)?
            .execute(params![store, rarray(keys)])
            .map_err(KvError::from_debug)
            .map(drop)
    }
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(KvError::from_debug)?;
        let current = match select(&tx, store, key)? {
            Some(v) => decode_i64(v)?,
            None => 0,
        };
        let new = current.wrapping_add(delta);
        upsert(&tx, store, key, &new.to_le_bytes())?;
        tx.commit().map_err(KvError::from_debug)?;
        Ok(new)
    }
    fn swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        let mut conn = self.conn();
        let rows = match expected {
            Some(old) => conn
                .prepare_cached(
                    "UPDATE spin_key_value SET value=?4 WHERE store=?1 AND key=?2 AND value=?3",
                )
                .map_err(KvError::from_debug)?
                .execute(params![store, key, old, value])
                .map_err(KvError::from_debug)?,
            None => {
                let tx = conn.transaction().map_err(KvError::from_debug)?;
                let rows = upsert(&tx, store, key, value)?;
                tx.commit().map_err(KvError::from_debug)?;
                rows
            }
        };
        Ok(rows == 1)
    }
    fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT store, key, value FROM spin_key_value ORDER BY store, key")
            .map_err(KvError::from_debug)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(KvEntry {
                    store: row.get(0)?,
                    key: row.get(1)?,
                    value: row.get(2)?,
                })
            })
            .map_err(KvError::from_debug)?;
        rows.collect::<Result<_, _>>().map_err(KvError::from_debug)
    }
}

/// Reads and writes per store label, across every backend of a [`KvStores`]: what a
/// request did to each store (tests assert, for instance, that a GET writes nothing to
/// `default`). Counts every backend call that names the label, from components and from
/// direct access through [`KvStores`] alike; opening a store is no backend call.
#[derive(Debug, Default)]
pub struct KvCounts {
    by_label: Mutex<BTreeMap<String, LabelCounts>>,
}

/// The calls counted for one label by [`KvCounts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelCounts {
    /// `get`, `exists`, `keys`, `get_many` and a compare-and-swap's `current`.
    pub reads: u64,
    /// `set`, `delete`, `set_many`, `delete_many`, `increment` and `swap`: each one a
    /// transaction on SQLite (an fsync when the database is a file).
    pub writes: u64,
}

impl KvCounts {
    /// The calls counted so far for `label` (zero for a label never used).
    pub fn get(&self, label: &str) -> LabelCounts {
        self.lock().get(label).copied().unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, LabelCounts>> {
        self.by_label.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, label: &str, write: bool) {
        let mut map = self.lock();
        let c = match map.get_mut(label) {
            Some(c) => c,
            None => map.entry(label.to_owned()).or_default(),
        };
        if write {
            c.writes += 1;
        } else {
            c.reads += 1;
        }
    }
}

/// A backend whose calls are counted per label in a shared [`KvCounts`].
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn KvBackend>,
    counts: Arc<KvCounts>,
}

/// A backend's own compare-and-swap (Redis), counted like the backend.
#[derive(Debug)]
struct CountedCas {
    inner: Box<dyn KvCas>,
    label: String,
    counts: Arc<KvCounts>,
}

impl KvCas for CountedCas {
    fn current(&mut self) -> Result<Option<Vec<u8>>, KvError> {
        self.counts.count(&self.label, false);
        self.inner.current()
    }
    fn swap(&mut self, value: &[u8]) -> Result<(), SwapError> {
        self.counts.count(&self.label, true);
        self.inner.swap(value)
    }
}

impl KvBackend for Counted {
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.counts.count(store, false);
        self.inner.get(store, key)
    }
    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.counts.count(store, true);
        self.inner.set(store, key, value)
    }
    fn delete(&self, store: &str, key: &str) -> Result<(), KvError> {
        self.counts.count(store, true);
        self.inner.delete(store, key)
    }
    fn exists(&self, store: &str, key: &str) -> Result<bool, KvError> {
        self.counts.count(store, false);
        self.inner.exists(store, key)
    }
    fn keys(&self, store: &str) -> Result<Vec<String>, KvError> {
        self.counts.count(store, false);
        self.inner.keys(store)
    }
    fn get_many(&self, store: &str, keys: &[String]) -> Result<KeyValues, KvError> {
        self.counts.count(store, false);
        self.inner.get_many(store, keys)
    }
    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        self.counts.count(store, true);
        self.inner.set_many(store, pairs)
    }
    fn delete_many(&self, store: &str, keys: &[String]) -> Result<(), KvError> {
        self.counts.count(store, true);
        self.inner.delete_many(store, keys)
    }
    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        self.counts.count(store, true);
        self.inner.increment(store, key, delta)
    }
    fn swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        self.counts.count(store, true);
        self.inner.swap(store, key, expected, value)
    }
    fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        self.inner.entries()
    }
    fn new_cas(&self, store: &str, key: &str) -> Result<Option<Box<dyn KvCas>>, KvError> {
        Ok(self.inner.new_cas(store, key)?.map(|inner| {
            Box::new(CountedCas {
                inner,
                label: store.to_owned(),
                counts: self.counts.clone(),
            }) as Box<dyn KvCas>
        }))
    }
}

/// Where the `default` store lives (unless the runtime config file redefines it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreChoice {
    /// SQLite at `<state_dir>/sqlite_key_value.db` (Spin's default).
    #[default]
    Sqlite,
    /// In-memory SQLite, lost when the host is dropped (Spin's `type = "spin"` without `path`).
    Memory,
    /// A Redis server at this URL (`redis://host:port[/db]`), with Spin's `type = "redis"`
    /// semantics (see [`crate::redis_kv`]).
    Redis(String),
}

/// The application's key-value stores: every defined label and its backend.
///
/// This is also the handle tests use to read, write and list rows directly.
#[derive(Debug, Default)]
pub struct KvStores {
    labels: BTreeMap<String, Arc<dyn KvBackend>>,
    counts: Arc<KvCounts>,
}

#[derive(serde::Deserialize)]
struct RuntimeConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, RuntimeStore>,
}

#[derive(serde::Deserialize)]
struct RuntimeStore {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
}

/// Where one label's store lives.
enum Wanted {
    /// In-memory SQLite.
    Memory,
    /// A SQLite file.
    File(PathBuf),
    /// A Redis server.
    Redis(String),
}

impl KvStores {
    /// Defines the `default` store (per `choice`, under `state_dir`) and every
    /// `[key_value_store.<label>]` of the runtime config file (which may redefine `default`).
    /// Labels whose databases resolve to the same file share one backend and connection.
    pub fn configure(
        state_dir: &Path,
        choice: StoreChoice,
        runtime_config: Option<&Path>,
    ) -> Result<Self, HostError> {
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        wanted.insert(
            "default".to_owned(),
            match choice {
                StoreChoice::Sqlite => Wanted::File(state_dir.join(DEFAULT_DB_FILE)),
                StoreChoice::Memory => Wanted::Memory,
                StoreChoice::Redis(url) => Wanted::Redis(url),
            },
        );
        let rc_path = runtime_config.unwrap_or(Path::new("")).to_owned();
        if let Some(rc) = runtime_config {
            let invalid = |message: String| HostError::InvalidRuntimeConfig {
                path: rc.to_owned(),
                message,
            };
            let text = std::fs::read_to_string(rc).map_err(|e| invalid(e.to_string()))?;
            let parsed: RuntimeConfig =
                toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            // As Spin: a relative `path` is resolved against the runtime config file's
            // directory; no `path` means an in-memory database.
            let base = rc.parent().unwrap_or(Path::new("."));
            for (label, store) in parsed.key_value_store {
                let w = match store.kind.as_str() {
                    "spin" => match store.path {
                        Some(p) => Wanted::File(base.join(p)),
                        None => Wanted::Memory,
                    },
                    "redis" => Wanted::Redis(store.url.ok_or_else(|| {
                        invalid(format!(
                            "key_value_store {label:?}: type \"redis\" needs a `url`"
                        ))
                    })?),
                    other => {
                        return Err(invalid(format!(
                            "key_value_store {label:?}: type {other:?} is not supported (only \"spin\" and \"redis\")"
                        )));
                    }
                };
                wanted.insert(label, w);
            }
        }
        let mut by_path: HashMap<PathBuf, Arc<dyn KvBackend>> = HashMap::new();
        let mut labels = BTreeMap::new();
        for (label, w) in wanted {
            let backend: Arc<dyn KvBackend> = match w {
                Wanted::Memory => Arc::new(SqliteBackend::open(None).map_err(|e| {
                    HostError::InvalidRuntimeConfig {
                        path: rc_path.clone(),
                        message: e.0,
                    }
                })?),
                Wanted::Redis(url) => Arc::new(
                    crate::redis_kv::RedisBackend::open(&url, &label).map_err(|e| {
                        HostError::InvalidRuntimeConfig {
                            path: rc_path.clone(),
                            message: format!("key_value_store {label:?}: {}", e.0),
                        }
                    })?,
                ),
                Wanted::File(p) => {
                    if let Some(b) = by_path.get(&p) {
                        b.clone()
                    } else {
                        let b: Arc<dyn KvBackend> =
                            Arc::new(SqliteBackend::open(Some(&p)).map_err(|e| {
                                HostError::InvalidRuntimeConfig {
                                    path: p.clone(),
                                    message: format!("cannot open key-value database: {}", e.0),
                                }
                            })?);
                        by_path.insert(p, b.clone());
                        b
                    }
                }
            };
            labels.insert(label, backend);
        }
        Ok(Self::from_backends(labels))
    }

    /// Builds stores from explicit `(label, backend)` pairs. Labels sharing one backend
    /// (the same `Arc`) keep sharing it.
    pub fn from_backends(backends: impl IntoIterator<Item = (String, Arc<dyn KvBackend>)>) -> Self {
        let counts = Arc::new(KvCounts::default());
        let mut wrapped: Vec<(*const (), Arc<dyn KvBackend>)> = Vec::new();
        let mut labels = BTreeMap::new();
        for (label, backend) in backends {
            let ptr = Arc::as_ptr(&backend) as *const ();
            let counted = match wrapped.iter().find(|(p, _)| *p == ptr) {
                Some((_, c)) => c.clone(),
                None => {
                    let c: Arc<dyn KvBackend> = Arc::new(Counted {
                        inner: backend,
                        counts: counts.clone(),
                    });
                    wrapped.push((ptr, c.clone()));
                    c
                }
            };
            labels.insert(label, counted);
        }
        Self { labels, counts }
    }

    /// Reads and writes per label so far ([`KvCounts`]).
    pub fn counts(&self) -> &KvCounts {
        &self.counts
    }

    /// Whether `label` is defined.
    pub fn is_defined(&self, label: &str) -> bool {
        self.labels.contains_key(label)
    }

    /// Every defined label.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.keys().map(String::as_str)
    }

    /// The backend of `label`.
    pub fn backend(&self, label: &str) -> Option<&Arc<dyn KvBackend>> {
        self.labels.get(label)
    }

    fn require(&self, label: &str) -> Result<&Arc<dyn KvBackend>, KvError> {
        self.backend(label)
            .ok_or_else(|| KvError(format!("no such store {label:?}")))
    }

    /// Reads `key` of store `label`.
    pub fn get(&self, label: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.require(label)?.get(label, key)
    }

    /// Writes `key` of store `label`.
    pub fn set(&self, label: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.require(label)?.set(label, key, value)
    }

    /// Deletes `key` of store `label`.
    pub fn delete(&self, label: &str, key: &str) -> Result<(), KvError> {
        self.require(label)?.delete(label, key)
    }

    /// Every key of store `label`, sorted.
    pub fn keys(&self, label: &str) -> Result<Vec<String>, KvError> {
        let mut keys = self.require(label)?.keys(label)?;
        keys.sort();
        Ok(keys)
    }

    /// Every `(store, key, value)` row of every backend (including rows of labels this
    /// application does not define), sorted by store then key.
    pub fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        let mut seen: Vec<*const ()> = Vec::new();
        let mut out = Vec::new();
        for backend in self.labels.values() {
            let ptr = Arc::as_ptr(backend) as *const ();
            if seen.contains(&ptr) {
                continue;
            }
            seen.push(ptr);
            out.extend(backend.entries()?);
        }
        out.sort();
        Ok(out)
    }
}

/// An open store (`spin:key-value` `store` / `wasi:keyvalue` `bucket` resource).
#[derive(Debug, Clone)]
pub struct OpenStore {
    pub(crate) label: String,
    pub(crate) backend: Arc<dyn KvBackend>,
}

/// A compare-and-swap handle (`wasi:keyvalue/atomics` `cas` resource).
#[derive(Debug)]
pub struct CasState {
    pub(crate) store: OpenStore,
    pub(crate) key: String,
    /// The value `current()` read; `None` if never called or the key was absent.
    pub(crate) seen: Option<Vec<u8>>,
    /// The backend's own protocol, if it has one (Redis); else Spin's SQLite protocol.
    pub(crate) own: Option<Box<dyn KvCas>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends() -> Vec<Box<dyn KvBackend>> {
        vec![
            Box::new(MemoryBackend::default()),
            Box::new(SqliteBackend::open(None).expect("in-memory sqlite")),
        ]
    }

    #[test]
    fn semantics() -> Result<(), KvError> {
        for b in backends() {
            assert_eq!(b.get("s", "a")?, None);
            b.delete("s", "a")?;
            b.set("s", "a", b"1")?;
            b.set("s", "a", b"2")?;
            assert_eq!(b.get("s", "a")?, Some(b"2".to_vec()));
            assert!(b.exists("s", "a")?);
            assert!(!b.exists("t", "a")?);
            assert_eq!(b.increment("s", "n", 5)?, 5);
            assert_eq!(b.increment("s", "n", -7)?, -2);
            assert_eq!(b.get("s", "n")?, Some((-2i64).to_le_bytes().to_vec()));
            assert!(b.increment("s", "a", 1).is_err());
            assert!(!b.swap("s", "a", Some(b"x"), b"3")?);
            assert!(b.swap("s", "a", Some(b"2"), b"3")?);
            assert!(b.swap("s", "fresh", None, b"v")?);
            assert!(b.swap("s", "fresh", None, b"w")?);
            assert_eq!(b.get("s", "fresh")?, Some(b"w".to_vec()));
            b.set_many(
                "s",
                &[("m1".into(), b"x".to_vec()), ("m2".into(), b"y".to_vec())],
            )?;
            b.set("t", "m1", b"other store")?;
            // Absent keys are left out; the order is not promised (Spin's is the
            // database's), so compare sorted.
            let mut many = b.get_many("s", &["m2".into(), "zz".into(), "m1".into()])?;
            many.sort();
            assert_eq!(
                many,
                vec![
                    ("m1".to_owned(), Some(b"x".to_vec())),
                    ("m2".to_owned(), Some(b"y".to_vec()))
                ]
            );
            b.delete_many("s", &["m1".into(), "m2".into(), "zz".into()])?;
            assert_eq!(b.get("t", "m1")?, Some(b"other store".to_vec()));
            b.delete("t", "m1")?;
            let mut keys = b.keys("s")?;
            keys.sort();
            assert_eq!(keys, vec!["a", "fresh", "n"]);
            assert_eq!(b.entries()?.len(), 3);
        }
        Ok(())
    }
}
