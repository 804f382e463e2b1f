//! Organizations: create (with a unique slug) and resolve by id or slug.

use crate::claims::{self, Claim};
use crate::count;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId, OrgRef, Slug};
use crate::keys;
use crate::model::Organization;
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;

/// A validated request to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: Slug,
}

impl NewOrganization {
    /// Validates the raw fields.
    pub fn parse(name: &str, slug: &str) -> Result<Self, ValidationError> {
        let name = ids::text("name", name, ids::MAX_TEXT_LEN)?;
        if name.is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        Ok(Self {
            name,
            slug: Slug::parse("slug", slug)?,
        })
    }
}

/// Creates an organization. The slug is claimed first (exactly one of concurrent
/// creates with the same slug succeeds); the record and its count shards follow.
pub async fn create<S: Store>(
    store: &S,
    new: NewOrganization,
    now: Timestamp,
) -> Result<Organization, DomainError> {
    let seq = store.increment(keys::ORG_SEQ, 1).await?;
    let id = ObjectId::generate(now);
    let org = Organization {
        id: id.clone(),
        slug: new.slug.as_str().to_owned(),
        name: new.name,
        seq,
        salt: hex::encode(ids::random_bytes::<16>()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    // The record and shards come first: a slug claim must always point at an
    // organization that exists.
    count::init(store, &id).await?;
    records::write(store, &keys::org(&id), &org).await?;
    store
        .set(&keys::org_seq(seq), id.as_str().as_bytes())
        .await?;
    let claim_key = keys::org_slug_claim(&org.slug);
    let won = async {
        Ok::<_, DomainError>(match claims::try_claim(store, &claim_key, seq).await? {
            Claim::Won => true,
            Claim::Held(holder) => {
                slug_abandoned(store, &org.slug, holder).await?
                    && claims::take_over(store, &claim_key, holder, seq).await?
            }
        })
    }
    .await;
    if let Ok(true) = won {
        return Ok(org);
    }
    // Roll back (best effort on a store failure: what stays is an organization that
    // no slug resolves to, which the invariants checker reports).
    let rollback = async {
        store.delete(&keys::org_seq(seq)).await?;
        store.delete(&keys::org(&id)).await?;
        let shards: Vec<String> = (0..keys::COUNT_SHARDS)
            .map(|s| keys::user_count_shard(&id, s))
            .collect();
        store.delete_many(&shards).await
    }
    .await;
    match won {
        Err(e) => Err(e),
        Ok(_) => {
            rollback?;
            Err(DomainError::Conflict { field: "slug" })
        }
    }
}

/// Whether the slug claim held by `holder` is left over from a slug change that stopped
/// before releasing it: the holder no longer uses the slug (or does not exist).
async fn slug_abandoned<S: Store>(store: &S, slug: &str, holder: i64) -> Result<bool, DomainError> {
    let Some(id) = store.get(&keys::org_seq(holder)).await? else {
        return Ok(true);
    };
    let id = ObjectId::parse("organizationId", &String::from_utf8_lossy(&id))?;
    let org: Option<Organization> = records::read(store, &keys::org(&id)).await?;
    Ok(org.is_none_or(|o| o.slug != slug))
}

/// Finds an organization by id or slug.
pub async fn resolve<S: Store>(store: &S, reference: &OrgRef) -> Result<Organization, DomainError> {
    let not_found = DomainError::NotFound {
        entity: Entity::Organization,
    };
    match reference {
        OrgRef::Id(id) => records::read(store, &keys::org(id)).await?.ok_or(not_found),
        OrgRef::Slug(slug) => {
            let Some(seq) = claims::holder(store, &keys::org_slug_claim(slug.as_str())).await?
            else {
                return Err(not_found);
            };
            let Some(id) = store.get(&keys::org_seq(seq)).await? else {
                return Err(not_found);
            };
            let id = ObjectId::parse("organizationId", &String::from_utf8_lossy(&id))?;
            let org: Organization = records::read(store, &keys::org(&id))
                .await?
                .ok_or(not_found)?;
            // A claim left by an interrupted slug change no longer names the organization.
            if org.slug != slug.as_str() {
                return Err(DomainError::NotFound {
                    entity: Entity::Organization,
                });
            }
            Ok(org)
        }
    }
}

/// Lists organizations in creation order: up to `limit` after sequence number `after`,
/// and where the next page starts (`None` at the end). Costs O(limit) reads.
pub async fn list<S: Store>(
    store: &S,
    after: i64,
    limit: usize,
) -> Result<(Vec<Organization>, Option<i64>), DomainError> {
    let top = records::read_counter(store, keys::ORG_SEQ).await?;
    let window = i64::try_from(limit.max(25) * 2).unwrap_or(400);
    let mut out = Vec::new();
    let mut cursor = after;
    while cursor < top && cursor - after < crate::users::LIST_SCAN_BUDGET {
        let end = (cursor + window).min(top);
        let seq_keys: Vec<String> = (cursor + 1..=end).map(keys::org_seq).collect();
        let ids = store.get_many(&seq_keys).await?;
        let mut found = Vec::new();
        for (n, id) in (cursor + 1..=end).zip(ids) {
            if let Some(id) = id {
                found.push((n, format!("org/{}", String::from_utf8_lossy(&id))));
            }
        }
        let org_keys: Vec<String> = found.iter().map(|(_, k)| k.clone()).collect();
        let values = store.get_many(&org_keys).await?;
        for ((n, key), value) in found.iter().zip(values) {
            let Some(bytes) = value else { continue };
            let org: Organization = records::decode(key, &bytes)?;
            if org.seq != *n {
                continue;
            }
            out.push(org);
            if out.len() == limit {
                return Ok((out, (*n < top).then_some(*n)));
            }
        }
        cursor = end;
    }
    Ok((out, (cursor < top).then_some(cursor)))
}

/// Renames an organization and/or moves it to a new slug, as one conditional write
/// (with `expected_version`, only if the version still matches). A new slug is claimed
/// first (`Conflict` if taken) and the old one released after the write.
pub async fn update<S: Store>(
    store: &S,
    id: &ObjectId,
    expected_version: Option<u64>,
    name: Option<String>,
    slug: Option<Slug>,
    now: Timestamp,
) -> Result<Organization, DomainError> {
    let key = keys::org(id);
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&key).await?;
        let Some(bytes) = current else {
            return Err(DomainError::NotFound {
                entity: Entity::Organization,
            });
        };
        let before: Organization = records::decode(&key, &bytes)?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::Organization,
            });
        }
        let mut after = before.clone();
        if let Some(n) = &name {
            after.name.clone_from(n);
        }
        let mut moved = false;
        if let Some(s) = &slug
            && s.as_str() != before.slug
        {
            let claim_key = keys::org_slug_claim(s.as_str());
            if let Claim::Held(holder) = claims::try_claim(store, &claim_key, before.seq).await? {
                let free = slug_abandoned(store, s.as_str(), holder).await?
                    && claims::take_over(store, &claim_key, holder, before.seq).await?;
                if !free {
                    return Err(DomainError::Conflict { field: "slug" });
                }
            }
            after.slug = s.as_str().to_owned();
            moved = true;
        }
        if after == before {
            return Ok(before);
        }
        after.version += 1;
        after.updated_at = now;
        if store.swap(cas, &records::encode(&key, &after)?).await? == crate::store::Swap::Done {
            if moved {
                claims::release(store, &keys::org_slug_claim(&before.slug), before.seq).await?;
            }
            return Ok(after);
        }
    }
    Err(crate::store::StoreError::new("too much contention updating the organization").into())
}
