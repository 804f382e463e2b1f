//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`,
//! `/ResourceTypes[/:id]`, `/Schemas[/:id]`, rendered from the schema model that
//! drives every other endpoint. Query parameters are ignored, except `filter`, which
//! is refused with 403 as §4 asks.

use super::wire::{Base, enter, respond};
use super::{DEFAULT_COUNT, Error, MAX_RESULTS};
use crate::Endpoint;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_scim::ScimError;
use roster_scim::schema::{resource_type_by_id, resource_types_json, schema_by_id, schemas_json};
use serde_json::{Value, json};

/// The `ServiceProviderConfig` resource, with `meta.location` under `base`: PATCH,
/// filtering (at most [`MAX_RESULTS`] results per page), sorting, ETags and password
/// changes are supported; bulk is not; lists page by index and by cursor (RFC 9865
/// §3; index by default, cursors never expire so no `cursorTimeout`); authentication
/// is an organization's API token as an OAuth bearer token.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": true },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_COUNT,
            "maxPageSize": MAX_RESULTS,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An API token of the organization (POST /v1/organizations/{organizationId}/tokens), sent as Authorization: Bearer <token>.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
        },
    })
}

/// The common prologue of the discovery endpoints: [`enter`], then 403 for a `filter`
/// (RFC 7644 §4). The base URL the documents' locations are under.
async fn discover<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<Base, Error> {
    let scope = enter::<E, S>(req, store, ctx).await?;
    if req.query_param("filter").is_some() {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "discovery endpoints are not filtered (RFC 7644 §4)",
        )
        .into());
    }
    Ok(scope.base)
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig`: GET.
    pub struct ServiceProviderConfigRoute {
        route: "/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig",
        error: Error,
        GET need(MdmUser, Read) => get_service_provider_config,
    }
}

async fn get_service_provider_config<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let base = discover::<ServiceProviderConfigRoute, S>(req, store, ctx).await?;
    Ok(respond(
        StatusCode::OK,
        &service_provider_config(base.as_str()),
    ))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/ResourceTypes`: GET the `User` and
    /// `Group` resource types.
    pub struct ResourceTypesRoute {
        route: "/v1/organizations/:organizationId/scim/v2/ResourceTypes",
        error: Error,
        GET need(MdmUser, Read) => get_resource_types,
    }
}

async fn get_resource_types<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let base = discover::<ResourceTypesRoute, S>(req, store, ctx).await?;
    Ok(respond(StatusCode::OK, &resource_types_json(base.as_str())))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/ResourceTypes/:resourceTypeId`: GET one
    /// resource type (`User`, `Group`; any case).
    pub struct ResourceTypeRoute {
        route: "/v1/organizations/:organizationId/scim/v2/ResourceTypes/:resourceTypeId",
        error: Error,
        GET need(MdmUser, Read) => get_resource_type,
    }
}

async fn get_resource_type<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let base = discover::<ResourceTypeRoute, S>(req, store, ctx).await?;
    let id = req.param("resourceTypeId").unwrap_or_default();
    let Some(rt) = resource_type_by_id(&id) else {
        return Err(no_such("resource type", &id));
    };
    Ok(respond(StatusCode::OK, &rt.to_json(base.as_str())))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Schemas`: GET the User, enterprise User
    /// and Group schemas.
    pub struct SchemasRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Schemas",
        error: Error,
        GET need(MdmUser, Read) => get_schemas,
    }
}

async fn get_schemas<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let base = discover::<SchemasRoute, S>(req, store, ctx).await?;
    Ok(respond(StatusCode::OK, &schemas_json(base.as_str())))
}

crate::endpoint! {
    /// `/v1/organizations/:organizationId/scim/v2/Schemas/:schemaId`: GET one schema by
    /// its URN (any case; percent-encoded or not).
    pub struct SchemaRoute {
        route: "/v1/organizations/:organizationId/scim/v2/Schemas/:schemaId",
        error: Error,
        GET need(MdmUser, Read) => get_schema,
    }
}

async fn get_schema<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let base = discover::<SchemaRoute, S>(req, store, ctx).await?;
    let id = req.param("schemaId").unwrap_or_default();
    let Some(schema) = schema_by_id(&id) else {
        return Err(no_such("schema", &id));
    };
    Ok(respond(StatusCode::OK, &schema.to_json(base.as_str())))
}

/// 404 naming the `what` asked for (its first 160 characters).
fn no_such(what: &str, id: &str) -> Error {
    let cut: String = id.chars().take(160).collect();
    ScimError::new(StatusCode::NOT_FOUND, None, format!("no {what} {cut}")).into()
}
