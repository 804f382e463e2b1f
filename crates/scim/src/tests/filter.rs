//! Filters: RFC 7644 §3.4.2.2's examples, the schema-driven evaluation rules,
//! validation, bounds and the planner helpers.

use serde_json::{Value, json};

use super::{bjensen, tour_guides};
use crate::filter::{MAX_FILTER_DEPTH, MAX_FILTER_LEN};
use crate::{
    CompValue, CompareOp, Filter, GROUP, ResourceType, ScimError, ScimType, USER,
    required_equalities, substring_terms,
};

fn parse(text: &str) -> Filter {
    Filter::parse(text, &USER).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn matches(text: &str, resource: &Value) -> bool {
    parse(text).matches(resource)
}

fn invalid(text: &str, rt: &'static ResourceType) -> ScimError {
    let e = Filter::parse(text, rt).expect_err(text);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{text}: {e}");
    assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
    e
}

/// Every example of RFC 7644 §3.4.2.2, parsed, displayed canonically, and evaluated
/// against RFC 7643's Barbara Jensen.
#[test]
fn rfc_7644_filter_examples() {
    let u = bjensen();
    let cases: &[(&str, &str, bool)] = &[
        ("userName eq \"bjensen\"", "userName eq \"bjensen\"", false),
        (
            "name.familyName co \"O'Malley\"",
            "name.familyName co \"O'Malley\"",
            false,
        ),
        ("userName sw \"J\"", "userName sw \"J\"", false),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            "userName sw \"J\"",
            false,
        ),
        ("title pr", "title pr", true),
        (
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            false,
        ),
        (
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            true,
        ),
        (
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            false,
        ),
        (
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            true,
        ),
        (
            "title pr and userType eq \"Employee\"",
            "title pr and userType eq \"Employee\"",
            true,
        ),
        (
            "title pr or userType eq \"Intern\"",
            "title pr or userType eq \"Intern\"",
            true,
        ),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            true,
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            true,
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            false,
        ),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            "userType eq \"Employee\" and emails.type eq \"work\"",
            true,
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
    ];
    for (text, canonical, expected) in cases {
        let f = parse(text);
        assert_eq!(f.to_string(), *canonical, "display of {text}");
        assert_eq!(parse(canonical), f, "re-parse of {canonical}");
        assert_eq!(f.matches(&u), *expected, "{text}");
    }
    // The last example names `ims`, which Roster does not support: refused, named.
    let e = invalid(
        "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
        &USER,
    );
    assert!(e.detail.contains("\"ims\""), "{}", e.detail);
    // …and the same shape over a supported attribute works.
    assert!(matches(
        "emails[type eq \"work\" and value co \"@example.com\"] or phoneNumbers[type eq \"xmpp\" and value co \"@foo.com\"]",
        &u
    ));
}

#[test]
fn rfc_examples_match_when_the_data_says_so() {
    let mut u = bjensen();
    u["userName"] = json!("J.Smith");
    u["name"]["familyName"] = json!("O'Malley-Jones");
    assert!(
        matches("userName sw \"j\"", &u),
        "sw is case-insensitive on userName"
    );
    assert!(matches(
        "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
        &u
    ));
    assert!(matches("name.familyName co \"o'malley\"", &u));
    assert!(matches("meta.lastModified gt \"2011-05-13T04:42:33Z\"", &u));
    assert!(
        matches("meta.lastModified gt \"2011-05-13T05:42:33+02:00\"", &u),
        "chronological, not lexicographic: 05:42+02:00 is 03:42Z"
    );
    assert!(!matches(
        "meta.lastModified lt \"2011-05-13T05:42:33+02:00\"",
        &u
    ));
    u["userType"] = json!("Intern");
    assert!(matches("title pr or userType eq \"Intern\"", &u));
    u["title"] = json!("");
    assert!(!matches("title pr", &u), "an empty string is not present");
    u.as_object_mut().unwrap().remove("title");
    assert!(!matches("title pr", &u));
    assert!(matches(
        "userType ne \"Employee\" and not (emails co \"nomatch\")",
        &u
    ));
}

#[test]
fn value_paths_match_within_one_value() {
    let u = bjensen();
    assert!(!matches(
        "emails[type eq \"home\" and value co \"@example.com\"]",
        &u
    ));
    assert!(
        matches(
            "emails.type eq \"home\" and emails.value co \"@example.com\"",
            &u
        ),
        "outside brackets, the two conditions may hold on different values"
    );
    assert!(matches("emails[type eq \"work\" and primary eq true]", &u));
    assert!(!matches("emails[type eq \"home\" and primary eq true]", &u));
    assert!(matches("emails[not (type eq \"work\")]", &u));
    assert!(
        matches("name[givenName eq \"barbara\"]", &u),
        "single complex"
    );
    assert!(matches("emails[display pr] or emails[type pr]", &u));
    assert!(!matches("emails[display pr]", &u));
    let g = tour_guides();
    let f = Filter::parse(
        "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
        &GROUP,
    )
    .unwrap();
    assert!(f.matches(&g));
    let f = Filter::parse(
        "members[value eq \"2819C223-7F76-453A-919D-413861904646\"]",
        &GROUP,
    )
    .unwrap();
    assert!(!f.matches(&g), "members.value is caseExact");
}

#[test]
fn case_exactness_follows_the_schema() {
    let u = bjensen();
    assert!(matches("userName eq \"BJENSEN@EXAMPLE.COM\"", &u));
    assert!(matches("emails.value eq \"BJensen@Example.com\"", &u));
    assert!(matches("emails eq \"BABS@JENSEN.ORG\"", &u));
    assert!(matches(
        "id eq \"2819c223-7f76-453a-919d-413861904646\"",
        &u
    ));
    assert!(!matches(
        "id eq \"2819C223-7F76-453A-919D-413861904646\"",
        &u
    ));
    assert!(matches("externalId eq \"701984\"", &u));
    let mut v = u.clone();
    v["externalId"] = json!("AbC");
    assert!(!matches("externalId eq \"abc\"", &v));
    assert!(matches("externalId eq \"AbC\"", &v));
    assert!(!matches("externalId sw \"ab\"", &v));
    assert!(
        matches("userName gt \"BJ\"", &u),
        "ordering folds case: bjensen@… > bj"
    );
    assert!(matches("userName lt \"C\"", &u));
    assert!(!matches("id gt \"3\"", &u));
}

#[test]
fn multi_valued_and_complex_attributes() {
    let u = bjensen();
    assert!(
        matches("emails co \"jensen.org\"", &u),
        "emails compares emails.value"
    );
    assert!(matches("emails pr", &u));
    assert!(matches("phoneNumbers ew \"4444\"", &u));
    assert!(matches("addresses.locality eq \"hollywood\"", &u));
    assert!(!matches("roles pr", &u));
    assert!(matches("name pr", &u));
    assert!(
        matches("emails.display eq null", &u),
        "no email has a display"
    );
    assert!(matches("emails.value ne null", &u));
    assert!(matches("nickName ne \"Bob\"", &u));
    assert!(
        !matches("emails ne \"babs@jensen.org\"", &u),
        "ne on multi-valued: no value may equal"
    );
    assert!(matches("emails ne \"x@y\"", &u));
    assert!(matches("roles ne \"admin\"", &u), "ne matches unassigned");
    assert!(!matches("roles eq \"admin\"", &u));
    assert!(
        !matches("roles.value lt \"z\"", &u),
        "comparisons on unassigned are false"
    );
    assert!(matches("active eq true", &u));
    assert!(!matches("active eq false", &u));
    assert!(matches("active ne false", &u));
    assert!(
        matches(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"tour operations\"",
            &u
        ),
        "extension attribute, case-insensitive"
    );
    assert!(matches(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        &u
    ));
    assert!(matches(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName sw \"john\"",
        &u
    ));
    assert!(matches("groups.display eq \"Tour Guides\"", &u));
    assert!(matches("meta.resourceType eq \"User\"", &u));
    assert!(
        !Filter::parse("displayName eq \"Tour Guides\"", &GROUP)
            .unwrap()
            .matches(&u)
    );
}

#[test]
fn keywords_operators_and_names_are_case_insensitive() {
    let f = parse("USERNAME EQ \"a\" AND Active Eq TRUE OR Not (Title PR)");
    assert_eq!(
        f.to_string(),
        "userName eq \"a\" and active eq true or not (title pr)"
    );
    let g =
        parse("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager.VALUE eq \"x\"");
    assert_eq!(
        g.to_string(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\""
    );
    assert_eq!(
        parse("EMAILS[TYPE EQ \"work\"]").to_string(),
        "emails[type eq \"work\"]"
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let f = parse("title pr or userType eq \"a\" and nickName pr");
    let Filter::Or(items) = &f else {
        panic!("{f:?}")
    };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], Filter::And(_)));
    let g = parse("(title pr or userType eq \"a\") and nickName pr");
    let Filter::And(items) = &g else {
        panic!("{g:?}")
    };
    assert!(matches!(items[0], Filter::Or(_)));
    assert_eq!(
        g.to_string(),
        "(title pr or userType eq \"a\") and nickName pr"
    );
    let h = parse("not (title pr) and nickName pr");
    assert!(matches!(&h, Filter::And(items) if matches!(items[0], Filter::Not(_))));
    // and/or chains are flat, whatever their length.
    let chain = parse("title pr or nickName pr or locale pr or timezone pr");
    assert!(matches!(&chain, Filter::Or(items) if items.len() == 4));
    // Explicit grouping of the same operator is kept.
    let grouped = parse("title pr and (nickName pr and locale pr)");
    assert_eq!(
        grouped.to_string(),
        "title pr and (nickName pr and locale pr)"
    );
    let u = bjensen();
    assert!(matches("userType eq \"x\" and title pr or nickName pr", &u));
    assert!(!matches(
        "userType eq \"x\" and (title pr or nickName pr)",
        &u
    ));
}

#[test]
fn whitespace_and_grouping_are_lenient_in_input_canonical_in_output() {
    for text in [
        "  userName eq \"a\"  ",
        "(userName eq \"a\")",
        "((  userName   eq\t\"a\" ))",
    ] {
        assert_eq!(parse(text).to_string(), "userName eq \"a\"", "{text}");
    }
    assert_eq!(parse("not(title pr)").to_string(), "not (title pr)");
    assert_eq!(
        parse("emails[ type eq \"w\" ]").to_string(),
        "emails[type eq \"w\"]"
    );
}

#[test]
fn comparison_values_are_json() {
    let f = parse(r#"displayName eq "a\"b\\c\u00e9\n/""#);
    let Filter::Compare { value, op, .. } = &f else {
        panic!("{f:?}")
    };
    assert_eq!(*op, CompareOp::Eq);
    assert_eq!(*value, CompValue::String("a\"b\\c\u{e9}\n/".into()));
    assert_eq!(f.to_string(), "displayName eq \"a\\\"b\\\\cé\\n/\"");
    assert_eq!(parse(&f.to_string()), f);
    assert_eq!(
        parse("active eq False").to_string(),
        "active eq false",
        "ABNF literals are case-insensitive"
    );
    assert_eq!(parse("title eq NULL").to_string(), "title eq null");
    let e = invalid("title eq bjensen", &USER);
    assert!(e.detail.contains("quoted"), "{}", e.detail);
    invalid("title eq \"unterminated", &USER);
    invalid("title eq \"bad \\x escape\"", &USER);
    invalid("title eq \"raw \u{1} control\"", &USER);
    let e = invalid("active eq 1", &USER);
    assert!(e.detail.contains("boolean"), "{}", e.detail);
    invalid("active eq 1e999", &USER);
    invalid("active eq 01", &USER);
}

#[test]
fn operators_must_fit_the_attribute_type() {
    for text in [
        "active gt true",
        "active co \"t\"",
        "active eq \"true\"",
        "emails.primary le false",
        "name eq \"Barbara\"",
        "name gt \"a\"",
        "addresses co \"x\"",
        "meta eq \"x\"",
        "meta.created gt \"yesterday\"",
        "meta.created eq 5",
        "userName eq 5",
        "userName gt true",
        "userName co null",
        "userName gt null",
    ] {
        invalid(text, &USER);
    }
    let e = invalid("active gt true", &USER);
    assert!(e.detail.contains("active"), "{}", e.detail);
    // Substring operators on dateTime text are allowed.
    assert!(matches("meta.created sw \"2010-01\"", &bjensen()));
}

#[test]
fn malformed_filters_are_invalid_filter() {
    for text in [
        "",
        "   ",
        "userName",
        "userName eq",
        "userName eq ",
        "userName foo \"x\"",
        "userName eq \"x\" and",
        "userName eq \"x\" or or title pr",
        "(userName pr",
        "userName pr)",
        "userName pr title pr",
        "userName eq \"x\"title pr",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]]",
        "emails[emails[type pr]]",
        "emails[value eq \"a\"].value",
        "emails[value eq \"a\"].nosuch eq \"a\"",
        "emails[value eq \"a\"].value eq",
        "emails[value eq \"a\"]. value eq \"a\"",
        "userName[value eq \"x\"]",
        "emails.value[type eq \"x\"]",
        "emails[]",
        "not title pr",
        "and",
        "userName pr and",
        "\"userName\" eq \"x\"",
        "userName eq \"x\" ]",
    ] {
        invalid(text, &USER);
    }
}

/// Entra ID filters with a sub-attribute after a value filter; read as one value
/// filter whose conditions must hold for the same value.
#[test]
fn value_filter_then_sub_attribute_is_one_value_filter() {
    let f = parse("emails[type eq \"work\"].value eq \"bjensen@example.com\"");
    assert_eq!(
        f,
        parse("emails[type eq \"work\" and value eq \"bjensen@example.com\"]")
    );
    assert_eq!(
        f.to_string(),
        "emails[type eq \"work\" and value eq \"bjensen@example.com\"]"
    );
    assert!(f.matches(&bjensen()));
    // The home address is not the work one.
    assert!(!matches(
        "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
        &bjensen()
    ));
    assert!(matches(
        "emails[type eq \"work\" and primary eq true].value pr and userName pr",
        &bjensen()
    ));
    assert_eq!(
        parse("emails[type eq \"work\" or type eq \"home\"].value co \"jensen\"").to_string(),
        "emails[(type eq \"work\" or type eq \"home\") and value co \"jensen\"]"
    );
    assert_eq!(
        required_equalities(
            &parse("emails[type eq \"work\"].value eq \"a@b.c\""),
            "emails"
        ),
        Some(vec!["a@b.c".to_owned()])
    );
}

#[test]
fn unknown_attributes_are_named() {
    for (text, name) in [
        ("nosuch eq \"x\"", "nosuch"),
        ("name.nosuch eq \"x\"", "name.nosuch"),
        ("emails[nosuch eq \"x\"]", "emails.nosuch"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch pr",
            "enterprise:2.0:User:nosuch",
        ),
        ("urn:example:custom:foo pr", "urn:example:custom:foo"),
        ("department pr", "department"),
    ] {
        let e = invalid(text, &USER);
        assert!(e.detail.contains(name), "{text}: {}", e.detail);
    }
    let e = invalid(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
        &GROUP,
    );
    assert!(e.detail.contains("department"), "{}", e.detail);
}

#[test]
fn input_is_bounded() {
    let long = format!("title eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    let e = invalid(&long, &USER);
    assert!(e.detail.contains("4096"), "{}", e.detail);
    let ok_depth = format!(
        "{}title pr{}",
        "(".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert_eq!(parse(&ok_depth).to_string(), "title pr");
    let too_deep = format!(
        "{}title pr{}",
        "(".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    let e = invalid(&too_deep, &USER);
    assert!(e.detail.contains("nested"), "{}", e.detail);
    let nots = format!("{}title pr{}", "not (".repeat(40), ")".repeat(40));
    invalid(&nots, &USER);
    // The longest chains that fit are flat and evaluate fine.
    let mut chain = String::from("title pr");
    while chain.len() + 12 < MAX_FILTER_LEN {
        chain.push_str(" or title pr");
    }
    let f = parse(&chain);
    assert!(f.matches(&bjensen()));
    // Unbalanced garbage of any length is refused without recursion trouble.
    invalid(&"(".repeat(MAX_FILTER_LEN), &USER);
    invalid(&"[".repeat(100), &USER);
}

#[test]
fn evaluation_never_trusts_the_resource_shape() {
    let f = parse("emails[type eq \"work\"] and name.givenName sw \"b\" and active eq true");
    for weird in [
        json!(null),
        json!([]),
        json!("x"),
        json!({"emails": "x", "name": 5, "active": "yes"}),
        json!({"emails": [1, null, {"type": 3}], "name": {"givenName": ["b"]}}),
    ] {
        assert!(!f.matches(&weird), "{weird}");
    }
    assert!(
        !parse("meta.lastModified gt \"2000-01-01T00:00:00Z\"")
            .matches(&json!({"meta": {"lastModified": "garbage"}}))
    );
}

#[test]
fn required_equalities_pin_lookups() {
    let eqs = |text: &str, attr: &str| required_equalities(&parse(text), attr);
    assert_eq!(
        eqs("userName eq \"a\" or userName eq \"b\"", "userName"),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        eqs("userName eq \"a\" and active eq true", "userName"),
        Some(vec!["a".to_owned()])
    );
    assert_eq!(eqs("userName co \"a\"", "userName"), None);
    assert_eq!(eqs("userName eq \"a\" or active eq true", "userName"), None);
    assert_eq!(eqs("not (userName eq \"a\")", "userName"), None);
    assert_eq!(eqs("userName ne \"a\"", "userName"), None);
    assert_eq!(eqs("title eq \"a\"", "userName"), None);
    assert_eq!(
        eqs("userName eq \"A\" or USERNAME eq \"a\"", "username"),
        Some(vec!["A".to_owned()]),
        "userName is not caseExact: one value"
    );
    assert_eq!(
        eqs("id eq \"A\" or id eq \"a\"", "id"),
        Some(vec!["A".to_owned(), "a".to_owned()]),
        "id is caseExact: two values"
    );
    assert_eq!(
        eqs("userName eq \"a\" and userName eq \"b\"", "userName"),
        Some(vec![]),
        "contradiction: nothing matches"
    );
    assert_eq!(
        eqs(
            "userName eq \"a\" and (userName eq \"A\" or userName eq \"b\")",
            "userName"
        ),
        Some(vec!["a".to_owned()])
    );
    assert_eq!(
        eqs(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"",
            "userName"
        ),
        Some(vec!["a".to_owned()])
    );
    assert_eq!(
        eqs(
            "userName eq \"a\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName"
        ),
        Some(vec!["a".to_owned()])
    );
    assert_eq!(
        eqs(
            "externalId eq \"e1\" and (userName eq \"a\" or userName eq \"b\")",
            "externalId"
        ),
        Some(vec!["e1".to_owned()])
    );
    assert_eq!(
        eqs("emails eq \"x@y\"", "emails.value"),
        Some(vec!["x@y".to_owned()])
    );
    assert_eq!(
        eqs("emails[value eq \"x@y\"]", "emails"),
        Some(vec!["x@y".to_owned()])
    );
    assert_eq!(eqs("emails[type eq \"work\"]", "emails.value"), None);
    let members = Filter::parse(
        "members[value eq \"u1\"] or members.value eq \"u2\"",
        &GROUP,
    )
    .unwrap();
    assert_eq!(
        required_equalities(&members, "members.value"),
        Some(vec!["u1".to_owned(), "u2".to_owned()])
    );
    let dept = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    assert_eq!(
        eqs(&format!("{dept} eq \"x\""), dept),
        Some(vec!["x".to_owned()])
    );
    assert_eq!(
        eqs(&format!("{dept} eq \"x\""), "department"),
        None,
        "extension needs its URN"
    );
}

#[test]
fn substring_terms_cover_every_match() {
    let attrs = ["userName", "displayName", "emails"];
    let terms = |text: &str| substring_terms(&parse(text), &attrs);
    let t = terms("userName co \"ab\"").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].op, t[0].value.as_str()), (CompareOp::Co, "ab"));
    assert_eq!(t[0].path.to_string(), "userName");
    assert!(!t[0].case_exact());
    let t = terms("userName co \"ab\" or displayName sw \"x\"").unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].op, CompareOp::Sw);
    assert_eq!(terms("userName co \"ab\" or title pr"), None);
    let t = terms("active eq true and displayName ew \"son\"").unwrap();
    assert_eq!((t[0].op, t[0].value.as_str()), (CompareOp::Ew, "son"));
    let t =
        terms("userName eq \"exact\" and (displayName co \"a\" or displayName co \"b\")").unwrap();
    assert_eq!(t.len(), 1, "the conjunction picks its narrowest member");
    assert_eq!(t[0].op, CompareOp::Eq);
    assert_eq!(terms("active eq true"), None);
    assert_eq!(terms("not (userName co \"a\")"), None);
    assert_eq!(terms("userName gt \"a\""), None);
    assert_eq!(terms("title co \"a\""), None, "title is not indexed");
    let t = terms("emails[value ew \"@x.com\" and type eq \"work\"]").unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].path.to_string(), "emails.value");
    let ids = substring_terms(&parse("id sw \"28\""), &["id"]).unwrap();
    assert!(ids[0].case_exact());
    // Soundness on the sample: whenever the filter matches, a term holds.
    let u = bjensen();
    for text in [
        "userName co \"jensen\" or displayName sw \"Babs\"",
        "active eq true and displayName co \"jens\"",
        "emails[value ew \"jensen.org\"]",
    ] {
        let f = parse(text);
        assert!(f.matches(&u), "{text}");
        let ts = substring_terms(&f, &attrs).unwrap();
        assert!(
            ts.iter().any(|t| {
                Filter::Compare {
                    path: t.path,
                    op: t.op,
                    value: CompValue::String(t.value.clone()),
                }
                .matches(&u)
            }),
            "{text}"
        );
    }
}

#[test]
fn numbers_compare_numerically() {
    use super::PROBE;
    let r = json!({ "id": "1", "count": 10, "ratio": 1.5 });
    let m = |text: &str| {
        Filter::parse(text, &PROBE)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .matches(&r)
    };
    assert!(
        m("count gt 9"),
        "10 > 9 numerically (lexicographically it is not)"
    );
    assert!(m("count eq 10.0"));
    assert!(m("count ge 10 and count le 10"));
    assert!(!m("count lt -3"));
    assert!(m("ratio lt 2"));
    assert!(m("ratio gt 1.4e0"));
    assert!(m("ratio eq 15e-1"));
    assert!(m("count ne null"));
    for text in [
        "count co 1",
        "count eq \"10\"",
        "count gt true",
        "ratio sw 1",
    ] {
        invalid(text, &PROBE);
    }
    for text in [
        "count eq -0.5",
        "ratio gt 1e300",
        "count le 18446744073709551615",
        "count eq -9223372036854775808",
    ] {
        let f = Filter::parse(text, &PROBE).unwrap();
        assert_eq!(Filter::parse(&f.to_string(), &PROBE).unwrap(), f, "{text}");
    }
    assert_eq!(
        Filter::parse("ratio gt 1E+2", &PROBE).unwrap().to_string(),
        "ratio gt 100.0"
    );
}

#[test]
fn dollar_ref_is_an_attribute_name() {
    let g = tour_guides();
    let f = Filter::parse("members[$ref co \"/Users/2819c223\"]", &GROUP).unwrap();
    assert!(f.matches(&g));
    assert_eq!(f.to_string(), "members[$ref co \"/Users/2819c223\"]");
    assert!(matches("groups.$REF pr", &bjensen()));
}
