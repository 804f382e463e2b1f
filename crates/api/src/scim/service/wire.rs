//! The SCIM service on the wire: its prologue ([`enter`]), request bodies, list
//! parameters, entity tags and preconditions, and the headers every answer carries.
//! Failures are [`Error`]s, answered by its `into_response` alone.

use super::Error;
use crate::Endpoint;
use crate::auth::{self, Caller};
use crate::params::EntityTags as Tags;
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

pub(crate) use crate::params::empty;

/// The resources' URLs: `…/v1/organizations/{id}/scim/v2`, absolute when the request
/// says where it was sent (Spin's `spin-full-url`; `X-Forwarded-Proto` overrides the
/// scheme behind a TLS-terminating proxy), else relative to the host.
#[derive(Debug, Clone)]
pub(crate) struct Base(String);

impl Base {
    fn new(req: &ApiRequest, org: &Organization) -> Self {
        let path = format!("/v1/organizations/{}/scim/v2", org.id);
        let origin = crate::params::full_url_origin(req).unwrap_or_default();
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

/// A search route's `prefix` (Spin's route `…/:prefix.search`, whose router splits
/// route segments at `.` as well as `/`, so a literal `.search` segment cannot be
/// written): empty for `/.search`, `/Users/.search` and `/Groups/.search`; any other
/// `<prefix>.search` names no resource and is 404 naming the path, after `under` (the
/// path's part of the base, `/Users`, or `` at the root).
pub(crate) fn only_dot_search(req: &ApiRequest, under: &str) -> Result<(), Error> {
    match req.param("prefix").filter(|p| !p.is_empty()) {
        None => Ok(()),
        Some(prefix) => {
            let place = if under.is_empty() {
                "the SCIM base"
            } else {
                under
            };
            Err(ScimError::new(
                StatusCode::NOT_FOUND,
                None,
                format!("no resource \"{prefix}.search\" under {place}; search at {under}/.search"),
            )
            .into())
        }
    }
}

/// The prologue of every SCIM route: the method (405), the caller (401, 429, 403),
/// then the organization the path names as the caller may see it (404, also for a
/// malformed id and for another organization's token).
pub(crate) async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<Scope, Error> {
    let mut caller = crate::admit::<E, S>(req, store, ctx).await?;
    let raw = req.param("organizationId").unwrap_or_default();
    let reference =
        OrgRef::parse("organizationId", &raw).map_err(|_| Error::NotFound(Entity::Organization))?;
    let org = auth::scoped_org(&mut caller, store, &reference).await?;
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
    let raw = req.param(param).unwrap_or_default();
    let id = ObjectId::parse(param, &raw).map_err(|_| Error::NotFound(entity))?;
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

/// A request's preconditions (RFC 7644 §3.14, RFC 7232).
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    if_match: Option<Tags>,
    if_none_match: Option<Tags>,
}

impl Conditions {
    /// Reads `If-Match` and `If-None-Match`, each sent on one line or several. A header
    /// line whose value is not text (bytes that are not UTF-8) is a tag this service
    /// never issued, which matches nothing: an `If-Match` write then fails its
    /// precondition instead of going through unconditionally.
    pub(crate) fn of(req: &ApiRequest) -> Self {
        Self {
            if_match: Tags::of(req, "if-match"),
            if_none_match: Tags::of(req, "if-none-match"),
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

/// Where a cursor (RFC 9865) resumes a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// The first page (`cursor` given empty).
    Start,
    /// After the resource with this creation sequence number: a listing in creation
    /// order (no `sortBy`) resumes at the next one still there, so resources added or
    /// removed meanwhile shift nothing.
    After(i64),
    /// After this many resources of a sorted listing (`sortBy`): the sorted set is
    /// built whole for every page (it is bounded by [`super::MAX_SORTED`] /
    /// [`super::MAX_CANDIDATES`]) and resumed by offset.
    Offset(usize),
}

/// The cursor text of `p` for listings of `rt`: the resource type's initial, `s`
/// (sequence) or `o` (offset), and the number in hex, e.g. `Us1f4` — only RFC 3986
/// unreserved characters, as RFC 9865 §2 asks.
pub(crate) fn encode_cursor(rt: &roster_scim::ResourceType, p: Position) -> String {
    let kind = rt.id.chars().next().unwrap_or('X');
    match p {
        Position::Start | Position::After(0) | Position::Offset(0) => String::new(),
        Position::After(n) => format!("{kind}s{n:x}"),
        Position::Offset(n) => format!("{kind}o{n:x}"),
    }
}

/// The position a cursor names, for a listing of `rt` that is sorted or not: an empty
/// cursor is the first page; anything this service did not issue for that resource
/// type and ordering is 400 `invalidCursor` (RFC 9865 §2).
pub(crate) fn decode_cursor(
    raw: &str,
    rt: &roster_scim::ResourceType,
    sorted: bool,
) -> Result<Position, ScimError> {
    if raw.is_empty() {
        return Ok(Position::Start);
    }
    let invalid = || {
        let cut: String = raw.chars().take(64).collect();
        ScimError::typed(
            roster_scim::ScimType::InvalidCursor,
            format!(
                "cursor \"{cut}\" is not one this service issued for a {} {} listing; \
                 send an empty cursor for the first page",
                if sorted { "sorted" } else { "unsorted" },
                rt.id
            ),
        )
    };
    let kind = rt.id.chars().next().unwrap_or('X');
    let mut chars = raw.chars();
    if chars.next() != Some(kind) {
        return Err(invalid());
    }
    let mode = chars.next();
    let digits = chars.as_str();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let n = u64::from_str_radix(digits, 16).map_err(|_| invalid())?;
    match (mode, sorted) {
        (Some('s'), false) => i64::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Position::After)
            .ok_or_else(invalid),
        (Some('o'), true) => usize::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Position::Offset)
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// The `SearchRequest` message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The parameters of a list request (RFC 7644 §3.4.2, RFC 9865 §2), from the query of
/// a GET or the `SearchRequest` body of a POST `.search`.
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
    /// `cursor` (RFC 9865): `None` pages by `startIndex`.
    pub cursor: Option<Position>,
}

/// An integer parameter; one beyond `i64` saturates (`startIndex` and `count` are
/// bounded afterwards, so a huge one reads as the largest), anything else that is not
/// an optionally signed run of digits is 400 `invalidValue` naming it.
fn integer(name: &str, raw: Option<String>) -> Result<Option<i64>, ScimError> {
    raw.map(|raw| {
        let text = raw.trim();
        text.parse::<i64>().or_else(|_| {
            let (negative, digits) = match text.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, text.strip_prefix('+').unwrap_or(text)),
            };
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(if negative { i64::MIN } else { i64::MAX })
            } else {
                Err(ScimError::invalid_value(format!(
                    "{name} must be an integer, not \"{raw}\""
                )))
            }
        })
    })
    .transpose()
}

impl ListParams {
    /// Parses and bounds the query parameters of a GET for resources of `rt`.
    pub(crate) fn parse(
        req: &ApiRequest,
        rt: &'static roster_scim::ResourceType,
    ) -> Result<Self, ScimError> {
        Self::from_source(|name| req.query_param(name), rt)
    }

    /// Parses a `SearchRequest` body (RFC 7644 §3.4.3): `schemas` must be exactly
    /// [`SEARCH_REQUEST_URN`]; `attributes` and `excludedAttributes` are arrays of
    /// strings (or one comma-separated string), `startIndex` and `count` integers, the
    /// other members strings; any other member is 400 `invalidSyntax` naming it.
    pub(crate) fn from_search(
        body: &Value,
        rt: &'static roster_scim::ResourceType,
    ) -> Result<Self, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        match roster_scim::get_ci(obj, "schemas") {
            Some(Value::Array(a)) if a.len() == 1 && a[0].as_str() == Some(SEARCH_REQUEST_URN) => {}
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must be [\"{SEARCH_REQUEST_URN}\"]"
                )));
            }
        }
        let mut found: Vec<(&'static str, String)> = Vec::new();
        for (k, v) in obj {
            const STRINGS: [&str; 4] = ["filter", "sortBy", "sortOrder", "cursor"];
            const LISTS: [&str; 2] = ["attributes", "excludedAttributes"];
            const NUMBERS: [&str; 2] = ["startIndex", "count"];
            if k.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let text = if let Some(name) = STRINGS.iter().find(|n| n.eq_ignore_ascii_case(k)) {
                match v {
                    Value::Null => continue,
                    Value::String(s) => (*name, s.clone()),
                    _ => {
                        return Err(ScimError::invalid_value(format!("{name} must be a string")));
                    }
                }
            } else if let Some(name) = LISTS.iter().find(|n| n.eq_ignore_ascii_case(k)) {
                match v {
                    Value::Null => continue,
                    Value::String(s) => (*name, s.clone()),
                    Value::Array(items) => {
                        let mut names = Vec::new();
                        for (i, item) in items.iter().enumerate() {
                            let Some(s) = item.as_str() else {
                                return Err(ScimError::invalid_value(format!(
                                    "{name}[{i}] must be a string"
                                )));
                            };
                            names.push(s);
                        }
                        (*name, names.join(","))
                    }
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "{name} must be an array of strings"
                        )));
                    }
                }
            } else if let Some(name) = NUMBERS.iter().find(|n| n.eq_ignore_ascii_case(k)) {
                match v {
                    Value::Null => continue,
                    Value::Number(n) if n.is_i64() || n.is_u64() => (*name, n.to_string()),
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "{name} must be an integer"
                        )));
                    }
                }
            } else {
                let cut: String = k.chars().take(64).collect();
                return Err(ScimError::invalid_syntax(format!(
                    "a SearchRequest has no member \"{cut}\""
                )));
            };
            found.push(text);
        }
        Self::from_source(
            |name| {
                found
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            },
            rt,
        )
    }

    fn from_source(
        get: impl Fn(&str) -> Option<String>,
        rt: &'static roster_scim::ResourceType,
    ) -> Result<Self, ScimError> {
        let start = integer("startIndex", get("startIndex"))?;
        let start_index = start.map_or(1, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX));
        let count = integer("count", get("count"))?.map_or(super::DEFAULT_COUNT, |n| {
            usize::try_from(n.max(0))
                .unwrap_or(usize::MAX)
                .min(super::MAX_RESULTS)
        });
        let order = get("sortOrder");
        let sort = match get("sortBy").filter(|s| !s.trim().is_empty()) {
            Some(by) => Some(SortBy::parse(&by, order.as_deref(), rt)?),
            None => {
                roster_scim::SortOrder::parse(order.as_deref())?;
                None
            }
        };
        let cursor = match get("cursor") {
            None => None,
            Some(_) if start.is_some() => {
                return Err(ScimError::invalid_value(
                    "give cursor or startIndex, not both (RFC 9865 §2)",
                ));
            }
            Some(raw) => Some(decode_cursor(raw.trim(), rt, sort.is_some())?),
        };
        Ok(Self {
            filter: get("filter").filter(|f| !f.trim().is_empty()),
            start_index,
            count,
            sort,
            attributes: get("attributes"),
            excluded: get("excludedAttributes"),
            cursor,
        })
    }

    /// The page `[startIndex, startIndex + count)` of `all`.
    pub(crate) fn page<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .collect()
    }

    /// The page of `all` (the whole result set, in the listing's order; `seq` gives an
    /// item's creation sequence number) these parameters ask for, and where the next
    /// page starts when paging by cursor and more remain.
    pub(crate) fn window<T>(
        &self,
        all: Vec<T>,
        seq: impl Fn(&T) -> i64,
    ) -> (Vec<T>, Option<Position>) {
        let Some(at) = self.cursor else {
            return (self.page(all), None);
        };
        if self.count == 0 {
            return (Vec::new(), None);
        }
        let rest: Vec<T> = match at {
            Position::Start => all,
            Position::After(n) => all.into_iter().filter(|t| seq(t) > n).collect(),
            Position::Offset(n) => all.into_iter().skip(n).collect(),
        };
        let more = rest.len() > self.count;
        let page: Vec<T> = rest.into_iter().take(self.count).collect();
        let next = more.then(|| match at {
            Position::Offset(n) => Position::Offset(n + page.len()),
            Position::Start if self.sort.is_some() => Position::Offset(page.len()),
            _ => Position::After(page.last().map_or(0, &seq)),
        });
        (page, next)
    }

    /// The `ListResponse` of one page (`total` results in all): `startIndex` when
    /// paging by index; when paging by cursor, `nextCursor` while more remain (its
    /// absence is the end, RFC 9865 §2.2) and no `previousCursor` (not supported).
    pub(crate) fn response(
        &self,
        rt: &roster_scim::ResourceType,
        total: usize,
        resources: Vec<Value>,
        next: Option<Position>,
    ) -> Value {
        let mut body = serde_json::json!({
            "schemas": [roster_scim::LIST_RESPONSE_URN],
            "totalResults": total,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        });
        match (self.cursor, next) {
            (None, _) => body["startIndex"] = self.start_index.into(),
            (Some(_), Some(n)) => body["nextCursor"] = encode_cursor(rt, n).into(),
            (Some(_), None) => {}
        }
        body
    }
}

/// A `ListResponse` paged by index: `total` results in all, this page from `start_index`
/// (1-based). The root `/.search` answers with it (it pages Users then Groups by index).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &[u8]) -> ApiRequest {
        let mut req = ApiRequest::new(http::Method::PUT);
        req.headers.append(
            "if-match",
            http::HeaderValue::from_bytes(value).expect("a header value"),
        );
        req
    }

    #[test]
    fn an_if_match_that_is_not_text_matches_no_version() {
        let c = Conditions::of(&with_if_match(b"\"3\xff\""));
        assert!(c.has_if_match());
        assert!(c.check_write(3).is_err());
        // The same version as text matches; no header at all is no condition.
        assert!(
            Conditions::of(&with_if_match(b"\"3\""))
                .check_write(3)
                .is_ok()
        );
        let none = Conditions::of(&ApiRequest::new(http::Method::PUT));
        assert!(!none.has_if_match() && none.check_write(3).is_ok());
    }

    #[test]
    fn tags_on_several_lines_are_one_list() {
        // RFC 9110 §5.3: `"2"` then `W/"3"` on two lines is `"2", W/"3"`, which
        // matches version 3 (before, only the first line counted: 412).
        let mut req = with_if_match(b"\"2\"");
        req.headers
            .append("if-match", http::HeaderValue::from_static("W/\"3\""));
        assert!(Conditions::of(&req).check_write(3).is_ok());
        assert!(Conditions::of(&req).check_write(4).is_err());
        // An empty line, or empty elements, add nothing (RFC 9110 §5.6.1).
        let mut req = with_if_match(b"");
        req.headers
            .append("if-match", http::HeaderValue::from_static("W/\"3\""));
        assert!(Conditions::of(&req).check_write(3).is_ok());
        assert!(
            Conditions::of(&with_if_match(b", \"3\",,"))
                .check_write(3)
                .is_ok()
        );
        // Tags compare as text (RFC 9110 §8.8.3.2): `W/"03"` is not `W/"3"`.
        assert!(
            Conditions::of(&with_if_match(b"W/\"03\""))
                .check_write(3)
                .is_err()
        );
        assert!(
            Conditions::of(&with_if_match(b"\"+3\""))
                .check_write(3)
                .is_err()
        );
        // Nothing but empty elements names no version: it matches nothing.
        assert!(
            Conditions::of(&with_if_match(b" , "))
                .check_write(3)
                .is_err()
        );
    }
}
