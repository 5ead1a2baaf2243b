//! The parts of an HTTP request the event mappings read, and the small
//! parsers they share: the query string, cookies, the body encoding
//! decision, header-name capitalisation and API Gateway's time formats.
//!
//! Nothing here touches sockets; the server fills a [`RequestParts`] from
//! hyper's request and the event modules serialise it.

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, Method};

/// The request as the event mappings see it.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    pub method: &'a Method,
    /// The path exactly as received (percent-encoding kept), with any
    /// stage prefix.
    pub raw_path: &'a str,
    /// The query string without `?`, as received.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: &'static str,
    /// When API Gateway received the request, in Unix milliseconds.
    pub time_epoch_ms: u64,
    /// The gateway listener's port, for `X-Forwarded-Port`.
    pub port: u16,
    /// The trace header passed to the function, for `X-Amzn-Trace-Id`.
    pub trace_id: &'a str,
}

impl RequestParts<'_> {
    /// A header's value as text; a value that is not valid UTF-8 is
    /// converted lossily (API Gateway passes such bytes through as Latin-1,
    /// which JSON cannot carry either).
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
    }

    /// The `Host` header, or `localhost` when the client sent none
    /// (HTTP/1.0).
    pub fn host(&self) -> Cow<'_, str> {
        self.header("host").unwrap_or(Cow::Borrowed("localhost"))
    }

    /// The `User-Agent` header, or an empty string.
    pub fn user_agent(&self) -> Cow<'_, str> {
        self.header("user-agent").unwrap_or(Cow::Borrowed(""))
    }

    /// The query parameters in order of first appearance, each with all
    /// its values: API Gateway's `multiValueQueryStringParameters`.
    pub fn query(&self) -> Vec<(Cow<'_, str>, Vec<Cow<'_, str>>)> {
        group_query(self.raw_query)
    }

    /// The `cookie` headers split into their `name=value` items, as the 2.0
    /// payload's `cookies` field holds them.
    pub fn cookies(&self) -> Vec<Cow<'_, str>> {
        let mut cookies = Vec::new();
        for value in self.headers.get_all(http::header::COOKIE) {
            let text = String::from_utf8_lossy(value.as_bytes());
            match text {
                Cow::Borrowed(text) => cookies.extend(
                    text.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(Cow::Borrowed),
                ),
                Cow::Owned(text) => cookies.extend(
                    text.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(|c| Cow::Owned(c.to_owned())),
                ),
            }
        }
        cookies
    }

    /// The `X-Forwarded-For` value API Gateway passes on: the client's own
    /// list with the source address appended.
    pub fn forwarded_for(&self) -> String {
        match self.header("x-forwarded-for") {
            Some(existing) if !existing.trim().is_empty() => {
                format!("{existing}, {}", self.source_ip)
            }
            _ => self.source_ip.to_string(),
        }
    }
}

/// Headers API Gateway sets itself; the client's values are replaced (or,
/// for `X-Forwarded-For`, extended).
pub fn is_gateway_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "x-forwarded-for" | "x-forwarded-port" | "x-forwarded-proto" | "x-amzn-trace-id"
    )
}

/// Groups `a=1&b=2&a=3` into `[(a, [1, 3]), (b, [2])]`, decoding `%XX` and
/// `+` as HTML forms do. A key without `=` has an empty value.
pub fn group_query(raw: &str) -> Vec<(Cow<'_, str>, Vec<Cow<'_, str>>)> {
    let mut groups: Vec<(Cow<'_, str>, Vec<Cow<'_, str>>)> = Vec::new();
    if raw.is_empty() {
        return groups;
    }
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    groups
}

/// How the body travels in the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody<'a> {
    /// No body at all.
    Empty,
    /// UTF-8 text, passed as is.
    Text(&'a str),
    /// Base64 of binary content, with `isBase64Encoded: true`.
    Base64(String),
}

impl EventBody<'_> {
    pub fn is_base64(&self) -> bool {
        matches!(self, EventBody::Base64(_))
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            EventBody::Empty => None,
            EventBody::Text(text) => Some(text),
            EventBody::Base64(text) => Some(text),
        }
    }
}

/// Which request bodies are binary.
#[derive(Debug, Clone, Copy)]
pub enum BinaryRule<'a> {
    /// REST APIs: the content type matches one of the API's
    /// `BinaryMediaTypes`.
    MediaTypes(&'a [String]),
    /// HTTP APIs and function URLs: everything but text types is binary,
    /// including a body without a content type and form posts.
    TextTypesOnly,
}

/// Decides the body's encoding. A body that is not valid UTF-8 is always
/// base64-encoded: JSON cannot carry it as text, and mangling it would lose
/// the client's data.
pub fn event_body<'a>(body: &'a [u8], headers: &HeaderMap, rule: BinaryRule<'_>) -> EventBody<'a> {
    if body.is_empty() {
        return EventBody::Empty;
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let binary = match rule {
        BinaryRule::MediaTypes(types) => {
            !content_type.is_empty()
                && types
                    .iter()
                    .any(|pattern| media_type_matches(pattern, content_type))
        }
        BinaryRule::TextTypesOnly => {
            let encoded = headers
                .get(http::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|e| {
                    !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity")
                });
            encoded || !is_text_type(content_type)
        }
    };
    match (binary, std::str::from_utf8(body)) {
        (false, Ok(text)) => EventBody::Text(text),
        _ => EventBody::Base64(base64::engine::general_purpose::STANDARD.encode(body)),
    }
}

/// The content types HTTP APIs pass as text.
pub fn is_text_type(content_type: &str) -> bool {
    let essence = essence(content_type);
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence, ""));
    kind.eq_ignore_ascii_case("text")
        || (kind.eq_ignore_ascii_case("application")
            && ["json", "xml", "javascript"]
                .iter()
                .any(|t| subtype.eq_ignore_ascii_case(t)))
}

/// `type/subtype` without parameters, trimmed.
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Whether `content_type` matches a `BinaryMediaTypes` entry such as
/// `image/png`, `image/*` or `*/*`.
pub fn media_type_matches(pattern: &str, content_type: &str) -> bool {
    let pattern = essence(pattern);
    let actual = essence(content_type);
    if pattern == "*/*" {
        return true;
    }
    let (p_kind, p_sub) = pattern.split_once('/').unwrap_or((pattern, ""));
    let (a_kind, a_sub) = actual.split_once('/').unwrap_or((actual, ""));
    p_kind.eq_ignore_ascii_case(a_kind) && (p_sub == "*" || p_sub.eq_ignore_ascii_case(a_sub))
}

/// A header name in the capitalisation clients conventionally send
/// (`Content-Type`). hyper hands the gateway lower-cased names, so the 1.0
/// payload, which keeps the client's case in the cloud, uses this form, as
/// SAM CLI does.
pub fn title_case(name: &str) -> Cow<'static, str> {
    const KNOWN: &[&str] = &[
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Authorization",
        "Cache-Control",
        "Connection",
        "Content-Length",
        "Content-Type",
        "Cookie",
        "Host",
        "Origin",
        "Referer",
        "User-Agent",
        "X-Amzn-Trace-Id",
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
    ];
    if let Some(known) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        return Cow::Borrowed(known);
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    Cow::Owned(out)
}

/// Percent-decodes a path parameter; a value whose decoding is not UTF-8
/// is kept encoded rather than mangled.
pub fn decode_path_param(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(decoded) => decoded,
        Err(_) => Cow::Borrowed(raw),
    }
}

/// API Gateway's `requestTime`: `12/Mar/2020:19:03:58 +0000`.
pub fn request_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = (epoch_ms / 1000) as i64;
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(seconds) else {
        return String::new();
    };
    let month = MONTHS[usize::from(u8::from(at.month())) - 1];
    format!(
        "{:02}/{month}/{}:{:02}:{:02}:{:02} +0000",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn query_groups_keep_order_and_repeats() {
        let check = |raw: &str, expected: &str| {
            let groups = group_query(raw);
            let rendered: Vec<String> = groups
                .iter()
                .map(|(k, v)| format!("{k}={}", v.join("|")))
                .collect();
            assert_eq!(rendered.join(" "), expected, "{raw}");
        };
        check("", "");
        check("a=1&b=2&a=3", "a=1|3 b=2");
        check("flag&x=", "flag= x=");
        check("q=a+b%20c&%C3%A9=%E2%9C%93", "q=a b c é=✓");
        check("bad=%FF", "bad=\u{FFFD}");
    }

    #[test]
    fn text_types_and_binary_media_types() {
        for (content_type, text) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("text/plain", true),
            ("TEXT/HTML", true),
            ("application/xml", true),
            ("application/javascript", true),
            ("application/x-www-form-urlencoded", false),
            ("application/octet-stream", false),
            ("image/png", false),
            ("", false),
        ] {
            assert_eq!(is_text_type(content_type), text, "{content_type}");
        }
        for (pattern, content_type, matches) in [
            ("image/png", "image/png", true),
            ("image/*", "image/jpeg", true),
            ("*/*", "text/plain", true),
            (
                "application/octet-stream",
                "application/octet-stream; x=1",
                true,
            ),
            ("image/png", "image/jpeg", false),
            ("image/*", "text/plain", false),
        ] {
            assert_eq!(
                media_type_matches(pattern, content_type),
                matches,
                "{pattern} {content_type}"
            );
        }
    }

    #[test]
    fn bodies_are_encoded_by_rule() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        assert_eq!(
            event_body(b"{}", &headers, BinaryRule::TextTypesOnly),
            EventBody::Text("{}")
        );
        assert_eq!(
            event_body(b"", &headers, BinaryRule::TextTypesOnly),
            EventBody::Empty
        );
        assert_eq!(
            event_body(&[0xff, 0x00], &headers, BinaryRule::TextTypesOnly),
            EventBody::Base64("/wA=".to_owned())
        );
        headers.insert("content-type", "image/png".parse().unwrap());
        assert_eq!(
            event_body(b"ab", &headers, BinaryRule::MediaTypes(&[])),
            EventBody::Text("ab")
        );
        assert_eq!(
            event_body(
                b"ab",
                &headers,
                BinaryRule::MediaTypes(&["image/*".to_owned()])
            ),
            EventBody::Base64("YWI=".to_owned())
        );
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            event_body(b"a=1", &headers, BinaryRule::TextTypesOnly),
            EventBody::Base64("YT0x".to_owned())
        );
        headers.insert("content-type", "text/plain".parse().unwrap());
        headers.insert("content-encoding", "gzip".parse().unwrap());
        assert!(event_body(b"x", &headers, BinaryRule::TextTypesOnly).is_base64());
    }

    #[test]
    fn header_names_are_title_cased() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-custom-thing"), "X-Custom-Thing");
        assert_eq!(title_case("headername"), "Headername");
    }

    #[test]
    fn request_time_is_common_log_format() {
        assert_eq!(
            request_time(1_583_348_638_390),
            "04/Mar/2020:19:03:58 +0000"
        );
    }

    #[test]
    fn path_params_decode_when_utf8() {
        assert_eq!(decode_path_param("a%20b"), "a b");
        assert_eq!(decode_path_param("plain"), "plain");
        assert_eq!(decode_path_param("%FF"), "%FF");
    }
}
