//! The lists of dependents' ids a record keeps: a user's devices, enrollment tokens,
//! outbox messages, owned API tokens and subscriptions
//! ([`crate::users::dependent_lists`]), and a group's members.
//!
//! A list is created with its user, so every change to it is a conditional swap. A
//! removal *closes* the list (one swap) before purging what it names: an enrollment
//! racing with the removal then fails to append instead of leaving an orphan behind.

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::records::{self, Updated};
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// A user's list of dependent ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependentList {
    /// Set by a removal: nothing may be appended any more.
    #[serde(default)]
    pub closed: bool,
    /// The dependents' ids, oldest first.
    pub ids: Vec<ObjectId>,
}

/// The result of [`append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The id is in the list.
    Yes,
    /// The list is missing or closed: its user is gone or being removed.
    UserGone,
}

/// Writes an empty list at `key` (for a new user).
pub async fn create<S: Store>(store: &S, key: &str) -> Result<(), DomainError> {
    records::write(store, key, &DependentList::default()).await
}

/// Appends `id` to the open list at `key`.
pub async fn append<S: Store>(
    store: &S,
    key: &str,
    id: &ObjectId,
) -> Result<Appended, DomainError> {
    let updated = records::update(store, key, |list: &mut DependentList| {
        if list.closed {
            return Ok::<_, DomainError>(false);
        }
        if !list.ids.contains(id) {
            list.ids.push(id.clone());
        }
        Ok(true)
    })
    .await?;
    Ok(match updated {
        Updated::Written(_) => Appended::Yes,
        Updated::Missing | Updated::Unchanged(_) => Appended::UserGone,
    })
}

/// Attaches a new dependent to its user: writes its record at `record_key`, then
/// appends `id` to the user's list at `list_key` (record first, so a list never names a
/// record that was not written). A closed or missing list means the user is gone or
/// being removed: the record is deleted again and the answer is `NotFound` (user); any
/// other failure deletes it too, as far as the store allows.
pub async fn attach<S: Store, T: serde::Serialize>(
    store: &S,
    record_key: &str,
    record: &T,
    list_key: &str,
    id: &ObjectId,
) -> Result<(), DomainError> {
    records::write(store, record_key, record).await?;
    match append(store, list_key, id).await {
        Ok(Appended::Yes) => Ok(()),
        Ok(Appended::UserGone) => {
            store.delete(record_key).await?;
            Err(DomainError::NotFound {
                entity: crate::error::Entity::User,
            })
        }
        Err(e) => {
            let _ = store.delete(record_key).await;
            Err(e)
        }
    }
}

/// Whether the list at `key` exists and is not closed: its user is not being removed
/// (nor gone).
pub async fn is_open<S: Store>(store: &S, key: &str) -> Result<bool, DomainError> {
    Ok(records::read::<S, DependentList>(store, key)
        .await?
        .is_some_and(|l| !l.closed))
}

/// Removes `id` from the list at `key` (idempotent; closed lists too).
pub async fn remove<S: Store>(store: &S, key: &str, id: &ObjectId) -> Result<(), DomainError> {
    records::update(store, key, |list: &mut DependentList| {
        let before = list.ids.len();
        list.ids.retain(|x| x != id);
        Ok::<_, DomainError>(list.ids.len() != before)
    })
    .await?;
    Ok(())
}

/// Closes the list at `key` and returns the ids it holds (empty when missing).
pub async fn close<S: Store>(store: &S, key: &str) -> Result<Vec<ObjectId>, DomainError> {
    let updated = records::update(store, key, |list: &mut DependentList| {
        let changed = !list.closed;
        list.closed = true;
        Ok::<_, DomainError>(changed)
    })
    .await?;
    Ok(match updated {
        Updated::Missing => Vec::new(),
        Updated::Unchanged(list) | Updated::Written(list) => list.ids,
    })
}

/// The ids in the list at `key` (empty when missing).
pub async fn read<S: Store>(store: &S, key: &str) -> Result<Vec<ObjectId>, DomainError> {
    Ok(records::read::<S, DependentList>(store, key)
        .await?
        .map(|l| l.ids)
        .unwrap_or_default())
}

/// Reads the records named by `ids` (in batches of `keys_of`), skipping ids whose
/// record is gone.
pub async fn load<S: Store, T: serde::de::DeserializeOwned>(
    store: &S,
    ids: &[ObjectId],
    key_of: impl Fn(&ObjectId) -> String,
) -> Result<Vec<T>, DomainError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        let keys: Vec<String> = chunk.iter().map(&key_of).collect();
        let values = store.get_many(&keys).await?;
        for (key, value) in keys.iter().zip(values) {
            if let Some(bytes) = value {
                out.push(records::decode(key, &bytes)?);
            }
        }
    }
    Ok(out)
}
