//! Projection (`attributes` / `excludedAttributes`) and sorting.

use serde_json::{Value, json};
use std::cmp::Ordering;

use super::{PROBE, bjensen, tour_guides};
use crate::{ENTERPRISE_USER_URN, GROUP, Projection, ScimType, SortBy, SortKey, SortOrder, USER};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn default_projection_hides_never_returned_attributes() {
    let mut u = bjensen();
    u["notInSchema"] = json!("leak?");
    let out = Projection::new(&USER, None, None).apply(&u);
    assert!(out.get("password").is_none());
    assert!(
        out.get("notInSchema").is_none(),
        "unknown attributes are not returned"
    );
    let mut expected = bjensen();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expected);
    let blank = Projection::new(&USER, Some("  "), Some("")).apply(&u);
    assert_eq!(blank, expected, "blank parameters mean the defaults");
}

#[test]
fn attributes_select_plus_always_returned() {
    let u = bjensen();
    let out = Projection::new(&USER, Some("userName"), None).apply(&u);
    assert_eq!(
        out,
        json!({ "schemas": u["schemas"].clone(), "id": u["id"].clone(), "userName": u["userName"].clone() })
    );
    let out = Projection::new(
        &USER,
        Some("name.givenName, emails.value,meta.lastModified"),
        None,
    )
    .apply(&u);
    assert_eq!(keys(&out), ["emails", "id", "meta", "name", "schemas"]);
    assert_eq!(out["name"], json!({ "givenName": "Barbara" }));
    assert_eq!(
        out["emails"],
        json!([{ "value": "bjensen@example.com" }, { "value": "babs@jensen.org" }])
    );
    assert_eq!(
        out["meta"],
        json!({ "lastModified": "2011-05-13T04:42:34Z" })
    );
    let out = Projection::new(&USER, Some("USERNAME,Name"), None).apply(&u);
    assert_eq!(
        out["name"], u["name"],
        "a whole complex attribute, case-insensitive"
    );
    assert_eq!(out["userName"], u["userName"]);
    let out = Projection::new(&USER, Some("password,nosuch"), None).apply(&u);
    assert_eq!(
        keys(&out),
        ["id", "schemas"],
        "never is never; unknown selects nothing"
    );
}

#[test]
fn urn_qualified_and_extension_selection() {
    let u = bjensen();
    let out = Projection::new(
        &USER,
        Some(&format!(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName,{ENTERPRISE_USER_URN}:department,{ENTERPRISE_USER_URN}:manager.value"
        )),
        None,
    )
    .apply(&u);
    assert_eq!(out["userName"], u["userName"]);
    assert_eq!(
        out[ENTERPRISE_USER_URN],
        json!({ "department": "Tour Operations", "manager": { "value": "26118915-6090-4610-87e4-49d8ca9f808d" } })
    );
    let out = Projection::new(&USER, Some(ENTERPRISE_USER_URN), None).apply(&u);
    assert_eq!(
        out[ENTERPRISE_USER_URN], u[ENTERPRISE_USER_URN],
        "a schema URN names all of it"
    );
    assert!(out.get("userName").is_none());
    let out = Projection::new(&USER, None, Some(ENTERPRISE_USER_URN)).apply(&u);
    assert!(out.get(ENTERPRISE_USER_URN).is_none());
    assert_eq!(out["userName"], u["userName"]);
    let out =
        Projection::new(&USER, None, Some(&format!("{ENTERPRISE_USER_URN}:manager"))).apply(&u);
    assert!(out[ENTERPRISE_USER_URN].get("manager").is_none());
    assert_eq!(out[ENTERPRISE_USER_URN]["costCenter"], json!("4130"));
}

#[test]
fn excluded_attributes_cannot_hide_always_returned_ones() {
    let u = bjensen();
    let out = Projection::new(
        &USER,
        None,
        Some("emails,name.familyName,id,schemas,groups"),
    )
    .apply(&u);
    assert!(out.get("emails").is_none());
    assert!(out.get("groups").is_none());
    assert!(out["name"].get("familyName").is_none());
    assert_eq!(out["name"]["givenName"], json!("Barbara"));
    assert_eq!(out["id"], u["id"]);
    assert_eq!(out["schemas"], u["schemas"]);
    let both = Projection::new(&USER, Some("userName,title"), Some("title")).apply(&u);
    assert_eq!(keys(&both), ["id", "schemas", "userName"], "exclusion wins");
    let g = Projection::new(&GROUP, Some("members.value"), None).apply(&tour_guides());
    assert_eq!(
        g["members"],
        json!([
            { "value": "2819c223-7f76-453a-919d-413861904646" },
            { "value": "902c246b-6245-4190-8e05-00816be7344a" }
        ])
    );
    assert!(Projection::new(&USER, None, None).apply(&json!("x")) == json!("x"));
}

#[test]
fn returned_request_only_when_asked() {
    let r = json!({
        "id": "1",
        "plain": "p",
        "onRequest": "r",
        "box": { "shown": "s", "asked": "a", "hidden": "h" }
    });
    let out = Projection::new(&PROBE, None, None).apply(&r);
    assert_eq!(
        out,
        json!({ "id": "1", "plain": "p", "box": { "shown": "s" } })
    );
    let out = Projection::new(&PROBE, Some("onRequest,box.asked"), None).apply(&r);
    assert_eq!(
        out,
        json!({ "id": "1", "onRequest": "r", "box": { "asked": "a" } })
    );
    let out = Projection::new(&PROBE, Some("box"), None).apply(&r);
    assert_eq!(
        out,
        json!({ "id": "1", "box": { "shown": "s", "asked": "a" } }),
        "never stays hidden"
    );
    let out = Projection::new(&PROBE, Some("onRequest"), Some("onRequest")).apply(&r);
    assert_eq!(out, json!({ "id": "1" }));
}

/// A group member's `display` is `returned: request` (the server derives it; clients
/// that compare the members they wrote with the ones answered see only theirs): not
/// in the default representation, returned when `members.display` or `members` is
/// named.
#[test]
fn member_display_is_returned_on_request() {
    let g = tour_guides();
    let out = Projection::new(&GROUP, None, None).apply(&g);
    for m in out["members"].as_array().unwrap() {
        assert_eq!(keys(m), ["$ref", "type", "value"], "{m}");
    }
    let out = Projection::new(&GROUP, Some("members.display"), None).apply(&g);
    assert_eq!(
        out["members"],
        json!([{ "display": "Babs Jensen" }, { "display": "Mandy Pepperidge" }])
    );
    let out = Projection::new(&GROUP, Some("displayName,members"), None).apply(&g);
    assert_eq!(
        out["members"], g["members"],
        "the whole attribute, display included"
    );
    let out = Projection::new(&GROUP, Some("members"), Some("members.display")).apply(&g);
    assert!(out["members"][0].get("display").is_none());
}

// ---- sorting ----

fn user(user_name: &str) -> Value {
    json!({ "id": user_name, "userName": user_name })
}

fn sorted(by: &SortBy, mut items: Vec<Value>, field: &str) -> Vec<String> {
    items.sort_by(|a, b| by.compare(a, b));
    items
        .iter()
        .map(|v| {
            v.pointer(field)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned()
        })
        .collect()
}

#[test]
fn sort_order_parameter() {
    assert_eq!(SortOrder::parse(None).unwrap(), SortOrder::Ascending);
    assert_eq!(SortOrder::parse(Some("")).unwrap(), SortOrder::Ascending);
    assert_eq!(
        SortOrder::parse(Some("Ascending")).unwrap(),
        SortOrder::Ascending
    );
    assert_eq!(
        SortOrder::parse(Some("DESCENDING")).unwrap(),
        SortOrder::Descending
    );
    assert_eq!(
        SortOrder::parse(Some("up")).unwrap_err().scim_type,
        Some(ScimType::InvalidValue)
    );
}

#[test]
fn sort_by_validates_the_attribute() {
    for bad in ["nosuch", "name", "addresses", "meta", ""] {
        let e = SortBy::parse(bad, None, &USER).expect_err(bad);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
    }
    let s = SortBy::parse(" name.familyName ", Some("descending"), &USER).unwrap();
    assert_eq!(s.path().to_string(), "name.familyName");
    assert_eq!(s.order(), SortOrder::Descending);
    assert!(
        SortBy::parse("emails", None, &USER).is_ok(),
        "complex with value"
    );
    assert!(SortBy::parse(&format!("{ENTERPRISE_USER_URN}:manager"), None, &USER).is_ok());
}

#[test]
fn strings_sort_by_case_exactness() {
    let names = vec![user("b"), user("A"), user("c"), user("a")];
    let by = SortBy::parse("userName", None, &USER).unwrap();
    assert_eq!(
        sorted(&by, names.clone(), "/userName"),
        ["A", "a", "b", "c"],
        "case-insensitive, stable"
    );
    let by = SortBy::parse("id", None, &USER).unwrap();
    assert_eq!(sorted(&by, names.clone(), "/id"), ["A", "a", "b", "c"]);
    let names = vec![user("b"), user("a"), user("B")];
    assert_eq!(
        sorted(&by, names, "/id"),
        ["B", "a", "b"],
        "id is caseExact: code-point order"
    );
    assert_eq!(
        SortBy::parse("userName", None, &USER)
            .unwrap()
            .key(&user("MiXeD")),
        Some(SortKey::Text("mixed".into()))
    );
}

#[test]
fn missing_values_last_ascending_first_descending() {
    let items = vec![json!({ "id": "none" }), user("b"), user("a")];
    let asc = SortBy::parse("userName", Some("ascending"), &USER).unwrap();
    assert_eq!(sorted(&asc, items.clone(), "/id"), ["a", "b", "none"]);
    let desc = SortBy::parse("userName", Some("descending"), &USER).unwrap();
    assert_eq!(sorted(&desc, items, "/id"), ["none", "b", "a"]);
    assert_eq!(desc.compare_keys(None, None), Ordering::Equal);
}

#[test]
fn multi_valued_sort_uses_primary_or_first() {
    let a =
        json!({ "id": "a", "emails": [{ "value": "z@x" }, { "value": "b@x", "primary": true }] });
    let b = json!({ "id": "b", "emails": [{ "value": "c@x" }, { "value": "a@x" }] });
    let c = json!({ "id": "c", "emails": [] });
    let by = SortBy::parse("emails.value", None, &USER).unwrap();
    assert_eq!(by.key(&a), Some(SortKey::Text("b@x".into())));
    assert_eq!(by.key(&b), Some(SortKey::Text("c@x".into())));
    assert_eq!(by.key(&c), None);
    assert_eq!(
        sorted(&by, vec![c.clone(), b.clone(), a.clone()], "/id"),
        ["a", "b", "c"]
    );
    let by_type = SortBy::parse("emails", None, &USER).unwrap();
    assert_eq!(
        by_type.key(&a),
        Some(SortKey::Text("b@x".into())),
        "emails sorts by emails.value"
    );
}

#[test]
fn typed_sort_keys() {
    let at = |t: &str| json!({ "id": t, "meta": { "lastModified": t } });
    let by = SortBy::parse("meta.lastModified", None, &USER).unwrap();
    assert_eq!(
        sorted(
            &by,
            vec![
                at("2011-05-13T04:42:34Z"),
                at("2011-05-13T05:00:00+02:00"),
                at("2010-01-01T00:00:00Z")
            ],
            "/id"
        ),
        [
            "2010-01-01T00:00:00Z",
            "2011-05-13T05:00:00+02:00",
            "2011-05-13T04:42:34Z"
        ],
        "chronological, not lexicographic"
    );
    let by = SortBy::parse("active", Some("descending"), &USER).unwrap();
    let t = json!({ "id": "t", "active": true });
    let f = json!({ "id": "f", "active": false });
    let junk = json!({ "id": "j", "active": "yes" });
    assert_eq!(
        sorted(&by, vec![f, junk, t], "/id"),
        ["j", "t", "f"],
        "ill-typed values count as missing"
    );
    assert!(SortKey::Bool(true) < SortKey::Number(0.0));
    assert!(SortKey::Number(2.0) < SortKey::DateTime(0));
    assert!(SortKey::DateTime(5) < SortKey::Text(String::new()));
    assert_eq!(SortKey::Number(1.0), SortKey::Number(1.0));
}
