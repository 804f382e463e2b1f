//! Component `apim-operation-result`: `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ApiManagement/service/:serviceName/tenant/operationResults/:operationId`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// GET polls an API Management removal (Azure-AsyncOperation), advancing it by one batch (seed 004).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::apim::OperationResult>(req).await
}
