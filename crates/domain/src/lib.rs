//! roster-domain: Roster's directory model and rules, over a [`store::Store`] port.
//!
//! Pure Rust with no wasm and no spin-sdk dependency: it builds and is unit-tested
//! natively against [`store::MemoryStore`], which has the exact semantics of Spin's
//! key-value store (including compare-and-swap being an upsert on absent keys).
//!
//! The entities and their operations:
//! - [`orgs`], [`users`], [`groups`], [`devices`], [`enrollment`], [`subscriptions`]:
//!   create, read, change and delete each, with [`model`] their stored records and
//!   [`ids`] the validated identifiers and names they are built from;
//! - [`password`]: password hashing and checking for users that sign in;
//! - [`removal`]: the removal engine (a journaled state machine, a policy per API
//!   surface), with soft removal, restore and purge, and [`operations`] the pollable
//!   record of a removal that finishes asynchronously;
//! - [`tokens`], [`permissions`], [`ratelimit`]: API tokens, what they may do, and
//!   how often;
//! - [`holds`]: legal holds on users and organizations, which every removal refuses;
//! - [`export`]: a user's data as one document, which a removal may require first;
//! - [`schedules`]: removals scheduled for a time, done by a run a scheduler starts;
//! - [`audit`], [`outbox`]: the audit log, and messages (invitations, notices)
//!   waiting for a mailer;
//! - [`identity`]: a person's memberships across organizations (Dynatrace accounts).
//!
//! The mechanisms they share:
//! - [`store`]: the port (and the in-memory store with each Spin backend's
//!   semantics), [`records`] JSON records with conditional updates over it, and
//!   [`keys`] the key layout, in one place;
//! - [`claims`]: uniqueness that holds under concurrency without transactions, and
//!   moving a record's claims when its unique values change;
//! - [`search_index`]: the n-gram flags that let a `q` search read only the batches
//!   that can match;
//! - [`count`]: exact O(1) counts; [`dependents`]: the closable id lists that tie
//!   dependents to their user or group;
//! - [`invariants`]: the checker of every index and claim over a store snapshot;
//! - [`error`], [`time`]: the error types and timestamps.

#![deny(missing_docs)]

pub mod audit;
pub mod claims;
pub mod count;
pub mod dependents;
pub mod devices;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod export;
pub mod groups;
pub mod holds;
pub mod identity;
pub mod ids;
pub mod inactivity;
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
pub mod schedules;
pub mod search_index;
pub mod store;
pub mod subscriptions;
pub mod time;
pub mod tokens;
pub mod users;

pub use error::{DomainError, Entity, ValidationError};
pub use store::{MemoryStore, Store, StoreError, Swap};
pub use time::Timestamp;
