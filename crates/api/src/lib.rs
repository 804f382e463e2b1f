//! roster-api: Roster's HTTP surfaces, generic over the [`roster_domain::Store`] port.
//!
//! Each route is an [`Endpoint`], declared with [`endpoint!`]: its methods once each, with
//! the permission each requires and the function serving it. A component (or a native
//! test) hands it an [`ApiRequest`] — method, path parameters as Spin's
//! `spin-path-match-*` headers carry them, query, headers and body — a store and a
//! [`Ctx`], and gets an [`ApiResponse`]. Every failure on a surface is that surface's
//! `Error`, answered by its [`SurfaceError`] impl, the one place that builds error
//! answers and logs the cause of a 5xx ([`log_internal`]). Nothing here depends on wasm
//! or spin-sdk; `roster-spin` adapts Spin's types.
//!
//! Modules:
//! - surfaces: [`mdm`] (canonical, seed 000's envelope), [`cas`] (seed 001),
//!   [`dynatrace`] (seed 002), [`wso2`] (WSO2 EMM, seed 003), [`apim`] (seed 004),
//!   [`scim`] (SCIM 2.0's routes over the protocol crate);
//! - [`routes`]: the route catalogue, the one list of every route (component id,
//!   endpoint, surface, summary) that `cargo xtask gen` writes spin.toml and
//!   `components/` from, and [`routes::dispatch`] to run any route natively;
//! - [`auth`]: the prologue of every route (bearer token, rate limit, permission,
//!   organization scope);
//! - [`request`]: [`ApiRequest`], [`ApiResponse`], [`Body`], [`Ctx`] and bounded JSON
//!   decoding ([`JsonError`]);
//! - [`openapi`]: the OpenAPI 3.1 description, built from the catalogue and served
//!   at `GET /openapi.json`;
//! - [`params`]: small helpers the seed surfaces share (boolean flags, the request's
//!   origin for absolute URLs).

#![deny(missing_docs)]

pub mod apim;
pub mod assets;
pub mod auth;
pub mod cas;
pub mod console;
pub mod dynatrace;
pub mod mdm;
pub mod openapi;
pub mod params;
pub mod request;
pub mod routes;
pub mod scim;
pub mod wso2;

pub use request::{ApiRequest, ApiResponse, Body, Ctx, JsonError};

/// Writes the cause of a 5xx answer to stderr — which Spin keeps as the component's log
/// (`spin up` shows it, and writes it under `.spin/logs/`) — as one line
/// `roster: 500 on <surface>: <cause>`. Called by each surface where it turns a failure
/// into a 5xx. The cause names keys, ids and the store's own message, never a person's
/// data: a record that does not decode is named by its key, not its content, and a
/// failure that is not the store's is named by its kind only.
pub fn log_internal(surface: &str, cause: &roster_domain::DomainError) {
    use roster_domain::DomainError as E;
    match cause {
        E::Store(e) => eprintln!("roster: 500 on {surface}: {e}"),
        E::Corrupt { key, .. } => {
            eprintln!("roster: 500 on {surface}: the record at {key} does not decode")
        }
        E::Invalid(v) => eprintln!("roster: 500 on {surface}: unexpected invalid {}", v.field),
        E::NotFound { entity } => {
            eprintln!("roster: 500 on {surface}: unexpected {entity:?} not found")
        }
        E::Conflict { field } => {
            eprintln!("roster: 500 on {surface}: unexpected conflict on {field}")
        }
        E::PreconditionFailed { entity } => {
            eprintln!("roster: 500 on {surface}: unexpected precondition failure on {entity:?}")
        }
    }
}

/// The largest request body any route accepts (64 KiB): larger bodies answer 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One route of one surface: the methods it serves and how. Declared with
/// [`endpoint!`], which derives `ALLOW`, `requirement` and `handle` from one list of
/// methods, so the three never disagree.
#[allow(async_fn_in_trait)]
pub trait Endpoint {
    /// The route as spin.toml declares it (e.g. `/v1/organizations/:organizationId`).
    const ROUTE: &'static str;
    /// The methods served, as the `Allow` header lists them (`"GET, HEAD, PATCH"`).
    const ALLOW: &'static str;
    /// The methods the resource `req` names serves, for the `Allow` of a 405 to a method
    /// the route does not serve (RFC 9110 §15.5.6: the target resource's methods):
    /// [`Endpoint::ALLOW`], unless the route serves different resources at one pattern
    /// (SCIM's `/Users/:userId` is also `/Users/.search`, which serves POST alone).
    fn allow_for(req: &ApiRequest) -> &'static str {
        let _ = req;
        Self::ALLOW
    }
    /// What the caller needs for `method` (one of [`Endpoint::ALLOW`]); `None` for a
    /// method the route does not serve.
    fn requirement(method: &str) -> Option<auth::Requirement>;
    /// Answers one request. Never panics on client input; every failure is a response.
    async fn handle<S: roster_domain::Store>(req: &ApiRequest, store: &S, ctx: &Ctx)
    -> ApiResponse;
}

/// A surface's error: every way a request on that surface fails. Handlers return
/// `Result<ApiResponse, Self>` and use `?` (each surface converts the domain's errors
/// with `From`); [`SurfaceError::into_response`] is the one place the surface turns a
/// failure into its answer, and it logs the cause of every 5xx with [`log_internal`].
pub trait SurfaceError: From<Refusal> {
    /// The answer in the surface's envelope.
    fn into_response(self) -> ApiResponse;
}

/// The answer to a handler's result: the response, or the error's answer.
pub fn respond<E: SurfaceError>(result: Result<ApiResponse, E>) -> ApiResponse {
    result.unwrap_or_else(SurfaceError::into_response)
}

/// Declares an [`Endpoint`]: the route, the surface's [`SurfaceError`], and each method
/// once, with what it requires and the function that serves it:
///
/// ```
/// use roster_api::{ApiRequest, ApiResponse, Ctx, Endpoint, Refusal, SurfaceError};
///
/// /// A surface's one error type (here: only the refusals before a route runs).
/// struct Error(Refusal);
/// impl From<Refusal> for Error {
///     fn from(r: Refusal) -> Self {
///         Error(r)
///     }
/// }
/// impl SurfaceError for Error {
///     fn into_response(self) -> ApiResponse {
///         let mut resp = ApiResponse::new(Vec::new());
///         *resp.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
///         resp
///     }
/// }
///
/// roster_api::endpoint! {
///     /// `/v1/organizations/:organizationId`: GET; PATCH renames.
///     pub struct OrganizationRoute {
///         route: "/v1/organizations/:organizationId",
///         error: Error,
///         GET need(Organization, Read) => get_organization,
///         PATCH need(Organization, Update) => patch_organization,
///     }
/// }
///
/// async fn get_organization<S: roster_domain::Store>(
///     _: &ApiRequest, _: &S, _: &Ctx,
/// ) -> Result<ApiResponse, Error> {
///     Ok(ApiResponse::new(b"{}".to_vec()))
/// }
/// # async fn patch_organization<S: roster_domain::Store>(
/// #     r: &ApiRequest, s: &S, c: &Ctx,
/// # ) -> Result<ApiResponse, Error> {
/// #     get_organization(r, s, c).await
/// # }
///
/// assert_eq!(OrganizationRoute::ALLOW, "GET, HEAD, PATCH");
/// assert!(OrganizationRoute::requirement("PATCH").is_some());
/// assert!(OrganizationRoute::requirement("HEAD").is_some());
/// assert!(OrganizationRoute::requirement("DELETE").is_none());
/// let store = roster_domain::MemoryStore::default();
/// let ctx = Ctx::new(None, roster_domain::Timestamp(0));
/// let run = |method| {
///     let req = ApiRequest::new(method);
///     futures::executor::block_on(OrganizationRoute::handle(&req, &store, &ctx))
/// };
/// assert_eq!(run(http::Method::DELETE).status(), http::StatusCode::METHOD_NOT_ALLOWED);
/// // HEAD: GET's handler, its status and headers, no body.
/// assert_eq!(run(http::Method::GET).body(), b"{}");
/// let head = run(http::Method::HEAD);
/// assert_eq!(head.status(), http::StatusCode::OK);
/// assert!(head.body().is_empty());
/// ```
///
/// `need(Resource, Action)` any token may hold; `need_global(Resource, Action)` only
/// global tokens. Each handler is
/// `async fn(&ApiRequest, &S, &Ctx) -> Result<ApiResponse, Error>`. `ALLOW` lists the
/// methods in the order written, `GET` followed by `HEAD`: a route that serves `GET`
/// serves `HEAD` with the same handler, requirement and answer less its body (RFC 9110
/// §9.1, §9.3.2). A method not listed answers the surface's 405 (through
/// `Error: From<Refusal>`) with that `Allow`, before any authentication — or, with an
/// optional `allow_for: f,` after `error:`, with `f(req)`'s ([`Endpoint::allow_for`]).
#[macro_export]
macro_rules! endpoint {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            route: $route:literal,
            error: $error:ty,
            $m0:ident $k0:ident($r0:ident, $a0:ident) => $h0:path
            $(, $m:ident $k:ident($r:ident, $a:ident) => $h:path)* $(,)?
        }
    ) => {
        $crate::endpoint! {
            $(#[$meta])*
            $vis struct $name {
                route: $route,
                error: $error,
                allow_for: $crate::route_allow::<$name>,
                $m0 $k0($r0, $a0) => $h0
                $(, $m $k($r, $a) => $h)*
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            route: $route:literal,
            error: $error:ty,
            allow_for: $allow_for:path,
            $m0:ident $k0:ident($r0:ident, $a0:ident) => $h0:path
            $(, $m:ident $k:ident($r:ident, $a:ident) => $h:path)* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::Endpoint for $name {
            const ROUTE: &'static str = $route;
            const ALLOW: &'static str =
                concat!($crate::__allow_entry!($m0) $(, ", ", $crate::__allow_entry!($m))*);

            fn allow_for(req: &$crate::ApiRequest) -> &'static str {
                $allow_for(req)
            }

            fn requirement(method: &str) -> Option<$crate::auth::Requirement> {
                use ::roster_domain::permissions::{Action, Resource};
                let method = $crate::as_served(method);
                if method == stringify!($m0) {
                    return Some($crate::auth::Requirement::$k0(Resource::$r0, Action::$a0));
                }
                $(if method == stringify!($m) {
                    return Some($crate::auth::Requirement::$k(Resource::$r, Action::$a));
                })*
                None
            }

            async fn handle<S: ::roster_domain::Store>(
                req: &$crate::ApiRequest,
                store: &S,
                ctx: &$crate::Ctx,
            ) -> $crate::ApiResponse {
                let method = $crate::as_served(req.method.as_str());
                let result: Result<$crate::ApiResponse, $error> = if method == stringify!($m0) {
                    $h0(req, store, ctx).await
                }
                $(else if method == stringify!($m) {
                    $h(req, store, ctx).await
                })*
                else {
                    Err(<$error as From<$crate::Refusal>>::from(
                        $crate::Refusal::MethodNotAllowed(<Self as $crate::Endpoint>::allow_for(req)),
                    ))
                };
                let mut resp = $crate::respond(result);
                if req.method.as_str() == "HEAD" {
                    resp.body_mut().clear();
                }
                resp
            }
        }
    };
}

/// One method's entry in an [`endpoint!`]'s `ALLOW`: `GET` brings `HEAD` with it (RFC
/// 9110 §9.1: a general-purpose server supports both), any other method stands alone.
#[doc(hidden)]
#[macro_export]
macro_rules! __allow_entry {
    (GET) => {
        "GET, HEAD"
    };
    ($m:ident) => {
        stringify!($m)
    };
}

/// [`Endpoint::ALLOW`] whatever the request: the `allow_for` of an [`endpoint!`] route
/// that serves the same methods at every path it matches.
pub fn route_allow<E: Endpoint>(req: &ApiRequest) -> &'static str {
    let _ = req;
    E::ALLOW
}

/// The method whose handler serves a request of `method`: `HEAD` is served by `GET`'s
/// (RFC 9110 §9.3.2: the same status and headers, then no body — [`endpoint!`] drops
/// it), every other method by its own.
pub fn as_served(method: &str) -> &str {
    if method == "HEAD" { "GET" } else { method }
}

/// Why a request was refused before its route ran.
#[derive(Debug)]
pub enum Refusal {
    /// The route does not serve the method (405 with `Allow: E::ALLOW`).
    MethodNotAllowed(&'static str),
    /// Authentication, rate limit or permission.
    Auth(auth::AuthFailure),
}

/// The prologue of every route: the method (405), then [`auth::admit`] with the
/// route's requirement for it.
pub async fn admit<E: Endpoint, S: roster_domain::Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<auth::Caller, Refusal> {
    let need = E::ALLOW
        .split(", ")
        .any(|m| m == req.method.as_str())
        .then(|| E::requirement(req.method.as_str()))
        .flatten()
        .ok_or(Refusal::MethodNotAllowed(E::ALLOW))?;
    auth::admit(req, store, ctx, need)
        .await
        .map_err(Refusal::Auth)
}
