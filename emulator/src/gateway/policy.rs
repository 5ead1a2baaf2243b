//! IAM policy evaluation for Lambda authorizers that answer with a policy
//! document: an explicit `Deny` on the method ARN wins, else an `Allow`
//! grants, else the request is denied. `Action` and `Resource` take IAM's
//! `*` and `?` wildcards; both may be a string or a list.

use serde_json::Value;

/// The action API Gateway asks about.
pub const INVOKE: &str = "execute-api:Invoke";

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    /// A statement denies the method explicitly.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

/// Evaluates `policy` (a `policyDocument`) for invoking `resource_arn`.
/// An `Err` names what is malformed.
pub fn evaluate(policy: &Value, resource_arn: &str) -> Result<PolicyDecision, String> {
    let Some(document) = policy.as_object() else {
        return Err("policyDocument is not an object".to_owned());
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err("policyDocument.Statement is not a list of statements".to_owned()),
        None => return Err("policyDocument has no Statement".to_owned()),
    };
    let mut allowed = false;
    for (index, statement) in statements.iter().enumerate() {
        let Some(statement) = statement.as_object() else {
            return Err(format!("Statement[{index}] is not an object"));
        };
        let effect = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err(format!("Statement[{index}].Effect must be Allow or Deny")),
        };
        let action = patterns(statement.get("Action")).ok_or_else(|| {
            format!("Statement[{index}].Action must be a string or a list of strings")
        })?;
        let resource = patterns(statement.get("Resource")).ok_or_else(|| {
            format!("Statement[{index}].Resource must be a string or a list of strings")
        })?;
        let applies = action
            .iter()
            .any(|p| wildcard_match(&p.to_ascii_lowercase(), &INVOKE.to_ascii_lowercase()))
            && resource.iter().any(|p| wildcard_match(p, resource_arn));
        if !applies {
            continue;
        }
        if !effect {
            return Ok(PolicyDecision::ExplicitDeny);
        }
        allowed = true;
    }
    Ok(if allowed {
        PolicyDecision::Allow
    } else {
        PolicyDecision::ImplicitDeny
    })
}

fn patterns(value: Option<&Value>) -> Option<Vec<&str>> {
    match value? {
        Value::String(text) => Some(vec![text.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// IAM wildcard matching: `*` matches any run of characters, `?` exactly
/// one. Linear-time with one backtrack point, so hostile patterns cannot
/// make it slow.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/42";

    fn check(statements: Value, expected: Result<PolicyDecision, &str>) {
        let policy = json!({ "Version": "2012-10-17", "Statement": statements });
        match (evaluate(&policy, ARN), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("{got:?} != {want:?}"),
        }
    }

    fn statement(effect: &str, action: Value, resource: Value) -> Value {
        json!({ "Effect": effect, "Action": action, "Resource": resource })
    }

    #[test]
    fn policies_decide() {
        check(
            json!([statement("Allow", json!("execute-api:Invoke"), json!(ARN))]),
            Ok(PolicyDecision::Allow),
        );
        check(
            json!(statement(
                "Allow",
                json!("execute-api:*"),
                json!("arn:aws:execute-api:*:*:abc/*")
            )),
            Ok(PolicyDecision::Allow),
        );
        check(
            json!([statement(
                "Allow",
                json!(["*"]),
                json!(["arn:aws:execute-api:us-east-1:123456789012:abc/Prod/GET/items/??"])
            )]),
            Ok(PolicyDecision::Allow),
        );
        check(
            json!([
                statement("Allow", json!("execute-api:Invoke"), json!("*")),
                statement("Deny", json!("execute-api:Invoke"), json!(ARN)),
            ]),
            Ok(PolicyDecision::ExplicitDeny),
        );
        check(
            json!([statement(
                "Allow",
                json!("execute-api:Invoke"),
                json!("arn:aws:execute-api:*:*:abc/Prod/POST/*")
            )]),
            Ok(PolicyDecision::ImplicitDeny),
        );
        check(json!([]), Ok(PolicyDecision::ImplicitDeny));
        check(
            json!([statement("Maybe", json!("*"), json!("*"))]),
            Err("Effect"),
        );
        check(
            json!([statement("Allow", json!(3), json!("*"))]),
            Err("Action"),
        );
        check(json!("nope"), Err("Statement"));
    }

    #[test]
    fn wildcards() {
        for (pattern, text, matches) in [
            ("*", "", true),
            ("a*c", "abbbc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*/GET/*", "x/GET/y/z", true),
            ("**a", "bbba", true),
            ("a*", "b", false),
            ("*", "*:", true),
            ("a*b", "a*b", true),
        ] {
            assert_eq!(wildcard_match(pattern, text), matches, "{pattern} {text}");
        }
    }

    proptest! {
        #[test]
        fn literal_patterns_match_themselves(text in "[a-z:/*?]{0,40}") {
            let escaped: String = text.chars().filter(|c| *c != '*' && *c != '?').collect();
            prop_assert!(wildcard_match(&escaped, &escaped));
            prop_assert!(wildcard_match("*", &text));
        }

        #[test]
        fn arbitrary_policies_never_panic(policy in any::<String>(), arn in any::<String>()) {
            let value = serde_json::from_str::<Value>(&policy).unwrap_or(Value::String(policy));
            let _ = evaluate(&value, &arn);
            let _ = wildcard_match(&arn, &arn);
        }
    }
}
