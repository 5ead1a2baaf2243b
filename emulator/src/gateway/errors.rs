//! The responses API Gateway itself sends when it does not (or cannot)
//! relay a function's answer, with the cloud's status codes, bodies and
//! `x-amzn-ErrorType` headers. REST APIs and HTTP APIs word some of them
//! differently; function URLs follow HTTP APIs.

use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use crate::http_server::HttpResponse;

/// Which flavour of API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Rest,
    Http,
    FunctionUrl,
}

/// A gateway-generated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayError {
    /// No route matched on an HTTP API (404).
    NotFound,
    /// No route matched on a REST API (403).
    MissingAuthenticationToken,
    /// The function failed or answered something unusable. REST: 502
    /// `Internal server error`; HTTP APIs: 500 `Internal Server Error`;
    /// function URLs: 502.
    Integration,
    /// The integration timeout passed. REST: 504 `Endpoint request timed
    /// out`; HTTP APIs: 503 `Service Unavailable`.
    Timeout,
    /// The function is at its concurrency limit (429).
    Throttled,
    /// The request body is over API Gateway's 10 MB (413).
    PayloadTooLarge,
    /// An authorizer's identity sources are missing, it answered
    /// `Unauthorized`, or a JWT was refused (401).
    Unauthorized { www_authenticate: Option<String> },
    /// An authorizer denied the request (403).
    Forbidden { explicit: bool },
    /// An authorizer failed or answered something unusable (500).
    AuthorizerFailure,
    /// The request could not be read (400).
    BadRequest,
    /// The emulator is stopping (503).
    ShuttingDown,
}

impl GatewayError {
    /// The status, `x-amzn-ErrorType` and body API Gateway sends.
    pub fn parts(&self, flavour: Flavour) -> (StatusCode, Option<&'static str>, &'static str) {
        let rest = flavour == Flavour::Rest;
        match self {
            GatewayError::NotFound => (StatusCode::NOT_FOUND, None, r#"{"message":"Not Found"}"#),
            GatewayError::MissingAuthenticationToken => (
                StatusCode::FORBIDDEN,
                Some("MissingAuthenticationTokenException"),
                r#"{"message":"Missing Authentication Token"}"#,
            ),
            GatewayError::Integration => match flavour {
                Flavour::Rest => (
                    StatusCode::BAD_GATEWAY,
                    Some("InternalServerErrorException"),
                    r#"{"message": "Internal server error"}"#,
                ),
                Flavour::Http => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    r#"{"message":"Internal Server Error"}"#,
                ),
                Flavour::FunctionUrl => (
                    StatusCode::BAD_GATEWAY,
                    None,
                    r#"{"message":"Internal Server Error"}"#,
                ),
            },
            GatewayError::Timeout if rest => (
                StatusCode::GATEWAY_TIMEOUT,
                Some("InternalServerErrorException"),
                r#"{"message": "Endpoint request timed out"}"#,
            ),
            GatewayError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                r#"{"message":"Service Unavailable"}"#,
            ),
            GatewayError::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                rest.then_some("TooManyRequestsException"),
                r#"{"message":"Too Many Requests"}"#,
            ),
            GatewayError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                rest.then_some("RequestTooLargeException"),
                r#"{"message":"Request Entity Too Large"}"#,
            ),
            GatewayError::Unauthorized { .. } => (
                StatusCode::UNAUTHORIZED,
                rest.then_some("UnauthorizedException"),
                r#"{"message":"Unauthorized"}"#,
            ),
            GatewayError::Forbidden { explicit } if rest => (
                StatusCode::FORBIDDEN,
                Some("AccessDeniedException"),
                if *explicit {
                    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#
                } else {
                    r#"{"Message":"User is not authorized to access this resource"}"#
                },
            ),
            GatewayError::Forbidden { .. } => {
                (StatusCode::FORBIDDEN, None, r#"{"message":"Forbidden"}"#)
            }
            GatewayError::AuthorizerFailure if rest => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("AuthorizerConfigurationException"),
                r#"{"message": null}"#,
            ),
            GatewayError::AuthorizerFailure => (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                r#"{"message":"Internal Server Error"}"#,
            ),
            GatewayError::BadRequest => (
                StatusCode::BAD_REQUEST,
                rest.then_some("BadRequestException"),
                r#"{"message":"Bad Request"}"#,
            ),
            GatewayError::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                r#"{"message":"Service Unavailable"}"#,
            ),
        }
    }

    /// The full response.
    pub fn response(&self, flavour: Flavour) -> HttpResponse {
        let (status, error_type, body) = self.parts(flavour);
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(error_type) = error_type {
            headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
        }
        if let GatewayError::Unauthorized {
            www_authenticate: Some(challenge),
        } = self
            && let Ok(value) = HeaderValue::from_str(challenge)
        {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn every_error_has_the_cloud_wording() {
        let errors = [
            GatewayError::NotFound,
            GatewayError::MissingAuthenticationToken,
            GatewayError::Integration,
            GatewayError::Timeout,
            GatewayError::Throttled,
            GatewayError::PayloadTooLarge,
            GatewayError::Unauthorized {
                www_authenticate: None,
            },
            GatewayError::Forbidden { explicit: true },
            GatewayError::Forbidden { explicit: false },
            GatewayError::AuthorizerFailure,
            GatewayError::BadRequest,
            GatewayError::ShuttingDown,
        ];
        let mut out = String::new();
        for flavour in [Flavour::Rest, Flavour::Http, Flavour::FunctionUrl] {
            for error in &errors {
                let (status, error_type, body) = error.parts(flavour);
                out.push_str(&format!(
                    "{flavour:?} {error:?}: {} {} {body}\n",
                    status.as_u16(),
                    error_type.unwrap_or("-")
                ));
            }
        }
        expect![[r#"
            Rest NotFound: 404 - {"message":"Not Found"}
            Rest MissingAuthenticationToken: 403 MissingAuthenticationTokenException {"message":"Missing Authentication Token"}
            Rest Integration: 502 InternalServerErrorException {"message": "Internal server error"}
            Rest Timeout: 504 InternalServerErrorException {"message": "Endpoint request timed out"}
            Rest Throttled: 429 TooManyRequestsException {"message":"Too Many Requests"}
            Rest PayloadTooLarge: 413 RequestTooLargeException {"message":"Request Entity Too Large"}
            Rest Unauthorized { www_authenticate: None }: 401 UnauthorizedException {"message":"Unauthorized"}
            Rest Forbidden { explicit: true }: 403 AccessDeniedException {"Message":"User is not authorized to access this resource with an explicit deny"}
            Rest Forbidden { explicit: false }: 403 AccessDeniedException {"Message":"User is not authorized to access this resource"}
            Rest AuthorizerFailure: 500 AuthorizerConfigurationException {"message": null}
            Rest BadRequest: 400 BadRequestException {"message":"Bad Request"}
            Rest ShuttingDown: 503 - {"message":"Service Unavailable"}
            Http NotFound: 404 - {"message":"Not Found"}
            Http MissingAuthenticationToken: 403 MissingAuthenticationTokenException {"message":"Missing Authentication Token"}
            Http Integration: 500 - {"message":"Internal Server Error"}
            Http Timeout: 503 - {"message":"Service Unavailable"}
            Http Throttled: 429 - {"message":"Too Many Requests"}
            Http PayloadTooLarge: 413 - {"message":"Request Entity Too Large"}
            Http Unauthorized { www_authenticate: None }: 401 - {"message":"Unauthorized"}
            Http Forbidden { explicit: true }: 403 - {"message":"Forbidden"}
            Http Forbidden { explicit: false }: 403 - {"message":"Forbidden"}
            Http AuthorizerFailure: 500 - {"message":"Internal Server Error"}
            Http BadRequest: 400 - {"message":"Bad Request"}
            Http ShuttingDown: 503 - {"message":"Service Unavailable"}
            FunctionUrl NotFound: 404 - {"message":"Not Found"}
            FunctionUrl MissingAuthenticationToken: 403 MissingAuthenticationTokenException {"message":"Missing Authentication Token"}
            FunctionUrl Integration: 502 - {"message":"Internal Server Error"}
            FunctionUrl Timeout: 503 - {"message":"Service Unavailable"}
            FunctionUrl Throttled: 429 - {"message":"Too Many Requests"}
            FunctionUrl PayloadTooLarge: 413 - {"message":"Request Entity Too Large"}
            FunctionUrl Unauthorized { www_authenticate: None }: 401 - {"message":"Unauthorized"}
            FunctionUrl Forbidden { explicit: true }: 403 - {"message":"Forbidden"}
            FunctionUrl Forbidden { explicit: false }: 403 - {"message":"Forbidden"}
            FunctionUrl AuthorizerFailure: 500 - {"message":"Internal Server Error"}
            FunctionUrl BadRequest: 400 - {"message":"Bad Request"}
            FunctionUrl ShuttingDown: 503 - {"message":"Service Unavailable"}
        "#]]
        .assert_eq(&out);
    }
}
