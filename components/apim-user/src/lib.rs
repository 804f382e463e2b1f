//! Component `apim-user`: `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/users/:userId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET an API Management user (with asyncId: poll its removal); DELETE removes it (seed 004).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::apim::User>(req).await
}
