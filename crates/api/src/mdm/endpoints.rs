//! The canonical routes: organizations, users and what hangs off a user (devices,
//! enrollment tokens, groups, password, status), invitations and the outbox. Each is
//! declared with [`crate::endpoint!`] (one component in spin.toml) and has one handler
//! per method; every failure is a [`super::Error`].

use super::dto::*;
use super::{Error, enter, if_match, json_body, object_id, ok, optional_json};
use super::{with_etag, with_location};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::ids::ObjectId;
use roster_domain::model::{Device, DeviceStatus, Organization, Ownership, User};
use roster_domain::removal::{self, RemovalOutcome, RemovalPolicy, remove_user};
use roster_domain::{DomainError, Store, ValidationError};
use roster_domain::{devices, enrollment, groups, orgs, outbox, users};

crate::endpoint! {
    /// `/v1/organizations`: GET lists organizations, POST creates one (global tokens).
    pub struct OrganizationsRoute {
        route: "/v1/organizations",
        error: Error,
        GET need_global(Organization, Read) => list_organizations,
        POST need_global(Organization, Create) => create_organization,
    }
}

async fn list_organizations<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    crate::admit::<OrganizationsRoute, S>(req, store, ctx).await?;
    let q = super::list_query(req)?;
    let (list, next) = orgs::list(store, q.after, q.limit).await?;
    let out = OrganizationPageResponse {
        organizations: list.iter().map(OrganizationResponse::from).collect(),
        next_cursor: next.map(super::encode_cursor),
    };
    Ok(ok(StatusCode::OK, &out))
}

async fn create_organization<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    crate::admit::<OrganizationsRoute, S>(req, store, ctx).await?;
    let body: CreateOrganizationRequest = json_body(req)?;
    let new = super::new_organization(body)?;
    let org = orgs::create(store, new, ctx.now).await?;
    let resp = ok(StatusCode::CREATED, &OrganizationResponse::from(&org));
    Ok(with_etag(
        with_location(resp, &format!("/v1/organizations/{}", org.id)),
        org.version,
    ))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId`: GET; PATCH renames or moves the slug
    /// (conditional on `If-Match` when given).
    pub struct OrganizationRoute {
        route: "/v1/organizations/:organizationId",
        error: Error,
        GET need(Organization, Read) => get_organization,
        PATCH need(Organization, Update) => patch_organization,
    }
}

/// An organization with its `ETag`.
fn organization_answer(org: &Organization) -> ApiResponse {
    with_etag(
        ok(StatusCode::OK, &OrganizationResponse::from(org)),
        org.version,
    )
}

async fn get_organization<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrganizationRoute, S>(req, store, ctx).await?;
    Ok(super::unless_not_modified(req, org.version, || {
        organization_answer(&org)
    }))
}

async fn patch_organization<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OrganizationRoute, S>(req, store, ctx).await?;
    let expected = if_match(req)?;
    let body: PatchOrganizationRequest = json_body(req)?;
    let changes = super::org_changes(body)?;
    let org = orgs::update(store, &org.id, expected, changes, ctx.now).await?;
    Ok(organization_answer(&org))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/mdm/users`: GET lists users in creation order
    /// (`limit` ≤ 200, opaque `cursor`, filters `status`, `group` and `q`); POST creates
    /// one.
    pub struct UsersRoute {
        route: "/v1/organizations/:organizationId/mdm/users",
        error: Error,
        GET need(MdmUser, Read) => list_users,
        POST need(MdmUser, Create) => create_user,
    }
}

async fn list_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersRoute, S>(req, store, ctx).await?;
    let query = super::list_query(req)?;
    let page = users::list(store, &org, &query).await?;
    let out = UserPageResponse {
        users: page.users.iter().map(UserResponse::from).collect(),
        next_cursor: page.next.map(super::encode_cursor),
    };
    Ok(ok(StatusCode::OK, &out))
}

async fn create_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersRoute, S>(req, store, ctx).await?;
    let body: CreateUserRequest = json_body(req)?;
    let user = users::create(store, &org, new_user(body)?, ctx.now).await?;
    let resp = ok(StatusCode::CREATED, &UserResponse::from(&user));
    let location = format!("/v1/organizations/{}/mdm/users/{}", org.id, user.id);
    Ok(with_etag(with_location(resp, &location), user.version))
}

/// Validates a create-user body, field by field in the order the body lists them.
fn new_user(body: CreateUserRequest) -> Result<users::NewUser, ValidationError> {
    let new = users::NewUser::parse(
        &body.username,
        body.email.as_deref(),
        body.first_name.as_deref(),
        body.last_name.as_deref(),
    )?;
    let mut new = match body.password.as_deref() {
        Some(p) => new.with_password("password", p)?,
        None => new,
    };
    new.company = users::parse_company("company", body.company.as_deref().unwrap_or(""))?;
    new.country_code =
        users::parse_country_code("countryCode", body.country_code.as_deref().unwrap_or(""))?;
    Ok(new)
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/mdm/users/:mdmUserId`: GET; PUT replaces and
    /// PATCH merges (both conditional on `If-Match` when given); DELETE removes the user
    /// (seed 000), honouring an optional `If-Match`, or reports with `?dryRun=true`.
    pub struct UserRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId",
        error: Error,
        GET need(MdmUser, Read) => get_user,
        PUT need(MdmUser, Update) => put_user,
        PATCH need(MdmUser, Update) => patch_user,
        DELETE need(MdmUser, Remove) => delete_user,
    }
}

/// A user with their `ETag`.
pub(super) fn user_answer(user: &User) -> ApiResponse {
    with_etag(ok(StatusCode::OK, &UserResponse::from(user)), user.version)
}

async fn get_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    match users::get(store, &org, &user_id).await {
        Ok(user) => Ok(super::unless_not_modified(req, user.version, || {
            user_answer(&user)
        })),
        Err(e @ DomainError::NotFound { .. }) => {
            // A softly removed user whose window ended is purged on access.
            let _ = removal::purge_if_expired(store, &org, &user_id, ctx.now).await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn put_user<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let expected = if_match(req)?;
    let body: PutUserRequest = json_body(req)?;
    // Replace: every mutable field is given; names default to empty, the email to none.
    let changes = super::user_changes(
        Some(body.email.as_deref()),
        Some(body.first_name.as_deref().unwrap_or("")),
        Some(body.last_name.as_deref().unwrap_or("")),
        Some(body.company.as_deref().unwrap_or("")),
        Some(body.country_code.as_deref().unwrap_or("")),
    )?;
    let user = users::update(store, &org, &user_id, expected, changes, ctx.now).await?;
    Ok(user_answer(&user))
}

async fn patch_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let expected = if_match(req)?;
    let body: PatchUserRequest = json_body(req)?;
    let changes = super::user_changes(
        body.email.as_ref().map(Option::as_deref),
        body.first_name.as_deref(),
        body.last_name.as_deref(),
        body.company.as_deref(),
        body.country_code.as_deref(),
    )?;
    let user = users::update(store, &org, &user_id, expected, changes, ctx.now).await?;
    Ok(user_answer(&user))
}

async fn delete_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let respond_async = super::prefers_respond_async(req);
    let policy = RemovalPolicy {
        expected_version: if_match(req)?,
        asynchronous: respond_async,
        ..RemovalPolicy::canonical().by(caller.actor())
    };
    if super::dry_run(req)? {
        let plan = removal::plan(store, &org, &user_id, &policy, ctx.now).await?;
        return Ok(ok(StatusCode::OK, &super::plan_response(&plan)));
    }
    let outcome = remove_user(store, &org, &user_id, &policy, ctx.now).await?;
    let body = super::removed_response(&user_id, &outcome);
    Ok(match &outcome {
        RemovalOutcome::InProgress { operation, .. } if respond_async => {
            super::removal_accepted(req, &org, &operation.id, &body)
        }
        _ => ok(StatusCode::OK, &body),
    })
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/devices`: GET lists the user's devices, POST enrolls one.
    pub struct UserDevicesRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices",
        error: Error,
        GET need(Device, Read) => list_devices,
        POST need(Device, Create) => enroll_device,
    }
}

/// The user the path's `mdmUserId` names (400 when malformed, 404 when unknown).
async fn path_user<S: Store>(
    store: &S,
    org: &Organization,
    req: &ApiRequest,
) -> Result<User, Error> {
    let user_id = object_id(req, "mdmUserId")?;
    Ok(users::get(store, org, &user_id).await?)
}

async fn list_devices<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserDevicesRoute, S>(req, store, ctx).await?;
    let user = path_user(store, &org, req).await?;
    let list = devices::list(store, &org, &user.id).await?;
    let out: Vec<DeviceResponse> = list
        .iter()
        .map(|d| DeviceResponse::new(d, &user.username))
        .collect();
    Ok(ok(StatusCode::OK, &out))
}

async fn enroll_device<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserDevicesRoute, S>(req, store, ctx).await?;
    let user = path_user(store, &org, req).await?;
    let body: EnrollDeviceRequest = json_body(req)?;
    let d = devices::enroll(store, &org, &user.id, new_device(body)?, ctx.now).await?;
    let location = format!(
        "/v1/organizations/{}/mdm/users/{}/devices/{}",
        org.id, user.id, d.id
    );
    let body = DeviceResponse::new(&d, &user.username);
    Ok(with_location(ok(StatusCode::CREATED, &body), &location))
}

/// Validates an enrollment body; absent enrolment info means `BYOD`, `ACTIVE`.
fn new_device(body: EnrollDeviceRequest) -> Result<devices::NewDevice, ValidationError> {
    let info = body.enrolment_info.unwrap_or(EnrolmentInfoRequest {
        ownership: None,
        status: None,
    });
    devices::NewDevice::parse(
        &body.name,
        &body.device_type,
        body.description.as_deref(),
        &body.device_identifier,
        info.ownership.unwrap_or(Ownership::Byod),
        info.status.unwrap_or(DeviceStatus::Active),
        body.properties,
    )
}

crate::endpoint! {
    /// `…/devices/:deviceId`: GET; PATCH sets the status; DELETE.
    pub struct UserDeviceRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices/:deviceId",
        error: Error,
        GET need(Device, Read) => get_device,
        PATCH need(Device, Update) => patch_device,
        DELETE need(Device, Remove) => delete_device,
    }
}

/// What a device route's path names: the organization, the owner (404 when absent)
/// and the device id (both ids checked before the owner is read).
async fn device_path<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Organization, User, ObjectId), Error> {
    let (org, _) = enter::<UserDeviceRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let device_id = object_id(req, "deviceId")?;
    let user = users::get(store, &org, &user_id).await?;
    Ok((org, user, device_id))
}

/// A device with its `ETag`.
fn device_answer(device: &Device, owner: &User) -> ApiResponse {
    with_etag(
        ok(
            StatusCode::OK,
            &DeviceResponse::new(device, &owner.username),
        ),
        device.version,
    )
}

async fn get_device<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, user, device_id) = device_path(req, store, ctx).await?;
    let device = devices::get(store, &org, &user.id, &device_id).await?;
    // No 304 here: the body names the owner's username (`enrolmentInfo.owner`), which
    // the device's version (its ETag) does not follow when the owner is renamed.
    Ok(device_answer(&device, &user))
}

async fn patch_device<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, user, device_id) = device_path(req, store, ctx).await?;
    let body: UpdateDeviceRequest = json_body(req)?;
    let device =
        devices::set_status(store, &org, &user.id, &device_id, body.status, ctx.now).await?;
    Ok(device_answer(&device, &user))
}

async fn delete_device<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, user, device_id) = device_path(req, store, ctx).await?;
    devices::delete(store, &org, &user.id, &device_id).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "delete": device_id }),
    ))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/enrollment-tokens`: GET lists the user's enrollment
    /// tokens, POST issues one (`expiresIn` optional).
    pub struct EnrollmentTokensRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens",
        error: Error,
        GET need(EnrollmentToken, Read) => list_enrollment_tokens,
        POST need(EnrollmentToken, Create) => issue_enrollment_token,
    }
}

async fn list_enrollment_tokens<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EnrollmentTokensRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let list = enrollment::list(store, &org, &user_id).await?;
    let out: Vec<EnrollmentTokenResponse> = list
        .iter()
        .map(|t| EnrollmentTokenResponse::new(t, ctx.now))
        .collect();
    Ok(ok(StatusCode::OK, &out))
}

async fn issue_enrollment_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EnrollmentTokensRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let body: IssueEnrollmentTokenRequest = optional_json(req)?;
    let ttl = enrollment::parse_ttl("expiresIn", body.expires_in)?;
    let t = enrollment::issue(store, &org, &user_id, ttl, ctx.now).await?;
    let location = format!(
        "/v1/organizations/{}/mdm/users/{}/enrollment-tokens/{}",
        org.id, user_id, t.id
    );
    let body = EnrollmentTokenResponse::new(&t, ctx.now);
    Ok(with_location(ok(StatusCode::CREATED, &body), &location))
}

crate::endpoint! {
    /// `…/enrollment-tokens/:tokenId`: DELETE revokes.
    pub struct EnrollmentTokenRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens/:tokenId",
        error: Error,
        DELETE need(EnrollmentToken, Remove) => revoke_enrollment_token,
    }
}

async fn revoke_enrollment_token<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EnrollmentTokenRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let token_id = object_id(req, "tokenId")?;
    let t = enrollment::revoke(store, &org, &user_id, &token_id).await?;
    Ok(ok(
        StatusCode::OK,
        &EnrollmentTokenResponse::new(&t, ctx.now),
    ))
}

crate::endpoint! {
    /// `…/mdm/users/count`: GET the number of users, in O(1) reads.
    pub struct UsersCountRoute {
        route: "/v1/organizations/:organizationId/mdm/users/count",
        error: Error,
        GET need(MdmUser, Read) => count_users,
    }
}

async fn count_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UsersCountRoute, S>(req, store, ctx).await?;
    let count = roster_domain::count::total(store, &org.id).await?;
    Ok(ok(StatusCode::OK, &CountResponse { count }))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/status`: POST `{"status":"active"|"disabled"}` enables or
    /// disables the user (conditional on `If-Match` when given).
    pub struct UserStatusRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/status",
        error: Error,
        POST need(MdmUser, Update) => set_user_status,
    }
}

async fn set_user_status<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserStatusRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let expected = if_match(req)?;
    let body: SetUserStatusRequest = json_body(req)?;
    let status = match body.status {
        SettableStatus::Active => roster_domain::model::UserStatus::Active,
        SettableStatus::Disabled => roster_domain::model::UserStatus::Disabled,
    };
    let changes = users::UserChanges {
        status: Some(status),
        ..users::UserChanges::default()
    };
    let user = users::update(store, &org, &user_id, expected, changes, ctx.now).await?;
    Ok(user_answer(&user))
}

crate::endpoint! {
    /// `…/mdm/groups`: GET lists the organization's groups, POST creates one.
    pub struct GroupsRoute {
        route: "/v1/organizations/:organizationId/mdm/groups",
        error: Error,
        GET need(Group, Read) => list_groups,
        POST need(Group, Create) => create_group,
    }
}

async fn list_groups<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<GroupsRoute, S>(req, store, ctx).await?;
    let list = groups::list(store, &org).await?;
    let out: Vec<GroupResponse> = list.iter().map(GroupResponse::from).collect();
    Ok(ok(StatusCode::OK, &out))
}

async fn create_group<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<GroupsRoute, S>(req, store, ctx).await?;
    let body: CreateGroupRequest = json_body(req)?;
    let name = groups::parse_name("name", &body.name)?;
    let description = roster_domain::ids::text(
        "description",
        body.description.as_deref().unwrap_or(""),
        roster_domain::ids::MAX_TEXT_LEN,
    )?;
    let g = groups::create(store, &org, name, description, ctx.now).await?;
    let location = format!("/v1/organizations/{}/mdm/groups/{}", org.id, g.id);
    Ok(with_location(
        ok(StatusCode::CREATED, &GroupResponse::from(&g)),
        &location,
    ))
}

crate::endpoint! {
    /// `…/mdm/groups/:groupId`: GET; DELETE (members leave the group).
    pub struct GroupRoute {
        route: "/v1/organizations/:organizationId/mdm/groups/:groupId",
        error: Error,
        GET need(Group, Read) => get_group,
        DELETE need(Group, Remove) => delete_group,
    }
}

async fn get_group<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<GroupRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "groupId")?;
    let g = groups::get(store, &org, &id).await?;
    Ok(ok(StatusCode::OK, &GroupResponse::from(&g)))
}

async fn delete_group<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<GroupRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "groupId")?;
    groups::delete(store, &org, &id, ctx.now).await?;
    Ok(ok(StatusCode::OK, &serde_json::json!({ "delete": id })))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/groups`: GET the user's groups; PUT replaces them
    /// (`{"groups":[names]}`, optional `If-Match`).
    pub struct UserGroupsRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/groups",
        error: Error,
        GET need(MdmUser, Read) => get_user_groups,
        PUT need(MdmUser, Update) => put_user_groups,
    }
}

async fn get_user_groups<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserGroupsRoute, S>(req, store, ctx).await?;
    let user = path_user(store, &org, req).await?;
    user_groups_answer(store, &org, &user).await
}

async fn put_user_groups<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserGroupsRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let expected = if_match(req)?;
    let body: SetUserGroupsRequest = json_body(req)?;
    let user =
        groups::set_user_groups(store, &org, &user_id, &body.groups, expected, ctx.now).await?;
    user_groups_answer(store, &org, &user).await
}

/// The groups `user` is a member of, with the user's `ETag`.
async fn user_groups_answer<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
) -> Result<ApiResponse, Error> {
    let mut out = Vec::new();
    for name in &user.groups {
        if let Some(g) = groups::find(store, org, name).await? {
            out.push(GroupResponse::from(&g));
        }
    }
    Ok(with_etag(ok(StatusCode::OK, &out), user.version))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/password`: POST `{oldPassword, newPassword}` changes the
    /// password. A wrong old password and a user without one get the same 400 / 2001.
    pub struct UserPasswordRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/password",
        error: Error,
        POST need(MdmUser, Update) => change_password,
    }
}

async fn change_password<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserPasswordRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let body: ChangePasswordRequest = json_body(req)?;
    let (old, new) = (&body.old_password, &body.new_password);
    users::change_password(store, &org, &user_id, old, new, ctx.now).await?;
    Ok(ok(StatusCode::OK, &serde_json::json!({ "changed": true })))
}

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/password-reset`: POST `{newPassword}` sets the password
    /// (an administrator's reset).
    pub struct UserPasswordResetRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/password-reset",
        error: Error,
        POST need(MdmUser, Update) => reset_password,
    }
}

async fn reset_password<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<UserPasswordResetRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let body: ResetPasswordRequest = json_body(req)?;
    users::reset_password(store, &org, &user_id, &body.new_password, ctx.now).await?;
    Ok(ok(StatusCode::OK, &serde_json::json!({ "changed": true })))
}

crate::endpoint! {
    /// `…/mdm/invitations`: POST invites users by username (seed 003's email
    /// invitation): each gets an enrollment token and an invitation in the outbox.
    pub struct InvitationsRoute {
        route: "/v1/organizations/:organizationId/mdm/invitations",
        error: Error,
        POST need(MdmUser, Invite) => invite_users,
    }
}

async fn invite_users<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<InvitationsRoute, S>(req, store, ctx).await?;
    let body: InviteRequest = json_body(req)?;
    if body.usernames.is_empty() || body.usernames.len() > 100 {
        return Err(ValidationError::new("usernames", "must hold 1 to 100 usernames").into());
    }
    let ttl = enrollment::parse_ttl("expiresIn", body.expires_in)?;
    for (i, name) in body.usernames.iter().enumerate() {
        roster_domain::ids::Username::parse(&format!("usernames[{i}]"), name)?;
    }
    let mut out = Vec::new();
    for name in body.usernames {
        let invited = enrollment::invite(store, &org, &name, ttl, ctx.now).await?;
        out.push(invitation_result(name, invited));
    }
    Ok(ok(StatusCode::OK, &out))
}

/// One username's entry in the answer: `invited` (with the token and message),
/// `not_found`, or `not_deliverable` (with the reason: the user has no email).
fn invitation_result(username: String, invited: enrollment::Invited) -> InvitationResult {
    match invited {
        enrollment::Invited::Yes { token, message } => InvitationResult {
            username,
            status: "invited",
            reason: None,
            enrollment_token_id: Some(token.id.to_string()),
            message_number: Some(message.number),
        },
        enrollment::Invited::NotFound => InvitationResult {
            username,
            status: "not_found",
            reason: None,
            enrollment_token_id: None,
            message_number: None,
        },
        enrollment::Invited::NoEmail => InvitationResult {
            username,
            status: "not_deliverable",
            reason: Some("the user has no email address"),
            enrollment_token_id: None,
            message_number: None,
        },
    }
}

crate::endpoint! {
    /// `…/mdm/outbox`: GET pending messages (`limit`, `cursor`); POST
    /// `{"acknowledge":[numbers]}` removes delivered ones. For an external mailer.
    pub struct OutboxRoute {
        route: "/v1/organizations/:organizationId/mdm/outbox",
        error: Error,
        GET need(Outbox, Read) => list_outbox,
        POST need(Outbox, Update) => acknowledge_outbox,
    }
}

async fn list_outbox<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OutboxRoute, S>(req, store, ctx).await?;
    let q = super::list_query(req)?;
    let (list, next) = outbox::pending(store, &org, q.after, q.limit).await?;
    let out = MessagePageResponse {
        messages: list.iter().map(MessageResponse::from).collect(),
        next_cursor: next.map(super::encode_cursor),
    };
    Ok(ok(StatusCode::OK, &out))
}

async fn acknowledge_outbox<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<OutboxRoute, S>(req, store, ctx).await?;
    let body: AcknowledgeRequest = json_body(req)?;
    if body.acknowledge.len() > 200 {
        return Err(ValidationError::new("acknowledge", "must hold at most 200 numbers").into());
    }
    let n = outbox::acknowledge(store, &org, &body.acknowledge).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "acknowledged": n }),
    ))
}
