//! roster-domain: Roster's directory model and rules, over a [`store::Store`] port.
//!
//! Pure Rust with no wasm and no spin-sdk dependency: it builds and is unit-tested
//! natively against [`store::MemoryStore`], which has the exact semantics of Spin's
//! key-value store (including compare-and-swap being an upsert on absent keys).
//!
//! - [`orgs`], [`users`], [`devices`], [`enrollment`]: the entities' operations;
//! - [`claims`]: uniqueness that holds under concurrency without transactions;
//! - [`count`]: exact O(1) counts;
//! - [`removal`]: the removal engine, with a policy per API surface;
//! - [`tokens`], [`permissions`], [`ratelimit`]: API tokens, what they may do, and
//!   how often;
//! - [`audit`], [`operations`]: the audit log and pollable removals;
//! - [`identity`]: a person's memberships across organizations (Dynatrace accounts);
//! - [`keys`]: the key layout, in one place.

#![deny(missing_docs)]

pub mod audit;
pub mod claims;
pub mod count;
pub mod dependents;
pub mod devices;
pub mod enrollment;
pub mod error;
pub mod groups;
pub mod identity;
pub mod ids;
pub mod invariants;
pub mod keys;
pub mod model;
pub mod operations;
pub mod orgs;
pub mod outbox;
pub mod password;
pub mod permissions;
pub mod ratelimit;
pub mod records;
pub mod removal;
pub mod store;
pub mod subscriptions;
pub mod time;
pub mod tokens;
pub mod users;

pub use error::{DomainError, Entity, ValidationError};
pub use store::{MemoryStore, Store, StoreError, Swap};
pub use time::Timestamp;
