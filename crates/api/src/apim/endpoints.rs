//! The API Management routes: a user (GET, DELETE, and the `Location` polls) and an
//! operation result (the `Azure-AsyncOperation` polls). Handlers fail with
//! [`super::Error`].

use super::{Error, Service, USER_TYPE, accepted, enter};
use crate::params::{self, json};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Group, IdentitySource, RemovalMode, User as UserRecord, UserStatus};
use roster_domain::operations::{self, Operation, OperationStatus};
use roster_domain::removal::{self, Plan, RemovalError, RemovalOutcome, RemovalPolicy};
use roster_domain::{DomainError, Store, audit, groups, users};
use serde_json::json;

crate::endpoint! {
    /// `…/service/:serviceName/users/:userId`: GET returns the user with its `ETag` (or,
    /// with `asyncId`, polls that removal: 202 while in progress, then `asyncCode`);
    /// DELETE removes it (seed 004).
    pub struct UserRoute {
        route: "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/users/:userId",
        error: Error,
        GET need(MdmUser, Read) => get_user,
        DELETE need(MdmUser, Remove) => delete_user,
    }
}

crate::endpoint! {
    /// `…/service/:serviceName/tenant/operationResults/:operationId`: GET polls a
    /// removal (advancing it by one batch) and answers ARM's asynchronous-operation
    /// status.
    pub struct OperationResultRoute {
        route: "/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/tenant/operationResults/:operationId",
        error: Error,
        GET need(Operation, Read) => get_operation_result,
    }
}

/// GET of an operation result: its status, with `Retry-After` while in progress.
async fn get_operation_result<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (_, svc) = enter::<OperationResultRoute, S>(req, store, ctx).await?;
    let id = ObjectId::parse("operationId", &req.param("operationId").unwrap_or_default())
        .map_err(|_| Error::OperationNotFound)?;
    let op = poll(store, &svc, &id, ctx).await?;
    let mut resp = json(StatusCode::OK, &operation_body(&svc, &op));
    if op.status == OperationStatus::InProgress {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(super::RETRY_AFTER_SECONDS),
        );
    }
    Ok(resp)
}

/// Advances the removal `id` by one batch; an unknown operation is the operation's 404.
async fn poll<S: Store>(
    store: &S,
    svc: &Service,
    id: &ObjectId,
    ctx: &Ctx,
) -> Result<Operation, Error> {
    removal::poll(store, &svc.org, id, ctx.now)
        .await
        .map_err(|e| match e {
            RemovalError::NotFound => Error::OperationNotFound,
            other => other.into(),
        })
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

/// A user as an ARM resource: `{id, name, properties, type}`. The members of every
/// object are declared in alphabetical order, the order in which the `json!` values
/// these types replaced wrote them (serde_json's maps are sorted): the same bytes.
#[derive(serde::Serialize)]
pub struct UserBody<'a> {
    id: String,
    name: &'a ObjectId,
    properties: UserProperties<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The `properties` of a [`UserBody`].
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UserProperties<'a> {
    email: &'a Option<String>,
    first_name: &'a str,
    groups: Vec<GroupContract<'a>>,
    identities: [Identity<'a>; 1],
    last_name: &'a str,
    note: (),
    registration_date: String,
    state: &'static str,
}

/// A group the user is in, as ARM's group contract.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupContract<'a> {
    built_in: bool,
    description: &'a str,
    display_name: &'a str,
    external_id: &'a Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Where the user signs in: `Basic` (its email) or `Aad` (its external id or UUID).
#[derive(serde::Serialize)]
struct Identity<'a> {
    id: Option<&'a str>,
    provider: &'static str,
}

/// A user as an ARM resource ([`UserBody`]).
pub fn user_body<'a>(svc: &Service, u: &'a UserRecord, groups: &'a [Group]) -> UserBody<'a> {
    let identity = match u.source {
        IdentitySource::Local => Identity {
            id: u.email.as_deref(),
            provider: "Basic",
        },
        IdentitySource::Scim | IdentitySource::Directory => Identity {
            id: Some(u.external_id.as_deref().unwrap_or(&u.uuid)),
            provider: "Aad",
        },
    };
    UserBody {
        id: svc.user_path(&u.id),
        name: &u.id,
        properties: UserProperties {
            email: &u.email,
            first_name: &u.first_name,
            groups: groups
                .iter()
                .map(|g| GroupContract {
                    built_in: false,
                    description: &g.description,
                    display_name: &g.name,
                    external_id: &g.external_id,
                    kind: if g.external_id.is_some() {
                        "external"
                    } else {
                        "custom"
                    },
                })
                .collect(),
            identities: [identity],
            last_name: &u.last_name,
            note: (),
            registration_date: u.created_at.to_rfc3339(),
            state: state(u.status),
        },
        kind: USER_TYPE,
    }
}

/// GET: the user with its `ETag`, or with `asyncId` a `Location` poll.
async fn get_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (_, svc) = enter::<UserRoute, S>(req, store, ctx).await?;
    if req.query_param("asyncId").is_some() {
        return location_poll(req, store, ctx, &svc).await;
    }
    let id = ObjectId::parse("userId", &req.param("userId").unwrap_or_default())
        .map_err(|_| Error::UserNotFound)?;
    let user = match users::get(store, &svc.org, &id).await {
        Ok(u) => u,
        Err(DomainError::NotFound { .. }) => {
            // A softly removed user whose window ended is purged on access.
            let _ = removal::purge_if_expired(store, &svc.org, &id, ctx.now).await;
            return Err(Error::UserNotFound);
        }
        Err(e) => return Err(e.into()),
    };
    let mut found = Vec::new();
    for name in &user.groups {
        if let Some(g) = groups::find(store, &svc.org, name).await? {
            found.push(g);
        }
    }
    let mut resp = params::json_of(StatusCode::OK, &user_body(&svc, &user, &found));
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
) -> Result<ApiResponse, Error> {
    let code = match req.query_param("asyncCode").as_deref() {
        None | Some("204") => StatusCode::NO_CONTENT,
        Some("200") => StatusCode::OK,
        Some(other) => {
            return Err(invalid_parameter(
                "asyncCode",
                format!("The asyncCode '{other}' is invalid: use 200 or 204."),
            ));
        }
    };
    let op_id = ObjectId::parse("asyncId", &req.query_param("asyncId").unwrap_or_default())
        .map_err(|_| Error::OperationNotFound)?;
    let user_id = ObjectId::parse("userId", &req.param("userId").unwrap_or_default())
        .map_err(|_| Error::OperationNotFound)?;
    // The operation must be this user's removal.
    match operations::get(store, &svc.org.id, &op_id).await {
        Ok(op) if op.subject == audit::pseudonym(&svc.org, &user_id) => {}
        Ok(_) | Err(DomainError::NotFound { .. }) => return Err(Error::OperationNotFound),
        Err(e) => return Err(e.into()),
    }
    let op = poll(store, svc, &op_id, ctx).await?;
    if op.status == OperationStatus::Succeeded {
        return Ok(params::empty(code));
    }
    Ok(accepted(req, svc, &user_id, &op.id))
}

fn invalid_parameter(name: &str, message: String) -> Error {
    Error::InvalidParameter {
        name: name.to_owned(),
        message,
    }
}

/// A version no record reaches (versions count up from 1): what a tag that is no ETag
/// of this API stands for, so it matches nothing.
const NO_VERSION: u64 = u64::MAX;

/// The versions an `If-Match` list names: `None` when it holds `*` (any version), else
/// one per ETag listed ([`NO_VERSION`] for a tag this API never issued, a weak `W/"…"`
/// one included: `If-Match` compares strongly, RFC 9110 §13.1.1); empty list elements
/// are ignored (RFC 9110 §5.6.1), so a list of none matches nothing.
fn listed_versions(raw: &str) -> Option<Vec<u64>> {
    let mut versions = Vec::new();
    for tag in crate::request::list_elements(raw) {
        if tag == "*" {
            return None;
        }
        versions.push(params::quoted_version(tag).unwrap_or(NO_VERSION));
    }
    Some(versions)
}

fn flag(req: &ApiRequest, name: &str) -> Result<bool, Error> {
    params::flag(req, name)
        .map(|v| v.unwrap_or(false))
        .map_err(|_| {
            invalid_parameter(
                name,
                format!("The value of query parameter '{name}' is invalid: use true or false."),
            )
        })
}

/// Validates `appType` (`portal`, the default, or `developerPortal`; any case). Roster
/// has one portal, so it changes nothing else.
fn app_type(req: &ApiRequest) -> Result<(), Error> {
    match req.query_param("appType") {
        None => Ok(()),
        Some(v)
            if v.eq_ignore_ascii_case("portal") || v.eq_ignore_ascii_case("developerPortal") =>
        {
            Ok(())
        }
        Some(v) => Err(invalid_parameter(
            "appType",
            format!("The appType '{v}' is invalid: use portal or developerPortal."),
        )),
    }
}
/// A dry run's answer: the user resource with what the removal would do (the
/// [`UserBody`] shape, members in alphabetical order as the `json!` value wrote them).
#[derive(serde::Serialize)]
struct PlanBody<'a> {
    id: String,
    name: &'a ObjectId,
    properties: PlanProperties,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The `properties` of a [`PlanBody`].
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanProperties {
    blockers: Vec<BlockerBody>,
    dry_run: bool,
    mode: &'static str,
    removable: bool,
    would_remove: WouldRemove,
}

/// One blocker of a dry run: ARM's error fields for it.
#[derive(serde::Serialize)]
struct BlockerBody {
    code: &'static str,
    message: String,
    status: u16,
    target: Option<&'static str>,
}

/// [`roster_domain::removal::Counts`] with its members in alphabetical order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WouldRemove {
    api_tokens: usize,
    devices: usize,
    enrollment_tokens: usize,
    groups: usize,
    messages: usize,
    subscriptions: usize,
}

/// The dry run's answer for `plan` ([`PlanBody`]).
fn plan_body<'a>(svc: &Service, plan: &'a Plan) -> PlanBody<'a> {
    let c = plan.would_remove;
    PlanBody {
        id: svc.user_path(&plan.user.id),
        name: &plan.user.id,
        properties: PlanProperties {
            blockers: plan
                .blockers
                .iter()
                .map(|b| {
                    let (status, code, message, target) = super::blocker(*b);
                    BlockerBody {
                        code,
                        message,
                        status: status.as_u16(),
                        target,
                    }
                })
                .collect(),
            dry_run: true,
            mode: match plan.mode {
                RemovalMode::Permanent => "permanent",
                RemovalMode::Soft => "soft",
            },
            removable: plan.blockers.is_empty(),
            would_remove: WouldRemove {
                api_tokens: c.api_tokens,
                devices: c.devices,
                enrollment_tokens: c.enrollment_tokens,
                groups: c.groups,
                messages: c.messages,
                subscriptions: c.subscriptions,
            },
        },
        kind: USER_TYPE,
    }
}

/// DELETE: removes the user (204, or 202 while dependents remain), or its dry run.
async fn delete_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (caller, svc) = enter::<UserRoute, S>(req, store, ctx).await?;
    // Several `If-Match` lines are one list (RFC 9110 §5.3); a value that is not text
    // matches no version.
    let if_match = match req.header_list("if-match") {
        None => return Err(Error::PreconditionRequired),
        Some(Ok(raw)) => listed_versions(&raw),
        Some(Err(_)) => Some(Vec::new()),
    };
    let delete_subscriptions = flag(req, "deleteSubscriptions")?;
    let notify = flag(req, "notify")?;
    let dry_run = flag(req, "dryRun")?;
    app_type(req)?;
    let Ok(user_id) = ObjectId::parse("userId", &req.param("userId").unwrap_or_default()) else {
        // No user can have this id: nothing to delete.
        return if dry_run {
            Err(Error::UserNotFound)
        } else {
            Ok(params::empty(StatusCode::NO_CONTENT))
        };
    };
    let expected = match if_match.as_deref() {
        None => None,
        Some([one]) => Some(*one),
        Some([]) => Some(NO_VERSION),
        // The condition holds when any listed tag is current (RFC 9110 §13.1.1): the
        // current version, if listed, is the one the removal then requires, so a
        // change in between still fails it.
        Some(several) => Some(
            match roster_domain::users::get_any(store, &svc.org, &user_id).await {
                Ok(u) if several.contains(&u.version) => u.version,
                _ => NO_VERSION,
            },
        ),
    };
    let policy = RemovalPolicy {
        expected_version: expected,
        ..RemovalPolicy::apim(delete_subscriptions, notify).by(caller.actor())
    };
    if dry_run {
        let plan = removal::plan(store, &svc.org, &user_id, &policy, ctx.now).await?;
        return Ok(params::json_of(StatusCode::OK, &plan_body(&svc, &plan)));
    }
    match removal::remove_user(store, &svc.org, &user_id, &policy, ctx.now).await {
        Ok(RemovalOutcome::Finished(_)) => Ok(params::empty(StatusCode::NO_CONTENT)),
        Ok(RemovalOutcome::InProgress { operation, .. }) => {
            Ok(accepted(req, &svc, &user_id, &operation.id))
        }
        // ARM: deleting a resource that does not exist (any more) succeeds with 204.
        Err(RemovalError::NotFound) => Ok(params::empty(StatusCode::NO_CONTENT)),
        Err(e) => Err(e.into()),
    }
}
