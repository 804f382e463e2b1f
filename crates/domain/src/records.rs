//! JSON records over the [`Store`]: decode, encode and conditional update.
//!
//! A conditional write ([`swap`], [`update`]) stamps the record with a member `"_w"`
//! holding 64 random bits, so the bytes it writes are its own: reading them back proves
//! the write landed, on backends whose swap reports nothing useful (Spin's Redis store;
//! docs/storage.md). Decoders ignore the member; unconditional writes leave it out.

use crate::error::DomainError;
use crate::store::{Store, swap_checked};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many times a conditional update re-reads and retries after losing a race.
pub const CAS_ATTEMPTS: usize = 64;

/// Decodes the record stored at `key`.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, DomainError> {
    serde_json::from_slice(bytes).map_err(|e| DomainError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Encodes a record. Our records are plain data (no maps with non-string keys), so
/// encoding cannot fail; a failure would be a programming error reported as corrupt.
pub fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, DomainError> {
    serde_json::to_vec(value).map_err(|e| DomainError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads and decodes the record at `key`.
pub async fn read<S: Store, T: DeserializeOwned>(
    store: &S,
    key: &str,
) -> Result<Option<T>, DomainError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

/// Encodes and writes the record at `key` unconditionally.
pub async fn write<S: Store, T: Serialize>(
    store: &S,
    key: &str,
    value: &T,
) -> Result<(), DomainError> {
    store.set(key, &encode(key, value)?).await?;
    Ok(())
}

/// Reads a counter written by [`Store::increment`] on any backend (0 when absent or not
/// an integer). A plain read: `increment(key, 0)` would be a write in Spin's SQLite store.
pub async fn read_counter<S: Store>(store: &S, key: &str) -> Result<i64, DomainError> {
    Ok(store
        .get(key)
        .await?
        .as_deref()
        .and_then(crate::store::decode_counter)
        .unwrap_or(0))
}

/// `json` (an encoded object) with a `"_w"` member of 64 random bits added, so that no
/// other writer's bytes can equal it.
fn stamp(mut json: Vec<u8>) -> Vec<u8> {
    let nonce = hex::encode(crate::ids::random_bytes::<8>());
    match json.pop() {
        Some(b'}') => {
            if json.len() > 1 {
                json.push(b',');
            }
            json.extend_from_slice(format!("\"_w\":\"{nonce}\"}}").as_bytes());
            json
        }
        // Not an object: written as it is (no record of ours is anything else).
        Some(other) => {
            json.push(other);
            json
        }
        None => json,
    }
}

/// Writes `value` at `key` if the key still holds what `cas` read, and tells whether it
/// did, on every backend ([`swap_checked`] over a stamped encoding).
pub async fn swap<S: Store, T: Serialize>(
    store: &S,
    key: &str,
    cas: S::Cas,
    value: &T,
) -> Result<bool, DomainError> {
    let bytes = stamp(encode(key, value)?);
    Ok(swap_checked(store, key, cas, &bytes).await?)
}

/// The result of [`update`].
#[derive(Debug)]
pub enum Updated<T> {
    /// The record was absent; nothing was written.
    Missing,
    /// `change` declined (returned `Ok(false)`); the record as read.
    Unchanged(T),
    /// The record as written.
    Written(T),
}

/// Conditionally updates an existing record: reads it, applies `change`, and swaps the
/// result in only if nobody wrote in between, retrying on a lost race. Never creates a
/// record (a swap on an absent key would be an unconditional upsert).
pub async fn update<S, T, E>(
    store: &S,
    key: &str,
    mut change: impl FnMut(&mut T) -> Result<bool, E>,
) -> Result<Updated<T>, E>
where
    S: Store,
    T: Serialize + DeserializeOwned,
    E: From<DomainError>,
{
    // One compiled loop per record type, whatever the closure: keeps the components
    // that embed many updates small.
    update_dyn(store, key, &mut change).await
}

async fn update_dyn<S, T, E>(
    store: &S,
    key: &str,
    change: &mut dyn FnMut(&mut T) -> Result<bool, E>,
) -> Result<Updated<T>, E>
where
    S: Store,
    T: Serialize + DeserializeOwned,
    E: From<DomainError>,
{
    for _ in 0..CAS_ATTEMPTS {
        let (cas, current) = store.cas(key).await.map_err(DomainError::from)?;
        let Some(bytes) = current else {
            return Ok(Updated::Missing);
        };
        let mut value: T = decode(key, &bytes)?;
        if !change(&mut value)? {
            return Ok(Updated::Unchanged(value));
        }
        if swap(store, key, cas, &value).await? {
            return Ok(Updated::Written(value));
        }
    }
    Err(DomainError::Store(crate::store::StoreError::new(format!(
        "too much contention updating {key}"
    )))
    .into())
}
