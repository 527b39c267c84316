"""The local stack's state on disk, so that a restart or a crash of `imagegen serve` loses nothing.

moto keeps the emulated AWS in memory. A WSGI layer in front of moto's server notes what each
writing request touched (a table item, an object, a queue) and, once moto has applied it and before
the answer leaves, writes the touched thing's current state to a SQLite file in the state folder.
At the next start the folder is loaded back into moto's backends: every table item, every object
with its metadata, and every message still queued, with its id, receive count and remaining delay.

Hand-written because moto has no persistence: its recorder replays every request, which grows
without bound and cannot replay SQS receipts, receive counts or dead-letter moves. Writing the
current state of what a request touched (not the request) makes concurrent writers converge: the
last write of a key always stores what moto holds then.

Durability: SQLite in WAL mode commits each change before moto's answer is sent, so a kill -9 of
the stack loses only requests whose answer was not yet sent. A power cut may also lose the last
commits since SQLite's last checkpoint (synchronous=NORMAL); the file stays consistent either way.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import sqlite3
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.s3.models import s3_backends
from moto.sqs.models import Message, sqs_backends

logger = logging.getLogger(__name__)

STATE_FILE = "aws.sqlite3"
LOCK_FILE = "lock"
LOCK_WAIT_SECONDS = 5.0
ACCOUNT_ID = "123456789012"  # moto's default account, which the local credentials map to
REGION = "us-east-1"

_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
# Receiving changes a message too: its receive count, or a move to the dead-letter queue.
_SQS_WRITES = {
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "PurgeQueue",
}
# A queued message's fields that outlive a restart (its receipt handle and visibility do not:
# a message in flight when the stack stopped is delivered again, as SQS does after a crash).
_MESSAGE_FIELDS = (
    "id",
    "body",
    "message_attributes",
    "sender_id",
    "sent_timestamp",
    "approximate_first_receive_timestamp",
    "approximate_receive_count",
    "deduplication_id",
    "group_id",
    "sequence_number",
    "delayed_until",
    "system_attributes",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL, item_key TEXT NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (table_name, item_key));
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, metadata TEXT NOT NULL,
    last_modified TEXT NOT NULL, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS messages (
    queue TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (queue, id));
"""


class StateInUse(RuntimeError):
    """Another running stack keeps its state in this folder."""


@dataclass
class Restored:
    """What a start brought back from the state folder."""

    items: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        items = sum(self.items.values())
        queued = sum(self.messages.values())
        text = f"{items} table items, {self.objects} objects, {queued} queued messages"
        if self.skipped:
            text += f" (not restored, no such resource now: {', '.join(sorted(self.skipped))})"
        return text


def _backends() -> tuple[Any, Any, Any]:
    """moto's DynamoDB, S3 and SQS backends of the account and region the local stack uses."""
    return (
        dynamodb_backends[ACCOUNT_ID][REGION],
        s3_backends[ACCOUNT_ID]["aws"],
        sqs_backends[ACCOUNT_ID][REGION],
    )


class StateStore:
    """The SQLite file of one state folder, held by one stack at a time (an advisory lock)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._lock_file = self._hold_lock(folder / LOCK_FILE)
        self._db = sqlite3.connect(folder / STATE_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._mutex = threading.Lock()
        self._queued: dict[str, dict[str, tuple[int, float]]] = {}  # queue -> id -> (receives, delay)

    @staticmethod
    def _hold_lock(path: Path) -> IO[str]:
        """The folder's lock; a stack killed a moment ago may still be ending, so wait a little."""
        handle = path.open("a+")
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise StateInUse(f"the state folder {path.parent} is in use by {holder}") from None
        handle.truncate(0)
        handle.write(f"imagegen serve (pid {os.getppid()})")
        handle.flush()
        return handle

    def close(self) -> None:
        with self._mutex:
            self._db.close()
            self._lock_file.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing what a request touched ----------------------------------------------------------
    def save_items(self, touched: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Store the current state of each (table, key or item) a DynamoDB write named."""
        dynamodb, _, _ = _backends()
        with self._transaction() as db:
            for table_name, attributes in touched:
                table = dynamodb.tables.get(table_name)
                if table is None:
                    continue
                key = {table.hash_key_attr: attributes[table.hash_key_attr]}
                if table.range_key_attr:
                    key[table.range_key_attr] = attributes[table.range_key_attr]
                item_key = json.dumps(key, sort_keys=True)
                item = dynamodb.get_item(table_name, key)
                if item is None:
                    db.execute("DELETE FROM items WHERE table_name=? AND item_key=?", (table_name, item_key))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                        # moto's own encoder writes the wire format (binary in base64) put_item reads
                        (table_name, item_key, dynamo_json_dump(item.to_json()["Attributes"])),
                    )

    def save_objects(self, bucket_name: str, keys: Iterable[str]) -> None:
        """Store each named object as it is now (its bytes and metadata), or forget it if gone."""
        _, s3, _ = _backends()
        with self._transaction() as db:
            for key_name in keys:
                key = s3.get_object(bucket_name, key_name) if bucket_name in s3.buckets else None
                if key is None:
                    db.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket_name, key_name))
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                    (
                        bucket_name,
                        key_name,
                        key.value,
                        json.dumps(dict(key.metadata)),
                        key.last_modified.isoformat(),
                    ),
                )

    def save_queue(self, queue_name: str) -> None:
        """Bring the stored messages of a queue, and of its dead-letter queue, in line with moto's."""
        _, _, sqs = _backends()
        queue = sqs.queues.get(queue_name)
        if queue is None:
            return
        with self._transaction() as db:
            for each in (queue, queue.dead_letter_queue):
                if each is not None:
                    self._sync_queue(db, each)

    def _sync_queue(self, db: sqlite3.Connection, queue: Any) -> None:
        known = self._queued.setdefault(queue.name, {})
        now = {message.id: message for message in list(queue._messages)}
        for gone in known.keys() - now.keys():
            db.execute("DELETE FROM messages WHERE queue=? AND id=?", (queue.name, gone))
            del known[gone]
        for position, (message_id, message) in enumerate(now.items()):
            state = (message.approximate_receive_count, message.delayed_until)
            if known.get(message_id) == state:
                continue
            fields = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
            db.execute(
                "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?)",
                (queue.name, message_id, position, json.dumps(fields)),
            )
            known[message_id] = state

    # -- loading it back --------------------------------------------------------------------------
    def restore(self) -> Restored:
        """Load the stored state into moto's (freshly created) tables, buckets and queues."""
        dynamodb, s3, sqs = _backends()
        restored = Restored()
        with self._mutex:
            self._restore_items(dynamodb, restored)
            self._restore_objects(s3, restored)
            self._restore_messages(sqs, restored)
        restored.skipped = sorted(set(restored.skipped))  # one line per missing resource
        return restored

    def _restore_items(self, dynamodb: Any, restored: Restored) -> None:
        for table_name, item in self._db.execute("SELECT table_name, item FROM items"):
            if table_name not in dynamodb.tables:
                restored.skipped.append(f"table {table_name}")
                continue
            dynamodb.put_item(table_name, json.loads(item))
            restored.items[table_name] = restored.items.get(table_name, 0) + 1

    def _restore_objects(self, s3: Any, restored: Restored) -> None:
        rows = self._db.execute("SELECT bucket, key, body, metadata, last_modified FROM objects")
        for bucket_name, key_name, body, metadata, last_modified in rows:
            if bucket_name not in s3.buckets:
                restored.skipped.append(f"bucket {bucket_name}")
                continue
            key = s3.put_object(bucket_name, key_name, body, disable_notification=True)
            key.set_metadata(json.loads(metadata))
            key.last_modified = datetime.fromisoformat(last_modified)
            restored.objects += 1

    def _restore_messages(self, sqs: Any, restored: Restored) -> None:
        rows = self._db.execute("SELECT queue, message FROM messages ORDER BY queue, position")
        for queue_name, stored in rows:
            queue = sqs.queues.get(queue_name)
            if queue is None:
                restored.skipped.append(f"queue {queue_name}")
                continue
            fields = json.loads(stored)
            message = Message(fields["id"], fields["body"], fields["system_attributes"])
            for name, value in fields.items():
                setattr(message, name, value)
            queue._messages.append(message)
            known = self._queued.setdefault(queue_name, {})
            known[message.id] = (message.approximate_receive_count, message.delayed_until)
            restored.messages[queue_name] = restored.messages.get(queue_name, 0) + 1


# -- what a request touches ---------------------------------------------------------------------
def _dynamodb_touched(operation: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key or whole item) of every item a DynamoDB write may have changed."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(body["TableName"], body.get("Key") or body["Item"])]
    if operation == "BatchWriteItem":
        return [
            (table, (request.get("PutRequest") or {}).get("Item") or request["DeleteRequest"]["Key"])
            for table, requests in body["RequestItems"].items()
            for request in requests
        ]
    touched = []  # TransactWriteItems
    for action in body["TransactItems"]:
        for kind in ("Put", "Update", "Delete"):
            if kind in action:
                touched.append((action[kind]["TableName"], action[kind].get("Key") or action[kind]["Item"]))
    return touched


def _s3_keys_deleted(body: bytes) -> list[str]:
    """The keys of a DeleteObjects request (`POST /bucket?delete`)."""
    root = ElementTree.fromstring(body)  # noqa: S314 - moto has already parsed and accepted this body
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


@dataclass
class _Touched:
    """What one request may change, worked out before moto sees it."""

    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    bucket: str = ""
    keys: list[str] = field(default_factory=list)
    queue: str = ""


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _touched_by(environ: dict[str, Any]) -> _Touched:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    service, _, operation = target.partition(".")
    if service.startswith("DynamoDB") and operation in _DYNAMODB_WRITES:
        return _Touched(items=_dynamodb_touched(operation, json.loads(_read_body(environ))))
    if service == "AmazonSQS" and operation in _SQS_WRITES:
        queue_url = json.loads(_read_body(environ)).get("QueueUrl", "")
        return _Touched(queue=urlsplit(queue_url).path.rstrip("/").rsplit("/", 1)[-1])
    if target or environ["REQUEST_METHOD"] not in ("PUT", "POST", "DELETE"):
        return _Touched()
    return _s3_touched(environ)


def _s3_touched(environ: dict[str, Any]) -> _Touched:
    """A path-style S3 write (the local endpoint is an IP address, so clients use path style)."""
    # The raw path, unquoted once: PATH_INFO is unquoted already, and in latin-1 (PEP 3333).
    path = urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").path
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not key and environ["REQUEST_METHOD"] == "POST" and "delete" in query:
        return _Touched(bucket=bucket, keys=_s3_keys_deleted(_read_body(environ)))
    if key and not ({"uploadId", "partNumber"} <= query.keys()):  # a part is no object yet
        return _Touched(bucket=bucket, keys=[key])
    return _Touched()


class PersistingApp:
    """WSGI: moto's application, with each write's result stored before its answer is sent."""

    def __init__(self, app: Callable[..., Any], store: StateStore) -> None:
        self.app, self.store = app, store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            touched = _touched_by(environ)
        except (ValueError, KeyError, TypeError, ElementTree.ParseError):
            touched = _Touched()  # a request moto will refuse: it changes nothing
        answer = self.app(environ, start_response)
        if touched == _Touched():
            return answer  # reads (object downloads among them) stream through untouched
        body = b"".join(answer)  # moto's answer is computed already; this only collects it
        with contextlib.suppress(AttributeError):
            answer.close()
        self._save(touched)
        return [body]

    def _save(self, touched: _Touched) -> None:
        try:
            if touched.items:
                self.store.save_items(touched.items)
            if touched.keys:
                self.store.save_objects(touched.bucket, touched.keys)
            if touched.queue:
                self.store.save_queue(touched.queue)
        except Exception:  # a bug here must show, not pass silently as lost state
            logger.exception("could not write the local stack's state for %s", touched)
            raise
