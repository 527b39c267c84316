"""A fake OpenAI Images API on loopback, for tests and benchmarks through the real SDK.

It answers POST /v1/images/generations as the public API does for GPT image models: the same
parameter rules (from the model registry), error bodies, status codes and headers (x-request-id,
x-ratelimit-*, retry-after), a usage block, and an image of the requested size and format.
It can be scripted: latency, an images-per-minute limit enforced over short windows, and the next
responses (429 with Retry-After, 500, timeouts, non-PNG or truncated bytes, moderation refusals,
insufficient_quota), through POST /_fake/config and POST /_fake/script; GET /_fake/stats counts calls.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from imagegen.providers.registry import MODELS, RETIRED_MODELS, ModelRefused, check_request, choose_model

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


class FakeOpenAI:
    """Start with `start()`; `base_url` is what OPENAI_BASE_URL should be."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.latency = 0.0
        self.images_per_minute = 0  # 0 = unlimited
        self.window_seconds = 10.0  # a minute's limit enforced per window, like the real API
        self.retry_after = 1.0
        self.script: collections.deque[str] = collections.deque()
        self.calls: collections.Counter[str] = collections.Counter()
        self.accepted: collections.deque[float] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.host = host
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-openai").start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- behaviour ------------------------------------------------------------------------------
    def _next_behaviour(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else "ok"

    def _over_limit(self) -> float:
        """Seconds until a slot frees up, or 0 when this request fits the images-per-minute limit."""
        if not self.images_per_minute:
            return 0.0
        per_window = max(1, round(self.images_per_minute * self.window_seconds / 60))
        now = time.monotonic()
        with self.lock:
            while self.accepted and self.accepted[0] <= now - self.window_seconds:
                self.accepted.popleft()
            if len(self.accepted) >= per_window:
                return self.accepted[0] + self.window_seconds - now
            self.accepted.append(now)
            return 0.0

    def generate(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        behaviour = self._next_behaviour()
        key = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not key or behaviour == "invalid_key" or key.startswith("invalid"):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        problem = _parameter_problem(body)
        if problem:
            return _error(400, problem[1], "invalid_request_error", problem[0], param=problem[2])
        if behaviour == "insufficient_quota":
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            )
        wait = self._over_limit()
        if behaviour == "rate_limit" or wait:
            retry_after = wait or self.retry_after
            status, response_headers, payload = _error(
                429, "Rate limit reached for images per minute.", "requests", "rate_limit_exceeded"
            )
            return (
                status,
                {
                    **response_headers,
                    "retry-after": f"{retry_after:.3f}",
                    "retry-after-ms": str(int(retry_after * 1000)),
                },
                payload,
            )
        if behaviour == "server_error":
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        if behaviour == "moderation":
            return _error(
                400,
                "Your request was rejected by the safety system.",
                "image_generation_user_error",
                "moderation_blocked",
            )
        time.sleep(self.latency if behaviour != "timeout" else 30)
        width, height = (int(side) for side in (body.get("size") or "1024x1024").split("x"))
        image = _image(width, height, body.get("output_format", "png"))
        if behaviour == "not_png":
            image = b"GIF89a" + image[6:]
        elif behaviour == "truncated":
            image = image[: len(image) // 2]
        elif behaviour == "bomb":  # a tiny PNG that claims 400 megapixels
            bomb = io.BytesIO()
            Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
            image = bomb.getvalue()
        prompt_tokens = max(1, len(str(body.get("prompt", ""))) // 4)
        output_tokens = {"low": 272, "medium": 1056, "high": 4160}.get(body.get("quality", "auto"), 1056)
        answer = {
            "created": int(time.time()),
            "background": body.get("background", "opaque"),
            "output_format": body.get("output_format", "png"),
            "quality": body.get("quality", "medium"),
            "size": f"{width}x{height}",
            "data": [{"b64_json": base64.b64encode(image).decode()} for _ in range(int(body.get("n", 1)))],
            "usage": {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
                "output_tokens": output_tokens,
                "total_tokens": prompt_tokens + output_tokens,
            },
        }
        return 200, {"content-type": "application/json"}, json.dumps(answer).encode()

    # -- HTTP -----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
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

            def do_GET(self) -> None:
                if self.path == "/_fake/stats":
                    with fake.lock:
                        stats = {"calls": dict(fake.calls), "total": sum(fake.calls.values())}
                    self._send(200, {"content-type": "application/json"}, json.dumps(stats).encode())
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
                if self.path == "/_fake/config":
                    fake.configure(**body)
                    self._send(200, {"content-type": "application/json"}, b"{}")
                elif self.path == "/_fake/script":
                    fake.push(*body.get("next", []))
                    self._send(200, {"content-type": "application/json"}, b"{}")
                elif self.path == "/v1/images/generations":
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    with fake.lock:
                        fake.requests.append(body)
                    status, response_headers, payload = fake.generate(headers, body)
                    with fake.lock:
                        fake.calls[str(status)] += 1
                    self._send(status, {**response_headers, **fake.rate_headers()}, payload)
                else:
                    self._send(*_error(404, f"Invalid URL (POST {self.path})", "invalid_request_error", None))

        return Handler

    def configure(self, **settings: Any) -> None:
        with self.lock:
            for name in ("latency", "images_per_minute", "window_seconds", "retry_after"):
                if name in settings:
                    setattr(self, name, settings[name])

    def push(self, *behaviours: str) -> None:
        unknown = [b for b in behaviours if b not in SCRIPTABLE]
        if unknown:
            raise ValueError(f"unknown behaviours {unknown}; known: {SCRIPTABLE}")
        with self.lock:
            self.script.extend(behaviours)

    def rate_headers(self) -> dict[str, str]:
        limit = self.images_per_minute or 10_000
        with self.lock:
            used = len(self.accepted)
        return {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-processing-ms": str(int(self.latency * 1000)),
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(0, limit - used)),
            "x-ratelimit-reset-requests": f"{self.window_seconds:.0f}s",
        }


def _error(
    status: int, message: str, error_type: str, code: str | None, param: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _parameter_problem(body: dict[str, Any]) -> tuple[str, str, str] | None:
    """(code, message, param) for a request the real API would refuse with 400, else None."""
    for legacy in ("response_format", "style"):
        if legacy in body:
            return "unknown_parameter", f"Unknown parameter: '{legacy}'.", legacy
    model = body.get("model")
    if model in RETIRED_MODELS or model not in MODELS:
        return "invalid_value", f"Invalid value: '{model}'. Supported models: {', '.join(MODELS)}.", "model"
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return "missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt"
    if not 1 <= int(body.get("n", 1)) <= 10:
        return "integer_above_max_value", "Invalid 'n': must be between 1 and 10.", "n"
    try:
        width, height = (int(side) for side in str(body.get("size", "1024x1024")).split("x"))
        check_request(
            choose_model(model, model),
            width,
            height,
            body.get("quality", "auto"),
            body.get("background", "auto"),
            body.get("output_format", "png"),
            body["prompt"],
        )
    except (ModelRefused, ValueError) as problem:
        return "invalid_value", str(problem), "size"
    return None


def _image(width: int, height: int, output_format: str) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format={"jpeg": "JPEG", "webp": "WEBP"}.get(output_format, "PNG"))
    return buffer.getvalue()
