//! The integration tests, one binary: the real `.wasm` components through roster-host over
//! loopback HTTP (shared support in `tests/support`, the `roster_tests` library). Every
//! test starts its own `App` (its own host, store and, with `ROSTER_KV=redis`, its own
//! redis-server), so the tests run side by side in one process; every test ends with the
//! invariants checker.

// Tests may lowercase with the standard library (the reference `roster_lowercase` is
// checked against); only the components must not link its table (clippy.toml).
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apim;
mod auth;
mod cas;
mod dynatrace;
mod events;
mod export;
mod hold;
mod inactivity;
mod mdm_slice;
mod openapi;
mod paging;
mod reference;
mod removal_admin;
mod removal_faults;
mod schedule;
mod scim;
mod surfaces;
mod wso2;
