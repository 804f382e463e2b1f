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
    match claims::try_claim(store, &claim_key, seq).await? {
        Claim::Won => Ok(org),
        Claim::Held(_) => {
            // Roll back; nothing points at the unclaimed record.
            store.delete(&keys::org_seq(seq)).await?;
            store.delete(&keys::org(&id)).await?;
            let shards: Vec<String> = (0..keys::COUNT_SHARDS)
                .map(|s| keys::user_count_shard(&id, s))
                .collect();
            store.delete_many(&shards).await?;
            Err(DomainError::Conflict { field: "slug" })
        }
    }
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
            records::read(store, &keys::org(&id))
                .await?
                .ok_or(not_found)
        }
    }
}
