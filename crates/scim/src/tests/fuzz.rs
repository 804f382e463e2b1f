//! Property tests: no input makes the parsers or the PATCH applier panic, generated
//! filters survive `parse(display(ast)) == ast`, and PATCH results keep the
//! schema's invariants whatever the operations.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::{bjensen, tour_guides};
use crate::filter::MAX_FILTER_LEN;
use crate::{
    AttrPath, CompValue, CompareOp, ENTERPRISE_USER_URN, Filter, GROUP, PATCH_OP_URN, PatchPath,
    PatchRequest, Projection, ScimType, SortBy, USER,
};

const CASES: u32 = 256;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    Bool,
    Date,
}

use Kind::{Bool, Date, Str};

const TOP: &[(&str, Kind)] = &[
    ("id", Str),
    ("externalId", Str),
    ("userName", Str),
    ("name.familyName", Str),
    ("name.givenName", Str),
    ("displayName", Str),
    ("title", Str),
    ("emails", Str),
    ("emails.value", Str),
    ("emails.type", Str),
    ("emails.primary", Bool),
    ("phoneNumbers", Str),
    ("addresses.locality", Str),
    ("groups.display", Str),
    ("roles", Str),
    ("active", Bool),
    ("schemas", Str),
    ("meta.created", Date),
    ("meta.lastModified", Date),
    ("meta.resourceType", Str),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        Str,
    ),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        Str,
    ),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        Str,
    ),
];

type Subs = &'static [(&'static str, Kind)];

const VALUE_PATHS: &[(&str, Subs)] = &[
    (
        "emails",
        &[
            ("emails.value", Str),
            ("emails.type", Str),
            ("emails.display", Str),
            ("emails.primary", Bool),
        ],
    ),
    (
        "phoneNumbers",
        &[("phoneNumbers.value", Str), ("phoneNumbers.type", Str)],
    ),
    (
        "addresses",
        &[
            ("addresses.locality", Str),
            ("addresses.type", Str),
            ("addresses.primary", Bool),
        ],
    ),
    ("name", &[("name.givenName", Str), ("name.familyName", Str)]),
    (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        &[
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                Str,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref",
                Str,
            ),
        ],
    ),
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,10}",
        select(
            &[
                "work",
                "home",
                "a\"b",
                "back\\slash",
                "é ü",
                "x]y",
                "(",
                "and",
                ""
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

fn date_time() -> impl Strategy<Value = String> {
    (
        1970u32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        prop::bool::ANY,
    )
        .prop_map(|(y, mo, d, h, mi, offset)| {
            if offset {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00+01:30")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:07.25Z")
            }
        })
}

fn leaf(paths: &'static [(&'static str, Kind)]) -> BoxedStrategy<Filter> {
    select(paths)
        .prop_flat_map(|(p, kind)| {
            let path = AttrPath::parse(p, &USER).unwrap();
            let present = Just(Filter::Present(path));
            let null =
                select(&[CompareOp::Eq, CompareOp::Ne][..]).prop_map(move |op| Filter::Compare {
                    path,
                    op,
                    value: CompValue::Null,
                });
            match kind {
                Str => prop_oneof![
                    present,
                    null,
                    (select(&CompareOp::ALL[..]), text()).prop_map(move |(op, s)| {
                        Filter::Compare {
                            path,
                            op,
                            value: CompValue::String(s),
                        }
                    }),
                ]
                .boxed(),
                Bool => prop_oneof![
                    present,
                    null,
                    (select(&[CompareOp::Eq, CompareOp::Ne][..]), any::<bool>()).prop_map(
                        move |(op, b)| Filter::Compare {
                            path,
                            op,
                            value: CompValue::Bool(b),
                        }
                    ),
                ]
                .boxed(),
                Date => prop_oneof![
                    present,
                    null,
                    (select(&CompareOp::ALL[..]), date_time()).prop_map(move |(op, s)| {
                        Filter::Compare {
                            path,
                            op,
                            value: CompValue::String(s),
                        }
                    }),
                ]
                .boxed(),
            }
        })
        .boxed()
}

fn tree(leaves: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaves
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
}

fn value_path() -> BoxedStrategy<Filter> {
    select(VALUE_PATHS)
        .prop_flat_map(|(outer, subs)| {
            let path = AttrPath::parse(outer, &USER).unwrap();
            tree(leaf(subs)).prop_map(move |inner| Filter::ValuePath {
                path,
                filter: Box::new(inner),
            })
        })
        .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    tree(prop_oneof![3 => leaf(TOP), 1 => value_path()].boxed())
}

/// Filter-ish text: the grammar's tokens and characters, shuffled.
fn filterish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            select(
                &[
                    "userName",
                    "emails",
                    "name.givenName",
                    "emails.value",
                    "active",
                    "meta.lastModified",
                    "members",
                    "not",
                    "and",
                    "or",
                    "eq",
                    "ne",
                    "co",
                    "sw",
                    "pr",
                    "gt",
                    "le",
                    "true",
                    "null",
                    "(",
                    ")",
                    "[",
                    "]",
                    ".",
                    " ",
                    "\"",
                    "\\",
                    "\"x\"",
                    "\"2011-05-13T04:42:34Z\"",
                    "1e999",
                    "-0.5",
                    ENTERPRISE_USER_URN,
                    ":",
                    "urn:",
                    "type",
                    "value",
                    "\u{1}",
                    "é",
                ][..]
            )
            .prop_map(str::to_owned),
            ".{0,3}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// A generated filter's text with a few characters deleted, duplicated or replaced:
/// near misses of valid filters, some still valid.
fn mutated_filter() -> impl Strategy<Value = String> {
    (
        filter(),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                0u8..3,
                select(&['(', ')', '[', ']', '"', ' ', '\\', 'a', '.'][..]),
            ),
            0..3,
        ),
    )
        .prop_map(|(f, edits)| {
            let mut chars: Vec<char> = f.to_string().chars().collect();
            for (at, kind, c) in edits {
                if chars.is_empty() {
                    break;
                }
                let i = at.index(chars.len());
                match kind {
                    0 => {
                        chars.remove(i);
                    }
                    1 => chars.insert(i, c),
                    _ => chars[i] = c,
                }
            }
            chars.into_iter().collect()
        })
}

const KEYS: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "givenName",
    "familyName",
    "active",
    "userName",
    "emails",
    "name",
    "members",
    "id",
    "meta",
    "schemas",
    "title",
    "groups",
    "$ref",
    "name.givenName",
    "department",
    "manager",
    "nosuch",
    "password",
    "displayName",
    "phoneNumbers",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
];

const WORDS: &[&str] = &[
    "x",
    "work",
    "home",
    "True",
    "False",
    "User",
    "Group",
    "2011-05-13T04:42:34Z",
    "2819c223-7f76-453a-919d-413861904646",
    "902c246b-6245-4190-8e05-00816be7344a",
    "bjensen@example.com",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..3).prop_map(Value::from),
        select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((select(KEYS), inner), 0..4).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

const PATHS: &[&str] = &[
    "userName",
    "title",
    "active",
    "name",
    "name.givenName",
    "emails",
    "emails.type",
    "emails.primary",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"home\" and primary eq true].primary",
    "emails[value co \"@\"]",
    "phoneNumbers[type eq \"mobile\"].value",
    "addresses[type eq \"work\"].locality",
    "roles",
    "id",
    "meta",
    "meta.lastModified",
    "groups",
    "password",
    "schemas",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "members",
    "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
    "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].type",
    "displayName",
    "nosuch",
    "emails[",
    "",
];

#[derive(Clone, Copy, Debug)]
enum Shape {
    Text,
    Flag,
    Name,
    Email,
    Emails,
    Member,
    Members,
    Manager,
    Fields,
    GroupFields,
}

/// Paths (or none) with the shape of value that suits them.
const TYPED: &[(Option<&str>, Shape)] = &[
    (Some("userName"), Shape::Text),
    (Some("title"), Shape::Text),
    (Some("displayName"), Shape::Text),
    (Some("active"), Shape::Flag),
    (Some("name"), Shape::Name),
    (Some("name.givenName"), Shape::Text),
    (Some("emails"), Shape::Emails),
    (Some("emails"), Shape::Email),
    (Some("emails.type"), Shape::Text),
    (Some("emails.primary"), Shape::Flag),
    (Some("emails[type eq \"work\"]"), Shape::Email),
    (Some("emails[type eq \"work\"].value"), Shape::Text),
    (Some("emails[type eq \"home\"].primary"), Shape::Flag),
    (Some("emails[primary eq true]"), Shape::Email),
    (
        Some("phoneNumbers[type eq \"mobile\"].primary"),
        Shape::Flag,
    ),
    (
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        Shape::Text,
    ),
    (
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        Shape::Manager,
    ),
    (
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        Shape::Text,
    ),
    (Some("members"), Shape::Members),
    (Some("members"), Shape::Member),
    (
        Some("members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"),
        Shape::Member,
    ),
    (Some("members[type eq \"User\"].type"), Shape::Text),
    (None, Shape::Fields),
];

const TYPED_GROUP: &[(Option<&str>, Shape)] = &[
    (Some("displayName"), Shape::Text),
    (Some("externalId"), Shape::Text),
    (Some("members"), Shape::Members),
    (Some("members"), Shape::Member),
    (
        Some("members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"),
        Shape::Member,
    ),
    (
        Some("members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].type"),
        Shape::Text,
    ),
    (Some("members[type eq \"User\"]"), Shape::Member),
    (None, Shape::GroupFields),
];

fn shaped(shape: Shape) -> BoxedStrategy<Value> {
    let word = || select(WORDS).prop_map(Value::from);
    let flag = || {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            select(&["True", "false"][..]).prop_map(Value::from)
        ]
    };
    let email = move || {
        (
            word(),
            select(&["work", "home", "other"][..]),
            prop::option::of(flag()),
        )
            .prop_map(|(v, t, p)| {
                let mut m = json!({ "value": v, "type": t });
                if let Some(p) = p {
                    m["primary"] = p;
                }
                m
            })
    };
    let member = move || {
        (
            select(WORDS),
            prop::option::of(select(&["User", "Group"][..])),
        )
            .prop_map(|(v, t)| match t {
                Some(t) => json!({ "value": v, "type": t }),
                None => json!({ "value": v }),
            })
    };
    match shape {
        Shape::Text => prop_oneof![4 => word(), 1 => Just(Value::Null)].boxed(),
        Shape::Flag => flag().boxed(),
        Shape::Name => (word(), word())
            .prop_map(|(g, f)| json!({ "givenName": g, "familyName": f }))
            .boxed(),
        Shape::Email => email().boxed(),
        Shape::Emails => prop::collection::vec(email(), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Shape::Member => member().boxed(),
        Shape::Members => prop::collection::vec(member(), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Shape::Manager => prop_oneof![
            word(),
            word().prop_map(|v| json!({ "value": v, "displayName": "ignored" }))
        ]
        .boxed(),
        Shape::GroupFields => (word(), prop::collection::vec(member(), 0..3))
            .prop_map(|(d, m)| json!({ "displayName": d, "members": m }))
            .boxed(),
        Shape::Fields => (word(), flag(), email())
            .prop_map(|(t, a, e)| {
                json!({
                    "title": t,
                    "active": a,
                    "name.familyName": t,
                    "emails": [e],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": t
                })
            })
            .boxed(),
    }
}

fn typed_operation(
    typed: &'static [(Option<&'static str>, Shape)],
) -> impl Strategy<Value = Value> {
    (
        select(typed),
        select(&["add", "remove", "replace", "Add", "Replace", "Remove"][..]),
    )
        .prop_flat_map(|((path, shape), op)| {
            shaped(shape).prop_map(move |value| {
                let mut m = json!({ "op": op, "value": value });
                if let Some(p) = path {
                    m["path"] = json!(p);
                }
                m
            })
        })
}

fn operation(typed: &'static [(Option<&'static str>, Shape)]) -> impl Strategy<Value = Value> {
    prop_oneof![3 => typed_operation(typed), 1 => random_operation()]
}

fn random_operation() -> impl Strategy<Value = Value> {
    (
        select(
            &[
                "add", "remove", "replace", "Add", "Replace", "Remove", "move",
            ][..],
        ),
        prop::option::of(prop_oneof![4 => select(PATHS).prop_map(str::to_owned), 1 => filterish()]),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut m = Map::new();
            m.insert("op".into(), json!(op));
            if let Some(p) = path {
                m.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                m.insert("value".into(), v);
            }
            Value::Object(m)
        })
}

fn patch_body(typed: &'static [(Option<&'static str>, Shape)]) -> impl Strategy<Value = Value> {
    prop_oneof![
        9 => prop::collection::vec(operation(typed), 1..4)
            .prop_map(|ops| json!({ "schemas": [PATCH_OP_URN], "Operations": ops })),
        1 => json_value(),
    ]
}

fn primaries_ok(resource: &Value) -> bool {
    ["emails", "phoneNumbers", "addresses", "roles"]
        .iter()
        .all(|a| {
            resource[*a].as_array().is_none_or(|items| {
                items.iter().filter(|v| v["primary"] == json!(true)).count() <= 1
            })
        })
}

fn assert_client_error(e: &crate::ScimError) {
    assert!(e.status.is_client_error(), "{e}");
    assert!(!e.detail.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        // Failures print their minimal input; no regression files outside src/scim.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn filter_parser_total_on_any_string(s in any::<String>()) {
        if let Err(e) = Filter::parse(&s, &USER) {
            prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        }
    }

    #[test]
    fn filter_parser_total_on_filterish_text(s in prop_oneof![filterish(), mutated_filter()]) {
        match Filter::parse(&s, &USER) {
            Ok(f) => {
                let again = Filter::parse(&f.to_string(), &USER);
                prop_assert_eq!(again.as_ref().ok(), Some(&f), "{}", f);
                let _ = f.matches(&bjensen());
            }
            Err(e) => prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter)),
        }
    }

    #[test]
    fn generated_filters_round_trip(f in filter()) {
        let text = f.to_string();
        match Filter::parse(&text, &USER) {
            Ok(parsed) => prop_assert_eq!(&parsed, &f, "{}", text),
            Err(e) => {
                prop_assert!(text.len() > MAX_FILTER_LEN, "{}: {}", text, e);
            }
        }
    }

    #[test]
    fn generated_filters_evaluate_on_any_json(f in filter(), r in json_value()) {
        let on_sample = f.matches(&bjensen());
        prop_assert_eq!(Filter::Not(Box::new(f.clone())).matches(&bjensen()), !on_sample);
        let _ = f.matches(&r);
        if let Filter::Compare { path, op: CompareOp::Eq, value } = &f {
            let ne = Filter::Compare { path: *path, op: CompareOp::Ne, value: value.clone() };
            prop_assert_ne!(ne.matches(&r), f.matches(&r));
            prop_assert_ne!(ne.matches(&bjensen()), on_sample);
        }
    }

    #[test]
    fn patch_path_parser_total(s in prop_oneof![any::<String>(), filterish(), mutated_filter()]) {
        for rt in [&USER, &GROUP] {
            match PatchPath::parse(&s, rt) {
                Ok(p) => {
                    let again = PatchPath::parse(&p.to_string(), rt);
                    prop_assert_eq!(again.as_ref().ok(), Some(&p));
                }
                Err(e) => prop_assert!(matches!(
                    e.scim_type,
                    Some(ScimType::InvalidPath | ScimType::InvalidFilter)
                )),
            }
        }
    }

    #[test]
    fn generated_value_paths_round_trip(f in value_path(), sub in prop::option::of(select(&["value", "type", "display", "givenName", "$ref"][..]))) {
        let Filter::ValuePath { path, filter } = &f else { unreachable!() };
        let text = match sub {
            Some(s) => format!("{f}.{s}"),
            None => f.to_string(),
        };
        match PatchPath::parse(&text, &USER) {
            Ok(p) => {
                prop_assert_eq!(p.to_string(), text.clone());
                prop_assert_eq!(p.filter(), Some(&**filter));
                prop_assert_eq!(p.attr_path().map(AttrPath::without_sub), Some(*path));
            }
            Err(e) => {
                // Only a sub-attribute the attribute lacks, or an over-long text.
                let lacks = sub.is_some_and(|s| path.attribute().sub_attribute(s).is_none());
                prop_assert!(lacks || text.len() > MAX_FILTER_LEN, "{}: {}", text, e);
            }
        }
    }

    #[test]
    fn user_patches_never_panic_and_keep_invariants(body in patch_body(TYPED)) {
        let user = bjensen();
        match PatchRequest::from_json(&body, &USER).and_then(|r| r.apply(&user)) {
            Err(e) => assert_client_error(&e),
            Ok(out) => {
                prop_assert_eq!(&out["id"], &user["id"], "id is readOnly");
                prop_assert_eq!(&out["meta"], &user["meta"], "meta is readOnly");
                prop_assert_eq!(&out["groups"], &user["groups"], "groups is readOnly");
                prop_assert!(out["userName"].is_string(), "userName is required");
                prop_assert!(primaries_ok(&out), "{}", out);
                let has_ext = out.get(ENTERPRISE_USER_URN).is_some();
                let listed = out["schemas"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|u| u == ENTERPRISE_USER_URN));
                prop_assert_eq!(has_ext, listed, "{}", out);
                // readOnly sub-attributes go only with their whole attribute.
                let shown = &out[ENTERPRISE_USER_URN]["manager"]["displayName"];
                prop_assert!(
                    shown.is_null() || *shown == user[ENTERPRISE_USER_URN]["manager"]["displayName"],
                    "{}",
                    out
                );
            }
        }
    }

    #[test]
    fn group_patches_never_panic_and_keep_invariants(body in patch_body(TYPED_GROUP)) {
        let group = tour_guides();
        match PatchRequest::from_json(&body, &GROUP).and_then(|r| r.apply(&group)) {
            Err(e) => assert_client_error(&e),
            Ok(out) => {
                prop_assert_eq!(&out["id"], &group["id"]);
                prop_assert!(out["displayName"].is_string());
                // Members are identified by their (immutable) value: never twice.
                let members = out["members"].as_array().cloned().unwrap_or_default();
                let mut values: Vec<&Value> = members.iter().filter_map(|m| m.get("value")).collect();
                let n = values.len();
                values.sort_by_key(|v| v.to_string());
                values.dedup();
                prop_assert_eq!(values.len(), n, "{}", out);
            }
        }
    }

    #[test]
    fn projection_and_sorting_total(attrs in prop::option::of(filterish()), excluded in prop::option::of(filterish()), sort_by in filterish()) {
        let out = Projection::new(&USER, attrs.as_deref(), excluded.as_deref()).apply(&bjensen());
        prop_assert_eq!(&out["id"], &bjensen()["id"]);
        prop_assert_eq!(&out["schemas"], &bjensen()["schemas"]);
        prop_assert!(out.get("password").is_none());
        if let Ok(by) = SortBy::parse(&sort_by, Some("descending"), &USER) {
            let _ = by.compare(&bjensen(), &tour_guides());
        }
    }
}
