//! Component `scim-user`: `/v1/organizations/:organizationId/scim/v2/Users/:userId`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM User: GET, PUT, PATCH, DELETE (RFC 7644).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::User>(req).await
}
