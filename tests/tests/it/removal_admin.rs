//! The canonical surface's removal extras through the host: dry runs, bulk removal,
//! soft removal with restore and purge, the audit log, subscriptions, owned tokens,
//! organization aliases and policy, and two concurrent removals of one user.

use roster_tests::{App, assert_error};
use serde_json::{Value, json};

fn base(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

async fn device(app: &App, user: &str, status: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("{user}/devices"),
            Some(
                json!({"name": "Pixel", "type": "android", "deviceIdentifier": "imei-1",
                        "enrolmentInfo": {"status": status}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_and_bulk_removal_report_per_user() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let a = app.user(&org, "ann").await;
    let b = app.user(&org, "bob").await;
    let ua = format!("{}/mdm/users/{a}", base(&org));
    device(&app, &ua, "ACTIVE").await;
    // A dry run reports the blocker and changes nothing.
    let before = app.snapshot();
    let dry = app.call("DELETE", &format!("{ua}?dryRun=true"), None).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["data"]["removable"], false);
    assert_eq!(dry.body["data"]["blockers"][0]["code"], 5054);
    assert_eq!(dry.body["data"]["wouldRemove"]["devices"], 1);
    let after: Vec<_> = app
        .snapshot()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ratelimit/"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ratelimit/"))
        .collect();
    assert_eq!(before, after, "a dry run wrote something");
    assert_error(
        &app.call("DELETE", &format!("{ua}?dryRun=maybe"), None)
            .await,
        400,
        1001,
    );
    // Bulk: one blocked, one removed, one unknown; each as the single DELETE answers.
    let missing = "0123456789abcdef01234567";
    let r = app
        .call(
            "POST",
            &format!("{}/mdm/users/removals", base(&org)),
            Some(json!({"ids": [a, b, missing]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["data"]["results"].as_array().unwrap();
    assert_eq!(results[0]["error"]["code"], 5054);
    assert_eq!(results[1]["status"], true);
    assert_eq!(results[1]["data"]["delete"], b.as_str());
    assert_eq!(results[2]["error"]["code"], 3001);
    let bad = app
        .call(
            "POST",
            &format!("{}/mdm/users/removals", base(&org)),
            Some(json!({"ids": ["nope"]})),
        )
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("ids[0]"), "{}", bad.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_removal_restore_purge_and_the_audit_log() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let patched = app
        .call(
            "PATCH",
            &base(&org),
            Some(json!({"policy": {"retentionDays": 7}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"]["policy"]["retentionDays"], 7);
    let id = app.user(&org, "kim").await;
    let user = format!("{}/mdm/users/{id}", base(&org));
    device(&app, &user, "INACTIVE").await;
    let before = roster_domain::Timestamp::now();
    let removed = app.call("DELETE", &user, None).await;
    let after = roster_domain::Timestamp::now();
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.body["data"]["restorable"], true);
    assert_error(&app.call("GET", &user, None).await, 404, 3001);
    let count = app
        .call("GET", &format!("{}/mdm/users/count", base(&org)), None)
        .await;
    assert_eq!(count.body["data"]["count"], 0);
    let deleted = app
        .call(
            "GET",
            &format!("{}/mdm/users?status=deleted", base(&org)),
            None,
        )
        .await;
    assert_eq!(deleted.body["data"]["users"][0]["id"], id.as_str());
    // It says until when it can be restored: seven days after its removal.
    let until = deleted.body["data"]["users"][0]["restorableUntil"]
        .as_str()
        .unwrap_or_else(|| panic!("no restorableUntil: {}", deleted.text));
    let week = 7 * 86_400_000;
    let (earliest, latest) = (before.plus_millis(week), after.plus_millis(week));
    assert!(
        (earliest.to_rfc3339().as_str()..=latest.to_rfc3339().as_str()).contains(&until),
        "{until} not within {earliest:?}..={latest:?}"
    );
    app.assert_consistent();
    // The username is free; taking it blocks the restore until it is free again.
    let other = app.user(&org, "kim").await;
    let blocked = app.call("POST", &format!("{user}/restore"), None).await;
    assert_error(&blocked, 409, 3002);
    assert!(blocked.text.contains("username"), "{}", blocked.text);
    assert_eq!(
        app.call("DELETE", &format!("{}/mdm/users/{other}", base(&org)), None)
            .await
            .status,
        200
    );
    // The other user is softly removed too, so its username is free again.
    let back = app.call("POST", &format!("{user}/restore"), None).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["data"]["username"], "kim");
    assert!(
        back.body["data"].get("restorableUntil").is_none(),
        "{}",
        back.text
    );
    assert_eq!(app.call("GET", &user, None).await.status, 200);
    app.assert_consistent();
    // The purge route purges nothing within the window.
    let purge = app
        .call("POST", &format!("{}/mdm/users/purge", base(&org)), None)
        .await;
    assert_eq!(purge.status, 200, "{}", purge.text);
    assert_eq!(purge.body["data"]["purged"], 0);
    assert_eq!(purge.body["data"]["waiting"], 1);
    app.assert_consistent();
    // The audit log has the removals and the restore, by pseudonym, without names.
    let audit = app
        .call("GET", &format!("{}/audit", base(&org)), None)
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(!audit.text.contains("kim"), "{}", audit.text);
    let mine = app
        .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
        .await;
    let events = mine.body["data"]["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.soft_removed", "user.restored"],
        "{}",
        mine.text
    );
    assert_eq!(events[0]["details"]["devices"], 1);
    assert_error(
        &app.call("GET", &format!("{}/audit?userId=x", base(&org)), None)
            .await,
        400,
        1001,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_the_user_back() {
    let app = App::start().await;
    let org = app
        .org_with(json!({"name": "Acme", "slug": "acme", "policy": {"retentionDays": 1}}))
        .await;
    let id = app.user(&org, "kim").await;
    let user = format!("{}/mdm/users/{id}", base(&org));
    assert_eq!(app.call("DELETE", &user, None).await.status, 200);
    let back = app.call("POST", &format!("{user}/restore"), None).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["data"]["status"], "active");
    assert_eq!(app.call("GET", &user, None).await.status, 200);
    let again = app.call("POST", &format!("{user}/restore"), None).await;
    assert_error(&again, 404, 3001);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_owned_tokens_and_aliases() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let id = app.user(&org, "kim").await;
    let user = format!("{}/mdm/users/{id}", base(&org));
    let s = app
        .call(
            "POST",
            &format!("{user}/subscriptions"),
            Some(json!({"scope": "/products/starter", "displayName": "Starter"})),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let bad = app
        .call(
            "POST",
            &format!("{user}/subscriptions"),
            Some(json!({"scope": "starter"})),
        )
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("scope"), "{}", bad.text);
    // A token the user owns is revoked when the user goes.
    let t = app
        .call(
            "POST",
            &format!("{}/tokens", base(&org)),
            Some(json!({"name": "laptop", "permissions": ["mdm.global.mdmUser.read"], "ownerUserId": id})),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    let secret = t.body["data"]["secret"].as_str().unwrap().to_owned();
    let ok = app.send("GET", &user, Some(&secret), &[], None).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(app.call("DELETE", &user, None).await.status, 200);
    let after = app
        .send(
            "GET",
            &format!("{}/mdm/users/count", base(&org)),
            Some(&secret),
            &[],
            None,
        )
        .await;
    assert_error(&after, 401, 4001);
    // Aliases: an account UUID is unique across organizations.
    let a = app.call("GET", &base(&org), None).await;
    let account = a.body["data"]["aliases"]["accountUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.org("other").await;
    let clash = app
        .call(
            "PATCH",
            &base(&other),
            Some(json!({"aliases": {"accountUuid": account}})),
        )
        .await;
    assert_error(&clash, 409, 3002);
    assert!(clash.text.contains("accountUuid"), "{}", clash.text);
    let bind = app
        .call(
            "PATCH",
            &base(&other),
            Some(json!({"aliases": {"apim": {"subscriptionId": "nope", "resourceGroupName": "rg", "serviceName": "svc"}}})),
        )
        .await;
    assert_error(&bind, 400, 1001);
    assert!(
        bind.text.contains("aliases.apim.subscriptionId"),
        "{}",
        bind.text
    );
    let policy = app
        .call(
            "PATCH",
            &base(&other),
            Some(json!({"policy": {"retentionDays": 400}})),
        )
        .await;
    assert_error(&policy, 400, 1001);
    assert!(
        policy.text.contains("policy.retentionDays"),
        "{}",
        policy.text
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_removals_of_one_user() {
    let app = App::start().await;
    let org = app.org("acme").await;
    for round in 0..5 {
        let id = app.user(&org, &format!("u{round}")).await;
        let user = format!("{}/mdm/users/{id}", base(&org));
        for _ in 0..3 {
            device(&app, &user, "INACTIVE").await;
        }
        let (a, b) = tokio::join!(
            app.call("DELETE", &user, None),
            app.call("DELETE", &user, None)
        );
        // The canonical surface documents both answers for the second request: it
        // helps finish (200) or finds the user gone (404). Exactly one performed it.
        for r in [&a, &b] {
            assert!(r.status == 200 || r.status == 404, "{}", r.text);
        }
        assert!(a.status == 200 || b.status == 200);
        assert_error(&app.call("GET", &user, None).await, 404, 3001);
        let events = app
            .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
            .await;
        let events: Vec<Value> = events.body["data"]["events"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1, "round {round}: {events:?}");
    }
    app.assert_consistent();
}

/// `Prefer: respond-async` (RFC 7240) on the canonical DELETE: a user with more
/// dependents than the organization's `removalBatch` answers 202 with the operation in
/// `Location` and `Preference-Applied`; each GET of the operation advances it until it
/// says `Succeeded` and the user is gone. A user with few dependents, or a request without
/// the preference, is removed within the request (200), as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_respond_async_answers_202_with_an_operation_to_poll() {
    let app = App::start().await;
    let org = app
        .org_with(json!({"name": "acme", "slug": "acme", "policy": {"removalBatch": 2}}))
        .await;
    let big = app.user(&org, "big").await;
    let small = app.user(&org, "small").await;
    let whole = app.user(&org, "whole").await;
    let again = app.user(&org, "again").await;
    for id in [&big, &whole, &again] {
        let u = format!("{}/mdm/users/{id}", base(&org));
        for i in 0..5 {
            let r = app
                .call(
                    "POST",
                    &format!("{u}/devices"),
                    Some(json!({"name": "d", "type": "ios",
                                "deviceIdentifier": format!("{id}-{i}"),
                                "enrolmentInfo": {"status": "INACTIVE"}})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    }
    // Behind a TLS-terminating proxy: the Location names the scheme the client used.
    let prefer = [
        ("prefer", "wait=10, Respond-Async"),
        ("x-forwarded-proto", "https"),
    ];
    let r = app
        .send(
            "DELETE",
            &format!("{}/mdm/users/{big}", base(&org)),
            Some(&app.admin_token),
            &prefer,
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.header("preference-applied"), Some("respond-async"));
    let op = r.body["data"]["operationId"].as_str().unwrap().to_owned();
    assert_eq!(r.body["data"]["delete"], big.as_str());
    assert_eq!(r.body["data"]["total"], 5, "{}", r.text);
    assert_eq!(r.body["data"]["processed"], 2, "{}", r.text);
    let location = r.header("location").unwrap().to_owned();
    let path = format!("{}/operations/{op}", base(&org));
    assert!(location.ends_with(&path), "{location}");
    assert!(location.starts_with("https://"), "{location}");
    let mut polls = 0;
    loop {
        let p = app.call("GET", &path, None).await;
        assert_eq!(p.status, 200, "{}", p.text);
        polls += 1;
        if p.body["data"]["status"] == "Succeeded" {
            assert_eq!(p.body["data"]["processed"], p.body["data"]["total"]);
            break;
        }
        assert_eq!(p.body["data"]["status"], "InProgress");
        assert!(polls < 20, "the removal never finished: {}", p.text);
    }
    assert!(polls >= 2, "5 devices in batches of 2 took {polls} poll(s)");
    let gone = app
        .call("GET", &format!("{}/mdm/users/{big}", base(&org)), None)
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    // Few dependents: done within the request even with the preference.
    let r = app
        .send(
            "DELETE",
            &format!("{}/mdm/users/{small}", base(&org)),
            Some(&app.admin_token),
            &prefer,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("preference-applied"), None);
    // Repeating the DELETE drives it too (for a caller that may not read operations),
    // and the preference counts in a second Prefer header (RFC 7240 §2).
    let two = [("prefer", "wait=10"), ("prefer", "respond-async")];
    let path = format!("{}/mdm/users/{again}", base(&org));
    let mut seen = Vec::new();
    loop {
        let r = app
            .send("DELETE", &path, Some(&app.admin_token), &two, None)
            .await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(r.header("preference-applied"), Some("respond-async"));
        seen.push(r.body["data"]["processed"].as_u64().unwrap());
        assert!(seen.len() < 10, "never finished: {seen:?}");
    }
    assert!(
        seen.len() >= 2 && seen.windows(2).all(|w| w[0] < w[1]),
        "{seen:?}"
    );
    assert_eq!(app.call("GET", &path, None).await.status, 404);
    // Without the preference a removal never stops half way.
    let r = app
        .call("DELETE", &format!("{}/mdm/users/{whole}", base(&org)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["data"].get("operationId").is_none(), "{}", r.text);
    app.assert_consistent();
}
