//! Fault injection through the real host: a seed-000 removal whose N-th key-value call
//! fails (or traps the component), for every N, answers 500, and the next DELETE
//! completes it: the user is then fully gone and the invariants checker finds nothing.

use roster_tests::{App, assert_error};
use serde_json::json;

async fn user_with_dependents(app: &App, org: &str, name: &str) -> String {
    let id = app.user(org, name).await;
    let user = format!("/v1/organizations/{org}/mdm/users/{id}");
    for i in 0..2 {
        let d = app
            .call(
                "POST",
                &format!("{user}/devices"),
                Some(
                    json!({"name": "d", "type": "ios", "deviceIdentifier": format!("{name}-{i}"),
                            "enrolmentInfo": {"status": "INACTIVE"}}),
                ),
            )
            .await;
        assert_eq!(d.status, 201, "{}", d.text);
    }
    let t = app
        .call("POST", &format!("{user}/enrollment-tokens"), None)
        .await;
    let token = t.body["data"]["id"].as_str().unwrap().to_owned();
    app.call("DELETE", &format!("{user}/enrollment-tokens/{token}"), None)
        .await;
    user
}

async fn interrupted_at_every_call(trap: bool) {
    let app = App::start().await;
    let org = app.org(if trap { "trap-org" } else { "fail-org" }).await;
    // Count the key-value calls of an undisturbed removal.
    let probe = user_with_dependents(&app, &org, "probe").await;
    app.host.faults().clear();
    assert_eq!(app.call("DELETE", &probe, None).await.status, 200);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 10, "a removal makes {calls} key-value calls");

    for n in 1..=calls {
        let name = format!("u{n}");
        let user = user_with_dependents(&app, &org, &name).await;
        app.host.faults().clear();
        if trap {
            app.host.faults().trap_nth(n);
        } else {
            app.host.faults().fail_nth(n);
        }
        let first = app.call("DELETE", &user, None).await;
        app.host.faults().clear();
        // The last call is the best-effort update that makes the finished operation
        // forget the user's id (removal.rs): its failure does not fail the removal.
        if n == calls && !trap && first.status == 200 {
            app.assert_consistent();
        } else {
            assert_eq!(first.status, 500, "call {n}: {}", first.text);
            if !trap {
                assert_error(&first, 500, 5000);
            }
        }
        let retry = app.call("DELETE", &user, None).await;
        assert!(
            retry.status == 200 || retry.status == 404,
            "call {n}: retry answered {} {}",
            retry.status,
            retry.text
        );
        assert_error(&app.call("GET", &user, None).await, 404, 3001);
        for (key, value) in app.snapshot() {
            let value = String::from_utf8_lossy(&value);
            assert!(
                !value.contains(&format!("{name}@example.com")),
                "call {n}: {key} = {value}"
            );
        }
        app.assert_consistent();
        // The username is free again.
        let again = app.user(&org, &name).await;
        assert_eq!(
            app.call(
                "DELETE",
                &format!("/v1/organizations/{org}/mdm/users/{again}"),
                None
            )
            .await
            .status,
            200
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_with_a_failing_call_completes_on_retry() {
    interrupted_at_every_call(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_with_a_trapping_call_completes_on_retry() {
    interrupted_at_every_call(true).await;
}
