//! `/Groups` and `/Groups/:groupId`: SCIM Groups on the shared domain's groups.
//!
//! Mapping: `id` = the group id, `displayName` ↔ the group name (unique per
//! organization, case-insensitive), `externalId` ↔ the group's external id (unique,
//! case-exact), `members` ↔ the membership every surface shows (the users' `groups`
//! and the group's member list, changed through the domain's membership operations).
//! Members are users; nested groups are not supported.

use super::query::{self, Access};
use super::users::{doc_from_body, sorted};
use super::wire::{
    self, Conditions, Failure, ListParams, Outcome, Scope, body_json, empty, enter, finish, keeps,
    respond, with_resource_headers,
};
use super::{MAX_CANDIDATES, MAX_SORTED};
use crate::Endpoint;
use crate::auth::Requirement;
use crate::mdm::need;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{Method, StatusCode};
use roster_domain::groups::{self, GroupChanges, NewGroup};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Group as DomainGroup, Organization, User as DomainUser};
use roster_domain::permissions::{Action, Resource};
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
    members: Vec<DomainUser>,
    /// Every live user the list names, members or not: a membership change that
    /// stopped half-way leaves a listed user that does not name the group.
    listed: Vec<ObjectId>,
}

async fn membership<S: Store>(
    store: &S,
    org: &Organization,
    g: &DomainGroup,
) -> Result<Membership, ScimError> {
    let ids = groups::member_ids(store, org, &g.id)
        .await
        .map_err(wire::domain)?;
    let loaded = users::load(store, org, &ids).await.map_err(wire::domain)?;
    let names_group = |u: &DomainUser| {
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
async fn members_of<S: Store>(
    store: &S,
    org: &Organization,
    g: &DomainGroup,
) -> Result<Vec<DomainUser>, ScimError> {
    Ok(membership(store, org, g).await?.members)
}

/// A member's `display`: its `displayName` when it has one, else its userName.
fn display_of(u: &DomainUser) -> String {
    u.attributes
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&u.username)
        .to_owned()
}

/// The SCIM representation of a group; `members` only when they were loaded.
pub(crate) fn group_doc(
    g: &DomainGroup,
    members: Option<&[DomainUser]>,
    base: &wire::Base,
) -> Value {
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

fn invalid(e: roster_domain::ValidationError) -> ScimError {
    ScimError::invalid_value(e.to_string())
}

/// Reads a validated, normalized group resource into the domain's terms. Member
/// values must be user ids (`members[i].value`); `type`, when given, must be `User`.
fn draft(doc: &Value) -> Result<GroupDraft, ScimError> {
    let Some(obj) = doc.as_object() else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    };
    let name = match get_ci(obj, "displayName") {
        Some(Value::String(s)) => groups::parse_name("displayName", s).map_err(invalid)?,
        _ => return Err(ScimError::invalid_value("displayName is required")),
    };
    let external_id = match get_ci(obj, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(users::parse_external_id("externalId", s).map_err(invalid)?),
        Some(_) => return Err(ScimError::invalid_value("externalId must be a string")),
    };
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
    Ok(GroupDraft {
        name,
        external_id,
        members,
    })
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
) -> Result<(), ScimError> {
    let found = users::load(store, org, ids).await.map_err(wire::domain)?;
    for (i, id) in ids.iter().enumerate() {
        if !found.iter().any(|u| u.id == *id && u.is_live()) {
            return Err(no_such_member(i, id.as_str()));
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
) -> Result<(), ScimError> {
    for (i, uid) in add.iter().enumerate() {
        match groups::add_member(store, org, group, uid, ctx.now).await {
            Ok(()) => {}
            Err(DomainError::NotFound {
                entity: Entity::User,
            }) => return Err(no_such_member(i, uid.as_str())),
            Err(e) => return Err(wire::domain(e)),
        }
    }
    for uid in remove {
        groups::remove_member(store, org, group, uid, ctx.now)
            .await
            .map_err(wire::domain)?;
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
    g: &DomainGroup,
) -> Outcome {
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

/// `/v1/organizations/:organizationId/scim/v2/Groups`: GET lists (filter, sortBy,
/// startIndex, count, attributes), POST creates a group with its members.
pub struct Groups;

impl Endpoint for Groups {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/Groups";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Group, Action::Read),
            "POST" => need(Resource::Group, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        finish(
            async {
                let scope = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    return list(req, store, &scope).await;
                }
                let body = body_json(req)?;
                let d = draft(&doc_from_body(&body, &GROUP)?)?;
                check_members(store, &scope.org, &d.members).await?;
                let g = groups::create_with(
                    store,
                    &scope.org,
                    NewGroup {
                        name: d.name,
                        description: String::new(),
                        external_id: d.external_id,
                    },
                    ctx.now,
                )
                .await
                .map_err(wire::domain)?;
                if let Err(e) = change_members(store, &scope.org, &g.id, &d.members, &[], ctx).await
                {
                    // A create either happens whole or not at all (best effort: a
                    // failing store may leave the group, which a retry then meets as
                    // 409).
                    let _ = groups::delete(store, &scope.org, &g.id, ctx.now).await;
                    return Err(e.into());
                }
                let g = groups::get(store, &scope.org, &g.id)
                    .await
                    .map_err(wire::domain)?;
                answer(store, &scope, req, StatusCode::CREATED, &g).await
            }
            .await,
        )
    }
}

/// Lists groups: without a filter, a page of the group index in creation order; with
/// one, the candidates its plan selects, filtered in memory.
async fn list<S: Store>(req: &ApiRequest, store: &S, scope: &Scope) -> Outcome {
    let params = ListParams::parse(req, &GROUP)?;
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
    let sort_members = params
        .sort
        .as_ref()
        .is_some_and(|s| s.path().attribute().name == "members");
    let need_members = |for_filter: bool| {
        for_filter
            && filter
                .as_ref()
                .is_some_and(|f| query::mentions(f, "members"))
            || sort_members
    };
    let (total, page): (usize, Vec<DomainGroup>) = match &filter {
        Some(f) => {
            let plan = query::plan_or_refuse(f, INDEXED, &[])?;
            let mut matched = Vec::new();
            for g in candidates(store, org, &plan).await? {
                let members = if need_members(true) {
                    Some(members_of(store, org, &g).await?)
                } else {
                    None
                };
                let doc = group_doc(&g, members.as_deref(), &scope.base);
                if f.matches(&doc) {
                    matched.push((g, doc));
                }
            }
            let matched = sorted(matched, params.sort.as_ref());
            let total = matched.len();
            (
                total,
                params.page(matched).into_iter().map(|(g, _)| g).collect(),
            )
        }
        None => {
            let ids = groups::ids(store, org).await.map_err(wire::domain)?;
            let total = ids.len();
            if params.sort.is_some() {
                if total > MAX_SORTED {
                    return Err(ScimError::typed(
                        roster_scim::ScimType::TooMany,
                        format!(
                            "sortBy needs the whole result set and is served for at most \
                             {MAX_SORTED} results; this one has {total}: add a filter"
                        ),
                    )
                    .into());
                }
                let mut all = Vec::new();
                for g in groups::load(store, org, &ids).await.map_err(wire::domain)? {
                    let members = if need_members(false) {
                        Some(members_of(store, org, &g).await?)
                    } else {
                        None
                    };
                    let doc = group_doc(&g, members.as_deref(), &scope.base);
                    all.push((g, doc));
                }
                let all = sorted(all, params.sort.as_ref());
                (
                    total,
                    params.page(all).into_iter().map(|(g, _)| g).collect(),
                )
            } else {
                let ids = params.page(ids);
                let page = groups::load(store, org, &ids).await.map_err(wire::domain)?;
                (total, page)
            }
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
        &wire::list_response(total, params.start_index, resources),
    ))
}

/// The groups a plan selects, each once, in creation order; more than
/// [`MAX_CANDIDATES`] is 400 `tooMany`.
async fn candidates<S: Store>(
    store: &S,
    org: &Organization,
    plan: &[Access],
) -> Result<Vec<DomainGroup>, ScimError> {
    let mut out: Vec<DomainGroup> = Vec::new();
    for access in plan {
        let found: Vec<DomainGroup> = match access {
            Access::Lookup(0, id) => match ObjectId::parse("id", id) {
                Ok(id) => match groups::get(store, org, &id).await {
                    Ok(g) => vec![g],
                    Err(DomainError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(wire::domain(e)),
                },
                Err(_) => Vec::new(),
            },
            Access::Lookup(1, name) => groups::find(store, org, name)
                .await
                .map_err(wire::domain)?
                .into_iter()
                .collect(),
            Access::Lookup(2, ext) => groups::find_by_external_id(store, org, ext)
                .await
                .map_err(wire::domain)?
                .into_iter()
                .collect(),
            Access::Lookup(_, member) => match ObjectId::parse("members", member) {
                Ok(uid) => match users::get_live(store, org, &uid).await {
                    Ok(u) => {
                        let mut found = Vec::new();
                        for name in &u.groups {
                            if let Some(g) =
                                groups::find(store, org, name).await.map_err(wire::domain)?
                            {
                                found.push(g);
                            }
                        }
                        found
                    }
                    Err(DomainError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(wire::domain(e)),
                },
                Err(_) => Vec::new(),
            },
            Access::Search(_) => Vec::new(),
        };
        for g in found {
            if !out.iter().any(|x| x.id == g.id) {
                out.push(g);
            }
        }
        if out.len() > MAX_CANDIDATES {
            return Err(query::too_many());
        }
    }
    out.sort_by_key(|g| g.seq);
    Ok(out)
}

/// `/v1/organizations/:organizationId/scim/v2/Groups/:groupId`: GET (304 on a
/// matching `If-None-Match`), PUT replaces (name, external id, members), PATCH
/// modifies (both conditional on `If-Match`), DELETE removes the group (members leave
/// it).
pub struct Group;

impl Endpoint for Group {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/Groups/:groupId";
    const ALLOW: &'static str = "GET, PUT, PATCH, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Group, Action::Read),
            "PUT" | "PATCH" => need(Resource::Group, Action::Update),
            "DELETE" => need(Resource::Group, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        finish(
            async {
                let scope = enter::<Self, S>(req, store, ctx).await?;
                let Ok(id) = ObjectId::parse("groupId", &req.param("groupId").unwrap_or_default())
                else {
                    return Err(wire::not_found(Entity::Group).into());
                };
                let conditions = Conditions::of(req);
                match req.method {
                    Method::GET => {
                        let g = read(store, &scope.org, &id).await?;
                        if conditions.check_read(g.version)? {
                            return Ok(wire::not_modified(&location(&scope.base, &id), g.version));
                        }
                        answer(store, &scope, req, StatusCode::OK, &g).await
                    }
                    Method::DELETE => {
                        let g = read(store, &scope.org, &id).await?;
                        conditions.check_write(g.version)?;
                        let expected = conditions.has_if_match().then_some(g.version);
                        groups::delete_checked(store, &scope.org, &id, expected, ctx.now)
                            .await
                            .map_err(wire::domain)?;
                        Ok(empty(StatusCode::NO_CONTENT))
                    }
                    _ => {
                        let g = modify(req, store, &scope, &id, &conditions, ctx).await?;
                        answer(store, &scope, req, StatusCode::OK, &g).await
                    }
                }
            }
            .await,
        )
    }
}

async fn read<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<DomainGroup, ScimError> {
    groups::get(store, org, id).await.map_err(wire::domain)
}

/// PUT or PATCH: the new representation from the current one; then the name and
/// external id in one conditional write of the group record (which also makes the
/// member changes that follow conditional on the version read), then the members
/// added and removed one at a time. Re-read and re-applied when another change got
/// in first, unless `If-Match` named the version.
async fn modify<S: Store>(
    req: &ApiRequest,
    store: &S,
    scope: &Scope,
    id: &ObjectId,
    conditions: &Conditions,
    ctx: &Ctx,
) -> Result<DomainGroup, Failure> {
    let org = &scope.org;
    let body = body_json(req)?;
    let replacement = if req.method == Method::PUT {
        Some(doc_from_body(&body, &GROUP)?)
    } else {
        None
    };
    let patch = match replacement {
        Some(_) => None,
        None => Some(PatchRequest::from_json(&body, &GROUP)?),
    };
    for _ in 0..8 {
        let g = read(store, org, id).await?;
        conditions.check_write(g.version)?;
        let Membership { members, listed } = membership(store, org, &g).await?;
        let new_doc = match (&replacement, &patch) {
            (Some(doc), _) => doc.clone(),
            (None, Some(p)) => p.apply(&group_doc(&g, Some(&members), &scope.base))?,
            (None, None) => return Err(ScimError::invalid_syntax("no body").into()),
        };
        let d = draft(&new_doc)?;
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
        check_members(store, org, &added).await?;
        let changes = GroupChanges {
            name: (d.name != g.name).then(|| d.name.clone()),
            external_id: (d.external_id != g.external_id).then(|| d.external_id.clone()),
        };
        if changes.name.is_none()
            && changes.external_id.is_none()
            && added.is_empty()
            && removed.is_empty()
        {
            return Ok(g);
        }
        match groups::update(store, org, id, Some(g.version), changes, ctx.now).await {
            Ok(_) => {}
            Err(DomainError::PreconditionFailed { .. }) if !conditions.has_if_match() => {
                continue;
            }
            Err(e) => return Err(wire::domain(e).into()),
        }
        change_members(store, org, id, &added, &removed, ctx).await?;
        return Ok(read(store, org, id).await?);
    }
    Err(wire::domain(DomainError::PreconditionFailed {
        entity: Entity::Group,
    })
    .into())
}
