//! API tokens: random 256-bit secrets shown once, stored only as a SHA-256 digest,
//! scoped to one organization or global, carrying permission grants, an optional
//! expiry, revocable.
//!
//! A secret is `rst_` followed by 64 hex digits (32 random bytes). Its SHA-256 digest
//! keys the token record, so authenticating a request costs one read. A fast hash is
//! right here: the secret has 256 bits of entropy, so there is nothing to brute-force
//! (passwords, which have little entropy, use Argon2id instead).

use crate::dependents::{self, Appended};
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::Organization;
use crate::permissions::Grant;
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prefix of every token secret.
pub const SECRET_PREFIX: &str = "rst_";
/// Most grants one token carries.
pub const MAX_GRANTS: usize = 64;
/// Longest token lifetime accepted: 2 years.
pub const MAX_TTL_SECS: i64 = 2 * 365 * 24 * 3600;
/// Highest per-token rate limit that may be set (requests per minute).
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

/// A stored API token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// 24-hex id (what lists show and revocation names).
    pub id: ObjectId,
    /// The organization it is scoped to; `None` for a global token.
    pub org_id: Option<ObjectId>,
    /// A label for people.
    pub name: String,
    /// What it may do.
    pub grants: Vec<Grant>,
    /// Position in its index (global or the organization's).
    pub seq: i64,
    /// The hex SHA-256 digest of the secret (the key of this record).
    pub digest: String,
    /// The user who owns it, if any: revoked when that user is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<ObjectId>,
    /// Requests per minute allowed, overriding the organization's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// The token that created it (`None`: the `admin_token` variable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// Whether the token authenticates at `now`: not revoked, not expired.
    pub fn is_valid(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| now >= e) {
            "expired"
        } else {
            "active"
        }
    }
}

/// The hex SHA-256 digest of a secret.
pub fn digest_of(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A validated request to create a token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// A label the creator chooses, shown in token listings (not unique).
    pub name: String,
    /// Grants (at least one).
    pub grants: Vec<Grant>,
    /// Lifetime in seconds, if it expires.
    pub ttl_secs: Option<i64>,
    /// Owner user (organization tokens only).
    pub owner_user_id: Option<ObjectId>,
    /// Rate limit override.
    pub rate_limit_per_minute: Option<u32>,
}

impl NewToken {
    /// Validates the raw fields; errors name the field (`permissions[i]` for a grant).
    pub fn parse(
        name: &str,
        permissions: &[String],
        expires_in: Option<i64>,
        owner_user_id: Option<&str>,
        rate_limit_per_minute: Option<i64>,
    ) -> Result<Self, ValidationError> {
        let name = ids::text("name", name, ids::MAX_TEXT_LEN)?;
        if name.is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        if permissions.is_empty() || permissions.len() > MAX_GRANTS {
            return Err(ValidationError::new(
                "permissions",
                "must hold 1 to 64 permissions",
            ));
        }
        let mut grants = Vec::new();
        for (i, p) in permissions.iter().enumerate() {
            let g = Grant::parse(&format!("permissions[{i}]"), p)?;
            if !grants.contains(&g) {
                grants.push(g);
            }
        }
        let ttl_secs = match expires_in {
            None => None,
            Some(s) if (1..=MAX_TTL_SECS).contains(&s) => Some(s),
            Some(_) => {
                return Err(ValidationError::new(
                    "expiresIn",
                    format!("must be between 1 and {MAX_TTL_SECS} seconds"),
                ));
            }
        };
        let owner_user_id = owner_user_id
            .map(|o| ObjectId::parse("ownerUserId", o))
            .transpose()?;
        let rate_limit_per_minute = match rate_limit_per_minute {
            None => None,
            Some(n) => Some(
                u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_RATE_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ValidationError::new(
                            "rateLimitPerMinute",
                            format!("must be an integer from 1 to {MAX_RATE_LIMIT}"),
                        )
                    })?,
            ),
        };
        Ok(Self {
            name,
            grants,
            ttl_secs,
            owner_user_id,
            rate_limit_per_minute,
        })
    }
}

/// A token just created, with its secret: the only time the secret exists outside the
/// client.
#[derive(Debug, Clone)]
pub struct Created {
    /// The stored token.
    pub token: ApiToken,
    /// The secret (`rst_…`), to show once.
    pub secret: String,
}

fn index_entry_key(org: Option<&ObjectId>, seq: i64) -> String {
    match org {
        Some(o) => keys::org_token_seq(o, seq),
        None => keys::global_token_seq(seq),
    }
}

fn counter_key(org: Option<&ObjectId>) -> String {
    match org {
        Some(o) => keys::org_token_counter(o),
        None => keys::GLOBAL_TOKEN_COUNTER.to_owned(),
    }
}

/// Creates a token in `org` (or a global one for `None`). An owner user must be a live
/// user of that organization (otherwise `Invalid` naming `ownerUserId`: the request's
/// field is wrong, not its path) and gets the token in its owned list, so a removal of
/// the user revokes it. Writes the index entry, the id → digest pointer, the
/// record, then the owner's list; a failure rolls back what it wrote.
pub async fn create<S: Store>(
    store: &S,
    org: Option<&Organization>,
    new: NewToken,
    created_by: Option<ObjectId>,
    now: Timestamp,
) -> Result<Created, DomainError> {
    if new.owner_user_id.is_some() && org.is_none() {
        return Err(ValidationError::new(
            "ownerUserId",
            "only organization tokens can have an owner",
        )
        .into());
    }
    let org_id = org.map(|o| o.id.clone());
    if let (Some(o), Some(owner)) = (org, &new.owner_user_id) {
        match crate::users::get_live(store, o, owner).await {
            Err(DomainError::NotFound { .. }) => return Err(no_owner()),
            found => found?,
        };
    }
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(ids::random_bytes::<32>()));
    let digest = digest_of(&secret);
    let seq = store.increment(&counter_key(org_id.as_ref()), 1).await?;
    let token = ApiToken {
        id: ObjectId::generate(now),
        org_id: org_id.clone(),
        name: new.name,
        grants: new.grants,
        seq,
        digest: digest.clone(),
        owner_user_id: new.owner_user_id,
        rate_limit_per_minute: new.rate_limit_per_minute,
        created_by,
        created_at: now,
        expires_at: new
            .ttl_secs
            .map(|s| now.plus_millis(s.saturating_mul(1000))),
        revoked_at: None,
    };
    let entry = index_entry_key(org_id.as_ref(), seq);
    let pointer = keys::token_id(&token.id);
    let record = keys::token_by_digest(&digest);
    let written = async {
        store.set(&entry, token.id.as_str().as_bytes()).await?;
        store.set(&pointer, digest.as_bytes()).await?;
        records::write(store, &record, &token).await?;
        if let (Some(o), Some(owner)) = (org, &token.owner_user_id) {
            let list = keys::user_api_tokens(&o.id, owner);
            if dependents::append(store, &list, &token.id).await? == Appended::UserGone {
                return Err(no_owner());
            }
        }
        Ok(())
    }
    .await;
    match written {
        Ok(()) => Ok(Created { token, secret }),
        Err(e) => {
            let _ = store.delete_many(&[record, pointer, entry]).await;
            Err(e)
        }
    }
}

/// The refusal of an `ownerUserId` that names no live user of the organization (none
/// with that id, or one being removed or removed).
fn no_owner() -> DomainError {
    ValidationError::new(
        "ownerUserId",
        "must be the id of a live user of the organization",
    )
    .into()
}

/// The token a secret belongs to, if any (valid or not: the caller decides).
pub async fn find_by_secret<S: Store>(
    store: &S,
    secret: &str,
) -> Result<Option<ApiToken>, DomainError> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() != SECRET_PREFIX.len() + 64 {
        return Ok(None);
    }
    records::read(store, &keys::token_by_digest(&digest_of(secret))).await
}

/// A token by id, if it is in `org` (`None`: a global token).
pub async fn get<S: Store>(
    store: &S,
    org: Option<&ObjectId>,
    id: &ObjectId,
) -> Result<ApiToken, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: Entity::ApiToken,
    };
    let Some(digest) = store.get(&keys::token_id(id)).await? else {
        return Err(not_found());
    };
    let key = keys::token_by_digest(&String::from_utf8_lossy(&digest));
    let token: ApiToken = records::read(store, &key).await?.ok_or_else(not_found)?;
    if token.org_id.as_ref() != org {
        return Err(not_found());
    }
    Ok(token)
}

/// Revokes a token of `org` (`None`: global); revoking twice is fine.
pub async fn revoke<S: Store>(
    store: &S,
    org: Option<&ObjectId>,
    id: &ObjectId,
    now: Timestamp,
) -> Result<ApiToken, DomainError> {
    let token = get(store, org, id).await?;
    revoke_record(store, &token.digest, now)
        .await?
        .ok_or(DomainError::NotFound {
            entity: Entity::ApiToken,
        })
}

/// Revokes the token stored under `digest` (a conditional write); `None` when absent.
pub async fn revoke_record<S: Store>(
    store: &S,
    digest: &str,
    now: Timestamp,
) -> Result<Option<ApiToken>, DomainError> {
    let updated = records::update(store, &keys::token_by_digest(digest), |t: &mut ApiToken| {
        if t.revoked_at.is_some() {
            return Ok::<_, DomainError>(false);
        }
        t.revoked_at = Some(now);
        Ok(true)
    })
    .await?;
    Ok(match updated {
        Updated::Missing => None,
        Updated::Unchanged(t) | Updated::Written(t) => Some(t),
    })
}

/// Revokes every token of `ids` (the removal engine's step for a user's owned tokens).
pub async fn revoke_all<S: Store>(
    store: &S,
    ids: &[ObjectId],
    now: Timestamp,
) -> Result<usize, DomainError> {
    let mut n = 0;
    for id in ids {
        if let Some(digest) = store.get(&keys::token_id(id)).await?
            && revoke_record(store, &String::from_utf8_lossy(&digest), now)
                .await?
                .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
}

/// Tokens of `org` (`None`: global) in creation order, at most `limit` after sequence
/// number `after`, and where the next page starts.
pub async fn list<S: Store>(
    store: &S,
    org: Option<&ObjectId>,
    after: i64,
    limit: usize,
) -> Result<(Vec<ApiToken>, Option<i64>), DomainError> {
    let top = records::read_counter(store, &counter_key(org)).await?;
    let end = (after + i64::try_from(limit).unwrap_or(200)).min(top);
    let entry_keys: Vec<String> = (after + 1..=end).map(|n| index_entry_key(org, n)).collect();
    let ids: Vec<Option<Vec<u8>>> = store.get_many(&entry_keys).await?;
    let pointers: Vec<String> = ids
        .iter()
        .flatten()
        .filter_map(|id| ObjectId::parse("id", &String::from_utf8_lossy(id)).ok())
        .map(|id| keys::token_id(&id))
        .collect();
    let digests = store.get_many(&pointers).await?;
    let record_keys: Vec<String> = digests
        .iter()
        .flatten()
        .map(|d| keys::token_by_digest(&String::from_utf8_lossy(d)))
        .collect();
    let mut out = Vec::new();
    for (key, value) in record_keys.iter().zip(store.get_many(&record_keys).await?) {
        if let Some(bytes) = value {
            let t: ApiToken = records::decode(key, &bytes)?;
            if t.org_id.as_ref() == org {
                out.push(t);
            }
        }
    }
    Ok((out, (end < top).then_some(end)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{Action, Permission, Resource};
    use crate::store::MemoryStore;
    use futures::executor::block_on;

    #[test]
    fn secrets_are_shown_once_stored_as_digests_and_revocable() {
        let s = MemoryStore::from_env();
        let now = Timestamp(1_795_331_760_000);
        block_on(async {
            let new = NewToken::parse("ci", &["mdm.global.mdmUser.*".into()], Some(60), None, None)
                .unwrap();
            let c = create(&s, None, new, None, now).await.unwrap();
            assert!(c.secret.starts_with("rst_") && c.secret.len() == 68);
            for (k, v) in s.snapshot() {
                assert!(!k.contains(&c.secret[4..]), "{k}");
                assert!(!String::from_utf8_lossy(&v).contains(&c.secret[4..]), "{k}");
            }
            let found = find_by_secret(&s, &c.secret).await.unwrap().unwrap();
            assert_eq!(found.id, c.token.id);
            assert!(found.is_valid(now));
            assert!(!found.is_valid(now.plus_millis(60_000)));
            assert!(crate::permissions::allowed(
                &found.grants,
                Permission::new(Resource::MdmUser, Action::Remove)
            ));
            assert!(find_by_secret(&s, "rst_00").await.unwrap().is_none());
            let (listed, next) = list(&s, None, 0, 10).await.unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(next, None);
            let revoked = revoke(&s, None, &c.token.id, now).await.unwrap();
            assert_eq!(revoked.state(now), "revoked");
            assert!(
                !find_by_secret(&s, &c.secret)
                    .await
                    .unwrap()
                    .unwrap()
                    .is_valid(now)
            );
            // A global token is not visible as an organization's.
            let other = ObjectId::generate(now);
            assert!(get(&s, Some(&other), &c.token.id).await.is_err());
        });
    }

    #[test]
    fn an_owner_that_is_no_live_user_is_refused_naming_the_field() {
        let s = MemoryStore::from_env();
        let now = Timestamp(1_795_331_760_000);
        block_on(async {
            let org = crate::orgs::create(
                &s,
                crate::orgs::NewOrganization::parse("A", "acme").unwrap(),
                now,
            )
            .await
            .unwrap();
            let kim = crate::users::create(
                &s,
                &org,
                crate::users::NewUser::parse("kim", Some("kim@example.com"), None, None).unwrap(),
                now,
            )
            .await
            .unwrap();
            let owned = |owner: &ObjectId| {
                NewToken::parse("t", &["*".into()], None, Some(owner.as_str()), None).unwrap()
            };
            // No user with this id: the field is wrong, not the path (no 404).
            let nobody = ObjectId::generate(now);
            match create(&s, Some(&org), owned(&nobody), None, now).await {
                Err(DomainError::Invalid(e)) => assert_eq!(e.field, "ownerUserId"),
                other => panic!("{other:?}"),
            }
            // A user of another organization is no user of this one.
            let other = crate::orgs::create(
                &s,
                crate::orgs::NewOrganization::parse("B", "beta").unwrap(),
                now,
            )
            .await
            .unwrap();
            match create(&s, Some(&other), owned(&kim.id), None, now).await {
                Err(DomainError::Invalid(e)) => assert_eq!(e.field, "ownerUserId"),
                other => panic!("{other:?}"),
            }
            // Nothing was written for the refused tokens.
            let (listed, _) = list(&s, Some(&org.id), 0, 10).await.unwrap();
            assert!(listed.is_empty());
            // A live user owns one.
            let c = create(&s, Some(&org), owned(&kim.id), None, now)
                .await
                .unwrap();
            assert_eq!(c.token.owner_user_id.as_ref(), Some(&kim.id));
        });
    }

    #[test]
    fn invalid_requests_name_the_field() {
        let e = NewToken::parse("x", &[], None, None, None).unwrap_err();
        assert_eq!(e.field, "permissions");
        let e = NewToken::parse("x", &["*".into(), "nope".into()], None, None, None).unwrap_err();
        assert_eq!(e.field, "permissions[1]");
        let e = NewToken::parse("x", &["*".into()], Some(0), None, None).unwrap_err();
        assert_eq!(e.field, "expiresIn");
        let e = NewToken::parse("x", &["*".into()], None, Some("zz"), None).unwrap_err();
        assert_eq!(e.field, "ownerUserId");
        let e = NewToken::parse("x", &["*".into()], None, None, Some(0)).unwrap_err();
        assert_eq!(e.field, "rateLimitPerMinute");
    }
}
