//! Fast tier: raw HTTP against an in-process server, and the in-process
//! receive API the event-source mapping builds on.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::start;
use fogbank::sqs::{ReceiveRequest, SendInput, SqsConfig, SqsError, SqsService};

struct Reply {
    status: u16,
    query_error: Option<String>,
    body: String,
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::post(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let query_error = response
        .headers()
        .get("x-amzn-query-error")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        query_error,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn json_call(endpoint: &str, action: &str, body: &str) -> Reply {
    post(
        endpoint,
        &[
            ("x-amz-target", &format!("AmazonSQS.{action}")),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

async fn form_call(url: &str, form: &[u8]) -> Reply {
    post(
        url,
        &[("content-type", "application/x-www-form-urlencoded")],
        form.to_vec(),
    )
    .await
}

/// One place that calls the JSON protocol and summarises the reply.
async fn check_json(endpoint: &str, action: &str, body: &str, expected: expect_test::Expect) {
    let reply = json_call(endpoint, action, body).await;
    let value: Value =
        serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()));
    expected.assert_eq(&format!(
        "{} {:?} {}",
        reply.status, reply.query_error, value
    ));
}

#[tokio::test]
async fn bad_json_requests_get_aws_errors() {
    let server = start(false).await;
    let e = &server.endpoint;
    json_call(
        e,
        "CreateQueue",
        r#"{"QueueName":"q","Attributes":{"MaximumMessageSize":"1024"}}"#,
    )
    .await;
    let url = format!("{e}/123456789012/q");
    check_json(e, "SendMessage", "{\"QueueUrl\":", expect_test::expect![[r#"400 None {"__type":"com.amazon.coral.service#SerializationException","message":"Malformed JSON request body: EOF while parsing a value at line 1 column 12"}"#]]).await;
    check_json(e, "Explode", "{}", expect_test::expect![[r#"400 Some("InvalidAction;Sender") {"__type":"com.amazonaws.sqs#InvalidAction","message":"The action Explode is not valid for this endpoint."}"#]]).await;
    check_json(e, "DeleteMessage", &json!({"QueueUrl": url, "ReceiptHandle": "bogus"}).to_string(), expect_test::expect![[r#"404 Some("ReceiptHandleIsInvalid;Sender") {"__type":"com.amazonaws.sqs#ReceiptHandleIsInvalid","message":"The input receipt handle \"bogus\" is not a valid receipt handle."}"#]]).await;
    check_json(e, "SendMessage", &json!({"QueueUrl": url, "MessageBody": "x".repeat(1025)}).to_string(), expect_test::expect![[r#"400 Some("InvalidParameterValue;Sender") {"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."}"#]]).await;
    check_json(e, "SendMessage", &json!({"QueueUrl": url, "MessageBody": "nul\u{0}"}).to_string(), expect_test::expect![[r#"400 Some("InvalidMessageContents;Sender") {"__type":"com.amazonaws.sqs#InvalidMessageContents","message":"Invalid binary character '#x0' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"}"#]]).await;
    check_json(e, "SendMessage", &json!({"QueueUrl": format!("{e}/123456789012/nope"), "MessageBody": "x"}).to_string(), expect_test::expect![[r#"400 Some("AWS.SimpleQueueService.NonExistentQueue;Sender") {"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#]]).await;
    // Invalid UTF-8 in a JSON body.
    let reply = post(
        e,
        &[("x-amz-target", "AmazonSQS.SendMessage")],
        b"{\"QueueUrl\":\"\xff\"}".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains("SerializationException"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn query_protocol_by_path_and_by_url() {
    let server = start(false).await;
    let e = &server.endpoint;
    let created = form_call(e, b"Action=CreateQueue&QueueName=pq&Version=2012-11-05").await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(
        created
            .body
            .contains(&format!("<QueueUrl>{e}/123456789012/pq</QueueUrl>")),
        "{}",
        created.body
    );
    // Addressed by path, as older SDKs do.
    let sent = form_call(
        &format!("{e}/123456789012/pq"),
        b"Action=SendMessage&MessageBody=hi+there%21",
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("<MD5OfMessageBody>"), "{}", sent.body);
    // Invalid UTF-8 in the body is AWS's InvalidMessageContents.
    let bad = form_call(
        &format!("{e}/123456789012/pq"),
        b"Action=SendMessage&MessageBody=%C3%28",
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("<Code>InvalidMessageContents</Code>"),
        "{}",
        bad.body
    );
    let received = form_call(
        e,
        format!("Action=ReceiveMessage&QueueUrl={e}/123456789012/pq&AttributeName.1=All")
            .as_bytes(),
    )
    .await;
    assert!(
        received.body.contains("<Body>hi there!</Body>"),
        "{}",
        received.body
    );
    assert!(
        received
            .body
            .contains("<Name>ApproximateReceiveCount</Name><Value>1</Value>"),
        "{}",
        received.body
    );
    let unknown = form_call(e, b"Action=Levitate").await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body.contains("<Code>InvalidAction</Code>"),
        "{}",
        unknown.body
    );
    let missing = form_call(e, b"Action=GetQueueUrl&QueueName=nope").await;
    assert!(
        missing
            .body
            .contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
        "{}",
        missing.body
    );
    // Query parameters in the URL work too (GET-style query requests).
    let listed = post(&format!("{e}/?Action=ListQueues"), &[], Vec::new()).await;
    assert!(
        listed.body.contains("/123456789012/pq</QueueUrl>"),
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_message_arrives() {
    let server = start(true).await;
    let e = server.endpoint.clone();
    json_call(&e, "CreateQueue", r#"{"QueueName":"lp"}"#).await;
    let url = format!("{e}/123456789012/lp");
    let started = Instant::now();
    let poll = tokio::spawn({
        let (e, url) = (e.clone(), url.clone());
        async move {
            json_call(
                &e,
                "ReceiveMessage",
                &json!({"QueueUrl": url, "WaitTimeSeconds": 20}).to_string(),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_at = Instant::now();
    json_call(
        &e,
        "SendMessage",
        &json!({"QueueUrl": url, "MessageBody": "now"}).to_string(),
    )
    .await;
    let reply = poll.await.unwrap();
    let latency = sent_at.elapsed();
    assert!(reply.body.contains("\"Body\":\"now\""), "{}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "long poll did not return early"
    );
    assert!(
        latency < Duration::from_millis(500),
        "delivery took {latency:?}"
    );
}

fn input(body: &str) -> SendInput {
    SendInput {
        body: body.into(),
        sender_id: "test".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn in_process_receive_api_batches_within_the_window() {
    let server = start(false).await;
    let service = server.service.clone();
    service
        .create_queue("esm", &Default::default(), &Default::default())
        .await
        .unwrap();
    let request = ReceiveRequest {
        max_messages: 5,
        visibility_timeout: Some(Duration::from_secs(30)),
        wait: Duration::from_secs(5),
        batching_window: Duration::from_millis(300),
    };
    let consumer = tokio::spawn({
        let service = service.clone();
        let request = request.clone();
        async move { service.receive_batch("esm", &request).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    service.send_message("esm", input("one")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    service.send_message("esm", input("two")).await.unwrap();
    let batch = consumer.await.unwrap().unwrap();
    let bodies: Vec<&str> = batch.iter().map(|m| &*m.body).collect();
    assert_eq!(bodies, ["one", "two"], "the window gathers both");
    assert_eq!(batch[0].md5_of_body, "f97c5d29941bfb1b2fdab0874906ab82");
    assert_eq!(batch[0].system.approximate_receive_count, 1);
    // Change visibility to 0 hands the message out again; delete removes it.
    service
        .change_message_visibility("esm", &batch[0].receipt_handle, 0)
        .await
        .unwrap();
    service
        .delete_message("esm", &batch[1].receipt_handle)
        .await
        .unwrap();
    let again = service
        .receive_batch(
            "esm",
            &ReceiveRequest {
                batching_window: Duration::ZERO,
                wait: Duration::from_millis(200),
                ..request.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(&*again[0].body, "one");
    assert_eq!(again[0].system.approximate_receive_count, 2);
    // A full batch returns without waiting out the window.
    for i in 0..5 {
        service
            .send_message("esm", input(&format!("m{i}")))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let full = service
        .receive_batch(
            "esm",
            &ReceiveRequest {
                batching_window: Duration::from_secs(10),
                ..request.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(full.len(), 5);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        service.receive_batch("nope", &request).await,
        Err(SqsError::QueueDoesNotExist)
    ));
}

#[tokio::test]
async fn durable_state_survives_reopening_with_in_flight_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = SqsConfig {
        state_dir: Some(dir.path().to_owned()),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        endpoint: "http://127.0.0.1:9324".into(),
    };
    let handle;
    {
        let service = SqsService::open(config.clone()).unwrap();
        let attributes = [("VisibilityTimeout".to_owned(), "600".to_owned())].into();
        service
            .create_queue(
                "keep.fifo",
                &[("FifoQueue".to_owned(), "true".to_owned())].into(),
                &Default::default(),
            )
            .await
            .unwrap();
        service
            .create_queue("keep", &attributes, &Default::default())
            .await
            .unwrap();
        service
            .send_message("keep", input("in flight"))
            .await
            .unwrap();
        service
            .send_message("keep", input("visible"))
            .await
            .unwrap();
        let got = service
            .receive_message("keep", 1, None, Duration::ZERO)
            .await
            .unwrap();
        handle = got[0].receipt_handle.clone();
        let fifo = SendInput {
            message_group_id: Some("g".into()),
            message_deduplication_id: Some("d".into()),
            ..input("f")
        };
        service
            .send_message("keep.fifo", fifo.clone())
            .await
            .unwrap();
    }
    let service = SqsService::open(config).unwrap();
    let counts = service
        .get_queue_attributes(
            "keep",
            &[
                "ApproximateNumberOfMessages".into(),
                "ApproximateNumberOfMessagesNotVisible".into(),
            ],
        )
        .unwrap();
    assert_eq!(counts["ApproximateNumberOfMessages"], "1");
    assert_eq!(counts["ApproximateNumberOfMessagesNotVisible"], "1");
    // The receipt handle from before the restart still deletes.
    service.delete_message("keep", &handle).await.unwrap();
    let counts = service
        .get_queue_attributes("keep", &["ApproximateNumberOfMessagesNotVisible".into()])
        .unwrap();
    assert_eq!(counts["ApproximateNumberOfMessagesNotVisible"], "0");
    // The dedup window survived too.
    let fifo = SendInput {
        message_group_id: Some("g".into()),
        message_deduplication_id: Some("d".into()),
        ..input("f")
    };
    service.send_message("keep.fifo", fifo).await.unwrap();
    let counts = service
        .get_queue_attributes("keep.fifo", &["ApproximateNumberOfMessages".into()])
        .unwrap();
    assert_eq!(counts["ApproximateNumberOfMessages"], "1");
}

#[tokio::test]
async fn template_queues_are_created_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = SqsConfig {
        state_dir: Some(dir.path().to_owned()),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        endpoint: "http://127.0.0.1:9324".into(),
    };
    let queue = |name: &str, redrive: Option<&str>| fogbank::app::Queue {
        logical_id: name.into(),
        name: name.into(),
        fifo: false,
        content_based_deduplication: false,
        visibility_timeout: Some(Duration::from_secs(45)),
        message_retention_period: None,
        delay: None,
        maximum_message_size: None,
        receive_wait_time: None,
        redrive_policy: redrive.map(|arn| fogbank::app::RedrivePolicy {
            dead_letter_target_arn: arn.into(),
            max_receive_count: 3,
        }),
        tags: Default::default(),
    };
    {
        let service = SqsService::open(config.clone()).unwrap();
        // The source queue may come before its DLQ; the target is checked on use.
        let url = service
            .ensure_queue(&queue(
                "Orders",
                Some("arn:aws:sqs:us-east-1:123456789012:Dlq"),
            ))
            .unwrap();
        assert_eq!(url, "http://127.0.0.1:9324/123456789012/Orders");
        service.ensure_queue(&queue("Dlq", None)).unwrap();
        service.send_message("Orders", input("kept")).await.unwrap();
    }
    let service = SqsService::open(config).unwrap();
    service
        .ensure_queue(&queue(
            "Orders",
            Some("arn:aws:sqs:us-east-1:123456789012:Dlq"),
        ))
        .unwrap();
    let attrs = service
        .get_queue_attributes("Orders", &["All".into()])
        .unwrap();
    assert_eq!(attrs["ApproximateNumberOfMessages"], "1");
    assert_eq!(attrs["VisibilityTimeout"], "45");
    assert_eq!(
        service.list_dead_letter_source_queues("Dlq").unwrap(),
        vec!["Orders".to_owned()]
    );
}

#[tokio::test]
async fn the_log_is_compacted_and_stays_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let config = SqsConfig {
        state_dir: Some(dir.path().to_owned()),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        endpoint: "http://127.0.0.1:9324".into(),
    };
    let options = fogbank::sqs::StoreOptions {
        compact_after_bytes: 64 * 1024,
        ..Default::default()
    };
    let mut largest = 0;
    {
        let service = SqsService::open_with(config.clone(), options.clone()).unwrap();
        service
            .create_queue("churn", &Default::default(), &Default::default())
            .await
            .unwrap();
        // Send and delete many messages, keeping the last ten: the live
        // state stays tiny while the log of changes keeps growing.
        for round in 0..300 {
            for i in 0..10 {
                service
                    .send_message(
                        "churn",
                        input(&format!("r{round}-m{i}-{}", "x".repeat(100))),
                    )
                    .await
                    .unwrap();
            }
            if round < 299 {
                let got = service
                    .receive_message("churn", 10, None, Duration::ZERO)
                    .await
                    .unwrap();
                let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
                service
                    .delete_message_batch("churn", &handles)
                    .await
                    .unwrap();
            }
            largest = largest.max(service.log_bytes().unwrap());
        }
        let size = service.log_bytes().unwrap();
        assert!(
            largest < 256 * 1024,
            "the log grew to {largest} bytes without compaction"
        );
        assert!(size < 128 * 1024, "log is {size} bytes after compaction");
    }
    let service = SqsService::open_with(config, options).unwrap();
    let attrs = service
        .get_queue_attributes("churn", &["ApproximateNumberOfMessages".into()])
        .unwrap();
    assert_eq!(attrs["ApproximateNumberOfMessages"], "10");
}
