//! Component `organizations`: `/v1/organizations`.

use spin_sdk::http::{IntoResponse, Request};

/// POST creates an organization, GET lists them (global admin).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Organizations>(req).await
}
