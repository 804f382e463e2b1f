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

use super::Error;
use super::groups::{filtered_groups, group_doc, members_of};
use super::users::{GroupNames, filtered_users, users_page};
use super::wire::{self, ListParams, Scope, body_json, enter, keeps, respond};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::{Store, groups};
use roster_scim::{Filter, GROUP, Projection, ScimError, USER};
use serde_json::Value;

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

/// The root search's parameters: a `SearchRequest` read as `/Users/.search` reads it
/// ([`ListParams::from_search`]: the same members, types and bounds), without `sortBy`
/// (resource types share no ordering) or `cursor` (the root pages by index): both 400
/// `invalidValue`.
fn search_params(body: &Value) -> Result<ListParams, ScimError> {
    let params = ListParams::from_search(body, &USER)?;
    if params.sort.is_some() {
        return Err(ScimError::invalid_value(
            "sortBy is not supported when searching every resource type: search \
             /Users or /Groups",
        ));
    }
    if params.cursor.is_some() {
        return Err(ScimError::invalid_value(
            "cursor is not supported when searching every resource type: page with \
             startIndex, or search /Users or /Groups",
        ));
    }
    Ok(params)
}

/// `params` for one resource type's part of the page: from `start` (1-based), at most
/// `count`.
fn part(params: &ListParams, start: usize, count: usize) -> ListParams {
    ListParams {
        start_index: start,
        count,
        ..params.clone()
    }
}

/// POST: the page of Users then Groups the request's filter matches.
async fn search_all<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<RootSearchRoute, S>(req, store, ctx).await?;
    wire::only_dot_search(req, "")?;
    let search = search_params(&body_json(req)?)?;
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
        let params = part(&search, search.start_index, search.count);
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
        let params = part(&search, start, search.count - resources.len());
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
