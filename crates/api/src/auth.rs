//! Bearer-token authentication shared by every surface.

use crate::request::{ApiRequest, Ctx};
use subtle::ConstantTimeEq;

/// Who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The holder of the `admin_token` application variable: every permission.
    GlobalAdmin,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    NoToken,
    /// A token that is not valid.
    Unauthorized,
}

/// Authenticates the request's bearer token. The comparison is constant-time; an
/// unset `admin_token` variable matches nothing.
pub fn authenticate(req: &ApiRequest, ctx: &Ctx) -> Result<Principal, AuthError> {
    let Some(value) = req.header("authorization") else {
        return Err(AuthError::NoToken);
    };
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AuthError::NoToken),
    };
    if token.is_empty() {
        return Err(AuthError::NoToken);
    }
    match &ctx.admin_token {
        Some(admin)
            if !admin.is_empty() && bool::from(admin.as_bytes().ct_eq(token.as_bytes())) =>
        {
            Ok(Principal::GlobalAdmin)
        }
        _ => Err(AuthError::Unauthorized),
    }
}
