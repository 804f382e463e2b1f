//! The SCIM service's one error type, [`Error`], and its one mapping to answers: RFC
//! 7644 §3.12 error bodies (`application/scim+json`), 401 with a `WWW-Authenticate:
//! Bearer` challenge (RFC 6750), 405 with `Allow`. The cause of every 500 is logged
//! there.

use super::wire::respond;
use crate::auth::AuthFailure;
use crate::request::{ApiResponse, JsonError};
use crate::{Refusal, SurfaceError};
use http::{HeaderValue, StatusCode, header};
use roster_domain::removal::{Blocker, RemovalError};
use roster_domain::{DomainError, Entity, ValidationError};
use roster_scim::{ScimError, ScimType};

/// The `realm` of `WWW-Authenticate` challenges.
const REALM: &str = "roster-scim";

/// Every way a SCIM request fails. Handlers return `Result<ApiResponse, Error>` and use
/// `?`: the protocol's [`ScimError`] and the domain's errors convert with `From`.
/// [`SurfaceError::into_response`] is the one mapping to answers, and logs the cause
/// of every 500.
#[derive(Debug)]
pub enum Error {
    /// Before the route ran: the method (405 with `Allow`), or the caller (401 with a
    /// challenge, 403, 429; 404 for a global token without an organization; 500 for
    /// the store behind them).
    Refused(Refusal),
    /// The request broke the protocol (its status and `scimType` are its own).
    Scim(ScimError),
    /// A value the domain refuses (400 `invalidValue`).
    Invalid(ValidationError),
    /// The body is too large (413), too deep or not JSON (400 `invalidSyntax`).
    Json(JsonError),
    /// The path names no such resource, or one the caller may not see (404).
    NotFound(Entity),
    /// `If-Match` / `If-None-Match` does not hold for the resource's version (412).
    PreconditionFailed,
    /// The domain refused or failed: 400 `invalidValue`, 404, 409 `uniqueness`, 412,
    /// 500 for the store or a record that does not decode.
    Domain(DomainError),
    /// DELETE of a user: 404, 412, 409 for the policy's other guards, or the domain's.
    Removal(RemovalError),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<ScimError> for Error {
    fn from(e: ScimError) -> Self {
        Self::Scim(e)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e)
    }
}

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Self::Domain(e)
    }
}

impl From<RemovalError> for Error {
    fn from(e: RemovalError) -> Self {
        Self::Removal(e)
    }
}

impl SurfaceError for Error {
    fn into_response(self) -> ApiResponse {
        let e = match self {
            Error::Refused(Refusal::MethodNotAllowed(allow)) => return method_not_allowed(allow),
            Error::Refused(Refusal::Auth(a)) => return auth_failure(a),
            Error::Scim(e) => e,
            Error::Invalid(v) => ScimError::invalid_value(v.to_string()),
            Error::Json(e @ JsonError::TooLarge) => {
                ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, e.message())
            }
            Error::Json(e) => ScimError::invalid_syntax(e.message()),
            Error::NotFound(entity) => not_found(entity),
            Error::PreconditionFailed => precondition_failed(),
            Error::Domain(e) => domain(e),
            Error::Removal(e) => removal(e),
        };
        error_response(&e)
    }
}

/// The RFC 7644 §3.12 error body of `e`.
fn error_response(e: &ScimError) -> ApiResponse {
    respond(e.status, &e.to_json())
}

fn method_not_allowed(allow: &'static str) -> ApiResponse {
    let mut resp = error_response(&ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("method not allowed; this endpoint serves {allow}"),
    ));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// The caller's failures: 401 with a challenge, 403, 429, 404 (a global token naming
/// no organization), or the store's 500.
fn auth_failure(a: AuthFailure) -> ApiResponse {
    match a {
        AuthFailure::NoToken => {
            challenge("no bearer token: send Authorization: Bearer <token>", false)
        }
        AuthFailure::Unauthorized => challenge(
            "the bearer token is not valid (unknown, expired or revoked)",
            true,
        ),
        AuthFailure::Forbidden { permission } => error_response(&ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            format!("the token lacks the permission {permission}"),
        )),
        AuthFailure::RateLimited(_) => error_response(&ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "too many requests; retry after the number of seconds in Retry-After",
        )),
        AuthFailure::NoOrganization => error_response(&ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            "organization not found",
        )),
        AuthFailure::Store(e) => error_response(&domain(e)),
    }
}

fn challenge(detail: &str, invalid_token: bool) -> ApiResponse {
    let resp = error_response(&ScimError::new(StatusCode::UNAUTHORIZED, None, detail));
    crate::auth::challenged(resp, REALM, invalid_token)
}

/// The SCIM name of a domain field in conflict.
fn scim_field(field: &str) -> &str {
    match field {
        "username" => "userName",
        "email" => "emails",
        "name" => "displayName",
        other => other,
    }
}

/// The detail of a 500 for a stored record that does not decode: not one a retry cures.
pub(crate) const CORRUPT_RECORD: &str =
    "internal error: a stored record could not be read; the service's log names it";

/// Domain errors; logs the cause of a 500.
fn domain(e: DomainError) -> ScimError {
    match e {
        DomainError::Invalid(v) => ScimError::invalid_value(v.to_string()),
        DomainError::NotFound { entity } => not_found(entity),
        DomainError::Conflict { field } => ScimError::typed(
            ScimType::Uniqueness,
            format!("{} is already in use", scim_field(field)),
        ),
        DomainError::PreconditionFailed { .. } => precondition_failed(),
        e @ DomainError::Store(_) => {
            crate::log_internal("scim", &e);
            ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; repeating the request completes what it started",
            )
        }
        // Repeating would fail the same way: the operator has to repair the record,
        // which the log names by its key (never its content).
        e @ DomainError::Corrupt { .. } => {
            crate::log_internal("scim", &e);
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, CORRUPT_RECORD)
        }
    }
}

/// Removal refusals and failures (DELETE of a user).
fn removal(e: RemovalError) -> ScimError {
    match e {
        RemovalError::NotFound => not_found(Entity::User),
        RemovalError::Refused(Blocker::PreconditionFailed) => precondition_failed(),
        // RFC 7644 §3.12 has no scimType for it: a 409 whose detail names the hold.
        RemovalError::Refused(b @ Blocker::LegalHold { .. }) => ScimError::new(
            StatusCode::CONFLICT,
            None,
            format!(
                "the user cannot be removed: it is {}",
                b.hold_description().unwrap_or_default()
            ),
        ),
        // Likewise for a missing export: a 409 whose detail names it.
        RemovalError::Refused(b @ Blocker::ExportRequired { .. }) => ScimError::new(
            StatusCode::CONFLICT,
            None,
            format!(
                "the user cannot be removed: there is {}",
                b.export_description().unwrap_or_default()
            ),
        ),
        RemovalError::Refused(b) => ScimError::new(
            StatusCode::CONFLICT,
            None,
            format!("the user cannot be removed now ({})", b.reason()),
        ),
        RemovalError::Domain(d) => domain(d),
    }
}

/// 404 for a missing (or invisible) resource.
fn not_found(entity: Entity) -> ScimError {
    let what = match entity {
        Entity::User => "User",
        Entity::Group => "Group",
        Entity::Organization => "organization",
        _ => "resource",
    };
    ScimError::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
}

fn precondition_failed() -> ScimError {
    ScimError::new(
        StatusCode::PRECONDITION_FAILED,
        None,
        "the resource's version does not satisfy If-Match / If-None-Match",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A removal refused by a blocker without its own wording answers 409 naming the
    /// blocker by its wire name (`Blocker::reason`), never Rust's `Debug` of it.
    #[test]
    fn a_refused_removal_names_its_blocker_by_its_wire_name() {
        for (b, name) in [
            (Blocker::PendingDeletion, "pendingDeletion"),
            (Blocker::HasSubscriptions { count: 2 }, "hasSubscriptions"),
        ] {
            let e = removal(RemovalError::Refused(b));
            assert_eq!(e.status, StatusCode::CONFLICT);
            assert_eq!(e.detail, format!("the user cannot be removed now ({name})"));
        }
    }
}
