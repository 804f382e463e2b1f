//! Inactivity removal: an organization policy (`inactivityDays`,
//! `inactivityWarnDaysBefore`) under which a live user unchanged for that many days is
//! scheduled for removal — through the per-user schedule machinery of
//! [`crate::schedules`] (the same day index, warning, due run and removal engine).
//!
//! Roster keeps no sign-in record, so a user's last activity is its last change:
//! `updatedAt`, which every write of the user record moves (the sweep's own schedule
//! and the run's warning mark do not). Inactivity is counted from the later of that and
//! the policy's `inactivitySince` (when `inactivityDays` last took its value), so
//! switching the policy on never makes anyone due at once.
//!
//! [`sweep`] walks the organization's user index from a cursor
//! ([`keys::inactivity_cursor`]) in bounded batches, for an external scheduler. A user
//! whose inactivity removal is `inactivityWarnDaysBefore` days away (or due) and who has
//! no schedule and no active legal hold gets a schedule at
//! `max(inactive since + inactivityDays, now + inactivityWarnDaysBefore)`, so the
//! warning is always given its full period. The schedule records what it was based on
//! ([`InactivityBasis`]); when the sweep or the due run meets it again after any
//! change of the user or of the policy, it is cancelled ([`cancel_if_stale`], audited
//! with `cause: "activity"` or `"policyChanged"`) instead of removing anyone.
//!
//! Audit events are written exactly once: their numbers are reserved in the record
//! ([`InactivityBasis::audit_number`], [`InactivityBasis::cancel_number`]) before the
//! event is written at that number, and a sweep that finds a schedule's event missing
//! (a stop between the two) writes it.

use crate::audit::{self, AuditEvent};
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{InactivityBasis, Organization, RemovalSchedule, User, UserStatus};
use crate::records::{self, Updated};
use crate::removal::Blocker;
use crate::schedules::{self, DAY_MS};
use crate::store::Store;
use crate::time::Timestamp;
use serde::Serialize;

/// Most user index slots one [`sweep`] call looks at.
pub const MAX_SWEEP_LIMIT: usize = 1000;

/// When `u` became inactive under `org`'s policy: the later of its last change and the
/// policy's `inactivitySince`; `None` while the policy is off.
pub fn inactive_since(org: &Organization, u: &User) -> Option<Timestamp> {
    org.policy.inactivity_days?;
    Some(u.updated_at.max(policy_since(org)))
}

/// When the policy's `inactivity_days` took its value (the organization's creation if
/// unrecorded).
fn policy_since(org: &Organization) -> Timestamp {
    org.policy.inactivity_since.unwrap_or(org.created_at)
}

/// Why an inactivity schedule of `u` no longer holds under `org`'s policy: `activity`
/// (the user changed since it was based on it) or `policyChanged` (switched off, or
/// its days changed); `None` while it holds, or for a schedule set through the route.
pub fn stale_cause(org: &Organization, u: &User, s: &RemovalSchedule) -> Option<&'static str> {
    let b = s.inactivity.as_ref()?;
    if u.updated_at != b.last_change {
        return Some("activity");
    }
    if org.policy.inactivity_days != Some(b.days) || policy_since(org) != b.policy_since {
        return Some("policyChanged");
    }
    None
}

/// The audit details an inactivity schedule adds: `reason: "inactivity"` and
/// `inactiveSince`.
pub(crate) fn add_details(d: &mut serde_json::Map<String, serde_json::Value>, b: &InactivityBasis) {
    d.insert("reason".into(), "inactivity".into());
    d.insert("inactiveSince".into(), b.inactive_since.to_rfc3339().into());
}

/// What one [`sweep`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Whether the policy is on (`inactivityDays` set); when off nothing is looked at.
    pub enabled: bool,
    /// Live users looked at.
    pub scanned: u64,
    /// Inactivity removals scheduled by this call.
    pub scheduled: u64,
    /// Inactivity schedules cancelled by this call (the user changed, or the policy).
    pub cancelled: u64,
    /// Inactive users not scheduled because a legal hold is active (the next pass after
    /// the hold ends schedules them, warning included).
    pub held: u64,
    /// The ids of the users counted in `held`.
    pub held_user_ids: Vec<ObjectId>,
    /// The last user index slot looked at; the next call goes on after it (0: the next
    /// call starts a new pass).
    pub cursor: i64,
    /// Whether the pass over the organization's users goes on (call again).
    pub more: bool,
}

/// Looks at the next `limit` slots of `org`'s user index after the stored cursor:
/// schedules the removal of each live user inactive long enough (see the module's
/// rules), cancels the inactivity schedules that no longer hold, and moves the cursor
/// (back to 0 after the last user: `more: false`). O(`limit`) store calls; idempotent
/// and safe to repeat after a stop anywhere.
pub async fn sweep<S: Store>(
    store: &S,
    org: &Organization,
    limit: usize,
    actor: &str,
    now: Timestamp,
) -> Result<SweepReport, DomainError> {
    let mut report = SweepReport {
        enabled: org.policy.inactivity_days.is_some(),
        ..SweepReport::default()
    };
    let cursor_key = keys::inactivity_cursor(&org.id);
    let top = records::read_counter(store, &keys::user_seq_counter(&org.id)).await?;
    if !report.enabled {
        return Ok(report);
    }
    let stored = store.increment(&cursor_key, 0).await?;
    let start = if (0..top).contains(&stored) {
        stored
    } else {
        0
    };
    let limit = i64::try_from(limit.clamp(1, MAX_SWEEP_LIMIT)).unwrap_or(1);
    let end = (start + limit).min(top);
    let slots: Vec<i64> = (start + 1..=end).collect();
    let entry_keys: Vec<String> = slots.iter().map(|n| keys::user_seq(&org.id, *n)).collect();
    let mut users_at = Vec::new();
    for ((n, key), value) in slots
        .iter()
        .zip(&entry_keys)
        .zip(store.get_many(&entry_keys).await?)
    {
        if let Some(bytes) = value {
            let e: crate::users::IndexEntry = records::decode(key, &bytes)?;
            users_at.push((*n, keys::user(&org.id, &e.id)));
        }
    }
    let user_keys: Vec<String> = users_at.iter().map(|(_, k)| k.clone()).collect();
    let mut live = Vec::new();
    for ((n, key), value) in users_at.iter().zip(store.get_many(&user_keys).await?) {
        let Some(bytes) = value else { continue };
        let u: User = records::decode(key, &bytes)?;
        if u.seq == *n && u.is_live() {
            live.push(u);
        }
    }
    // Inactivity schedules whose `user.removal_scheduled` event a stop left unwritten.
    let unaudited = {
        let pending: Vec<(&User, &RemovalSchedule, i64)> = live
            .iter()
            .filter_map(|u| {
                let s = u.removal_schedule.as_ref()?;
                let b = s.inactivity.as_ref()?;
                b.cancel_number.is_none().then_some((u, s, b.audit_number))
            })
            .collect();
        let event_keys: Vec<String> = pending
            .iter()
            .map(|(_, _, n)| keys::audit_event(&org.id, *n))
            .collect();
        let found = if event_keys.is_empty() {
            Vec::new()
        } else {
            store.get_many(&event_keys).await?
        };
        pending
            .into_iter()
            .zip(found)
            .filter(|(_, v)| v.is_none())
            .map(|((u, s, _), _)| (u.id.clone(), s.clone()))
            .collect::<Vec<_>>()
    };
    for (user_id, s) in &unaudited {
        write_scheduled_event(store, org, user_id, s).await?;
    }
    for u in &live {
        report.scanned += 1;
        match &u.removal_schedule {
            Some(s) => {
                if cancel_if_stale(store, org, u, s, actor, now).await? == Stale::Cancelled {
                    report.cancelled += 1;
                }
            }
            None => schedule_if_inactive(store, org, u, actor, now, &mut report).await?,
        }
    }
    let next = if end >= top { 0 } else { end };
    report.cursor = next;
    report.more = next != 0;
    if next != stored {
        // From the value read to the next one, only if no overlapping sweep moved it
        // meanwhile (a sweep that began at the same cursor looked at the same slots):
        // adding the difference instead would skip slots, or leave the index's range.
        crate::claims::take_over(store, &cursor_key, stored, next).await?;
    }
    Ok(report)
}

/// The inactivity schedule `u` would get at `now`, or `None` while its warning (or,
/// without one, its removal) is not yet due. The schedule's `audit_number` is 0 (to be
/// reserved).
pub fn schedule_for(
    org: &Organization,
    u: &User,
    actor: &str,
    now: Timestamp,
) -> Option<RemovalSchedule> {
    let days = org.policy.inactivity_days?;
    let since = inactive_since(org, u)?;
    let warn = org.policy.inactivity_warn_days_before.map(i64::from);
    let removal = since.plus_millis(i64::from(days) * DAY_MS);
    if now < removal.plus_millis(-warn.unwrap_or(0) * DAY_MS) {
        return None;
    }
    let at = removal.max(now.plus_millis(warn.unwrap_or(0) * DAY_MS));
    Some(RemovalSchedule {
        at,
        warn_at: warn.map(|w| at.plus_millis(-w * DAY_MS)),
        scheduled_by: actor.to_owned(),
        scheduled_at: now,
        warning_number: None,
        warned: false,
        inactivity: Some(InactivityBasis {
            last_change: u.updated_at,
            inactive_since: since,
            policy_since: policy_since(org),
            days,
            audit_number: 0,
            cancel_number: None,
        }),
    })
}

/// Schedules `u` if it is inactive long enough and not held: reserves the audit
/// number, writes the day index entries, then the record (only if the user is still
/// unchanged and unscheduled), then the event.
async fn schedule_if_inactive<S: Store>(
    store: &S,
    org: &Organization,
    u: &User,
    actor: &str,
    now: Timestamp,
    report: &mut SweepReport,
) -> Result<(), DomainError> {
    let Some(mut s) = schedule_for(org, u, actor, now) else {
        return Ok(());
    };
    if Blocker::legal_hold(org, u, now).is_some() {
        report.held += 1;
        report.held_user_ids.push(u.id.clone());
        return Ok(());
    }
    let number = audit::reserve(store, &org.id).await?;
    if let Some(b) = s.inactivity.as_mut() {
        b.audit_number = number;
    }
    for day in schedules::index_days(&s) {
        schedules::add_entry(store, &org.id, day, &u.id).await?;
    }
    let updated = records::update(store, &keys::user(&org.id, &u.id), |x: &mut User| {
        if x.updated_at != u.updated_at || x.removal_schedule.is_some() || !x.is_live() {
            return Ok::<_, DomainError>(false);
        }
        // Not activity: `updatedAt` stays, only the version moves.
        x.removal_schedule = Some(s.clone());
        x.version += 1;
        Ok(true)
    })
    .await?;
    if let Updated::Written(_) = updated {
        write_scheduled_event(store, org, &u.id, &s).await?;
        report.scheduled += 1;
    }
    Ok(())
}

/// Writes the `user.removal_scheduled` event of inactivity schedule `s` at its reserved
/// number (queued for subscribers first); writing it again is harmless.
async fn write_scheduled_event<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    s: &RemovalSchedule,
) -> Result<(), DomainError> {
    let Some(b) = &s.inactivity else {
        return Ok(());
    };
    let event = AuditEvent {
        number: b.audit_number,
        at: s.scheduled_at,
        action: "user.removal_scheduled".into(),
        surface: "mdm".into(),
        actor: s.scheduled_by.clone(),
        subject: audit::pseudonym(org, user_id),
        operation_id: None,
        details: schedules::details(s, None),
    };
    crate::events::queue(
        store,
        org,
        &event,
        Some(crate::events::Personal::id_only(user_id)),
    )
    .await?;
    audit::write(store, &org.id, &event).await
}

/// What [`cancel_if_stale`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The schedule holds, or is not this call's to cancel (a route's schedule, a
    /// removal in progress): left to the caller.
    Holds,
    /// This call cleared the stale schedule (what a sweep counts as `cancelled`).
    Cancelled,
    /// The schedule is gone, but not by this call: cancelled by an overlapping call,
    /// replaced, or its user removed meanwhile.
    Gone,
}

impl Stale {
    /// Whether the schedule is gone, by this call or another.
    pub fn is_gone(self) -> bool {
        self != Self::Holds
    }
}

/// Cancels the inactivity schedule `s` of the live user `u` if it no longer holds
/// ([`stale_cause`]): reserves the cancellation's audit number in the record, writes
/// the `user.removal_schedule_cancelled` event there (`cause`), then clears the
/// schedule — without moving `updatedAt`. Overlapping calls write the one event (the
/// number is reserved once, in the record) and exactly one of them answers
/// [`Stale::Cancelled`]. Called by [`sweep`] and by the due run
/// ([`schedules::run_due`]) before a warning or removal.
pub async fn cancel_if_stale<S: Store>(
    store: &S,
    org: &Organization,
    u: &User,
    s: &RemovalSchedule,
    actor: &str,
    now: Timestamp,
) -> Result<Stale, DomainError> {
    if u.status == UserStatus::PendingDeletion || !u.is_live() {
        return Ok(Stale::Holds);
    }
    let Some(cause) = stale_cause(org, u, s) else {
        return Ok(Stale::Holds);
    };
    let key = keys::user(&org.id, &u.id);
    let same = |x: &User| {
        x.is_live()
            && x.removal_schedule
                .as_ref()
                .is_some_and(|c| c.at == s.at && c.scheduled_at == s.scheduled_at)
    };
    let number = match s.inactivity.as_ref().and_then(|b| b.cancel_number) {
        Some(n) => n,
        None => {
            let n = audit::reserve(store, &org.id).await?;
            let updated = records::update(store, &key, |x: &mut User| {
                if !same(x) {
                    return Ok::<_, DomainError>(false);
                }
                let Some(b) = x
                    .removal_schedule
                    .as_mut()
                    .and_then(|c| c.inactivity.as_mut())
                else {
                    return Ok(false);
                };
                if b.cancel_number.is_some() {
                    return Ok(false);
                }
                b.cancel_number = Some(n);
                x.version += 1;
                Ok(true)
            })
            .await?;
            match updated {
                Updated::Written(x) | Updated::Unchanged(x) if same(&x) => {
                    match x
                        .removal_schedule
                        .and_then(|c| c.inactivity)
                        .and_then(|b| b.cancel_number)
                    {
                        Some(n) => n,
                        None => return Ok(Stale::Holds),
                    }
                }
                // Cancelled, replaced or removed meanwhile.
                _ => return Ok(Stale::Gone),
            }
        }
    };
    let event = AuditEvent {
        number,
        at: now,
        action: "user.removal_schedule_cancelled".into(),
        surface: "mdm".into(),
        actor: actor.to_owned(),
        subject: audit::pseudonym(org, &u.id),
        operation_id: None,
        details: schedules::details(s, Some(cause)),
    };
    crate::events::queue(
        store,
        org,
        &event,
        Some(crate::events::Personal::id_only(&u.id)),
    )
    .await?;
    audit::write(store, &org.id, &event).await?;
    let cleared = records::update(store, &key, |x: &mut User| {
        if !same(x) {
            return Ok::<_, DomainError>(false);
        }
        x.removal_schedule = None;
        x.version += 1;
        Ok(true)
    })
    .await?;
    Ok(match cleared {
        Updated::Written(_) => Stale::Cancelled,
        Updated::Missing | Updated::Unchanged(_) => Stale::Gone,
    })
}
