//! Component `mdm-user`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET a user; PUT replaces, PATCH merges; DELETE removes it (seed 000).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::User>(req).await
}
