//! The OpenAPI 3.1 description of every route (issue 17), and the route serving it.
//!
//! [`document`] builds the description from two sources: the route catalogue
//! ([`crate::routes::catalogue`]) gives every path, every method and what each requires
//! (`x-permission`, `x-global-only`, the bearer security requirement), so those can
//! never disagree with what the components serve; `parts.json` next to this file holds
//! what the catalogue does not know — per operation its description, parameters,
//! request body schema, success answers and documented error statuses, and per surface
//! its envelope, error schema, content type and bearer challenge. Every answer names
//! the headers Roster sends with it, `required` where always sent: the rate limiter's
//! on every answer after the token was counted (never on a 401), the surface's
//! `WWW-Authenticate` on its 401, a static file's own security headers ([`asset`]).
//! `cargo xtask gen` writes the result to
//! `docs/openapi.json` (`make lint` checks it is current), and [`DocumentRoute`] serves
//! that file at `GET /openapi.json` without a token.
//!
//! How Spin's routes become OpenAPI paths: `:name` becomes `{name}`; the SCIM catch-all
//! `…/scim/v2/...` becomes `…/scim/v2/{path}` (one segment other than the served
//! resource names: OpenAPI has no multi-segment parameter); routes served through a
//! parameter for a literal path — `POST …/Users/.search`, `…/Groups/.search` and
//! `…/.search` by `…/Users/:prefix.search`, `…/Groups/:prefix.search` and
//! `…/:prefix.search` — are described at the literal path (`path` in `parts.json`). Every path item names
//! its component (`x-roster-component`) and Spin route (`x-spin-route`).

use crate::auth::Requirement;
use crate::routes::{RouteSpec, Surface, catalogue};
use serde_json::{Map, Value, json};

pub mod reference;

/// The hand-written parts of the description (schemas, parameters, answers per
/// operation and per surface).
pub const PARTS: &str = include_str!("parts.json");

/// The description as `cargo xtask gen` last wrote it (`docs/openapi.json`), zlib
/// compressed by build.rs (HTTP's `deflate` coding), served by [`DocumentRoute`].
pub const SERVED_DEFLATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.zz"));

/// The public route of the description itself.
pub const ROUTE: &str = "/openapi.json";

/// The OpenAPI path of a Spin route: `:name` → `{name}`, a trailing `/...` → `/{path}`.
pub fn openapi_path(route: &str) -> String {
    route
        .split('/')
        .map(|seg| match seg {
            "..." => "{path}".to_owned(),
            s if s.starts_with(':') => format!("{{{}}}", &s[1..]),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The key of a surface in `parts.json`'s `surfaces` and `pathParameters`.
pub fn surface_key(s: Surface) -> &'static str {
    match s {
        Surface::Mdm => "Mdm",
        Surface::Wso2 => "Wso2",
        Surface::Cas => "Cas",
        Surface::Dynatrace => "Dynatrace",
        Surface::Apim => "Apim",
        Surface::Scim => "Scim",
        Surface::Meta => "Meta",
    }
}

/// The `operationId` of `method` on `component`: `getMdmUser`, `postScimSearch`.
pub fn operation_id(component: &str, method: &str) -> String {
    let mut out = method.to_ascii_lowercase();
    for word in component.split('-') {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// The header a `components/headers` key of `parts.json` describes; `None` for a key
/// nobody defined here (a typo in `parts.json`, which [`document`] reports).
fn header_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "ETag" | "ScimETag" => "ETag",
        "Location" => "Location",
        "AzureAsyncOperation" => "Azure-AsyncOperation",
        "RetryAfter" => "Retry-After",
        "PreferenceApplied" => "Preference-Applied",
        "CacheControl" => "Cache-Control",
        "Allow" => "Allow",
        "XRateLimitLimit" => "X-RateLimit-Limit",
        "XRateLimitRemaining" => "X-RateLimit-Remaining",
        "XRateLimitReset" => "X-RateLimit-Reset",
        "Challenge" | "ScimChallenge" | "ApimChallenge" => "WWW-Authenticate",
        _ => return None,
    })
}

/// The rate limiter's headers, as `parts.json` keys.
const RATE_HEADERS: [&str; 3] = ["XRateLimitLimit", "XRateLimitRemaining", "XRateLimitReset"];

/// Adds the header `key` of `parts.json`'s `components/headers` to `headers` as a
/// reference: to `components/headers/<key>` (`required: true`) when every such answer
/// carries it, else to `components/headers/<key>.optional`. Either is added to
/// `shared` on first use. Errors name a key `parts.json` does not define.
fn add_header(
    parts: &Value,
    shared: &mut Map<String, Value>,
    headers: &mut Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<(), String> {
    let (Some(name), Some(def)) = (header_name(key), parts["components"]["headers"].get(key))
    else {
        return Err(format!("no header {key} in parts.json"));
    };
    let shared_key = if required {
        key.to_owned()
    } else {
        format!("{key}.optional")
    };
    shared.entry(shared_key.clone()).or_insert_with(|| {
        let mut h = def.clone();
        if required {
            h["required"] = true.into();
        }
        h
    });
    headers.insert(
        name.to_owned(),
        json!({ "$ref": format!("#/components/headers/{shared_key}") }),
    );
    Ok(())
}

/// The static file a public route serves (every route of [`Surface::Meta`]).
pub fn asset(component: &str) -> Option<crate::assets::Asset> {
    use crate::assets::StaticAsset;
    Some(match component {
        "openapi" => Document::ASSET,
        "reference" => reference::Page::ASSET,
        "reference-rapidoc" => reference::Viewer::ASSET,
        "console" => crate::console::Page::ASSET,
        "console-js" => crate::console::Script::ASSET,
        "console-css" => crate::console::Style::ASSET,
        _ => return None,
    })
}

/// The headers every `GET` and `HEAD` answer of a static file carries (see
/// [`crate::assets`]), their values taken from the file's [`Asset`](crate::assets::Asset):
/// `Content-Encoding` is the one sent only sometimes (when `Accept-Encoding` accepts it).
fn asset_headers(a: &crate::assets::Asset) -> Map<String, Value> {
    let fixed = |description: &str, value: &str, required: bool| {
        json!({
            "description": description,
            "required": required,
            "schema": { "type": "string", "const": value },
        })
    };
    let mut h = Map::new();
    h.insert(
        "X-Content-Type-Options".into(),
        fixed(
            "The type is the one Content-Type names; no sniffing.",
            "nosniff",
            true,
        ),
    );
    h.insert(
        "Referrer-Policy".into(),
        fixed("No Referer to links followed from it.", "no-referrer", true),
    );
    if let Some(csp) = a.csp {
        h.insert(
            "Content-Security-Policy".into(),
            fixed(
                "What the page may load and run: only this origin's own files.",
                csp,
                true,
            ),
        );
    }
    if let Some(cache) = a.cache_control {
        h.insert(
            "Cache-Control".into(),
            fixed("How a cache may keep the file.", cache, true),
        );
    }
    if a.deflated {
        h.insert(
            "Vary".into(),
            fixed(
                "The body depends on Accept-Encoding.",
                "accept-encoding",
                true,
            ),
        );
        h.insert(
            "Content-Encoding".into(),
            fixed(
                "Sent when the request's Accept-Encoding accepts deflate: the body is zlib \
                 compressed (RFC 9110 §8.4.1.2).",
                "deflate",
                false,
            ),
        );
    }
    h
}

/// One success answer of an operation of `component` from its `parts.json` shorthand:
/// `data` (a schema wrapped in the surface's envelope), `body` (a schema answered as
/// is), `headers` (keys of `components/headers`; `Key?` for one not always sent). Every
/// answer of a route that counts requests carries the rate limiter's headers; a static
/// file's, its own ([`asset_headers`]).
fn success(
    parts: &Value,
    shared: &mut Shared,
    (surface, surface_name, component): (&Value, &str, &str),
    code: &str,
    short: &Value,
) -> Result<Value, String> {
    let mut headers = Map::new();
    if surface_name == "Meta" {
        let a = asset(component).ok_or_else(|| format!("{component}: no static file"))?;
        headers = asset_headers(&a);
    } else {
        for key in RATE_HEADERS {
            add_header(parts, &mut shared.headers, &mut headers, key, true)?;
        }
    }
    for h in short["headers"].as_array().into_iter().flatten() {
        let key = h.as_str().unwrap_or_default();
        let (key, required) = match key.strip_suffix('?') {
            Some(k) => (k, false),
            None => (key, true),
        };
        add_header(parts, &mut shared.headers, &mut headers, key, required)?;
    }
    // An operation's own media type (`content` in its shorthand, e.g. the reference
    // page's `text/html`), else its surface's.
    let content_type = short["content"]
        .as_str()
        .or_else(|| surface["content"].as_str())
        .unwrap_or("application/json");
    let schema = if let Some(data) = short.get("data") {
        Some(match surface_name {
            "Wso2" => json!({
                "type": "object",
                "required": ["statusCode", "messageFromServer", "responseContent"],
                "properties": {
                    "statusCode": { "const": code.parse::<u16>().unwrap_or(200) },
                    "messageFromServer": { "type": "string" },
                    "responseContent": data,
                },
            }),
            _ => json!({
                "type": "object",
                "required": ["status", "data"],
                "properties": { "status": { "const": true }, "data": data },
            }),
        })
    } else if let Some(body) = short.get("body") {
        Some(body.clone())
    } else if surface_name == "Wso2" {
        // WSO2 answers a message without content.
        Some(json!({
            "type": "object",
            "required": ["statusCode", "messageFromServer"],
            "properties": {
                "statusCode": { "const": code.parse::<u16>().unwrap_or(200) },
                "messageFromServer": { "type": "string" },
            },
        }))
    } else {
        None
    };
    let mut resp = Map::new();
    resp.insert(
        "description".into(),
        parts["statusText"][code]
            .as_str()
            .unwrap_or("Answer")
            .into(),
    );
    if !headers.is_empty() {
        resp.insert("headers".into(), Value::Object(headers));
    }
    if let Some(schema) = schema {
        resp.insert(
            "content".into(),
            json!({ content_type: { "schema": schema } }),
        );
    }
    Ok(Value::Object(resp))
}

/// One error answer in the surface's error shape (a `components/responses` entry), with
/// the headers it carries:
/// - the surface's unauthenticated answer (401; CAS: 403) carries no rate-limit
///   headers, since no token was counted; a 401 carries the surface's bearer challenge
///   (`challenge` in `parts.json`: `WWW-Authenticate`, RFC 9110 §11.6.1; CAS answers
///   403 instead);
/// - 405 carries `Allow`, and the rate-limit headers only when the refusal came after
///   the token was counted (CAS's 405 for a managed user);
/// - 500 carries them only when the store failed after the token was counted;
/// - every other error comes after the token was counted and carries them, a 429 also
///   `Retry-After`.
fn error(parts: &Value, shared: &mut Shared, surface: &Value, code: u16) -> Result<Value, String> {
    let content_type = surface["content"].as_str().unwrap_or("application/json");
    let mut headers = Map::new();
    let unauthenticated = surface["unauthenticated"].as_u64() == Some(u64::from(code));
    let counted = match code {
        401 => None,
        _ if unauthenticated || code == 405 || code == 500 => Some(false),
        _ => Some(true),
    };
    if let Some(required) = counted {
        for key in RATE_HEADERS {
            add_header(parts, &mut shared.headers, &mut headers, key, required)?;
        }
    }
    if code == 401
        && let Some(challenge) = surface["challenge"].as_str()
    {
        add_header(parts, &mut shared.headers, &mut headers, challenge, true)?;
    }
    if code == 429 {
        add_header(parts, &mut shared.headers, &mut headers, "RetryAfter", true)?;
    }
    if code == 405 {
        add_header(parts, &mut shared.headers, &mut headers, "Allow", true)?;
    }
    let error = surface["error"].as_str().unwrap_or("MdmError");
    let mut resp = json!({
        "description": parts["statusText"][code.to_string()].as_str().unwrap_or("Error"),
        "content": { content_type: {
            "schema": { "$ref": format!("#/components/schemas/{error}") },
        } },
    });
    if !headers.is_empty() {
        resp["headers"] = Value::Object(headers);
    }
    Ok(resp)
}

/// The path parameters of `path` for a route of `surface` (references to
/// `components/parameters`, added to `shared` on first use): the surface's own
/// definition first (`path.Scim.userId`), then the shared one (`path.organizationId`).
/// Errors name a parameter nobody defines.
fn path_parameters(
    parts: &Value,
    surface: &str,
    path: &str,
    shared: &mut Map<String, Value>,
) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let (key, def) = match parts["pathParameters"][surface].get(name) {
            Some(def) => (format!("path.{surface}.{name}"), def),
            None => (
                format!("path.{name}"),
                parts["pathParameters"]["*"]
                    .get(name)
                    .ok_or_else(|| format!("{path}: no definition of the path parameter {name}"))?,
            ),
        };
        shared.entry(key.clone()).or_insert_with(|| {
            let mut p = json!({ "name": name, "in": "path", "required": true });
            if let (Value::Object(p), Value::Object(def)) = (&mut p, def) {
                p.extend(def.clone());
            }
            p
        });
        out.push(json!({ "$ref": format!("#/components/parameters/{key}") }));
    }
    Ok(out)
}

/// What operations share, built while they are: error answers, one per surface and
/// status (`Mdm404`), and path parameters.
#[derive(Default)]
struct Shared {
    responses: Map<String, Value>,
    parameters: Map<String, Value>,
    /// `components/headers`: each header of `parts.json` used, as [`add_header`]
    /// names it.
    headers: Map<String, Value>,
}

/// An operation's summary: the first sentence of its own description (what a reader
/// lists operations by), or the route's summary when it has none.
fn summary(spec: &Value, r: &RouteSpec) -> String {
    let Some(d) = spec.get("description").and_then(Value::as_str) else {
        return r.summary.to_owned();
    };
    let first = d.find(". ").map_or(d, |i| &d[..i]);
    first.trim().trim_end_matches('.').to_owned()
}

fn operation(
    parts: &Value,
    r: &RouteSpec,
    method: &str,
    need: &Requirement,
    spec: &Value,
    path: &str,
    shared: &mut Shared,
) -> Result<Value, String> {
    let surface_name = surface_key(r.surface);
    let surface = &parts["surfaces"][surface_name];
    let mut op = Map::new();
    op.insert(
        "operationId".into(),
        operation_id(r.component, method).into(),
    );
    op.insert("tags".into(), json!([surface["tag"]]));
    op.insert("summary".into(), summary(spec, r).into());
    if let Some(d) = spec.get("description") {
        op.insert("description".into(), d.clone());
    }
    match need.permission {
        Some(p) => {
            op.insert("x-permission".into(), p.to_string().into());
            op.insert("x-global-only".into(), need.global_only.into());
            op.insert("security".into(), json!([{ "bearer": [] }]));
        }
        None => {
            op.insert("security".into(), json!([]));
        }
    }
    let mut params = path_parameters(parts, surface_name, path, &mut shared.parameters)?;
    let refs = ["headerParameters", "queryParameters"]
        .iter()
        .flat_map(|k| surface[k].as_array().cloned().unwrap_or_default())
        .chain(spec["parameters"].as_array().cloned().unwrap_or_default());
    for name in refs {
        let name = name.as_str().unwrap_or_default();
        if parts["components"]["parameters"].get(name).is_none() {
            return Err(format!("{path} {method}: no parameter {name}"));
        }
        params.push(json!({ "$ref": format!("#/components/parameters/{name}") }));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let has_body = spec.get("body").is_some();
    if let Some(schema) = spec.get("body") {
        let types: &[&str] = if r.surface == Surface::Scim {
            &["application/scim+json", "application/json"]
        } else {
            &["application/json"]
        };
        let content: Map<String, Value> = types
            .iter()
            .map(|t| ((*t).to_owned(), json!({ "schema": schema })))
            .collect();
        op.insert(
            "requestBody".into(),
            json!({
                "required": !spec["bodyOptional"].as_bool().unwrap_or(false),
                "description": "JSON of at most 64 KiB (413), nested at most 32 levels.",
                "content": content,
            }),
        );
    }
    let mut responses = Map::new();
    for (code, short) in spec["responses"].as_object().into_iter().flatten() {
        responses.insert(
            code.clone(),
            success(
                parts,
                shared,
                (surface, surface_name, r.component),
                code,
                short,
            )
            .map_err(|e| format!("{path} {method}: {e}"))?,
        );
    }
    if need.permission.is_some() {
        let mut codes: Vec<u16> = spec["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_u64().and_then(|c| u16::try_from(c).ok()))
            .collect();
        let unauthenticated = surface["unauthenticated"].as_u64().unwrap_or(401) as u16;
        codes.extend([unauthenticated, 403, 429, 500]);
        if has_body {
            codes.push(413);
        }
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let name = format!("{surface_name}{code}");
            if !shared.responses.contains_key(&name) {
                let answer = error(parts, shared, surface, code)
                    .map_err(|e| format!("{path} {method}: {e}"))?;
                shared.responses.insert(name.clone(), answer);
            }
            responses.insert(
                code.to_string(),
                json!({ "$ref": format!("#/components/responses/{name}") }),
            );
        }
    }
    if responses.is_empty() {
        return Err(format!("{path} {method}: no answer documented"));
    }
    op.insert("responses".into(), Value::Object(responses));
    Ok(Value::Object(op))
}

/// What `parts.json` would say of a route's `HEAD` when it says nothing: its `GET`
/// (`get`), with the same parameters, statuses and headers, described as `GET`'s
/// answer without the body, the request handled as `GET`'s — whatever `GET` does (an
/// operation's poll advances it), `HEAD` does (RFC 9110 §9.3.2; [`crate::endpoint!`]
/// serves `HEAD` so). A route whose `HEAD` does less says so in `parts.json`.
fn head_spec(get: &Value) -> Value {
    let mut spec = get.clone();
    let get_does = get["description"].as_str().unwrap_or_default();
    spec["description"] = format!(
        "The status and headers GET answers, without the body (RFC 9110 §9.3.2); handled \
         as GET is. GET: {get_does}"
    )
    .into();
    spec
}

/// Takes every response body out of `op`, a `HEAD` operation (RFC 9110 §9.3.2): a
/// response's `content` goes, and a shared error response (`$ref`, `Mdm404`, with its
/// error body) is swapped for a shared one without the body (`Mdm404NoBody`, added to
/// `shared` on first use).
fn drop_bodies(op: &mut Value, shared: &mut Shared) {
    let Some(Value::Object(responses)) = op.get_mut("responses") else {
        return;
    };
    for response in responses.values_mut() {
        if let Some(name) = response["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/responses/"))
        {
            let bodiless = format!("{name}NoBody");
            let mut answer = shared.responses.get(name).cloned().unwrap_or_default();
            if let Value::Object(fields) = &mut answer {
                fields.remove("content");
            }
            shared.responses.entry(bodiless.clone()).or_insert(answer);
            *response = json!({ "$ref": format!("#/components/responses/{bodiless}") });
        } else if let Value::Object(fields) = response {
            fields.remove("content");
        }
    }
}

/// The whole description, built from the catalogue and `parts.json`. Errors list every
/// disagreement: a method of the catalogue `parts.json` does not describe, an operation
/// of `parts.json` the catalogue does not serve, an undefined parameter.
pub fn document() -> Result<Value, Vec<String>> {
    let parts: Value = serde_json::from_str(PARTS)
        .map_err(|e| vec![format!("crates/api/src/openapi/parts.json: {e}")])?;
    let routes = catalogue();
    let mut errors = Vec::new();
    let mut paths: Map<String, Value> = Map::new();
    let mut shared = Shared::default();
    for r in &routes {
        let specs = &parts["operations"][r.component];
        for (method, need) in &r.requirements {
            let derived;
            let spec = match (specs.get(*method), specs.get("GET")) {
                (Some(spec), _) => spec,
                (None, Some(get)) if *method == "HEAD" => {
                    derived = head_spec(get);
                    &derived
                }
                (None, _) => {
                    errors.push(format!("{} {method}: not in parts.json", r.component));
                    continue;
                }
            };
            let path = spec["path"]
                .as_str()
                .map_or_else(|| openapi_path(r.route), str::to_owned);
            match operation(&parts, r, method, need, spec, &path, &mut shared) {
                Ok(mut op) => {
                    if *method == "HEAD" {
                        drop_bodies(&mut op, &mut shared);
                    }
                    let item = paths.entry(path).or_insert_with(
                        || json!({ "x-roster-component": r.component, "x-spin-route": r.route }),
                    );
                    item[method.to_ascii_lowercase()] = op;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    for (component, methods) in parts["operations"].as_object().into_iter().flatten() {
        let route = routes.iter().find(|r| r.component == component);
        for method in methods.as_object().into_iter().flatten().map(|(m, _)| m) {
            if !route.is_some_and(|r| r.requirements.iter().any(|(m, _)| m == method)) {
                errors.push(format!(
                    "parts.json describes {component} {method}, which no route serves"
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut components = parts["components"].clone();
    components["responses"] = Value::Object(shared.responses);
    components["headers"] = Value::Object(shared.headers);
    if let Some(Value::Object(params)) = components.get_mut("parameters") {
        params.extend(shared.parameters);
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": parts["info"],
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{ "url": "/", "description": "The origin serving this description." }],
        "tags": parts["tags"],
        "paths": paths,
        "components": components,
    }))
}

/// The description as `cargo xtask gen` writes it to `docs/openapi.json`: compact JSON
/// (it is served as is, and each component stays small), one trailing newline.
pub fn render() -> Result<String, Vec<String>> {
    document().map(|d| format!("{d}\n"))
}

/// Whether an `Accept-Encoding` value accepts `deflate`: listed without a zero weight,
/// or, when not listed, `*` without one (RFC 9110 §12.5.3: `*` stands for the codings
/// not listed, so `deflate;q=0, *` refuses deflate). A weight that is no `qvalue`
/// (`q=abc`, `q=2`, `q=0.5x`) does not accept: when in doubt the answer goes
/// uncompressed, which every client reads.
pub fn accepts_deflate(accept_encoding: &str) -> bool {
    let weighed = |coding: &str| {
        crate::request::list_elements(accept_encoding).find_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            name.eq_ignore_ascii_case(coding)
                .then(|| parts.filter_map(weight).all(nonzero_weight))
        })
    };
    weighed("deflate").or_else(|| weighed("*")).unwrap_or(false)
}

/// The weight of an `Accept-Encoding` parameter `q=…` (the name case-insensitive, RFC
/// 9110 §12.4.2), if it is one; a bare `q` weighs `""`, which is no `qvalue`.
fn weight(param: &str) -> Option<&str> {
    let (name, value) = param.split_once('=').unwrap_or((param, ""));
    name.trim()
        .eq_ignore_ascii_case("q")
        .then_some(value.trim())
}

/// Whether a weight is a `qvalue` above zero (RFC 9110 §12.4.2: `0` with up to three
/// decimals, or `1` with up to three zero decimals), read as text, not parsed as a
/// float: the float parser would add ~16 KB to every component serving a compressed
/// file. Zero (`0`, `0.`, `0.000`) and anything that is no `qvalue` are not.
fn nonzero_weight(q: &str) -> bool {
    let decimals = |rest: &str, allowed: fn(u8) -> bool| {
        rest.is_empty()
            || rest
                .strip_prefix('.')
                .is_some_and(|d| d.len() <= 3 && d.bytes().all(allowed))
    };
    if let Some(rest) = q.strip_prefix('1') {
        return decimals(rest, |b| b == b'0');
    }
    q.strip_prefix('0').is_some_and(|rest| {
        decimals(rest, |b| b.is_ascii_digit()) && rest.bytes().any(|b| matches!(b, b'1'..=b'9'))
    })
}

/// The description as a static file, stored compressed.
pub struct Document;

impl crate::assets::StaticAsset for Document {
    const ROUTE: &'static str = ROUTE;
    const ASSET: crate::assets::Asset = crate::assets::Asset {
        body: SERVED_DEFLATE,
        deflated: true,
        content_type: "application/json",
        csp: None,
        cache_control: None,
    };
}

/// `GET /openapi.json`: the description, no token needed (it holds no data). Sent
/// `Content-Encoding: deflate` when the request's `Accept-Encoding` accepts it (browsers,
/// HTTP libraries), else inflated (e.g. plain `curl`); `Vary: Accept-Encoding` either way.
pub type DocumentRoute = crate::assets::AssetRoute<Document>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiRequest, Ctx, Endpoint};
    use std::collections::BTreeMap;

    /// `(component, METHOD)` → the permission the served description states (`None`:
    /// public), read from `docs/openapi.json` as committed.
    fn described() -> BTreeMap<(String, String), Option<(String, bool)>> {
        let doc: Value =
            serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut out = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let component = item["x-roster-component"].as_str().unwrap().to_owned();
            for (method, op) in item.as_object().unwrap() {
                if method.starts_with("x-") {
                    continue;
                }
                let permission = op.get("x-permission").map(|p| {
                    (
                        p.as_str().unwrap().to_owned(),
                        op["x-global-only"].as_bool().unwrap(),
                    )
                });
                // A public operation has no security requirement; every other one needs
                // the bearer token.
                let security = if permission.is_some() {
                    json!([{ "bearer": [] }])
                } else {
                    json!([])
                };
                assert_eq!(op["security"], security, "{method} {path}");
                let key = (component.clone(), method.to_ascii_uppercase());
                assert!(
                    out.insert(key, permission).is_none(),
                    "{method} of {component} described twice"
                );
            }
        }
        out
    }

    #[test]
    fn the_description_matches_the_catalogue_method_for_method() {
        let expected: BTreeMap<(String, String), Option<(String, bool)>> = catalogue()
            .iter()
            .flat_map(|r| {
                r.requirements.iter().map(|(m, need)| {
                    (
                        (r.component.to_owned(), (*m).to_owned()),
                        need.permission.map(|p| (p.to_string(), need.global_only)),
                    )
                })
            })
            .collect();
        assert_eq!(described(), expected);
    }

    #[test]
    fn the_committed_description_is_what_the_generator_writes() {
        let fresh = render().unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(
            fresh == include_str!("../../../../docs/openapi.json"),
            "docs/openapi.json is stale: run `cargo xtask gen`"
        );
    }

    #[test]
    fn every_path_parameter_of_every_operation_is_declared() {
        let doc = document().unwrap();
        let params = &doc["components"]["parameters"];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method.starts_with("x-") {
                    continue;
                }
                let declared: Vec<String> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let name = p["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                        &params[name]
                    })
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect();
                let templated: Vec<String> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .map(str::to_owned)
                    .collect();
                assert_eq!(declared, templated, "{method} {path}");
            }
        }
    }

    /// The answer `code` of `op` with its `$ref` followed, and its headers by name,
    /// each with its `$ref` followed.
    fn answer_headers(doc: &Value, op: &Value, code: &str) -> Map<String, Value> {
        let follow = |v: &Value| -> Value {
            match v["$ref"].as_str() {
                Some(r) => {
                    let mut parts = r.trim_start_matches("#/").split('/');
                    let (c, kind, name) = (parts.next(), parts.next(), parts.next());
                    assert_eq!(c, Some("components"), "{r}");
                    doc["components"][kind.unwrap()][name.unwrap()].clone()
                }
                None => v.clone(),
            }
        };
        let answer = follow(&op["responses"][code]);
        assert!(answer.is_object(), "no answer {code}");
        answer["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, h)| {
                let h = follow(h);
                assert!(h["schema"].is_object(), "{name}: {h}");
                (name.clone(), h)
            })
            .collect()
    }

    #[test]
    fn every_answer_names_the_headers_it_carries() {
        let doc = document().unwrap();
        let required =
            |h: &Map<String, Value>, name: &str| h.get(name).map(|h| h["required"] == true);
        let mut seen_401 = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            let component = item["x-roster-component"].as_str().unwrap();
            let meta = catalogue()
                .iter()
                .any(|r| r.component == component && r.surface == Surface::Meta);
            for (method, op) in item.as_object().unwrap() {
                if method.starts_with("x-") {
                    continue;
                }
                for code in op["responses"].as_object().unwrap().keys() {
                    let h = answer_headers(&doc, op, code);
                    let at = format!("{method} {path} {code}");
                    if meta {
                        // A static file's answers: its security headers, no rate limit.
                        assert_eq!(required(&h, "X-Content-Type-Options"), Some(true), "{at}");
                        assert_eq!(required(&h, "X-RateLimit-Limit"), None, "{at}");
                        let a = asset(component).unwrap();
                        assert_eq!(
                            h.get("Content-Security-Policy")
                                .map(|h| h["schema"]["const"].clone()),
                            a.csp.map(Value::from),
                            "{at}"
                        );
                        continue;
                    }
                    let rate = required(&h, "X-RateLimit-Limit");
                    match code.as_str() {
                        // No token was counted: no rate-limit headers; every 401 its
                        // surface's challenge (RFC 9110 §11.6.1).
                        "401" => {
                            seen_401 += 1;
                            assert_eq!(rate, None, "{at}");
                            assert_eq!(required(&h, "WWW-Authenticate"), Some(true), "{at}");
                        }
                        "405" | "500" => assert_eq!(rate, Some(false), "{at}"),
                        "403" if component == "cas-user" => assert_eq!(rate, Some(false), "{at}"),
                        "429" => {
                            assert_eq!(rate, Some(true), "{at}");
                            assert_eq!(required(&h, "Retry-After"), Some(true), "{at}");
                        }
                        _ => assert_eq!(rate, Some(true), "{at}"),
                    }
                    assert_eq!(required(&h, "X-RateLimit-Remaining"), rate, "{at}");
                    assert_eq!(required(&h, "X-RateLimit-Reset"), rate, "{at}");
                }
            }
        }
        assert!(seen_401 > 100, "{seen_401}");
    }

    #[test]
    fn every_static_route_has_its_file() {
        for r in catalogue() {
            assert_eq!(
                asset(r.component).is_some(),
                r.surface == Surface::Meta,
                "{}",
                r.component
            );
        }
    }

    #[test]
    fn an_unknown_header_in_parts_is_an_error() {
        let parts: Value = serde_json::from_str(PARTS).unwrap();
        let mut shared = Map::new();
        let mut headers = Map::new();
        let e = add_header(&parts, &mut shared, &mut headers, "Etag", true).unwrap_err();
        assert!(e.contains("Etag"), "{e}");
        add_header(&parts, &mut shared, &mut headers, "RetryAfter", false).unwrap();
        assert_eq!(
            headers["Retry-After"]["$ref"],
            "#/components/headers/RetryAfter.optional"
        );
        assert!(shared["RetryAfter.optional"].get("required").is_none());
    }

    #[test]
    fn spin_routes_become_openapi_paths() {
        assert_eq!(
            openapi_path("/v1/organizations/:organizationId/mdm/users/:mdmUserId"),
            "/v1/organizations/{organizationId}/mdm/users/{mdmUserId}"
        );
        assert_eq!(
            openapi_path("/v1/organizations/:organizationId/scim/v2/..."),
            "/v1/organizations/{organizationId}/scim/v2/{path}"
        );
        assert_eq!(operation_id("scim-user", "PATCH"), "patchScimUser");
    }

    #[test]
    fn deflate_is_sent_only_where_accepted() {
        assert!(accepts_deflate("gzip, deflate"));
        assert!(accepts_deflate("br;q=1.0, DEFLATE;q=0.5"));
        assert!(accepts_deflate("*"));
        assert!(!accepts_deflate("gzip"));
        assert!(!accepts_deflate("deflate;q=0"));
        assert!(!accepts_deflate("deflate;q=0.000, gzip"));
        assert!(accepts_deflate("deflate;q=0.001"));
        // A weight that is no qvalue does not accept (RFC 9110 §12.4.2).
        for odd in [
            "deflate;q=abc",
            "deflate;q=2",
            "deflate;q=0.5x",
            "deflate;q=1.5",
            "deflate;q=",
            "deflate;q",
            "*;q",
            "deflate;q=0.0001",
        ] {
            assert!(!accepts_deflate(odd), "{odd}");
        }
        assert!(accepts_deflate("deflate;q=1.000"));
        assert!(accepts_deflate("deflate;Q=0.5"));
        // `*` is every coding not listed: an explicit refusal of deflate stands.
        assert!(!accepts_deflate("deflate;q=0, *"));
        assert!(!accepts_deflate("*, deflate;q=0"));
        assert!(accepts_deflate("gzip;q=0, *"));
        assert!(!accepts_deflate("*;q=0"));
        assert!(!accepts_deflate("deflate;Q=0, *"));
        assert!(!accepts_deflate("*;Q=0"));
        assert!(accepts_deflate("deflate;q=1"));
        assert!(!accepts_deflate("identity"));
    }

    #[test]
    fn the_route_serves_the_description_without_a_token() {
        let store = roster_domain::MemoryStore::default();
        let ctx = Ctx::new(Some("admin".into()), roster_domain::Timestamp(0));
        let get = |encoding: Option<&str>| {
            let mut req = ApiRequest::new(http::Method::GET);
            if let Some(e) = encoding {
                req.headers
                    .insert("accept-encoding", http::HeaderValue::from_str(e).unwrap());
            }
            futures::executor::block_on(DocumentRoute::handle(&req, &store, &ctx))
        };
        let plain = get(None);
        assert_eq!(plain.status(), http::StatusCode::OK);
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(
            plain.body().as_slice(),
            include_bytes!("../../../../docs/openapi.json")
        );
        let packed = get(Some("gzip, deflate"));
        assert_eq!(packed.headers()["content-encoding"], "deflate");
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec_zlib(packed.body()).unwrap(),
            plain.body().clone()
        );
        assert!(packed.body().len() * 5 < plain.body().len());
    }
}
