//! Inactivity removal on the canonical surface: the sweep an external scheduler calls
//! (`POST …/mdm/users/inactivity-sweep`, `mdm.global.mdmUser.remove`, as the due run)
//! to schedule the removal of users inactive under the organization's policy
//! (`policy.inactivityDays`). The removals themselves are done by the due run
//! (`POST …/mdm/users/scheduled-removals`). `docs/lifecycle.md` has the rules.

use super::{Error, enter, ok};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_domain::ValidationError;
use roster_domain::inactivity;
use roster_domain::model::RemovalSchedule;
use serde::Deserialize;

/// Why a removal is scheduled, as answered: `inactivity` (set by the inactivity sweep)
/// or `requested` (`PUT …/removal-schedule`).
pub fn schedule_reason(s: &RemovalSchedule) -> &'static str {
    if s.inactivity.is_some() {
        "inactivity"
    } else {
        "requested"
    }
}

/// `POST …/mdm/users/inactivity-sweep`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SweepRequest {
    /// Most user index slots to look at (1 to 1000; default 100).
    pub limit: Option<i64>,
}

crate::endpoint! {
    /// `…/mdm/users/inactivity-sweep`: POST looks at the next batch of users and
    /// schedules the removal of those inactive under the organization's policy (for a
    /// scheduler; call again while `more`).
    pub struct InactivitySweepRoute {
        route: "/v1/organizations/:organizationId/mdm/users/inactivity-sweep",
        error: Error,
        POST need(MdmUser, Remove) => sweep,
    }
}

async fn sweep<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<InactivitySweepRoute, S>(req, store, ctx).await?;
    let body: SweepRequest = super::optional_json(req)?;
    let limit = match body.limit {
        None => 100,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=inactivity::MAX_SWEEP_LIMIT).contains(n))
            .ok_or_else(|| ValidationError::new("limit", "must be an integer from 1 to 1000"))?,
    };
    let report = inactivity::sweep(store, &org, limit, &caller.actor(), ctx.now).await?;
    Ok(ok(StatusCode::OK, &report))
}
