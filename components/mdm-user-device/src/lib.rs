//! Component `mdm-user-device`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/devices/:deviceId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET, PATCH (status) or DELETE a device.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserDevice>(req).await
}
