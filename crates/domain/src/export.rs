//! Export before erase: one JSON document with everything Roster holds about a user
//! (profile, groups, devices, enrollment tokens, subscriptions, the metadata of the API
//! tokens it owns, and the audit events about it), made on request and never kept.
//!
//! The user record keeps only the time of the last export (`lastExportedAt`), written
//! by a conditional write of the record; an organization whose policy sets
//! `requireExportBeforeRemoval` refuses every removal of a live user without an export
//! fresher than `exportMaxAgeSeconds` (the removal engine's guard,
//! [`crate::removal::Blocker::ExportRequired`]). The record write and a removal's mark
//! are both conditional writes of the user record, so they are ordered: an export that
//! comes after the mark is refused ([`ExportError::RemovalInProgress`]) and served to
//! nobody; a mark after the export sees its time.
//!
//! Each export is audited (`user.exported`, the user named by its pseudonym, the details
//! holding only the format version): the event is written **before** the export time,
//! so a failure in between leaves an event for an export nobody received (the client got
//! a 500 and repeats), never an export time without its event. `docs/lifecycle.md`
//! states the rules.

use crate::audit::{self, AuditEvent};
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Device, EnrollmentToken, Organization, Subscription, User, UserStatus};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use serde_json::{Value, json};

/// The version of the export document's format (its `formatVersion`).
pub const FORMAT_VERSION: u32 = 1;

/// Why an export was not made: [`UserStateError`](crate::error::UserStateError).
pub type ExportError = crate::error::UserStateError;

/// An export as made: the document to serve (and then forget), and the user record as
/// written (its `last_exported_at` is the export's time).
#[derive(Debug, Clone)]
pub struct Export {
    /// The document: `{formatVersion, exportedAt, organizationId, profile, groups,
    /// devices, enrollmentTokens, subscriptions, apiTokens, auditEvents}`.
    pub document: Value,
    /// The user record after the export time was written.
    pub user: User,
}

/// Exports the user `user_id` of `org` (live or softly removed; not one being
/// removed): reads its data, audits the export as `user.exported`, records its time in
/// the user record (without changing the user's `version` or `updatedAt`: an export
/// changes nothing of the person), and returns the document. Nothing of the document is
/// written anywhere.
pub async fn export_user<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<Export, ExportError> {
    let user = exportable(store, org, user_id).await?;
    let document = document(store, org, &user, now).await?;
    audit::record(
        store,
        &org.id,
        AuditEvent {
            number: 0,
            at: now,
            action: "user.exported".into(),
            surface: "mdm".into(),
            actor: actor.to_owned(),
            subject: audit::pseudonym(org, user_id),
            operation_id: None,
            details: [("formatVersion".to_owned(), Value::from(FORMAT_VERSION))]
                .into_iter()
                .collect(),
        },
    )
    .await?;
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(ExportError::in_progress(u));
        }
        u.last_exported_at = Some(now);
        Ok::<_, ExportError>(true)
    })
    .await?;
    match updated {
        Updated::Written(user) | Updated::Unchanged(user) => Ok(Export { document, user }),
        Updated::Missing => Err(ExportError::NotFound),
    }
}

/// Whether the user `user_id` of `org` can be exported now, with what [`export_user`]
/// would refuse first: the user as read, else [`ExportError::NotFound`] or
/// [`ExportError::RemovalInProgress`]. Reads the user record only; writes nothing, audits
/// nothing (what a `HEAD` of the export asks: GET's answer without making an export,
/// RFC 9110 §9.2.1).
pub async fn exportable<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<User, ExportError> {
    let user = crate::users::get_any(store, org, user_id)
        .await
        .map_err(ExportError::not_found)?;
    if user.status == UserStatus::PendingDeletion {
        return Err(ExportError::in_progress(&user));
    }
    Ok(user)
}

/// The export document of `user` at `now`.
async fn document<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    now: Timestamp,
) -> Result<Value, DomainError> {
    let o = &org.id;
    let [devices_key, tokens_key, _messages, api_tokens_key, subs_key] =
        crate::users::dependent_lists(o, &user.id);
    let ids = crate::dependents::read(store, &devices_key).await?;
    let devices: Vec<Device> =
        crate::dependents::load(store, &ids, |id| keys::device(o, id)).await?;
    let ids = crate::dependents::read(store, &tokens_key).await?;
    let tokens: Vec<EnrollmentToken> =
        crate::dependents::load(store, &ids, |id| keys::enrollment_token(o, id)).await?;
    let ids = crate::dependents::read(store, &subs_key).await?;
    let subs: Vec<Subscription> =
        crate::dependents::load(store, &ids, |id| keys::subscription(o, id)).await?;
    let ids = crate::dependents::read(store, &api_tokens_key).await?;
    let mut api_tokens = Vec::new();
    for id in &ids {
        match crate::tokens::get(store, Some(o), id).await {
            Ok(t) => api_tokens.push(json!({
                "id": t.id,
                "name": t.name,
                "permissions": t.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "createdAt": t.created_at.to_rfc3339(),
                "expiresAt": t.expires_at.map(Timestamp::to_rfc3339),
                "revokedAt": t.revoked_at.map(Timestamp::to_rfc3339),
                "state": t.state(now),
            })),
            Err(DomainError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let events = audit_events(store, org, &user.id).await?;
    Ok(json!({
        "formatVersion": FORMAT_VERSION,
        "exportedAt": now.to_rfc3339(),
        "organizationId": org.id,
        "profile": profile(user),
        "groups": user.groups,
        "devices": devices.iter().map(|d| json!({
            "id": d.id,
            "name": d.name,
            "type": d.device_type,
            "description": d.description,
            "deviceIdentifier": d.device_identifier,
            "ownership": d.enrolment_info.ownership,
            "status": d.enrolment_info.status,
            "dateOfEnrolment": d.enrolment_info.date_of_enrolment.to_rfc3339(),
            "dateOfLastUpdate": d.enrolment_info.date_of_last_update.to_rfc3339(),
            "properties": d.properties,
        })).collect::<Vec<_>>(),
        "enrollmentTokens": tokens.iter().map(|t| json!({
            "id": t.id,
            "status": t.effective_status(now),
            "createdAt": t.created_at.to_rfc3339(),
            "expiresAt": t.expires_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "subscriptions": subs.iter().map(|s| json!({
            "id": s.id,
            "scope": s.scope,
            "displayName": s.display_name,
            "state": s.state,
            "createdAt": s.created_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "apiTokens": api_tokens,
        "auditEvents": events,
    }))
}

/// The user's own fields: never its password hash, removal journal or legal hold (a
/// hold's reason is shown only to holders of `mdm.global.legalHold.read`).
fn profile(u: &User) -> Value {
    json!({
        "id": u.id,
        "uuid": u.uuid,
        "username": u.username,
        "email": u.email,
        "otherEmails": u.other_emails,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "status": u.status.as_str(),
        "source": u.source,
        "company": u.company,
        "countryCode": u.country_code,
        "externalId": u.external_id,
        "attributes": u.attributes,
        "hasPassword": u.password_hash.is_some(),
        "passwordChangedAt": u.password_changed_at.map(Timestamp::to_rfc3339),
        "login": {
            "successfulLoginCounter": u.login.successful_login_counter,
            "failedLoginCounter": u.login.failed_login_counter,
            "lastSuccessfulLogin": u.login.last_successful_login.map(Timestamp::to_rfc3339),
            "lastFailedLogin": u.login.last_failed_login.map(Timestamp::to_rfc3339),
            "resetPasswordTokenSentAt": u.login.reset_password_token_sent_at.map(Timestamp::to_rfc3339),
        },
        "createdAt": u.created_at.to_rfc3339(),
        "updatedAt": u.updated_at.to_rfc3339(),
        "softRemoval": u.deletion.as_ref().map(|d| json!({
            "deletedAt": d.deleted_at.to_rfc3339(),
            "purgeAfter": d.purge_after.to_rfc3339(),
        })),
        "lastExportedAt": u.last_exported_at.map(Timestamp::to_rfc3339),
    })
}

/// Every event of the organization's audit log about the user (its pseudonym), oldest
/// first: the whole log is read, [`audit::LIST_SCAN_BUDGET`] slots per call.
async fn audit_events<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<Vec<Value>, DomainError> {
    let subject = audit::pseudonym(org, user_id);
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let (events, next) = audit::list(store, &org.id, after, 1000, Some(&subject)).await?;
        out.extend(events.into_iter().map(|e| {
            json!({
                "number": e.number,
                "at": e.at.to_rfc3339(),
                "action": e.action,
                "surface": e.surface,
                "actor": e.actor,
                "subject": e.subject,
                "operationId": e.operation_id,
                "details": e.details,
            })
        }));
        match next {
            Some(n) if n > after => after = n,
            _ => return Ok(out),
        }
    }
}
