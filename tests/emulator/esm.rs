//! SQS event source mappings on `examples/orders`: orders sent by the API
//! function (boto3 inside the function, reaching Fogbank's SQS through
//! AWS_ENDPOINT_URL_SQS) and by boto3 from outside are processed by the
//! consumer; a partial batch failure retries only the failed message, and
//! a poison message ends in the dead-letter queue after maxReceiveCount.

use std::time::Instant;

use fogbank_tests::http::send;
use fogbank_tests::{Fogbank, example, python};
use serde_json::{Value, json};

const DRAIN: &str = r#"
import json, sys, time, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1])
url = sys.argv[1] + "/123456789012/" + sys.argv[2]
want = int(sys.argv[3])
deadline = time.time() + float(sys.argv[4])
messages = []
while len(messages) < want and time.time() < deadline:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
    for m in got:
        messages.append({"body": m["Body"], "attributes": m.get("Attributes", {})})
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
print(json.dumps(messages))
"#;

/// Receives (and deletes) up to `want` messages from a queue within `seconds`.
fn drain(fogbank: &Fogbank, queue: &str, want: usize, seconds: u64) -> Vec<Value> {
    let output = python(
        DRAIN,
        &[
            &fogbank.sqs_url(),
            queue,
            &want.to_string(),
            &seconds.to_string(),
        ],
    );
    serde_json::from_str(&output).unwrap()
}

#[tokio::test]
async fn orders_flow_through_the_queue_and_poison_reaches_the_dlq() {
    let app = example("orders");
    let fogbank = Fogbank::start(&app.join("template.yaml"));
    let started = Instant::now();

    // 1. The API function enqueues an order with boto3.
    let event = std::fs::read_to_string(app.join("events/create-order.json")).unwrap();
    let response = send(
        fogbank.lambda,
        "POST",
        "/2015-03-31/functions/CreateOrderFunction/invocations",
        &[],
        event,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: Value = serde_json::from_str(response.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["orderId"], "o-1", "{body}");

    // 2. A batch from outside: two good orders and a poison one.
    python(
        r#"
import json, sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1])
url = sys.argv[1] + "/123456789012/orders"
order = lambda i, q: json.dumps({"id": i, "items": [{"sku": "pen", "quantity": q, "unitPriceCents": 150}]})
sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": order("o-2", 2)},
    {"Id": "b", "MessageBody": order("poison", 0)},
    {"Id": "c", "MessageBody": order("o-3", 4)},
])
"#,
        &[&fogbank.sqs_url()],
    );

    // Every good order is processed exactly once: the partial failure
    // retried only the poison message.
    let processed = drain(&fogbank, "orders-processed", 3, 30);
    let mut summaries: Vec<Value> = processed
        .iter()
        .map(|m| serde_json::from_str(m["body"].as_str().unwrap()).unwrap())
        .collect();
    summaries.sort_by_key(|s| s["orderId"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        summaries,
        vec![
            json!({"orderId": "o-1", "totalCents": 3900, "receiveCount": 1, "source": "orders-api"}),
            json!({"orderId": "o-2", "totalCents": 300, "receiveCount": 1, "source": null}),
            json!({"orderId": "o-3", "totalCents": 600, "receiveCount": 1, "source": null}),
        ]
    );

    // The poison message is received maxReceiveCount (3) times, then moved.
    let dead = drain(&fogbank, "orders-dlq", 1, 40);
    assert_eq!(
        dead.len(),
        1,
        "the poison message reached the DLQ within {:?}",
        started.elapsed()
    );
    assert!(dead[0]["body"].as_str().unwrap().contains("\"poison\""));
    assert_eq!(
        dead[0]["attributes"]["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:123456789012:orders"
    );
    let failures = fogbank.output().matches("cannot process message").count();
    assert_eq!(
        failures,
        3,
        "one failure per receive:\n{}",
        fogbank.output()
    );
    // Nothing is left in the source queue, and no good order was processed twice.
    assert!(drain(&fogbank, "orders", 1, 2).is_empty());
    assert!(drain(&fogbank, "orders-processed", 1, 2).is_empty());
}
