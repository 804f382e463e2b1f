//! The surface-independent SCIM 2.0 core (RFC 7643, RFC 7644): schemas and discovery
//! documents, filters, PATCH, projection and sorting, as pure functions over
//! `serde_json::Value` resources. No HTTP routing and no storage live here: endpoints
//! parse requests with these functions, evaluate them against stored resources, and
//! answer failures with [`ScimError::to_json`].
//!
//! [`service`] is the SCIM service provider built on this core: the HTTP endpoints
//! for Users and Groups over the shared domain, and the discovery endpoints.
//!
//! One static model ([`schema`]) drives everything, so what `/Schemas` advertises is
//! what filters, PATCH and projection enforce. Resources are JSON objects with core
//! attributes at the top level and extension attributes under their schema URN, as
//! on the wire. Attribute names match case-insensitively everywhere. No function
//! panics on any input; every failure is a [`ScimError`].

pub mod error;
pub mod filter;
pub mod patch;
pub mod path;
pub mod project;
pub mod schema;
pub mod service;

mod datetime;
mod value;

pub use error::{ScimError, ScimType};
pub use filter::{CompValue, CompareOp, Filter, TextTerm, required_equalities, substring_terms};
pub use patch::{PatchOpKind, PatchOperation, PatchRequest};
pub use path::{AttrPath, PatchPath};
pub use project::{Projection, SortBy, SortKey, SortOrder};
pub use schema::{
    AttrType, Attribute, GROUP, Mutability, ResourceType, Returned, Schema, USER, Uniqueness,
};

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
