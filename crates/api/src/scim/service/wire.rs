//! The SCIM service on the wire: its prologue ([`enter`]), request bodies, list
//! parameters, entity tags and preconditions, and the headers every answer carries.
//! Failures are [`Error`]s, answered by its `into_response` alone.

use super::Error;
use crate::Endpoint;
use crate::auth::{self, Caller};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::{ObjectId, OrgRef};
use roster_domain::model::Organization;
use roster_domain::{Entity, Store};
use roster_scim::{ScimError, SortBy};
use serde_json::Value;

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub(crate) const SCIM_JSON: &str = "application/scim+json";

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
) -> Result<Scope, Error> {
    let caller = crate::admit::<E, S>(req, store, ctx).await?;
    let raw = req.param("organizationId").unwrap_or_default();
    let reference =
        OrgRef::parse("organizationId", &raw).map_err(|_| Error::NotFound(Entity::Organization))?;
    let org = auth::scoped_org(&caller, store, &reference).await?;
    let base = Base::new(req, &org);
    Ok(Scope { org, caller, base })
}

/// The prologue of a single-resource route: [`enter`], then the resource id the path
/// names as `param` (404 naming `entity` for anything that is no id).
pub(crate) async fn enter_resource<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    param: &str,
    entity: Entity,
) -> Result<(Scope, ObjectId), Error> {
    let scope = enter::<E, S>(req, store, ctx).await?;
    let id = ObjectId::parse(param, &req.param(param).unwrap_or_default())
        .map_err(|_| Error::NotFound(entity))?;
    Ok((scope, id))
}

/// The JSON object a request carries. `Content-Type` must be absent,
/// `application/scim+json` or `application/json` (415 otherwise); a body over
/// [`crate::MAX_BODY_BYTES`] is 413; one nested deeper than
/// [`crate::request::MAX_JSON_DEPTH`], or anything but a JSON object, is 400
/// `invalidSyntax`.
pub(crate) fn body_json(req: &ApiRequest) -> Result<Value, Error> {
    if let Some(ct) = req.header("content-type") {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case(SCIM_JSON) && !media.eq_ignore_ascii_case("application/json")
        {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "Content-Type must be application/scim+json or application/json",
            )
            .into());
        }
    }
    let value: Value = crate::request::parse_json(&req.body)?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax("request body must be a JSON object").into());
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
    pub(crate) fn check_write(&self, version: u64) -> Result<(), Error> {
        if self.if_match.as_ref().is_some_and(|t| !t.matches(version))
            || self
                .if_none_match
                .as_ref()
                .is_some_and(|t| t.matches(version))
        {
            return Err(Error::PreconditionFailed);
        }
        Ok(())
    }

    /// For a GET of a resource at `version`: `Ok(true)` when `If-None-Match` matches
    /// (answer 304), 412 when `If-Match` is given and does not.
    pub(crate) fn check_read(&self, version: u64) -> Result<bool, Error> {
        if self.if_match.as_ref().is_some_and(|t| !t.matches(version)) {
            return Err(Error::PreconditionFailed);
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
