"""The whole local stack: emulated AWS, the functions, the HTTP front and the SQS event sources."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imagegen.config import settings_from
from imagegen.local import DEFAULT_PORT
from imagegen.local.aws import FAKE_CREDENTIALS, EmulatedAws
from imagegen.local.front import ApiFront
from imagegen.local.lambdas import LambdaFunction
from imagegen.local.poller import SqsEventSource, sqs_client
from imagegen.local.schedules import ScheduleSource
from imagegen.local.state import Restored
from imagegen.local.streams import DynamoDbStreamSource, streams_client
from imagegen.local.template import TEMPLATE_PATH, Schedule, Template
from imagegen.local.websocket import WebSocketFront
from imagegen.logic.capacity import worker_concurrency
from imagegen.providers.factory import provider_name

# A documented, local-only default: in AWS the secret comes from Secrets Manager.
LOCAL_JWT_SECRET = "imagegen-local-development-secret-not-for-production"  # noqa: S105
API_CONTAINERS = 8
# The web page's sign-in button: the front answers it itself, so it exists on this stack only.
LOCAL_TOKEN_PATH = "/local/token"  # noqa: S105 - a path, not a secret
LOCAL_TOKEN_TTL_SECONDS = 8 * 3600
_LOCAL_SUB = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
TEMPLATE_PARAMETERS = ("CORS_ALLOWED_ORIGINS", "WORKER_MAX_RECEIVES")
WARM_WORKER_CONTAINERS = 2  # started with the stack, so the first items wait for no cold start
# Every schedule's period, in seconds, instead of the template's rate (tests and demos poll each second).
SCHEDULE_SECONDS_VARIABLE = "LOCAL_SCHEDULE_SECONDS"


class LocalStack:
    """Start with `start()`, stop with `stop()`; `url` is where the API answers."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        template_path: Path = TEMPLATE_PATH,
        environ: Mapping[str, str] | None = None,
        state_dir: Path | None = None,
        websocket_port: int | None = None,
    ) -> None:
        """`state_dir`: the folder that keeps the emulated AWS's state across restarts and crashes
        (`imagegen serve` passes LOCAL_STATE_DIR, default .imagegen); None keeps it in memory.
        `websocket_port`: the WebSocket API's; by default the next port (3561), any free one with port 0."""
        self.host, self.port = host, port
        self.websocket_port = websocket_port if websocket_port is not None else (port + 1 if port else 0)
        self.websocket: WebSocketFront | None = None
        self.state_dir = state_dir
        # The caller's environment wins over the template's values, as `sam local --env-vars` does.
        self.environ = dict(os.environ if environ is None else environ)  # noqa: TID251 - the local runtime's input
        # Settings that are template parameters at deploy time go in as those parameters, so that
        # everything built from one agrees (WorkerMaxReceives: the queue's maxReceiveCount and the
        # worker's WORKER_MAX_RECEIVES).
        deployed = settings_from({k: v for k, v in self.environ.items() if k in TEMPLATE_PARAMETERS})
        self.template = Template(
            template_path,
            parameters={
                "CorsAllowedOrigins": ",".join(deployed.cors_allowed_origins),
                "WorkerMaxReceives": str(deployed.worker_max_receives),
            },
        )
        self.aws = EmulatedAws(host, state_dir=state_dir)
        self.restored = Restored()
        self.functions: dict[str, LambdaFunction] = {}
        self.event_sources: list[SqsEventSource] = []
        self.stream_sources: list[DynamoDbStreamSource] = []
        self.schedule_sources: list[ScheduleSource] = []
        self.schedule_seconds = _schedule_seconds(self.environ.get(SCHEDULE_SECONDS_VARIABLE))
        self.front: ApiFront | None = None
        self.started_seconds = 0.0

    @property
    def jwt_secret(self) -> str:
        return self.environ.get("JWT_SECRET") or LOCAL_JWT_SECRET

    def local_token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST /local/token `{"sub": "name"}`: a token for that name, signed with this stack's JWT
        secret (as `imagegen token`); the front listens on loopback only."""
        from imagegen.logic.auth import mint_token

        try:
            sub = json.loads(body or b"{}").get("sub", "local-user")
        except (ValueError, AttributeError):
            sub = None
        if not isinstance(sub, str) or not _LOCAL_SUB.fullmatch(sub):
            message = 'send {"sub": "name"}: 1-64 letters, digits, _ . @ -'
            return 400, {"error": "invalid_request", "message": message}
        settings = settings_from(self.function_env(self.template.authorizer_function()))
        token = mint_token(settings, sub, self.jwt_secret, ttl_seconds=LOCAL_TOKEN_TTL_SECONDS)
        return 200, {"token": token, "sub": sub, "expires_in": LOCAL_TOKEN_TTL_SECONDS}

    @property
    def _worker_sources(self) -> list[SqsEventSource]:
        return [source for source in self.event_sources if source.function.name == "WorkerFunction"]

    @property
    def deliveries(self) -> int:
        """Item messages handed to the worker so far (a record delivered twice counts twice)."""
        return sum(source.deliveries for source in self._worker_sources)

    @property
    def invocations(self) -> int:
        """Worker invocations made by its event source so far."""
        return sum(source.invocations for source in self._worker_sources)

    @property
    def url(self) -> str:
        port = self.front.port if self.front else self.port
        return f"http://{self.host}:{port}"

    @property
    def provider(self) -> str:
        """The provider the queue's worker draws with, from the settings its processes get."""
        names = {provider_name(settings_from(self.function_env(name))) for name in self._sqs_events()}
        return ", ".join(sorted(names))

    def function_env(self, function: str) -> dict[str, str]:
        """The whole environment a function's processes get: the caller's, then the emulated AWS,
        then the template's variables, which the caller's own values override."""
        env = {name: value for name, value in self.environ.items() if not name.startswith("AWS_")}
        env.update(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=self.aws.endpoint, POWERTOOLS_TRACE_DISABLED="true")
        # Webhook receivers on the developer's machine (http://127.0.0.1:...): allowed locally only,
        # unless the caller says otherwise; the template leaves it unset (false) for AWS.
        env.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")
        template_env = self.template.environment(function)
        env.update(template_env)
        env.update({name: value for name, value in self.environ.items() if name in template_env})
        if self.websocket is not None:  # the local WebSocket API's, whatever the caller's environment says
            local = {
                "WEBSOCKET_URL": self.websocket.url,
                "WEBSOCKET_MANAGEMENT_URL": self.websocket.management_url,
            }
            env.update({name: value for name, value in local.items() if name in template_env})
        return env

    def start(self) -> LocalStack:
        began = time.perf_counter()
        self.aws.start()
        self.aws.create_resources(self.template, self.jwt_secret)
        self.restored = self.aws.restore()
        self._end_previous_invocations()
        template = self.template
        websocket_api = template.websocket_api()
        websocket_functions: set[str] = set()
        if websocket_api is not None:  # first: the functions' environment holds its URLs
            self.websocket = WebSocketFront(
                self.host, self.websocket_port, websocket_api, self._invoke
            ).start()
            websocket_functions = {route.function for route in websocket_api.routes.values()}
            if websocket_api.authorizer:
                websocket_functions.add(websocket_api.authorizer)
        authorizer = template.authorizer_function()
        http_functions = {route.function for route in template.routes()} | {authorizer}
        for name in sorted(http_functions | websocket_functions):
            self.functions[name] = LambdaFunction(
                name,
                template.code_dir(name),
                self.function_env(name),
                int(template.function_property(name, "Timeout")),
                API_CONTAINERS,
            )
        # A function only the WebSocket API calls (its ticket authorizer) starts at its first connect,
        # as after a cold start: a stack that nobody connects to spends no process on it.
        warming = [future for name in sorted(http_functions) for future in self.functions[name].warm()]
        self._create_event_sources()
        # A scheduled function's work waits anyway (the economy function's provider batches take hours):
        # it is not warmed, and its first tick or message starts a container, as a cold start does.
        scheduled = set(self._schedules())
        for source in self.event_sources:
            if source.function.name not in scheduled:
                warming += source.function.warm(WARM_WORKER_CONTAINERS)
        self._create_stream_sources()  # not warmed: a stack that runs no job never starts them
        for future in warming:
            future.result(timeout=120)
        for source in self.event_sources:
            source.start()
        for stream_source in self.stream_sources:  # LATEST from here: restored rows are not replayed
            stream_source.start()
        self._start_schedule_sources()
        auth = template.authorizer_settings()
        self.front = ApiFront(
            self.host,
            self.port,
            template.routes(),
            authorizer,
            int(auth.get("Identity", {}).get("ReauthorizeEvery", 300)),
            self._invoke,
            cors=template.cors_configuration(),
            local_routes={("POST", LOCAL_TOKEN_PATH): self.local_token},
        )
        self.front.start()
        self.started_seconds = time.perf_counter() - began
        return self

    def _end_previous_invocations(self) -> None:
        """A restart ends every invocation of the previous run, as a Lambda timeout would. Their
        messages come back at once (in AWS: after the queue's visibility timeout, long after the
        invocation's deadline), so their in-progress idempotency records (Powertools' format) are
        expired now too; else each redelivered item would be taken for a duplicate of a live one."""
        if not self.restored.items.get(self.resource("IdempotencyTable")):
            return
        dynamodb = self.aws.client("dynamodb")
        table = self.resource("IdempotencyTable")
        now_ms = str(int(time.time() * 1000) - 1)
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="#status = :in_progress",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}},
        )
        for item in (item for page in pages for item in page["Items"]):
            dynamodb.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :now",
                ExpressionAttributeValues={":now": {"N": now_ms}},
            )

    def worker_concurrency(self, env: dict[str, str]) -> int:
        """How many worker invocations run at once: the worker's containers and its event source's slots.

        BATCH_MAX_CONCURRENT when the caller sets it. Else what the worker's own rate limit needs at
        its model's latency, as the template's tier table does for AWS, so that OPENAI_RATE_LIMIT_RPM
        alone sizes the local stack. The offline renderer is CPU-bound: locally, the machine's cores."""
        if self.environ.get("BATCH_MAX_CONCURRENT"):
            return int(self.environ["BATCH_MAX_CONCURRENT"])
        settings = settings_from({k: v for k, v in env.items() if k != "BATCH_MAX_CONCURRENT"})
        if provider_name(settings) == "offline":
            return max(2, os.cpu_count() or 2)
        return worker_concurrency(settings, datetime.now(UTC).date())

    def event_source_concurrency(self, name: str, env: dict[str, str]) -> int:
        """A queue-triggered function's invocations at once: the worker's from its rate limit (above),
        any other's from its event's ScalingConfig.MaximumConcurrency, else 2 (SQS's least)."""
        if name == "WorkerFunction":
            return self.worker_concurrency(env)
        scaling = (self.template.sqs_event(name) or {}).get("ScalingConfig", {})
        return int(scaling.get("MaximumConcurrency", 2))

    @staticmethod
    def _batch_size(name: str, env: dict[str, str], event: dict[str, Any]) -> int:
        """Records per invocation: the worker's BATCH_SIZE_DEFAULT (the caller's value, else the
        template's WorkerBatchSize), any other function's event BatchSize (the economy function's 1)."""
        if name == "WorkerFunction" and env.get("BATCH_SIZE_DEFAULT"):
            return int(env["BATCH_SIZE_DEFAULT"])
        return int(event.get("BatchSize", 10))

    def _sqs_events(self) -> dict[str, dict[str, Any]]:
        """The template's SQS event of each function that has one."""
        events = {
            name: self.template.sqs_event(name) for name in self.template.of_type("AWS::Serverless::Function")
        }
        return {name: event for name, event in events.items() if event is not None}

    def _create_event_sources(self) -> None:
        """Each queue-triggered function, with a container per invocation that may run at once, and
        the event source that feeds it."""
        template = self.template
        for name, event in self._sqs_events().items():
            env = self.function_env(name)
            concurrency = self.event_source_concurrency(name, env)
            if name == "WorkerFunction":  # what the worker checks its capacity against
                env["BATCH_MAX_CONCURRENT"] = str(concurrency)
            timeout = int(template.function_property(name, "Timeout"))
            # A container more per schedule: in AWS its invocations do not count against the
            # mapping's MaximumConcurrency, so a poll never waits behind the queue's work.
            containers = concurrency + len(self._schedules().get(name, []))
            self.functions[name] = LambdaFunction(name, template.code_dir(name), env, timeout, containers)
            queue = next(q for q, ids in template.physical.items() if ids.get("Arn") == event["Queue"])
            source = SqsEventSource(
                self.functions[name],
                sqs_client(self.aws.endpoint),
                queue_url=template.physical[queue]["Ref"],
                queue_arn=event["Queue"],
                batch_size=self._batch_size(name, env, event),
                max_concurrency=concurrency,
            )
            self.event_sources.append(source)

    def _create_stream_sources(self) -> None:
        """Each stream-triggered function, with one container: a shard's batches run one at a time."""
        template = self.template
        for name in template.of_type("AWS::Serverless::Function"):
            event = template.dynamodb_event(name)
            if event is None:
                continue
            timeout = int(template.function_property(name, "Timeout"))
            function = LambdaFunction(name, template.code_dir(name), self.function_env(name), timeout, 1)
            self.functions[name] = function
            source = DynamoDbStreamSource(
                function,
                streams_client(self.aws.endpoint),
                stream_arn=event["Stream"],
                batch_size=int(event.get("BatchSize", 100)),
                max_retries=int(event.get("MaximumRetryAttempts", 2)),
            )
            self.stream_sources.append(source)

    def _schedules(self) -> dict[str, list[Schedule]]:
        """The template's ScheduleV2 events of each function that has any."""
        found = {
            name: self.template.schedule_events(name)
            for name in self.template.of_type("AWS::Serverless::Function")
        }
        return {name: schedules for name, schedules in found.items() if schedules}

    def _start_schedule_sources(self) -> None:
        """A timer per schedule, with the template's rate or LOCAL_SCHEDULE_SECONDS; a function no
        other source created gets one container (one invocation at a time)."""
        template = self.template
        for name, schedules in self._schedules().items():
            if name not in self.functions:
                timeout = int(template.function_property(name, "Timeout"))
                env = self.function_env(name)
                self.functions[name] = LambdaFunction(name, template.code_dir(name), env, timeout, 1)
            for schedule in schedules:
                period = self.schedule_seconds or schedule.period_seconds
                source = ScheduleSource(self.functions[name], period, schedule.input, schedule.event)
                self.schedule_sources.append(source.start())

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.functions[function].invoke(event)

    def resource(self, logical_id: str) -> str:
        """The local physical name (table, bucket) or URL (queue) of a template resource."""
        return self.template.physical[logical_id]["Ref"]

    def stop(self) -> None:
        if self.front:
            self.front.stop()
        if self.websocket:
            self.websocket.stop()
        # Side by side: each source waits up to a poll to end, each function about a second for its
        # containers to exit; one after another, that added up to ten seconds a stack.
        with ThreadPoolExecutor(thread_name_prefix="stop") as stopping:
            sources = [*self.schedule_sources, *self.event_sources, *self.stream_sources]
            list(stopping.map(lambda source: source.stop(), sources))
            list(stopping.map(lambda function: function.close(), self.functions.values()))
        self.aws.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _schedule_seconds(value: str | None) -> float | None:
    """LOCAL_SCHEDULE_SECONDS, checked: a number of seconds above 0, or None (unset or empty)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{SCHEDULE_SECONDS_VARIABLE} must be a number of seconds above 0, not {value!r}")
    return seconds
