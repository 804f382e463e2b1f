//! The removal engine: one journaled state machine, a policy per surface.
//!
//! 1. The user record is swapped to `pending_deletion` with a removal journal (a
//!    conditional write: of two concurrent removals one marks, the other sees the mark).
//! 2. The user's dependent lists are closed (no enrollment can slip in), and the
//!    guards the policy asks for are checked again on what they hold; if a guard now
//!    blocks, the mark is undone.
//! 3. Devices and enrollment tokens are deleted, then the lists, the username and email
//!    claims, the count, the index entry and finally the user record.
//!
//! Every step is idempotent, and until the last step the user record (in
//! `pending_deletion`) remains as the journal: a removal that stops anywhere is
//! completed by the next attempt.

use crate::claims;
use crate::count;
use crate::dependents;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{
    Device, DeviceStatus, EnrollmentToken, IdentitySource, Organization, RemovalJournal, User,
    UserStatus,
};
use crate::records;
use crate::store::{Store, Swap};
use crate::time::Timestamp;

/// What a surface asks of a removal (DESIGN.md §5).
#[derive(Debug, Clone, Default)]
pub struct RemovalPolicy {
    /// Refuse while the user has ACTIVE devices (otherwise they are removed too).
    pub refuse_active_devices: bool,
    /// Refuse while the user has pending, unexpired enrollment tokens.
    pub refuse_pending_tokens: bool,
    /// Refuse unless the user is disabled.
    pub require_disabled: bool,
    /// Refuse users mastered elsewhere (SCIM, directory sync).
    pub refuse_externally_managed: bool,
    /// Refuse unless the user's version equals this (`If-Match`).
    pub expected_version: Option<u64>,
    /// Complete a removal found in progress (otherwise answer `PendingDeletion`).
    pub resume_pending: bool,
}

impl RemovalPolicy {
    /// Seed 000 (the canonical surface): refuse active devices (5054) and pending
    /// tokens (5055), resume a removal in progress.
    pub fn canonical() -> Self {
        Self {
            refuse_active_devices: true,
            refuse_pending_tokens: true,
            resume_pending: true,
            ..Self::default()
        }
    }
}

/// Why a removal did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RemovalError {
    /// No such user in the organization.
    #[error("user not found")]
    NotFound,
    /// The user has ACTIVE devices.
    #[error("user has {count} active devices")]
    ActiveDevices {
        /// How many.
        count: usize,
    },
    /// The user has pending enrollment tokens.
    #[error("user has {count} pending enrollment tokens")]
    PendingEnrollmentTokens {
        /// How many.
        count: usize,
    },
    /// The policy requires a disabled user.
    #[error("user is enabled")]
    Enabled,
    /// A removal of the user is already in progress.
    #[error("user is pending deletion")]
    PendingDeletion,
    /// The user is mastered by an identity provider or directory.
    #[error("user is managed by an external identity source")]
    ExternallyManaged,
    /// The version did not match `If-Match`.
    #[error("user version does not match")]
    PreconditionFailed,
    /// The store or a record failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for RemovalError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Domain(e.into())
    }
}

/// What a finished removal removed.
#[derive(Debug, Clone)]
pub struct Removed {
    /// The user as it was when the removal started.
    pub user: User,
    /// How many devices went with it.
    pub devices: usize,
    /// How many enrollment tokens went with it.
    pub enrollment_tokens: usize,
}

struct Blockers {
    active_devices: usize,
    pending_tokens: usize,
}

async fn blockers<S: Store>(
    store: &S,
    org: &Organization,
    devices: &[ObjectId],
    tokens: &[ObjectId],
    now: Timestamp,
) -> Result<Blockers, DomainError> {
    let devices: Vec<Device> =
        dependents::load(store, devices, |id| keys::device(&org.id, id)).await?;
    let tokens: Vec<EnrollmentToken> =
        dependents::load(store, tokens, |id| keys::enrollment_token(&org.id, id)).await?;
    Ok(Blockers {
        active_devices: devices
            .iter()
            .filter(|d| d.enrolment_info.status == DeviceStatus::Active)
            .count(),
        pending_tokens: tokens.iter().filter(|t| t.is_pending(now)).count(),
    })
}

fn check(policy: &RemovalPolicy, b: &Blockers) -> Result<(), RemovalError> {
    if policy.refuse_active_devices && b.active_devices > 0 {
        return Err(RemovalError::ActiveDevices {
            count: b.active_devices,
        });
    }
    if policy.refuse_pending_tokens && b.pending_tokens > 0 {
        return Err(RemovalError::PendingEnrollmentTokens {
            count: b.pending_tokens,
        });
    }
    Ok(())
}

/// Removes a user of `org` under `policy`, or completes a removal in progress.
pub async fn remove_user<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Removed, RemovalError> {
    let user_key = keys::user(&org.id, user_id);
    let devices_key = keys::user_devices(&org.id, user_id);
    let tokens_key = keys::user_tokens(&org.id, user_id);

    // Step 1: mark (or find the mark).
    let mut marked_now = None;
    let mut user: Option<User> = None;
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&user_key).await?;
        let Some(bytes) = current else {
            return Err(RemovalError::NotFound);
        };
        let current: User = records::decode(&user_key, &bytes)?;
        if current.status == UserStatus::PendingDeletion {
            if !policy.resume_pending {
                return Err(RemovalError::PendingDeletion);
            }
            user = Some(current);
            break;
        }
        if policy
            .expected_version
            .is_some_and(|v| v != current.version)
        {
            return Err(RemovalError::PreconditionFailed);
        }
        if policy.refuse_externally_managed && current.source != IdentitySource::Local {
            return Err(RemovalError::ExternallyManaged);
        }
        if policy.require_disabled && current.status != UserStatus::Disabled {
            return Err(RemovalError::Enabled);
        }
        let device_ids = dependents::read(store, &devices_key).await?;
        let token_ids = dependents::read(store, &tokens_key).await?;
        check(
            policy,
            &blockers(store, org, &device_ids, &token_ids, now).await?,
        )?;
        let mut next = current.clone();
        next.status = UserStatus::PendingDeletion;
        next.version += 1;
        next.updated_at = now;
        next.removal = Some(RemovalJournal {
            operation_id: ObjectId::generate(now),
            started_at: now,
        });
        if store.swap(cas, &records::encode(&user_key, &next)?).await? == Swap::Done {
            marked_now = Some(current.clone());
            user = Some(current);
            break;
        }
    }
    let Some(user) = user else {
        return Err(DomainError::Store(crate::store::StoreError::new(
            "too much contention marking the user",
        ))
        .into());
    };

    // Step 2: close the lists; re-check what they hold if we just marked.
    let device_ids = dependents::close(store, &devices_key).await?;
    let token_ids = dependents::close(store, &tokens_key).await?;
    let outbox_key = keys::user_outbox(&org.id, user_id);
    let message_ids = dependents::close(store, &outbox_key).await?;
    if let Some(before) = &marked_now {
        let b = blockers(store, org, &device_ids, &token_ids, now).await?;
        if let Err(refusal) = check(policy, &b) {
            unmark(store, org, before, now).await?;
            return Err(refusal);
        }
    }

    // Step 3: purge dependents, then indexes, then the record.
    let device_keys: Vec<String> = device_ids
        .iter()
        .map(|id| keys::device(&org.id, id))
        .collect();
    let token_keys: Vec<String> = token_ids
        .iter()
        .map(|id| keys::enrollment_token(&org.id, id))
        .collect();
    let message_keys = crate::outbox::message_keys(&org.id, &message_ids);
    for chunk in device_keys
        .chunks(100)
        .chain(token_keys.chunks(100))
        .chain(message_keys.chunks(100))
    {
        store.delete_many(chunk).await?;
    }
    store
        .delete_many(&[devices_key, tokens_key, outbox_key])
        .await?;
    crate::groups::leave_all(store, org, &user.id, &user.groups).await?;
    let (name_key, email_key) = crate::users::claim_keys(org, &user.username, &user.email);
    claims::release(store, &name_key, user.seq).await?;
    claims::release(store, &email_key, user.seq).await?;
    count::apply(store, &org.id, &format!("-{}", user.id), -1).await?;
    store.delete(&keys::user_search(&org.id, user.seq)).await?;
    store.delete(&keys::user_seq(&org.id, user.seq)).await?;
    store.delete(&user_key).await?;
    Ok(Removed {
        user,
        devices: device_ids.len(),
        enrollment_tokens: token_ids.len(),
    })
}

/// Undoes a mark whose re-check refused: reopens the lists, restores the status.
async fn unmark<S: Store>(
    store: &S,
    org: &Organization,
    before: &User,
    now: Timestamp,
) -> Result<(), DomainError> {
    for key in [
        keys::user_devices(&org.id, &before.id),
        keys::user_tokens(&org.id, &before.id),
        keys::user_outbox(&org.id, &before.id),
    ] {
        records::update(store, &key, |l: &mut dependents::DependentList| {
            let changed = l.closed;
            l.closed = false;
            Ok::<_, DomainError>(changed)
        })
        .await?;
    }
    records::update(store, &keys::user(&org.id, &before.id), |u: &mut User| {
        if u.status != UserStatus::PendingDeletion {
            return Ok::<_, DomainError>(false);
        }
        u.status = before.status;
        u.removal = None;
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    Ok(())
}
