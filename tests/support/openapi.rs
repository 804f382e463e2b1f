//! Every answer the integration tests get is held to the headers `docs/openapi.json`
//! describes for its operation and status ([`headers_broken`], called by
//! [`App::send`](crate::App::send)): a header Roster sends that the description does not
//! name, a header it marks `required` that is missing, or a value other than the one
//! its schema allows (`const`, an integer) fails the test that got the answer.

use crate::Reply;
use serde_json::Value;
use std::sync::OnceLock;

/// Headers every answer may carry that describe the message rather than the operation:
/// the host's framing and date, and `Content-Type`, which the description gives as each
/// answer's `content`.
pub const GENERIC: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "date",
    "transfer-encoding",
];

/// The description as committed, parsed once.
pub fn description() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(crate::root().join("docs/openapi.json"))
            .expect("docs/openapi.json is readable");
        serde_json::from_str(&text).expect("docs/openapi.json is JSON")
    })
}

/// The path item of `doc` serving `path` (a request path, query allowed, one trailing
/// slash ignored as Spin does): of the templates matching it segment for segment, the
/// one with the most literal segments (`…/users/count` before `…/users/{mdmUserId}`,
/// `…/Users/.search` before `…/Users/{userId}`), as Spin prefers the exact route.
/// `None` for a path no operation describes (the host's 404, the SCIM catch-all
/// deeper than one segment).
pub fn path_item<'d>(doc: &'d Value, path: &str) -> Option<(&'d str, &'d Value)> {
    let path = path.split('?').next().unwrap_or_default();
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let literal = |p: &str| !(p.starts_with('{') && p.ends_with('}'));
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| if literal(p) { p == s } else { !s.is_empty() });
            matches.then(|| {
                let score = parts.iter().filter(|p| literal(p)).count();
                (score, template.as_str(), item)
            })
        })
        .max_by_key(|(score, ..)| *score)
        .map(|(_, template, item)| (template, item))
}

/// `v` with a `$ref` (`#/components/<kind>/<name>`) followed.
fn follow<'d>(doc: &'d Value, v: &'d Value) -> &'d Value {
    match v["$ref"].as_str() {
        Some(r) => r
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |node, key| &node[key]),
        None => v,
    }
}

/// What the answer `reply` to `method path` breaks of the headers `docs/openapi.json`
/// describes for that operation and status, one line each; empty when it conforms,
/// and when no operation describes it (a path or method nobody serves: the host's 404,
/// a route's 405 for a method it lacks). A status the operation does not document is
/// reported too.
pub fn headers_broken(method: &str, path: &str, reply: &Reply) -> Vec<String> {
    let doc = description();
    let Some((template, item)) = path_item(doc, path) else {
        return Vec::new();
    };
    let Some(op) = item.get(method.to_ascii_lowercase()) else {
        return Vec::new();
    };
    let code = reply.status.to_string();
    let Some(answer) = op["responses"].get(&code) else {
        return vec![format!("{method} {template} does not document {code}")];
    };
    let answer = follow(doc, answer);
    let described: Vec<(String, &Value)> = answer["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, h)| (name.to_ascii_lowercase(), follow(doc, h)))
        .collect();
    let mut broken = Vec::new();
    for name in reply.headers.keys() {
        let name = name.as_str();
        if GENERIC.contains(&name) {
            continue;
        }
        let Some((_, h)) = described.iter().find(|(n, _)| n == name) else {
            broken.push(format!("{name}: sent, not described"));
            continue;
        };
        let value = reply.header(name).unwrap_or_default();
        let schema = &h["schema"];
        if let Some(c) = schema["const"].as_str()
            && value != c
        {
            broken.push(format!("{name}: {value:?}, described as {c:?}"));
        }
        if schema["type"] == "integer" && value.parse::<u64>().is_err() {
            broken.push(format!("{name}: {value:?}, described as an integer"));
        }
    }
    for (name, h) in &described {
        if h["required"] == true && !reply.headers.contains_key(name.as_str()) {
            broken.push(format!("{name}: described as required, not sent"));
        }
    }
    broken
}
