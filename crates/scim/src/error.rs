//! The one error type of the SCIM core: an HTTP status, an optional RFC 7644 §3.12
//! `scimType`, and a human-readable detail, renderable as the RFC's error body.

use http::StatusCode;
use serde_json::{Value, json};
use std::fmt;

use super::ERROR_URN;

/// The `scimType` error keywords of RFC 7644 §3.12 (Table 9), and RFC 9865's
/// `invalidCursor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// `invalidFilter`: the filter syntax was invalid or names an unknown attribute.
    InvalidFilter,
    /// `tooMany`: the filter yields more results than the server will process.
    TooMany,
    /// `uniqueness`: a value is already in use or reserved.
    Uniqueness,
    /// `mutability`: the change is incompatible with an attribute's mutability.
    Mutability,
    /// `invalidSyntax`: the request body structure was invalid.
    InvalidSyntax,
    /// `invalidPath`: the PATCH path (or an attribute name) was invalid or unknown.
    InvalidPath,
    /// `noTarget`: the PATCH path did not yield anything to operate on.
    NoTarget,
    /// `invalidValue`: a required value was missing or a value had the wrong type.
    InvalidValue,
    /// `invalidVers`: the specified SCIM protocol version is not supported.
    InvalidVers,
    /// `sensitive`: the request carried sensitive information in its URI.
    Sensitive,
    /// `invalidCursor` (RFC 9865 §2): the `cursor` is not one this service issued
    /// for the resource type and ordering asked for.
    InvalidCursor,
}

impl ScimType {
    /// Every keyword, in RFC order (RFC 7644's, then RFC 9865's).
    pub const ALL: [ScimType; 11] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
        ScimType::InvalidCursor,
    ];

    /// The exact wire string (e.g. `"invalidFilter"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
        }
    }

    /// The status the RFC pairs with the keyword: 409 for `uniqueness`, 403 for
    /// `sensitive` (RFC 7644 §7.5.2), 400 for every other.
    pub const fn default_status(self) -> StatusCode {
        match self {
            ScimType::Uniqueness => StatusCode::CONFLICT,
            ScimType::Sensitive => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM failure. Every fallible function of this crate returns it; nothing in
/// the crate panics on client input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ScimError {
    /// The HTTP status to answer with.
    pub status: StatusCode,
    /// The RFC 7644 §3.12 keyword, when one applies.
    pub scim_type: Option<ScimType>,
    /// What went wrong, for a human; never contains stored data beyond what the
    /// client itself sent.
    pub detail: String,
}

impl ScimError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An error with `scim_type` and the status the RFC pairs with it
    /// ([`ScimType::default_status`]).
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.default_status(), Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }

    /// The RFC 7644 §3.12 error body:
    /// `{"schemas":[Error URN],"scimType":…,"detail":…,"status":"400"}`, `status` a
    /// string of the numeric code, `scimType` omitted when there is none.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "detail": self.detail,
            "status": self.status.as_str(),
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".to_owned(), Value::String(t.as_str().to_owned()));
        }
        body
    }
}
