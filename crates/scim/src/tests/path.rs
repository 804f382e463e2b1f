//! PATCH paths (RFC 7644 §3.5.2 `PATH`).

use crate::path::MAX_PATH_LEN;
use crate::{AttrPath, ENTERPRISE_USER_URN, GROUP, PatchPath, ResourceType, ScimType, USER};

fn parse(text: &str, rt: &'static ResourceType) -> PatchPath {
    PatchPath::parse(text, rt).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn rfc_paths_parse_and_display_canonically() {
    let cases: &[(&str, &'static ResourceType, &str)] = &[
        ("userName", &USER, "userName"),
        ("name.familyName", &USER, "name.familyName"),
        ("emails", &USER, "emails"),
        (
            "emails[type eq \"work\"].value",
            &USER,
            "emails[type eq \"work\"].value",
        ),
        (
            "addresses[type eq \"work\"].streetAddress",
            &USER,
            "addresses[type eq \"work\"].streetAddress",
        ),
        (
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
            &GROUP,
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
        ),
        (
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].display",
            &GROUP,
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].display",
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            &USER,
            "name.givenName",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            &USER,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            &USER,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        ),
        (
            "EMAILS[TYPE EQ \"work\" AND Primary Eq True].Value",
            &USER,
            "emails[type eq \"work\" and primary eq true].value",
        ),
        (
            "emails[value eq \"a]b\"].type",
            &USER,
            "emails[value eq \"a]b\"].type",
        ),
        (
            "phoneNumbers[type eq \"mobile\" or (type eq \"work\" and not (primary eq true))]",
            &USER,
            "phoneNumbers[type eq \"mobile\" or type eq \"work\" and not (primary eq true)]",
        ),
    ];
    for (text, rt, canonical) in cases {
        let p = parse(text, rt);
        assert_eq!(p.to_string(), *canonical, "{text}");
        assert_eq!(parse(canonical, rt), p, "{canonical}");
    }
}

#[test]
fn parts_are_exposed() {
    let p = parse("emails[type eq \"work\"].value", &USER);
    assert_eq!(p.attr_path().unwrap().attribute().name, "emails");
    assert_eq!(
        p.attr_path().unwrap().sub_attribute().unwrap().name,
        "value"
    );
    assert_eq!(format!("{:#}", p.filter().unwrap()), "type eq \"work\"");
    let m = parse(&format!("{ENTERPRISE_USER_URN}:manager"), &USER);
    assert!(m.attr_path().unwrap().is_extension());
    assert!(m.filter().is_none());
    assert_eq!(m.attr_path().unwrap().schema().id, ENTERPRISE_USER_URN);
    assert_eq!(
        AttrPath::parse("name.givenName", &USER).unwrap(),
        *parse("NAME.givenname", &USER).attr_path().unwrap()
    );
}

/// An extension's URN alone is a PATCH path (RFC 7643 §3.3: the extension object is
/// keyed by it): it names the extension, not an attribute, and prints back as the URN.
#[test]
fn an_extension_urn_alone_is_a_patch_path() {
    let p = parse(&ENTERPRISE_USER_URN.to_uppercase(), &USER);
    assert_eq!(p.extension().map(|s| s.id), Some(ENTERPRISE_USER_URN));
    assert!(p.attr_path().is_none());
    assert!(p.filter().is_none());
    assert_eq!(p.to_string(), ENTERPRISE_USER_URN);
    assert_eq!(parse(ENTERPRISE_USER_URN, &USER), p);
    assert!(
        parse(&format!("{ENTERPRISE_USER_URN}:manager"), &USER)
            .extension()
            .is_none()
    );
}

#[test]
fn bad_paths_are_typed() {
    let path_errors: &[(&str, &'static ResourceType)] = &[
        ("", &USER),
        ("nosuch", &USER),
        ("name.nosuch", &USER),
        ("name.givenName.x", &USER),
        ("emails[type eq \"work\"].nosuch", &USER),
        ("emails[type eq \"work\"]x", &USER),
        ("emails[type eq \"work\"].", &USER),
        ("userName[value eq \"x\"]", &USER),
        ("emails.value[type eq \"x\"]", &USER),
        ("[type eq \"x\"]", &USER),
        (ENTERPRISE_USER_URN, &GROUP),
        ("urn:ietf:params:scim:schemas:core:2.0:User", &USER),
        (
            &format!("{ENTERPRISE_USER_URN}[employeeNumber eq \"1\"]"),
            &USER,
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            &GROUP,
        ),
        ("members", &USER),
    ];
    for (text, rt) in path_errors {
        let e = PatchPath::parse(text, rt).expect_err(text);
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text}: {e}");
    }
    for text in [
        "emails[nosuch eq \"x\"]",
        "emails[type eq \"work\"",
        "emails[type eq work]",
        "emails[]",
        "emails[type gt true]",
        "emails[emails[type pr]]",
    ] {
        let e = PatchPath::parse(text, &USER).expect_err(text);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{text}: {e}");
    }
    let e = PatchPath::parse("nosuch", &USER).unwrap_err();
    assert!(e.detail.contains("\"nosuch\""), "{}", e.detail);
    let long = "a".repeat(MAX_PATH_LEN + 1);
    assert_eq!(
        PatchPath::parse(&long, &USER).unwrap_err().scim_type,
        Some(ScimType::InvalidPath)
    );
}
