//! SCIM filters (RFC 7644 §3.4.2.2): a bounded parser for the full grammar, a typed
//! AST that displays back to canonical filter text, evaluation against resource JSON
//! honouring the schema, and two planner helpers for endpoints that pre-select
//! candidates from an index.
//!
//! Grammar accepted (keywords, operators and attribute names case-insensitive;
//! precedence `not` > `and` > `or`):
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / "not" "(" FILTER ")" / "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"      ; valFilter: FILTER over sub-attributes
//!           / attrPath "[" valFilter "]" "." subAttr SP ("pr" / compareOp SP compValue)
//!                                           ; Entra ID's form, read as
//!                                           ; attrPath "[" valFilter " and " subAttr … "]"
//! attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! compValue = "false" / "null" / "true" / number / string   ; JSON (RFC 8259)
//! ```
//!
//! Every filter is validated against the schema while parsing: unknown attributes,
//! operators that cannot apply to an attribute's type (`gt` on a boolean, `co` on a
//! number, any comparison of a complex attribute without a `value` sub-attribute) and
//! values of the wrong type fail with 400 `invalidFilter` rather than silently
//! matching nothing. Input is bounded ([`MAX_FILTER_LEN`], [`MAX_FILTER_DEPTH`]), so
//! no filter can exhaust the stack.
//!
//! Semantics beyond the RFC's words, chosen to be unsurprising:
//! - `ne` is the negation of `eq`: it matches resources lacking the attribute, and a
//!   multi-valued attribute matches `ne` only when no value equals.
//! - `eq null` matches when the attribute is unassigned (absent, null, empty), and
//!   `ne null` when it is present.
//! - Comparisons are false on unassigned attributes (RFC 7644 §3.4.2.2), except `ne`.

use roster_lowercase::Lowercase as _;
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt;

use super::datetime;
use super::error::ScimError;
use super::path::{AttrPath, excerpt};
use super::schema::{AttrType, Attribute, ResourceType};
use super::value::{cmp_numbers, get_ci, present};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting of `(…)`, `not (…)` and `[…]` accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (substring).
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The canonical (lower-case) keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator spelled `word` (case-insensitive).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }

    /// Whether an ordering result satisfies this (eq or ordering) operator.
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CompareOp::Eq => ord == Ordering::Equal,
            CompareOp::Ne => ord != Ordering::Equal,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Ge => ord != Ordering::Less,
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Le => ord != Ordering::Greater,
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value: JSON `null`, a boolean, a number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string (escapes decoded).
    String(String),
}

impl fmt::Display for CompValue {
    /// JSON text: strings quoted and escaped, so parsing reads back the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// A parsed, schema-validated filter.
///
/// Inside a [`Filter::ValuePath`], comparison paths still name the full path
/// (`emails.type` for `emails[type eq "work"]`) and apply to one value at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op compValue`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: CompValue,
    },
    /// `attrPath pr`.
    Present(AttrPath),
    /// Conjunction of two or more filters (the parser never yields fewer; fewer
    /// evaluates as an empty conjunction, true).
    And(Vec<Filter>),
    /// Disjunction of two or more filters (the parser never yields fewer; fewer
    /// evaluates as an empty disjunction, false).
    Or(Vec<Filter>),
    /// `not (…)`.
    Not(Box<Filter>),
    /// `attr[valFilter]`: some single value of complex attribute `path` satisfies
    /// `filter`.
    ValuePath {
        /// The complex attribute (no sub-attribute).
        path: AttrPath,
        /// The filter each value is tested against.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Parses and validates `text` against `rt`'s schemas. Fails with 400
    /// `invalidFilter` on any syntax error, unknown attribute (named in the detail),
    /// operator/type mismatch, input over [`MAX_FILTER_LEN`] bytes or nesting over
    /// [`MAX_FILTER_DEPTH`].
    pub fn parse(text: &str, rt: &'static ResourceType) -> Result<Filter, ScimError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "filter longer than {MAX_FILTER_LEN} bytes"
            )));
        }
        let mut p = Parser::new(text, 0, rt);
        let f = p.or_expr(None)?;
        p.skip_ws();
        if p.pos < p.bytes.len() {
            return Err(p.unexpected());
        }
        Ok(f)
    }

    /// Whether `resource` (a SCIM resource as JSON, core attributes at the top level,
    /// extension attributes under their URN) matches. Never panics; anything not
    /// shaped as the schema says simply does not match.
    pub fn matches(&self, resource: &Value) -> bool {
        self.eval(resource, false)
    }

    /// Whether one value (`element`) of a complex attribute satisfies this filter,
    /// as inside a value path: comparisons read their sub-attribute from `element`.
    pub fn matches_value(&self, element: &Value) -> bool {
        self.eval(element, true)
    }

    fn eval(&self, scope: &Value, element: bool) -> bool {
        match self {
            Filter::And(items) => items.iter().all(|f| f.eval(scope, element)),
            Filter::Or(items) => items.iter().any(|f| f.eval(scope, element)),
            Filter::Not(f) => !f.eval(scope, element),
            Filter::ValuePath { path, filter } => {
                if element {
                    return false;
                }
                match path.raw(scope) {
                    Some(Value::Array(items)) => items.iter().any(|v| filter.eval(v, true)),
                    Some(v @ Value::Object(_)) => filter.eval(v, true),
                    _ => false,
                }
            }
            Filter::Present(path) => {
                if element {
                    element_value(path, scope).is_some_and(present)
                } else {
                    path.present_in(scope)
                }
            }
            Filter::Compare { path, op, value } => {
                let Some(def) = path.compared_definition() else {
                    return false;
                };
                let leaves: Vec<&Value> = if element {
                    match element_value(path, scope) {
                        Some(Value::Array(a)) => a.iter().collect(),
                        Some(v) => vec![v],
                        None => Vec::new(),
                    }
                } else if path.attribute().kind == AttrType::Complex {
                    path.values_at(scope, Some(def))
                } else {
                    path.values_at(scope, None)
                };
                match (op, value) {
                    (CompareOp::Eq, CompValue::Null) => !leaves.into_iter().any(present),
                    (CompareOp::Ne, CompValue::Null) => leaves.into_iter().any(present),
                    (CompareOp::Ne, _) => !leaves
                        .iter()
                        .any(|l| compare_leaf(def, l, CompareOp::Eq, value)),
                    _ => leaves.iter().any(|l| compare_leaf(def, l, *op, value)),
                }
            }
        }
    }

    /// Writes this filter as it appears inside `[…]` (sub-attribute names only).
    pub(crate) fn fmt_in_value_path(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, true)
    }

    fn fmt_with(&self, f: &mut fmt::Formatter<'_>, inner: bool) -> fmt::Result {
        let path = |f: &mut fmt::Formatter<'_>, p: &AttrPath| -> fmt::Result {
            match p.sub_attribute() {
                Some(s) if inner => f.write_str(s.name),
                _ => write!(f, "{p}"),
            }
        };
        match self {
            Filter::Compare { path: p, op, value } => {
                path(f, p)?;
                write!(f, " {op} {value}")
            }
            Filter::Present(p) => {
                path(f, p)?;
                f.write_str(" pr")
            }
            Filter::And(items) | Filter::Or(items) => {
                let is_and = matches!(self, Filter::And(_));
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(if is_and { " and " } else { " or " })?;
                    }
                    let paren = match item {
                        Filter::Or(_) => true,
                        Filter::And(_) => is_and,
                        _ => false,
                    };
                    if paren {
                        f.write_str("(")?;
                        item.fmt_with(f, inner)?;
                        f.write_str(")")?;
                    } else {
                        item.fmt_with(f, inner)?;
                    }
                }
                Ok(())
            }
            Filter::Not(x) => {
                f.write_str("not (")?;
                x.fmt_with(f, inner)?;
                f.write_str(")")
            }
            Filter::ValuePath { path: p, filter } => {
                p.fmt_attr(f)?;
                f.write_str("[")?;
                filter.fmt_with(f, true)?;
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Filter {
    /// Canonical filter text (lower-case keywords, canonical attribute names, URN
    /// prefixes only for extension attributes, JSON-escaped strings, parentheses only
    /// where the tree needs them); [`Filter::parse`] reads it back to an equal AST.
    /// The alternate form (`{:#}`) writes a value path's inner filter as it appears
    /// inside `[…]`, naming sub-attributes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = f.alternate();
        self.fmt_with(f, inner)
    }
}

/// The value of a value-path comparison's sub-attribute in one element.
fn element_value<'a>(path: &AttrPath, element: &'a Value) -> Option<&'a Value> {
    let name = path.sub_attribute().unwrap_or(path.attribute()).name;
    get_ci(element.as_object()?, name)
}

/// Whether one stored value `leaf` of attribute `def` satisfies `op value`.
fn compare_leaf(def: &Attribute, leaf: &Value, op: CompareOp, value: &CompValue) -> bool {
    match value {
        CompValue::Null => false,
        CompValue::Bool(b) => op == CompareOp::Eq && leaf.as_bool() == Some(*b),
        CompValue::Number(n) => match leaf {
            Value::Number(l) => cmp_numbers(l, n).is_some_and(|o| op.accepts(o)),
            _ => false,
        },
        CompValue::String(s) => {
            let Some(l) = leaf.as_str() else {
                return false;
            };
            if def.kind == AttrType::DateTime && !op.is_substring() {
                return match (datetime::parse(l), datetime::parse(s)) {
                    (Some(a), Some(b)) => op.accepts(a.cmp(&b)),
                    _ => false,
                };
            }
            let (l, s) = if def.case_exact {
                (l.to_owned(), s.to_owned())
            } else {
                (l.lowercase(), s.lowercase())
            };
            match op {
                CompareOp::Co => l.contains(&s),
                CompareOp::Sw => l.starts_with(&s),
                CompareOp::Ew => l.ends_with(&s),
                _ => op.accepts(l.as_str().cmp(s.as_str())),
            }
        }
    }
}

/// Checks that `op value` can apply to `path` under its schema type.
fn check_comparison(path: &AttrPath, op: CompareOp, value: &CompValue) -> Result<(), String> {
    let Some(def) = path.compared_definition() else {
        return Err(format!(
            "\"{path}\" is complex and has no \"value\" sub-attribute; compare one of its sub-attributes"
        ));
    };
    if *value == CompValue::Null {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(format!("\"{op}\" cannot compare with null"))
        };
    }
    let type_name = def.kind.as_str();
    let wrong_value = || format!("\"{path}\" is of type {type_name}; {value} is not such a value");
    match def.kind {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(format!(
                    "\"{op}\" cannot compare boolean attribute \"{path}\""
                ));
            }
            if !matches!(value, CompValue::Bool(_)) {
                return Err(wrong_value());
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return Err(format!(
                    "\"{op}\" cannot compare {type_name} attribute \"{path}\""
                ));
            }
            if !matches!(value, CompValue::Number(_)) {
                return Err(wrong_value());
            }
        }
        AttrType::String | AttrType::Reference => {
            if !matches!(value, CompValue::String(_)) {
                return Err(wrong_value());
            }
        }
        AttrType::DateTime => match value {
            CompValue::String(s) if op.is_substring() || datetime::parse(s).is_some() => {}
            _ => return Err(wrong_value()),
        },
        AttrType::Complex => {
            return Err(format!(
                "\"{op}\" cannot compare complex attribute \"{path}\""
            ));
        }
    }
    Ok(())
}

/// Parses the value filter starting at byte `start` of `text` (just after `[`) for
/// complex attribute `outer`, through the closing `]`; returns the filter and the
/// byte offset after `]`. Used by PATCH path parsing.
pub(crate) fn parse_bracketed(
    text: &str,
    start: usize,
    outer: &AttrPath,
    rt: &'static ResourceType,
) -> Result<(Filter, usize), ScimError> {
    let mut p = Parser::new(text, start, rt);
    p.depth = 1;
    let f = p.or_expr(Some(outer))?;
    p.skip_ws();
    if p.peek() != Some(b']') {
        return Err(p.unexpected());
    }
    Ok((f, p.pos + 1))
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    rt: &'static ResourceType,
    depth: usize,
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, pos: usize, rt: &'static ResourceType) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos,
            rt,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// The maximal run of non-delimiter bytes at the cursor (possibly empty).
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delim(b)) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or_default()
    }

    fn unexpected(&self) -> ScimError {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            ScimError::invalid_filter("unexpected end of filter")
        } else {
            ScimError::invalid_filter(format!(
                "unexpected \"{}\" at byte {}",
                excerpt(rest),
                self.pos
            ))
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "filter nested deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn expect(&mut self, b: u8) -> Result<(), ScimError> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Consumes ` keyword ` (whitespace, the keyword, then whitespace or `(`) if it
    /// is next; otherwise leaves the cursor where it was.
    fn keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        if self.skip_ws() {
            let w = self.word();
            if w.eq_ignore_ascii_case(kw) && (self.skip_ws() || self.peek() == Some(b'(')) {
                return true;
            }
        }
        self.pos = save;
        false
    }

    fn or_expr(&mut self, scope: Option<&AttrPath>) -> Result<Filter, ScimError> {
        let mut items = vec![self.and_expr(scope)?];
        while self.keyword("or") {
            items.push(self.and_expr(scope)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Filter::Or(items)
        })
    }

    fn and_expr(&mut self, scope: Option<&AttrPath>) -> Result<Filter, ScimError> {
        let mut items = vec![self.unary(scope)?];
        while self.keyword("and") {
            items.push(self.unary(scope)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Filter::And(items)
        })
    }

    fn group(&mut self, scope: Option<&AttrPath>) -> Result<Filter, ScimError> {
        self.enter()?;
        let f = self.or_expr(scope)?;
        self.expect(b')')?;
        self.depth -= 1;
        Ok(f)
    }

    fn unary(&mut self, scope: Option<&AttrPath>) -> Result<Filter, ScimError> {
        self.skip_ws();
        match self.peek() {
            None => return Err(self.unexpected()),
            Some(b'(') => {
                self.pos += 1;
                return self.group(scope);
            }
            Some(_) => {}
        }
        let start = self.pos;
        let name = self.word();
        if name.is_empty() {
            return Err(self.unexpected());
        }
        if name.eq_ignore_ascii_case("not") {
            let save = self.pos;
            self.skip_ws();
            if self.peek() == Some(b'(') {
                self.pos += 1;
                return Ok(Filter::Not(Box::new(self.group(scope)?)));
            }
            self.pos = save;
        }
        let path = self.resolve(name, scope)?;
        if self.peek() == Some(b'[') {
            if scope.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "value filters cannot nest (at byte {start})"
                )));
            }
            if path.sub_attribute().is_some() || path.attribute().kind != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "\"{path}\" is not a complex attribute; it cannot take a value filter"
                )));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or_expr(Some(&path))?;
            self.expect(b']')?;
            self.depth -= 1;
            if self.peek() != Some(b'.') {
                return Ok(Filter::ValuePath {
                    path,
                    filter: Box::new(inner),
                });
            }
            // `emails[type eq "work"].value eq "x"` (Entra ID's form, beyond RFC 7644's
            // grammar): the same as `emails[type eq "work" and value eq "x"]`.
            self.pos += 1;
            let sub_name = self.word();
            let sub = self.resolve(sub_name, Some(&path))?;
            let last = self.attr_exp(sub)?;
            let items = match inner {
                Filter::And(mut items) => {
                    items.push(last);
                    items
                }
                other => vec![other, last],
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(Filter::And(items)),
            });
        }
        self.attr_exp(path)
    }

    /// The rest of `attrPath SP "pr"` / `attrPath SP compareOp SP compValue` after the
    /// path.
    fn attr_exp(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        if !self.skip_ws() {
            return Err(self.unexpected());
        }
        let op_word = self.word();
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(if op_word.is_empty() {
                self.unexpected()
            } else {
                ScimError::invalid_filter(format!("unknown operator \"{}\"", excerpt(op_word)))
            });
        };
        if !self.skip_ws() {
            return Err(self.unexpected());
        }
        let value = self.comp_value()?;
        check_comparison(&path, op, &value).map_err(ScimError::invalid_filter)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn resolve(&self, name: &str, scope: Option<&AttrPath>) -> Result<AttrPath, ScimError> {
        match scope {
            None => AttrPath::resolve(name, self.rt).map_err(ScimError::invalid_filter),
            Some(outer) => match outer.attribute().sub_attribute(name) {
                Some(sub) => Ok(outer.with_sub(sub)),
                None => Err(ScimError::invalid_filter(format!(
                    "unknown attribute \"{}.{}\"",
                    outer.attribute().name,
                    excerpt(name)
                ))),
            },
        }
    }

    fn comp_value(&mut self) -> Result<CompValue, ScimError> {
        if self.peek() == Some(b'"') {
            let start = self.pos;
            let mut i = start + 1;
            loop {
                match self.bytes.get(i) {
                    None => return Err(ScimError::invalid_filter("unterminated string")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            let token = self.src.get(start..=i).unwrap_or_default();
            self.pos = i + 1;
            return serde_json::from_str::<String>(token)
                .map(CompValue::String)
                .map_err(|_| {
                    ScimError::invalid_filter(format!("invalid string {}", excerpt(token)))
                });
        }
        let w = self.word();
        if w.eq_ignore_ascii_case("true") {
            Ok(CompValue::Bool(true))
        } else if w.eq_ignore_ascii_case("false") {
            Ok(CompValue::Bool(false))
        } else if w.eq_ignore_ascii_case("null") {
            Ok(CompValue::Null)
        } else if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            serde_json::from_str::<Number>(w)
                .map(CompValue::Number)
                .map_err(|_| ScimError::invalid_filter(format!("invalid number {}", excerpt(w))))
        } else if w.is_empty() {
            Err(self.unexpected())
        } else {
            Err(ScimError::invalid_filter(format!(
                "invalid comparison value \"{}\" (strings must be quoted)",
                excerpt(w)
            )))
        }
    }
}

/// For an endpoint planning a lookup: values such that every resource `filter`
/// matches has (some value of) `attr` equal to one of them, compared per the
/// attribute's caseExact (values deduplicated accordingly). `None` when the filter
/// does not pin `attr` to string values. Examples: `userName eq "a" or userName eq
/// "b"` → `[a, b]`; `userName eq "a" and active eq true` → `[a]`; `userName co "a"` →
/// `None`. An empty list means nothing can match.
pub fn required_equalities(filter: &Filter, attr: &str) -> Option<Vec<String>> {
    let case_exact = first_definition(filter, attr).is_none_or(|d| d.case_exact);
    equalities(filter, attr, case_exact)
}

fn first_definition(filter: &Filter, attr: &str) -> Option<&'static Attribute> {
    match filter {
        Filter::Compare { path, .. } if path.refers_to(attr) => path.compared_definition(),
        Filter::Compare { .. } | Filter::Present(_) => None,
        Filter::And(items) | Filter::Or(items) => {
            items.iter().find_map(|f| first_definition(f, attr))
        }
        Filter::Not(f) | Filter::ValuePath { filter: f, .. } => first_definition(f, attr),
    }
}

fn same(case_exact: bool, a: &str, b: &str) -> bool {
    if case_exact {
        a == b
    } else {
        a == b || a.lowercase() == b.lowercase()
    }
}

fn equalities(filter: &Filter, attr: &str, case_exact: bool) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } if path.refers_to(attr) => Some(vec![s.clone()]),
        Filter::And(items) => {
            let sets: Vec<Vec<String>> = items
                .iter()
                .filter_map(|f| equalities(f, attr, case_exact))
                .collect();
            let (first, rest) = sets.split_first()?;
            Some(
                first
                    .iter()
                    .filter(|v| {
                        rest.iter()
                            .all(|set| set.iter().any(|w| same(case_exact, v, w)))
                    })
                    .cloned()
                    .collect(),
            )
        }
        Filter::Or(items) => {
            let mut out: Vec<String> = Vec::new();
            for f in items {
                for v in equalities(f, attr, case_exact)? {
                    if !out.iter().any(|w| same(case_exact, &v, w)) {
                        out.push(v);
                    }
                }
            }
            Some(out)
        }
        Filter::ValuePath { filter, .. } => equalities(filter, attr, case_exact),
        _ => None,
    }
}

/// A text condition on one attribute: `path op value` with `op` one of `eq`, `co`,
/// `sw`, `ew`, compared per [`TextTerm::case_exact`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextTerm {
    /// The attribute (its comparison target, see [`AttrPath::compared_definition`]).
    pub path: AttrPath,
    /// `Eq`, `Co`, `Sw` or `Ew`.
    pub op: CompareOp,
    /// The operand.
    pub value: String,
}

impl TextTerm {
    /// Whether the comparison is case-sensitive.
    pub fn case_exact(&self) -> bool {
        self.path
            .compared_definition()
            .is_some_and(|d| d.case_exact)
    }
}

/// For an endpoint with a substring index over `attrs`: terms such that every
/// resource `filter` matches satisfies at least one of them (a conjunction
/// contributes one of its members' terms, a disjunction needs terms from every
/// branch). Pre-select with their union, then evaluate `filter` on the candidates.
/// `None` when no such terms exist over `attrs` (e.g. `userName co "a" or title pr`).
pub fn substring_terms(filter: &Filter, attrs: &[&str]) -> Option<Vec<TextTerm>> {
    match filter {
        Filter::Compare {
            path,
            op: op @ (CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew),
            value: CompValue::String(s),
        } if attrs.iter().any(|a| path.refers_to(a))
            && path
                .compared_definition()
                .is_some_and(|d| matches!(d.kind, AttrType::String | AttrType::Reference)) =>
        {
            Some(vec![TextTerm {
                path: *path,
                op: *op,
                value: s.clone(),
            }])
        }
        Filter::And(items) => items
            .iter()
            .filter_map(|f| substring_terms(f, attrs))
            .min_by_key(Vec::len),
        Filter::Or(items) => {
            let mut out = Vec::new();
            for f in items {
                out.extend(substring_terms(f, attrs)?);
            }
            Some(out)
        }
        Filter::ValuePath { filter, .. } => substring_terms(filter, attrs),
        _ => None,
    }
}
