//! Component `mdm-user-enrollment-tokens`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists the user's enrollment tokens; POST issues one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::EnrollmentTokens>(req).await
}
