//! Seed 001: the Cloud Access Service's "Delete User Now" API,
//! `DELETE /AdminInterface/restapi/v1/users/:userId` (the user's UUID).
//!
//! It deletes a *disabled* user at once with all their devices and information (the
//! removal engine's CAS policy): 200 when done, 404 for an unknown user, 405 for users
//! mastered by SCIM or a directory, 409 for an enabled user or one another request is
//! deleting right now, 403 when not authorized (also for a missing or invalid token:
//! the seed documents no 401), 429 when rate-limited, 500 when the store failed (a
//! retry finishes the deletion). The path names no tenant: an organization token acts
//! on its organization, a global token names one in `X-Roster-Organization`.
//!
//! Every answer is JSON. Errors are `{"status":N,"code":"…","message":"…"}` (the
//! message is the seed's wording): every failure is an [`Error`], answered in
//! [`Error::into_response`](crate::SurfaceError::into_response) alone. `docs/seeds.md`
//! lists every answer.

use crate::auth::{self, AuthFailure};
use crate::params::{self, json};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use crate::{Refusal, SurfaceError};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ValidationError;
use roster_domain::model::{IdentitySource, RemovalMode, User as UserRecord};
use roster_domain::removal::{self, Blocker, Plan, RemovalError, RemovalOutcome, RemovalPolicy};
use roster_domain::{DomainError, Store, orgs, users};
use serde_json::json;

/// The `code` of each error answer.
pub mod codes {
    /// 400: `dryRun` is not `true` or `false` (Roster's extension).
    pub const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
    /// 403: no `Authorization: Bearer` token.
    pub const MISSING_TOKEN: &str = "MISSING_TOKEN";
    /// 403: the token is unknown, expired or revoked.
    pub const INVALID_TOKEN: &str = "INVALID_TOKEN";
    /// 403: the token lacks `mdm.global.mdmUser.remove`.
    pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
    /// 403: a global token named no (existing) organization in `X-Roster-Organization`.
    pub const ORGANIZATION_REQUIRED: &str = "ORGANIZATION_REQUIRED";
    /// 404: no such user.
    pub const USER_NOT_FOUND: &str = "USER_NOT_FOUND";
    /// 405: the route serves only DELETE (`Allow: DELETE`).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// 405: the user is mastered by SCIM or a directory (`Allow:` empty).
    pub const IDENTITY_SOURCE_MANAGED: &str = "IDENTITY_SOURCE_MANAGED";
    /// 409: the user is enabled.
    pub const USER_ENABLED: &str = "USER_ENABLED";
    /// 409: another request is deleting the user right now.
    pub const USER_PENDING_DELETION: &str = "USER_PENDING_DELETION";
    /// 409: another guard refuses (not reachable under the CAS policy; kept total).
    pub const REMOVAL_REFUSED: &str = "REMOVAL_REFUSED";
    /// 409: a legal hold (the user's or the organization's) protects the user.
    pub const USER_LEGAL_HOLD: &str = "USER_LEGAL_HOLD";
    /// 409: the organization requires a fresh export of the user's data first.
    pub const USER_EXPORT_REQUIRED: &str = "USER_EXPORT_REQUIRED";
    /// 429: the token's requests for this minute are used up.
    pub const TOO_MANY_REQUESTS: &str = "TOO_MANY_REQUESTS";
    /// 500: the store failed; repeating the request finishes the deletion.
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
}

/// The seed's 404 message.
pub const USER_NOT_FOUND_MESSAGE: &str = "User is not found.";
/// The seed's 405 message for users of SCIM-managed or directory identity sources.
pub const MANAGED_MESSAGE: &str = "Method Not Allowed. The method you are using is not allowed for users in the SCIM Managed and Azure Active Directory (SCIM) identity sources.";

/// An error answer: `{"status":N,"code":code,"message":message}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    json(
        status,
        &json!({ "status": status.as_u16(), "code": code, "message": message }),
    )
}

fn not_found() -> ApiResponse {
    error(
        StatusCode::NOT_FOUND,
        codes::USER_NOT_FOUND,
        USER_NOT_FOUND_MESSAGE,
    )
}

fn internal() -> ApiResponse {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL_ERROR,
        "Internal error occurred when processing the request.",
    )
}

/// Every way a request on this surface fails. [`SurfaceError::into_response`] is the
/// one mapping to the seed's answers, and logs the cause of every 500.
#[derive(Debug)]
pub enum Error {
    /// Before the route ran: the method (405, `Allow: DELETE`), or the caller.
    Refused(Refusal),
    /// Authentication, rate limit or permission (403 / 429), or the store behind them.
    Auth(AuthFailure),
    /// A query parameter is invalid (400 `INVALID_PARAMETER`, naming it).
    InvalidParameter(ValidationError),
    /// No such user (404 `USER_NOT_FOUND`).
    UserNotFound,
    /// The removal engine refused or failed, for this user (405 with an empty `Allow`
    /// for a managed identity source, 409 for the other guards, 404, 500).
    Removal(RemovalError, Box<UserRecord>),
    /// Another request is deleting the user right now (409 `USER_PENDING_DELETION`).
    PendingDeletion,
    /// The store failed, or a record did not decode (500; 404 for a missing entity).
    Domain(DomainError),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<AuthFailure> for Error {
    fn from(a: AuthFailure) -> Self {
        Self::Auth(a)
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Self::Domain(e)
    }
}

impl SurfaceError for Error {
    fn into_response(self) -> ApiResponse {
        match self {
            Error::Refused(Refusal::MethodNotAllowed(allow)) => {
                let mut resp = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    codes::METHOD_NOT_ALLOWED,
                    "Method Not Allowed.",
                );
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
            Error::Refused(Refusal::Auth(a)) | Error::Auth(a) => auth_failure(a),
            Error::InvalidParameter(e) => error(
                StatusCode::BAD_REQUEST,
                codes::INVALID_PARAMETER,
                &e.to_string(),
            ),
            Error::UserNotFound => not_found(),
            Error::Removal(e, user) => removal_error(e, &user),
            Error::PendingDeletion => error(
                StatusCode::CONFLICT,
                codes::USER_PENDING_DELETION,
                "User is in pending deletion state.",
            ),
            Error::Domain(e) => domain_error(e),
        }
    }
}

/// Authentication and authorization failures: all 403 ("Not authorized to perform the
/// request"), the seed documenting no 401; the code tells them apart.
fn auth_failure(a: AuthFailure) -> ApiResponse {
    let forbidden = |code: &str, why: &str| {
        error(
            StatusCode::FORBIDDEN,
            code,
            &format!("Not authorized to perform the request: {why}."),
        )
    };
    match a {
        AuthFailure::NoToken => forbidden(codes::MISSING_TOKEN, "no bearer token"),
        AuthFailure::Unauthorized => forbidden(codes::INVALID_TOKEN, "the token is not valid"),
        AuthFailure::Forbidden { permission } => {
            forbidden(codes::PERMISSION_DENIED, &format!("requires {permission}"))
        }
        AuthFailure::NoOrganization => forbidden(
            codes::ORGANIZATION_REQUIRED,
            "a global token must name an organization (id or slug) in X-Roster-Organization",
        ),
        AuthFailure::RateLimited(_) => error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_REQUESTS,
            "Too many requests.",
        ),
        AuthFailure::Store(e) => {
            crate::log_internal("cas", &e);
            internal()
        }
    }
}

/// Status, code and message of each blocker (the answer to a refused deletion, and an
/// entry of a dry run's `blockers`).
pub fn blocker(b: Blocker) -> (StatusCode, &'static str, String) {
    match b {
        Blocker::ExternallyManaged => (
            StatusCode::METHOD_NOT_ALLOWED,
            codes::IDENTITY_SOURCE_MANAGED,
            MANAGED_MESSAGE.into(),
        ),
        Blocker::Enabled => (
            StatusCode::CONFLICT,
            codes::USER_ENABLED,
            "User is in enabled state.".into(),
        ),
        Blocker::PendingDeletion => (
            StatusCode::CONFLICT,
            codes::USER_PENDING_DELETION,
            "User is in pending deletion state.".into(),
        ),
        // 409, the seed's "the operation is not performed" for the user's state; its
        // 405 is reserved for identity sources.
        Blocker::LegalHold { .. } => (
            StatusCode::CONFLICT,
            codes::USER_LEGAL_HOLD,
            format!("User is {}.", b.hold_description().unwrap_or_default()),
        ),
        // 409 as for a hold: a state of the user stops the operation.
        Blocker::ExportRequired { .. } => (
            StatusCode::CONFLICT,
            codes::USER_EXPORT_REQUIRED,
            format!(
                "User cannot be deleted: there is {}.",
                b.export_description().unwrap_or_default()
            ),
        ),
        Blocker::ActiveDevices { .. }
        | Blocker::PendingEnrollmentTokens { .. }
        | Blocker::PreconditionFailed
        | Blocker::HasSubscriptions { .. } => (
            StatusCode::CONFLICT,
            codes::REMOVAL_REFUSED,
            "The user cannot be deleted in its current state.".into(),
        ),
    }
}

/// Removal failures. A refusal for a managed identity source is 405 with an empty
/// `Allow` (no method is allowed on that user here), which tells it apart from the
/// route's own 405 (`Allow: DELETE`).
fn removal_error(e: RemovalError, user: &UserRecord) -> ApiResponse {
    match e {
        RemovalError::NotFound => not_found(),
        RemovalError::Refused(Blocker::ExternallyManaged) => managed(user),
        RemovalError::Refused(b) => {
            let (status, code, message) = blocker(b);
            error(status, code, &message)
        }
        RemovalError::Domain(d) => domain_error(d),
    }
}

fn managed(user: &UserRecord) -> ApiResponse {
    let mut resp = json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({
            "status": StatusCode::METHOD_NOT_ALLOWED.as_u16(),
            "code": codes::IDENTITY_SOURCE_MANAGED,
            "message": MANAGED_MESSAGE,
            "identitySource": source_name(user.source),
        }),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(""));
    resp
}

fn domain_error(e: DomainError) -> ApiResponse {
    match e {
        DomainError::NotFound { .. } => not_found(),
        e => {
            crate::log_internal("cas", &e);
            internal()
        }
    }
}

fn source_name(s: IdentitySource) -> &'static str {
    match s {
        IdentitySource::Local => "local",
        IdentitySource::Scim => "scim",
        IdentitySource::Directory => "directory",
    }
}

fn mode_name(m: RemovalMode) -> &'static str {
    match m {
        RemovalMode::Permanent => "permanent",
        RemovalMode::Soft => "soft",
    }
}

fn plan_body(plan: &Plan) -> serde_json::Value {
    let blockers: Vec<serde_json::Value> = plan
        .blockers
        .iter()
        .map(|b| {
            let (status, code, message) = blocker(*b);
            json!({ "status": status.as_u16(), "code": code, "message": message })
        })
        .collect();
    json!({
        "dryRun": true,
        "userId": plan.user.uuid,
        "removable": plan.blockers.is_empty(),
        "mode": mode_name(plan.mode),
        "wouldRemove": plan.would_remove,
        "blockers": blockers,
    })
}

crate::endpoint! {
    /// `/AdminInterface/restapi/v1/users/:userId`: DELETE deletes a disabled user now,
    /// with all their devices and information (seed 001). `?dryRun=true` reports instead.
    pub struct UserRoute {
        route: "/AdminInterface/restapi/v1/users/:userId",
        error: Error,
        DELETE need(MdmUser, Remove) => delete_user,
    }
}

/// DELETE: the seed's "Delete User Now", or its dry run.
async fn delete_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let mut caller = crate::admit::<UserRoute, S>(req, store, ctx).await?;
    let org = auth::home_org(&mut caller, store, req).await?;
    let dry_run = params::flag(req, "dryRun")
        .map_err(Error::InvalidParameter)?
        .unwrap_or(false);
    // Only UUIDs name users here: anything else names no user.
    let uuid = orgs::parse_uuid("userId", &req.param("userId").unwrap_or_default())
        .map_err(|_| Error::UserNotFound)?;
    let user = users::find_by_uuid(store, &org, &uuid)
        .await?
        .ok_or(Error::UserNotFound)?;
    let policy = RemovalPolicy::cas().by(caller.actor());
    let refused = |e| Error::Removal(e, Box::new(user.clone()));
    if dry_run {
        let plan = removal::plan(store, &org, &user.id, &policy, ctx.now)
            .await
            .map_err(refused)?;
        return Ok(json(StatusCode::OK, &plan_body(&plan)));
    }
    match removal::remove_user(store, &org, &user.id, &policy, ctx.now)
        .await
        .map_err(refused)?
    {
        RemovalOutcome::Finished(r) => Ok(json(
            StatusCode::OK,
            &json!({
                "userId": user.uuid,
                "deleted": true,
                "mode": mode_name(r.mode),
                "removed": r.counts,
            }),
        )),
        // The CAS policy is synchronous; an unfinished removal is someone else's.
        RemovalOutcome::InProgress { .. } => Err(Error::PendingDeletion),
    }
}
