//! Parsing of Spin application manifests (`spin.toml`, `spin_manifest_version = 2`).
//!
//! Only what the host needs is modelled; unknown fields are tolerated, as Spin tolerates
//! fields it does not use (e.g. `description`, `[component.x.build]`).

use crate::error::HostError;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A parsed application manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The directory containing the manifest; relative paths are resolved against it.
    pub dir: PathBuf,
    /// `[application] name`.
    pub name: String,
    /// `[application.trigger.http] base`, if present (Spin 3+ ignores it for routing).
    pub http_base: Option<String>,
    /// Application variables, by name.
    pub variables: BTreeMap<String, Variable>,
    /// `[[trigger.http]]` entries, in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// Components, by id.
    pub components: BTreeMap<String, Component>,
}

/// An application variable declaration.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Variable {
    /// The default value, if any.
    #[serde(default)]
    pub default: Option<String>,
    /// Whether a value must be provided.
    #[serde(default)]
    pub required: bool,
    /// Whether the value is secret (never printed).
    #[serde(default)]
    pub secret: bool,
}

/// A route of an HTTP trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A routable pattern such as `/users/:id` or `/static/...`.
    Pattern(String),
    /// `{ private = true }`: reachable only by internal calls.
    Private,
}

/// An `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    /// A pattern (`:name` segments, a trailing `/...` wildcard) or `private`.
    pub route: Route,
    /// The id of the component that handles the route.
    pub component: String,
}

/// A `[component.<id>]` table.
#[derive(Debug, Clone)]
pub struct Component {
    /// The component id.
    pub id: String,
    /// Absolute path of the `.wasm` file.
    pub source: PathBuf,
    /// Key-value store labels the component may open.
    pub key_value_stores: Vec<String>,
    /// Hosts the component may send outbound HTTP requests to.
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variables: name to Spin template (`"literal {{ app_var }}"`).
    pub variables: BTreeMap<String, String>,
    /// Environment variables set in the component's WASI context.
    pub environment: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, Variable>,
    #[serde(default)]
    trigger: HashMap<String, Vec<toml::Value>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    trigger: Option<RawAppTrigger>,
}

#[derive(Deserialize)]
struct RawAppTrigger {
    #[serde(default)]
    http: Option<RawAppHttp>,
}

#[derive(Deserialize)]
struct RawAppHttp {
    #[serde(default)]
    base: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Pattern(String),
    Private { private: bool },
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: RawRoute,
    component: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSource {
    Path(String),
    Remote {
        #[allow(dead_code)]
        url: String,
    },
}

#[derive(Deserialize)]
struct RawComponent {
    source: RawSource,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    ///
    /// Fails if the file cannot be read, is not a version 2 manifest, references a component
    /// that is not defined, or declares a variable that is both required and defaulted (or neither).
    pub fn load(path: &Path) -> Result<Self, HostError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostError::ReadManifest {
            path: path.to_owned(),
            source,
        })?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Self::parse(&text, &dir).map_err(|message| HostError::InvalidManifest {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses manifest text; relative paths are resolved against `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, String> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if raw.spin_manifest_version.as_integer() != Some(2)
            && raw.spin_manifest_version.as_str() != Some("2")
        {
            return Err(format!(
                "unsupported spin_manifest_version {}; expected 2",
                raw.spin_manifest_version
            ));
        }
        for (name, var) in &raw.variables {
            crate::variables::validate_name(name).map_err(|e| e.to_string())?;
            match (var.required, &var.default) {
                (true, Some(_)) => {
                    return Err(format!(
                        "variable {name:?}: a required variable cannot have a default"
                    ));
                }
                (false, None) => {
                    return Err(format!(
                        "variable {name:?}: must either be required or have a default"
                    ));
                }
                _ => {}
            }
        }
        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let source = match c.source {
                RawSource::Path(p) => dir.join(p),
                RawSource::Remote { .. } => {
                    return Err(format!(
                        "component {id:?}: remote (url) sources are not supported by roster-host"
                    ));
                }
            };
            components.insert(
                id.clone(),
                Component {
                    id,
                    source,
                    key_value_stores: c.key_value_stores,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    variables: c.variables,
                    environment: c.environment,
                },
            );
        }
        let mut http_triggers = Vec::new();
        for (kind, triggers) in raw.trigger {
            if kind != "http" {
                return Err(format!(
                    "trigger type {kind:?} is not supported by roster-host"
                ));
            }
            for t in triggers {
                let t: RawHttpTrigger = t.try_into().map_err(|e: toml::de::Error| e.to_string())?;
                let route = match t.route {
                    RawRoute::Pattern(p) => Route::Pattern(p),
                    RawRoute::Private { private: true } => Route::Private,
                    RawRoute::Private { private: false } => {
                        return Err(
                            "route must be a string pattern or '{ private = true }'".to_owned()
                        );
                    }
                };
                let component = match t.component {
                    Some(toml::Value::String(id)) => id,
                    Some(_) => {
                        return Err("inline trigger components are not supported".to_owned());
                    }
                    None => return Err("trigger without a component".to_owned()),
                };
                if !components.contains_key(&component) {
                    return Err(format!(
                        "trigger references unknown component {component:?}"
                    ));
                }
                http_triggers.push(HttpTrigger { route, component });
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            name: raw.application.name,
            http_base: raw
                .application
                .trigger
                .and_then(|t| t.http)
                .and_then(|h| h.base),
            variables: raw.variables,
            http_triggers,
            components,
        })
    }
}
