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
    /// Display name, shown as given (not unique: the slug is).
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
    /// The Dynatrace account UUID this organization answers to (seed 002's
    /// `account-uuid`); unique, generated at creation, changeable by PATCH.
    #[serde(default)]
    pub account_uuid: String,
    /// The Azure API Management service this organization answers to (seed 004's path),
    /// if bound; unique.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub apim: Option<ApimBinding>,
    /// Settings that change how the organization's requests behave.
    #[serde(default, deserialize_with = "crate::records::object")]
    pub policy: OrgPolicy,
    /// Whether every search entry of this organization has its n-grams flagged
    /// ([`crate::search_index`]): true for organizations created since the index exists,
    /// absent (false) in records written before, whose users a `q` search finds by
    /// reading every search batch, as it did then.
    #[serde(default)]
    pub search_index: bool,
    /// An organization-wide legal hold: while active, no user of the organization may
    /// be removed or purged on any surface ([`crate::holds`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub legal_hold: Option<LegalHold>,
}

/// A legal hold (deletion protection) on a user or a whole organization: while it is
/// active every removal path refuses, and the purge skips the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalHold {
    /// Why (1 to 256 characters, as given). Shown only to holders of
    /// `mdm.global.legalHold.read`; never copied into audit events or refusals.
    pub reason: String,
    /// Who placed it: a token id, or `admin`.
    pub placed_by: String,
    /// When it was placed (also what refusals name it by).
    pub placed_at: Timestamp,
    /// When it ends by itself; `None`: until lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl LegalHold {
    /// Whether the hold protects at `now`: placed, and without an end or before it.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// An organization's Azure API Management alias: requests under
/// `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ApiManagement/service/{serviceName}`
/// act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApimBinding {
    /// The Azure subscription (a UUID, lowercase).
    pub subscription_id: String,
    /// The resource group (matched case-insensitively, as ARM does; kept as given).
    pub resource_group_name: String,
    /// The API Management service name (`^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`).
    pub service_name: String,
}

/// Default requests per minute for an organization's tokens.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1_200;
/// Default number of dependents one request may purge before a removal continues
/// asynchronously (where the surface allows it).
pub const DEFAULT_REMOVAL_BATCH: u32 = 100;

/// An organization's policy settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgPolicy {
    /// Days a removed user stays restorable (soft delete); 0 = removal is permanent at
    /// once (the seeds' behaviour).
    pub retention_days: u32,
    /// Requests per minute allowed to each of the organization's tokens (a token may
    /// override it).
    pub rate_limit_per_minute: u32,
    /// Most dependents (devices, tokens, subscriptions, messages) one request purges
    /// before an asynchronous removal answers 202 and continues on polls.
    pub removal_batch: u32,
    /// Whether a live user may be removed only after a fresh export of its data
    /// ([`crate::export`]): one made at most `export_max_age_seconds` ago. Every removal
    /// path refuses otherwise ([`crate::removal::Blocker::ExportRequired`]).
    pub require_export_before_removal: bool,
    /// How long an export counts as fresh for `require_export_before_removal`, in
    /// seconds ([`MIN_EXPORT_MAX_AGE_SECONDS`] to [`MAX_EXPORT_MAX_AGE_SECONDS`]).
    pub export_max_age_seconds: u32,
    /// Inactivity removal ([`crate::inactivity`]): a live user unchanged for this many
    /// days is scheduled for removal by the inactivity sweep (`None`: off; 1 to
    /// [`MAX_INACTIVITY_DAYS`]).
    pub inactivity_days: Option<u32>,
    /// Days before an inactivity removal to queue a warning (`None`: none; 1 to
    /// [`crate::schedules::MAX_WARN_DAYS`]).
    pub inactivity_warn_days_before: Option<u32>,
    /// When `inactivity_days` last took its value (set by the server): inactivity is
    /// counted from the later of the user's last change and this, so switching the
    /// policy on (or changing its days) never makes anyone due at once.
    pub inactivity_since: Option<Timestamp>,
}

/// Longest inactivity period of [`OrgPolicy::inactivity_days`]: ten years of 365 days.
pub const MAX_INACTIVITY_DAYS: u32 = 3650;

/// Default freshness window of an export: one day.
pub const DEFAULT_EXPORT_MAX_AGE_SECONDS: u32 = 24 * 3600;
/// Shortest freshness window of an export: one minute.
pub const MIN_EXPORT_MAX_AGE_SECONDS: u32 = 60;
/// Longest freshness window of an export: 90 days.
pub const MAX_EXPORT_MAX_AGE_SECONDS: u32 = 90 * 24 * 3600;

impl Default for OrgPolicy {
    fn default() -> Self {
        Self {
            retention_days: 0,
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            removal_batch: DEFAULT_REMOVAL_BATCH,
            require_export_before_removal: false,
            export_max_age_seconds: DEFAULT_EXPORT_MAX_AGE_SECONDS,
            inactivity_days: None,
            inactivity_warn_days_before: None,
            inactivity_since: None,
        }
    }
}

impl OrgPolicy {
    /// The rule across the inactivity fields: a warning at least as many days before the
    /// removal as the inactivity it follows would be due the moment the policy starts
    /// (everyone warned at once), so `inactivityWarnDaysBefore` must be below
    /// `inactivityDays`. The error names `policy.inactivityWarnDaysBefore`.
    pub fn check_inactivity(&self) -> Result<(), crate::error::ValidationError> {
        match (self.inactivity_days, self.inactivity_warn_days_before) {
            (Some(days), Some(warn)) if warn >= days => Err(crate::error::ValidationError::new(
                "policy.inactivityWarnDaysBefore",
                format!("must be less than policy.inactivityDays ({days})"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether an export made at `last` is fresh at `now` under this policy: made, not
    /// in the future, and at most `export_max_age_seconds` old.
    pub fn export_is_fresh(&self, last: Option<Timestamp>, now: Timestamp) -> bool {
        last.is_some_and(|t| {
            t <= now && now.0 - t.0 <= i64::from(self.export_max_age_seconds) * 1000
        })
    }
}

/// A user's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in and enroll devices.
    Active,
    /// Kept, but may not sign in.
    Disabled,
    /// A removal has started; the record goes (or becomes `Deleted`) when it finishes.
    PendingDeletion,
    /// Removed softly: restorable until the organization's retention window ends, then
    /// purged. Invisible to lists, counts, searches and reads by id.
    Deleted,
}

impl UserStatus {
    /// The wire name (`active`, `disabled`, `pending_deletion`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
            UserStatus::PendingDeletion => "pending_deletion",
            UserStatus::Deleted => "deleted",
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

/// How a removal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalMode {
    /// Everything of the user is deleted; nothing personal remains.
    Permanent,
    /// The user becomes `deleted` and restorable until `purge_after`.
    Soft,
}

/// The journal of a removal in progress, kept in the user record: everything a later
/// request needs to finish the removal exactly as it was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalJournal {
    /// The operation id (pollable while the removal runs).
    pub operation_id: ObjectId,
    /// When the removal started.
    pub started_at: Timestamp,
    /// The surface that asked for it (`mdm`, `cas`, `dynatrace`, `apim`, `wso2`, `scim`).
    pub surface: String,
    /// Permanent or soft.
    pub mode: RemovalMode,
    /// Queue an account-closed notice to the user.
    #[serde(default)]
    pub notify: bool,
    /// The status before the removal started (restored if a guard refuses it).
    pub status_before: UserStatus,
    /// The audit event number reserved for this removal.
    pub audit_seq: i64,
    /// Who asked (a token id, or `admin`).
    pub actor: String,
    /// A request is working on the removal until then; others answer "in progress".
    pub lease_until: Timestamp,
    /// The first of the outbox numbers reserved for this removal's notices, once
    /// reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_base: Option<i64>,
    /// Whether the user was still in the organization's count when the removal started
    /// (a softly removed user being purged was already taken out).
    pub counted: bool,
    /// The trash queue entry reserved for a soft removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash_seq: Option<i64>,
    /// Delete the user's subscriptions (otherwise a soft removal cancels them).
    #[serde(default)]
    pub delete_subscriptions: bool,
    /// The verdict of the guards' re-check after the mark, settled once by whichever
    /// request driving the removal got there first (`pending` until then). `None` in
    /// journals written before verdicts existed (stop 32), whose removals are past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<Recheck>,
}

/// The verdict of a removal's re-check after its mark ([`RemovalJournal::recheck`]):
/// requests driving the same removal at once settle it with a conditional write of the
/// user record, so exactly one verdict stands — a removal one of them let pass is never
/// undone by another, and one being undone goes no further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recheck {
    /// Not settled yet.
    Pending,
    /// The removal goes on (and finishes).
    Passed,
    /// A guard refused: the mark is being undone.
    Refused,
}

/// A soft removal: when it happened and until when it can be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoftDeletion {
    /// When the user was removed.
    pub deleted_at: Timestamp,
    /// From then on the user is purged (on access, or by the purge route).
    pub purge_after: Timestamp,
    /// The status to restore.
    pub status_before: UserStatus,
    /// The entry of the organization's trash queue naming this user.
    pub trash_seq: i64,
}

/// Sign-in statistics (Dynatrace's `userLoginMetadata`). Roster does not sign end users
/// in itself, so these stay at zero unless a surface records sign-ins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginMetadata {
    /// Successful sign-ins.
    pub successful_login_counter: u64,
    /// Failed sign-ins.
    pub failed_login_counter: u64,
    /// Last successful sign-in.
    pub last_successful_login: Option<Timestamp>,
    /// Last failed sign-in.
    pub last_failed_login: Option<Timestamp>,
    /// When an administrator last reset the password.
    pub reset_password_token_sent_at: Option<Timestamp>,
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
    /// The primary email address, unique per organization (case-insensitive); optional
    /// (service accounts, kiosk and shared-device users have none). A user without one
    /// holds no email claim, is in no identity entry, and is sent no invitation or
    /// notice. Records written before it was optional hold a string and decode as
    /// `Some`; one without is stored without the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Further email addresses (SCIM's non-primary `emails`), each unique in the
    /// organization like `email` (one claim namespace: no address belongs to two
    /// users), at most [`MAX_OTHER_EMAILS`]; only a user with a primary `email` has
    /// any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_emails: Vec<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Where the user is in its lifecycle: active or disabled (live), `pending_deletion`
    /// while a removal is at work ([`User::removal`]), `deleted` once softly removed
    /// ([`User::deletion`]).
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub removal: Option<RemovalJournal>,
    /// Argon2id PHC string; never leaves the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// When the password was last set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<Timestamp>,
    /// Company (Dynatrace's `company`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub company: String,
    /// ISO 3166-1 alpha-2 country code, uppercase (Dynatrace's `countryCode`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub country_code: String,
    /// The identity provider's id for the user (SCIM `externalId`), unique per
    /// organization, case-exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Attributes other surfaces keep that the shared model has no field for (SCIM's
    /// core and enterprise attributes beyond the shared ones), validated by the surface
    /// that writes them; at most [`MAX_ATTRIBUTES_BYTES`] serialized.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Sign-in statistics.
    #[serde(default, deserialize_with = "crate::records::object")]
    pub login: LoginMetadata,
    /// Present while the user is softly removed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub deletion: Option<SoftDeletion>,
    /// The user's own legal hold, if one was placed and not lifted (it may have
    /// expired: see [`LegalHold::is_active`]). Placed and lifted by conditional writes
    /// of this record, so a hold and a removal's mark never both win ([`crate::holds`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub legal_hold: Option<LegalHold>,
    /// When the user's data was last exported (`…/users/:id/export`,
    /// [`crate::export`]); nothing of the export itself is kept. Written by a
    /// conditional write of this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exported_at: Option<Timestamp>,
    /// When the user is to be removed by the scheduled-removal run, if a removal was
    /// scheduled and not cancelled ([`crate::schedules`]). Set and cleared by
    /// conditional writes of this record; indexed under its day
    /// ([`crate::keys::schedule_day`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub removal_schedule: Option<RemovalSchedule>,
}

/// A removal scheduled for one user: the scheduled-removal run removes the user (through
/// the removal engine) once `at` has passed, and queues a warning from `warn_at` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalSchedule {
    /// When the user is due for removal.
    pub at: Timestamp,
    /// From when a warning message is queued (`None`: no warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<Timestamp>,
    /// Who scheduled it: a token id, or `admin`.
    pub scheduled_by: String,
    /// When it was scheduled.
    pub scheduled_at: Timestamp,
    /// The outbox number reserved for the warning, once the run began queuing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_number: Option<i64>,
    /// Whether the warning was queued (written to the outbox).
    #[serde(default)]
    pub warned: bool,
    /// Set when the inactivity sweep scheduled it ([`crate::inactivity`]): what it was
    /// based on, so the due run cancels it instead of removing after any activity or a
    /// change of the policy. `None`: scheduled through the route.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::records::optional_object"
    )]
    pub inactivity: Option<InactivityBasis>,
}

/// What an inactivity schedule was based on ([`RemovalSchedule::inactivity`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InactivityBasis {
    /// The user's `updatedAt` when it was scheduled: any later change is activity.
    pub last_change: Timestamp,
    /// From when the user counted as inactive: the later of `last_change` and the
    /// policy's `inactivity_since`.
    pub inactive_since: Timestamp,
    /// The policy's `inactivity_since` then: a later value means the policy changed.
    pub policy_since: Timestamp,
    /// The policy's `inactivity_days` then.
    pub days: u32,
    /// The audit number reserved for its `user.removal_scheduled` event (written after
    /// the record; the sweep writes it again if a stop left it missing).
    pub audit_number: i64,
    /// The audit number reserved for its cancellation, once the due run began one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_number: Option<i64>,
}

/// Largest serialized size of [`User::attributes`].
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// Most addresses [`User::other_emails`] holds.
pub const MAX_OTHER_EMAILS: usize = 9;

impl User {
    /// Whether the user is visible and changeable: neither being removed nor removed.
    pub fn is_live(&self) -> bool {
        matches!(self.status, UserStatus::Active | UserStatus::Disabled)
    }
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
    /// Unenrolled (or retired by a soft removal of its user); never blocks a removal.
    Removed,
}

/// Enrolment details of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentInfo {
    /// Who owns the device: the user (BYOD) or the company (COPE, COD).
    pub ownership: Ownership,
    /// Enrolment state; only ACTIVE devices block the canonical surface's removal.
    pub status: DeviceStatus,
    /// When the device was enrolled (never changes).
    pub date_of_enrolment: Timestamp,
    /// Last change of the enrolment.
    pub date_of_last_update: Timestamp,
}

/// A name/value property of a device (seed 003's `properties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// The property's key, as the client sent it.
    pub name: String,
    /// Its value, as the client sent it.
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
    /// Ownership, enrolment state and its dates.
    #[serde(deserialize_with = "crate::records::object")]
    pub enrolment_info: EnrolmentInfo,
    /// Client-defined name/value pairs, kept and echoed back as given.
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
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops being usable: the issue time plus the lifetime asked for (a
    /// pending token reads as expired from then on).
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
    /// The identity provider's id for the group (SCIM `externalId`), unique per
    /// organization, case-exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Incremented by every change of the group's name, external id or members; the
    /// ETag. (0 for groups written before versions existed.)
    #[serde(default)]
    pub version: u64,
    /// Set while a rename is in flight: the previous name, which some members' `groups`
    /// may still hold until the rename completes (any later change of the group
    /// completes it first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// An API Management subscription's state (seed 004's service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Usable.
    Active,
    /// Temporarily blocked.
    Suspended,
    /// Waiting for approval.
    Submitted,
    /// Ended by the owner.
    Cancelled,
}

/// A user's subscription to an API product (API Management).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// 24-hex id.
    pub id: ObjectId,
    /// The owning organization.
    pub org_id: ObjectId,
    /// The subscribed user.
    pub user_id: ObjectId,
    /// What it grants access to, e.g. `/products/starter`.
    pub scope: String,
    /// Display name, shown as given.
    pub display_name: String,
    /// Where the subscription stands. A removal that must keep subscriptions is refused
    /// while any is not cancelled ([`crate::removal::Subscriptions::RefuseIfAny`]).
    pub state: SubscriptionState,
    /// Creation time.
    pub created_at: Timestamp,
}
