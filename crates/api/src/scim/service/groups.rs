//! `/Groups` and `/Groups/:groupId`: SCIM Groups on the shared domain's groups.
//!
//! Mapping: `id` = the group id, `displayName` ↔ the group name (unique per
//! organization, case-insensitive), `externalId` ↔ the group's external id (unique,
//! case-exact), `members` ↔ the membership every surface shows (the users' `groups`
//! and the group's member list, changed through the domain's membership operations).
//! Members are users; nested groups are not supported.

use super::query::{self, Access};
use super::users::{Change, doc_from_body, sort_refused, sorted};
use super::wire::{
    self, Conditions, ListParams, Position, Scope, body_json, empty, enter, enter_resource, keeps,
    respond, with_resource_headers,
};
use super::{Error, MAX_CANDIDATES, MAX_SORTED};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::groups::{self, GroupChanges, NewGroup};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Group, Organization, User};
use roster_domain::{DomainError, Entity, Store, users};
use roster_scim::get_ci;
use roster_scim::{Filter, GROUP, GROUP_URN, PatchRequest, Projection, ScimError};
use serde_json::{Map, Value, json};

/// Filter attributes with an exact index, in [`Access::Lookup`] order.
const INDEXED: &[&str] = &["id", "displayName", "externalId", "members"];

fn location(base: &wire::Base, id: &ObjectId) -> String {
    base.url(&format!("/Groups/{id}"))
}

/// A group's membership as its member list holds it.
struct Membership {
    /// The live users in the group (listed, and naming it), in list order.
    members: Vec<User>,
    /// Every live user the list names, members or not: a membership change that
    /// stopped half-way leaves a listed user that does not name the group.
    listed: Vec<ObjectId>,
}

async fn membership<S: Store>(
    store: &S,
    org: &Organization,
    g: &Group,
) -> Result<Membership, Error> {
    let ids = groups::member_ids(store, org, &g.id).await?;
    let loaded = users::load(store, org, &ids).await?;
    let names_group = |u: &User| {
        u.groups.iter().any(|n| {
            n.eq_ignore_ascii_case(&g.name)
                || g.renamed_from
                    .as_deref()
                    .is_some_and(|o| n.eq_ignore_ascii_case(o))
        })
    };
    let listed = loaded
        .iter()
        .filter(|u| u.is_live())
        .map(|u| u.id.clone())
        .collect();
    let members = loaded
        .into_iter()
        .filter(|u| u.is_live() && names_group(u))
        .collect();
    Ok(Membership { members, listed })
}

/// The live members of a group, in list order.
pub(crate) async fn members_of<S: Store>(
    store: &S,
    org: &Organization,
    g: &Group,
) -> Result<Vec<User>, Error> {
    Ok(membership(store, org, g).await?.members)
}

/// A member's `display`: its `displayName` when it has one, else its userName.
fn display_of(u: &User) -> String {
    u.attributes
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&u.username)
        .to_owned()
}

/// The SCIM representation of a group; `members` only when they were loaded.
pub(crate) fn group_doc(g: &Group, members: Option<&[User]>, base: &wire::Base) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([GROUP_URN]));
    doc.insert("id".into(), json!(g.id));
    if let Some(e) = &g.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    doc.insert("displayName".into(), json!(g.name));
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        let list: Vec<Value> = members
            .iter()
            .map(|u| {
                json!({
                    "value": u.id,
                    "$ref": base.url(&format!("/Users/{}", u.id)),
                    "display": display_of(u),
                    "type": "User",
                })
            })
            .collect();
        doc.insert("members".into(), Value::Array(list));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": g.created_at.to_rfc3339(),
            "lastModified": g.updated_at.to_rfc3339(),
            "location": location(base, &g.id),
            "version": wire::etag(g.version),
        }),
    );
    Value::Object(doc)
}

/// What a SCIM group resource says of the domain group.
struct GroupDraft {
    name: String,
    external_id: Option<String>,
    members: Vec<ObjectId>,
}

/// Reads a validated, normalized group resource into the domain's terms. Member
/// values must be user ids (`members[i].value`); `type`, when given, must be `User`.
fn draft(doc: &Value) -> Result<GroupDraft, Error> {
    let Some(obj) = doc.as_object() else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object").into());
    };
    let name = match get_ci(obj, "displayName") {
        Some(Value::String(s)) => groups::parse_name("displayName", s)?,
        _ => return Err(ScimError::invalid_value("displayName is required").into()),
    };
    let external_id = match get_ci(obj, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(users::parse_external_id("externalId", s)?),
        Some(_) => return Err(ScimError::invalid_value("externalId must be a string").into()),
    };
    Ok(GroupDraft {
        name,
        external_id,
        members: member_ids(obj)?,
    })
}

/// The user ids `members` lists, each once (`type`, when given, must be `User`).
fn member_ids(obj: &Map<String, Value>) -> Result<Vec<ObjectId>, ScimError> {
    let mut members: Vec<ObjectId> = Vec::new();
    if let Some(Value::Array(items)) = get_ci(obj, "members") {
        for (i, item) in items.iter().enumerate() {
            let m = item.as_object();
            if let Some(t) = m.and_then(|m| get_ci(m, "type")).and_then(Value::as_str)
                && !t.eq_ignore_ascii_case("User")
            {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}].type is {t}: members must be Users (nested groups are not supported)"
                )));
            }
            let value = m
                .and_then(|m| get_ci(m, "value"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("members[{i}].value is required"))
                })?;
            let id = ObjectId::parse(&format!("members[{i}].value"), value)
                .map_err(|_| no_such_member(i, value))?;
            if !members.contains(&id) {
                members.push(id);
            }
        }
    }
    Ok(members)
}

fn no_such_member(i: usize, value: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "members[{i}].value: no user {value} in this organization"
    ))
}

/// Checks that every id names a live user of the organization.
async fn check_members<S: Store>(
    store: &S,
    org: &Organization,
    ids: &[ObjectId],
) -> Result<(), Error> {
    let found = users::load(store, org, ids).await?;
    for (i, id) in ids.iter().enumerate() {
        if !found.iter().any(|u| u.id == *id && u.is_live()) {
            return Err(no_such_member(i, id.as_str()).into());
        }
    }
    Ok(())
}

/// Applies membership changes one member at a time (each idempotent); a user that
/// vanished meanwhile is 400 naming it.
async fn change_members<S: Store>(
    store: &S,
    org: &Organization,
    group: &ObjectId,
    add: &[ObjectId],
    remove: &[ObjectId],
    ctx: &Ctx,
) -> Result<(), Error> {
    for (i, uid) in add.iter().enumerate() {
        match groups::add_member(store, org, group, uid, ctx.now).await {
            Ok(()) => {}
            Err(DomainError::NotFound {
                entity: Entity::User,
            }) => return Err(no_such_member(i, uid.as_str()).into()),
            Err(e) => return Err(e.into()),
        }
    }
    for uid in remove {
        groups::remove_member(store, org, group, uid, ctx.now).await?;
    }
    Ok(())
}

/// A single-group answer: the projected representation (members loaded only when the
/// projection keeps them), `ETag` and `Location`.
async fn answer<S: Store>(
    store: &S,
    scope: &Scope,
    req: &ApiRequest,
    status: StatusCode,
    g: &Group,
) -> Result<ApiResponse, Error> {
    let projection = wire::projection(req, &GROUP);
    let members = if keeps(&projection, "members") {
        Some(members_of(store, &scope.org, g).await?)
    } else {
        None
    };
    let doc = group_doc(g, members.as_deref(), &scope.base);
    Ok(with_resource_headers(
        respond(status, &projection.apply(&doc)),
        &location(&scope.base, &g.id),
        g.version,
    ))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Groups`: GET lists (filter, sortBy,
    /// startIndex, count, attributes), POST creates a group with its members.
    pub struct GroupsRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Groups",
        error: Error,
        GET need(Group, Read) => list_groups,
        POST need(Group, Create) => create_group,
    }
}

/// POST: a new group with its members, whole or not at all.
async fn create_group<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<GroupsRoute, S>(req, store, ctx).await?;
    let body = body_json(req)?;
    let d = draft(&doc_from_body(&body, &GROUP)?)?;
    check_members(store, &scope.org, &d.members).await?;
    let new = NewGroup {
        name: d.name,
        description: String::new(),
        external_id: d.external_id,
    };
    let g = groups::create_with(store, &scope.org, new, ctx.now).await?;
    if let Err(e) = change_members(store, &scope.org, &g.id, &d.members, &[], ctx).await {
        // A create either happens whole or not at all (best effort: a failing store
        // may leave the group, which a retry then meets as 409).
        let _ = groups::delete(store, &scope.org, &g.id, ctx.now).await;
        return Err(e);
    }
    let g = groups::get(store, &scope.org, &g.id).await?;
    answer(store, &scope, req, StatusCode::CREATED, &g).await
}

/// GET: the list its query asks for ([`list`]).
async fn list_groups<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<GroupsRoute, S>(req, store, ctx).await?;
    let params = ListParams::parse(req, &GROUP)?;
    list(store, &scope, &params).await
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Groups/:prefix.search`: POST
    /// `/Groups/.search` (RFC 7644 §3.4.3) searches groups with a `SearchRequest`; its
    /// own route and component, as [`super::UsersSearchRoute`] (the routing is the same).
    pub struct GroupsSearchRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Groups/:prefix.search",
        error: Error,
        POST need(Group, Read) => search_groups,
    }
}

/// POST `/Groups/.search`: the body's `SearchRequest`, answered as the GET of
/// `/Groups` with the same parameters.
async fn search_groups<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<GroupsSearchRoute, S>(req, store, ctx).await?;
    wire::only_dot_search(req, "/Groups")?;
    let params = ListParams::from_search(&body_json(req)?, &GROUP)?;
    list(store, &scope, &params).await
}

/// A list: without a filter, a page of the group index in creation order (by cursor:
/// the index entries after the cursor's sequence number); with one, the candidates its
/// plan selects, filtered in memory.
async fn list<S: Store>(
    store: &S,
    scope: &Scope,
    params: &ListParams,
) -> Result<ApiResponse, Error> {
    let projection = Projection::new(
        &GROUP,
        params.attributes.as_deref(),
        params.excluded.as_deref(),
    );
    let org = &scope.org;
    let filter = params
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, &GROUP))
        .transpose()?;
    let (total, page, next) = match &filter {
        Some(f) => filtered_groups(store, scope, params, f).await?,
        None if params.sort.is_some() => sorted_groups(store, scope, params).await?,
        None => {
            let index = groups::index(store, org).await?;
            let total = index.len();
            let (ids, next) = params.window(index, |(seq, _)| *seq);
            let ids: Vec<ObjectId> = ids.into_iter().map(|(_, id)| id).collect();
            (total, groups::load(store, org, &ids).await?, next)
        }
    };
    let with_members = keeps(&projection, "members");
    let mut resources = Vec::with_capacity(page.len());
    for g in &page {
        let members = if with_members {
            Some(members_of(store, org, g).await?)
        } else {
            None
        };
        resources.push(projection.apply(&group_doc(g, members.as_deref(), &scope.base)));
    }
    Ok(respond(
        StatusCode::OK,
        &params.response(&GROUP, total, resources, next),
    ))
}

/// The total, a page and where the next starts (cursor paging).
type Listed = (usize, Vec<Group>, Option<Position>);

/// Whether a list sorted by `params` needs the groups' members loaded.
fn sorts_by_members(params: &ListParams) -> bool {
    params
        .sort
        .as_ref()
        .is_some_and(|s| s.path().attribute().name == "members")
}

/// The representation a filter or a sort sees: members only when it needs them.
async fn doc_for<S: Store>(
    store: &S,
    scope: &Scope,
    g: &Group,
    with_members: bool,
) -> Result<Value, Error> {
    let members = if with_members {
        Some(members_of(store, &scope.org, g).await?)
    } else {
        None
    };
    Ok(group_doc(g, members.as_deref(), &scope.base))
}

/// The total and the page of the groups `filter` matches, sorted when asked.
pub(crate) async fn filtered_groups<S: Store>(
    store: &S,
    scope: &Scope,
    params: &ListParams,
    filter: &Filter,
) -> Result<Listed, Error> {
    let plan = query::plan_or_refuse(filter, INDEXED, &[])?;
    let with_members = query::mentions(filter, "members") || sorts_by_members(params);
    let mut matched = Vec::new();
    for g in candidates(store, &scope.org, &plan).await? {
        let doc = doc_for(store, scope, &g, with_members).await?;
        if filter.matches(&doc) {
            matched.push((g, doc));
        }
    }
    let matched = sorted(matched, params.sort.as_ref());
    let total = matched.len();
    let (page, next) = params.window(matched, |(g, _)| g.seq);
    Ok((total, page.into_iter().map(|(g, _)| g).collect(), next))
}

/// The total and the page of all groups sorted (400 `tooMany` beyond [`MAX_SORTED`]).
async fn sorted_groups<S: Store>(
    store: &S,
    scope: &Scope,
    params: &ListParams,
) -> Result<Listed, Error> {
    let ids = groups::ids(store, &scope.org).await?;
    let total = ids.len();
    if total > MAX_SORTED {
        return Err(sort_refused(total).into());
    }
    let with_members = sorts_by_members(params);
    let mut all = Vec::new();
    for g in groups::load(store, &scope.org, &ids).await? {
        let doc = doc_for(store, scope, &g, with_members).await?;
        all.push((g, doc));
    }
    let all = sorted(all, params.sort.as_ref());
    let (page, next) = params.window(all, |(g, _)| g.seq);
    Ok((total, page.into_iter().map(|(g, _)| g).collect(), next))
}

/// The groups a plan selects, each once, in creation order; more than
/// [`MAX_CANDIDATES`] is 400 `tooMany`.
async fn candidates<S: Store>(
    store: &S,
    org: &Organization,
    plan: &[Access],
) -> Result<Vec<Group>, Error> {
    let mut out: Vec<Group> = Vec::new();
    for access in plan {
        let found: Vec<Group> = match access {
            Access::Lookup(0, id) => match ObjectId::parse("id", id) {
                Ok(id) => match groups::get(store, org, &id).await {
                    Ok(g) => vec![g],
                    Err(DomainError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(e.into()),
                },
                Err(_) => Vec::new(),
            },
            Access::Lookup(1, name) => groups::find(store, org, name).await?.into_iter().collect(),
            Access::Lookup(2, ext) => groups::find_by_external_id(store, org, ext)
                .await?
                .into_iter()
                .collect(),
            Access::Lookup(_, member) => groups_of_member(store, org, member).await?,
            Access::Search(_) => Vec::new(),
        };
        for g in found {
            if !out.iter().any(|x| x.id == g.id) {
                out.push(g);
            }
        }
        if out.len() > MAX_CANDIDATES {
            return Err(query::too_many().into());
        }
    }
    Ok(super::sorted_by(out, |a, b| a.seq.cmp(&b.seq)))
}

/// The groups of the live user `member` names (none for anything else).
async fn groups_of_member<S: Store>(
    store: &S,
    org: &Organization,
    member: &str,
) -> Result<Vec<Group>, Error> {
    let Ok(uid) = ObjectId::parse("members", member) else {
        return Ok(Vec::new());
    };
    let u = match users::get_live(store, org, &uid).await {
        Ok(u) => u,
        Err(DomainError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut found = Vec::new();
    for name in &u.groups {
        if let Some(g) = groups::find(store, org, name).await? {
            found.push(g);
        }
    }
    Ok(found)
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Groups/:groupId`: GET (304 on a
    /// matching `If-None-Match`), PUT replaces (name, external id, members), PATCH
    /// modifies (both conditional on `If-Match`), DELETE removes the group (members
    /// leave it). `POST /Groups/.search` is [`GroupsSearchRoute`]'s.
    pub struct GroupRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Groups/:groupId",
        error: Error,
        GET need(Group, Read) => get_group,
        PUT need(Group, Update) => put_group,
        PATCH need(Group, Update) => patch_group,
        DELETE need(Group, Remove) => delete_group,
    }
}

/// GET: the group, or 304 when `If-None-Match` names its version.
async fn get_group<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<GroupRoute, S>(req, store, ctx, "groupId", Entity::Group).await?;
    let g = groups::get(store, &scope.org, &id).await?;
    if Conditions::of(req).check_read(g.version)? {
        return Ok(wire::not_modified(&location(&scope.base, &id), g.version));
    }
    answer(store, &scope, req, StatusCode::OK, &g).await
}

/// PUT: replaces the name, external id and members with the body's.
async fn put_group<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<GroupRoute, S>(req, store, ctx, "groupId", Entity::Group).await?;
    let conditions = Conditions::of(req);
    let change = Change::Replace(doc_from_body(&body_json(req)?, &GROUP)?);
    let g = modify(store, &scope, &id, &change, &conditions, ctx).await?;
    answer(store, &scope, req, StatusCode::OK, &g).await
}

/// PATCH: applies the body's `PatchOp` to the current representation.
async fn patch_group<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<GroupRoute, S>(req, store, ctx, "groupId", Entity::Group).await?;
    let conditions = Conditions::of(req);
    let change = Change::Patch(PatchRequest::from_json(&body_json(req)?, &GROUP)?);
    let g = modify(store, &scope, &id, &change, &conditions, ctx).await?;
    answer(store, &scope, req, StatusCode::OK, &g).await
}

/// DELETE: removes the group (204); its members leave it.
async fn delete_group<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<GroupRoute, S>(req, store, ctx, "groupId", Entity::Group).await?;
    let conditions = Conditions::of(req);
    let g = groups::get(store, &scope.org, &id).await?;
    conditions.check_write(g.version)?;
    let expected = conditions.has_if_match().then_some(g.version);
    groups::delete_checked(store, &scope.org, &id, expected, ctx.now).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// PUT or PATCH: the new representation from the current one; then the name and
/// external id in one conditional write of the group record (which also makes the
/// member changes that follow conditional on the version read), then the members
/// added and removed one at a time. Re-read and re-applied when another change got
/// in first, unless `If-Match` named the version.
async fn modify<S: Store>(
    store: &S,
    scope: &Scope,
    id: &ObjectId,
    change: &Change,
    conditions: &Conditions,
    ctx: &Ctx,
) -> Result<Group, Error> {
    let org = &scope.org;
    for _ in 0..8 {
        let g = groups::get(store, org, id).await?;
        conditions.check_write(g.version)?;
        let Membership { members, listed } = membership(store, org, &g).await?;
        let new_doc = match change {
            Change::Replace(doc) => doc.clone(),
            Change::Patch(p) => p.apply(&group_doc(&g, Some(&members), &scope.base))?,
        };
        let d = draft(&new_doc)?;
        let edit = Edit::of(&g, d, &members, &listed);
        check_members(store, org, &edit.added).await?;
        if edit.is_empty() {
            return Ok(g);
        }
        match groups::update(store, org, id, Some(g.version), edit.changes, ctx.now).await {
            Ok(_) => {}
            Err(DomainError::PreconditionFailed { .. }) if !conditions.has_if_match() => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        change_members(store, org, id, &edit.added, &edit.removed, ctx).await?;
        return Ok(groups::get(store, org, id).await?);
    }
    Err(DomainError::PreconditionFailed {
        entity: Entity::Group,
    }
    .into())
}

/// What a PUT or PATCH changes of a group: the record's fields, and its members.
struct Edit {
    changes: GroupChanges,
    added: Vec<ObjectId>,
    removed: Vec<ObjectId>,
}

impl Edit {
    /// From group `g` (with its `members`, and every live user its list names) to `d`.
    fn of(g: &Group, d: GroupDraft, members: &[User], listed: &[ObjectId]) -> Self {
        let current: Vec<ObjectId> = members.iter().map(|u| u.id.clone()).collect();
        let added: Vec<ObjectId> = d
            .members
            .iter()
            .filter(|m| !current.contains(m))
            .cloned()
            .collect();
        // Listed users the new representation leaves out go, members or not (a
        // removal that stopped half-way is completed by its retry).
        let removed: Vec<ObjectId> = listed
            .iter()
            .filter(|m| !d.members.contains(m))
            .cloned()
            .collect();
        let changes = GroupChanges {
            name: (d.name != g.name).then_some(d.name),
            external_id: (d.external_id != g.external_id).then_some(d.external_id),
        };
        Edit {
            changes,
            added,
            removed,
        }
    }

    fn is_empty(&self) -> bool {
        self.changes.name.is_none()
            && self.changes.external_id.is_none()
            && self.added.is_empty()
            && self.removed.is_empty()
    }
}
