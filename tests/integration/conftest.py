"""Integration tests: the real handlers and boto3 against a moto server on loopback."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from imagegen.config import get_settings
from imagegen.dal.clients import reset_clients
from imagegen.local.aws import FAKE_CREDENTIALS, EmulatedAws
from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.poller import poll_once
from imagegen.local.template import Template
from imagegen.logic.services import default_services
from tests.helpers import SECRET, http_event

FUNCTIONS = ("generate", "batch", "status", "worker", "authorizer")


@pytest.fixture(scope="session")
def moto() -> Iterator[EmulatedAws]:
    aws = EmulatedAws()
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    template = Template()
    logical = {
        "generate": "GenerateFunction",
        "batch": "BatchFunction",
        "status": "StatusFunction",
        "worker": "WorkerFunction",
        "authorizer": "AuthorizerFunction",
    }
    return {name: load_handler(template.code_dir(logical[name])) for name in FUNCTIONS}


@dataclass
class Deployed:
    """The emulated resources of one test, and ways to call the functions on them."""

    template: Template
    handlers: dict[str, Any]

    def name(self, logical_id: str) -> str:
        return self.template.physical[logical_id]["Ref"]

    @property
    def bucket(self) -> str:
        return self.name("ImagesBucket")

    @property
    def queue_url(self) -> str:
        return self.name("GenerateQueue")

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        response = self.handlers[function](http_event(method, path, **kwargs), LocalContext(function, 29))
        body = response.get("body")
        return response["statusCode"], response.get("headers", {}), json.loads(body) if body else None

    def drain(self, max_messages: int = 10, max_rounds: int = 100) -> int:
        """Run the worker on queued messages until the queue has none; how many were received."""
        sqs = boto3.client("sqs")
        arn = self.template.physical["GenerateQueue"]["Arn"]
        total = 0
        for _ in range(max_rounds):
            received = poll_once(
                sqs, self.handlers["worker"], "worker", self.queue_url, arn, "us-east-1", max_messages, 300
            )
            if not received:
                return total
            total += received
        return total

    def keys(self, prefix: str = "") -> list[str]:
        answer = boto3.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for obj in answer.get("Contents", []))

    def get_object(self, key: str) -> bytes:
        return bytes(boto3.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def table_rows(self) -> int:
        return int(boto3.client("dynamodb").scan(TableName=self.name("JobsTable"), Select="COUNT")["Count"])

    def queue_depth(self, logical_id: str = "GenerateQueue") -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.name(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def deployed(
    moto: EmulatedAws, handlers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployed]:
    """Fresh resources from the template for each test, and the handlers' settings pointed at them."""
    reset = urllib.request.Request(f"{moto.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()
    template = Template()
    for name, value in {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": moto.endpoint}.items():
        monkeypatch.setenv(name, value)
    moto.create_resources(template, SECRET)
    env = {
        "JOBS_TABLE": template.physical["JobsTable"]["Ref"],
        "LIMITS_TABLE": template.physical["LimitsTable"]["Ref"],
        "CACHE_TABLE": template.physical["CacheTable"]["Ref"],
        "IDEMPOTENCY_TABLE": template.physical["IdempotencyTable"]["Ref"],
        "IMAGES_BUCKET": template.physical["ImagesBucket"]["Ref"],
        "QUEUE_URL": template.physical["GenerateQueue"]["Ref"],
        "JWT_SECRET_ARN": template.physical["JwtSecret"]["Ref"],
        "RETRY_BASE_DELAY_SECONDS": "0",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    forget_caches()
    yield Deployed(template, handlers)
    forget_caches()


def forget_caches() -> None:
    get_settings.cache_clear()
    default_services.cache_clear()
    reset_clients()
