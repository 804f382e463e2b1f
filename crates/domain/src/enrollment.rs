//! Enrollment tokens: issue for a user (with an expiry), list, revoke.

use crate::dependents;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{EnrollmentToken, Organization, TokenStatus};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use crate::users;

/// Default lifetime of an enrollment token: 7 days.
pub const DEFAULT_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest lifetime accepted: 90 days.
pub const MAX_TTL_SECS: i64 = 90 * 24 * 3600;

/// Validates a requested lifetime in seconds (1 s to 90 days).
pub fn parse_ttl(field: &str, secs: Option<i64>) -> Result<i64, ValidationError> {
    match secs {
        None => Ok(DEFAULT_TTL_SECS),
        Some(s) if (1..=MAX_TTL_SECS).contains(&s) => Ok(s),
        Some(_) => Err(ValidationError::new(
            field,
            "must be between 1 and 7776000 seconds",
        )),
    }
}

/// Issues a pending token for an active user, valid for `ttl_secs`.
pub async fn issue<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<EnrollmentToken, DomainError> {
    users::get_live(store, org, user_id).await?;
    let token = EnrollmentToken {
        id: ObjectId::generate(now),
        org_id: org.id.clone(),
        user_id: user_id.clone(),
        status: TokenStatus::Pending,
        created_at: now,
        expires_at: now.plus_millis(ttl_secs.saturating_mul(1000)),
    };
    dependents::attach(
        store,
        &keys::enrollment_token(&org.id, &token.id),
        &token,
        &keys::user_tokens(&org.id, user_id),
        &token.id,
    )
    .await?;
    Ok(token)
}

/// The user's tokens, oldest first.
pub async fn list<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<Vec<EnrollmentToken>, DomainError> {
    users::get(store, org, user_id).await?;
    let ids = dependents::read(store, &keys::user_tokens(&org.id, user_id)).await?;
    dependents::load(store, &ids, |id| keys::enrollment_token(&org.id, id)).await
}

/// Revokes a token of the user (a conditional write; revoking twice is fine).
pub async fn revoke<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    token_id: &ObjectId,
) -> Result<EnrollmentToken, DomainError> {
    let updated = records::update(
        store,
        &keys::enrollment_token(&org.id, token_id),
        |t: &mut EnrollmentToken| {
            if &t.user_id != user_id {
                return Err(DomainError::NotFound {
                    entity: Entity::EnrollmentToken,
                });
            }
            if t.status == TokenStatus::Revoked {
                return Ok(false);
            }
            t.status = TokenStatus::Revoked;
            Ok(true)
        },
    )
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::EnrollmentToken,
        }),
        Updated::Unchanged(t) | Updated::Written(t) => Ok(t),
    }
}

/// The result of inviting one username.
#[derive(Debug)]
pub enum Invited {
    /// A token was issued and an invitation queued.
    Yes {
        /// The issued token (pending until used, revoked or expired).
        token: Box<EnrollmentToken>,
        /// The queued message.
        message: Box<crate::outbox::Message>,
    },
    /// No such user (or being removed).
    NotFound,
    /// The user has no email address: not deliverable. No token was issued and
    /// nothing queued.
    NoEmail,
}

/// Invites users by username (seed 003's email invitation): for each, issues an
/// enrollment token valid for `ttl_secs` and queues an invitation in the outbox. A
/// user without email gets neither ([`Invited::NoEmail`]: not deliverable).
pub async fn invite<S: Store>(
    store: &S,
    org: &Organization,
    username: &str,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<Invited, DomainError> {
    let Some(user) = users::find_by_username(store, org, username).await? else {
        return Ok(Invited::NotFound);
    };
    if user.email.is_none() {
        return Ok(Invited::NoEmail);
    }
    let token = match issue(store, org, &user.id, ttl_secs, now).await {
        Ok(t) => t,
        Err(DomainError::NotFound { .. }) => return Ok(Invited::NotFound),
        Err(e) => return Err(e),
    };
    let message = match crate::outbox::enqueue(
        store,
        org,
        &user,
        crate::outbox::MessageKind::Invitation,
        Some(token.id.clone()),
        now,
    )
    .await
    {
        Ok(m) => m,
        Err(DomainError::NotFound { .. }) => return Ok(Invited::NotFound),
        // The email was removed meanwhile: the token goes too (best effort; an
        // unused token expires anyway).
        Err(DomainError::Invalid(v)) if v == crate::outbox::not_deliverable() => {
            let _ = revoke(store, org, &user.id, &token.id).await;
            return Ok(Invited::NoEmail);
        }
        Err(e) => return Err(e),
    };
    Ok(Invited::Yes {
        token: Box::new(token),
        message: Box::new(message),
    })
}
