//! The Redis backend: Spin's `type = "redis"` key-value store, call by call.
//!
//! Each operation sends exactly the Redis commands Spin's `key-value-redis` store sends (the
//! same in every release from 3.0 to 4.0.2), through the same `redis` crate, and parses the
//! answer as the same Rust type, so every quirk of Spin's store is reproduced here:
//!
//! | operation | Redis commands | what the guest sees |
//! |---|---|---|
//! | `get` / `set` / `delete` / `exists` | `GET` / `SET` / `DEL` / `EXISTS` | as expected |
//! | `get-keys`, `list-keys` | `KEYS *` | every key of the Redis database (labels are ignored) |
//! | `increment` | `INCRBY key delta` | the value is decimal text; fails on any other value (e.g. 8 raw bytes) |
//! | `get-many` | `KEYS k1 .. kn` parsed as `Vec<(String, Option<Vec<u8>>)>` | 2+ keys: an error (wrong number of arguments); 1 absent key: `[]`; 1 present key: a parse error |
//! | `set-many` | `MSET k1 v1 .. kn vn` | atomic |
//! | `delete-many` | `DEL k1 .. kn` | atomic |
//! | `cas.new` | a connection of its own | |
//! | `cas.current` | `WATCH key`, `GET key` on that connection | the current value |
//! | `swap` | `MULTI`, `SET key value`, `EXEC`, then `UNWATCH key` | **always `cas-failed`**: Redis refuses `UNWATCH` with an argument. If nothing touched the key since `WATCH` (or `current()` was never called) the value **was written** anyway; if the key changed, `EXEC` wrote nothing |
//!
//! After a failed swap Spin opens a fresh compare-and-swap and calls `current()` on it (a new
//! connection, `WATCH`, `GET`) before handing it back as `cas-failed`'s handle; roster-host
//! does the same.
//!
//! Spin's Redis store ignores the store label: every label configured with the same URL sees
//! one keyspace. [`RedisBackend`] ignores the `store` argument in the same way, and reports
//! every key under the label it was configured for in [`KvBackend::entries`].

use crate::kv::{KeyValues, KvBackend, KvCas, KvEntry, KvError, SwapError};
use redis::{Commands as _, Connection, RedisError};
use std::sync::Mutex;
use std::time::Duration;

/// How long one Redis command may take before it fails (a hung server must not hang a test).
const IO_TIMEOUT: Duration = Duration::from_secs(30);

fn log_error(e: RedisError) -> KvError {
    // Spin's `log_error`: `Error::Other(format!("{err:?}"))`.
    KvError(format!("{e:?}"))
}

/// A Redis (or Valkey) server used as Spin's `type = "redis"` store.
pub struct RedisBackend {
    client: redis::Client,
    url: String,
    label: String,
    /// Idle connections (Spin multiplexes one; a small pool is equivalent and lets blocking
    /// calls from several instances proceed at once).
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.url)
            .field("label", &self.label)
            .finish()
    }
}

impl RedisBackend {
    /// A backend for the Redis at `url`, reporting its keys under `label` in
    /// [`KvBackend::entries`]. Connects lazily, as Spin does.
    pub fn open(url: &str, label: &str) -> Result<Self, KvError> {
        let client =
            redis::Client::open(url).map_err(|e| KvError(format!("invalid Redis URL: {e}")))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            label: label.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn connect(&self) -> Result<Connection, KvError> {
        let conn = self
            .client
            .get_connection_with_timeout(IO_TIMEOUT)
            .map_err(log_error)?;
        conn.set_read_timeout(Some(IO_TIMEOUT)).map_err(log_error)?;
        conn.set_write_timeout(Some(IO_TIMEOUT))
            .map_err(log_error)?;
        Ok(conn)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, KvError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let r = f(&mut conn);
        let broken =
            matches!(&r, Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout());
        if !broken {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        r.map_err(log_error)
    }
}

impl KvBackend for RedisBackend {
    fn get(&self, _store: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with(|c| c.get::<_, Option<Vec<u8>>>(key))
    }
    fn set(&self, _store: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.with(|c| c.set::<_, _, ()>(key, value))
    }
    fn delete(&self, _store: &str, key: &str) -> Result<(), KvError> {
        self.with(|c| c.del::<_, ()>(key))
    }
    fn exists(&self, _store: &str, key: &str) -> Result<bool, KvError> {
        self.with(|c| c.exists::<_, bool>(key))
    }
    fn keys(&self, _store: &str) -> Result<Vec<String>, KvError> {
        self.with(|c| c.keys::<_, Vec<String>>("*"))
    }
    fn get_many(&self, _store: &str, keys: &[String]) -> Result<KeyValues, KvError> {
        // Spin's call, bug included: `KEYS k1 .. kn`, not `MGET`.
        let keys = keys.to_vec();
        self.with(|c| c.keys::<_, Vec<(String, Option<Vec<u8>>)>>(keys))
    }
    fn set_many(&self, _store: &str, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        let pairs = pairs.to_vec();
        self.with(|c| c.mset::<_, _, ()>(&pairs))
    }
    fn delete_many(&self, _store: &str, keys: &[String]) -> Result<(), KvError> {
        let keys = keys.to_vec();
        self.with(|c| c.del::<_, ()>(keys))
    }
    fn increment(&self, _store: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        self.with(|c| c.incr::<_, _, i64>(key, delta))
    }
    fn swap(
        &self,
        _store: &str,
        _key: &str,
        _expected: Option<&[u8]>,
        _value: &[u8],
    ) -> Result<bool, KvError> {
        // Unused: compare-and-swap goes through `new_cas`, as in Spin.
        Err(KvError(
            "compare-and-swap on Redis goes through new_cas".to_owned(),
        ))
    }
    fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        let keys: Vec<String> = self.with(|c| {
            let iter = c.scan::<String>()?;
            Ok(iter.collect())
        })?;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let chunk = chunk.to_vec();
            // MGET answers nil for keys holding something other than a string.
            let values: Vec<Option<Vec<u8>>> = self.with(|c| {
                redis::cmd("MGET")
                    .arg(&chunk)
                    .query::<Vec<Option<Vec<u8>>>>(c)
            })?;
            for (key, value) in chunk.into_iter().zip(values) {
                if let Some(value) = value {
                    out.push(KvEntry {
                        store: self.label.clone(),
                        key,
                        value,
                    });
                }
            }
        }
        out.sort();
        Ok(out)
    }
    fn new_cas(&self, _store: &str, key: &str) -> Result<Option<Box<dyn KvCas>>, KvError> {
        // As Spin: a connection of its own, since WATCH is scoped to a connection.
        Ok(Some(Box::new(RedisCas {
            conn: self.connect()?,
            key: key.to_owned(),
        })))
    }
}

/// Spin's Redis compare-and-swap: `WATCH`+`GET`, then `MULTI`/`SET`/`EXEC` and `UNWATCH key`.
struct RedisCas {
    conn: Connection,
    key: String,
}

impl std::fmt::Debug for RedisCas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCas").field("key", &self.key).finish()
    }
}

impl KvCas for RedisCas {
    fn current(&mut self) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("WATCH")
            .arg(&self.key)
            .exec(&mut self.conn)
            .map_err(log_error)?;
        self.conn
            .get::<_, Option<Vec<u8>>>(&self.key)
            .map_err(log_error)
    }

    fn swap(&mut self, value: &[u8]) -> Result<(), SwapError> {
        let res: Result<(), RedisError> = redis::pipe()
            .atomic()
            .set(&self.key, value)
            .query(&mut self.conn);
        // Spin passes the key to UNWATCH, which takes no argument: Redis always refuses it,
        // so every swap reports failure, also one whose EXEC wrote the value.
        redis::cmd("UNWATCH")
            .arg(&self.key)
            .exec(&mut self.conn)
            .map_err(|err| SwapError::CasFailed(format!("{err:?}")))?;
        match res {
            Ok(()) => Ok(()),
            Err(err) => Err(SwapError::CasFailed(format!("{err:?}"))),
        }
    }
}
