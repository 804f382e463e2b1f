//! The request and response types every surface works with.

use http::{HeaderMap, Method};
use roster_domain::Timestamp;
use roster_domain::records::ObjectOnly;

/// The request body as the adapter read it.
#[derive(Debug, Clone)]
pub enum Body {
    /// The whole body (at most [`crate::MAX_BODY_BYTES`]).
    Bytes(Vec<u8>),
    /// The body exceeded [`crate::MAX_BODY_BYTES`]; it was not read further.
    TooLarge,
    /// The body did not arrive whole (the client's connection ended or broke before
    /// the end the request declared): a route that reads a body answers 400, never
    /// acting on the part that came.
    Incomplete,
}

/// Every request header a route reads, lowercase. An adapter that reads headers on
/// demand ([`ApiRequest::on_demand`]) is asked only for these, and only when a route
/// reads one. [`ApiRequest::header`], [`ApiRequest::header_all`] and
/// [`ApiRequest::has_header`] check in debug builds that the header they are asked for is
/// listed here, so a route that starts reading another header fails its tests until it
/// is added.
pub const READ_HEADERS: &[&str] = &[
    "accept-encoding",
    "authorization",
    "content-type",
    "host",
    "if-match",
    "if-none-match",
    "prefer",
    "spin-full-url",
    "spin-path-info",
    "x-forwarded-proto",
    crate::auth::ORGANIZATION_HEADER,
];

/// [`READ_HEADERS`] as header names, built at compile time: looking a header up by a
/// `&str` would parse the name at run time through `http`'s table of standard names
/// (~12 KB of code in every component).
const READ_HEADER_NAMES: [http::HeaderName; READ_HEADERS.len()] = [
    http::HeaderName::from_static("accept-encoding"),
    http::HeaderName::from_static("authorization"),
    http::HeaderName::from_static("content-type"),
    http::HeaderName::from_static("host"),
    http::HeaderName::from_static("if-match"),
    http::HeaderName::from_static("if-none-match"),
    http::HeaderName::from_static("prefer"),
    http::HeaderName::from_static("spin-full-url"),
    http::HeaderName::from_static("spin-path-info"),
    http::HeaderName::from_static("x-forwarded-proto"),
    http::HeaderName::from_static(crate::auth::ORGANIZATION_HEADER),
];

/// The prefix of Spin's path-parameter headers: `spin-path-match-<name>`.
pub const PARAM_HEADER_PREFIX: &str = "spin-path-match-";

/// Where an adapter's request headers come from when read on demand: every value of the
/// header named (lowercase), in the order sent; none when it is absent.
pub type HeaderSource = std::rc::Rc<dyn Fn(&str) -> Vec<Vec<u8>>>;

/// Headers read from a [`HeaderSource`] on first use, each of [`READ_HEADERS`] at most
/// once.
#[derive(Clone)]
struct OnDemand {
    source: HeaderSource,
    /// The values of each of [`READ_HEADERS`] (by index) once read; a value that is not a
    /// valid header value is left out.
    read: [std::cell::OnceCell<Vec<http::HeaderValue>>; READ_HEADERS.len()],
}

impl std::fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemand")
            .field("read", &self.read)
            .finish()
    }
}

/// An HTTP request, reduced to what the surfaces need.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The method, as sent (routes answer 405 for one they do not declare).
    pub method: Method,
    /// Path parameters by route name, raw (an adapter reading on demand gives them as
    /// Spin's `spin-path-match-<name>` headers instead).
    pub params: Vec<(String, String)>,
    /// The raw query string, without `?`.
    pub query: String,
    /// The request headers given up front (an adapter reading on demand leaves this
    /// empty).
    pub headers: HeaderMap,
    /// The body, read up to [`crate::MAX_BODY_BYTES`].
    pub body: Body,
    /// Headers and path parameters read from the adapter when first needed.
    on_demand: Option<OnDemand>,
}

impl ApiRequest {
    /// A request with no parameters, query, headers or body.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            params: Vec::new(),
            query: String::new(),
            headers: HeaderMap::new(),
            body: Body::Bytes(Vec::new()),
            on_demand: None,
        }
    }

    /// This request reading its headers (after those in [`ApiRequest::headers`]) and
    /// path parameters (after those in [`ApiRequest::params`], as Spin's
    /// `spin-path-match-<name>` headers) from `source` when a route first asks for them:
    /// a request refused before it reads a header crosses to the host for none.
    pub fn on_demand(mut self, source: HeaderSource) -> Self {
        self.on_demand = Some(OnDemand {
            source,
            read: std::array::from_fn(|_| std::cell::OnceCell::new()),
        });
        self
    }

    /// The path parameter `name` (matched case-insensitively, as HTTP header names
    /// are), percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        };
        if let Some((_, v)) = self
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            return Some(decode(v));
        }
        let on_demand = self.on_demand.as_ref()?;
        let header = format!("{PARAM_HEADER_PREFIX}{}", name.to_ascii_lowercase());
        (on_demand.source)(&header)
            .into_iter()
            .find_map(|v| String::from_utf8(v).ok())
            .map(|v| decode(&v))
    }

    /// The first value of query parameter `name`, percent-decoded (`+` as space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k) == name).then(|| decode_component(v))
        })
    }

    /// The header `name` (one of [`READ_HEADERS`]) as text: its first value, if present
    /// and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next().and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name` (one of [`READ_HEADERS`]), in the order sent.
    pub fn header_all(&self, name: &str) -> impl Iterator<Item = &http::HeaderValue> {
        let index = READ_HEADERS
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name));
        debug_assert!(
            index.is_some(),
            "header {name} is read but not in READ_HEADERS"
        );
        // An unlisted name (a bug the assertion above catches in tests) reads as absent.
        let given = index
            .map(|i| self.headers.get_all(&READ_HEADER_NAMES[i]).iter())
            .into_iter()
            .flatten();
        let read = match (&self.on_demand, index) {
            (Some(d), Some(i)) => d.read[i]
                .get_or_init(|| {
                    (d.source)(READ_HEADERS[i])
                        .into_iter()
                        .filter_map(|v| http::HeaderValue::from_bytes(&v).ok())
                        .collect()
                })
                .as_slice(),
            _ => &[],
        };
        given.chain(read)
    }

    /// A list-based header `name` (one of [`READ_HEADERS`]: `If-Match`, `Accept-Encoding`
    /// and the like) as one value: its field lines joined with `", "` in the order sent,
    /// which RFC 9110 §5.3 makes the same as one line carrying them all. `None` when
    /// absent; `Some(Err(NotText))` when a line is not text (bytes that are not UTF-8),
    /// which a route must not read as "absent".
    pub fn header_list(&self, name: &str) -> Option<Result<String, NotText>> {
        let mut lines = self.header_all(name).peekable();
        lines.peek()?;
        let mut joined = String::new();
        for line in lines {
            let Ok(text) = line.to_str() else {
                return Some(Err(NotText));
            };
            if !joined.is_empty() {
                joined.push_str(", ");
            }
            joined.push_str(text);
        }
        Some(Ok(joined))
    }

    /// Whether header `name` (one of [`READ_HEADERS`]) is present with a valid header
    /// value, whatever it is.
    pub fn has_header(&self, name: &str) -> bool {
        self.header_all(name).next().is_some()
    }
}

/// The elements of a comma-separated header list (RFC 9110 §5.6.1), each trimmed of
/// optional whitespace; empty elements (`a, , b`, a leading or trailing comma) are
/// ignored, as the RFC asks of a recipient. Quoted commas are not special: no list this
/// API reads carries one.
pub fn list_elements(list: &str) -> impl Iterator<Item = &str> + Clone {
    list.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// A header line whose value is not text (bytes that are not UTF-8): see
/// [`ApiRequest::header_list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotText;

fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A response: status, headers, body bytes.
pub type ApiResponse = http::Response<Vec<u8>>;

/// What the platform provides to a request besides the store.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `admin_token` application variable, when set: read from `admin_source` on
    /// first use ([`Ctx::admin_token`]), so a request refused before it (no token) never
    /// asks the host.
    admin_token: std::cell::OnceCell<Option<String>>,
    /// Where [`Ctx::admin_token`] comes from when not given ([`Ctx::lazy`]).
    admin_source: Option<fn() -> Option<String>>,
    /// The time the request is handled at.
    pub now: Timestamp,
    /// The rate-limit verdict of this request, once counted (for the `X-RateLimit-*`
    /// headers [`Ctx::finish`] adds).
    pub rate: std::cell::Cell<Option<roster_domain::ratelimit::Verdict>>,
    /// How pushed events leave ([`Ctx::with_sender`]); none: the delivery route's
    /// attempts fail and are retried later.
    sender: Option<std::rc::Rc<dyn roster_domain::events::EventSender>>,
}

impl Ctx {
    /// A context for one request at `now`, with the `admin_token` variable's value.
    pub fn new(admin_token: Option<String>, now: Timestamp) -> Self {
        Self {
            admin_token: std::cell::OnceCell::from(admin_token),
            admin_source: None,
            now,
            rate: std::cell::Cell::new(None),
            sender: None,
        }
    }

    /// A context for one request at `now` that reads the `admin_token` variable from
    /// `source` when it first needs it (at most once).
    pub fn lazy(source: fn() -> Option<String>, now: Timestamp) -> Self {
        Self {
            admin_token: std::cell::OnceCell::new(),
            admin_source: Some(source),
            now,
            rate: std::cell::Cell::new(None),
            sender: None,
        }
    }

    /// This context with `sender` for the pushed events' delivery route.
    pub fn with_sender(
        mut self,
        sender: std::rc::Rc<dyn roster_domain::events::EventSender>,
    ) -> Self {
        self.sender = Some(sender);
        self
    }

    /// The sender of pushed events, if the adapter gave one.
    pub fn sender(&self) -> Option<&dyn roster_domain::events::EventSender> {
        self.sender.as_deref()
    }

    /// The `admin_token` application variable, when set.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token
            .get_or_init(|| self.admin_source.and_then(|f| f()))
            .as_deref()
    }

    /// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
    /// (seconds until the window resets) when the request was counted, and
    /// `Retry-After` to a 429. Every adapter calls this on every response.
    pub fn finish(&self, mut resp: ApiResponse) -> ApiResponse {
        if let Some(v) = self.rate.get() {
            let h = resp.headers_mut();
            // Names built at compile time (a `&str` name is parsed at run time).
            const LIMIT: http::HeaderName = http::HeaderName::from_static("x-ratelimit-limit");
            const REMAINING: http::HeaderName =
                http::HeaderName::from_static("x-ratelimit-remaining");
            const RESET: http::HeaderName = http::HeaderName::from_static("x-ratelimit-reset");
            for (name, value) in [
                (LIMIT, v.limit),
                (REMAINING, v.remaining),
                (RESET, v.reset_secs),
            ] {
                h.insert(name, http::HeaderValue::from(value));
            }
            if resp.status() == http::StatusCode::TOO_MANY_REQUESTS {
                resp.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(v.reset_secs),
                );
            }
        }
        resp
    }
}

/// Deepest JSON nesting any route accepts.
pub const MAX_JSON_DEPTH: usize = 32;

/// Why a JSON body was refused; every surface maps it to its own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// The body is larger than [`crate::MAX_BODY_BYTES`] (413).
    TooLarge,
    /// The body nests deeper than [`MAX_JSON_DEPTH`] (400).
    TooDeep,
    /// The body is not valid JSON for the route (400); `field` names the offending
    /// field (`.` for the whole body), `reason` says why.
    Invalid {
        /// The JSON path of the field at fault, e.g. `emails[0].value`, or `.`.
        field: String,
        /// What is wrong, in the parser's words.
        reason: String,
    },
}

impl JsonError {
    /// A message naming the field: `invalid <field>: <reason>`.
    pub fn message(&self) -> String {
        match self {
            JsonError::TooLarge => format!("request body exceeds {} bytes", crate::MAX_BODY_BYTES),
            JsonError::TooDeep => {
                format!("invalid JSON body: nested deeper than {MAX_JSON_DEPTH} levels")
            }
            JsonError::Invalid { field, reason } if field == "." => {
                format!("invalid JSON body: {reason}")
            }
            JsonError::Invalid { field, reason } => format!("invalid {field}: {reason}"),
        }
    }
}

/// Whether `bytes` nest arrays and objects at most `max` deep (strings are skipped, so
/// brackets inside them do not count). Linear, no allocation: checked before parsing so
/// no body can exhaust the stack.
pub fn depth_ok(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Parses a JSON body into `T` after the size and depth checks; the error names the
/// field at fault. A body for a struct must be a JSON object: serde's derived decoders
/// also take an array of the fields in order (`["kim", "kim@example.com"]` for a user),
/// which no surface documents, so that is refused as an invalid body
/// ([`roster_domain::records::ObjectOnly`]); a body that is a list (`T` a `Vec`) is read
/// as before.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &Body) -> Result<T, JsonError> {
    let bytes = match body {
        Body::TooLarge => return Err(JsonError::TooLarge),
        Body::Incomplete => {
            return Err(JsonError::Invalid {
                field: ".".into(),
                reason: "the request body did not arrive whole".into(),
            });
        }
        Body::Bytes(b) => b,
    };
    if !depth_ok(bytes, MAX_JSON_DEPTH) {
        return Err(JsonError::TooDeep);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(ObjectOnly(&mut *de)).map_err(|e| {
        let field = e.path().to_string();
        // `?` is serde_path_to_error's name for a position it could not name (a body
        // that ends before its first key): the whole body.
        let whole = field.is_empty() || field == "?" || field == ".";
        let reason = e.into_inner().to_string();
        JsonError::Invalid {
            // The whole body of the wrong type: said in the API's words, not serde's
            // (which name Rust types).
            reason: if whole
                && reason.starts_with("invalid type: ")
                && reason.contains(", expected struct ")
            {
                "must be a JSON object".into()
            } else {
                reason
            },
            field: if whole { ".".into() } else { field },
        }
    })?;
    // Nothing but whitespace may follow the value (`{"a":1} junk` is not a body).
    de.end().map_err(|e| JsonError::Invalid {
        field: ".".into(),
        reason: e.to_string(),
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_elements_skip_empty_elements_and_trim() {
        let got: Vec<&str> = list_elements(" , \"1\" ,,\t\"2\",  ").collect();
        assert_eq!(got, ["\"1\"", "\"2\""]);
        assert_eq!(list_elements(" , ,").count(), 0);
        assert_eq!(list_elements("https").collect::<Vec<_>>(), ["https"]);
    }

    #[test]
    fn read_headers_are_valid_lowercase_names() {
        for (name, built) in READ_HEADERS.iter().zip(&READ_HEADER_NAMES) {
            // `from_static` panics on an invalid or uppercase name: the Spin adapter
            // builds its header names with it.
            assert_eq!(http::HeaderName::from_static(name).as_str(), *name);
            assert_eq!(
                built.as_str(),
                *name,
                "READ_HEADER_NAMES follows READ_HEADERS"
            );
        }
        let mut req = ApiRequest::new(Method::GET);
        req.headers.append("prefer", "a".parse().unwrap());
        req.headers.append("prefer", "b".parse().unwrap());
        assert_eq!(req.header_all("Prefer").count(), 2);
        assert!(req.has_header("prefer") && !req.has_header("if-match"));
    }

    #[test]
    fn a_list_header_sent_on_several_lines_is_one_list() {
        let mut req = ApiRequest::new(Method::GET);
        assert_eq!(req.header_list("if-match"), None);
        req.headers.append("if-match", "\"2\"".parse().unwrap());
        assert_eq!(req.header_list("if-match"), Some(Ok("\"2\"".into())));
        req.headers.append("if-match", "\"3\"".parse().unwrap());
        // RFC 9110 §5.3: the same as one line `"2", "3"`.
        assert_eq!(req.header_list("If-Match"), Some(Ok("\"2\", \"3\"".into())));
        req.headers.append(
            "if-match",
            http::HeaderValue::from_bytes(b"\"4\xff\"").unwrap(),
        );
        assert_eq!(req.header_list("if-match"), Some(Err(NotText)));
    }

    #[test]
    fn headers_and_params_on_demand_are_read_once_each_and_only_when_asked() {
        let asked = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
        let log = asked.clone();
        let req = ApiRequest::new(Method::GET).on_demand(std::rc::Rc::new(move |name: &str| {
            log.borrow_mut().push(name.to_owned());
            match name {
                "prefer" => vec![
                    b"respond-async".to_vec(),
                    b"bad\x01".to_vec(),
                    b"x".to_vec(),
                ],
                "authorization" => vec![vec![0xff], b"Bearer t".to_vec()],
                "spin-path-match-userid" => vec![vec![0xff], b"a%20b".to_vec()],
                _ => Vec::new(),
            }
        }));
        assert!(
            asked.borrow().is_empty(),
            "nothing read before a route asks"
        );
        // Invalid header values are left out; the first value is the header.
        assert_eq!(req.header_all("prefer").count(), 2);
        assert_eq!(req.header("Prefer"), Some("respond-async"));
        // A value that is not UTF-8 text is no text, as with a given header.
        assert_eq!(req.header("authorization"), None);
        assert!(req.has_header("authorization"));
        assert!(!req.has_header("if-match"));
        // A path parameter: its first UTF-8 value, percent-decoded.
        assert_eq!(req.param("userId").as_deref(), Some("a b"));
        assert_eq!(req.param("groupId"), None);
        assert_eq!(
            *asked.borrow(),
            [
                "prefer",
                "authorization",
                "if-match",
                "spin-path-match-userid",
                "spin-path-match-groupid"
            ]
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not in READ_HEADERS")]
    fn reading_an_unlisted_header_fails_in_debug_builds() {
        let _ = ApiRequest::new(Method::GET).header("x-unlisted");
    }

    #[test]
    fn a_body_for_a_struct_must_be_an_object_and_a_list_body_stays_a_list() {
        #[derive(Debug, serde::Deserialize)]
        struct NewThing {
            username: String,
            email: Option<String>,
        }
        let body = |b: &[u8]| Body::Bytes(b.to_vec());
        // serde's derived decoder would take the fields in order from an array.
        let refused = parse_json::<NewThing>(&body(br#"["kim","kim@example.com"]"#));
        let Err(JsonError::Invalid { field, reason }) = refused else {
            panic!("an array body for a struct was accepted: {refused:?}");
        };
        assert_eq!(field, ".");
        assert_eq!(reason, "must be a JSON object");
        for other in [&b"7"[..], b"\"kim\"", b"null", b"true"] {
            let Err(JsonError::Invalid { field, reason }) = parse_json::<NewThing>(&body(other))
            else {
                panic!("{other:?} was accepted");
            };
            assert_eq!(
                (field.as_str(), reason.as_str()),
                (".", "must be a JSON object")
            );
        }
        let ok = parse_json::<NewThing>(&body(br#"{"username":"kim","email":null}"#)).unwrap();
        assert_eq!((ok.username.as_str(), ok.email), ("kim", None));
        // Errors still name the field inside an object.
        let Err(JsonError::Invalid { field, .. }) =
            parse_json::<NewThing>(&body(br#"{"username":7}"#))
        else {
            panic!("a number username was accepted");
        };
        assert_eq!(field, "username");
        // A list body (WSO2's lists of usernames) is read as a list.
        let list = parse_json::<Vec<String>>(&body(br#"["kim","lee"]"#)).unwrap();
        assert_eq!(list, ["kim", "lee"]);
    }

    #[test]
    fn a_body_that_did_not_arrive_whole_is_refused_naming_the_whole_body() {
        match parse_json::<serde_json::Value>(&Body::Incomplete) {
            Err(JsonError::Invalid { field, reason }) => {
                assert_eq!(field, ".");
                assert!(reason.contains("did not arrive whole"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn depth_is_counted_outside_strings_only() {
        assert!(depth_ok(br#"{"a":[1,{"b":"[[[[["}]}"#, 3));
        assert!(!depth_ok(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(depth_ok(br#"{"a":"\"[[[["}"#, 1));
        let deep = "[".repeat(10_000);
        assert_eq!(
            parse_json::<serde_json::Value>(&Body::Bytes(deep.into_bytes())),
            Err(JsonError::TooDeep)
        );
        let e = parse_json::<std::collections::BTreeMap<String, u8>>(&Body::Bytes(
            br#"{"n": 300}"#.to_vec(),
        ))
        .unwrap_err();
        assert!(e.message().starts_with("invalid n:"), "{}", e.message());
        let cut = parse_json::<std::collections::BTreeMap<String, u8>>(&Body::Bytes(b"{".to_vec()))
            .unwrap_err();
        assert!(
            cut.message().starts_with("invalid JSON body: EOF"),
            "{}",
            cut.message()
        );
        let trailing =
            parse_json::<serde_json::Value>(&Body::Bytes(br#"{"n": 1} x"#.to_vec())).unwrap_err();
        assert!(
            trailing
                .message()
                .starts_with("invalid JSON body: trailing characters"),
            "{}",
            trailing.message()
        );
        assert!(parse_json::<serde_json::Value>(&Body::Bytes(b"{\"n\": 1} \n".to_vec())).is_ok());
    }
}
