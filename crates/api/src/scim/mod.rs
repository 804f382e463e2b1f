//! SCIM 2.0 for identity providers: the service provider ([`service`]), the HTTP
//! endpoints for Users and Groups over the shared domain and the discovery endpoints.
//! The protocol itself (schemas, filters, paths, PATCH, projection, the RFC's error
//! body) is the [`roster_scim`] crate, which knows nothing of this one.

pub mod service;
