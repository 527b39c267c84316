"""The HTTP front: API Gateway (HTTP API, payload 2.0) in front of the template's routes.

Like API Gateway it answers 401 when the Authorization header is missing, 403 when the Lambda
authorizer refuses, caches the authorizer's answer for ReauthorizeEvery seconds, passes v2 events to
the function that owns the route, and 500s on a function error. With the HTTP API's
CorsConfiguration it answers CORS preflights itself, before any route or authorizer, and sets the
CORS headers of every answer in place of the function's.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from imagegen.local.template import Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
Invoke = Callable[[str, dict[str, Any]], Any]


class AuthorizerCache:
    """Authorizer answers by identity source, kept for the template's ReauthorizeEvery seconds."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl = ttl_seconds
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, identity: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._answers.get(identity)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            self._answers.pop(identity, None)
            return None

    def put(self, identity: str, answer: dict[str, Any]) -> None:
        if self.ttl > 0:
            with self._lock:
                self._answers[identity] = (time.monotonic() + self.ttl, answer)


class CorsRules:
    """An HTTP API's CorsConfiguration applied as API Gateway applies it. Written by hand: CORS
    libraries (flask-cors, starlette) are middleware for their own frameworks, not this front."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.origins = {origin.lower() for origin in config.get("AllowOrigins", [])}
        self.allow_headers = ",".join(config.get("AllowHeaders", []))
        self.allow_methods = ",".join(config.get("AllowMethods", []))
        self.expose_headers = ",".join(config.get("ExposeHeaders", []))
        self.max_age = config.get("MaxAge")

    def allowed(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this Origin, or None when it is not allowed."""
        if not origin:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin.lower() in self.origins else None

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        allowed = self.allowed(origin)
        if allowed is None:
            return {}
        headers = {
            "access-control-allow-origin": allowed,
            "access-control-allow-methods": self.allow_methods,
            "access-control-allow-headers": self.allow_headers,
        }
        if self.max_age is not None:
            headers["access-control-max-age"] = str(self.max_age)
        return headers | self._vary(allowed)

    def response_headers(self, origin: str | None) -> dict[str, str]:
        allowed = self.allowed(origin)
        if allowed is None:
            return {}
        headers = {"access-control-allow-origin": allowed}
        if self.expose_headers:
            headers["access-control-expose-headers"] = self.expose_headers
        return headers | self._vary(allowed)

    @staticmethod
    def _vary(allowed: str) -> dict[str, str]:
        # The answer depends on the Origin: caches must not hand one origin's answer to another.
        return {} if allowed == "*" else {"vary": "Origin"}


def _request_context(
    method: str, path: str, route_key: str, handler: BaseHTTPRequestHandler
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": handler.headers.get("host", "127.0.0.1"),
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": handler.request_version,
            "sourceIp": handler.client_address[0],
            "userAgent": handler.headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }


class ApiFront:
    """A threading HTTP server that routes to Lambda-like functions through an authorizer."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: list[Route],
        authorizer: str,
        auth_cache_ttl: int,
        invoke: Invoke,
        cors: dict[str, Any] | None = None,
    ) -> None:
        self.routes, self.authorizer, self.invoke = routes, authorizer, invoke
        self.cors = CorsRules(cors) if cors else None
        self.auth_cache = AuthorizerCache(auth_cache_ttl)
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one segment: with Nagle and delayed ACKs, two small writes on a
            # keep-alive connection cost ~40 ms per response.
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the functions log each request themselves

            def do_GET(self) -> None:
                front.handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="api-front", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- one request ------------------------------------------------------------------------
    def handle(self, http: BaseHTTPRequestHandler) -> None:
        url = urlsplit(http.path)
        method = http.command
        length = int(http.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._send(http, 413, {"message": "Request Entity Too Large"})
            return
        raw_body = http.rfile.read(length) if length else b""
        origin = http.headers.get("origin")
        if self.cors and method == "OPTIONS" and origin and http.headers.get("access-control-request-method"):
            self._send_preflight(http, self.cors.preflight_headers(origin))
            return
        cors = self.cors.response_headers(origin) if self.cors else {}
        match = self._match(method, url.path)
        if match is None:
            self._send(http, 404, {"message": "Not Found"}, cors)
            return
        route, path_parameters = match
        headers: dict[str, str] = {}
        for name, value in http.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        query: dict[str, str] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        context = _request_context(method, url.path, route.route_key, http)

        authorization = headers.get("authorization")
        if not authorization:
            self._send(http, 401, {"message": "Unauthorized"}, cors)
            return
        answer = self.auth_cache.get(authorization)
        if answer is None:
            auth_event = {
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:local/$default/{method}{url.path}",
                "identitySource": [authorization],
                "routeKey": route.route_key,
                "rawPath": url.path,
                "rawQueryString": url.query,
                "headers": headers,
                "queryStringParameters": query or None,
                "pathParameters": path_parameters or None,
                "requestContext": context,
            }
            try:
                answer = self.invoke(self.authorizer, auth_event)
            except Exception:
                traceback.print_exc()  # as Lambda logs a function error
                self._send(http, 500, {"message": "Internal Server Error"}, cors)
                return
            self.auth_cache.put(authorization, answer)
        if not answer.get("isAuthorized"):
            self._send(http, 403, {"message": "Forbidden"}, cors)
            return

        text_body: str | None
        try:
            text_body, is_base64 = raw_body.decode("utf-8"), False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(raw_body).decode(), True
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": url.path,
            "rawQueryString": url.query,
            "headers": headers,
            "requestContext": {**context, "authorizer": {"lambda": answer.get("context", {})}},
            "isBase64Encoded": is_base64,
        }
        if query:
            event["queryStringParameters"] = query
        if path_parameters:
            event["pathParameters"] = path_parameters
        if raw_body:
            event["body"] = text_body
        try:
            response = self.invoke(route.function, event)
        except Exception:
            traceback.print_exc()  # as Lambda logs a function error
            self._send(http, 500, {"message": "Internal Server Error"}, cors)
            return
        self._send_lambda_response(http, response, cors)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def _send_lambda_response(
        self, http: BaseHTTPRequestHandler, response: dict[str, Any], cors: dict[str, str]
    ) -> None:
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        http.send_response(int(response.get("statusCode", 200)))
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(values)
        headers.pop("content-length", None)
        if self.cors:  # API Gateway ignores the function's CORS headers and sets its own
            headers = {k: v for k, v in headers.items() if not k.startswith("access-control-")}
            headers.update(cors)
        for name, value in headers.items():
            http.send_header(name, str(value))
        for cookie in response.get("cookies") or []:
            http.send_header("set-cookie", cookie)
        http.send_header("content-length", str(len(data)))
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(data)

    @staticmethod
    def _send(
        http: BaseHTTPRequestHandler, status: int, body: dict[str, Any], cors: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        http.send_response(status)
        http.send_header("content-type", "application/json")
        for name, value in (cors or {}).items():
            http.send_header(name, value)
        http.send_header("content-length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)

    @staticmethod
    def _send_preflight(http: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        http.send_response(204)
        for name, value in headers.items():
            http.send_header(name, value)
        http.send_header("content-length", "0")
        http.end_headers()
