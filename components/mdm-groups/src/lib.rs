//! Component `mdm-groups`: `/v1/organizations/:organizationId/mdm/groups`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists groups; POST creates one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Groups>(req).await
}
