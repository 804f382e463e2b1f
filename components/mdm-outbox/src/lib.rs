//! Component `mdm-outbox`: `/v1/organizations/:organizationId/mdm/outbox`.

use spin_sdk::http::{IntoResponse, Request};

/// GET pending outbox messages; POST acknowledges delivered ones.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Outbox>(req).await
}
