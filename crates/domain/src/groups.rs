//! Groups (WSO2's roles): create with a unique name, list, get, delete, and the
//! membership of users.
//!
//! Membership is kept on both sides: the user record's `groups` (names, what every
//! surface shows) and each group's member list (user ids, so deleting a group or
//! removing a user touches only the lists involved, never a scan).

use crate::claims::{self, Claim, ClaimChange, UnwrittenClaims, Write};
use crate::dependents::{self, Appended};
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{Group, Organization, User};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use crate::users::IndexEntry;
use roster_lowercase::Lowercase as _;

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
    keys::group_name_claim(&org.id, &keys::digest(&org.salt, &name.lowercase()))
}

fn external_key(org: &Organization, external_id: &str) -> String {
    keys::group_external_id_claim(&org.id, &keys::digest(&org.salt, external_id))
}

/// Whether two group names are the same name (case-insensitive).
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.lowercase() == b.lowercase()
}

/// Every claim a group holds, with the field each is for: its name, the name it is
/// being renamed from (until the rename completes), and its external id.
pub fn group_claims(org: &Organization, g: &Group) -> Vec<(&'static str, String)> {
    let mut out = vec![("name", name_key(org, &g.name))];
    if let Some(old) = &g.renamed_from {
        let k = name_key(org, old);
        if !out.iter().any(|(_, x)| *x == k) {
            out.push(("name", k));
        }
    }
    if let Some(e) = &g.external_id {
        out.push(("externalId", external_key(org, e)));
    }
    out
}

/// A validated request to create a group.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// The name (see [`parse_name`]), unique per organization (case-insensitive).
    pub name: String,
    /// Free description.
    pub description: String,
    /// The identity provider's id (see [`crate::users::parse_external_id`]), unique per
    /// organization (case-exact).
    pub external_id: Option<String>,
}

/// Creates a group; of concurrent creates with one name (case-insensitive) one wins.
pub async fn create<S: Store>(
    store: &S,
    org: &Organization,
    name: String,
    description: String,
    now: Timestamp,
) -> Result<Group, DomainError> {
    create_with(
        store,
        org,
        NewGroup {
            name,
            description,
            external_id: None,
        },
        now,
    )
    .await
}

/// Creates a group with an optional external id. Of concurrent creates with one name
/// (case-insensitive), or one external id, exactly one wins; the others get
/// [`DomainError::Conflict`] naming `name` or `externalId`, and what they wrote is
/// deleted again.
pub async fn create_with<S: Store>(
    store: &S,
    org: &Organization,
    new: NewGroup,
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
        name: new.name,
        description: new.description,
        created_at: now,
        updated_at: now,
        external_id: new.external_id,
        version: 1,
        renamed_from: None,
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
    let mut won: Vec<String> = Vec::new();
    let mut failure = None;
    for (field, key) in group_claims(org, &group) {
        match claims::try_claim(store, &key, seq).await {
            Ok(Claim::Won) => won.push(key),
            Ok(Claim::Held(_)) => {
                failure = Some(DomainError::Conflict { field });
                break;
            }
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        }
    }
    let Some(failure) = failure else {
        return Ok(group);
    };
    for key in &won {
        claims::release(store, key, seq).await?;
    }
    store
        .delete_many(&[
            keys::group_seq(&org.id, seq),
            keys::group_members(&org.id, &group.id),
            keys::group(&org.id, &group.id),
        ])
        .await?;
    Err(failure)
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

/// Follows a claim to the group holding it: claim → index entry → record.
async fn by_claim<S: Store>(
    store: &S,
    org: &Organization,
    key: &str,
) -> Result<Option<Group>, DomainError> {
    let Some(seq) = claims::holder(store, key).await? else {
        return Ok(None);
    };
    let Some(entry) = records::read::<S, IndexEntry>(store, &keys::group_seq(&org.id, seq)).await?
    else {
        return Ok(None);
    };
    records::read(store, &keys::group(&org.id, &entry.id)).await
}

/// Finds a group by name (case-insensitive): claim → index entry → record.
pub async fn find<S: Store>(
    store: &S,
    org: &Organization,
    name: &str,
) -> Result<Option<Group>, DomainError> {
    Ok(by_claim(store, org, &name_key(org, name))
        .await?
        .filter(|g| same_name(&g.name, name)))
}

/// Finds a group by external id (case-exact): claim → index entry → record.
pub async fn find_by_external_id<S: Store>(
    store: &S,
    org: &Organization,
    external_id: &str,
) -> Result<Option<Group>, DomainError> {
    Ok(by_claim(store, org, &external_key(org, external_id))
        .await?
        .filter(|g| g.external_id.as_deref() == Some(external_id)))
}

/// The ids of the organization's groups, in creation order: the group index only, read
/// 1000 entries per store call (no group record is read).
pub async fn ids<S: Store>(store: &S, org: &Organization) -> Result<Vec<ObjectId>, DomainError> {
    Ok(index(store, org)
        .await?
        .into_iter()
        .map(|(_, id)| id)
        .collect())
}

/// The group index: each group's creation sequence number and id, in creation order,
/// read 1000 entries per store call (no group record is read).
pub async fn index<S: Store>(
    store: &S,
    org: &Organization,
) -> Result<Vec<(i64, ObjectId)>, DomainError> {
    let top = records::read_counter(store, &keys::group_seq_counter(&org.id)).await?;
    let mut out = Vec::new();
    let mut cursor = 0;
    while cursor < top {
        let end = (cursor + 1000).min(top);
        let entry_keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::group_seq(&org.id, n))
            .collect();
        for (n, (key, value)) in
            (cursor + 1..=end).zip(entry_keys.iter().zip(store.get_many(&entry_keys).await?))
        {
            if let Some(bytes) = value {
                out.push((n, records::decode::<IndexEntry>(key, &bytes)?.id));
            }
        }
        cursor = end;
    }
    Ok(out)
}

/// The groups with these ids that exist, in the order given (100 per store call).
pub async fn load<S: Store>(
    store: &S,
    org: &Organization,
    ids: &[ObjectId],
) -> Result<Vec<Group>, DomainError> {
    dependents::load::<S, Group>(store, ids, |id| keys::group(&org.id, id)).await
}

/// All groups of the organization, in creation order (bounded by the scan budget).
pub async fn list<S: Store>(store: &S, org: &Organization) -> Result<Vec<Group>, DomainError> {
    let ids = ids(store, org).await?;
    dependents::load::<S, Group>(store, &ids, |id| keys::group(&org.id, id)).await
}

/// The ids in a group's member list (users whose `groups` name it; while a removal or
/// a membership change is in flight, possibly a user that no longer does).
pub async fn member_ids<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<Vec<ObjectId>, DomainError> {
    dependents::read(store, &keys::group_members(&org.id, id)).await
}

fn group_not_found() -> DomainError {
    DomainError::NotFound {
        entity: Entity::Group,
    }
}

/// Whether `u` is being removed for good: its removal takes it out of its groups (a
/// soft removal keeps them, for a restore).
fn leaving(u: &User) -> bool {
    u.removal
        .as_ref()
        .is_some_and(|j| j.mode == crate::model::RemovalMode::Permanent)
}

/// Takes `names` out of a user's `groups`; returns whether any was there.
fn drop_names(u: &mut User, names: &[&str]) -> bool {
    let before = u.groups.len();
    u.groups.retain(|g| !names.iter().any(|n| same_name(g, n)));
    u.groups.len() != before
}

/// The names a member may hold group `g` under: its name and, while a rename is in
/// flight, the previous one.
fn held_names(g: &Group) -> Vec<&str> {
    std::iter::once(g.name.as_str())
        .chain(g.renamed_from.as_deref())
        .collect()
}

/// Takes `names` out of user `user_id`'s groups, with a new version and update time
/// when the user held one of them (no write otherwise, nor for a missing user).
async fn leave<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    names: &[&str],
    now: Timestamp,
) -> Result<(), DomainError> {
    records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if !drop_names(u, names) {
            return Ok::<_, DomainError>(false);
        }
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Deletes a group: closes its member list, takes the group out of every member's
/// record, then deletes the list, the claims, the index entry and the record.
/// Idempotent: a retry completes a delete that stopped.
pub async fn delete<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    delete_checked(store, org, id, None, now).await
}

/// [`delete`], conditional on the group's version when `expected_version` is given
/// (`PreconditionFailed` otherwise): the first write is a conditional one that bumps
/// the version, so of a delete and a concurrent change made from the same version
/// only one proceeds.
pub async fn delete_checked<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expected_version: Option<u64>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut group = get(store, org, id).await?;
    if let Some(v) = expected_version {
        let updated = records::update(store, &keys::group(&org.id, id), |g: &mut Group| {
            if g.version != v {
                return Err(DomainError::PreconditionFailed {
                    entity: Entity::Group,
                });
            }
            g.version += 1;
            g.updated_at = now;
            Ok(true)
        })
        .await?;
        group = match updated {
            Updated::Missing => return Err(group_not_found()),
            Updated::Unchanged(g) | Updated::Written(g) => g,
        };
    }
    let members = dependents::close(store, &keys::group_members(&org.id, id)).await?;
    // Read again once the list is closed: a rename that wrote the record since (and may
    // have walked members to the new name) is seen, and its names leave too.
    let current: Option<Group> = records::read(store, &keys::group(&org.id, id)).await?;
    let mut names = held_names(&group);
    if let Some(c) = &current {
        for n in held_names(c) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    for user_id in &members {
        leave(store, org, user_id, &names, now).await?;
    }
    store.delete(&keys::group_members(&org.id, id)).await?;
    let mut claimed = group_claims(org, &group);
    if let Some(c) = &current {
        claimed.extend(group_claims(org, c));
    }
    for (_, key) in claimed {
        claims::release(store, &key, group.seq).await?;
    }
    store.delete(&keys::group_seq(&org.id, group.seq)).await?;
    store.delete(&keys::group(&org.id, id)).await?;
    Ok(())
}

/// Records a new version of a group (its members changed). A missing group is left
/// alone.
pub async fn touch<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    records::update(store, &keys::group(&org.id, id), |g: &mut Group| {
        g.version += 1;
        g.updated_at = now;
        Ok::<_, DomainError>(true)
    })
    .await?;
    Ok(())
}

/// [`touch`]es the groups named `names` (those that exist): a user in them was removed,
/// softly removed or restored.
pub async fn touch_named<S: Store>(
    store: &S,
    org: &Organization,
    names: &[String],
    now: Timestamp,
) -> Result<(), DomainError> {
    for name in names {
        if let Some(g) = find(store, org, name).await? {
            touch(store, org, &g.id, now).await?;
        }
    }
    Ok(())
}

/// A validated change of a group: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    /// A new name (see [`parse_name`]); members' `groups` follow.
    pub name: Option<String>,
    /// A new external id (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
}

/// Changes a group's name and external id as one conditional write of its record, and
/// always records a new version (a caller changing only members calls it first, with
/// no changes, to make its change conditional on `expected_version`).
///
/// New unique values are claimed first (`Conflict` naming `name` or `externalId`);
/// then the record is written, conditional on the version read and, when given, on
/// `expected_version` (`PreconditionFailed`); then, for a rename, every member's
/// `groups` takes the new name and the old name's claim is released. A rename that
/// stops half-way is recorded in the record ([`Group::renamed_from`]) and completed by
/// the next change of the group (or a retry).
pub async fn update<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
    expected_version: Option<u64>,
    changes: GroupChanges,
    now: Timestamp,
) -> Result<Group, DomainError> {
    for _ in 0..records::CAS_ATTEMPTS {
        let mut read = get(store, org, id).await?;
        if read.renamed_from.is_some() {
            finish_rename(store, org, &read, now).await?;
            read = get(store, org, id).await?;
        }
        if expected_version.is_some_and(|v| v != read.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::Group,
            });
        }
        let mut after = read.clone();
        if let Some(name) = &changes.name
            && *name != read.name
        {
            after.name.clone_from(name);
            after.renamed_from = Some(read.name.clone());
        }
        if let Some(e) = &changes.external_id {
            after.external_id.clone_from(e);
        }
        after.version = read.version + 1;
        after.updated_at = now;
        let old_claims = group_claims(org, &read);
        let new_claims = group_claims(org, &after);
        // Claims taken for a change that is not written are given back (a claim left
        // behind would block the value until this group claimed it again). A failure
        // of the write itself may come after the record was written (a read-back that
        // failed, on Redis): the claims stay, so the group never holds a name without
        // its claim; a retry of the same change uses them.
        let change = ClaimChange {
            holder: read.seq,
            old: &old_claims,
            new: &new_claims,
            unwritten: UnwrittenClaims::Release,
        };
        let claim =
            async |key: &str| Ok(claims::try_claim(store, key, read.seq).await? == Claim::Won);
        let write = async || {
            let written = records::update(store, &keys::group(&org.id, id), |g: &mut Group| {
                if g.version != read.version {
                    return Ok::<_, DomainError>(false);
                }
                *g = after.clone();
                Ok(true)
            })
            .await?;
            Ok(match written {
                Updated::Written(g) => Write::Written(g),
                // The record already holds this change of unique values: on Redis our
                // swap landed and its read-back found a later write (a member added,
                // say), so the retry declined; or an identical change won. Either way
                // the record names the new values, and their claims must stay. (A
                // change of no unique value starts over instead, so `expected_version`
                // is checked again.)
                Updated::Unchanged(g)
                    if new_claims != old_claims
                        && g.name == after.name
                        && g.external_id == after.external_id =>
                {
                    Write::Written(g)
                }
                other => Write::NotWritten(other),
            })
        };
        // The old name's claim goes when the rename completes.
        let renaming = |g: &Group, key: &str| {
            g.renamed_from
                .as_deref()
                .is_some_and(|old| *key == name_key(org, old))
        };
        match change.apply(store, claim, write, renaming).await? {
            Write::Written(g) => {
                if g.renamed_from.is_some() {
                    finish_rename(store, org, &g, now).await?;
                    return get(store, org, id).await;
                }
                return Ok(g);
            }
            Write::NotWritten(Updated::Missing) => return Err(group_not_found()),
            // Changed since read: what we claimed was given back; start over.
            Write::NotWritten(_) => {}
        }
    }
    Err(crate::store::StoreError::new("too much contention updating the group").into())
}

/// Completes a rename recorded in `g`: every member's `groups` takes the new name, the
/// old name's claim is released, and the record forgets the old name. Idempotent.
async fn finish_rename<S: Store>(
    store: &S,
    org: &Organization,
    g: &Group,
    now: Timestamp,
) -> Result<(), DomainError> {
    let Some(old) = g.renamed_from.clone() else {
        return Ok(());
    };
    let list = keys::group_members(&org.id, &g.id);
    let members = member_ids(store, org, &g.id).await?;
    for user_id in &members {
        let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
            let had = u.groups.iter().any(|n| same_name(n, &old) && *n != g.name);
            if !had || leaving(u) {
                return Ok::<_, DomainError>(false);
            }
            drop_names(u, &[&old, &g.name]);
            u.groups.push(g.name.clone());
            u.version += 1;
            u.updated_at = now;
            Ok(true)
        })
        .await?;
        // A member being removed for good (or gone) leaves the list here: its removal
        // leaves its groups by the names it read when it began, and after this rename
        // the old one finds no group. (A soft removal keeps its memberships, renamed.)
        let stays = matches!(&updated, Updated::Written(u) | Updated::Unchanged(u) if !leaving(u));
        if !stays {
            dependents::remove(store, &list, user_id).await?;
        }
    }
    // A delete of the group that closed the list meanwhile may have taken the members
    // out under the old name before this walk gave them the new one: they leave it.
    if !dependents::is_open(store, &list).await? {
        for user_id in &members {
            leave(store, org, user_id, &[&old, &g.name], now).await?;
        }
        // Its claims too: the delete releases those it read, which may predate this
        // rename's.
        for (_, key) in group_claims(org, g) {
            claims::release(store, &key, g.seq).await?;
        }
        claims::release(store, &name_key(org, &old), g.seq).await?;
        return Err(group_not_found());
    }
    if name_key(org, &old) != name_key(org, &g.name) {
        claims::release(store, &name_key(org, &old), g.seq).await?;
    }
    records::update(store, &keys::group(&org.id, &g.id), |x: &mut Group| {
        if x.renamed_from.as_deref() != Some(old.as_str()) {
            return Ok::<_, DomainError>(false);
        }
        x.renamed_from = None;
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Adds a live user to a group (idempotent): the group's member list first, then the
/// user's `groups`, then a new version of the group. `NotFound` names the group or
/// the user that is missing; a user already in [`MAX_GROUPS_PER_USER`] groups is a
/// validation error of `members`.
pub async fn add_member<S: Store>(
    store: &S,
    org: &Organization,
    group_id: &ObjectId,
    user_id: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut g = get(store, org, group_id).await?;
    if g.renamed_from.is_some() {
        finish_rename(store, org, &g, now).await?;
        g = get(store, org, group_id).await?;
    }
    let user = crate::users::get_live(store, org, user_id).await?;
    let already = user.groups.iter().any(|n| same_name(n, &g.name));
    if !already && user.groups.len() >= MAX_GROUPS_PER_USER {
        return Err(ValidationError::new(
            "members",
            format!("user {user_id} is already in {MAX_GROUPS_PER_USER} groups"),
        )
        .into());
    }
    let list = keys::group_members(&org.id, group_id);
    if dependents::append(store, &list, user_id).await? == Appended::UserGone {
        return Err(group_not_found());
    }
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if !u.is_live() {
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        }
        if u.groups.iter().any(|n| same_name(n, &g.name)) {
            return Ok(false);
        }
        u.groups.push(g.name.clone());
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await;
    match updated {
        Ok(Updated::Missing) | Err(DomainError::NotFound { .. }) => {
            // The write may have landed before a soft removal marked the user (on Redis
            // its read-back then looks lost, and the retry finds the mark): the record
            // names the group, and a soft removal keeps it, listed.
            let kept = kept_user(store, org, user_id).await?;
            if !kept.is_some_and(|u| u.groups.iter().any(|n| same_name(n, &g.name))) {
                // Undone, unless the user was a member already (a soft removal keeps
                // that).
                if !already {
                    dependents::remove(store, &list, user_id).await?;
                }
                return Err(DomainError::NotFound {
                    entity: Entity::User,
                });
            }
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    // Listed again: a concurrent change that took the (then not yet named) user out
    // of the list meanwhile must not leave it named but unlisted.
    let relisted = dependents::append(store, &list, user_id).await? == Appended::Yes;
    // A removal for good that took the user out of its groups before that append must
    // not find it listed again once it is gone: such a user leaves the list (the removal
    // marks the user before it leaves the groups, so a later read sees it). A user
    // softly removed since the write above stays a member: a soft removal keeps its
    // memberships, named in the record and listed, for a restore.
    match crate::users::get_any(store, org, user_id).await {
        Ok(u) if !leaving(&u) => {}
        Ok(_) | Err(DomainError::NotFound { .. }) => {
            dependents::remove(store, &list, user_id).await?;
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        }
        Err(e) => return Err(e),
    }
    // A delete of the group that closed its list after our append may have walked the
    // members before our write: leave no name of a deleted group behind (and a rename
    // that walked them before it: the user takes the new name).
    let gone = !relisted
        || !settle_names(store, org, user_id, &[&g], now)
            .await?
            .0
            .is_empty();
    if gone {
        records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
            Ok::<_, DomainError>(drop_names(u, &[&g.name]))
        })
        .await?;
        return Err(group_not_found());
    }
    if !already {
        touch(store, org, group_id, now).await?;
    }
    Ok(())
}

/// Takes a user out of a group (idempotent): the user's `groups` first, then the
/// group's member list, then a new version of the group.
pub async fn remove_member<S: Store>(
    store: &S,
    org: &Organization,
    group_id: &ObjectId,
    user_id: &ObjectId,
    now: Timestamp,
) -> Result<(), DomainError> {
    let g = get(store, org, group_id).await?;
    leave(store, org, user_id, &held_names(&g), now).await?;
    let list = keys::group_members(&org.id, group_id);
    let listed = member_ids(store, org, group_id).await?.contains(user_id);
    dependents::remove(store, &list, user_id).await?;
    if listed {
        touch(store, org, group_id, now).await?;
    }
    Ok(())
}

/// Sets a user's groups to exactly `names` (each must exist; `NotFound` for a group
/// otherwise names the missing one in a validation error). The lists of the groups
/// added first, then the user record in one conditional write (`expected_version`
/// checked; the user must be live), then the lists of the groups left, then every group
/// whose members changed records a new version; a refused write undoes the additions,
/// and a retry repairs a set that stopped half-way.
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
    // The groups this call adds, and those the user leaves (whose lists it leaves only
    // once the record no longer names them: a refused write leaves them as they were).
    let added: Vec<&Group> = wanted
        .iter()
        .filter(|g| !user.groups.iter().any(|n| same_name(n, &g.name)))
        .collect();
    let mut left: Vec<Group> = Vec::new();
    for old in &user.groups {
        if !wanted.iter().any(|g| same_name(&g.name, old))
            && let Some(g) = find(store, org, old).await?
        {
            left.push(g);
        }
    }
    let new_names: Vec<String> = wanted.iter().map(|g| g.name.clone()).collect();
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if !u.is_live() {
            return Err(DomainError::NotFound {
                entity: Entity::User,
            });
        }
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
    .await;
    let landed = match &updated {
        // Landed before a soft removal marked the user (a read-back overtaken, on
        // Redis): the record holds exactly these groups, which the soft removal keeps.
        Ok(Updated::Missing) | Err(DomainError::NotFound { .. }) => kept_user(store, org, user_id)
            .await?
            .filter(|u| u.groups == new_names),
        _ => None,
    };
    let user = match (updated, landed) {
        (Ok(Updated::Unchanged(u) | Updated::Written(u)), _) | (_, Some(u)) => u,
        // Not written: the groups this call added are undone (a removal that took the
        // user out of its groups before the appends above must not find it listed
        // again: it marks the user before it leaves them, so this write sees the mark;
        // a soft removal keeps the memberships the user had, named and listed).
        (refused, None) => {
            for g in &added {
                let list = keys::group_members(&org.id, &g.id);
                dependents::remove(store, &list, user_id).await?;
            }
            return Err(match refused {
                Err(e) => e,
                Ok(_) => DomainError::NotFound {
                    entity: Entity::User,
                },
            });
        }
    };
    for g in &left {
        dependents::remove(store, &keys::group_members(&org.id, &g.id), user_id).await?;
    }
    let changed: Vec<ObjectId> = added
        .iter()
        .map(|g| g.id.clone())
        .chain(left.into_iter().map(|g| g.id))
        .collect();
    // A rename or delete of a wanted group that walked its members before the write
    // above missed this user: its current name, or none.
    let written: Vec<&Group> = wanted.iter().collect();
    let (_, settled) = settle_names(store, org, user_id, &written, now).await?;
    let user = settled.unwrap_or(user);
    for id in &changed {
        touch(store, org, id, now).await?;
    }
    Ok(user)
}

/// User `user_id` as it is now, if it exists and is not being removed for good (a
/// membership write of it that landed stays: a soft removal keeps memberships).
async fn kept_user<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<Option<User>, DomainError> {
    match crate::users::get_any(store, org, user_id).await {
        Ok(u) if !leaving(&u) => Ok(Some(u)),
        Ok(_) | Err(DomainError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// After a user's `groups` were written with the names of `written` (groups read
/// before that write): a delete or a rename of one of them that walked its members
/// before the write missed this user. Reads each group and its member list again (two
/// reads a group); the user takes the current name of one renamed (one conditional
/// write for all), and the name of one deleted (or being deleted: its list is closed)
/// is dropped and the user taken out of its list. Returns the ids of the
/// groups that are gone, and the user as this wrote it (`None`: nothing to write).
async fn settle_names<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    written: &[&Group],
    now: Timestamp,
) -> Result<(Vec<ObjectId>, Option<User>), DomainError> {
    let mut renamed: Vec<(String, String)> = Vec::new();
    let mut gone: Vec<ObjectId> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for g in written {
        // A closed member list: a delete of the group is under way (it closes the list,
        // then walks it); it may have walked it before this user's write.
        let open = dependents::is_open(store, &keys::group_members(&org.id, &g.id)).await?;
        match records::read::<S, Group>(store, &keys::group(&org.id, &g.id)).await? {
            Some(current) if open && current.name != g.name => {
                renamed.push((g.name.clone(), current.name));
            }
            Some(_) if open => {}
            _ => {
                gone.push(g.id.clone());
                dropped.push(g.name.clone());
            }
        }
    }
    if renamed.is_empty() && dropped.is_empty() {
        return Ok((gone, None));
    }
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        let mut changed = false;
        for (old, new) in &renamed {
            if u.groups.iter().any(|n| n == old) {
                drop_names(u, &[old, new]);
                u.groups.push(new.clone());
                changed = true;
            }
        }
        let names: Vec<&str> = dropped.iter().map(String::as_str).collect();
        changed |= drop_names(u, &names);
        if changed {
            u.version += 1;
            u.updated_at = now;
        }
        Ok::<_, DomainError>(changed)
    })
    .await?;
    for id in &gone {
        dependents::remove(store, &keys::group_members(&org.id, id), user_id).await?;
    }
    let user = match updated {
        Updated::Written(u) | Updated::Unchanged(u) => Some(u),
        Updated::Missing => None,
    };
    Ok((gone, user))
}

/// Takes a user out of the member lists of `names`, each group recording a new
/// version (the removal engine's step).
pub async fn leave_all<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    names: &[String],
    now: Timestamp,
) -> Result<(), DomainError> {
    for name in names {
        if let Some(g) = find(store, org, name).await? {
            dependents::remove(store, &keys::group_members(&org.id, &g.id), user_id).await?;
            touch(store, org, &g.id, now).await?;
        }
    }
    Ok(())
}
