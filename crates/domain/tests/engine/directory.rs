//! Native tests of the domain against the in-memory store (Spin's semantics).

use crate::helpers::{NOW, consistent, device, org};
use futures::executor::block_on;
use roster_domain::model::DeviceStatus;
use roster_domain::removal::{
    Blocker, RemovalError, RemovalOutcome, RemovalPolicy, Removed, remove_user,
};
use roster_domain::{DomainError, MemoryStore, Store};
use roster_domain::{count, devices, enrollment, groups, orgs, users};

fn finished(o: RemovalOutcome) -> Removed {
    match o {
        RemovalOutcome::Finished(r) => r,
        RemovalOutcome::InProgress { .. } => panic!("the removal did not finish"),
    }
}

fn new_user(name: &str) -> users::NewUser {
    users::NewUser::parse(
        name,
        Some(&format!("{name}@example.com")),
        Some("Kim"),
        Some("Lee"),
    )
    .unwrap()
}

#[test]
fn usernames_and_emails_are_unique_case_insensitively_and_freed_by_removal() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let dup = users::create(&s, &o, new_user("KIM"), NOW)
            .await
            .unwrap_err();
        assert!(matches!(dup, DomainError::Conflict { field: "username" }));
        let other = users::NewUser::parse("kim2", Some("KIM@example.com"), None, None).unwrap();
        let dup = users::create(&s, &o, other, NOW).await.unwrap_err();
        assert!(matches!(dup, DomainError::Conflict { field: "email" }));
        assert_eq!(count::total(&s, &o.id).await.unwrap(), 1);
        remove_user(&s, &o, &kim.id, &RemovalPolicy::canonical(), NOW)
            .await
            .unwrap();
        assert_eq!(count::total(&s, &o.id).await.unwrap(), 0);
        users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        assert_eq!(count::total(&s, &o.id).await.unwrap(), 1);
    });
}

#[test]
fn slugs_are_unique() {
    let s = MemoryStore::from_env();
    org(&s);
    let again = block_on(orgs::create(
        &s,
        orgs::NewOrganization::parse("Other", "ACME").unwrap(),
        NOW,
    ));
    assert!(matches!(
        again,
        Err(DomainError::Conflict { field: "slug" })
    ));
}

#[test]
fn canonical_removal_refuses_active_devices_and_pending_tokens() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let d = devices::enroll(&s, &o, &kim.id, device(1, DeviceStatus::Active), NOW)
            .await
            .unwrap();
        let policy = RemovalPolicy::canonical();
        let err = remove_user(&s, &o, &kim.id, &policy, NOW)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            RemovalError::Refused(Blocker::ActiveDevices { count: 1 })
        ));
        devices::set_status(&s, &o, &kim.id, &d.id, DeviceStatus::Inactive, NOW)
            .await
            .unwrap();
        let t = enrollment::issue(&s, &o, &kim.id, 60, NOW).await.unwrap();
        let err = remove_user(&s, &o, &kim.id, &policy, NOW)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            RemovalError::Refused(Blocker::PendingEnrollmentTokens { count: 1 })
        ));
        // An expired token no longer blocks.
        let later = NOW.plus_millis(61_000);
        let removed = finished(remove_user(&s, &o, &kim.id, &policy, later).await.unwrap());
        assert_eq!(
            (removed.counts.devices, removed.counts.enrollment_tokens),
            (1, 1)
        );
        assert!(
            s.snapshot()
                .keys()
                .all(|k| !k.contains(d.id.as_str()) && !k.contains(t.id.as_str()))
        );
        assert!(matches!(
            users::get(&s, &o, &kim.id).await,
            Err(DomainError::NotFound { .. })
        ));
    });
}

#[test]
fn enrollment_after_removal_started_is_refused() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        // Simulate a removal stopped right after closing the lists.
        s.fail_nth(12);
        let r = remove_user(&s, &o, &kim.id, &RemovalPolicy::canonical(), NOW).await;
        assert!(r.is_err());
        s.clear_faults();
        let u = users::get(&s, &o, &kim.id).await.unwrap();
        assert_eq!(u.status.as_str(), "pending_deletion");
        let e = devices::enroll(&s, &o, &kim.id, device(1, DeviceStatus::Active), NOW).await;
        assert!(matches!(e, Err(DomainError::NotFound { .. })));
    });
}

/// Fails each store call of a removal in turn; a retry always completes it and leaves
/// nothing of the user behind, and nothing else is disturbed.
#[test]
fn removal_fails_at_every_call_and_retry_completes() {
    // Count the calls of an undisturbed removal first.
    let calls = {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let kim = block_on(setup_user(&s, &o, "kim"));
        s.clear_faults();
        block_on(remove_user(&s, &o, &kim, &RemovalPolicy::canonical(), NOW)).unwrap();
        s.calls()
    };
    assert!(calls > 10, "a removal makes {calls} calls");
    for n in 1..=calls {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let keep = block_on(setup_user(&s, &o, "keep"));
        let before_keep: Vec<_> = s.snapshot().into_iter().collect();
        let kim = block_on(setup_user(&s, &o, "kim"));
        s.fail_nth(n);
        let first = block_on(remove_user(&s, &o, &kim, &RemovalPolicy::canonical(), NOW));
        s.clear_faults();
        if first.is_err() {
            match block_on(remove_user(&s, &o, &kim, &RemovalPolicy::canonical(), NOW)) {
                Ok(_) => {}
                Err(RemovalError::NotFound) => panic!("call {n}: user vanished without finishing"),
                Err(e) => panic!("call {n}: retry failed: {e}"),
            }
        }
        // Fully gone: no key mentions the user, the store is consistent, and the
        // username is free again.
        let snap = s.snapshot();
        assert_eq!(roster_domain::invariants::check(&snap), vec![], "call {n}");
        assert!(
            snap.keys().all(|k| !k.contains(kim.as_str())),
            "call {n}: leftover key"
        );
        assert_eq!(
            block_on(count::total(&s, &o.id)).unwrap(),
            1,
            "call {n}: count"
        );
        block_on(users::create(&s, &o, new_user("kim"), NOW)).unwrap();
        // The other user is untouched.
        for (k, v) in before_keep {
            if k.contains(keep.as_str()) {
                assert_eq!(snap.get(&k), Some(&v), "call {n}: {k} changed");
            }
        }
    }
}

async fn setup_user(
    s: &MemoryStore,
    o: &roster_domain::model::Organization,
    name: &str,
) -> roster_domain::ids::ObjectId {
    let u = users::create(s, o, new_user(name), NOW).await.unwrap();
    for _ in 0..3 {
        devices::enroll(s, o, &u.id, device(1, DeviceStatus::Inactive), NOW)
            .await
            .unwrap();
    }
    let t = enrollment::issue(s, o, &u.id, 60, NOW).await.unwrap();
    enrollment::revoke(s, o, &u.id, &t.id).await.unwrap();
    u.id
}

#[test]
fn a_create_stopped_half_way_frees_its_claims_later() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        // Fail the write of the user record: rollback releases everything.
        for n in 1..=12 {
            s.fail_nth(n);
            let r = users::create(&s, &o, new_user("kim"), NOW).await;
            s.clear_faults();
            if let Ok(u) = r {
                remove_user(&s, &o, &u.id, &RemovalPolicy::canonical(), NOW)
                    .await
                    .unwrap();
            }
            let u = users::create(&s, &o, new_user("kim"), NOW.plus_millis(31_000))
                .await
                .unwrap_or_else(|e| panic!("call {n}: {e}"));
            assert_eq!(count::total(&s, &o.id).await.unwrap(), 1, "call {n}");
            assert_eq!(
                roster_domain::invariants::check(&s.snapshot()),
                vec![],
                "call {n}"
            );
            remove_user(&s, &o, &u.id, &RemovalPolicy::canonical(), NOW)
                .await
                .unwrap();
        }
        let _ = s.exists("x").await;
    });
}

#[test]
fn email_changes_move_the_claim_and_stale_claims_heal() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let changes = users::UserChanges::parse(Some("kimberly@example.com"), None, None).unwrap();
        let stale =
            users::update(&s, &o, &kim.id, Some(kim.version + 1), changes.clone(), NOW).await;
        assert!(matches!(stale, Err(DomainError::PreconditionFailed { .. })));
        let kim2 = users::update(&s, &o, &kim.id, Some(kim.version), changes, NOW)
            .await
            .unwrap();
        assert_eq!(kim2.version, kim.version + 1);
        assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
        // The old email is free, the new one taken.
        users::create(
            &s,
            &o,
            users::NewUser::parse("a", Some("kim@example.com"), None, None).unwrap(),
            NOW,
        )
        .await
        .unwrap();
        let taken = users::create(
            &s,
            &o,
            users::NewUser::parse("b", Some("Kimberly@example.com"), None, None).unwrap(),
            NOW,
        )
        .await;
        assert!(matches!(
            taken,
            Err(DomainError::Conflict { field: "email" })
        ));
        // An update that stops after claiming the new email leaves a claim nobody uses:
        // the next claimant takes it over once the update's intent is older than
        // ABANDONED_CLAIM_MS (until then it may be an update under way).
        for n in 1..=6 {
            s.fail_nth(n);
            let changes =
                users::UserChanges::parse(Some(&format!("k{n}@example.com")), None, None).unwrap();
            let _ = users::update(&s, &o, &kim.id, None, changes, NOW).await;
            s.clear_faults();
            // The update may have failed before or after its write: what counts is
            // whether the user now has the email.
            let email = format!("k{n}@example.com");
            let has_it = users::get(&s, &o, &kim.id).await.unwrap().email == Some(email.clone());
            let other = users::NewUser::parse(&format!("o{n}"), Some(&email), None, None).unwrap();
            let later = NOW.plus_millis(users::ABANDONED_CLAIM_MS + 1);
            let created = users::create(&s, &o, other, later).await;
            assert_eq!(
                has_it,
                created.is_err(),
                "call {n}: exactly one holds {email}"
            );
            assert_eq!(
                roster_domain::invariants::check(&s.snapshot()),
                vec![],
                "call {n}"
            );
        }
    });
}

#[test]
fn paging_neither_skips_nor_repeats_while_users_come_and_go() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let mut ids = Vec::new();
        for i in 0..30 {
            ids.push(
                users::create(&s, &o, new_user(&format!("u{i:02}")), NOW)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut after = 0;
        let mut round = 0;
        loop {
            let q = users::ListQuery {
                after,
                limit: 7,
                status: None,
                group: None,
                q: None,
            };
            let page = users::list(&s, &o, &q).await.unwrap();
            assert!(page.users.len() <= 7);
            seen.extend(page.users.iter().map(|u| u.username.clone()));
            // Between pages: remove one user not yet listed and one already listed,
            // and add one.
            round += 1;
            let gone = ids.remove(ids.len() - 1);
            remove_user(&s, &o, &gone, &RemovalPolicy::canonical(), NOW)
                .await
                .unwrap();
            users::create(&s, &o, new_user(&format!("new{round}")), NOW)
                .await
                .unwrap();
            match page.next {
                Some(n) => after = n,
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "no repeats: {seen:?}");
        // Every user that existed throughout is listed, in order.
        for i in 0..10 {
            assert!(
                seen.contains(&format!("u{i:02}")),
                "u{i:02} skipped: {seen:?}"
            );
        }
        let filtered = users::list(
            &s,
            &o,
            &users::ListQuery {
                after: 0,
                limit: 200,
                status: Some(roster_domain::model::UserStatus::Disabled),
                group: None,
                q: None,
            },
        )
        .await
        .unwrap();
        assert!(filtered.users.is_empty() && filtered.next.is_none());
    });
}

#[test]
fn groups_membership_and_delete() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let g = groups::create(&s, &o, "Staff".into(), "everyone".into(), NOW)
            .await
            .unwrap();
        let dup = groups::create(&s, &o, "staff".into(), String::new(), NOW).await;
        assert!(matches!(dup, Err(DomainError::Conflict { field: "name" })));
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let missing = groups::set_user_groups(&s, &o, &kim.id, &["nope".into()], None, NOW).await;
        assert!(matches!(missing, Err(DomainError::Invalid(ref v)) if v.field == "groups[0]"));
        let u = groups::set_user_groups(&s, &o, &kim.id, &["STAFF".into()], None, NOW)
            .await
            .unwrap();
        assert_eq!(u.groups, vec!["Staff".to_owned()]);
        assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
        let q = users::ListQuery {
            after: 0,
            limit: 10,
            status: None,
            group: Some("staff".into()),
            q: None,
        };
        assert_eq!(users::list(&s, &o, &q).await.unwrap().users.len(), 1);
        groups::delete(&s, &o, &g.id, NOW).await.unwrap();
        assert!(users::get(&s, &o, &kim.id).await.unwrap().groups.is_empty());
        assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
        // The name is free again.
        groups::create(&s, &o, "staff".into(), String::new(), NOW)
            .await
            .unwrap();
    });
}

#[test]
fn removal_purges_outbox_messages_even_when_interrupted() {
    for n in 1..=40 {
        let s = MemoryStore::from_env();
        let o = org(&s);
        block_on(async {
            let u = users::create(&s, &o, new_user("ivy"), NOW).await.unwrap();
            let inv = enrollment::invite(&s, &o, "ivy", 60, NOW).await.unwrap();
            assert!(matches!(inv, enrollment::Invited::Yes { .. }));
            let later = NOW.plus_millis(61_000);
            s.fail_nth(n);
            let first = remove_user(&s, &o, &u.id, &RemovalPolicy::canonical(), later).await;
            s.clear_faults();
            if first.is_err() {
                remove_user(&s, &o, &u.id, &RemovalPolicy::canonical(), later)
                    .await
                    .unwrap();
            }
            let snap = s.snapshot();
            assert_eq!(roster_domain::invariants::check(&snap), vec![], "call {n}");
            for (k, v) in &snap {
                assert!(
                    !String::from_utf8_lossy(v).contains("ivy@example.com"),
                    "call {n}: {k}"
                );
            }
        });
    }
}

#[test]
fn search_matches_any_field_case_insensitively_and_forgets_removed_users() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        for name in ["alice", "bob", "carol"] {
            users::create(&s, &o, new_user(name), NOW).await.unwrap();
        }
        let search = |text: &str| users::ListQuery {
            after: 0,
            limit: 50,
            status: None,
            group: None,
            q: Some(text.into()),
        };
        let names = |p: users::Page| p.users.into_iter().map(|u| u.username).collect::<Vec<_>>();
        assert_eq!(
            names(users::list(&s, &o, &search("AR")).await.unwrap()),
            ["carol"]
        );
        assert_eq!(
            names(users::list(&s, &o, &search("example.com")).await.unwrap()).len(),
            3
        );
        assert_eq!(
            names(users::list(&s, &o, &search("kim lee")).await.unwrap()).len(),
            3
        );
        let bob = users::find_by_username(&s, &o, "BOB")
            .await
            .unwrap()
            .unwrap();
        let changes = users::UserChanges::parse(None, Some("Robert"), None).unwrap();
        users::update(&s, &o, &bob.id, None, changes, NOW)
            .await
            .unwrap();
        assert_eq!(
            names(users::list(&s, &o, &search("robert")).await.unwrap()),
            ["bob"]
        );
        remove_user(&s, &o, &bob.id, &RemovalPolicy::canonical(), NOW)
            .await
            .unwrap();
        assert!(
            users::list(&s, &o, &search("robert"))
                .await
                .unwrap()
                .users
                .is_empty()
        );
        let page = users::list(
            &s,
            &o,
            &users::ListQuery {
                limit: 1,
                ..search("example")
            },
        )
        .await
        .unwrap();
        assert_eq!(page.users.len(), 1);
        assert!(page.next.is_some());
        assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
    });
}

#[test]
fn a_slug_move_stopped_half_way_frees_the_old_slug() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        // The org update: cas, claim (increment, cas, swap), swap record, release (cas, swap);
        // on Redis each swap is followed by the read-back that settles it.
        // Fail the release: the old claim stays held by an organization that moved on.
        s.fail_nth(match roster_domain::store::Flavor::from_env() {
            roster_domain::store::Flavor::Sqlite => 6,
            roster_domain::store::Flavor::Redis => 8,
        });
        let new_slug = roster_domain::ids::Slug::parse("slug", "acme-new").unwrap();
        let changes = orgs::OrgChanges {
            slug: Some(new_slug),
            ..orgs::OrgChanges::default()
        };
        let r = orgs::update(&s, &o.id, None, changes, NOW).await;
        s.clear_faults();
        assert!(r.is_err(), "the injected failure surfaces");
        let old_ref = roster_domain::ids::OrgRef::parse("organizationId", "acme").unwrap();
        assert!(matches!(
            orgs::resolve(&s, &old_ref).await,
            Err(DomainError::NotFound { .. })
        ));
        let new_ref = roster_domain::ids::OrgRef::parse("organizationId", "acme-new").unwrap();
        assert_eq!(orgs::resolve(&s, &new_ref).await.unwrap().id, o.id);
        // Another organization can take the old slug.
        orgs::create(&s, orgs::NewOrganization::parse("B", "acme").unwrap(), NOW)
            .await
            .unwrap();
        assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
    });
}

fn new_user_without_email(name: &str) -> users::NewUser {
    users::NewUser::parse(name, None, Some("Kim"), None).unwrap()
}

/// The keys of the organization's email claims.
fn email_claims(s: &MemoryStore, o: &roster_domain::model::Organization) -> Vec<String> {
    let prefix = format!("o/{}/users/email/", o.id);
    s.snapshot()
        .into_keys()
        .filter(|k| k.starts_with(&prefix))
        .collect()
}

/// The identity memberships recorded for `email` that name a user who has it (a stop
/// in an email change may leave a stale one, which readers skip).
async fn members(s: &MemoryStore, o: &roster_domain::model::Organization, email: &str) -> usize {
    let m = roster_domain::identity::memberships(s, email)
        .await
        .unwrap();
    let mut n = 0;
    for x in m.members {
        let u = users::get_any(s, o, &x.user).await.unwrap();
        if u.email.as_deref() == Some(email) {
            n += 1;
        }
    }
    n
}

#[test]
fn a_user_without_email_claims_no_address_and_can_gain_and_lose_one() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kiosk = users::create(&s, &o, new_user_without_email("kiosk"), NOW)
            .await
            .unwrap();
        assert_eq!(kiosk.email, None);
        // Two users without email do not collide, claim nothing and are searchable.
        users::create(&s, &o, new_user_without_email("kiosk2"), NOW)
            .await
            .unwrap();
        assert_eq!(email_claims(&s, &o), Vec::<String>::new());
        consistent(&s, "two users without email");
        let search = users::ListQuery {
            after: 0,
            limit: 50,
            status: None,
            group: None,
            q: Some("KIOSK2".into()),
        };
        let found = users::list(&s, &o, &search).await.unwrap().users;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].username, "kiosk2");
        // Further addresses need a primary one.
        let mut others = new_user_without_email("kiosk3");
        others.other_emails =
            vec![roster_domain::ids::Email::parse("e", "k3@example.com").unwrap()];
        assert!(matches!(
            users::create(&s, &o, others, NOW).await,
            Err(DomainError::Invalid(ref v)) if v.field == "email"
        ));
        // An invitation is not deliverable: no token, nothing queued.
        let inv = enrollment::invite(&s, &o, "kiosk", 60, NOW).await.unwrap();
        assert!(matches!(inv, enrollment::Invited::NoEmail));
        let (msgs, _) = roster_domain::outbox::pending(&s, &o, 0, 10).await.unwrap();
        assert!(msgs.is_empty());
        assert!(
            enrollment::list(&s, &o, &kiosk.id)
                .await
                .unwrap()
                .is_empty()
        );
        // Adding an email claims it and joins the identity index.
        let add = users::UserChanges::parse(Some("kiosk@example.com"), None, None).unwrap();
        let with = users::update(&s, &o, &kiosk.id, None, add, NOW)
            .await
            .unwrap();
        assert_eq!(with.email.as_deref(), Some("kiosk@example.com"));
        assert_eq!(email_claims(&s, &o).len(), 1);
        assert_eq!(members(&s, &o, "kiosk@example.com").await, 1);
        let taken = users::create(
            &s,
            &o,
            users::NewUser::parse("x", Some("KIOSK@example.com"), None, None).unwrap(),
            NOW,
        )
        .await;
        assert!(matches!(
            taken,
            Err(DomainError::Conflict { field: "email" })
        ));
        consistent(&s, "email added");
        // Removing it releases the claim and the membership; the address is free.
        let remove = users::UserChanges {
            email: Some(None),
            ..users::UserChanges::default()
        };
        let without = users::update(&s, &o, &kiosk.id, None, remove, NOW)
            .await
            .unwrap();
        assert_eq!(without.email, None);
        assert_eq!(members(&s, &o, "kiosk@example.com").await, 0);
        assert!(
            users::find_by_email(&s, &o, "kiosk@example.com")
                .await
                .unwrap()
                .is_none()
        );
        consistent(&s, "email removed");
        let other = users::NewUser::parse("x", Some("kiosk@example.com"), None, None).unwrap();
        let x = users::create(&s, &o, other, NOW).await.unwrap();
        // A removal of a user without email releases what it holds and nothing else.
        remove_user(&s, &o, &kiosk.id, &RemovalPolicy::canonical(), NOW)
            .await
            .unwrap();
        consistent(&s, "removed");
        assert_eq!(
            users::find_by_email(&s, &o, "kiosk@example.com")
                .await
                .unwrap()
                .map(|u| u.id),
            Some(x.id)
        );
        assert_eq!(count::total(&s, &o.id).await.unwrap(), 2);
    });
}

/// A user without email created, given an email and relieved of it again, each
/// interrupted at every store call: the store stays consistent and exactly one user
/// holds an address afterwards.
#[test]
fn email_less_creates_and_email_additions_and_removals_survive_a_stop_at_every_call() {
    // Create without email: a retry after the claim is abandoned succeeds.
    let create_calls = {
        let s = MemoryStore::from_env();
        let o = org(&s);
        s.clear_faults();
        block_on(users::create(&s, &o, new_user_without_email("kim"), NOW)).unwrap();
        s.calls()
    };
    for n in 1..=create_calls {
        let s = MemoryStore::from_env();
        let o = org(&s);
        s.fail_nth(n);
        let first = block_on(users::create(&s, &o, new_user_without_email("kim"), NOW));
        s.clear_faults();
        consistent(&s, &format!("create, call {n}"));
        if first.is_err() {
            let later = NOW.plus_millis(31_000);
            block_on(users::create(&s, &o, new_user_without_email("kim"), later))
                .unwrap_or_else(|e| panic!("create, call {n}: {e}"));
        }
        assert_eq!(block_on(count::total(&s, &o.id)).unwrap(), 1, "call {n}");
        assert_eq!(email_claims(&s, &o), Vec::<String>::new(), "call {n}");
    }
    // Adding an email, then removing it, each stopped at call n.
    let add = || users::UserChanges::parse(Some("kim@example.com"), None, None).unwrap();
    let remove = || users::UserChanges {
        email: Some(None),
        ..users::UserChanges::default()
    };
    for (what, start_with_email, change) in [
        ("add", false, &add as &dyn Fn() -> users::UserChanges),
        ("remove", true, &remove),
    ] {
        let setup = |s: &MemoryStore, o: &roster_domain::model::Organization| {
            let new = if start_with_email {
                new_user("kim")
            } else {
                new_user_without_email("kim")
            };
            block_on(users::create(s, o, new, NOW)).unwrap()
        };
        let calls = {
            let s = MemoryStore::from_env();
            let o = org(&s);
            let kim = setup(&s, &o);
            s.clear_faults();
            block_on(users::update(&s, &o, &kim.id, None, change(), NOW)).unwrap();
            s.calls()
        };
        assert!(calls >= 4, "{what}: {calls} calls");
        for n in 1..=calls {
            let s = MemoryStore::from_env();
            let o = org(&s);
            let kim = setup(&s, &o);
            s.fail_nth(n);
            let _ = block_on(users::update(&s, &o, &kim.id, None, change(), NOW));
            s.clear_faults();
            let at = format!("{what}, call {n}");
            consistent(&s, &at);
            // Whether or not the change was written, exactly one of kim and a new
            // user holds the address.
            let has_it = block_on(users::get(&s, &o, &kim.id))
                .unwrap()
                .email
                .is_some();
            let other = users::NewUser::parse("o", Some("kim@example.com"), None, None).unwrap();
            // After ABANDONED_CLAIM_MS: a claim an update took and left is taken over
            // only once its intent is that old.
            let later = NOW.plus_millis(users::ABANDONED_CLAIM_MS + 1);
            let created = block_on(users::create(&s, &o, other, later));
            assert_eq!(has_it, created.is_err(), "{at}: exactly one holds it");
            consistent(&s, &format!("{at}, after the other create"));
            assert_eq!(
                block_on(members(&s, &o, "kim@example.com")),
                1,
                "{at}: one identity membership"
            );
        }
    }
}
