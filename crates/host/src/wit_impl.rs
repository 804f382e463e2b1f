//! Implementations of the `fermyon:spin/key-value@2.0.0`, `fermyon:spin/variables@2.0.0`,
//! `spin:key-value@3.0.0`, `spin:variables@3.0.0` and `wasi:keyvalue@0.2.0-draft2` imports,
//! as Spin's `factor-key-value` and `factor-variables` implement them.
//!
//! Errors map as in Spin: `open` answers `access-denied` for a label the component does not
//! list (checked first), `no-such-store` for a listed label no configuration defines, and
//! `store-table-full` (`other("store table full")` on `wasi:keyvalue`) when the instance's
//! table is full; a backend failure is `other(<message>)`.

use crate::Shared;
use crate::bindings::fermyon::spin::key_value as spin2_kv;
use crate::bindings::fermyon::spin::variables as spin2_vars;
use crate::bindings::spin::key_value::key_value as spin_kv;
use crate::bindings::spin::variables::variables as spin_vars;
use crate::bindings::wasi::keyvalue::{atomics as w_atomics, batch as w_batch, store as w_store};
use crate::faults::Fault;
use crate::kv::{CasState, KvError, OpenStore, SwapError};
use crate::variables::GetError;
use std::collections::HashSet;
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

/// Per-instance state of the key-value and variables imports.
pub(crate) struct KvCtx {
    pub(crate) table: ResourceTable,
    pub(crate) component: Arc<str>,
    pub(crate) allowed: Arc<HashSet<String>>,
    pub(crate) shared: Arc<Shared>,
}

/// [`HasData`] marker whose data is the instance's [`KvCtx`].
pub(crate) struct KvData;

impl HasData for KvData {
    type Data<'a> = &'a mut KvCtx;
}

/// An error of any of the key-value interfaces, before conversion to the WIT type.
enum E {
    StoreTableFull,
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl From<KvError> for E {
    fn from(e: KvError) -> Self {
        E::Other(e.0)
    }
}

impl From<E> for spin2_kv::Error {
    fn from(e: E) -> Self {
        match e {
            E::StoreTableFull => Self::StoreTableFull,
            E::NoSuchStore => Self::NoSuchStore,
            E::AccessDenied => Self::AccessDenied,
            E::Other(m) => Self::Other(m),
        }
    }
}

impl From<E> for spin_kv::Error {
    fn from(e: E) -> Self {
        match e {
            E::StoreTableFull => Self::StoreTableFull,
            E::NoSuchStore => Self::NoSuchStore,
            E::AccessDenied => Self::AccessDenied,
            E::Other(m) => Self::Other(m),
        }
    }
}

impl From<E> for w_store::Error {
    fn from(e: E) -> Self {
        match e {
            E::StoreTableFull => Self::Other("store table full".to_owned()),
            E::NoSuchStore => Self::NoSuchStore,
            E::AccessDenied => Self::AccessDenied,
            E::Other(m) => Self::Other(m),
        }
    }
}

type Call<T> = wasmtime::Result<Result<T, E>>;

fn conv<T, W: From<E>>(r: Call<T>) -> wasmtime::Result<Result<T, W>> {
    r.map(|r| r.map_err(W::from))
}

impl KvCtx {
    /// Counts the call and applies any injected fault, then runs `f`.
    fn call<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Call<T> {
        match self.shared.faults.next() {
            Fault::Trap => Err(wasmtime::Error::msg("injected trap")),
            Fault::Fail => Ok(Err(E::Other("injected fault".to_owned()))),
            Fault::None => Ok(f(self)),
        }
    }

    fn open(&mut self, label: String) -> Result<Resource<OpenStore>, E> {
        // Spin checks the component's allowed labels first, then whether the store is defined.
        if !self.allowed.contains(&label) {
            return Err(E::AccessDenied);
        }
        let backend = self
            .shared
            .stores
            .backend(&label)
            .ok_or(E::NoSuchStore)?
            .clone();
        self.table
            .push(OpenStore { label, backend })
            .map_err(|_| E::StoreTableFull)
    }

    /// One counted call (faults applied) on the backend of an open store: the body of
    /// every key-value operation, whichever interface version asked for it.
    fn on_store<T>(
        &mut self,
        r: &Resource<OpenStore>,
        f: impl FnOnce(&OpenStore) -> Result<T, KvError>,
    ) -> Call<T> {
        self.call(|c| Ok(f(&c.store(r)?)?))
    }

    fn store(&self, r: &Resource<OpenStore>) -> Result<OpenStore, E> {
        self.table
            .get(r)
            .cloned()
            .map_err(|_| E::Other("invalid store handle".to_owned()))
    }

    fn cas_mut(&mut self, r: &Resource<CasState>) -> Result<&mut CasState, E> {
        self.table
            .get_mut(r)
            .map_err(|_| E::Other("compare and swap not found".to_owned()))
    }

    fn new_cas(
        &mut self,
        bucket: &Resource<OpenStore>,
        key: String,
    ) -> Result<Resource<CasState>, E> {
        let store = self.store(bucket)?;
        let cas = new_cas_state(store, key)?;
        self.table
            .push(cas)
            .map_err(|_| E::Other("too many compare_and_swaps opened".to_owned()))
    }
}

// ---- fermyon:spin/key-value@2.0.0 -----------------------------------------------------

impl spin2_kv::Host for KvCtx {}

impl spin2_kv::HostStore for KvCtx {
    fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, spin2_kv::Error>> {
        conv(self.call(|c| c.open(label)))
    }

    fn get(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin2_kv::Error>> {
        conv(self.on_store(&self_, |s| s.backend.get(&s.label, &key)))
    }

    fn set(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin2_kv::Error>> {
        conv(self.on_store(&self_, |s| s.backend.set(&s.label, &key, &value)))
    }

    fn delete(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin2_kv::Error>> {
        conv(self.on_store(&self_, |s| s.backend.delete(&s.label, &key)))
    }

    fn exists(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin2_kv::Error>> {
        conv(self.on_store(&self_, |s| s.backend.exists(&s.label, &key)))
    }

    fn get_keys(
        &mut self,
        self_: Resource<OpenStore>,
    ) -> wasmtime::Result<Result<Vec<String>, spin2_kv::Error>> {
        conv(self.on_store(&self_, |s| s.backend.keys(&s.label)))
    }

    fn drop(&mut self, rep: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

// ---- fermyon:spin/variables@2.0.0 -----------------------------------------------------

impl spin2_vars::Host for KvCtx {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, spin2_vars::Error>> {
        Ok(self
            .shared
            .variables
            .get(&self.component, &name)
            .map_err(|e| match e {
                GetError::InvalidName(m) => spin2_vars::Error::InvalidName(m),
                GetError::Undefined(m) => spin2_vars::Error::Undefined(m),
            }))
    }
}

// ---- spin:key-value@3.0.0 -------------------------------------------------------------

impl spin_kv::Host for KvCtx {}

impl spin_kv::HostStore for KvCtx {
    fn drop(&mut self, rep: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl<T: Send> spin_kv::HostStoreWithStore<T> for KvData {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, spin_kv::Error>> {
        conv(accessor.with(|mut a| a.get().call(|c| c.open(label))))
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        conv(accessor.with(|mut a| a.get().on_store(&self_, |s| s.backend.get(&s.label, &key))))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        conv(accessor.with(|mut a| {
            a.get()
                .on_store(&self_, |s| s.backend.set(&s.label, &key, &value))
        }))
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        conv(accessor.with(|mut a| {
            a.get()
                .on_store(&self_, |s| s.backend.delete(&s.label, &key))
        }))
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        conv(accessor.with(|mut a| {
            a.get()
                .on_store(&self_, |s| s.backend.exists(&s.label, &key))
        }))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
    ) -> wasmtime::Result<(
        StreamReader<String>,
        FutureReader<Result<(), spin_kv::Error>>,
    )> {
        accessor.with(|mut a| {
            let res = a.get().call(|c| {
                let s = c.store(&self_)?;
                Ok(s.backend.keys(&s.label)?)
            })?;
            let (keys, result) = match res {
                Ok(keys) => (keys, Ok(())),
                Err(e) => (Vec::new(), Err(spin_kv::Error::from(e))),
            };
            let stream = StreamReader::new(&mut a, keys)?;
            let future =
                FutureReader::new(&mut a, std::future::ready(Ok::<_, wasmtime::Error>(result)))?;
            Ok((stream, future))
        })
    }
}

// ---- spin:variables@3.0.0 -------------------------------------------------------------

impl spin_vars::Host for KvCtx {}

impl<T: Send> spin_vars::HostWithStore<T> for KvData {
    async fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, spin_vars::Error>> {
        Ok(accessor.with(|mut a| {
            let c = a.get();
            c.shared
                .variables
                .get(&c.component, &name)
                .map_err(|e| match e {
                    GetError::InvalidName(m) => spin_vars::Error::InvalidName(m),
                    GetError::Undefined(m) => spin_vars::Error::Undefined(m),
                })
        }))
    }
}

// ---- wasi:keyvalue@0.2.0-draft2 -------------------------------------------------------

impl w_store::Host for KvCtx {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, w_store::Error>> {
        conv(self.call(|c| c.open(identifier)))
    }
}

impl w_store::HostBucket for KvCtx {
    fn get(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, w_store::Error>> {
        conv(self.on_store(&self_, |s| s.backend.get(&s.label, &key)))
    }

    fn set(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), w_store::Error>> {
        conv(self.on_store(&self_, |s| s.backend.set(&s.label, &key, &value)))
    }

    fn delete(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), w_store::Error>> {
        conv(self.on_store(&self_, |s| s.backend.delete(&s.label, &key)))
    }

    fn exists(
        &mut self,
        self_: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, w_store::Error>> {
        conv(self.on_store(&self_, |s| s.backend.exists(&s.label, &key)))
    }

    fn list_keys(
        &mut self,
        self_: Resource<OpenStore>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<w_store::KeyResponse, w_store::Error>> {
        conv(self.call(|c| {
            if cursor.is_some() {
                return Err(E::Other("list_keys: cursor not supported".to_owned()));
            }
            let s = c.store(&self_)?;
            let keys = s.backend.keys(&s.label)?;
            Ok(w_store::KeyResponse { keys, cursor: None })
        }))
    }

    fn drop(&mut self, rep: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl w_batch::Host for KvCtx {
    fn get_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, w_store::Error>> {
        conv(self.call(|c| {
            let s = c.store(&bucket)?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            Ok(s.backend.get_many(&s.label, &keys)?)
        }))
    }

    fn set_many(
        &mut self,
        bucket: Resource<OpenStore>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), w_store::Error>> {
        conv(self.call(|c| {
            let s = c.store(&bucket)?;
            if key_values.is_empty() {
                return Ok(());
            }
            Ok(s.backend.set_many(&s.label, &key_values)?)
        }))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), w_store::Error>> {
        conv(self.call(|c| {
            let s = c.store(&bucket)?;
            if keys.is_empty() {
                return Ok(());
            }
            Ok(s.backend.delete_many(&s.label, &keys)?)
        }))
    }
}

impl w_atomics::HostCas for KvCtx {
    fn new(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<CasState>, w_store::Error>> {
        conv(self.call(|c| c.new_cas(&bucket, key)))
    }

    fn current(
        &mut self,
        self_: Resource<CasState>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, w_store::Error>> {
        conv(self.call(|c| {
            let cas = c.cas_mut(&self_)?;
            cas_current(cas)
        }))
    }

    fn drop(&mut self, rep: Resource<CasState>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl w_atomics::Host for KvCtx {
    fn increment(
        &mut self,
        bucket: Resource<OpenStore>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, w_store::Error>> {
        conv(self.call(|c| {
            let s = c.store(&bucket)?;
            Ok(s.backend.increment(&s.label, &key, delta)?)
        }))
    }

    fn swap(
        &mut self,
        cas: Resource<CasState>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), w_atomics::CasError>> {
        let r = self.call(|c| {
            let mut state = c
                .table
                .delete(cas)
                .map_err(|_| E::Other("compare and swap not found".to_owned()))?;
            let swapped = match &mut state.own {
                Some(own) => match own.swap(&value) {
                    Ok(()) => true,
                    Err(SwapError::CasFailed(_)) => false,
                    Err(SwapError::Other(m)) => return Err(E::Other(m)),
                },
                None => {
                    let s = &state.store;
                    s.backend
                        .swap(&s.label, &state.key, state.seen.as_deref(), &value)?
                }
            };
            Ok((swapped, state))
        })?;
        Ok(match r {
            Err(e) => Err(w_atomics::CasError::StoreError(e.into())),
            Ok((true, _)) => Ok(()),
            Ok((false, state)) => {
                // As Spin: hand back a fresh compare-and-swap that has already called
                // `current()` (on Redis: a new connection, WATCH, GET).
                let fresh = (|| -> Result<Resource<CasState>, E> {
                    let mut cas = new_cas_state(state.store.clone(), state.key.clone())?;
                    cas_current(&mut cas)?;
                    self.table
                        .push(cas)
                        .map_err(|_| E::Other("too many compare_and_swaps opened".to_owned()))
                })();
                match fresh {
                    Ok(res) => Err(w_atomics::CasError::CasFailed(res)),
                    Err(e) => Err(w_atomics::CasError::StoreError(e.into())),
                }
            }
        })
    }
}

fn new_cas_state(store: OpenStore, key: String) -> Result<CasState, E> {
    let own = store.backend.new_cas(&store.label, &key)?;
    Ok(CasState {
        store,
        key,
        seen: None,
        own,
    })
}

/// `current()`: the backend's own protocol, or Spin's SQLite one (read and remember).
fn cas_current(cas: &mut CasState) -> Result<Option<Vec<u8>>, E> {
    if let Some(own) = &mut cas.own {
        return Ok(own.current()?);
    }
    let value = cas.store.backend.get(&cas.store.label, &cas.key)?;
    cas.seen.clone_from(&value);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{KvBackend, KvStores, MemoryBackend};

    #[test]
    fn open_checks_access_before_definition() {
        let backend: Arc<dyn KvBackend> = Arc::new(MemoryBackend::default());
        let shared = Arc::new(Shared {
            stores: KvStores::from_backends([("default".to_owned(), backend)]),
            faults: crate::Faults::default(),
            variables: crate::variables::Variables::default(),
        });
        let mut c = KvCtx {
            table: ResourceTable::new(),
            component: "c".into(),
            allowed: Arc::new(["default".to_owned(), "ghost".to_owned()].into()),
            shared,
        };
        assert!(matches!(c.open("ghost".into()), Err(E::NoSuchStore)));
        assert!(matches!(c.open("nope".into()), Err(E::AccessDenied)));
        assert!(c.open("default".into()).is_ok());
    }
}
