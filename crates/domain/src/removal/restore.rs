//! Restore: a softly removed user back within its retention window, with its claims,
//! identity, count, search entry and open lists.

use super::TrashEntry;
use super::engine::{free_values, reopen_lists};
use crate::audit::{self, AuditEvent};
use crate::claims;
use crate::count;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Organization, SoftDeletion, User, UserStatus};
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

/// Restores a softly removed user within the retention window: its claims, identity,
/// count and search entry come back, its lists reopen, its status is what it was.
/// Devices stay retired and enrollment tokens revoked. A user whose window ended is
/// refused with `NotFound` and left as it is, for the purge (the purge route, or a read
/// of the user: [`super::purge_if_expired`]): a refused restore writes nothing, and the
/// restore route carries none of the removal engine.
pub async fn restore<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<User, RestoreError> {
    let (u, deletion) = restorable(store, org, user_id, now).await?;
    // The trash entry says a restore is under way before any claim is taken (so no
    // create or update takes them over meanwhile) and keeps the event's number.
    let Some(number) = begin_restore(store, org, user_id, &deletion, now).await? else {
        // Another restore finished this soft removal since it was read (or a purge
        // did): nothing of it is left to do, and no second event is written.
        return match crate::users::get_any(store, org, user_id).await {
            Ok(back) if back.is_live() => Ok(back),
            Ok(_) | Err(DomainError::NotFound { .. }) => Err(RestoreError::NotFound),
            Err(e) => Err(e.into()),
        };
    };
    retake_claims(store, org, &u, now).await?;
    rejoin_indexes(store, org, user_id, &u, &deletion, now).await?;
    if !hold_off_purge(store, org, user_id, &deletion, now).await? {
        // A purge marked the user first (its window ended as this restore ran): what
        // this restore gave back goes again, and nothing is announced.
        withdraw(store, org, user_id, &u, &deletion).await?;
        return Err(RestoreError::NotFound);
    }
    // Announced before the record changes, at the number the trash entry keeps: a stop
    // anywhere after this leaves the user restorable (or restored) with its event
    // written once, and a repeat completes the restore without a second event.
    announce(store, org, user_id, &u, actor, number, now).await?;
    let Some(restored) = reinstate_record(store, org, user_id, &deletion, now).await? else {
        // A purge took the user meanwhile (its window ended as this restore ran): what
        // this restore gave back goes again, whichever of the two got there first.
        withdraw(store, org, user_id, &u, &deletion).await?;
        return Err(RestoreError::NotFound);
    };
    // The user is live and counted: the count's pin has done its work. A stop before
    // this leaves it for the purge, which releases it with the entry (or, should the
    // user never come back, takes the count back).
    count::unpin(store, &org.id, &count_op(user_id, deletion.trash_seq)).await?;
    store
        .delete(&keys::trash_entry(&org.id, deletion.trash_seq))
        .await?;
    Ok(restored)
}

/// The count operation of a restore of `user_id` from trash entry `trash_seq`: the
/// restore applies it pinned ([`count::apply_pinned`]), before the record is reinstated,
/// so a purge of a user whose restore stopped in between can take it back
/// ([`count::undo_pinned`]) however long after.
pub(super) fn count_op(user_id: &ObjectId, trash_seq: i64) -> String {
    format!("+restore/{user_id}/{trash_seq}")
}

/// Marks this soft removal's trash entry with the restore's start (`restoringSince`:
/// its claims are the restore's for [`crate::users::ABANDONED_CLAIM_MS`]) and returns
/// the restore's audit number: the one the entry keeps, or one reserved now and kept
/// there (of concurrent restores, the first kept wins; a number reserved and not kept
/// is a gap in the audit log, as a removal's can be). `None` when the entry is gone
/// because the soft removal is over — the user is no longer softly removed by it
/// (another restore deleted the entry when it finished, or a purge did).
async fn begin_restore<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    deletion: &SoftDeletion,
    now: Timestamp,
) -> Result<Option<i64>, DomainError> {
    let key = keys::trash_entry(&org.id, deletion.trash_seq);
    let entry: Option<TrashEntry> = records::read(store, &key).await?;
    let reserved = match entry.and_then(|e| e.restore_audit) {
        Some(n) => n,
        None => audit::reserve(store, &org.id).await?,
    };
    let kept = records::update(store, &key, |e: &mut TrashEntry| {
        e.restore_audit.get_or_insert(reserved);
        e.restoring_since = Some(now);
        Ok::<_, DomainError>(true)
    })
    .await?;
    Ok(match kept {
        Updated::Written(e) | Updated::Unchanged(e) => Some(e.restore_audit.unwrap_or(reserved)),
        Updated::Missing => {
            // Still softly removed by this removal: an entry missing for another reason
            // (the checker would report its user); the event is still written once
            // per attempt.
            let same = match crate::users::get_any(store, org, user_id).await {
                Ok(u) => {
                    u.status == UserStatus::Deleted
                        && u.deletion
                            .is_some_and(|d| d.trash_seq == deletion.trash_seq)
                }
                Err(DomainError::NotFound { .. }) => false,
                Err(e) => return Err(e),
            };
            same.then_some(reserved)
        }
    })
}

/// The softly removed user and its deletion, if it can be restored: `NotFound` for no
/// such user, one that is not softly removed, or one whose window ended (left for the
/// purge: nothing is written).
async fn restorable<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    now: Timestamp,
) -> Result<(User, SoftDeletion), RestoreError> {
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
        return Err(RestoreError::NotFound);
    }
    Ok((u, deletion))
}

/// Claims the user's unique values again, in [`crate::users::user_claims`] order
/// (taking over abandoned claims like a create). If another user took one meanwhile,
/// the claims won so far are released and the restore answers `Conflict` naming the
/// field; nothing else has changed.
async fn retake_claims<S: Store>(
    store: &S,
    org: &Organization,
    u: &User,
    now: Timestamp,
) -> Result<(), RestoreError> {
    let mut won = Vec::new();
    for (field, key) in crate::users::user_claims(org, u) {
        if crate::users::claim_for(store, org, &key, u.seq, now).await? {
            won.push(key);
        } else {
            for k in &won {
                claims::release(store, k, u.seq).await?;
            }
            return Err(RestoreError::Conflict { field });
        }
    }
    Ok(())
}

/// Puts the user back where it is found and counted: the identity index, its search
/// entry, the count (once per soft removal, keyed by its trash number), and its lists
/// reopened.
async fn rejoin_indexes<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    u: &User,
    deletion: &SoftDeletion,
    now: Timestamp,
) -> Result<(), DomainError> {
    if let Some(email) = &u.email {
        crate::identity::join(store, email, &org.id, user_id, now).await?;
    }
    let text = crate::users::search_text(u);
    crate::search_index::flag(store, org, u.seq, &text).await?;
    store
        .set(&keys::user_search(&org.id, u.seq), text.as_bytes())
        .await?;
    count::apply_pinned(store, &org.id, &count_op(user_id, deletion.trash_seq), 1).await?;
    reopen_lists(store, &org.id, user_id).await?;
    Ok(())
}

/// The restore's fence against the purge, a conditional write of the user record before
/// the restore is announced: the retention window is held open until the restore's lease
/// ([`crate::users::ABANDONED_CLAIM_MS`], as its claims) has passed after `now`. A purge
/// that has not marked the user by then finds the window open when its mark reads the
/// record again ([`RemovalPolicy::expired_only`](super::RemovalPolicy)) and leaves the user
/// to the restore; a purge that marked first is seen here, and the restore answers
/// `NotFound` without writing its event. A restore stopped for good is purged once the
/// lease has passed. Writes only when the window ends sooner than the lease (the
/// record's `deletion.purgeAfter` moves, its version with it).
///
/// `true`: the restore goes on (the user is still softly removed by `deletion`, or
/// already back); `false`: a purge has the user (it is being removed, or gone).
async fn hold_off_purge<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    deletion: &SoftDeletion,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let lease_end = now.plus_millis(crate::users::ABANDONED_CLAIM_MS);
    let ours = |x: &User| {
        x.status == UserStatus::Deleted
            && x.deletion
                .as_ref()
                .is_some_and(|d| d.trash_seq == deletion.trash_seq)
    };
    let updated = records::update(store, &keys::user(&org.id, user_id), |x: &mut User| {
        if !ours(x) {
            return Ok::<_, DomainError>(false);
        }
        let Some(d) = x.deletion.as_mut().filter(|d| d.purge_after < lease_end) else {
            return Ok(false);
        };
        d.purge_after = lease_end;
        x.version += 1;
        x.updated_at = now;
        Ok(true)
    })
    .await?;
    Ok(match updated {
        Updated::Written(_) => true,
        Updated::Unchanged(x) => ours(&x) || x.is_live(),
        Updated::Missing => false,
    })
}

/// The record gets back the status it had before the removal (a new version); a record
/// already reinstated is answered as it is; `None` when a purge took the user meanwhile
/// (it is being removed, or gone).
async fn reinstate_record<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    deletion: &SoftDeletion,
    now: Timestamp,
) -> Result<Option<User>, RestoreError> {
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
    Ok(match updated {
        Updated::Written(x) => Some(x),
        Updated::Unchanged(x) if x.is_live() => Some(x),
        Updated::Unchanged(_) | Updated::Missing => None,
    })
}

/// Takes back what a restore gave `u` before a purge took the user: its claims (those
/// still its own), identity membership, search entry and pinned count. The purge frees
/// the same; this covers whatever the restore wrote after the purge had freed it.
async fn withdraw<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    u: &User,
    deletion: &SoftDeletion,
) -> Result<(), DomainError> {
    free_values(store, org, user_id, u).await?;
    let op = count_op(user_id, deletion.trash_seq);
    count::undo_pinned(store, &org.id, &op, 1).await
}

/// The user shows among its groups' members again (their representations change), and
/// the restore is audited at `number` (queued for subscribers first, as every audit
/// event is; both writes are idempotent), naming the user `removed` (its identifiers are
/// those the restore brings back).
async fn announce<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    removed: &User,
    actor: &str,
    number: i64,
    now: Timestamp,
) -> Result<(), DomainError> {
    crate::groups::touch_named(store, org, &removed.groups, now).await?;
    let event = AuditEvent {
        number,
        at: now,
        action: "user.restored".into(),
        surface: "mdm".into(),
        actor: actor.to_owned(),
        subject: audit::pseudonym(org, user_id),
        operation_id: None,
        details: serde_json::Map::new(),
    };
    let personal = crate::events::Personal::of(removed);
    crate::events::queue(store, org, &event, Some(personal)).await?;
    audit::write(store, &org.id, &event).await
}
