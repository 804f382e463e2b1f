//! PATCH: RFC 7644 §3.5.2.1–3's examples, the schema's rules, atomicity and the
//! identity providers' quirks.

use http::StatusCode;
use serde_json::{Value, json};

use super::{bjensen, tour_guides};
use crate::patch::MAX_OPERATIONS;
use crate::{
    ENTERPRISE_USER_URN, GROUP, PATCH_OP_URN, PatchOpKind, PatchRequest, ResourceType, ScimError,
    ScimType, USER,
};

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

fn body(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP_URN], "Operations": ops })
}

fn request(ops: Value, rt: &'static ResourceType) -> PatchRequest {
    PatchRequest::from_json(&body(ops), rt).unwrap_or_else(|e| panic!("{e}"))
}

fn patch(resource: &Value, ops: Value, rt: &'static ResourceType) -> Value {
    request(ops, rt)
        .apply(resource)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn patch_err(resource: &Value, ops: Value, rt: &'static ResourceType) -> ScimError {
    match PatchRequest::from_json(&body(ops), rt) {
        Err(e) => e,
        Ok(r) => r.apply(resource).expect_err("patch should fail"),
    }
}

fn expect(resource: &Value, ops: Value, rt: &'static ResourceType, t: ScimType) -> ScimError {
    let e = patch_err(resource, ops, rt);
    assert_eq!(e.scim_type, Some(t), "{e}");
    e
}

fn member_ids(g: &Value) -> Vec<&str> {
    g["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["value"].as_str()).collect())
        .unwrap_or_default()
}

// ---- request parsing ----

#[test]
fn request_envelope_is_validated() {
    let ok = json!([{ "op": "replace", "path": "title", "value": "x" }]);
    let cases: &[(Value, ScimType)] = &[
        (json!([]), ScimType::InvalidSyntax),
        (json!({ "Operations": ok }), ScimType::InvalidSyntax),
        (
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": ok }),
            ScimType::InvalidSyntax,
        ),
        (
            json!({ "schemas": [PATCH_OP_URN] }),
            ScimType::InvalidSyntax,
        ),
        (
            json!({ "schemas": [PATCH_OP_URN], "Operations": {} }),
            ScimType::InvalidSyntax,
        ),
        (
            json!({ "schemas": [PATCH_OP_URN], "Operations": [] }),
            ScimType::InvalidSyntax,
        ),
        (body(json!(["add"])), ScimType::InvalidSyntax),
        (
            body(json!([{ "op": "move", "path": "title" }])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{ "op": 1, "path": "title" }])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{ "path": "title", "value": "x" }])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{ "op": "add", "path": 7, "value": "x" }])),
            ScimType::InvalidPath,
        ),
        (
            body(json!([{ "op": "add", "path": "title" }])),
            ScimType::InvalidValue,
        ),
        (body(json!([{ "op": "replace" }])), ScimType::InvalidValue),
        (body(json!([{ "op": "remove" }])), ScimType::NoTarget),
        (
            body(json!([{ "op": "remove", "value": {"title": "x"} }])),
            ScimType::NoTarget,
        ),
        (
            body(json!([{ "op": "add", "path": "nosuch", "value": 1 }])),
            ScimType::InvalidPath,
        ),
        (
            body(json!([{ "op": "add", "path": "emails[type eq work]", "value": "x" }])),
            ScimType::InvalidFilter,
        ),
    ];
    for (b, t) in cases {
        let e = PatchRequest::from_json(b, &USER).expect_err(&b.to_string());
        assert_eq!(e.scim_type, Some(*t), "{b}: {e}");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
    let e = PatchRequest::from_slice(b"{not json", &USER).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({ "op": "add", "path": "title", "value": "x" }))
        .collect();
    let e = PatchRequest::from_json(&body(Value::Array(many)), &USER).unwrap_err();
    assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    let max: Vec<Value> = (0..MAX_OPERATIONS)
        .map(|i| json!({ "op": "replace", "path": "title", "value": format!("t{i}") }))
        .collect();
    let out = PatchRequest::from_json(&body(Value::Array(max)), &USER)
        .unwrap()
        .apply(&bjensen())
        .unwrap();
    assert_eq!(out["title"], json!(format!("t{}", MAX_OPERATIONS - 1)));
}

#[test]
fn op_names_and_member_names_are_case_insensitive() {
    let r = PatchRequest::from_slice(
        format!(
            r#"{{"SCHEMAS":["{PATCH_OP_URN}"],"operations":[{{"OP":"Add","Path":"title","Value":"x"}},{{"op":"REPLACE","path":"nickName","value":"y"}},{{"op":"Remove","path":"locale"}}]}}"#
        )
        .as_bytes(),
        &USER,
    )
    .unwrap();
    let kinds: Vec<PatchOpKind> = r.operations.iter().map(|o| o.op).collect();
    assert_eq!(
        kinds,
        [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
    );
    let out = r.apply(&bjensen()).unwrap();
    assert_eq!(out["title"], json!("x"));
    assert_eq!(out["nickName"], json!("y"));
    assert!(out.get("locale").is_none());
    assert_eq!(r.resource_type().id, "User");
}

// ---- RFC 7644 §3.5.2.1 add ----

#[test]
fn rfc_add_member_to_group() {
    let g = tour_guides();
    let out = patch(
        &g,
        json!([{
            "op": "add",
            "path": "members",
            "value": [{
                "display": "James Smith",
                "$ref": format!("https://example.com/v2/Users/{JAMES}"),
                "value": JAMES
            }]
        }]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [BABS, MANDY, JAMES]);
    assert_eq!(
        out["members"][2],
        json!({ "value": JAMES, "$ref": format!("https://example.com/v2/Users/{JAMES}") }),
        "display is readOnly (server-maintained) and dropped"
    );
    // Adding an existing member again changes nothing.
    let again = patch(
        &out,
        json!([{ "op": "add", "path": "members", "value": [{ "value": JAMES }] }]),
        &GROUP,
    );
    assert_eq!(again, out);
}

#[test]
fn rfc_add_without_path() {
    let mut u = bjensen();
    u.as_object_mut().unwrap().remove("nickName");
    u["emails"] = json!([{ "value": "bjensen@example.com", "type": "work", "primary": true }]);
    let out = patch(
        &u,
        json!([{
            "op": "add",
            "value": {
                "emails": [{ "value": "babs@jensen.org", "type": "home" }],
                "nickname": "Babs"
            }
        }]),
        &USER,
    );
    assert_eq!(out["nickName"], json!("Babs"), "canonical spelling");
    assert!(out.get("nickname").is_none());
    assert_eq!(
        out["emails"],
        bjensen()["emails"],
        "appended to the existing values"
    );
}

#[test]
fn add_replaces_single_values_and_merges_complex_ones() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([
            { "op": "add", "path": "title", "value": "Chief Guide" },
            { "op": "add", "path": "name", "value": { "givenName": "Barb", "middleName": null } }
        ]),
        &USER,
    );
    assert_eq!(out["title"], json!("Chief Guide"));
    assert_eq!(out["name"]["givenName"], json!("Barb"));
    assert_eq!(
        out["name"]["familyName"],
        json!("Jensen"),
        "unnamed sub-attributes stay"
    );
    assert!(out["name"].get("middleName").is_none(), "null unassigns");
    let out = patch(
        &u,
        json!([{ "op": "add", "path": "name.honorificSuffix", "value": "IV" }]),
        &USER,
    );
    assert_eq!(out["name"]["honorificSuffix"], json!("IV"));
    let mut bare = json!({ "schemas": [crate::USER_URN], "id": "1", "userName": "u" });
    bare = patch(
        &bare,
        json!([{ "op": "add", "path": "name.givenName", "value": "G" }]),
        &USER,
    );
    assert_eq!(
        bare["name"],
        json!({ "givenName": "G" }),
        "created when absent"
    );
}

// ---- RFC 7644 §3.5.2.2 remove ----

#[test]
fn rfc_remove_examples() {
    let g = tour_guides();
    let out = patch(
        &g,
        json!([{ "op": "remove", "path": format!("members[value eq \"{BABS}\"]") }]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [MANDY]);
    let out = patch(&g, json!([{ "op": "remove", "path": "members" }]), &GROUP);
    assert!(
        out.get("members").is_none(),
        "all values removed, attribute unassigned"
    );
    let out = patch(
        &g,
        json!([
            { "op": "remove", "path": format!("members[value eq \"{BABS}\"]") },
            {
                "op": "add",
                "path": "members",
                "value": [{
                    "display": "James Smith",
                    "$ref": format!("https://example.com/v2/Users/{JAMES}"),
                    "value": JAMES
                }]
            }
        ]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [MANDY, JAMES]);
    let u = bjensen();
    let out = patch(
        &u,
        json!([{ "op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]" }]),
        &USER,
    );
    assert_eq!(
        out["emails"],
        json!([{ "value": "babs@jensen.org", "type": "home" }])
    );
    // x509Certificates is an RFC attribute Roster does not support.
    expect(
        &u,
        json!([{ "op": "remove", "path": "x509Certificates[value eq \"MIIDQzCC\"]" }]),
        &USER,
        ScimType::InvalidPath,
    );
}

#[test]
fn remove_variants() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([
            { "op": "remove", "path": "name.middleName" },
            { "op": "remove", "path": "emails.type" },
            { "op": "remove", "path": "addresses[type eq \"home\"].region" },
            { "op": "remove", "path": "nickName" },
            { "op": "remove", "path": "roles" },
            { "op": "remove", "path": "emails[value eq \"nobody@nowhere\"]" }
        ]),
        &USER,
    );
    assert!(out["name"].get("middleName").is_none());
    assert_eq!(out["name"]["givenName"], json!("Barbara"));
    assert!(
        out["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("type").is_none())
    );
    assert!(out["addresses"][1].get("region").is_none());
    assert_eq!(out["addresses"][0]["region"], json!("CA"));
    assert!(out.get("nickName").is_none());
    let out = patch(
        &u,
        json!([
            { "op": "remove", "path": "name.formatted" },
            { "op": "remove", "path": "name.familyName" },
            { "op": "remove", "path": "name.givenName" },
            { "op": "remove", "path": "name.middleName" },
            { "op": "remove", "path": "name.honorificPrefix" },
            { "op": "remove", "path": "name.honorificSuffix" }
        ]),
        &USER,
    );
    assert!(
        out.get("name").is_none(),
        "an emptied complex attribute is unassigned"
    );
}

// ---- RFC 7644 §3.5.2.3 replace ----

#[test]
fn rfc_replace_members() {
    let g = tour_guides();
    let out = patch(
        &g,
        json!([{
            "op": "replace",
            "path": "members",
            "value": [
                { "display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS },
                { "display": "James Smith", "$ref": format!("https://example.com/v2/Users/{JAMES}"), "value": JAMES }
            ]
        }]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [BABS, JAMES]);
}

#[test]
fn rfc_replace_work_address() {
    let u = bjensen();
    let new_address = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "addresses[type eq \"work\"]", "value": new_address }]),
        &USER,
    );
    assert_eq!(out["addresses"][0], new_address);
    assert_eq!(out["addresses"][1], u["addresses"][1]);
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave" }]),
        &USER,
    );
    assert_eq!(
        out["addresses"][0]["streetAddress"],
        json!("1010 Broadway Ave")
    );
    assert_eq!(out["addresses"][0]["locality"], json!("Hollywood"));
    assert_eq!(
        out["addresses"][1]["streetAddress"],
        json!("456 Hollywood Blvd")
    );
}

#[test]
fn rfc_replace_without_path() {
    let mut u = bjensen();
    u["emails"] = json!([{ "value": "old@example.com", "type": "work" }]);
    let out = patch(
        &u,
        json!([{
            "op": "replace",
            "value": {
                "emails": [
                    { "value": "bjensen@example.com", "type": "work", "primary": true },
                    { "value": "babs@jensen.org", "type": "home" }
                ],
                "nickname": "Babs"
            }
        }]),
        &USER,
    );
    assert_eq!(
        out["emails"],
        bjensen()["emails"],
        "multi-valued: all values replaced"
    );
    assert_eq!(out["nickName"], json!("Babs"));
}

#[test]
fn replace_complex_merges_and_missing_targets_fail() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "name", "value": { "givenName": "Barb" } }]),
        &USER,
    );
    assert_eq!(out["name"]["givenName"], json!("Barb"));
    assert_eq!(out["name"]["familyName"], json!("Jensen"));
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "title", "value": null }]),
        &USER,
    );
    assert!(out.get("title").is_none(), "null unassigns");
    let mut v = u.clone();
    v.as_object_mut().unwrap().remove("nickName");
    let out = patch(
        &v,
        json!([{ "op": "replace", "path": "nickName", "value": "B" }]),
        &USER,
    );
    assert_eq!(
        out["nickName"],
        json!("B"),
        "replacing an absent attribute adds it"
    );
    let e = expect(
        &u,
        json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y" }]),
        &USER,
        ScimType::NoTarget,
    );
    assert!(e.detail.contains("emails"), "{}", e.detail);
    expect(
        &u,
        json!([{ "op": "replace", "path": "roles[value eq \"x\"]", "value": { "value": "y" } }]),
        &USER,
        ScimType::NoTarget,
    );
    let mut no_ext = u.clone();
    no_ext.as_object_mut().unwrap().remove(ENTERPRISE_USER_URN);
    expect(
        &no_ext,
        json!([{ "op": "replace", "path": format!("{ENTERPRISE_USER_URN}:manager[value eq \"x\"].$ref"), "value": "y" }]),
        &USER,
        ScimType::NoTarget,
    );
    let same = patch(
        &no_ext,
        json!([{ "op": "remove", "path": format!("{ENTERPRISE_USER_URN}:manager[value eq \"x\"]") }]),
        &USER,
    );
    assert_eq!(same, no_ext, "removing what is not there is a no-op");
    expect(
        &u,
        json!([{ "op": "replace", "path": "roles.display", "value": "x" }]),
        &USER,
        ScimType::NoTarget,
    );
}

// ---- primary ----

#[test]
fn one_primary_at_most() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "new@x.org", "type": "other", "primary": true }] }]),
        &USER,
    );
    let primaries: Vec<&Value> = out["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], json!("new@x.org"));
    assert_eq!(out["emails"][0]["primary"], json!(false));
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True" }]),
        &USER,
    );
    assert_eq!(
        out["emails"][1]["primary"],
        json!(true),
        "Entra ID's string boolean"
    );
    assert_eq!(out["emails"][0]["primary"], json!(false));
    expect(
        &u,
        json!([{
            "op": "replace",
            "path": "emails",
            "value": [{ "value": "a@x", "primary": true }, { "value": "b@x", "primary": true }]
        }]),
        &USER,
        ScimType::InvalidValue,
    );
    expect(
        &u,
        json!([{ "op": "replace", "path": "emails.primary", "value": true }]),
        &USER,
        ScimType::InvalidValue,
    );
    let out = patch(
        &u,
        json!([{ "op": "replace", "path": "phoneNumbers[type eq \"mobile\"].primary", "value": true }]),
        &USER,
    );
    assert_eq!(out["phoneNumbers"][1]["primary"], json!(true));
    assert!(
        out["phoneNumbers"][0].get("primary").is_none(),
        "nothing to clear"
    );
}

// ---- mutability ----

#[test]
fn read_only_attributes_refuse_changes() {
    let u = bjensen();
    for op in [
        json!({ "op": "replace", "path": "id", "value": "other" }),
        json!({ "op": "remove", "path": "id" }),
        json!({ "op": "add", "path": "meta.created", "value": "2020-01-01T00:00:00Z" }),
        json!({ "op": "remove", "path": "meta" }),
        json!({ "op": "add", "path": "groups", "value": [{ "value": "g" }] }),
        json!({ "op": "remove", "path": "groups[value eq \"e9e30dba-f08f-4109-8486-d5c6a331660a\"]" }),
        json!({ "op": "replace", "path": "schemas", "value": ["urn:x"] }),
        json!({ "op": "replace", "value": { "id": "other" } }),
        json!({
            "op": "replace",
            "path": format!("{ENTERPRISE_USER_URN}:manager.displayName"),
            "value": "Someone"
        }),
    ] {
        let e = expect(&u, json!([op.clone()]), &USER, ScimType::Mutability);
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{op}");
    }
    // Restating the current value is not a change (Okta sends the id along).
    let out = patch(
        &u,
        json!([{ "op": "replace", "value": { "id": BABS, "active": false, "meta": u["meta"].clone() } }]),
        &USER,
    );
    assert_eq!(out["active"], json!(false));
    assert_eq!(out["id"], json!(BABS));
}

#[test]
fn immutable_values_are_written_once() {
    let g = tour_guides();
    for op in [
        json!({ "op": "replace", "path": format!("members[value eq \"{BABS}\"].value"), "value": JAMES }),
        json!({ "op": "replace", "path": format!("members[value eq \"{BABS}\"]"), "value": { "value": JAMES } }),
        json!({ "op": "add", "path": format!("members[value eq \"{BABS}\"].type"), "value": "Group" }),
        json!({ "op": "remove", "path": format!("members[value eq \"{BABS}\"].value") }),
        json!({ "op": "add", "path": "members", "value": [{ "value": BABS, "type": "Group" }] }),
    ] {
        expect(&g, json!([op]), &GROUP, ScimType::Mutability);
    }
    // Unchanged immutable values are fine, as are new values.
    let out = patch(
        &g,
        json!([
            { "op": "replace", "path": format!("members[value eq \"{BABS}\"]"), "value": { "value": BABS, "type": "User" } },
            { "op": "add", "path": "members", "value": { "value": JAMES, "type": "User" } }
        ]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [BABS, MANDY, JAMES]);
    assert_eq!(
        out["members"][0],
        json!({ "value": BABS, "$ref": g["members"][0]["$ref"].clone(), "type": "User" }),
        "replaced whole; the immutable $ref it omitted is carried over"
    );
    let out = patch(
        &g,
        json!([{ "op": "replace", "path": format!("members[value eq \"{MANDY}\"]"), "value": { "type": "User" } }]),
        &GROUP,
    );
    assert_eq!(
        out["members"][1]["value"],
        json!(MANDY),
        "an omitted immutable value stays"
    );
    // A member without a type may get one.
    let mut h = g.clone();
    h["members"][1].as_object_mut().unwrap().remove("type");
    let out = patch(
        &h,
        json!([{ "op": "add", "path": format!("members[value eq \"{MANDY}\"].type"), "value": "User" }]),
        &GROUP,
    );
    assert_eq!(out["members"][1]["type"], json!("User"));
}

// ---- schema validation ----

#[test]
fn unknown_attributes_are_invalid_path() {
    let u = bjensen();
    for op in [
        json!({ "op": "add", "path": "nosuch", "value": "x" }),
        json!({ "op": "add", "value": { "nosuch": "x" } }),
        json!({ "op": "add", "value": { "name.nosuch": "x" } }),
        json!({ "op": "add", "path": "name", "value": { "nosuch": "x" } }),
        json!({ "op": "add", "path": "emails", "value": [{ "value": "a@b", "nosuch": 1 }] }),
        json!({ "op": "add", "value": { ENTERPRISE_USER_URN: { "nosuch": "x" } } }),
        json!({ "op": "add", "value": { "urn:example:other:2.0:User:thing": "x" } }),
        json!({ "op": "add", "path": "department", "value": "x" }),
    ] {
        let e = expect(&u, json!([op.clone()]), &USER, ScimType::InvalidPath);
        assert!(
            e.detail.contains("nosuch")
                || e.detail.contains("thing")
                || e.detail.contains("department"),
            "{op}: {}",
            e.detail
        );
    }
}

#[test]
fn wrong_value_types_are_invalid_value() {
    let u = bjensen();
    for op in [
        json!({ "op": "replace", "path": "userName", "value": 5 }),
        json!({ "op": "replace", "path": "active", "value": "yes" }),
        json!({ "op": "replace", "path": "active", "value": 1 }),
        json!({ "op": "replace", "path": "name", "value": "Barbara" }),
        json!({ "op": "replace", "path": "name", "value": ["x"] }),
        json!({ "op": "replace", "path": "emails", "value": [{ "value": 5 }] }),
        json!({ "op": "replace", "path": "emails", "value": [[]] }),
        json!({ "op": "replace", "path": "title", "value": { "a": 1 } }),
        json!({ "op": "replace", "value": "not an object" }),
        json!({ "op": "replace", "value": { ENTERPRISE_USER_URN: "x" } }),
        json!({ "op": "add", "path": "emails[type eq \"work\"].primary", "value": "maybe" }),
    ] {
        expect(&u, json!([op]), &USER, ScimType::InvalidValue);
    }
}

#[test]
fn required_attributes_cannot_be_removed() {
    let u = bjensen();
    let e = expect(
        &u,
        json!([{ "op": "remove", "path": "userName" }]),
        &USER,
        ScimType::InvalidValue,
    );
    assert!(e.detail.contains("userName"), "{}", e.detail);
    expect(
        &u,
        json!([{ "op": "replace", "path": "userName", "value": null }]),
        &USER,
        ScimType::InvalidValue,
    );
    expect(
        &tour_guides(),
        json!([{ "op": "remove", "path": "displayName" }]),
        &GROUP,
        ScimType::InvalidValue,
    );
    let out = patch(
        &u,
        json!([
            { "op": "remove", "path": "userName" },
            { "op": "add", "path": "userName", "value": "babs" }
        ]),
        &USER,
    );
    assert_eq!(
        out["userName"],
        json!("babs"),
        "only the final state must be valid"
    );
}

#[test]
fn operations_apply_atomically() {
    let u = bjensen();
    let before = u.clone();
    let e = patch_err(
        &u,
        json!([
            { "op": "replace", "path": "title", "value": "Changed" },
            { "op": "replace", "path": "id", "value": "nope" }
        ]),
        &USER,
    );
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(e.detail.starts_with("operation 1:"), "{}", e.detail);
    assert_eq!(u, before, "the input is never modified");
    let e = PatchRequest::from_json(
        &body(json!([{ "op": "add", "path": "title", "value": "x" }])),
        &USER,
    )
    .unwrap()
    .apply(&json!([1, 2]))
    .unwrap_err();
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
}

// ---- extensions ----

#[test]
fn extension_objects_keep_schemas_in_step() {
    let mut u = bjensen();
    u.as_object_mut().unwrap().remove(ENTERPRISE_USER_URN);
    u["schemas"] = json!([crate::USER_URN]);
    let out = patch(
        &u,
        json!([{ "op": "add", "path": format!("{ENTERPRISE_USER_URN}:department"), "value": "Sales" }]),
        &USER,
    );
    assert_eq!(out[ENTERPRISE_USER_URN], json!({ "department": "Sales" }));
    assert_eq!(
        out["schemas"],
        json!([crate::USER_URN, ENTERPRISE_USER_URN])
    );
    let back = patch(
        &out,
        json!([{ "op": "remove", "path": format!("{ENTERPRISE_USER_URN}:department") }]),
        &USER,
    );
    assert!(back.get(ENTERPRISE_USER_URN).is_none());
    assert_eq!(back["schemas"], json!([crate::USER_URN]));
    let nested = patch(
        &u,
        json!([{ "op": "add", "value": { ENTERPRISE_USER_URN: { "employeeNumber": "42", "manager": { "value": MANDY } } } }]),
        &USER,
    );
    assert_eq!(nested[ENTERPRISE_USER_URN]["employeeNumber"], json!("42"));
    assert_eq!(
        nested[ENTERPRISE_USER_URN]["manager"],
        json!({ "value": MANDY })
    );
    let cleared = patch(
        &nested,
        json!([{ "op": "replace", "value": { ENTERPRISE_USER_URN: null } }]),
        &USER,
    );
    assert!(cleared.get(ENTERPRISE_USER_URN).is_none());
    assert_eq!(cleared["schemas"], json!([crate::USER_URN]));
}

/// A path that is an extension's URN alone targets the extension object as one
/// complex attribute (RFC 7644 §3.5.2.1–3, scim2-tester sends these): add merges,
/// replace replaces, remove drops it and its URN from `schemas`; a `schemas` member
/// of the value is ignored.
#[test]
fn an_extension_urn_path_targets_the_extension_object() {
    let mut u = bjensen();
    u.as_object_mut().unwrap().remove(ENTERPRISE_USER_URN);
    u["schemas"] = json!([crate::USER_URN]);
    let ext = ENTERPRISE_USER_URN;
    let added = patch(
        &u,
        json!([{ "op": "add", "path": ext, "value": {
            "schemas": [ext], "employeeNumber": "42", "manager": { "value": MANDY }
        } }]),
        &USER,
    );
    assert_eq!(
        added[ext],
        json!({ "employeeNumber": "42", "manager": { "value": MANDY } })
    );
    assert_eq!(added["schemas"], json!([crate::USER_URN, ext]));
    let merged = patch(
        &added,
        json!([{ "op": "add", "path": ext.to_lowercase(), "value": { "department": "Rides" } }]),
        &USER,
    );
    assert_eq!(merged[ext]["employeeNumber"], json!("42"), "add merges");
    assert_eq!(merged[ext]["department"], json!("Rides"));
    let replaced = patch(
        &merged,
        json!([{ "op": "replace", "path": ext, "value": { "schemas": [ext], "costCenter": "4130" } }]),
        &USER,
    );
    assert_eq!(
        replaced[ext],
        json!({ "costCenter": "4130" }),
        "replace replaces"
    );
    let removed = patch(&replaced, json!([{ "op": "remove", "path": ext }]), &USER);
    assert!(removed.get(ext).is_none());
    assert_eq!(removed["schemas"], json!([crate::USER_URN]));
    assert_eq!(
        patch(&u, json!([{ "op": "remove", "path": ext }]), &USER),
        u,
        "removing an absent extension changes nothing"
    );
    let nulled = patch(
        &added,
        json!([{ "op": "replace", "path": ext, "value": null }]),
        &USER,
    );
    assert!(nulled.get(ext).is_none());
    expect(
        &u,
        json!([{ "op": "add", "path": ext, "value": "x" }]),
        &USER,
        ScimType::InvalidValue,
    );
    expect(
        &u,
        json!([{ "op": "add", "path": ext, "value": { "nosuch": "x" } }]),
        &USER,
        ScimType::InvalidPath,
    );
    expect(
        &tour_guides(),
        json!([{ "op": "add", "path": ext, "value": { "department": "x" } }]),
        &GROUP,
        ScimType::InvalidPath,
    );
}

// ---- identity-provider quirks ----

#[test]
fn entra_id_quirks() {
    let u = bjensen();
    // String booleans, capitalised ops.
    let out = patch(
        &u,
        json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        &USER,
    );
    assert_eq!(out["active"], json!(false));
    // Manager as a bare id.
    let out = patch(
        &u,
        json!([{ "op": "Add", "path": format!("{ENTERPRISE_USER_URN}:manager"), "value": MANDY }]),
        &USER,
    );
    assert_eq!(
        out[ENTERPRISE_USER_URN]["manager"]["value"],
        json!(MANDY),
        "merged into the manager object"
    );
    // Creating a work email through a filtered add.
    let mut v = u.clone();
    v["emails"] = json!([{ "value": "babs@jensen.org", "type": "home" }]);
    let out = patch(
        &v,
        json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "babs@work.example" }]),
        &USER,
    );
    assert_eq!(
        out["emails"][1],
        json!({ "type": "work", "value": "babs@work.example" })
    );
    // …and updating it the same way once it exists.
    let again = patch(
        &out,
        json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "b2@work.example" }]),
        &USER,
    );
    assert_eq!(again["emails"].as_array().unwrap().len(), 2);
    assert_eq!(again["emails"][1]["value"], json!("b2@work.example"));
    // A created value that names an existing member merges into it.
    let g = tour_guides();
    let out = patch(
        &g,
        json!([
            { "op": "remove", "path": "members", "value": [{ "value": BABS }] },
            { "op": "add", "path": format!("members[value eq \"{BABS}\"]"), "value": { "value": MANDY } }
        ]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [MANDY], "no duplicate member");
    // A filter that does not describe a value cannot create one.
    expect(
        &v,
        json!([{ "op": "add", "path": "emails[value co \"work\"].type", "value": "work" }]),
        &USER,
        ScimType::NoTarget,
    );
    // Group member removal with a value removes only those members.
    let out = patch(
        &tour_guides(),
        json!([{ "op": "Remove", "path": "members", "value": [{ "value": BABS }] }]),
        &GROUP,
    );
    assert_eq!(member_ids(&out), [MANDY]);
    // Path-less replace whose keys are attribute paths.
    let out = patch(
        &u,
        json!([{
            "op": "Replace",
            "value": {
                "name.givenName": "Barb",
                "urn:ietf:params:scim:schemas:core:2.0:User:title": "Lead",
                format!("{ENTERPRISE_USER_URN}:department"): "Rides",
                format!("{ENTERPRISE_USER_URN}:manager.value"): JAMES
            }
        }]),
        &USER,
    );
    assert_eq!(out["name"]["givenName"], json!("Barb"));
    assert_eq!(out["name"]["familyName"], json!("Jensen"));
    assert_eq!(out["title"], json!("Lead"));
    assert_eq!(out[ENTERPRISE_USER_URN]["department"], json!("Rides"));
    assert_eq!(out[ENTERPRISE_USER_URN]["manager"]["value"], json!(JAMES));
    assert_eq!(
        out[ENTERPRISE_USER_URN]["manager"]["displayName"],
        json!("John Smith"),
        "untouched sub-attributes stay"
    );
}

#[test]
fn okta_quirks() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([{ "op": "replace", "value": { "active": false } }]),
        &USER,
    );
    assert_eq!(out["active"], json!(false));
    let mut expected = u.clone();
    expected["active"] = json!(false);
    assert_eq!(out, expected, "nothing else changes");
    // Okta sends the group's id and displayName along on path-less replaces.
    let g = tour_guides();
    let out = patch(
        &g,
        json!([{ "op": "replace", "value": { "id": g["id"].clone(), "displayName": "Guides" } }]),
        &GROUP,
    );
    assert_eq!(out["displayName"], json!("Guides"));
    // Members with display names: the display is the server's.
    let out = patch(
        &g,
        json!([{ "op": "add", "path": "members", "value": [{ "value": JAMES, "display": "James Smith" }] }]),
        &GROUP,
    );
    assert_eq!(out["members"][2], json!({ "value": JAMES }));
}

#[test]
fn attribute_keys_are_canonicalised() {
    let u = bjensen();
    let out = patch(
        &u,
        json!([
            { "op": "replace", "path": "USERNAME", "value": "babs" },
            { "op": "replace", "path": "Name.GivenName", "value": "B" },
            { "op": "add", "path": "EMAILS", "value": { "VALUE": "c@x", "Type": "other" } }
        ]),
        &USER,
    );
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert!(keys.iter().any(|k| *k == "userName"));
    assert!(!keys.iter().any(|k| k.as_str() == "USERNAME"));
    assert_eq!(out["userName"], json!("babs"));
    assert_eq!(out["name"]["givenName"], json!("B"));
    assert_eq!(out["emails"][2], json!({ "value": "c@x", "type": "other" }));
    // A stored resource with odd key spellings is updated in place, not duplicated.
    let mut odd = u.clone();
    let t = odd.as_object_mut().unwrap().remove("title").unwrap();
    odd["TITLE"] = t;
    let out = patch(
        &odd,
        json!([{ "op": "replace", "path": "title", "value": "New" }]),
        &USER,
    );
    assert_eq!(out["title"], json!("New"));
    assert!(out.get("TITLE").is_none());
    // `schemas` in a path-less value is ignored, not an error.
    let out = patch(
        &u,
        json!([{ "op": "replace", "value": { "schemas": ["urn:x"], "title": "T" } }]),
        &USER,
    );
    assert_eq!(out["schemas"], u["schemas"]);
    assert_eq!(out["title"], json!("T"));
}

#[test]
fn date_times_are_checked() {
    // No writable dateTime exists in Roster's schemas; meta's are readOnly.
    let u = bjensen();
    expect(
        &u,
        json!([{ "op": "replace", "path": "meta.lastModified", "value": "2012-05-13T04:42:34Z" }]),
        &USER,
        ScimType::Mutability,
    );
    let same = patch(
        &u,
        json!([{ "op": "replace", "path": "meta.lastModified", "value": "2011-05-13T06:42:34+02:00" }]),
        &USER,
    );
    assert_eq!(
        same, u,
        "restating a readOnly value (the same instant) is a no-op"
    );
}

#[test]
fn numbers_are_typed() {
    use super::PROBE;
    let r = json!({ "id": "1" });
    let out = patch(
        &r,
        json!([
            { "op": "add", "path": "count", "value": 5 },
            { "op": "add", "path": "ratio", "value": 0.25 }
        ]),
        &PROBE,
    );
    assert_eq!(out["count"], json!(5));
    assert_eq!(out["ratio"], json!(0.25));
    let out = patch(
        &r,
        json!([{ "op": "add", "path": "ratio", "value": 2 }]),
        &PROBE,
    );
    assert_eq!(out["ratio"], json!(2), "an integer is a decimal");
    for v in [json!(1.5), json!("5"), json!(true)] {
        expect(
            &r,
            json!([{ "op": "add", "path": "count", "value": v }]),
            &PROBE,
            ScimType::InvalidValue,
        );
    }
    expect(
        &r,
        json!([{ "op": "add", "path": "ratio", "value": "0.5" }]),
        &PROBE,
        ScimType::InvalidValue,
    );
}
