"""POST /orders: validates the request just enough and enqueues the order.

boto3 reaches the queue through AWS_ENDPOINT_URL_SQS, which Lambda leaves
unset and Fogbank points at its own SQS API, so this code is unchanged
between the cloud and the laptop."""
import base64
import json
import os

import boto3

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["ORDERS_QUEUE_URL"]


def create_order(event, context):
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        # HTTP APIs base64-encode bodies whose content type isn't text, such
        # as curl's default application/x-www-form-urlencoded.
        body = base64.b64decode(body)
    try:
        order = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return respond(400, {"message": "the body must be a JSON order"})
    if not isinstance(order, dict) or "id" not in order:
        return respond(400, {"message": "an order needs an id"})
    sent = sqs.send_message(
        QueueUrl=QUEUE_URL,
        MessageBody=json.dumps(order),
        MessageAttributes={
            "source": {"DataType": "String", "StringValue": "orders-api"},
        },
    )
    return respond(202, {"orderId": order["id"], "messageId": sent["MessageId"]})


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
