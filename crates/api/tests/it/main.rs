//! roster-api's native tests, one binary: the endpoints run against the in-memory store,
//! the same code the components run, without wasm.
//!
//! - `mdm_native`: the canonical endpoints.
//! - `scim_native`: SCIM bounds on large organizations, writes stopped at every store call.
//! - `seeds_native`: seeds 001, 002 and 004.
//! - `fuzz_requests`: a proptest run over every route of the catalogue.
//! - `holds_native`: the legal hold routes and the refusals they cause.

// Tests may lowercase with the standard library (the reference `roster_lowercase` is
// checked against); only the components must not link its table (clippy.toml).
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod corrupt_native;
mod email_optional_native;
mod events_native;
mod export_native;
mod fuzz_requests;
mod holds_native;
mod inactivity_native;
mod mdm_native;
mod schedules_native;
mod scim_native;
mod seeds_native;
