//! Component `operation`: `/v1/organizations/:organizationId/operations/:operationId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET polls a removal operation, advancing it.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Operation>(req).await
}
