//! Request and response bodies of the WSO2 surface, in WSO2 EMM's field names
//! (`firstname`, `lastname`, `emailAddress`, `roles`). Requests refuse unknown fields;
//! responses leave out empty name and email fields, as the seed shows
//! `{"username":"admin"}` for a user without them.

use roster_domain::model::{Device, DeviceStatus, Ownership, RemovalMode, User};
use roster_domain::removal::Counts;
use serde::{Deserialize, Serialize};

/// `POST /mdm-admin/users`: WSO2's user JSON.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddUserRequest {
    /// The username, optionally `PRIMARY/`-qualified.
    pub username: String,
    /// Given name; absent: none.
    pub firstname: Option<String>,
    /// Family name; absent: none.
    pub lastname: Option<String>,
    /// Email, unique per organization; absent (or `null`): the user has none (the seed
    /// shows such a user as `{"username":"admin"}`), is sent no invitation and is
    /// never found by email.
    pub email_address: Option<String>,
    /// Role (group) names; a role that does not exist is created (see `docs/wso2.md`).
    pub roles: Option<Vec<String>>,
    /// An initial password, base64-encoded like every WSO2 password; absent: the user
    /// has none until a reset sets one.
    pub password: Option<String>,
}

/// `PUT /mdm-admin/users?username=`: absent (or `null`) fields stay as they are.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Must name the user of the query parameter when given (usernames do not change).
    pub username: Option<String>,
    /// New given name (`""` clears it).
    pub firstname: Option<String>,
    /// New family name (`""` clears it).
    pub lastname: Option<String>,
    /// New email (unique in the organization: another user's answers 409); `""`
    /// removes it, like the names.
    pub email_address: Option<String>,
    /// The user's complete set of roles (replacing the current ones; `[]` clears them).
    pub roles: Option<Vec<String>>,
}

/// `POST /mdm-admin/users/change-password`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Whose password.
    pub username: String,
    /// The current password, base64.
    pub old_password: String,
    /// The new password, base64.
    pub new_password: String,
}

/// `POST /mdm-admin/users/reset-password`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// Whose password.
    pub username: String,
    /// Ignored: a reset does not need the old password (the seed sends `""`).
    pub old_password: Option<serde_json::Value>,
    /// The new password, base64.
    pub new_password: String,
}

/// A user as WSO2 shows one: empty fields are left out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    /// Username (without a user-store domain).
    pub username: String,
    /// Given name, left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub firstname: String,
    /// Family name, left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lastname: String,
    /// Email, left out when the user has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            username: u.username.clone(),
            firstname: u.first_name.clone(),
            lastname: u.last_name.clone(),
            email_address: u.email.clone(),
        }
    }
}

/// A device's enrolment as WSO2 shows it (times in epoch milliseconds).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentInfoResponse {
    /// The enrolment's id: Roster keeps one enrolment per device, so the device's id.
    pub id: String,
    /// Enrolment time, epoch milliseconds.
    pub date_of_enrolment: i64,
    /// Last change of the enrolment, epoch milliseconds.
    pub date_of_last_update: i64,
    /// `BYOD`, `COPE` or `COD`.
    pub ownership: Ownership,
    /// `ACTIVE`, `INACTIVE` or `REMOVED`.
    pub status: DeviceStatus,
    /// The owner's username.
    pub owner: String,
}

/// A device property; a property without a value shows only its name (`{"name":"SERIAL"}`).
#[derive(Debug, Serialize)]
pub struct PropertyResponse {
    /// The property's key (`SERIAL`, `DEVICE_INFO`, …).
    pub name: String,
    /// Value, left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// A device in the seed's device JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceResponse {
    /// The device's id (Roster's 24-hex id, a string).
    pub id: String,
    /// The device's display name.
    pub name: String,
    /// Platform type, e.g. `android`, `ios`.
    #[serde(rename = "type")]
    pub device_type: String,
    /// Free text, `""` when unset.
    pub description: String,
    /// The hardware identifier the device enrolled with.
    pub device_identifier: String,
    /// Ownership, status and times of the enrolment.
    pub enrolment_info: EnrolmentInfoResponse,
    /// Properties in their stored order (`DEVICE_INFO` among them when the device
    /// reported it).
    pub properties: Vec<PropertyResponse>,
}

impl DeviceResponse {
    /// The answer for `d`, owned by the user named `owner`.
    pub fn new(d: &Device, owner: &str) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.clone(),
            device_type: d.device_type.clone(),
            description: d.description.clone(),
            device_identifier: d.device_identifier.clone(),
            enrolment_info: EnrolmentInfoResponse {
                id: d.id.to_string(),
                date_of_enrolment: d.enrolment_info.date_of_enrolment.0,
                date_of_last_update: d.enrolment_info.date_of_last_update.0,
                ownership: d.enrolment_info.ownership,
                status: d.enrolment_info.status,
                owner: owner.to_owned(),
            },
            properties: d
                .properties
                .iter()
                .map(|p| PropertyResponse {
                    name: p.name.clone(),
                    value: p.value.clone(),
                })
                .collect(),
        }
    }
}

/// One reason a removal would be refused, in a dry run's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockerResponse {
    /// The blocker (`activeDevices`, `pendingEnrollmentTokens`, …) and its count.
    #[serde(flatten)]
    pub blocker: roster_domain::removal::Blocker,
    /// The blocker in prose (what [`blocker_message`](super::blocker_message) says).
    pub message: String,
}

/// `DELETE /mdm-admin/users?username=&dryRun=true`: what the removal would do.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanResponse {
    /// Always `true`: nothing was changed.
    pub dry_run: bool,
    /// The user's username as stored (without a user-store domain).
    pub username: String,
    /// Whether the removal would proceed now.
    pub removable: bool,
    /// `permanent`, or `soft` under the organization's retention policy.
    pub mode: RemovalMode,
    /// How many records of each kind would go with the user.
    pub would_remove: Counts,
    /// What refuses it (empty when removable).
    pub blockers: Vec<BlockerResponse>,
}
