//! Conditional requests (RFC 9110 section 13) against lost updates. A mutable resource's `ETag`
//! is its version number as a strong entity tag (`"3"`); `If-Match` on a write becomes an
//! [`ExpectedVersion`] that travels down to the store, which compares and writes in one atomic
//! step; `If-None-Match` on a read can answer 304. Every mutable resource follows this rule.

use super::error::ApiError;
use crate::ports::ExpectedVersion;
use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderName};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

/// The `ETag` of a resource at `version`.
/// `If-Match` and `If-None-Match` as the server reads them, as a pattern for the OpenAPI document
/// (ASCII only): `*` alone, or entity tags (`"3"`, `W/"3"`) separated by commas.
pub const CONDITION_PATTERN: &str =
    r#"^([ \t]*\*[ \t]*|[ \t,]*(W/)?"[!#-~]*"([ \t]*,[ \t,]*(W/)?"[!#-~]*")*[ \t]*(,[ \t,]*)?)$"#;

#[must_use]
pub fn etag(version: u32) -> HeaderValue {
    // Digits between quotes are always a valid header value; the fallback is unreachable.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// One entity tag of a request header.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EntityTag {
    weak: bool,
    opaque: Vec<u8>,
}

impl EntityTag {
    /// The version a tag names, if it is one of ours: canonical decimal digits, so that
    /// comparing versions is comparing tags character by character, as RFC 9110 requires.
    fn version(&self) -> Option<u32> {
        let digits = std::str::from_utf8(&self.opaque).ok()?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if canonical { digits.parse().ok() } else { None }
    }
}

/// A parsed `If-Match` or `If-None-Match`: `*`, or a list of entity tags.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    Any,
    Tags(Vec<EntityTag>),
}

/// `If-Match` (strong comparison: a weak tag never matches) as the versions a write accepts;
/// [`ExpectedVersion::Any`] without the header or with `*`.
pub struct IfMatch(pub ExpectedVersion);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        condition(&parts.headers, header::IF_MATCH).map(|c| Self(expected_version(c)))
    }
}

fn expected_version(if_match: Option<Condition>) -> ExpectedVersion {
    match if_match {
        None | Some(Condition::Any) => ExpectedVersion::Any,
        Some(Condition::Tags(tags)) => {
            ExpectedVersion::OneOf(tags.iter().filter(|t| !t.weak).filter_map(EntityTag::version).collect())
        }
    }
}

/// `If-None-Match` on a read: whether the client already holds the current representation
/// (weak comparison: `W/"3"` matches `"3"`).
pub struct IfNoneMatch(Option<Condition>);

impl IfNoneMatch {
    /// Whether a read of the resource at `version` should answer 304 Not Modified.
    #[must_use]
    pub fn matches(&self, version: u32) -> bool {
        match &self.0 {
            None => false,
            Some(Condition::Any) => true,
            Some(Condition::Tags(tags)) => tags.iter().any(|t| t.version() == Some(version)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        condition(&parts.headers, header::IF_NONE_MATCH).map(Self)
    }
}

/// Every line of the header, as one condition; `None` without the header. A malformed header is
/// a 400: acting on a guess could overwrite someone else's change.
fn condition(headers: &HeaderMap, name: HeaderName) -> Result<Option<Condition>, ApiError> {
    let mut lines = headers.get_all(&name).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let shown = if name == header::IF_MATCH { "If-Match" } else { "If-None-Match" };
    let malformed = |why: &str| {
        ApiError::bad_request(format!(
            "malformed {shown} header: {why}; send * or entity tags such as \"3\" (the ETag of a read)"
        ))
    };
    let (mut star, mut tags, mut count) = (false, Vec::new(), 0);
    for line in lines {
        count += 1;
        if trim(line.as_bytes()) == b"*" {
            star = true;
        } else {
            tags_of(line.as_bytes(), &mut tags).map_err(malformed)?;
        }
    }
    match (star, tags.is_empty()) {
        (true, true) if count == 1 => Ok(Some(Condition::Any)),
        (true, _) => Err(malformed("* stands alone")),
        (false, true) => Err(malformed("no entity tag")),
        (false, false) => Ok(Some(Condition::Tags(tags))),
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses `#entity-tag`: comma-separated `"opaque"` or `W/"opaque"`, empty elements allowed.
fn tags_of(mut s: &[u8], out: &mut Vec<EntityTag>) -> Result<(), &'static str> {
    loop {
        while let [b' ' | b'\t' | b',', rest @ ..] = s {
            s = rest;
        }
        if s.is_empty() {
            return Ok(());
        }
        let weak = s.starts_with(b"W/");
        if weak {
            s = &s[2..];
        }
        let [b'"', rest @ ..] = s else { return Err("an entity tag is a quoted string") };
        let end = rest.iter().position(|&b| b == b'"').ok_or("an entity tag lacks its closing quote")?;
        let opaque = &rest[..end];
        // etagc: %x21 / %x23-7E / obs-text
        if !opaque.iter().all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
            return Err("an entity tag holds a character it may not (a space or a control character)");
        }
        out.push(EntityTag { weak, opaque: opaque.to_vec() });
        s = trim(&rest[end + 1..]);
        match s {
            [] => return Ok(()),
            [b',', ..] => {}
            _ => return Err("entity tags are separated by commas"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_documented_pattern_accepts_exactly_what_the_server_reads(value in "[*\"W/, \t#a1]{0,10}") {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_MATCH, HeaderValue::from_str(&value).unwrap());
            let pattern = regex::Regex::new(CONDITION_PATTERN).unwrap();
            let read = condition(&headers, header::IF_MATCH).is_ok();
            prop_assert_eq!(read, pattern.is_match(&value), "{:?}", value);
        }
    }

    fn parse(lines: &[&str], name: HeaderName) -> Result<Option<Condition>, String> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(&name, HeaderValue::from_str(line).unwrap());
        }
        condition(&headers, name).map_err(|e| e.message)
    }

    fn expected(lines: &[&str]) -> Result<ExpectedVersion, String> {
        parse(lines, header::IF_MATCH).map(expected_version)
    }

    #[test]
    fn etags_are_quoted_version_numbers() {
        assert_eq!(etag(3), "\"3\"");
        assert_eq!(etag(u32::MAX), "\"4294967295\"");
    }

    #[test]
    fn if_match_lists_strong_tags_and_star_matches_any() {
        assert_eq!(expected(&[]), Ok(ExpectedVersion::Any));
        assert_eq!(expected(&["*"]), Ok(ExpectedVersion::Any));
        assert_eq!(expected(&[" * "]), Ok(ExpectedVersion::Any));
        assert_eq!(expected(&["\"3\""]), Ok(ExpectedVersion::OneOf(vec![3])));
        assert_eq!(expected(&["\"2\", \"3\""]), Ok(ExpectedVersion::OneOf(vec![2, 3])));
        assert_eq!(expected(&["\"2\"", "\"5\""]), Ok(ExpectedVersion::OneOf(vec![2, 5])), "lines combine");
        assert_eq!(expected(&[",\"2\",, \"3\" ,"]), Ok(ExpectedVersion::OneOf(vec![2, 3])), "empty elements");
    }

    #[test]
    fn if_match_never_matches_weak_or_foreign_or_non_canonical_tags() {
        assert_eq!(expected(&["W/\"3\""]), Ok(ExpectedVersion::OneOf(vec![])));
        assert_eq!(expected(&["W/\"3\", \"4\""]), Ok(ExpectedVersion::OneOf(vec![4])));
        assert_eq!(expected(&["\"03\", \"abc\", \"\", \"99999999999\""]), Ok(ExpectedVersion::OneOf(vec![])));
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for bad in [
            &["3"][..],
            &["\"3"],
            &["\"3\" \"4\""],
            &["w/\"3\""],
            &["*, \"3\""],
            &["*", "\"3\""],
            &["*", "*"],
            &[""],
            &[" , "],
            &["\"a b\""],
        ] {
            let err = expected(bad).expect_err(&format!("{bad:?}"));
            assert!(err.starts_with("malformed If-Match header: "), "{err}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let matches =
            |lines: &[&str], version| IfNoneMatch(parse(lines, header::IF_NONE_MATCH).unwrap()).matches(version);
        assert!(!matches(&[], 3));
        assert!(matches(&["*"], 3));
        assert!(matches(&["W/\"3\""], 3));
        assert!(matches(&["\"1\", \"3\""], 3));
        assert!(!matches(&["\"2\""], 3));
    }
}
