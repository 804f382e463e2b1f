//! `POST /.search` at the SCIM base (RFC 7644 §3.4.3): one query over every resource
//! type the caller may read, Users then Groups.
//!
//! The `SearchRequest` body carries what a list request's query carries (`filter`,
//! `startIndex`, `count`, `attributes`, `excludedAttributes`). The filter is resolved
//! against each resource type on its own: a type where it names an attribute the type
//! does not have matches nothing, and a filter no type can evaluate (a syntax error,
//! or an attribute of no type) is 400 `invalidFilter`. `startIndex` and `count` page
//! over the concatenation, Users (in creation order) first; `totalResults` is the sum.
//! `sortBy` is refused (400 `invalidValue`): resource types share no ordering.

use super::groups::{filtered_groups, group_doc, members_of};
use super::users::{GroupNames, filtered_users, users_page};
use super::wire::{self, ListParams, Scope, body_json, enter, keeps, respond};
use super::{DEFAULT_COUNT, Error, MAX_RESULTS};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::{Store, groups};
use roster_scim::{Filter, GROUP, Projection, ScimError, USER, get_ci};
use serde_json::{Map, Value};

/// The `SearchRequest` message URN (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/.search`: POST searches Users and
    /// Groups at once (RFC 7644 §3.4.3); Groups only for a caller that may read them.
    ///
    /// Spin's router (routefinder) splits route segments at `.` as well as `/`, and a
    /// literal segment starting with `.` cannot be written: `…/v2/.search` would match
    /// `…/v2.search`. So the route is `…/v2/:prefix.search`, whose `prefix` capture is
    /// empty for `/.search`; any other `<prefix>.search` is answered 404 here.
    pub struct RootSearchRoute {
        route: "/v1/organizations/:organizationId/scim/v2/:prefix.search",
        error: Error,
        POST need(MdmUser, Read) => search_all,
    }
}

/// A `SearchRequest`'s parameters, each type-checked (400 `invalidValue` naming it).
#[derive(Debug)]
struct SearchRequest {
    filter: Option<String>,
    start_index: usize,
    count: usize,
    attributes: Option<String>,
    excluded: Option<String>,
}

/// An optional string member, or a list of names given as an array of strings (or a
/// comma-separated string), joined by commas.
fn names(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ScimError::invalid_value(format!("{name} must be an array of strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(v.join(","))),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{name} must be an array of strings"
        ))),
    }
}

fn integer(obj: &Map<String, Value>, name: &str) -> Result<Option<i64>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{name} must be an integer"
        ))),
    }
}

impl SearchRequest {
    /// Reads the body: `schemas` must list the SearchRequest URN (400
    /// `invalidSyntax`); `startIndex` and `count` are bounded as in a list request.
    fn parse(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        let listed = get_ci(obj, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST_URN))
                })
            });
        if !listed {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must contain \"{SEARCH_REQUEST_URN}\""
            )));
        }
        if names(obj, "sortBy")?.is_some_and(|s| !s.trim().is_empty()) {
            return Err(ScimError::invalid_value(
                "sortBy is not supported when searching every resource type: search \
                 /Users or /Groups",
            ));
        }
        let filter = match get_ci(obj, "filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => Some(f.clone()).filter(|f| !f.trim().is_empty()),
            Some(_) => return Err(ScimError::invalid_value("filter must be a string")),
        };
        let start_index = integer(obj, "startIndex")?
            .map_or(1, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX));
        let count = integer(obj, "count")?.map_or(DEFAULT_COUNT, |n| {
            usize::try_from(n.max(0))
                .unwrap_or(usize::MAX)
                .min(MAX_RESULTS)
        });
        Ok(SearchRequest {
            filter,
            start_index,
            count,
            attributes: names(obj, "attributes")?,
            excluded: names(obj, "excludedAttributes")?,
        })
    }

    /// List parameters for one resource type: the filter, then the page from `start`
    /// (1-based) of at most `count`.
    fn params(&self, start: usize, count: usize) -> ListParams {
        ListParams {
            filter: self.filter.clone(),
            start_index: start,
            count,
            sort: None,
            attributes: self.attributes.clone(),
            excluded: self.excluded.clone(),
            cursor: None,
        }
    }
}

/// POST: the page of Users then Groups the request's filter matches.
async fn search_all<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<RootSearchRoute, S>(req, store, ctx).await?;
    if let Some(prefix) = req.param("prefix").filter(|p| !p.is_empty()) {
        return Err(ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no resource \"{prefix}.search\" under the SCIM base; search at /.search"),
        )
        .into());
    }
    let search = SearchRequest::parse(&body_json(req)?)?;
    let with_groups = scope
        .caller
        .allows(Permission::new(Resource::Group, Action::Read));
    // The filter as each resource type reads it; `None` for a type it cannot apply to.
    let (user_filter, group_filter) = match search.filter.as_deref() {
        None => (Some(None), Some(None)),
        Some(text) => {
            let u = Filter::parse(text, &USER);
            let g = Filter::parse(text, &GROUP);
            match (u, g) {
                (Err(e), Err(_)) => return Err(e.into()),
                (u, g) => (u.ok().map(Some), g.ok().map(Some)),
            }
        }
    };
    let mut resources = Vec::new();
    let user_projection = Projection::new(
        &USER,
        search.attributes.as_deref(),
        search.excluded.as_deref(),
    );
    let mut users_total = 0;
    if let Some(f) = &user_filter {
        let params = search.params(search.start_index, search.count);
        let mut names = GroupNames::new(store, &scope.org);
        let (total, docs, _) = match f {
            Some(_) => {
                let text = search.filter.as_deref().unwrap_or_default();
                filtered_users(store, &scope, &mut names, &params, text).await?
            }
            None => users_page(store, &scope, &mut names, &params).await?,
        };
        users_total = total;
        resources.extend(docs.iter().map(|d| user_projection.apply(d)));
    }
    let mut groups_total = 0;
    if let (Some(f), true) = (&group_filter, with_groups) {
        // Groups continue the page where Users end.
        let start = search.start_index.saturating_sub(users_total).max(1);
        let params = search.params(start, search.count - resources.len());
        let (total, page) = group_page(store, &scope, &params, f.as_ref()).await?;
        groups_total = total;
        let projection = Projection::new(
            &GROUP,
            search.attributes.as_deref(),
            search.excluded.as_deref(),
        );
        let with_members = keeps(&projection, "members");
        for g in &page {
            let members = if with_members {
                Some(members_of(store, &scope.org, g).await?)
            } else {
                None
            };
            resources.push(projection.apply(&group_doc(g, members.as_deref(), &scope.base)));
        }
    }
    Ok(respond(
        StatusCode::OK,
        &wire::list_response(users_total + groups_total, search.start_index, resources),
    ))
}

/// The total and the page of the groups `filter` matches (all of them without one).
async fn group_page<S: Store>(
    store: &S,
    scope: &Scope,
    params: &ListParams,
    filter: Option<&Filter>,
) -> Result<(usize, Vec<roster_domain::model::Group>), Error> {
    match filter {
        Some(f) => filtered_groups(store, scope, params, f)
            .await
            .map(|(total, page, _)| (total, page)),
        None => {
            let ids = groups::ids(store, &scope.org).await?;
            let total = ids.len();
            Ok((
                total,
                groups::load(store, &scope.org, &params.page(ids)).await?,
            ))
        }
    }
}
