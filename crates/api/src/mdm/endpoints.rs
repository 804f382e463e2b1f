//! The canonical routes. Each struct is one route (one component in spin.toml).

use super::dto::*;
use super::{
    collapse, domain_error, enter, enter_global, if_match, json_body, need, need_global, object_id,
    ok, optional_json, removal_error, with_etag, with_location,
};
use crate::Endpoint;
use crate::auth::Requirement;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{Method, StatusCode};
use roster_domain::model::{DeviceStatus, Ownership};
use roster_domain::permissions::{Action, Resource};
use roster_domain::removal::{self, RemovalPolicy, remove_user};
use roster_domain::{Store, devices, enrollment, groups, orgs, users};

/// `/v1/organizations`: POST creates an organization, GET lists them (global admin).
pub struct Organizations;

impl Endpoint for Organizations {
    const ROUTE: &'static str = "/v1/organizations";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need_global(Resource::Organization, Action::Read),
            "POST" => need_global(Resource::Organization, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                enter_global::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    let q = super::list_query(req)?;
                    let (list, next) = orgs::list(store, q.after, q.limit)
                        .await
                        .map_err(domain_error)?;
                    let out = OrganizationPageResponse {
                        organizations: list.iter().map(OrganizationResponse::from).collect(),
                        next_cursor: next.map(super::encode_cursor),
                    };
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: CreateOrganizationRequest = json_body(req)?;
                let new = super::new_organization(body).map_err(|e| super::invalid(&e))?;
                let org = orgs::create(store, new, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let resp = ok(StatusCode::CREATED, &OrganizationResponse::from(&org));
                Ok(with_etag(
                    with_location(resp, &format!("/v1/organizations/{}", org.id)),
                    org.version,
                ))
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId`: GET; PATCH renames or moves the slug
/// (conditional on `If-Match` when given).
pub struct Organization;

impl Endpoint for Organization {
    const ROUTE: &'static str = "/v1/organizations/:organizationId";
    const ALLOW: &'static str = "GET, PATCH";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Organization, Action::Read),
            "PATCH" => need(Resource::Organization, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _) = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::PATCH {
                    let expected = if_match(req)?;
                    let body: PatchOrganizationRequest = json_body(req)?;
                    let changes = super::org_changes(body).map_err(|e| super::invalid(&e))?;
                    let org = orgs::update(store, &org.id, expected, changes, ctx.now)
                        .await
                        .map_err(domain_error)?;
                    return Ok(with_etag(
                        ok(StatusCode::OK, &OrganizationResponse::from(&org)),
                        org.version,
                    ));
                }
                Ok(with_etag(
                    ok(StatusCode::OK, &OrganizationResponse::from(&org)),
                    org.version,
                ))
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/mdm/users`: POST creates a user; GET lists users
/// in creation order (`limit` ≤ 200, opaque `cursor`, filters `status` and `group`).
pub struct Users;

impl Endpoint for Users {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            "POST" => need(Resource::MdmUser, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    let query = super::list_query(req)?;
                    let page = users::list(store, &org, &query)
                        .await
                        .map_err(domain_error)?;
                    let out = UserPageResponse {
                        users: page.users.iter().map(UserResponse::from).collect(),
                        next_cursor: page.next.map(super::encode_cursor),
                    };
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: CreateUserRequest = json_body(req)?;
                let new = users::NewUser::parse(
                    &body.username,
                    &body.email,
                    body.first_name.as_deref(),
                    body.last_name.as_deref(),
                )
                .map_err(|e| super::invalid(&e))?;
                let mut new = match body.password.as_deref() {
                    Some(p) => new
                        .with_password("password", p)
                        .map_err(|e| super::invalid(&e))?,
                    None => new,
                };
                new.company =
                    users::parse_company("company", body.company.as_deref().unwrap_or(""))
                        .map_err(|e| super::invalid(&e))?;
                new.country_code = users::parse_country_code(
                    "countryCode",
                    body.country_code.as_deref().unwrap_or(""),
                )
                .map_err(|e| super::invalid(&e))?;
                let user = users::create(store, &org, new, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let resp = ok(StatusCode::CREATED, &UserResponse::from(&user));
                let location = format!("/v1/organizations/{}/mdm/users/{}", org.id, user.id);
                Ok(with_etag(with_location(resp, &location), user.version))
            }
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/mdm/users/:mdmUserId`: GET; PUT replaces and
/// PATCH merges (both conditional on `If-Match` when given); DELETE removes the user
/// (seed 000), honouring an optional `If-Match`.
pub struct User;

impl Endpoint for User {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId";
    const ALLOW: &'static str = "GET, PUT, PATCH, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            "PUT" | "PATCH" => need(Resource::MdmUser, Action::Update),
            "DELETE" => need(Resource::MdmUser, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                if req.method == Method::GET {
                    let user = match users::get(store, &org, &user_id).await {
                        Ok(u) => u,
                        Err(e @ roster_domain::DomainError::NotFound { .. }) => {
                            // A softly removed user whose window ended is purged on access.
                            let _ = removal::purge_if_expired(store, &org, &user_id, ctx.now).await;
                            return Err(domain_error(e));
                        }
                        Err(e) => return Err(domain_error(e)),
                    };
                    return Ok(with_etag(
                        ok(StatusCode::OK, &UserResponse::from(&user)),
                        user.version,
                    ));
                }
                if req.method == Method::PATCH || req.method == Method::PUT {
                    let expected = if_match(req)?;
                    let changes = if req.method == Method::PUT {
                        // Replace: every mutable field is given; names default to empty.
                        let body: PutUserRequest = json_body(req)?;
                        super::user_changes(
                            Some(&body.email),
                            Some(body.first_name.as_deref().unwrap_or("")),
                            Some(body.last_name.as_deref().unwrap_or("")),
                            Some(body.company.as_deref().unwrap_or("")),
                            Some(body.country_code.as_deref().unwrap_or("")),
                        )
                    } else {
                        let body: PatchUserRequest = json_body(req)?;
                        super::user_changes(
                            body.email.as_deref(),
                            body.first_name.as_deref(),
                            body.last_name.as_deref(),
                            body.company.as_deref(),
                            body.country_code.as_deref(),
                        )
                    }
                    .map_err(|e| super::invalid(&e))?;
                    let user = users::update(store, &org, &user_id, expected, changes, ctx.now)
                        .await
                        .map_err(domain_error)?;
                    return Ok(with_etag(
                        ok(StatusCode::OK, &UserResponse::from(&user)),
                        user.version,
                    ));
                }
                let policy = RemovalPolicy {
                    expected_version: if_match(req)?,
                    ..RemovalPolicy::canonical().by(caller.actor())
                };
                if super::dry_run(req)? {
                    let plan = removal::plan(store, &org, &user_id, &policy, ctx.now)
                        .await
                        .map_err(removal_error)?;
                    return Ok(ok(StatusCode::OK, &super::plan_response(&plan)));
                }
                let outcome = remove_user(store, &org, &user_id, &policy, ctx.now)
                    .await
                    .map_err(removal_error)?;
                Ok(ok(
                    StatusCode::OK,
                    &super::removed_response(&user_id, &outcome),
                ))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/devices`: GET lists, POST enrolls.
pub struct UserDevices;

impl Endpoint for UserDevices {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Device, Action::Read),
            "POST" => need(Resource::Device, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let user = users::get(store, &org, &user_id)
                    .await
                    .map_err(domain_error)?;
                if req.method == Method::GET {
                    let list = devices::list(store, &org, &user_id)
                        .await
                        .map_err(domain_error)?;
                    let out: Vec<DeviceResponse> = list
                        .iter()
                        .map(|d| DeviceResponse::new(d, &user.username))
                        .collect();
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: EnrollDeviceRequest = json_body(req)?;
                let info = body.enrolment_info.unwrap_or(EnrolmentInfoRequest {
                    ownership: None,
                    status: None,
                });
                let new = devices::NewDevice::parse(
                    &body.name,
                    &body.device_type,
                    body.description.as_deref(),
                    &body.device_identifier,
                    info.ownership.unwrap_or(Ownership::Byod),
                    info.status.unwrap_or(DeviceStatus::Active),
                    body.properties,
                )
                .map_err(|e| super::invalid(&e))?;
                let d = devices::enroll(store, &org, &user_id, new, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let location = format!(
                    "/v1/organizations/{}/mdm/users/{}/devices/{}",
                    org.id, user_id, d.id
                );
                Ok(with_location(
                    ok(
                        StatusCode::CREATED,
                        &DeviceResponse::new(&d, &user.username),
                    ),
                    &location,
                ))
            }
            .await,
        )
    }
}

/// `…/devices/:deviceId`: GET, PATCH (status), DELETE.
pub struct UserDevice;

impl Endpoint for UserDevice {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices/:deviceId";
    const ALLOW: &'static str = "GET, PATCH, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Device, Action::Read),
            "PATCH" => need(Resource::Device, Action::Update),
            "DELETE" => need(Resource::Device, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let device_id = object_id(req, "deviceId")?;
                let user = users::get(store, &org, &user_id)
                    .await
                    .map_err(domain_error)?;
                let device = match req.method {
                    Method::GET => devices::get(store, &org, &user_id, &device_id).await,
                    Method::PATCH => {
                        let body: UpdateDeviceRequest = json_body(req)?;
                        devices::set_status(store, &org, &user_id, &device_id, body.status, ctx.now)
                            .await
                    }
                    _ => {
                        devices::delete(store, &org, &user_id, &device_id)
                            .await
                            .map_err(domain_error)?;
                        return Ok(ok(
                            StatusCode::OK,
                            &serde_json::json!({ "delete": device_id }),
                        ));
                    }
                }
                .map_err(domain_error)?;
                Ok(with_etag(
                    ok(
                        StatusCode::OK,
                        &DeviceResponse::new(&device, &user.username),
                    ),
                    device.version,
                ))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/enrollment-tokens`: GET lists, POST issues.
pub struct EnrollmentTokens;

impl Endpoint for EnrollmentTokens {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::EnrollmentToken, Action::Read),
            "POST" => need(Resource::EnrollmentToken, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                if req.method == Method::GET {
                    let list = enrollment::list(store, &org, &user_id)
                        .await
                        .map_err(domain_error)?;
                    let out: Vec<EnrollmentTokenResponse> = list
                        .iter()
                        .map(|t| EnrollmentTokenResponse::new(t, ctx.now))
                        .collect();
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: IssueEnrollmentTokenRequest = optional_json(req)?;
                let ttl = enrollment::parse_ttl("expiresIn", body.expires_in)
                    .map_err(|e| super::invalid(&e))?;
                let t = enrollment::issue(store, &org, &user_id, ttl, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let location = format!(
                    "/v1/organizations/{}/mdm/users/{}/enrollment-tokens/{}",
                    org.id, user_id, t.id
                );
                Ok(with_location(
                    ok(
                        StatusCode::CREATED,
                        &EnrollmentTokenResponse::new(&t, ctx.now),
                    ),
                    &location,
                ))
            }
            .await,
        )
    }
}

/// `…/enrollment-tokens/:tokenId`: DELETE revokes.
pub struct EnrollmentToken;

impl Endpoint for EnrollmentToken {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens/:tokenId";
    const ALLOW: &'static str = "DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "DELETE" => need(Resource::EnrollmentToken, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let token_id = object_id(req, "tokenId")?;
                let t = enrollment::revoke(store, &org, &user_id, &token_id)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(
                    StatusCode::OK,
                    &EnrollmentTokenResponse::new(&t, ctx.now),
                ))
            }
            .await,
        )
    }
}

/// `…/mdm/users/count`: GET the number of users, in O(1) reads.
pub struct UsersCount;

impl Endpoint for UsersCount {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/count";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let count = roster_domain::count::total(store, &org.id)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(StatusCode::OK, &CountResponse { count }))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/status`: POST `{"status":"active"|"disabled"}` enables or
/// disables the user (conditional on `If-Match` when given).
pub struct UserStatus;

impl Endpoint for UserStatus {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId/status";
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
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
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
                let user = users::update(store, &org, &user_id, expected, changes, ctx.now)
                    .await
                    .map_err(domain_error)?;
                Ok(with_etag(
                    ok(StatusCode::OK, &UserResponse::from(&user)),
                    user.version,
                ))
            }
            .await,
        )
    }
}

/// `…/mdm/groups`: GET lists the organization's groups, POST creates one.
pub struct Groups;

impl Endpoint for Groups {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/groups";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Group, Action::Read),
            "POST" => need(Resource::Group, Action::Create),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    let list = groups::list(store, &org).await.map_err(domain_error)?;
                    let out: Vec<GroupResponse> = list.iter().map(GroupResponse::from).collect();
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: CreateGroupRequest = json_body(req)?;
                let name =
                    groups::parse_name("name", &body.name).map_err(|e| super::invalid(&e))?;
                let description = roster_domain::ids::text(
                    "description",
                    body.description.as_deref().unwrap_or(""),
                    roster_domain::ids::MAX_TEXT_LEN,
                )
                .map_err(|e| super::invalid(&e))?;
                let g = groups::create(store, &org, name, description, ctx.now)
                    .await
                    .map_err(domain_error)?;
                let location = format!("/v1/organizations/{}/mdm/groups/{}", org.id, g.id);
                Ok(with_location(
                    ok(StatusCode::CREATED, &GroupResponse::from(&g)),
                    &location,
                ))
            }
            .await,
        )
    }
}

/// `…/mdm/groups/:groupId`: GET, DELETE (members leave the group).
pub struct Group;

impl Endpoint for Group {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/groups/:groupId";
    const ALLOW: &'static str = "GET, DELETE";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Group, Action::Read),
            "DELETE" => need(Resource::Group, Action::Remove),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let id = object_id(req, "groupId")?;
                if req.method == Method::GET {
                    let g = groups::get(store, &org, &id).await.map_err(domain_error)?;
                    return Ok(ok(StatusCode::OK, &GroupResponse::from(&g)));
                }
                groups::delete(store, &org, &id, ctx.now)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(StatusCode::OK, &serde_json::json!({ "delete": id })))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/groups`: GET the user's groups; PUT replaces them
/// (`{"groups":[names]}`, optional `If-Match`).
pub struct UserGroups;

impl Endpoint for UserGroups {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId/groups";
    const ALLOW: &'static str = "GET, PUT";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::MdmUser, Action::Read),
            "PUT" => need(Resource::MdmUser, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let user = if req.method == Method::PUT {
                    let expected = if_match(req)?;
                    let body: SetUserGroupsRequest = json_body(req)?;
                    groups::set_user_groups(store, &org, &user_id, &body.groups, expected, ctx.now)
                        .await
                        .map_err(domain_error)?
                } else {
                    users::get(store, &org, &user_id)
                        .await
                        .map_err(domain_error)?
                };
                let mut out = Vec::new();
                for name in &user.groups {
                    if let Some(g) = groups::find(store, &org, name)
                        .await
                        .map_err(domain_error)?
                    {
                        out.push(GroupResponse::from(&g));
                    }
                }
                Ok(with_etag(ok(StatusCode::OK, &out), user.version))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/password`: POST `{oldPassword, newPassword}` changes the
/// password. A wrong old password and a user without one get the same 400 / 2001.
pub struct UserPassword;

impl Endpoint for UserPassword {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/users/:mdmUserId/password";
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
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let body: ChangePasswordRequest = json_body(req)?;
                users::change_password(
                    store,
                    &org,
                    &user_id,
                    &body.old_password,
                    &body.new_password,
                    ctx.now,
                )
                .await
                .map_err(|e| match e {
                    users::PasswordChangeError::Refused => super::error(
                        StatusCode::BAD_REQUEST,
                        super::codes::PASSWORD_REFUSED,
                        "Password change refused",
                    ),
                    users::PasswordChangeError::Domain(d) => domain_error(d),
                })?;
                Ok(ok(StatusCode::OK, &serde_json::json!({ "changed": true })))
            }
            .await,
        )
    }
}

/// `…/mdm/users/:mdmUserId/password-reset`: POST `{newPassword}` sets the password
/// (an administrator's reset).
pub struct UserPasswordReset;

impl Endpoint for UserPasswordReset {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/mdm/users/:mdmUserId/password-reset";
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
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let user_id = object_id(req, "mdmUserId")?;
                let body: ResetPasswordRequest = json_body(req)?;
                users::reset_password(store, &org, &user_id, &body.new_password, ctx.now)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(StatusCode::OK, &serde_json::json!({ "changed": true })))
            }
            .await,
        )
    }
}

/// `…/mdm/invitations`: POST invites users by username (seed 003's email invitation):
/// each gets an enrollment token and an invitation in the outbox.
pub struct Invitations;

impl Endpoint for Invitations {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/invitations";
    const ALLOW: &'static str = "POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "POST" => need(Resource::MdmUser, Action::Invite),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                let body: InviteRequest = json_body(req)?;
                if body.usernames.is_empty() || body.usernames.len() > 100 {
                    return Err(super::invalid(&roster_domain::ValidationError::new(
                        "usernames",
                        "must hold 1 to 100 usernames",
                    )));
                }
                let ttl = enrollment::parse_ttl("expiresIn", body.expires_in)
                    .map_err(|e| super::invalid(&e))?;
                let mut out = Vec::new();
                for (i, name) in body.usernames.iter().enumerate() {
                    roster_domain::ids::Username::parse(&format!("usernames[{i}]"), name)
                        .map_err(|e| super::invalid(&e))?;
                }
                for name in body.usernames {
                    let result = enrollment::invite(store, &org, &name, ttl, ctx.now)
                        .await
                        .map_err(domain_error)?;
                    out.push(match result {
                        enrollment::Invited::Yes { token, message } => InvitationResult {
                            username: name,
                            status: "invited",
                            enrollment_token_id: Some(token.id.to_string()),
                            message_number: Some(message.number),
                        },
                        enrollment::Invited::NotFound => InvitationResult {
                            username: name,
                            status: "not_found",
                            enrollment_token_id: None,
                            message_number: None,
                        },
                    });
                }
                Ok(ok(StatusCode::OK, &out))
            }
            .await,
        )
    }
}

/// `…/mdm/outbox`: GET pending messages (`limit`, `cursor`); POST
/// `{"acknowledge":[numbers]}` removes delivered ones. For an external mailer.
pub struct Outbox;

impl Endpoint for Outbox {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/mdm/outbox";
    const ALLOW: &'static str = "GET, POST";

    fn requirement(method: &str) -> Option<Requirement> {
        match method {
            "GET" => need(Resource::Outbox, Action::Read),
            "POST" => need(Resource::Outbox, Action::Update),
            _ => None,
        }
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        collapse(
            async {
                let (org, _caller) = enter::<Self, S>(req, store, ctx).await?;
                if req.method == Method::GET {
                    let q = super::list_query(req)?;
                    let (list, next) =
                        roster_domain::outbox::pending(store, &org, q.after, q.limit)
                            .await
                            .map_err(domain_error)?;
                    let out = MessagePageResponse {
                        messages: list
                            .iter()
                            .map(|m| MessageResponse {
                                number: m.number,
                                kind: m.kind,
                                user_id: m.user_id.to_string(),
                                to: m.to.clone(),
                                enrollment_token_id: m
                                    .enrollment_token_id
                                    .as_ref()
                                    .map(ToString::to_string),
                                device_id: m.device_id.as_ref().map(ToString::to_string),
                                device_identifier: m.device_identifier.clone(),
                                created_at: m.created_at.to_rfc3339(),
                            })
                            .collect(),
                        next_cursor: next.map(super::encode_cursor),
                    };
                    return Ok(ok(StatusCode::OK, &out));
                }
                let body: AcknowledgeRequest = json_body(req)?;
                if body.acknowledge.len() > 200 {
                    return Err(super::invalid(&roster_domain::ValidationError::new(
                        "acknowledge",
                        "must hold at most 200 numbers",
                    )));
                }
                let n = roster_domain::outbox::acknowledge(store, &org, &body.acknowledge)
                    .await
                    .map_err(domain_error)?;
                Ok(ok(
                    StatusCode::OK,
                    &serde_json::json!({ "acknowledged": n }),
                ))
            }
            .await,
        )
    }
}
