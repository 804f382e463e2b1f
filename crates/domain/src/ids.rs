//! Validated identifiers and names: private fields, fallible constructors.
//!
//! Patterns follow seed 000 (`organizationId`: `^(([a-fA-F0-9]{24})|([a-zA-Z0-9\-]{3,}))$`,
//! `mdmUserId`: `^[a-fA-F0-9]{24}$`).

use crate::error::ValidationError;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest accepted slug, username or other short identifier.
pub const MAX_IDENT_LEN: usize = 64;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest accepted display text (names, descriptions).
pub const MAX_TEXT_LEN: usize = 256;

/// 16 random bytes from the platform's secure source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom only fails when the platform has no entropy source at all; wasi and
    // every host we run on have one, so this is an invariant of the platform.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the platform provides secure randomness");
    buf
}

/// A 24-hex-digit identifier (12 bytes: 4 of seconds since the epoch, 8 random),
/// always lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(String);

impl ObjectId {
    /// A fresh identifier for an entity created at `now`.
    pub fn generate(now: Timestamp) -> Self {
        let secs = u32::try_from(now.0.div_euclid(1000)).unwrap_or(u32::MAX);
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..].copy_from_slice(&random_bytes::<8>());
        Self(hex::encode(bytes))
    }

    /// Parses `raw` as the path or body field `field`: exactly 24 hex digits.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        if raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(ValidationError::new(
                field,
                "must match pattern ^[a-fA-F0-9]{24}$",
            ))
        }
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random (version 4) UUID in canonical lowercase form.
pub fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An organization slug: `[a-zA-Z0-9-]{3,64}`, stored lowercase, never 24 hex digits
/// (those would be ambiguous with an organization id in paths).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses `raw` as the field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        if raw.len() < 3 || raw.len() > MAX_IDENT_LEN {
            return Err(ValidationError::new(field, "must be 3 to 64 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ValidationError::new(
                field,
                "may contain only letters, digits and '-'",
            ));
        }
        if raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValidationError::new(
                field,
                "must not be 24 hex digits (reserved for organization ids)",
            ));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a path names an organization: by id or by slug (seed 000's `organizationId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRef {
    /// 24 hex digits: an organization id.
    Id(ObjectId),
    /// Anything else matching `[a-zA-Z0-9-]{3,}`: a slug.
    Slug(Slug),
}

impl OrgRef {
    /// Parses the path parameter `field` by seed 000's pattern
    /// `^(([a-fA-F0-9]{24})|([a-zA-Z0-9\-]{3,}))$` (at most 64 characters).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let pattern = "must match pattern ^(([a-fA-F0-9]{24})|([a-zA-Z0-9\\-]{3,}))$";
        if raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self::Id(ObjectId(raw.to_ascii_lowercase())));
        }
        if raw.len() < 3
            || raw.len() > MAX_IDENT_LEN
            || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ValidationError::new(field, pattern));
        }
        Ok(Self::Slug(Slug(raw.to_ascii_lowercase())))
    }
}

/// A username: 1 to 64 characters of letters, digits and `. _ @ + -`. Unique per
/// organization, compared case-insensitively; the original case is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses `raw` as the field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.chars().count() > MAX_IDENT_LEN {
            return Err(ValidationError::new(field, "must be 1 to 64 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
        {
            return Err(ValidationError::new(
                field,
                "may contain only letters, digits and . _ @ + -",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as given at creation.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An email address: `local@domain`, at most 254 characters, no spaces or control
/// characters, a domain of dot-separated labels. Unique per organization, compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses `raw` as the field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| Err(ValidationError::new(field, why));
        if raw.len() > MAX_EMAIL_LEN {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return bad("must be an email address like name@example.com");
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        '@' | '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
                    )
            });
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !local_ok || !domain_ok {
            return bad("must be an email address like name@example.com");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The address as given at creation.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Checks free text (a name, a description): at most `max` characters and no control
/// characters. Returns the text trimmed of surrounding whitespace.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, ValidationError> {
    if raw.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(raw.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_24_lowercase_hex() {
        let id = ObjectId::generate(Timestamp(1_700_000_000_000));
        assert_eq!(id.as_str().len(), 24);
        assert!(ObjectId::parse("id", id.as_str()).is_ok());
        assert_eq!(
            ObjectId::parse("id", "ABCDEF0123456789ABCDEF01")
                .unwrap()
                .as_str(),
            "abcdef0123456789abcdef01"
        );
        let err = ObjectId::parse("mdmUserId", "xyz").unwrap_err();
        assert_eq!(err.field, "mdmUserId");
        assert!(ObjectId::parse("id", "abcdef0123456789abcdef0").is_err());
    }

    #[test]
    fn org_refs_follow_seed_000_pattern() {
        assert!(matches!(
            OrgRef::parse("organizationId", "5931a75ae4bbd512288c680b"),
            Ok(OrgRef::Id(_))
        ));
        assert!(matches!(
            OrgRef::parse("organizationId", "acme-corp"),
            Ok(OrgRef::Slug(_))
        ));
        assert!(OrgRef::parse("organizationId", "ab").is_err());
        assert!(OrgRef::parse("organizationId", "a_b_c").is_err());
        assert!(OrgRef::parse("organizationId", &"a".repeat(65)).is_err());
    }

    #[test]
    fn slugs_refuse_object_id_lookalikes() {
        assert!(Slug::parse("slug", "5931a75ae4bbd512288c680b").is_err());
        assert_eq!(Slug::parse("slug", "Acme").unwrap().as_str(), "acme");
    }

    #[test]
    fn emails_and_usernames_validate() {
        assert!(Email::parse("email", "kim@example.com").is_ok());
        for bad in [
            "kim",
            "kim@",
            "@example.com",
            "kim@example",
            "k m@example.com",
            "kim@-x.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
        assert!(Username::parse("username", "kim.o'neil").is_err());
        assert_eq!(Username::parse("username", "Kim").unwrap().folded(), "kim");
        assert!(text("firstname", "a\u{7}b", 10).is_err());
        assert!(text("firstname", &"x".repeat(11), 10).is_err());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
