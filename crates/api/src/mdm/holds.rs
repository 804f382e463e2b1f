//! Legal holds on the canonical surface: a user's (`…/mdm/users/:mdmUserId/hold`) and
//! the organization's (`…/mdm/hold`). GET reads (`mdm.global.legalHold.read`), PUT
//! places or replaces (`mdm.global.legalHold.create`; replacing an active hold with
//! one that ends sooner also needs `mdm.global.legalHold.remove`, 403 naming it), DELETE
//! lifts (`mdm.global.legalHold.remove`). `docs/lifecycle.md` has the rules.

use super::{Error, enter, json_body, object_id, ok, with_etag};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_domain::holds::{self, NewHold};
use roster_domain::model::LegalHold;
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::time::Timestamp;
use serde::Deserialize;

/// The permission that lifts a hold, and that shortening an active one needs too.
pub const LIFT: Permission = Permission::new(Resource::LegalHold, Action::Remove);

/// `PUT …/hold`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceHoldRequest {
    /// Why (1 to 256 characters).
    pub reason: String,
    /// Seconds until the hold ends by itself (1 to ten years); absent: until lifted.
    pub expires_in: Option<i64>,
}

/// A hold as answered: `{reason, placedBy, placedAt, until, active}`, or `null`.
pub fn hold_response(hold: Option<&LegalHold>, now: Timestamp) -> serde_json::Value {
    match hold {
        None => serde_json::Value::Null,
        Some(h) => serde_json::json!({
            "reason": h.reason,
            "placedBy": h.placed_by,
            "placedAt": h.placed_at.to_rfc3339(),
            "until": h.until.map(Timestamp::to_rfc3339),
            "active": h.is_active(now),
        }),
    }
}

fn parse_hold(req: &ApiRequest) -> Result<NewHold, Error> {
    let body: PlaceHoldRequest = json_body(req)?;
    Ok(NewHold::parse(&body.reason, body.expires_in)?)
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/hold`: GET the user's legal hold, PUT places (or
    /// replaces) it, DELETE lifts it.
    pub struct UserHoldRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/hold",
        error: Error,
        GET need(LegalHold, Read) => get_user_hold,
        PUT need(LegalHold, Create) => place_user_hold,
        DELETE need(LegalHold, Remove) => lift_user_hold,
    }
}

async fn get_user_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserHoldRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let (user, hold) = holds::user_hold(store, &org, &user_id).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "scope": "user",
            "userId": user.id,
            "hold": hold_response(hold.as_ref(), ctx.now),
        }),
    ))
}

async fn place_user_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserHoldRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let new = parse_hold(req)?;
    let user = holds::place_user_hold(
        store,
        &org,
        &user_id,
        new,
        caller.allows(LIFT),
        &caller.actor(),
        ctx.now,
    )
    .await?;
    Ok(with_etag(
        ok(
            StatusCode::OK,
            &serde_json::json!({
                "scope": "user",
                "userId": user.id,
                "hold": hold_response(user.legal_hold.as_ref(), ctx.now),
            }),
        ),
        user.version,
    ))
}

async fn lift_user_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserHoldRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let lifted = holds::lift_user_hold(store, &org, &user_id, &caller.actor(), ctx.now).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "scope": "user",
            "userId": user_id,
            "lifted": lifted.is_some(),
            "hold": hold_response(lifted.as_ref(), ctx.now),
        }),
    ))
}

crate::endpoint! {
    /// `…/mdm/hold`: GET the organization-wide legal hold, PUT places (or replaces)
    /// it, DELETE lifts it.
    pub struct OrgHoldRoute {
        route: "/v1/organizations/:organizationId/mdm/hold",
        error: Error,
        GET need(LegalHold, Read) => get_org_hold,
        PUT need(LegalHold, Create) => place_org_hold,
        DELETE need(LegalHold, Remove) => lift_org_hold,
    }
}

async fn get_org_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrgHoldRoute, S>(req, store, ctx).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "scope": "organization",
            "organizationId": org.id,
            "hold": hold_response(org.legal_hold.as_ref(), ctx.now),
        }),
    ))
}

async fn place_org_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<OrgHoldRoute, S>(req, store, ctx).await?;
    let new = parse_hold(req)?;
    let org = holds::place_org_hold(
        store,
        &org,
        new,
        caller.allows(LIFT),
        &caller.actor(),
        ctx.now,
    )
    .await?;
    Ok(with_etag(
        ok(
            StatusCode::OK,
            &serde_json::json!({
                "scope": "organization",
                "organizationId": org.id,
                "hold": hold_response(org.legal_hold.as_ref(), ctx.now),
            }),
        ),
        org.version,
    ))
}

async fn lift_org_hold<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<OrgHoldRoute, S>(req, store, ctx).await?;
    let lifted = holds::lift_org_hold(store, &org, &caller.actor(), ctx.now).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "scope": "organization",
            "organizationId": org.id,
            "lifted": lifted.is_some(),
            "hold": hold_response(lifted.as_ref(), ctx.now),
        }),
    ))
}
