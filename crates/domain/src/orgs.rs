//! Organizations: create, resolve by id, slug or alias, list, and change (name, slug,
//! aliases, policy).
//!
//! An organization is addressed by its id, its slug, its Dynatrace account UUID (seed
//! 002) or its Azure API Management binding (seed 004). Each of the last three is
//! unique, held by a claim key (see [`crate::claims`]) whose value is the holder's
//! sequence number: claimed before the record names it, released after the record
//! stops naming it, so a stop in between leaves a claim that the next claimant sees is
//! abandoned (its holder no longer names it) and takes over.

use crate::claims::{self, Claim, ClaimChange, UnwrittenClaims, Write};
use crate::count;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId, OrgRef, Slug};
use crate::keys;
use crate::model::{ApimBinding, OrgPolicy, Organization};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use roster_lowercase::Lowercase as _;

/// Longest retention window: one year.
pub const MAX_RETENTION_DAYS: u32 = 365;
/// Largest removal batch.
pub const MAX_REMOVAL_BATCH: u32 = 10_000;

/// A validated request to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: Slug,
    /// A Dynatrace account UUID to answer to (generated when absent).
    pub account_uuid: Option<String>,
    /// An API Management binding.
    pub apim: Option<ApimBinding>,
    /// Policy (defaults when absent).
    pub policy: OrgPolicy,
}

impl NewOrganization {
    /// Validates the raw fields.
    pub fn parse(name: &str, slug: &str) -> Result<Self, ValidationError> {
        Ok(Self {
            name: parse_name(name)?,
            slug: Slug::parse("slug", slug)?,
            account_uuid: None,
            apim: None,
            policy: OrgPolicy::default(),
        })
    }
}

/// Validates an organization's display name.
pub fn parse_name(name: &str) -> Result<String, ValidationError> {
    let name = ids::text("name", name, ids::MAX_TEXT_LEN)?;
    if name.is_empty() {
        return Err(ValidationError::new("name", "must not be empty"));
    }
    Ok(name)
}

/// Validates a UUID (any version) and returns it lowercase.
pub fn parse_uuid(field: &str, raw: &str) -> Result<String, ValidationError> {
    let ok = raw.len() == 36
        && raw.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ValidationError::new(
            field,
            "must be a UUID like 00000000-0000-0000-0000-000000000000",
        ))
    }
}

/// Validates an Azure resource group name: 1 to 90 letters, digits, `_`, `-`, `.`,
/// `(` or `)`, not ending with `.` (ARM's rule).
pub fn parse_resource_group(field: &str, raw: &str) -> Result<String, ValidationError> {
    let ok = !raw.is_empty()
        && raw.chars().count() <= 90
        && !raw.ends_with('.')
        && raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1 to 90 letters, digits, '_', '-', '.', '(' or ')', not ending with '.'",
        ))
    }
}

/// Validates an API Management service name by seed 004's pattern
/// `^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$` (at most 50 characters).
pub fn parse_service_name(field: &str, raw: &str) -> Result<String, ValidationError> {
    let b = raw.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 50
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.last().is_some_and(u8::is_ascii_alphanumeric);
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new(
            field,
            "must match pattern ^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$",
        ))
    }
}

impl ApimBinding {
    /// Validates the three parts of a binding; errors name `apim.<part>`.
    pub fn parse(
        subscription_id: &str,
        resource_group_name: &str,
        service_name: &str,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            subscription_id: parse_uuid("apim.subscriptionId", subscription_id)?,
            resource_group_name: parse_resource_group(
                "apim.resourceGroupName",
                resource_group_name,
            )?,
            service_name: parse_service_name("apim.serviceName", service_name)?,
        })
    }

    /// The claim key of this binding (case-insensitive, as ARM names are).
    pub fn claim_key(&self) -> String {
        apim_claim_key(
            &self.subscription_id,
            &self.resource_group_name,
            &self.service_name,
        )
    }
}

fn apim_claim_key(subscription_id: &str, resource_group: &str, service: &str) -> String {
    let folded = format!(
        "{}/{}/{}",
        subscription_id.lowercase(),
        resource_group.lowercase(),
        service.lowercase()
    );
    keys::org_apim_claim(&keys::digest("apim", &folded))
}

/// A validated change to an organization's policy: absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct PolicyChanges {
    /// New retention window in days (0 to 365).
    pub retention_days: Option<u32>,
    /// New rate limit per token per minute (1 to 1 000 000).
    pub rate_limit_per_minute: Option<u32>,
    /// New removal batch (1 to 10 000).
    pub removal_batch: Option<u32>,
    /// Whether removals need a fresh export first ([`OrgPolicy::require_export_before_removal`]).
    pub require_export_before_removal: Option<bool>,
    /// New freshness window of an export, in seconds
    /// ([`crate::model::MIN_EXPORT_MAX_AGE_SECONDS`] to
    /// [`crate::model::MAX_EXPORT_MAX_AGE_SECONDS`]).
    pub export_max_age_seconds: Option<u32>,
    /// New inactivity period in days (`Some(None)` switches inactivity removal off;
    /// [`OrgPolicy::inactivity_days`]).
    pub inactivity_days: Option<Option<u32>>,
    /// New warning period of inactivity removals (`Some(None)`: no warning).
    pub inactivity_warn_days_before: Option<Option<u32>>,
}

impl PolicyChanges {
    /// Validates raw numbers; errors name `policy.<field>`.
    pub fn parse(
        retention_days: Option<i64>,
        rate_limit_per_minute: Option<i64>,
        removal_batch: Option<i64>,
    ) -> Result<Self, ValidationError> {
        let ranged = |field: &str, v: Option<i64>, lo: u32, hi: u32| {
            v.map(|v| {
                u32::try_from(v)
                    .ok()
                    .filter(|v| (lo..=hi).contains(v))
                    .ok_or_else(|| {
                        ValidationError::new(field, format!("must be an integer from {lo} to {hi}"))
                    })
            })
            .transpose()
        };
        Ok(Self {
            retention_days: ranged(
                "policy.retentionDays",
                retention_days,
                0,
                MAX_RETENTION_DAYS,
            )?,
            rate_limit_per_minute: ranged(
                "policy.rateLimitPerMinute",
                rate_limit_per_minute,
                1,
                crate::tokens::MAX_RATE_LIMIT,
            )?,
            removal_batch: ranged("policy.removalBatch", removal_batch, 1, MAX_REMOVAL_BATCH)?,
            require_export_before_removal: None,
            export_max_age_seconds: None,
            inactivity_days: None,
            inactivity_warn_days_before: None,
        })
    }

    /// Adds the inactivity settings (`None`: unchanged, `Some(None)`: off / no
    /// warning): `inactivityDays` 1 to [`crate::model::MAX_INACTIVITY_DAYS`],
    /// `inactivityWarnDaysBefore` 1 to [`crate::schedules::MAX_WARN_DAYS`]; errors name
    /// `policy.<field>`.
    pub fn with_inactivity(
        mut self,
        inactivity_days: Option<Option<i64>>,
        inactivity_warn_days_before: Option<Option<i64>>,
    ) -> Result<Self, ValidationError> {
        let ranged = |field: &str, v: Option<Option<i64>>, hi: i64| {
            v.map(|v| {
                v.map(|v| {
                    u32::try_from(v)
                        .ok()
                        .filter(|_| (1..=hi).contains(&v))
                        .ok_or_else(|| {
                            ValidationError::new(
                                field,
                                format!("must be null or an integer from 1 to {hi} (days)"),
                            )
                        })
                })
                .transpose()
            })
            .transpose()
        };
        self.inactivity_days = ranged(
            "policy.inactivityDays",
            inactivity_days,
            i64::from(crate::model::MAX_INACTIVITY_DAYS),
        )?;
        self.inactivity_warn_days_before = ranged(
            "policy.inactivityWarnDaysBefore",
            inactivity_warn_days_before,
            crate::schedules::MAX_WARN_DAYS,
        )?;
        Ok(self)
    }

    /// Adds the export settings: `requireExportBeforeRemoval` as given, and
    /// `exportMaxAgeSeconds` validated (errors name `policy.exportMaxAgeSeconds`).
    pub fn with_export(
        mut self,
        require_export_before_removal: Option<bool>,
        export_max_age_seconds: Option<i64>,
    ) -> Result<Self, ValidationError> {
        use crate::model::{MAX_EXPORT_MAX_AGE_SECONDS, MIN_EXPORT_MAX_AGE_SECONDS};
        self.require_export_before_removal = require_export_before_removal;
        self.export_max_age_seconds = export_max_age_seconds
            .map(|v| {
                u32::try_from(v)
                    .ok()
                    .filter(|v| (MIN_EXPORT_MAX_AGE_SECONDS..=MAX_EXPORT_MAX_AGE_SECONDS).contains(v))
                    .ok_or_else(|| {
                        ValidationError::new(
                            "policy.exportMaxAgeSeconds",
                            format!(
                                "must be an integer from {MIN_EXPORT_MAX_AGE_SECONDS} to {MAX_EXPORT_MAX_AGE_SECONDS} (seconds)"
                            ),
                        )
                    })
            })
            .transpose()?;
        Ok(self)
    }

    /// Applies the changes to `p`; a new `inactivity_days` (switched on, off or
    /// changed) sets `inactivity_since` to `now` (`None` when off).
    pub fn apply(&self, p: &mut OrgPolicy, now: Timestamp) {
        if let Some(v) = self.inactivity_days
            && v != p.inactivity_days
        {
            p.inactivity_days = v;
            p.inactivity_since = v.map(|_| now);
        }
        if let Some(v) = self.inactivity_warn_days_before {
            p.inactivity_warn_days_before = v;
        }
        if let Some(v) = self.retention_days {
            p.retention_days = v;
        }
        if let Some(v) = self.rate_limit_per_minute {
            p.rate_limit_per_minute = v;
        }
        if let Some(v) = self.removal_batch {
            p.removal_batch = v;
        }
        if let Some(v) = self.require_export_before_removal {
            p.require_export_before_removal = v;
        }
        if let Some(v) = self.export_max_age_seconds {
            p.export_max_age_seconds = v;
        }
    }
}

/// The unique names an organization holds claims on, with the field each came from.
fn alias_claims(org: &Organization) -> Vec<(&'static str, String)> {
    let mut out = vec![("slug", keys::org_slug_claim(&org.slug))];
    if !org.account_uuid.is_empty() {
        out.push(("accountUuid", keys::org_account_claim(&org.account_uuid)));
    }
    if let Some(b) = &org.apim {
        out.push(("apim", b.claim_key()));
    }
    out
}

/// The organization holding sequence number `seq`, if any.
async fn by_seq<S: Store>(store: &S, seq: i64) -> Result<Option<Organization>, DomainError> {
    let Some(id) = store.get(&keys::org_seq(seq)).await? else {
        return Ok(None);
    };
    let Ok(id) = ObjectId::parse("organizationId", &String::from_utf8_lossy(&id)) else {
        return Ok(None);
    };
    records::read(store, &keys::org(&id)).await
}

/// Claims `key` for organization `seq`: wins a free claim, keeps its own, and takes
/// over one whose holder no longer names it (left by a change that stopped half-way).
async fn claim_alias<S: Store>(store: &S, key: &str, seq: i64) -> Result<bool, DomainError> {
    match claims::try_claim(store, key, seq).await? {
        Claim::Won => Ok(true),
        Claim::Held(holder) => {
            let abandoned = by_seq(store, holder)
                .await?
                .is_none_or(|o| !alias_claims(&o).iter().any(|(_, k)| k == key));
            Ok(abandoned && claims::take_over(store, key, holder, seq).await?)
        }
    }
}

/// Creates an organization. Its record, count shards and index entry are written
/// first, then its slug, account UUID and APIM binding are claimed (exactly one of
/// concurrent creates naming the same one succeeds; the others get `Conflict` naming
/// the field and are rolled back).
pub async fn create<S: Store>(
    store: &S,
    new: NewOrganization,
    now: Timestamp,
) -> Result<Organization, DomainError> {
    new.policy.check_inactivity()?;
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
        account_uuid: new.account_uuid.unwrap_or_else(ids::uuid_v4),
        apim: new.apim,
        policy: OrgPolicy {
            inactivity_since: new.policy.inactivity_days.map(|_| now),
            ..new.policy
        },
        search_index: true,
        legal_hold: None,
    };
    // The record and shards come first: a claim must always point at an organization
    // that exists.
    count::init(store, &id).await?;
    records::write(store, &keys::org(&id), &org).await?;
    store
        .set(&keys::org_seq(seq), id.as_str().as_bytes())
        .await?;
    let mut won: Vec<String> = Vec::new();
    let mut outcome: Result<(), DomainError> = Ok(());
    for (field, key) in alias_claims(&org) {
        match claim_alias(store, &key, seq).await {
            Ok(true) => won.push(key),
            Ok(false) => {
                outcome = Err(DomainError::Conflict { field });
                break;
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if outcome.is_ok() {
        return Ok(org);
    }
    // Roll back (best effort on a store failure: what stays is an organization no alias
    // resolves to, which the invariants checker reports).
    let _ = async {
        for key in &won {
            claims::release(store, key, seq).await?;
        }
        store.delete(&keys::org_seq(seq)).await?;
        store.delete(&keys::org(&id)).await?;
        let shards: Vec<String> = (0..keys::COUNT_SHARDS)
            .map(|s| keys::user_count_shard(&id, s))
            .collect();
        store.delete_many(&shards).await
    }
    .await;
    outcome.map(|()| org)
}

fn not_found() -> DomainError {
    DomainError::NotFound {
        entity: Entity::Organization,
    }
}

/// Follows the claim at `key` to the organization holding it, provided that
/// organization still names the claim.
async fn by_claim<S: Store>(store: &S, key: &str) -> Result<Organization, DomainError> {
    let Some(seq) = claims::holder(store, key).await? else {
        return Err(not_found());
    };
    let org = by_seq(store, seq).await?.ok_or_else(not_found)?;
    // A claim left by an interrupted change no longer names the organization.
    if alias_claims(&org).iter().any(|(_, k)| k == key) {
        Ok(org)
    } else {
        Err(not_found())
    }
}

/// Finds an organization by id or slug.
pub async fn resolve<S: Store>(store: &S, reference: &OrgRef) -> Result<Organization, DomainError> {
    match reference {
        OrgRef::Id(id) => get(store, id).await,
        OrgRef::Slug(slug) => by_claim(store, &keys::org_slug_claim(slug.as_str())).await,
    }
}

/// Reads an organization by id.
pub async fn get<S: Store>(store: &S, id: &ObjectId) -> Result<Organization, DomainError> {
    records::read(store, &keys::org(id))
        .await?
        .ok_or_else(not_found)
}

/// Finds the organization answering to a Dynatrace account UUID (any case).
pub async fn resolve_account<S: Store>(
    store: &S,
    account_uuid: &str,
) -> Result<Organization, DomainError> {
    let uuid = parse_uuid("accountUuid", account_uuid)?;
    by_claim(store, &keys::org_account_claim(&uuid)).await
}

/// Finds the organization bound to an API Management service (names compared
/// case-insensitively, as ARM does).
pub async fn resolve_apim<S: Store>(
    store: &S,
    subscription_id: &str,
    resource_group: &str,
    service: &str,
) -> Result<Organization, DomainError> {
    by_claim(
        store,
        &apim_claim_key(subscription_id, resource_group, service),
    )
    .await
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
            if let Some(id) = id
                && let Ok(id) = ObjectId::parse("id", &String::from_utf8_lossy(&id))
            {
                found.push((n, keys::org(&id)));
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

/// A validated change to an organization: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct OrgChanges {
    /// New display name.
    pub name: Option<String>,
    /// New slug (the old one is freed).
    pub slug: Option<Slug>,
    /// New Dynatrace account UUID (the old one is freed).
    pub account_uuid: Option<String>,
    /// New APIM binding (`Some(None)` unbinds).
    pub apim: Option<Option<ApimBinding>>,
    /// Changes of the organization's policy (retention, rate limit, removal batch),
    /// each applied only if given.
    pub policy: PolicyChanges,
}

/// Applies `changes` as one conditional write (with `expected_version`, only if the
/// version still matches: `PreconditionFailed` otherwise). New aliases are claimed
/// first (`Conflict` naming the field if taken) and the old ones released after the
/// write.
pub async fn update<S: Store>(
    store: &S,
    id: &ObjectId,
    expected_version: Option<u64>,
    changes: OrgChanges,
    now: Timestamp,
) -> Result<Organization, DomainError> {
    let key = keys::org(id);
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&key).await?;
        let Some(bytes) = current else {
            return Err(not_found());
        };
        let before: Organization = records::decode(&key, &bytes)?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(DomainError::PreconditionFailed {
                entity: Entity::Organization,
            });
        }
        let mut after = before.clone();
        if let Some(n) = &changes.name {
            after.name.clone_from(n);
        }
        if let Some(s) = &changes.slug {
            after.slug = s.as_str().to_owned();
        }
        if let Some(a) = &changes.account_uuid {
            after.account_uuid.clone_from(a);
        }
        if let Some(b) = &changes.apim {
            after.apim.clone_from(b);
        }
        changes.policy.apply(&mut after.policy, now);
        after.policy.check_inactivity()?;
        if after == before {
            return Ok(before);
        }
        let old_claims = alias_claims(&before);
        let new_claims = alias_claims(&after);
        // Lost a race: retry. Claims taken for this attempt are kept for the retry; if
        // nothing ends up naming them, `claim_alias` sees them abandoned.
        let change = ClaimChange {
            holder: before.seq,
            old: &old_claims,
            new: &new_claims,
            unwritten: UnwrittenClaims::Leave,
        };
        let write = async || {
            after.version += 1;
            after.updated_at = now;
            Ok(if records::swap(store, &key, cas, &after).await? {
                Write::Written(after)
            } else {
                Write::NotWritten(())
            })
        };
        let claim = async |k: &str| claim_alias(store, k, before.seq).await;
        if let Write::Written(after) = change.apply(store, claim, write, |_, _| false).await? {
            return Ok(after);
        }
    }
    Err(crate::store::StoreError::new("too much contention updating the organization").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use futures::executor::block_on;

    #[test]
    fn aliases_resolve_are_unique_and_move() {
        let s = MemoryStore::from_env();
        let now = Timestamp(1_795_331_760_000);
        block_on(async {
            let mut new = NewOrganization::parse("A", "acme").unwrap();
            new.apim = Some(
                ApimBinding::parse(
                    "00000000-0000-0000-0000-000000000000",
                    "rg1",
                    "apimService1",
                )
                .unwrap(),
            );
            let a = create(&s, new, now).await.unwrap();
            assert_eq!(
                resolve_account(&s, &a.account_uuid.to_uppercase())
                    .await
                    .unwrap()
                    .id,
                a.id
            );
            assert_eq!(
                resolve_apim(
                    &s,
                    "00000000-0000-0000-0000-000000000000",
                    "RG1",
                    "apimservice1"
                )
                .await
                .unwrap()
                .id,
                a.id
            );
            // Another organization cannot take the binding or the account.
            let mut dup = NewOrganization::parse("B", "beta").unwrap();
            dup.account_uuid = Some(a.account_uuid.clone());
            let e = create(&s, dup, now).await.unwrap_err();
            assert!(
                matches!(
                    e,
                    DomainError::Conflict {
                        field: "accountUuid"
                    }
                ),
                "{e:?}"
            );
            assert!(matches!(
                resolve(&s, &OrgRef::parse("o", "beta").unwrap()).await,
                Err(DomainError::NotFound { .. })
            ));
            // Unbinding frees the binding for another organization.
            let changes = OrgChanges {
                apim: Some(None),
                policy: PolicyChanges::parse(Some(30), None, None).unwrap(),
                ..OrgChanges::default()
            };
            let a2 = update(&s, &a.id, Some(a.version), changes, now)
                .await
                .unwrap();
            assert_eq!(a2.policy.retention_days, 30);
            assert!(
                resolve_apim(
                    &s,
                    "00000000-0000-0000-0000-000000000000",
                    "rg1",
                    "apimService1"
                )
                .await
                .is_err()
            );
            let stale = update(
                &s,
                &a.id,
                Some(a.version),
                OrgChanges {
                    name: Some("X".into()),
                    ..OrgChanges::default()
                },
                now,
            )
            .await;
            assert!(matches!(stale, Err(DomainError::PreconditionFailed { .. })));
            assert_eq!(crate::invariants::check(&s.snapshot()), vec![]);
        });
    }

    #[test]
    fn alias_parts_are_validated() {
        assert!(ApimBinding::parse("not-a-uuid", "rg", "svc").is_err());
        assert_eq!(
            ApimBinding::parse("00000000-0000-0000-0000-000000000000", "rg.", "svc")
                .unwrap_err()
                .field,
            "apim.resourceGroupName"
        );
        assert!(parse_service_name("s", "1svc").is_err());
        assert!(parse_service_name("s", "svc-").is_err());
        assert!(parse_service_name("s", "apimService1").is_ok());
        assert_eq!(
            PolicyChanges::parse(None, Some(0), None).unwrap_err().field,
            "policy.rateLimitPerMinute"
        );
    }
}
