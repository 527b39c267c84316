"""The HTTP front: API Gateway (HTTP API, payload 2.0) in front of the template's routes.

Like API Gateway it answers 401 when the Authorization header is missing, 403 when the Lambda
authorizer refuses, caches the authorizer's answer for ReauthorizeEvery seconds, passes v2 events to
the function that owns the route, and 500s on a function error. With the HTTP API's
CorsConfiguration it answers CORS preflights itself, before any route or authorizer, and sets the
CORS headers of every answer in place of the function's.

Malformed HTTP gets a JSON error at once, never the stdlib's HTML page nor a wait for bytes that will
not come: a Content-Length that is not a whole number (400), above the API's body limit (413), or
longer than the body sent (400, or 408 after BODY_IDLE_SECONDS of silence); a Transfer-Encoding (411:
send a Content-Length); a character RFC 3986 does not allow in a URL (400); a method no route takes
(405 with Allow); and every error the stdlib's parser finds (400, 414, 431, 505).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from imagegen.local.template import Route
from imagegen.models.requests import MAX_BODY_BYTES

Invoke = Callable[[str, dict[str, Any]], Any]
# A route the front answers itself, not from the template (the local stack's POST /local/token): the
# request's body -> (status, JSON body).
LocalRoute = Callable[[bytes], tuple[int, dict[str, Any]]]
# The names a local route answers to: a page of another site whose name it rebinds to 127.0.0.1 (DNS
# rebinding) reaches the front as same-origin, but sends its own name as Host, and is refused.
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# How long a body may go silent before the request is given up (a Content-Length above what is sent).
BODY_IDLE_SECONDS = 1.0
# How long a refused connection's unread bytes are drained before closing it (see _drain).
LINGER_SECONDS = 2.0
# RFC 3986's characters of a request target; anything else (" < > \\ ^ ` { | } controls, spaces,
# non-ASCII, a % without two hex digits) must be percent-encoded.
_REQUEST_TARGET = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_WHOLE_NUMBER = re.compile(r"[0-9]+")
# The API's own codes where a status has one; other statuses are named after HTTPStatus.
_ERROR_CODES = {
    HTTPStatus.BAD_REQUEST: "invalid_request",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "body_too_large",
}
# The stdlib's parser errors in words that never echo the request back (its own quote the request line).
_PARSER_MESSAGES = {
    HTTPStatus.BAD_REQUEST: "the request line is malformed: METHOD /path HTTP/1.1",
    HTTPStatus.REQUEST_URI_TOO_LONG: "the request line is longer than 65536 bytes",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: (
        "a header line is longer than 65536 bytes, or there are more than 100 headers"
    ),
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "only HTTP/1.0 and HTTP/1.1 are served",
}


def error_code(status: int) -> str:
    """The `error` code of a status the front answers itself."""
    return _ERROR_CODES.get(HTTPStatus(status), HTTPStatus(status).name.lower())


def _drain(connection: socket.socket) -> None:
    """Read and drop what the client still sends, for at most LINGER_SECONDS, before the connection
    closes: closing a socket with unread bytes sends a reset, which can destroy the answer before
    the client reads it (Apache's and nginx's "lingering close")."""
    try:
        connection.shutdown(socket.SHUT_WR)  # the answer is complete: the client sees its end now
        deadline = time.monotonic() + LINGER_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            if not connection.recv(65536):
                return
    except OSError:  # timed out or reset: either way there is nothing more to wait for
        return


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


class _Answered(Exception):
    """The front has answered the request itself (an error, or a CORS preflight): nothing more to send."""


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names' values joined with commas, as API Gateway's payload 2.0 joins them."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


@dataclass(frozen=True)
class _Routed:
    """A request matched to a route: what the authorizer's and the function's events hold."""

    method: str
    route: Route
    url: SplitResult
    path_parameters: dict[str, str]
    headers: dict[str, str]
    query: dict[str, str]
    context: dict[str, Any]

    def authorizer_event(self, authorization: str) -> dict[str, Any]:
        url = self.url
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:local/$default/{self.method}{url.path}",
            "identitySource": [authorization],
            "routeKey": self.route.route_key,
            "rawPath": url.path,
            "rawQueryString": url.query,
            "headers": self.headers,
            "queryStringParameters": self.query or None,
            "pathParameters": self.path_parameters or None,
            "requestContext": self.context,
        }

    def function_event(self, authorizer_context: Any, raw_body: bytes) -> dict[str, Any]:
        try:
            text_body, is_base64 = raw_body.decode("utf-8"), False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(raw_body).decode(), True
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": self.route.route_key,
            "rawPath": self.url.path,
            "rawQueryString": self.url.query,
            "headers": self.headers,
            "requestContext": {**self.context, "authorizer": {"lambda": authorizer_context}},
            "isBase64Encoded": is_base64,
        }
        if self.query:
            event["queryStringParameters"] = self.query
        if self.path_parameters:
            event["pathParameters"] = self.path_parameters
        if raw_body:
            event["body"] = text_body
        return event


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
        local_routes: dict[tuple[str, str], LocalRoute] | None = None,
    ) -> None:
        self.routes, self.authorizer, self.invoke = routes, authorizer, invoke
        self.local_routes = dict(local_routes or {})  # (method, path) -> answer; never in AWS
        self.cors = CorsRules(cors) if cors else None
        self.auth_cache = AuthorizerCache(auth_cache_ttl)
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one segment: with Nagle and delayed ACKs, two small writes on a
            # keep-alive connection cost ~40 ms per response.
            disable_nagle_algorithm = True
            wbufsize = -1

            linger = False  # set when the connection closes with bytes of the request unread

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the functions log each request themselves

            def do_GET(self) -> None:
                front.handle(self)

            def __getattr__(self, name: str) -> Callable[[], None]:
                # Every method reaches the front, which answers 405 for those no route takes (the
                # stdlib would answer 501 with an HTML page for a method without a do_ method).
                if name.startswith("do_"):
                    return self.do_GET
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # The stdlib's parser errors (400, 414, 431, 505) as JSON: it would send an HTML page
                # and a reason phrase quoting the request. The connection is in an unknown state.
                text = _PARSER_MESSAGES.get(HTTPStatus(code), HTTPStatus(code).phrase)
                if self.request_version == "HTTP/0.9":  # no version parsed: answer with a status line
                    self.request_version = "HTTP/1.0"
                front.refuse(self, code, text, close=True)

            def handle_expect_100(self) -> bool:
                # A body the front would refuse is refused before the client is told to send it.
                return front.declared_length(self) is not None and super().handle_expect_100()

            def finish(self) -> None:
                super().finish()
                if self.linger:
                    _drain(self.connection)

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
        raw_body = self._read_body(http)
        if raw_body is None:
            return
        try:
            cors = self._cors_headers(http)
            local = self.local_routes.get((http.command, urlsplit(http.path).path))
            if local is not None:
                if urlsplit("//" + (http.headers.get("Host") or "")).hostname not in _LOOPBACK_NAMES:
                    refused = {"error": "forbidden", "message": "local routes answer 127.0.0.1 or localhost"}
                    self._send(http, 403, refused, cors)
                else:
                    self._send(http, *local(raw_body), cors)
                return
            request = self._routed(http, cors)
            answer = self._authorized(http, request, cors)
            event = request.function_event(answer.get("context", {}), raw_body)
            response = self._invoke(http, request.route.function, event, cors)
        except _Answered:
            return
        self._send_lambda_response(http, response, cors)

    def _cors_headers(self, http: BaseHTTPRequestHandler) -> dict[str, str]:
        """The CORS headers of the answer; a preflight is answered here, before any route or authorizer."""
        if not self.cors:
            return {}
        origin = http.headers.get("origin")
        if http.command == "OPTIONS" and origin and http.headers.get("access-control-request-method"):
            self._send_preflight(http, self.cors.preflight_headers(origin))
            raise _Answered
        return self.cors.response_headers(origin)

    def _routed(self, http: BaseHTTPRequestHandler, cors: dict[str, str]) -> _Routed:
        """The request matched to its route, or _Answered with 400, 405 or 404."""
        method = http.command
        if not _REQUEST_TARGET.fullmatch(http.path):
            message = "the URL holds a character that must be percent-encoded, or a % without two hex digits"
            self.refuse(http, HTTPStatus.BAD_REQUEST, message, cors)
            raise _Answered
        allowed = sorted({route.method for route in self.routes})
        if method not in allowed:
            message = f"this API takes {' and '.join(allowed)} only"
            self.refuse(http, HTTPStatus.METHOD_NOT_ALLOWED, message, cors | {"allow": ", ".join(allowed)})
            raise _Answered
        url = urlsplit(http.path)
        match = self._match(method, url.path)
        if match is None:
            self._send(http, 404, {"message": "Not Found"}, cors)
            raise _Answered
        route, path_parameters = match
        return _Routed(
            method=method,
            route=route,
            url=url,
            path_parameters=path_parameters,
            headers=_joined((name.lower(), value) for name, value in http.headers.items()),
            query=_joined(parse_qsl(url.query, keep_blank_values=True)),
            context=_request_context(method, url.path, route.route_key, http),
        )

    def _authorized(
        self, http: BaseHTTPRequestHandler, request: _Routed, cors: dict[str, str]
    ) -> dict[str, Any]:
        """The authorizer's answer (cached), or _Answered with 401 or 403 as API Gateway answers; a
        route with `Authorizer: NONE` runs no authorizer, and its function sees no authorizer context."""
        if not request.route.authorized:
            return {}
        authorization = request.headers.get("authorization")
        if not authorization:
            self._send(http, 401, {"message": "Unauthorized"}, cors)
            raise _Answered
        answer: dict[str, Any] | None = self.auth_cache.get(authorization)
        if answer is None:
            answer = self._invoke(http, self.authorizer, request.authorizer_event(authorization), cors)
            self.auth_cache.put(authorization, answer)
        if not answer.get("isAuthorized"):
            self._send(http, 403, {"message": "Forbidden"}, cors)
            raise _Answered
        return answer

    def _invoke(
        self, http: BaseHTTPRequestHandler, function: str, event: dict[str, Any], cors: dict[str, str]
    ) -> Any:
        """The function's result, or _Answered with API Gateway's 500 when it raised."""
        try:
            return self.invoke(function, event)
        except Exception:
            traceback.print_exc()  # as Lambda logs a function error
            self._send(http, 500, {"message": "Internal Server Error"}, cors)
            raise _Answered from None

    def _read_body(self, http: BaseHTTPRequestHandler) -> bytes | None:
        """The request's body, or None once a framing error is answered (the connection then closes:
        where the body ends is unknown, so nothing after it can be read as the next request)."""
        length = self.declared_length(http)
        if not length:
            return None if length is None else b""
        http.connection.settimeout(BODY_IDLE_SECONDS)
        try:
            body = http.rfile.read(length)
        except TimeoutError:
            message = f"the body stopped arriving before its Content-Length of {length} bytes"
            self.refuse(http, HTTPStatus.REQUEST_TIMEOUT, message, close=True)
            return None
        finally:
            http.connection.settimeout(http.timeout)
        if len(body) < length:
            message = f"the body ended before its Content-Length of {length} bytes"
            self.refuse(http, HTTPStatus.BAD_REQUEST, message, close=True)
            return None
        return body

    def declared_length(self, http: BaseHTTPRequestHandler) -> int | None:
        """The body's length from the headers, or None once a bad one is answered."""
        if "transfer-encoding" in http.headers:
            # http.server reads no chunked bodies, and API clients send a Content-Length anyway.
            message = "send the body with a Content-Length header (chunked bodies are not supported)"
            self.refuse(http, HTTPStatus.LENGTH_REQUIRED, message, close=True)
            return None
        lengths = {value.strip() for value in http.headers.get_all("content-length") or []}
        if not lengths:
            return 0  # no body (RFC 9112 6.3): bytes sent anyway are read as the next request
        value = lengths.pop()
        if lengths or not _WHOLE_NUMBER.fullmatch(value):
            message = "Content-Length must be one whole number of bytes"
            self.refuse(http, HTTPStatus.BAD_REQUEST, message, close=True)
            return None
        # Compared by its digits first: int() refuses numbers of more than 4300 digits.
        if len(value.lstrip("0")) > len(str(MAX_BODY_BYTES)) or int(value) > MAX_BODY_BYTES:
            message = f"request bodies are limited to {MAX_BODY_BYTES} bytes"
            self.refuse(http, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message, close=True)
            return None
        return int(value)

    def refuse(
        self,
        http: BaseHTTPRequestHandler,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        """A JSON error of the front itself, in the API's `{"error", "message"}` shape; with close,
        the connection ends after it and what the client still sends is drained."""
        if close:
            http.close_connection = True
            http.linger = True  # type: ignore[attr-defined]
            headers = (headers or {}) | {"connection": "close"}
        self._send(http, status, {"error": error_code(status), "message": message}, headers)

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
        if http.command != "HEAD":
            http.wfile.write(data)

    @staticmethod
    def _send_preflight(http: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        http.send_response(204)
        for name, value in headers.items():
            http.send_header(name, value)
        http.send_header("content-length", "0")
        http.end_headers()
