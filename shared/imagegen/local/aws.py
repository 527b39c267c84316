"""Emulated AWS: moto's server on loopback, with the template's tables, bucket, queues and secret.

Like the rest of imagegen.local this is dev tooling standing in for AWS, so it talks to boto3
directly; the service's own code reaches AWS only through imagegen.dal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from imagegen.local.state import PersistingApp, Restored, StateInUse, StateStore
from imagegen.local.template import Template

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
PARENT_CHECK_SECONDS = 0.5  # how soon the emulated AWS notices that its stack was killed


def _make_dynamodb_writes_atomic() -> None:
    """DynamoDB applies each write (`SET n = n + :one`, a transaction) atomically; moto's threaded
    server does not lock, so concurrent workers would lose counter updates. One lock restores it."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def atomic(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))


def _serve_moto(host: str, port: int, parent: Connection, state_dir: str | None, parent_pid: int) -> None:
    """Child process: a moto server whose state belongs to this stack alone, kept in `state_dir`
    when one is given. It ends with the stack, even one killed with SIGKILL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _make_dynamodb_writes_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call is noise
    try:
        store = StateStore(Path(state_dir)) if state_dir else None
    except StateInUse as in_use:
        parent.send(("error", str(in_use)))
        return
    app: Any = DomainDispatcherApplication(create_backend_app)
    if store:
        app = PersistingApp(app, store)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="moto").start()
    parent.send(("ready", server.server_address[:2]))
    while os.getppid() == parent_pid:  # else the stack was killed: end with it
        if not parent.poll(PARENT_CHECK_SECONDS):
            continue
        try:
            command = parent.recv()
        except EOFError:  # the stack is gone
            break
        if command == "stop":
            break
        if command == "restore":  # the stack has created its resources
            parent.send(("restored", store.restore() if store else Restored()))
    server.shutdown()
    if store:
        store.close()


def emulated_client(service: str, endpoint: str, config: Config | None = None) -> Any:
    """A boto3 client for the emulated AWS at `endpoint`, with its fake credentials."""
    return boto3.session.Session().client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


class EmulatedAws:
    """A moto server in its own process; `create_resources` builds what the template declares,
    `restore` brings back what the state folder kept (when there is one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state_dir: Path | None = None) -> None:
        self.host, self.port = host, port
        context = multiprocessing.get_context("spawn")
        self._child, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve_moto,
            args=(host, port, child_end, str(state_dir) if state_dir else None, os.getpid()),
            daemon=True,
            name="moto-server",
        )
        self.endpoint = ""
        self._clients: dict[tuple[str, str], Any] = {}

    def _answer(self, expected: str, seconds: float) -> Any:
        if not self._child.poll(seconds):
            raise RuntimeError(f"the emulated AWS (moto server) did not answer within {seconds:.0f} s")
        try:
            kind, value = self._child.recv()
        except EOFError:
            raise RuntimeError("the emulated AWS (moto server) ended at start; its error is above") from None
        if kind == "error":
            raise StateInUse(value)
        assert kind == expected, (kind, expected)
        return value

    def start(self) -> str:
        self._process.start()
        host, port = self._answer("ready", 60)
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def restore(self) -> Restored:
        """Load the state folder into the created resources (nothing when the stack keeps no state)."""
        self._child.send("restore")
        restored: Restored = self._answer("restored", 300)
        return restored

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # BrokenPipeError: it has ended already
                self._child.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()

    def client(self, service: str) -> Any:
        """One client per service, made once: making a boto3 client loads its service model (tens of
        milliseconds of CPU), and creating a template's resources asks for one per resource."""
        if (service, self.endpoint) not in self._clients:
            self._clients[service, self.endpoint] = emulated_client(service, self.endpoint)
        return self._clients[service, self.endpoint]

    def create_resources(self, template: Template, jwt_secret: str) -> None:
        """Create every emulated resource and record its physical names in the template."""
        for name, res in template.of_type("AWS::DynamoDB::Table").items():
            self._table(template, name, res["Properties"])
        for name, res in template.of_type("AWS::S3::Bucket").items():
            self._bucket(template, name, res["Properties"])
        queues = template.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the others name them in their redrive policy.
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n]["Properties"]):
            self._queue(template, name, queues[name]["Properties"])
        for name, res in template.of_type("AWS::S3::Bucket").items():  # they name the queues: last
            self._bucket_notifications(template, name, res["Properties"])
        for name in template.of_type("AWS::SecretsManager::Secret"):
            arn = self.client("secretsmanager").create_secret(
                Name=f"{template.stack_name}-{name}", SecretString=jwt_secret
            )["ARN"]
            template.physical[name] = {"Ref": arn, "Arn": arn}

    def _table(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        dynamodb = self.client("dynamodb")
        table_name = props["TableName"]
        spec: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            spec["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        description = dynamodb.create_table(**spec)["TableDescription"]
        arn = description["TableArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        template.physical[name] = {"Ref": table_name, "Arn": arn}
        if description.get("LatestStreamArn"):
            template.physical[name]["StreamArn"] = description["LatestStreamArn"]

    def _bucket(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        s3 = self.client("s3")
        bucket = props["BucketName"]
        s3.create_bucket(Bucket=bucket)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            rules = [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... field
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if "CorsConfiguration" in props:  # CloudFormation's MaxAge is the API's MaxAgeSeconds
            cors = [
                {("MaxAgeSeconds" if key == "MaxAge" else key): value for key, value in rule.items()}
                for rule in props["CorsConfiguration"]["CorsRules"]
            ]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors})
        template.physical[name] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}

    def _bucket_notifications(self, template: Template, name: str, props: dict[str, Any]) -> None:
        """The bucket's S3 -> SQS notifications, in the API's shape; moto delivers them (and first
        an s3:TestEvent, as S3 does). The queue policy is not emulated: moto does not check it."""
        config = template.resolve(props.get("NotificationConfiguration") or {})
        queues = [
            {
                "QueueArn": queue["Queue"],
                "Events": [queue["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}}}
                    if "Filter" in queue
                    else {}
                ),
            }
            for queue in config.get("QueueConfigurations", [])
        ]
        if queues:
            self.client("s3").put_bucket_notification_configuration(
                Bucket=template.physical[name]["Ref"],
                NotificationConfiguration={"QueueConfigurations": queues},
            )

    def _queue(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        sqs = self.client("sqs")
        attributes = {
            "VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
            "MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600)),
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        template.physical[name] = {"Ref": url, "Arn": arn, "QueueName": props["QueueName"]}
