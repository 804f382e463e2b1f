//! The error body, the schema model and the discovery documents.

use http::StatusCode;
use serde_json::{Value, json};

use crate::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, RESOURCE_TYPES, SCHEMAS, USER_SCHEMA,
    resource_type_by_id, resource_types_json, schema_by_id, schemas_json,
};
use crate::{
    AttrType, Attribute, ENTERPRISE_USER_URN, GROUP, Mutability, Returned, ScimError, ScimType,
    USER, USER_URN, Uniqueness,
};

const BASE: &str = "/v1/organizations/acme/scim/v2";

#[test]
fn scim_types_render_their_rfc_wire_strings() {
    let wire: Vec<&str> = ScimType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        wire,
        [
            "invalidFilter",
            "tooMany",
            "uniqueness",
            "mutability",
            "invalidSyntax",
            "invalidPath",
            "noTarget",
            "invalidValue",
            "invalidVers",
            "sensitive",
            "invalidCursor"
        ]
    );
    assert_eq!(ScimType::NoTarget.to_string(), "noTarget");
}

#[test]
fn error_body_matches_rfc_7644_section_3_12() {
    let e = ScimError::invalid_filter("bad filter");
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        e.to_json(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "scimType": "invalidFilter",
            "detail": "bad filter",
            "status": "400"
        })
    );
    let conflict = ScimError::typed(ScimType::Uniqueness, "taken");
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.to_json()["status"], json!("409"));
    let plain = ScimError::new(StatusCode::NOT_FOUND, None, "no such user");
    let body = plain.to_json();
    assert_eq!(body["status"], json!("404"), "status is a string");
    assert!(body.get("scimType").is_none(), "{body}");
    assert_eq!(
        ScimError::typed(ScimType::Sensitive, "x").status,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn user_schema_document_carries_the_characteristics() {
    let doc = USER_SCHEMA.to_json(&format!("{BASE}/"));
    assert_eq!(doc["id"], json!(USER_URN));
    assert_eq!(
        doc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
    );
    assert_eq!(
        doc["meta"]["location"],
        json!(format!("{BASE}/Schemas/{USER_URN}")),
        "trailing slash of the base is not doubled"
    );
    let attr = |name: &str| -> Value {
        doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let user_name = attr("userName");
    assert_eq!(user_name["required"], json!(true));
    assert_eq!(user_name["uniqueness"], json!("server"));
    assert_eq!(user_name["caseExact"], json!(false));
    assert_eq!(user_name["type"], json!("string"));
    let listed = |name: &str| {
        doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == json!(name))
    };
    for common in ["id", "externalId", "meta", "schemas"] {
        assert!(
            !listed(common),
            "{common} is common (RFC 7643 §3.1), in no schema"
        );
    }
    let password = attr("password");
    assert_eq!(password["mutability"], json!("writeOnly"));
    assert_eq!(password["returned"], json!("never"));
    assert_eq!(attr("active")["type"], json!("boolean"));
    assert_eq!(attr("profileUrl")["referenceTypes"], json!(["external"]));
    let emails = attr("emails");
    assert_eq!(emails["multiValued"], json!(true));
    let email_type = emails["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == json!("type"))
        .unwrap();
    assert_eq!(
        email_type["canonicalValues"],
        json!(["work", "home", "other"])
    );
    let phone_types = &attr("phoneNumbers")["subAttributes"][2]["canonicalValues"];
    assert_eq!(
        phone_types,
        &json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
    assert_eq!(attr("groups")["mutability"], json!("readOnly"));
    assert!(
        attr("name").get("referenceTypes").is_none(),
        "only references list referenceTypes"
    );
}

/// The common attributes (RFC 7643 §3.1) resolve on every resource type, unprefixed
/// or with the core schema's URN, with §3.1's characteristics, though no schema lists
/// them.
#[test]
fn common_attributes_resolve_on_every_resource_type_and_are_listed_nowhere() {
    for rt in [&USER, &GROUP] {
        let id = rt.attribute("id").unwrap();
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert!(id.case_exact);
        assert!(rt.attribute("externalId").unwrap().case_exact);
        assert_eq!(
            rt.attribute("meta").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(
            rt.attribute("META.LASTMODIFIED").unwrap().kind,
            AttrType::DateTime
        );
        let core = rt.schema.id;
        assert_eq!(rt.attribute(&format!("{core}:id")).unwrap().name, "id");
        assert_eq!(rt.core_attribute("EXTERNALID").unwrap().name, "externalId");
        for s in rt.schemas() {
            for common in ["id", "externalId", "meta"] {
                assert!(s.attribute(common).is_none(), "{} lists {common}", s.id);
            }
        }
    }
    assert!(
        USER.attribute(&format!("{ENTERPRISE_USER_URN}:id"))
            .is_none(),
        "common attributes are not an extension's"
    );
}

#[test]
fn every_brief_attribute_is_described() {
    let user = [
        "id",
        "externalId",
        "userName",
        "name.formatted",
        "name.familyName",
        "name.givenName",
        "name.middleName",
        "name.honorificPrefix",
        "name.honorificSuffix",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails.value",
        "emails.display",
        "emails.type",
        "emails.primary",
        "phoneNumbers.value",
        "phoneNumbers.display",
        "phoneNumbers.type",
        "phoneNumbers.primary",
        "addresses.formatted",
        "addresses.streetAddress",
        "addresses.locality",
        "addresses.region",
        "addresses.postalCode",
        "addresses.country",
        "addresses.type",
        "addresses.primary",
        "groups.value",
        "groups.$ref",
        "groups.display",
        "groups.type",
        "roles.value",
        "roles.display",
        "roles.type",
        "roles.primary",
        "meta.created",
        "meta.lastModified",
        "meta.location",
        "meta.version",
        "meta.resourceType",
    ];
    for p in user {
        assert!(USER.attribute(p).is_some(), "User {p}");
    }
    for p in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager.value",
        "manager.$ref",
        "manager.displayName",
    ] {
        let full = format!("{ENTERPRISE_USER_URN}:{p}");
        assert!(USER.attribute(&full).is_some(), "User {full}");
        assert!(USER.attribute(p).is_none(), "{p} needs its URN prefix");
    }
    for p in [
        "id",
        "externalId",
        "displayName",
        "members.value",
        "members.$ref",
        "members.display",
        "members.type",
        "meta.lastModified",
    ] {
        assert!(GROUP.attribute(p).is_some(), "Group {p}");
    }
}

#[test]
fn lookup_is_case_insensitive_and_urn_aware() {
    let a = USER
        .attribute("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME")
        .unwrap();
    assert_eq!(a.name, "userName");
    assert_eq!(USER.attribute("NAME.GIVENNAME").unwrap().name, "givenName");
    let dn = USER
        .attribute(&format!("{ENTERPRISE_USER_URN}:manager.displayName"))
        .unwrap();
    assert_eq!(dn.mutability, Mutability::ReadOnly);
    assert_eq!(
        GROUP.attribute("members.value").unwrap().mutability,
        Mutability::Immutable
    );
    assert!(USER.attribute("nosuch").is_none());
    assert!(USER.attribute("name.nosuch").is_none());
    assert!(
        USER.attribute("userName.value").is_none(),
        "simple attrs have no subs"
    );
    assert!(
        USER.attribute(ENTERPRISE_USER_URN).is_none(),
        "a schema is not an attribute"
    );
    assert!(USER.attribute("").is_none());
    assert!(
        GROUP
            .attribute(&format!("{ENTERPRISE_USER_URN}:department"))
            .is_none(),
        "Group does not carry the enterprise extension"
    );
    assert!(USER.attribute("members").is_none());
    assert_eq!(
        USER.attribute("schemas").unwrap().returned,
        Returned::Always
    );
}

/// Discovery cannot disagree with behaviour: every attribute `/Schemas` lists
/// resolves, through the lookup every other module uses, to the definition that
/// rendered it.
#[test]
fn discovery_documents_render_the_definitions_lookups_use() {
    let list = schemas_json(BASE);
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list["totalResults"], json!(3));
    let ids: Vec<&Value> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids.len(), 3);
    for (schema_doc, rt) in list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .zip([&USER, &USER, &GROUP])
    {
        let urn = schema_doc["id"].as_str().unwrap();
        for a in schema_doc["attributes"].as_array().unwrap() {
            let name = a["name"].as_str().unwrap();
            let def = rt.attribute(&format!("{urn}:{name}")).unwrap();
            assert_eq!(&def.to_json(), a, "{urn}:{name}");
            for s in a["subAttributes"].as_array().into_iter().flatten() {
                let sub = s["name"].as_str().unwrap();
                let sdef = rt.attribute(&format!("{urn}:{name}.{sub}")).unwrap();
                assert_eq!(&sdef.to_json(), s, "{urn}:{name}.{sub}");
            }
        }
    }
}

#[test]
fn names_are_unambiguous_and_references_typed() {
    fn check(attrs: &'static [Attribute], at: &str) {
        for (i, a) in attrs.iter().enumerate() {
            for b in &attrs[i + 1..] {
                assert!(
                    !a.name.eq_ignore_ascii_case(b.name),
                    "{at}: {} twice",
                    a.name
                );
            }
            if a.kind == AttrType::Reference {
                assert!(!a.reference_types.is_empty(), "{at}.{}", a.name);
            }
            assert_eq!(
                a.kind == AttrType::Complex,
                !a.sub_attributes.is_empty(),
                "{at}.{}",
                a.name
            );
            assert!(!a.description.is_empty());
            check(a.sub_attributes, &format!("{at}.{}", a.name));
        }
    }
    for s in SCHEMAS {
        check(s.attributes, s.id);
    }
    assert_eq!(
        USER.attribute("userName").unwrap().uniqueness,
        Uniqueness::Server
    );
    assert_eq!(
        GROUP.attribute("displayName").unwrap().uniqueness,
        Uniqueness::Server
    );
    assert!(GROUP.attribute("displayName").unwrap().required);
}

#[test]
fn resource_types_document() {
    let list = resource_types_json(BASE);
    assert_eq!(list["totalResults"], json!(2));
    let user = &list["Resources"][0];
    assert_eq!(
        user,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_URN,
            "schemaExtensions": [{ "schema": ENTERPRISE_USER_URN, "required": false }],
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{BASE}/ResourceTypes/User")
            }
        })
    );
    let group = &list["Resources"][1];
    assert_eq!(group["endpoint"], json!("/Groups"));
    assert_eq!(group["schema"], json!(GROUP_SCHEMA.id));
    assert_eq!(group["schemaExtensions"], json!([]));
    assert_eq!(RESOURCE_TYPES.len(), 2);
    assert_eq!(resource_type_by_id("user").unwrap().id, "User");
    assert!(resource_type_by_id("Device").is_none());
    assert_eq!(
        schema_by_id(&ENTERPRISE_USER_URN.to_uppercase()).unwrap(),
        &ENTERPRISE_USER_SCHEMA
    );
    assert!(schema_by_id("urn:nope").is_none());
}
