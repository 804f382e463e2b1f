//! The cross-organization identity index: for a person's email, every organization
//! (Dynatrace account) where a user has that email. Seed 002 removes a person from one
//! account and removes the person entirely with the last one; its answers list the
//! person's accounts.
//!
//! The index key is `identity/email/{digest}`; it is created as the integer 0 by an
//! atomic `increment(key, 0)` (so every later compare-and-swap on it is conditional,
//! never Spin's SQLite upsert on an absent key), then holds JSON written by
//! [`records::swap`], which confirms each write on every backend. It is never deleted (an
//! emptied index holds `{"members":[]}`): a delete racing an append could lose the
//! append. Readers re-check each membership against the user record, so an entry left
//! by a stop half-way (an email change, a create that failed) is never believed.

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use roster_lowercase::Lowercase as _;
use serde::{Deserialize, Serialize};

/// One organization's user with the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization in which the person is a user.
    pub org: ObjectId,
    /// The user there.
    pub user: ObjectId,
    /// When the user joined.
    pub since: Timestamp,
}

/// The value at an identity key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memberships {
    /// Oldest first: the first is the person's owner account.
    pub members: Vec<Membership>,
}

/// The identity key of an email (folded to lowercase).
pub fn key_of(email: &str) -> String {
    keys::identity(&keys::digest(keys::IDENTITY_SALT, &email.lowercase()))
}

fn decode(key: &str, bytes: &[u8]) -> Result<Memberships, DomainError> {
    if crate::store::decode_counter(bytes) == Some(0) {
        return Ok(Memberships::default());
    }
    records::decode(key, bytes)
}

async fn change<S: Store>(
    store: &S,
    key: &str,
    mut f: impl FnMut(&mut Memberships) -> bool,
) -> Result<(), DomainError> {
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(key).await?;
        let Some(bytes) = current else {
            // Create the key as 8 zero bytes; an integer already there (or JSON written
            // by a racer, which makes increment fail) is fine either way.
            let _ = store.increment(key, 0).await;
            continue;
        };
        let mut m = decode(key, &bytes)?;
        if !f(&mut m) {
            return Ok(());
        }
        if records::swap(store, key, cas, &m).await? {
            return Ok(());
        }
    }
    Err(crate::store::StoreError::new(format!("too much contention updating {key}")).into())
}

/// Records that `user` of `org` has `email` (idempotent).
pub async fn join<S: Store>(
    store: &S,
    email: &str,
    org: &ObjectId,
    user: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    change(store, &key_of(email), |m| {
        if m.members.iter().any(|x| &x.org == org && &x.user == user) {
            return false;
        }
        m.members.push(Membership {
            org: org.clone(),
            user: user.clone(),
            since: now,
        });
        true
    })
    .await
}

/// Records that `user` of `org` no longer has `email` (idempotent).
pub async fn leave<S: Store>(
    store: &S,
    email: &str,
    org: &ObjectId,
    user: &ObjectId,
) -> Result<(), DomainError> {
    let key = key_of(email);
    if store.get(&key).await?.is_none() {
        return Ok(());
    }
    change(store, &key, |m| {
        let before = m.members.len();
        m.members.retain(|x| !(&x.org == org && &x.user == user));
        m.members.len() != before
    })
    .await
}

/// The memberships recorded for `email`, oldest first (not yet re-checked).
pub async fn memberships<S: Store>(store: &S, email: &str) -> Result<Memberships, DomainError> {
    let key = key_of(email);
    match store.get(&key).await? {
        None => Ok(Memberships::default()),
        Some(bytes) => decode(&key, &bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use futures::executor::block_on;

    #[test]
    fn join_and_leave_are_idempotent_and_case_insensitive() {
        let s = MemoryStore::from_env();
        let now = Timestamp(1_795_331_760_000);
        let (o1, o2) = (ObjectId::generate(now), ObjectId::generate(now));
        let (u1, u2) = (ObjectId::generate(now), ObjectId::generate(now));
        block_on(async {
            join(&s, "Kim@Example.com", &o1, &u1, now).await.unwrap();
            join(&s, "kim@example.com", &o1, &u1, now).await.unwrap();
            join(&s, "kim@example.com", &o2, &u2, now).await.unwrap();
            let m = memberships(&s, "KIM@example.com").await.unwrap();
            assert_eq!(m.members.len(), 2);
            assert_eq!(m.members[0].org, o1);
            leave(&s, "kim@example.com", &o1, &u1).await.unwrap();
            leave(&s, "kim@example.com", &o1, &u1).await.unwrap();
            let m = memberships(&s, "kim@example.com").await.unwrap();
            assert_eq!(m.members.len(), 1);
            assert_eq!(m.members[0].org, o2);
            leave(&s, "nobody@example.com", &o1, &u1).await.unwrap();
            assert!(s.snapshot().keys().all(|k| !k.contains("kim")));
        });
    }
}
