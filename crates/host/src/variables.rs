//! Application and component variables with Spin's semantics (Spin's `crates/expressions`).

use crate::error::HostError;
use crate::manifest::Manifest;
use std::collections::{BTreeMap, HashMap};

/// Validates a variable name as Spin does: non-empty, only lowercase ASCII letters, digits and
/// underscores, starting with a letter, ending with a letter or digit, no `__`.
///
/// The error message is Spin's (`"name": reason`).
pub fn validate_name(name: &str) -> Result<(), HostError> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_owned())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a lowercase ASCII letter".to_owned())
    } else if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("must end with a lowercase ASCII letter or digit".to_owned())
    } else if name.contains("__") {
        Some("must not contain multiple consecutive underscores".to_owned())
    } else {
        None
    };
    match reason {
        Some(r) => Err(HostError::InvalidVariable(format!("{name:?}: {r}"))),
        None => Ok(()),
    }
}

/// A parsed Spin template: literal text and `{{ name }}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A reference to an application variable.
    Var(String),
}

/// Parses `template` into parts. Fails on an unterminated `{{`.
pub fn parse_template(template: &str) -> Result<Vec<Part>, HostError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Lit(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            HostError::InvalidVariable(format!("unterminated expression in {template:?}"))
        })?;
        parts.push(Part::Var(after[..end].trim().to_owned()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_owned()));
    }
    Ok(parts)
}

/// Resolved variables of the whole application.
#[derive(Debug, Default)]
pub struct Variables {
    /// Application variable name to resolved value.
    app: HashMap<String, String>,
    /// Component id to (component variable name to resolved value).
    components: HashMap<String, BTreeMap<String, String>>,
}

/// Why a `spin:variables` `get` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// The name is not a valid variable name.
    InvalidName(String),
    /// The component defines no such variable.
    Undefined(String),
}

impl Variables {
    /// Resolves every application variable (a provided value wins over the manifest default)
    /// and every component variable template.
    ///
    /// `provided` maps application variable names (case-insensitive) to values. Fails if a
    /// required variable has no value, or a template references an unknown variable.
    pub fn resolve(
        manifest: &Manifest,
        provided: &HashMap<String, String>,
    ) -> Result<Self, HostError> {
        let provided: HashMap<String, &String> = provided
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let mut app = HashMap::new();
        for (name, var) in &manifest.variables {
            let value = match (provided.get(name), &var.default) {
                (Some(v), _) => (*v).clone(),
                (None, Some(d)) => d.clone(),
                (None, None) => return Err(HostError::MissingVariable(name.clone())),
            };
            app.insert(name.clone(), value);
        }
        let mut components = HashMap::new();
        for (id, c) in &manifest.components {
            let mut vars = BTreeMap::new();
            for (name, template) in &c.variables {
                validate_name(name)?;
                let mut value = String::new();
                for part in parse_template(template)? {
                    match part {
                        Part::Lit(l) => value.push_str(&l),
                        Part::Var(v) => match app.get(&v) {
                            Some(x) => value.push_str(x),
                            None => {
                                return Err(HostError::InvalidVariable(format!(
                                    "invalid variable template: unknown variable {v:?}"
                                )));
                            }
                        },
                    }
                }
                vars.insert(name.clone(), value);
            }
            components.insert(id.clone(), vars);
        }
        Ok(Self { app, components })
    }

    /// Resolves a template that references application variables (`"{{ name }}"`,
    /// with literal text around it), as Spin resolves an `allowed_outbound_hosts`
    /// entry: the whole entry becomes one value, which is then parsed as one host
    /// pattern (no splitting on commas). Fails on an unknown variable.
    pub fn resolve_app_template(&self, template: &str) -> Result<String, HostError> {
        let mut value = String::new();
        for part in parse_template(template)? {
            match part {
                Part::Lit(l) => value.push_str(&l),
                Part::Var(v) => match self.app.get(&v) {
                    Some(x) => value.push_str(x),
                    None => {
                        return Err(HostError::InvalidVariable(format!(
                            "invalid variable template: unknown variable {v:?}"
                        )));
                    }
                },
            }
        }
        Ok(value)
    }

    /// The value of application variable `name`, if declared.
    pub fn app_value(&self, name: &str) -> Option<&str> {
        self.app.get(name).map(String::as_str)
    }

    /// What `spin:variables/variables.get(name)` returns for `component`.
    pub fn get(&self, component: &str, name: &str) -> Result<String, GetError> {
        if let Err(e) = validate_name(name) {
            let msg = match e {
                HostError::InvalidVariable(m) => m,
                other => other.to_string(),
            };
            return Err(GetError::InvalidName(msg));
        }
        let vars = self.components.get(component).ok_or_else(|| {
            GetError::Undefined(format!("no variable for component {component:?}"))
        })?;
        vars.get(name)
            .cloned()
            .ok_or_else(|| GetError::Undefined(format!("no variable for {component:?}.{name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "abc", "a1b2c3", "a_1", "a_1_b_3"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("pre-{{ a }}-{{b}}").expect("parses"),
            vec![
                Part::Lit("pre-".into()),
                Part::Var("a".into()),
                Part::Lit("-".into()),
                Part::Var("b".into())
            ]
        );
        assert!(parse_template("{{ a").is_err());
    }

    #[test]
    fn an_outbound_host_template_resolves_to_one_entry() {
        let vars = Variables {
            app: HashMap::from([
                ("event_hosts".to_owned(), "http://127.0.0.1:9000".to_owned()),
                (
                    "two".to_owned(),
                    "https://a.example,https://b.example".to_owned(),
                ),
            ]),
            components: HashMap::new(),
        };
        let one = vars
            .resolve_app_template("{{ event_hosts }}")
            .expect("resolves");
        let allowed = crate::outbound::AllowedHosts::parse(&[one]);
        assert!(allowed.allows(&"http://127.0.0.1:9000/hook".parse().expect("uri")));
        assert!(!allowed.allows(&"http://127.0.0.1:9001/hook".parse().expect("uri")));
        // One variable is one entry (Spin parses the resolved text as one host
        // pattern): a comma-separated list allows neither host.
        let two = vars.resolve_app_template("{{ two }}").expect("resolves");
        let allowed = crate::outbound::AllowedHosts::parse(&[two]);
        assert!(!allowed.allows(&"https://a.example/".parse().expect("uri")));
        assert!(vars.resolve_app_template("{{ nope }}").is_err());
    }
}
