//! The canonical surface's administration routes: API tokens, the audit log,
//! operations, and the removal engine's extras (restore, bulk removal, purge), plus
//! users' subscriptions.

use super::{
    blocker, collapse, domain_error, enter, enter_global, error, invalid, json_body, need,
    need_global, object_id, ok, plan_response, removal_error, removed_response, with_location,
};
use crate::Endpoint;
use crate::auth::{Caller, Requirement};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{Method, StatusCode};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Organization, Subscription, SubscriptionState};
use roster_domain::permissions::{Action, Resource};
use roster_domain::removal::{self, RemovalError, RemovalPolicy, RestoreError};
use roster_domain::tokens::{self, ApiToken, NewToken};
use roster_domain::{Store, ValidationError, audit, operations, subscriptions};
use serde::{Deserialize, Serialize};

/// `POST /v1/tokens`, `POST …/tokens`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A label.
    pub name: String,
    /// Grants: catalogue permissions, `mdm.global.<resource>.*`, or `*`.
    pub permissions: Vec<String>,
    /// Lifetime in seconds (absent: no expiry).
    pub expires_in: Option<i64>,
    /// The user who owns it (organization tokens only): revoked when that user is
    /// removed.
    pub owner_user_id: Option<String>,
    /// Requests per minute, overriding the organization's policy.
    pub rate_limit_per_minute: Option<i64>,
}

/// A token as returned (never its secret, except once at creation).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// 24-hex id.
    pub id: String,
    /// Label.
    pub name: String,
    /// The organization it is scoped to; `null` for a global token.
    pub organization_id: Option<String>,
    /// Grants.
    pub permissions: Vec<String>,
    /// Owner user.
    pub owner_user_id: Option<String>,
    /// Rate limit override.
    pub rate_limit_per_minute: Option<u32>,
    /// `active`, `expired` or `revoked`.
    pub state: &'static str,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// Revocation time.
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

async fn create_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    caller: &Caller,
    org: Option<&Organization>,
) -> Result<ApiResponse, ApiResponse> {
    let body: CreateTokenRequest = json_body(req)?;
    let new = NewToken::parse(
        &body.name,
        &body.permissions,
        body.expires_in,
        body.owner_user_id.as_deref(),
        body.rate_limit_per_minute,
    )
    .map_err(|e| invalid(&e))?;
    // No escalation: a token grants at most what its creator holds.
    if let Some((i, g)) = new
        .grants
        .iter()
        .enumerate()
        .find(|(_, g)| !g.within(caller.grants()))
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            super::codes::FORBIDDEN,
            &format!("Forbidden: permissions[{i}] ({g}) exceeds the caller's own"),
        ));
    }
    let created = tokens::create(store, org, new, caller.token_id(), ctx.now)
        .await
        .map_err(domain_error)?;
    let location = match org {
        Some(o) => format!("/v1/organizations/{}/tokens/{}", o.id, created.token.id),
        None => format!("/v1/tokens/{}", created.token.id),
    };
    let body = TokenResponse::new(&created.token, ctx.now, Some(created.secret));
    Ok(with_location(ok(StatusCode::CREATED, &body), &location))
}

async fn list_tokens<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: Option<&ObjectId>,
) -> Result<ApiResponse, ApiResponse> {
    let q = super::list_query(req)?;
    let (list, next) = tokens::list(store, org, q.after, q.limit)
        .await
        .map_err(domain_error)?;
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

async fn one_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: Option<&ObjectId>,
) -> Result<ApiResponse, ApiResponse> {
    let id = object_id(req, "tokenId")?;
    let t = if req.method == Method::DELETE {
        tokens::revoke(store, org, &id, ctx.now).await
    } else {
        tokens::get(store, org, &id).await
    }
    .map_err(domain_error)?;
    Ok(ok(StatusCode::OK, &TokenResponse::new(&t, ctx.now, None)))
}

/// `/v1/tokens`: GET lists global tokens, POST creates one (global tokens only).
pub struct GlobalTokens;

impl Endpoint for GlobalTokens {
    const ROUTE: &'static str = "/v1/tokens";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need_global(Resource::Token, Action::Read),
            "POST" => need_global(Resource::Token, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let caller = enter_global::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    return list_tokens(req, store, ctx, None).await;
                }
                create_token(req, store, ctx, &caller, None).await
            }
            .await,
        )
    }
}

/// `/v1/tokens/:tokenId`: GET one global token, DELETE revokes it.
pub struct GlobalToken;

impl Endpoint for GlobalToken {
    const ROUTE: &'static str = "/v1/tokens/:tokenId";
    const ALLOW: &'static str = "GET, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need_global(Resource::Token, Action::Read),
            "DELETE" => need_global(Resource::Token, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                enter_global::<Self, S>(req, store, ctx).await?;
                one_token(req, store, ctx, None).await
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/tokens`: GET lists the organization's tokens,
/// POST creates one.
pub struct OrgTokens;

impl Endpoint for OrgTokens {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/tokens";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Token, Action::Read),
            "POST" => need(Resource::Token, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    return list_tokens(req, store, ctx, Some(&org.id)).await;
                }
                create_token(req, store, ctx, &caller, Some(&org)).await
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/tokens/:tokenId`: GET one, DELETE revokes it.
pub struct OrgToken;

impl Endpoint for OrgToken {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/tokens/:tokenId";
    const ALLOW: &'static str = "GET, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Token, Action::Read),
            "DELETE" => need(Resource::Token, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                one_token(req, store, ctx, Some(&org.id)).await
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/audit`: GET the audit log (`limit`, `cursor`,
/// `userId` to see one user's events).
pub struct Audit;

impl Endpoint for Audit {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/audit";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Audit, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let q = super::list_query(req)?;
                let subject = req
                    .query_param("userId")
                    .map(|u| ObjectId::parse("userId", &u))
                    .transpose()
                    .map_err(|e| invalid(&e))?
                    .map(|u| audit::pseudonym(&org, &u));
                let (events, next) =
                    audit::list(store, &org.id, q.after, q.limit, subject.as_deref())
                        .await
                        .map_err(domain_error)?;
                let events: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| {
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
                    })
                    .collect();
                Ok(ok(
                    StatusCode::OK,
                    &serde_json::json!({
                        "events": events,
                        "nextCursor": next.map(super::encode_cursor),
                    }),
                ))
            }
            .await,
        )
    }
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

/// `/v1/organizations/:organizationId/operations/:operationId`: GET polls a removal
/// operation, advancing it by one batch while work remains.
pub struct Operation;

impl Endpoint for Operation {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/operations/:operationId";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Operation, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let id = object_id(req, "operationId")?;
                let op = removal::poll(store, &org, &id, ctx.now)
                    .await
                    .map_err(removal_error)?;
                Ok(ok(StatusCode::OK, &operation_response(&op)))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/restore`: POST restores a softly removed user.
pub struct UserRestore;

impl Endpoint for UserRestore {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId/restore";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                let id = object_id(req, "mdmUserId")?;
                let user = removal::restore(store, &org, &id, &caller.actor(), ctx.now)
                    .await
                    .map_err(|e| match e {
                        RestoreError::NotFound => error(
                            StatusCode::NOT_FOUND,
                            super::codes::NOT_FOUND,
                            "Entity not found",
                        ),
                        RestoreError::Conflict { field } => error(
                            StatusCode::CONFLICT,
                            super::codes::CONFLICT,
                            &format!("{field} is already in use"),
                        ),
                        RestoreError::Domain(d) => domain_error(d),
                    })?;
                Ok(super::with_etag(
                    ok(StatusCode::OK, &super::dto::UserResponse::from(&user)),
                    user.version,
                ))
            }
            .await,
        )
    }
}

/// `POST …/mdm/users/removals`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRemovalRequest {
    /// The users to remove (1 to 100 ids).
    pub ids: Vec<String>,
    /// Report only.
    #[serde(default)]
    pub dry_run: bool,
}

/// Most users one bulk removal takes.
pub const MAX_BULK: usize = 100;

/// `…/mdm/users/removals`: POST removes many users under seed 000's rules, with a
/// result per user (`removed`, or the error it would get alone).
pub struct UserRemovals;

impl Endpoint for UserRemovals {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/removals";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                let body: BulkRemovalRequest = json_body(req)?;
                if body.ids.is_empty() || body.ids.len() > MAX_BULK {
                    return Err(invalid(&ValidationError::new(
                        "ids",
                        "must hold 1 to 100 user ids",
                    )));
                }
                let mut ids = Vec::new();
                for (i, raw) in body.ids.iter().enumerate() {
                    ids.push(ObjectId::parse(&format!("ids[{i}]"), raw).map_err(|e| invalid(&e))?);
                }
                let policy = RemovalPolicy::canonical().by(caller.actor());
                let mut results = Vec::new();
                for id in &ids {
                    let result = if body.dry_run {
                        removal::plan(store, &org, id, &policy, ctx.now)
                            .await
                            .map(|p| plan_response(&p))
                    } else {
                        removal::remove_user(store, &org, id, &policy, ctx.now)
                            .await
                            .map(|o| removed_response(id, &o))
                    };
                    results.push(match result {
                        Ok(v) => serde_json::json!({ "id": id, "status": true, "data": v }),
                        Err(e) => {
                            let (code, message) = bulk_error(e);
                            serde_json::json!({
                                "id": id,
                                "status": false,
                                "error": { "code": code, "message": message },
                            })
                        }
                    });
                }
                Ok(ok(
                    StatusCode::OK,
                    &serde_json::json!({ "results": results }),
                ))
            }
            .await,
        )
    }
}

fn bulk_error(e: RemovalError) -> (u32, String) {
    match e {
        RemovalError::NotFound => (super::codes::NOT_FOUND, "Entity not found".into()),
        RemovalError::Refused(b) => {
            let (_, code, message) = blocker(b);
            (code, message)
        }
        RemovalError::Domain(_) => (super::codes::INTERNAL, "Internal error".into()),
    }
}

/// `POST …/mdm/users/purge`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeRequest {
    /// Most trash entries to look at (1 to 1000; default 100).
    pub limit: Option<i64>,
}

/// `…/mdm/users/purge`: POST purges softly removed users whose retention window
/// ended (for a scheduler; call again while `more` is true).
pub struct UsersPurge;

impl Endpoint for UsersPurge {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/purge";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                let body: PurgeRequest = super::optional_json(req)?;
                let limit = match body.limit {
                    None => 100,
                    Some(n) => usize::try_from(n)
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| {
                            invalid(&ValidationError::new(
                                "limit",
                                "must be an integer from 1 to 1000",
                            ))
                        })?,
                };
                let report = removal::purge_expired(store, &org, limit, &caller.actor(), ctx.now)
                    .await
                    .map_err(removal_error)?;
                Ok(ok(StatusCode::OK, &report))
            }
            .await,
        )
    }
}

/// `POST …/subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    /// `/apis`, `/apis/<apiId>` or `/products/<productId>`.
    pub scope: String,
    /// Display name.
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

/// `…/mdm/users/:mdmUserId/subscriptions`: GET lists the user's API subscriptions,
/// POST adds one.
pub struct UserSubscriptions;

impl Endpoint for UserSubscriptions {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Subscription, Action::Read),
            "POST" => need(Resource::Subscription, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                if req.method == Method::GET {
                    let list = subscriptions::list(store, &org, &user_id)
                        .await
                        .map_err(domain_error)?;
                    let out: Vec<_> = list.iter().map(subscription_response).collect();
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: CreateSubscriptionRequest = json_body(req)?;
                let (scope, name) = subscriptions::parse(&body.scope, body.display_name.as_deref())
                    .map_err(|e| invalid(&e))?;
                let s = subscriptions::create(store, &org, &user_id, scope, name, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let location = format!(
                    "/v1/organizations/{}/mdm/users/{}/subscriptions/{}",
                    org.id, user_id, s.id
                );
                Ok(with_location(
                    ok(StatusCode::CREATED, &subscription_response(&s)),
                    &location,
                ))
            }
            .await,
        )
    }
}

/// `…/subscriptions/:subscriptionId`: PATCH changes the state, DELETE removes it.
pub struct UserSubscription;

impl Endpoint for UserSubscription {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions/:subscriptionId";
    const ALLOW: &'static str = "PATCH, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "PATCH" => need(Resource::Subscription, Action::Update),
            "DELETE" => need(Resource::Subscription, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let id = object_id(req, "subscriptionId")?;
                if req.method == Method::DELETE {
                    subscriptions::delete(store, &org, &user_id, &id)
                        .await
                        .map_err(domain_error)?;
                    return Ok(ok(StatusCode::OK, &serde_json::json!({ "delete": id })));
                }
                let body: PatchSubscriptionRequest = json_body(req)?;
                let s = subscriptions::set_state(store, &org, &user_id, &id, body.state)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(StatusCode::OK, &subscription_response(&s)))
            }
            .await,
        )
    }
}
