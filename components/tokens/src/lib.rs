//! Component `tokens`: `/v1/tokens`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists global API tokens; POST creates one (global tokens only).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::GlobalTokens>(req).await
}
