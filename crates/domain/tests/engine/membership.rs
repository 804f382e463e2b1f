//! Native tests of the group operations SCIM builds on: external ids, one-member
//! changes, renames (also interrupted at every store call), versions, and further
//! email addresses of users.

use crate::helpers::{NOW, consistent, org};
use futures::executor::block_on;
use roster_domain::groups::{self, GroupChanges, NewGroup};
use roster_domain::removal::{RemovalPolicy, remove_user};
use roster_domain::{DomainError, Entity, MemoryStore};
use roster_domain::{ids, users};

fn new_user(name: &str) -> users::NewUser {
    users::NewUser::parse(name, Some(&format!("{name}@example.com")), None, None).unwrap()
}

fn new_group(name: &str, external: Option<&str>) -> NewGroup {
    NewGroup {
        name: name.to_owned(),
        description: String::new(),
        external_id: external.map(str::to_owned),
    }
}

#[test]
fn external_ids_are_unique_and_findable() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let g = groups::create_with(&s, &o, new_group("Staff", Some("G-1")), NOW)
            .await
            .unwrap();
        assert_eq!(g.version, 1);
        let found = groups::find_by_external_id(&s, &o, "G-1").await.unwrap();
        assert_eq!(found.map(|f| f.id), Some(g.id.clone()));
        // Case-exact: another case is another id.
        assert!(
            groups::find_by_external_id(&s, &o, "g-1")
                .await
                .unwrap()
                .is_none()
        );
        let dup = groups::create_with(&s, &o, new_group("Other", Some("G-1")), NOW).await;
        assert!(matches!(
            dup,
            Err(DomainError::Conflict {
                field: "externalId"
            })
        ));
        // The loser released its name claim: the name is free.
        groups::create_with(&s, &o, new_group("Other", None), NOW)
            .await
            .unwrap();
        consistent(&s, "");
        // Changing the external id frees the old one.
        let g2 = groups::update(
            &s,
            &o,
            &g.id,
            Some(1),
            GroupChanges {
                name: None,
                external_id: Some(Some("G-2".into())),
            },
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(g2.version, 2);
        assert!(
            groups::find_by_external_id(&s, &o, "G-1")
                .await
                .unwrap()
                .is_none()
        );
        groups::create_with(&s, &o, new_group("Third", Some("G-1")), NOW)
            .await
            .unwrap();
        // Deleting releases every claim.
        groups::delete(&s, &o, &g.id, NOW).await.unwrap();
        groups::create_with(&s, &o, new_group("staff", Some("G-2")), NOW)
            .await
            .unwrap();
        consistent(&s, "");
    });
}

#[test]
fn members_are_added_and_removed_one_at_a_time_idempotently() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let g = groups::create(&s, &o, "Staff".into(), String::new(), NOW)
            .await
            .unwrap();
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        groups::add_member(&s, &o, &g.id, &kim.id, NOW)
            .await
            .unwrap();
        let v = groups::get(&s, &o, &g.id).await.unwrap().version;
        assert_eq!(v, 2, "an added member is a new version");
        // Again: nothing changes, not even the version.
        groups::add_member(&s, &o, &g.id, &kim.id, NOW)
            .await
            .unwrap();
        assert_eq!(groups::get(&s, &o, &g.id).await.unwrap().version, 2);
        let u = users::get(&s, &o, &kim.id).await.unwrap();
        assert_eq!(u.groups, vec!["Staff".to_owned()]);
        assert_eq!(
            groups::member_ids(&s, &o, &g.id).await.unwrap(),
            vec![kim.id.clone()]
        );
        consistent(&s, "");

        let ghost = ids::ObjectId::generate(NOW);
        let missing = groups::add_member(&s, &o, &g.id, &ghost, NOW).await;
        assert!(matches!(
            missing,
            Err(DomainError::NotFound {
                entity: Entity::User
            })
        ));
        let missing = groups::add_member(&s, &o, &ghost, &kim.id, NOW).await;
        assert!(matches!(
            missing,
            Err(DomainError::NotFound {
                entity: Entity::Group
            })
        ));
        assert_eq!(
            groups::member_ids(&s, &o, &g.id).await.unwrap(),
            vec![kim.id.clone()],
            "a refused add leaves no list entry"
        );

        groups::remove_member(&s, &o, &g.id, &kim.id, NOW)
            .await
            .unwrap();
        assert_eq!(groups::get(&s, &o, &g.id).await.unwrap().version, 3);
        groups::remove_member(&s, &o, &g.id, &kim.id, NOW)
            .await
            .unwrap();
        assert_eq!(groups::get(&s, &o, &g.id).await.unwrap().version, 3);
        assert!(users::get(&s, &o, &kim.id).await.unwrap().groups.is_empty());
        assert!(groups::member_ids(&s, &o, &g.id).await.unwrap().is_empty());
        consistent(&s, "");
    });
}

#[test]
fn a_user_is_in_at_most_64_groups() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        for i in 0..groups::MAX_GROUPS_PER_USER {
            let g = groups::create(&s, &o, format!("g{i}"), String::new(), NOW)
                .await
                .unwrap();
            groups::add_member(&s, &o, &g.id, &kim.id, NOW)
                .await
                .unwrap();
        }
        let last = groups::create(&s, &o, "last".into(), String::new(), NOW)
            .await
            .unwrap();
        let refused = groups::add_member(&s, &o, &last.id, &kim.id, NOW).await;
        assert!(matches!(refused, Err(DomainError::Invalid(ref v)) if v.field == "members"));
        consistent(&s, "");
    });
}

#[test]
fn a_rename_moves_the_name_and_members_follow() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let g = groups::create(&s, &o, "Staff".into(), String::new(), NOW)
            .await
            .unwrap();
        groups::create(&s, &o, "Admins".into(), String::new(), NOW)
            .await
            .unwrap();
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let lee = users::create(&s, &o, new_user("lee"), NOW).await.unwrap();
        for u in [&kim, &lee] {
            groups::add_member(&s, &o, &g.id, &u.id, NOW).await.unwrap();
        }
        let v = groups::get(&s, &o, &g.id).await.unwrap().version;
        let rename = |name: &str, expected: Option<u64>| {
            groups::update(
                &s,
                &o,
                &g.id,
                expected,
                GroupChanges {
                    name: Some(name.to_owned()),
                    external_id: None,
                },
                NOW,
            )
        };
        let taken = rename("admins", None).await;
        assert!(matches!(
            taken,
            Err(DomainError::Conflict { field: "name" })
        ));
        let stale = rename("Crew", Some(v - 1)).await;
        assert!(matches!(stale, Err(DomainError::PreconditionFailed { .. })));
        let renamed = rename("Crew", Some(v)).await.unwrap();
        assert_eq!(renamed.name, "Crew");
        assert_eq!(renamed.version, v + 1);
        assert!(renamed.renamed_from.is_none());
        for u in [&kim, &lee] {
            assert_eq!(
                users::get(&s, &o, &u.id).await.unwrap().groups,
                vec!["Crew".to_owned()]
            );
        }
        assert!(groups::find(&s, &o, "staff").await.unwrap().is_none());
        assert_eq!(
            groups::find(&s, &o, "CREW").await.unwrap().map(|x| x.id),
            Some(g.id.clone())
        );
        // The old name is free; a case-only rename keeps the claim.
        groups::create(&s, &o, "Staff".into(), String::new(), NOW)
            .await
            .unwrap();
        rename("CREW", None).await.unwrap();
        assert_eq!(
            users::get(&s, &o, &kim.id).await.unwrap().groups,
            vec!["CREW".to_owned()]
        );
        let dup = groups::create(&s, &o, "crew".into(), String::new(), NOW).await;
        assert!(matches!(dup, Err(DomainError::Conflict { field: "name" })));
        consistent(&s, "");
    });
}

#[test]
fn a_rename_stopped_at_any_store_call_is_completed_by_a_retry() {
    let mut n = 1;
    loop {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let (g, members) = block_on(async {
            let g = groups::create(&s, &o, "Staff".into(), String::new(), NOW)
                .await
                .unwrap();
            let mut members = Vec::new();
            for name in ["kim", "lee", "max"] {
                let u = users::create(&s, &o, new_user(name), NOW).await.unwrap();
                groups::add_member(&s, &o, &g.id, &u.id, NOW).await.unwrap();
                members.push(u.id);
            }
            (g, members)
        });
        let rename = || {
            groups::update(
                &s,
                &o,
                &g.id,
                None,
                GroupChanges {
                    name: Some("Crew".into()),
                    external_id: Some(Some("ext".into())),
                },
                NOW,
            )
        };
        s.fail_nth(n);
        let first = block_on(rename());
        s.clear_faults();
        if first.is_ok() {
            assert!(n > 5, "the rename should take several store calls");
            break;
        }
        block_on(async {
            let g = rename().await.unwrap();
            assert_eq!(g.name, "Crew", "stopped at call {n}");
            assert!(g.renamed_from.is_none());
            for id in &members {
                assert_eq!(
                    users::get(&s, &o, id).await.unwrap().groups,
                    vec!["Crew".to_owned()],
                    "stopped at call {n}"
                );
            }
            assert!(groups::find(&s, &o, "Staff").await.unwrap().is_none());
            groups::create(&s, &o, "Staff".into(), String::new(), NOW)
                .await
                .unwrap();
        });
        consistent(&s, &format!("stopped at call {n}"));
        n += 1;
    }
}

#[test]
fn membership_changes_from_every_side_record_new_group_versions() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let g = groups::create(&s, &o, "Staff".into(), String::new(), NOW)
            .await
            .unwrap();
        let kim = users::create(&s, &o, new_user("kim"), NOW).await.unwrap();
        let version = async || groups::get(&s, &o, &g.id).await.unwrap().version;
        groups::set_user_groups(&s, &o, &kim.id, &["staff".into()], None, NOW)
            .await
            .unwrap();
        assert_eq!(version().await, 2);
        groups::set_user_groups(&s, &o, &kim.id, &[], None, NOW)
            .await
            .unwrap();
        assert_eq!(version().await, 3);
        groups::add_member(&s, &o, &g.id, &kim.id, NOW)
            .await
            .unwrap();
        assert_eq!(version().await, 4);
        remove_user(&s, &o, &kim.id, &RemovalPolicy::scim(), NOW)
            .await
            .unwrap();
        assert_eq!(version().await, 5, "a removed member is a new version");
        assert!(groups::member_ids(&s, &o, &g.id).await.unwrap().is_empty());
        // A conditional delete.
        let stale = groups::delete_checked(&s, &o, &g.id, Some(4), NOW).await;
        assert!(matches!(stale, Err(DomainError::PreconditionFailed { .. })));
        groups::delete_checked(&s, &o, &g.id, Some(5), NOW)
            .await
            .unwrap();
        assert!(groups::get(&s, &o, &g.id).await.is_err());
        consistent(&s, "");
    });
}

#[test]
fn further_emails_are_claimed_searched_and_freed() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let mut new = new_user("kim");
        new.other_emails = vec![ids::Email::parse("e", "Kim.Home@Example.org").unwrap()];
        let kim = users::create(&s, &o, new, NOW).await.unwrap();
        // Another user cannot take it, as primary or as further address.
        let mut lee =
            users::NewUser::parse("lee", Some("kim.home@example.org"), None, None).unwrap();
        assert!(matches!(
            users::create(&s, &o, lee.clone(), NOW).await,
            Err(DomainError::Conflict { field: "email" })
        ));
        lee.email = Some(ids::Email::parse("e", "lee@example.com").unwrap());
        lee.other_emails = vec![ids::Email::parse("e", "KIM@example.com").unwrap()];
        assert!(matches!(
            users::create(&s, &o, lee.clone(), NOW).await,
            Err(DomainError::Conflict { field: "email" })
        ));
        lee.other_emails.clear();
        let lee = users::create(&s, &o, lee, NOW).await.unwrap();
        // Found by any address; by primary only where primary is asked for.
        let any = users::find_by_any_email(&s, &o, "KIM.HOME@example.org")
            .await
            .unwrap();
        assert_eq!(any.map(|u| u.id), Some(kim.id.clone()));
        assert!(
            users::find_by_email(&s, &o, "kim.home@example.org")
                .await
                .unwrap()
                .is_none()
        );
        let q = users::ListQuery {
            after: 0,
            limit: 10,
            status: None,
            group: None,
            q: Some("home@".into()),
        };
        let hits = users::list(&s, &o, &q).await.unwrap().users;
        assert_eq!(
            hits.iter().map(|u| &u.id).collect::<Vec<_>>(),
            vec![&kim.id]
        );
        // Moving the further address frees the old one.
        let changes = users::UserChanges {
            other_emails: Some(vec![ids::Email::parse("e", "kim2@example.org").unwrap()]),
            ..users::UserChanges::default()
        };
        users::update(&s, &o, &kim.id, None, changes, NOW)
            .await
            .unwrap();
        let changes = users::UserChanges {
            other_emails: Some(vec![
                ids::Email::parse("e", "kim.home@example.org").unwrap(),
            ]),
            ..users::UserChanges::default()
        };
        users::update(&s, &o, &lee.id, None, changes, NOW)
            .await
            .unwrap();
        consistent(&s, "");
        // Too many addresses.
        let changes = users::UserChanges {
            other_emails: Some(
                (0..10)
                    .map(|i| ids::Email::parse("e", &format!("k{i}@example.org")).unwrap())
                    .collect(),
            ),
            ..users::UserChanges::default()
        };
        assert!(matches!(
            users::update(&s, &o, &kim.id, None, changes, NOW).await,
            Err(DomainError::Invalid(ref v)) if v.field == "emails"
        ));
        // Removal frees every address.
        remove_user(&s, &o, &lee.id, &RemovalPolicy::scim(), NOW)
            .await
            .unwrap();
        let mut again = new_user("zed");
        again.email = Some(ids::Email::parse("e", "kim.home@example.org").unwrap());
        users::create(&s, &o, again, NOW).await.unwrap();
        consistent(&s, "");
    });
}

#[test]
fn skip_counts_live_users_in_creation_order() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(
                users::create(&s, &o, new_user(&format!("u{i}")), NOW)
                    .await
                    .unwrap(),
            );
        }
        remove_user(&s, &o, &made[1].id, &RemovalPolicy::scim(), NOW)
            .await
            .unwrap();
        assert_eq!(users::skip(&s, &o, 0).await.unwrap(), Some(0));
        // Live: u0 (1), u2 (3), u3 (4), u4 (5).
        assert_eq!(users::skip(&s, &o, 1).await.unwrap(), Some(1));
        assert_eq!(users::skip(&s, &o, 2).await.unwrap(), Some(3));
        assert_eq!(users::skip(&s, &o, 4).await.unwrap(), Some(5));
        assert_eq!(users::skip(&s, &o, 5).await.unwrap(), None);
        let q = users::ListQuery {
            after: users::skip(&s, &o, 2).await.unwrap().unwrap(),
            limit: 10,
            status: None,
            group: None,
            q: None,
        };
        let page = users::list(&s, &o, &q).await.unwrap();
        assert_eq!(page.users.first().map(|u| &u.id), Some(&made[3].id));
    });
}

#[test]
fn attributes_over_the_limit_are_refused_at_create() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let mut new = new_user("kim");
    new.attributes.insert(
        "big".into(),
        serde_json::Value::String("x".repeat(17 * 1024)),
    );
    let refused = block_on(users::create(&s, &o, new, NOW));
    assert!(matches!(refused, Err(DomainError::Invalid(ref v)) if v.field == "attributes"));
    consistent(&s, "");
}
