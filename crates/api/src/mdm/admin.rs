//! The canonical surface's administration routes: API tokens, the audit log,
//! operations, the removal engine's extras (restore, bulk removal, purge), and users'
//! subscriptions. Declared with [`crate::endpoint!`], one handler per method; every
//! failure is a [`super::Error`].

use super::{Error, enter, json_body, object_id, ok, plan_response, removed_response};
use super::{with_etag, with_location};
use crate::auth::Caller;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::ids::ObjectId;
use roster_domain::model::{Organization, Subscription, SubscriptionState};
use roster_domain::removal::{self, RemovalError, RemovalPolicy};
use roster_domain::tokens::{self, ApiToken, NewToken};
use roster_domain::{Store, ValidationError, audit, operations, subscriptions};
use serde::{Deserialize, Serialize};

/// `POST /v1/tokens`, `POST …/tokens`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A label for people: 1 to 256 characters.
    pub name: String,
    /// Grants: catalogue permissions, `mdm.global.<resource>.*`, or `*`.
    pub permissions: Vec<String>,
    /// Lifetime in seconds (absent: no expiry).
    pub expires_in: Option<i64>,
    /// The user who owns it (organization tokens only): revoked when that user is
    /// removed.
    pub owner_user_id: Option<String>,
    /// Requests per minute, overriding the organization's policy (absent: the
    /// policy's).
    pub rate_limit_per_minute: Option<i64>,
}

/// A token as returned (never its secret, except once at creation).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// 24 hex digits (the `tokenId` of paths).
    pub id: String,
    /// The label given at creation.
    pub name: String,
    /// The organization it is scoped to; `null` for a global token.
    pub organization_id: Option<String>,
    /// Its grants: catalogue permissions, `mdm.global.<resource>.*`, or `*`.
    pub permissions: Vec<String>,
    /// The user whose removal revokes it, if any.
    pub owner_user_id: Option<String>,
    /// Its own requests per minute; `null` follows the organization's policy.
    pub rate_limit_per_minute: Option<u32>,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `null` for a token that never expires.
    pub expires_at: Option<String>,
    /// RFC 3339; `null` unless revoked.
    pub revoked_at: Option<String>,
    /// The secret: present only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl TokenResponse {
    fn new(t: &ApiToken, now: roster_domain::Timestamp, secret: Option<String>) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            organization_id: t.org_id.as_ref().map(ToString::to_string),
            permissions: t.grants.iter().map(ToString::to_string).collect(),
            owner_user_id: t.owner_user_id.as_ref().map(ToString::to_string),
            rate_limit_per_minute: t.rate_limit_per_minute,
            state: t.state(now),
            created_at: t.created_at.to_rfc3339(),
            expires_at: t.expires_at.map(|e| e.to_rfc3339()),
            revoked_at: t.revoked_at.map(|e| e.to_rfc3339()),
            secret,
        }
    }
}

/// A page of tokens.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPageResponse {
    /// Tokens in creation order.
    pub tokens: Vec<TokenResponse>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// Creates a token in `org` (`None`: a global one) granting at most what the caller
/// holds.
async fn create_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    caller: &Caller,
    org: Option<&Organization>,
) -> Result<ApiResponse, Error> {
    let body: CreateTokenRequest = json_body(req)?;
    let new = NewToken::parse(
        &body.name,
        &body.permissions,
        body.expires_in,
        body.owner_user_id.as_deref(),
        body.rate_limit_per_minute,
    )?;
    no_escalation(&new, caller)?;
    let created = tokens::create(store, org, new, caller.token_id(), ctx.now).await?;
    let location = match org {
        Some(o) => format!("/v1/organizations/{}/tokens/{}", o.id, created.token.id),
        None => format!("/v1/tokens/{}", created.token.id),
    };
    let body = TokenResponse::new(&created.token, ctx.now, Some(created.secret));
    Ok(with_location(ok(StatusCode::CREATED, &body), &location))
}

/// A token grants at most what its creator holds: the first grant beyond the caller's
/// own is refused.
fn no_escalation(new: &NewToken, caller: &Caller) -> Result<(), Error> {
    let beyond = new
        .grants
        .iter()
        .enumerate()
        .find(|(_, g)| !g.within(caller.grants()));
    match beyond {
        Some((index, grant)) => Err(Error::Escalation {
            index,
            grant: *grant,
        }),
        None => Ok(()),
    }
}

/// One page of the tokens of `org` (`None`: the global ones).
async fn list_tokens<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: Option<&ObjectId>,
) -> Result<ApiResponse, Error> {
    let q = super::list_query(req)?;
    let (list, next) = tokens::list(store, org, q.after, q.limit).await?;
    Ok(ok(
        StatusCode::OK,
        &TokenPageResponse {
            tokens: list
                .iter()
                .map(|t| TokenResponse::new(t, ctx.now, None))
                .collect(),
            next_cursor: next.map(super::encode_cursor),
        },
    ))
}

/// The token the path's `tokenId` names in `org` (`None`: a global one); `revoke`
/// revokes it first.
async fn one_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: Option<&ObjectId>,
    revoke: bool,
) -> Result<ApiResponse, Error> {
    let id = object_id(req, "tokenId")?;
    let t = if revoke {
        tokens::revoke(store, org, &id, ctx.now).await?
    } else {
        tokens::get(store, org, &id).await?
    };
    Ok(ok(StatusCode::OK, &TokenResponse::new(&t, ctx.now, None)))
}

crate::endpoint! {
    /// `/v1/tokens`: GET lists global tokens, POST creates one (global tokens only).
    pub struct GlobalTokensRoute {
        route: "/v1/tokens",
        error: Error,
        GET need_global(Token, Read) => list_global_tokens,
        POST need_global(Token, Create) => create_global_token,
    }
}

async fn list_global_tokens<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    crate::admit::<GlobalTokensRoute, S>(req, store, ctx).await?;
    list_tokens(req, store, ctx, None).await
}

async fn create_global_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let caller = crate::admit::<GlobalTokensRoute, S>(req, store, ctx).await?;
    create_token(req, store, ctx, &caller, None).await
}

crate::endpoint! {
    /// `/v1/tokens/:tokenId`: GET one global token, DELETE revokes it.
    pub struct GlobalTokenRoute {
        route: "/v1/tokens/:tokenId",
        error: Error,
        GET need_global(Token, Read) => get_global_token,
        DELETE need_global(Token, Remove) => revoke_global_token,
    }
}

async fn get_global_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    crate::admit::<GlobalTokenRoute, S>(req, store, ctx).await?;
    one_token(req, store, ctx, None, false).await
}

async fn revoke_global_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    crate::admit::<GlobalTokenRoute, S>(req, store, ctx).await?;
    one_token(req, store, ctx, None, true).await
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/tokens`: GET lists the organization's tokens,
    /// POST creates one.
    pub struct OrgTokensRoute {
        route: "/v1/organizations/:organizationId/tokens",
        error: Error,
        GET need(Token, Read) => list_org_tokens,
        POST need(Token, Create) => create_org_token,
    }
}

async fn list_org_tokens<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrgTokensRoute, S>(req, store, ctx).await?;
    list_tokens(req, store, ctx, Some(&org.id)).await
}

async fn create_org_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<OrgTokensRoute, S>(req, store, ctx).await?;
    create_token(req, store, ctx, &caller, Some(&org)).await
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/tokens/:tokenId`: GET one, DELETE revokes it.
    pub struct OrgTokenRoute {
        route: "/v1/organizations/:organizationId/tokens/:tokenId",
        error: Error,
        GET need(Token, Read) => get_org_token,
        DELETE need(Token, Remove) => revoke_org_token,
    }
}

async fn get_org_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrgTokenRoute, S>(req, store, ctx).await?;
    one_token(req, store, ctx, Some(&org.id), false).await
}

async fn revoke_org_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrgTokenRoute, S>(req, store, ctx).await?;
    one_token(req, store, ctx, Some(&org.id), true).await
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/audit`: GET the audit log (`limit`, `cursor`,
    /// `userId` to see one user's events).
    pub struct AuditRoute {
        route: "/v1/organizations/:organizationId/audit",
        error: Error,
        GET need(Audit, Read) => list_audit,
    }
}

async fn list_audit<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<AuditRoute, S>(req, store, ctx).await?;
    let q = super::list_query(req)?;
    let subject = req
        .query_param("userId")
        .map(|u| ObjectId::parse("userId", &u))
        .transpose()?
        .map(|u| audit::pseudonym(&org, &u));
    let (events, next) = audit::list(store, &org.id, q.after, q.limit, subject.as_deref()).await?;
    let events: Vec<serde_json::Value> = events.iter().map(event_response).collect();
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({
            "events": events,
            "nextCursor": next.map(super::encode_cursor),
        }),
    ))
}

/// An audit event as returned.
fn event_response(e: &audit::AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "number": e.number,
        "at": e.at.to_rfc3339(),
        "action": e.action,
        "surface": e.surface,
        "actor": e.actor,
        "subject": e.subject,
        "operationId": e.operation_id,
        "details": e.details,
    })
}

/// An operation as returned.
pub fn operation_response(op: &operations::Operation) -> serde_json::Value {
    serde_json::json!({
        "id": op.id,
        "userId": op.user_id,
        "subject": op.subject,
        "surface": op.surface,
        "mode": op.mode,
        "status": match op.status {
            operations::OperationStatus::InProgress => "InProgress",
            operations::OperationStatus::Succeeded => "Succeeded",
        },
        "total": op.total,
        "processed": op.processed,
        "createdAt": op.created_at.to_rfc3339(),
        "updatedAt": op.updated_at.to_rfc3339(),
    })
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/operations/:operationId`: GET polls a removal
    /// operation, advancing it by one batch while work remains.
    pub struct OperationRoute {
        route: "/v1/organizations/:organizationId/operations/:operationId",
        error: Error,
        GET need(Operation, Read) => poll_operation,
    }
}

async fn poll_operation<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OperationRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "operationId")?;
    let op = removal::poll(store, &org, &id, ctx.now).await?;
    Ok(ok(StatusCode::OK, &operation_response(&op)))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/restore`: POST restores a softly removed user.
    pub struct UserRestoreRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/restore",
        error: Error,
        POST need(MdmUser, Update) => restore_user,
    }
}

async fn restore_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserRestoreRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "mdmUserId")?;
    let user = removal::restore(store, &org, &id, &caller.actor(), ctx.now).await?;
    Ok(with_etag(
        ok(StatusCode::OK, &super::dto::UserResponse::from(&user)),
        user.version,
    ))
}

/// `POST …/mdm/users/removals`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRemovalRequest {
    /// The users to remove (1 to [`MAX_BULK`] ids).
    pub ids: Vec<String>,
    /// Report what each removal would do instead (each entry a dry run's answer).
    #[serde(default)]
    pub dry_run: bool,
}

/// Most users one bulk removal takes.
pub const MAX_BULK: usize = 100;

crate::endpoint! {
    /// `…/mdm/users/removals`: POST removes many users under seed 000's rules, with a
    /// result per user (`removed`, or the error it would get alone).
    pub struct UserRemovalsRoute {
        route: "/v1/organizations/:organizationId/mdm/users/removals",
        error: Error,
        POST need(MdmUser, Remove) => remove_users,
    }
}

async fn remove_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserRemovalsRoute, S>(req, store, ctx).await?;
    let body: BulkRemovalRequest = json_body(req)?;
    let ids = bulk_ids(&body.ids)?;
    let policy = RemovalPolicy::canonical().by(caller.actor());
    let mut results = Vec::new();
    for id in &ids {
        results.push(remove_one(store, &org, id, &policy, body.dry_run, ctx).await);
    }
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "results": results }),
    ))
}

/// A bulk removal's ids: 1 to [`MAX_BULK`], each an id (`ids[i]` names a bad one).
fn bulk_ids(raw: &[String]) -> Result<Vec<ObjectId>, ValidationError> {
    if raw.is_empty() || raw.len() > MAX_BULK {
        return Err(ValidationError::new("ids", "must hold 1 to 100 user ids"));
    }
    raw.iter()
        .enumerate()
        .map(|(i, id)| ObjectId::parse(&format!("ids[{i}]"), id))
        .collect()
}

/// One user's entry in a bulk removal's `results`, in the envelope's shape: the
/// removal's (or dry run's) data, or the error that user would get alone — except
/// that any failure of the store or the domain reads as internal (5000).
async fn remove_one<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    policy: &RemovalPolicy,
    dry_run: bool,
    ctx: &Ctx,
) -> serde_json::Value {
    let result = if dry_run {
        removal::plan(store, org, id, policy, ctx.now)
            .await
            .map(|p| plan_response(&p))
    } else {
        removal::remove_user(store, org, id, policy, ctx.now)
            .await
            .map(|o| removed_response(id, &o))
    };
    let error = match result {
        Ok(v) => return serde_json::json!({ "id": id, "status": true, "data": v }),
        Err(RemovalError::Domain(d)) => Error::Internal(d),
        Err(e) => Error::from(e),
    };
    let (_, code, message) = error.answer();
    serde_json::json!({
        "id": id,
        "status": false,
        "error": { "code": code, "message": message },
    })
}

/// `POST …/mdm/users/purge`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeRequest {
    /// Most trash entries to look at (1 to 1000; default 100).
    pub limit: Option<i64>,
}

crate::endpoint! {
    /// `…/mdm/users/purge`: POST purges softly removed users whose retention window
    /// ended (for a scheduler; call again while `more` is true).
    pub struct UsersPurgeRoute {
        route: "/v1/organizations/:organizationId/mdm/users/purge",
        error: Error,
        POST need(MdmUser, Remove) => purge_users,
    }
}

async fn purge_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UsersPurgeRoute, S>(req, store, ctx).await?;
    let body: PurgeRequest = super::optional_json(req)?;
    let limit = match body.limit {
        None => 100,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ValidationError::new("limit", "must be an integer from 1 to 1000"))?,
    };
    let report = removal::purge_expired(store, &org, limit, &caller.actor(), ctx.now).await?;
    Ok(ok(StatusCode::OK, &report))
}

/// `POST …/subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    /// `/apis`, `/apis/<apiId>` or `/products/<productId>`.
    pub scope: String,
    /// A label for people (absent: none).
    pub display_name: Option<String>,
}

/// `PATCH …/subscriptions/:subscriptionId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchSubscriptionRequest {
    /// `active`, `suspended`, `submitted` or `cancelled`.
    pub state: SubscriptionState,
}

fn subscription_response(s: &Subscription) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "userId": s.user_id,
        "scope": s.scope,
        "displayName": s.display_name,
        "state": s.state,
        "createdAt": s.created_at.to_rfc3339(),
    })
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/subscriptions`: GET lists the user's API subscriptions,
    /// POST adds one.
    pub struct UserSubscriptionsRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions",
        error: Error,
        GET need(Subscription, Read) => list_subscriptions,
        POST need(Subscription, Create) => create_subscription,
    }
}

async fn list_subscriptions<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserSubscriptionsRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let list = subscriptions::list(store, &org, &user_id).await?;
    let out: Vec<_> = list.iter().map(subscription_response).collect();
    Ok(ok(StatusCode::OK, &out))
}

async fn create_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserSubscriptionsRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let body: CreateSubscriptionRequest = json_body(req)?;
    let (scope, name) = subscriptions::parse(&body.scope, body.display_name.as_deref())?;
    let s = subscriptions::create(store, &org, &user_id, scope, name, ctx.now).await?;
    let location = format!(
        "/v1/organizations/{}/mdm/users/{}/subscriptions/{}",
        org.id, user_id, s.id
    );
    Ok(with_location(
        ok(StatusCode::CREATED, &subscription_response(&s)),
        &location,
    ))
}

crate::endpoint! {
    /// `…/subscriptions/:subscriptionId`: PATCH changes the state, DELETE removes it.
    pub struct UserSubscriptionRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions/:subscriptionId",
        error: Error,
        PATCH need(Subscription, Update) => patch_subscription,
        DELETE need(Subscription, Remove) => delete_subscription,
    }
}

/// The organization, user id and subscription id a subscription route's path names.
async fn subscription_path<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Organization, ObjectId, ObjectId), Error> {
    let (org, _) = enter::<UserSubscriptionRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let id = object_id(req, "subscriptionId")?;
    Ok((org, user_id, id))
}

async fn patch_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, user_id, id) = subscription_path(req, store, ctx).await?;
    let body: PatchSubscriptionRequest = json_body(req)?;
    let s = subscriptions::set_state(store, &org, &user_id, &id, body.state).await?;
    Ok(ok(StatusCode::OK, &subscription_response(&s)))
}

async fn delete_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, user_id, id) = subscription_path(req, store, ctx).await?;
    subscriptions::delete(store, &org, &user_id, &id).await?;
    Ok(ok(StatusCode::OK, &serde_json::json!({ "delete": id })))
}
