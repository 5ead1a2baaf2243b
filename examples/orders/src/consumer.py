"""Processes batches of orders from the orders queue.

A valid order is totalled and its summary sent to the processed queue. An
order that can't be processed (not JSON, or with a non-positive quantity) is
reported in batchItemFailures, so only it is retried; after three receives
the queue's RedrivePolicy moves it to the dead-letter queue."""
import json
import os

import boto3

sqs = boto3.client("sqs")
PROCESSED_QUEUE_URL = os.environ["PROCESSED_QUEUE_URL"]


class PoisonOrder(Exception):
    pass


def total_cents(order):
    total = 0
    for item in order.get("items", []):
        quantity = item.get("quantity", 0)
        if not isinstance(quantity, int) or quantity <= 0:
            raise PoisonOrder(f"order {order.get('id')} has an invalid quantity {quantity!r}")
        total += quantity * int(item.get("unitPriceCents", 0))
    return total


def process(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            summary = {
                "orderId": order["id"],
                "totalCents": total_cents(order),
                "receiveCount": int(record["attributes"]["ApproximateReceiveCount"]),
                "source": record["messageAttributes"].get("source", {}).get("stringValue"),
            }
        except (ValueError, KeyError, TypeError, PoisonOrder) as error:
            print(f"cannot process message {record['messageId']}: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        sqs.send_message(QueueUrl=PROCESSED_QUEUE_URL, MessageBody=json.dumps(summary))
    return {"batchItemFailures": failures}
