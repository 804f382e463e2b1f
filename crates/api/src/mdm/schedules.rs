//! Scheduled removal on the canonical surface: a user's schedule
//! (`…/mdm/users/:mdmUserId/removal-schedule`: GET `mdm.global.removalSchedule.read`,
//! PUT `.create`, DELETE `.remove`) and the run an external scheduler calls
//! (`POST …/mdm/users/scheduled-removals`, `mdm.global.mdmUser.remove`, as the purge).
//! `docs/lifecycle.md` has the rules.

use super::{Error, enter, json_body, object_id, ok, with_etag};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_domain::ValidationError;
use roster_domain::model::RemovalSchedule;
use roster_domain::schedules::{self, NewSchedule};
use roster_domain::time::Timestamp;
use serde::Deserialize;

/// `PUT …/removal-schedule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRequest {
    /// When (RFC 3339 with a UTC offset, `Z` or `±hh:mm`; in the future, at most ten
    /// years ahead).
    pub at: String,
    /// Days before `at` to queue a warning to the outbox (1 to 365); absent: none.
    pub warn_days_before: Option<i64>,
}

/// A schedule as answered: `{at, warnAt, scheduledBy, scheduledAt, warned, reason,
/// inactiveSince}`, or `null`. `warnAt` is when the warning goes out: `scheduledAt` (at
/// the first run) when `at` was closer than `warnDaysBefore`.
pub fn schedule_response(s: Option<&RemovalSchedule>) -> serde_json::Value {
    match s {
        None => serde_json::Value::Null,
        Some(s) => serde_json::json!({
            "at": s.at.to_rfc3339(),
            "warnAt": s.warn_at.map(Timestamp::to_rfc3339),
            "scheduledBy": s.scheduled_by,
            "scheduledAt": s.scheduled_at.to_rfc3339(),
            "warned": s.warned,
            "reason": super::inactivity::schedule_reason(s),
            "inactiveSince": s.inactivity.as_ref().map(|b| b.inactive_since.to_rfc3339()),
        }),
    }
}

/// Whether a date-time ends with its UTC offset, as RFC 3339 requires: `Z` (any case)
/// or `±hh:mm`. A time without one would be read in an unknown zone, so it is refused
/// rather than taken as UTC.
fn has_utc_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if matches!(b.last(), Some(b'Z' | b'z')) {
        return true;
    }
    b.len() > 6 && {
        let o = &b[b.len() - 6..];
        matches!(o[0], b'+' | b'-')
            && o[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| o[i].is_ascii_digit())
    }
}

fn parse_schedule(req: &ApiRequest, now: Timestamp) -> Result<NewSchedule, Error> {
    let body: ScheduleRequest = json_body(req)?;
    if !has_utc_offset(&body.at) {
        return Err(ValidationError::new(
            "at",
            "must be an RFC 3339 date-time with a UTC offset, `Z` or `±hh:mm` \
             (2030-01-01T09:00:00Z, 2030-01-01T10:00:00+01:00); a time without one is not \
             read as UTC",
        )
        .into());
    }
    let at = roster_scim::parse_datetime(&body.at)
        .and_then(|ns| i64::try_from(ns.div_euclid(1_000_000)).ok())
        .map(Timestamp)
        .ok_or_else(|| {
            ValidationError::new("at", "must be an RFC 3339 date-time with an offset or Z")
        })?;
    Ok(NewSchedule::parse(at, body.warn_days_before, now)?)
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/removal-schedule`: GET the user's scheduled removal,
    /// PUT schedules (or reschedules) it, DELETE cancels it.
    pub struct UserRemovalScheduleRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/removal-schedule",
        error: Error,
        GET need(RemovalSchedule, Read) => get_schedule,
        PUT need(RemovalSchedule, Create) => put_schedule,
        DELETE need(RemovalSchedule, Remove) => cancel_schedule,
    }
}

async fn get_schedule<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserRemovalScheduleRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let (user, s) = schedules::user_schedule(store, &org, &user_id).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "userId": user.id,
            "schedule": schedule_response(s.as_ref()),
        }),
    ))
}

async fn put_schedule<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserRemovalScheduleRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let new = parse_schedule(req, ctx.now)?;
    let user = schedules::schedule(store, &org, &user_id, new, &caller.actor(), ctx.now).await?;
    Ok(with_etag(
        ok(
            StatusCode::OK,
            &serde_json::json!({
                "userId": user.id,
                "schedule": schedule_response(user.removal_schedule.as_ref()),
            }),
        ),
        user.version,
    ))
}

async fn cancel_schedule<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserRemovalScheduleRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let cancelled = schedules::cancel(store, &org, &user_id, &caller.actor(), ctx.now).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "userId": user_id,
            "cancelled": cancelled.is_some(),
            "schedule": schedule_response(cancelled.as_ref()),
        }),
    ))
}

/// `POST …/mdm/users/scheduled-removals`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DueRequest {
    /// Most index entries to look at (1 to 1000; default 100).
    pub limit: Option<i64>,
}

crate::endpoint! {
    /// `…/mdm/users/scheduled-removals`: POST does the due scheduled work — warnings
    /// and removals — in a bounded batch (for a scheduler; call again while `more`).
    pub struct ScheduledRemovalsRoute {
        route: "/v1/organizations/:organizationId/mdm/users/scheduled-removals",
        error: Error,
        POST need(MdmUser, Remove) => run_due,
    }
}

async fn run_due<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<ScheduledRemovalsRoute, S>(req, store, ctx).await?;
    let body: DueRequest = super::optional_json(req)?;
    let limit = match body.limit {
        None => 100,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ValidationError::new("limit", "must be an integer from 1 to 1000"))?,
    };
    let report = schedules::run_due(store, &org, limit, &caller.actor(), ctx.now).await?;
    Ok(ok(StatusCode::OK, &report))
}
