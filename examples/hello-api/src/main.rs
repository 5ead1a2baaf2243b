//! hello-api: a Rust function behind an API Gateway HTTP API, built with the
//! real `lambda_runtime` crate and unchanged from what would deploy to AWS.
//!
//! Routes (see `template.yaml`):
//! - `GET /hello/{name}` answers a JSON greeting;
//! - `POST /orders` reads an order and answers its computed summary;
//! - `GET /panic` panics on purpose, to exercise crash reporting and the
//!   debugger's "Rust panic" exception filter.
//!
//! The request handling is ordinary synchronous code called from the async
//! handler, one statement per line, so that a debugger steps through it line
//! by line and `stepOut` of a helper lands back in its caller.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use aws_lambda_events::http::header::CONTENT_TYPE;
use base64::Engine as _;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One line of an order, as the client sends it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

/// An order as `POST /orders` receives it, with the total it computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: String,
    pub items: Vec<Item>,
    pub total: u64,
}

/// The body of an order request.
#[derive(Debug, Deserialize)]
struct OrderRequest {
    id: String,
    items: Vec<Item>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    Ok(route(&event.payload))
}

/// Dispatches on the route key API Gateway matched (`GET /hello/{name}`).
fn route(request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    match request.route_key.as_deref() {
        Some("GET /hello/{name}") => {
            let name = request
                .path_parameters
                .get("name")
                .map(String::as_str)
                .unwrap_or("world");
            hello(name)
        }
        Some("POST /orders") => match request_body(request) {
            Ok(body) => create_order(&body),
            Err(message) => json_response(400, &json!({ "message": message })),
        },
        Some("GET /panic") => panic_on_purpose(),
        other => json_response(
            404,
            &json!({ "message": format!("no route for {}", other.unwrap_or("(none)")) }),
        ),
    }
}

/// `GET /hello/{name}`: a greeting. Out of line, like the other route
/// functions, so a debugger shows it as its own frame under `route`.
#[inline(never)]
fn hello(name: &str) -> ApiGatewayV2httpResponse {
    let greeting = format!("Hello, {name}!");
    let length = greeting.chars().count();
    let body = json!({ "message": greeting, "length": length });
    json_response(200, &body)
}

/// `POST /orders`: parses the order, totals it and answers a summary.
#[inline(never)]
fn create_order(body: &str) -> ApiGatewayV2httpResponse {
    let request: OrderRequest = match serde_json::from_str(body) {
        Ok(request) => request,
        Err(error) => {
            return json_response(
                400,
                &json!({ "message": format!("invalid order: {error}") }),
            );
        }
    };
    let mut order = Order {
        id: request.id,
        items: request.items,
        total: 0,
    };
    order.total = order_total(&order.items);
    let item_count: u32 = order.items.iter().map(|item| item.quantity).sum();
    let summary = format!(
        "order {} has {} items totalling {}.{:02}",
        order.id,
        item_count,
        order.total / 100,
        order.total % 100
    );
    json_response(
        201,
        &json!({
            "orderId": order.id,
            "itemCount": item_count,
            "totalCents": order.total,
            "summary": summary,
        }),
    )
}

/// The order's total in cents. Kept out of line so that a debugger can step
/// into it and back out to `create_order`.
#[inline(never)]
fn order_total(items: &[Item]) -> u64 {
    let mut total = 0;
    for item in items {
        let line_total = u64::from(item.quantity) * item.unit_price_cents;
        total += line_total;
    }
    total
}

/// `GET /panic`: panics, as a bug in a handler would.
#[inline(never)]
fn panic_on_purpose() -> ApiGatewayV2httpResponse {
    let reason = String::from("this route panics on purpose");
    panic!("{reason}");
}

/// The request body as text, decoding it when API Gateway sent it as base64.
fn request_body(request: &ApiGatewayV2httpRequest) -> Result<String, String> {
    let raw = request.body.clone().unwrap_or_default();
    if !request.is_base64_encoded {
        return Ok(raw);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .map_err(|error| format!("the body is not valid base64: {error}"))?;
    String::from_utf8(bytes).map_err(|_| "the body is not UTF-8 text".to_owned())
}

fn json_response(status: i64, body: &serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(route_key: &str, name: Option<&str>, body: Option<&str>) -> ApiGatewayV2httpRequest {
        let mut request = ApiGatewayV2httpRequest::default();
        request.route_key = Some(route_key.to_owned());
        if let Some(name) = name {
            request.path_parameters.insert("name".into(), name.into());
        }
        request.body = body.map(str::to_owned);
        request
    }

    fn check(request: ApiGatewayV2httpRequest, status: i64, body: serde_json::Value) {
        let response = route(&request);
        assert_eq!(response.status_code, status);
        let Some(Body::Text(text)) = response.body else {
            panic!("expected a text body, got {:?}", response.body);
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            body
        );
    }

    #[test]
    fn greets_by_name() {
        check(
            request("GET /hello/{name}", Some("Ada"), None),
            200,
            json!({ "message": "Hello, Ada!", "length": 11 }),
        );
    }

    #[test]
    fn totals_an_order() {
        let body = r#"{"id":"o-1","items":[{"sku":"apple","quantity":3,"unit_price_cents":50},{"sku":"pear","quantity":1,"unit_price_cents":125}]}"#;
        check(
            request("POST /orders", None, Some(body)),
            201,
            json!({
                "orderId": "o-1",
                "itemCount": 4,
                "totalCents": 275,
                "summary": "order o-1 has 4 items totalling 2.75",
            }),
        );
    }

    #[test]
    fn rejects_a_malformed_order() {
        let response = route(&request("POST /orders", None, Some("{")));
        assert_eq!(response.status_code, 400);
    }

    #[test]
    fn unknown_route_is_404() {
        let response = route(&request("GET /nope", None, None));
        assert_eq!(response.status_code, 404);
    }
}
