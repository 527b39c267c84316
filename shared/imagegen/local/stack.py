"""The whole local stack: emulated AWS, the functions, the HTTP front and the queue pollers."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imagegen.local.aws import FAKE_CREDENTIALS, EmulatedAws
from imagegen.local.front import ApiFront
from imagegen.local.lambdas import LambdaFunction
from imagegen.local.poller import QueuePollers
from imagegen.local.template import TEMPLATE_PATH, Template

# A documented, local-only default: in AWS the secret comes from Secrets Manager.
LOCAL_JWT_SECRET = "imagegen-local-development-secret-not-for-production"  # noqa: S105
DEFAULT_PORT = 3560
API_CONTAINERS = 8


class LocalStack:
    """Start with `start()`, stop with `stop()`; `url` is where the API answers."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        template_path: Path = TEMPLATE_PATH,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.template = Template(template_path)
        # The caller's environment wins over the template's values, as `sam local --env-vars` does.
        self.environ = dict(os.environ if environ is None else environ)  # noqa: TID251 - the local runtime's input
        self.aws = EmulatedAws(host)
        self.functions: dict[str, LambdaFunction] = {}
        self.pollers: QueuePollers | None = None
        self.front: ApiFront | None = None
        self.started_seconds = 0.0

    @property
    def jwt_secret(self) -> str:
        return self.environ.get("JWT_SECRET") or LOCAL_JWT_SECRET

    @property
    def url(self) -> str:
        port = self.front.port if self.front else self.port
        return f"http://{self.host}:{port}"

    def function_env(self, function: str) -> dict[str, str]:
        """The whole environment a function's processes get: the caller's, then the emulated AWS,
        then the template's variables, which the caller's own values override."""
        env = {name: value for name, value in self.environ.items() if not name.startswith("AWS_")}
        env.update(FAKE_CREDENTIALS, AWS_ENDPOINT_URL=self.aws.endpoint, POWERTOOLS_TRACE_DISABLED="true")
        template_env = self.template.environment(function)
        env.update(template_env)
        env.update({name: value for name, value in self.environ.items() if name in template_env})
        return env

    def start(self) -> LocalStack:
        began = time.perf_counter()
        self.aws.start()
        self.aws.create_resources(self.template, self.jwt_secret)
        template = self.template
        authorizer = template.authorizer_function()
        api_functions = sorted({route.function for route in template.routes()} | {authorizer})
        for name in api_functions:
            self.functions[name] = LambdaFunction(
                name,
                template.code_dir(name),
                self.function_env(name),
                int(template.function_property(name, "Timeout")),
                API_CONTAINERS,
            )
        warming = [function.warm() for function in self.functions.values()]
        self._start_pollers()
        for future in warming:
            future.result(timeout=120)
        auth = template.authorizer_settings()
        self.front = ApiFront(
            self.host,
            self.port,
            template.routes(),
            authorizer,
            int(auth.get("Identity", {}).get("ReauthorizeEvery", 300)),
            self._invoke,
        )
        self.front.start()
        self.started_seconds = time.perf_counter() - began
        return self

    def _start_pollers(self) -> None:
        template = self.template
        for name in template.of_type("AWS::Serverless::Function"):
            event = template.sqs_event(name)
            if event is None:
                continue
            queue = next(q for q, ids in template.physical.items() if ids.get("Arn") == event["Queue"])
            env = self.function_env(name)
            count = int(
                env.get("BATCH_MAX_CONCURRENT") or event.get("ScalingConfig", {}).get("MaximumConcurrency", 2)
            )
            self.pollers = QueuePollers(
                count,
                function_name=name,
                code_dir=str(template.code_dir(name)),
                env=env,
                queue_url=template.physical[queue]["Ref"],
                queue_arn=event["Queue"],
                batch_size=int(env.get("BATCH_SIZE_DEFAULT") or event.get("BatchSize", 10)),
                timeout=int(template.function_property(name, "Timeout")),
            )
            self.pollers.start()

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.functions[function].invoke(event)

    def resource(self, logical_id: str) -> str:
        """The local physical name (table, bucket) or URL (queue) of a template resource."""
        return self.template.physical[logical_id]["Ref"]

    def stop(self) -> None:
        if self.front:
            self.front.stop()
        if self.pollers:
            self.pollers.stop()
        for function in self.functions.values():
            function.close()
        self.aws.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
