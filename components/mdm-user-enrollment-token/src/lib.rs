//! Component `mdm-user-enrollment-token`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens/:tokenId`.

use spin_sdk::http::{IntoResponse, Request};

/// DELETE revokes an enrollment token.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::EnrollmentToken>(req).await
}
