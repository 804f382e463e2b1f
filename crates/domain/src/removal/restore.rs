//! Restore: a softly removed user back within its retention window, with its claims,
//! identity, count, search entry and open lists.

use super::engine::{remove_user, reopen_lists};
use super::{RemovalError, RemovalPolicy};
use crate::audit::{self, AuditEvent};
use crate::claims;
use crate::count;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Organization, User, UserStatus};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// No softly removed user with this id (never was, already purged, or expired).
    #[error("no restorable user")]
    NotFound,
    /// Another user took the username, email or external id meanwhile.
    #[error("{field} is already in use")]
    Conflict {
        /// The API name of the field whose value is taken (`username`, `email`,
        /// `externalId`, ...), as [`crate::users::user_claims`] names it.
        field: &'static str,
    },
    /// The store failed; repeating the request completes the restore.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for RestoreError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Domain(e.into())
    }
}

impl From<RemovalError> for RestoreError {
    fn from(e: RemovalError) -> Self {
        match e {
            RemovalError::Domain(d) => Self::Domain(d),
            _ => Self::NotFound,
        }
    }
}

/// Restores a softly removed user within the retention window: its claims, identity,
/// count and search entry come back, its lists reopen, its status is what it was.
/// Devices stay retired and enrollment tokens revoked. An expired user is purged
/// instead (`NotFound`).
pub async fn restore<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<User, RestoreError> {
    let u = crate::users::get_any(store, org, user_id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound { .. } => RestoreError::NotFound,
            other => RestoreError::Domain(other),
        })?;
    let Some(deletion) = u
        .deletion
        .clone()
        .filter(|_| u.status == UserStatus::Deleted)
    else {
        return Err(RestoreError::NotFound);
    };
    if now >= deletion.purge_after {
        remove_user(store, org, user_id, &RemovalPolicy::purge().by(actor), now).await?;
        return Err(RestoreError::NotFound);
    }
    let mut won = Vec::new();
    for (field, key) in crate::users::user_claims(org, &u) {
        if crate::users::claim_for(store, org, &key, u.seq, now).await? {
            won.push(key);
        } else {
            for k in &won {
                claims::release(store, k, u.seq).await?;
            }
            return Err(RestoreError::Conflict { field });
        }
    }
    crate::identity::join(store, &u.email, &org.id, user_id, now).await?;
    store
        .set(
            &keys::user_search(&org.id, u.seq),
            crate::users::search_text(&u).as_bytes(),
        )
        .await?;
    count::apply(
        store,
        &org.id,
        &format!("+restore/{user_id}/{}", deletion.trash_seq),
        1,
    )
    .await?;
    reopen_lists(store, &org.id, user_id).await?;
    let updated = records::update(store, &keys::user(&org.id, user_id), |x: &mut User| {
        if x.status != UserStatus::Deleted {
            return Ok::<_, DomainError>(false);
        }
        x.status = deletion.status_before;
        x.deletion = None;
        x.version += 1;
        x.updated_at = now;
        Ok(true)
    })
    .await?;
    let restored = match updated {
        Updated::Written(x) | Updated::Unchanged(x) => x,
        Updated::Missing => return Err(RestoreError::NotFound),
    };
    store
        .delete(&keys::trash_entry(&org.id, deletion.trash_seq))
        .await?;
    crate::groups::touch_named(store, org, &restored.groups, now).await?;
    audit::record(
        store,
        &org.id,
        AuditEvent {
            number: 0,
            at: now,
            action: "user.restored".into(),
            surface: "mdm".into(),
            actor: actor.to_owned(),
            subject: audit::pseudonym(org, user_id),
            operation_id: None,
            details: serde_json::Map::new(),
        },
    )
    .await?;
    Ok(restored)
}
