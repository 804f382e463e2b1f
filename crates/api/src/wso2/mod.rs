//! The WSO2 EMM surface (seed 003): `/mdm-admin/users…`, wire-compatible with WSO2
//! EMM's user management API, acting on the organization of the caller's token.
//!
//! Answers use the seed's envelope `{"statusCode":…,"messageFromServer":…,
//! "responseContent":…}` (`responseContent` only when there is content), except the
//! two the seed answers bare: the user count (an integer) and a user's devices (an
//! array). Every failure — refusals of the prologue, invalid input, domain and removal
//! errors — is an [`Error`], answered in
//! [`Error::into_response`](crate::SurfaceError::into_response) and nowhere else;
//! `docs/wso2.md` lists them all.
//!
//! User-store domains: WSO2 qualifies names with a user-store domain (`PRIMARY/kim`).
//! Roster has one user store per organization, the primary one: `PRIMARY/` (any case)
//! is stripped from usernames and role names, any other domain is refused (400 naming
//! the field).

pub mod dto;
pub mod endpoints;

pub use endpoints::{
    UsersByUsernameRoute, UsersChangePasswordRoute, UsersCountRoute, UsersDevicesRoute,
    UsersEmailInvitationRoute, UsersResetPasswordRoute, UsersRolesRoute, UsersRoute,
    UsersViewRoute, UsersViewUsersRoute,
};

use crate::auth::{self, Caller};
use crate::request::{ApiRequest, ApiResponse, Body, Ctx, JsonError, MAX_JSON_DEPTH, parse_json};
use crate::{Endpoint, Refusal, SurfaceError};
use auth::AuthFailure;
use http::{HeaderValue, StatusCode, header};
use roster_domain::ids::{self, Username};
use roster_domain::model::Organization;
use roster_domain::removal::{Blocker, RemovalError};
use roster_domain::{DomainError, Entity, Store, ValidationError};
use roster_lowercase::Lowercase as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The only user-store domain Roster serves (WSO2's default store).
pub const PRIMARY_DOMAIN: &str = "PRIMARY";

/// Most usernames one email invitation accepts.
pub const MAX_INVITATIONS: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: Serialize> {
    status_code: u16,
    message_from_server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_content: Option<&'a T>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> ApiResponse {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn envelope<T: Serialize>(status: StatusCode, message: &str, content: Option<&T>) -> ApiResponse {
    let body = Envelope {
        status_code: status.as_u16(),
        message_from_server: message,
        response_content: content,
    };
    // Serializing these plain structs cannot fail; an empty body would be the fallback.
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// `{"statusCode":status,"messageFromServer":message}` with `status`.
pub fn message(status: StatusCode, message: &str) -> ApiResponse {
    envelope::<()>(status, message, None)
}

/// `{"statusCode":status,"messageFromServer":message,"responseContent":content}`.
pub fn content<T: Serialize>(status: StatusCode, message: &str, content: &T) -> ApiResponse {
    envelope(status, message, Some(content))
}

/// A bare JSON body without the envelope (the seed's count and devices answers).
pub fn bare<T: Serialize>(status: StatusCode, body: &T) -> ApiResponse {
    json_response(status, serde_json::to_vec(body).unwrap_or_default())
}

/// Every way a request on this surface fails. [`SurfaceError::into_response`] is the
/// one mapping to the seed's envelope, and logs the cause of every 500.
#[derive(Debug)]
pub enum Error {
    /// The prologue refused the request (405, 401, 429, 403, or no organization: 400).
    Refused(Refusal),
    /// The body is too large (413), too deep or not JSON of the route's shape (400).
    Body(JsonError),
    /// A field, query parameter or header failed validation (400).
    Invalid(ValidationError),
    /// No user by this username in the organization (404); the name as given.
    NoSuchUser(String),
    /// The user named (as given) has no email address: an invitation to it is not
    /// deliverable (400).
    NotDeliverable(String),
    /// The old password does not match, or the user has none (400, one answer).
    PasswordRefused,
    /// A domain error while acting on the user named as given (empty when the request
    /// names no user: a listing, a count, a role lookup).
    Domain(DomainError, String),
    /// A removal error while removing the user named as given.
    Removal(RemovalError, String),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

impl From<AuthFailure> for Error {
    fn from(a: AuthFailure) -> Self {
        Error::Refused(Refusal::Auth(a))
    }
}

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        Error::Body(e)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Invalid(e)
    }
}

/// A domain error on no user in particular.
impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Error::Domain(e, String::new())
    }
}

/// The field names WSO2 clients use for the shared model's fields.
fn wso2_field(field: &str) -> String {
    match field {
        "email" => "emailAddress".to_owned(),
        "firstName" => "firstname".to_owned(),
        "lastName" => "lastname".to_owned(),
        other => match other.strip_prefix("groups") {
            Some(rest) => format!("roles{rest}"),
            None => other.to_owned(),
        },
    }
}

/// What a dry run and a refused removal say about a blocker.
pub fn blocker_message(b: Blocker) -> String {
    match b {
        Blocker::ActiveDevices { count } => format!("the user has {count} active devices"),
        Blocker::PendingEnrollmentTokens { count } => {
            format!("the user has {count} pending enrollment tokens")
        }
        Blocker::Enabled => "the user must be disabled first".to_owned(),
        Blocker::ExternallyManaged => {
            "the user is managed by an external identity source".to_owned()
        }
        Blocker::PreconditionFailed => "the user was modified concurrently".to_owned(),
        Blocker::HasSubscriptions { count } => format!("the user has {count} subscriptions"),
        Blocker::PendingDeletion => "the user is being removed".to_owned(),
        Blocker::LegalHold { .. } => {
            format!("the user is {}", b.hold_description().unwrap_or_default())
        }
        Blocker::ExportRequired { .. } => format!(
            "the organization requires an export first: there is {}",
            b.export_description().unwrap_or_default()
        ),
    }
}

impl SurfaceError for Error {
    fn into_response(self) -> ApiResponse {
        match self {
            Error::Refused(Refusal::MethodNotAllowed(allow)) => {
                let mut resp = message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                resp
            }
            Error::Refused(Refusal::Auth(a)) => auth_failure(a),
            Error::Body(e) => body_error(e),
            Error::Invalid(e) => invalid(&e),
            Error::NoSuchUser(name) => no_such_user(&name),
            Error::NotDeliverable(name) => message(
                StatusCode::BAD_REQUEST,
                &format!(
                    "User by username: {name} has no emailAddress: the invitation is not \
                     deliverable."
                ),
            ),
            Error::PasswordRefused => {
                message(StatusCode::BAD_REQUEST, "Old password does not match.")
            }
            Error::Domain(e, name) => domain_error(e, &name),
            Error::Removal(e, name) => match e {
                RemovalError::NotFound => no_such_user(&name),
                RemovalError::Refused(b) => message(
                    StatusCode::CONFLICT,
                    &format!(
                        "User by username: {name} cannot be removed: {}.",
                        blocker_message(b)
                    ),
                ),
                RemovalError::Domain(d) => domain_error(d, &name),
            },
        }
    }
}

fn internal() -> ApiResponse {
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error. The request can be retried.",
    )
}

fn invalid(e: &ValidationError) -> ApiResponse {
    message(
        StatusCode::BAD_REQUEST,
        &format!("Invalid {}: {}", wso2_field(&e.field), e.reason),
    )
}

fn no_such_user(name: &str) -> ApiResponse {
    message(
        StatusCode::NOT_FOUND,
        &format!("User by username: {name} does not exist."),
    )
}

fn auth_failure(a: AuthFailure) -> ApiResponse {
    match a {
        AuthFailure::NoToken => auth::challenged(
            message(StatusCode::UNAUTHORIZED, "No auth token"),
            auth::REALM,
            false,
        ),
        AuthFailure::Unauthorized => auth::challenged(
            message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            auth::REALM,
            true,
        ),
        AuthFailure::Forbidden { permission } => message(
            StatusCode::FORBIDDEN,
            &format!("Forbidden: requires {permission}"),
        ),
        AuthFailure::RateLimited(_) => message(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        AuthFailure::NoOrganization => invalid(&ValidationError::new(
            "X-Roster-Organization",
            "a global token must name an organization it may act on (id or slug)",
        )),
        AuthFailure::Store(e) => {
            crate::log_internal("wso2", &e);
            internal()
        }
    }
}

fn body_error(e: JsonError) -> ApiResponse {
    match e {
        JsonError::TooLarge => message(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request body exceeds {} bytes", crate::MAX_BODY_BYTES),
        ),
        JsonError::TooDeep => message(
            StatusCode::BAD_REQUEST,
            &format!("Invalid JSON body: nested deeper than {MAX_JSON_DEPTH} levels"),
        ),
        JsonError::Invalid { field, reason } => {
            // An element of a top-level array is `body[i]`.
            let text = match field.as_str() {
                "" | "." => format!("Invalid JSON body: {reason}"),
                f if f.starts_with('[') => format!("Invalid body{f}: {reason}"),
                f => format!("Invalid {}: {reason}", wso2_field(f)),
            };
            message(StatusCode::BAD_REQUEST, &text)
        }
    }
}

/// A domain error while acting on the user named `name` (as given).
fn domain_error(e: DomainError, name: &str) -> ApiResponse {
    match e {
        DomainError::Invalid(v) => invalid(&v),
        DomainError::NotFound {
            entity: Entity::User,
        } => no_such_user(name),
        DomainError::NotFound { entity } => message(
            StatusCode::NOT_FOUND,
            &format!("The {} does not exist.", wso2_entity(entity)),
        ),
        DomainError::Conflict { field: "username" } => message(
            StatusCode::CONFLICT,
            &format!(
                "User by username: {name} already exists. Therefore, request made to add user was refused."
            ),
        ),
        DomainError::Conflict { field } => message(
            StatusCode::CONFLICT,
            &format!("{} is already in use by another user.", wso2_field(field)),
        ),
        DomainError::PreconditionFailed { .. } => message(
            StatusCode::CONFLICT,
            &format!("User by username: {name} was modified concurrently. Retry the request."),
        ),
        e @ DomainError::Store(_) => {
            crate::log_internal("wso2", &e);
            internal()
        }
        // Not one a retry cures: the operator repairs the record the log names.
        e @ DomainError::Corrupt { .. } => {
            crate::log_internal("wso2", &e);
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error. A stored record could not be read; the server log names it.",
            )
        }
    }
}

fn wso2_entity(e: Entity) -> &'static str {
    match e {
        Entity::Group => "role",
        Entity::Organization => "organization",
        Entity::User => "user",
        Entity::Device => "device",
        Entity::EnrollmentToken => "enrollment token",
        Entity::ApiToken => "token",
        Entity::Subscription => "subscription",
        Entity::Operation => "operation",
        Entity::EventSubscription => "event subscription",
        Entity::EventDelivery => "event delivery",
    }
}

/// The prologue of every WSO2 route, after the method: the caller (401, 429, 403),
/// then the organization it acts on ([`auth::home_org`]: an organization token's own;
/// a global token names it in `X-Roster-Organization`, else 400).
pub async fn enter<E: Endpoint, S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<(Organization, Caller), Error> {
    let mut caller = crate::admit::<E, S>(req, store, ctx).await?;
    let org = auth::home_org(&mut caller, store, req).await?;
    Ok((org, caller))
}

/// Strips the `PRIMARY/` user-store domain (any case) from `raw`; another domain is
/// refused, naming `field`.
pub fn strip_domain<'a>(field: &str, raw: &'a str) -> Result<&'a str, ValidationError> {
    match raw.split_once('/') {
        None => Ok(raw),
        Some((domain, name)) if domain.eq_ignore_ascii_case(PRIMARY_DOMAIN) => Ok(name),
        Some((domain, _)) => Err(ValidationError::new(
            field,
            format!(
                "names the user store {domain}; Roster serves only the {PRIMARY_DOMAIN} user store"
            ),
        )),
    }
}

/// Parses a WSO2 username (optionally `PRIMARY/`-qualified) as the field `field`.
pub fn username(field: &str, raw: &str) -> Result<Username, ValidationError> {
    Username::parse(field, strip_domain(field, raw)?)
}

/// The required `username` query parameter: as given (for messages) and parsed.
pub fn username_query(req: &ApiRequest) -> Result<(String, Username), Error> {
    let raw = req
        .query_param("username")
        .ok_or_else(|| ValidationError::new("username", "the query parameter is required"))?;
    let parsed = username("username", &raw)?;
    Ok((raw, parsed))
}

/// The text a search route (`view-users`, `users-by-username`) looks for in usernames:
/// the required `username` query parameter without its `PRIMARY/` domain, lowercased.
/// Empty matches every user.
pub fn search_query(req: &ApiRequest) -> Result<String, Error> {
    let raw = req
        .query_param("username")
        .ok_or_else(|| ValidationError::new("username", "the query parameter is required"))?;
    let text = ids::text(
        "username",
        strip_domain("username", &raw)?,
        ids::MAX_IDENT_LEN,
    )?;
    Ok(text.lowercase())
}

/// Parses an optional non-negative integer query parameter.
pub fn index_query(req: &ApiRequest, name: &str) -> Result<Option<usize>, Error> {
    req.query_param(name)
        .map(|raw| {
            raw.parse::<u32>()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| ValidationError::new(name, "must be a non-negative integer").into())
        })
        .transpose()
}

/// Parses the optional `dryRun` query parameter with the seed surfaces' shared flag
/// parser (`true` or `false` in any case; absent: `false`).
pub fn dry_run(req: &ApiRequest) -> Result<bool, Error> {
    Ok(crate::params::flag(req, "dryRun")?.unwrap_or(false))
}

/// Decodes a WSO2 password: standard base64 (padding optional) of UTF-8 text. The
/// error names `field` and never echoes the value.
pub fn password(field: &str, encoded: &str) -> Result<String, ValidationError> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT_PADDING
        .decode(encoded.trim())
        .map_err(|_| ValidationError::new(field, "must be base64 (RFC 4648)"))?;
    String::from_utf8(bytes)
        .map_err(|_| ValidationError::new(field, "must be the base64 of UTF-8 text"))
}

/// Makes bare member names (`{ username: "kim" }`, as the seed's reset-password sample
/// writes them, and as WSO2's lenient Gson reader accepts) into JSON strings. Anything
/// that is already JSON comes back unchanged; nothing else is relaxed.
pub fn quote_bare_names(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let names = bare_names(input);
    if names.is_empty() {
        return std::borrow::Cow::Borrowed(input);
    }
    std::borrow::Cow::Owned(quote_ranges(input, &names))
}

/// The byte ranges of the bare member names in `input`: a name (letters, digits, `_`,
/// `$`; not starting with a digit) right after `{` or `,` (white space between) and
/// followed by `:`. Strings are skipped whole.
fn bare_names(input: &[u8]) -> Vec<(usize, usize)> {
    let mut names = Vec::new();
    let (mut i, mut name_may_follow) = (0, false);
    while let Some(&b) = input.get(i) {
        match b {
            b'"' => {
                i = string_end(input, i);
                name_may_follow = false;
                continue;
            }
            b'{' | b',' => name_may_follow = true,
            b if b.is_ascii_whitespace() => {}
            b if name_may_follow && is_name_start(b) => {
                let end = name_end(input, i);
                if next_non_space(input, end) == Some(b':') {
                    names.push((i, end));
                }
                i = end;
                name_may_follow = false;
                continue;
            }
            _ => name_may_follow = false,
        }
        i += 1;
    }
    names
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_name_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Where the name starting at `start` ends (exclusive).
fn name_end(input: &[u8], start: usize) -> usize {
    input[start..]
        .iter()
        .position(|&c| !is_name_part(c))
        .map_or(input.len(), |n| start + n)
}

/// Just past the string whose opening `"` is at `start` (escapes skipped); past the end
/// when it is not closed.
fn string_end(input: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = input.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The first byte at or after `from` that is not white space.
fn next_non_space(input: &[u8], from: usize) -> Option<u8> {
    input[from..]
        .iter()
        .copied()
        .find(|c| !c.is_ascii_whitespace())
}

/// `input` with each of the (ordered, disjoint) `ranges` put in double quotes.
fn quote_ranges(input: &[u8], ranges: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2 * ranges.len());
    let mut copied = 0;
    for &(start, end) in ranges {
        out.extend_from_slice(&input[copied..start]);
        out.push(b'"');
        out.extend_from_slice(&input[start..end]);
        out.push(b'"');
        copied = end;
    }
    out.extend_from_slice(&input[copied..]);
    out
}

/// Decodes a JSON body into `T` with the shared parser (64 KiB, 32 levels, the field
/// at fault named; request DTOs refuse unknown fields), after making bare member names
/// JSON strings (see [`quote_bare_names`]).
pub fn json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, Error> {
    let parsed = match &req.body {
        Body::Bytes(b) => match quote_bare_names(b) {
            std::borrow::Cow::Borrowed(_) => parse_json(&req.body),
            std::borrow::Cow::Owned(quoted) => parse_json(&Body::Bytes(quoted)),
        },
        Body::TooLarge | Body::Incomplete => parse_json(&req.body),
    };
    Ok(parsed?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(resp: &ApiResponse) -> String {
        String::from_utf8(resp.body().clone()).unwrap_or_default()
    }

    #[test]
    fn envelope_keeps_the_seeds_key_order_and_omits_absent_content() {
        let r = message(
            StatusCode::CREATED,
            "User by username: kim was successfully added.",
        );
        assert_eq!(
            text(&r),
            r#"{"statusCode":201,"messageFromServer":"User by username: kim was successfully added."}"#
        );
        let r = content(StatusCode::OK, "m", &vec![vec!["marketing"]]);
        assert_eq!(
            text(&r),
            r#"{"statusCode":200,"messageFromServer":"m","responseContent":[["marketing"]]}"#
        );
        assert_eq!(text(&bare(StatusCode::OK, &20)), "20");
        assert_eq!(
            r.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
    }

    #[test]
    fn user_store_domains() {
        assert_eq!(
            username("username", "PRIMARY/kim").map(|u| u.folded()).ok(),
            Some("kim".into())
        );
        assert_eq!(
            username("username", "primary/Kim").map(|u| u.folded()).ok(),
            Some("kim".into())
        );
        assert_eq!(
            username("username", "kim").map(|u| u.folded()).ok(),
            Some("kim".into())
        );
        let e = username("username", "SECONDARY/kim").unwrap_err();
        assert_eq!(e.field, "username");
        assert!(e.reason.contains("SECONDARY"), "{}", e.reason);
        assert!(username("username", "PRIMARY/").is_err());
        assert!(username("username", "PRIMARY/a/b").is_err());
    }

    #[test]
    fn passwords_are_base64_of_utf8() {
        assert_eq!(
            password("oldPassword", "a2ltJDEyMzQ=").ok().as_deref(),
            Some("kim$1234")
        );
        assert_eq!(
            password("newPassword", "a2ltJDEyYmFy").ok().as_deref(),
            Some("kim$12bar")
        );
        assert_eq!(
            password("newPassword", "aGVsbG8").ok().as_deref(),
            Some("hello")
        );
        assert_eq!(password("oldPassword", "").ok().as_deref(), Some(""));
        let e = password("newPassword", "not base64!").unwrap_err();
        assert_eq!(e.field, "newPassword");
        // 0xff 0xfe is valid base64 but not UTF-8.
        let e = password("oldPassword", "//4=").unwrap_err();
        assert_eq!(e.field, "oldPassword");
        assert!(e.reason.contains("UTF-8"));
    }

    #[test]
    fn bare_names_are_quoted_and_json_is_untouched() {
        let seed = br#"{ username: "kim", oldPassword: "", newPassword: "aGVsbG8=" }"#;
        let fixed = quote_bare_names(seed);
        let v: serde_json::Value = serde_json::from_slice(&fixed).unwrap_or_default();
        assert_eq!(v["username"], "kim");
        assert_eq!(v["newPassword"], "aGVsbG8=");
        for json in [
            r#"{"username":"PRIMARY/kim","roles":["Marketing"]}"#,
            r#"["jim", "tom", "kim"]"#,
            r#"{"a": "x: {b: 1}", "c": [true, false, null], "d": {"e": "\"f: g\\"}}"#,
            r#"  { "k" : 1 , "l":[ {"m":2} ] }  "#,
            "",
            "{",
        ] {
            assert!(
                matches!(
                    quote_bare_names(json.as_bytes()),
                    std::borrow::Cow::Borrowed(_)
                ),
                "{json}"
            );
        }
        // Strings keep their contents when a rewrite happens around them.
        let mixed = quote_bare_names(br#"{a: "b: {c: 1}", d_$1 : "\"e\""}"#);
        assert_eq!(
            std::str::from_utf8(&mixed).unwrap_or_default(),
            r#"{"a": "b: {c: 1}", "d_$1" : "\"e\""}"#
        );
        // Not followed by a colon: left alone (and refused by the parser).
        assert_eq!(&*quote_bare_names(b"[1, true]"), b"[1, true]");
        assert_eq!(&*quote_bare_names(b"{a}"), b"{a}");
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z:{},\\\\\" ]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z_$:{ ]{0,8}", inner, 0..6)
                    .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn quoting_never_changes_json(v in json_value(), pretty in proptest::bool::ANY) {
            let text = if pretty {
                serde_json::to_vec_pretty(&v).unwrap_or_default()
            } else {
                serde_json::to_vec(&v).unwrap_or_default()
            };
            proptest::prop_assert!(
                matches!(quote_bare_names(&text), std::borrow::Cow::Borrowed(_))
            );
        }
    }

    #[test]
    fn dry_run_blockers_carry_reason_count_and_message() {
        let b = Blocker::ActiveDevices { count: 2 };
        let v = serde_json::to_value(dto::BlockerResponse {
            blocker: b,
            message: blocker_message(b),
        })
        .unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"reason": "activeDevices", "count": 2, "message": "the user has 2 active devices"})
        );
        let v = serde_json::to_value(dto::BlockerResponse {
            blocker: Blocker::Enabled,
            message: blocker_message(Blocker::Enabled),
        })
        .unwrap_or_default();
        assert_eq!(v["reason"], "enabled");
    }

    #[test]
    fn field_names_follow_wso2() {
        assert_eq!(wso2_field("email"), "emailAddress");
        assert_eq!(wso2_field("firstName"), "firstname");
        assert_eq!(wso2_field("groups[2]"), "roles[2]");
        assert_eq!(wso2_field("newPassword"), "newPassword");
    }

    #[test]
    fn every_failure_is_an_envelope() {
        let cases = [
            (
                Error::Body(JsonError::TooLarge),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (Error::Body(JsonError::TooDeep), StatusCode::BAD_REQUEST),
            (Error::PasswordRefused, StatusCode::BAD_REQUEST),
            (Error::NoSuchUser("kim".into()), StatusCode::NOT_FOUND),
            (Error::NotDeliverable("kim".into()), StatusCode::BAD_REQUEST),
            (
                Error::Domain(DomainError::Conflict { field: "username" }, "kim".into()),
                StatusCode::CONFLICT,
            ),
            (
                Error::Domain(DomainError::Conflict { field: "email" }, "kim".into()),
                StatusCode::CONFLICT,
            ),
            (
                Error::Domain(
                    DomainError::Store(roster_domain::StoreError::new("down")),
                    "kim".into(),
                ),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                Error::Removal(RemovalError::NotFound, "kim".into()),
                StatusCode::NOT_FOUND,
            ),
            (
                Error::Removal(
                    RemovalError::Refused(Blocker::PendingDeletion),
                    "kim".into(),
                ),
                StatusCode::CONFLICT,
            ),
            (
                Error::Refused(Refusal::Auth(AuthFailure::NoOrganization)),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (f, status) in cases {
            let r = f.into_response();
            assert_eq!(r.status(), status);
            let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap_or_default();
            assert_eq!(v["statusCode"], status.as_u16(), "{v}");
            assert!(v["messageFromServer"].is_string(), "{v}");
            assert!(v.get("responseContent").is_none(), "{v}");
        }
        let r =
            Error::Domain(DomainError::Conflict { field: "email" }, "kim".into()).into_response();
        assert!(text(&r).contains("emailAddress"), "{}", text(&r));
    }
}
