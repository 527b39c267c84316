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
"""

from __future__ import annotations

import base64
import collections
import functools
import io
import ipaddress
import json
import math
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

from PIL import Image

from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import (
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
        )
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
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        if behaviour == "moderation":
            return _error(
                400,
                "Your request was rejected by the safety system.",
                "image_generation_user_error",
                "moderation_blocked",
            )
        return self._draw(behaviour, body, admission)

    def _draw(self, behaviour: str, body: dict[str, Any], admission: Admission) -> Response:
        """Spend the call's latency, then bill it and answer with its images."""
        slept = self.timeout_seconds if behaviour == "timeout" else admission.latency
        time.sleep(slept)
        model = str(body["model"])
        width, height = _size(body)
        quality = _billed_quality(str(body.get("quality", "auto")))
        images = int(body.get("n", 1))
        output_format = body.get("output_format", "png")
        image = _spoiled(_image(width, height, output_format), behaviour)
        usage = _usage(MODELS[model].output_tokens(width, height, quality) * images, str(body["prompt"]))
        self._bill(
            BilledCall(
                model=model,
                quality=quality,
                size=f"{width}x{height}",
                images=images,
                usage=usage,
                usd=cost_from_usage(model, usage),
                latency_seconds=slept,
                accepted_at=admission.accepted_at,
                finished_at=time.monotonic(),
                abandoned=self._client_gone(),
            )
        )
        answer = {
            "created": int(time.time()),
            "background": body.get("background", "opaque"),
            "output_format": output_format,
            "quality": quality,
            "size": f"{width}x{height}",
            "data": [{"b64_json": base64.b64encode(image).decode()} for _ in range(images)],
            "usage": usage,
        }
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

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

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
        else:
            self._send(*_error(404, "Not found", "invalid_request_error", None))

    def do_POST(self) -> None:
        try:
            body = self._body()
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
