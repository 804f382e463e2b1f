//! Attribute paths (RFC 7644 §3.10 "standard attribute notation") resolved against a
//! resource type's schemas, and PATCH paths (RFC 7644 §3.5.2:
//! `PATH = attrPath / valuePath [subAttr]`).

use serde_json::{Map, Value};
use std::fmt;

use super::error::ScimError;
use super::filter::{self, Filter};
use super::schema::{AttrType, Attribute, ResourceType, SCHEMAS_ATTRIBUTE, Schema};
use super::value::{get_ci, present};

/// The longest path or filter text accepted, in bytes.
pub const MAX_PATH_LEN: usize = filter::MAX_FILTER_LEN;

/// A resolved attribute path: `[schemaURN ":"] attr ["." subAttr]`, each part naming
/// a definition that exists in the resource type's schemas (so every `AttrPath`
/// refers to a supported attribute). Names are held in their canonical spelling.
#[derive(Clone, Copy)]
pub struct AttrPath {
    schema: &'static Schema,
    extension: bool,
    attr: &'static Attribute,
    sub: Option<&'static Attribute>,
}

impl PartialEq for AttrPath {
    fn eq(&self, other: &Self) -> bool {
        self.schema.id == other.schema.id
            && self.extension == other.extension
            && self.attr.name == other.attr.name
            && self.sub.map(|s| s.name) == other.sub.map(|s| s.name)
    }
}

impl Eq for AttrPath {}

impl fmt::Debug for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttrPath({self})")
    }
}

impl fmt::Display for AttrPath {
    /// Canonical text: URN prefix only for extension attributes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_attr(f)?;
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name)?;
        }
        Ok(())
    }
}

/// A short, char-safe excerpt of client text for error details.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

impl AttrPath {
    /// Resolves `text` (`userName`, `name.givenName`, `emails.value`,
    /// `urn:ietf:params:scim:schemas:core:2.0:User:userName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`;
    /// case-insensitive) against `rt`. Unprefixed names resolve in the core schema.
    /// Fails with 400 `invalidPath` naming the attribute when it is unknown.
    pub fn parse(text: &str, rt: &'static ResourceType) -> Result<AttrPath, ScimError> {
        Self::resolve(text, rt).map_err(ScimError::invalid_path)
    }

    /// As [`AttrPath::parse`], with the failure as a bare detail string.
    pub(crate) fn resolve(text: &str, rt: &'static ResourceType) -> Result<AttrPath, String> {
        if text.len() > MAX_PATH_LEN {
            return Err(format!("attribute path longer than {MAX_PATH_LEN} bytes"));
        }
        let unknown = || format!("unknown attribute \"{}\"", excerpt(text));
        let (schema, rest) = split_urn(text, rt).ok_or_else(unknown)?;
        let extension = rt.is_extension(schema);
        let (name, sub_name) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        let attr = if extension {
            schema.attribute(name)
        } else if name.eq_ignore_ascii_case(SCHEMAS_ATTRIBUTE.name) {
            Some(&SCHEMAS_ATTRIBUTE)
        } else {
            rt.core_attribute(name)
        }
        .ok_or_else(unknown)?;
        let sub = match sub_name {
            None => None,
            Some(s) => Some(attr.sub_attribute(s).ok_or_else(unknown)?),
        };
        Ok(AttrPath {
            schema,
            extension,
            attr,
            sub,
        })
    }

    /// The path to sub-attribute `sub` of this (sub-attribute-free) path's attribute.
    pub(crate) fn with_sub(&self, sub: &'static Attribute) -> AttrPath {
        AttrPath {
            sub: Some(sub),
            ..*self
        }
    }

    /// The same attribute without its sub-attribute.
    pub fn without_sub(&self) -> AttrPath {
        AttrPath { sub: None, ..*self }
    }

    /// The schema the attribute belongs to.
    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    /// Whether the attribute belongs to an extension schema (and so lives under the
    /// extension's URN key in a resource).
    pub fn is_extension(&self) -> bool {
        self.extension
    }

    /// The top-level attribute.
    pub fn attribute(&self) -> &'static Attribute {
        self.attr
    }

    /// The sub-attribute, when the path names one.
    pub fn sub_attribute(&self) -> Option<&'static Attribute> {
        self.sub
    }

    /// The definition the path ends at: the sub-attribute's, else the attribute's.
    pub fn definition(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// The definition a comparison on this path compares: the sub-attribute's; for a
    /// complex attribute named alone, its `value` sub-attribute's (RFC 7644
    /// §3.4.2.2); `None` for a complex attribute without `value`.
    pub fn compared_definition(&self) -> Option<&'static Attribute> {
        match self.sub {
            Some(s) => Some(s),
            None if self.attr.kind == AttrType::Complex => self.attr.value_sub_attribute(),
            None => Some(self.attr),
        }
    }

    /// Whether `path` (URN-qualified or not, case-insensitive) names what this path
    /// compares: `emails` and `emails.value` both name the comparison target of a
    /// filter on `emails`.
    pub fn refers_to(&self, path: &str) -> bool {
        let rest = match path.get(..self.schema.id.len()) {
            Some(prefix)
                if prefix.eq_ignore_ascii_case(self.schema.id)
                    && path.as_bytes().get(self.schema.id.len()) == Some(&b':') =>
            {
                path.get(self.schema.id.len() + 1..).unwrap_or_default()
            }
            _ if self.extension || has_urn_prefix(path) => return false,
            _ => path,
        };
        let (name, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        if !name.eq_ignore_ascii_case(self.attr.name) {
            return false;
        }
        let value_sub = || {
            (self.attr.kind == AttrType::Complex)
                .then(|| self.attr.value_sub_attribute().map(|v| v.name))
                .flatten()
        };
        let mine = self.sub.map(|s| s.name).or_else(value_sub);
        let theirs = sub.or_else(value_sub);
        match (mine, theirs) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// Writes the attribute part only (URN prefix for extensions, then the name).
    pub(crate) fn fmt_attr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.extension {
            write!(f, "{}:", self.schema.id)?;
        }
        f.write_str(self.attr.name)
    }

    /// The object holding this path's attribute in `resource`: the resource itself
    /// for core attributes, the extension object for extension attributes.
    pub(crate) fn container<'a>(&self, resource: &'a Value) -> Option<&'a Map<String, Value>> {
        let root = resource.as_object()?;
        if self.extension {
            get_ci(root, self.schema.id)?.as_object()
        } else {
            Some(root)
        }
    }

    /// The attribute's raw value in `resource` (ignoring any sub-attribute).
    pub(crate) fn raw<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        get_ci(self.container(resource)?, self.attr.name)
    }

    /// The non-null values at `sub` (or, for `None`, the attribute's own values) in
    /// `resource`, flattening multi-valued attributes.
    pub(crate) fn values_at<'a>(
        &self,
        resource: &'a Value,
        sub: Option<&'static Attribute>,
    ) -> Vec<&'a Value> {
        let mut out = Vec::new();
        let Some(raw) = self.raw(resource) else {
            return out;
        };
        let items: Vec<&'a Value> = match raw {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for item in items {
            let v = match sub {
                Some(s) => match item {
                    Value::Object(o) => get_ci(o, s.name),
                    _ => None,
                },
                None => Some(item),
            };
            match v {
                Some(Value::Array(a)) => out.extend(a.iter().filter(|x| !x.is_null())),
                Some(Value::Null) | None => {}
                Some(x) => out.push(x),
            }
        }
        out
    }

    /// Whether `resource` has a present (RFC 7644 `pr`) value at this path.
    pub(crate) fn present_in(&self, resource: &Value) -> bool {
        match self.sub {
            None => self.raw(resource).is_some_and(present),
            Some(s) => self.values_at(resource, Some(s)).into_iter().any(present),
        }
    }
}

fn has_urn_prefix(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// Splits `text` into the schema it names (by URN prefix, else the core schema) and
/// the rest. `None` when it carries an unknown URN prefix or names only a schema.
fn split_urn<'t>(text: &'t str, rt: &'static ResourceType) -> Option<(&'static Schema, &'t str)> {
    if !has_urn_prefix(text) {
        return Some((rt.schema, text));
    }
    rt.schemas().find_map(|s| {
        let prefix = text.get(..s.id.len())?;
        (prefix.eq_ignore_ascii_case(s.id) && text.as_bytes().get(s.id.len()) == Some(&b':'))
            .then(|| text.get(s.id.len() + 1..))
            .flatten()
            .filter(|rest| !rest.is_empty())
            .map(|rest| (s, rest))
    })
}

/// A PATCH operation's target (RFC 7644 §3.5.2): an attribute path
/// (`name.givenName`, `urn:…:enterprise:2.0:User:manager`), a value path selecting
/// values of a complex attribute by filter, optionally narrowed to one
/// sub-attribute (`emails[type eq "work"].value`), or an extension schema's URN alone
/// (`urn:…:enterprise:2.0:User`): the extension object, which RFC 7643 §3.3 stores
/// under that URN, treated as one complex attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    target: Target,
    filter: Option<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Attr(AttrPath),
    Extension(&'static Schema),
}

impl PatchPath {
    /// Parses `text` against `rt`. Unknown attributes and malformed paths fail with
    /// 400 `invalidPath`; a malformed filter inside `[…]` with 400 `invalidFilter`.
    pub fn parse(text: &str, rt: &'static ResourceType) -> Result<PatchPath, ScimError> {
        if text.len() > MAX_PATH_LEN {
            return Err(ScimError::invalid_path(format!(
                "path longer than {MAX_PATH_LEN} bytes"
            )));
        }
        if let Some(ext) = rt
            .extensions
            .iter()
            .find(|e| e.schema.id.eq_ignore_ascii_case(text))
        {
            return Ok(PatchPath {
                target: Target::Extension(ext.schema),
                filter: None,
            });
        }
        let Some(open) = text.find('[') else {
            return Ok(PatchPath {
                target: Target::Attr(AttrPath::parse(text, rt)?),
                filter: None,
            });
        };
        let head = text.get(..open).unwrap_or_default();
        let outer = AttrPath::parse(head, rt)?;
        if outer.sub.is_some() || outer.attr.kind != AttrType::Complex {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is not a complex attribute; it cannot take a value filter",
                excerpt(head)
            )));
        }
        let (filter, end) = filter::parse_bracketed(text, open + 1, &outer, rt)?;
        let tail = text.get(end..).unwrap_or_default();
        let path = match tail.strip_prefix('.') {
            None if tail.is_empty() => outer,
            Some(sub) => match outer.attr.sub_attribute(sub) {
                Some(s) => outer.with_sub(s),
                None => {
                    return Err(ScimError::invalid_path(format!(
                        "unknown attribute \"{}.{}\"",
                        outer.attr.name,
                        excerpt(sub)
                    )));
                }
            },
            None => {
                return Err(ScimError::invalid_path(format!(
                    "unexpected \"{}\" after the value filter",
                    excerpt(tail)
                )));
            }
        };
        Ok(PatchPath {
            target: Target::Attr(path),
            filter: Some(filter),
        })
    }

    /// The attribute path: with a value filter, the filtered attribute plus the
    /// sub-attribute after `]`, if any. `None` when the path names an extension
    /// ([`PatchPath::extension`]).
    pub fn attr_path(&self) -> Option<&AttrPath> {
        match &self.target {
            Target::Attr(p) => Some(p),
            Target::Extension(_) => None,
        }
    }

    /// The extension schema, when the path is its URN alone.
    pub fn extension(&self) -> Option<&'static Schema> {
        match self.target {
            Target::Extension(s) => Some(s),
            Target::Attr(_) => None,
        }
    }

    /// The value filter (`[…]`), if any; its comparisons are on sub-attributes of
    /// [`PatchPath::attr_path`]'s attribute.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }
}

impl fmt::Display for PatchPath {
    /// Canonical text, which [`PatchPath::parse`] reads back to an equal path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = match &self.target {
            Target::Extension(s) => return f.write_str(s.id),
            Target::Attr(p) => p,
        };
        match &self.filter {
            None => write!(f, "{path}"),
            Some(filter) => {
                path.fmt_attr(f)?;
                f.write_str("[")?;
                filter.fmt_in_value_path(f)?;
                f.write_str("]")?;
                if let Some(sub) = path.sub {
                    write!(f, ".{}", sub.name)?;
                }
                Ok(())
            }
        }
    }
}
