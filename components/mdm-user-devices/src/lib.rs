//! Component `mdm-user-devices`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists the user's devices; POST enrolls one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserDevices>(req).await
}
