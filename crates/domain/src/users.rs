//! Users: create (username, email, further emails, external id and UUID unique per
//! organization under concurrency, through [`crate::claims`]), read (by id, username,
//! any email, UUID or external id), list and skip in creation order, search, change
//! (a PATCH as one conditional write that moves the claims), and passwords (change,
//! reset).
//!
//! A user is indexed by its sequence number (`users/seq/{n}`, the [`IndexEntry`]), its
//! claims and its search entry, and owns the dependent lists that
//! [`dependent_lists`] names. A claim left by a create or change that stopped half-way
//! is recognised as abandoned and taken over ([`ABANDONED_CLAIM_MS`]). Removal is the
//! [`crate::removal`] engine's.

use crate::claims::{self, Claim, ClaimChange, UnwrittenClaims, Write};
use crate::count;
use crate::dependents;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, Email, ObjectId, Username};
use crate::keys;
use crate::model::{IdentitySource, Organization, User, UserStatus};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use roster_lowercase::Lowercase as _;
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
    /// Unique email, if the user has one (service accounts, kiosk and shared-device
    /// users have none).
    pub email: Option<Email>,
    /// Further addresses, each unique like `email` (at most
    /// [`crate::model::MAX_OTHER_EMAILS`]); only with an `email`.
    pub other_emails: Vec<Email>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Where the record is mastered.
    pub source: IdentitySource,
    /// An initial password's Argon2id hash, if one was given.
    pub password_hash: Option<String>,
    /// Company name, free text (at most 256 characters; may be empty).
    pub company: String,
    /// ISO 3166-1 alpha-2 country code (uppercase) or empty.
    pub country_code: String,
    /// The identity provider's id (unique per organization, case-exact).
    pub external_id: Option<String>,
    /// Other surfaces' attributes (validated by them; size-checked here).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Initial status (`Active` unless a surface creates users disabled).
    pub status: UserStatus,
}

impl NewUser {
    /// Validates the raw fields (email and names are optional; names are empty when
    /// absent).
    pub fn parse(
        username: &str,
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            username: Username::parse("username", username)?,
            email: email.map(|e| Email::parse("email", e)).transpose()?,
            other_emails: Vec::new(),
            first_name: ids::text("firstName", first_name.unwrap_or(""), ids::MAX_TEXT_LEN)?,
            last_name: ids::text("lastName", last_name.unwrap_or(""), ids::MAX_TEXT_LEN)?,
            source: IdentitySource::Local,
            password_hash: None,
            company: String::new(),
            country_code: String::new(),
            external_id: None,
            attributes: serde_json::Map::new(),
            status: UserStatus::Active,
        })
    }

    /// Adds an initial password (validated, then hashed with Argon2id).
    pub fn with_password(mut self, field: &str, password: &str) -> Result<Self, ValidationError> {
        crate::password::validate(field, password)?;
        self.password_hash = Some(crate::password::hash(password)?);
        Ok(self)
    }
}

/// Validates a company name (at most 256 characters, no control characters).
pub fn parse_company(field: &str, raw: &str) -> Result<String, ValidationError> {
    ids::text(field, raw, ids::MAX_TEXT_LEN)
}

/// Validates an ISO 3166-1 alpha-2 country code (two ASCII letters, any case; stored
/// uppercase); empty clears it.
pub fn parse_country_code(field: &str, raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || (raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic())) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(ValidationError::new(
            field,
            "must be an ISO 3166-1 alpha-2 code like DE",
        ))
    }
}

/// Validates an external id: 1 to 256 characters, no control characters, kept exactly.
pub fn parse_external_id(field: &str, raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || raw.chars().count() > ids::MAX_TEXT_LEN {
        return Err(ValidationError::new(field, "must be 1 to 256 characters"));
    }
    if raw.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(raw.to_owned())
}

/// Checks the size of a user's extra attributes.
pub fn check_attributes(
    field: &str,
    attributes: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ValidationError> {
    let size = serde_json::to_vec(attributes).map_or(usize::MAX, |v| v.len());
    if size > crate::model::MAX_ATTRIBUTES_BYTES {
        return Err(ValidationError::new(
            field,
            format!(
                "must serialize to at most {} bytes",
                crate::model::MAX_ATTRIBUTES_BYTES
            ),
        ));
    }
    Ok(())
}

/// Checks a user's further email addresses: at most
/// [`crate::model::MAX_OTHER_EMAILS`].
pub fn check_other_emails(field: &str, other: &[Email]) -> Result<(), ValidationError> {
    if other.len() > crate::model::MAX_OTHER_EMAILS {
        return Err(ValidationError::new(
            field,
            format!(
                "a user has at most {} email addresses",
                crate::model::MAX_OTHER_EMAILS + 1
            ),
        ));
    }
    Ok(())
}

/// Further addresses need a primary one: a user without `email` has none.
fn check_primary_for_others(has_email: bool, others: usize) -> Result<(), ValidationError> {
    if !has_email && others > 0 {
        return Err(ValidationError::new(
            "email",
            "a user with further email addresses needs a primary email",
        ));
    }
    Ok(())
}

/// The claim key of an external id (case-exact).
pub fn external_key(org: &Organization, external_id: &str) -> String {
    keys::external_id_claim(&org.id, &keys::digest(&org.salt, external_id))
}

/// The claim key of a user's UUID (how seed 001 addresses users).
pub fn uuid_key(org: &Organization, uuid: &str) -> String {
    keys::user_uuid_claim(&org.id, &uuid.to_ascii_lowercase())
}

/// Every unique-value claim a live user holds, with the field each is for: username,
/// email when it has one, UUID, external id when it has one, and each further email
/// address (in the email namespace; an address equal to another of the user's is
/// claimed once). A user without email claims no address.
pub fn user_claims(org: &Organization, u: &User) -> Vec<(&'static str, String)> {
    let mut out = vec![("username", username_key(org, &u.username))];
    if let Some(e) = &u.email {
        out.push(("email", email_key(org, e)));
    }
    out.push(("uuid", uuid_key(org, &u.uuid)));
    if let Some(e) = &u.external_id {
        out.push(("externalId", external_key(org, e)));
    }
    for other in &u.other_emails {
        let key = email_key(org, other);
        if !out.iter().any(|(_, k)| *k == key) {
            out.push(("email", key));
        }
    }
    out
}

/// The claim key of a username (case-insensitive).
pub fn username_key(org: &Organization, username: &str) -> String {
    keys::username_claim(
        &org.id,
        &keys::digest(&org.salt, &username.to_ascii_lowercase()),
    )
}

/// The claim key of an email address (case-insensitive).
pub fn email_key(org: &Organization, email: &str) -> String {
    keys::email_claim(
        &org.id,
        &keys::digest(&org.salt, &email.to_ascii_lowercase()),
    )
}

/// An update of a user taking a claim ahead of its record write (`o/{org}/users/
/// claiming/{seq}/{kind}/{digest}`, [`keys::user_claiming`]): when it began. Without
/// it, a claim taken by an update under way looked like one an update had moved away
/// from and left, and a concurrent create, update or restore took it over: two users
/// ended up with one email (found by a domain test interleaving two updates). One per
/// user and claim: with one per user, two updates of the same user at once overwrote
/// and deleted each other's, and a create took over the claim of the one still under
/// way (stop 29's break test; `two_updates_of_one_user_keep_each_others_claims_from_a_
/// create`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClaimIntent {
    /// When the update began taking the claim.
    at: Timestamp,
}

/// Whether the claim at `key`, held by sequence number `holder`, was abandoned: by a
/// create that stopped half-way (an index entry with no user record for
/// [`ABANDONED_CLAIM_MS`], or no index entry at all), by an update that moved the
/// user to another username or email and stopped before releasing the old claim (or that
/// took a claim and stopped before its write, [`ABANDONED_CLAIM_MS`] after its
/// [`ClaimIntent`]), or by
/// a restore of a softly removed user that did not finish within [`ABANDONED_CLAIM_MS`]
/// of its start (its trash entry's `restoringSince`; before that the claim is the
/// restore's, and taking it over would let the restore bring back a second user with
/// the same username or email).
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
    // The update's intent is read before the record: an update writes it before taking
    // its claims and deletes it only once its record names them, so either the intent
    // is still there or the record read after it names the claim.
    let intent: Option<ClaimIntent> =
        records::read(store, &keys::user_claiming(&org.id, holder, key)).await?;
    if intent.is_some_and(|i| now.0 - i.at.0 <= ABANDONED_CLAIM_MS) {
        return Ok(false);
    }
    let record = keys::user(&org.id, &e.id);
    let user: Option<User> = records::read(store, &record).await?;
    let Some(u) = user else {
        return Ok(now.0 - e.at.0 > ABANDONED_CLAIM_MS);
    };
    let holds = |u: &User| u.seq == holder && user_claims(org, u).iter().any(|(_, k)| k == key);
    if !holds(&u) {
        // An update that moved the user away and stopped before releasing the claim.
        return Ok(true);
    }
    // A removed user's claims were released (or should have been) unless a restore
    // is taking them back; a user being removed keeps them until its removal releases
    // them, so that a removal its guards refuse can give the user back intact.
    if u.status != UserStatus::Deleted {
        return Ok(false);
    }
    let Some(d) = &u.deletion else {
        return Ok(true);
    };
    let trash: Option<crate::removal::TrashEntry> =
        records::read(store, &keys::trash_entry(&org.id, d.trash_seq)).await?;
    if trash
        .and_then(|t| t.restoring_since)
        .is_some_and(|since| now.0 - since.0 <= ABANDONED_CLAIM_MS)
    {
        return Ok(false);
    }
    // A restore marks the entry before claiming and deletes it only after the record is
    // live again: an entry gone meanwhile means the record read now shows the user back.
    let again: Option<User> = records::read(store, &record).await?;
    Ok(!again.is_some_and(|u| u.is_live() && holds(&u)))
}

/// Claims `key` for user `seq`, taking over an abandoned claim (see [`abandoned`]).
pub(crate) async fn claim_for<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
    seq: i64,
    now: Timestamp,
) -> Result<bool, DomainError> {
    claim(store, org, key, seq, now).await
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
    check_attributes("attributes", &new.attributes)?;
    check_other_emails("emails", &new.other_emails)?;
    check_primary_for_others(new.email.is_some(), new.other_emails.len())?;
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
    let user = User {
        id: id.clone(),
        uuid: ids::uuid_v4(),
        org_id: org.id.clone(),
        seq,
        username: new.username.as_str().to_owned(),
        email: new.email.as_ref().map(|e| e.as_str().to_owned()),
        other_emails: new
            .other_emails
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        first_name: new.first_name,
        last_name: new.last_name,
        status: new.status,
        source: new.source,
        groups: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 1,
        removal: None,
        password_changed_at: new.password_hash.as_ref().map(|_| now),
        password_hash: new.password_hash,
        company: new.company,
        country_code: new.country_code,
        external_id: new.external_id,
        attributes: new.attributes,
        login: crate::model::LoginMetadata::default(),
        deletion: None,
        legal_hold: None,
        last_exported_at: None,
        removal_schedule: None,
    };
    let result = async {
        for (field, key) in user_claims(org, &user) {
            if !claim(store, org, &key, seq, now).await? {
                return Err(DomainError::Conflict { field });
            }
        }
        if let Some(email) = &user.email {
            crate::identity::join(store, email, &org.id, &id, now).await?;
        }
        for key in dependent_lists(&org.id, &id) {
            dependents::create(store, &key).await?;
        }
        let text = search_text(&user);
        crate::search_index::flag(store, org, seq, &text).await?;
        store
            .set(&keys::user_search(&org.id, seq), text.as_bytes())
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
            let _ = rollback(store, org, &user).await;
            Err(e)
        }
    }
}

/// The keys of a user's dependent lists (devices, enrollment tokens, outbox messages,
/// owned API tokens, subscriptions), created with the user and closed by its removal.
pub fn dependent_lists(org: &ObjectId, user: &ObjectId) -> [String; 5] {
    [
        keys::user_devices(org, user),
        keys::user_tokens(org, user),
        keys::user_outbox(org, user),
        keys::user_api_tokens(org, user),
        keys::user_subscriptions(org, user),
    ]
}

async fn rollback<S: Store>(store: &S, org: &Organization, user: &User) -> Result<(), DomainError> {
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
        .delete_many(&dependent_lists(&org.id, &user.id))
        .await?;
    if let Some(email) = &user.email {
        crate::identity::leave(store, email, &org.id, &user.id).await?;
    }
    for (_, key) in user_claims(org, user).iter().rev() {
        claims::release(store, key, user.seq).await?;
    }
    store.delete(&keys::user_seq(&org.id, user.seq)).await?;
    Ok(())
}

fn user_not_found() -> DomainError {
    DomainError::NotFound {
        entity: Entity::User,
    }
}

/// Reads a user of `org`, in any state (the removal engine's read).
pub async fn get_any<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<User, DomainError> {
    records::read(store, &keys::user(&org.id, id))
        .await?
        .ok_or_else(user_not_found)
}

/// The user records with these ids that exist, in any state, in the order given (100
/// per store call).
pub async fn load<S: Store>(
    store: &S,
    org: &Organization,
    ids: &[ObjectId],
) -> Result<Vec<User>, DomainError> {
    dependents::load::<S, User>(store, ids, |id| keys::user(&org.id, id)).await
}

/// Reads a user of `org` that has not been removed: a user being removed is returned
/// (with status `pending_deletion`), a softly removed one is `NotFound`.
pub async fn get<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<User, DomainError> {
    let u = get_any(store, org, id).await?;
    if u.status == UserStatus::Deleted {
        return Err(user_not_found());
    }
    Ok(u)
}

/// Reads a live user of `org` (active or disabled): `NotFound` while it is being
/// removed or once removed.
pub async fn get_live<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<User, DomainError> {
    let u = get_any(store, org, id).await?;
    if !u.is_live() {
        return Err(user_not_found());
    }
    Ok(u)
}

/// A validated partial update of a user (PATCH): absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New username (claimed before it is written; the old one is released after).
    pub username: Option<Username>,
    /// New email (claimed before it is written; the old one is released after);
    /// `Some(None)` removes it (releasing its claim and identity membership).
    pub email: Option<Option<Email>>,
    /// New further email addresses (replacing all of them; claimed like `email`).
    pub other_emails: Option<Vec<Email>>,
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New status (`active` or `disabled`; removal has its own operation).
    pub status: Option<UserStatus>,
    /// New company.
    pub company: Option<String>,
    /// New country code (validated by [`parse_country_code`]).
    pub country_code: Option<String>,
    /// New external id (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// New extra attributes (replacing all of them).
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// A new password's Argon2id hash (see [`crate::password::hash`]), written in the
    /// same conditional write as the other changes.
    pub password_hash: Option<String>,
}

impl UserChanges {
    /// Validates the raw fields (a given `email` replaces the user's; see
    /// [`UserChanges::email`] to remove it).
    pub fn parse(
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            email: email
                .map(|e| Email::parse("email", e).map(Some))
                .transpose()?,
            first_name: first_name
                .map(|v| ids::text("firstName", v, ids::MAX_TEXT_LEN))
                .transpose()?,
            last_name: last_name
                .map(|v| ids::text("lastName", v, ids::MAX_TEXT_LEN))
                .transpose()?,
            ..Self::default()
        })
    }

    fn apply(&self, u: &mut User) {
        if let Some(v) = &self.username {
            u.username = v.as_str().to_owned();
        }
        if let Some(v) = &self.email {
            u.email = v.as_ref().map(|e| e.as_str().to_owned());
        }
        if let Some(v) = &self.other_emails {
            u.other_emails = v.iter().map(|e| e.as_str().to_owned()).collect();
        }
        if let Some(v) = &self.first_name {
            u.first_name.clone_from(v);
        }
        if let Some(v) = &self.last_name {
            u.last_name.clone_from(v);
        }
        if let Some(v) = self.status {
            u.status = v;
        }
        if let Some(v) = &self.company {
            u.company.clone_from(v);
        }
        if let Some(v) = &self.country_code {
            u.country_code.clone_from(v);
        }
        if let Some(v) = &self.external_id {
            u.external_id.clone_from(v);
        }
        if let Some(v) = &self.attributes {
            u.attributes.clone_from(v);
        }
        if let Some(v) = &self.password_hash {
            u.password_hash = Some(v.clone());
        }
    }
}

/// Applies `changes` to a user as one conditional write. With `expected_version`, the
/// write happens only if the stored version still equals it
/// ([`DomainError::PreconditionFailed`] otherwise). A user being removed or removed
/// cannot be changed (`NotFound`). A new username, email or external id is claimed
/// first (`Conflict` naming the field if taken) and the old one released after the
/// write; a stop in between leaves a claim that `abandoned` recognises and frees.
pub async fn update<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expected_version: Option<u64>,
    changes: UserChanges,
    now: Timestamp,
) -> Result<User, DomainError> {
    if let Some(a) = &changes.attributes {
        check_attributes("attributes", a)?;
    }
    if let Some(o) = &changes.other_emails {
        check_other_emails("emails", o)?;
    }
    // What this call wrote ahead of a conditional write that did not happen: undone if
    // the user turns out removed (or being removed) meanwhile (`LostUpdate::undo`).
    let mut lost = LostUpdate::default();
    let result = update_attempts(store, org, id, expected_version, changes, now, &mut lost).await;
    if !matches!(result, Ok((_, true))) {
        // An attempt that lost its swap left the entry holding its texts, the old one
        // no longer the record's when another update won; the call ends without a
        // write of its own to set it right (a conflict, a failed precondition, no
        // change left to make). Best effort when the call already fails: its answer is
        // the error.
        let settled = lost.settle_search(store, org, id).await;
        if result.is_ok() {
            settled?;
        }
    }
    result.map(|(user, _)| user)
}

/// [`update`]'s attempts: the user and whether this call wrote it.
async fn update_attempts<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expected_version: Option<u64>,
    changes: UserChanges,
    now: Timestamp,
    lost: &mut LostUpdate,
) -> Result<(User, bool), DomainError> {
    let key = keys::user(&org.id, id);
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&key).await?;
        let Some(bytes) = current else {
            lost.undo(store, org, id, None).await?;
            return Err(user_not_found());
        };
        let before: User = records::decode(&key, &bytes)?;
        if !before.is_live() {
            lost.undo(store, org, id, Some(&before)).await?;
            return Err(user_not_found());
        }
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::User,
            });
        }
        let mut after = before.clone();
        changes.apply(&mut after);
        // A re-activation (disabled to active) cancels a scheduled removal.
        let reactivated = before.status == UserStatus::Disabled
            && after.status == UserStatus::Active
            && before.removal_schedule.is_some();
        if reactivated {
            after.removal_schedule = None;
        }
        if after == before {
            return Ok((before, false));
        }
        check_primary_for_others(after.email.is_some(), after.other_emails.len())?;
        let old_claims = user_claims(org, &before);
        let new_claims = user_claims(org, &after);
        // Lost a race (not written): re-read and retry. A claim taken for this attempt
        // is kept (the retry, or a concurrent update of the same user, may use it); if
        // nothing ends up using it, `abandoned` frees it for the next claimant.
        let change = ClaimChange {
            holder: before.seq,
            old: &old_claims,
            new: &new_claims,
            unwritten: UnwrittenClaims::Leave,
        };
        // The identity index follows the primary email: joined under a new one before
        // the write, left under the old one after it (none to join or leave when the
        // email is added or removed).
        let email_moved = !same_email(before.email.as_deref(), after.email.as_deref());
        let texts = SearchChange::between(&before, &after);
        // The claims this attempt takes are said first, so that no one takes them over
        // before the record names them (see `abandoned`).
        let taking: Vec<String> = new_claims
            .iter()
            .filter(|(_, k)| !old_claims.iter().any(|(_, o)| o == k))
            .map(|(_, k)| k.clone())
            .collect();
        let intents: Vec<String> = taking
            .iter()
            .map(|k| keys::user_claiming(&org.id, before.seq, k))
            .collect();
        if !intents.is_empty() {
            let intent = records::encode(&intents[0], &ClaimIntent { at: now })?;
            let pairs: Vec<(String, Vec<u8>)> = intents
                .iter()
                .map(|k| (k.clone(), intent.clone()))
                .collect();
            store.set_many(&pairs).await?;
        }
        lost.note(
            &before,
            &after,
            &old_claims,
            &new_claims,
            email_moved,
            texts.as_ref(),
        );
        let write = async || {
            if email_moved && let Some(email) = &after.email {
                crate::identity::join(store, email, &org.id, id, now).await?;
            }
            after.version += 1;
            after.updated_at = now;
            if after.password_hash != before.password_hash {
                after.password_changed_at = Some(now);
            }
            write_with_search(store, org, &key, cas, after, texts.as_ref()).await
        };
        let claim = async |k: &str| claim(store, org, k, before.seq, now).await;
        if let Write::Written(after) = change.apply(store, claim, write, |_, _| false).await? {
            if email_moved && let Some(email) = &before.email {
                crate::identity::leave(store, email, &org.id, id).await?;
            }
            if !intents.is_empty() {
                // The record names its claims now; a stop before this leaves intents
                // that expire (and that the user's permanent removal deletes).
                store.delete_many(&intents).await?;
            }
            if reactivated && let Some(s) = &before.removal_schedule {
                crate::schedules::record_cancelled(store, org, id, "roster", s, "reactivated", now)
                    .await?;
            }
            return Ok((after, true));
        }
    }
    Err(crate::store::StoreError::new("too much contention updating the user").into())
}

/// What [`update`]'s attempts wrote before their conditional write of the user record —
/// new claims, an identity membership under a new email, a search entry holding the
/// new text beside the old — kept so that, when a removal wins the race (the record is
/// gone, or no longer live, when the update reads it again), the update takes back what
/// would otherwise name the removed person after the removal has cleaned up
/// (storage.md's invariants 1, 4 and 8). On Redis a write that happened can look lost
/// (the removal's mark overwrote it before the read-back), so the record's own claims
/// and old email are kept too: whatever the removal's record does not name goes.
#[derive(Default)]
struct LostUpdate {
    /// The user's sequence number (the holder of its claims, its search entry's key).
    seq: Option<i64>,
    /// Claim keys an attempt read or took (or tried to): its record's and the change's.
    claims: Vec<String>,
    /// Emails an attempt moved between in the identity index (from and to).
    emails: Vec<String>,
    /// The texts an attempt set in the search entry ahead of its write.
    searched: Vec<String>,
}

impl LostUpdate {
    /// Notes what the attempt from `before` to `after` writes ahead of its swap.
    fn note(
        &mut self,
        before: &User,
        after: &User,
        old_claims: &[(&'static str, String)],
        new_claims: &[(&'static str, String)],
        email_moved: bool,
        texts: Option<&SearchChange>,
    ) {
        self.seq = Some(before.seq);
        // The record's own claims too: on Redis a swap that wrote can look lost (a
        // removal overwrote it before the read-back), and then nothing released them.
        for (_, key) in old_claims.iter().chain(new_claims) {
            if !self.claims.contains(key) {
                self.claims.push(key.clone());
            }
        }
        if email_moved {
            for email in [&before.email, &after.email].into_iter().flatten() {
                self.emails.push(email.as_str().to_owned());
            }
        }
        if let Some(t) = texts {
            self.searched.push(t.both.clone());
        }
    }

    /// Sets the search entry to the record's text when it still holds an attempt's
    /// texts and the user is live: the attempt lost its swap to another update, whose
    /// own entry write came first. Nothing to do when no attempt set the entry, the
    /// entry holds another writer's text (that writer settles it), or the user is not
    /// live (a removal deletes the entry; [`Self::undo`]).
    async fn settle_search<S: Store>(
        &self,
        store: &S,
        org: &Organization,
        id: &ObjectId,
    ) -> Result<(), DomainError> {
        let Some(seq) = self.seq else {
            return Ok(());
        };
        if self.searched.is_empty() {
            return Ok(());
        }
        let key = keys::user_search(&org.id, seq);
        let entry = store.get(&key).await?;
        if !entry
            .as_deref()
            .is_some_and(|e| self.searched.iter().any(|t| t.as_bytes() == e))
        {
            return Ok(());
        }
        let record = keys::user(&org.id, id);
        if let Some(u) = live_user(store, &record).await? {
            settle_search_entry(store, &record, &key, search_text(&u)).await?;
        }
        Ok(())
    }

    /// Takes back what the attempts wrote, the user now being `current` (`None`: its
    /// record is gone), which is not live: each claim (held by the user's sequence
    /// number) and membership the record does not name (a removal under way releases
    /// those it names itself), and the search entry
    /// when the record is gone or the entry still holds an attempt's text (a removed user
    /// has none; a restore sets its own, which is left alone). Idempotent; a stop in
    /// between leaves what a stop before the write would have left.
    async fn undo<S: Store>(
        &self,
        store: &S,
        org: &Organization,
        id: &ObjectId,
        current: Option<&User>,
    ) -> Result<(), DomainError> {
        let Some(seq) = self.seq else {
            return Ok(());
        };
        let held = current.map(|u| user_claims(org, u)).unwrap_or_default();
        for key in &self.claims {
            if !held.iter().any(|(_, k)| k == key) {
                crate::claims::release(store, key, seq).await?;
            }
        }
        for email in &self.emails {
            let named = current.and_then(|u| u.email.as_deref());
            if !same_email(named, Some(email)) {
                crate::identity::leave(store, email, &org.id, id).await?;
            }
        }
        if !self.searched.is_empty() {
            let key = keys::user_search(&org.id, seq);
            let entry = store.get(&key).await?;
            let ours = entry
                .as_deref()
                .is_some_and(|e| self.searched.iter().any(|t| t.as_bytes() == e));
            if entry.is_some() && (current.is_none() || ours) {
                store.delete(&key).await?;
            }
        }
        Ok(())
    }
}

/// Whether two optional emails are the same address (case-insensitively).
fn same_email(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

/// An update's change of the user's search entry, computed once per attempt: the new
/// text, and the entry's in-flight form holding the new text and the old one.
struct SearchChange {
    /// [`search_text`] of the changed record.
    new: String,
    /// The new text, [`RECORD_SEPARATOR`], the old text.
    both: String,
}

impl SearchChange {
    /// The change from `before` to `after`; `None` when the search text stays the same.
    fn between(before: &User, after: &User) -> Option<Self> {
        let new = search_text(after);
        let old = search_text(before);
        (new != old).then(|| Self {
            both: format!("{new}{RECORD_SEPARATOR}{old}"),
            new,
        })
    }
}

/// Swaps the changed record `after` in (conditional on `cas`), keeping the search entry
/// findable throughout (the new text's n-grams are flagged before the entry holds it): while the record changes, the entry holds both texts, so a stop
/// in between leaves an entry that still finds the user by its current values (search
/// re-checks each hit against the record); once written, it holds the new text alone.
/// `texts` is the attempt's [`SearchChange`] (`None`: the entry stays as it is).
async fn write_with_search<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
    cas: S::Cas,
    after: User,
    texts: Option<&SearchChange>,
) -> Result<Write<User, ()>, DomainError> {
    let search_key = keys::user_search(&org.id, after.seq);
    if let Some(t) = texts {
        // The index first: the entry may hold the new text from the next call on.
        crate::search_index::flag(store, org, after.seq, &t.new).await?;
        store.set(&search_key, t.both.as_bytes()).await?;
    }
    if !records::swap(store, key, cas, &after).await? {
        return Ok(Write::NotWritten(()));
    }
    if let Some(t) = texts {
        settle_search_entry(store, key, &search_key, t.new.clone()).await?;
    }
    Ok(Write::Written(after))
}

/// Sets the search entry `search_key` of the user record at `key` to `text` (the text
/// of the record as this writer last saw it), then reads the record again: another
/// update of the user may have swapped its record in after that one and set its text
/// before this set (the entry would hold a stale text), so the record's current text is
/// set again, until the record read after a set has the text set. Every writer of the
/// entry ends that way, so the last set holds the last record's text. When the record
/// is no longer live, a removal that marked it may have deleted the entry before the
/// set: the entry is taken away (and set again if a restore made the user live again
/// meanwhile, whose own write of it may have come before the delete).
async fn settle_search_entry<S: Store>(
    store: &S,
    key: &str,
    search_key: &str,
    mut text: String,
) -> Result<(), DomainError> {
    for _ in 0..records::CAS_ATTEMPTS {
        store.set(search_key, text.as_bytes()).await?;
        match live_user(store, key).await? {
            Some(u) => {
                let current = search_text(&u);
                if current == text {
                    return Ok(());
                }
                text = current;
            }
            None => {
                store.delete(search_key).await?;
                if let Some(u) = live_user(store, key).await? {
                    store.set(search_key, search_text(&u).as_bytes()).await?;
                }
                return Ok(());
            }
        }
    }
    Err(crate::store::StoreError::new("too much contention setting the search entry").into())
}

/// The user record at `key` if it is live.
async fn live_user<S: Store>(store: &S, key: &str) -> Result<Option<User>, DomainError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(None);
    };
    let user: User = records::decode(key, &bytes)?;
    Ok(user.is_live().then_some(user))
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
    /// (case-insensitive). A search reads the n-gram flags of [`crate::search_index`]
    /// and then only the compact search entries of the batches they point at (not the
    /// records), and is not bounded by [`LIST_SCAN_BUDGET`]: it runs until the page is
    /// full or every candidate batch was looked at.
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
/// entries in windows of `2 × limit` slots (at least 50), up to [`LIST_SCAN_BUDGET`]
/// slots, and the records of as many present slots as the page still needs (of the
/// whole window with a status or group filter): a page of 50 without holes is three
/// store calls, 100 index entries and 50 records. Users created between pages appear
/// after the last page, removed users simply vanish, so paging neither skips nor
/// repeats a user.
pub async fn list<S: Store>(
    store: &S,
    org: &Organization,
    q: &ListQuery,
) -> Result<Page, DomainError> {
    if let Some(text) = &q.q {
        return search(store, org, q, &text.lowercase()).await;
    }
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    let window = i64::try_from(q.limit.max(25) * 2).unwrap_or(400);
    let group = q.group.as_ref().map(|g| g.lowercase());
    let filtered = q.status.is_some() || group.is_some();
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
        // Records are read only for the slots the page can still use: all of the
        // window's when a filter may drop many, otherwise as many as the page lacks (a
        // page of 50 reads 50 records, not the window's 100; more only past holes).
        let mut rest = slots.as_slice();
        while !rest.is_empty() {
            let take = if filtered {
                rest.len()
            } else {
                (q.limit - users.len()).clamp(1, rest.len())
            };
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let user_keys: Vec<String> = chunk.iter().map(|(_, k)| k.clone()).collect();
            let records = store.get_many(&user_keys).await?;
            for ((n, key), value) in chunk.iter().zip(records) {
                let Some(bytes) = value else { continue };
                let u: User = records::decode(key, &bytes)?;
                let keep = u.seq == *n
                    && q.status
                        .map_or(u.status != UserStatus::Deleted, |s| s == u.status)
                    && group
                        .as_ref()
                        .is_none_or(|g| u.groups.iter().any(|x| x.lowercase() == *g));
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
    /// The store failed or a record did not decode.
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
        if !u.is_live() {
            return Err(user_not_found());
        }
        // A change is conditional on the hash its old password was checked against.
        if expect_hash.is_some() && u.password_hash.as_deref() != expect_hash {
            return Ok(false);
        }
        u.password_hash = Some(new_hash.clone());
        u.password_changed_at = Some(now);
        if expect_hash.is_none() {
            u.login.reset_password_token_sent_at = Some(now);
        }
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
    let user = get_live(store, org, id).await?;
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

/// Follows a claim to the live user holding it: claim → index entry → record. Three
/// reads whatever the organization's size.
async fn by_claim<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
) -> Result<Option<User>, DomainError> {
    let Some(seq) = claims::holder(store, key).await? else {
        return Ok(None);
    };
    let Some(entry) = records::read::<S, IndexEntry>(store, &keys::user_seq(&org.id, seq)).await?
    else {
        return Ok(None);
    };
    let user: Option<User> = records::read(store, &keys::user(&org.id, &entry.id)).await?;
    // A claim left by a change that stopped half-way no longer names the user.
    Ok(user.filter(|u| {
        u.seq == seq
            && u.status != UserStatus::Deleted
            && user_claims(org, u).iter().any(|(_, k)| k == key)
    }))
}

/// Finds a user by username (case-insensitive).
pub async fn find_by_username<S: Store>(
    store: &S,
    org: &Organization,
    username: &str,
) -> Result<Option<User>, DomainError> {
    by_claim(store, org, &username_key(org, username)).await
}

/// Finds a user by (primary) email (case-insensitive); a user without email is never
/// found.
pub async fn find_by_email<S: Store>(
    store: &S,
    org: &Organization,
    email: &str,
) -> Result<Option<User>, DomainError> {
    Ok(find_by_any_email(store, org, email)
        .await?
        .filter(|u| same_email(u.email.as_deref(), Some(email))))
}

/// Finds the user holding `email` (case-insensitive) as its email or as one of its
/// further addresses.
pub async fn find_by_any_email<S: Store>(
    store: &S,
    org: &Organization,
    email: &str,
) -> Result<Option<User>, DomainError> {
    by_claim(store, org, &email_key(org, email)).await
}

/// Finds a user by UUID (any case).
pub async fn find_by_uuid<S: Store>(
    store: &S,
    org: &Organization,
    uuid: &str,
) -> Result<Option<User>, DomainError> {
    by_claim(store, org, &uuid_key(org, uuid)).await
}

/// Finds a user by external id (case-exact).
pub async fn find_by_external_id<S: Store>(
    store: &S,
    org: &Organization,
    external_id: &str,
) -> Result<Option<User>, DomainError> {
    by_claim(store, org, &external_key(org, external_id)).await
}

/// Separates the fields of a search entry.
pub const FIELD_SEPARATOR: char = '\u{1f}';
/// Separates the current text from the previous one while an update is in flight.
pub const RECORD_SEPARATOR: char = '\u{1e}';

/// The search entry of a user: lowercased username, email (empty without one), first
/// and last name, then each further email address.
pub fn search_text(u: &User) -> String {
    let mut text = format!(
        "{}{FIELD_SEPARATOR}{}{FIELD_SEPARATOR}{} {}",
        u.username.lowercase(),
        u.email.as_deref().unwrap_or_default().lowercase(),
        u.first_name.lowercase(),
        u.last_name.lowercase()
    );
    for other in &u.other_emails {
        text.push(FIELD_SEPARATOR);
        text.push_str(&other.lowercase());
    }
    text
}

/// How many search entries one batch read fetches (one search batch).
pub use crate::search_index::SEARCH_BATCH;

/// The listing position after the first `n` users that have a search entry (every
/// live user, and a user whose removal has not finished), in creation order: a
/// [`list`] from it starts with the `n + 1`-th. `None` when there are at most `n` such
/// users. Reads only the compact search entries, [`SEARCH_BATCH`] per store call, so
/// its cost is linear in `n` with a small constant (an offset into the listing, as
/// SCIM's `startIndex` needs).
pub async fn skip<S: Store>(
    store: &S,
    org: &Organization,
    n: u64,
) -> Result<Option<i64>, DomainError> {
    if n == 0 {
        return Ok(Some(0));
    }
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    let mut seen = 0u64;
    let mut cursor = 0;
    while cursor < top {
        let end = (cursor + SEARCH_BATCH).min(top);
        let entry_keys: Vec<String> = (cursor + 1..=end)
            .map(|k| keys::user_search(&org.id, k))
            .collect();
        for (seq, value) in (cursor + 1..=end).zip(store.get_many(&entry_keys).await?) {
            if value.is_some() {
                seen += 1;
                if seen == n {
                    return Ok(Some(seq));
                }
            }
        }
        cursor = end;
    }
    Ok(None)
}

/// A `q` search: the search batches flagged for q's n-grams
/// ([`crate::search_index::candidates`]), from the one holding `q.after + 1` on, are
/// read in order — their compact search entries, then the index entries and records of
/// the entries that contain `needle` — until the page is full. Key-value calls: one
/// counter read, ⌈batches × n-grams / 1000⌉ flag reads (at most
/// [`crate::search_index::MAX_QUERY_GRAMS`] n-grams), and up to three batch reads per
/// candidate batch.
async fn search<S: Store>(
    store: &S,
    org: &Organization,
    q: &ListQuery,
    needle: &str,
) -> Result<Page, DomainError> {
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    if q.after >= top {
        return Ok(Page {
            users: Vec::new(),
            next: None,
        });
    }
    let group = q.group.as_ref().map(|g| g.lowercase());
    // An organization written before the index existed has no flags: every batch is a
    // candidate (no n-grams to look up), which is the scan it had then.
    let grams = if org.search_index {
        crate::search_index::query_grams(needle)
    } else {
        Vec::new()
    };
    let (first, last) = (
        crate::search_index::batch_of(q.after + 1),
        crate::search_index::batch_of(top),
    );
    let mut users = Vec::new();
    for batch in crate::search_index::candidates(store, org, &grams, first, last).await? {
        let from = (batch * SEARCH_BATCH + 1).max(q.after + 1);
        let to = ((batch + 1) * SEARCH_BATCH).min(top);
        let entry_keys: Vec<String> = (from..=to).map(|n| keys::user_search(&org.id, n)).collect();
        let hits: Vec<i64> = (from..=to)
            .zip(store.get_many(&entry_keys).await?)
            .filter_map(|(n, v)| {
                let v = v?;
                // Match within one field only: the separator never occurs in a needle
                // that passed validation, and names are joined with a space.
                String::from_utf8_lossy(&v).contains(needle).then_some(n)
            })
            .collect();
        if hits.is_empty() {
            continue;
        }
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
                && q.status
                    .map_or(u.status != UserStatus::Deleted, |s| s == u.status)
                && group
                    .as_ref()
                    .is_none_or(|g| u.groups.iter().any(|x| x.lowercase() == *g));
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
    Ok(Page { users, next: None })
}
