//! The Store port: the key-value operations Roster's domain runs on, with the semantics
//! every Spin key-value backend gives (docs/storage.md), and [`MemoryStore`], an
//! in-memory implementation of either backend's semantics for tests.
//!
//! Facts the domain is designed around (docs/storage.md, "What Roster relies on"):
//! - there are no multi-key transactions;
//! - [`Store::increment`] is atomic and honest on every backend; it treats an absent key
//!   as 0. Spin's SQLite store keeps the integer as 8 little-endian bytes, its Redis store
//!   as decimal text (`INCRBY`), and each fails on a value in the other's encoding: read
//!   counters with [`decode_counter`] and write them with [`encode_counter_like`];
//! - a compare-and-swap is a conditional write on both backends once the key exists
//!   (on SQLite a swap on a key absent at [`Store::cas`] time is an **unconditional
//!   upsert**), but only SQLite reports its outcome truthfully: Redis reports failure
//!   after every swap, also one that wrote. So nothing trusts a failure report:
//!   [`swap_checked`] reads the key back and compares it with the value it wrote, which
//!   callers make unique to the writer.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A failure of the underlying key-value store (I/O, host error, injected fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key-value store error: {message}")]
pub struct StoreError {
    /// What the store reported.
    pub message: String,
}

impl StoreError {
    /// A store error carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// What a backend reported of [`Store::swap`]. Only `Done` is information; use
/// [`swap_checked`] to learn what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The backend says the new value was written (only Spin's SQLite store ever says so,
    /// and then it is true).
    Done,
    /// The backend reported that the swap failed (`cas-failed`): a lost race (nothing
    /// written), or, on Spin's Redis store, any swap at all, including one that wrote.
    Unconfirmed,
}

/// Writes `value` at `key` through `cas` and tells whether it is there now, on every
/// backend: a `Done` report is believed; an `Unconfirmed` one is settled by reading
/// `key` back; a store error is returned as it is (the write may or may not have
/// happened, as with any failed call: the multi-key writes are built for that). `value` must be one no concurrent writer can write (a holder's own number, a
/// record stamped by [`crate::records`]), so finding it means this call wrote it.
pub async fn swap_checked<S: Store>(
    store: &S,
    key: &str,
    cas: S::Cas,
    value: &[u8],
) -> Result<bool, StoreError> {
    match store.swap(cas, value).await? {
        Swap::Done => Ok(true),
        Swap::Unconfirmed => Ok(store.get(key).await?.as_deref() == Some(value)),
    }
}

/// Whether `bytes` is an integer in decimal ASCII text, as Spin's Redis store keeps one.
fn is_decimal(bytes: &[u8]) -> bool {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Decodes an integer written by [`Store::increment`] on any backend: decimal ASCII text
/// (Spin's Redis store, `INCRBY`) or 8 little-endian bytes (Spin's SQLite store). Eight
/// bytes that are all ASCII digits read as decimal: as little-endian they would be at
/// least 0x3030303030303030 (3.5e18), a value no Roster counter reaches. `None` for
/// anything else.
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    if is_decimal(bytes) {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    } else {
        <[u8; 8]>::try_from(bytes).ok().map(i64::from_le_bytes)
    }
}

/// Encodes `n` in the encoding the backend used for `observed` (a value read from a key
/// that [`Store::increment`] created), so a later increment of the key still works:
/// decimal text when `observed` is decimal text, 8 little-endian bytes otherwise.
pub fn encode_counter_like(observed: Option<&[u8]>, n: i64) -> Vec<u8> {
    if observed.is_some_and(is_decimal) {
        n.to_string().into_bytes()
    } else {
        n.to_le_bytes().to_vec()
    }
}

/// The key-value operations the domain needs. Implemented over the Spin host by
/// `roster-spin` and in memory by [`MemoryStore`].
#[allow(async_fn_in_trait)]
pub trait Store {
    /// A compare-and-swap handle: remembers the value read by [`Store::cas`].
    type Cas;

    /// The value of `key`, or `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `value` at `key`, replacing any previous value.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; removing an absent key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Whether `key` holds a value.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Atomically adds `delta` to the 8-byte little-endian integer at `key` (absent = 0)
    /// and returns the new value.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Reads `key` for a later [`Store::swap`]; returns the handle and the value read.
    async fn cas(&self, key: &str) -> Result<(Self::Cas, Option<Vec<u8>>), StoreError>;
    /// Writes `value` if the key still holds what [`Store::cas`] read. When the key was
    /// absent at `cas` time this is an unconditional upsert (Spin's semantics).
    async fn swap(&self, cas: Self::Cas, value: &[u8]) -> Result<Swap, StoreError>;
    /// The values of `keys`, in the order given (`None` for absent keys).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Removes every key of `keys`.
    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError>;
    /// Writes every `(key, value)` of `pairs` (`wasi:keyvalue/batch.set-many`: one
    /// transaction on Spin's SQLite store, one `MSET` on its Redis store). Callers
    /// write only values that are right whatever else was written (the search index's
    /// flags), so a partial write is never a problem.
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// The store rate-limit counters live in ([`crate::ratelimit`]): state that every
    /// request writes and that may be lost without harm, so an adapter may keep it apart
    /// from the durable data (Roster's Spin adapter: the store label `ratelimit`, which
    /// the runtime config puts in memory or on Redis). By default this store itself.
    fn rate_limits(&self) -> &Self {
        self
    }
}

/// Puts a batch read's answer in the order of `keys`: a key-value host answers only the
/// keys it found, in no promised order (Spin's SQLite store answers in the database's).
/// Adapters call this so that [`Store::get_many`] keeps its promise; a key the host did
/// not answer, or answered with no value, is `None`.
pub fn in_key_order(
    keys: &[String],
    found: impl IntoIterator<Item = (String, Option<Vec<u8>>)>,
) -> Vec<Option<Vec<u8>>> {
    let found: std::collections::HashMap<String, Option<Vec<u8>>> = found.into_iter().collect();
    keys.iter()
        .map(|k| found.get(k).cloned().flatten())
        .collect()
}

/// Which Spin key-value backend a [`MemoryStore`] behaves like (docs/storage.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Spin's SQLite store (`type = "spin"`): increments as 8 little-endian bytes; a swap
    /// on a key absent at `cas` time upserts; swaps report the truth.
    #[default]
    Sqlite,
    /// Spin's Redis store (`type = "redis"`): increments as decimal text (`INCRBY`); a
    /// swap is conditional also on an absent key (`WATCH`); every swap reports failure.
    Redis,
}

impl Flavor {
    /// The backend a test suite runs over: `ROSTER_KV=redis` selects [`Flavor::Redis`],
    /// anything else (or nothing) [`Flavor::Sqlite`]. `make test` runs the suites once per
    /// backend this way, as it does the integration tests through roster-host.
    pub fn from_env() -> Self {
        match std::env::var("ROSTER_KV").as_deref() {
            Ok("redis") => Self::Redis,
            _ => Self::Sqlite,
        }
    }
}

/// An in-memory [`Store`] with the semantics of one of Spin's backends ([`Flavor`]), for
/// unit tests. Optionally fails the N-th call (counting from 1) to exercise
/// crash-resumability.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
    /// Where [`Store::rate_limits`] points: `None` for this store itself.
    rate_limits: Option<Box<MemoryStore>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    flavor: Flavor,
    data: BTreeMap<String, Vec<u8>>,
    calls: u64,
    fail_at: Option<u64>,
    dead_from: Option<u64>,
}

/// The compare-and-swap handle of [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryCas {
    key: String,
    seen: Option<Vec<u8>>,
}

impl MemoryStore {
    /// An empty store with the semantics of Spin's SQLite store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with the semantics of the backend [`Flavor::from_env`] names.
    pub fn from_env() -> Self {
        Self::with_flavor(Flavor::from_env())
    }

    /// An empty store with the semantics of `flavor`.
    pub fn with_flavor(flavor: Flavor) -> Self {
        let s = Self::default();
        s.lock().flavor = flavor;
        s
    }

    /// This store, with its rate-limit counters ([`Store::rate_limits`]) kept in
    /// `counters` instead of itself, as the Spin adapter keeps them in their own label.
    pub fn with_rate_limits(mut self, counters: MemoryStore) -> Self {
        self.rate_limits = Some(Box::new(counters));
        self
    }

    /// Makes the `n`-th store call from now (1-based) fail with a [`StoreError`].
    pub fn fail_nth(&self, n: u64) {
        let mut inner = self.lock();
        inner.calls = 0;
        inner.fail_at = Some(n);
        inner.dead_from = None;
    }

    /// Makes the `n`-th store call from now (1-based) and every later one fail: what a
    /// process killed after `n - 1` calls left behind, for checking the store as a stop
    /// anywhere leaves it.
    pub fn stop_at(&self, n: u64) {
        let mut inner = self.lock();
        inner.calls = 0;
        inner.fail_at = None;
        inner.dead_from = Some(n);
    }

    /// Stops injecting failures and resets the call counter.
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.calls = 0;
        inner.fail_at = None;
        inner.dead_from = None;
    }

    /// Store calls made since the last [`MemoryStore::fail_nth`] or [`MemoryStore::clear_faults`].
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// A copy of every key and value, for assertions over the whole store.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock().data.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A poisoned lock only means another test thread panicked; the map is intact.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn op<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>, Flavor) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut inner = self.lock();
        inner.calls += 1;
        if inner.fail_at == Some(inner.calls) || inner.dead_from.is_some_and(|n| inner.calls >= n) {
            return Err(StoreError::new("injected fault"));
        }
        let flavor = inner.flavor;
        f(&mut inner.data, flavor)
    }
}

impl Store for MemoryStore {
    type Cas = MemoryCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.op(|d, _| Ok(d.get(key).cloned()))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.op(|d, _| {
            d.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.op(|d, _| {
            d.remove(key);
            Ok(())
        })
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.op(|d, _| Ok(d.contains_key(key)))
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.op(|d, flavor| {
            let current = match (d.get(key), flavor) {
                (None, _) => 0,
                (Some(v), Flavor::Sqlite) => i64::from_le_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| StoreError::new("value is not an 8-byte integer"))?,
                ),
                (Some(v), Flavor::Redis) => std::str::from_utf8(v)
                    .ok()
                    .filter(|_| is_decimal(v))
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| StoreError::new("value is not an integer or out of range"))?,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| StoreError::new("increment overflow"))?;
            let encoded = match flavor {
                Flavor::Sqlite => next.to_le_bytes().to_vec(),
                Flavor::Redis => next.to_string().into_bytes(),
            };
            d.insert(key.to_owned(), encoded);
            Ok(next)
        })
    }

    async fn cas(&self, key: &str) -> Result<(MemoryCas, Option<Vec<u8>>), StoreError> {
        self.op(|d, _| {
            let seen = d.get(key).cloned();
            Ok((
                MemoryCas {
                    key: key.to_owned(),
                    seen: seen.clone(),
                },
                seen,
            ))
        })
    }

    async fn swap(&self, cas: MemoryCas, value: &[u8]) -> Result<Swap, StoreError> {
        self.op(|d, flavor| {
            let unchanged = d.get(&cas.key) == cas.seen.as_ref();
            let write = match (flavor, &cas.seen) {
                // SQLite: the key was absent at `current()` time → unconditional upsert.
                (Flavor::Sqlite, None) => true,
                // SQLite: UPDATE … WHERE value = old; Redis: WATCH … MULTI/SET/EXEC.
                _ => unchanged,
            };
            if write {
                d.insert(cas.key, value.to_vec());
            }
            Ok(match flavor {
                Flavor::Sqlite if write => Swap::Done,
                // Redis: the closing `UNWATCH <key>` fails, whatever happened.
                _ => Swap::Unconfirmed,
            })
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.op(|d, _| Ok(keys.iter().map(|k| d.get(k).cloned()).collect()))
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        self.op(|d, _| {
            for k in keys {
                d.remove(k);
            }
            Ok(())
        })
    }

    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.op(|d, _| {
            for (k, v) in pairs {
                d.insert(k.clone(), v.clone());
            }
            Ok(())
        })
    }

    fn rate_limits(&self) -> &Self {
        self.rate_limits.as_deref().unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn a_batch_answer_is_put_in_key_order() {
        let keys: Vec<String> = ["a", "b", "c", "a"].map(String::from).to_vec();
        // Out of order, "b" missing, "c" answered without a value, "a" asked twice.
        let found = vec![
            ("c".to_owned(), None),
            ("a".to_owned(), Some(b"1".to_vec())),
        ];
        assert_eq!(
            in_key_order(&keys, found),
            vec![Some(b"1".to_vec()), None, None, Some(b"1".to_vec())]
        );
    }

    #[test]
    fn swap_on_absent_key_is_an_unconditional_upsert() {
        let s = MemoryStore::new();
        block_on(async {
            let (a, seen_a) = s.cas("k").await.unwrap();
            let (b, seen_b) = s.cas("k").await.unwrap();
            assert_eq!(seen_a, None);
            assert_eq!(seen_b, None);
            assert_eq!(s.swap(a, b"a").await.unwrap(), Swap::Done);
            // b also "wins": this is why uniqueness cannot rest on CAS of absent keys.
            assert_eq!(s.swap(b, b"b").await.unwrap(), Swap::Done);
            assert_eq!(s.get("k").await.unwrap(), Some(b"b".to_vec()));
        });
    }

    #[test]
    fn swap_on_existing_key_is_conditional() {
        let s = MemoryStore::new();
        block_on(async {
            s.set("k", b"0").await.unwrap();
            let (a, _) = s.cas("k").await.unwrap();
            let (b, _) = s.cas("k").await.unwrap();
            assert_eq!(s.swap(a, b"a").await.unwrap(), Swap::Done);
            assert_eq!(s.swap(b, b"b").await.unwrap(), Swap::Unconfirmed);
            assert_eq!(s.get("k").await.unwrap(), Some(b"a".to_vec()));
        });
    }

    #[test]
    fn redis_swaps_are_conditional_but_always_report_failure() {
        let s = MemoryStore::with_flavor(Flavor::Redis);
        block_on(async {
            let (a, _) = s.cas("k").await.unwrap();
            let (b, _) = s.cas("k").await.unwrap();
            // Both report failure; only the first wrote, also on an absent key.
            assert_eq!(s.swap(a, b"a").await.unwrap(), Swap::Unconfirmed);
            assert_eq!(s.swap(b, b"b").await.unwrap(), Swap::Unconfirmed);
            assert_eq!(s.get("k").await.unwrap(), Some(b"a".to_vec()));
            // swap_checked tells the two apart by reading back.
            let (c, _) = s.cas("k").await.unwrap();
            let (d, _) = s.cas("k").await.unwrap();
            assert!(swap_checked(&s, "k", c, b"c").await.unwrap());
            assert!(!swap_checked(&s, "k", d, b"d").await.unwrap());
            assert_eq!(s.get("k").await.unwrap(), Some(b"c".to_vec()));
        });
    }

    #[test]
    fn counters_decode_and_keep_either_encoding() {
        let sqlite = MemoryStore::new();
        let redis = MemoryStore::with_flavor(Flavor::Redis);
        block_on(async {
            for s in [&sqlite, &redis] {
                assert_eq!(s.increment("n", 41).await.unwrap(), 41);
                let raw = s.get("n").await.unwrap();
                assert_eq!(raw.as_deref().and_then(decode_counter), Some(41));
                s.set("n", &encode_counter_like(raw.as_deref(), -7))
                    .await
                    .unwrap();
                assert_eq!(s.increment("n", 1).await.unwrap(), -6);
            }
            assert_eq!(redis.get("n").await.unwrap(), Some(b"-6".to_vec()));
            assert_eq!(
                sqlite.get("n").await.unwrap(),
                Some((-6i64).to_le_bytes().to_vec())
            );
            // Each backend refuses the other's encoding.
            sqlite.set("x", b"12").await.unwrap();
            assert!(sqlite.increment("x", 1).await.is_err());
            redis.set("x", &12i64.to_le_bytes()).await.unwrap();
            assert!(redis.increment("x", 1).await.is_err());
        });
        assert_eq!(decode_counter(b"12345678"), Some(12_345_678));
        assert_eq!(decode_counter(&300i64.to_le_bytes()), Some(300));
        assert_eq!(decode_counter(b"{}"), None);
        assert_eq!(decode_counter(b"-"), None);
    }

    #[test]
    fn increment_starts_at_zero_and_refuses_non_integers() {
        let s = MemoryStore::new();
        block_on(async {
            assert_eq!(s.increment("n", 0).await.unwrap(), 0);
            assert_eq!(s.increment("n", 5).await.unwrap(), 5);
            assert_eq!(s.increment("n", -2).await.unwrap(), 3);
            s.set("j", b"{}").await.unwrap();
            assert!(s.increment("j", 1).await.is_err());
        });
    }

    #[test]
    fn fail_nth_fails_exactly_that_call() {
        let s = MemoryStore::new();
        block_on(async {
            s.fail_nth(2);
            assert!(s.set("a", b"1").await.is_ok());
            assert!(s.set("b", b"1").await.is_err());
            assert!(s.set("c", b"1").await.is_ok());
            assert_eq!(s.get("b").await.unwrap(), None);
        });
    }

    #[test]
    fn stop_at_fails_that_call_and_every_later_one() {
        let s = MemoryStore::new();
        block_on(async {
            s.stop_at(2);
            assert!(s.set("a", b"1").await.is_ok());
            assert!(s.set("b", b"1").await.is_err());
            assert!(s.set("c", b"1").await.is_err());
            s.clear_faults();
            assert_eq!(s.get("a").await.unwrap(), Some(b"1".to_vec()));
            assert_eq!(s.get("c").await.unwrap(), None);
        });
    }
}
