//! The invariants checker: reads a snapshot of the whole store (never on a request
//! path) and reports every index entry that points at nothing and every live record
//! missing from its indexes. `docs/storage.md` states the invariants.

use crate::dependents::DependentList;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Device, EnrollmentToken, Organization, User, UserStatus};
use crate::users::IndexEntry;
use roster_lowercase::Lowercase as _;
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

/// The keys under `o/{id}/` sorted by what they are, with the users and user index
/// entries decoded (what [`Checker::scan_org`] finds).
#[derive(Default)]
struct OrgKeys {
    users: BTreeMap<ObjectId, User>,
    entries: BTreeMap<i64, IndexEntry>,
    devices: Vec<String>,
    tokens: Vec<String>,
    claims: Vec<String>,
    groups: Vec<String>,
    group_claims: Vec<String>,
    group_entries: BTreeSet<i64>,
    /// (user id, key) of each dependent list.
    lists: Vec<(String, String)>,
    /// (sequence number, key) of each search entry.
    search: Vec<(i64, String)>,
    messages: Vec<String>,
    subscriptions: Vec<String>,
    operations: Vec<String>,
    trash: Vec<String>,
    /// (day, key) of each scheduled-removal index entry.
    schedule: Vec<(i64, String)>,
}

/// Users the count must cover: `live` ones, and `pending` removals that still count
/// theirs (a removal uncounts its user in its last steps).
#[derive(Default, Clone, Copy)]
struct Tally {
    live: i64,
    pending: i64,
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

    /// Every invariant of one organization's keys, family by family; the order of the
    /// families (and, within each, of the keys) is the order of the reports.
    fn org(&mut self, org: &Organization) {
        self.org_is_indexed_and_holds_its_slug(org);
        let keys = self.scan_org(&org.id);
        self.index_entries_point_at_users(&org.id, &keys);
        let tally = self.users_are_indexed_claimed_and_listed(org, &keys);
        self.user_claims_have_index_entries(&keys);
        self.dependents_belong_to_listed_users(&org.id, &keys);
        self.operations_in_progress_have_removals(&keys);
        self.trash_entries_name_removed_users(&org.id, &keys);
        self.schedules_are_indexed(&org.id, &keys);
        self.inactivity_keys_in_range(&org.id, &keys);
        self.lists_belong_to_users(&keys);
        self.search_entries_match_users(org, &keys);
        self.search_entries_are_indexed(org, &keys);
        self.invitations_are_listed(&org.id, &keys);
        self.groups_are_indexed_claimed_and_listed(org, &keys);
        self.group_claims_have_index_entries(&keys);
        self.count_matches_users(&org.id, tally);
    }

    /// The organization is named by its index entry `orgs/seq/{n}` and holds its slug
    /// claim.
    fn org_is_indexed_and_holds_its_slug(&mut self, org: &Organization) {
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
    }

    /// One pass over `o/{id}/`, sorting the keys by what they are and decoding the
    /// users and index entries (an undecodable one is reported here, in key order).
    fn scan_org(&mut self, id: &ObjectId) -> OrgKeys {
        let prefix = format!("o/{id}/");
        let all: Vec<String> = self.keys_under(&prefix).cloned().collect();
        let mut k = OrgKeys::default();
        for key in &all {
            let rest = &key[prefix.len()..];
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [
                    "user",
                    uid,
                    "devices" | "enrollment-tokens" | "outbox" | "api-tokens" | "subscriptions",
                ] => {
                    k.lists.push((uid.to_string(), key.clone()));
                }
                ["user", _] => {
                    if let Some(u) = self.json::<User>(key) {
                        k.users.insert(u.id.clone(), u);
                    }
                }
                ["users", "seq", n] => {
                    if let (Ok(n), Some(e)) = (n.parse::<i64>(), self.json::<IndexEntry>(key)) {
                        k.entries.insert(n, e);
                    }
                }
                ["users", "name" | "email" | "external" | "uuid", _] => k.claims.push(key.clone()),
                ["subscription", _] => k.subscriptions.push(key.clone()),
                ["operation", _] => k.operations.push(key.clone()),
                ["trash", n] if n.parse::<i64>().is_ok() => k.trash.push(key.clone()),
                ["schedule", day, n] if *n != "seq" => {
                    if let Ok(day) = day.parse::<i64>() {
                        k.schedule.push((day, key.clone()));
                    }
                }
                ["users", "search", n] => {
                    if let Ok(n) = n.parse::<i64>() {
                        k.search.push((n, key.clone()));
                    }
                }
                ["device", _] => k.devices.push(key.clone()),
                ["group", _] => k.groups.push(key.clone()),
                ["groups", "name" | "external", _] => k.group_claims.push(key.clone()),
                ["groups", "seq", n] => {
                    if let Ok(n) = n.parse::<i64>() {
                        k.group_entries.insert(n);
                    }
                }
                ["outbox", n] if n.parse::<i64>().is_ok() => k.messages.push(key.clone()),
                ["enrollment-token", _] => k.tokens.push(key.clone()),
                _ => {}
            }
        }
        k
    }

    /// Every user index entry `users/seq/{n}` names a user whose sequence number is n.
    fn index_entries_point_at_users(&mut self, id: &ObjectId, k: &OrgKeys) {
        for (n, e) in &k.entries {
            match k.users.get(&e.id) {
                Some(u) if u.seq == *n => {}
                _ => self.report(&keys::user_seq(id, *n), "index entry points at no user"),
            }
        }
    }

    /// Every user is in the user index; a softly removed one is in the trash queue; a
    /// live one holds its claims, is in the identity index, and has its device and
    /// enrollment-token lists, each naming only records that exist. Returns the live
    /// users and the pending removals still counted, for [`Self::count_matches_users`].
    fn users_are_indexed_claimed_and_listed(&mut self, org: &Organization, k: &OrgKeys) -> Tally {
        let id = &org.id;
        let mut tally = Tally::default();
        for u in k.users.values() {
            let key = keys::user(id, &u.id);
            if k.entries.get(&u.seq).map(|e| &e.id) != Some(&u.id) {
                self.report(&key, "user missing from the user index");
            }
            if u.status == UserStatus::PendingDeletion {
                if u.removal.as_ref().is_some_and(|j| j.counted) {
                    tally.pending += 1;
                }
                // A soft removal (or a purge) under way keeps its trash entry where the
                // purge reaches it, so that whatever stops it, the purge finishes it.
                if let Some(t) = u.removal.as_ref().and_then(|j| j.trash_seq) {
                    self.trash_entry_is_ahead(id, &u.id, t, &key);
                }
                continue;
            }
            if u.status == UserStatus::Deleted {
                self.removed_user_is_queued(id, u, &key);
                continue;
            }
            tally.live += 1;
            self.live_user_holds_its_claims_and_identity(org, u, &key);
            self.live_user_has_its_lists(id, u);
        }
        tally
    }

    /// A softly removed user has its entry in the trash queue, past the queue's head
    /// (where the purge still walks).
    fn removed_user_is_queued(&mut self, id: &ObjectId, u: &User, key: &str) {
        let Some(d) = &u.deletion else {
            self.report(key, "softly removed user missing from the trash queue");
            return;
        };
        self.trash_entry_is_ahead(id, &u.id, d.trash_seq, key);
    }

    /// The trash entry `n` exists, names `user`, and lies past the queue's head: the
    /// purge reaches it.
    fn trash_entry_is_ahead(&mut self, id: &ObjectId, user: &ObjectId, n: i64, key: &str) {
        let named = self
            .json::<crate::removal::TrashEntry>(&keys::trash_entry(id, n))
            .is_some_and(|e| e.user_id == *user);
        if !named {
            self.report(key, "softly removed user missing from the trash queue");
        } else if n <= self.claim(&keys::trash_head(id)) {
            self.report(
                key,
                "trash entry behind the queue's head: no purge reaches it",
            );
        }
    }

    /// A live user holds each of its unique-value claims (an email claim only when it
    /// has an email) and is a member of its email's identity entry (a user without
    /// email is in none).
    fn live_user_holds_its_claims_and_identity(&mut self, org: &Organization, u: &User, key: &str) {
        for (field, claim_key) in crate::users::user_claims(org, u) {
            if self.claim(&claim_key) != u.seq {
                self.report(key, format!("user does not hold its {field} claim"));
            }
        }
        let Some(email) = &u.email else {
            if !u.other_emails.is_empty() {
                self.report(key, "user without email has further addresses");
            }
            return;
        };
        let identity = crate::identity::key_of(email);
        let joined = self.data.get(&identity).is_some_and(|v| {
            serde_json::from_slice::<crate::identity::Memberships>(v)
                .is_ok_and(|m| m.members.iter().any(|x| x.org == org.id && x.user == u.id))
        });
        if !joined {
            self.report(key, "user missing from the identity index");
        }
    }

    /// A live user's device and enrollment-token lists exist and name only records
    /// that exist.
    fn live_user_has_its_lists(&mut self, id: &ObjectId, u: &User) {
        for (list_key, kind) in [
            (keys::user_devices(id, &u.id), "device"),
            (keys::user_tokens(id, &u.id), "enrollment token"),
        ] {
            match self.json::<DependentList>(&list_key) {
                None => self.report(&list_key, format!("{kind} list of a live user is missing")),
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

    /// A held user claim (username, email, external id, UUID) names a sequence number
    /// that has an index entry.
    fn user_claims_have_index_entries(&mut self, k: &OrgKeys) {
        for key in &k.claims {
            let n = self.claim(key);
            if n != 0 && !k.entries.contains_key(&n) {
                self.report(key, "claim held by a sequence number with no index entry");
            }
        }
    }

    /// Devices, enrollment tokens and subscriptions belong to a user that exists and
    /// are in that user's list of them.
    fn dependents_belong_to_listed_users(&mut self, id: &ObjectId, k: &OrgKeys) {
        for key in &k.devices {
            if let Some(d) = self.json::<Device>(key) {
                let list = keys::user_devices(id, &d.user_id);
                self.owned(key, &d.user_id, &d.id, list, &k.users);
            }
        }
        for key in &k.tokens {
            if let Some(t) = self.json::<EnrollmentToken>(key) {
                let list = keys::user_tokens(id, &t.user_id);
                self.owned(key, &t.user_id, &t.id, list, &k.users);
            }
        }
        for key in &k.subscriptions {
            if let Some(x) = self.json::<crate::model::Subscription>(key) {
                let list = keys::user_subscriptions(id, &x.user_id);
                self.owned(key, &x.user_id, &x.id, list, &k.users);
            }
        }
    }

    /// An operation in progress names a user whose removal journal is that operation.
    fn operations_in_progress_have_removals(&mut self, k: &OrgKeys) {
        for key in &k.operations {
            let Some(op) = self.json::<crate::operations::Operation>(key) else {
                continue;
            };
            if op.status == crate::operations::OperationStatus::InProgress {
                let running = op
                    .user_id
                    .as_ref()
                    .and_then(|u| k.users.get(u))
                    .is_some_and(|u| u.removal.as_ref().is_some_and(|j| j.operation_id == op.id));
                if !running {
                    self.report(key, "operation in progress for no removal");
                }
            }
        }
    }

    /// A live user's removal schedule has an entry naming the user under each of its
    /// days ([`crate::schedules::index_days`]), numbered within the day's counter; no
    /// entry lies at or before the index's head (the run settled those days).
    fn schedules_are_indexed(&mut self, id: &ObjectId, k: &OrgKeys) {
        let head = self.claim(&keys::schedule_head(id));
        for (day, key) in &k.schedule {
            if head != 0 && *day <= head {
                self.report(key, "schedule entry at or before the index's head");
            }
            let n = key.rsplit('/').next().and_then(|n| n.parse::<i64>().ok());
            if n.is_none_or(|n| n > self.claim(&keys::schedule_counter(id, *day))) {
                self.report(key, "schedule entry beyond its day's counter");
            }
        }
        for u in k.users.values() {
            let Some(s) = u.removal_schedule.as_ref().filter(|_| u.is_live()) else {
                continue;
            };
            for day in crate::schedules::index_days(s) {
                let prefix = format!("o/{id}/schedule/{day}/");
                let listed = k.schedule.iter().any(|(d, key)| {
                    *d == day
                        && key.starts_with(&prefix)
                        && self
                            .json::<crate::schedules::DayEntry>(key)
                            .is_some_and(|e| e.user_id == u.id)
                });
                if !listed {
                    self.report(
                        &keys::user(id, &u.id),
                        format!("scheduled removal missing from the index of day {day}"),
                    );
                }
            }
        }
    }

    /// The inactivity sweep's cursor (`inactivity/cursor`) is a slot of the user index
    /// (0 to its counter), and an inactivity schedule's reserved audit numbers are
    /// within the audit counter ([`crate::inactivity`]).
    fn inactivity_keys_in_range(&mut self, id: &ObjectId, k: &OrgKeys) {
        let cursor_key = keys::inactivity_cursor(id);
        if self.data.contains_key(&cursor_key) {
            let c = self.claim(&cursor_key);
            if !(0..=self.claim(&keys::user_seq_counter(id))).contains(&c) {
                self.report(&cursor_key, "inactivity cursor beyond the user index");
            }
        }
        let top = self.claim(&keys::audit_counter(id));
        for u in k.users.values() {
            let Some(b) = u
                .removal_schedule
                .as_ref()
                .and_then(|s| s.inactivity.as_ref())
            else {
                continue;
            };
            if b.audit_number < 1
                || b.audit_number > top
                || b.cancel_number.is_some_and(|n| n < 1 || n > top)
            {
                self.report(
                    &keys::user(id, &u.id),
                    "inactivity schedule names an audit number never reserved",
                );
            }
        }
    }

    /// A trash entry names a user whose soft deletion (or removal under way) is that
    /// entry — unless a restore of it got as far as keeping its audit number there
    /// (that restore under way, or what it left when it stopped after reinstating the
    /// user, before deleting the entry), or a soft removal wrote it when reserving its
    /// number and did not go on to mark the user with it (stopped, lost the mark to
    /// another removal, or refused by a guard): the purge deletes such an entry.
    fn trash_entries_name_removed_users(&mut self, id: &ObjectId, k: &OrgKeys) {
        for key in &k.trash {
            let Some(e) = self.json::<crate::removal::TrashEntry>(key) else {
                continue;
            };
            let named = e.restore_audit.is_some()
                || e.reserved_at.is_some()
                || k.users.get(&e.user_id).is_some_and(|u| {
                    u.deletion
                        .as_ref()
                        .is_some_and(|d| keys::trash_entry(id, d.trash_seq) == *key)
                        || u.removal.as_ref().is_some_and(|j| {
                            j.trash_seq
                                .is_some_and(|t| keys::trash_entry(id, t) == *key)
                        })
                });
            if !named {
                self.report(key, "trash entry points at no softly removed user");
            }
        }
    }

    /// A user's dependent list belongs to a user that exists.
    fn lists_belong_to_users(&mut self, k: &OrgKeys) {
        let user_ids: BTreeSet<&str> = k.users.keys().map(ObjectId::as_str).collect();
        for (uid, key) in &k.lists {
            if !user_ids.contains(uid.as_str()) {
                self.report(key, "list of a user that does not exist");
            }
        }
    }

    /// Search entries belong to users and hold their current text; every live user has
    /// one.
    fn search_entries_match_users(&mut self, org: &Organization, k: &OrgKeys) {
        let id = &org.id;
        let by_seq: BTreeMap<i64, &User> = k.users.values().map(|u| (u.seq, u)).collect();
        for (n, key) in &k.search {
            match by_seq.get(n) {
                None => self.report(key, "search entry of no user"),
                Some(u) => {
                    // Exactly the user's text, or (an update stopped half-way) the new
                    // and old texts, one of which is the user's.
                    let text = crate::users::search_text(u);
                    let entry = self
                        .data
                        .get(key)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    if !entry
                        .split(crate::users::RECORD_SEPARATOR)
                        .any(|part| part == text)
                    {
                        self.report(key, "search entry does not match its user");
                    }
                }
            }
        }
        for u in k.users.values() {
            if u.is_live() && !self.data.contains_key(&keys::user_search(id, u.seq)) {
                self.report(
                    &keys::user(id, &u.id),
                    "user missing from the search entries",
                );
            }
        }
    }

    /// Every n-gram of every search entry (each of its texts, while an update is in
    /// flight) is flagged in the entry's batch ([`crate::search_index`]), so a `q`
    /// search reads every batch that can hold a match. Flags no entry needs are
    /// allowed (they are never cleared).
    fn search_entries_are_indexed(&mut self, org: &Organization, k: &OrgKeys) {
        if !org.search_index {
            // Written before the index existed: searched by reading every batch.
            return;
        }
        for (n, key) in &k.search {
            let entry = self
                .data
                .get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            let unflagged = crate::search_index::flag_keys(org, *n, &entry)
                .into_iter()
                .filter(|flag| !self.data.contains_key(flag))
                .count();
            if unflagged > 0 {
                self.report(
                    key,
                    format!("search entry has {unflagged} n-grams not flagged in its batch"),
                );
            }
        }
    }

    /// A pending invitation is in its user's outbox list, or a removal would leave the
    /// address behind. (A listed number whose message is gone is harmless; removal
    /// notices outlive their user's list by design.)
    fn invitations_are_listed(&mut self, id: &ObjectId, k: &OrgKeys) {
        for key in &k.messages {
            let Some(m) = self.json::<crate::outbox::Message>(key) else {
                continue;
            };
            if !matches!(
                m.kind,
                crate::outbox::MessageKind::Invitation | crate::outbox::MessageKind::RemovalWarning
            ) {
                continue;
            }
            let listed = self
                .json::<DependentList>(&keys::user_outbox(id, &m.user_id))
                .is_some_and(|l| crate::outbox::message_keys(id, &l.ids).contains(key));
            if !listed {
                self.report(key, "message missing from its user's outbox list");
            }
        }
    }

    /// A group is in the group index, holds its claims, and its member list names
    /// exactly the live users whose `groups` name it (by its name, or during a rename by
    /// the previous one).
    fn groups_are_indexed_claimed_and_listed(&mut self, org: &Organization, k: &OrgKeys) {
        let id = &org.id;
        for key in &k.groups {
            let Some(g) = self.json::<crate::model::Group>(key) else {
                continue;
            };
            let indexed = self
                .json::<IndexEntry>(&keys::group_seq(id, g.seq))
                .is_some_and(|e| e.id == g.id);
            if !indexed {
                self.report(key, "group missing from the group index");
            }
            for (field, claim_key) in crate::groups::group_claims(org, &g) {
                if self.claim(&claim_key) != g.seq {
                    self.report(key, format!("group does not hold its {field} claim"));
                }
            }
            self.group_members_are_listed(id, &g, &k.users);
        }
    }

    /// The member list of `g` names exactly its live members.
    fn group_members_are_listed(
        &mut self,
        id: &ObjectId,
        g: &crate::model::Group,
        users: &BTreeMap<ObjectId, User>,
    ) {
        // While a rename is in flight, members may still hold the previous name.
        let names: Vec<String> = std::iter::once(&g.name)
            .chain(g.renamed_from.as_ref())
            .map(|n| n.lowercase())
            .collect();
        let named = |u: &User| u.groups.iter().any(|n| names.contains(&n.lowercase()));
        let members_key = keys::group_members(id, &g.id);
        let Some(list) = self.json::<DependentList>(&members_key) else {
            self.report(&members_key, "member list of a group is missing");
            return;
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

    /// A held group claim (name, external id) names a sequence number that has a group
    /// index entry.
    fn group_claims_have_index_entries(&mut self, k: &OrgKeys) {
        for key in &k.group_claims {
            let n = self.claim(key);
            if n != 0 && !k.group_entries.contains(&n) {
                self.report(
                    key,
                    "claim held by a sequence number with no group index entry",
                );
            }
        }
    }

    /// Every count shard exists, and their sum is at least the live users and at most
    /// the live users plus the removals under way that still count theirs.
    fn count_matches_users(&mut self, id: &ObjectId, tally: Tally) {
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
        let Tally { live, pending } = tally;
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

    /// Every identity membership names a user of that organization: a live one (with
    /// that email, or left stale by an interrupted email change) or a removed one with
    /// that email.
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
                // A live user that has another email (or none) is what an email change
                // stopped between joining the new entry and writing the record leaves:
                // readers re-check every membership against the record, so it is never
                // believed. A membership of a user record that is gone, or of a user
                // being removed or removed that lacks that email, is damage.
                let fine = |u: &User| {
                    u.is_live()
                        || u.email
                            .as_deref()
                            .is_some_and(|e| crate::identity::key_of(e) == key)
                };
                if !user.as_ref().is_some_and(fine) {
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

    /// The dependent record at `key` (`id`, of `user_id`) belongs to a user that exists
    /// and is in that user's list `list_key`.
    fn owned(
        &mut self,
        key: &str,
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
                users::NewUser::parse("kim", Some("kim@example.com"), None, None).unwrap(),
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
