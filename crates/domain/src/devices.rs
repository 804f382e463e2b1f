//! Devices: enroll for a user, list, change status, delete.

use crate::dependents;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{Device, DeviceStatus, EnrolmentInfo, Organization, Ownership, Property};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use crate::users;

/// A validated request to enroll a device.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Display name.
    pub name: String,
    /// Platform type.
    pub device_type: String,
    /// Free description.
    pub description: String,
    /// Hardware identifier.
    pub device_identifier: String,
    /// Ownership model.
    pub ownership: Ownership,
    /// Initial state (ACTIVE unless given).
    pub status: DeviceStatus,
    /// Extra properties.
    pub properties: Vec<Property>,
}

impl NewDevice {
    /// Validates the text fields (lengths, no control characters); `name`, `type` and
    /// `deviceIdentifier` are required.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        name: &str,
        device_type: &str,
        description: Option<&str>,
        device_identifier: &str,
        ownership: Ownership,
        status: DeviceStatus,
        properties: Vec<Property>,
    ) -> Result<Self, ValidationError> {
        let required = |field: &str, raw: &str| {
            let v = ids::text(field, raw, ids::MAX_TEXT_LEN)?;
            if v.is_empty() {
                return Err(ValidationError::new(field, "must not be empty"));
            }
            Ok(v)
        };
        if properties.len() > 64 {
            return Err(ValidationError::new(
                "properties",
                "must have at most 64 entries",
            ));
        }
        for (i, p) in properties.iter().enumerate() {
            ids::text(
                &format!("properties[{i}].name"),
                &p.name,
                ids::MAX_IDENT_LEN,
            )?;
            ids::text(&format!("properties[{i}].value"), &p.value, 4096)?;
        }
        Ok(Self {
            name: required("name", name)?,
            device_type: required("type", device_type)?,
            description: ids::text("description", description.unwrap_or(""), ids::MAX_TEXT_LEN)?,
            device_identifier: required("deviceIdentifier", device_identifier)?,
            ownership,
            status,
            properties,
        })
    }
}

/// Enrolls a device for an active user. Fails with `NotFound` when the user is gone or
/// being removed (a racing removal closes the user's device list first).
pub async fn enroll<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    new: NewDevice,
    now: Timestamp,
) -> Result<Device, DomainError> {
    users::get_live(store, org, user_id).await?;
    let device = Device {
        id: ObjectId::generate(now),
        org_id: org.id.clone(),
        user_id: user_id.clone(),
        name: new.name,
        device_type: new.device_type,
        description: new.description,
        device_identifier: new.device_identifier,
        enrolment_info: EnrolmentInfo {
            ownership: new.ownership,
            status: new.status,
            date_of_enrolment: now,
            date_of_last_update: now,
        },
        properties: new.properties,
        version: 1,
    };
    dependents::attach(
        store,
        &keys::device(&org.id, &device.id),
        &device,
        &keys::user_devices(&org.id, user_id),
        &device.id,
    )
    .await?;
    Ok(device)
}

/// The user's devices, in enrolment order.
pub async fn list<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<Vec<Device>, DomainError> {
    users::get(store, org, user_id).await?;
    let ids = dependents::read(store, &keys::user_devices(&org.id, user_id)).await?;
    dependents::load(store, &ids, |id| keys::device(&org.id, id)).await
}

/// One device of the user.
pub async fn get<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    device_id: &ObjectId,
) -> Result<Device, DomainError> {
    let device: Device = records::read(store, &keys::device(&org.id, device_id))
        .await?
        .ok_or(DomainError::NotFound {
            entity: Entity::Device,
        })?;
    if &device.user_id != user_id {
        return Err(DomainError::NotFound {
            entity: Entity::Device,
        });
    }
    Ok(device)
}

/// Changes a device's enrolment status (a conditional write).
pub async fn set_status<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    device_id: &ObjectId,
    status: DeviceStatus,
    now: Timestamp,
) -> Result<Device, DomainError> {
    let updated = records::update(
        store,
        &keys::device(&org.id, device_id),
        |d: &mut Device| {
            if &d.user_id != user_id {
                return Err(DomainError::NotFound {
                    entity: Entity::Device,
                });
            }
            if d.enrolment_info.status == status {
                return Ok(false);
            }
            d.enrolment_info.status = status;
            d.enrolment_info.date_of_last_update = now;
            d.version += 1;
            Ok(true)
        },
    )
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::Device,
        }),
        Updated::Unchanged(d) | Updated::Written(d) => Ok(d),
    }
}

/// Deletes a device: the record, then its entry in the user's list. Idempotent: when
/// the record is already gone a leftover list entry is still cleaned, then `NotFound`.
pub async fn delete<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    device_id: &ObjectId,
) -> Result<(), DomainError> {
    let found = match get(store, org, user_id, device_id).await {
        Ok(_) => true,
        Err(DomainError::NotFound { .. }) => false,
        Err(e) => return Err(e),
    };
    if found {
        store.delete(&keys::device(&org.id, device_id)).await?;
    }
    dependents::remove(store, &keys::user_devices(&org.id, user_id), device_id).await?;
    if found {
        Ok(())
    } else {
        Err(DomainError::NotFound {
            entity: Entity::Device,
        })
    }
}
