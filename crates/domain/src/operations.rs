//! Operations: the pollable record of a removal that may finish after its request
//! (seed 004's `asyncId`, `Azure-AsyncOperation`). Holds ids and counts only.

use crate::error::{DomainError, Entity};
use crate::ids::ObjectId;
use crate::keys;
use crate::model::RemovalMode;
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationStatus {
    /// Work remains; polling advances it.
    InProgress,
    /// The removal is complete: the user is gone or softly removed.
    Succeeded,
}

/// A removal's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Its id (the user's removal journal names it).
    pub id: ObjectId,
    /// The organization of the removed user (operations are keyed under it).
    pub org_id: ObjectId,
    /// The user being removed; cleared when the operation succeeds (then only
    /// `subject`, the audit pseudonym, names it) — for a removal that clients poll, once
    /// the user record is gone: a succeeded operation that still names its user stopped
    /// just before the record went, and a poll finishes it.
    pub user_id: Option<ObjectId>,
    /// The user's audit pseudonym.
    pub subject: String,
    /// The surface that started it.
    pub surface: String,
    /// Permanent or soft.
    pub mode: RemovalMode,
    /// Where it stands.
    pub status: OperationStatus,
    /// Dependents to purge in all.
    pub total: u64,
    /// Dependents purged so far.
    pub processed: u64,
    /// When it started.
    pub created_at: Timestamp,
    /// When a request last advanced it.
    pub updated_at: Timestamp,
}

/// Reads an operation of `org`.
pub async fn get<S: Store>(
    store: &S,
    org: &ObjectId,
    id: &ObjectId,
) -> Result<Operation, DomainError> {
    records::read(store, &keys::operation(org, id))
        .await?
        .ok_or(DomainError::NotFound {
            entity: Entity::Operation,
        })
}

/// Writes an operation (idempotent).
pub async fn put<S: Store>(store: &S, op: &Operation) -> Result<(), DomainError> {
    records::write(store, &keys::operation(&op.org_id, &op.id), op).await
}
