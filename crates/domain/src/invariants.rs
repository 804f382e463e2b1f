//! The invariants checker: reads a snapshot of the whole store (never on a request
//! path) and reports every index entry that points at nothing and every live record
//! missing from its indexes. `docs/storage.md` states the invariants.

use crate::dependents::DependentList;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Device, EnrollmentToken, Organization, User, UserStatus};
use crate::users::IndexEntry;
use std::collections::{BTreeMap, BTreeSet};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key at fault.
    pub key: String,
    /// What is wrong, in lowercase prose.
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

fn claim_value(bytes: &[u8]) -> Option<i64> {
    crate::store::decode_counter(bytes)
}

struct Checker<'a> {
    data: &'a BTreeMap<String, Vec<u8>>,
    out: Vec<Violation>,
}

impl Checker<'_> {
    fn report(&mut self, key: &str, problem: impl Into<String>) {
        self.out.push(Violation {
            key: key.to_owned(),
            problem: problem.into(),
        });
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        let bytes = self.data.get(key)?;
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.report(key, format!("undecodable record: {e}"));
                None
            }
        }
    }

    fn claim(&self, key: &str) -> i64 {
        self.data.get(key).and_then(|v| claim_value(v)).unwrap_or(0)
    }

    fn keys_under<'b>(&'b self, prefix: &'b str) -> impl Iterator<Item = &'b String> + 'b {
        self.data
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k)
    }

    fn org(&mut self, org: &Organization) {
        let id = &org.id;
        let seq_owner = self
            .data
            .get(&keys::org_seq(org.seq))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        if seq_owner.as_deref() != Some(id.as_str()) {
            self.report(&keys::org(id), "organization missing from its index entry");
        }
        if self.claim(&keys::org_slug_claim(&org.slug)) != org.seq {
            self.report(&keys::org(id), "organization does not hold its slug claim");
        }
        let prefix = format!("o/{id}/");
        let all: Vec<String> = self.keys_under(&prefix).cloned().collect();
        let mut users: BTreeMap<ObjectId, User> = BTreeMap::new();
        let mut entries: BTreeMap<i64, IndexEntry> = BTreeMap::new();
        let mut device_keys = Vec::new();
        let mut token_keys = Vec::new();
        let mut claims = Vec::new();
        let mut group_keys = Vec::new();
        let mut group_claims = Vec::new();
        let mut group_entries: BTreeSet<i64> = BTreeSet::new();
        let mut lists: Vec<(String, String)> = Vec::new();
        let mut search = Vec::new();
        let mut message_keys = Vec::new();
        let mut subscription_keys = Vec::new();
        let mut operation_keys = Vec::new();
        let mut trash_keys = Vec::new();
        for key in &all {
            let rest = &key[prefix.len()..];
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [
                    "user",
                    uid,
                    "devices" | "enrollment-tokens" | "outbox" | "api-tokens" | "subscriptions",
                ] => {
                    lists.push((uid.to_string(), key.clone()));
                }
                ["user", _] => {
                    if let Some(u) = self.json::<User>(key) {
                        users.insert(u.id.clone(), u);
                    }
                }
                ["users", "seq", n] => {
                    if let (Ok(n), Some(e)) = (n.parse::<i64>(), self.json::<IndexEntry>(key)) {
                        entries.insert(n, e);
                    }
                }
                ["users", "name" | "email" | "external" | "uuid", _] => claims.push(key.clone()),
                ["subscription", _] => subscription_keys.push(key.clone()),
                ["operation", _] => operation_keys.push(key.clone()),
                ["trash", n] if n.parse::<i64>().is_ok() => trash_keys.push(key.clone()),
                ["users", "search", n] => {
                    if let Ok(n) = n.parse::<i64>() {
                        search.push((n, key.clone()));
                    }
                }
                ["device", _] => device_keys.push(key.clone()),
                ["group", _] => group_keys.push(key.clone()),
                ["groups", "name" | "external", _] => group_claims.push(key.clone()),
                ["groups", "seq", n] => {
                    if let Ok(n) = n.parse::<i64>() {
                        group_entries.insert(n);
                    }
                }
                ["outbox", n] if n.parse::<i64>().is_ok() => message_keys.push(key.clone()),
                ["enrollment-token", _] => token_keys.push(key.clone()),
                _ => {}
            }
        }
        // Index entries point at users; users are in their index and hold their claims.
        for (n, e) in &entries {
            match users.get(&e.id) {
                Some(u) if u.seq == *n => {}
                _ => self.report(&keys::user_seq(id, *n), "index entry points at no user"),
            }
        }
        let mut live = 0i64;
        let mut pending = 0i64;
        for u in users.values() {
            let key = keys::user(id, &u.id);
            if entries.get(&u.seq).map(|e| &e.id) != Some(&u.id) {
                self.report(&key, "user missing from the user index");
            }
            if u.status == UserStatus::PendingDeletion {
                if u.removal.as_ref().is_some_and(|j| j.counted) {
                    pending += 1;
                }
                continue;
            }
            if u.status == UserStatus::Deleted {
                let queued = u.deletion.as_ref().is_some_and(|d| {
                    self.json::<crate::removal::TrashEntry>(&keys::trash_entry(id, d.trash_seq))
                        .is_some_and(|e| e.user_id == u.id)
                });
                if !queued {
                    self.report(&key, "softly removed user missing from the trash queue");
                }
                continue;
            }
            live += 1;
            for (field, claim_key) in crate::users::user_claims(org, u) {
                if self.claim(&claim_key) != u.seq {
                    self.report(&key, format!("user does not hold its {field} claim"));
                }
            }
            let identity = crate::identity::key_of(&u.email);
            let joined = self.data.get(&identity).is_some_and(|v| {
                serde_json::from_slice::<crate::identity::Memberships>(v)
                    .is_ok_and(|m| m.members.iter().any(|x| &x.org == id && x.user == u.id))
            });
            if !joined {
                self.report(&key, "user missing from the identity index");
            }
            for (list_key, kind) in [
                (keys::user_devices(id, &u.id), "device"),
                (keys::user_tokens(id, &u.id), "enrollment token"),
            ] {
                match self.json::<DependentList>(&list_key) {
                    None => {
                        self.report(&list_key, format!("{kind} list of a live user is missing"))
                    }
                    Some(list) => {
                        for d in &list.ids {
                            let rec = if kind == "device" {
                                keys::device(id, d)
                            } else {
                                keys::enrollment_token(id, d)
                            };
                            if !self.data.contains_key(&rec) {
                                self.report(
                                    &list_key,
                                    format!("lists {kind} {d}, which does not exist"),
                                );
                            }
                        }
                    }
                }
            }
        }
        for key in claims {
            let n = self.claim(&key);
            if n != 0 && !entries.contains_key(&n) {
                self.report(&key, "claim held by a sequence number with no index entry");
            }
        }
        for key in device_keys {
            if let Some(d) = self.json::<Device>(&key) {
                self.owned(
                    &key,
                    id,
                    &d.user_id,
                    &d.id,
                    keys::user_devices(id, &d.user_id),
                    &users,
                );
            }
        }
        for key in token_keys {
            if let Some(t) = self.json::<EnrollmentToken>(&key) {
                self.owned(
                    &key,
                    id,
                    &t.user_id,
                    &t.id,
                    keys::user_tokens(id, &t.user_id),
                    &users,
                );
            }
        }
        for key in subscription_keys {
            if let Some(x) = self.json::<crate::model::Subscription>(&key) {
                self.owned(
                    &key,
                    id,
                    &x.user_id,
                    &x.id,
                    keys::user_subscriptions(id, &x.user_id),
                    &users,
                );
            }
        }
        for key in operation_keys {
            let Some(op) = self.json::<crate::operations::Operation>(&key) else {
                continue;
            };
            if op.status == crate::operations::OperationStatus::InProgress {
                let running = op
                    .user_id
                    .as_ref()
                    .and_then(|u| users.get(u))
                    .is_some_and(|u| u.removal.as_ref().is_some_and(|j| j.operation_id == op.id));
                if !running {
                    self.report(&key, "operation in progress for no removal");
                }
            }
        }
        for key in trash_keys {
            let Some(e) = self.json::<crate::removal::TrashEntry>(&key) else {
                continue;
            };
            let named = users.get(&e.user_id).is_some_and(|u| {
                u.deletion
                    .as_ref()
                    .is_some_and(|d| keys::trash_entry(id, d.trash_seq) == key)
                    || u.removal.as_ref().is_some_and(|j| {
                        j.trash_seq.is_some_and(|t| keys::trash_entry(id, t) == key)
                    })
            });
            if !named {
                self.report(&key, "trash entry points at no softly removed user");
            }
        }
        let user_ids: BTreeSet<&str> = users.keys().map(ObjectId::as_str).collect();
        for (uid, key) in lists {
            if !user_ids.contains(uid.as_str()) {
                self.report(&key, "list of a user that does not exist");
            }
        }
        // Search entries belong to users and hold their current text.
        let by_seq: BTreeMap<i64, &User> = users.values().map(|u| (u.seq, u)).collect();
        for (n, key) in search {
            match by_seq.get(&n) {
                None => self.report(&key, "search entry of no user"),
                Some(u) => {
                    // Exactly the user's text, or (an update stopped half-way) the new
                    // and old texts, one of which is the user's.
                    let text = crate::users::search_text(u);
                    let entry = self
                        .data
                        .get(&key)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    if !entry
                        .split(crate::users::RECORD_SEPARATOR)
                        .any(|part| part == text)
                    {
                        self.report(&key, "search entry does not match its user");
                    }
                }
            }
        }
        for u in users.values() {
            if u.is_live() && !self.data.contains_key(&keys::user_search(id, u.seq)) {
                self.report(
                    &keys::user(id, &u.id),
                    "user missing from the search entries",
                );
            }
        }
        // A pending message must be in its user's outbox list, or a removal would leave
        // the address behind. (A listed number whose message is gone is harmless.)
        for key in message_keys {
            let Some(m) = self.json::<crate::outbox::Message>(&key) else {
                continue;
            };
            // Removal notices outlive their user's list by design.
            if m.kind != crate::outbox::MessageKind::Invitation {
                continue;
            }
            let listed = self
                .json::<DependentList>(&keys::user_outbox(id, &m.user_id))
                .is_some_and(|l| crate::outbox::message_keys(id, &l.ids).contains(&key));
            if !listed {
                self.report(&key, "message missing from its user's outbox list");
            }
        }
        for key in group_keys {
            let Some(g) = self.json::<crate::model::Group>(&key) else {
                continue;
            };
            let indexed = self
                .json::<IndexEntry>(&keys::group_seq(id, g.seq))
                .is_some_and(|e| e.id == g.id);
            if !indexed {
                self.report(&key, "group missing from the group index");
            }
            for (field, claim_key) in crate::groups::group_claims(org, &g) {
                if self.claim(&claim_key) != g.seq {
                    self.report(&key, format!("group does not hold its {field} claim"));
                }
            }
            // While a rename is in flight, members may still hold the previous name.
            let names: Vec<String> = std::iter::once(&g.name)
                .chain(g.renamed_from.as_ref())
                .map(|n| n.to_lowercase())
                .collect();
            let named = |u: &User| u.groups.iter().any(|n| names.contains(&n.to_lowercase()));
            let members_key = keys::group_members(id, &g.id);
            let Some(list) = self.json::<DependentList>(&members_key) else {
                self.report(&members_key, "member list of a group is missing");
                continue;
            };
            for m in &list.ids {
                let member = users.get(m).is_some_and(named);
                if !member {
                    self.report(&members_key, format!("lists {m}, which is not a member"));
                }
            }
            let listed: BTreeSet<&ObjectId> = list.ids.iter().collect();
            for u in users.values() {
                if u.is_live() && named(u) && !listed.contains(&u.id) {
                    self.report(
                        &keys::user(id, &u.id),
                        format!("member of {} but missing from its list", g.name),
                    );
                }
            }
        }
        for key in group_claims {
            let n = self.claim(&key);
            if n != 0 && !group_entries.contains(&n) {
                self.report(
                    &key,
                    "claim held by a sequence number with no group index entry",
                );
            }
        }
        let shard_keys: Vec<String> = (0..keys::COUNT_SHARDS)
            .map(|s| keys::user_count_shard(id, s))
            .collect();
        let mut total = 0;
        for k in &shard_keys {
            match self.json::<crate::count::CountShard>(k) {
                Some(s) => total += s.n,
                None => self.report(k, "count shard missing"),
            }
        }
        if total < live || total > live + pending {
            self.report(
                &shard_keys[0],
                format!("count is {total}, but {live} users are live and {pending} pending"),
            );
        }
    }

    /// Token records, their id pointers and their index entries agree.
    fn tokens(&mut self, orgs: &BTreeSet<String>) {
        let records: Vec<String> = self.keys_under("tokens/digest/").cloned().collect();
        for key in records {
            let Some(t) = self.json::<crate::tokens::ApiToken>(&key) else {
                continue;
            };
            let pointer = keys::token_id(&t.id);
            if self.data.get(&pointer).map(Vec::as_slice) != Some(t.digest.as_bytes()) {
                self.report(&key, "token missing its id pointer");
            }
            let entry = match &t.org_id {
                Some(o) => keys::org_token_seq(o, t.seq),
                None => keys::global_token_seq(t.seq),
            };
            if self.data.get(&entry).map(Vec::as_slice) != Some(t.id.as_str().as_bytes()) {
                self.report(&key, "token missing from its index");
            }
            if let Some(o) = &t.org_id
                && !orgs.contains(o.as_str())
            {
                self.report(&key, "token of an organization that does not exist");
            }
        }
        let pointers: Vec<String> = self.keys_under("tokens/id/").cloned().collect();
        for key in pointers {
            let digest = String::from_utf8_lossy(&self.data[&key]).into_owned();
            if !self.data.contains_key(&keys::token_by_digest(&digest)) {
                self.report(&key, "token pointer points at no token");
            }
        }
    }

    /// Every identity membership names a user of that organization with that email.
    fn identities(&mut self) {
        let idents: Vec<String> = self.keys_under("identity/email/").cloned().collect();
        for key in idents {
            // Created as the integer 0 by `increment` (8 bytes on SQLite, "0" on Redis)
            // and not yet written: no members.
            if crate::store::decode_counter(&self.data[&key]).is_some() {
                continue;
            }
            let Some(m) = self.json::<crate::identity::Memberships>(&key) else {
                continue;
            };
            for x in m.members {
                let user = self.json::<User>(&keys::user(&x.org, &x.user));
                if user.is_none_or(|u| crate::identity::key_of(&u.email) != key) {
                    self.report(
                        &key,
                        format!(
                            "membership names user {} of {}, which has no such email",
                            x.user, x.org
                        ),
                    );
                }
            }
        }
    }

    fn owned(
        &mut self,
        key: &str,
        _org: &ObjectId,
        user_id: &ObjectId,
        id: &ObjectId,
        list_key: String,
        users: &BTreeMap<ObjectId, User>,
    ) {
        if !users.contains_key(user_id) {
            self.report(
                key,
                format!("belongs to user {user_id}, which does not exist"),
            );
            return;
        }
        let listed = self
            .json::<DependentList>(&list_key)
            .is_some_and(|l| l.ids.contains(id));
        if !listed {
            self.report(key, "missing from its user's list");
        }
    }
}

/// Checks every invariant over a snapshot of the store; an empty result means the
/// store is consistent.
pub fn check(data: &BTreeMap<String, Vec<u8>>) -> Vec<Violation> {
    let mut c = Checker {
        data,
        out: Vec::new(),
    };
    let org_keys: Vec<String> = c.keys_under("org/").cloned().collect();
    let mut seen_orgs = BTreeSet::new();
    for key in org_keys {
        if let Some(org) = c.json::<Organization>(&key) {
            seen_orgs.insert(org.id.to_string());
            c.org(&org);
        }
    }
    let seq_keys: Vec<String> = c.keys_under("orgs/seq/").cloned().collect();
    for key in seq_keys {
        let id = c
            .data
            .get(&key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        if !seen_orgs.contains(&id) {
            c.report(&key, "index entry points at no organization");
        }
    }
    c.tokens(&seen_orgs);
    c.identities();
    // Dependents of organizations that do not exist.
    let orphan_prefixes: BTreeSet<String> = c
        .data
        .keys()
        .filter_map(|k| {
            k.strip_prefix("o/")
                .and_then(|r| r.split('/').next())
                .map(str::to_owned)
        })
        .filter(|org| !seen_orgs.contains(org))
        .collect();
    for org in orphan_prefixes {
        c.report(
            &format!("o/{org}/"),
            "keys of an organization that does not exist",
        );
    }
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, Store};
    use crate::{Timestamp, devices, orgs, users};
    use futures::executor::block_on;

    #[test]
    fn a_consistent_store_has_no_violations_and_damage_is_reported() {
        let s = MemoryStore::from_env();
        let now = Timestamp(1_795_331_760_000);
        block_on(async {
            let org = orgs::create(&s, orgs::NewOrganization::parse("A", "acme").unwrap(), now)
                .await
                .unwrap();
            let u = users::create(
                &s,
                &org,
                users::NewUser::parse("kim", "kim@example.com", None, None).unwrap(),
                now,
            )
            .await
            .unwrap();
            let new = devices::NewDevice::parse(
                "n",
                "ios",
                None,
                "x",
                crate::model::Ownership::Byod,
                crate::model::DeviceStatus::Active,
                vec![],
            )
            .unwrap();
            let d = devices::enroll(&s, &org, &u.id, new, now).await.unwrap();
            assert_eq!(check(&s.snapshot()), vec![]);
            // A device record without its list entry, and a list entry without a record.
            s.delete(&keys::user_devices(&org.id, &u.id)).await.unwrap();
            let v = check(&s.snapshot());
            assert!(
                v.iter()
                    .any(|v| v.problem.contains("device list of a live user is missing")),
                "{v:?}"
            );
            assert!(
                v.iter().any(|v| v.key == keys::device(&org.id, &d.id)),
                "{v:?}"
            );
            s.delete(&keys::user(&org.id, &u.id)).await.unwrap();
            let v = check(&s.snapshot());
            assert!(
                v.iter()
                    .any(|v| v.problem == "index entry points at no user"),
                "{v:?}"
            );
        });
    }

    #[test]
    fn an_identity_key_created_but_not_yet_written_is_no_violation_on_either_backend() {
        for flavor in [crate::store::Flavor::Sqlite, crate::store::Flavor::Redis] {
            let s = MemoryStore::with_flavor(flavor);
            block_on(async {
                // What a create that stopped right after `increment(key, 0)` leaves.
                s.increment(&crate::identity::key_of("kim@example.com"), 0)
                    .await
                    .unwrap();
            });
            assert_eq!(check(&s.snapshot()), vec![], "{flavor:?}");
        }
    }
}
