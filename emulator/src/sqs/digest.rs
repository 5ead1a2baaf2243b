//! The MD5 digests SQS returns with every send and receive, computed exactly
//! as AWS computes them, because SDKs (boto3, the AWS SDKs for Java and Rust)
//! recompute and compare them and fail the call on a mismatch.

use md5::{Digest, Md5};

use super::types::{AttributeValue, MessageAttribute};

/// `MD5OfMessageBody`: the lowercase hex MD5 of the body's UTF-8 bytes.
pub fn md5_of_body(body: &str) -> String {
    hex(&Md5::digest(body.as_bytes()))
}

/// `MD5OfMessageAttributes` (and `MD5OfMessageSystemAttributes`), or `None`
/// when there are no attributes (AWS omits the field then).
///
/// AWS's encoding: attributes sorted by name; for each, the name, the data
/// type, one bare transport-type byte (1 for `String`/`Number` values, 2 for
/// `Binary`), then the value. Every string and byte value is preceded by its
/// length as a 4-byte big-endian integer.
pub fn md5_of_attributes(attributes: &[MessageAttribute]) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut sorted: Vec<&MessageAttribute> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut hasher = LengthPrefixed(Md5::new());
    for attribute in sorted {
        hasher.field(attribute.name.as_bytes());
        hasher.field(attribute.data_type.as_bytes());
        match &attribute.value {
            AttributeValue::String(s) => {
                hasher.0.update([1u8]);
                hasher.field(s.as_bytes());
            }
            AttributeValue::Binary(b) => {
                hasher.0.update([2u8]);
                hasher.field(b);
            }
        }
    }
    Some(hex(&hasher.0.finalize()))
}

/// An MD5 state fed with length-prefixed fields.
struct LengthPrefixed(Md5);

impl LengthPrefixed {
    fn field(&mut self, bytes: &[u8]) {
        // Attribute sizes are bounded by the 1 MiB message limit, far below
        // u32::MAX, so the length always fits.
        self.0.update((bytes.len() as u32).to_be_bytes());
        self.0.update(bytes);
    }
}

/// Lowercase hexadecimal of a digest.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(attributes: &[(&str, &str, AttributeValue)], expected: Expect) {
        let attributes: Vec<MessageAttribute> = attributes
            .iter()
            .map(|(name, data_type, value)| MessageAttribute {
                name: (*name).to_owned(),
                data_type: (*data_type).to_owned(),
                value: value.clone(),
            })
            .collect();
        expected.assert_eq(&format!("{:?}", md5_of_attributes(&attributes)));
    }

    #[test]
    fn body_digest_is_md5_of_utf8() {
        assert_eq!(md5_of_body(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    // The expected digests were computed by an independent Python
    // implementation of AWS's documented algorithm (the same one moto and
    // the AWS SDK for Java use to verify responses).
    #[test]
    fn attribute_digests_match_the_documented_algorithm() {
        check(&[], expect![[r#"None"#]]);
        check(
            &[("a", "String", AttributeValue::String("b".into()))],
            expect![[r#"Some("bef8bf215374a0a228d67533b1a488be")"#]],
        );
        check(
            &[
                ("zeta", "Number", AttributeValue::String("42".into())),
                (
                    "alpha",
                    "Binary",
                    AttributeValue::Binary(vec![0, 1, 2, 255]),
                ),
                ("mid", "String.custom", AttributeValue::String("ü".into())),
            ],
            expect![[r#"Some("7e59722bb05f36bd9cc02ba50d23ee07")"#]],
        );
    }
}
