//! The static description of every attribute Roster's SCIM surface supports (RFC 7643
//! §2.2, §4, §7), the single source for filtering, PATCH, projection and sorting, and
//! rendered as the `/Schemas` and `/ResourceTypes` discovery resources, so discovery
//! cannot disagree with behaviour.
//!
//! The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1: "not defined
//! in any particular schema") are [`COMMON_ATTRIBUTES`], with the characteristics §3.1
//! gives them: every resource type resolves them as core attributes (in filters,
//! sorting, projections and PATCH paths; [`ResourceType::core_attribute`]), and no
//! published schema lists them, as clients that build their types from `/Schemas`
//! (scim2-client) would otherwise define `meta` twice. The `schemas` attribute is
//! described by [`SCHEMAS_ATTRIBUTE`]: resolvable in filters and projections, never
//! listed in a schema.

use serde_json::{Map, Value, json};

use super::{
    ENTERPRISE_USER_URN, GROUP_URN, LIST_RESPONSE_URN, RESOURCE_TYPE_URN, SCHEMA_URN, USER_URN,
};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime` (an xsd:dateTime / RFC 3339 string).
    DateTime,
    /// `reference` (a URI string).
    Reference,
    /// `complex` (an object of sub-attributes).
    Complex,
}

impl AttrType {
    /// The wire name (`"dateTime"`, `"complex"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Whether and how an attribute may be written (RFC 7643 §7 `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// `readOnly`: never written by clients.
    ReadOnly,
    /// `readWrite`: written freely.
    ReadWrite,
    /// `immutable`: written only while it has no value.
    Immutable,
    /// `writeOnly`: written, never returned.
    WriteOnly,
}

impl Mutability {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §7 `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// `always`: in every response, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// `never`: in no response.
    Never,
    /// `default`: unless `attributes` omits it or `excludedAttributes` names it.
    Default,
    /// `request`: only when `attributes` names it.
    Request,
}

impl Returned {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique a value must be (RFC 7643 §7 `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// `none`.
    None,
    /// `server`: unique within the service provider (here: the organization).
    Server,
    /// `global`.
    Global,
}

impl Uniqueness {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute (or sub-attribute) definition with its RFC 7643 §7 characteristics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The canonical name (names compare case-insensitively).
    pub name: &'static str,
    /// The data type.
    pub kind: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// A human-readable description.
    pub description: &'static str,
    /// Whether a resource must carry it.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Write rules.
    pub mutability: Mutability,
    /// Return rules.
    pub returned: Returned,
    /// Uniqueness rules.
    pub uniqueness: Uniqueness,
    /// Suggested values (advisory, as RFC 7643 §7 allows; not enforced).
    pub canonical_values: &'static [&'static str],
    /// For `reference` attributes: what they may refer to.
    pub reference_types: &'static [&'static str],
    /// For `complex` attributes: the sub-attributes.
    pub sub_attributes: &'static [Attribute],
}

/// A single-valued, optional, case-insensitive, read-write attribute of `kind`.
const fn attr(name: &'static str, kind: AttrType, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, AttrType::String, description)
}

const fn complex(
    name: &'static str,
    description: &'static str,
    subs: &'static [Attribute],
) -> Attribute {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

const fn reference(
    name: &'static str,
    description: &'static str,
    types: &'static [&'static str],
) -> Attribute {
    let mut a = attr(name, AttrType::Reference, description);
    a.reference_types = types;
    a
}

impl Attribute {
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }

    /// The sub-attribute named `name` (case-insensitive), if this is complex and has it.
    pub fn sub_attribute(&'static self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The sub-attribute a complex attribute is compared through when a filter names
    /// the attribute alone (`emails co "x"` compares `emails.value`): its `value`.
    pub fn value_sub_attribute(&'static self) -> Option<&'static Attribute> {
        self.sub_attribute("value")
    }

    /// Whether this is a complex attribute with a `primary` sub-attribute, whose
    /// `true` must appear at most once among its values (RFC 7643 §2.4).
    pub fn has_primary(&'static self) -> bool {
        self.kind == AttrType::Complex
            && self.multi_valued
            && self.sub_attribute("primary").is_some()
    }

    /// The RFC 7643 §7 JSON representation, sub-attributes included.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        m.insert("caseExact".into(), json!(self.case_exact));
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if self.kind == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if self.kind == AttrType::Complex {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Attribute::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

/// One schema: a URN and its attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct Schema {
    /// The schema URN, also its `/Schemas/{id}` id.
    pub id: &'static str,
    /// The short name (`"User"`).
    pub name: &'static str,
    /// A human-readable description.
    pub description: &'static str,
    /// The top-level attributes.
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The top-level attribute named `name` (case-insensitive).
    pub fn attribute(&'static self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` resource (RFC 7643 §7), `meta.location` under `base_url`
    /// (e.g. `/v1/organizations/acme/scim/v2`; a trailing `/` is ignored).
    pub fn to_json(&self, base_url: &str) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(Attribute::to_json).collect();
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{}/Schemas/{}", base_url.trim_end_matches('/'), self.id),
            },
        })
    }
}

/// An extension schema a resource type may carry.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaExtension {
    /// The extension schema.
    pub schema: &'static Schema,
    /// Whether every resource of the type must carry it.
    pub required: bool,
}

/// A resource type (RFC 7643 §6): its endpoint, core schema and extensions.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// The id and name (`"User"`).
    pub id: &'static str,
    /// The endpoint relative to the SCIM base (`"/Users"`).
    pub endpoint: &'static str,
    /// A human-readable description.
    pub description: &'static str,
    /// The core schema; its attributes are addressed without a URN prefix.
    pub schema: &'static Schema,
    /// The extensions; their attributes need the URN prefix, and live in the
    /// resource under a key equal to the extension URN.
    pub extensions: &'static [SchemaExtension],
}

impl ResourceType {
    /// The core schema then every extension schema.
    pub fn schemas(&'static self) -> impl Iterator<Item = &'static Schema> {
        std::iter::once(self.schema).chain(self.extensions.iter().map(|e| e.schema))
    }

    /// The top-level attribute `name` (case-insensitive) addressed without a URN
    /// prefix: a common attribute (RFC 7643 §3.1: `id`, `externalId`, `meta`), else an
    /// attribute of the core schema.
    pub fn core_attribute(&'static self, name: &str) -> Option<&'static Attribute> {
        COMMON_ATTRIBUTES
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.schema.attribute(name))
    }

    /// The schema (core or extension) whose URN is `urn` (case-insensitive).
    pub fn schema_by_urn(&'static self, urn: &str) -> Option<&'static Schema> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Whether `schema` is one of this type's extensions (not its core schema).
    pub fn is_extension(&'static self, schema: &'static Schema) -> bool {
        self.extensions
            .iter()
            .any(|e| std::ptr::eq(e.schema, schema))
    }

    /// The definition of the attribute at `path` (`userName`, `name.givenName`,
    /// `urn:…:enterprise:2.0:User:manager.value`; case-insensitive): the
    /// sub-attribute's when the path names one. `None` when unknown.
    pub fn attribute(&'static self, path: &str) -> Option<&'static Attribute> {
        super::AttrPath::parse(path, self)
            .ok()
            .map(|p| p.definition())
    }

    /// The `/ResourceTypes/{id}` resource (RFC 7643 §6), `meta.location` under
    /// `base_url`.
    pub fn to_json(&'static self, base_url: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.schema.id, "required": e.required }))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.id,
            "name": self.id,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": extensions,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{}/ResourceTypes/{}", base_url.trim_end_matches('/'), self.id),
            },
        })
    }
}

use AttrType::{Boolean, DateTime};
use Mutability::{Immutable, WriteOnly};

const ID: Attribute = string(
    "id",
    "Unique identifier for the SCIM resource as defined by the service provider.",
)
.case_exact()
.read_only()
.returned(Returned::Always)
.unique(Uniqueness::Server);

const EXTERNAL_ID: Attribute = string(
    "externalId",
    "Identifier for the resource as defined by the provisioning client; unique among the organization's resources of its type.",
)
.case_exact()
.unique(Uniqueness::Server);

const META: Attribute = complex(
    "meta",
    "Resource metadata maintained by the service provider.",
    &[
        string(
            "resourceType",
            "The name of the resource type of the resource.",
        )
        .case_exact()
        .read_only(),
        attr(
            "created",
            DateTime,
            "When the resource was added to the service provider.",
        )
        .read_only(),
        attr(
            "lastModified",
            DateTime,
            "When the resource was last modified.",
        )
        .read_only(),
        reference(
            "location",
            "The URI of the resource being returned.",
            &["uri"],
        )
        .case_exact()
        .read_only(),
        string("version", "The version (entity tag) of the resource.")
            .case_exact()
            .read_only(),
    ],
)
.read_only();

const PRIMARY: Attribute = attr(
    "primary",
    Boolean,
    "Whether this is the primary value; true appears at most once.",
);

/// The core User schema, `urn:ietf:params:scim:schemas:core:2.0:User` (RFC 7643 §4.1).
pub static USER_SCHEMA: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &[
        string(
            "userName",
            "Unique identifier for the User, typically used to authenticate.",
        )
        .required()
        .unique(Uniqueness::Server),
        complex(
            "name",
            "The components of the user's real name.",
            &[
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name (last name)."),
                string("givenName", "The given name (first name)."),
                string("middleName", "The middle name(s)."),
                string("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
                string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
            ],
        ),
        string("displayName", "The name of the User, suitable for display."),
        string("nickName", "The casual way to address the user."),
        reference(
            "profileUrl",
            "A fully qualified URL pointing to the user's online profile.",
            &["external"],
        ),
        string("title", "The user's title, such as 'Vice President'."),
        string("userType", "The relationship between the organization and the user."),
        string("preferredLanguage", "The user's preferred written or spoken language."),
        string("locale", "The user's default location for localization."),
        string("timezone", "The user's time zone in IANA Time Zone database format."),
        attr("active", Boolean, "The user's administrative status."),
        string("password", "The user's cleartext password, write-only.")
            .mutability(WriteOnly)
            .returned(Returned::Never),
        complex(
            "emails",
            "Email addresses for the user.",
            &[
                string(
                    "value",
                    "The email address, canonicalized per RFC 5321; no address belongs to two users of the organization.",
                )
                .unique(Uniqueness::Server),
                string("display", "A human-readable name, primarily used for display."),
                string("type", "A label indicating the email's function.")
                    .canonical(&["work", "home", "other"]),
                PRIMARY,
            ],
        )
        .multi(),
        complex(
            "phoneNumbers",
            "Phone numbers for the user.",
            &[
                string("value", "The phone number, canonicalized per RFC 3966."),
                string("display", "A human-readable name, primarily used for display."),
                string("type", "A label indicating the phone number's function.")
                    .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
                PRIMARY,
            ],
        )
        .multi(),
        complex(
            "addresses",
            "Physical mailing addresses for the user.",
            &[
                string("formatted", "The full mailing address, formatted for display."),
                string("streetAddress", "The full street address component."),
                string("locality", "The city or locality component."),
                string("region", "The state or region component."),
                string("postalCode", "The zip code or postal code component."),
                string("country", "The country name component (ISO 3166-1 alpha-2)."),
                string("type", "A label indicating the address's function.")
                    .canonical(&["work", "home", "other"]),
                PRIMARY,
            ],
        )
        .multi(),
        complex(
            "groups",
            "The groups the user belongs to, directly or indirectly; maintained by the service provider.",
            &[
                string("value", "The id of the group.").case_exact().read_only(),
                reference("$ref", "The URI of the group.", &["Group"])
                    .case_exact()
                    .read_only(),
                string("display", "A human-readable name, primarily used for display.")
                    .read_only(),
                string("type", "How the membership was derived.")
                    .canonical(&["direct", "indirect"])
                    .read_only(),
            ],
        )
        .multi()
        .read_only(),
        complex(
            "roles",
            "Roles for the user.",
            &[
                string("value", "The value of a role."),
                string("display", "A human-readable name, primarily used for display."),
                string("type", "A label indicating the role's function."),
                PRIMARY,
            ],
        )
        .multi(),
    ],
};

/// The enterprise User extension,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (RFC 7643 §4.3).
pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        string(
            "employeeNumber",
            "A string identifier assigned by the organization.",
        ),
        string("costCenter", "The name of a cost center."),
        string("organization", "The name of an organization."),
        string("division", "The name of a division."),
        string("department", "The name of a department."),
        complex(
            "manager",
            "The user's manager.",
            &[
                string(
                    "value",
                    "The id of the SCIM resource representing the user's manager.",
                )
                .case_exact(),
                reference(
                    "$ref",
                    "The URI of the SCIM resource representing the manager.",
                    &["User"],
                )
                .case_exact(),
                string(
                    "displayName",
                    "The displayName of the user's manager; maintained by the service provider.",
                )
                .read_only(),
            ],
        ),
    ],
};

/// The core Group schema, `urn:ietf:params:scim:schemas:core:2.0:Group` (RFC 7643 §4.2).
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &[
        string("displayName", "A human-readable name for the Group.")
            .required()
            .unique(Uniqueness::Server),
        complex(
            "members",
            "The members of the Group.",
            &[
                string("value", "The id of the member resource.")
                    .case_exact()
                    .mutability(Immutable),
                reference(
                    "$ref",
                    "The URI of the member resource.",
                    &["User", "Group"],
                )
                .case_exact()
                .mutability(Immutable),
                string(
                    "display",
                    "The member's display name; maintained by the service provider, returned when requested (attributes=members.display).",
                )
                .read_only()
                .returned(Returned::Request),
                string("type", "The type of the member resource.")
                    .canonical(&["User", "Group"])
                    .mutability(Immutable),
            ],
        )
        .multi(),
    ],
};

/// The common attributes every resource type has (RFC 7643 §3.1), resolved without a
/// URN prefix (or with the core schema's) as if they were core attributes, and listed
/// in no schema.
pub static COMMON_ATTRIBUTES: [Attribute; 3] = [ID, EXTERNAL_ID, META];

/// The `schemas` attribute every resource carries (RFC 7643 §3): its schema URNs.
/// Resolvable as `schemas` in filters and projections; listed in no schema.
pub static SCHEMAS_ATTRIBUTE: Attribute = reference(
    "schemas",
    "The schema URIs the resource's representation uses.",
    &["uri"],
)
.multi()
.required()
.case_exact()
.read_only()
.returned(Returned::Always);

/// The `User` resource type, endpoint `/Users`, with the optional enterprise extension.
pub static USER: ResourceType = ResourceType {
    id: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[SchemaExtension {
        schema: &ENTERPRISE_USER_SCHEMA,
        required: false,
    }],
};

/// The `Group` resource type, endpoint `/Groups`.
pub static GROUP: ResourceType = ResourceType {
    id: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

/// Every schema, in `/Schemas` order.
pub static SCHEMAS: [&Schema; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// Every resource type, in `/ResourceTypes` order.
pub static RESOURCE_TYPES: [&ResourceType; 2] = [&USER, &GROUP];

/// The schema whose URN is `id` (case-insensitive), for `/Schemas/{id}`.
pub fn schema_by_id(id: &str) -> Option<&'static Schema> {
    SCHEMAS
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The resource type `id` (`User`, `Group`; case-insensitive), for `/ResourceTypes/{id}`.
pub fn resource_type_by_id(id: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(id))
}

/// A `ListResponse` (RFC 7644 §3.4.2) of all of `resources`, unpaged.
pub fn list_response(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": n,
        "itemsPerPage": n,
        "startIndex": 1,
        "Resources": resources,
    })
}

/// The `/Schemas` answer: a `ListResponse` of every schema.
pub fn schemas_json(base_url: &str) -> Value {
    list_response(SCHEMAS.iter().map(|s| s.to_json(base_url)).collect())
}

/// The `/ResourceTypes` answer: a `ListResponse` of every resource type.
pub fn resource_types_json(base_url: &str) -> Value {
    list_response(RESOURCE_TYPES.iter().map(|r| r.to_json(base_url)).collect())
}
