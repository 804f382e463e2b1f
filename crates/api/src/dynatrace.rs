//! Seed 002: Dynatrace account management's "Remove user",
//! `DELETE /v1/accounts/:accountUuid/users/:email`.
//!
//! An account is an organization (found by its `accountUuid` alias); a person is the set
//! of users with one email across organizations (the identity index, re-checked
//! against each user record). A user without email is no person here: it is never
//! found (404). Removing the person from an account removes that
//! organization's user with all its dependents; when it was the person's last account
//! the person is gone. The person's owner account (the oldest membership) is left
//! last: removing them from it while other accounts remain answers 400 "Cannot delete
//! user from this account".
//!
//! Success is 200 with a `RestUserWithGroups[]` of one element: the user removed, as
//! it was in that account (with its groups there), and where the person stands now
//! (`accountUuids`, `ownerAccountUuid`; empty and `null` when they are gone). Errors
//! are `ExceptionMessage`s `{"code":N,"message":"…"}`: every failure is an [`Error`],
//! answered in [`Error::into_response`](crate::SurfaceError::into_response) alone.
//! `docs/seeds.md` lists every answer.

use crate::auth::{self, AuthFailure, Caller};
use crate::params::{self, json};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use crate::{Refusal, SurfaceError};
use http::{HeaderValue, StatusCode, header};
use roster_domain::model::{Group, IdentitySource, Organization, User as UserRecord, UserStatus};
use roster_domain::removal::{self, RemovalError, RemovalOutcome, RemovalPolicy};
use roster_domain::{
    DomainError, Store, Timestamp, ValidationError, groups, identity, orgs, users,
};
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

/// Every way a request on this surface fails. [`SurfaceError::into_response`] is the
/// one mapping to the seed's `ExceptionMessage`s, and logs the cause of every 500.
#[derive(Debug)]
pub enum Error {
    /// Before the route ran: the method (405, `Allow: DELETE`), or the caller (401,
    /// 403, 429; 404 for a missing organization, as the account is in the path).
    Refused(Refusal),
    /// A query parameter is invalid (400, naming it).
    InvalidParameter(ValidationError),
    /// No such account or user, or an account the token may not see (404).
    NotFound,
    /// The owner-account rule: the person's oldest account goes last (400).
    OwnerAccount,
    /// The removal engine refused or failed (404, 400, 500).
    Removal(RemovalError),
    /// A store failure or a record that did not decode (500); a missing entity or an
    /// invalid name is 404.
    Domain(DomainError),
    /// The synchronous policy answered "in progress" (500; not reachable, kept total).
    UnexpectedInProgress,
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Self::InvalidParameter(e)
    }
}

impl From<RemovalError> for Error {
    fn from(e: RemovalError) -> Self {
        Self::Removal(e)
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Self::Domain(e)
    }
}

impl SurfaceError for Error {
    fn into_response(self) -> ApiResponse {
        match self {
            Error::Refused(Refusal::MethodNotAllowed(allow)) => {
                let mut resp = exception(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
            Error::Refused(Refusal::Auth(a)) => auth_failure(a),
            Error::InvalidParameter(e) => exception(StatusCode::BAD_REQUEST, &e.to_string()),
            Error::NotFound => not_found(),
            Error::OwnerAccount => exception(StatusCode::BAD_REQUEST, CANNOT_DELETE_MESSAGE),
            Error::Removal(e) => removal_error(e),
            Error::Domain(e) => domain_error(e),
            Error::UnexpectedInProgress => {
                eprintln!("roster: 500 on dynatrace: a synchronous removal answered in progress");
                internal()
            }
        }
    }
}

/// 401 (no token, invalid token; with a challenge), 403, 429, 500.
fn auth_failure(a: AuthFailure) -> ApiResponse {
    match a {
        AuthFailure::NoToken => auth::challenged(
            exception(
                StatusCode::UNAUTHORIZED,
                "Authentication failed: no bearer token",
            ),
            auth::REALM,
            false,
        ),
        AuthFailure::Unauthorized => auth::challenged(
            exception(
                StatusCode::UNAUTHORIZED,
                "Authentication failed: the token is not valid",
            ),
            auth::REALM,
            true,
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

fn removal_error(e: RemovalError) -> ApiResponse {
    match e {
        RemovalError::NotFound => not_found(),
        // The seed's 400 ExceptionMessage, naming the hold.
        RemovalError::Refused(b @ removal::Blocker::LegalHold { .. }) => {
            exception(StatusCode::BAD_REQUEST, &legal_hold_message(b))
        }
        // Likewise for a missing export.
        RemovalError::Refused(b @ removal::Blocker::ExportRequired { .. }) => {
            exception(StatusCode::BAD_REQUEST, &export_message(b))
        }
        // No other guard of the Dynatrace policy refuses; kept total.
        RemovalError::Refused(_) => exception(StatusCode::BAD_REQUEST, CANNOT_DELETE_MESSAGE),
        RemovalError::Domain(d) => domain_error(d),
    }
}

/// The seed's 400 message, followed by the legal hold that refuses the removal.
fn legal_hold_message(b: removal::Blocker) -> String {
    format!(
        "{CANNOT_DELETE_MESSAGE}: the user is {}",
        b.hold_description().unwrap_or_default()
    )
}

/// The seed's 400 message, followed by the missing export that refuses the removal.
fn export_message(b: removal::Blocker) -> String {
    format!(
        "{CANNOT_DELETE_MESSAGE}: there is {}",
        b.export_description().unwrap_or_default()
    )
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
    /// Last successful sign-in (RFC 3339), `null` when never.
    pub last_successful_login: Option<String>,
    /// Last failed sign-in (RFC 3339), `null` when never.
    pub last_failed_login: Option<String>,
    /// When a password reset was last issued (RFC 3339), `null` when never.
    pub reset_password_token_sent_at: Option<String>,
    /// Roster has no basic authentication of end users: always `null`.
    pub last_successful_basic_authentication: Option<String>,
    /// The user's creation time (RFC 3339).
    pub created_at: String,
    /// The user's last update (RFC 3339).
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
    /// Free text, `""` when unset.
    pub description: String,
    /// The account (organization) the group belongs to.
    #[serde(rename = "accountUUID")]
    pub account_uuid: String,
    /// That account's name.
    pub account_name: String,
    /// SAML federation values: Roster federates no groups, always empty.
    pub federated_attribute_values: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last update (RFC 3339).
    pub updated_at: String,
}

/// `RestUserWithGroups`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestUserWithGroups {
    /// The user's UUID in the account.
    pub uid: String,
    /// The person's email: the same in every account.
    pub email: String,
    /// Given name (`""` when unset).
    pub name: String,
    /// Family name (`""` when unset).
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
    /// When the password was last set (RFC 3339), `null` when never.
    pub password_changed_at: Option<String>,
    /// Sign-in statistics.
    pub user_login_metadata: RestUserLoginMetadata,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last update (RFC 3339).
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
        email: u.email.clone().unwrap_or_default(),
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
        user_login_metadata: login_metadata(u),
        created_at: time(u.created_at),
        updated_at: time(u.updated_at),
        groups: groups.iter().map(|g| rest_group(g, org)).collect(),
    }
}

fn login_metadata(u: &UserRecord) -> RestUserLoginMetadata {
    RestUserLoginMetadata {
        successful_login_counter: u.login.successful_login_counter,
        failed_login_counter: u.login.failed_login_counter,
        last_successful_login: u.login.last_successful_login.map(time),
        last_failed_login: u.login.last_failed_login.map(time),
        reset_password_token_sent_at: u.login.reset_password_token_sent_at.map(time),
        last_successful_basic_authentication: None,
        created_at: time(u.created_at),
        updated_at: time(u.updated_at),
    }
}

fn rest_group(g: &Group, org: &Organization) -> RestUserGroup {
    RestUserGroup {
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
        if user.is_live()
            && user
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        {
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

crate::endpoint! {
    /// `/v1/accounts/:accountUuid/users/:email`: DELETE removes the person from the
    /// account (seed 002). `?dryRun=true` reports instead.
    pub struct UserRoute {
        route: "/v1/accounts/:accountUuid/users/:email",
        error: Error,
        DELETE need(MdmUser, Remove) => delete_user,
    }
}

/// What a DELETE acts on: the account, the person's user there, where the person
/// stands before the removal, and the user's groups in the account.
struct Target {
    org: Organization,
    /// The person's email (the user's, as stored).
    email: String,
    user: UserRecord,
    before: Vec<Account>,
    groups: Vec<Group>,
}

/// DELETE: the seed's "Remove user", or its dry run.
async fn delete_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let caller = crate::admit::<UserRoute, S>(req, store, ctx).await?;
    let dry_run = params::flag(req, "dryRun")?.unwrap_or(false);
    let target = find_target(req, store, &caller).await?;
    let refused = owner_rule_refuses(&target.before, &target.org);
    let policy = RemovalPolicy::dynatrace().by(caller.actor());
    if dry_run {
        return dry_run_answer(store, ctx, &target, &policy, refused).await;
    }
    if refused {
        return Err(Error::OwnerAccount);
    }
    let Target {
        org,
        email,
        user,
        groups,
        ..
    } = target;
    match removal::remove_user(store, &org, &user.id, &policy, ctx.now).await? {
        RemovalOutcome::Finished(r) => {
            let after = accounts(store, &email).await?;
            Ok(json(
                StatusCode::OK,
                &serde_json::to_value([rest_user(&r.user, &org, &groups, &after)])
                    .unwrap_or_default(),
            ))
        }
        // The Dynatrace policy is synchronous; kept total.
        RemovalOutcome::InProgress { .. } => Err(Error::UnexpectedInProgress),
    }
}

/// The account (404 when unknown or not the caller's to see), the user with the path's
/// email in it (404 when none: a user without email is never found), and the person's
/// accounts. The owner-account rule applies to a removal
/// this request would start; one already under way is finished whatever it is.
async fn find_target<S: Store>(
    req: &ApiRequest,
    store: &S,
    caller: &Caller,
) -> Result<Target, Error> {
    let account = req.param("accountUuid").unwrap_or_default();
    let org = auth::visible(caller, orgs::resolve_account(store, &account).await?)?;
    let email = req.param("email").unwrap_or_default();
    let user = users::find_by_email(store, &org, &email)
        .await?
        .ok_or(Error::NotFound)?;
    let email = user.email.clone().ok_or(Error::NotFound)?;
    let before = if user.is_live() {
        accounts(store, &email).await?
    } else {
        Vec::new()
    };
    let groups = user_groups(store, &org, &user.groups).await?;
    Ok(Target {
        org,
        email,
        user,
        before,
        groups,
    })
}

/// `?dryRun=true`: what the removal would do, and what refuses it.
async fn dry_run_answer<S: Store>(
    store: &S,
    ctx: &Ctx,
    t: &Target,
    policy: &RemovalPolicy,
    refused: bool,
) -> Result<ApiResponse, Error> {
    let plan = removal::plan(store, &t.org, &t.user.id, policy, ctx.now).await?;
    let mut blockers = Vec::new();
    if refused {
        blockers.push(json!({ "code": 400, "message": CANNOT_DELETE_MESSAGE }));
    }
    if plan.blockers.contains(&removal::Blocker::PendingDeletion) {
        blockers.push(json!({ "code": 409, "message": "The user is being removed" }));
    }
    for b in &plan.blockers {
        if let removal::Blocker::LegalHold { .. } = b {
            blockers.push(json!({ "code": 400, "message": legal_hold_message(*b) }));
        }
        if let removal::Blocker::ExportRequired { .. } = b {
            blockers.push(json!({ "code": 400, "message": export_message(*b) }));
        }
    }
    let last = t.before.iter().all(|a| a.org.id == t.org.id);
    Ok(json(
        StatusCode::OK,
        &json!({
            "dryRun": true,
            "removable": blockers.is_empty(),
            "removesPerson": last,
            "wouldRemove": plan.would_remove,
            "blockers": blockers,
            "users": [rest_user(&plan.user, &t.org, &t.groups, &t.before)],
        }),
    ))
}
