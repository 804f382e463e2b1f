//! The audit log: one event per removal, restore and purge (and other sensitive
//! actions), numbered per organization.
//!
//! Events never hold personal data: the user they are about is named by a pseudonym
//! (a salted digest of the user id), so once a user is removed permanently nothing in
//! the log leads back to the person. A client that still knows a user id can find its
//! events by asking with that id (the pseudonym is recomputed).

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::Organization;
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Its number in the organization's log.
    pub number: i64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened: `user.removed`, `user.soft_removed`, `user.purged`,
    /// `user.restored`.
    pub action: String,
    /// The surface the request came through (`mdm`, `cas`, `dynatrace`, `apim`,
    /// `wso2`, `scim`, `purge`).
    pub surface: String,
    /// Who asked: a token id, or `admin` for the `admin_token` variable.
    pub actor: String,
    /// The user it is about, as a pseudonym.
    pub subject: String,
    /// The operation, for removals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<ObjectId>,
    /// Counts of what went with the user (devices, enrollmentTokens, …).
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The pseudonym of a user in its organization's audit log.
pub fn pseudonym(org: &Organization, user_id: &ObjectId) -> String {
    let d = keys::digest(&org.salt, &format!("audit-subject:{user_id}"));
    format!("psn_{d}")
}

/// Reserves the next event number (an atomic increment).
pub async fn reserve<S: Store>(store: &S, org: &ObjectId) -> Result<i64, DomainError> {
    Ok(store.increment(&keys::audit_counter(org), 1).await?)
}

/// Writes an event at its (reserved) number; writing it again is harmless.
pub async fn write<S: Store>(
    store: &S,
    org: &ObjectId,
    event: &AuditEvent,
) -> Result<(), DomainError> {
    records::write(store, &keys::audit_event(org, event.number), event).await
}

/// Reserves a number and writes `event` there; returns the event as written.
pub async fn record<S: Store>(
    store: &S,
    org: &ObjectId,
    mut event: AuditEvent,
) -> Result<AuditEvent, DomainError> {
    event.number = reserve(store, org).await?;
    write(store, org, &event).await?;
    Ok(event)
}

/// Most event slots one listing reads.
pub const LIST_SCAN_BUDGET: i64 = 2_000;

/// Events numbered after `after`, oldest first, at most `limit`, optionally only those
/// about `subject`; and where the next page starts. Reads at most
/// [`LIST_SCAN_BUDGET`] slots.
pub async fn list<S: Store>(
    store: &S,
    org: &ObjectId,
    after: i64,
    limit: usize,
    subject: Option<&str>,
) -> Result<(Vec<AuditEvent>, Option<i64>), DomainError> {
    let top = records::read_counter(store, &keys::audit_counter(org)).await?;
    let window = i64::try_from(limit.max(25) * 2).unwrap_or(400);
    let mut out = Vec::new();
    let mut cursor = after;
    while cursor < top && cursor - after < LIST_SCAN_BUDGET {
        let end = (cursor + window).min(top);
        let keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::audit_event(org, n))
            .collect();
        for (key, value) in keys.iter().zip(store.get_many(&keys).await?) {
            let Some(bytes) = value else { continue };
            let e: AuditEvent = records::decode(key, &bytes)?;
            if subject.is_some_and(|s| s != e.subject) {
                continue;
            }
            let n = e.number;
            out.push(e);
            if out.len() == limit {
                return Ok((out, (n < top).then_some(n)));
            }
        }
        cursor = end;
    }
    Ok((out, (cursor < top).then_some(cursor)))
}
