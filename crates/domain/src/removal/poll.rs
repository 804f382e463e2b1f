//! The asynchronous continuation: a poll of a removal's operation runs the removal one
//! more batch (or finds it finished, or another request at work) and answers where it
//! stands.

use super::engine::{Start, begin, drive};
use super::{RemovalError, RemovalOutcome, RemovalPolicy, not_found};
use crate::ids::ObjectId;
use crate::model::Organization;
use crate::operations::{self, Operation, OperationStatus};
use crate::store::Store;
use crate::time::Timestamp;

/// Advances an operation: continues its removal by one batch (unless another request
/// holds the lease) and returns where it stands.
pub async fn poll<S: Store>(
    store: &S,
    org: &Organization,
    operation_id: &ObjectId,
    now: Timestamp,
) -> Result<Operation, RemovalError> {
    let op = operations::get(store, &org.id, operation_id)
        .await
        .map_err(not_found)?;
    // A finished operation that still names its user may have stopped before its last
    // writes: `begin` finishes them (or finds the user gone and the operation done).
    let Some(user_id) = op.user_id.clone() else {
        return Ok(op);
    };
    let policy = RemovalPolicy {
        asynchronous: true,
        ..RemovalPolicy::base("apim")
    };
    let started = Box::pin(begin(
        store,
        org,
        &user_id,
        &policy,
        Some(operation_id),
        now,
    ))
    .await;
    match started {
        // The user still carries the removal: it is not over, whatever the record says.
        Ok(Start::Busy(..)) => Ok(Operation {
            status: OperationStatus::InProgress,
            ..op
        }),
        Ok(Start::Go(begun)) => match drive(store, org, &user_id, &policy, begun, now).await? {
            Some(RemovalOutcome::Finished(r)) => Ok(r.operation),
            Some(RemovalOutcome::InProgress { operation, .. }) => Ok(operation),
            // Undone: its re-check refused (only before the operation is recorded, so a
            // poll, which found it, never meets this).
            None => Err(RemovalError::NotFound),
        },
        // The user no longer carries this operation: it finished (possibly through
        // another request that did not get to record it).
        Ok(Start::Gone { .. }) | Err(RemovalError::NotFound) => {
            let mut done = op;
            done.status = OperationStatus::Succeeded;
            done.user_id = None;
            done.processed = done.total;
            done.updated_at = now;
            operations::put(store, &done).await?;
            Ok(done)
        }
        Err(e) => Err(e),
    }
}
