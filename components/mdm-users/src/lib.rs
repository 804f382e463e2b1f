//! Component `mdm-users`: `/v1/organizations/:organizationId/mdm/users`.

use spin_sdk::http::{IntoResponse, Request};

/// POST creates a user; GET lists users.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Users>(req).await
}
