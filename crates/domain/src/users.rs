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
    /// An initial password's Argon2id hash, if one was given.
    pub password_hash: Option<String>,
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
            password_hash: None,
        })
    }

    /// Adds an initial password (validated, then hashed with Argon2id).
    pub fn with_password(mut self, field: &str, password: &str) -> Result<Self, ValidationError> {
        crate::password::validate(field, password)?;
        self.password_hash = Some(crate::password::hash(password)?);
        Ok(self)
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

/// Whether the claim at `key`, held by sequence number `holder`, was abandoned: by a
/// create that stopped half-way (an index entry with no user record for
/// [`ABANDONED_CLAIM_MS`], or no index entry at all), or by an update that moved the
/// user to another username or email and stopped before releasing the old claim.
async fn abandoned<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
    holder: i64,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let entry: Option<IndexEntry> = records::read(store, &keys::user_seq(&org.id, holder)).await?;
    let Some(e) = entry else {
        return Ok(true);
    };
    let user: Option<User> = records::read(store, &keys::user(&org.id, &e.id)).await?;
    Ok(match user {
        None => now.0 - e.at.0 > ABANDONED_CLAIM_MS,
        Some(u) => {
            let (name_key, email_key) = claim_keys(org, &u.username, &u.email);
            u.seq != holder || (name_key != key && email_key != key)
        }
    })
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
        Claim::Held(holder) => Ok(abandoned(store, org, key, holder, now).await?
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
        password_changed_at: new.password_hash.as_ref().map(|_| now),
        password_hash: new.password_hash,
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
        dependents::create(store, &keys::user_outbox(&org.id, &id)).await?;
        store
            .set(
                &keys::user_search(&org.id, seq),
                search_text(&user).as_bytes(),
            )
            .await?;
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
    store.delete(&keys::user_search(&org.id, user.seq)).await?;
    store
        .delete_many(&[
            keys::user_devices(&org.id, &user.id),
            keys::user_tokens(&org.id, &user.id),
            keys::user_outbox(&org.id, &user.id),
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

/// A validated partial update of a user (PATCH): absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New email (claimed before it is written; the old one is released after).
    pub email: Option<Email>,
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New status (`active` or `disabled`; removal has its own operation).
    pub status: Option<UserStatus>,
}

impl UserChanges {
    /// Validates the raw fields.
    pub fn parse(
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            email: email.map(|e| Email::parse("email", e)).transpose()?,
            first_name: first_name
                .map(|v| ids::text("firstName", v, ids::MAX_TEXT_LEN))
                .transpose()?,
            last_name: last_name
                .map(|v| ids::text("lastName", v, ids::MAX_TEXT_LEN))
                .transpose()?,
            status: None,
        })
    }
}

/// Applies `changes` to a user as one conditional write. With `expected_version`, the
/// write happens only if the stored version still equals it
/// ([`DomainError::PreconditionFailed`] otherwise). A user being removed cannot be
/// changed (`NotFound`). A new email is claimed first (`Conflict` if taken) and the old
/// one released after the write; a stop in between leaves a claim that
/// [`abandoned`] recognises and frees.
pub async fn update<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expected_version: Option<u64>,
    changes: UserChanges,
    now: Timestamp,
) -> Result<User, DomainError> {
    let key = keys::user(&org.id, id);
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&key).await?;
        let Some(bytes) = current else {
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        };
        let before: User = records::decode(&key, &bytes)?;
        if before.status == UserStatus::PendingDeletion {
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        }
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::User,
            });
        }
        let mut after = before.clone();
        if let Some(v) = &changes.first_name {
            after.first_name.clone_from(v);
        }
        if let Some(v) = &changes.last_name {
            after.last_name.clone_from(v);
        }
        if let Some(v) = changes.status {
            after.status = v;
        }
        let (_, old_email_key) = claim_keys(org, &before.username, &before.email);
        let mut new_email_key = None;
        if let Some(email) = &changes.email {
            after.email = email.as_str().to_owned();
            let (_, k) = claim_keys(org, &after.username, &after.email);
            if k != old_email_key {
                if !claim(store, org, &k, before.seq, now).await? {
                    return Err(DomainError::Conflict { field: "email" });
                }
                new_email_key = Some(k);
            }
        }
        if after == before {
            return Ok(before);
        }
        after.version += 1;
        after.updated_at = now;
        // The search entry holds both texts while the record changes, so a stop in
        // between leaves an entry that still finds the user by its current values
        // (search re-checks each hit against the record).
        let text_changes = search_text(&after) != search_text(&before);
        let search_key = keys::user_search(&org.id, after.seq);
        if text_changes {
            let both = format!(
                "{}{RECORD_SEPARATOR}{}",
                search_text(&after),
                search_text(&before)
            );
            store.set(&search_key, both.as_bytes()).await?;
        }
        match store.swap(cas, &records::encode(&key, &after)?).await? {
            crate::store::Swap::Done => {
                if text_changes {
                    store
                        .set(&search_key, search_text(&after).as_bytes())
                        .await?;
                }
                if new_email_key.is_some() {
                    claims::release(store, &old_email_key, before.seq).await?;
                }
                return Ok(after);
            }
            // Lost a race: re-read and retry. A claim taken for this attempt is kept
            // (the retry, or a concurrent update of the same user, may use it); if
            // nothing ends up using it, `abandoned` frees it for the next claimant.
            crate::store::Swap::Conflict => {}
        }
    }
    Err(crate::store::StoreError::new("too much contention updating the user").into())
}

/// Most index slots one list request reads before it answers with what it has: the
/// bound that keeps a page's cost O(page size) whatever the filters and holes.
pub const LIST_SCAN_BUDGET: i64 = 2_000;

/// A page request over an organization's users, in creation order.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Start after this sequence number (0: from the beginning).
    pub after: i64,
    /// At most this many users.
    pub limit: usize,
    /// Only users in this state.
    pub status: Option<UserStatus>,
    /// Only members of this group (case-insensitive).
    pub group: Option<String>,
    /// Only users whose username, email, first or last name contains this text
    /// (case-insensitive). A search reads the compact search entries, not the records,
    /// and is not bounded by [`LIST_SCAN_BUDGET`]: it runs until the page is full or
    /// every user was looked at.
    pub q: Option<String>,
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct Page {
    /// The users, in creation order.
    pub users: Vec<User>,
    /// Where the next page starts, or `None` when the listing is complete. A page may
    /// hold fewer than `limit` users (filters, removed users) and still have a next.
    pub next: Option<i64>,
}

/// Lists users in creation (sequence) order. Reads the sequence counter, then index
/// entries and user records in batches of `2 × limit` slots, up to
/// [`LIST_SCAN_BUDGET`] slots: users created between pages appear after the last page,
/// removed users simply vanish, so paging neither skips nor repeats a user.
pub async fn list<S: Store>(
    store: &S,
    org: &Organization,
    q: &ListQuery,
) -> Result<Page, DomainError> {
    if let Some(text) = &q.q {
        return search(store, org, q, &text.to_lowercase()).await;
    }
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    let window = i64::try_from(q.limit.max(25) * 2).unwrap_or(400);
    let group = q.group.as_ref().map(|g| g.to_lowercase());
    let mut users = Vec::new();
    let mut cursor = q.after;
    while cursor < top && cursor - q.after < LIST_SCAN_BUDGET {
        let end = (cursor + window).min(top);
        let entry_keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::user_seq(&org.id, n))
            .collect();
        let entries = store.get_many(&entry_keys).await?;
        let mut slots = Vec::new();
        for (n, (key, value)) in (cursor + 1..=end).zip(entry_keys.iter().zip(entries)) {
            if let Some(bytes) = value {
                let e: IndexEntry = records::decode(key, &bytes)?;
                slots.push((n, keys::user(&org.id, &e.id)));
            }
        }
        let user_keys: Vec<String> = slots.iter().map(|(_, k)| k.clone()).collect();
        let records = store.get_many(&user_keys).await?;
        for ((n, key), value) in slots.iter().zip(records) {
            let Some(bytes) = value else { continue };
            let u: User = records::decode(key, &bytes)?;
            let keep = u.seq == *n
                && q.status.is_none_or(|s| s == u.status)
                && group
                    .as_ref()
                    .is_none_or(|g| u.groups.iter().any(|x| x.to_lowercase() == *g));
            if keep {
                users.push(u);
                if users.len() == q.limit {
                    return Ok(Page {
                        users,
                        next: (*n < top).then_some(*n),
                    });
                }
            }
        }
        cursor = end;
    }
    Ok(Page {
        users,
        next: (cursor < top).then_some(cursor),
    })
}

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The old password is wrong, or the user has none: deliberately one answer.
    #[error("password change refused")]
    Refused,
    /// Anything else.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

async fn set_hash<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expect_hash: Option<&str>,
    new_hash: String,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let updated = records::update(store, &keys::user(&org.id, id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        }
        // A change is conditional on the hash its old password was checked against.
        if expect_hash.is_some() && u.password_hash.as_deref() != expect_hash {
            return Ok(false);
        }
        u.password_hash = Some(new_hash.clone());
        u.password_changed_at = Some(now);
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    match updated {
        records::Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::User,
        }),
        records::Updated::Unchanged(_) => Ok(false),
        records::Updated::Written(_) => Ok(true),
    }
}

/// Changes a user's password after checking the old one. A wrong old password and a
/// user without a password get the same [`PasswordChangeError::Refused`].
pub async fn change_password<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    old: &str,
    new: &str,
    now: Timestamp,
) -> Result<(), PasswordChangeError> {
    crate::password::validate("newPassword", new).map_err(DomainError::from)?;
    let user = get(store, org, id).await?;
    let Some(current) = user
        .password_hash
        .filter(|h| crate::password::verify(old, h))
    else {
        return Err(PasswordChangeError::Refused);
    };
    let new_hash = crate::password::hash(new).map_err(DomainError::from)?;
    if set_hash(store, org, id, Some(&current), new_hash, now).await? {
        Ok(())
    } else {
        // The password changed concurrently: the old one no longer holds.
        Err(PasswordChangeError::Refused)
    }
}

/// Sets a user's password without the old one (an administrator's reset).
pub async fn reset_password<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    new: &str,
    now: Timestamp,
) -> Result<(), DomainError> {
    crate::password::validate("newPassword", new)?;
    let new_hash = crate::password::hash(new)?;
    set_hash(store, org, id, None, new_hash, now).await?;
    Ok(())
}

/// Finds a user by username (case-insensitive): claim → index entry → record. Three
/// reads whatever the organization's size.
pub async fn find_by_username<S: Store>(
    store: &S,
    org: &Organization,
    username: &str,
) -> Result<Option<User>, DomainError> {
    let key = keys::username_claim(
        &org.id,
        &keys::digest(&org.salt, &username.to_ascii_lowercase()),
    );
    let Some(seq) = claims::holder(store, &key).await? else {
        return Ok(None);
    };
    let Some(entry) = records::read::<S, IndexEntry>(store, &keys::user_seq(&org.id, seq)).await?
    else {
        return Ok(None);
    };
    let user: Option<User> = records::read(store, &keys::user(&org.id, &entry.id)).await?;
    Ok(user.filter(|u| u.username.eq_ignore_ascii_case(username)))
}

/// Separates the fields of a search entry.
const FIELD_SEPARATOR: char = '\u{1f}';
/// Separates the current text from the previous one while an update is in flight.
pub const RECORD_SEPARATOR: char = '\u{1e}';

/// The search entry of a user: lowercased username, email, first and last name.
pub fn search_text(u: &User) -> String {
    format!(
        "{}{FIELD_SEPARATOR}{}{FIELD_SEPARATOR}{} {}",
        u.username.to_lowercase(),
        u.email.to_lowercase(),
        u.first_name.to_lowercase(),
        u.last_name.to_lowercase()
    )
}

/// How many search entries one batch read fetches.
pub const SEARCH_BATCH: i64 = 1_000;

async fn search<S: Store>(
    store: &S,
    org: &Organization,
    q: &ListQuery,
    needle: &str,
) -> Result<Page, DomainError> {
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    let group = q.group.as_ref().map(|g| g.to_lowercase());
    let mut users = Vec::new();
    let mut cursor = q.after;
    while cursor < top {
        let end = (cursor + SEARCH_BATCH).min(top);
        let entry_keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::user_search(&org.id, n))
            .collect();
        let hits: Vec<i64> = (cursor + 1..=end)
            .zip(store.get_many(&entry_keys).await?)
            .filter_map(|(n, v)| {
                let v = v?;
                // Match within one field only: the separator never occurs in a needle
                // that passed validation, and names are joined with a space.
                String::from_utf8_lossy(&v).contains(needle).then_some(n)
            })
            .collect();
        if !hits.is_empty() {
            let idx_keys: Vec<String> = hits.iter().map(|n| keys::user_seq(&org.id, *n)).collect();
            let mut slots = Vec::new();
            for ((n, key), value) in hits
                .iter()
                .zip(&idx_keys)
                .zip(store.get_many(&idx_keys).await?)
            {
                if let Some(bytes) = value {
                    let e: IndexEntry = records::decode(key, &bytes)?;
                    slots.push((*n, keys::user(&org.id, &e.id)));
                }
            }
            let user_keys: Vec<String> = slots.iter().map(|(_, k)| k.clone()).collect();
            for ((n, key), value) in slots.iter().zip(store.get_many(&user_keys).await?) {
                let Some(bytes) = value else { continue };
                let u: User = records::decode(key, &bytes)?;
                let keep = u.seq == *n
                    && search_text(&u).contains(needle)
                    && q.status.is_none_or(|s| s == u.status)
                    && group
                        .as_ref()
                        .is_none_or(|g| u.groups.iter().any(|x| x.to_lowercase() == *g));
                if keep {
                    users.push(u);
                    if users.len() == q.limit {
                        return Ok(Page {
                            users,
                            next: (*n < top).then_some(*n),
                        });
                    }
                }
            }
        }
        cursor = end;
    }
    Ok(Page { users, next: None })
}
