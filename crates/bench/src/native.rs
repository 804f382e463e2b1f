//! Mode (b): the very same `roster_api` endpoint types compiled natively and run
//! in-process (through `roster_api::routes::dispatch`), over [`KvStore`], a [`Store`] on roster-host's own key-value backend
//! (Spin's SQLite table through [`KvBackend`]). What (a) adds on top of (b) is the
//! platform: HTTP over loopback, routing, a fresh wasm instance per request and the
//! component/host boundary on every key-value call.

use roster_domain::{Store, StoreError, Swap};
use roster_host::{KvBackend, KvError};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

/// The [`Store`] port over a roster-host [`KvBackend`] (the store label `default`
/// unless told otherwise), with the semantics roster-host gives components: a swap
/// after a [`Store::cas`] that found the key absent is an unconditional upsert.
///
/// Every call through the port is counted ([`KvStore::calls`]).
#[derive(Debug)]
pub struct KvStore {
    backend: Arc<dyn KvBackend>,
    label: String,
    calls: AtomicU64,
    /// Where [`Store::rate_limits`] points, as the component's `ratelimit` store; `None`
    /// for this store itself.
    rate_limits: Option<Box<KvStore>>,
}

/// The compare-and-swap handle of [`KvStore`]: the key and the value [`Store::cas`] read.
#[derive(Debug)]
pub struct KvCas {
    key: String,
    seen: Option<Vec<u8>>,
}

fn err(e: KvError) -> StoreError {
    StoreError::new(e.0)
}

impl KvStore {
    /// A store over `backend`'s rows labelled `label`.
    pub fn new(backend: Arc<dyn KvBackend>, label: impl Into<String>) -> Self {
        Self {
            backend,
            label: label.into(),
            calls: AtomicU64::new(0),
            rate_limits: None,
        }
    }

    /// This store with its rate-limit counters in `counters` (the host's `ratelimit`
    /// store, as the components keep them), so that (b) makes the writes (a) makes.
    pub fn with_rate_limits(mut self, counters: KvStore) -> Self {
        self.rate_limits = Some(Box::new(counters));
        self
    }

    /// Store-port calls made so far (a [`Store::cas`] counts once; a component's `cas`
    /// is two host calls, `new` and `current`).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed) + self.rate_limits.as_ref().map_or(0, |r| r.calls())
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl Store for KvStore {
    type Cas = KvCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count();
        self.backend.get(&self.label, key).map_err(err)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.count();
        self.backend.set(&self.label, key, value).map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count();
        self.backend.delete(&self.label, key).map_err(err)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.count();
        self.backend.exists(&self.label, key).map_err(err)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.count();
        self.backend.increment(&self.label, key, delta).map_err(err)
    }

    async fn cas(&self, key: &str) -> Result<(KvCas, Option<Vec<u8>>), StoreError> {
        self.count();
        let seen = self.backend.get(&self.label, key).map_err(err)?;
        Ok((
            KvCas {
                key: key.to_owned(),
                seen: seen.clone(),
            },
            seen,
        ))
    }

    async fn swap(&self, cas: KvCas, value: &[u8]) -> Result<Swap, StoreError> {
        self.count();
        let done = self
            .backend
            .swap(&self.label, &cas.key, cas.seen.as_deref(), value)
            .map_err(err)?;
        Ok(if done { Swap::Done } else { Swap::Unconfirmed })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        // As the component's adapter: no call at all for an empty batch.
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.count();
        let found = self.backend.get_many(&self.label, keys).map_err(err)?;
        Ok(roster_domain::store::in_key_order(keys, found))
    }

    fn rate_limits(&self) -> &Self {
        self.rate_limits.as_deref().unwrap_or(self)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.count();
        self.backend.delete_many(&self.label, keys).map_err(err)
    }

    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        // As the component's adapter: no call at all for an empty batch.
        if pairs.is_empty() {
            return Ok(());
        }
        self.count();
        self.backend.set_many(&self.label, pairs).map_err(err)
    }
}

/// A write-back overlay on a [`KvStore`]: reads fall through to the store, writes stay
/// in memory until [`Overlay::flush`] writes them all in one transaction. For untimed
/// preparations done through the domain while nothing else uses the store (on a disk,
/// each of a thousand small writes would otherwise wait for its own fsync). It has the
/// store's semantics as long as nobody else writes meanwhile.
pub struct Overlay<'a> {
    base: &'a KvStore,
    writes: std::cell::RefCell<std::collections::BTreeMap<String, Option<Vec<u8>>>>,
}

impl<'a> Overlay<'a> {
    /// An empty overlay on `base`.
    pub fn new(base: &'a KvStore) -> Self {
        Self {
            base,
            writes: Default::default(),
        }
    }

    /// Writes (and deletes) everything buffered, in one transaction each.
    pub fn flush(self) -> Result<(), StoreError> {
        let (mut puts, mut dels) = (Vec::new(), Vec::new());
        for (k, v) in self.writes.into_inner() {
            match v {
                Some(v) => puts.push((k, v)),
                None => dels.push(k),
            }
        }
        let b = self.base;
        b.backend.set_many(&b.label, &puts).map_err(err)?;
        b.backend.delete_many(&b.label, &dels).map_err(err)
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.writes.borrow().get(key) {
            return Ok(v.clone());
        }
        self.base.backend.get(&self.base.label, key).map_err(err)
    }

    fn write(&self, key: &str, value: Option<Vec<u8>>) {
        self.writes.borrow_mut().insert(key.to_owned(), value);
    }
}

impl Store for Overlay<'_> {
    type Cas = KvCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(key)
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(key, Some(value.to_vec()));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.write(key, None);
        Ok(())
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.read(key)?.is_some())
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let current = match self.read(key)? {
            None => 0,
            Some(v) => i64::from_le_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::new("value is not an 8-byte integer"))?,
            ),
        };
        let next = current.wrapping_add(delta);
        self.write(key, Some(next.to_le_bytes().to_vec()));
        Ok(next)
    }
    async fn cas(&self, key: &str) -> Result<(KvCas, Option<Vec<u8>>), StoreError> {
        let seen = self.read(key)?;
        Ok((
            KvCas {
                key: key.to_owned(),
                seen: seen.clone(),
            },
            seen,
        ))
    }
    async fn swap(&self, cas: KvCas, value: &[u8]) -> Result<Swap, StoreError> {
        // Spin's semantics: conditional on an existing key, an upsert on an absent one.
        if cas.seen.is_some() && self.read(&cas.key)? != cas.seen {
            return Ok(Swap::Unconfirmed);
        }
        self.write(&cas.key, Some(value.to_vec()));
        Ok(Swap::Done)
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.read(k)).collect()
    }
    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        for k in keys {
            self.write(k, None);
        }
        Ok(())
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in pairs {
            self.write(k, Some(v.clone()));
        }
        Ok(())
    }
}

/// Runs a future that never waits on anything external (every [`Store`] here answers
/// synchronously) to completion on the current thread.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_host::kv::SqliteBackend;

    #[test]
    fn has_spins_semantics() {
        let backend: Arc<dyn KvBackend> = Arc::new(SqliteBackend::open(None).unwrap());
        let s = KvStore::new(backend, "default");
        block_on(async {
            let (a, seen) = s.cas("k").await.unwrap();
            assert_eq!(seen, None);
            let (b, _) = s.cas("k").await.unwrap();
            assert_eq!(s.swap(a, b"a").await.unwrap(), Swap::Done);
            // Absent at `cas` time: an upsert, as in Spin.
            assert_eq!(s.swap(b, b"b").await.unwrap(), Swap::Done);
            let (c, _) = s.cas("k").await.unwrap();
            let (d, _) = s.cas("k").await.unwrap();
            assert_eq!(s.swap(c, b"c").await.unwrap(), Swap::Done);
            assert_eq!(s.swap(d, b"d").await.unwrap(), Swap::Unconfirmed);
            assert_eq!(s.increment("n", 2).await.unwrap(), 2);
            assert_eq!(
                s.get_many(&["n".into(), "zz".into(), "k".into()])
                    .await
                    .unwrap(),
                vec![Some(2i64.to_le_bytes().to_vec()), None, Some(b"c".to_vec())]
            );
            assert_eq!(
                s.get_many(&[]).await.unwrap(),
                Vec::<Option<Vec<u8>>>::new()
            );
        });
        assert_eq!(s.calls(), 10);
    }
}
