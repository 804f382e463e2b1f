//! The Store port: the key-value operations Roster's domain runs on, with the exact
//! semantics of Spin's key-value store (the SQLite default store and Redis alike), and
//! [`MemoryStore`], an in-memory implementation with the same semantics for tests.
//!
//! Facts the domain is designed around (DESIGN.md §6):
//! - there are no multi-key transactions;
//! - [`Store::increment`] is atomic, treats an absent key as 0 and stores the value as
//!   8 little-endian bytes; it fails on a value that is not 8 bytes long;
//! - compare-and-swap is conditional only when the key existed at [`Store::cas`] time:
//!   on an absent key [`Store::swap`] is an **unconditional upsert**.

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

/// The outcome of [`Store::swap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The new value was written.
    Done,
    /// The key's value changed since [`Store::cas`] read it; nothing was written.
    Conflict,
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

/// An in-memory [`Store`] with Spin's semantics, for unit tests. Optionally fails the
/// N-th call (counting from 1) to exercise crash-resumability.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    data: BTreeMap<String, Vec<u8>>,
    calls: u64,
    fail_at: Option<u64>,
}

/// The compare-and-swap handle of [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryCas {
    key: String,
    seen: Option<Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`-th store call from now (1-based) fail with a [`StoreError`].
    pub fn fail_nth(&self, n: u64) {
        let mut inner = self.lock();
        inner.calls = 0;
        inner.fail_at = Some(n);
    }

    /// Stops injecting failures and resets the call counter.
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.calls = 0;
        inner.fail_at = None;
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
        f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut inner = self.lock();
        inner.calls += 1;
        if inner.fail_at == Some(inner.calls) {
            return Err(StoreError::new("injected fault"));
        }
        f(&mut inner.data)
    }
}

impl Store for MemoryStore {
    type Cas = MemoryCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.op(|d| Ok(d.get(key).cloned()))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.op(|d| {
            d.insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.op(|d| {
            d.remove(key);
            Ok(())
        })
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.op(|d| Ok(d.contains_key(key)))
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.op(|d| {
            let current = match d.get(key) {
                None => 0,
                Some(v) => i64::from_le_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| StoreError::new("value is not an 8-byte integer"))?,
                ),
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| StoreError::new("increment overflow"))?;
            d.insert(key.to_owned(), next.to_le_bytes().to_vec());
            Ok(next)
        })
    }

    async fn cas(&self, key: &str) -> Result<(MemoryCas, Option<Vec<u8>>), StoreError> {
        self.op(|d| {
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
        self.op(|d| match cas.seen {
            // Spin: UPDATE … WHERE value = old — conditional.
            Some(old) => {
                if d.get(&cas.key) == Some(&old) {
                    d.insert(cas.key, value.to_vec());
                    Ok(Swap::Done)
                } else {
                    Ok(Swap::Conflict)
                }
            }
            // Spin: the key was absent at `current()` time → unconditional upsert.
            None => {
                d.insert(cas.key, value.to_vec());
                Ok(Swap::Done)
            }
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.op(|d| Ok(keys.iter().map(|k| d.get(k).cloned()).collect()))
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        self.op(|d| {
            for k in keys {
                d.remove(k);
            }
            Ok(())
        })
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
            assert_eq!(s.swap(b, b"b").await.unwrap(), Swap::Conflict);
            assert_eq!(s.get("k").await.unwrap(), Some(b"a".to_vec()));
        });
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
}
