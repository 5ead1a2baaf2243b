"""SQS conformance suite: drives every action with boto3 and the aws CLI.

Usage: conformance.py ENDPOINT PROTOCOL TARGET
  PROTOCOL: json | query
  TARGET:   fogbank | moto

The query protocol is forced with a real client: botocore's own query
serializer and XML parser, driven by AWS's query-era SQS service model
(botocore 1.29.165's `sqs/2012-11-05/service-2.json`, vendored under
query-model/). The caller puts that directory on AWS_DATA_PATH, which
botocore (and so boto3 and the aws CLI) searches before its built-in models.

The same checks run against moto server, so the suite itself is checked
against an independent implementation. Where moto departs from AWS's
documentation, AWS's documented behaviour is asserted for fogbank and the
departure is recorded (not failed) for moto; each one is named in
MOTO_DEPARTURES with the reason.

Prints one line per check and ends with "N passed, N failed".
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import threading
import time
import uuid

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT, PROTOCOL, TARGET = sys.argv[1], sys.argv[2], sys.argv[3]
VENV = os.environ.get("FOGBANK_VENV", "/opt/fbvenv")
RUN = uuid.uuid4().hex[:8]

# Checks where moto (5.2.5) departs from AWS's documentation.
MOTO_DEPARTURES = {
    # AWS's API reference gives ReceiptHandleIsInvalid HTTP status 404;
    # moto answers 400.
    "invalid receipt handle is ReceiptHandleIsInvalid",
    # AWS rejects bodies with characters outside #x9 | #xA | #xD | #x20-#xD7FF
    # | #xE000-#xFFFD | #x10000-#x10FFFF with InvalidMessageContents (also
    # per batch entry); moto accepts them (and then writes XML that its own
    # query responses cannot carry).
    "forbidden character is InvalidMessageContents",
    "send_message_batch per-entry failure",
    # AWS limits VisibilityTimeout to 0..43200 (InvalidAttributeValue);
    # moto accepts any value.
    "out-of-range attribute is InvalidAttributeValue",
    # AWS validates that a RedrivePolicy's target exists; moto does not.
    "redrive to a missing queue is rejected",
    # AWS rejects ChangeMessageVisibility on a message that is not in
    # flight with MessageNotInflight; moto accepts it.
    "change visibility of a visible message is MessageNotInflight",
    # AWS accepts a duplicate inside the 5-minute window without enqueuing
    # it and answers with the original message's MessageId; moto makes up
    # a new id (it does enqueue only once).
    "dedup inside the window returns the original MessageId",
    # AWS delivers a FIFO group's messages in order and never while an
    # earlier message of the group is in flight; moto hands later messages
    # of a group to other consumers while earlier ones are in flight.
    "FIFO order per group with 8 concurrent consumers",
    "FIFO one in-flight batch per group",
}

passed = 0
failed = 0
departures = []


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    elif TARGET == "moto" and name in MOTO_DEPARTURES:
        departures.append(name)
        print(f"moto-departure {name}: {detail}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def error_code(fn, *args, **kwargs):
    """Runs a call expected to fail; returns (code, http status)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def md5_of_attributes(attributes):
    """AWS's MD5OfMessageAttributes, computed independently of the server."""
    m = hashlib.md5()

    def put(b):
        m.update(struct.pack("!I", len(b)))
        m.update(b)

    for name in sorted(attributes):
        value = attributes[name]
        put(name.encode())
        put(value["DataType"].encode())
        if "StringValue" in value:
            m.update(b"\x01")
            put(value["StringValue"].encode())
        else:
            m.update(b"\x02")
            put(value["BinaryValue"])
    return m.hexdigest()


config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=5)
sqs = boto3.client(
    "sqs",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="AKIDFOGBANKTEST",
    aws_secret_access_key="secret",
    config=config,
)
actual_protocol = sqs.meta.service_model.protocol
check(f"client speaks the {PROTOCOL} protocol", actual_protocol == PROTOCOL, actual_protocol)


def name(base):
    return f"{base}-{PROTOCOL}-{RUN}"


# --- Queue management -------------------------------------------------------
url = sqs.create_queue(QueueName=name("basic"), Attributes={"VisibilityTimeout": "5"}, tags={"team": "a"})["QueueUrl"]
check("create_queue returns a URL ending in the name", url.endswith("/" + name("basic")), url)
again = sqs.create_queue(QueueName=name("basic"), Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
check("create_queue is idempotent", again == url, again)
code, _ = error_code(sqs.create_queue, QueueName=name("basic"), Attributes={"VisibilityTimeout": "6"})
check("create_queue with other attributes is QueueAlreadyExists", code == "QueueAlreadyExists", code)
check("get_queue_url", sqs.get_queue_url(QueueName=name("basic"))["QueueUrl"] == url)
code, _ = error_code(sqs.get_queue_url, QueueName=name("missing"))
check("get_queue_url of a missing queue is NonExistentQueue", code == "AWS.SimpleQueueService.NonExistentQueue", code)

for i in range(3):
    sqs.create_queue(QueueName=name(f"page{i}"))
listed = sqs.list_queues(QueueNamePrefix="page")
check("list_queues prefix excludes others", not any(name("basic") in u for u in listed.get("QueueUrls", [])))
first = sqs.list_queues(QueueNamePrefix=name("page")[:4], MaxResults=2)
pages = list(first.get("QueueUrls", []))
token = first.get("NextToken")
while token:
    nxt = sqs.list_queues(QueueNamePrefix=name("page")[:4], MaxResults=2, NextToken=token)
    pages.extend(nxt.get("QueueUrls", []))
    token = nxt.get("NextToken")
mine = [u for u in pages if u.endswith(RUN) and PROTOCOL in u]
check("list_queues pages through all queues", len(mine) == 3 and len(set(pages)) == len(pages), pages)

attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
check("get_queue_attributes All includes QueueArn", attrs.get("QueueArn", "").endswith(":" + name("basic")), attrs)
check("VisibilityTimeout attribute", attrs.get("VisibilityTimeout") == "5", attrs)
check("default MaximumMessageSize is 1 MiB", attrs.get("MaximumMessageSize") == "1048576", attrs.get("MaximumMessageSize"))
for key in ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
            "CreatedTimestamp", "LastModifiedTimestamp", "DelaySeconds", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds"]:
    check(f"attribute {key} present", key in attrs, sorted(attrs))
sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "MessageRetentionPeriod": "120"})
got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
check("set_queue_attributes", got == {"MessageRetentionPeriod": "120"}, got)
code, _ = error_code(sqs.set_queue_attributes, QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
check("out-of-range attribute is InvalidAttributeValue", code == "InvalidAttributeValue", code)

check("list_queue_tags", sqs.list_queue_tags(QueueUrl=url).get("Tags") == {"team": "a"})
sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
check("tag_queue/untag_queue", sqs.list_queue_tags(QueueUrl=url).get("Tags") == {"env": "dev"})

# --- Messages -----------------------------------------------------------------
attributes = {
    "s": {"DataType": "String", "StringValue": "héllo"},
    "n": {"DataType": "Number.int", "StringValue": "42"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
}
body = 'body with <xml> & "quotes"\r\nand CRLF \u00e9 \U0001F600'
sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
check("MD5OfMessageBody", sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(), sent)
check("MD5OfMessageAttributes", sent.get("MD5OfMessageAttributes") == md5_of_attributes(attributes), sent)
received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                               AttributeNames=["All"]).get("Messages", [])
check("receive returns the message", len(received) == 1, received)
m = received[0] if received else {}
check("received body is byte-exact", m.get("Body") == body, repr(m.get("Body")))
check("received MD5OfBody", m.get("MD5OfBody") == hashlib.md5(body.encode()).hexdigest())
check("received attributes", m.get("MessageAttributes") == attributes, m.get("MessageAttributes"))
check("received MD5OfMessageAttributes", m.get("MD5OfMessageAttributes") == md5_of_attributes(attributes))
system = m.get("Attributes", {})
for key in ["SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"]:
    check(f"system attribute {key}", key in system, system)
check("ApproximateReceiveCount is 1", system.get("ApproximateReceiveCount") == "1", system)
selected = sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
# The query-era model predates MessageSystemAttributeNames; it sends
# AttributeNames, which selects system attributes the same way.
selector = {"MessageSystemAttributeNames": ["SentTimestamp"]} if PROTOCOL == "json" else {"AttributeNames": ["SentTimestamp"]}
only = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["s"], **selector)["Messages"][0]
check("MessageAttributeNames selects", set(only.get("MessageAttributes", {})) == {"s"}, only.get("MessageAttributes"))
check("MessageSystemAttributeNames selects", set(only.get("Attributes", {})) == {"SentTimestamp"}, only.get("Attributes"))
sqs.delete_message(QueueUrl=url, ReceiptHandle=only["ReceiptHandle"])
if m:
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    check("change_message_visibility 0 redelivers", len(again) == 1 and again[0]["Attributes"]["ApproximateReceiveCount"] == "2", again)
    if again:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
        # Deleting twice succeeds, as AWS documents.
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
        check("deleting twice succeeds", True)

code, status = error_code(sqs.delete_message, QueueUrl=url, ReceiptHandle="not-a-handle")
check("invalid receipt handle is ReceiptHandleIsInvalid", code == "ReceiptHandleIsInvalid" and status == 404, (code, status))
code, _ = error_code(sqs.send_message, QueueUrl=url, MessageBody="bell \x07")
check("forbidden character is InvalidMessageContents", code == "InvalidMessageContents", code)
code, _ = error_code(sqs.send_message, QueueUrl=url + "-nope", MessageBody="x")
check("send to missing queue is NonExistentQueue", code == "AWS.SimpleQueueService.NonExistentQueue", code)
small = sqs.create_queue(QueueName=name("small"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
code, _ = error_code(sqs.send_message, QueueUrl=small, MessageBody="x" * 1025)
check("oversized message is InvalidParameterValue", code == "InvalidParameterValue", code)
try:
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1048576)
    check("1 MiB message accepted", True)
except ClientError as e:
    check("1 MiB message accepted", False, e.response["Error"])
code, _ = error_code(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
check("MaxNumberOfMessages 11 is InvalidParameterValue", code == "InvalidParameterValue", code)

sqs.purge_queue(QueueUrl=url)
count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
check("purge_queue empties the queue", count["ApproximateNumberOfMessages"] == "0", count)
code, status = error_code(sqs.purge_queue, QueueUrl=url)
check("second purge within 60s is PurgeQueueInProgress", code == "AWS.SimpleQueueService.PurgeQueueInProgress" and status == 403, (code, status))

# --- Batches ------------------------------------------------------------------
batch = sqs.create_queue(QueueName=name("batch"))["QueueUrl"]
result = sqs.send_message_batch(QueueUrl=batch, Entries=[
    {"Id": "a", "MessageBody": "one"},
    {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
])
check("send_message_batch successes", sorted(e["Id"] for e in result.get("Successful", [])) == ["a", "b"], result)
# Per-entry failures go to a queue that is never read, so that a server
# that wrongly accepts the bad entry cannot disturb the checks below.
batch_bad = sqs.create_queue(QueueName=name("batchbad"))["QueueUrl"]
result = sqs.send_message_batch(QueueUrl=batch_bad, Entries=[
    {"Id": "good", "MessageBody": "fine"},
    {"Id": "bad", "MessageBody": "bell \x07"},
])
failed_entries = result.get("Failed", [])
check("send_message_batch per-entry failure", len(failed_entries) == 1 and failed_entries[0]["Id"] == "bad"
      and failed_entries[0]["SenderFault"] and [e["Id"] for e in result.get("Successful", [])] == ["good"], result)
code, _ = error_code(sqs.send_message_batch, QueueUrl=batch, Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}])
check("duplicate ids are BatchEntryIdsNotDistinct", code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", code)
code, _ = error_code(sqs.send_message_batch, QueueUrl=batch, Entries=[{"Id": f"e{i}", "MessageBody": "1"} for i in range(11)])
check("11 entries is TooManyEntriesInBatchRequest", code == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", code)
code, _ = error_code(sqs.send_message_batch, QueueUrl=batch, Entries=[{"Id": "bad id!", "MessageBody": "1"}])
check("invalid id is InvalidBatchEntryId", code == "AWS.SimpleQueueService.InvalidBatchEntryId", code)
code, _ = error_code(sqs.delete_message_batch, QueueUrl=batch, Entries=[])
check("empty batch is EmptyBatchRequest", code == "AWS.SimpleQueueService.EmptyBatchRequest", code)
msgs = sqs.receive_message(QueueUrl=batch, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
check("batch messages received", len(msgs) == 2, msgs)
vis = sqs.change_message_visibility_batch(QueueUrl=batch, Entries=[
    {"Id": f"v{i}", "ReceiptHandle": msg["ReceiptHandle"], "VisibilityTimeout": 60} for i, msg in enumerate(msgs)
] + [{"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 60}])
check("change_message_visibility_batch", len(vis.get("Successful", [])) == 2 and [f["Id"] for f in vis.get("Failed", [])] == ["junk"], vis)
deleted = sqs.delete_message_batch(QueueUrl=batch, Entries=[
    {"Id": f"d{i}", "ReceiptHandle": msg["ReceiptHandle"]} for i, msg in enumerate(msgs)
] + [{"Id": "junk", "ReceiptHandle": "junk"}])
check("delete_message_batch", len(deleted.get("Successful", [])) == 2 and deleted["Failed"][0]["Id"] == "junk"
      and deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", deleted)

# --- Visibility expiry and dead-letter queues -----------------------------------
vq = sqs.create_queue(QueueName=name("vis"), Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
sqs.send_message(QueueUrl=vq, MessageBody="again")
first = sqs.receive_message(QueueUrl=vq).get("Messages", [])
none = sqs.receive_message(QueueUrl=vq).get("Messages", [])
time.sleep(1.3)
second = sqs.receive_message(QueueUrl=vq, AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
check("invisible while in flight", len(first) == 1 and not none, (first, none))
check("visibility expiry re-delivers", len(second) == 1 and second[0]["Attributes"]["ApproximateReceiveCount"] == "2", second)
if second:
    time.sleep(1.3)
    code, _ = error_code(sqs.change_message_visibility, QueueUrl=vq, ReceiptHandle=second[0]["ReceiptHandle"], VisibilityTimeout=5)
    check("change visibility of a visible message is MessageNotInflight",
          code == "AWS.SimpleQueueService.MessageNotInflight", code)

dlq = sqs.create_queue(QueueName=name("dlq"))["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
src = sqs.create_queue(QueueName=name("src"), Attributes={
    "VisibilityTimeout": "1",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
})["QueueUrl"]
code, _ = error_code(sqs.create_queue, QueueName=name("src2"), Attributes={
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn + "-missing", "maxReceiveCount": "2"})})
check("redrive to a missing queue is rejected", code == "InvalidParameterValue", code)
sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq).get("queueUrls", [])
check("list_dead_letter_source_queues", sources == [src], sources)
sqs.send_message(QueueUrl=src, MessageBody="poison")
receives = 0
for _ in range(2):
    got = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=2).get("Messages", [])
    receives += len(got)
    time.sleep(1.2)
after = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages", [])
in_dlq = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2, AttributeNames=["All"]).get("Messages", [])
check("received maxReceiveCount times", receives == 2, receives)
check("then moved to the DLQ", not after and len(in_dlq) == 1 and in_dlq[0]["Body"] == "poison", (after, in_dlq))

# --- Long polling ----------------------------------------------------------------
lp = sqs.create_queue(QueueName=name("longpoll"))["QueueUrl"]
outcome = {}


def poll():
    start = time.monotonic()
    outcome["messages"] = sqs.receive_message(QueueUrl=lp, WaitTimeSeconds=10).get("Messages", [])
    outcome["elapsed"] = time.monotonic() - start


t = threading.Thread(target=poll)
t.start()
time.sleep(0.7)
sent_at = time.monotonic()
sqs.send_message(QueueUrl=lp, MessageBody="wake up")
t.join(15)
check("long poll returns the message", len(outcome.get("messages", [])) == 1, outcome)
check("long poll returns early when a message arrives", outcome.get("elapsed", 99) < 3.0, outcome.get("elapsed"))
start = time.monotonic()
empty = sqs.receive_message(QueueUrl=lp, WaitTimeSeconds=1).get("Messages", [])
took = time.monotonic() - start
check("long poll waits its full time when nothing arrives", not empty and 0.9 <= took < 3, took)

# --- FIFO ------------------------------------------------------------------------
fifo = sqs.create_queue(QueueName=name("order") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
a = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d1")
b = sqs.send_message(QueueUrl=fifo, MessageBody="a again", MessageGroupId="g", MessageDeduplicationId="d1")
check("FIFO send returns a SequenceNumber", "SequenceNumber" in a, a)
check("dedup inside the window returns the original MessageId", a["MessageId"] == b["MessageId"], (a, b))
n = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
check("dedup inside the window enqueues once", n["ApproximateNumberOfMessages"] == "1", n)
code, _ = error_code(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g")
check("FIFO without dedup id or content dedup is rejected", code == "InvalidParameterValue", code)
code, _ = error_code(sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageDeduplicationId="z")
check("FIFO without group id is MissingParameter", code == "MissingParameter", code)
sqs.purge_queue(QueueUrl=fifo)

cfifo = sqs.create_queue(QueueName=name("groups") + ".fifo",
                         Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "30"})["QueueUrl"]
GROUPS, PER_GROUP = 4, 30
for i in range(PER_GROUP):
    entries = [{"Id": f"g{g}", "MessageBody": f"g{g}-{i:03}", "MessageGroupId": f"g{g}"} for g in range(GROUPS)]
    sqs.send_message_batch(QueueUrl=cfifo, Entries=entries)
order = {f"g{g}": [] for g in range(GROUPS)}
in_flight = {}
violations = []
lock = threading.Lock()
stop = time.monotonic() + 60


def consume():
    client = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="AKIDX",
                          aws_secret_access_key="s", config=config)
    while time.monotonic() < stop:
        with lock:
            if sum(len(v) for v in order.values()) >= GROUPS * PER_GROUP:
                return
        got = client.receive_message(QueueUrl=cfifo, MaxNumberOfMessages=3, WaitTimeSeconds=1,
                                     AttributeNames=["MessageGroupId", "SequenceNumber"]).get("Messages", [])
        with lock:
            for msg in got:
                g = msg["Attributes"]["MessageGroupId"]
                if in_flight.get(g, 0) > 0:
                    violations.append(f"group {g} delivered while another consumer holds its messages")
            for msg in got:
                g = msg["Attributes"]["MessageGroupId"]
                in_flight[g] = in_flight.get(g, 0) + 1
                order[g].append(msg["Body"])
        for msg in got:
            # Release before deleting: a delivery in the gap is missed (a
            # false negative), never reported wrongly.
            with lock:
                in_flight[msg["Attributes"]["MessageGroupId"]] -= 1
            client.delete_message(QueueUrl=cfifo, ReceiptHandle=msg["ReceiptHandle"])


threads = [threading.Thread(target=consume) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(90)
expected = {f"g{g}": [f"g{g}-{i:03}" for i in range(PER_GROUP)] for g in range(GROUPS)}
check("FIFO order per group with 8 concurrent consumers", order == expected,
      {g: v[:5] for g, v in order.items() if v != expected[g]})
check("FIFO one in-flight batch per group", not violations, violations[:3])

# --- Delete queue ----------------------------------------------------------------
sqs.delete_queue(QueueUrl=small)
code, _ = error_code(sqs.get_queue_attributes, QueueUrl=small, AttributeNames=["All"])
check("delete_queue", code == "AWS.SimpleQueueService.NonExistentQueue", code)

# --- The aws CLI: every action once ------------------------------------------------
env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDCLI", AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="us-east-1",
           AWS_PAGER="", AWS_MAX_ATTEMPTS="1")


def cli(*args):
    proc = subprocess.run([f"{VENV}/bin/aws", "sqs", *args, "--endpoint-url", ENDPOINT, "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    if proc.returncode != 0:
        return {"__error__": proc.stderr.strip()}
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


# Each CLI call starts a Python interpreter, which takes seconds on a loaded
# machine; the visibility timeout leaves room for several of them between
# the receive and the calls that use its receipt handles.
cq = cli("create-queue", "--queue-name", name("cli"), "--attributes", "VisibilityTimeout=300", "--tags", "k=v")
curl = cq.get("QueueUrl", "")
check("cli create-queue", curl.endswith(name("cli")), cq)
check("cli get-queue-url", cli("get-queue-url", "--queue-name", name("cli")).get("QueueUrl") == curl)
check("cli list-queues", curl in cli("list-queues", "--queue-name-prefix", name("cli")).get("QueueUrls", []))
check("cli get-queue-attributes", cli("get-queue-attributes", "--queue-url", curl, "--attribute-names", "VisibilityTimeout")
      .get("Attributes") == {"VisibilityTimeout": "300"})
check("cli set-queue-attributes", "__error__" not in cli("set-queue-attributes", "--queue-url", curl, "--attributes", "DelaySeconds=0"))
check("cli tag-queue", "__error__" not in cli("tag-queue", "--queue-url", curl, "--tags", "a=b"))
check("cli untag-queue", "__error__" not in cli("untag-queue", "--queue-url", curl, "--tag-keys", "k"))
check("cli list-queue-tags", cli("list-queue-tags", "--queue-url", curl).get("Tags") == {"a": "b"})
s = cli("send-message", "--queue-url", curl, "--message-body", "from cli",
        "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
check("cli send-message", s.get("MD5OfMessageBody") == hashlib.md5(b"from cli").hexdigest(), s)
sb = cli("send-message-batch", "--queue-url", curl, "--entries", json.dumps([{"Id": "1", "MessageBody": "b1"}, {"Id": "2", "MessageBody": "b2"}]))
check("cli send-message-batch", len(sb.get("Successful", [])) == 2, sb)
r = cli("receive-message", "--queue-url", curl, "--max-number-of-messages", "10", "--wait-time-seconds", "1",
        "--message-attribute-names", "All", "--attribute-names", "All")
cm = r.get("Messages", [])
check("cli receive-message", len(cm) == 3, r)
if cm:
    check("cli change-message-visibility", "__error__" not in cli("change-message-visibility", "--queue-url", curl,
          "--receipt-handle", cm[0]["ReceiptHandle"], "--visibility-timeout", "30"))
    cvb = cli("change-message-visibility-batch", "--queue-url", curl, "--entries",
              json.dumps([{"Id": "x", "ReceiptHandle": cm[1]["ReceiptHandle"], "VisibilityTimeout": 30}]))
    check("cli change-message-visibility-batch", len(cvb.get("Successful", [])) == 1, cvb)
    check("cli delete-message", "__error__" not in cli("delete-message", "--queue-url", curl, "--receipt-handle", cm[0]["ReceiptHandle"]))
    check("cli delete-message-batch", len(cli("delete-message-batch", "--queue-url", curl, "--entries",
          json.dumps([{"Id": f"x{i}", "ReceiptHandle": m_["ReceiptHandle"]} for i, m_ in enumerate(cm[1:])])).get("Successful", [])) == len(cm) - 1)
cdlq = cli("create-queue", "--queue-name", name("clidlq")).get("QueueUrl", "")
check("cli list-dead-letter-source-queues", "__error__" not in cli("list-dead-letter-source-queues", "--queue-url", cdlq))
check("cli purge-queue", "__error__" not in cli("purge-queue", "--queue-url", curl))
err = cli("get-queue-url", "--queue-name", name("nothing"))
check("cli error names the AWS code", "NonExistentQueue" in err.get("__error__", ""), err)
check("cli delete-queue", "__error__" not in cli("delete-queue", "--queue-url", curl))

if departures:
    print(f"moto departures from AWS documentation: {len(departures)}: {departures}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
