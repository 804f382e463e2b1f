//! Groups (WSO2's roles): create with a unique name, list, get, delete, and the
//! membership of users.
//!
//! Membership is kept on both sides: the user record's `groups` (names, what every
//! surface shows) and each group's member list (user ids, so deleting a group or
//! removing a user touches only the lists involved, never a scan).

use crate::claims::{self, Claim};
use crate::dependents::{self, Appended};
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{Group, Organization, User};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use crate::users::IndexEntry;

/// Most groups one user can be in.
pub const MAX_GROUPS_PER_USER: usize = 64;

/// Validates a group name: 1 to 64 characters, no control characters or `/`.
pub fn parse_name(field: &str, raw: &str) -> Result<String, ValidationError> {
    let name = ids::text(field, raw, ids::MAX_IDENT_LEN)?;
    if name.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.contains('/') {
        return Err(ValidationError::new(field, "must not contain '/'"));
    }
    Ok(name)
}

fn name_key(org: &Organization, name: &str) -> String {
    keys::group_name_claim(&org.id, &keys::digest(&org.salt, &name.to_lowercase()))
}

/// Creates a group; of concurrent creates with one name (case-insensitive) one wins.
pub async fn create<S: Store>(
    store: &S,
    org: &Organization,
    name: String,
    description: String,
    now: Timestamp,
) -> Result<Group, DomainError> {
    let seq = store
        .increment(&keys::group_seq_counter(&org.id), 1)
        .await?;
    let group = Group {
        id: ObjectId::generate(now),
        uuid: ids::uuid_v4(),
        org_id: org.id.clone(),
        seq,
        name,
        description,
        created_at: now,
        updated_at: now,
        external_id: None,
    };
    // Record, members list and index entry first, so a claim always names a group.
    records::write(store, &keys::group(&org.id, &group.id), &group).await?;
    dependents::create(store, &keys::group_members(&org.id, &group.id)).await?;
    records::write(
        store,
        &keys::group_seq(&org.id, seq),
        &IndexEntry {
            id: group.id.clone(),
            at: now,
        },
    )
    .await?;
    match claims::try_claim(store, &name_key(org, &group.name), seq).await {
        Ok(Claim::Won) => Ok(group),
        other => {
            store
                .delete_many(&[
                    keys::group_seq(&org.id, seq),
                    keys::group_members(&org.id, &group.id),
                    keys::group(&org.id, &group.id),
                ])
                .await?;
            match other {
                Err(e) => Err(e.into()),
                _ => Err(DomainError::Conflict { field: "name" }),
            }
        }
    }
}

/// Reads a group by id.
pub async fn get<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<Group, DomainError> {
    records::read(store, &keys::group(&org.id, id))
        .await?
        .ok_or(DomainError::NotFound {
            entity: Entity::Group,
        })
}

/// Finds a group by name (case-insensitive): claim → index entry → record.
pub async fn find<S: Store>(
    store: &S,
    org: &Organization,
    name: &str,
) -> Result<Option<Group>, DomainError> {
    let Some(seq) = claims::holder(store, &name_key(org, name)).await? else {
        return Ok(None);
    };
    let Some(entry) = records::read::<S, IndexEntry>(store, &keys::group_seq(&org.id, seq)).await?
    else {
        return Ok(None);
    };
    let group: Option<Group> = records::read(store, &keys::group(&org.id, &entry.id)).await?;
    Ok(group.filter(|g| {
        g.name.eq_ignore_ascii_case(name) || g.name.to_lowercase() == name.to_lowercase()
    }))
}

/// All groups of the organization, in creation order (bounded by the scan budget).
pub async fn list<S: Store>(store: &S, org: &Organization) -> Result<Vec<Group>, DomainError> {
    let top = records::read_counter(store, &keys::group_seq_counter(&org.id)).await?;
    let mut out = Vec::new();
    let mut cursor = 0;
    while cursor < top {
        let end = (cursor + 200).min(top);
        let entry_keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::group_seq(&org.id, n))
            .collect();
        let mut ids = Vec::new();
        for (key, value) in entry_keys.iter().zip(store.get_many(&entry_keys).await?) {
            if let Some(bytes) = value {
                ids.push(records::decode::<IndexEntry>(key, &bytes)?.id);
            }
        }
        out.extend(dependents::load::<S, Group>(store, &ids, |id| keys::group(&org.id, id)).await?);
        cursor = end;
    }
    Ok(out)
}

/// Deletes a group: closes its member list, takes the group out of every member's
/// record, then deletes the list, the name claim, the index entry and the record.
/// Idempotent: a retry completes a delete that stopped.
pub async fn delete<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    let group = get(store, org, id).await?;
    let members = dependents::close(store, &keys::group_members(&org.id, id)).await?;
    for user_id in &members {
        records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
            let before = u.groups.len();
            u.groups.retain(|g| !g.eq_ignore_ascii_case(&group.name));
            if u.groups.len() == before {
                return Ok::<_, DomainError>(false);
            }
            u.version += 1;
            u.updated_at = now;
            Ok(true)
        })
        .await?;
    }
    store.delete(&keys::group_members(&org.id, id)).await?;
    claims::release(store, &name_key(org, &group.name), group.seq).await?;
    store.delete(&keys::group_seq(&org.id, group.seq)).await?;
    store.delete(&keys::group(&org.id, id)).await?;
    Ok(())
}

/// Sets a user's groups to exactly `names` (each must exist; `NotFound` for a group
/// otherwise names the missing one in a validation error). Member lists are updated
/// first, then the user record in one conditional write (`expected_version` checked);
/// a retry repairs a set that stopped half-way.
pub async fn set_user_groups<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    names: &[String],
    expected_version: Option<u64>,
    now: Timestamp,
) -> Result<User, DomainError> {
    if names.len() > MAX_GROUPS_PER_USER {
        return Err(ValidationError::new("groups", "must have at most 64 entries").into());
    }
    let user = crate::users::get_live(store, org, user_id).await?;
    if expected_version.is_some_and(|v| v != user.version) {
        return Err(DomainError::PreconditionFailed {
            entity: Entity::User,
        });
    }
    let mut wanted: Vec<Group> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = parse_name(&format!("groups[{i}]"), name)?;
        let g = find(store, org, &name).await?.ok_or_else(|| {
            ValidationError::new(format!("groups[{i}]"), format!("no group named {name}"))
        })?;
        if !wanted.iter().any(|w| w.id == g.id) {
            wanted.push(g);
        }
    }
    for g in &wanted {
        if dependents::append(store, &keys::group_members(&org.id, &g.id), user_id).await?
            == Appended::UserGone
        {
            return Err(DomainError::NotFound {
                entity: Entity::Group,
            });
        }
    }
    for old in &user.groups {
        if !wanted.iter().any(|g| g.name.eq_ignore_ascii_case(old))
            && let Some(g) = find(store, org, old).await?
        {
            dependents::remove(store, &keys::group_members(&org.id, &g.id), user_id).await?;
        }
    }
    let new_names: Vec<String> = wanted.iter().map(|g| g.name.clone()).collect();
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if expected_version.is_some_and(|v| v != u.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::User,
            });
        }
        if u.groups == new_names {
            return Ok(false);
        }
        u.groups.clone_from(&new_names);
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::User,
        }),
        Updated::Unchanged(u) | Updated::Written(u) => Ok(u),
    }
}

/// Takes a user out of the member lists of `names` (the removal engine's step).
pub async fn leave_all<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    names: &[String],
) -> Result<(), DomainError> {
    for name in names {
        if let Some(g) = find(store, org, name).await? {
            dependents::remove(store, &keys::group_members(&org.id, &g.id), user_id).await?;
        }
    }
    Ok(())
}
