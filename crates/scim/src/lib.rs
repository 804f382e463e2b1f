//! roster-scim: the SCIM 2.0 protocol (RFC 7643, RFC 7644) as pure functions over
//! `serde_json::Value` resources. No HTTP routing, no storage and no Roster domain live
//! here (the crate depends on neither roster-api nor roster-domain): the service
//! provider in roster-api (`roster_api::scim::service`) parses requests with these
//! functions, evaluates them against its stored resources, and answers failures with
//! [`ScimError::to_json`].
//!
//! What it implements, by section:
//! - [`schema`]: the schemas and resource types (RFC 7643 §2, §3.1, §4, §7)
//!   and their discovery documents (`/Schemas`, `/ResourceTypes`; RFC 7643 §6, §7,
//!   RFC 7644 §4);
//! - [`path`]: attribute paths (RFC 7644 §3.10) and PATCH paths (RFC 7644 §3.5.2);
//! - [`filter`]: filters (RFC 7644 §3.4.2.2);
//! - [`patch`]: PATCH operations (RFC 7644 §3.5.2);
//! - [`project`]: `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) and
//!   `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3);
//! - [`error`]: the error body and its `scimType` keywords (RFC 7644 §3.12);
//! - `dateTime` values (RFC 7643 §2.3.5) and case-insensitive attribute names
//!   (RFC 7643 §2.1), used by all of the above.
//!
//! One static model ([`schema`]) drives everything, so what `/Schemas` advertises is
//! what filters, PATCH and projection enforce. Resources are JSON objects with core
//! attributes at the top level and extension attributes under their schema URN, as
//! on the wire. Attribute names match case-insensitively everywhere. No function
//! panics on any input; every failure is a [`ScimError`].

#![deny(missing_docs)]

pub mod error;
pub mod filter;
pub mod patch;
pub mod path;
pub mod project;
pub mod schema;

mod datetime;

/// The instant an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) denotes,
/// in nanoseconds since 1970-01-01T00:00:00Z; `None` when `s` is not one. Never panics.
pub fn parse_datetime(s: &str) -> Option<i128> {
    datetime::parse(s)
}
mod value;

pub use error::{ScimError, ScimType};
pub use filter::{CompValue, CompareOp, Filter, TextTerm, required_equalities, substring_terms};
pub use patch::{PatchOpKind, PatchOperation, PatchRequest};
pub use path::{AttrPath, PatchPath};
pub use project::{Projection, SortBy, SortKey, SortOrder};
pub use schema::{
    AttrType, Attribute, GROUP, Mutability, ResourceType, Returned, Schema, USER, Uniqueness,
};
pub use value::get_ci;

/// The core User schema URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension URN.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The schema of `/Schemas` resources.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The schema of `/ResourceTypes` resources.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The `ListResponse` message URN.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The `PatchOp` message URN.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The `Error` message URN.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[cfg(test)]
mod tests;
