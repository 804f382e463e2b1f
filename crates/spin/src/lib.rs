//! roster-spin: runs roster-api endpoints inside Spin components.
//!
//! - [`SpinStore`]: the [`Store`] port over the host's key-value store: get, set,
//!   delete and exists through `spin:key-value@3.0.0`; increment, compare-and-swap
//!   and batch reads/deletes through `wasi:keyvalue@0.2.0-draft2` (atomics, batch).
//! - [`serve`]: turns a Spin HTTP request into an [`ApiRequest`] (path parameters from
//!   Spin's `spin-path-match-*` headers, the body read up to
//!   [`roster_api::MAX_BODY_BYTES`]), runs the endpoint, and returns its response.
//!
//! A component is then one line: `roster_spin::serve::<roster_api::mdm::User>(req).await`.

#![deny(missing_docs)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use roster_api::{ApiRequest, Body, Ctx, Endpoint};
use roster_domain::{Store, StoreError, Swap, Timestamp};
use spin_sdk::experimental::wasi::keyvalue::{atomics, batch, store as wasi_store};
use spin_sdk::http::Request;

/// The label of the one store Roster uses (granted in spin.toml).
pub const STORE_LABEL: &str = "default";

/// The name of the application variable holding the global admin token.
pub const ADMIN_TOKEN_VARIABLE: &str = "admin_token";

/// The [`Store`] port over Spin's key-value store. If opening the store failed, every
/// operation reports that failure, so the surface answers it in its own envelope.
pub struct SpinStore {
    opened: Result<(spin_sdk::key_value::Store, wasi_store::Bucket), StoreError>,
}

fn kv_error(e: impl std::fmt::Debug) -> StoreError {
    StoreError::new(format!("{e:?}"))
}

impl SpinStore {
    /// Opens the [`STORE_LABEL`] store through both interfaces.
    pub async fn open() -> Self {
        let kv = spin_sdk::key_value::Store::open(STORE_LABEL)
            .await
            .map_err(kv_error);
        let opened = kv.and_then(|kv| {
            wasi_store::open(STORE_LABEL)
                .map(|bucket| (kv, bucket))
                .map_err(kv_error)
        });
        Self { opened }
    }

    fn kv(&self) -> Result<&spin_sdk::key_value::Store, StoreError> {
        self.opened.as_ref().map(|(kv, _)| kv).map_err(Clone::clone)
    }

    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        self.opened.as_ref().map(|(_, b)| b).map_err(Clone::clone)
    }
}

impl Store for SpinStore {
    type Cas = atomics::Cas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv()?.get(key).await.map_err(kv_error)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv()?.set(key, value).await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv()?.delete(key).await.map_err(kv_error)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.kv()?.exists(key).await.map_err(kv_error)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, delta).map_err(kv_error)
    }

    async fn cas(&self, key: &str) -> Result<(atomics::Cas, Option<Vec<u8>>), StoreError> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(kv_error)?;
        let current = cas.current().map_err(kv_error)?;
        Ok((cas, current))
    }

    async fn swap(&self, cas: atomics::Cas, value: &[u8]) -> Result<Swap, StoreError> {
        match atomics::swap(cas, value) {
            Ok(()) => Ok(Swap::Done),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::Conflict),
            Err(atomics::CasError::StoreError(e)) => Err(kv_error(e)),
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found = batch::get_many(self.bucket()?, keys).map_err(kv_error)?;
        Ok(roster_domain::store::in_key_order(keys, found))
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        batch::delete_many(self.bucket()?, keys).map_err(kv_error)
    }
}

/// Serves one request with endpoint `E`.
pub async fn serve<E: Endpoint>(req: Request) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let params = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix("spin-path-match-")?;
            Some((name.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let body = match Limited::new(body, roster_api::MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Body::Bytes(collected.to_bytes().to_vec()),
        Err(_) => Body::TooLarge,
    };
    let api_req = ApiRequest {
        method: parts.method,
        params,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let store = SpinStore::open().await;
    let ctx = Ctx::new(
        spin_sdk::variables::get(ADMIN_TOKEN_VARIABLE).await.ok(),
        Timestamp::now(),
    );
    ctx.finish(E::handle(&api_req, &store, &ctx).await)
        .map(|b| Full::new(Bytes::from(b)))
}
