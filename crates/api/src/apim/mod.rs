//! Seed 004: Azure API Management's User - Delete (with User - Get and the
//! asynchronous-operation polls it hands out), in Azure Resource Manager's style, under
//! `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName`
//! — the organization bound to that service (its APIM alias).
//!
//! - Every request needs a supported `api-version` ([`SUPPORTED_API_VERSIONS`]).
//! - A user is an ARM resource (`Microsoft.ApiManagement/service/users`) with an `ETag`.
//! - DELETE needs `If-Match` (an ETag or `*`): mismatch → 412, missing → 428. It takes
//!   the user's subscriptions only with `deleteSubscriptions=true` (otherwise live
//!   subscriptions answer 409), queues an account-closed notice with `notify=true`, and
//!   answers 204 when finished within the request or 202 with `Location` and
//!   `Azure-AsyncOperation` when the user has more dependents than the organization's
//!   `removalBatch`; each poll of either URL advances the removal by one batch. A
//!   DELETE of an absent user answers 204 (ARM's rule for idempotent deletes).
//! - Errors are ARM `ErrorResponse`s: every failure is an [`Error`], answered in
//!   [`Error::into_response`](crate::SurfaceError::into_response) alone.
//!
//! `docs/seeds.md` lists every answer.

pub mod endpoints;

pub use endpoints::{OperationResultRoute, UserRoute};

use crate::auth::{self, AuthFailure, Caller};
use crate::params;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use crate::{Endpoint, Refusal, SurfaceError};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::ObjectId;
use roster_domain::model::{ApimBinding, Organization};
use roster_domain::removal::{Blocker, RemovalError};
use roster_domain::{DomainError, Store, orgs};

/// The `api-version`s accepted (the representation is the same for all of them).
pub const SUPPORTED_API_VERSIONS: &[&str] = &[
    "2021-08-01",
    "2022-08-01",
    "2023-05-01-preview",
    "2023-09-01-preview",
    "2024-05-01",
    "2024-06-01-preview",
];

/// The `Retry-After` (seconds) of an answer that says "still in progress".
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The ARM resource type of a user.
pub const USER_TYPE: &str = "Microsoft.ApiManagement/service/users";

/// An ARM `ErrorResponse`:
/// `{"error":{"code","message","target","details":[],"additionalInfo":[]}}`.
pub fn arm_error(
    status: StatusCode,
    code: &str,
    message: &str,
    target: Option<&str>,
) -> ApiResponse {
    params::json_of(
        status,
        &ErrorResponse {
            error: ErrorDetail {
                additional_info: [],
                code,
                details: [],
                message,
                target,
            },
        },
    )
}

/// ARM's `ErrorResponse` body, its members declared in alphabetical order: the bytes
/// the `json!` value it replaced wrote (serde_json's maps sort their members).
#[derive(serde::Serialize)]
struct ErrorResponse<'a> {
    error: ErrorDetail<'a>,
}

/// The `error` of an [`ErrorResponse`]; `details` and `additionalInfo` always empty.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail<'a> {
    additional_info: [(); 0],
    code: &'a str,
    details: [(); 0],
    message: &'a str,
    target: Option<&'a str>,
}

/// Every way a request on this surface fails. [`SurfaceError::into_response`] is the
/// one mapping to ARM `ErrorResponse`s, and logs the cause of every 500.
#[derive(Debug)]
pub enum Error {
    /// Before the route ran: the method (405 `MethodNotAllowed` with `Allow`), or the
    /// caller (401 with `WWW-Authenticate: Bearer`, 403, 429; 404 for a missing
    /// organization, as the service is in the path).
    Refused(Refusal),
    /// No `api-version` (400 `MissingApiVersionParameter`).
    MissingApiVersion,
    /// An `api-version` not in [`SUPPORTED_API_VERSIONS`] (400
    /// `InvalidApiVersionParameter`); the version as given.
    InvalidApiVersion(String),
    /// A subscription id that is no UUID (400 `InvalidSubscriptionId`); as given.
    InvalidSubscriptionId(String),
    /// No service by these names, or another organization's (404 `ResourceNotFound`).
    ServiceNotFound {
        /// The path's `serviceName`, as given.
        service: String,
        /// The path's `resourceGroupName`, as given.
        group: String,
    },
    /// A query parameter is invalid (400 `InvalidParameter`, the parameter as `target`).
    InvalidParameter {
        /// The parameter, answered as the error's `target`.
        name: String,
        /// The whole `message`, naming the parameter and what it accepts.
        message: String,
    },
    /// DELETE without `If-Match` (428 `PreconditionRequired`).
    PreconditionRequired,
    /// No such user (404 `ResourceNotFound`).
    UserNotFound,
    /// No such operation, or not this user's removal (404 `ResourceNotFound`).
    OperationNotFound,
    /// The removal engine refused (412, 409) or failed.
    Removal(RemovalError),
    /// A store failure or a record that did not decode (500); a missing entity is the
    /// user's 404, an invalid value 400 `InvalidParameter`.
    Domain(DomainError),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<RemovalError> for Error {
    fn from(e: RemovalError) -> Self {
        Self::Removal(e)
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
                let mut resp = arm_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    &format!("The requested method is not allowed; this resource allows {allow}."),
                    None,
                );
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
            Error::Refused(Refusal::Auth(a)) => auth_failure(a),
            Error::MissingApiVersion => arm_error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
                Some("api-version"),
            ),
            Error::InvalidApiVersion(v) => arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                &format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    SUPPORTED_API_VERSIONS.join(",")
                ),
                Some("api-version"),
            ),
            Error::InvalidSubscriptionId(subscription) => arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidSubscriptionId",
                &format!(
                    "The provided subscription identifier '{subscription}' is malformed or invalid."
                ),
                Some("subscriptionId"),
            ),
            Error::ServiceNotFound { service, group } => arm_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                &format!(
                    "The Resource 'Microsoft.ApiManagement/service/{service}' under resource group '{group}' was not found."
                ),
                None,
            ),
            Error::InvalidParameter { name, message } => invalid_parameter(&name, &message),
            Error::PreconditionRequired => arm_error(
                StatusCode::PRECONDITION_REQUIRED,
                "PreconditionRequired",
                "The If-Match header is required: send the ETag from GET, or * to delete unconditionally.",
                Some("If-Match"),
            ),
            Error::UserNotFound => user_not_found(),
            Error::OperationNotFound => arm_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "Operation not found.",
                None,
            ),
            Error::Removal(e) => removal_error(e),
            Error::Domain(e) => domain_error(e),
        }
    }
}

fn user_not_found() -> ApiResponse {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "User not found.",
        None,
    )
}

fn internal() -> ApiResponse {
    arm_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "The server encountered an internal error; retry the request.",
        None,
    )
}

fn invalid_parameter(name: &str, message: &str) -> ApiResponse {
    arm_error(
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        message,
        Some(name),
    )
}

/// ARM's authentication and authorization answers: 401 `AuthenticationFailed` (no
/// token) and `InvalidAuthenticationToken` (a bad one), both with
/// `WWW-Authenticate: Bearer`; 403 `AuthorizationFailed`; 429 `TooManyRequests`;
/// 500 `InternalServerError`.
fn auth_failure(a: AuthFailure) -> ApiResponse {
    let unauthorized = |code: &str, message: &str| {
        let mut resp = arm_error(StatusCode::UNAUTHORIZED, code, message, None);
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        resp
    };
    match a {
        AuthFailure::NoToken => unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ),
        AuthFailure::Unauthorized => {
            unauthorized("InvalidAuthenticationToken", "The access token is invalid.")
        }
        AuthFailure::Forbidden { permission } => arm_error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!(
                "The client does not have authorization to perform action '{permission}' over this scope."
            ),
            None,
        ),
        AuthFailure::RateLimited(_) => arm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The request was throttled; retry after the time in the Retry-After header.",
            None,
        ),
        // The service is in the path; no organization header is ever needed here.
        AuthFailure::NoOrganization => user_not_found(),
        AuthFailure::Store(e) => {
            crate::log_internal("apim", &e);
            internal()
        }
    }
}

fn removal_error(e: RemovalError) -> ApiResponse {
    match e {
        RemovalError::NotFound => user_not_found(),
        RemovalError::Refused(b) => {
            let (status, code, message, target) = blocker(b);
            arm_error(status, code, &message, target)
        }
        RemovalError::Domain(d) => domain_error(d),
    }
}

/// Status, code, message and target of a blocker (a refused DELETE, or an entry of a
/// dry run's `blockers`).
pub fn blocker(b: Blocker) -> (StatusCode, &'static str, String, Option<&'static str>) {
    match b {
        Blocker::PreconditionFailed => (
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "The If-Match header does not match the user's current ETag.".into(),
            Some("If-Match"),
        ),
        Blocker::HasSubscriptions { count } => (
            StatusCode::CONFLICT,
            "UserHasSubscriptions",
            format!(
                "The user has {count} subscription(s); pass deleteSubscriptions=true to delete them with the user."
            ),
            Some("deleteSubscriptions"),
        ),
        Blocker::PendingDeletion => (
            StatusCode::CONFLICT,
            "DeletionInProgress",
            "The user is being deleted; poll the operation or repeat the DELETE.".into(),
            None,
        ),
        Blocker::LegalHold { .. } => (
            StatusCode::CONFLICT,
            "UserUnderLegalHold",
            format!(
                "The user is {}; it cannot be deleted until the hold is lifted or ends.",
                b.hold_description().unwrap_or_default()
            ),
            None,
        ),
        Blocker::ExportRequired { .. } => (
            StatusCode::CONFLICT,
            "UserExportRequired",
            format!(
                "The user cannot be deleted: there is {}; export the user's data first.",
                b.export_description().unwrap_or_default()
            ),
            None,
        ),
        Blocker::ActiveDevices { .. }
        | Blocker::PendingEnrollmentTokens { .. }
        | Blocker::Enabled
        | Blocker::ExternallyManaged => (
            StatusCode::CONFLICT,
            "Conflict",
            "The user cannot be deleted in its current state.".into(),
            None,
        ),
    }
}

fn domain_error(e: DomainError) -> ApiResponse {
    match e {
        DomainError::NotFound { .. } => user_not_found(),
        DomainError::Invalid(v) => invalid_parameter(&v.field, &v.to_string()),
        // Not one a retry cures: the operator repairs the record the log names.
        e @ DomainError::Corrupt { .. } => {
            crate::log_internal("apim", &e);
            arm_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "The server could not read a stored record; its log names it.",
                None,
            )
        }
        e => {
            crate::log_internal("apim", &e);
            internal()
        }
    }
}

/// The service a request addresses: the organization bound to it and the `api-version`
/// asked for.
#[derive(Debug, Clone)]
pub struct Service {
    /// The organization bound to the service, visible to the caller.
    pub org: Organization,
    /// Its binding (the canonical spelling of the path's names).
    pub binding: ApimBinding,
    /// The request's `api-version` (one of [`SUPPORTED_API_VERSIONS`]).
    pub api_version: &'static str,
}

impl Service {
    /// `/subscriptions/…/providers/Microsoft.ApiManagement/service/{serviceName}`.
    pub fn path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}",
            self.binding.subscription_id,
            self.binding.resource_group_name,
            self.binding.service_name
        )
    }

    /// The ARM id of a user.
    pub fn user_path(&self, user: &ObjectId) -> String {
        format!("{}/users/{user}", self.path())
    }

    /// The ARM id of an operation result.
    pub fn operation_path(&self, op: &ObjectId) -> String {
        format!("{}/tenant/operationResults/{op}", self.path())
    }
}

/// Checks `api-version`: absent ([`Error::MissingApiVersion`]) or not supported
/// ([`Error::InvalidApiVersion`]).
pub fn api_version(req: &ApiRequest) -> Result<&'static str, Error> {
    let v = req
        .query_param("api-version")
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingApiVersion)?;
    SUPPORTED_API_VERSIONS
        .iter()
        .find(|s| **s == v)
        .copied()
        .ok_or(Error::InvalidApiVersion(v))
}

/// The prologue of every route of this surface: the method (405), the caller (401,
/// 429, 403), `api-version` (400), the subscription id's form (400
/// `InvalidSubscriptionId`), then the organization bound to the service as the caller
/// may see it (404 `ResourceNotFound` — also for another organization's token).
pub async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Caller, Service), Error> {
    let caller = crate::admit::<E, S>(req, store, ctx).await?;
    let api_version = api_version(req)?;
    let subscription = req.param("subscriptionId").unwrap_or_default();
    if orgs::parse_uuid("subscriptionId", &subscription).is_err() {
        return Err(Error::InvalidSubscriptionId(subscription));
    }
    let group = req.param("resourceGroupName").unwrap_or_default();
    let service = req.param("serviceName").unwrap_or_default();
    let org = orgs::resolve_apim(store, &subscription, &group, &service)
        .await
        .and_then(|o| auth::visible(&caller, o));
    let found = match org {
        Ok(o) => o.apim.clone().map(|binding| (o, binding)),
        Err(DomainError::NotFound { .. } | DomainError::Invalid(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (org, binding) = found.ok_or(Error::ServiceNotFound { service, group })?;
    Ok((
        caller,
        Service {
            org,
            binding,
            api_version,
        },
    ))
}

/// 202 Accepted for a removal still in progress: `Location` (the user's URL with
/// `asyncId` and `asyncCode=204`), `Azure-AsyncOperation` (the operation result's URL)
/// and `Retry-After`.
pub fn accepted(req: &ApiRequest, svc: &Service, user: &ObjectId, op: &ObjectId) -> ApiResponse {
    let origin = params::origin(req);
    let location = format!(
        "{origin}{}?api-version={}&asyncId={op}&asyncCode=204",
        svc.user_path(user),
        svc.api_version
    );
    let operation = format!(
        "{origin}{}?api-version={}",
        svc.operation_path(op),
        svc.api_version
    );
    let mut resp = params::empty(StatusCode::ACCEPTED);
    let h = resp.headers_mut();
    for (name, value) in [
        (header::LOCATION, location),
        (
            const { header::HeaderName::from_static("azure-asyncoperation") },
            operation,
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}
