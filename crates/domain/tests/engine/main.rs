//! The domain's integration tests, one binary: the directory's entities and
//! uniqueness, group membership, and the removal engine (synchronous, soft, restore,
//! purge, asynchronous with polls, and interrupted or crashed at every store call),
//! all natively against the in-memory store (Spin's semantics, `ROSTER_KV` choosing the
//! backend).

// Tests may lowercase with the standard library (the reference `roster_lowercase` is
// checked against); only the components must not link its table (clippy.toml).
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod async_removal;
mod directory;
mod events;
mod export;
mod helpers;
mod holds;
mod inactivity;
mod membership;
mod removal;
mod schedules;
mod search;
