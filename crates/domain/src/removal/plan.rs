//! The dry run and the guards: what a removal under a policy would take, and what
//! refuses it. The engine checks the same guards when it marks the user and again
//! once the lists are closed.

use super::{Blocker, Counts, RemovalError, RemovalPolicy, Subscriptions, not_found};
use crate::dependents;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{
    Device, DeviceStatus, EnrollmentToken, IdentitySource, Organization, RemovalMode, Subscription,
    SubscriptionState, User, UserStatus,
};
use crate::store::Store;
use crate::time::Timestamp;

/// The ids a user's dependent lists hold (read, or read while closing them).
pub(super) struct DependentIds {
    pub(super) devices: Vec<ObjectId>,
    pub(super) tokens: Vec<ObjectId>,
    pub(super) messages: Vec<ObjectId>,
    pub(super) api_tokens: Vec<ObjectId>,
    pub(super) subscriptions: Vec<ObjectId>,
}

impl DependentIds {
    /// No dependents: what guards that read no list are given.
    pub(super) fn none() -> Self {
        Self {
            devices: Vec::new(),
            tokens: Vec::new(),
            messages: Vec::new(),
            api_tokens: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    /// What a removal of these dependents (and `groups` memberships) takes.
    pub(super) fn counts(&self, groups: usize) -> Counts {
        Counts {
            devices: self.devices.len(),
            enrollment_tokens: self.tokens.len(),
            api_tokens: self.api_tokens.len(),
            subscriptions: self.subscriptions.len(),
            messages: self.messages.len(),
            groups,
        }
    }
}

/// Reads the user's five dependent lists in [`crate::users::dependent_lists`] order;
/// with `close`, closes each as it reads it (nothing can be added to it afterwards).
pub(super) async fn read_lists<S: Store>(
    store: &S,
    org: &ObjectId,
    user: &ObjectId,
    close: bool,
) -> Result<DependentIds, DomainError> {
    let [d, t, m, a, s] = crate::users::dependent_lists(org, user);
    let get = async |key: &str| {
        if close {
            dependents::close(store, key).await
        } else {
            dependents::read(store, key).await
        }
    };
    Ok(DependentIds {
        devices: get(&d).await?,
        tokens: get(&t).await?,
        messages: get(&m).await?,
        api_tokens: get(&a).await?,
        subscriptions: get(&s).await?,
    })
}

/// Every guard of `policy` that refuses removing `user` now, in a fixed order
/// (version, legal hold, missing export, source, status, active devices, pending
/// tokens, live subscriptions): the first is the answer of a refused removal. The legal
/// hold and export guards belong to every policy. Reads the dependents' records only for the guards the
/// policy has.
pub(super) async fn blockers<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    deps: &DependentIds,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Vec<Blocker>, DomainError> {
    let mut out = Vec::new();
    if policy.expected_version.is_some_and(|v| v != user.version) {
        out.push(Blocker::PreconditionFailed);
    }
    if let Some(hold) = Blocker::legal_hold(org, user, now) {
        out.push(hold);
    }
    if let Some(export) = Blocker::export_required(org, user, now) {
        out.push(export);
    }
    if policy.refuse_externally_managed && user.source != IdentitySource::Local {
        out.push(Blocker::ExternallyManaged);
    }
    if policy.require_disabled && user.status != UserStatus::Disabled {
        out.push(Blocker::Enabled);
    }
    if policy.refuse_active_devices {
        let devices: Vec<Device> =
            dependents::load(store, &deps.devices, |id| keys::device(&org.id, id)).await?;
        let count = devices
            .iter()
            .filter(|d| d.enrolment_info.status == DeviceStatus::Active)
            .count();
        if count > 0 {
            out.push(Blocker::ActiveDevices { count });
        }
    }
    if policy.refuse_pending_tokens {
        let tokens: Vec<EnrollmentToken> = dependents::load(store, &deps.tokens, |id| {
            keys::enrollment_token(&org.id, id)
        })
        .await?;
        let count = tokens.iter().filter(|t| t.is_pending(now)).count();
        if count > 0 {
            out.push(Blocker::PendingEnrollmentTokens { count });
        }
    }
    if policy.subscriptions == Subscriptions::RefuseIfAny {
        let subs: Vec<Subscription> = dependents::load(store, &deps.subscriptions, |id| {
            keys::subscription(&org.id, id)
        })
        .await?;
        let count = subs
            .iter()
            .filter(|s| s.state != SubscriptionState::Cancelled)
            .count();
        if count > 0 {
            out.push(Blocker::HasSubscriptions { count });
        }
    }
    Ok(out)
}

/// Whether any guard of `policy` reads the dependent lists (otherwise marking the
/// user reads none).
pub(super) fn guards_read_lists(policy: &RemovalPolicy) -> bool {
    policy.refuse_active_devices
        || policy.refuse_pending_tokens
        || policy.subscriptions == Subscriptions::RefuseIfAny
}

/// What a dry run reports: what the removal would take, or what blocks it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The user as stored now.
    pub user: User,
    /// How the removal would end: permanent for the purge or without a retention
    /// window, soft otherwise.
    pub mode: RemovalMode,
    /// What would go with the user.
    pub would_remove: Counts,
    /// What refuses the removal now (empty: it would proceed). A user already being
    /// removed reports [`Blocker::PendingDeletion`] alone.
    pub blockers: Vec<Blocker>,
}

/// How a removal under `policy` ends in `org`: permanent for the purge or without a
/// retention window, soft otherwise.
pub(super) fn mode_for(org: &Organization, policy: &RemovalPolicy) -> RemovalMode {
    if policy.permanent || org.policy.retention_days == 0 {
        RemovalMode::Permanent
    } else {
        RemovalMode::Soft
    }
}

/// A dry run: reads what a removal under `policy` would remove or what blocks it,
/// changing nothing.
pub async fn plan<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Plan, RemovalError> {
    let user = crate::users::get(store, org, user_id)
        .await
        .map_err(not_found)?;
    let deps = read_lists(store, &org.id, user_id, false).await?;
    // A user already being removed passed the guards when its removal marked it.
    let blockers = if user.status == UserStatus::PendingDeletion {
        vec![Blocker::PendingDeletion]
    } else {
        blockers(store, org, &user, &deps, policy, now).await?
    };
    Ok(Plan {
        would_remove: deps.counts(user.groups.len()),
        mode: mode_for(org, policy),
        user,
        blockers,
    })
}
