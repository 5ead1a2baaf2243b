//! The Lambda API's wire shapes: function references, error bodies, and
//! function configurations. Pure functions, tested without sockets.

use serde_json::{Value, json};

use crate::app::{Architecture, Function, Identity};

/// A function reference from a request path: a name, a partial ARN or a
/// full ARN, optionally with a qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

/// Parses the forms Lambda accepts for `FunctionName`:
/// `Name`, `Name:qualifier`, `ACCOUNT:function:Name[:qualifier]` and
/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:Name[:qualifier]`.
/// Returns `None` when the value matches none of them.
pub fn parse_function_ref(value: &str) -> Option<FunctionRef> {
    let parts: Vec<&str> = value.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        [account, "function", name] if is_account(account) => (*name, None),
        [account, "function", name, qualifier] if is_account(account) => (*name, Some(*qualifier)),
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
        ] if partition.starts_with("aws") && is_region(region) && is_account(account) => {
            (*name, None)
        }
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            qualifier,
        ] if partition.starts_with("aws") && is_region(region) && is_account(account) => {
            (*name, Some(*qualifier))
        }
        _ => return None,
    };
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    let valid_qualifier = qualifier.is_none_or(|q| {
        q == "$LATEST"
            || (!q.is_empty()
                && q.len() <= 128
                && q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    });
    (valid_name && valid_qualifier).then(|| FunctionRef {
        name: name.to_owned(),
        qualifier: qualifier.map(str::to_owned),
    })
}

fn is_account(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn is_region(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The body of an AWS error for the Lambda API (`rest-json`): the code
/// travels in `x-amzn-ErrorType`, the body carries `Type` and `message`.
pub fn error_body(message: &str) -> String {
    json!({ "Type": "User", "message": message }).to_string()
}

/// The body of `TooManyRequestsException` for a function at its reserved
/// concurrency.
pub fn throttle_body() -> String {
    json!({
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    })
    .to_string()
}

/// `FunctionConfiguration`, as GetFunction and ListFunctions return it.
pub fn function_configuration(
    function: &Function,
    identity: &Identity,
    last_modified: &str,
) -> Value {
    let architecture = match function.architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
    };
    let mut configuration = json!({
        "FunctionName": function.name,
        "FunctionArn": identity.function_arn(&function.name),
        "Runtime": function.runtime.id(),
        "Role": format!("arn:{}:iam::{}:role/{}-role", identity.partition, identity.account_id, function.name),
        "Timeout": function.timeout.as_secs(),
        "MemorySize": function.memory_mb,
        "LastModified": last_modified,
        "Version": "$LATEST",
        "Environment": { "Variables": function.environment },
        "TracingConfig": { "Mode": "PassThrough" },
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [architecture],
        "EphemeralStorage": { "Size": function.ephemeral_storage_mb },
    });
    if let Some(handler) = &function.handler {
        configuration["Handler"] = json!(handler);
    }
    configuration
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(&str, Option<&str>)>) {
        let parsed = parse_function_ref(input);
        let expected = expected.map(|(name, qualifier)| FunctionRef {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
        });
        assert_eq!(parsed, expected, "{input}");
    }

    #[test]
    fn function_references() {
        check("HelloFunction", Some(("HelloFunction", None)));
        check(
            "HelloFunction:$LATEST",
            Some(("HelloFunction", Some("$LATEST"))),
        );
        check("123456789012:function:Hello", Some(("Hello", None)));
        check(
            "123456789012:function:Hello:live",
            Some(("Hello", Some("live"))),
        );
        check(
            "arn:aws:lambda:us-east-1:123456789012:function:Hello",
            Some(("Hello", None)),
        );
        check(
            "arn:aws:lambda:eu-west-1:123456789012:function:Hello:7",
            Some(("Hello", Some("7"))),
        );
        check("", None);
        check("bad name", None);
        check("a:b:c:d:e", None);
        check("arn:aws:s3:us-east-1:123456789012:function:Hello", None);
        check("12345:function:Hello", None);
        check(&"x".repeat(65), None);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_body("Function not found: x"),
            r#"{"Type":"User","message":"Function not found: x"}"#
        );
        assert!(throttle_body().contains("Rate Exceeded."));
    }
}
