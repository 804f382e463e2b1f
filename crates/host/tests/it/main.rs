//! roster-host's tests, one binary.
//!
//! - `conformance`: roster-host against the fixture components in `crates/host/fixtures`,
//!   behaving as released Spin (routing, headers, key-value and variables semantics over
//!   SQLite and Redis, access control, traps, fault injection).
//! - `check`: `roster-host check`, the invariants checker over a store file or a Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check;
mod conformance;
