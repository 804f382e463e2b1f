//! What answers under the SCIM base besides the resources: `/Me` (501, RFC 7644
//! §3.11) and every other path (404, RFC 7644 §3.12), each in the SCIM error shape
//! and after the same prologue as the resources (405, 401, 429, 403, 404 for the
//! organization), so a client always gets a SCIM error body.

use super::Error;
use super::wire::enter;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_scim::ScimError;

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Me`: 501 for every method; the
    /// authenticated subject is an API token, not a user (RFC 7644 §3.11 allows 501).
    pub struct MeRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Me",
        error: Error,
        GET need(MdmUser, Read) => me,
        POST need(MdmUser, Read) => me,
        PUT need(MdmUser, Read) => me,
        PATCH need(MdmUser, Read) => me,
        DELETE need(MdmUser, Read) => me,
    }
}

async fn me<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    enter::<MeRoute, S>(req, store, ctx).await?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not implemented: requests are authenticated by an API token, which is no \
         User (RFC 7644 §3.11)",
    )
    .into())
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/...`: Spin's trailing wildcard, which
    /// its router chooses only when no other route matches; 404 naming the path for
    /// every method.
    pub struct UnknownRoute {
        route: "/v1/organizations/:organizationId/scim/v2/...",
        error: Error,
        GET need(MdmUser, Read) => unknown,
        POST need(MdmUser, Read) => unknown,
        PUT need(MdmUser, Read) => unknown,
        PATCH need(MdmUser, Read) => unknown,
        DELETE need(MdmUser, Read) => unknown,
    }
}

/// The path under the base as Spin gives it (`spin-path-info`), its first 160
/// characters.
fn path_info(req: &ApiRequest) -> String {
    let raw = req.header("spin-path-info").unwrap_or_default();
    let mut cut: String = raw.chars().take(160).collect();
    if cut.is_empty() {
        cut.push('/');
    }
    cut
}

async fn unknown<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let scope = enter::<UnknownRoute, S>(req, store, ctx).await?;
    Err(ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        format!(
            "no SCIM resource at {}{}: the resource types are Users and Groups, with \
             ServiceProviderConfig, ResourceTypes and Schemas for discovery",
            scope.base.as_str(),
            path_info(req)
        ),
    )
    .into())
}
