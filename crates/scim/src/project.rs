//! Projection (`attributes` / `excludedAttributes`, RFC 7644 §3.4.2.5 and §3.9)
//! and sorting (`sortBy` / `sortOrder`, RFC 7644 §3.4.2.3) of resource JSON, by the
//! `returned`, type and caseExact characteristics of the schema.

use roster_lowercase::Lowercase as _;
use serde_json::{Map, Value};
use std::cmp::Ordering;

use super::datetime;
use super::error::ScimError;
use super::path::{AttrPath, excerpt};
use super::schema::{AttrType, Attribute, ResourceType, Returned, Schema};
use super::value::get_ci;

/// One name from an `attributes` / `excludedAttributes` list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Selector {
    /// A bare schema URN: every attribute of that schema.
    Schema(&'static str),
    /// An attribute, or one sub-attribute of it.
    Attr(AttrPath),
}

/// Which attributes a response carries, from the `attributes` and
/// `excludedAttributes` parameters of one request.
///
/// Rules: `returned: always` attributes (`id`, `schemas`) are in every response and
/// `returned: never` ones (`password`) in none; with `attributes`, only the named
/// attributes (and named sub-attributes of complex ones) are returned besides the
/// `always` ones; `returned: request` attributes only when named there, and
/// `returned: request` sub-attributes when they or their attribute are named
/// (`members.display` or `members`);
/// `excludedAttributes` removes `default` and `request` attributes, also when
/// `attributes` named them. Names may be URN-qualified, case differs freely, a bare
/// schema URN names all of its attributes; names of unknown attributes select
/// nothing (they are not an error, as clients ask for attributes of extensions they
/// do not know the server lacks).
#[derive(Debug, Clone)]
pub struct Projection {
    rt: &'static ResourceType,
    attributes: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

fn parse_list(list: &str, rt: &'static ResourceType) -> Vec<Selector> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| match rt.schema_by_urn(s) {
            Some(schema) => Some(Selector::Schema(schema.id)),
            None => AttrPath::parse(s, rt).ok().map(Selector::Attr),
        })
        .collect()
}

impl Projection {
    /// The projection for `rt` from the raw (comma-separated) parameter values; an
    /// absent or blank `attributes` means "the default set".
    pub fn new(
        rt: &'static ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Self {
        let attributes = attributes
            .filter(|a| !a.trim().is_empty())
            .map(|a| parse_list(a, rt));
        Projection {
            rt,
            attributes,
            excluded: excluded.map(|e| parse_list(e, rt)).unwrap_or_default(),
        }
    }

    /// `resource` as the response should carry it. Attributes the schema does not
    /// know are dropped; a non-object is returned unchanged.
    pub fn apply(&self, resource: &Value) -> Value {
        let Value::Object(root) = resource else {
            return resource.clone();
        };
        let mut out = Map::new();
        for (k, v) in root {
            if k.eq_ignore_ascii_case("schemas") {
                out.insert("schemas".to_owned(), v.clone());
                continue;
            }
            if let Some(ext) = self
                .rt
                .extensions
                .iter()
                .find(|e| e.schema.id.eq_ignore_ascii_case(k))
            {
                if let Value::Object(fields) = v {
                    let projected = self.project_object(ext.schema, fields);
                    if !projected.is_empty() {
                        out.insert(ext.schema.id.to_owned(), Value::Object(projected));
                    }
                }
                continue;
            }
            if let Some(def) = self.rt.core_attribute(k)
                && let Some(pv) = self.project_attr(self.rt.schema, def, v)
            {
                out.insert(def.name.to_owned(), pv);
            }
        }
        Value::Object(out)
    }

    fn project_object(
        &self,
        schema: &'static Schema,
        fields: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in fields {
            if let Some(def) = schema.attribute(k)
                && let Some(pv) = self.project_attr(schema, def, v)
            {
                out.insert(def.name.to_owned(), pv);
            }
        }
        out
    }

    /// Whether `list` names attribute `def` of `schema` whole, and which of its
    /// sub-attributes it names.
    fn named(list: &[Selector], schema: &Schema, def: &Attribute) -> (bool, Vec<&'static str>) {
        let mut whole = false;
        let mut subs = Vec::new();
        for sel in list {
            match sel {
                Selector::Schema(id) if *id == schema.id => whole = true,
                Selector::Attr(p)
                    if p.schema().id == schema.id && p.attribute().name == def.name =>
                {
                    match p.sub_attribute() {
                        None => whole = true,
                        Some(s) => subs.push(s.name),
                    }
                }
                _ => {}
            }
        }
        (whole, subs)
    }

    fn project_attr(
        &self,
        schema: &'static Schema,
        def: &'static Attribute,
        v: &Value,
    ) -> Option<Value> {
        let (ex_whole, ex_subs) = Self::named(&self.excluded, schema, def);
        let (want_whole, want_subs) = match &self.attributes {
            Some(list) => Self::named(list, schema, def),
            None => (false, Vec::new()),
        };
        let restrict: Option<&[&str]> = match def.returned {
            Returned::Never => return None,
            Returned::Always => None,
            Returned::Default | Returned::Request => {
                let selected = match self.attributes {
                    Some(_) => want_whole || !want_subs.is_empty(),
                    None => def.returned == Returned::Default,
                };
                if !selected || ex_whole {
                    return None;
                }
                (self.attributes.is_some() && !want_whole).then_some(want_subs.as_slice())
            }
        };
        if def.kind != AttrType::Complex {
            return Some(v.clone());
        }
        let keep_sub = |s: &Attribute| match s.returned {
            Returned::Never => false,
            Returned::Always => true,
            Returned::Default | Returned::Request => {
                let asked = want_subs.contains(&s.name);
                let allowed = match restrict {
                    Some(list) => list.contains(&s.name),
                    None => s.returned == Returned::Default || want_whole || asked,
                };
                allowed && !ex_subs.contains(&s.name)
            }
        };
        let project_one = |item: &Value| -> Option<Value> {
            let Value::Object(o) = item else {
                return None;
            };
            // Inserted one by one, not collected: collecting into the map sorts the
            // entries first, a stable sort compiled for this one use (~5 KB a
            // component). The same map: a name met twice keeps its last value.
            let mut kept = Map::new();
            for (k, x) in o {
                if let Some(s) = def.sub_attribute(k)
                    && keep_sub(s)
                {
                    kept.insert(s.name.to_owned(), x.clone());
                }
            }
            (!kept.is_empty()).then_some(Value::Object(kept))
        };
        match v {
            Value::Array(items) => {
                let kept: Vec<Value> = items.iter().filter_map(project_one).collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            other => project_one(other),
        }
    }
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// `ascending` (the default).
    #[default]
    Ascending,
    /// `descending`.
    Descending,
}

impl SortOrder {
    /// Parses the parameter (case-insensitive); absent or blank is ascending, any
    /// other word is 400 `invalidValue`.
    pub fn parse(text: Option<&str>) -> Result<SortOrder, ScimError> {
        match text.map(str::trim) {
            None | Some("") => Ok(SortOrder::Ascending),
            Some(t) if t.eq_ignore_ascii_case("ascending") => Ok(SortOrder::Ascending),
            Some(t) if t.eq_ignore_ascii_case("descending") => Ok(SortOrder::Descending),
            Some(t) => Err(ScimError::invalid_value(format!(
                "sortOrder must be ascending or descending, not \"{}\"",
                excerpt(t)
            ))),
        }
    }
}

/// A resource's sort key: its value of the `sortBy` attribute, typed, and folded to
/// lower case when the attribute is not caseExact. Keys of different kinds (only
/// possible with malformed data) order booleans, numbers, dateTimes, then text.
#[derive(Debug, Clone)]
pub enum SortKey {
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A dateTime, as nanoseconds since the Unix epoch.
    DateTime(i128),
    /// A string (folded when not caseExact).
    Text(String),
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::DateTime(_) => 2,
            SortKey::Text(_) => 3,
        }
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::DateTime(a), SortKey::DateTime(b)) => a.cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// `sortBy` with its `sortOrder`: extracts sort keys and orders resources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SortBy {
    path: AttrPath,
    order: SortOrder,
}

impl SortBy {
    /// Parses `sortBy` (an attribute path; a complex attribute sorts by its `value`
    /// sub-attribute, and needs one) and `sortOrder`. Unknown attributes and complex
    /// attributes without `value` are 400 `invalidValue`.
    pub fn parse(
        sort_by: &str,
        sort_order: Option<&str>,
        rt: &'static ResourceType,
    ) -> Result<SortBy, ScimError> {
        let path = AttrPath::resolve(sort_by.trim(), rt).map_err(ScimError::invalid_value)?;
        if path.compared_definition().is_none() {
            return Err(ScimError::invalid_value(format!(
                "sortBy \"{path}\" is complex; name one of its sub-attributes"
            )));
        }
        Ok(SortBy {
            path,
            order: SortOrder::parse(sort_order)?,
        })
    }

    /// The attribute sorted on.
    pub fn path(&self) -> &AttrPath {
        &self.path
    }

    /// The order.
    pub fn order(&self) -> SortOrder {
        self.order
    }

    /// `resource`'s key: for a multi-valued attribute, that of the value marked
    /// primary, else of the first value; `None` when it has no such value.
    pub fn key(&self, resource: &Value) -> Option<SortKey> {
        let def = self.path.compared_definition()?;
        let raw = self.path.raw(resource)?;
        let chosen = match raw {
            Value::Array(items) => items
                .iter()
                .find(|v| {
                    v.as_object()
                        .and_then(|o| get_ci(o, "primary"))
                        .is_some_and(|p| p.as_bool() == Some(true))
                })
                .or_else(|| items.iter().find(|v| !v.is_null()))?,
            other => other,
        };
        let leaf = if self.path.attribute().kind == AttrType::Complex {
            get_ci(chosen.as_object()?, def.name)?
        } else {
            chosen
        };
        match (def.kind, leaf) {
            (AttrType::Boolean, Value::Bool(b)) => Some(SortKey::Bool(*b)),
            (AttrType::Integer | AttrType::Decimal, Value::Number(n)) => {
                n.as_f64().map(SortKey::Number)
            }
            (AttrType::DateTime, Value::String(s)) => Some(
                datetime::parse(s)
                    .map(SortKey::DateTime)
                    .unwrap_or_else(|| SortKey::Text(s.clone())),
            ),
            (_, Value::String(s)) => Some(SortKey::Text(if def.case_exact {
                s.clone()
            } else {
                s.lowercase()
            })),
            _ => None,
        }
    }

    /// Orders two keys: ascending puts missing keys last, descending is the exact
    /// reverse (missing first), as RFC 7644 §3.4.2.3 requires.
    pub fn compare_keys(&self, a: Option<&SortKey>, b: Option<&SortKey>) -> Ordering {
        let asc = match (a, b) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match self.order {
            SortOrder::Ascending => asc,
            SortOrder::Descending => asc.reverse(),
        }
    }

    /// Orders two resources by their keys (see [`SortBy::compare_keys`]); usable
    /// with `sort_by`, which is stable, so ties keep their prior order.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        self.compare_keys(self.key(a).as_ref(), self.key(b).as_ref())
    }
}
