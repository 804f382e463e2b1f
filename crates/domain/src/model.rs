//! The stored entities. Records are JSON with camelCase fields; every record that a
//! client can update conditionally carries a `version` that its ETag is made from.

use crate::ids::ObjectId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// An organization (tenant): every other entity belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// 24-hex id.
    pub id: ObjectId,
    /// Unique, lowercase, URL-friendly name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Sequence number (position in the organization index).
    pub seq: i64,
    /// Salt for the digests that key this organization's unique values.
    pub salt: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
    /// Incremented on every write.
    pub version: u64,
}

/// A user's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in and enroll devices.
    Active,
    /// Kept, but may not sign in.
    Disabled,
    /// A removal has started; the record goes when it finishes.
    PendingDeletion,
}

impl UserStatus {
    /// The wire name (`active`, `disabled`, `pending_deletion`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
            UserStatus::PendingDeletion => "pending_deletion",
        }
    }
}

/// Where a user's record is mastered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// Created in Roster.
    Local,
    /// Provisioned by an identity provider over SCIM.
    Scim,
    /// Synchronised from a directory.
    Directory,
}

/// The journal of a removal in progress, kept in the user record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalJournal {
    /// The operation id.
    pub operation_id: ObjectId,
    /// When the removal started.
    pub started_at: Timestamp,
}

/// A directory user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// 24-hex id.
    pub id: ObjectId,
    /// A UUID, for surfaces that address users by UUID.
    pub uuid: String,
    /// The owning organization.
    pub org_id: ObjectId,
    /// Sequence number (position in the organization's user index).
    pub seq: i64,
    /// Unique per organization (case-insensitive).
    pub username: String,
    /// Unique per organization (case-insensitive).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Lifecycle state.
    pub status: UserStatus,
    /// Where the record is mastered.
    pub source: IdentitySource,
    /// Group (role) names.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
    /// Incremented on every write; the ETag.
    pub version: u64,
    /// Present while a removal is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<RemovalJournal>,
    /// Argon2id PHC string; never leaves the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// When the password was last set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<Timestamp>,
}

/// How a device is owned (seed 003's `enrolmentInfo.ownership`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Ownership {
    /// Bring your own device.
    Byod,
    /// Corporate-owned, personally enabled.
    Cope,
    /// Corporate-owned device.
    Cod,
}

/// A device's enrolment state (seed 003's `enrolmentInfo.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeviceStatus {
    /// Enrolled and managed: blocks removal of its user on the canonical surface.
    Active,
    /// Enrolled but not currently managed.
    Inactive,
    /// Unenrolled.
    Removed,
}

/// Enrolment details of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentInfo {
    /// Ownership model.
    pub ownership: Ownership,
    /// Enrolment state.
    pub status: DeviceStatus,
    /// Enrolment time.
    pub date_of_enrolment: Timestamp,
    /// Last change of the enrolment.
    pub date_of_last_update: Timestamp,
}

/// A name/value property of a device (seed 003's `properties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Property name.
    pub name: String,
    /// Property value.
    pub value: String,
}

/// A managed device, owned by one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// 24-hex id.
    pub id: ObjectId,
    /// The owning organization.
    pub org_id: ObjectId,
    /// The owning user.
    pub user_id: ObjectId,
    /// Display name.
    pub name: String,
    /// Platform type, e.g. `android`, `ios`.
    #[serde(rename = "type")]
    pub device_type: String,
    /// Free description.
    pub description: String,
    /// The hardware identifier.
    pub device_identifier: String,
    /// Enrolment details.
    pub enrolment_info: EnrolmentInfo,
    /// Extra properties.
    #[serde(default)]
    pub properties: Vec<Property>,
    /// Incremented on every write.
    pub version: u64,
}

/// An enrollment token's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Issued and not yet used: blocks removal of its user on the canonical surface
    /// until it expires.
    Pending,
    /// Used to enroll a device.
    Used,
    /// Revoked by an administrator or by a removal.
    Revoked,
}

/// A token a user enrolls a device with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentToken {
    /// 24-hex id.
    pub id: ObjectId,
    /// The owning organization.
    pub org_id: ObjectId,
    /// The user it enrolls for.
    pub user_id: ObjectId,
    /// Stored state (an expired pending token reads as expired, see [`EnrollmentToken::is_pending`]).
    pub status: TokenStatus,
    /// Issue time.
    pub created_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
}

impl EnrollmentToken {
    /// Whether the token is still usable at `now`: pending and not expired.
    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.status == TokenStatus::Pending && now < self.expires_at
    }

    /// The state a client sees at `now`: `pending`, `used`, `revoked` or `expired`.
    pub fn effective_status(&self, now: Timestamp) -> &'static str {
        match self.status {
            TokenStatus::Pending if now >= self.expires_at => "expired",
            TokenStatus::Pending => "pending",
            TokenStatus::Used => "used",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// A group of users (WSO2 calls them roles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// 24-hex id.
    pub id: ObjectId,
    /// A UUID (Dynatrace's `RestUserGroup.uuid`).
    pub uuid: String,
    /// The owning organization.
    pub org_id: ObjectId,
    /// Sequence number (position in the group index).
    pub seq: i64,
    /// Unique per organization (case-insensitive).
    pub name: String,
    /// Free description.
    pub description: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update.
    pub updated_at: Timestamp,
}
