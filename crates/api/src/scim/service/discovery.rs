//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`,
//! `/ResourceTypes[/:id]`, `/Schemas[/:id]`, rendered from the schema model that
//! drives every other endpoint. Query parameters are ignored, except `filter`, which
//! is refused with 403 as §4 asks.

use super::MAX_RESULTS;
use super::wire::{Outcome, enter, finish, respond};
use crate::Endpoint;
use crate::auth::Requirement;
use crate::mdm::need;
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_domain::permissions::{Action, Resource};
use roster_scim::ScimError;
use roster_scim::schema::{resource_type_by_id, resource_types_json, schema_by_id, schemas_json};
use serde_json::{Value, json};

/// The `ServiceProviderConfig` resource, with `meta.location` under `base`: PATCH,
/// filtering (at most [`MAX_RESULTS`] results per page), sorting, ETags and password
/// changes are supported; bulk is not; authentication is an organization's API token
/// as an OAuth bearer token.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": true },
        "sort": { "supported": true },
        "etag": { "supported": true },
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

/// The permission every discovery endpoint requires: reading users.
fn read_requirement(method: &str) -> Option<Requirement> {
    match method {
        "GET" => need(Resource::MdmUser, Action::Read),
        _ => None,
    }
}

/// The common prologue and answer of the discovery endpoints.
async fn discover<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    render: impl FnOnce(&str) -> Result<Value, ScimError>,
) -> Outcome {
    let scope = enter::<E, S>(req, store, ctx).await?;
    if req.query_param("filter").is_some() {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "discovery endpoints are not filtered (RFC 7644 §4)",
        )
        .into());
    }
    Ok(respond(StatusCode::OK, &render(scope.base.as_str())?))
}

/// `/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig`: GET.
pub struct ServiceProviderConfig;

impl Endpoint for ServiceProviderConfig {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        read_requirement(method)
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        finish(discover::<Self, S>(req, store, ctx, |base| Ok(service_provider_config(base))).await)
    }
}

/// `/v1/organizations/:organizationId/scim/v2/ResourceTypes`: GET the `User` and
/// `Group` resource types.
pub struct ResourceTypes;

impl Endpoint for ResourceTypes {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/ResourceTypes";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        read_requirement(method)
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        finish(discover::<Self, S>(req, store, ctx, |base| Ok(resource_types_json(base))).await)
    }
}

/// `/v1/organizations/:organizationId/scim/v2/ResourceTypes/:resourceTypeId`: GET one
/// resource type (`User`, `Group`; any case).
pub struct ResourceTypeById;

impl Endpoint for ResourceTypeById {
    const ROUTE: &'static str =
        "/v1/organizations/:organizationId/scim/v2/ResourceTypes/:resourceTypeId";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        read_requirement(method)
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        let id = req.param("resourceTypeId").unwrap_or_default();
        finish(
            discover::<Self, S>(req, store, ctx, |base| {
                resource_type_by_id(&id)
                    .map(|rt| rt.to_json(base))
                    .ok_or_else(|| {
                        ScimError::new(
                            StatusCode::NOT_FOUND,
                            None,
                            format!("no resource type {}", excerpt(&id)),
                        )
                    })
            })
            .await,
        )
    }
}

/// `/v1/organizations/:organizationId/scim/v2/Schemas`: GET the User, enterprise User
/// and Group schemas.
pub struct Schemas;

impl Endpoint for Schemas {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/Schemas";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        read_requirement(method)
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        finish(discover::<Self, S>(req, store, ctx, |base| Ok(schemas_json(base))).await)
    }
}

/// `/v1/organizations/:organizationId/scim/v2/Schemas/:schemaId`: GET one schema by
/// its URN (any case; percent-encoded or not).
pub struct SchemaById;

impl Endpoint for SchemaById {
    const ROUTE: &'static str = "/v1/organizations/:organizationId/scim/v2/Schemas/:schemaId";
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        read_requirement(method)
    }

    async fn handle<S: Store>(req: &ApiRequest, store: &S, ctx: &Ctx) -> ApiResponse {
        let id = req.param("schemaId").unwrap_or_default();
        finish(
            discover::<Self, S>(req, store, ctx, |base| {
                schema_by_id(&id).map(|s| s.to_json(base)).ok_or_else(|| {
                    ScimError::new(
                        StatusCode::NOT_FOUND,
                        None,
                        format!("no schema {}", excerpt(&id)),
                    )
                })
            })
            .await,
        )
    }
}

fn excerpt(s: &str) -> String {
    let cut: String = s.chars().take(160).collect();
    cut
}
