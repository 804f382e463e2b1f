//! The API Management routes: a user (GET, DELETE, and the `Location` polls) and an
//! operation result (the `Azure-AsyncOperation` polls).

use super::{
    Service, USER_TYPE, accepted, arm_error, enter, invalid_parameter, operation_not_found,
    removal_error, user_not_found,
};
use crate::Endpoint;
use crate::auth::Requirement;
use crate::params::{self, json};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{HeaderValue, Method, StatusCode, header};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Group, IdentitySource, RemovalMode, User as UserRecord, UserStatus};
use roster_domain::operations::{self, Operation, OperationStatus};
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::removal::{self, Outcome, Plan, RemovalError, RemovalPolicy};
use roster_domain::{DomainError, Store, audit, groups, users};
use serde_json::json;

fn need(resource: Resource, action: Action) -> Option<Requirement> {
    Some(Requirement::of(Permission::new(resource, action)))
}

/// `…/service/:serviceName/users/:userId`: GET returns the user with its `ETag` (or,
/// with `asyncId`, polls that removal: 202 while in progress, then `asyncCode`);
/// DELETE removes it (seed 004).
pub struct User;

impl Endpoint for User {
    const ROUTE: &'static str = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/users/:userId";
    const ALLOW: &'static str = "GET, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            "DELETE" => need(Resource::MdmUser, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        async {
            let (caller, svc) = enter::<Self, S>(req, store, ctx).await?;
            if req.method == Method::DELETE {
                return delete(req, store, ctx, &caller, &svc).await;
            }
            if req.query_param("asyncId").is_some() {
                return location_poll(req, store, ctx, &svc).await;
            }
            get(req, store, ctx, &svc).await
        }
        .await
        .unwrap_or_else(|e| e)
    }
}

/// `…/service/:serviceName/tenant/operationResults/:operationId`: GET polls a removal
/// (advancing it by one batch) and answers ARM's asynchronous-operation status.
pub struct OperationResult;

impl Endpoint for OperationResult {
    const ROUTE: &'static str = "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/tenant/operationResults/:operationId";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Operation, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        async {
            let (_, svc) = enter::<Self, S>(req, store, ctx).await?;
            let id = ObjectId::parse("operationId", &req.param("operationId").unwrap_or_default())
                .map_err(|_| operation_not_found())?;
            let op = removal::poll(store, &svc.org, &id, ctx.now)
                .await
                .map_err(|e| match e {
                    RemovalError::NotFound => operation_not_found(),
                    other => removal_error(other),
                })?;
            let mut resp = json(StatusCode::OK, &operation_body(&svc, &op));
            if op.status == OperationStatus::InProgress {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(super::RETRY_AFTER_SECONDS),
                );
            }
            Ok(resp)
        }
        .await
        .unwrap_or_else(|e| e)
    }
}

/// ARM's asynchronous-operation status body.
pub fn operation_body(svc: &Service, op: &Operation) -> serde_json::Value {
    let done = op.status == OperationStatus::Succeeded;
    let percent = if done {
        100.0
    } else if op.total == 0 {
        0.0
    } else {
        // Progress is a display value: the precision lost converting is irrelevant.
        #[allow(clippy::cast_precision_loss)]
        let p = op.processed.min(op.total) as f64 * 100.0 / op.total as f64;
        (p * 10.0).round() / 10.0
    };
    json!({
        "id": svc.operation_path(&op.id),
        "name": op.id,
        "status": if done { "Succeeded" } else { "InProgress" },
        "startTime": op.created_at.to_rfc3339(),
        "endTime": done.then(|| op.updated_at.to_rfc3339()),
        "percentComplete": percent,
    })
}

fn state(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "active",
        UserStatus::Disabled => "blocked",
        UserStatus::PendingDeletion | UserStatus::Deleted => "deleted",
    }
}

/// A user as an ARM resource.
pub fn user_body(svc: &Service, u: &UserRecord, groups: &[Group]) -> serde_json::Value {
    let identities = match u.source {
        IdentitySource::Local => json!([{ "provider": "Basic", "id": u.email }]),
        IdentitySource::Scim | IdentitySource::Directory => json!([{
            "provider": "Aad",
            "id": u.external_id.clone().unwrap_or_else(|| u.uuid.clone()),
        }]),
    };
    let groups: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            json!({
                "displayName": g.name,
                "description": g.description,
                "builtIn": false,
                "type": if g.external_id.is_some() { "external" } else { "custom" },
                "externalId": g.external_id,
            })
        })
        .collect();
    json!({
        "id": svc.user_path(&u.id),
        "type": USER_TYPE,
        "name": u.id,
        "properties": {
            "firstName": u.first_name,
            "lastName": u.last_name,
            "email": u.email,
            "state": state(u.status),
            "registrationDate": u.created_at.to_rfc3339(),
            "note": null,
            "identities": identities,
            "groups": groups,
        }
    })
}

async fn get<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    svc: &Service,
) -> Result<ApiResponse, ApiResponse> {
    let id = ObjectId::parse("userId", &req.param("userId").unwrap_or_default())
        .map_err(|_| user_not_found())?;
    let user = match users::get(store, &svc.org, &id).await {
        Ok(u) => u,
        Err(DomainError::NotFound { .. }) => {
            // A softly removed user whose window ended is purged on access.
            let _ = removal::purge_if_expired(store, &svc.org, &id, ctx.now).await;
            return Err(user_not_found());
        }
        Err(e) => return Err(removal_error(RemovalError::Domain(e))),
    };
    let mut found = Vec::new();
    for name in &user.groups {
        if let Some(g) = groups::find(store, &svc.org, name)
            .await
            .map_err(|e| removal_error(RemovalError::Domain(e)))?
        {
            found.push(g);
        }
    }
    let mut resp = json(StatusCode::OK, &user_body(svc, &user, &found));
    resp.headers_mut()
        .insert(header::ETAG, crate::mdm::etag(user.version));
    Ok(resp)
}

/// A `Location` poll: `…/users/:userId?api-version=…&asyncId=…&asyncCode=204`.
async fn location_poll<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    svc: &Service,
) -> Result<ApiResponse, ApiResponse> {
    let code = match req.query_param("asyncCode").as_deref() {
        None | Some("204") => StatusCode::NO_CONTENT,
        Some("200") => StatusCode::OK,
        Some(other) => {
            return Err(invalid_parameter(
                "asyncCode",
                &format!("The asyncCode '{other}' is invalid: use 200 or 204."),
            ));
        }
    };
    let op_id = ObjectId::parse("asyncId", &req.query_param("asyncId").unwrap_or_default())
        .map_err(|_| operation_not_found())?;
    let user_id = ObjectId::parse("userId", &req.param("userId").unwrap_or_default())
        .map_err(|_| operation_not_found())?;
    // The operation must be this user's removal.
    match operations::get(store, &svc.org.id, &op_id).await {
        Ok(op) if op.subject == audit::pseudonym(&svc.org, &user_id) => {}
        Ok(_) | Err(DomainError::NotFound { .. }) => return Err(operation_not_found()),
        Err(e) => return Err(removal_error(RemovalError::Domain(e))),
    }
    let op = removal::poll(store, &svc.org, &op_id, ctx.now)
        .await
        .map_err(|e| match e {
            RemovalError::NotFound => operation_not_found(),
            other => removal_error(other),
        })?;
    if op.status == OperationStatus::Succeeded {
        return Ok(params::empty(code));
    }
    Ok(accepted(req, svc, &user_id, &op.id))
}

/// What `If-Match` asks for: `None` for `*`, else the version it names. A value that
/// is no ETag of this API can match no version: versions count up from 1 and never
/// reach [`u64::MAX`], which stands for it.
fn expected_version(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    if raw == "*" {
        return None;
    }
    Some(
        raw.trim_start_matches("W/")
            .trim_matches('"')
            .parse::<u64>()
            .unwrap_or(u64::MAX),
    )
}

fn flag(req: &ApiRequest, name: &str) -> Result<bool, ApiResponse> {
    params::flag(req, name)
        .map(|v| v.unwrap_or(false))
        .map_err(|_| {
            invalid_parameter(
                name,
                &format!("The value of query parameter '{name}' is invalid: use true or false."),
            )
        })
}

/// Validates `appType` (`portal`, the default, or `developerPortal`; any case). Roster
/// has one portal, so it changes nothing else.
fn app_type(req: &ApiRequest) -> Result<(), ApiResponse> {
    match req.query_param("appType") {
        None => Ok(()),
        Some(v)
            if v.eq_ignore_ascii_case("portal") || v.eq_ignore_ascii_case("developerPortal") =>
        {
            Ok(())
        }
        Some(v) => Err(invalid_parameter(
            "appType",
            &format!("The appType '{v}' is invalid: use portal or developerPortal."),
        )),
    }
}

fn plan_body(svc: &Service, plan: &Plan) -> serde_json::Value {
    let blockers: Vec<serde_json::Value> = plan
        .blockers
        .iter()
        .map(|b| {
            let (status, code, message, target) = super::blocker(*b);
            json!({ "status": status.as_u16(), "code": code, "message": message, "target": target })
        })
        .collect();
    json!({
        "id": svc.user_path(&plan.user.id),
        "type": USER_TYPE,
        "name": plan.user.id,
        "properties": {
            "dryRun": true,
            "removable": plan.blockers.is_empty(),
            "mode": match plan.mode {
                RemovalMode::Permanent => "permanent",
                RemovalMode::Soft => "soft",
            },
            "wouldRemove": plan.would_remove,
            "blockers": blockers,
        }
    })
}

async fn delete<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    caller: &crate::auth::Caller,
    svc: &Service,
) -> Result<ApiResponse, ApiResponse> {
    if !req.headers.contains_key(header::IF_MATCH) {
        return Err(arm_error(
            StatusCode::PRECONDITION_REQUIRED,
            "PreconditionRequired",
            "The If-Match header is required: send the ETag from GET, or * to delete unconditionally.",
            Some("If-Match"),
        ));
    }
    let expected = req
        .header("if-match")
        .map_or(Some(u64::MAX), expected_version);
    let delete_subscriptions = flag(req, "deleteSubscriptions")?;
    let notify = flag(req, "notify")?;
    let dry_run = flag(req, "dryRun")?;
    app_type(req)?;
    let Ok(user_id) = ObjectId::parse("userId", &req.param("userId").unwrap_or_default()) else {
        // No user can have this id: nothing to delete.
        return if dry_run {
            Err(user_not_found())
        } else {
            Ok(params::empty(StatusCode::NO_CONTENT))
        };
    };
    let policy = RemovalPolicy {
        expected_version: expected,
        ..RemovalPolicy::apim(delete_subscriptions, notify).by(caller.actor())
    };
    if dry_run {
        let plan = removal::plan(store, &svc.org, &user_id, &policy, ctx.now)
            .await
            .map_err(removal_error)?;
        return Ok(json(StatusCode::OK, &plan_body(svc, &plan)));
    }
    match removal::remove_user(store, &svc.org, &user_id, &policy, ctx.now).await {
        Ok(Outcome::Finished(_)) => Ok(params::empty(StatusCode::NO_CONTENT)),
        Ok(Outcome::InProgress { operation, .. }) => {
            Ok(accepted(req, svc, &user_id, &operation.id))
        }
        // ARM: deleting a resource that does not exist (any more) succeeds with 204.
        Err(RemovalError::NotFound) => Ok(params::empty(StatusCode::NO_CONTENT)),
        Err(e) => Err(removal_error(e)),
    }
}
