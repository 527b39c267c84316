"""The emulated AWS keeps what each write left in its state folder and brings it back at start:
table items (every write operation), objects with their metadata, queued messages with their
receive counts, delays and dead-letter moves."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagegen.local.aws import EmulatedAws
from imagegen.local.state import StateInUse

TABLE, BUCKET, QUEUE, DLQ = "table", "bucket", "queue", "queue-dlq"


def _create(aws: EmulatedAws) -> dict[str, str]:
    """The same resources on every start, as the stack creates them from its template."""
    aws.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("s3").create_bucket(Bucket=BUCKET)
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    queue = sqs.create_queue(QueueName=QUEUE, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "0"})
    return {"queue": queue["QueueUrl"], "dlq": dlq}


@pytest.fixture
def restart(tmp_path: Path) -> Iterator[Any]:
    """Start the emulated AWS on one state folder; each call stops the previous one first."""
    running: list[EmulatedAws] = []

    def start() -> tuple[EmulatedAws, dict[str, str]]:
        if running:
            running.pop().stop()
        aws = EmulatedAws(state_dir=tmp_path / "state")
        aws.start()
        running.append(aws)
        urls = _create(aws)
        aws.last_restored = aws.restore()  # type: ignore[attr-defined]
        return aws, urls

    yield start
    for aws in running:
        aws.stop()


def _key(pk: str, sk: str = "a") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _items(aws: EmulatedAws) -> dict[str, dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {f"{item['pk']['S']}/{item['sk']['S']}": item for item in items}


def test_every_kind_of_table_write_is_kept(restart: Any) -> None:
    aws, _ = restart()
    db = aws.client("dynamodb")
    db.put_item(TableName=TABLE, Item={**_key("put"), "n": {"N": "1"}, "tags": {"SS": ["x", "y"]}})
    db.put_item(TableName=TABLE, Item={**_key("gone"), "n": {"N": "1"}})
    db.update_item(
        TableName=TABLE,
        Key=_key("put"),
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    db.delete_item(TableName=TABLE, Key=_key("gone"))
    db.batch_write_item(
        RequestItems={
            TABLE: [{"PutRequest": {"Item": {**_key("batch"), "m": {"M": {"deep": {"L": [{"S": "v"}]}}}}}}]
        }
    )
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("tx"), "b": {"B": b"\x00\xff"}}}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": _key("put"),
                    "UpdateExpression": "SET s = :s",
                    "ExpressionAttributeValues": {":s": {"S": "é"}},
                }
            },
        ]
    )
    with pytest.raises(db.exceptions.ConditionalCheckFailedException):  # refused writes change nothing
        db.put_item(
            TableName=TABLE,
            Item={**_key("put"), "n": {"N": "99"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    before = _items(aws)

    aws, _ = restart()
    assert _items(aws) == before
    assert set(before) == {"put/a", "batch/a", "tx/a"} and before["put/a"]["n"] == {"N": "2"}
    assert aws.last_restored.items == {TABLE: 3}


def test_objects_are_kept_with_their_metadata_and_deletes_are_kept_too(restart: Any) -> None:
    aws, _ = restart()
    s3 = aws.client("s3")
    png = bytes(range(256)) * 4096  # 1 MiB, not valid UTF-8
    s3.put_object(
        Bucket=BUCKET, Key="posts/1/a b+c.png", Body=png, ContentType="image/png", Metadata={"job": "j1"}
    )
    for key in ("x/1", "x/2", "x/3", "é/%41 ?#.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    s3.delete_object(Bucket=BUCKET, Key="x/1")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "x/2"}]})
    s3.copy_object(Bucket=BUCKET, Key="copy.png", CopySource={"Bucket": BUCKET, "Key": "posts/1/a b+c.png"})

    aws, _ = restart()
    s3 = aws.client("s3")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == [
        "copy.png",
        "posts/1/a b+c.png",
        "x/3",
        "é/%41 ?#.json",
    ]
    kept = s3.get_object(Bucket=BUCKET, Key="posts/1/a b+c.png")
    assert (
        kept["Body"].read() == png
        and kept["ContentType"] == "image/png"
        and kept["Metadata"] == {"job": "j1"}
    )
    assert s3.get_object(Bucket=BUCKET, Key="copy.png")["Body"].read() == png


def test_queued_messages_keep_their_id_receive_count_delay_and_dead_letter_moves(restart: Any) -> None:
    aws, urls = restart()
    sqs = aws.client("sqs")
    received_once = sqs.send_message(QueueUrl=urls["queue"], MessageBody="received once")["MessageId"]
    assert (
        sqs.receive_message(QueueUrl=urls["queue"], MaxNumberOfMessages=1)["Messages"][0]["MessageId"]
        == received_once
    )
    delayed = sqs.send_message(QueueUrl=urls["queue"], MessageBody="later", DelaySeconds=900)["MessageId"]
    done = sqs.send_message(QueueUrl=urls["queue"], MessageBody="done")["MessageId"]
    for message in sqs.receive_message(QueueUrl=urls["queue"], MaxNumberOfMessages=10)["Messages"]:
        if message["MessageId"] == done:
            sqs.delete_message(QueueUrl=urls["queue"], ReceiptHandle=message["ReceiptHandle"])
    # "received once" has now been received twice: the next receive moves it to the dead-letter queue
    sqs.receive_message(QueueUrl=urls["queue"], MaxNumberOfMessages=10)

    aws, urls = restart()
    sqs = aws.client("sqs")
    assert aws.last_restored.messages == {DLQ: 1, QUEUE: 1}
    dead = sqs.receive_message(QueueUrl=urls["dlq"], AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(received_once, "received once")]
    assert sqs.receive_message(QueueUrl=urls["queue"], MaxNumberOfMessages=10).get("Messages", []) == []
    attributes = sqs.get_queue_attributes(
        QueueUrl=urls["queue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # still delayed: ~900 s left
    assert delayed


def test_a_state_folder_serves_one_stack_at_a_time(tmp_path: Path) -> None:
    first = EmulatedAws(state_dir=tmp_path)
    first.start()
    try:
        second = EmulatedAws(state_dir=tmp_path)
        started = time.monotonic()
        with pytest.raises(StateInUse, match="is in use by imagegen serve"):
            second.start()
        assert time.monotonic() - started < 30
        second.stop()
    finally:
        first.stop()
