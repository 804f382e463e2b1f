//! The canonical surface (seed 000's style): `/v1/organizations…/mdm/…`, the API
//! tokens, the audit log and the removal engine's extras.
//!
//! Envelope: `{"status":true,"data":…}` on success and
//! `{"status":false,"error":{"code":N,"message":"…"}}` on failure. Every code is in
//! [`codes`] and documented in `docs/api.md`. Every failure is an [`Error`] (handlers
//! return `Result<ApiResponse, Error>` and use `?`); [`Error`]'s `into_response` is
//! the one place a failure becomes an answer. Each route is declared with
//! [`crate::endpoint!`] in [`endpoints`] or [`admin`], one handler per method.

pub mod admin;
pub mod codes;
pub mod dto;
pub mod endpoints;
pub mod events;
pub mod export;
pub mod holds;
pub mod inactivity;
pub mod schedules;

pub use admin::{
    AuditRoute, GlobalTokenRoute, GlobalTokensRoute, OperationRoute, OrgTokenRoute, OrgTokensRoute,
    UserRemovalsRoute, UserRestoreRoute, UserSubscriptionRoute, UserSubscriptionsRoute,
    UsersPurgeRoute,
};
pub use endpoints::{
    EnrollmentTokenRoute, EnrollmentTokensRoute, GroupRoute, GroupsRoute, InvitationsRoute,
    OrganizationRoute, OrganizationsRoute, OutboxRoute, UserDeviceRoute, UserDevicesRoute,
    UserGroupsRoute, UserPasswordResetRoute, UserPasswordRoute, UserRoute, UserStatusRoute,
    UsersCountRoute, UsersRoute,
};
pub use events::{
    EventDeliveriesRoute, EventDeliveriesRunRoute, EventDeliveryReplayRoute,
    EventSubscriptionRoute, EventSubscriptionsRoute,
};
pub use export::UserExportRoute;
pub use holds::{OrgHoldRoute, UserHoldRoute};
pub use inactivity::InactivitySweepRoute;
pub use schedules::{ScheduledRemovalsRoute, UserRemovalScheduleRoute};

use crate::auth::{self, AuthFailure, Caller};
use crate::request::{ApiRequest, ApiResponse, Body, Ctx, JsonError};
use crate::{Endpoint, Refusal, SurfaceError};
use http::{HeaderValue, StatusCode, header};
use roster_domain::error::UserStateError;
use roster_domain::holds::HoldError;
use roster_domain::ids::{self, ObjectId, OrgRef};
use roster_domain::model::Organization;
use roster_domain::model::{ApimBinding, RemovalMode, UserStatus};
use roster_domain::permissions::{Grant, Permission};
use roster_domain::removal::{Blocker, Plan, RemovalError, RemovalOutcome, RestoreError};
use roster_domain::users::PasswordChangeError;
use roster_domain::{DomainError, Store, ValidationError};
use roster_domain::{orgs, users};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A success: `{"status":true,"data":data}` with `status`.
pub fn ok<T: Serialize>(status: StatusCode, data: &T) -> ApiResponse {
    let body = serde_json::json!({ "status": true, "data": data });
    crate::params::json(status, &body)
}

/// Every way a request on the canonical surface fails. The `From` conversions sort
/// the domain's errors into these; [`SurfaceError::into_response`] answers them all.
#[derive(Debug)]
pub enum Error {
    /// The route does not serve the method (405, 1005; `Allow` lists what it does).
    MethodNotAllowed(&'static str),
    /// No bearer token (401, 4002 "No auth token", seed 000).
    NoToken,
    /// The token is unknown, expired or revoked (401, 4001 "Unauthorized", seed 000).
    Unauthorized,
    /// The token lacks the route's permission, or the route is global-only (403, 4003).
    Forbidden(Permission),
    /// A new token would grant more than its creator holds: `permissions[index]` is
    /// `grant` (403, 4003).
    Escalation {
        /// Its position in the request's `permissions`.
        index: usize,
        /// The grant beyond the caller's own.
        grant: Grant,
    },
    /// The token's requests for this minute are used up (429, 4029).
    RateLimited,
    /// A field, path or query parameter, or header is invalid (400, 1001, naming it).
    Invalid(ValidationError),
    /// The body is not JSON for the route (400, 1002) or is too large (413, 1003).
    Json(JsonError),
    /// A wrong old password, or a user without one: one answer (400, 2001).
    PasswordRefused,
    /// The entity does not exist or is not visible (404, 3001 "Entity not found").
    NotFound,
    /// The unique field is taken (409, 3002).
    Conflict(&'static str),
    /// `If-Match` does not match the current version (412, 3003).
    PreconditionFailed,
    /// A guard of the removal policy refuses: seed 000's codes, as [`blocker`] says.
    Blocked(Blocker),
    /// The store failed or a record did not decode (500, 5000; the cause is logged).
    Internal(DomainError),
}

impl Error {
    /// Status, code and message of the answer: the one table behind
    /// [`SurfaceError::into_response`] and a bulk removal's entries. Logs the cause of
    /// a 500.
    fn answer(&self) -> (StatusCode, u32, String) {
        match self {
            Error::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                codes::METHOD_NOT_ALLOWED,
                "Method not allowed".into(),
            ),
            Error::NoToken => (
                StatusCode::UNAUTHORIZED,
                codes::NO_AUTH_TOKEN,
                "No auth token".into(),
            ),
            Error::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                codes::UNAUTHORIZED,
                "Unauthorized".into(),
            ),
            Error::Forbidden(permission) => (
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                format!("Forbidden: requires {permission}"),
            ),
            Error::Escalation { index, grant } => (
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                format!("Forbidden: permissions[{index}] ({grant}) exceeds the caller's own"),
            ),
            Error::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                codes::RATE_LIMITED,
                "Too many requests".into(),
            ),
            Error::Invalid(e) => (StatusCode::BAD_REQUEST, codes::VALIDATION, e.to_string()),
            Error::Json(e @ JsonError::TooLarge) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BODY_TOO_LARGE,
                e.message(),
            ),
            Error::Json(e) => (StatusCode::BAD_REQUEST, codes::INVALID_JSON, e.message()),
            Error::PasswordRefused => (
                StatusCode::BAD_REQUEST,
                codes::PASSWORD_REFUSED,
                "Password change refused".into(),
            ),
            Error::NotFound => (
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                "Entity not found".into(),
            ),
            Error::Conflict(field) => (
                StatusCode::CONFLICT,
                codes::CONFLICT,
                format!("{field} is already in use"),
            ),
            Error::PreconditionFailed => blocker(Blocker::PreconditionFailed),
            Error::Blocked(b) => blocker(*b),
            Error::Internal(cause) => {
                crate::log_internal("mdm", cause);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    "Internal error".into(),
                )
            }
        }
    }
}

impl SurfaceError for Error {
    fn into_response(self) -> ApiResponse {
        let (status, code, message) = self.answer();
        let body =
            serde_json::json!({ "status": false, "error": { "code": code, "message": message } });
        let mut resp = crate::params::json(status, &body);
        match self {
            Error::MethodNotAllowed(allow) => {
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
            Error::NoToken => crate::auth::challenged(resp, crate::auth::REALM, false),
            Error::Unauthorized => crate::auth::challenged(resp, crate::auth::REALM, true),
            _ => resp,
        }
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::MethodNotAllowed(allow) => Error::MethodNotAllowed(allow),
            Refusal::Auth(a) => a.into(),
        }
    }
}

impl From<AuthFailure> for Error {
    fn from(a: AuthFailure) -> Self {
        match a {
            AuthFailure::NoToken => Error::NoToken,
            AuthFailure::Unauthorized => Error::Unauthorized,
            AuthFailure::Forbidden { permission } => Error::Forbidden(permission),
            AuthFailure::RateLimited(_) => Error::RateLimited,
            // Not reached (every canonical path names its organization); kept total.
            AuthFailure::NoOrganization => Error::Invalid(ValidationError::new(
                "X-Roster-Organization",
                "a global token must name the organization (id or slug)",
            )),
            AuthFailure::Store(e) => e.into(),
        }
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Invalid(e)
    }
}

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        Error::Json(e)
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => Error::Invalid(v),
            DomainError::NotFound { .. } => Error::NotFound,
            DomainError::Conflict { field } => Error::Conflict(field),
            DomainError::PreconditionFailed { .. } => Error::PreconditionFailed,
            e @ (DomainError::Corrupt { .. } | DomainError::Store(_)) => Error::Internal(e),
        }
    }
}

impl From<RemovalError> for Error {
    fn from(e: RemovalError) -> Self {
        match e {
            RemovalError::NotFound => Error::NotFound,
            RemovalError::Refused(b) => Error::Blocked(b),
            RemovalError::Domain(d) => d.into(),
        }
    }
}

impl From<HoldError> for Error {
    fn from(e: HoldError) -> Self {
        match e {
            HoldError::State(s) => s.into(),
            HoldError::ShortensActiveHold => Error::Forbidden(holds::LIFT),
        }
    }
}

/// Export's and schedules' refusals (`ExportError`, `ScheduleError`).
impl From<UserStateError> for Error {
    fn from(e: UserStateError) -> Self {
        match e {
            UserStateError::NotFound => Error::NotFound,
            UserStateError::RemovalInProgress { .. } => Error::Blocked(Blocker::PendingDeletion),
            UserStateError::Domain(d) => d.into(),
        }
    }
}

impl From<RestoreError> for Error {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::NotFound => Error::NotFound,
            RestoreError::Conflict { field } => Error::Conflict(field),
            RestoreError::Domain(d) => d.into(),
        }
    }
}

impl From<PasswordChangeError> for Error {
    fn from(e: PasswordChangeError) -> Self {
        match e {
            PasswordChangeError::Refused => Error::PasswordRefused,
            PasswordChangeError::Domain(d) => d.into(),
        }
    }
}

/// Status, code and message of a refused removal: the answer to a removal it blocks,
/// and an entry of a dry run's `blockers` (seed 000's 5054 and 5055, then ours).
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
        Blocker::LegalHold { .. } => (
            StatusCode::BAD_REQUEST,
            codes::LEGAL_HOLD,
            format!(
                "MdmUser Can not be deleted because is {}",
                b.hold_description().unwrap_or_default()
            ),
        ),
        Blocker::ExportRequired { .. } => (
            StatusCode::BAD_REQUEST,
            codes::EXPORT_REQUIRED,
            format!(
                "MdmUser Can not be deleted because there is {}",
                b.export_description().unwrap_or_default()
            ),
        ),
    }
}

/// The legal hold among a dry run's blockers, as `{scope, placedAt, until}` (`null`
/// when none protects the user).
pub fn plan_hold(plan: &Plan) -> serde_json::Value {
    plan.blockers
        .iter()
        .find_map(|b| match b {
            Blocker::LegalHold {
                scope,
                placed_at,
                until,
            } => Some(serde_json::json!({
                "scope": scope.as_str(),
                "placedAt": placed_at.to_rfc3339(),
                "until": until.map(roster_domain::Timestamp::to_rfc3339),
            })),
            _ => None,
        })
        .unwrap_or(serde_json::Value::Null)
}

/// Parses the optional `dryRun` query parameter: `true` or `false` in any case, as the
/// description's shared `DryRun` parameter and the seeds' surfaces take it
/// ([`crate::params::flag`]); anything else is 400 naming it, so `dryRun=yes` never
/// deletes.
pub fn dry_run(req: &ApiRequest) -> Result<bool, Error> {
    Ok(crate::params::flag(req, "dryRun")?.unwrap_or(false))
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
        "legalHold": plan_hold(plan),
        "exportRequired": plan_export(plan),
        "removalSchedule": plan.user.removal_schedule.as_ref().map(|s| serde_json::json!({
            "at": s.at.to_rfc3339(),
            "warnAt": s.warn_at.map(roster_domain::Timestamp::to_rfc3339),
            "reason": inactivity::schedule_reason(s),
        })),
    })
}

/// The missing export among a dry run's blockers, as `{lastExportedAt,
/// maxAgeSeconds}` (`null` when the organization does not require one or the user's
/// last export is fresh).
pub fn plan_export(plan: &Plan) -> serde_json::Value {
    plan.blockers
        .iter()
        .find_map(|b| match b {
            Blocker::ExportRequired {
                last_exported_at,
                max_age_seconds,
            } => Some(serde_json::json!({
                "lastExportedAt": last_exported_at.map(roster_domain::Timestamp::to_rfc3339),
                "maxAgeSeconds": max_age_seconds,
            })),
            _ => None,
        })
        .unwrap_or(serde_json::Value::Null)
}

/// Seed 000's removal answer `{"delete": id}`; a soft removal adds when the user can
/// be restored until.
pub fn removed_response(id: &ObjectId, outcome: &RemovalOutcome) -> serde_json::Value {
    match outcome {
        RemovalOutcome::Finished(r) if r.mode == RemovalMode::Soft => serde_json::json!({
            "delete": id,
            "restorable": true,
        }),
        RemovalOutcome::Finished(_) => serde_json::json!({ "delete": id }),
        RemovalOutcome::InProgress { operation, .. } => serde_json::json!({
            "delete": id,
            "operationId": operation.id,
            "processed": operation.processed,
            "total": operation.total,
        }),
    }
}

/// Whether the request's `Prefer` headers ask for `respond-async` (RFC 7240 §2: any
/// number of `Prefer` headers, each of comma-separated preferences, names compared
/// case-insensitively, parameters after `;` ignored).
pub fn prefers_respond_async(req: &ApiRequest) -> bool {
    req.header_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(crate::request::list_elements)
        .any(|p| {
            p.split(';')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("respond-async"))
        })
}

/// 202 Accepted for a canonical removal asked with `Prefer: respond-async` that goes on
/// after this request: `body` in seed 000's envelope, `Location` the operation to poll
/// (`/v1/organizations/:organizationId/operations/:operationId`, each GET of it advancing
/// the removal by one batch) and `Preference-Applied: respond-async` (RFC 7240 §3).
pub fn removal_accepted(
    req: &ApiRequest,
    org: &Organization,
    operation: &ObjectId,
    body: &serde_json::Value,
) -> ApiResponse {
    let location = format!(
        "{}/v1/organizations/{}/operations/{operation}",
        crate::params::origin(req),
        org.id
    );
    let mut resp = with_location(ok(StatusCode::ACCEPTED, body), &location);
    resp.headers_mut().insert(
        const { header::HeaderName::from_static("preference-applied") },
        HeaderValue::from_static("respond-async"),
    );
    resp
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
    if let Some(v) = changes.policy.require_export_before_removal {
        policy.require_export_before_removal = v;
    }
    if let Some(v) = changes.policy.export_max_age_seconds {
        policy.export_max_age_seconds = v;
    }
    if let Some(v) = changes.policy.inactivity_days {
        policy.inactivity_days = v;
    }
    if let Some(v) = changes.policy.inactivity_warn_days_before {
        policy.inactivity_warn_days_before = v;
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
        )?
        .with_export(
            policy.require_export_before_removal,
            policy.export_max_age_seconds,
        )?
        .with_inactivity(policy.inactivity_days, policy.inactivity_warn_days_before)?,
    })
}

/// Validates the canonical surface's user changes (`email`: `Some(None)` removes it).
pub fn user_changes(
    email: Option<Option<&str>>,
    first_name: Option<&str>,
    last_name: Option<&str>,
    company: Option<&str>,
    country_code: Option<&str>,
) -> Result<users::UserChanges, ValidationError> {
    let mut c = users::UserChanges::parse(None, first_name, last_name)?;
    c.email = email
        .map(|e| {
            e.map(|e| roster_domain::ids::Email::parse("email", e))
                .transpose()
        })
        .transpose()?;
    c.company = company
        .map(|v| users::parse_company("company", v))
        .transpose()?;
    c.country_code = country_code
        .map(|v| users::parse_country_code("countryCode", v))
        .transpose()?;
    Ok(c)
}

/// The prologue of every organization-scoped route `E`: the method (405), the caller
/// (401, 429, 403), then the `organizationId` parameter (400) and the organization as
/// the caller may see it (404 — also for another organization's token). Global routes
/// call [`crate::admit`] alone.
pub async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Organization, Caller), Error> {
    let mut caller = crate::admit::<E, S>(req, store, ctx).await?;
    let reference = path_param(req, "organizationId", OrgRef::parse)?;
    let org = auth::scoped_org(&mut caller, store, &reference).await?;
    Ok((org, caller))
}

/// Parses the path parameter `name` with `parse`; a missing parameter is invalid too.
pub fn path_param<T>(
    req: &ApiRequest,
    name: &str,
    parse: impl FnOnce(&str, &str) -> Result<T, ValidationError>,
) -> Result<T, Error> {
    let raw = req.param(name).unwrap_or_default();
    Ok(parse(name, &raw)?)
}

/// Parses an `ObjectId` path parameter such as `mdmUserId`.
pub fn object_id(req: &ApiRequest, name: &str) -> Result<ObjectId, Error> {
    path_param(req, name, ObjectId::parse)
}

/// Decodes a JSON body into `T`; the error names the offending field. Unknown fields
/// are refused (request DTOs deny them).
pub fn json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, Error> {
    Ok(crate::request::parse_json(&req.body)?)
}

/// The ETag of a record version: `"<version>"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header demands: `Ok(None)` when absent or `*`; a value
/// that is not an ETag of this API — anything but `"<version>"` (a weak `W/"…"` tag
/// included: `If-Match` compares strongly, RFC 9110 §13.1.1, and this API issues strong
/// tags only) and bytes that are not text — is 400 naming `If-Match`, never an
/// unconditional write.
pub fn if_match(req: &ApiRequest) -> Result<Option<u64>, Error> {
    // Several `If-Match` lines are one list (RFC 9110 §5.3), so two lines with one tag
    // each are refused as one line with two tags is.
    let raw = match req.header_list("if-match") {
        None => return Ok(None),
        Some(Ok(raw)) => raw,
        Some(Err(_)) => {
            return Err(
                ValidationError::new("If-Match", "must be an ETag from this API or *").into(),
            );
        }
    };
    // Empty list elements are ignored (RFC 9110 §5.6.1): `, "2"` is `"2"`; this API
    // takes exactly one ETag (or `*`).
    let mut tags = crate::request::list_elements(&raw);
    let (Some(raw), None) = (tags.next(), tags.next()) else {
        return Err(ValidationError::new("If-Match", "must be an ETag from this API or *").into());
    };
    if raw == "*" {
        return Ok(None);
    }
    crate::params::quoted_version(raw).map(Some).ok_or_else(|| {
        ValidationError::new("If-Match", "must be an ETag from this API or *").into()
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

/// Parses `limit`, `cursor`, `status`, `group` and `q` of a listing (routes that
/// filter nothing ignore the filters).
pub fn list_query(req: &ApiRequest) -> Result<users::ListQuery, Error> {
    let limit = limit(req)?;
    let after = cursor(req)?;
    let status = status_filter(req)?;
    let group = text_filter(req, "group")?;
    let q = text_filter(req, "q")?;
    if q.as_deref() == Some("") {
        return Err(ValidationError::new("q", "must not be empty").into());
    }
    Ok(users::ListQuery {
        after,
        limit,
        status,
        group,
        q,
    })
}

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn limit(req: &ApiRequest) -> Result<usize, ValidationError> {
    let Some(raw) = req.query_param("limit") else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| ValidationError::new("limit", "must be an integer from 1 to 200"))
}

/// `cursor`: the position after which the page starts (0 when absent).
fn cursor(req: &ApiRequest) -> Result<i64, ValidationError> {
    let Some(raw) = req.query_param("cursor") else {
        return Ok(0);
    };
    decode_cursor(&raw)
        .ok_or_else(|| ValidationError::new("cursor", "is not a cursor from this API"))
}

/// `status`: one of the four user statuses.
fn status_filter(req: &ApiRequest) -> Result<Option<UserStatus>, ValidationError> {
    Ok(match req.query_param("status").as_deref() {
        None => None,
        Some("active") => Some(UserStatus::Active),
        Some("disabled") => Some(UserStatus::Disabled),
        Some("pending_deletion") => Some(UserStatus::PendingDeletion),
        Some("deleted") => Some(UserStatus::Deleted),
        Some(_) => {
            return Err(ValidationError::new(
                "status",
                "must be active, disabled, pending_deletion or deleted",
            ));
        }
    })
}

/// A text query parameter of at most [`ids::MAX_IDENT_LEN`] characters.
fn text_filter(req: &ApiRequest, name: &str) -> Result<Option<String>, ValidationError> {
    req.query_param(name)
        .map(|v| ids::text(name, &v, ids::MAX_IDENT_LEN))
        .transpose()
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

/// A GET's (and HEAD's) answer for a resource at `version`: 304 Not Modified — its
/// `ETag`, no body — when the request's `If-None-Match` names that version (weak
/// comparison: `W/"n"` names it too) or is `*` (RFC 9110 §13.1.2, §15.4.5); otherwise
/// `answer()`. A value naming no tag of this API (or not text) matches nothing: the
/// resource is answered.
pub fn unless_not_modified(
    req: &ApiRequest,
    version: u64,
    answer: impl FnOnce() -> ApiResponse,
) -> ApiResponse {
    match crate::params::EntityTags::of(req, "if-none-match") {
        Some(tags) if tags.matches(version) => {
            with_etag(crate::params::empty(StatusCode::NOT_MODIFIED), version)
        }
        _ => answer(),
    }
}

/// An absent or empty body reads as `{}` for routes whose fields are all optional.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(
    req: &ApiRequest,
) -> Result<T, Error> {
    match &req.body {
        Body::Bytes(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        _ => json_body(req),
    }
}
