//! The WSO2 routes, one struct (one component) per path of seed 003.

use super::dto::*;
use super::{
    Failure, Outcome, bare, content, dry_run, enter, index_query, json_body, message, need,
    password, respond, search_query, username, username_query,
};
use crate::Endpoint;
use crate::auth::{Caller, Requirement};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{Method, StatusCode};
use roster_domain::ids::Username;
use roster_domain::model::{Organization, User};
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::removal::{self, Outcome as Removal, RemovalPolicy, remove_user};
use roster_domain::{DomainError, Store, ValidationError};
use roster_domain::{count, devices, enrollment, groups, users};

/// How many users one listing read asks the domain for.
const PAGE: usize = 200;

/// Finds the user a request names; `raw` is the name as given (for messages).
async fn find_user<S: Store>(
    store: &S,
    org: &Organization,
    raw: &str,
    name: &Username,
) -> Result<User, Failure> {
    users::find_by_username(store, org, name.as_str())
        .await
        .map_err(|e| Failure::Domain(e, raw.to_owned()))?
        .ok_or_else(|| Failure::NoSuchUser(raw.to_owned()))
}

/// Every user of the organization whose username contains `needle` (lowercase; `None`
/// or empty: every user), sorted by username as WSO2's user stores list them.
async fn users_matching<S: Store>(
    store: &S,
    org: &Organization,
    needle: Option<&str>,
) -> Result<Vec<User>, Failure> {
    let needle = needle.filter(|n| !n.is_empty());
    let mut query = users::ListQuery {
        after: 0,
        limit: PAGE,
        status: None,
        group: None,
        // The domain's search also looks at emails and names: narrowed below.
        q: needle.map(str::to_owned),
    };
    let mut out = Vec::new();
    loop {
        let page = users::list(store, org, &query)
            .await
            .map_err(|e| Failure::Domain(e, String::new()))?;
        out.extend(
            page.users
                .into_iter()
                .filter(|u| needle.is_none_or(|n| u.username.to_lowercase().contains(n))),
        );
        match page.next {
            Some(next) => query.after = next,
            None => break,
        }
    }
    out.sort_by(|a, b| {
        a.username
            .to_lowercase()
            .cmp(&b.username.to_lowercase())
            .then_with(|| a.username.cmp(&b.username))
    });
    Ok(out)
}

/// Roles a request names: validated (`PRIMARY/` stripped), deduplicated
/// case-insensitively; and which of them do not exist yet. A missing role is created
/// only for a caller that may create groups.
async fn plan_roles<S: Store>(
    store: &S,
    org: &Organization,
    caller: &Caller,
    raw: &[String],
) -> Result<(Vec<String>, Vec<String>), Failure> {
    if raw.len() > groups::MAX_GROUPS_PER_USER {
        return Err(ValidationError::new("roles", "must have at most 64 entries").into());
    }
    let (mut names, mut missing) = (Vec::<String>::new(), Vec::new());
    for (i, r) in raw.iter().enumerate() {
        let field = format!("roles[{i}]");
        let name = groups::parse_name(&field, super::strip_domain(&field, r)?)?;
        if names
            .iter()
            .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            continue;
        }
        let exists = groups::find(store, org, &name)
            .await
            .map_err(|e| Failure::Domain(e, String::new()))?
            .is_some();
        if !exists {
            let create = Permission::new(Resource::Group, Action::Create);
            if !caller.allows(create) {
                return Err(ValidationError::new(
                    field,
                    format!("no role named {name} (creating it requires {create})"),
                )
                .into());
            }
            missing.push(name.clone());
        }
        names.push(name);
    }
    Ok((names, missing))
}

/// Creates the roles [`plan_roles`] found missing (one created concurrently is fine),
/// then sets them as the user's complete set of roles.
async fn assign_roles<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    (names, missing): (Vec<String>, Vec<String>),
    raw_name: &str,
    ctx: &Ctx,
) -> Result<(), Failure> {
    let domain = |e| Failure::Domain(e, raw_name.to_owned());
    for name in missing {
        match groups::create(store, org, name, String::new(), ctx.now).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => {}
            Err(e) => return Err(domain(e)),
        }
    }
    groups::set_user_groups(store, org, &user.id, &names, None, ctx.now)
        .await
        .map_err(domain)?;
    Ok(())
}

/// `/mdm-admin/users` (and `/mdm-admin/users/`: Spin ignores one trailing slash):
/// POST adds a user (201), GET lists every user (200), PUT `?username=` updates one
/// (201), DELETE `?username=` removes one (200; `dryRun=true` only reports).
pub struct Users;

impl Endpoint for Users {
    const ROUTE: &'static str = "/mdm-admin/users";
    const ALLOW: &'static str = "GET, POST, PUT, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            "POST" => need(Resource::MdmUser, Action::Create),
            "PUT" => need(Resource::MdmUser, Action::Update),
            "DELETE" => need(Resource::MdmUser, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                match req.method {
                    Method::GET => list_all(store, &org).await,
                    Method::POST => add(req, store, ctx, &org, &caller).await,
                    Method::PUT => update(req, store, ctx, &org, &caller).await,
                    _ => remove(req, store, ctx, &org, &caller).await,
                }
            }
            .await,
        )
    }
}

async fn list_all<S: Store>(store: &S, org: &Organization) -> Outcome {
    let all = users_matching(store, org, None).await?;
    let out: Vec<UserResponse> = all.iter().map(UserResponse::from).collect();
    Ok(content(
        StatusCode::OK,
        &format!(
            "All users were successfully retrieved. Obtained user count: {}",
            out.len()
        ),
        &out,
    ))
}

async fn add<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: &Organization,
    caller: &Caller,
) -> Outcome {
    let body: AddUserRequest = json_body(req)?;
    let name = username("username", &body.username)?;
    let mut new = users::NewUser::parse(
        name.as_str(),
        &body.email_address,
        body.firstname.as_deref(),
        body.lastname.as_deref(),
    )?;
    if let Some(encoded) = &body.password {
        new = new.with_password("password", &password("password", encoded)?)?;
    }
    let roles = plan_roles(store, org, caller, body.roles.as_deref().unwrap_or(&[])).await?;
    let user = users::create(store, org, new, ctx.now)
        .await
        .map_err(|e| Failure::Domain(e, body.username.clone()))?;
    if !roles.0.is_empty() {
        assign_roles(store, org, &user, roles, &body.username, ctx).await?;
    }
    Ok(message(
        StatusCode::CREATED,
        &format!(
            "User by username: {} was successfully added.",
            body.username
        ),
    ))
}

async fn update<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: &Organization,
    caller: &Caller,
) -> Outcome {
    let (raw, name) = username_query(req)?;
    let body: UpdateUserRequest = json_body(req)?;
    if let Some(given) = &body.username
        && username("username", given)?.folded() != name.folded()
    {
        return Err(ValidationError::new(
            "username",
            "must name the user of the username query parameter (usernames cannot change)",
        )
        .into());
    }
    let changes = users::UserChanges::parse(
        body.email_address.as_deref(),
        body.firstname.as_deref(),
        body.lastname.as_deref(),
    )?;
    let user = find_user(store, org, &raw, &name).await?;
    let roles = match &body.roles {
        Some(r) => Some(plan_roles(store, org, caller, r).await?),
        None => None,
    };
    let user = users::update(store, org, &user.id, None, changes, ctx.now)
        .await
        .map_err(|e| Failure::Domain(e, raw.clone()))?;
    if let Some(roles) = roles {
        assign_roles(store, org, &user, roles, &raw, ctx).await?;
    }
    Ok(message(
        StatusCode::CREATED,
        &format!("User by username: {raw} was successfully updated."),
    ))
}

async fn remove<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    org: &Organization,
    caller: &Caller,
) -> Outcome {
    let (raw, name) = username_query(req)?;
    let dry = dry_run(req)?;
    let user = find_user(store, org, &raw, &name).await?;
    let policy = RemovalPolicy::wso2().by(caller.actor());
    let removal_failure = |e| Failure::Removal(e, raw.clone());
    if dry {
        let plan = removal::plan(store, org, &user.id, &policy, ctx.now)
            .await
            .map_err(removal_failure)?;
        let removable = plan.blockers.is_empty();
        let out = PlanResponse {
            dry_run: true,
            username: plan.user.username.clone(),
            removable,
            mode: plan.mode,
            would_remove: plan.would_remove,
            blockers: plan
                .blockers
                .iter()
                .map(|b| BlockerResponse {
                    blocker: *b,
                    message: super::blocker_message(*b),
                })
                .collect(),
        };
        let text = if removable {
            format!("User by username: {raw} can be removed. Nothing was changed (dry run).")
        } else {
            format!("User by username: {raw} cannot be removed. Nothing was changed (dry run).")
        };
        return Ok(content(StatusCode::OK, &text, &out));
    }
    match remove_user(store, org, &user.id, &policy, ctx.now)
        .await
        .map_err(removal_failure)?
    {
        Removal::Finished(_) => Ok(message(
            StatusCode::OK,
            &format!("User by username: {raw} was successfully removed."),
        )),
        // The WSO2 policy is synchronous; kept total for a policy that is not.
        Removal::InProgress { operation, .. } => Ok(content(
            StatusCode::ACCEPTED,
            &format!("User by username: {raw} is being removed."),
            &serde_json::json!({ "operationId": operation.id }),
        )),
    }
}

/// `/mdm-admin/users/view?username=`: GET one user.
pub struct UsersView;

impl Endpoint for UsersView {
    const ROUTE: &'static str = "/mdm-admin/users/view";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let (raw, name) = username_query(req)?;
                let user = find_user(store, &org, &raw, &name).await?;
                Ok(content(
                    StatusCode::OK,
                    "User information was retrieved successfully.",
                    &UserResponse::from(&user),
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/email-invitation`: POST a JSON array of usernames; each gets an
/// enrollment token and an invitation in the organization's outbox (the mailer
/// delivers it). Every username must exist, or nobody is invited.
pub struct UsersEmailInvitation;

impl Endpoint for UsersEmailInvitation {
    const ROUTE: &'static str = "/mdm-admin/users/email-invitation";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Invite),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let raw: Vec<String> = json_body(req)?;
                if raw.is_empty() || raw.len() > super::MAX_INVITATIONS {
                    return Err(ValidationError::new(
                        "body",
                        format!(
                            "must be an array of 1 to {} usernames",
                            super::MAX_INVITATIONS
                        ),
                    )
                    .into());
                }
                // Check every name before inviting anyone.
                let mut invitees: Vec<(String, User)> = Vec::new();
                for (i, r) in raw.iter().enumerate() {
                    let name = username(&format!("body[{i}]"), r)?;
                    let user = find_user(store, &org, r, &name).await?;
                    if !invitees.iter().any(|(_, u)| u.id == user.id) {
                        invitees.push((r.clone(), user));
                    }
                }
                let ttl = enrollment::parse_ttl("expiresIn", None)?;
                for (r, user) in invitees {
                    match enrollment::invite(store, &org, &user.username, ttl, ctx.now)
                        .await
                        .map_err(|e| Failure::Domain(e, r.clone()))?
                    {
                        enrollment::Invited::Yes { .. } => {}
                        // Removed since the check above.
                        enrollment::Invited::NotFound => return Err(Failure::NoSuchUser(r)),
                    }
                }
                Ok(message(
                    StatusCode::OK,
                    "Email invitation was successfully sent to user.",
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/devices?username=`: GET the user's devices as a bare array of the
/// seed's device JSON; `start` (0-based) and `length` (0 or absent: all) page it.
pub struct UsersDevices;

impl Endpoint for UsersDevices {
    const ROUTE: &'static str = "/mdm-admin/users/devices";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Device, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let (raw, name) = username_query(req)?;
                let start = index_query(req, "start")?.unwrap_or(0);
                let length = index_query(req, "length")?
                    .filter(|n| *n > 0)
                    .unwrap_or(usize::MAX);
                let user = find_user(store, &org, &raw, &name).await?;
                let list = devices::list(store, &org, &user.id)
                    .await
                    .map_err(|e| Failure::Domain(e, raw.clone()))?;
                let out: Vec<DeviceResponse> = list
                    .iter()
                    .skip(start)
                    .take(length)
                    .map(|d| DeviceResponse::new(d, &user.username))
                    .collect();
                Ok(bare(StatusCode::OK, &out))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/roles?username=`: GET the user's roles, as the seed shapes them
/// (`[["marketing"]]`: one array holding the names).
pub struct UsersRoles;

impl Endpoint for UsersRoles {
    const ROUTE: &'static str = "/mdm-admin/users/roles";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let (raw, name) = username_query(req)?;
                let user = find_user(store, &org, &raw, &name).await?;
                Ok(content(
                    StatusCode::OK,
                    &format!("User roles obtained for user {raw}"),
                    &[&user.groups],
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/count`: GET the number of users, a bare integer (O(1) reads).
pub struct UsersCount;

impl Endpoint for UsersCount {
    const ROUTE: &'static str = "/mdm-admin/users/count";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let n = count::total(store, &org.id)
                    .await
                    .map_err(|e| Failure::Domain(e, String::new()))?;
                Ok(bare(StatusCode::OK, &n))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/view-users?username=`: GET the details of every user whose
/// username contains the text (case-insensitive).
pub struct UsersViewUsers;

impl Endpoint for UsersViewUsers {
    const ROUTE: &'static str = "/mdm-admin/users/view-users";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let needle = search_query(req)?;
                let found = users_matching(store, &org, Some(&needle)).await?;
                let out: Vec<UserResponse> = found.iter().map(UserResponse::from).collect();
                Ok(content(
                    StatusCode::OK,
                    &format!(
                        "All users by username were successfully retrieved. Obtained user count: {}",
                        out.len()
                    ),
                    &out,
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/users-by-username?username=`: GET the usernames that contain the
/// text (case-insensitive), names only.
pub struct UsersByUsername;

impl Endpoint for UsersByUsername {
    const ROUTE: &'static str = "/mdm-admin/users/users-by-username";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let needle = search_query(req)?;
                let found = users_matching(store, &org, Some(&needle)).await?;
                let out: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
                Ok(content(
                    StatusCode::OK,
                    &format!(
                        "All users by username were successfully retrieved. Obtained user count: {}",
                        out.len()
                    ),
                    &out,
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/change-password`: POST `{username, oldPassword, newPassword}`
/// (passwords base64). A wrong old password and a user without one get the same 400.
pub struct UsersChangePassword;

impl Endpoint for UsersChangePassword {
    const ROUTE: &'static str = "/mdm-admin/users/change-password";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let body: ChangePasswordRequest = json_body(req)?;
                let name = username("username", &body.username)?;
                let old = password("oldPassword", &body.old_password)?;
                let new = password("newPassword", &body.new_password)?;
                let user = find_user(store, &org, &body.username, &name).await?;
                users::change_password(store, &org, &user.id, &old, &new, ctx.now)
                    .await
                    .map_err(|e| match e {
                        users::PasswordChangeError::Refused => Failure::PasswordRefused,
                        users::PasswordChangeError::Domain(d) => {
                            Failure::Domain(d, body.username.clone())
                        }
                    })?;
                Ok(message(
                    StatusCode::CREATED,
                    &format!(
                        "User password by username: {} was successfully changed.",
                        body.username
                    ),
                ))
            }
            .await,
        )
    }
}

/// `/mdm-admin/users/reset-password`: POST `{username, newPassword}` (base64; an
/// `oldPassword` is accepted and ignored) sets the password without the old one.
pub struct UsersResetPassword;

impl Endpoint for UsersResetPassword {
    const ROUTE: &'static str = "/mdm-admin/users/reset-password";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        respond(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                let body: ResetPasswordRequest = json_body(req)?;
                let name = username("username", &body.username)?;
                let new = password("newPassword", &body.new_password)?;
                let user = find_user(store, &org, &body.username, &name).await?;
                users::reset_password(store, &org, &user.id, &new, ctx.now)
                    .await
                    .map_err(|e| Failure::Domain(e, body.username.clone()))?;
                Ok(message(
                    StatusCode::CREATED,
                    &format!(
                        "User password by username: {} was successfully changed.",
                        body.username
                    ),
                ))
            }
            .await,
        )
    }
}
