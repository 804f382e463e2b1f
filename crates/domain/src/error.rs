//! The domain's error types: one per concern. Each surface of `roster-api` maps them to
//! HTTP in exactly one place.

use crate::store::StoreError;

/// An input that fails validation; names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    /// The field (or path parameter) at fault, as the client named it.
    pub field: String,
    /// What is wrong with it, in lowercase prose.
    pub reason: String,
}

impl ValidationError {
    /// A validation failure of `field` because `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The kinds of entity the domain stores, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// An organization.
    Organization,
    /// A user.
    User,
    /// A device.
    Device,
    /// An enrollment token.
    EnrollmentToken,
    /// A group.
    Group,
    /// An API token.
    ApiToken,
    /// A subscription.
    Subscription,
    /// An asynchronous operation.
    Operation,
    /// A pushed-event subscription.
    EventSubscription,
    /// A delivery of a pushed event.
    EventDelivery,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Organization => "organization",
            Entity::User => "user",
            Entity::Device => "device",
            Entity::EnrollmentToken => "enrollment token",
            Entity::Group => "group",
            Entity::ApiToken => "token",
            Entity::Subscription => "subscription",
            Entity::Operation => "operation",
            Entity::EventSubscription => "event subscription",
            Entity::EventDelivery => "event delivery",
        })
    }
}

/// Why a create, read or update of a directory entity failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The entity does not exist (or is not visible in this organization).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for.
        entity: Entity,
    },
    /// A unique field is already taken.
    #[error("{field} is already in use")]
    Conflict {
        /// The unique field: `username`, `email` or `slug`.
        field: &'static str,
    },
    /// The entity changed since the version the client holds.
    #[error("the {entity} was modified concurrently")]
    PreconditionFailed {
        /// The entity whose version did not match.
        entity: Entity,
    },
    /// A stored record could not be decoded.
    #[error("stored record at {key} is corrupt: {reason}")]
    Corrupt {
        /// The key holding the record.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request about one user's own lifecycle state was refused: its export
/// (`export::ExportError`) and its scheduled removal (`schedules::ScheduleError`) are
/// this type; a legal hold adds one reason of its own (`holds::HoldError`).
#[derive(Debug, thiserror::Error)]
pub enum UserStateError {
    /// No such user (never was, or permanently removed; for a schedule, also softly
    /// removed).
    #[error("user not found")]
    NotFound,
    /// The user's removal has begun (`pending_deletion`): it will finish, so there is
    /// nothing to export, schedule or protect any more. Names the removal's operation.
    #[error("the user's removal is in progress")]
    RemovalInProgress {
        /// The operation of the removal under way.
        operation_id: crate::ids::ObjectId,
    },
    /// The store failed; repeating the request is safe.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<StoreError> for UserStateError {
    fn from(e: StoreError) -> Self {
        Self::Domain(e.into())
    }
}

impl UserStateError {
    /// The refusal for `u`, a user marked `pending_deletion`: its removal's operation,
    /// or [`DomainError::Corrupt`] when the mark has no removal journal.
    pub(crate) fn in_progress(u: &crate::model::User) -> Self {
        match &u.removal {
            Some(j) => Self::RemovalInProgress {
                operation_id: j.operation_id.clone(),
            },
            None => Self::Domain(DomainError::Corrupt {
                key: crate::keys::user(&u.org_id, &u.id),
                reason: "pending_deletion without a removal journal".into(),
            }),
        }
    }

    /// [`UserStateError::NotFound`] for a missing user, the store's error otherwise.
    pub(crate) fn not_found(e: DomainError) -> Self {
        match e {
            DomainError::NotFound { .. } => Self::NotFound,
            other => Self::Domain(other),
        }
    }
}
