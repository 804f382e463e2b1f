//! Seed 002: Dynatrace account management's "Remove user",
//! `DELETE /v1/accounts/:accountUuid/users/:email`.
//!
//! An account is an organization (found by its `accountUuid` alias); a person is the set
//! of users with one email across organizations (the identity index, re-checked
//! against each user record). Removing the person from an account removes that
//! organization's user with all its dependents; when it was the person's last account
//! the person is gone. The person's owner account (the oldest membership) is left
//! last: removing them from it while other accounts remain answers 400 "Cannot delete
//! user from this account".
//!
//! Success is 200 with a `RestUserWithGroups[]` of one element: the user removed, as
//! it was in that account (with its groups there), and where the person stands now
//! (`accountUuids`, `ownerAccountUuid`; empty and `null` when they are gone). Errors
//! are `ExceptionMessage`s `{"code":N,"message":"…"}`, built in [`exception`] from one
//! mapping per failure kind. `docs/seeds.md` lists every answer.

use crate::auth::{self, AuthFailure, Requirement};
use crate::params::{self, json};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use crate::{Endpoint, Refusal};
use http::{HeaderValue, StatusCode, header};
use roster_domain::model::{Group, IdentitySource, Organization, User as UserRecord, UserStatus};
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::removal::{self, Outcome, RemovalError, RemovalPolicy};
use roster_domain::{DomainError, Store, Timestamp, groups, identity, orgs, users};
use serde::Serialize;
use serde_json::json;

/// The seed's 404 message (unknown account, unknown user, or an account the token may
/// not see).
pub const NOT_FOUND_MESSAGE: &str = "Could not find requested user or account";
/// The seed's 400 message (the owner-account rule).
pub const CANNOT_DELETE_MESSAGE: &str = "Cannot delete user from this account";

/// An `ExceptionMessage`: `{"code":status,"message":message}`.
pub fn exception(status: StatusCode, message: &str) -> ApiResponse {
    json(
        status,
        &json!({ "code": status.as_u16(), "message": message }),
    )
}

fn not_found() -> ApiResponse {
    exception(StatusCode::NOT_FOUND, NOT_FOUND_MESSAGE)
}

fn internal() -> ApiResponse {
    exception(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
}

/// The one mapping of refusals before the route runs.
pub fn refusal(r: Refusal) -> ApiResponse {
    match r {
        Refusal::MethodNotAllowed(allow) => {
            let mut resp = exception(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            resp
        }
        Refusal::Auth(a) => auth_failure(a),
    }
}

/// 401 (no token, invalid token), 403, 429, 500.
pub fn auth_failure(a: AuthFailure) -> ApiResponse {
    match a {
        AuthFailure::NoToken => exception(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: no bearer token",
        ),
        AuthFailure::Unauthorized => exception(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: the token is not valid",
        ),
        AuthFailure::Forbidden { permission } => exception(
            StatusCode::FORBIDDEN,
            &format!("Forbidden: requires {permission}"),
        ),
        AuthFailure::RateLimited(_) => {
            exception(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
        }
        // The account is in the path; no organization header is ever needed here.
        AuthFailure::NoOrganization => not_found(),
        AuthFailure::Store(e) => {
            crate::log_internal("dynatrace", &e);
            internal()
        }
    }
}

/// The one mapping of domain and removal failures.
pub fn removal_error(e: RemovalError) -> ApiResponse {
    match e {
        RemovalError::NotFound => not_found(),
        // No guard of the Dynatrace policy refuses; kept total.
        RemovalError::Refused(_) => exception(StatusCode::BAD_REQUEST, CANNOT_DELETE_MESSAGE),
        RemovalError::Domain(d) => domain_error(d),
    }
}

fn domain_error(e: DomainError) -> ApiResponse {
    match e {
        DomainError::NotFound { .. } | DomainError::Invalid(_) => not_found(),
        e => {
            crate::log_internal("dynatrace", &e);
            internal()
        }
    }
}

/// `RestUserLoginMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserLoginMetadata {
    /// Successful sign-ins.
    pub successful_login_counter: u64,
    /// Failed sign-ins.
    pub failed_login_counter: u64,
    /// Last successful sign-in.
    pub last_successful_login: Option<String>,
    /// Last failed sign-in.
    pub last_failed_login: Option<String>,
    /// When a password reset was last issued.
    pub reset_password_token_sent_at: Option<String>,
    /// Roster has no basic authentication of end users: always `null`.
    pub last_successful_basic_authentication: Option<String>,
    /// The user's creation time.
    pub created_at: String,
    /// The user's last update.
    pub updated_at: String,
}

/// `RestUserGroup`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserGroup {
    /// The group's name.
    pub group_name: String,
    /// The group's UUID.
    pub uuid: String,
    /// `SCIM` for groups an identity provider provisioned, else `LOCAL`.
    pub owner: &'static str,
    /// Description.
    pub description: String,
    /// The account (organization) the group belongs to.
    #[serde(rename = "accountUUID")]
    pub account_uuid: String,
    /// That account's name.
    pub account_name: String,
    /// SAML federation values: Roster federates no groups, always empty.
    pub federated_attribute_values: Vec<String>,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
}

/// `RestUserWithGroups`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserWithGroups {
    /// The user's UUID in the account.
    pub uid: String,
    /// Email.
    pub email: String,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// Never a secret: always `null` (Roster keeps only an Argon2id hash, never shown).
    pub password: Option<String>,
    /// Company, `null` when unset.
    pub company: Option<String>,
    /// ISO 3166-1 alpha-2 country code, `null` when unset.
    pub country_code: Option<String>,
    /// `ACTIVE` or `INACTIVE` (disabled), as the user was in the account.
    pub user_status: &'static str,
    /// The accounts the person belongs to (after a removal: those that remain), oldest
    /// first.
    pub account_uuids: Vec<String>,
    /// The first of `accountUuids`, `null` when there is none.
    pub owner_account_uuid: Option<String>,
    /// Where the user is mastered: `LOCAL`, `SCIM` or `DIRECTORY`.
    #[serde(rename = "type")]
    pub user_type: &'static str,
    /// Roster has no Dynatrace Community Support link: always `false`.
    pub dcs_active: bool,
    /// When the password was last set, `null` when never.
    pub password_changed_at: Option<String>,
    /// Sign-in statistics.
    pub user_login_metadata: RestUserLoginMetadata,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
    /// The user's groups in the account.
    pub groups: Vec<RestUserGroup>,
}

fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn status_name(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "ACTIVE",
        UserStatus::Disabled => "INACTIVE",
        UserStatus::PendingDeletion => "DELETING",
        UserStatus::Deleted => "DELETED",
    }
}

fn rest_user(
    u: &UserRecord,
    org: &Organization,
    groups: &[Group],
    accounts: &[Account],
) -> RestUserWithGroups {
    let account_uuids: Vec<String> = accounts
        .iter()
        .map(|a| a.org.account_uuid.clone())
        .collect();
    RestUserWithGroups {
        uid: u.uuid.clone(),
        email: u.email.clone(),
        name: u.first_name.clone(),
        surname: u.last_name.clone(),
        password: None,
        company: non_empty(&u.company),
        country_code: non_empty(&u.country_code),
        user_status: status_name(u.status),
        owner_account_uuid: account_uuids.first().cloned(),
        account_uuids,
        user_type: match u.source {
            IdentitySource::Local => "LOCAL",
            IdentitySource::Scim => "SCIM",
            IdentitySource::Directory => "DIRECTORY",
        },
        dcs_active: false,
        password_changed_at: u.password_changed_at.map(time),
        user_login_metadata: RestUserLoginMetadata {
            successful_login_counter: u.login.successful_login_counter,
            failed_login_counter: u.login.failed_login_counter,
            last_successful_login: u.login.last_successful_login.map(time),
            last_failed_login: u.login.last_failed_login.map(time),
            reset_password_token_sent_at: u.login.reset_password_token_sent_at.map(time),
            last_successful_basic_authentication: None,
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
        },
        created_at: time(u.created_at),
        updated_at: time(u.updated_at),
        groups: groups
            .iter()
            .map(|g| RestUserGroup {
                group_name: g.name.clone(),
                uuid: g.uuid.clone(),
                owner: if g.external_id.is_some() {
                    "SCIM"
                } else {
                    "LOCAL"
                },
                description: g.description.clone(),
                account_uuid: org.account_uuid.clone(),
                account_name: org.name.clone(),
                federated_attribute_values: Vec::new(),
                created_at: time(g.created_at),
                updated_at: time(g.updated_at),
            })
            .collect(),
    }
}

/// One account a person belongs to: the organization and the person's user there.
#[derive(Debug, Clone)]
pub struct Account {
    /// The organization.
    pub org: Organization,
    /// The person's user in it.
    pub user: UserRecord,
}

/// The accounts of the person with `email`, oldest first: the identity index's
/// memberships, each re-checked against the user record (live, same email) so an entry
/// left by a change that stopped half-way is never believed.
pub async fn accounts<S: Store>(store: &S, email: &str) -> Result<Vec<Account>, DomainError> {
    let members = identity::memberships(store, email).await?.members;
    let mut out: Vec<Account> = Vec::new();
    for m in members {
        if out.iter().any(|a| a.org.id == m.org) {
            continue;
        }
        let org = match orgs::get(store, &m.org).await {
            Ok(o) => o,
            Err(DomainError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let user = match users::get_any(store, &org, &m.user).await {
            Ok(u) => u,
            Err(DomainError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        if user.is_live() && user.email.eq_ignore_ascii_case(email) {
            out.push(Account { org, user });
        }
    }
    Ok(out)
}

/// Whether the owner-account rule refuses removing the person from `org`: it is their
/// owner account (the oldest) and other accounts remain.
pub fn owner_rule_refuses(accounts: &[Account], org: &Organization) -> bool {
    accounts.first().is_some_and(|a| a.org.id == org.id) && accounts.len() > 1
}

async fn user_groups<S: Store>(
    store: &S,
    org: &Organization,
    names: &[String],
) -> Result<Vec<Group>, DomainError> {
    let mut out = Vec::new();
    for name in names {
        if let Some(g) = groups::find(store, org, name).await? {
            out.push(g);
        }
    }
    Ok(out)
}

/// `/v1/accounts/:accountUuid/users/:email`: DELETE removes the person from the account
/// (seed 002). `?dryRun=true` reports instead.
pub struct User;

impl Endpoint for User {
    const ROUTE: &'static str = "/v1/accounts/:accountUuid/users/:email";
    const ALLOW: &'static str = "DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "DELETE" => Some(Requirement::of(Permission::new(
                Resource::MdmUser,
                Action::Remove,
            ))),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        delete(req, store, ctx).await.unwrap_or_else(|e| e)
    }
}

async fn delete<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiResponse> {
    let caller = crate::admit::<User, S>(req, store, ctx)
        .await
        .map_err(refusal)?;
    let dry_run = params::flag(req, "dryRun")
        .map_err(|e| exception(StatusCode::BAD_REQUEST, &e.to_string()))?
        .unwrap_or(false);
    let account = req.param("accountUuid").unwrap_or_default();
    let org = orgs::resolve_account(store, &account)
        .await
        .and_then(|o| auth::visible(&caller, o))
        .map_err(domain_error)?;
    let email = req.param("email").unwrap_or_default();
    let user = users::find_by_email(store, &org, &email)
        .await
        .map_err(domain_error)?
        .ok_or_else(not_found)?;
    // The owner-account rule applies to a removal this request would start; one already
    // under way is finished whatever it is.
    let before = if user.is_live() {
        accounts(store, &user.email).await.map_err(domain_error)?
    } else {
        Vec::new()
    };
    let refused = owner_rule_refuses(&before, &org);
    let policy = RemovalPolicy::dynatrace().by(caller.actor());
    let groups = user_groups(store, &org, &user.groups)
        .await
        .map_err(domain_error)?;
    if dry_run {
        let plan = removal::plan(store, &org, &user.id, &policy, ctx.now)
            .await
            .map_err(removal_error)?;
        let mut blockers = Vec::new();
        if refused {
            blockers.push(json!({ "code": 400, "message": CANNOT_DELETE_MESSAGE }));
        }
        if plan.blockers.contains(&removal::Blocker::PendingDeletion) {
            blockers.push(json!({ "code": 409, "message": "The user is being removed" }));
        }
        let last = before.iter().all(|a| a.org.id == org.id);
        return Ok(json(
            StatusCode::OK,
            &json!({
                "dryRun": true,
                "removable": blockers.is_empty(),
                "removesPerson": last,
                "wouldRemove": plan.would_remove,
                "blockers": blockers,
                "users": [rest_user(&plan.user, &org, &groups, &before)],
            }),
        ));
    }
    if refused {
        return Err(exception(StatusCode::BAD_REQUEST, CANNOT_DELETE_MESSAGE));
    }
    match removal::remove_user(store, &org, &user.id, &policy, ctx.now).await {
        Ok(Outcome::Finished(r)) => {
            let after = accounts(store, &r.user.email).await.map_err(domain_error)?;
            Ok(json(
                StatusCode::OK,
                &serde_json::to_value([rest_user(&r.user, &org, &groups, &after)])
                    .unwrap_or_default(),
            ))
        }
        // The Dynatrace policy is synchronous; kept total.
        Ok(Outcome::InProgress { .. }) => {
            eprintln!("roster: 500 on dynatrace: a synchronous removal answered in progress");
            Err(internal())
        }
        Err(e) => Err(removal_error(e)),
    }
}
