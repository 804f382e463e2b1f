//! What the lifecycle tests (holds, export, schedules) share: a user with its uuid, the
//! removal of one user as each surface's client sends it, and the seven surfaces.

use roster_tests::{App, Reply};
use serde_json::json;

/// `/v1/organizations/{org}`.
pub fn base(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

/// The canonical user resource `…/mdm/users/{id}`.
pub fn canonical(org: &str, id: &str) -> String {
    format!("{}/mdm/users/{id}", base(org))
}

/// A user and its uuid.
pub async fn user(app: &App, org: &str, name: &str) -> (String, String) {
    let r = app
        .call(
            "POST",
            &format!("{}/mdm/users", base(org)),
            Some(json!({"username": name, "email": format!("{name}@example.com")})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.body["data"]["id"].as_str().unwrap().to_owned(),
        r.body["data"]["uuid"].as_str().unwrap().to_owned(),
    )
}

/// The removal of one surface, as that surface's client sends it.
#[derive(Clone, Copy, Debug)]
pub enum Path {
    Canonical,
    Bulk,
    Wso2,
    Cas,
    Dynatrace,
    Apim,
    Scim,
}

pub const PATHS: [Path; 7] = [
    Path::Canonical,
    Path::Bulk,
    Path::Wso2,
    Path::Cas,
    Path::Dynatrace,
    Path::Apim,
    Path::Scim,
];

/// One user to remove, with what each surface names it by.
pub struct Target {
    /// The organization's id (canonical, SCIM, WSO2 and CAS's header).
    pub org: String,
    /// The organization's Dynatrace account uuid.
    pub account: String,
    /// The username (`{name}@example.com` is its email).
    pub name: String,
    /// The `mdmUserId`.
    pub id: String,
    /// The user's uuid (CAS).
    pub uuid: String,
    /// The API Management service path the organization is bound to.
    pub service: String,
}

pub async fn remove(app: &App, p: Path, t: &Target) -> Reply {
    let org_header = [("x-roster-organization", t.org.as_str())];
    let admin = app.admin_token.clone();
    match p {
        Path::Canonical => app.call("DELETE", &canonical(&t.org, &t.id), None).await,
        Path::Bulk => {
            app.call(
                "POST",
                &format!("{}/mdm/users/removals", base(&t.org)),
                Some(json!({"ids": [t.id]})),
            )
            .await
        }
        Path::Wso2 => {
            app.send(
                "DELETE",
                &format!("/mdm-admin/users?username={}", t.name),
                Some(&admin),
                &org_header,
                None,
            )
            .await
        }
        Path::Cas => {
            app.send(
                "DELETE",
                &format!("/AdminInterface/restapi/v1/users/{}", t.uuid),
                Some(&admin),
                &org_header,
                None,
            )
            .await
        }
        Path::Dynatrace => {
            app.call(
                "DELETE",
                &format!("/v1/accounts/{}/users/{}@example.com", t.account, t.name),
                None,
            )
            .await
        }
        Path::Apim => {
            app.send(
                "DELETE",
                &format!("{}/users/{}?api-version=2024-05-01", t.service, t.id),
                Some(&admin),
                &[("if-match", "*")],
                None,
            )
            .await
        }
        Path::Scim => {
            app.call(
                "DELETE",
                &format!("{}/scim/v2/Users/{}", base(&t.org), t.id),
                None,
            )
            .await
        }
    }
}

/// A user with two devices whose enrolment status is `status` (`ACTIVE`: a removal
/// retires them and queues their notices; `INACTIVE`: nothing blocks it); returns its
/// `mdmUserId`.
pub async fn user_with_devices(app: &App, org: &str, name: &str, status: &str) -> String {
    let (id, _) = user(app, org, name).await;
    for i in 0..2 {
        let d = app
            .call(
                "POST",
                &format!("{}/devices", canonical(org, &id)),
                Some(
                    json!({"name": "d", "type": "ios", "deviceIdentifier": format!("{name}-{i}"),
                            "enrolmentInfo": {"status": status}}),
                ),
            )
            .await;
        assert_eq!(d.status, 201, "{}", d.text);
    }
    id
}
