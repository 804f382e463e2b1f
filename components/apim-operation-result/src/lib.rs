//! Component `apim-operation-result`: `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/tenant/operationResults/:operationId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET polls an API Management removal (Azure-AsyncOperation), advancing it by one batch (seed 004).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::apim::OperationResult>(req).await
}
