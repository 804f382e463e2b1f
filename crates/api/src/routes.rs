//! The route catalogue: every route Roster serves, the component spin.toml maps it to,
//! its methods and what each requires. The integration tests check spin.toml, the
//! components and `docs/api.md` against it, and walk it to prove every route refuses
//! every kind of bad token.

use crate::Endpoint;
use crate::auth::Requirement;

/// The API surface a route belongs to (each answers refusals in its own shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The canonical surface (seed 000's envelope).
    Mdm,
    /// WSO2 EMM (seed 003).
    Wso2,
    /// Cloud Access Service (seed 001).
    Cas,
    /// Dynatrace account management (seed 002).
    Dynatrace,
    /// Azure API Management (seed 004).
    Apim,
    /// SCIM 2.0.
    Scim,
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The spin.toml component id.
    pub component: &'static str,
    /// The route pattern.
    pub route: &'static str,
    /// The methods served, as `Allow` lists them.
    pub allow: &'static str,
    /// What each method requires.
    pub requirements: Vec<(&'static str, Requirement)>,
    /// The surface.
    pub surface: Surface,
    /// The Rust type serving it (what the component's `serve::<…>` names).
    pub endpoint: &'static str,
}

fn spec<E: Endpoint>(component: &'static str, surface: Surface) -> RouteSpec {
    RouteSpec {
        component,
        route: E::ROUTE,
        allow: E::ALLOW,
        requirements: E::ALLOW
            .split(", ")
            .filter_map(|m| E::requirement(m).map(|r| (m, r)))
            .collect(),
        surface,
        endpoint: std::any::type_name::<E>(),
    }
}

/// Every route, in spin.toml's order.
pub fn catalogue() -> Vec<RouteSpec> {
    use crate::scim::service as scim;
    use crate::{mdm, wso2};
    use Surface::{Mdm, Scim, Wso2};
    vec![
        spec::<mdm::Organizations>("organizations", Mdm),
        spec::<mdm::Organization>("organization", Mdm),
        spec::<mdm::Users>("mdm-users", Mdm),
        spec::<mdm::User>("mdm-user", Mdm),
        spec::<mdm::UserDevices>("mdm-user-devices", Mdm),
        spec::<mdm::UserDevice>("mdm-user-device", Mdm),
        spec::<mdm::EnrollmentTokens>("mdm-user-enrollment-tokens", Mdm),
        spec::<mdm::EnrollmentToken>("mdm-user-enrollment-token", Mdm),
        spec::<mdm::UsersCount>("mdm-users-count", Mdm),
        spec::<mdm::UserStatus>("mdm-user-status", Mdm),
        spec::<mdm::Groups>("mdm-groups", Mdm),
        spec::<mdm::Group>("mdm-group", Mdm),
        spec::<mdm::UserGroups>("mdm-user-groups", Mdm),
        spec::<mdm::UserPassword>("mdm-user-password", Mdm),
        spec::<mdm::UserPasswordReset>("mdm-user-password-reset", Mdm),
        spec::<mdm::Invitations>("mdm-invitations", Mdm),
        spec::<mdm::Outbox>("mdm-outbox", Mdm),
        spec::<mdm::GlobalTokens>("tokens", Mdm),
        spec::<mdm::GlobalToken>("token", Mdm),
        spec::<mdm::OrgTokens>("org-tokens", Mdm),
        spec::<mdm::OrgToken>("org-token", Mdm),
        spec::<mdm::Audit>("audit", Mdm),
        spec::<mdm::Operation>("operation", Mdm),
        spec::<mdm::UserRestore>("mdm-user-restore", Mdm),
        spec::<mdm::UserRemovals>("mdm-user-removals", Mdm),
        spec::<mdm::UsersPurge>("mdm-users-purge", Mdm),
        spec::<mdm::UserSubscriptions>("mdm-user-subscriptions", Mdm),
        spec::<mdm::UserSubscription>("mdm-user-subscription", Mdm),
        spec::<scim::UsersRoute>("scim-users", Scim),
        spec::<scim::UserRoute>("scim-user", Scim),
        spec::<scim::GroupsRoute>("scim-groups", Scim),
        spec::<scim::GroupRoute>("scim-group", Scim),
        spec::<scim::ServiceProviderConfigRoute>("scim-service-provider-config", Scim),
        spec::<scim::ResourceTypesRoute>("scim-resource-types", Scim),
        spec::<scim::ResourceTypeRoute>("scim-resource-type", Scim),
        spec::<scim::SchemasRoute>("scim-schemas", Scim),
        spec::<scim::SchemaRoute>("scim-schema", Scim),
        spec::<crate::cas::UserRoute>("cas-user", Surface::Cas),
        spec::<crate::dynatrace::User>("dynatrace-user", Surface::Dynatrace),
        spec::<crate::apim::User>("apim-user", Surface::Apim),
        spec::<crate::apim::OperationResult>("apim-operation-result", Surface::Apim),
        spec::<wso2::Users>("wso2-users", Wso2),
        spec::<wso2::UsersView>("wso2-users-view", Wso2),
        spec::<wso2::UsersEmailInvitation>("wso2-users-email-invitation", Wso2),
        spec::<wso2::UsersDevices>("wso2-users-devices", Wso2),
        spec::<wso2::UsersRoles>("wso2-users-roles", Wso2),
        spec::<wso2::UsersCount>("wso2-users-count", Wso2),
        spec::<wso2::UsersViewUsers>("wso2-users-view-users", Wso2),
        spec::<wso2::UsersByUsername>("wso2-users-by-username", Wso2),
        spec::<wso2::UsersChangePassword>("wso2-users-change-password", Wso2),
        spec::<wso2::UsersResetPassword>("wso2-users-reset-password", Wso2),
    ]
}

/// Runs the endpoint of `component` natively (what the component would do inside
/// Spin): `None` for an unknown component. Benchmarks and fuzz tests use it; a test
/// checks it knows every component of the catalogue.
pub async fn dispatch<S: roster_domain::Store>(
    component: &str,
    req: &crate::ApiRequest,
    store: &S,
    ctx: &crate::Ctx,
) -> Option<crate::ApiResponse> {
    use crate::scim::service as scim;
    use crate::{mdm, wso2};
    macro_rules! table {
        ($($id:literal => $e:ty),* $(,)?) => {
            match component {
                $($id => Some(<$e as Endpoint>::handle(req, store, ctx).await),)*
                _ => None,
            }
        };
    }
    table! {
        "organizations" => mdm::Organizations,
        "organization" => mdm::Organization,
        "mdm-users" => mdm::Users,
        "mdm-user" => mdm::User,
        "mdm-user-devices" => mdm::UserDevices,
        "mdm-user-device" => mdm::UserDevice,
        "mdm-user-enrollment-tokens" => mdm::EnrollmentTokens,
        "mdm-user-enrollment-token" => mdm::EnrollmentToken,
        "mdm-users-count" => mdm::UsersCount,
        "mdm-user-status" => mdm::UserStatus,
        "mdm-groups" => mdm::Groups,
        "mdm-group" => mdm::Group,
        "mdm-user-groups" => mdm::UserGroups,
        "mdm-user-password" => mdm::UserPassword,
        "mdm-user-password-reset" => mdm::UserPasswordReset,
        "mdm-invitations" => mdm::Invitations,
        "mdm-outbox" => mdm::Outbox,
        "tokens" => mdm::GlobalTokens,
        "token" => mdm::GlobalToken,
        "org-tokens" => mdm::OrgTokens,
        "org-token" => mdm::OrgToken,
        "audit" => mdm::Audit,
        "operation" => mdm::Operation,
        "mdm-user-restore" => mdm::UserRestore,
        "mdm-user-removals" => mdm::UserRemovals,
        "mdm-users-purge" => mdm::UsersPurge,
        "mdm-user-subscriptions" => mdm::UserSubscriptions,
        "mdm-user-subscription" => mdm::UserSubscription,
        "scim-users" => scim::UsersRoute,
        "scim-user" => scim::UserRoute,
        "scim-groups" => scim::GroupsRoute,
        "scim-group" => scim::GroupRoute,
        "scim-service-provider-config" => scim::ServiceProviderConfigRoute,
        "scim-resource-types" => scim::ResourceTypesRoute,
        "scim-resource-type" => scim::ResourceTypeRoute,
        "scim-schemas" => scim::SchemasRoute,
        "scim-schema" => scim::SchemaRoute,
        "cas-user" => crate::cas::UserRoute,
        "dynatrace-user" => crate::dynatrace::User,
        "apim-user" => crate::apim::User,
        "apim-operation-result" => crate::apim::OperationResult,
        "wso2-users" => wso2::Users,
        "wso2-users-view" => wso2::UsersView,
        "wso2-users-email-invitation" => wso2::UsersEmailInvitation,
        "wso2-users-devices" => wso2::UsersDevices,
        "wso2-users-roles" => wso2::UsersRoles,
        "wso2-users-count" => wso2::UsersCount,
        "wso2-users-view-users" => wso2::UsersViewUsers,
        "wso2-users-by-username" => wso2::UsersByUsername,
        "wso2-users-change-password" => wso2::UsersChangePassword,
        "wso2-users-reset-password" => wso2::UsersResetPassword,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_knows_every_component_and_names_its_endpoint() {
        let store = roster_domain::MemoryStore::from_env();
        let ctx = crate::Ctx::new(None, roster_domain::Timestamp(0));
        for r in catalogue() {
            // An OPTIONS request is refused by every route with its own 405: proof the
            // component reaches the endpoint the catalogue names.
            let req = crate::ApiRequest::new(http::Method::OPTIONS);
            let resp = futures::executor::block_on(dispatch(r.component, &req, &store, &ctx))
                .unwrap_or_else(|| panic!("{} is not dispatched", r.component));
            assert_eq!(
                resp.status(),
                http::StatusCode::METHOD_NOT_ALLOWED,
                "{}",
                r.component
            );
            assert_eq!(
                resp.headers()
                    .get(http::header::ALLOW)
                    .and_then(|v| v.to_str().ok()),
                Some(r.allow),
                "{}",
                r.component
            );
        }
    }

    #[test]
    fn every_method_of_every_route_has_a_requirement() {
        for r in catalogue() {
            let methods: Vec<&str> = r.allow.split(", ").collect();
            assert_eq!(
                methods.len(),
                r.requirements.len(),
                "{} lacks a requirement for a method",
                r.route
            );
        }
    }
}
