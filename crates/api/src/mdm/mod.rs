//! The canonical surface (seed 000's style): `/v1/organizations…/mdm/…`.
//!
//! Envelope: `{"status":true,"data":…}` on success and
//! `{"status":false,"error":{"code":N,"message":"…"}}` on failure. Every code is in
//! [`codes`] and documented in `docs/api.md`; domain errors become HTTP answers in
//! [`domain_error`] and [`removal_error`] and nowhere else.

pub mod codes;
pub mod dto;
pub mod endpoints;

pub use endpoints::{
    EnrollmentToken, EnrollmentTokens, Group, Groups, Invitations, Organization, Organizations,
    Outbox, User, UserDevice, UserDevices, UserGroups, UserPassword, UserPasswordReset, UserStatus,
    Users, UsersCount,
};

use crate::auth::{self, AuthError, Principal};
use crate::request::{ApiRequest, ApiResponse, Body, Ctx};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::{ObjectId, OrgRef};
use roster_domain::model::Organization as Org;
use roster_domain::removal::RemovalError;
use roster_domain::{DomainError, Store, ValidationError};
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
        DomainError::Corrupt { .. } | DomainError::Store(_) => internal(),
    }
}

/// The one mapping of removal refusals to this surface's answers (seed 000).
pub fn removal_error(e: RemovalError) -> ApiResponse {
    match e {
        RemovalError::NotFound => {
            error(StatusCode::NOT_FOUND, codes::NOT_FOUND, "Entity not found")
        }
        RemovalError::ActiveDevices { .. } => error(
            StatusCode::BAD_REQUEST,
            codes::ACTIVE_DEVICES,
            "MdmUser Can not be deleted because has no delete emmDevices",
        ),
        RemovalError::PendingEnrollmentTokens { .. } => error(
            StatusCode::BAD_REQUEST,
            codes::PENDING_TOKENS,
            "MdmUser Can not be deleted because has pending emmEnrollmentTokens",
        ),
        RemovalError::PreconditionFailed => precondition_failed(),
        RemovalError::Enabled | RemovalError::PendingDeletion | RemovalError::ExternallyManaged => {
            error(StatusCode::CONFLICT, codes::CONFLICT, &e.to_string())
        }
        RemovalError::Domain(d) => domain_error(d),
    }
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

/// Authenticates (seed 000's 401 answers).
pub fn authenticate(req: &ApiRequest, ctx: &Ctx) -> Result<Principal, ApiResponse> {
    auth::authenticate(req, ctx).map_err(|e| match e {
        AuthError::NoToken => error(
            StatusCode::UNAUTHORIZED,
            codes::NO_AUTH_TOKEN,
            "No auth token",
        ),
        AuthError::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "Unauthorized",
        ),
    })
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

/// 405 (with `Allow`) unless the request's method is one of `allowed`, the route's
/// `Endpoint::ALLOW` list: that one string is both what is served and what 405 says.
pub fn allow(req: &ApiRequest, allowed: &'static str) -> Result<(), ApiResponse> {
    if allowed.split(", ").any(|m| m == req.method.as_str()) {
        Ok(())
    } else {
        Err(method_not_allowed(allowed))
    }
}

/// The prologue of every organization-scoped route: the method ([`allow`], 405), the
/// token ([`authenticate`], 401), then the `organizationId` parameter (400, 404).
pub async fn enter<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    allowed: &'static str,
) -> Result<Org, ApiResponse> {
    allow(req, allowed)?;
    authenticate(req, ctx)?;
    organization(req, store).await
}

/// Resolves the `organizationId` path parameter (24-hex id or slug).
pub async fn organization<S: Store>(req: &ApiRequest, store: &S) -> Result<Org, ApiResponse> {
    let reference = path_param(req, "organizationId", OrgRef::parse)?;
    roster_domain::orgs::resolve(store, &reference)
        .await
        .map_err(domain_error)
}

/// Parses an `ObjectId` path parameter such as `mdmUserId`.
pub fn object_id(req: &ApiRequest, name: &str) -> Result<ObjectId, ApiResponse> {
    path_param(req, name, ObjectId::parse)
}

/// Decodes a JSON body into `T`; the error names the offending field. Unknown fields
/// are refused (request DTOs deny them).
pub fn json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiResponse> {
    let bytes = match &req.body {
        Body::TooLarge => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BODY_TOO_LARGE,
                &format!("request body exceeds {} bytes", crate::MAX_BODY_BYTES),
            ));
        }
        Body::Bytes(b) => b,
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("invalid JSON body: {inner}")
        } else {
            format!("invalid {path}: {inner}")
        };
        error(StatusCode::BAD_REQUEST, codes::INVALID_JSON, &message)
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
        Some(_) => {
            return Err(invalid(&ValidationError::new(
                "status",
                "must be active, disabled or pending_deletion",
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
