//! The `q` search index (`roster_domain::search_index`): what a search reads, that it
//! answers exactly what a scan would, that the checker notices a missing flag, and that
//! creates, updates and restores interrupted at every store call leave the index
//! complete.

use crate::helpers::{NOW, consistent, org};
use futures::executor::block_on;
use roster_domain::model::{Organization, User};
use roster_domain::removal::{RemovalPolicy, remove_user, restore};
use roster_domain::search_index::{self, SEARCH_BATCH};
use roster_domain::{MemoryStore, Store, keys, orgs, users};

fn seeded(name: &str, i: usize) -> users::NewUser {
    const FIRST: [&str; 4] = ["Ada", "Alan", "Grace", "Ken"];
    const LAST: [&str; 3] = ["Lovelace", "Turing", "Hopper"];
    users::NewUser::parse(
        name,
        Some(&format!("{name}@example.com")),
        Some(FIRST[i % FIRST.len()]),
        Some(LAST[i % LAST.len()]),
    )
    .unwrap()
}

fn query(text: &str, after: i64, limit: usize) -> users::ListQuery {
    users::ListQuery {
        after,
        limit,
        status: None,
        group: None,
        q: Some(text.into()),
    }
}

/// Every page of a search for `text`, `limit` users each, as usernames.
fn search_all(s: &MemoryStore, o: &Organization, text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = block_on(users::list(s, o, &query(text, after, limit))).unwrap();
        out.extend(page.users.into_iter().map(|u| u.username));
        match page.next {
            Some(n) => after = n,
            None => return out,
        }
    }
}

fn search_one(s: &MemoryStore, o: &Organization, text: &str) -> Vec<String> {
    let page = block_on(users::list(s, o, &query(text, 0, 50))).unwrap();
    page.users.into_iter().map(|u| u.username).collect()
}

/// 2 500 users `user0000` … `user2499`: three search batches.
fn directory() -> (MemoryStore, Organization, Vec<User>) {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let all = (0..2_500)
        .map(|i| {
            block_on(users::create(
                &s,
                &o,
                seeded(&format!("user{i:04}"), i),
                NOW,
            ))
            .unwrap()
        })
        .collect();
    (s, o, all)
}

#[test]
fn a_search_reads_the_flags_and_only_the_batches_they_point_at() {
    let (s, o, all) = directory();
    consistent(&s, "seeded");
    // "user2345": its 4-grams "user" (every batch) and "2345" (batch 2 only).
    let grams = search_index::query_grams("user2345");
    assert_eq!(grams, ["user", "2345"]);
    let candidates = block_on(search_index::candidates(&s, &o, &grams, 0, 2)).unwrap();
    assert_eq!(candidates, [2]);
    s.clear_faults();
    assert_eq!(search_one(&s, &o, "USER2345"), ["user2345"]);
    // The counter, one read of 3 × 2 flags, and the one candidate batch: its search
    // entries, then the index entry and the record of the hit. A scan reads 3 batches.
    assert_eq!(s.calls(), 5);
    // Absent text: the counter and the flags, no batch at all.
    s.clear_faults();
    assert!(search_one(&s, &o, "zzzz").is_empty());
    assert_eq!(s.calls(), 2);
    // Answers are exactly a scan's, in creation order and over pages, for needles
    // shorter and longer than the longest n-gram, across the space between names, and
    // for text in every batch.
    for (needle, limit) in [
        ("7", 50),
        ("77", 9),
        ("e", 1_000),
        ("249", 7),
        ("ce hop", 3),
        ("grace hopper", 40),
        ("r1234@exa", 5),
        ("user1", 100),
        ("ada lovelace", 64),
    ] {
        let want: Vec<String> = all
            .iter()
            .filter(|u| users::search_text(u).contains(&needle.to_lowercase()))
            .map(|u| u.username.clone())
            .collect();
        assert!(!want.is_empty(), "{needle}");
        assert_eq!(search_all(&s, &o, needle, limit), want, "{needle}");
    }
}

#[test]
fn flags_are_what_the_batch_holds_and_the_checker_notices_a_missing_one() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let u = block_on(users::create(&s, &o, seeded("kim", 0), NOW)).unwrap();
    let text = users::search_text(&u);
    let flags = search_index::flag_keys(&o, u.seq, &text);
    // Every flag is there, and flags are all the index keys there are.
    let snap = s.snapshot();
    assert!(flags.iter().all(|k| snap.contains_key(k)));
    let ng_prefix = format!("o/{}/users/ng/", o.id);
    assert_eq!(
        snap.keys().filter(|k| k.starts_with(&ng_prefix)).count(),
        flags.len()
    );
    // No key names the text.
    assert!(snap.keys().all(|k| !k.contains("kim")));
    // Remove one: the checker reports the entry.
    block_on(s.delete(&flags[0])).unwrap();
    let violations = roster_domain::invariants::check(&s.snapshot());
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].key, keys::user_search(&o.id, u.seq));
    assert!(violations[0].problem.contains("not flagged"));
}

/// The store calls of an undisturbed `f` on a fresh store prepared by `setup`.
fn calls<T>(
    setup: impl Fn(&MemoryStore, &Organization) -> T,
    f: impl Fn(&MemoryStore, &Organization, &T),
) -> u64 {
    calls_in(org, setup, f)
}

/// [`calls`] in the organization `make_org` makes.
fn calls_in<T>(
    make_org: fn(&MemoryStore) -> Organization,
    setup: impl Fn(&MemoryStore, &Organization) -> T,
    f: impl Fn(&MemoryStore, &Organization, &T),
) -> u64 {
    let s = MemoryStore::from_env();
    let o = make_org(&s);
    let t = setup(&s, &o);
    s.clear_faults();
    f(&s, &o, &t);
    s.calls()
}

#[test]
fn a_create_interrupted_at_every_call_leaves_the_index_complete() {
    let create = |s: &MemoryStore, o: &Organization, _: &()| {
        let _ = block_on(users::create(s, o, seeded("kimberly", 0), NOW));
    };
    let n_calls = calls(|_, _| (), create);
    assert!(n_calls > 10, "{n_calls}");
    for n in 1..=n_calls {
        let s = MemoryStore::from_env();
        let o = org(&s);
        s.fail_nth(n);
        create(&s, &o, &());
        s.clear_faults();
        consistent(&s, &format!("call {n}"));
        // Whether the create went through or not, a retry makes the user findable.
        let later = NOW.plus_millis(users::ABANDONED_CLAIM_MS + 1);
        let _ = block_on(users::create(&s, &o, seeded("kimberly", 0), later));
        consistent(&s, &format!("call {n}, retried"));
        assert_eq!(search_one(&s, &o, "imberl"), ["kimberly"], "call {n}");
    }
}

#[test]
fn an_update_interrupted_at_every_call_leaves_the_user_findable_by_its_current_text() {
    let setup = |s: &MemoryStore, o: &Organization| {
        block_on(users::create(s, o, seeded("kim", 1), NOW)).unwrap()
    };
    let update = |s: &MemoryStore, o: &Organization, u: &User| {
        let changes = users::UserChanges::parse(
            Some("quentin@example.org"),
            Some("Quentin"),
            Some("Zebulon"),
        )
        .unwrap();
        let _ = block_on(users::update(s, o, &u.id, None, changes, NOW));
    };
    let n_calls = calls(setup, update);
    assert!(n_calls > 5, "{n_calls}");
    for n in 1..=n_calls {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let u = setup(&s, &o);
        s.fail_nth(n);
        update(&s, &o, &u);
        s.clear_faults();
        consistent(&s, &format!("call {n}"));
        let now = block_on(users::get(&s, &o, &u.id)).unwrap();
        let (current, other) = if now.first_name == "Quentin" {
            ("quentin zebulon", "alan turing")
        } else {
            ("alan turing", "quentin zebulon")
        };
        assert_eq!(search_one(&s, &o, current), ["kim"], "call {n}");
        assert!(search_one(&s, &o, other).is_empty(), "call {n}");
    }
}

/// The search entries the checker finds with n-grams not flagged.
fn unflagged(s: &MemoryStore) -> Vec<String> {
    roster_domain::invariants::check(&s.snapshot())
        .into_iter()
        .filter(|v| v.problem.contains("not flagged"))
        .map(|v| v.key)
        .collect()
}

/// An organization whose removals are soft (restorable for 30 days).
fn soft_org(s: &MemoryStore) -> Organization {
    let o = org(s);
    let changes = orgs::OrgChanges {
        policy: orgs::PolicyChanges::parse(Some(30), None, None).unwrap(),
        ..orgs::OrgChanges::default()
    };
    block_on(orgs::update(s, &o.id, None, changes, NOW)).unwrap()
}

#[test]
fn a_restore_interrupted_at_every_call_leaves_the_index_complete() {
    let setup = |s: &MemoryStore, o: &Organization| {
        let u = block_on(users::create(s, o, seeded("kim", 2), NOW)).unwrap();
        block_on(remove_user(s, o, &u.id, &RemovalPolicy::wso2(), NOW)).unwrap();
        // A flag the restore needs, gone (as in a store from before the index): the
        // restore must write it before the entry.
        let flags = search_index::flag_keys(o, u.seq, &users::search_text(&u));
        block_on(s.delete_many(&flags)).unwrap();
        u
    };
    let run = |s: &MemoryStore, o: &Organization, u: &User| {
        let _ = block_on(restore(s, o, &u.id, "admin", NOW));
    };
    let n_calls = calls_in(soft_org, setup, run);
    assert!(n_calls > 5, "{n_calls}");
    for n in 1..=n_calls {
        let s = MemoryStore::from_env();
        let o = soft_org(&s);
        let u = setup(&s, &o);
        s.fail_nth(n);
        run(&s, &o, &u);
        s.clear_faults();
        // A restore stopped half-way is finished by the next one (the count may be
        // ahead until then; one stopped at its very last calls leaves its trash entry,
        // which the checker reports: not the index's concern). The index is complete
        // at every point.
        assert_eq!(unflagged(&s), Vec::<String>::new(), "call {n}");
        run(&s, &o, &u);
        assert_eq!(unflagged(&s), Vec::<String>::new(), "call {n}, retried");
        assert_eq!(search_one(&s, &o, "grace hopper"), ["kim"], "call {n}");
    }
    assert_eq!(SEARCH_BATCH, 1_000);
}

/// A [`MemoryStore`] that also counts, per kind of key (the search index's flags, or
/// anything else), the calls made, the keys batch reads asked for and the keys written.
struct Counting<'a> {
    inner: &'a MemoryStore,
    tally: std::cell::RefCell<Tally>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    calls: u64,
    index_calls: u64,
    keys_read: u64,
    written: u64,
    index_written: u64,
}

fn is_flag(key: &str) -> bool {
    key.contains("/users/ng/")
}

impl<'a> Counting<'a> {
    fn new(inner: &'a MemoryStore) -> Self {
        Self {
            inner,
            tally: std::cell::RefCell::new(Tally::default()),
        }
    }
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.borrow_mut())
    }
    /// One call over `keys`, `write` ones written.
    fn note<'k>(&self, keys: impl IntoIterator<Item = &'k str>, read: u64, write: bool) {
        let keys: Vec<&str> = keys.into_iter().collect();
        let mut t = self.tally.borrow_mut();
        t.calls += 1;
        t.keys_read += read;
        if keys.iter().any(|k| is_flag(k)) {
            t.index_calls += 1;
        }
        if write {
            t.written += keys.len() as u64;
            t.index_written += keys.iter().filter(|k| is_flag(k)).count() as u64;
        }
    }
}

type StoreResult<T> = Result<T, roster_domain::StoreError>;

impl Store for Counting<'_> {
    type Cas = (String, roster_domain::store::MemoryCas);
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.note([key], 0, false);
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.note([key], 0, true);
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.note([key], 0, true);
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> StoreResult<bool> {
        self.note([key], 0, false);
        self.inner.exists(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> StoreResult<i64> {
        self.note([key], 0, true);
        self.inner.increment(key, delta).await
    }
    async fn cas(&self, key: &str) -> StoreResult<(Self::Cas, Option<Vec<u8>>)> {
        self.note([key], 0, false);
        let (c, v) = self.inner.cas(key).await?;
        Ok(((key.to_owned(), c), v))
    }
    async fn swap(&self, cas: Self::Cas, value: &[u8]) -> StoreResult<roster_domain::Swap> {
        self.note([cas.0.as_str()], 0, true);
        self.inner.swap(cas.1, value).await
    }
    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.note(keys.iter().map(String::as_str), keys.len() as u64, false);
        self.inner.get_many(keys).await
    }
    async fn delete_many(&self, keys: &[String]) -> StoreResult<()> {
        self.note(keys.iter().map(String::as_str), 0, true);
        self.inner.delete_many(keys).await
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> StoreResult<()> {
        self.note(pairs.iter().map(|(k, _)| k.as_str()), 0, true);
        self.inner.set_many(pairs).await
    }
}

/// What the index adds to a create, an update and a removal, in a batch that already
/// holds 500 users (as most creates meet it): one flag read and, when the user brings
/// n-grams the batch lacks, one write of those; nothing for an update that keeps the
/// text or for a removal. Printed for docs/benchmarks.md.
#[test]
fn the_index_adds_one_or_two_calls_to_a_create_and_nothing_to_a_removal() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    for i in 0..500 {
        block_on(users::create(
            &s,
            &o,
            seeded(&format!("user{i:04}"), i),
            NOW,
        ))
        .unwrap();
    }
    let c = Counting::new(&s);
    let mut rows = Vec::new();
    let mut created = Vec::new();
    for i in 500..520 {
        let name = format!("user{i:04}");
        created.push(block_on(users::create(&c, &o, seeded(&name, i), NOW)).unwrap());
        rows.push(("create", c.take()));
    }
    for (i, u) in created.iter().enumerate().take(10) {
        let changes =
            users::UserChanges::parse(None, Some(["Barbara", "Edsger"][i % 2]), None).unwrap();
        block_on(users::update(&c, &o, &u.id, None, changes, NOW)).unwrap();
        rows.push(("update, new name", c.take()));
        let changes = users::UserChanges {
            company: Some("Acme".into()),
            ..users::UserChanges::default()
        };
        block_on(users::update(&c, &o, &u.id, None, changes, NOW)).unwrap();
        rows.push(("update, same text", c.take()));
        block_on(remove_user(&c, &o, &u.id, &RemovalPolicy::canonical(), NOW)).unwrap();
        rows.push(("remove", c.take()));
    }
    for (op, t) in &rows {
        let index_calls = t.index_calls;
        match *op {
            "create" | "update, new name" => {
                assert!((1..=2).contains(&index_calls), "{op}: {t:?}");
                // A write only for what was missing, and only then.
                assert_eq!(index_calls == 2, t.index_written > 0, "{op}: {t:?}");
            }
            _ => assert_eq!((index_calls, t.index_written), (0, 0), "{op}: {t:?}"),
        }
    }
    // Most creates in a batch of like users bring a few new n-grams, not dozens.
    let creates: Vec<&Tally> = rows
        .iter()
        .filter(|(op, _)| *op == "create")
        .map(|(_, t)| t)
        .collect();
    let flags_written: u64 = creates.iter().map(|t| t.index_written).sum();
    assert!(
        flags_written < 20 * 20,
        "{flags_written} flags for 20 creates"
    );
    for op in ["create", "update, new name", "update, same text", "remove"] {
        let of: Vec<&Tally> = rows
            .iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, t)| t)
            .collect();
        let n = of.len() as f64;
        let avg = |f: fn(&Tally) -> u64| of.iter().map(|t| f(t)).sum::<u64>() as f64 / n;
        eprintln!(
            "{op}: {:.1} calls ({:.1} the index's), {:.1} keys written ({:.1} flags), {:.1} keys batch-read",
            avg(|t| t.calls),
            avg(|t| t.index_calls),
            avg(|t| t.written),
            avg(|t| t.index_written),
            avg(|t| t.keys_read),
        );
    }
}

#[test]
fn a_list_page_reads_the_records_it_answers_and_no_more() {
    let (s, o, all) = directory();
    let counting = Counting::new(&s);
    let page_query = |after| users::ListQuery {
        after,
        limit: 50,
        status: None,
        group: None,
        q: None,
    };
    s.clear_faults();
    let page = block_on(users::list(&counting, &o, &page_query(1_000))).unwrap();
    // The counter, 100 index entries, and the 50 records of the page.
    assert_eq!(s.calls(), 3);
    assert_eq!(counting.take().keys_read, 100 + 50);
    let names: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    let want: Vec<&str> = all[1_000..1_050]
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, want);
    assert_eq!(page.next, Some(1_050));
    // Past holes (removed users leave no index entry) a page is still full and in
    // order, in the same calls; a disabled user is listed.
    for u in &all[1_050..1_060] {
        block_on(remove_user(&s, &o, &u.id, &RemovalPolicy::canonical(), NOW)).unwrap();
    }
    let disabled = &all[1_060];
    let changes = users::UserChanges {
        status: Some(roster_domain::model::UserStatus::Disabled),
        ..users::UserChanges::default()
    };
    block_on(users::update(&s, &o, &disabled.id, None, changes, NOW)).unwrap();
    s.clear_faults();
    let page = block_on(users::list(&s, &o, &page_query(1_050))).unwrap();
    let names: Vec<&str> = page.users.iter().map(|u| u.username.as_str()).collect();
    let want: Vec<&str> = all[1_060..1_110]
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, want);
    assert_eq!(s.calls(), 3);
}

/// An organization written before the index existed: its record has no `searchIndex`
/// and its batches no flags. A `q` search still finds its users (it reads every batch,
/// as it did then), and the checker does not ask for flags it never had.
#[test]
fn an_organization_from_before_the_index_is_searched_by_reading_every_batch() {
    let (s, o, _) = directory();
    // Make it look as written by the previous version: no flags, no `searchIndex`.
    for key in s.snapshot().keys().filter(|k| is_flag(k)) {
        block_on(s.delete(key)).unwrap();
    }
    let org_key = keys::org(&o.id);
    let mut record: serde_json::Value = serde_json::from_slice(&s.snapshot()[&org_key]).unwrap();
    assert_eq!(record["searchIndex"], serde_json::json!(true));
    record.as_object_mut().unwrap().remove("searchIndex");
    block_on(s.set(&org_key, &serde_json::to_vec(&record).unwrap())).unwrap();
    let legacy = block_on(orgs::get(&s, &o.id)).unwrap();
    assert!(!legacy.search_index);
    consistent(&s, "legacy organization without flags");
    assert_eq!(search_one(&s, &legacy, "user2345"), ["user2345"]);
    assert_eq!(search_all(&s, &legacy, "lovelace", 50).len(), 834);
    // The same search on the indexed record finds nothing: the flags are gone, which is
    // why the record says whether they exist.
    assert!(search_one(&s, &o, "user2345").is_empty());
}
