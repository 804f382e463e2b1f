//! Component `organization`: `/v1/organizations/:organizationId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET or PATCH an organization by id or slug.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Organization>(req).await
}
