//! Tests of the SCIM core: RFC 7644's own examples, the schema-driven rules, the
//! identity providers' quirks, and property tests that no input panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The standard library lowercases here as the tests' reference (clippy.toml refuses it
// in the components' code).
#![allow(clippy::disallowed_methods)]

mod filter;
mod fuzz;
mod patch;
mod path;
mod project;
mod schema;

use serde_json::{Value, json};

use crate::schema::{AttrType, Attribute, Mutability, ResourceType, Returned, Schema, Uniqueness};

/// RFC 7643 §8.3's enterprise user (Barbara Jensen), trimmed to what the tests use.
pub(crate) fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [
            { "value": "bjensen@example.com", "type": "work", "primary": true },
            { "value": "babs@jensen.org", "type": "home" }
        ],
        "addresses": [
            {
                "streetAddress": "100 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "type": "work",
                "primary": true
            },
            {
                "streetAddress": "456 Hollywood Blvd",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "type": "home"
            }
        ],
        "phoneNumbers": [
            { "value": "555-555-5555", "type": "work" },
            { "value": "555-555-4444", "type": "mobile" }
        ],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "password": "t1meMa$heen",
        "groups": [
            {
                "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides"
            }
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        }
    })
}

/// RFC 7643 §8.4's group, with two members.
pub(crate) fn tour_guides() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {
                "value": "2819c223-7f76-453a-919d-413861904646",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "display": "Babs Jensen",
                "type": "User"
            },
            {
                "value": "902c246b-6245-4190-8e05-00816be7344a",
                "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
                "display": "Mandy Pepperidge",
                "type": "User"
            }
        ],
        "meta": {
            "resourceType": "Group",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff592\"",
            "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
        }
    })
}

const fn typed(name: &'static str, kind: AttrType) -> Attribute {
    let mut a = test_attr(name, Returned::Default, &[]);
    a.kind = kind;
    a
}

const fn test_attr(
    name: &'static str,
    returned: Returned,
    subs: &'static [Attribute],
) -> Attribute {
    Attribute {
        name,
        kind: if subs.is_empty() {
            AttrType::String
        } else {
            AttrType::Complex
        },
        multi_valued: false,
        description: "test",
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: subs,
    }
}

/// A test-only schema with what Roster's lack: `returned: request`, integers and
/// decimals.
pub(crate) static PROBE_SCHEMA: Schema = Schema {
    id: "urn:example:probe",
    name: "Probe",
    description: "returned: request",
    attributes: &[
        test_attr("id", Returned::Always, &[]),
        test_attr("plain", Returned::Default, &[]),
        test_attr("onRequest", Returned::Request, &[]),
        test_attr(
            "box",
            Returned::Default,
            &[
                test_attr("shown", Returned::Default, &[]),
                test_attr("asked", Returned::Request, &[]),
                test_attr("hidden", Returned::Never, &[]),
            ],
        ),
        typed("count", AttrType::Integer),
        typed("ratio", AttrType::Decimal),
    ],
};

/// The resource type of [`PROBE_SCHEMA`].
pub(crate) static PROBE: ResourceType = ResourceType {
    id: "Probe",
    endpoint: "/Probes",
    description: "test",
    schema: &PROBE_SCHEMA,
    extensions: &[],
};
