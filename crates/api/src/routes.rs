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
    /// The API's own description (`GET /openapi.json`), its reference page
    /// (`GET /reference`, `GET /reference/rapidoc-min.js`) and the admin console
    /// (`GET /console`, `/console/console.js`, `/console/console.css`): public, no token.
    Meta,
}

/// One route: a line of [`catalogue`].
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The spin.toml component id, also the component's crate name under `components/`.
    pub component: &'static str,
    /// The route pattern, as spin.toml's `[[trigger.http]] route` (`:name` parameters).
    pub route: &'static str,
    /// The methods served, as `Allow` lists them.
    pub allow: &'static str,
    /// The `Allow` of a 405 at the path of a request ([`Endpoint::allow_for`]): `allow`
    /// itself, or some of its methods where the route serves different resources.
    pub allow_for: fn(&crate::ApiRequest) -> &'static str,
    /// What each method of `allow` requires, in `allow`'s order.
    pub requirements: Vec<(&'static str, Requirement)>,
    /// The surface, which decides the shape of every answer.
    pub surface: Surface,
    /// The public path of the Rust type serving it, as the component names it in
    /// `roster_spin::serve::<…>` (e.g. `roster_api::cas::UserRoute`).
    pub endpoint: &'static str,
    /// One sentence saying what each method does: the comment above the route in
    /// spin.toml and the doc of the component's handler.
    pub summary: &'static str,
}

fn spec<E: Endpoint>(
    component: &'static str,
    surface: Surface,
    endpoint: &'static str,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        component,
        route: E::ROUTE,
        allow: E::ALLOW,
        allow_for: E::allow_for,
        requirements: E::ALLOW
            .split(", ")
            .filter_map(|m| E::requirement(m).map(|r| (m, r)))
            .collect(),
        surface,
        endpoint,
        summary,
    }
}

/// Declares every route once — component id, endpoint type (its path from the crate
/// root), surface, summary — and derives from that one list both [`catalogue`] and
/// [`dispatch`]. `cargo xtask gen` writes `components/` and spin.toml from the
/// catalogue; `cargo xtask gen --check` (in `make lint`) fails when they differ.
macro_rules! routes {
    ($($id:literal => $($seg:ident)::+, $surface:ident, $summary:literal;)*) => {
        /// Every route, in spin.toml's order.
        pub fn catalogue() -> Vec<RouteSpec> {
            vec![$(
                spec::<crate::$($seg)::+>(
                    $id,
                    Surface::$surface,
                    concat!("roster_api" $(, "::", stringify!($seg))+),
                    $summary,
                ),
            )*]
        }

        /// Runs the endpoint of `component` natively (what the component would do
        /// inside Spin): `None` for an unknown component. Benchmarks and fuzz tests use
        /// it; a test checks it knows every component of the catalogue.
        pub async fn dispatch<S: roster_domain::Store>(
            component: &str,
            req: &crate::ApiRequest,
            store: &S,
            ctx: &crate::Ctx,
        ) -> Option<crate::ApiResponse> {
            match component {
                $($id => Some(<crate::$($seg)::+ as Endpoint>::handle(req, store, ctx).await),)*
                _ => None,
            }
        }
    };
}

// Component id => endpoint type, surface,
//     summary (spin.toml's comment and the component handler's doc).
routes! {
    "organizations" => mdm::OrganizationsRoute, Mdm,
        "POST creates an organization, GET lists them (global admin).";
    "organization" => mdm::OrganizationRoute, Mdm,
        "GET or PATCH an organization by id or slug.";
    "mdm-users" => mdm::UsersRoute, Mdm,
        "POST creates a user; GET lists users.";
    "mdm-user" => mdm::UserRoute, Mdm,
        "GET a user; PUT replaces, PATCH merges; DELETE removes it (seed 000).";
    "mdm-user-devices" => mdm::UserDevicesRoute, Mdm,
        "GET lists the user's devices; POST enrolls one.";
    "mdm-user-device" => mdm::UserDeviceRoute, Mdm,
        "GET, PATCH (status) or DELETE a device.";
    "mdm-user-enrollment-tokens" => mdm::EnrollmentTokensRoute, Mdm,
        "GET lists the user's enrollment tokens; POST issues one.";
    "mdm-user-enrollment-token" => mdm::EnrollmentTokenRoute, Mdm,
        "DELETE revokes an enrollment token.";
    "mdm-users-count" => mdm::UsersCountRoute, Mdm,
        "GET the number of users in O(1) reads.";
    "mdm-user-status" => mdm::UserStatusRoute, Mdm,
        "POST enables or disables a user.";
    "mdm-groups" => mdm::GroupsRoute, Mdm,
        "GET lists groups; POST creates one.";
    "mdm-group" => mdm::GroupRoute, Mdm,
        "GET or DELETE a group.";
    "mdm-user-groups" => mdm::UserGroupsRoute, Mdm,
        "GET a user's groups; PUT replaces them.";
    "mdm-user-password" => mdm::UserPasswordRoute, Mdm,
        "POST changes a user's password (old + new).";
    "mdm-user-password-reset" => mdm::UserPasswordResetRoute, Mdm,
        "POST resets a user's password (administrator).";
    "mdm-invitations" => mdm::InvitationsRoute, Mdm,
        "POST invites users by username: an enrollment token and an outbox message each.";
    "mdm-outbox" => mdm::OutboxRoute, Mdm,
        "GET pending outbox messages; POST acknowledges delivered ones.";
    "tokens" => mdm::GlobalTokensRoute, Mdm,
        "GET lists global API tokens; POST creates one (global tokens only).";
    "token" => mdm::GlobalTokenRoute, Mdm,
        "GET one global API token; DELETE revokes it.";
    "org-tokens" => mdm::OrgTokensRoute, Mdm,
        "GET lists the organization's API tokens; POST creates one.";
    "org-token" => mdm::OrgTokenRoute, Mdm,
        "GET one of the organization's API tokens; DELETE revokes it.";
    "audit" => mdm::AuditRoute, Mdm,
        "GET the organization's audit log.";
    "operation" => mdm::OperationRoute, Mdm,
        "GET polls a removal operation, advancing it.";
    "mdm-user-restore" => mdm::UserRestoreRoute, Mdm,
        "POST restores a softly removed user.";
    "mdm-user-removals" => mdm::UserRemovalsRoute, Mdm,
        "POST removes many users (seed 000's rules), a result per user.";
    "mdm-users-purge" => mdm::UsersPurgeRoute, Mdm,
        "POST purges softly removed users whose retention ended.";
    "mdm-user-hold" => mdm::UserHoldRoute, Mdm,
        "GET a user's legal hold; PUT places it, DELETE lifts it.";
    "mdm-hold" => mdm::OrgHoldRoute, Mdm,
        "GET the organization-wide legal hold; PUT places it, DELETE lifts it.";
    "mdm-user-export" => mdm::UserExportRoute, Mdm,
        "GET exports a user's data as one JSON document (kept nowhere).";
    "mdm-user-removal-schedule" => mdm::UserRemovalScheduleRoute, Mdm,
        "GET a user's scheduled removal; PUT schedules it, DELETE cancels it.";
    "mdm-users-scheduled-removals" => mdm::ScheduledRemovalsRoute, Mdm,
        "POST does the due scheduled removals and warnings (for a scheduler).";
    "mdm-user-subscriptions" => mdm::UserSubscriptionsRoute, Mdm,
        "GET lists a user's API subscriptions; POST adds one.";
    "mdm-user-subscription" => mdm::UserSubscriptionRoute, Mdm,
        "PATCH a subscription's state; DELETE removes it.";
    "event-subscriptions" => mdm::EventSubscriptionsRoute, Mdm,
        "GET lists the organization's pushed-event subscribers; POST adds one (its signing secret shown once).";
    "event-subscription" => mdm::EventSubscriptionRoute, Mdm,
        "GET one pushed-event subscriber; DELETE removes it.";
    "event-deliveries" => mdm::EventDeliveriesRoute, Mdm,
        "GET lists pushed-event deliveries not yet settled (pending, dead-lettered).";
    "event-deliveries-run" => mdm::EventDeliveriesRunRoute, Mdm,
        "POST sends the due pushed-event deliveries (an external scheduler calls it).";
    "event-delivery-replay" => mdm::EventDeliveryReplayRoute, Mdm,
        "POST requeues a dead-lettered pushed-event delivery.";
    "scim-users" => scim::service::UsersRoute, Scim,
        "SCIM Users: GET lists (filter, sort, index or cursor paging), POST creates a user (RFC 7644).";
    "scim-user" => scim::service::UserRoute, Scim,
        "SCIM User: GET, PUT, PATCH, DELETE (RFC 7644).";
    "scim-users-search" => scim::service::UsersSearchRoute, Scim,
        "SCIM POST /Users/.search lists users with a SearchRequest (RFC 7644 section 3.4.3).";
    "scim-groups" => scim::service::GroupsRoute, Scim,
        "SCIM Groups: GET lists (filter, sort, index or cursor paging), POST creates a group (RFC 7644).";
    "scim-group" => scim::service::GroupRoute, Scim,
        "SCIM Group: GET, PUT, PATCH (members), DELETE (RFC 7644).";
    "scim-groups-search" => scim::service::GroupsSearchRoute, Scim,
        "SCIM POST /Groups/.search lists groups with a SearchRequest (RFC 7644 section 3.4.3).";
    "scim-service-provider-config" => scim::service::ServiceProviderConfigRoute, Scim,
        "SCIM discovery: the ServiceProviderConfig (RFC 7644 section 4).";
    "scim-resource-types" => scim::service::ResourceTypesRoute, Scim,
        "SCIM discovery: the resource types (RFC 7644 section 4).";
    "scim-resource-type" => scim::service::ResourceTypeRoute, Scim,
        "SCIM discovery: one resource type (RFC 7644 section 4).";
    "scim-schemas" => scim::service::SchemasRoute, Scim,
        "SCIM discovery: the schemas (RFC 7644 section 4).";
    "scim-schema" => scim::service::SchemaRoute, Scim,
        "SCIM discovery: one schema by URN (RFC 7644 section 4).";
    "scim-me" => scim::service::MeRoute, Scim,
        "SCIM /Me: 501 for every method, in the SCIM error shape (RFC 7644 section 3.11).";
    "scim-unknown" => scim::service::UnknownRoute, Scim,
        "SCIM: any other path under the base answers a SCIM 404 error naming it (RFC 7644 section 3.12).";
    "scim-search" => scim::service::RootSearchRoute, Scim,
        "SCIM POST /.search: one query over Users and Groups (RFC 7644 section 3.4.3).";
    "cas-user" => cas::UserRoute, Cas,
        "DELETE deletes a disabled user now with all their devices and information (seed 001, Cloud Access Service).";
    "dynatrace-user" => dynatrace::UserRoute, Dynatrace,
        "DELETE removes a person from a Dynatrace account (seed 002).";
    "apim-user" => apim::UserRoute, Apim,
        "GET an API Management user (with asyncId: poll its removal); DELETE removes it (seed 004).";
    "apim-operation-result" => apim::OperationResultRoute, Apim,
        "GET polls an API Management removal (Azure-AsyncOperation), advancing it by one batch (seed 004).";
    "wso2-users" => wso2::UsersRoute, Wso2,
        "WSO2 (seed 003): POST adds a user, GET lists all, PUT ?username= updates, DELETE ?username= removes (also /mdm-admin/users/: Spin ignores one trailing slash).";
    "wso2-users-view" => wso2::UsersViewRoute, Wso2,
        "WSO2 (seed 003): GET ?username= one user's details.";
    "wso2-users-email-invitation" => wso2::UsersEmailInvitationRoute, Wso2,
        "WSO2 (seed 003): POST a JSON array of usernames to invite them to enroll.";
    "wso2-users-devices" => wso2::UsersDevicesRoute, Wso2,
        "WSO2 (seed 003): GET ?username= the user's devices (a bare array).";
    "wso2-users-roles" => wso2::UsersRolesRoute, Wso2,
        "WSO2 (seed 003): GET ?username= the user's roles.";
    "wso2-users-count" => wso2::UsersCountRoute, Wso2,
        "WSO2 (seed 003): GET the number of users (a bare integer).";
    "wso2-users-view-users" => wso2::UsersViewUsersRoute, Wso2,
        "WSO2 (seed 003): GET ?username= details of users whose username contains the text.";
    "wso2-users-by-username" => wso2::UsersByUsernameRoute, Wso2,
        "WSO2 (seed 003): GET ?username= names of users whose username contains the text.";
    "wso2-users-change-password" => wso2::UsersChangePasswordRoute, Wso2,
        "WSO2 (seed 003): POST changes a password (base64) after checking the old one.";
    "wso2-users-reset-password" => wso2::UsersResetPasswordRoute, Wso2,
        "WSO2 (seed 003): POST sets a password (base64) without the old one.";
    "openapi" => openapi::DocumentRoute, Meta,
        "GET the OpenAPI 3.1 description of every route (docs/openapi.json); no token needed.";
    "reference" => openapi::reference::PageRoute, Meta,
        "GET the API reference page (RapiDoc over /openapi.json); no token needed.";
    "reference-rapidoc" => openapi::reference::ViewerRoute, Meta,
        "GET RapiDoc's bundle (npm package rapidoc, pinned) for the reference page; no token needed.";
    "console" => console::PageRoute, Meta,
        "GET the admin console's page (it speaks only the canonical API with a pasted token); no token needed.";
    "console-js" => console::ScriptRoute, Meta,
        "GET the admin console's script (one ES module, no dependency); no token needed.";
    "console-css" => console::StyleRoute, Meta,
        "GET the admin console's style sheet; no token needed.";
    "mdm-users-inactivity-sweep" => mdm::InactivitySweepRoute, Mdm,
        "POST schedules the removal of users inactive under the organization's policy, in bounded batches (for a scheduler).";
}

/// The `allowed_outbound_hosts` of `component` in spin.toml: none, except for the
/// pushed events' delivery route, whose one entry is the `event_hosts` application
/// variable (`EVENT_HOSTS_VARIABLE`), so the operator says where events may go.
pub fn allowed_outbound_hosts(component: &str) -> &'static [&'static str] {
    match component {
        "event-deliveries-run" => &["{{ event_hosts }}"],
        _ => &[],
    }
}

/// The application variable naming the one host pattern (Spin's
/// `scheme://host[:port]`, `*` wildcards allowed) pushed events may be sent to.
pub const EVENT_HOSTS_VARIABLE: &str = "event_hosts";

/// Its default: a reserved name that never resolves (RFC 2606), so no event leaves
/// until the operator sets it.
pub const EVENT_HOSTS_DEFAULT: &str = "https://events.invalid";

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
            let allow = resp
                .headers()
                .get(http::header::ALLOW)
                .and_then(|v| v.to_str().ok());
            assert_eq!(allow, Some((r.allow_for)(&req)), "{}", r.component);
            // What a path serves is some of what the route serves.
            let served: Vec<&str> = r.allow.split(", ").collect();
            for m in allow.unwrap_or_default().split(", ") {
                assert!(
                    served.contains(&m),
                    "{}: {m} is not in {}",
                    r.component,
                    r.allow
                );
            }
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
