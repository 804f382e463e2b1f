//! Paging through the host while users are created and removed between pages: no user
//! is repeated, none that existed throughout is skipped, in listing and in search.

use roster_tests::App;
use std::collections::BTreeSet;

async fn walk(app: &App, org: &str, query: &str, ids: &mut Vec<(String, String)>) -> Vec<String> {
    let users = format!("/v1/organizations/{org}/mdm/users");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        let path = match &cursor {
            None => format!("{users}?limit=3{query}"),
            Some(c) => format!("{users}?limit=3{query}&cursor={c}"),
        };
        let page = app.call("GET", &path, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let batch = page.body["data"]["users"].as_array().unwrap().clone();
        assert!(batch.len() <= 3);
        seen.extend(
            batch
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        // Between pages: remove the newest user (not listed yet) and the oldest one
        // listed so far, and create one.
        round += 1;
        if let Some((_, id)) = ids.pop() {
            assert_eq!(
                app.call("DELETE", &format!("{users}/{id}"), None)
                    .await
                    .status,
                200
            );
        }
        if let Some(first) = seen.first().cloned()
            && let Some(pos) = ids.iter().position(|(n, _)| *n == first)
        {
            let (_, id) = ids.remove(pos);
            assert_eq!(
                app.call("DELETE", &format!("{users}/{id}"), None)
                    .await
                    .status,
                200
            );
        }
        let name = format!("late{round}{}", query.len());
        let id = app.user(org, &name).await;
        ids.push((name, id));
        match page.body["data"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_neither_skip_nor_repeat_while_users_come_and_go() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let name = format!("user{i:02}");
        let id = app.user(&org, &name).await;
        ids.push((name, id));
    }
    // Users 00..=07 are never removed during the walk (removals take the newest and the
    // first listed): every one of them must be seen, once, in order.
    let stable: Vec<String> = (1..8).map(|i| format!("user{i:02}")).collect();
    for query in ["", "&q=USER"] {
        let seen = walk(&app, &org, query, &mut ids).await;
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: repeated: {seen:?}");
        let mut last = 0;
        for name in &stable {
            if !ids.iter().any(|(n, _)| n == name) {
                continue; // removed as "first listed" by the previous walk
            }
            let pos = seen
                .iter()
                .position(|s| s == name)
                .unwrap_or_else(|| panic!("{query}: {name} skipped: {seen:?}"));
            assert!(pos >= last, "{query}: out of order: {seen:?}");
            last = pos;
        }
    }
    app.assert_consistent();
}
