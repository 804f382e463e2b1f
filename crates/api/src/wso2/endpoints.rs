//! The WSO2 routes, one struct (one component) per path of seed 003, each declared with
//! [`endpoint!`](crate::endpoint); handlers fail with [`super::Error`].

use super::dto::*;
use super::{
    Error, bare, content, dry_run, enter, index_query, json_body, message, password, search_query,
    username, username_query,
};
use crate::auth::Caller;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::ids::{Email, Username};
use roster_domain::model::{Organization, User};
use roster_domain::permissions::{Action, Permission, Resource};
use roster_domain::removal::{self, Plan, RemovalOutcome, RemovalPolicy};
use roster_domain::{DomainError, Store, ValidationError};
use roster_domain::{count, devices, enrollment, groups, users};
use roster_lowercase::Lowercase as _;

/// How many users one listing read asks the domain for.
const PAGE: usize = 200;

/// Finds the user a request names; `raw` is the name as given (for messages).
async fn find_user<S: Store>(
    store: &S,
    org: &Organization,
    raw: &str,
    name: &Username,
) -> Result<User, Error> {
    users::find_by_username(store, org, name.as_str())
        .await
        .map_err(|e| Error::Domain(e, raw.to_owned()))?
        .ok_or_else(|| Error::NoSuchUser(raw.to_owned()))
}

/// Every user of the organization whose username contains `needle` (lowercase; `None`
/// or empty: every user), sorted by username as WSO2's user stores list them.
async fn users_matching<S: Store>(
    store: &S,
    org: &Organization,
    needle: Option<&str>,
) -> Result<Vec<User>, Error> {
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
        let page = users::list(store, org, &query).await?;
        out.extend(
            page.users
                .into_iter()
                .filter(|u| needle.is_none_or(|n| u.username.lowercase().contains(n))),
        );
        match page.next {
            Some(next) => query.after = next,
            None => break,
        }
    }
    out.sort_by(|a, b| {
        a.username
            .lowercase()
            .cmp(&b.username.lowercase())
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
) -> Result<(Vec<String>, Vec<String>), Error> {
    if raw.len() > groups::MAX_GROUPS_PER_USER {
        return Err(ValidationError::new("roles", "must have at most 64 entries").into());
    }
    let (mut names, mut missing) = (Vec::<String>::new(), Vec::new());
    for (i, r) in raw.iter().enumerate() {
        let field = format!("roles[{i}]");
        let name = groups::parse_name(&field, super::strip_domain(&field, r)?)?;
        if names.iter().any(|n| n.lowercase() == name.lowercase()) {
            continue;
        }
        let exists = groups::find(store, org, &name).await?.is_some();
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
) -> Result<(), Error> {
    let domain = |e| Error::Domain(e, raw_name.to_owned());
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

crate::endpoint! {
    /// `/mdm-admin/users` (and `/mdm-admin/users/`: Spin ignores one trailing slash):
    /// POST adds a user (201), GET lists every user (200), PUT `?username=` updates one
    /// (201), DELETE `?username=` removes one (200; `dryRun=true` only reports).
    pub struct UsersRoute {
        route: "/mdm-admin/users",
        error: Error,
        GET need(MdmUser, Read) => list_users,
        POST need(MdmUser, Create) => add_user,
        PUT need(MdmUser, Update) => update_user,
        DELETE need(MdmUser, Remove) => remove_user,
    }
}

/// GET: every user, sorted by username.
async fn list_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersRoute, S>(req, store, ctx).await?;
    let all = users_matching(store, &org, None).await?;
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

/// POST: adds the user of WSO2's user JSON, with its roles.
async fn add_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UsersRoute, S>(req, store, ctx).await?;
    let body: AddUserRequest = json_body(req)?;
    let name = username("username", &body.username)?;
    let mut new = users::NewUser::parse(
        name.as_str(),
        body.email_address.as_deref(),
        body.firstname.as_deref(),
        body.lastname.as_deref(),
    )?;
    if let Some(encoded) = &body.password {
        new = new.with_password("password", &password("password", encoded)?)?;
    }
    let roles = plan_roles(store, &org, &caller, body.roles.as_deref().unwrap_or(&[])).await?;
    let user = users::create(store, &org, new, ctx.now)
        .await
        .map_err(|e| Error::Domain(e, body.username.clone()))?;
    if !roles.0.is_empty() {
        assign_roles(store, &org, &user, roles, &body.username, ctx).await?;
    }
    Ok(message(
        StatusCode::CREATED,
        &format!(
            "User by username: {} was successfully added.",
            body.username
        ),
    ))
}

/// PUT `?username=`: updates the user's names, email and (when given) roles.
async fn update_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UsersRoute, S>(req, store, ctx).await?;
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
    let mut changes =
        users::UserChanges::parse(None, body.firstname.as_deref(), body.lastname.as_deref())?;
    // `""` removes the email, like the names; another value replaces it.
    changes.email = match body.email_address.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(e) => Some(Some(Email::parse("email", e)?)),
    };
    let user = find_user(store, &org, &raw, &name).await?;
    let roles = match &body.roles {
        Some(r) => Some(plan_roles(store, &org, &caller, r).await?),
        None => None,
    };
    let user = users::update(store, &org, &user.id, None, changes, ctx.now)
        .await
        .map_err(|e| Error::Domain(e, raw.clone()))?;
    if let Some(roles) = roles {
        assign_roles(store, &org, &user, roles, &raw, ctx).await?;
    }
    Ok(message(
        StatusCode::CREATED,
        &format!("User by username: {raw} was successfully updated."),
    ))
}

/// DELETE `?username=`: removes the user, or with `dryRun=true` reports what it would
/// do.
async fn remove_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UsersRoute, S>(req, store, ctx).await?;
    let (raw, name) = username_query(req)?;
    let dry = dry_run(req)?;
    let user = find_user(store, &org, &raw, &name).await?;
    let policy = RemovalPolicy::wso2().by(caller.actor());
    let removal_failure = |e| Error::Removal(e, raw.clone());
    if dry {
        let plan = removal::plan(store, &org, &user.id, &policy, ctx.now)
            .await
            .map_err(removal_failure)?;
        return Ok(plan_answer(&raw, plan));
    }
    match removal::remove_user(store, &org, &user.id, &policy, ctx.now)
        .await
        .map_err(removal_failure)?
    {
        RemovalOutcome::Finished(_) => Ok(message(
            StatusCode::OK,
            &format!("User by username: {raw} was successfully removed."),
        )),
        // The WSO2 policy is synchronous; kept total for a policy that is not.
        RemovalOutcome::InProgress { operation, .. } => Ok(content(
            StatusCode::ACCEPTED,
            &format!("User by username: {raw} is being removed."),
            &serde_json::json!({ "operationId": operation.id }),
        )),
    }
}

/// A dry run's answer for the user named `raw` (as given).
fn plan_answer(raw: &str, plan: Plan) -> ApiResponse {
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
    content(StatusCode::OK, &text, &out)
}

crate::endpoint! {
    /// `/mdm-admin/users/view?username=`: GET one user.
    pub struct UsersViewRoute {
        route: "/mdm-admin/users/view",
        error: Error,
        GET need(MdmUser, Read) => view_user,
    }
}

/// GET `?username=`: the user.
async fn view_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersViewRoute, S>(req, store, ctx).await?;
    let (raw, name) = username_query(req)?;
    let user = find_user(store, &org, &raw, &name).await?;
    Ok(content(
        StatusCode::OK,
        "User information was retrieved successfully.",
        &UserResponse::from(&user),
    ))
}

crate::endpoint! {
    /// `/mdm-admin/users/email-invitation`: POST a JSON array of usernames; each gets an
    /// enrollment token and an invitation in the organization's outbox (the mailer
    /// delivers it). Every username must exist and have an email address (one without
    /// is not deliverable: 400), or nobody is invited.
    pub struct UsersEmailInvitationRoute {
        route: "/mdm-admin/users/email-invitation",
        error: Error,
        POST need(MdmUser, Invite) => invite_users,
    }
}

/// POST: invites every user named, once each.
async fn invite_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersEmailInvitationRoute, S>(req, store, ctx).await?;
    let raw: Vec<String> = json_body(req)?;
    let invitees = invitees(store, &org, &raw).await?;
    let ttl = enrollment::parse_ttl("expiresIn", None)?;
    for (r, user) in invitees {
        match enrollment::invite(store, &org, &user.username, ttl, ctx.now)
            .await
            .map_err(|e| Error::Domain(e, r.clone()))?
        {
            enrollment::Invited::Yes { .. } => {}
            // Removed since the check in `invitees`.
            enrollment::Invited::NotFound => return Err(Error::NoSuchUser(r)),
            // Its email removed since the check in `invitees`.
            enrollment::Invited::NoEmail => return Err(Error::NotDeliverable(r)),
        }
    }
    Ok(message(
        StatusCode::OK,
        "Email invitation was successfully sent to user.",
    ))
}

/// The users an invitation names (1 to [`MAX_INVITATIONS`](super::MAX_INVITATIONS)),
/// each with the name as given, duplicates once: every name is checked (it exists, and
/// has an email to be invited at) before anyone is invited.
async fn invitees<S: Store>(
    store: &S,
    org: &Organization,
    raw: &[String],
) -> Result<Vec<(String, User)>, Error> {
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
    let mut invitees: Vec<(String, User)> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let name = username(&format!("body[{i}]"), r)?;
        let user = find_user(store, org, r, &name).await?;
        if user.email.is_none() {
            return Err(Error::NotDeliverable(r.clone()));
        }
        if !invitees.iter().any(|(_, u)| u.id == user.id) {
            invitees.push((r.clone(), user));
        }
    }
    Ok(invitees)
}

crate::endpoint! {
    /// `/mdm-admin/users/devices?username=`: GET the user's devices as a bare array of
    /// the seed's device JSON; `start` (0-based) and `length` (0 or absent: all) page it.
    pub struct UsersDevicesRoute {
        route: "/mdm-admin/users/devices",
        error: Error,
        GET need(Device, Read) => list_devices,
    }
}

/// GET `?username=&start=&length=`: one page of the user's devices.
async fn list_devices<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersDevicesRoute, S>(req, store, ctx).await?;
    let (raw, name) = username_query(req)?;
    let start = index_query(req, "start")?.unwrap_or(0);
    let length = index_query(req, "length")?
        .filter(|n| *n > 0)
        .unwrap_or(usize::MAX);
    let user = find_user(store, &org, &raw, &name).await?;
    let list = devices::list(store, &org, &user.id)
        .await
        .map_err(|e| Error::Domain(e, raw.clone()))?;
    let out: Vec<DeviceResponse> = list
        .iter()
        .skip(start)
        .take(length)
        .map(|d| DeviceResponse::new(d, &user.username))
        .collect();
    Ok(bare(StatusCode::OK, &out))
}

crate::endpoint! {
    /// `/mdm-admin/users/roles?username=`: GET the user's roles, as the seed shapes them
    /// (`[["marketing"]]`: one array holding the names).
    pub struct UsersRolesRoute {
        route: "/mdm-admin/users/roles",
        error: Error,
        GET need(MdmUser, Read) => list_roles,
    }
}

/// GET `?username=`: the user's role names.
async fn list_roles<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersRolesRoute, S>(req, store, ctx).await?;
    let (raw, name) = username_query(req)?;
    let user = find_user(store, &org, &raw, &name).await?;
    Ok(content(
        StatusCode::OK,
        &format!("User roles obtained for user {raw}"),
        &[&user.groups],
    ))
}

crate::endpoint! {
    /// `/mdm-admin/users/count`: GET the number of users, a bare integer (O(1) reads).
    pub struct UsersCountRoute {
        route: "/mdm-admin/users/count",
        error: Error,
        GET need(MdmUser, Read) => count_users,
    }
}

/// GET: the organization's user count.
async fn count_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersCountRoute, S>(req, store, ctx).await?;
    let n = count::total(store, &org.id).await?;
    Ok(bare(StatusCode::OK, &n))
}

crate::endpoint! {
    /// `/mdm-admin/users/view-users?username=`: GET the details of every user whose
    /// username contains the text (case-insensitive).
    pub struct UsersViewUsersRoute {
        route: "/mdm-admin/users/view-users",
        error: Error,
        GET need(MdmUser, Read) => view_users,
    }
}

/// GET `?username=`: the matching users.
async fn view_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersViewUsersRoute, S>(req, store, ctx).await?;
    let needle = search_query(req)?;
    let found = users_matching(store, &org, Some(&needle)).await?;
    let out: Vec<UserResponse> = found.iter().map(UserResponse::from).collect();
    Ok(search_answer(&out))
}

crate::endpoint! {
    /// `/mdm-admin/users/users-by-username?username=`: GET the usernames that contain
    /// the text (case-insensitive), names only.
    pub struct UsersByUsernameRoute {
        route: "/mdm-admin/users/users-by-username",
        error: Error,
        GET need(MdmUser, Read) => list_usernames,
    }
}

/// GET `?username=`: the matching usernames.
async fn list_usernames<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersByUsernameRoute, S>(req, store, ctx).await?;
    let needle = search_query(req)?;
    let found = users_matching(store, &org, Some(&needle)).await?;
    let out: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
    Ok(search_answer(&out))
}

/// The answer of both username searches: what they found, and how many.
fn search_answer<T: serde::Serialize>(found: &[T]) -> ApiResponse {
    content(
        StatusCode::OK,
        &format!(
            "All users by username were successfully retrieved. Obtained user count: {}",
            found.len()
        ),
        &found,
    )
}

crate::endpoint! {
    /// `/mdm-admin/users/change-password`: POST `{username, oldPassword, newPassword}`
    /// (passwords base64). A wrong old password and a user without one get the same 400.
    pub struct UsersChangePasswordRoute {
        route: "/mdm-admin/users/change-password",
        error: Error,
        POST need(MdmUser, Update) => change_password,
    }
}

/// POST: sets the new password if the old one matches.
async fn change_password<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersChangePasswordRoute, S>(req, store, ctx).await?;
    let body: ChangePasswordRequest = json_body(req)?;
    let name = username("username", &body.username)?;
    let old = password("oldPassword", &body.old_password)?;
    let new = password("newPassword", &body.new_password)?;
    let user = find_user(store, &org, &body.username, &name).await?;
    users::change_password(store, &org, &user.id, &old, &new, ctx.now)
        .await
        .map_err(|e| match e {
            users::PasswordChangeError::Refused => Error::PasswordRefused,
            users::PasswordChangeError::Domain(d) => Error::Domain(d, body.username.clone()),
        })?;
    Ok(password_changed(&body.username))
}

crate::endpoint! {
    /// `/mdm-admin/users/reset-password`: POST `{username, newPassword}` (base64; an
    /// `oldPassword` is accepted and ignored) sets the password without the old one.
    pub struct UsersResetPasswordRoute {
        route: "/mdm-admin/users/reset-password",
        error: Error,
        POST need(MdmUser, Update) => reset_password,
    }
}

/// POST: sets the new password.
async fn reset_password<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersResetPasswordRoute, S>(req, store, ctx).await?;
    let body: ResetPasswordRequest = json_body(req)?;
    let name = username("username", &body.username)?;
    let new = password("newPassword", &body.new_password)?;
    let user = find_user(store, &org, &body.username, &name).await?;
    users::reset_password(store, &org, &user.id, &new, ctx.now)
        .await
        .map_err(|e| Error::Domain(e, body.username.clone()))?;
    Ok(password_changed(&body.username))
}

/// The answer of both password routes (the seed says "changed" for a reset too).
fn password_changed(raw: &str) -> ApiResponse {
    message(
        StatusCode::CREATED,
        &format!("User password by username: {raw} was successfully changed."),
    )
}
