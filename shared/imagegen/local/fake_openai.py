"""A fake OpenAI Images API on loopback, for tests and benchmarks through the real SDK.

It answers POST /v1/images/generations as the public API does for GPT image models: the same
parameter rules (from the model registry), error bodies, status codes and headers (x-request-id,
x-ratelimit-*, retry-after, openai-processing-ms), a usage block from the model's token table, and
an image of the requested size and format. On the fake's `today` (default: the real UTC date) a
model past its shutdown answers 404 model_not_found, and an unknown name 400 invalid_value.

Latency is fixed, scripted (`latencies`), or drawn (`latency=None`) from a log-normal fitted to the
registry's p50 and p99 for the request's model and quality, from a seeded stream: the k-th accepted
call takes the k-th variate on every fake with the same seed, so benchmarks compare clients on
identical providers. `time_scale` compresses every latency. A call is billed once drawn (after its
latency), even when its client hung up first: `billed` is the ledger. An images-per-minute limit is
enforced over short windows, and refused requests count against it, as OpenAI documents.

Scripted through POST /_fake/config (the keyword arguments of `configure`) and POST /_fake/script
(the next behaviours: 429 with Retry-After, 500, timeouts, non-PNG or truncated bytes, moderation
refusals, insufficient_quota); GET /_fake/stats counts calls, billed calls and dollars.

The Batch API's Files and Batches endpoints (BatchApi) take JSONL input files for
/v1/images/generations and run each batch on a thread over `batch_seconds` (time_scale applied):
validating (a bad line fails the batch with the real API's error codes), in_progress (each line drawn
like a synchronous call, billed at half price), finalizing, completed; or expired past
`batch_window_seconds`, or cancelled. Lines listed in `batch_failures` fail with the sync API's error
bodies. With `webhook_url` and `webhook_secret` set, every batch that ends is announced as
batch.completed / failed / expired / cancelled, signed with Standard Webhooks headers, and delivered
`webhook_deliveries` times with the same webhook-id.
"""

from __future__ import annotations

import base64
import collections
import email.policy
import functools
import io
import ipaddress
import json
import math
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

from PIL import Image
from standardwebhooks import Webhook

from imagegen.providers.prices import BATCH_PRICE_FACTOR, cost_from_usage
from imagegen.providers.registry import (
    BATCH_ENDPOINT,
    BATCH_MAX_FILE_BYTES,
    BATCH_MAX_REQUESTS,
    BATCH_WINDOW,
    MODELS,
    Latency,
    ModelRefused,
    check_request,
    choose_model,
    current_models,
)

SCRIPTABLE = (
    "bomb",
    "ok",
    "rate_limit",
    "server_error",
    "timeout",
    "not_png",
    "truncated",
    "moderation",
    "insufficient_quota",
    "invalid_key",
)
# Refused after the limit check, at once: they count against the window but are never drawn or billed.
ANSWERED_AT_ONCE = ("server_error", "moderation")
# The standard normal's 99th percentile: turns a p50/p99 pair into a log-normal's sigma.
Z_P99 = 2.3263
JSON = {"content-type": "application/json"}

Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class BilledCall:
    """One call the fake finished drawing: billed whether or not its client was still there."""

    model: str
    quality: str  # as billed: `auto` counts as high
    size: str
    images: int
    usage: dict[str, Any]
    usd: float | None
    latency_seconds: float  # slept, after time_scale
    accepted_at: float  # time.monotonic()
    finished_at: float
    abandoned: bool  # the client had hung up before the answer could be written
    batch_id: str | None = None  # a Batch API line, billed at half price


class Admission(NamedTuple):
    wait: float  # seconds a refused request is told to wait; 0 when accepted
    accepted_at: float
    latency: float


def lognormal_latency(latency: Latency, z: float) -> float:
    """Seconds at standard-normal variate z of the log-normal through the model's p50 and p99."""
    sigma = math.log(latency.p99 / latency.p50) / Z_P99
    return latency.p50 * math.exp(sigma * z)


def _seconds(value: Any) -> float:
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a number of seconds")
    return seconds


def _latency(value: Any) -> float | None:
    return None if value is None or value == "model" else _seconds(value)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _latencies(values: Any) -> collections.deque[float]:
    return collections.deque(_seconds(value) for value in values)


def _batch_failures(value: Any) -> dict[str | int, str]:
    """{custom_id or 0-based line index: failure}; JSON can give [[3, "server_error"], ...], and a plain
    list of custom_ids and indexes fails each as `moderation`."""
    pairs = (
        value.items()
        if isinstance(value, Mapping)
        else (entry if isinstance(entry, list | tuple) else (entry, "moderation") for entry in value)
    )
    failures: dict[str | int, str] = {}
    for line, failure in pairs:
        if not isinstance(line, str | int) or failure not in BATCH_FAILURES:
            raise ValueError(f"{line!r}: {failure!r} is not one of {sorted(BATCH_FAILURES)}")
        failures[line] = failure
    return failures


def _webhook_url(value: Any) -> str | None:
    if value is None:
        return None
    url = urllib.parse.urlsplit(str(value))
    host = url.hostname or ""
    if url.scheme not in ("http", "https") or not (host == "localhost" or _loopback(host)):
        raise ValueError(f"the fake calls loopback webhooks only, not {value!r}")
    return str(value)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_secret(value: Any) -> str | None:
    """None, or a Standard Webhooks secret: whsec_ and base64 (checked strictly: Webhook() is lenient)."""
    if value is None:
        return None
    secret = str(value)
    if not secret.startswith("whsec_") or not base64.b64decode(secret.removeprefix("whsec_"), validate=True):
        raise ValueError("a webhook secret is whsec_<base64>")
    return secret


def _deliveries(value: Any) -> int:
    times = int(value)
    if times < 1:
        raise ValueError("webhook_deliveries is at least 1")
    return times


SETTINGS: dict[str, Callable[[Any], Any]] = {
    "latency": _latency,  # seconds, or None / "model": drawn from the model's distribution
    "images_per_minute": int,  # 0 = unlimited
    "window_seconds": _seconds,
    "retry_after": _seconds,  # what a scripted rate_limit tells the client to wait
    "seed": int,
    "time_scale": _seconds,
    "latencies": _latencies,
    "timeout_seconds": _seconds,
    "today": _day,
    "batch_seconds": _seconds,  # how long a whole batch takes, time_scale applied
    "batch_window_seconds": _seconds,  # the completion window (24 h), time_scale applied
    "batch_failures": _batch_failures,  # lines of batches created from now on that fail
    "webhook_url": _webhook_url,  # None: no webhooks
    "webhook_secret": _webhook_secret,  # whsec_<base64>
    "webhook_deliveries": _deliveries,  # 2: every batch event is delivered twice
}


class FakeOpenAI:
    """Start with `start()`; `base_url` is what OPENAI_BASE_URL should be."""

    latency: float | None
    images_per_minute: int
    window_seconds: float  # a minute's limit enforced per window, like the real API
    retry_after: float
    seed: int
    time_scale: float
    latencies: collections.deque[float]
    # A scripted timeout is not scaled: it must outlast the client's timeout, which is real time.
    timeout_seconds: float
    today: date | None  # None: the real UTC date of each request
    batch_seconds: float
    batch_window_seconds: float
    batch_failures: dict[str | int, str]
    webhook_url: str | None
    webhook_secret: str | None
    webhook_deliveries: int

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float | str | None = 0.0,
        images_per_minute: int = 0,
        window_seconds: float = 10.0,
        retry_after: float = 1.0,
        seed: int = 0,
        time_scale: float = 1.0,
        latencies: Iterable[float] = (),
        timeout_seconds: float = 30.0,
        today: date | str | None = None,
        batch_seconds: float = 1.0,
        batch_window_seconds: float = 24 * 3600.0,
        batch_failures: Mapping[str | int, str] | Iterable[Any] = (),
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_deliveries: int = 1,
    ) -> None:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the fake serves loopback only, not {host}")
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.configure(
            latency=latency,
            images_per_minute=images_per_minute,
            window_seconds=window_seconds,
            retry_after=retry_after,
            seed=seed,
            time_scale=time_scale,
            latencies=latencies,
            timeout_seconds=timeout_seconds,
            today=today,
            batch_seconds=batch_seconds,
            batch_window_seconds=batch_window_seconds,
            batch_failures=batch_failures,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_deliveries=webhook_deliveries,
        )
        self.batch_api = BatchApi(self)
        self.script: collections.deque[str] = collections.deque()
        self.calls: collections.Counter[str] = collections.Counter()
        self.accepted: collections.deque[float] = collections.deque()  # accepted requests in the window
        self.window: collections.deque[float] = collections.deque()  # every request the limit counted
        self.requests: list[dict[str, Any]] = []
        self._ledger: list[BilledCall] = []
        self._local = threading.local()  # the connection (and its bill) each handler thread is serving
        self.host = host
        self.server = _QuietServer((host, port), self._handler())

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/v1"

    @property
    def billed(self) -> list[BilledCall]:
        """The billing ledger: one record per call drawn, abandoned or not."""
        with self.lock:
            return list(self._ledger)

    def start(self) -> Self:
        # A short poll lets stop() return at once instead of after the default half second.
        serve = functools.partial(self.server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, daemon=True, name="fake-openai").start()
        return self

    def stop(self) -> None:
        self.batch_api.close()
        self.server.shutdown()
        self.server.server_close()

    def configure(self, **settings: Any) -> None:
        """Change settings (the constructor's keywords); an unknown name or a bad value raises ValueError."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(SETTINGS)}")
        values = {}
        for name, value in settings.items():
            try:
                values[name] = SETTINGS[name](value)
            except (TypeError, ValueError) as bad:
                raise ValueError(f"bad value for {name}: {value!r}") from bad
        with self.lock:
            for name, value in values.items():
                setattr(self, name, value)
            if "seed" in values:
                self.random = random.Random(values["seed"])  # a new seed restarts the sequence

    def push(self, *behaviours: str) -> None:
        unknown = [b for b in behaviours if b not in SCRIPTABLE]
        if unknown:
            raise ValueError(f"unknown behaviours {unknown}; known: {SCRIPTABLE}")
        with self.lock:
            self.script.extend(behaviours)

    @property
    def sent_webhooks(self) -> list[WebhookDelivery]:
        """Every batch event POSTed to the webhook URL, in order."""
        with self.lock:
            return list(self.batch_api.deliveries)

    def rate_headers(self) -> dict[str, str]:
        limit = self.images_per_minute or 10_000
        with self.lock:
            used = len(self.window)
        return {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(0, limit - used)),
            "x-ratelimit-reset-requests": f"{self.window_seconds:.0f}s",
        }

    def stats(self) -> dict[str, Any]:
        """What GET /_fake/stats answers: calls by status, and the billing ledger summed."""
        with self.lock:
            calls = dict(self.calls)
            ledger = list(self._ledger)
            batches = collections.Counter(batch.status for batch in self.batch_api.batches.values())
        by_model: dict[str, dict[str, Any]] = {}
        for call in ledger:
            entry = by_model.setdefault(call.model, {"calls": 0, "abandoned": 0, "usd": 0.0})
            entry["calls"] += 1
            entry["abandoned"] += call.abandoned
            entry["usd"] = round(entry["usd"] + (call.usd or 0.0), 6)
        return {
            "calls": calls,
            "total": sum(calls.values()),
            "billed_calls": len(ledger),
            "billed_usd": round(sum(call.usd or 0.0 for call in ledger), 6),
            "abandoned_calls": sum(call.abandoned for call in ledger),
            "billed_by_model": by_model,
            "batch_lines_billed": sum(call.batch_id is not None for call in ledger),
            "batches": dict(batches),
        }

    # -- latency --------------------------------------------------------------------------------
    def next_latency(self, model: str, quality: str) -> float:
        """Seconds the next accepted call takes (scripted, fixed or drawn, time_scale applied)."""
        with self.lock:
            return self._next_latency(model, quality)

    def _next_latency(self, model: str, quality: str) -> float:
        # Every call takes its variate, whichever latency it uses, so the k-th call's variate is the
        # same on every fake with this seed.
        z = self.random.normalvariate(0.0, 1.0)
        if self.latencies:
            seconds = self.latencies.popleft()
        elif self.latency is None:
            seconds = lognormal_latency(MODELS[model].latency_for(quality), z)
        else:
            seconds = self.latency
        return seconds * self.time_scale

    # -- behaviour ------------------------------------------------------------------------------
    def _next_behaviour(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else "ok"

    def _today(self) -> date:
        return self.today or datetime.now(UTC).date()

    def _limit_wait(self, now: float) -> float:
        """Seconds until the window has room (0: it has); the request counts in it either way. Locked."""
        if not self.images_per_minute:
            return 0.0
        per_window = max(1, round(self.images_per_minute * self.window_seconds / 60))
        for times in (self.window, self.accepted):
            while times and times[0] <= now - self.window_seconds:
                times.popleft()
        full = len(self.window) >= per_window
        self.window.append(now)
        if not full:
            return 0.0
        # Room comes back when all but per_window - 1 of the counted requests (this one too) have aged out.
        return self.window[len(self.window) - per_window] + self.window_seconds - now

    def _admit(self, behaviour: str, model: str, quality: str) -> Admission:
        """The limit check and the call's latency under one lock: the k-th accepted call gets the k-th."""
        now = time.monotonic()
        with self.lock:
            wait = self._limit_wait(now)
            if wait or behaviour == "rate_limit":
                return Admission(wait or self.retry_after, now, 0.0)
            if self.images_per_minute:
                self.accepted.append(now)
            latency = 0.0 if behaviour in ANSWERED_AT_ONCE else self._next_latency(model, quality)
            return Admission(0.0, now, latency)

    def generate(self, headers: dict[str, str], body: dict[str, Any]) -> Response:
        """The answer to one POST /v1/images/generations: a refusal, or images after their latency."""
        behaviour = self._next_behaviour()
        key = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not key or behaviour == "invalid_key" or key.startswith("invalid"):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        problem = _request_problem(body, self._today())
        if problem:
            return problem
        if behaviour == "insufficient_quota":
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            )
        admission = self._admit(behaviour, body["model"], str(body.get("quality", "auto")))
        if admission.wait:
            return _rate_limited(admission.wait)
        if behaviour == "server_error":
            return _server_error()
        if behaviour == "moderation":
            return _moderation_blocked()
        return self._draw(behaviour, body, admission)

    def _draw(self, behaviour: str, body: dict[str, Any], admission: Admission) -> Response:
        """Spend the call's latency, then bill it and answer with its images."""
        slept = self.timeout_seconds if behaviour == "timeout" else admission.latency
        time.sleep(slept)
        answer = _images_answer(body, behaviour)
        self._bill(
            BilledCall(
                model=str(body["model"]),
                quality=answer["quality"],
                size=answer["size"],
                images=len(answer["data"]),
                usage=answer["usage"],
                usd=cost_from_usage(str(body["model"]), answer["usage"]),
                latency_seconds=slept,
                accepted_at=admission.accepted_at,
                finished_at=time.monotonic(),
                abandoned=self._client_gone(),
            )
        )
        return 200, {**JSON, "openai-processing-ms": str(int(slept * 1000))}, json.dumps(answer).encode()

    # -- billing --------------------------------------------------------------------------------
    def _bill(self, call: BilledCall) -> None:
        with self.lock:
            self._ledger.append(call)
            self._local.bill = len(self._ledger) - 1

    def _client_gone(self) -> bool:
        """True when the client of this thread's request has closed its connection."""
        connection: socket.socket | None = getattr(self._local, "connection", None)
        if connection is None:  # called outside a request, e.g. by a benchmark
            return False
        try:
            return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:  # open, and nothing more to read
            return False
        except OSError:
            return True

    def _serving(self, connection: socket.socket | None) -> None:
        self._local.connection = connection
        self._local.bill = None

    def _bill_abandoned(self, write_failed: bool = False) -> bool:
        """Whether this thread's call was abandoned; a failed write marks it so."""
        index: int | None = getattr(self._local, "bill", None)
        if index is None:
            return False
        with self.lock:
            if write_failed:
                self._ledger[index] = replace(self._ledger[index], abandoned=True)
            return self._ledger[index].abandoned

    # -- HTTP -----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(_FakeHandler):
            fake = owner

        return Handler


class _FakeHandler(BaseHTTPRequestHandler):
    """The fake's HTTP side; each server subclasses it with its own `fake`."""

    fake: FakeOpenAI

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, *_: Any) -> None:
        pass

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()  # a client that hung up fails here, not silently in finish()

    def do_GET(self) -> None:
        if self.path == "/_fake/stats":
            self._send(200, JSON, json.dumps(self.fake.stats()).encode())
        elif (answer := self._batch_api("GET", b"")) is not None:
            self._send(*answer)
        else:
            self._send(*_error(404, "Not found", "invalid_request_error", None))

    def _batch_api(self, method: str, raw: bytes) -> Response | None:
        """The answer of a Files or Batches route, or None when the path is none of theirs."""
        url = urllib.parse.urlsplit(self.path)
        for route_method, pattern, name in BATCH_ROUTES:
            match = pattern.fullmatch(url.path)
            if route_method == method and match:
                key = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
                if not key or key.startswith("invalid"):
                    return _error(
                        401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                    )
                return self._route(name, match.groupdict().get("id", ""), url.query, raw)
        return None

    def _route(self, name: str, resource: str, query: str, raw: bytes) -> Response:
        api = self.fake.batch_api
        if name == "upload":
            return api.upload(self.headers.get("content-type") or "", raw)
        if name == "create":
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return _error(
                    400, "We could not parse the JSON body of your request.", "invalid_request_error", None
                )
            return api.create(body)
        if name == "listing":
            return api.listing(urllib.parse.parse_qs(query))
        route: Callable[[str], Response] = getattr(api, name)  # file, content, batch, cancel
        return route(resource)

    def do_POST(self) -> None:
        raw = self._raw_body()
        answer = self._batch_api("POST", raw)
        if answer is not None:
            self._send(*answer)
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send(
                *_error(
                    400,
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                    None,
                )
            )
            return
        if self.path == "/v1/images/generations":
            self._generate(body)
        elif self.path in ("/_fake/config", "/_fake/script"):
            self._control(body)
        else:
            self._send(*_error(404, f"Invalid URL (POST {self.path})", "invalid_request_error", None))

    def _control(self, body: Any) -> None:
        try:
            if self.path == "/_fake/config":
                self.fake.configure(**body)
            else:
                self.fake.push(*body.get("next", []))
        except (TypeError, ValueError) as bad:
            self._send(*_error(400, str(bad), "invalid_request_error", None))
            return
        self._send(200, JSON, b"{}")

    def _generate(self, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.fake.lock:
            self.fake.requests.append(body)
        self.fake._serving(self.connection)
        status, response_headers, payload = self.fake.generate(headers, body)
        with self.fake.lock:
            self.fake.calls[str(status)] += 1
        if self.fake._bill_abandoned():
            self.close_connection = True
            return
        try:
            self._send(
                status,
                {"openai-processing-ms": "0", **self.fake.rate_headers(), **response_headers},
                payload,
            )
        except (BrokenPipeError, ConnectionResetError):
            self.fake._bill_abandoned(write_failed=True)
            self.close_connection = True


BATCH_ROUTES = (
    ("POST", re.compile(r"/v1/files"), "upload"),
    ("GET", re.compile(r"/v1/files/(?P<id>[\w-]+)"), "file"),
    ("GET", re.compile(r"/v1/files/(?P<id>[\w-]+)/content"), "content"),
    ("POST", re.compile(r"/v1/batches"), "create"),
    ("GET", re.compile(r"/v1/batches"), "listing"),
    ("GET", re.compile(r"/v1/batches/(?P<id>[\w-]+)"), "batch"),
    ("POST", re.compile(r"/v1/batches/(?P<id>[\w-]+)/cancel"), "cancel"),
)


class _QuietServer(ThreadingHTTPServer):
    """Threads that die with the process; a client hanging up is not an error worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(
    status: int, message: str, error_type: str, code: str | None, param: str | None = None
) -> Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return status, dict(JSON), json.dumps(body).encode()


def _server_error() -> Response:
    return _error(500, "The server had an error while processing your request.", "server_error", None)


def _moderation_blocked() -> Response:
    return _error(
        400,
        "Your request was rejected by the safety system.",
        "image_generation_user_error",
        "moderation_blocked",
    )


def _rate_limited(retry_after: float) -> Response:
    status, headers, payload = _error(
        429, "Rate limit reached for images per minute.", "requests", "rate_limit_exceeded"
    )
    headers["retry-after"] = f"{retry_after:.3f}"
    headers["retry-after-ms"] = str(int(retry_after * 1000))
    return status, headers, payload


def _request_problem(body: dict[str, Any], today: date) -> Response | None:
    """The 400 or 404 the real API answers to this request on `today`, or None when it would draw."""
    for legacy in ("response_format", "style"):
        if legacy in body:
            return _invalid("unknown_parameter", f"Unknown parameter: '{legacy}'.", legacy)
    model = body.get("model")
    known = MODELS.get(model) if isinstance(model, str) else None
    if known is None:
        served = ", ".join(current_models(today))
        return _invalid("invalid_value", f"Invalid value: '{model}'. Supported models: {served}.", "model")
    if not known.active_on(today):
        return _error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return _invalid("missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt")
    if not isinstance(body.get("n", 1), int) or not 1 <= body.get("n", 1) <= 10:
        return _invalid("integer_above_max_value", "Invalid 'n': must be between 1 and 10.", "n")
    try:
        width, height = _size(body)
        check_request(
            choose_model(known.name, known.name, today),
            width,
            height,
            body.get("quality", "auto"),
            body.get("background", "auto"),
            body.get("output_format", "png"),
            body["prompt"],
        )
    except (ModelRefused, ValueError) as problem:
        return _invalid("invalid_value", str(problem), "size")
    return None


def _invalid(code: str, message: str, param: str) -> Response:
    return _error(400, message, "invalid_request_error", code, param=param)


def _size(body: dict[str, Any]) -> tuple[int, int]:
    width, height = (int(side) for side in str(body.get("size") or "1024x1024").split("x"))
    return width, height


def _billed_quality(quality: str) -> str:
    # `auto` may pick high, and the registry's token table counts it so: answer (and bill) high.
    return quality if quality in ("low", "medium", "high") else "high"


def _usage(output_tokens: int, prompt: str) -> dict[str, Any]:
    prompt_tokens = max(1, len(prompt) // 4)
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
        "output_tokens": output_tokens,
        "total_tokens": prompt_tokens + output_tokens,
    }


def _images_answer(body: dict[str, Any], behaviour: str = "ok") -> dict[str, Any]:
    """The JSON body of a successful generation (checked by _request_problem first), with its usage."""
    width, height = _size(body)
    quality = _billed_quality(str(body.get("quality", "auto")))
    images = int(body.get("n", 1))
    output_format = body.get("output_format", "png")
    image = _spoiled(_image(width, height, output_format), behaviour)
    usage = _usage(
        MODELS[str(body["model"])].output_tokens(width, height, quality) * images, str(body["prompt"])
    )
    return {
        "created": int(time.time()),
        "background": body.get("background", "opaque"),
        "output_format": output_format,
        "quality": quality,
        "size": f"{width}x{height}",
        "data": [{"b64_json": base64.b64encode(image).decode()} for _ in range(images)],
        "usage": usage,
    }


def _spoiled(image: bytes, behaviour: str) -> bytes:
    if behaviour == "not_png":
        return b"GIF89a" + image[6:]
    if behaviour == "truncated":
        return image[: len(image) // 2]
    if behaviour == "bomb":  # a tiny PNG that claims 400 megapixels
        bomb = io.BytesIO()
        Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
        return bomb.getvalue()
    return image


@functools.lru_cache(maxsize=32)
def _image(width: int, height: int, output_format: str) -> bytes:
    """Encoded once per size and format: the fake shares its process (and GIL) with the local stack's
    front and event source in benchmarks, and must not burn 100 ms of CPU on every call."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format={"jpeg": "JPEG", "webp": "WEBP"}.get(output_format, "PNG"))
    return buffer.getvalue()


# -- Batch API: Files and Batches --------------------------------------------------------------
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# The shares of `batch_seconds` spent validating, drawing the lines (evenly spread), and finalizing.
BATCH_PHASES = (0.1, 0.8, 0.1)
# What a scripted line failure answers: the sync API's error bodies.
BATCH_FAILURES: dict[str, Callable[[], Response]] = {
    "server_error": _server_error,
    "moderation": _moderation_blocked,
}
# Lines a batch never ran, as the error file reports them (batch_cancelled is the fake's wording).
UNFINISHED = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was cancelled before it could be executed."),
}
WEBHOOK_EVENTS = {
    "completed": "batch.completed",
    "failed": "batch.failed",
    "expired": "batch.expired",
    "cancelled": "batch.cancelled",
}
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class StoredFile:
    """One file of the fake's Files API: an uploaded input, or a batch's output or error file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class FakeBatch:
    """One batch as GET /v1/batches/{id} shows it; changed under the fake's lock by its runner thread."""

    id: str
    input_file_id: str
    metadata: dict[str, str] | None
    created_at: int
    expires_at: int
    failures: dict[str | int, str]  # the scripted line failures when it was created
    status: str = "validating"
    times: dict[str, int] = field(default_factory=dict)  # in_progress_at, completed_at, ...
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    usage: dict[str, int] = field(
        default_factory=lambda: {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    )
    model: str | None = None
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    wake: threading.Event = field(default_factory=threading.Event)  # set by cancel and by stop()

    def as_json(self) -> dict[str, Any]:
        stamps = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at")
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": BATCH_ENDPOINT,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": BATCH_WINDOW,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            **{name: self.times.get(name) for name in (*stamps, "cancelling_at", "cancelled_at")},
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
            "model": self.model,
            "usage": {
                **self.usage,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of a batch event to the configured webhook URL."""

    event_type: str
    webhook_id: str
    batch_id: str
    status: int | None  # None: the receiver could not be reached


@dataclass
class _Results:
    """The output and error files' lines of one batch, as they accumulate."""

    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class BatchApi:
    """The fake's Files and Batches endpoints. Each batch runs on its own thread through
    validating → in_progress → finalizing → completed (or failed, expired, cancelling → cancelled), its
    lines evenly spread over `batch_seconds * time_scale`, and tells the webhook, if one is set."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, FakeBatch] = {}  # in creation order
        self.deliveries: list[WebhookDelivery] = []
        self.closed = threading.Event()

    def close(self) -> None:
        """Stop every running batch where it is, with no more webhooks."""
        self.closed.set()
        with self.fake.lock:
            for batch in self.batches.values():
                batch.wake.set()

    # -- files ----------------------------------------------------------------------------------
    def upload(self, content_type: str, raw: bytes) -> Response:
        """POST /v1/files: a multipart form with `file` and `purpose`."""
        fields = _form_fields(content_type, raw)
        purpose = fields.get("purpose", (None, b""))[1].decode(errors="replace")
        if "file" not in fields:
            return _invalid("missing_required_parameter", "Missing required parameter: 'file'.", "file")
        if purpose not in FILE_PURPOSES:
            return _invalid(
                "invalid_value",
                f"Invalid value: '{purpose}'. Supported values: {', '.join(FILE_PURPOSES)}.",
                "purpose",
            )
        filename, content = fields["file"]
        if purpose == "batch" and len(content) > BATCH_MAX_FILE_BYTES:
            return _invalid(
                "file_too_large",
                f"Files of purpose 'batch' may be at most {BATCH_MAX_FILE_BYTES} bytes; "
                f"this one is {len(content)}.",
                "file",
            )
        stored = self._store(filename or "upload.jsonl", purpose, content)
        return 200, dict(JSON), json.dumps(stored.as_json()).encode()

    def _store(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        stored = StoredFile(f"file-{uuid.uuid4().hex[:24]}", filename, purpose, content, int(time.time()))
        with self.fake.lock:
            self.files[stored.id] = stored
        return stored

    def _file(self, file_id: str) -> StoredFile | Response:
        with self.fake.lock:
            stored = self.files.get(file_id)
        if stored is None:
            return _error(404, f"No such File object: {file_id}", "invalid_request_error", None, param="id")
        return stored

    def file(self, file_id: str) -> Response:
        """GET /v1/files/{id}."""
        stored = self._file(file_id)
        if not isinstance(stored, StoredFile):
            return stored
        return 200, dict(JSON), json.dumps(stored.as_json()).encode()

    def content(self, file_id: str) -> Response:
        """GET /v1/files/{id}/content: the bytes as uploaded or written."""
        stored = self._file(file_id)
        if not isinstance(stored, StoredFile):
            return stored
        return 200, {"content-type": "application/octet-stream"}, stored.content

    # -- batches --------------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> Response:
        """POST /v1/batches: refused at once for a bad request; the input file's lines are checked
        while the batch is `validating`, and a bad line fails the batch, as the real API does."""
        problem = _batch_request_problem(body)
        if problem:
            return problem
        stored = self._file(str(body["input_file_id"]))
        if not isinstance(stored, StoredFile):
            return stored
        if stored.purpose != "batch":
            return _invalid(
                "invalid_value", f"File {stored.id} was not uploaded with purpose 'batch'.", "input_file_id"
            )
        fake = self.fake
        now = int(time.time())
        with fake.lock:
            window = fake.batch_window_seconds * fake.time_scale
            batch = FakeBatch(
                id=f"batch_{uuid.uuid4().hex}",
                input_file_id=stored.id,
                metadata=body.get("metadata"),
                created_at=now,
                expires_at=now + math.ceil(window),
                failures=dict(fake.batch_failures),
            )
            self.batches[batch.id] = batch
            timing = _Timing(fake.batch_seconds * fake.time_scale, time.monotonic() + window)
        runner = functools.partial(self._run, batch, stored.content, timing)
        threading.Thread(target=runner, daemon=True, name=f"fake-{batch.id}").start()
        return self.batch(batch.id)

    def batch(self, batch_id: str) -> Response:
        """GET /v1/batches/{id}."""
        with self.fake.lock:
            batch = self.batches.get(batch_id)
            shown = batch.as_json() if batch else None
        if shown is None:
            return _error(404, f"No batch found with id '{batch_id}'.", "invalid_request_error", None)
        return 200, dict(JSON), json.dumps(shown).encode()

    def cancel(self, batch_id: str) -> Response:
        """POST /v1/batches/{id}/cancel: `cancelling` at once, `cancelled` once its runner stops."""
        with self.fake.lock:
            batch = self.batches.get(batch_id)
            status = batch.status if batch else None
            if batch and status in ("validating", "in_progress", "finalizing"):
                batch.status = "cancelling"
                batch.times["cancelling_at"] = int(time.time())
                batch.wake.set()
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'.", "invalid_request_error", None)
        if status in TERMINAL:
            return _error(
                409, f"Cannot cancel a batch with status '{status}'.", "invalid_request_error", None
            )
        return self.batch(batch_id)

    def listing(self, query: dict[str, list[str]]) -> Response:
        """GET /v1/batches?limit=&after=: newest first, a cursor page as the SDK pages it."""
        limit_text = (query.get("limit") or ["20"])[0]
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            return _invalid("invalid_value", f"Invalid 'limit': {limit_text}; 1 to 100.", "limit")
        limit = int(limit_text)
        after = (query.get("after") or [""])[0]
        with self.fake.lock:
            newest_first = [batch.as_json() for batch in reversed(self.batches.values())]
        ids = [batch["id"] for batch in newest_first]
        start = ids.index(after) + 1 if after in ids else 0
        page = newest_first[start : start + limit]
        listing = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(newest_first),
        }
        return 200, dict(JSON), json.dumps(listing).encode()

    # -- the runner -----------------------------------------------------------------------------
    def _run(self, batch: FakeBatch, raw: bytes, timing: _Timing) -> None:
        validating, drawing, _ = (timing.seconds * share for share in BATCH_PHASES)
        requests, problems = _parse_batch_input(raw)
        if batch.wake.wait(validating):
            return self._close(batch, "cancelled", _Results(), requests)
        if problems:
            return self._fail(batch, problems)
        self._update(batch, "in_progress", total=len(requests), model=requests[0]["body"]["model"])
        results = _Results()
        step = drawing / len(requests)
        for index, request in enumerate(requests):
            if batch.wake.wait(step):
                return self._close(batch, "cancelled", results, requests[index:])
            if time.monotonic() >= timing.deadline:
                return self._close(batch, "expired", results, requests[index:])
            self._record(batch, results, self._line(batch, index, request, step))
        return self._close(batch, "completed", results, [])

    def _update(self, batch: FakeBatch, status: str, total: int, model: str) -> None:
        with self.fake.lock:
            if batch.status == "validating":
                batch.status = status
                batch.times[f"{status}_at"] = int(time.time())
            batch.counts["total"] = total
            batch.model = model

    def _line(self, batch: FakeBatch, index: int, request: dict[str, Any], step: float) -> dict[str, Any]:
        """One output or error file line: a scripted failure, the sync API's refusal, or images."""
        body = request["body"]
        failure = batch.failures.get(request["custom_id"]) or batch.failures.get(index)
        refusal = BATCH_FAILURES[failure]() if failure else _request_problem(body, self.fake._today())
        if refusal:
            status, payload = refusal[0], json.loads(refusal[2])
        else:
            status, payload = 200, _images_answer(body)
            self._bill(batch, body, payload, step)
        return {
            "id": f"batch_req_{uuid.uuid4().hex}",
            "custom_id": request["custom_id"],
            "response": {"status_code": status, "request_id": f"req_{uuid.uuid4().hex}", "body": payload},
            "error": None,
        }

    def _bill(self, batch: FakeBatch, body: dict[str, Any], answer: dict[str, Any], step: float) -> None:
        usd = cost_from_usage(str(body["model"]), answer["usage"])
        now = time.monotonic()
        call = BilledCall(
            model=str(body["model"]),
            quality=answer["quality"],
            size=answer["size"],
            images=len(answer["data"]),
            usage=answer["usage"],
            usd=None if usd is None else usd * BATCH_PRICE_FACTOR,
            latency_seconds=step,
            accepted_at=now - step,
            finished_at=now,
            abandoned=False,
            batch_id=batch.id,
        )
        with self.fake.lock:
            self.fake._ledger.append(call)

    def _record(self, batch: FakeBatch, results: _Results, line: dict[str, Any]) -> None:
        succeeded = line["response"]["status_code"] == 200
        (results.output if succeeded else results.errors).append(line)
        with self.fake.lock:
            batch.counts["completed" if succeeded else "failed"] += 1
            if succeeded:
                for name in batch.usage:
                    batch.usage[name] += line["response"]["body"]["usage"][name]

    def _fail(self, batch: FakeBatch, problems: list[dict[str, Any]]) -> None:
        with self.fake.lock:
            batch.status = "failed"
            batch.times["failed_at"] = int(time.time())
            batch.errors = problems
        self._notify(batch, "failed")

    def _close(
        self, batch: FakeBatch, status: str, results: _Results, unfinished: list[dict[str, Any]]
    ) -> None:
        """Write the output and error files, then end the batch as `status` and tell the webhook."""
        if self.closed.is_set():
            return
        if status in UNFINISHED:
            code, message = UNFINISHED[status]
            error = {"code": code, "message": message}
            results.errors.extend(
                {
                    "id": f"batch_req_{uuid.uuid4().hex}",
                    "custom_id": request["custom_id"],
                    "response": None,
                    "error": error,
                }
                for request in unfinished
            )
        else:
            with self.fake.lock:
                if batch.status == "in_progress":  # not when a cancel has just made it `cancelling`
                    batch.status = "finalizing"
                    batch.times["finalizing_at"] = int(time.time())
        if batch.wake.wait(self._finalizing_seconds()) and status == "completed":
            status = "cancelled"  # cancelled while finalizing: the lines are all drawn, nothing unfinished
        if self.closed.is_set():
            return
        output, errors = (
            self._jsonl(batch, kind, lines)
            for kind, lines in (("output", results.output), ("error", results.errors))
        )
        with self.fake.lock:
            batch.counts["failed"] += len(unfinished)
            batch.output_file_id = output
            batch.error_file_id = errors
            batch.status = status
            batch.times[f"{status}_at"] = int(time.time())
        self._notify(batch, status)

    def _finalizing_seconds(self) -> float:
        with self.fake.lock:
            return self.fake.batch_seconds * self.fake.time_scale * BATCH_PHASES[2]

    def _jsonl(self, batch: FakeBatch, kind: str, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        content = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        return self._store(f"{batch.id}_{kind}.jsonl", "batch_output", content).id

    # -- webhooks -------------------------------------------------------------------------------
    def _notify(self, batch: FakeBatch, status: str) -> None:
        """POST the batch's event, signed as Standard Webhooks, `webhook_deliveries` times: every
        delivery of one event carries the same webhook-id and body, as a real retry would."""
        with self.fake.lock:
            url, secret, times = self.fake.webhook_url, self.fake.webhook_secret, self.fake.webhook_deliveries
        if not url or not secret or self.closed.is_set():
            return
        event_type = WEBHOOK_EVENTS[status]
        body = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex}",
                "object": "event",
                "created_at": int(time.time()),
                "type": event_type,
                "data": {"id": batch.id},
            }
        )
        webhook_id = f"wh_{uuid.uuid4().hex}"
        for _ in range(times):
            status_code = _deliver(url, secret, webhook_id, body)
            with self.fake.lock:
                self.deliveries.append(WebhookDelivery(event_type, webhook_id, batch.id, status_code))


class _Timing(NamedTuple):
    seconds: float  # the whole batch, time_scale applied
    deadline: float  # time.monotonic() at which the completion window ends


def _deliver(url: str, secret: str, webhook_id: str, body: str) -> int | None:
    """One signed POST; the receiver's status, or None when it could not be reached."""
    sent_at = datetime.fromtimestamp(math.floor(time.time()), UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, sent_at, body),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback, checked)
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError:
        return None


def _form_fields(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body by field name: (filename, bytes)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"content-type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


def _batch_request_problem(body: dict[str, Any]) -> Response | None:
    """The 400 POST /v1/batches answers at once, or None."""
    if not isinstance(body.get("input_file_id"), str):
        return _invalid(
            "missing_required_parameter", "Missing required parameter: 'input_file_id'.", "input_file_id"
        )
    if body.get("endpoint") != BATCH_ENDPOINT:
        return _invalid(
            "invalid_value",
            f"Invalid value: '{body.get('endpoint')}'. The fake batches {BATCH_ENDPOINT} only.",
            "endpoint",
        )
    if body.get("completion_window") != BATCH_WINDOW:
        return _invalid(
            "invalid_value",
            f"Invalid value: '{body.get('completion_window')}'. Supported values are: '{BATCH_WINDOW}'.",
            "completion_window",
        )
    metadata = body.get("metadata")
    if metadata is not None and not _valid_metadata(metadata):
        return _invalid(
            "invalid_value",
            "metadata: at most 16 pairs, keys of at most 64 characters, string values of at most 512.",
            "metadata",
        )
    return None


def _valid_metadata(metadata: Any) -> bool:
    return (
        isinstance(metadata, dict)
        and len(metadata) <= 16
        and all(isinstance(k, str) and len(k) <= 64 for k in metadata)
        and all(isinstance(v, str) and len(v) <= 512 for v in metadata.values())
    )


def _parse_batch_input(raw: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's requests, and the errors that fail the batch (codes as the real API's)."""
    requests: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, text in enumerate(raw.decode(errors="replace").splitlines(), start=1):
        if not text.strip():
            continue
        request, problem = _batch_line(number, text)
        if problem is None and request["custom_id"] in seen:
            problem = _line_error(
                number,
                "duplicate_custom_id",
                "The custom_id for this request is a "
                "duplicate of another request. The custom_id parameter must be unique "
                "for each request in a batch.",
                "custom_id",
            )
        if problem is None and requests and request["body"].get("model") != requests[0]["body"].get("model"):
            problem = _line_error(
                number, "model_mismatch", "All requests in a batch must use the same model.", "body.model"
            )
        if problem:
            problems.append(problem)
            continue
        seen.add(request["custom_id"])
        requests.append(request)
    if not requests and not problems:
        problems.append(_line_error(None, "empty_file", "The batch input file is empty.", None))
    if len(requests) > BATCH_MAX_REQUESTS:
        problems.append(
            _line_error(
                None,
                "too_many_tasks",
                f"A batch may hold at most {BATCH_MAX_REQUESTS} requests; this file has {len(requests)}.",
                None,
            )
        )
    return requests, problems


def _batch_line(number: int, text: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One input line as a request, or the error it fails the batch with."""
    try:
        request = json.loads(text)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return {}, _line_error(number, "invalid_json_line", "This line is not parseable as valid JSON.", None)
    checks = (
        (
            isinstance(request.get("custom_id"), str) and request["custom_id"],
            "missing_required_parameter",
            "custom_id",
        ),
        (request.get("method") == "POST", "invalid_value", "method"),
        (request.get("url") == BATCH_ENDPOINT, "url_mismatch", "url"),
        (isinstance(request.get("body"), dict), "missing_required_parameter", "body"),
    )
    for ok, code, param in checks:
        if not ok:
            return request, _line_error(
                number,
                code,
                f"Line {number}: '{param}' is missing or not valid for {BATCH_ENDPOINT} (POST).",
                param,
            )
    return request, None


def _line_error(line: int | None, code: str, message: str, param: str | None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}
