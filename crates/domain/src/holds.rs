//! Legal holds (deletion protection): a hold on one user, or on a whole organization,
//! makes every removal path refuse while it is active (the removal engine's guard,
//! [`crate::removal::Blocker::LegalHold`]), and the purge skip the user.
//!
//! A user's hold lives in its record and an organization's in its record, each placed
//! and lifted by a conditional write of that record. So a user's hold and a removal's
//! mark (also a conditional write of the user record) are ordered: a removal that marks
//! the user first goes on to the end, and then the hold is refused
//! ([`UserStateError::RemovalInProgress`]); a hold placed first makes the mark refuse. An
//! organization's hold is read with the organization at the start of each request, so
//! it refuses every removal that begins after it was written. `docs/lifecycle.md`
//! states the rules.
//!
//! Placing and lifting are audited (`user.hold_placed`, `user.hold_lifted`,
//! `organization.hold_placed`, `organization.hold_lifted`); the events carry the
//! scope, the end and who acted, never the reason (it may name the person, and the
//! audit log outlives the user).

use crate::audit::{self, AuditEvent};
use crate::error::{DomainError, Entity, UserStateError, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{LegalHold, Organization, User, UserStatus};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;

/// Longest hold that ends by itself: ten years, in seconds (longer: no end).
pub const MAX_HOLD_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// A validated request to place a hold.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// Why (1 to 256 characters).
    pub reason: String,
    /// Seconds until it ends by itself (`None`: until lifted).
    pub expires_in: Option<i64>,
}

impl NewHold {
    /// Validates `reason` (1 to 256 characters, no control characters) and
    /// `expiresIn` (1 to [`MAX_HOLD_SECONDS`]); errors name the field.
    pub fn parse(reason: &str, expires_in: Option<i64>) -> Result<Self, ValidationError> {
        let reason = ids::text("reason", reason, ids::MAX_TEXT_LEN)?;
        if reason.trim().is_empty() {
            return Err(ValidationError::new("reason", "must not be empty"));
        }
        if let Some(s) = expires_in
            && !(1..=MAX_HOLD_SECONDS).contains(&s)
        {
            return Err(ValidationError::new(
                "expiresIn",
                format!("must be an integer from 1 to {MAX_HOLD_SECONDS} (seconds)"),
            ));
        }
        Ok(Self { reason, expires_in })
    }

    fn into_hold(self, actor: &str, now: Timestamp) -> LegalHold {
        LegalHold {
            reason: self.reason,
            placed_by: actor.to_owned(),
            placed_at: now,
            until: self
                .expires_in
                .map(|s| now.plus_millis(s.saturating_mul(1000))),
        }
    }
}

/// Why a hold was not placed or lifted.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// No such user, or its removal is in progress (a hold cannot protect a user whose
    /// removal has begun: it will finish), or the store failed.
    #[error(transparent)]
    State(#[from] UserStateError),
    /// The new hold would end an active hold sooner (or give an open-ended one an end)
    /// and the caller may not lift holds: shortening a hold is lifting it in part, so
    /// it needs the remove permission as well as the create one.
    #[error("replacing the active hold with one that ends sooner needs the remove permission")]
    ShortensActiveHold,
}

/// A user's hold as read: the user (any state but permanently removed) and its hold.
pub async fn user_hold<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<(User, Option<LegalHold>), HoldError> {
    let u = crate::users::get_any(store, org, user_id)
        .await
        .map_err(|e| HoldError::from(UserStateError::not_found(e)))?;
    let hold = u.legal_hold.clone();
    Ok((u, hold))
}

/// Places (or replaces) the hold of a user of `org`: live, or softly removed (which
/// stops its purge). Refused while the user's removal is in progress, and
/// ([`HoldError::ShortensActiveHold`]) when it would end an active hold sooner unless
/// `may_shorten` (the caller also holds the remove permission) — checked inside the
/// conditional write, so a concurrent placement cannot slip past it. Audited as
/// `user.hold_placed` (with `replaced: true` when an active hold was replaced).
/// Returns the user as written.
pub async fn place_user_hold<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    new: NewHold,
    may_shorten: bool,
    actor: &str,
    now: Timestamp,
) -> Result<User, HoldError> {
    let hold = new.into_hold(actor, now);
    let mut replaced = false;
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(HoldError::from(UserStateError::in_progress(u)));
        }
        replaced = check_replace(u.legal_hold.as_ref(), &hold, may_shorten, now)?;
        u.legal_hold = Some(hold.clone());
        u.version += 1;
        u.updated_at = now;
        Ok::<_, HoldError>(true)
    })
    .await?;
    let user = match updated {
        Updated::Written(u) | Updated::Unchanged(u) => u,
        Updated::Missing => return Err(UserStateError::NotFound.into()),
    };
    let subject = audit::pseudonym(org, user_id);
    let d = details("user", Some(&hold), replaced);
    let who = Some(crate::events::Personal::id_only(user_id));
    record(store, org, "user.hold_placed", subject, actor, d, who, now).await?;
    Ok(user)
}

/// Whether `new` may replace `old` at `now`, and whether it replaces an active hold.
/// An inactive (ended) or absent hold may always be replaced; an active one by a hold
/// that ends no sooner, or by any hold when `may_shorten`.
fn check_replace(
    old: Option<&LegalHold>,
    new: &LegalHold,
    may_shorten: bool,
    now: Timestamp,
) -> Result<bool, HoldError> {
    let Some(old) = old.filter(|h| h.is_active(now)) else {
        return Ok(false);
    };
    let no_sooner = match (new.until, old.until) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(n), Some(o)) => n >= o,
    };
    if no_sooner || may_shorten {
        Ok(true)
    } else {
        Err(HoldError::ShortensActiveHold)
    }
}

/// Lifts the hold of a user of `org`; `Ok(None)` when it had none (nothing written,
/// nothing audited). Refused while the user's removal is in progress (it holds no
/// hold then). Audited as `user.hold_lifted`.
pub async fn lift_user_hold<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<Option<LegalHold>, HoldError> {
    let (u, before) = user_hold(store, org, user_id).await?;
    let Some(before) = before else {
        return Ok(None);
    };
    if u.status == UserStatus::PendingDeletion {
        return Err(UserStateError::in_progress(&u).into());
    }
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(HoldError::from(UserStateError::in_progress(u)));
        }
        u.legal_hold = None;
        u.version += 1;
        u.updated_at = now;
        Ok::<_, HoldError>(true)
    })
    .await?;
    if matches!(updated, Updated::Missing) {
        return Err(UserStateError::NotFound.into());
    }
    let subject = audit::pseudonym(org, user_id);
    let d = details("user", Some(&before), false);
    let who = Some(crate::events::Personal::id_only(user_id));
    record(store, org, "user.hold_lifted", subject, actor, d, who, now).await?;
    Ok(Some(before))
}

/// Places (or replaces) the organization-wide hold; like [`place_user_hold`], ending
/// an active hold sooner needs `may_shorten` ([`HoldError::ShortensActiveHold`]),
/// checked inside the conditional write of the organization. Audited as
/// `organization.hold_placed`. Returns the organization as written.
pub async fn place_org_hold<S: Store>(
    store: &S,
    org: &Organization,
    new: NewHold,
    may_shorten: bool,
    actor: &str,
    now: Timestamp,
) -> Result<Organization, HoldError> {
    let hold = new.into_hold(actor, now);
    let mut replaced = false;
    let written = change_org_hold(store, &org.id, now, |o| {
        replaced = check_replace(o.legal_hold.as_ref(), &hold, may_shorten, now)?;
        o.legal_hold = Some(hold.clone());
        Ok(())
    })
    .await?;
    let d = details("organization", Some(&hold), replaced);
    let subject = format!("organization:{}", org.id);
    record(
        store,
        org,
        "organization.hold_placed",
        subject,
        actor,
        d,
        None,
        now,
    )
    .await?;
    Ok(written)
}

/// Lifts the organization-wide hold; `Ok(None)` when there was none (nothing written,
/// nothing audited). Audited as `organization.hold_lifted`.
pub async fn lift_org_hold<S: Store>(
    store: &S,
    org: &Organization,
    actor: &str,
    now: Timestamp,
) -> Result<Option<LegalHold>, HoldError> {
    let current = crate::orgs::get(store, &org.id).await?;
    let Some(before) = current.legal_hold else {
        return Ok(None);
    };
    change_org_hold(store, &org.id, now, |o| {
        o.legal_hold = None;
        Ok(())
    })
    .await?;
    let d = details("organization", Some(&before), false);
    let subject = format!("organization:{}", org.id);
    record(
        store,
        org,
        "organization.hold_lifted",
        subject,
        actor,
        d,
        None,
        now,
    )
    .await?;
    Ok(Some(before))
}

/// Applies `change` to the organization's record in a conditional write (a new
/// version).
async fn change_org_hold<S: Store>(
    store: &S,
    org_id: &ObjectId,
    now: Timestamp,
    mut change: impl FnMut(&mut Organization) -> Result<(), HoldError>,
) -> Result<Organization, HoldError> {
    let updated = records::update(store, &keys::org(org_id), |o: &mut Organization| {
        change(o)?;
        o.version += 1;
        o.updated_at = now;
        Ok::<_, HoldError>(true)
    })
    .await?;
    match updated {
        Updated::Written(o) | Updated::Unchanged(o) => Ok(o),
        Updated::Missing => Err(HoldError::from(DomainError::NotFound {
            entity: Entity::Organization,
        })),
    }
}

/// The audit details of a hold: its scope and end (and whether it replaced an active
/// hold), never its reason.
fn details(
    scope: &str,
    hold: Option<&LegalHold>,
    replaced: bool,
) -> serde_json::Map<String, serde_json::Value> {
    let mut d = serde_json::Map::new();
    d.insert("scope".into(), scope.into());
    if let Some(h) = hold {
        d.insert("placedAt".into(), h.placed_at.to_rfc3339().into());
        d.insert(
            "until".into(),
            h.until
                .map_or(serde_json::Value::Null, |u| u.to_rfc3339().into()),
        );
    }
    if replaced {
        d.insert("replaced".into(), true.into());
    }
    d
}

/// Appends a hold event about `subject` (a user's pseudonym or `organization:{id}`),
/// queued first for the organization's pushed-event subscribers ([`crate::events`]) with
/// `personal` (a user's id; `None` for the organization's hold).
#[allow(clippy::too_many_arguments)]
async fn record<S: Store>(
    store: &S,
    org: &Organization,
    action: &str,
    subject: String,
    actor: &str,
    details: serde_json::Map<String, serde_json::Value>,
    personal: Option<crate::events::Personal>,
    now: Timestamp,
) -> Result<(), DomainError> {
    crate::events::record(
        store,
        org,
        AuditEvent {
            number: 0,
            at: now,
            action: action.to_owned(),
            surface: "mdm".into(),
            actor: actor.to_owned(),
            subject,
            operation_id: None,
            details,
        },
        personal,
    )
    .await?;
    Ok(())
}

impl From<DomainError> for HoldError {
    fn from(e: DomainError) -> Self {
        Self::State(e.into())
    }
}

impl From<crate::store::StoreError> for HoldError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::State(e.into())
    }
}
