//! The canonical surface (seed 000's style): `/v1/organizations…/mdm/…`.
//!
//! Envelope: `{"status":true,"data":…}` on success and
//! `{"status":false,"error":{"code":N,"message":"…"}}` on failure. Every code is in
//! [`codes`] and documented in `docs/api.md`; domain errors become HTTP answers in
//! [`domain_error`] and [`removal_error`] and nowhere else.

pub mod admin;
pub mod codes;
pub mod dto;
pub mod endpoints;

pub use admin::{
    Audit, GlobalToken, GlobalTokens, Operation, OrgToken, OrgTokens, UserRemovals, UserRestore,
    UserSubscription, UserSubscriptions, UsersPurge,
};
pub use endpoints::{
    EnrollmentToken, EnrollmentTokens, Group, Groups, Invitations, Organization, Organizations,
    Outbox, User, UserDevice, UserDevices, UserGroups, UserPassword, UserPasswordReset, UserStatus,
    Users, UsersCount,
};

use crate::auth::{self, AuthFailure, Caller, Requirement};
use crate::request::{ApiRequest, ApiResponse, Body, Ctx, JsonError};
use crate::{Endpoint, Refusal};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::{ObjectId, OrgRef};
use roster_domain::model::Organization as Org;
use roster_domain::model::{ApimBinding, RemovalMode};
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::removal::{Blocker, Outcome, Plan, RemovalError};
use roster_domain::{DomainError, Store, ValidationError};
use roster_domain::{orgs, users};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A success: `{"status":true,"data":data}` with `status`.
pub fn ok<T: Serialize>(status: StatusCode, data: &T) -> ApiResponse {
    let body = serde_json::json!({ "status": true, "data": data });
    json_response(status, &body)
}

/// A failure: `{"status":false,"error":{"code":code,"message":message}}` with `status`.
pub fn error(status: StatusCode, code: u32, message: &str) -> ApiResponse {
    let body =
        serde_json::json!({ "status": false, "error": { "code": code, "message": message } });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> ApiResponse {
    let mut resp = http::Response::new(body.to_string().into_bytes());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 405 with the `Allow` header.
pub fn method_not_allowed(allow: &'static str) -> ApiResponse {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        "Method not allowed",
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// 400 naming the invalid field.
pub fn invalid(e: &ValidationError) -> ApiResponse {
    error(StatusCode::BAD_REQUEST, codes::VALIDATION, &e.to_string())
}

/// The one mapping of domain errors to this surface's answers.
pub fn domain_error(e: DomainError) -> ApiResponse {
    match e {
        DomainError::Invalid(v) => invalid(&v),
        DomainError::NotFound { .. } => {
            error(StatusCode::NOT_FOUND, codes::NOT_FOUND, "Entity not found")
        }
        DomainError::Conflict { field } => error(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            &format!("{field} is already in use"),
        ),
        DomainError::PreconditionFailed { .. } => precondition_failed(),
        e @ (DomainError::Corrupt { .. } | DomainError::Store(_)) => {
            crate::log_internal("mdm", &e);
            internal()
        }
    }
}

/// The one mapping of removal refusals to this surface's answers (seed 000).
pub fn removal_error(e: RemovalError) -> ApiResponse {
    match e {
        RemovalError::NotFound => {
            error(StatusCode::NOT_FOUND, codes::NOT_FOUND, "Entity not found")
        }
        RemovalError::Refused(b) => {
            let (status, code, message) = blocker(b);
            error(status, code, &message)
        }
        RemovalError::Domain(d) => domain_error(d),
    }
}

/// Status, code and message of a refused removal (also listed by dry runs).
pub fn blocker(b: Blocker) -> (StatusCode, u32, String) {
    match b {
        Blocker::ActiveDevices { .. } => (
            StatusCode::BAD_REQUEST,
            codes::ACTIVE_DEVICES,
            "MdmUser Can not be deleted because has no delete emmDevices".into(),
        ),
        Blocker::PendingEnrollmentTokens { .. } => (
            StatusCode::BAD_REQUEST,
            codes::PENDING_TOKENS,
            "MdmUser Can not be deleted because has pending emmEnrollmentTokens".into(),
        ),
        Blocker::PreconditionFailed => (
            StatusCode::PRECONDITION_FAILED,
            codes::PRECONDITION_FAILED,
            "If-Match does not match the current ETag".into(),
        ),
        Blocker::PendingDeletion => (
            StatusCode::CONFLICT,
            codes::REMOVAL_IN_PROGRESS,
            "MdmUser removal is in progress".into(),
        ),
        Blocker::HasSubscriptions { count } => (
            StatusCode::CONFLICT,
            codes::HAS_SUBSCRIPTIONS,
            format!("MdmUser has {count} subscriptions"),
        ),
        Blocker::ExternallyManaged => (
            StatusCode::CONFLICT,
            codes::EXTERNALLY_MANAGED,
            "MdmUser is managed by an external identity source".into(),
        ),
        Blocker::Enabled => (
            StatusCode::CONFLICT,
            codes::USER_ENABLED,
            "MdmUser is enabled".into(),
        ),
    }
}

/// Parses the optional `dryRun` query parameter (`true` or `false`).
pub fn dry_run(req: &ApiRequest) -> Result<bool, ApiResponse> {
    match req.query_param("dryRun").as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid(&ValidationError::new(
            "dryRun",
            "must be true or false",
        ))),
    }
}

/// A dry run's answer: what would be removed, or what blocks it.
pub fn plan_response(plan: &Plan) -> serde_json::Value {
    let blockers: Vec<serde_json::Value> = plan
        .blockers
        .iter()
        .map(|b| {
            let (_, code, message) = blocker(*b);
            serde_json::json!({ "code": code, "message": message })
        })
        .collect();
    serde_json::json!({
        "dryRun": true,
        "id": plan.user.id,
        "removable": plan.blockers.is_empty(),
        "mode": plan.mode,
        "wouldRemove": plan.would_remove,
        "blockers": blockers,
    })
}

/// Seed 000's removal answer `{"delete": id}`; a soft removal adds when the user can
/// be restored until.
pub fn removed_response(id: &ObjectId, outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Finished(r) if r.mode == RemovalMode::Soft => serde_json::json!({
            "delete": id,
            "restorable": true,
        }),
        Outcome::Finished(_) => serde_json::json!({ "delete": id }),
        Outcome::InProgress { operation, .. } => serde_json::json!({
            "delete": id,
            "operationId": operation.id,
        }),
    }
}

/// Validates a create-organization body.
pub fn new_organization(
    body: dto::CreateOrganizationRequest,
) -> Result<orgs::NewOrganization, ValidationError> {
    let mut new = orgs::NewOrganization::parse(&body.name, &body.slug)?;
    let changes = org_changes(dto::PatchOrganizationRequest {
        name: None,
        slug: None,
        aliases: body.aliases,
        policy: body.policy,
    })?;
    new.account_uuid = changes.account_uuid;
    new.apim = changes.apim.flatten();
    let mut policy = roster_domain::model::OrgPolicy::default();
    if let Some(v) = changes.policy.retention_days {
        policy.retention_days = v;
    }
    if let Some(v) = changes.policy.rate_limit_per_minute {
        policy.rate_limit_per_minute = v;
    }
    if let Some(v) = changes.policy.removal_batch {
        policy.removal_batch = v;
    }
    new.policy = policy;
    Ok(new)
}

/// Validates a PATCH-organization body.
pub fn org_changes(
    body: dto::PatchOrganizationRequest,
) -> Result<orgs::OrgChanges, ValidationError> {
    let aliases = body.aliases.unwrap_or_default();
    let policy = body.policy.unwrap_or_default();
    Ok(orgs::OrgChanges {
        name: body.name.map(|n| orgs::parse_name(&n)).transpose()?,
        slug: body
            .slug
            .map(|s| roster_domain::ids::Slug::parse("slug", &s))
            .transpose()?,
        account_uuid: aliases
            .account_uuid
            .map(|a| orgs::parse_uuid("aliases.accountUuid", &a))
            .transpose()?,
        apim: aliases
            .apim
            .map(|b| {
                b.map(|b| {
                    ApimBinding::parse(&b.subscription_id, &b.resource_group_name, &b.service_name)
                        .map_err(|e| ValidationError::new(format!("aliases.{}", e.field), e.reason))
                })
                .transpose()
            })
            .transpose()?,
        policy: orgs::PolicyChanges::parse(
            policy.retention_days,
            policy.rate_limit_per_minute,
            policy.removal_batch,
        )?,
    })
}

/// Validates the canonical surface's user changes.
pub fn user_changes(
    email: Option<&str>,
    first_name: Option<&str>,
    last_name: Option<&str>,
    company: Option<&str>,
    country_code: Option<&str>,
) -> Result<users::UserChanges, ValidationError> {
    let mut c = users::UserChanges::parse(email, first_name, last_name)?;
    c.company = company
        .map(|v| users::parse_company("company", v))
        .transpose()?;
    c.country_code = country_code
        .map(|v| users::parse_country_code("countryCode", v))
        .transpose()?;
    Ok(c)
}

fn precondition_failed() -> ApiResponse {
    error(
        StatusCode::PRECONDITION_FAILED,
        codes::PRECONDITION_FAILED,
        "If-Match does not match the current ETag",
    )
}

fn internal() -> ApiResponse {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "Internal error",
    )
}

/// The one mapping of refusals (method, token, rate limit, permission) to this
/// surface's answers.
pub fn refusal(r: Refusal) -> ApiResponse {
    match r {
        Refusal::MethodNotAllowed(allow) => method_not_allowed(allow),
        Refusal::Auth(a) => auth_failure(a),
    }
}

/// Seed 000's 401 answers, and this surface's 403, 429 and 500.
pub fn auth_failure(a: AuthFailure) -> ApiResponse {
    match a {
        AuthFailure::NoToken => error(
            StatusCode::UNAUTHORIZED,
            codes::NO_AUTH_TOKEN,
            "No auth token",
        ),
        AuthFailure::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "Unauthorized",
        ),
        AuthFailure::Forbidden { permission } => error(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            &format!("Forbidden: requires {permission}"),
        ),
        AuthFailure::RateLimited(_) => error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "Too many requests",
        ),
        AuthFailure::NoOrganization => invalid(&ValidationError::new(
            "X-Roster-Organization",
            "a global token must name the organization (id or slug)",
        )),
        AuthFailure::Store(e) => domain_error(e),
    }
}

/// The prologue of a global route: the method (405), then the caller (401, 429, 403).
pub async fn enter_global<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<Caller, ApiResponse> {
    crate::admit::<E, S>(req, store, ctx).await.map_err(refusal)
}

/// The prologue of every organization-scoped route: the method (405), the caller
/// (401, 429, 403), then the `organizationId` parameter (400) and the organization as
/// the caller may see it (404 — also for another organization's token).
pub async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Org, Caller), ApiResponse> {
    let caller = enter_global::<E, S>(req, store, ctx).await?;
    let reference = path_param(req, "organizationId", OrgRef::parse)?;
    let org = auth::scoped_org(&caller, store, &reference)
        .await
        .map_err(domain_error)?;
    Ok((org, caller))
}

/// Builds a [`Requirement`] for a permission any token may hold.
pub fn need(resource: Resource, action: Action) -> Option<Requirement> {
    Some(Requirement::of(Permission::new(resource, action)))
}

/// Builds a [`Requirement`] only global tokens meet.
pub fn need_global(resource: Resource, action: Action) -> Option<Requirement> {
    Some(Requirement::global(Permission::new(resource, action)))
}

/// Parses the path parameter `name` with `parse`; a missing parameter is invalid too.
pub fn path_param<T>(
    req: &ApiRequest,
    name: &str,
    parse: impl FnOnce(&str, &str) -> Result<T, ValidationError>,
) -> Result<T, ApiResponse> {
    let raw = req.param(name).unwrap_or_default();
    parse(name, &raw).map_err(|e| invalid(&e))
}

/// Parses an `ObjectId` path parameter such as `mdmUserId`.
pub fn object_id(req: &ApiRequest, name: &str) -> Result<ObjectId, ApiResponse> {
    path_param(req, name, ObjectId::parse)
}

/// Decodes a JSON body into `T`; the error names the offending field. Unknown fields
/// are refused (request DTOs deny them).
pub fn json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiResponse> {
    crate::request::parse_json(&req.body).map_err(|e| match e {
        JsonError::TooLarge => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BODY_TOO_LARGE,
            &e.message(),
        ),
        JsonError::TooDeep | JsonError::Invalid { .. } => {
            error(StatusCode::BAD_REQUEST, codes::INVALID_JSON, &e.message())
        }
    })
}

/// The ETag of a record version: `"<version>"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header demands: `Ok(None)` when absent or `*`.
pub fn if_match(req: &ApiRequest) -> Result<Option<u64>, ApiResponse> {
    let Some(raw) = req.header("if-match") else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(None);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| {
            invalid(&ValidationError::new(
                "If-Match",
                "must be an ETag from this API or *",
            ))
        })
}

/// Largest `limit` a list accepts.
pub const MAX_LIMIT: usize = 200;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 50;

/// An opaque cursor for sequence position `n`.
pub fn encode_cursor(n: i64) -> String {
    format!("u1{n:x}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The sequence position of a cursor made by [`encode_cursor`].
pub fn decode_cursor(raw: &str) -> Option<i64> {
    if !raw.len().is_multiple_of(2) || raw.len() > 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    i64::from_str_radix(text.strip_prefix("u1")?, 16)
        .ok()
        .filter(|n| *n >= 0)
}

/// Parses `limit`, `cursor`, `status` and `group` of a user listing.
pub fn list_query(req: &ApiRequest) -> Result<roster_domain::users::ListQuery, ApiResponse> {
    let limit = match req.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(&ValidationError::new(
                    "limit",
                    "must be an integer from 1 to 200",
                ))
            })?,
    };
    let after = match req.query_param("cursor") {
        None => 0,
        Some(raw) => decode_cursor(&raw).ok_or_else(|| {
            invalid(&ValidationError::new(
                "cursor",
                "is not a cursor from this API",
            ))
        })?,
    };
    let status = match req.query_param("status").as_deref() {
        None => None,
        Some("active") => Some(roster_domain::model::UserStatus::Active),
        Some("disabled") => Some(roster_domain::model::UserStatus::Disabled),
        Some("pending_deletion") => Some(roster_domain::model::UserStatus::PendingDeletion),
        Some("deleted") => Some(roster_domain::model::UserStatus::Deleted),
        Some(_) => {
            return Err(invalid(&ValidationError::new(
                "status",
                "must be active, disabled, pending_deletion or deleted",
            )));
        }
    };
    let group = req
        .query_param("group")
        .map(|g| roster_domain::ids::text("group", &g, roster_domain::ids::MAX_IDENT_LEN))
        .transpose()
        .map_err(|e| invalid(&e))?;
    let q = req
        .query_param("q")
        .map(|q| {
            let q = roster_domain::ids::text("q", &q, roster_domain::ids::MAX_IDENT_LEN)?;
            if q.is_empty() {
                return Err(ValidationError::new("q", "must not be empty"));
            }
            Ok(q)
        })
        .transpose()
        .map_err(|e| invalid(&e))?;
    Ok(roster_domain::users::ListQuery {
        after,
        limit,
        status,
        group,
        q,
    })
}

/// A handler's result: the answer either way.
pub type Answer = Result<ApiResponse, ApiResponse>;

/// The answer, success or failure.
pub fn collapse(r: Answer) -> ApiResponse {
    r.unwrap_or_else(|e| e)
}

/// Adds a `Location` header.
pub fn with_location(mut resp: ApiResponse, location: &str) -> ApiResponse {
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Adds an `ETag` header for `version`.
pub fn with_etag(mut resp: ApiResponse, version: u64) -> ApiResponse {
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

/// An absent or empty body reads as `{}` for routes whose fields are all optional.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(
    req: &ApiRequest,
) -> Result<T, ApiResponse> {
    match &req.body {
        Body::Bytes(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        _ => json_body(req),
    }
}
