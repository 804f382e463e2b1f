//! The SCIM 2.0 service provider (RFC 7644) for Users and Groups on the shared domain,
//! per organization, under `/v1/organizations/:organizationId/scim/v2`. Each path is
//! its own [`crate::Endpoint`] (and component):
//!
//! | route (under the base) | endpoint | methods |
//! |---|---|---|
//! | `/Users` | [`UsersRoute`] | GET (list, filter), POST |
//! | `/Users/:userId` | [`UserRoute`] | GET, PUT, PATCH, DELETE |
//! | `/Users/.search` | [`UsersSearchRoute`] | POST |
//! | `/Groups` | [`GroupsRoute`] | GET (list, filter), POST |
//! | `/Groups/:groupId` | [`GroupRoute`] | GET, PUT, PATCH, DELETE |
//! | `/Groups/.search` | [`GroupsSearchRoute`] | POST |
//! | `/ServiceProviderConfig` | [`ServiceProviderConfigRoute`] | GET |
//! | `/ResourceTypes`, `/ResourceTypes/:resourceTypeId` | [`ResourceTypesRoute`], [`ResourceTypeRoute`] | GET |
//! | `/Schemas`, `/Schemas/:schemaId` | [`SchemasRoute`], [`SchemaRoute`] | GET |
//! | `/Me` | [`MeRoute`] | every method: 501 |
//! | `/.search` | [`RootSearchRoute`] | POST (Users and Groups at once) |
//! | `/...` (anything else) | [`UnknownRoute`] | every method: 404 |
//!
//! The three `.search` routes are `…/:prefix.search` (Spin's router splits route
//! segments at `.`, so a literal `.search` segment cannot be written), which the router
//! ranks ahead of `/Users/:userId` and `/Groups/:groupId`.
//!
//! Built on the protocol crate ([`roster_scim`]): requests are validated and PATCHes
//! applied there, against the one schema model the discovery documents render, and
//! the results map onto the domain's users and groups (`users`, `groups`). Lists
//! are planned so that no filter is answered by a scan of the store (`query`).
//! Every failure is an [`Error`], which its `into_response` alone turns into an RFC
//! 7644 §3.12 error body (logging the cause of every 500); `wire` holds the prologue,
//! preconditions, list parameters and headers (`application/scim+json`, `ETag`,
//! `Location`).
//! `docs/scim.md` documents every rule.

mod discovery;
mod error;
mod fallback;
mod groups;
mod query;
mod search;
mod users;
mod wire;

pub use discovery::{
    ResourceTypeRoute, ResourceTypesRoute, SchemaRoute, SchemasRoute, ServiceProviderConfigRoute,
    service_provider_config,
};
pub use error::Error;
pub use fallback::{MeRoute, UnknownRoute};
pub use groups::{GroupRoute, GroupsRoute, GroupsSearchRoute};
pub use search::RootSearchRoute;
pub use users::{UserRoute, UsersRoute, UsersSearchRoute};
pub use wire::SEARCH_REQUEST_URN;

/// The most resources one list response carries (`count` is capped to it); advertised
/// as `filter.maxResults` and `pagination.maxPageSize`.
pub const MAX_RESULTS: usize = 200;

/// `count` when a list request gives none; advertised as `pagination.defaultPageSize`.
pub const DEFAULT_COUNT: usize = 100;

/// The most candidates a filter may select before it is evaluated (more is 400
/// `tooMany`): what bounds the work of any filtered list, sorted or not.
pub const MAX_CANDIDATES: usize = 1000;

/// The largest result set `sortBy` sorts (a larger unfiltered listing is 400
/// `tooMany`): sorting needs the whole result set in memory.
pub const MAX_SORTED: usize = 1000;

/// The most substring searches one filter may need (each reads every search entry of
/// the organization once).
pub const MAX_SEARCHES: usize = 4;

/// The most exact lookups one filter may need.
pub const MAX_LOOKUPS: usize = 200;

/// `items` in the order `cmp` gives, stably (ties keep their order): what
/// `items.sort_by(cmp)` gives for any consistent order, with the standard library's
/// stable sort compiled once for every item type and order (it sorts the items'
/// positions, through `dyn`), where each `sort_by` or `sort_by_key` compiles its own
/// (~5 KB a component, four of them in the root search).
pub(crate) fn sorted_by<T>(items: Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
    let order = stable_order(items.len(), &|a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The positions `0..len` sorted stably by `cmp` (the one instance of the stable sort).
fn stable_order(len: usize, cmp: &dyn Fn(usize, usize) -> std::cmp::Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

#[cfg(test)]
mod tests {
    /// `sorted_by` orders as the standard library's stable `sort_by` does: by key,
    /// ties in their order, empty and one-item lists as they are.
    #[test]
    fn sorted_by_is_sort_by() {
        for len in [0usize, 1, 2, 7, 33, 200] {
            // Few keys, so most items tie; the position tells ties apart.
            let items: Vec<(u64, usize)> = (0..len)
                .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 5, i))
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|a| a.0);
            let got = super::sorted_by(items, |a, b| a.0.cmp(&b.0));
            assert_eq!(got, expected, "{len} items");
            let mut descending = expected.clone();
            descending.sort_by_key(|a| std::cmp::Reverse(a.0));
            assert_eq!(super::sorted_by(got, |a, b| b.0.cmp(&a.0)), descending);
        }
    }
}
