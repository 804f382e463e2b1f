//! `/Users` and `/Users/:userId`: SCIM Users on the shared domain user.
//!
//! Mapping: `id` = the user id, `userName` ↔ `username`, `name.givenName` /
//! `name.familyName` ↔ first / last name, `active` ↔ status (`active` / `disabled`;
//! an unassigned `active` leaves the user enabled and is remembered as `"active": null`
//! in `attributes`, so the resource keeps omitting it while the user stays enabled),
//! `externalId` ↔ the external id, the primary `emails` value (the one marked primary,
//! else the first) ↔ `email` and the other values ↔ the further addresses (every
//! address unique in the organization), `groups` (readOnly) ↔ the user's groups,
//! `password` (writeOnly) ↔ the Argon2id hash; every other attribute of the schema
//! (the rest of `name`, `displayName`, `nickName`, …, `emails` with their types, the
//! enterprise extension) is kept as SCIM JSON in the user's `attributes`.

use super::query::{self, Access};
use super::wire::{
    self, Conditions, ListParams, Position, Scope, body_json, empty, enter, enter_resource,
    respond, with_resource_headers,
};
use super::{Error, MAX_CANDIDATES, MAX_SORTED};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::ids::{self, Email, ObjectId, Username};
use roster_domain::model::{Group, IdentitySource, Organization, User, UserStatus};
use roster_domain::removal::{self, RemovalPolicy};
use roster_domain::{DomainError, Entity, Store, ValidationError, count, groups, users};
use roster_lowercase::Lowercase as _;
use roster_scim::SortBy;
use roster_scim::get_ci;
use roster_scim::{
    ENTERPRISE_USER_URN, Filter, Mutability, PATCH_OP_URN, PatchRequest, Projection, ResourceType,
    ScimError, USER, USER_URN,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Filter attributes with an exact index, in [`Access::Lookup`] order.
const INDEXED: &[&str] = &["id", "userName", "externalId", "emails"];
/// Filter attributes the compact search entries cover.
const SEARCHABLE: &[&str] = &["userName", "emails", "name.givenName", "name.familyName"];

/// Attributes mapped to domain fields rather than kept in `attributes`.
const MAPPED: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "userName",
    "active",
    "password",
    "groups",
    "meta",
];

/// The groups named by users' `groups`, each found once per request.
pub(crate) struct GroupNames<'a, S: Store> {
    store: &'a S,
    org: &'a Organization,
    found: HashMap<String, Option<Group>>,
}

impl<'a, S: Store> GroupNames<'a, S> {
    pub(crate) fn new(store: &'a S, org: &'a Organization) -> Self {
        Self {
            store,
            org,
            found: HashMap::new(),
        }
    }

    /// The existing groups among `names`.
    pub(crate) async fn resolve(&mut self, names: &[String]) -> Result<Vec<Group>, DomainError> {
        let mut out = Vec::new();
        for name in names {
            let key = name.lowercase();
            if !self.found.contains_key(&key) {
                let g = groups::find(self.store, self.org, name).await?;
                self.found.insert(key.clone(), g);
            }
            if let Some(Some(g)) = self.found.get(&key) {
                out.push(g.clone());
            }
        }
        Ok(out)
    }
}

fn is_primary(v: &Value) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| p.as_bool() == Some(true))
}

fn value_of(v: &Value) -> Option<&str> {
    v.as_object()
        .and_then(|o| get_ci(o, "value"))
        .and_then(Value::as_str)
}

/// The user's `emails`: as last written over SCIM, with the primary value (the one
/// marked primary, else the first) being the domain email whatever surface changed
/// it last; a user without stored `emails` shows its email as the primary one. A user
/// without email has none (whatever was stored: another surface removed it).
fn emails_of(u: &User) -> Vec<Value> {
    let Some(email) = u.email.as_deref() else {
        return Vec::new();
    };
    let mut items: Vec<Value> = u
        .attributes
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let slot = items
        .iter()
        .position(is_primary)
        .or((!items.is_empty()).then_some(0));
    match slot {
        Some(i) => {
            if let Some(Value::Object(o)) = items.get_mut(i)
                && !o
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(email))
            {
                o.insert("value".into(), Value::String(email.to_owned()));
            }
            let mut n = 0;
            items.retain(|v| {
                n += 1;
                n - 1 == i || !value_of(v).is_some_and(|x| x.eq_ignore_ascii_case(email))
            });
        }
        None => items.push(json!({ "value": email, "primary": true })),
    }
    items
}

/// The SCIM representation of a user, every attribute included (projection is the
/// caller's), `groups` from `member_of`.
pub(crate) fn user_doc(u: &User, member_of: &[Group], base: &wire::Base) -> Value {
    let mut doc = Map::new();
    let mut schemas = vec![json!(USER_URN)];
    doc.insert("id".into(), json!(u.id));
    if let Some(e) = &u.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    doc.insert("userName".into(), json!(u.username));
    let name = name_of(u);
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    for (k, v) in &u.attributes {
        match k.as_str() {
            "name" | "emails" => {}
            ENTERPRISE_USER_URN => {
                if v.as_object().is_some_and(|o| !o.is_empty()) {
                    schemas.push(json!(ENTERPRISE_USER_URN));
                    doc.insert(k.clone(), v.clone());
                }
            }
            _ if MAPPED.contains(&k.as_str()) => {}
            _ => {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
    if !active_unassigned(u) {
        doc.insert("active".into(), json!(u.status == UserStatus::Active));
    }
    let emails = emails_of(u);
    if !emails.is_empty() {
        doc.insert("emails".into(), Value::Array(emails));
    }
    if !member_of.is_empty() {
        doc.insert("groups".into(), groups_of(member_of, base));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": u.created_at.to_rfc3339(),
            "lastModified": u.updated_at.to_rfc3339(),
            "location": location(base, &u.id),
            "version": wire::etag(u.version),
        }),
    );
    doc.insert("schemas".into(), Value::Array(schemas));
    Value::Object(doc)
}

/// Whether the user's `active` is unassigned (RFC 7644 §3.5.2.2: removed, or never
/// given by POST or PUT) while it is enabled: then the resource omits `active`. The
/// state is the null `active` kept in `attributes`; a user some surface disabled shows
/// `active: false` whatever SCIM last wrote.
fn active_unassigned(u: &User) -> bool {
    u.status == UserStatus::Active && u.attributes.get("active") == Some(&Value::Null)
}

/// `name`: as last written over SCIM, with the domain's first and last names.
fn name_of(u: &User) -> Map<String, Value> {
    let mut name = u
        .attributes
        .get("name")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    name.remove("givenName");
    name.remove("familyName");
    if !u.first_name.is_empty() {
        name.insert("givenName".into(), json!(u.first_name));
    }
    if !u.last_name.is_empty() {
        name.insert("familyName".into(), json!(u.last_name));
    }
    name
}

/// `groups`: the user's direct groups.
fn groups_of(member_of: &[Group], base: &wire::Base) -> Value {
    member_of
        .iter()
        .map(|g| {
            json!({
                "value": g.id,
                "$ref": base.url(&format!("/Groups/{}", g.id)),
                "display": g.name,
                "type": "direct",
            })
        })
        .collect()
}

fn location(base: &wire::Base, id: &ObjectId) -> String {
    base.url(&format!("/Users/{id}"))
}

/// A resource of `rt` built from a POST or PUT body: `schemas` must list the core
/// schema and only schemas of `rt` (400 `invalidSyntax` / `invalidValue`); readOnly
/// attributes are ignored (RFC 7644 §3.3, §3.5.1); everything else is validated and
/// normalized exactly as a PATCH that replaces every attribute would be (unknown
/// attributes are 400 `invalidSyntax` naming them).
pub(crate) fn doc_from_body(body: &Value, rt: &'static ResourceType) -> Result<Value, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "request body must be a JSON object",
        ));
    };
    check_schemas(obj, rt)?;
    let mut value = Map::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let read_only = rt.schema_by_urn(k).is_none()
            && rt
                .core_attribute(k)
                .is_some_and(|a| a.mutability == Mutability::ReadOnly);
        if !read_only {
            value.insert(k.clone(), v.clone());
        }
    }
    let patch = PatchRequest::from_json(
        &json!({
            "schemas": [PATCH_OP_URN],
            "Operations": [{ "op": "replace", "value": Value::Object(value) }],
        }),
        rt,
    )?;
    patch
        .apply(&json!({ "schemas": [rt.schema.id] }))
        .map_err(|mut e| {
            if let Some(d) = e.detail.strip_prefix("operation 0: ") {
                e.detail = d.to_owned();
            }
            if e.scim_type == Some(roster_scim::ScimType::InvalidPath) {
                e.scim_type = Some(roster_scim::ScimType::InvalidSyntax);
            }
            e
        })
}

/// `schemas` must list the core schema of `rt` and only schemas of `rt`.
fn check_schemas(obj: &Map<String, Value>, rt: &'static ResourceType) -> Result<(), ScimError> {
    let Some(Value::Array(listed)) = get_ci(obj, "schemas") else {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array listing \"{}\"",
            rt.schema.id
        )));
    };
    let mut has_core = false;
    for urn in listed {
        match urn.as_str().and_then(|u| rt.schema_by_urn(u)) {
            Some(s) => has_core |= std::ptr::eq(s, rt.schema),
            None => {
                return Err(ScimError::invalid_value(format!(
                    "\"schemas\" lists {urn}, which is not a schema of {}",
                    rt.id
                )));
            }
        }
    }
    if !has_core {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must list \"{}\"",
            rt.schema.id
        )));
    }
    Ok(())
}

/// What a SCIM user resource says of the domain user.
#[derive(Debug)]
struct UserDraft {
    username: Username,
    email: Option<Email>,
    other_emails: Vec<Email>,
    first_name: String,
    last_name: String,
    /// `None`: unassigned (the user is enabled).
    active: Option<bool>,
    external_id: Option<String>,
    attributes: Map<String, Value>,
    password: Option<String>,
}

fn string_at<'v>(obj: &'v Map<String, Value>, name: &str) -> Result<Option<&'v str>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// Reads a validated, normalized user resource (as [`doc_from_body`] or a PATCH makes
/// it) into the domain's terms.
fn draft(doc: &Value) -> Result<UserDraft, Error> {
    let Some(obj) = doc.as_object() else {
        return Err(ScimError::invalid_syntax("a User must be a JSON object").into());
    };
    let user_name = string_at(obj, "userName")?
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let username = Username::parse("userName", user_name)?;
    let name = get_ci(obj, "name").and_then(Value::as_object);
    let name_part = |part: &str| -> Result<String, Error> {
        let raw: &str = name
            .map(|n| string_at(n, part))
            .transpose()?
            .flatten()
            .unwrap_or_default();
        Ok(ids::text(&format!("name.{part}"), raw, ids::MAX_TEXT_LEN)?)
    };
    let first_name = name_part("givenName")?;
    let last_name = name_part("familyName")?;
    let (email, other_emails) = addresses(obj)?;
    let active = match get_ci(obj, "active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ScimError::invalid_value("active must be a boolean").into()),
    };
    let external_id = string_at(obj, "externalId")?
        .map(|e| users::parse_external_id("externalId", e))
        .transpose()?;
    let password = string_at(obj, "password")?.map(str::to_owned);
    let mut attributes = unmapped(obj)?;
    if active.is_none() {
        attributes.insert("active".into(), Value::Null);
    }
    Ok(UserDraft {
        username,
        email,
        other_emails,
        first_name,
        last_name,
        active,
        external_id,
        attributes,
        password,
    })
}

/// The domain email (the `emails` value marked primary, else the first; none without
/// `emails`, as RFC 7643 §4.1 makes `userName` the only required attribute) and the
/// further addresses, each once.
fn addresses(obj: &Map<String, Value>) -> Result<(Option<Email>, Vec<Email>), Error> {
    let items: &[Value] = match get_ci(obj, "emails") {
        Some(Value::Array(a)) => a,
        _ => &[],
    };
    let mut addresses: Vec<Email> = Vec::new();
    let mut primary = None;
    for (i, item) in items.iter().enumerate() {
        let Some(raw) = value_of(item) else {
            return Err(ScimError::invalid_value(format!("emails[{i}].value is required")).into());
        };
        let e = Email::parse(&format!("emails[{i}].value"), raw)?;
        if is_primary(item) {
            primary = Some(addresses.len());
        }
        if !addresses.iter().any(|a| a.folded() == e.folded()) {
            addresses.push(e);
        } else if is_primary(item) {
            primary = addresses.iter().position(|a| a.folded() == e.folded());
        }
    }
    let email = primary
        .or((!addresses.is_empty()).then_some(0))
        .map(|i| addresses.remove(i));
    users::check_other_emails("emails", &addresses)?;
    Ok((email, addresses))
}

/// The attributes kept as SCIM JSON in the user's `attributes`: all but the mapped
/// ones (and `name`'s given and family names), at most
/// [`roster_domain::model::MAX_ATTRIBUTES_BYTES`] serialized.
fn unmapped(obj: &Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let mut attributes = Map::new();
    for (k, v) in obj {
        if MAPPED.iter().any(|m| m.eq_ignore_ascii_case(k)) {
            continue;
        }
        if k.eq_ignore_ascii_case("name") {
            let mut rest = v.as_object().cloned().unwrap_or_default();
            rest.retain(|n, _| {
                !n.eq_ignore_ascii_case("givenName") && !n.eq_ignore_ascii_case("familyName")
            });
            if !rest.is_empty() {
                attributes.insert("name".into(), Value::Object(rest));
            }
            continue;
        }
        attributes.insert(k.clone(), v.clone());
    }
    users::check_attributes("attributes", &attributes).map_err(|_| {
        ScimError::invalid_value(format!(
            "the user's attributes besides userName, name, active and externalId must \
             serialize to at most {} bytes",
            roster_domain::model::MAX_ATTRIBUTES_BYTES
        ))
    })?;
    Ok(attributes)
}

/// A password's Argon2id hash, validated first (400 `invalidValue` naming `password`).
fn hash_password(password: &str) -> Result<String, Error> {
    roster_domain::password::validate("password", password)?;
    Ok(roster_domain::password::hash(password)?)
}

/// The status `active` gives: disabled only when it is `false`.
fn status_of(active: Option<bool>) -> UserStatus {
    if active == Some(false) {
        UserStatus::Disabled
    } else {
        UserStatus::Active
    }
}

/// Every field of the draft as a change (PUT, PATCH): the domain writes only what
/// differs.
fn changes_of(d: UserDraft, password_hash: Option<String>) -> users::UserChanges {
    users::UserChanges {
        username: Some(d.username),
        email: Some(d.email),
        other_emails: Some(d.other_emails),
        first_name: Some(d.first_name),
        last_name: Some(d.last_name),
        status: Some(status_of(d.active)),
        external_id: Some(d.external_id),
        attributes: Some(d.attributes),
        password_hash,
        ..users::UserChanges::default()
    }
}

/// The user's representation with its groups.
async fn doc_of<S: Store>(
    scope: &Scope,
    names: &mut GroupNames<'_, S>,
    u: &User,
) -> Result<Value, Error> {
    let member_of = names.resolve(&u.groups).await?;
    Ok(user_doc(u, &member_of, &scope.base))
}

/// A single-user answer: the projected representation, `ETag` and `Location`.
async fn answer<S: Store>(
    store: &S,
    scope: &Scope,
    req: &ApiRequest,
    status: StatusCode,
    u: &User,
) -> Result<ApiResponse, Error> {
    let mut names = GroupNames::new(store, &scope.org);
    let doc = doc_of(scope, &mut names, u).await?;
    let body = wire::projection(req, &USER).apply(&doc);
    Ok(with_resource_headers(
        respond(status, &body),
        &location(&scope.base, &u.id),
        u.version,
    ))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Users`: GET lists (filter, sortBy,
    /// startIndex or cursor, count, attributes), POST creates a user (identity source
    /// `scim`).
    pub struct UsersRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Users",
        error: Error,
        GET need(MdmUser, Read) => list_users,
        POST need(MdmUser, Create) => create_user,
    }
}

/// POST: a new user (identity source `scim`) from the body's representation.
async fn create_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<UsersRoute, S>(req, store, ctx).await?;
    let body = body_json(req)?;
    let draft = draft(&doc_from_body(&body, &USER)?)?;
    let mut new = users::NewUser::parse(
        draft.username.as_str(),
        draft.email.as_ref().map(Email::as_str),
        Some(&draft.first_name),
        Some(&draft.last_name),
    )?;
    new.other_emails = draft.other_emails;
    new.source = IdentitySource::Scim;
    new.external_id = draft.external_id;
    new.attributes = draft.attributes;
    new.status = status_of(draft.active);
    if let Some(p) = &draft.password {
        new.password_hash = Some(hash_password(p)?);
    }
    let user = users::create(store, &scope.org, new, ctx.now).await?;
    answer(store, &scope, req, StatusCode::CREATED, &user).await
}

/// GET: the list its query asks for ([`list`]).
async fn list_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<UsersRoute, S>(req, store, ctx).await?;
    let params = ListParams::parse(req, &USER)?;
    list(store, &scope, &params).await
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Users/:prefix.search`: POST
    /// `/Users/.search` (RFC 7644 §3.4.3) searches users with a `SearchRequest`.
    ///
    /// Its own route and component, so `/Users/:userId` carries none of the list code.
    /// Spin's router (routefinder) splits route segments at `.` as well as `/`: a literal
    /// `.search` segment cannot be written, and `:prefix.search` (empty `prefix` for
    /// `.search`) is ranked ahead of `/Users/:userId` for the paths both match (the
    /// route with more dots wins among equal segments). Any other `<prefix>.search` is
    /// 404 ([`wire::only_dot_search`]).
    pub struct UsersSearchRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Users/:prefix.search",
        error: Error,
        POST need(MdmUser, Read) => search_users,
    }
}

/// POST `/Users/.search`: the body's `SearchRequest`, answered as the GET of `/Users`
/// with the same parameters.
async fn search_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let scope = enter::<UsersSearchRoute, S>(req, store, ctx).await?;
    wire::only_dot_search(req, "/Users")?;
    let params = ListParams::from_search(&body_json(req)?, &USER)?;
    list(store, &scope, &params).await
}

/// A list: without a filter, a page of the organization's users in creation order;
/// with one, the candidates its plan selects, filtered in memory; by `startIndex` or by
/// `cursor`.
async fn list<S: Store>(
    store: &S,
    scope: &Scope,
    params: &ListParams,
) -> Result<ApiResponse, Error> {
    let projection = Projection::new(
        &USER,
        params.attributes.as_deref(),
        params.excluded.as_deref(),
    );
    let mut names = GroupNames::new(store, &scope.org);
    let (total, docs, next) = match &params.filter {
        Some(text) => filtered_users(store, scope, &mut names, params, text).await?,
        None if params.sort.is_some() => sorted_users(store, scope, &mut names, params).await?,
        None => users_page(store, scope, &mut names, params).await?,
    };
    let resources: Vec<Value> = docs.iter().map(|d| projection.apply(d)).collect();
    Ok(respond(
        StatusCode::OK,
        &params.response(&USER, total, resources, next),
    ))
}

/// The total, a page and where the next starts (cursor paging).
type Listed = (usize, Vec<Value>, Option<Position>);

/// The total and the page of the users `text` matches, sorted when asked.
pub(crate) async fn filtered_users<S: Store>(
    store: &S,
    scope: &Scope,
    names: &mut GroupNames<'_, S>,
    params: &ListParams,
    text: &str,
) -> Result<Listed, Error> {
    let filter = Filter::parse(text, &USER)?;
    let plan = query::plan_or_refuse(&filter, INDEXED, SEARCHABLE)?;
    let mut matched = Vec::new();
    for u in candidates(store, &scope.org, &plan).await? {
        let doc = doc_of(scope, names, &u).await?;
        if filter.matches(&doc) {
            matched.push((u.seq, doc));
        }
    }
    let matched = sorted(matched, params.sort.as_ref());
    let total = matched.len();
    let (page, next) = params.window(matched, |(seq, _)| *seq);
    Ok((total, page.into_iter().map(|(_, d)| d).collect(), next))
}

/// The total and the page of all users sorted (400 `tooMany` beyond [`MAX_SORTED`]).
async fn sorted_users<S: Store>(
    store: &S,
    scope: &Scope,
    names: &mut GroupNames<'_, S>,
    params: &ListParams,
) -> Result<Listed, Error> {
    let total = live_count(store, &scope.org).await?;
    if total > MAX_SORTED {
        return Err(sort_refused(total).into());
    }
    let mut all = Vec::new();
    for u in page_of_users(store, &scope.org, 0, MAX_SORTED + 1).await? {
        all.push((u.seq, doc_of(scope, names, &u).await?));
    }
    let all = sorted(all, params.sort.as_ref());
    let total = all.len();
    let (page, next) = params.window(all, |(seq, _)| *seq);
    Ok((total, page.into_iter().map(|(_, d)| d).collect(), next))
}

/// The total and one page of users in creation order: by index, the users after the
/// first `startIndex - 1` (a pass over the compact search entries up to there); by
/// cursor, the users after the cursor's sequence number (only the page is read,
/// however deep it is).
pub(crate) async fn users_page<S: Store>(
    store: &S,
    scope: &Scope,
    names: &mut GroupNames<'_, S>,
    params: &ListParams,
) -> Result<Listed, Error> {
    let org = &scope.org;
    let total = live_count(store, org).await?;
    let mut docs = Vec::new();
    if params.count == 0 {
        return Ok((total, docs, None));
    }
    let (found, next) = match params.cursor {
        Some(at) => {
            let after = match at {
                Position::After(n) => n,
                _ => 0,
            };
            let mut found = page_of_users(store, org, after, params.count + 1).await?;
            let more = found.len() > params.count;
            found.truncate(params.count);
            let next = more.then(|| Position::After(found.last().map_or(after, |u| u.seq)));
            (found, next)
        }
        None => {
            let skip = u64::try_from(params.start_index - 1).unwrap_or(u64::MAX);
            match users::skip(store, org, skip).await? {
                Some(after) => (page_of_users(store, org, after, params.count).await?, None),
                None => (Vec::new(), None),
            }
        }
    };
    for u in &found {
        docs.push(doc_of(scope, names, u).await?);
    }
    Ok((total, docs, next))
}

pub(crate) fn sort_refused(total: usize) -> ScimError {
    ScimError::typed(
        roster_scim::ScimType::TooMany,
        format!(
            "sortBy needs the whole result set and is served for at most {MAX_SORTED} \
             results; this one has {total}: add a filter"
        ),
    )
}

/// Orders `(user, doc)` pairs by `sort` (stable), else by creation.
pub(crate) fn sorted<T>(all: Vec<(T, Value)>, sort: Option<&SortBy>) -> Vec<(T, Value)> {
    match sort {
        Some(s) => super::sorted_by(all, |a, b| s.compare(&a.1, &b.1)),
        None => all,
    }
}

async fn live_count<S: Store>(store: &S, org: &Organization) -> Result<usize, Error> {
    let n = count::total(store, &org.id).await?;
    Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
}

/// Up to `limit` live users after sequence position `after`, in creation order.
async fn page_of_users<S: Store>(
    store: &S,
    org: &Organization,
    after: i64,
    limit: usize,
) -> Result<Vec<User>, Error> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let q = users::ListQuery {
            after: cursor,
            limit: limit - out.len(),
            status: None,
            group: None,
            q: None,
        };
        let page = users::list(store, org, &q).await?;
        out.extend(page.users.into_iter().filter(User::is_live));
        match page.next {
            Some(n) if out.len() < limit => cursor = n,
            _ => return Ok(out),
        }
    }
}

/// The live users a plan selects, each once, in creation order; more than
/// [`MAX_CANDIDATES`] is 400 `tooMany`.
async fn candidates<S: Store>(
    store: &S,
    org: &Organization,
    plan: &[Access],
) -> Result<Vec<User>, Error> {
    let mut out: Vec<User> = Vec::new();
    let mut add = |found: Vec<User>| -> Result<(), ScimError> {
        for u in found {
            if u.is_live() && !out.iter().any(|x| x.id == u.id) {
                out.push(u);
            }
        }
        if out.len() > MAX_CANDIDATES {
            return Err(query::too_many());
        }
        Ok(())
    };
    for access in plan {
        let found: Vec<User> = match access {
            Access::Lookup(0, id) => match ObjectId::parse("id", id) {
                Ok(id) => match users::get_live(store, org, &id).await {
                    Ok(u) => vec![u],
                    Err(DomainError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(e.into()),
                },
                _ => Vec::new(),
            },
            Access::Lookup(1, name) => opt(users::find_by_username(store, org, name).await)?,
            Access::Lookup(2, ext) => opt(users::find_by_external_id(store, org, ext).await)?,
            Access::Lookup(_, email) => opt(users::find_by_any_email(store, org, email).await)?,
            Access::Search(text) => {
                let q = users::ListQuery {
                    after: 0,
                    limit: MAX_CANDIDATES + 1,
                    status: None,
                    group: None,
                    q: Some(text.clone()),
                };
                users::list(store, org, &q).await?.users
            }
        };
        add(found)?;
    }
    Ok(super::sorted_by(out, |a, b| a.seq.cmp(&b.seq)))
}

fn opt(r: Result<Option<User>, DomainError>) -> Result<Vec<User>, Error> {
    Ok(r?.into_iter().collect())
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Users/:userId`: GET (304 on a matching
    /// `If-None-Match`), PUT replaces, PATCH modifies (both conditional on `If-Match`),
    /// DELETE removes the user (RFC 7644 §3.6: 204, then 404). `POST /Users/.search` is
    /// [`UsersSearchRoute`]'s.
    pub struct UserRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Users/:userId",
        error: Error,
        GET need(MdmUser, Read) => get_user,
        PUT need(MdmUser, Update) => put_user,
        PATCH need(MdmUser, Update) => patch_user,
        DELETE need(MdmUser, Remove) => delete_user,
    }
}

/// GET: the user, or 304 when `If-None-Match` names its version.
async fn get_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<UserRoute, S>(req, store, ctx, "userId", Entity::User).await?;
    let user = read(store, &scope.org, &id, ctx).await?;
    if Conditions::of(req).check_read(user.version)? {
        return Ok(wire::not_modified(
            &location(&scope.base, &id),
            user.version,
        ));
    }
    answer(store, &scope, req, StatusCode::OK, &user).await
}

/// PUT: replaces every writable attribute with the body's.
async fn put_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<UserRoute, S>(req, store, ctx, "userId", Entity::User).await?;
    let conditions = Conditions::of(req);
    let change = Change::Replace(doc_from_body(&body_json(req)?, &USER)?);
    let user = modify(store, &scope, &id, &change, &conditions, ctx).await?;
    answer(store, &scope, req, StatusCode::OK, &user).await
}

/// PATCH: applies the body's `PatchOp` to the current representation.
async fn patch_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<UserRoute, S>(req, store, ctx, "userId", Entity::User).await?;
    let conditions = Conditions::of(req);
    let change = Change::Patch(PatchRequest::from_json(&body_json(req)?, &USER)?);
    let user = modify(store, &scope, &id, &change, &conditions, ctx).await?;
    answer(store, &scope, req, StatusCode::OK, &user).await
}

/// DELETE: the removal engine with the SCIM policy (204). RFC 7644 §3.6 has no dry
/// run: a `dryRun` query parameter is refused (400 `invalidValue` naming it) rather
/// than ignored, so a client that meant to preview never removes the user.
async fn delete_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (scope, id) =
        enter_resource::<UserRoute, S>(req, store, ctx, "userId", Entity::User).await?;
    if req.query_param("dryRun").is_some() {
        return Err(ValidationError::new(
            "dryRun",
            "SCIM has no dry run (RFC 7644 §3.6); preview a removal with the canonical \
             DELETE /v1/organizations/:organizationId/mdm/users/:mdmUserId?dryRun=true",
        )
        .into());
    }
    let conditions = Conditions::of(req);
    let user = users::get(store, &scope.org, &id).await?;
    conditions.check_write(user.version)?;
    let policy = RemovalPolicy {
        expected_version: conditions.has_if_match().then_some(user.version),
        ..RemovalPolicy::scim().by(scope.caller.actor())
    };
    match removal::remove_user(store, &scope.org, &id, &policy, ctx.now).await? {
        removal::RemovalOutcome::Finished(_) => Ok(empty(StatusCode::NO_CONTENT)),
        // The SCIM policy is synchronous; should the engine ever answer so, the
        // removal continues on the next request.
        removal::RemovalOutcome::InProgress { .. } => Ok(empty(StatusCode::ACCEPTED)),
    }
}

/// A live user, or 404 (a softly removed one whose window ended is purged on the way).
async fn read<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    ctx: &Ctx,
) -> Result<User, Error> {
    match users::get_live(store, org, id).await {
        Ok(u) => Ok(u),
        Err(e @ DomainError::NotFound { .. }) => {
            let _ = removal::purge_if_expired(store, org, id, ctx.now).await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// What a PUT or PATCH does to a resource's representation (users and groups).
pub(crate) enum Change {
    /// PUT: this representation, as [`doc_from_body`] read it.
    Replace(Value),
    /// PATCH: these operations, applied to the current representation.
    Patch(PatchRequest),
}

/// PUT or PATCH: the new representation from the current one, then one conditional
/// write of everything it changes (re-read and re-applied when another write got in
/// first, unless `If-Match` named the version).
async fn modify<S: Store>(
    store: &S,
    scope: &Scope,
    id: &ObjectId,
    change: &Change,
    conditions: &Conditions,
    ctx: &Ctx,
) -> Result<User, Error> {
    let mut hashed: Option<(String, String)> = None;
    for _ in 0..8 {
        let user = read(store, &scope.org, id, ctx).await?;
        conditions.check_write(user.version)?;
        let new_doc = match change {
            Change::Replace(doc) => doc.clone(),
            Change::Patch(p) => {
                let mut names = GroupNames::new(store, &scope.org);
                p.apply(&doc_of(scope, &mut names, &user).await?)?
            }
        };
        let mut d = draft(&new_doc)?;
        let password_hash = match d.password.take() {
            Some(p) => Some(hash_once(&mut hashed, p)?),
            None => None,
        };
        match users::update(
            store,
            &scope.org,
            id,
            Some(user.version),
            changes_of(d, password_hash),
            ctx.now,
        )
        .await
        {
            Err(DomainError::PreconditionFailed { .. }) if !conditions.has_if_match() => {}
            other => return Ok(other?),
        }
    }
    Err(DomainError::PreconditionFailed {
        entity: Entity::User,
    }
    .into())
}

/// The hash of `password`, computed once per request however often [`modify`] retries.
fn hash_once(hashed: &mut Option<(String, String)>, password: String) -> Result<String, Error> {
    if let Some((clear, hash)) = hashed
        && *clear == password
    {
        return Ok(hash.clone());
    }
    let hash = hash_password(&password)?;
    *hashed = Some((password, hash.clone()));
    Ok(hash)
}
