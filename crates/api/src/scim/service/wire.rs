//! The SCIM surface on the wire: its one mapping of refusals, domain errors and
//! removal refusals to RFC 7644 §3.12 error bodies, its prologue ([`enter`]), request
//! bodies, list parameters, entity tags and the headers every answer carries.

use crate::auth::{self, AuthFailure, Caller};
use crate::request::{ApiRequest, ApiResponse, Ctx, JsonError};
use crate::{Endpoint, Refusal};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::OrgRef;
use roster_domain::model::Organization;
use roster_domain::removal::{Blocker, RemovalError};
use roster_domain::{DomainError, Entity, Store};
use roster_scim::{ScimError, ScimType, SortBy};
use serde_json::Value;

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// The `realm` of `WWW-Authenticate` challenges.
const REALM: &str = "roster-scim";

/// Why a handler stops early: an answer already made (a refusal of the prologue), or
/// a SCIM error to render.
pub(crate) enum Failure {
    /// Send this.
    Response(ApiResponse),
    /// Render this as an error body.
    Scim(ScimError),
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure::Scim(e)
    }
}

impl From<ApiResponse> for Failure {
    fn from(r: ApiResponse) -> Self {
        Failure::Response(r)
    }
}

/// A handler's result.
pub(crate) type Outcome = Result<ApiResponse, Failure>;

/// The answer of a handler, success or failure.
pub(crate) fn finish(o: Outcome) -> ApiResponse {
    match o {
        Ok(r) | Err(Failure::Response(r)) => r,
        Err(Failure::Scim(e)) => error_response(&e),
    }
}

/// `body` as `application/scim+json` with `status`.
pub(crate) fn respond(status: StatusCode, body: &Value) -> ApiResponse {
    let mut resp = http::Response::new(body.to_string().into_bytes());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}

/// An empty answer (204, 304).
pub(crate) fn empty(status: StatusCode) -> ApiResponse {
    let mut resp = http::Response::new(Vec::new());
    *resp.status_mut() = status;
    resp
}

/// The RFC 7644 §3.12 error body of `e`.
pub(crate) fn error_response(e: &ScimError) -> ApiResponse {
    respond(e.status, &e.to_json())
}

/// The one mapping of refusals (method, token, rate limit, permission) to this
/// surface's answers: SCIM error bodies; 401 with a `WWW-Authenticate: Bearer`
/// challenge (RFC 6750), 405 with `Allow`.
pub(crate) fn refusal(r: Refusal) -> ApiResponse {
    match r {
        Refusal::MethodNotAllowed(allow) => {
            let mut resp = error_response(&ScimError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                format!("method not allowed; this endpoint serves {allow}"),
            ));
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            resp
        }
        Refusal::Auth(AuthFailure::NoToken) => challenge(
            "no bearer token: send Authorization: Bearer <token>",
            format!("Bearer realm=\"{REALM}\""),
        ),
        Refusal::Auth(AuthFailure::Unauthorized) => challenge(
            "the bearer token is not valid (unknown, expired or revoked)",
            format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
        ),
        Refusal::Auth(AuthFailure::Forbidden { permission }) => error_response(&ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            format!("the token lacks the permission {permission}"),
        )),
        Refusal::Auth(AuthFailure::RateLimited(_)) => error_response(&ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "too many requests; retry after the number of seconds in Retry-After",
        )),
        Refusal::Auth(AuthFailure::NoOrganization) => error_response(&ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            "organization not found",
        )),
        Refusal::Auth(AuthFailure::Store(e)) => error_response(&domain(e)),
    }
}

fn challenge(detail: &str, value: String) -> ApiResponse {
    let mut resp = error_response(&ScimError::new(StatusCode::UNAUTHORIZED, None, detail));
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
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

/// The one mapping of domain errors to this surface's errors.
pub(crate) fn domain(e: DomainError) -> ScimError {
    match e {
        DomainError::Invalid(v) => ScimError::invalid_value(v.to_string()),
        DomainError::NotFound { entity } => not_found(entity),
        DomainError::Conflict { field } => ScimError::typed(
            ScimType::Uniqueness,
            format!("{} is already in use", scim_field(field)),
        ),
        DomainError::PreconditionFailed { .. } => precondition_failed(),
        e @ (DomainError::Corrupt { .. } | DomainError::Store(_)) => {
            crate::log_internal("scim", &e);
            ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; repeating the request completes what it started",
            )
        }
    }
}

/// The one mapping of removal refusals (DELETE) to this surface's errors.
pub(crate) fn removal(e: RemovalError) -> ScimError {
    match e {
        RemovalError::NotFound => not_found(Entity::User),
        RemovalError::Refused(Blocker::PreconditionFailed) => precondition_failed(),
        RemovalError::Refused(b) => ScimError::new(
            StatusCode::CONFLICT,
            None,
            format!("the user cannot be removed now: {b:?}"),
        ),
        RemovalError::Domain(d) => domain(d),
    }
}

/// 404 for a missing (or invisible) resource.
pub(crate) fn not_found(entity: Entity) -> ScimError {
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

/// The resources' URLs: `…/v1/organizations/{id}/scim/v2`, absolute when the request
/// says where it was sent (Spin's `spin-full-url`; `X-Forwarded-Proto` overrides the
/// scheme behind a TLS-terminating proxy), else relative to the host.
#[derive(Debug, Clone)]
pub(crate) struct Base(String);

impl Base {
    fn new(req: &ApiRequest, org: &Organization) -> Self {
        let path = format!("/v1/organizations/{}/scim/v2", org.id);
        let origin = req
            .header("spin-full-url")
            .and_then(|url| {
                let (scheme, rest) = url.split_once("://")?;
                let authority = rest.split(['/', '?', '#']).next()?;
                let scheme = match req.header("x-forwarded-proto").map(str::trim) {
                    Some(p) if p.eq_ignore_ascii_case("https") => "https",
                    Some(p) if p.eq_ignore_ascii_case("http") => "http",
                    _ => scheme,
                };
                (!authority.is_empty()
                    && matches!(scheme, "http" | "https")
                    && authority
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
                .then(|| format!("{scheme}://{authority}"))
            })
            .unwrap_or_default();
        Base(format!("{origin}{path}"))
    }

    /// The base itself.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of `rel` (`/Users/{id}`) under the base.
    pub(crate) fn url(&self, rel: &str) -> String {
        format!("{}{rel}", self.0)
    }
}

/// An admitted request: its organization, caller and base URL.
pub(crate) struct Scope {
    /// The organization the path names.
    pub org: Organization,
    /// Who asks.
    pub caller: Caller,
    /// Where its resources live.
    pub base: Base,
}

/// The prologue of every SCIM route: the method (405), the caller (401, 429, 403),
/// then the organization the path names as the caller may see it (404, also for a
/// malformed id and for another organization's token).
pub(crate) async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<Scope, Failure> {
    let caller = crate::admit::<E, S>(req, store, ctx)
        .await
        .map_err(refusal)?;
    let raw = req.param("organizationId").unwrap_or_default();
    let reference =
        OrgRef::parse("organizationId", &raw).map_err(|_| not_found(Entity::Organization))?;
    let org = auth::scoped_org(&caller, store, &reference)
        .await
        .map_err(domain)?;
    let base = Base::new(req, &org);
    Ok(Scope { org, caller, base })
}

/// The JSON object a request carries. `Content-Type` must be absent,
/// `application/scim+json` or `application/json` (415 otherwise); a body over
/// [`crate::MAX_BODY_BYTES`] is 413; one nested deeper than
/// [`crate::request::MAX_JSON_DEPTH`], or anything but a JSON object, is 400
/// `invalidSyntax`.
pub(crate) fn body_json(req: &ApiRequest) -> Result<Value, ScimError> {
    if let Some(ct) = req.header("content-type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case(SCIM_JSON) && !media.eq_ignore_ascii_case("application/json")
        {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "Content-Type must be application/scim+json or application/json",
            ));
        }
    }
    let value: Value = crate::request::parse_json(&req.body).map_err(|e| match e {
        JsonError::TooLarge => ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, e.message()),
        JsonError::TooDeep | JsonError::Invalid { .. } => ScimError::invalid_syntax(e.message()),
    })?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(
            "request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// `W/"<version>"`: the weak entity tag of a resource version (`meta.version`, `ETag`).
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Adds `ETag` and `Location` to a resource answer.
pub(crate) fn with_resource_headers(
    mut resp: ApiResponse,
    location: &str,
    version: u64,
) -> ApiResponse {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// The entity tags of an `If-Match` / `If-None-Match` header.
#[derive(Debug, Clone, PartialEq)]
enum Tags {
    /// `*`.
    Any,
    /// The versions listed (`None` for a tag this service never issued: it matches
    /// nothing).
    Versions(Vec<Option<u64>>),
}

impl Tags {
    fn parse(raw: &str) -> Tags {
        if raw.trim() == "*" {
            return Tags::Any;
        }
        Tags::Versions(
            raw.split(',')
                .map(|t| {
                    let t = t.trim();
                    let t = t.strip_prefix("W/").unwrap_or(t);
                    t.strip_prefix('"')
                        .and_then(|t| t.strip_suffix('"'))
                        .and_then(|v| v.parse::<u64>().ok())
                })
                .collect(),
        )
    }

    /// Weak comparison (RFC 7232 §2.3.2): `W/"3"` and `"3"` both name version 3.
    fn matches(&self, version: u64) -> bool {
        match self {
            Tags::Any => true,
            Tags::Versions(v) => v.contains(&Some(version)),
        }
    }
}

/// A request's preconditions (RFC 7644 §3.14, RFC 7232).
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    if_match: Option<Tags>,
    if_none_match: Option<Tags>,
}

impl Conditions {
    /// Reads `If-Match` and `If-None-Match`.
    pub(crate) fn of(req: &ApiRequest) -> Self {
        Self {
            if_match: req.header("if-match").map(Tags::parse),
            if_none_match: req.header("if-none-match").map(Tags::parse),
        }
    }

    /// Whether the request names a version it expects (`If-Match`): its write must
    /// then be conditional on the version checked.
    pub(crate) fn has_if_match(&self) -> bool {
        self.if_match.is_some()
    }

    /// For a write (PUT, PATCH, DELETE) of a resource at `version`: 412 unless
    /// `If-Match` (when given) matches it and `If-None-Match` (when given) does not.
    pub(crate) fn check_write(&self, version: u64) -> Result<(), ScimError> {
        if self.if_match.as_ref().is_some_and(|t| !t.matches(version))
            || self
                .if_none_match
                .as_ref()
                .is_some_and(|t| t.matches(version))
        {
            return Err(precondition_failed());
        }
        Ok(())
    }

    /// For a GET of a resource at `version`: `Ok(true)` when `If-None-Match` matches
    /// (answer 304), 412 when `If-Match` is given and does not.
    pub(crate) fn check_read(&self, version: u64) -> Result<bool, ScimError> {
        if self.if_match.as_ref().is_some_and(|t| !t.matches(version)) {
            return Err(precondition_failed());
        }
        Ok(self
            .if_none_match
            .as_ref()
            .is_some_and(|t| t.matches(version)))
    }
}

/// 304 with the resource's `ETag`.
pub(crate) fn not_modified(location: &str, version: u64) -> ApiResponse {
    with_resource_headers(empty(StatusCode::NOT_MODIFIED), location, version)
}

/// The query parameters of a list request (RFC 7644 §3.4.2).
#[derive(Debug, Clone)]
pub(crate) struct ListParams {
    /// `filter`, when given and not blank.
    pub filter: Option<String>,
    /// `startIndex`, 1-based (values below 1 read as 1).
    pub start_index: usize,
    /// `count`, 0 to [`super::MAX_RESULTS`] (negative reads as 0, larger as the
    /// maximum, absent as [`super::DEFAULT_COUNT`]).
    pub count: usize,
    /// `sortBy` with `sortOrder`.
    pub sort: Option<SortBy>,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded: Option<String>,
}

fn integer(req: &ApiRequest, name: &str) -> Result<Option<i64>, ScimError> {
    req.query_param(name)
        .map(|raw| {
            raw.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not \"{raw}\""))
            })
        })
        .transpose()
}

impl ListParams {
    /// Parses and bounds the parameters for resources of `rt`.
    pub(crate) fn parse(
        req: &ApiRequest,
        rt: &'static roster_scim::ResourceType,
    ) -> Result<Self, ScimError> {
        let start_index = integer(req, "startIndex")?
            .map_or(1, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX));
        let count = integer(req, "count")?.map_or(super::DEFAULT_COUNT, |n| {
            usize::try_from(n.max(0))
                .unwrap_or(usize::MAX)
                .min(super::MAX_RESULTS)
        });
        let order = req.query_param("sortOrder");
        let sort = match req.query_param("sortBy").filter(|s| !s.trim().is_empty()) {
            Some(by) => Some(SortBy::parse(&by, order.as_deref(), rt)?),
            None => {
                roster_scim::SortOrder::parse(order.as_deref())?;
                None
            }
        };
        Ok(Self {
            filter: req.query_param("filter").filter(|f| !f.trim().is_empty()),
            start_index,
            count,
            sort,
            attributes: req.query_param("attributes"),
            excluded: req.query_param("excludedAttributes"),
        })
    }

    /// The page `[startIndex, startIndex + count)` of `all`.
    pub(crate) fn page<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .collect()
    }
}

/// A `ListResponse` of one page.
pub(crate) fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [roster_scim::LIST_RESPONSE_URN],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// The projection's parameters for a single-resource answer (GET, POST, PUT, PATCH).
pub(crate) fn projection(
    req: &ApiRequest,
    rt: &'static roster_scim::ResourceType,
) -> roster_scim::Projection {
    roster_scim::Projection::new(
        rt,
        req.query_param("attributes").as_deref(),
        req.query_param("excludedAttributes").as_deref(),
    )
}

/// Whether `projection` keeps attribute `name` (a multi-valued complex attribute with a
/// `value` sub-attribute, such as `members`) in answers: decides whether it must be
/// loaded at all.
pub(crate) fn keeps(projection: &roster_scim::Projection, name: &str) -> bool {
    let probe = serde_json::json!({ name: [{ "value": "x" }] });
    projection
        .apply(&probe)
        .as_object()
        .is_some_and(|o| o.contains_key(name))
}
