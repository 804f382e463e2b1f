//! PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request body and applying its
//! operations, in order and atomically, to a resource's JSON.
//!
//! Semantics follow §3.5.2.1–3 for `add`, `remove` and `replace`, with and without
//! `path`, on single- and multi-valued, simple and complex attributes, and value
//! filters. Writes are checked against the schema: unknown attributes fail with
//! `invalidPath`, wrong value types with `invalidValue`, writes to `readOnly`
//! attributes (other than rewriting the value they already have) and changes to an
//! `immutable` attribute that has a value with `mutability`; removing a required
//! attribute fails with `invalidValue`. Setting `primary: true` on one value of a
//! multi-valued attribute clears it on the others (RFC 7643 §2.4).
//!
//! Choices where the RFC is silent, made to be idempotent and unsurprising:
//! - `remove` of something absent (attribute, or values a filter does not match)
//!   succeeds and changes nothing; `replace` through a filter that matches nothing
//!   is `noTarget`, as §3.5.2.3 requires.
//! - a write naming a `readOnly` attribute that restates its current value is a
//!   no-op (providers echo `id` and `meta` back), any other is `mutability`.
//! - adding a value equal to one present changes nothing; values of an attribute
//!   whose `value` sub-attribute is immutable (`members`) are identified by it, so
//!   re-adding a member merges into it instead of duplicating it.
//! - replacing a whole value through a filter keeps the immutable sub-attributes it
//!   omits (they cannot be unassigned) and refuses ones it changes.
//! - a path that is an extension schema's URN alone targets the extension object as
//!   one complex attribute (RFC 7643 §3.3 keys it by that URN): `add` merges into
//!   it, `replace` replaces it, `remove` drops it.
//! - `schemas` in a path-less value (or in an extension object) is ignored; instead, an extension object the
//!   patch creates adds its URN to `schemas`, and one it empties removes it.
//!
//! Interoperability, because real identity providers send these:
//! - `op` is case-insensitive (Entra ID sends `"Add"`, `"Replace"`, `"Remove"`).
//! - booleans may arrive as strings in any case (Entra ID: `"value": "False"`).
//! - without `path`, `value`'s keys may be attribute paths: URN-qualified
//!   (`urn:…:enterprise:2.0:User:department`) or dotted (`name.givenName`), besides
//!   plain names and extension-URN objects (Okta: `{"op":"replace","value":{"active":false}}`).
//! - a complex attribute with a `value` sub-attribute accepts a bare value
//!   (Entra ID: `"path": "urn:…:manager", "value": "<id>"` means `{"value": "<id>"}`).
//! - `remove` on a multi-valued attribute with a `value` removes only the matching
//!   values (Entra ID removes group members with `{"op":"Remove","path":"members",
//!   "value":[{"value":"<id>"}]}`), instead of all of them.
//! - `add` through a value filter that matches nothing creates the value when the
//!   filter is a conjunction of `eq` (Entra ID: `emails[type eq "work"].value`).
//! - `readOnly` sub-attributes inside a complex value (`members[].display`,
//!   `manager.displayName`) are maintained by the server and dropped, as RFC 7644
//!   §3.5.1 has PUT do.

use http::StatusCode;
use serde_json::{Map, Value};

use super::PATCH_OP_URN;
use super::datetime;
use super::error::ScimError;
use super::filter::{CompValue, CompareOp, Filter};
use super::path::{AttrPath, PatchPath, excerpt};
use super::schema::{AttrType, Attribute, Mutability, ResourceType, SCHEMAS_ATTRIBUTE, Schema};
use super::value::{get_ci, get_ci_mut, parse_bool, present, remove_ci, set_ci, values_equal};

/// The most operations one request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

impl PatchOpKind {
    /// The kind spelled `word`, case-insensitively.
    pub fn from_keyword(word: &str) -> Option<PatchOpKind> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(word))
    }

    /// The canonical (lower-case) keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

/// One validated operation: `add` and `replace` always carry a value; `remove`
/// always carries a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The operation.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value, as sent (JSON `null` is kept: it unassigns).
    pub value: Option<Value>,
}

/// A parsed `PatchOp` request for one resource type.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    rt: &'static ResourceType,
    /// The operations, in request order (1 to [`MAX_OPERATIONS`]).
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parses a request body. Not JSON → 400 `invalidSyntax`; otherwise as
    /// [`PatchRequest::from_json`].
    pub fn from_slice(body: &[u8], rt: &'static ResourceType) -> Result<Self, ScimError> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| ScimError::invalid_syntax(format!("request body is not JSON: {e}")))?;
        Self::from_json(&json, rt)
    }

    /// Validates a `PatchOp` message: `schemas` must list the PatchOp URN and
    /// `Operations` be an array of 1 to [`MAX_OPERATIONS`] objects (400
    /// `invalidSyntax`; more than the maximum is 413, as RFC 7644 §3.7.4 has Bulk
    /// answer), each with `op` add/remove/replace in any case (`invalidSyntax`), a
    /// `path` that parses (`invalidPath`/`invalidFilter`), a `value` for add and
    /// replace (`invalidValue`) and a path for remove (`noTarget`, §3.5.2.2).
    pub fn from_json(body: &Value, rt: &'static ResourceType) -> Result<Self, ScimError> {
        let Value::Object(obj) = body else {
            return Err(ScimError::invalid_syntax(
                "PatchOp body must be a JSON object",
            ));
        };
        let has_urn = get_ci(obj, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
                })
            });
        if !has_urn {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must contain \"{PATCH_OP_URN}\""
            )));
        }
        let Some(Value::Array(ops)) = get_ci(obj, "Operations") else {
            return Err(ScimError::invalid_syntax("\"Operations\" must be an array"));
        };
        if ops.is_empty() {
            return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
        }
        if ops.len() > MAX_OPERATIONS {
            return Err(ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("at most {MAX_OPERATIONS} operations per request"),
            ));
        }
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(i, op, rt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatchRequest { rt, operations })
    }

    /// The resource type the request was parsed for.
    pub fn resource_type(&self) -> &'static ResourceType {
        self.rt
    }

    /// Applies every operation in order to a copy of `resource` and returns the
    /// result; on any failure returns the error and no partial result (`resource` is
    /// never modified). Extension URNs in `schemas` follow the extension objects the
    /// patch creates or empties.
    pub fn apply(&self, resource: &Value) -> Result<Value, ScimError> {
        let mut doc = resource.clone();
        let Value::Object(root) = &mut doc else {
            return Err(ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "the stored resource is not a JSON object",
            ));
        };
        let engine = Engine { rt: self.rt };
        let before = engine.snapshot(root);
        for (i, op) in self.operations.iter().enumerate() {
            engine.apply_op(root, op).map_err(|mut e| {
                e.detail = format!("operation {i}: {}", e.detail);
                e
            })?;
        }
        engine.prune(root);
        engine.finish(root, &before)?;
        Ok(doc)
    }
}

fn parse_operation(
    i: usize,
    op: &Value,
    rt: &'static ResourceType,
) -> Result<PatchOperation, ScimError> {
    let at = |e: ScimError| ScimError {
        detail: format!("operation {i}: {}", e.detail),
        ..e
    };
    let Value::Object(o) = op else {
        return Err(at(ScimError::invalid_syntax(
            "an operation must be an object",
        )));
    };
    let kind = match get_ci(o, "op") {
        Some(Value::String(s)) => PatchOpKind::from_keyword(s).ok_or_else(|| {
            at(ScimError::invalid_syntax(format!(
                "unknown op \"{}\"; expected add, remove or replace",
                excerpt(s)
            )))
        })?,
        _ => return Err(at(ScimError::invalid_syntax("\"op\" must be a string"))),
    };
    let path = match get_ci(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p, rt).map_err(at)?),
        Some(_) => return Err(at(ScimError::invalid_path("\"path\" must be a string"))),
    };
    let value = get_ci(o, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => {
            return Err(at(ScimError::no_target("remove requires a \"path\"")));
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            return Err(at(ScimError::invalid_value(format!(
                "{} requires a \"value\"",
                kind.as_str()
            ))));
        }
        _ => {}
    }
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

/// What the final checks compare against: which required attributes and which
/// extensions were present before the patch.
struct Snapshot {
    required: Vec<(AttrPath, bool)>,
    extensions: Vec<(&'static str, bool)>,
}

struct Engine {
    rt: &'static ResourceType,
}

type Res<T = ()> = Result<T, ScimError>;

fn is_read_only(a: &Attribute) -> bool {
    a.mutability == Mutability::ReadOnly
}

fn has_extension(root: &Map<String, Value>, urn: &str) -> bool {
    get_ci(root, urn).is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
}

impl Engine {
    fn snapshot(&self, root: &Map<String, Value>) -> Snapshot {
        let doc = Value::Object(root.clone());
        let mut required = Vec::new();
        for schema in self.rt.schemas() {
            for a in schema.attributes.iter().filter(|a| a.required) {
                if let Ok(p) = AttrPath::resolve(&format!("{}:{}", schema.id, a.name), self.rt) {
                    required.push((p, p.present_in(&doc)));
                }
            }
        }
        let extensions = self
            .rt
            .extensions
            .iter()
            .map(|e| (e.schema.id, has_extension(root, e.schema.id)))
            .collect();
        Snapshot {
            required,
            extensions,
        }
    }

    /// Refuses results missing a required attribute the resource had, and keeps
    /// `schemas` in step with extensions the patch added or emptied.
    fn finish(&self, root: &mut Map<String, Value>, before: &Snapshot) -> Res {
        let doc = Value::Object(root.clone());
        for (p, was) in &before.required {
            if *was && !p.present_in(&doc) {
                return Err(ScimError::invalid_value(format!(
                    "\"{p}\" is required and cannot be removed"
                )));
            }
        }
        for (urn, was) in &before.extensions {
            let now = has_extension(root, urn);
            if now == *was {
                continue;
            }
            match get_ci_mut(root, "schemas") {
                Some(Value::Array(list)) => {
                    list.retain(|u| !u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)));
                    if now {
                        list.push(Value::String((*urn).to_owned()));
                    }
                }
                _ if now => {
                    root.insert(
                        "schemas".to_owned(),
                        Value::Array(vec![
                            Value::String(self.rt.schema.id.to_owned()),
                            Value::String((*urn).to_owned()),
                        ]),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Drops unassigned state: null attributes, null sub-attributes, empty complex
    /// values, empty arrays and empty extension objects.
    fn prune(&self, root: &mut Map<String, Value>) {
        root.retain(|k, v| {
            let is_ext = self
                .rt
                .extensions
                .iter()
                .any(|e| e.schema.id.eq_ignore_ascii_case(k));
            match v {
                Value::Object(o) if is_ext => {
                    o.retain(|_, x| prune_value(x));
                    !o.is_empty()
                }
                _ if is_ext => false,
                _ => prune_value(v),
            }
        });
    }

    fn apply_op(&self, root: &mut Map<String, Value>, op: &PatchOperation) -> Res {
        let value = op.value.as_ref();
        match (&op.path, op.op) {
            (None, PatchOpKind::Remove) => Err(ScimError::no_target("remove requires a \"path\"")),
            (None, kind) => match value {
                Some(Value::Object(obj)) => self.apply_object(root, kind, obj),
                Some(_) => Err(ScimError::invalid_value(
                    "without a \"path\", \"value\" must be an object of attributes",
                )),
                None => Err(ScimError::invalid_value("missing \"value\"")),
            },
            (Some(p), kind) => match (p.extension(), p.attr_path(), p.filter()) {
                (Some(schema), _, _) => self.apply_extension(root, kind, schema, value),
                (None, Some(a), None) => self.apply_attr(root, kind, a, value),
                (None, Some(a), Some(f)) => self.apply_filtered(root, kind, a, f, value),
                (None, None, _) => Err(ScimError::invalid_path("the path names nothing")),
            },
        }
    }

    /// An operation whose path is an extension's URN: the extension object as one
    /// complex attribute (RFC 7644 §3.5.2.1–3). `add` merges the value's attributes
    /// into it, `replace` replaces it with them, `remove` drops it; a JSON `null`
    /// value unassigns it. A `schemas` member of the value is ignored (`schemas`
    /// follows the extension objects present).
    fn apply_extension(
        &self,
        root: &mut Map<String, Value>,
        kind: PatchOpKind,
        schema: &'static Schema,
        value: Option<&Value>,
    ) -> Res {
        let obj = match (kind, value) {
            (PatchOpKind::Remove, _) | (_, Some(Value::Null)) => {
                remove_ci(root, schema.id);
                return Ok(());
            }
            (_, Some(Value::Object(obj))) => obj,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "\"{}\" must be an object of its schema's attributes",
                    schema.id
                )));
            }
        };
        if kind == PatchOpKind::Replace {
            remove_ci(root, schema.id);
        }
        for (k, v) in obj {
            if k.eq_ignore_ascii_case(SCHEMAS_ATTRIBUTE.name) {
                continue;
            }
            let p = AttrPath::parse(&format!("{}:{k}", schema.id), self.rt)?;
            self.apply_attr(root, kind, &p, Some(v))?;
        }
        Ok(())
    }

    /// A path-less add/replace: every key of `obj` is an attribute (path) or a
    /// schema URN holding that schema's attributes.
    fn apply_object(
        &self,
        root: &mut Map<String, Value>,
        kind: PatchOpKind,
        obj: &Map<String, Value>,
    ) -> Res {
        for (key, v) in obj {
            if key.eq_ignore_ascii_case(SCHEMAS_ATTRIBUTE.name) {
                // `schemas` is maintained from the extension objects present.
                continue;
            }
            if let Some(schema) = self.rt.schema_by_urn(key) {
                match v {
                    Value::Object(inner) => {
                        for (k, sv) in inner {
                            if k.eq_ignore_ascii_case(SCHEMAS_ATTRIBUTE.name) {
                                continue;
                            }
                            let p = AttrPath::parse(&format!("{}:{k}", schema.id), self.rt)?;
                            self.apply_attr(root, kind, &p, Some(sv))?;
                        }
                    }
                    Value::Null if self.rt.is_extension(schema) => {
                        remove_ci(root, schema.id);
                    }
                    _ => {
                        return Err(ScimError::invalid_value(format!(
                            "\"{}\" must be an object of its schema's attributes",
                            schema.id
                        )));
                    }
                }
                continue;
            }
            let p = AttrPath::parse(key, self.rt)?;
            self.apply_attr(root, kind, &p, Some(v))?;
        }
        Ok(())
    }

    /// The object holding `path`'s attribute: the resource, or its extension object
    /// (created when `create`).
    fn container<'m>(
        &self,
        root: &'m mut Map<String, Value>,
        path: &AttrPath,
        create: bool,
    ) -> Option<&'m mut Map<String, Value>> {
        if !path.is_extension() {
            return Some(root);
        }
        let id = path.schema().id;
        if !get_ci(root, id).is_some_and(Value::is_object) {
            if !create {
                return None;
            }
            set_ci(root, id, Value::Object(Map::new()));
        }
        get_ci_mut(root, id)?.as_object_mut()
    }

    /// An operation on `path` (attribute or attribute.sub) without a value filter.
    fn apply_attr(
        &self,
        root: &mut Map<String, Value>,
        kind: PatchOpKind,
        path: &AttrPath,
        value: Option<&Value>,
    ) -> Res {
        let a = path.attribute();
        let sub = path.sub_attribute();
        if is_read_only(a) || sub.is_some_and(is_read_only) || std::ptr::eq(a, &SCHEMAS_ATTRIBUTE) {
            return self.read_only_target(root, kind, path, value);
        }
        if kind == PatchOpKind::Remove {
            return self.remove_attr(root, path, value);
        }
        let Some(v) = value else {
            return Err(ScimError::invalid_value("missing \"value\""));
        };
        let name = path.to_string();
        let Some(container) = self.container(root, path, true) else {
            return Ok(());
        };
        match sub {
            None if a.multi_valued && kind == PatchOpKind::Replace => {
                replace_all_values(container, a, v, &name)
            }
            None if a.multi_valued => add_values(container, a, v, &name),
            None if a.kind == AttrType::Complex => merge_complex(container, a, v, &name),
            None => set_simple(container, a, v, &name),
            Some(s) if a.multi_valued => set_sub_on_every_value(container, a, s, v, &name),
            Some(s) => set_sub_on_single_value(container, a, s, v, &name),
        }
    }

    /// A write aimed directly at a readOnly attribute: allowed only as a no-op that
    /// restates the current value.
    fn read_only_target(
        &self,
        root: &mut Map<String, Value>,
        kind: PatchOpKind,
        path: &AttrPath,
        value: Option<&Value>,
    ) -> Res {
        let refuse = || ScimError::mutability(format!("\"{path}\" is readOnly"));
        if kind == PatchOpKind::Remove
            || path.attribute().multi_valued && path.sub_attribute().is_some()
        {
            return Err(refuse());
        }
        let doc = Value::Object(root.clone());
        let current = match path.sub_attribute() {
            None => path.raw(&doc),
            Some(s) => path
                .raw(&doc)
                .and_then(Value::as_object)
                .and_then(|o| get_ci(o, s.name)),
        };
        let def = path.definition();
        let same = match (current, value) {
            (Some(c), Some(v)) => values_equal(def, c, v),
            (None, Some(v)) => !present(v),
            _ => false,
        };
        if same { Ok(()) } else { Err(refuse()) }
    }

    fn remove_attr(
        &self,
        root: &mut Map<String, Value>,
        path: &AttrPath,
        value: Option<&Value>,
    ) -> Res {
        let a = path.attribute();
        let name = path.to_string();
        let Some(container) = self.container(root, path, false) else {
            return Ok(());
        };
        match path.sub_attribute() {
            None => {
                if a.multi_valued && value.is_some_and(|v| !v.is_null()) {
                    let targets = normalize_multi(a, value.unwrap_or(&Value::Null), &name)?;
                    if let Some(Value::Array(items)) = get_ci_mut(container, a.name) {
                        items.retain(|item| !targets.iter().any(|t| selects(a, t, item)));
                    }
                    return Ok(());
                }
                check_immutable_cleared(a, get_ci(container, a.name), &name)?;
                remove_ci(container, a.name);
                Ok(())
            }
            Some(s) => {
                match get_ci_mut(container, a.name) {
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut() {
                            clear_sub(s, item, &name)?;
                        }
                    }
                    Some(obj @ Value::Object(_)) => clear_sub(s, obj, &name)?,
                    _ => {}
                }
                Ok(())
            }
        }
    }

    /// An operation through a value filter: `attr[filter]` or `attr[filter].sub`.
    fn apply_filtered(
        &self,
        root: &mut Map<String, Value>,
        kind: PatchOpKind,
        path: &AttrPath,
        filter: &Filter,
        value: Option<&Value>,
    ) -> Res {
        let a = path.attribute();
        let sub = path.sub_attribute();
        let name = path.to_string();
        if is_read_only(a) || sub.is_some_and(is_read_only) {
            return Err(ScimError::mutability(format!("\"{name}\" is readOnly")));
        }
        let Some(container) = self.container(root, path, kind == PatchOpKind::Add) else {
            // Only an absent extension object gets here: nothing can match.
            return match kind {
                PatchOpKind::Replace => Err(ScimError::no_target(format!(
                    "no value of \"{name}\" matches the filter"
                ))),
                _ => Ok(()),
            };
        };
        let mut items = take_values(container, a);
        let result = self.filtered_items(kind, a, sub, filter, value, &mut items, &name);
        let restored = if a.multi_valued {
            Value::Array(items)
        } else {
            items.into_iter().next().unwrap_or(Value::Null)
        };
        container.insert(a.name.to_owned(), restored);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn filtered_items(
        &self,
        kind: PatchOpKind,
        a: &'static Attribute,
        sub: Option<&'static Attribute>,
        filter: &Filter,
        value: Option<&Value>,
        items: &mut Vec<Value>,
        name: &str,
    ) -> Res {
        let matched = matching_indices(filter, items);
        match kind {
            PatchOpKind::Remove => remove_matched(sub, &matched, items, name),
            PatchOpKind::Add | PatchOpKind::Replace => {
                let Some(v) = value else {
                    return Err(ScimError::invalid_value("missing \"value\""));
                };
                let touched = if matched.is_empty() {
                    vec![add_from_filter(kind, a, sub, filter, v, items, name)?]
                } else {
                    write_matched(kind, a, sub, v, &matched, items, name)?;
                    matched
                };
                settle_primary(a, items, &touched, name)
            }
        }
    }
}

/// `replace` on a whole multi-valued attribute (RFC 7644 §3.5.2.3: "the attribute
/// and all values are replaced"): the values of `v`, without duplicates, at most one
/// primary.
fn replace_all_values(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    let new_items = normalize_multi(a, v, name)?;
    let mut items: Vec<Value> = Vec::new();
    for item in new_items {
        merge_or_push(a, &mut items, item, name)?;
    }
    let all: Vec<usize> = (0..items.len()).collect();
    settle_primary(a, &mut items, &all, name)?;
    set_ci(container, a.name, Value::Array(items));
    Ok(())
}

/// `add` to a multi-valued attribute (RFC 7644 §3.5.2.1: "a new value is added"):
/// values already present are merged into or kept, not duplicated; a new primary
/// clears the old one.
fn add_values(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    let new_items = normalize_multi(a, v, name)?;
    let mut items = take_values(container, a);
    let mut touched = Vec::new();
    for item in new_items {
        touched.push(merge_or_push(a, &mut items, item, name)?);
    }
    settle_primary(a, &mut items, &touched, name)?;
    set_ci(container, a.name, Value::Array(items));
    Ok(())
}

/// Removes `a` from `container` and returns its values as a list: none when absent
/// or null, one when stored as a single value.
fn take_values(container: &mut Map<String, Value>, a: &'static Attribute) -> Vec<Value> {
    match remove_ci(container, a.name) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// `add`/`replace` on a single-valued complex attribute (RFC 7644 §3.5.2.3: the
/// given sub-attributes replace or add, the others "are left unchanged"); a null
/// value unassigns it, unless it is immutable and has a value.
fn merge_complex(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    match normalize_value(a, v, name)? {
        Value::Object(fields) => {
            let mut current = match remove_ci(container, a.name) {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            let merged = merge_fields(a, &mut current, fields, name);
            container.insert(a.name.to_owned(), Value::Object(current));
            merged
        }
        _ => {
            check_immutable_cleared(a, get_ci(container, a.name), name)?;
            remove_ci(container, a.name);
            Ok(())
        }
    }
}

/// `add`/`replace` on a single-valued simple attribute (RFC 7644 §3.5.2.1 and
/// §3.5.2.3: the value is replaced), refusing to change an immutable one that has a
/// value.
fn set_simple(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    let new = normalize_value(a, v, name)?;
    if a.mutability == Mutability::Immutable
        && let Some(cur) = get_ci(container, a.name).filter(|c| present(c))
        && !values_equal(a, cur, &new)
    {
        return Err(ScimError::mutability(format!(
            "\"{name}\" is immutable and already has a value"
        )));
    }
    set_ci(container, a.name, new);
    Ok(())
}

/// `attr.sub` without a filter on a multi-valued attribute: sets `sub` on every
/// value (`noTarget` when there is none), at most one primary.
fn set_sub_on_every_value(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    s: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    let new = normalize_value(s, v, name)?;
    let items = match get_ci_mut(container, a.name) {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ScimError::no_target(format!(
                "\"{}\" has no values to set \"{}\" on",
                a.name, s.name
            )));
        }
    };
    let all: Vec<usize> = (0..items.len()).collect();
    for item in items.iter_mut() {
        set_sub(s, item, new.clone(), name)?;
    }
    settle_primary(a, items, &all, name)
}

/// `attr.sub` on a single-valued complex attribute: sets `sub`, creating the
/// complex value when there is none (or it is not an object).
fn set_sub_on_single_value(
    container: &mut Map<String, Value>,
    a: &'static Attribute,
    s: &'static Attribute,
    v: &Value,
    name: &str,
) -> Res {
    let new = normalize_value(s, v, name)?;
    if !get_ci(container, a.name).is_some_and(Value::is_object) {
        set_ci(container, a.name, Value::Object(Map::new()));
    }
    match get_ci_mut(container, a.name) {
        Some(obj) => set_sub(s, obj, new, name),
        None => Ok(()),
    }
}

/// The indices, in order, of the values in `items` that `filter` matches.
fn matching_indices(filter: &Filter, items: &[Value]) -> Vec<usize> {
    (0..items.len())
        .filter(|&i| items.get(i).is_some_and(|v| filter.matches_value(v)))
        .collect()
}

/// `remove` through a filter (RFC 7644 §3.5.2.2: "the values matched by the filter
/// are removed"): the `matched` values go, or with `attr[filter].sub` only their
/// `sub`, refused when immutable and set.
fn remove_matched(
    sub: Option<&'static Attribute>,
    matched: &[usize],
    items: &mut Vec<Value>,
    name: &str,
) -> Res {
    match sub {
        None => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !matched.contains(&i);
                i += 1;
                keep
            });
        }
        Some(s) => {
            for &i in matched {
                if let Some(item) = items.get_mut(i) {
                    clear_sub(s, item, name)?;
                }
            }
        }
    }
    Ok(())
}

/// `add` through a filter that matches nothing: the value the filter describes, with
/// `v` written over it, joins `items` (merged into a value with the same identity,
/// not duplicated); its index. Refusals as [`unmatched_template`].
fn add_from_filter(
    kind: PatchOpKind,
    a: &'static Attribute,
    sub: Option<&'static Attribute>,
    filter: &Filter,
    v: &Value,
    items: &mut Vec<Value>,
    name: &str,
) -> Res<usize> {
    let template = unmatched_template(kind, a, filter, items)?;
    let created = created_value(a, sub, template, v, name)?;
    // Through merge_or_push: a value naming an existing identity
    // merges into it rather than duplicating it.
    merge_or_push(a, items, Value::Object(created), name)
}

/// The value an unmatched filter describes (see [`eq_template`]), or `noTarget`:
/// always for `replace` (RFC 7644 §3.5.2.3: "no record match was made"), for a
/// single-valued attribute that has a value, and for a filter that is not a
/// conjunction of `eq`.
fn unmatched_template(
    kind: PatchOpKind,
    a: &'static Attribute,
    filter: &Filter,
    items: &[Value],
) -> Res<Map<String, Value>> {
    if kind == PatchOpKind::Replace {
        return Err(ScimError::no_target(format!(
            "no value of \"{}\" matches the filter \"{filter:#}\"",
            a.name
        )));
    }
    if !a.multi_valued && !items.is_empty() {
        return Err(ScimError::no_target(format!(
            "\"{}\" does not match the filter",
            a.name
        )));
    }
    eq_template(filter).ok_or_else(|| {
        ScimError::no_target(format!(
            "no value of \"{}\" matches the filter, and it is not a conjunction of eq comparisons to create one from",
            a.name
        ))
    })
}

/// `template` with the normalized `v` written over it: its sub-attributes for
/// `attr[filter]` (an object is required), or as `sub` for `attr[filter].sub`.
fn created_value(
    a: &'static Attribute,
    sub: Option<&'static Attribute>,
    mut template: Map<String, Value>,
    v: &Value,
    name: &str,
) -> Res<Map<String, Value>> {
    match sub {
        None => template.extend(object_value(a, v, name)?),
        Some(s) => {
            let new = normalize_value(s, v, name)?;
            template.insert(s.name.to_owned(), new);
        }
    }
    Ok(template)
}

/// `v` normalized as a whole value of complex attribute `a`; anything that does not
/// normalize to an object (null included) is `invalidValue`.
fn object_value(a: &'static Attribute, v: &Value, name: &str) -> Res<Map<String, Value>> {
    match normalize_value(a, v, name)? {
        Value::Object(o) => Ok(o),
        _ => Err(ScimError::invalid_value(format!(
            "\"{name}\" needs an object value"
        ))),
    }
}

/// `add`/`replace` through a filter that matched: `v` is written to every
/// `matched` value, whole (`attr[filter]`) or as `sub` (`attr[filter].sub`).
fn write_matched(
    kind: PatchOpKind,
    a: &'static Attribute,
    sub: Option<&'static Attribute>,
    v: &Value,
    matched: &[usize],
    items: &mut [Value],
    name: &str,
) -> Res {
    match sub {
        None => {
            let new = object_value(a, v, name)?;
            rewrite_matched(kind, a, &new, matched, items, name)
        }
        Some(s) => {
            let new = normalize_value(s, v, name)?;
            set_sub_on_matched(s, &new, matched, items, name)
        }
    }
}

/// `attr[filter]` with an object: `replace` swaps each matched value for `new`,
/// keeping the immutable sub-attributes it omits (see [`replacement`]); `add` merges
/// `new` into each (see [`merge_fields`]).
fn rewrite_matched(
    kind: PatchOpKind,
    a: &'static Attribute,
    new: &Map<String, Value>,
    matched: &[usize],
    items: &mut [Value],
    name: &str,
) -> Res {
    for &i in matched {
        let Some(Value::Object(cur)) = items.get_mut(i) else {
            continue;
        };
        if kind == PatchOpKind::Replace {
            *cur = replacement(a, cur, new, name)?;
        } else {
            merge_fields(a, cur, new.clone(), name)?;
        }
    }
    Ok(())
}

/// `attr[filter].sub` (RFC 7644 §3.5.2.3: "the matching sub-attribute of all
/// matching records is replaced"): sets `sub` on every matched value, respecting
/// immutability.
fn set_sub_on_matched(
    s: &'static Attribute,
    new: &Value,
    matched: &[usize],
    items: &mut [Value],
    name: &str,
) -> Res {
    for &i in matched {
        if let Some(item) = items.get_mut(i) {
            set_sub(s, item, new.clone(), name)?;
        }
    }
    Ok(())
}

/// Prunes one attribute value in place (null sub-attributes, empty complex values);
/// whether anything is left of it.
fn prune_value(v: &mut Value) -> bool {
    match v {
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(o) => {
                    o.retain(|_, x| !x.is_null());
                    !o.is_empty()
                }
                other => !other.is_null(),
            });
            !items.is_empty()
        }
        Value::Object(o) => {
            o.retain(|_, x| !x.is_null());
            !o.is_empty()
        }
        Value::Null => false,
        _ => true,
    }
}

/// The value a conjunction of `eq` comparisons on sub-attributes describes
/// (`type eq "work" and primary eq true` → `{"type":"work","primary":true}`).
fn eq_template(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let s = path.sub_attribute()?;
            let v = match value {
                CompValue::String(x) => Value::String(x.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            let mut m = Map::new();
            m.insert(s.name.to_owned(), v);
            Some(m)
        }
        Filter::And(items) => {
            let mut out = Map::new();
            for f in items {
                for (k, v) in eq_template(f)? {
                    match out.get(&k) {
                        Some(existing) if *existing != v => return None,
                        _ => {
                            out.insert(k, v);
                        }
                    }
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// `v` checked against `def`'s type (ignoring multiValued) and normalized: string
/// booleans become booleans, complex keys take their canonical spelling, readOnly
/// sub-attributes are dropped (null ones are kept: merging them unassigns; the final
/// prune drops them elsewhere), and a bare value for a complex attribute with a
/// `value` sub-attribute becomes `{"value": v}`.
fn normalize_value(def: &'static Attribute, v: &Value, name: &str) -> Res<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let wrong = |what: &str| {
        ScimError::invalid_value(format!(
            "\"{name}\" must be {what}, not {}",
            excerpt(&v.to_string())
        ))
    };
    match def.kind {
        AttrType::String | AttrType::Reference => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong("a string")),
        },
        AttrType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) => parse_bool(s)
                .map(Value::Bool)
                .ok_or_else(|| wrong("a boolean")),
            _ => Err(wrong("a boolean")),
        },
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            _ => Err(wrong("an integer")),
        },
        AttrType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong("a number")),
        },
        AttrType::DateTime => match v {
            Value::String(s) if datetime::parse(s).is_some() => Ok(v.clone()),
            _ => Err(wrong("an RFC 3339 dateTime")),
        },
        AttrType::Complex => match v {
            Value::Object(fields) => {
                let mut out = Map::new();
                for (k, sv) in fields {
                    let Some(s) = def.sub_attribute(k) else {
                        return Err(ScimError::invalid_path(format!(
                            "unknown attribute \"{}.{}\"",
                            def.name,
                            excerpt(k)
                        )));
                    };
                    if is_read_only(s) {
                        continue;
                    }
                    let nv = normalize_value(s, sv, &format!("{name}.{}", s.name))?;
                    out.insert(s.name.to_owned(), nv);
                }
                Ok(Value::Object(out))
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => match def.value_sub_attribute()
            {
                Some(vs) => {
                    let nv = normalize_value(vs, v, &format!("{name}.value"))?;
                    let mut out = Map::new();
                    out.insert(vs.name.to_owned(), nv);
                    Ok(Value::Object(out))
                }
                None => Err(wrong("an object")),
            },
            _ => Err(wrong("an object")),
        },
    }
}

/// The values of a multi-valued attribute given as `v` (an array, or one value),
/// normalized, nulls and empty values dropped.
fn normalize_multi(def: &'static Attribute, v: &Value, name: &str) -> Res<Vec<Value>> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let n = normalize_value(def, item, name)?;
        if present(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The immutable sub-attribute that identifies values of `a` (`members.value`).
fn identity(a: &'static Attribute) -> Option<&'static Attribute> {
    a.value_sub_attribute()
        .filter(|v| v.mutability == Mutability::Immutable)
}

/// Adds `item` to `items` unless it is already there: a value with the same identity
/// (see [`identity`]) is merged into, an equal value is kept as is. Returns the
/// index of the value now holding `item`.
fn merge_or_push(
    a: &'static Attribute,
    items: &mut Vec<Value>,
    item: Value,
    name: &str,
) -> Res<usize> {
    if let (Some(id), Value::Object(new)) = (identity(a), &item)
        && let Some(key) = get_ci(new, id.name)
    {
        let found = items.iter().position(|e| {
            e.as_object()
                .and_then(|o| get_ci(o, id.name))
                .is_some_and(|k| values_equal(id, k, key))
        });
        if let Some(i) = found {
            if let Some(Value::Object(cur)) = items.get_mut(i) {
                merge_fields(a, cur, new.clone(), name)?;
            }
            return Ok(i);
        }
    }
    if let Some(i) = items.iter().position(|e| values_equal(a, e, &item)) {
        return Ok(i);
    }
    items.push(item);
    Ok(items.len() - 1)
}

/// Whether `target` (a value given to a remove) selects stored value `item`: every
/// sub-attribute `target` names is equal in `item` (or, for simple values, equal).
fn selects(a: &'static Attribute, target: &Value, item: &Value) -> bool {
    match (target, item) {
        (Value::Object(t), Value::Object(i)) => t.iter().all(|(k, tv)| {
            let Some(s) = a.sub_attribute(k) else {
                return false;
            };
            get_ci(i, k).is_some_and(|iv| values_equal(s, iv, tv))
        }),
        _ => values_equal(a, target, item),
    }
}

/// Merges normalized `fields` into `current`, refusing to change immutable
/// sub-attributes that have a value.
fn merge_fields(
    a: &'static Attribute,
    current: &mut Map<String, Value>,
    fields: Map<String, Value>,
    name: &str,
) -> Res {
    for (k, v) in fields {
        let Some(s) = a.sub_attribute(&k) else {
            continue;
        };
        if s.mutability == Mutability::Immutable
            && let Some(cur) = get_ci(current, s.name).filter(|c| present(c))
            && !values_equal(s, cur, &v)
        {
            return Err(ScimError::mutability(format!(
                "\"{name}.{}\" is immutable and already has a value",
                s.name
            )));
        }
        set_ci(current, s.name, v);
    }
    Ok(())
}

/// The value replacing `current` with `new`: immutable sub-attributes that have a
/// value must be equal in `new` or absent from it (they are then carried over, as
/// they cannot be unassigned); every other sub-attribute comes from `new` alone.
fn replacement(
    a: &'static Attribute,
    current: &Map<String, Value>,
    new: &Map<String, Value>,
    name: &str,
) -> Res<Map<String, Value>> {
    let mut out = new.clone();
    for s in a
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        let Some(cur) = get_ci(current, s.name).filter(|c| present(c)) else {
            continue;
        };
        match get_ci(new, s.name) {
            None => {
                out.insert(s.name.to_owned(), cur.clone());
            }
            Some(n) if values_equal(s, cur, n) => {}
            Some(_) => {
                return Err(ScimError::mutability(format!(
                    "\"{name}.{}\" is immutable and already has a value",
                    s.name
                )));
            }
        }
    }
    Ok(out)
}

/// Refuses unassigning an immutable attribute that has a value.
fn check_immutable_cleared(a: &'static Attribute, current: Option<&Value>, name: &str) -> Res {
    if a.mutability == Mutability::Immutable && current.is_some_and(present) {
        return Err(ScimError::mutability(format!(
            "\"{name}\" is immutable and already has a value"
        )));
    }
    Ok(())
}

/// Sets sub-attribute `s` of complex value `item` to normalized `new` (null
/// unassigns), respecting immutability.
fn set_sub(s: &'static Attribute, item: &mut Value, new: Value, name: &str) -> Res {
    let Value::Object(o) = item else {
        return Ok(());
    };
    if s.mutability == Mutability::Immutable
        && let Some(cur) = get_ci(o, s.name).filter(|c| present(c))
        && !values_equal(s, cur, &new)
    {
        return Err(ScimError::mutability(format!(
            "\"{name}\" is immutable and already has a value"
        )));
    }
    if new.is_null() {
        remove_ci(o, s.name);
    } else {
        set_ci(o, s.name, new);
    }
    Ok(())
}

/// Removes sub-attribute `s` from complex value `item`, respecting immutability.
fn clear_sub(s: &'static Attribute, item: &mut Value, name: &str) -> Res {
    let Value::Object(o) = item else {
        return Ok(());
    };
    check_immutable_cleared(s, get_ci(o, s.name), name)?;
    remove_ci(o, s.name);
    Ok(())
}

/// Enforces "primary true at most once" (RFC 7643 §2.4) after values `touched` were
/// written: more than one of them primary is `invalidValue`; one of them primary
/// clears `primary` on every other value.
fn settle_primary(
    a: &'static Attribute,
    items: &mut [Value],
    touched: &[usize],
    name: &str,
) -> Res {
    if !a.has_primary() {
        return Ok(());
    }
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .is_some_and(|p| p.as_bool() == Some(true))
    };
    let primaries: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| items.get(i).is_some_and(is_primary))
        .collect();
    match primaries.as_slice() {
        [] => Ok(()),
        [keep] => {
            for (i, item) in items.iter_mut().enumerate() {
                if i != *keep
                    && is_primary(item)
                    && let Value::Object(o) = item
                {
                    set_ci(o, "primary", Value::Bool(false));
                }
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "at most one value of \"{name}\" may be primary"
        ))),
    }
}
