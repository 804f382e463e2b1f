//! Request and response bodies of the canonical surface. Requests refuse unknown
//! fields; every DTO is camelCase.

use roster_domain::model::{
    Device, DeviceStatus, EnrollmentToken, Organization, Ownership, Property, User,
};
use roster_domain::time::Timestamp;
use serde::{Deserialize, Serialize};

/// `POST /v1/organizations`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// Display name: 1 to 256 characters.
    pub name: String,
    /// `[a-zA-Z0-9-]{3,64}`, unique, stored lowercase; never 24 hex digits (that
    /// reads as an id in paths).
    pub slug: String,
    /// Other names the organization answers to.
    #[serde(default)]
    pub aliases: Option<AliasesRequest>,
    /// Policy settings; absent ones take the defaults.
    #[serde(default)]
    pub policy: Option<PolicyRequest>,
}

/// An organization's aliases in a request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasesRequest {
    /// The Dynatrace account UUID (seed 002's `account-uuid`).
    pub account_uuid: Option<String>,
    /// The API Management binding (seed 004's path); `null` unbinds.
    #[serde(default, deserialize_with = "double_option")]
    pub apim: Option<Option<ApimBindingDto>>,
}

/// An API Management binding, in requests and responses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApimBindingDto {
    /// The Azure subscription id (a UUID).
    pub subscription_id: String,
    /// The Azure resource group holding the service.
    pub resource_group_name: String,
    /// The API Management service name.
    pub service_name: String,
}

/// An organization's policy in a request: absent fields stay.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    /// Days a removed user stays restorable (0 to 365; 0 = permanent at once).
    pub retention_days: Option<i64>,
    /// Requests per minute for each token of the organization (1 to 1 000 000).
    pub rate_limit_per_minute: Option<i64>,
    /// Dependents one request purges before an asynchronous removal continues on polls
    /// (1 to 10 000).
    pub removal_batch: Option<i64>,
    /// Whether every removal of a live user needs a fresh export of its data first.
    pub require_export_before_removal: Option<bool>,
    /// How long an export counts as fresh, in seconds (60 to 7 776 000; default 86 400).
    pub export_max_age_seconds: Option<i64>,
    /// Inactivity removal: days without a change after which a live user is scheduled
    /// for removal (1 to 3650); `null` switches it off, absent leaves it.
    #[serde(default, deserialize_with = "double_option")]
    pub inactivity_days: Option<Option<i64>>,
    /// Days before an inactivity removal to queue a warning (1 to 365); `null`: none.
    #[serde(default, deserialize_with = "double_option")]
    pub inactivity_warn_days_before: Option<Option<i64>>,
}

/// Deserializes a field that distinguishes absent (`None`) from `null` (`Some(None)`).
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An organization as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationResponse {
    /// 24 hex digits; paths accept it or the slug.
    pub id: String,
    /// Lowercase, unique.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Other names it answers to.
    pub aliases: AliasesResponse,
    /// Retention, rate limit and removal batch, defaults filled in (times RFC 3339).
    #[serde(serialize_with = "policy_json")]
    pub policy: roster_domain::model::OrgPolicy,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last update (RFC 3339).
    pub updated_at: String,
}

/// The policy as answered: its stored form, with `inactivitySince` in RFC 3339.
fn policy_json<S: serde::Serializer>(
    p: &roster_domain::model::OrgPolicy,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut v = serde_json::to_value(p).map_err(serde::ser::Error::custom)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "inactivitySince".into(),
            p.inactivity_since
                .map_or(serde_json::Value::Null, |t| t.to_rfc3339().into()),
        );
    }
    v.serialize(s)
}

/// An organization's aliases as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasesResponse {
    /// The Dynatrace account UUID.
    pub account_uuid: String,
    /// The API Management binding, or `null`.
    pub apim: Option<ApimBindingDto>,
}

impl From<&Organization> for OrganizationResponse {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            slug: o.slug.clone(),
            name: o.name.clone(),
            aliases: AliasesResponse {
                account_uuid: o.account_uuid.clone(),
                apim: o.apim.as_ref().map(|b| ApimBindingDto {
                    subscription_id: b.subscription_id.clone(),
                    resource_group_name: b.resource_group_name.clone(),
                    service_name: b.service_name.clone(),
                }),
            },
            policy: o.policy.clone(),
            created_at: o.created_at.to_rfc3339(),
            updated_at: o.updated_at.to_rfc3339(),
        }
    }
}

/// `POST …/mdm/users`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 1 to 64 letters, digits and `. _ @ + -`; unique per organization,
    /// case-insensitively; cannot change later.
    pub username: String,
    /// At most 254 characters; unique per organization, case-insensitively. Optional
    /// (absent or `null`: the user has no email, claims no address and is sent no
    /// invitation or notice).
    pub email: Option<String>,
    /// Given name, up to 256 characters (absent: empty).
    pub first_name: Option<String>,
    /// Family name, up to 256 characters (absent: empty).
    pub last_name: Option<String>,
    /// An initial password (8 to 256 characters); stored only as an Argon2id hash.
    pub password: Option<String>,
    /// Up to 256 characters (absent: empty).
    pub company: Option<String>,
    /// ISO 3166-1 alpha-2, any case, stored uppercase (absent: empty).
    pub country_code: Option<String>,
}

/// A user as returned (never a secret).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    /// 24 hex digits (the `mdmUserId` of paths).
    pub id: String,
    /// A random UUID fixed at creation; CAS names the user by it (seed 001's `userId`).
    pub uuid: String,
    /// As given at creation (uniqueness ignores case).
    pub username: String,
    /// As given (uniqueness ignores case); `null` when the user has none.
    pub email: Option<String>,
    /// Given name, or empty.
    pub first_name: String,
    /// Family name, or empty.
    pub last_name: String,
    /// `active`, `disabled` or `pending_deletion`.
    pub status: &'static str,
    /// `local`, `scim` or `directory`.
    pub source: roster_domain::model::IdentitySource,
    /// Names of the groups the user is a member of.
    pub groups: Vec<String>,
    /// Company, or empty.
    pub company: String,
    /// ISO 3166-1 alpha-2 country code, or empty.
    pub country_code: String,
    /// When the password was last set (RFC 3339); `null` when none is set.
    pub password_changed_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// A softly removed user (`deleted`) only: until when `POST …/restore` can bring it
    /// back (RFC 3339); from then on it is purged. Absent for every other user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable_until: Option<String>,
    /// When the user's scheduled removal is due (RFC 3339); absent when none is
    /// scheduled (`…/removal-schedule`, docs/lifecycle.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_scheduled_at: Option<String>,
    /// Why that removal is scheduled: `inactivity` (the organization's inactivity
    /// policy) or `requested` (`PUT …/removal-schedule`); absent when none is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_schedule_reason: Option<&'static str>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            uuid: u.uuid.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            status: u.status.as_str(),
            source: u.source,
            groups: u.groups.clone(),
            company: u.company.clone(),
            country_code: u.country_code.clone(),
            password_changed_at: u.password_changed_at.map(|t| t.to_rfc3339()),
            created_at: u.created_at.to_rfc3339(),
            updated_at: u.updated_at.to_rfc3339(),
            restorable_until: u.deletion.as_ref().map(|d| d.purge_after.to_rfc3339()),
            removal_scheduled_at: u.removal_schedule.as_ref().map(|s| s.at.to_rfc3339()),
            removal_schedule_reason: u
                .removal_schedule
                .as_ref()
                .map(super::inactivity::schedule_reason),
        }
    }
}

/// Enrolment info in a request (seed 003's `enrolmentInfo`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrolmentInfoRequest {
    /// `BYOD`, `COPE` or `COD`.
    pub ownership: Option<Ownership>,
    /// `ACTIVE` (default), `INACTIVE` or `REMOVED`.
    pub status: Option<DeviceStatus>,
}

/// `POST …/devices`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollDeviceRequest {
    /// Display name: 1 to 256 characters.
    pub name: String,
    /// Platform, e.g. `android` or `ios`: 1 to 256 characters.
    #[serde(rename = "type")]
    pub device_type: String,
    /// Up to 256 characters (absent: empty).
    pub description: Option<String>,
    /// The hardware identifier (IMEI, serial, …): 1 to 256 characters.
    pub device_identifier: String,
    /// Ownership and status (absent: `BYOD`, `ACTIVE`).
    pub enrolment_info: Option<EnrolmentInfoRequest>,
    /// At most 64 name–value pairs (names up to 64 characters, values up to 4096),
    /// kept as given (seed 003's `properties`).
    #[serde(default)]
    pub properties: Vec<Property>,
}

/// `PATCH …/devices/:deviceId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDeviceRequest {
    /// The new enrolment status.
    pub status: DeviceStatus,
}

/// Enrolment info as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentInfoResponse {
    /// `BYOD`, `COPE` or `COD`.
    pub ownership: Ownership,
    /// `ACTIVE`, `INACTIVE` or `REMOVED`.
    pub status: DeviceStatus,
    /// The owner's username.
    pub owner: String,
    /// RFC 3339.
    pub date_of_enrolment: String,
    /// RFC 3339.
    pub date_of_last_update: String,
}

/// A device as returned (seed 003's device JSON).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceResponse {
    /// 24 hex digits (the `deviceId` of paths).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Platform, as enrolled.
    #[serde(rename = "type")]
    pub device_type: String,
    /// Description, or empty.
    pub description: String,
    /// The hardware identifier.
    pub device_identifier: String,
    /// Ownership, status, owner and dates.
    pub enrolment_info: EnrolmentInfoResponse,
    /// Name–value pairs, as enrolled.
    pub properties: Vec<Property>,
}

impl DeviceResponse {
    /// The response for `d`, owned by `owner` (a username).
    pub fn new(d: &Device, owner: &str) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.clone(),
            device_type: d.device_type.clone(),
            description: d.description.clone(),
            device_identifier: d.device_identifier.clone(),
            enrolment_info: EnrolmentInfoResponse {
                ownership: d.enrolment_info.ownership,
                status: d.enrolment_info.status,
                owner: owner.to_owned(),
                date_of_enrolment: d.enrolment_info.date_of_enrolment.to_rfc3339(),
                date_of_last_update: d.enrolment_info.date_of_last_update.to_rfc3339(),
            },
            properties: d.properties.clone(),
        }
    }
}

/// `POST …/enrollment-tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueEnrollmentTokenRequest {
    /// Lifetime in seconds (default 7 days, at most 90 days).
    pub expires_in: Option<i64>,
}

/// An enrollment token as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentTokenResponse {
    /// 24 hex digits (the `tokenId` of paths).
    pub id: String,
    /// The id of the user it enrolls a device for.
    pub user_id: String,
    /// `pending`, `used`, `revoked` or `expired`.
    pub status: &'static str,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl EnrollmentTokenResponse {
    /// The response for `t` as seen at `now`.
    pub fn new(t: &EnrollmentToken, now: Timestamp) -> Self {
        Self {
            id: t.id.to_string(),
            user_id: t.user_id.to_string(),
            status: t.effective_status(now),
            created_at: t.created_at.to_rfc3339(),
            expires_at: t.expires_at.to_rfc3339(),
        }
    }
}

/// `PATCH …/mdm/users/:mdmUserId`: absent fields are left as they are.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchUserRequest {
    /// New email (unique per organization); `null` removes it (releasing the address).
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    /// New given name, up to 256 characters.
    pub first_name: Option<String>,
    /// New family name, up to 256 characters.
    pub last_name: Option<String>,
    /// New company, up to 256 characters (empty clears it).
    pub company: Option<String>,
    /// New ISO 3166-1 alpha-2 code (empty clears it).
    pub country_code: Option<String>,
}

/// The statuses a client may set (removal has its own route).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettableStatus {
    /// Enable the user.
    Active,
    /// Disable the user.
    Disabled,
}

/// `POST …/mdm/users/:mdmUserId/status`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetUserStatusRequest {
    /// `active` or `disabled`.
    pub status: SettableStatus,
}

/// `GET …/mdm/users/count`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountResponse {
    /// Users in the organization.
    pub count: i64,
}

/// `GET …/mdm/users`: one page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPageResponse {
    /// The users, in creation order.
    pub users: Vec<UserResponse>,
    /// Pass as `cursor` for the next page; `null` when the listing is complete.
    pub next_cursor: Option<String>,
}

/// `PATCH /v1/organizations/:organizationId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchOrganizationRequest {
    /// New display name: 1 to 256 characters.
    pub name: Option<String>,
    /// New slug (unique; the old one is freed).
    pub slug: Option<String>,
    /// Alias changes: absent ones stay, `apim: null` unbinds.
    pub aliases: Option<AliasesRequest>,
    /// Policy changes: absent ones stay.
    pub policy: Option<PolicyRequest>,
}

/// `GET /v1/organizations`: one page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPageResponse {
    /// The organizations, in creation order.
    pub organizations: Vec<OrganizationResponse>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `POST …/mdm/groups`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// 1 to 64 characters, no `/`; unique per organization (case-insensitive).
    pub name: String,
    /// Up to 256 characters (absent: empty).
    pub description: Option<String>,
}

/// A group as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupResponse {
    /// 24 hex digits (the `groupId` of paths).
    pub id: String,
    /// A random UUID fixed at creation.
    pub uuid: String,
    /// Unique per organization; what users' `groups` list.
    pub name: String,
    /// Description, or empty.
    pub description: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&roster_domain::model::Group> for GroupResponse {
    fn from(g: &roster_domain::model::Group) -> Self {
        Self {
            id: g.id.to_string(),
            uuid: g.uuid.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            created_at: g.created_at.to_rfc3339(),
            updated_at: g.updated_at.to_rfc3339(),
        }
    }
}

/// `PUT …/mdm/users/:mdmUserId/groups`: the user's complete set of groups, by name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetUserGroupsRequest {
    /// Names of existing groups (at most 64); the user leaves every other group.
    pub groups: Vec<String>,
}

/// `POST …/mdm/users/:mdmUserId/password`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password (wrong, or none set: the same 400, 2001).
    pub old_password: String,
    /// 8 to 256 characters; stored only as an Argon2id hash.
    pub new_password: String,
}

/// `POST …/mdm/users/:mdmUserId/password-reset`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// 8 to 256 characters; stored only as an Argon2id hash.
    pub new_password: String,
}

/// `POST …/mdm/invitations`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    /// 1 to 100 usernames; unknown ones are reported, not refused.
    pub usernames: Vec<String>,
    /// Lifetime of each enrollment token in seconds (1 to 90 days; default 7 days).
    pub expires_in: Option<i64>,
}

/// One username's invitation result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationResult {
    /// The username as given.
    pub username: String,
    /// `invited`, `not_found` or `not_deliverable` (the user has no email address:
    /// no token issued, nothing queued).
    pub status: &'static str,
    /// Why the user was not invited, for `not_deliverable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The enrollment token issued (when `invited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token_id: Option<String>,
    /// The outbox message's number (when `invited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_number: Option<i64>,
}

/// A pending outbox message as returned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageResponse {
    /// Its position in the outbox; acknowledge with it.
    pub number: i64,
    /// `invitation`, `device_retire`, `account_closed` or `removal_warning`.
    pub kind: roster_domain::outbox::MessageKind,
    /// The id of the user it is addressed to.
    pub user_id: String,
    /// The user's email address at the time it was queued.
    pub to: String,
    /// The enrollment token an invitation carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token_id: Option<String>,
    /// The device a retire notice is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// That device's hardware identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
    /// A removal warning: when the user is to be removed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_at: Option<String>,
    /// When it was queued (RFC 3339).
    pub created_at: String,
}

impl From<&roster_domain::outbox::Message> for MessageResponse {
    fn from(m: &roster_domain::outbox::Message) -> Self {
        Self {
            number: m.number,
            kind: m.kind,
            user_id: m.user_id.to_string(),
            to: m.to.clone(),
            enrollment_token_id: m.enrollment_token_id.as_ref().map(ToString::to_string),
            device_id: m.device_id.as_ref().map(ToString::to_string),
            device_identifier: m.device_identifier.clone(),
            removal_at: m.removal_at.map(|t| t.to_rfc3339()),
            created_at: m.created_at.to_rfc3339(),
        }
    }
}

/// `GET …/mdm/outbox`: one page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePageResponse {
    /// Pending messages, oldest first.
    pub messages: Vec<MessageResponse>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `POST …/mdm/outbox`: acknowledge delivered messages.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// Numbers of the delivered messages (at most 200).
    pub acknowledge: Vec<i64>,
}

/// `PUT …/mdm/users/:mdmUserId`: the user's mutable fields, all replaced (absent
/// names become empty). The username cannot change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutUserRequest {
    /// At most 254 characters; unique per organization, case-insensitively (absent or
    /// `null`: the user has no email, releasing any it had).
    pub email: Option<String>,
    /// Given name, up to 256 characters (absent: empty).
    pub first_name: Option<String>,
    /// Family name, up to 256 characters (absent: empty).
    pub last_name: Option<String>,
    /// Up to 256 characters (absent: empty).
    pub company: Option<String>,
    /// ISO 3166-1 alpha-2 (absent: empty).
    pub country_code: Option<String>,
}
