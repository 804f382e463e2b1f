//! The host's own error type.

use std::path::PathBuf;

/// Errors raised by roster-host itself while loading an application (as opposed to errors
/// reported to components through WIT error variants).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    ReadManifest {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML or does not have the expected shape.
    #[error("invalid manifest {path}: {message}")]
    InvalidManifest {
        /// The manifest path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An application variable is required but no value was provided.
    #[error("no provider resolved required variable {0:?}")]
    MissingVariable(String),
    /// A variable name or a template is invalid.
    #[error("invalid variable: {0}")]
    InvalidVariable(String),
    /// A component lists a key-value store label that no configuration defines.
    #[error("unknown key_value_stores label {label:?} for component {component:?}")]
    UnknownStore {
        /// The store label.
        label: String,
        /// The component id.
        component: String,
    },
    /// The runtime configuration file is invalid.
    #[error("invalid runtime config {path}: {message}")]
    InvalidRuntimeConfig {
        /// The runtime config path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A route pattern cannot be parsed.
    #[error("error parsing route {route} associated with component {component}: {message}")]
    InvalidRoute {
        /// The route pattern.
        route: String,
        /// The component id.
        component: String,
        /// What is wrong.
        message: String,
    },
}
