//! Users: create (username and email unique per organization under concurrency) and get.

use crate::claims::{self, Claim};
use crate::count;
use crate::dependents;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, Email, ObjectId, Username};
use crate::keys;
use crate::model::{IdentitySource, Organization, User, UserStatus};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A claim whose index entry has no user record after this long is abandoned (its
/// creator stopped half-way) and may be taken over.
pub const ABANDONED_CLAIM_MS: i64 = 30_000;

/// A user index entry: `o/{org}/users/seq/{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The user id.
    pub id: ObjectId,
    /// When the entry was written.
    pub at: Timestamp,
}

/// A validated request to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique username.
    pub username: Username,
    /// Unique email.
    pub email: Email,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Where the record is mastered.
    pub source: IdentitySource,
}

impl NewUser {
    /// Validates the raw fields (names are optional, empty when absent).
    pub fn parse(
        username: &str,
        email: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            username: Username::parse("username", username)?,
            email: Email::parse("email", email)?,
            first_name: ids::text("firstName", first_name.unwrap_or(""), ids::MAX_TEXT_LEN)?,
            last_name: ids::text("lastName", last_name.unwrap_or(""), ids::MAX_TEXT_LEN)?,
            source: IdentitySource::Local,
        })
    }
}

/// The claim keys of a user's username and email.
pub fn claim_keys(org: &Organization, username: &str, email: &str) -> (String, String) {
    (
        keys::username_claim(
            &org.id,
            &keys::digest(&org.salt, &username.to_ascii_lowercase()),
        ),
        keys::email_claim(
            &org.id,
            &keys::digest(&org.salt, &email.to_ascii_lowercase()),
        ),
    )
}

/// Whether the claim held by sequence number `holder` was abandoned by a create that
/// stopped half-way.
async fn abandoned<S: Store>(
    store: &S,
    org: &Organization,
    holder: i64,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let entry: Option<IndexEntry> = records::read(store, &keys::user_seq(&org.id, holder)).await?;
    match entry {
        None => Ok(true),
        Some(e) => {
            if store.exists(&keys::user(&org.id, &e.id)).await? {
                Ok(false)
            } else {
                Ok(now.0 - e.at.0 > ABANDONED_CLAIM_MS)
            }
        }
    }
}

async fn claim<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
    seq: i64,
    now: Timestamp,
) -> Result<bool, DomainError> {
    match claims::try_claim(store, key, seq).await? {
        Claim::Won => Ok(true),
        Claim::Held(holder) => Ok(abandoned(store, org, holder, now).await?
            && claims::take_over(store, key, holder, seq).await?),
    }
}

/// Creates a user. Of concurrent creates with the same username (or email, compared
/// case-insensitively) exactly one succeeds; the others get [`DomainError::Conflict`].
/// On failure everything written is rolled back as far as the store allows; what a
/// crash leaves (an index entry without a user) is reclaimed after
/// [`ABANDONED_CLAIM_MS`].
pub async fn create<S: Store>(
    store: &S,
    org: &Organization,
    new: NewUser,
    now: Timestamp,
) -> Result<User, DomainError> {
    let seq = store.increment(&keys::user_seq_counter(&org.id), 1).await?;
    let id = ObjectId::generate(now);
    let entry_key = keys::user_seq(&org.id, seq);
    records::write(
        store,
        &entry_key,
        &IndexEntry {
            id: id.clone(),
            at: now,
        },
    )
    .await?;
    let (name_key, email_key) = claim_keys(org, new.username.as_str(), new.email.as_str());
    let user = User {
        id: id.clone(),
        uuid: ids::uuid_v4(),
        org_id: org.id.clone(),
        seq,
        username: new.username.as_str().to_owned(),
        email: new.email.as_str().to_owned(),
        first_name: new.first_name,
        last_name: new.last_name,
        status: UserStatus::Active,
        source: new.source,
        groups: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 1,
        removal: None,
    };
    let result = async {
        if !claim(store, org, &name_key, seq, now).await? {
            return Err(DomainError::Conflict { field: "username" });
        }
        if !claim(store, org, &email_key, seq, now).await? {
            return Err(DomainError::Conflict { field: "email" });
        }
        dependents::create(store, &keys::user_devices(&org.id, &id)).await?;
        dependents::create(store, &keys::user_tokens(&org.id, &id)).await?;
        records::write(store, &keys::user(&org.id, &id), &user).await?;
        count::apply(store, &org.id, &format!("+{id}"), 1).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(user),
        Err(e) => {
            // Best effort: a failure here leaves an abandoned claim that is reclaimed later.
            let _ = rollback(store, org, &user, &name_key, &email_key).await;
            Err(e)
        }
    }
}

async fn rollback<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    name_key: &str,
    email_key: &str,
) -> Result<(), DomainError> {
    // Undo in reverse order of creation; every step is idempotent. When the record
    // was written the count step may have applied: applying "+id" again is a no-op if
    // it did, so "+id" then "-id" nets the count to zero either way.
    if store.exists(&keys::user(&org.id, &user.id)).await? {
        count::apply(store, &org.id, &format!("+{}", user.id), 1).await?;
        count::apply(store, &org.id, &format!("-{}", user.id), -1).await?;
    }
    store.delete(&keys::user(&org.id, &user.id)).await?;
    store
        .delete_many(&[
            keys::user_devices(&org.id, &user.id),
            keys::user_tokens(&org.id, &user.id),
        ])
        .await?;
    claims::release(store, email_key, user.seq).await?;
    claims::release(store, name_key, user.seq).await?;
    store.delete(&keys::user_seq(&org.id, user.seq)).await?;
    Ok(())
}

/// Reads a user of `org`.
pub async fn get<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<User, DomainError> {
    records::read(store, &keys::user(&org.id, id))
        .await?
        .ok_or(DomainError::NotFound {
            entity: Entity::User,
        })
}
