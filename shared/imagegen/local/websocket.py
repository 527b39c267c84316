"""The WebSocket API locally: API Gateway's WebSocket routes and its `@connections` management API.

`sam local` serves no WebSocket APIs and moto's management API treats every connection as live (it
never answers 410), so this emulation is the local stack's own. A `websockets` server calls the
template's functions with API Gateway's event shapes: the REQUEST authorizer then the $connect route
during the handshake (401 without the identity source, 403 when the authorizer denies or $connect
fails), a message's route chosen by its `action` ($request.body.action) or $default, the route's
answer sent back when the route has a route response, and $disconnect once the client has gone. A
sibling HTTP server is the stage's management endpoint: `POST /@connections/{id}` sends its body to
that client, `GET` describes it, `DELETE` closes it, and an unknown id answers 410 GoneException.
API Gateway's idle (10 min) and 2 h limits are not emulated.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from imagegen.local.template import WebSocketApiSpec
from imagegen.models.websocket import MAX_MESSAGE_BYTES

Invoke = Callable[[str, dict[str, Any]], Any]
_CONNECTIONS_PATH = re.compile(r"^(?:/[^/]+)?/@connections/(?P<id>[^/]+)$")
API_ID = "local"
SEND_SECONDS = 5.0  # a management call waits this long for a client's socket to take the message


def _connection_id() -> str:
    """An id shaped like API Gateway's (12 random bytes, base64: 16 characters ending in '=')."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


class WebSocketFront:
    """Start with `start()`, stop with `stop()`; `url` is where clients connect, `management_url` the
    endpoint the notifier posts to (WEBSOCKET_URL and WEBSOCKET_MANAGEMENT_URL of the functions)."""

    def __init__(self, host: str, port: int, api: WebSocketApiSpec, invoke: Invoke) -> None:
        self.host, self.requested_port, self.api, self.invoke = host, port, api, invoke
        self.connections: dict[str, ServerConnection] = {}
        self._ids: dict[ServerConnection, tuple[str, int]] = {}  # id and connectedAt (ms)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="websocket-front", daemon=True)
        self._server: Server | None = None
        self.management = _ManagementServer(host, self)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        return self.management.url

    def start(self) -> WebSocketFront:
        self._thread.start()
        self._server = self._run(self._listen())
        self.management.start()
        return self

    async def _listen(self) -> Server:
        return await serve(
            self._session,
            self.host,
            self.requested_port,
            process_request=self._handshake,
            max_size=MAX_MESSAGE_BYTES,
        )

    def stop(self) -> None:
        self.management.stop()
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # -- API Gateway's side of a connection ---------------------------------------------------
    def _context(self, connection_id: str, route: str, event_type: str, connected_at: int) -> dict[str, Any]:
        now = int(time.time() * 1000)
        return {
            "routeKey": route,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "requestId": uuid.uuid4().hex,
            "extendedRequestId": uuid.uuid4().hex,
            "domainName": f"{self.host}:{self.port}",
            "connectionId": connection_id,
            "apiId": API_ID,
            "identity": {"sourceIp": self.host},
        }

    def _call(self, function: str, event: dict[str, Any]) -> Any:
        try:
            return self.invoke(function, event)
        except Exception:
            traceback.print_exc()  # as Lambda logs a function error
            return None

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """The authorizer and $connect, before the upgrade: a refusal is an HTTP answer."""
        url = urlsplit(request.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        connection_id, connected_at = _connection_id(), int(time.time() * 1000)
        context = self._context(connection_id, "$connect", "CONNECT", connected_at)
        base = {"headers": headers, "queryStringParameters": query or None, "isBase64Encoded": False}
        authorizer_context: dict[str, Any] = {}
        if self.api.authorizer:
            if not all(self._identity(source, headers, query) for source in self.api.identity):
                return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            answer = await asyncio.to_thread(
                self._call, self.api.authorizer, self._authorizer_event(base, context)
            )
            if answer is None:
                return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error\n")
            if not _allows(answer):
                return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
            authorizer_context = {"principalId": answer.get("principalId"), **(answer.get("context") or {})}
        route = self.api.routes.get("$connect")
        if route is not None:
            event = {**base, "requestContext": {**context, "authorizer": authorizer_context}}
            answer = await asyncio.to_thread(self._call, route.function, event)
            status = int((answer or {}).get("statusCode", 500))
            if not 200 <= status < 300:
                return connection.respond(HTTPStatus(status), f"{HTTPStatus(status).phrase}\n")
        self._ids[connection] = (connection_id, connected_at)
        return None

    def _authorizer_event(self, base: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{self.api.stage}/$connect"
        return {**base, "type": "REQUEST", "methodArn": arn, "stageVariables": {}, "requestContext": context}

    @staticmethod
    def _identity(source: str, headers: dict[str, str], query: dict[str, str]) -> str | None:
        kind, _, name = source.removeprefix("route.request.").partition(".")
        if kind == "querystring":
            return query.get(name) or None
        if kind == "header":
            return headers.get(name.lower()) or None
        raise NotImplementedError(f"the local stack cannot read the identity source {source}")

    async def _session(self, connection: ServerConnection) -> None:
        connection_id, connected_at = self._ids[connection]
        self.connections[connection_id] = connection
        try:
            async for message in connection:
                await self._message(connection, connection_id, connected_at, message)
        except ConnectionClosed:
            pass
        finally:
            self.connections.pop(connection_id, None)
            self._ids.pop(connection, None)
            route = self.api.routes.get("$disconnect")
            if route is not None:
                context = self._context(connection_id, "$disconnect", "DISCONNECT", connected_at)
                context["disconnectStatusCode"] = connection.close_code
                await asyncio.to_thread(self._call, route.function, {"requestContext": context})

    async def _message(
        self, connection: ServerConnection, connection_id: str, connected_at: int, message: str | bytes
    ) -> None:
        text = message if isinstance(message, str) else base64.b64encode(message).decode()
        route = self.api.routes.get(_route_key(message, self.api)) or self.api.routes.get("$default")
        if route is None:
            return
        context = self._context(connection_id, route.key, "MESSAGE", connected_at)
        context["messageId"] = uuid.uuid4().hex[:16]
        event = {"requestContext": context, "body": text, "isBase64Encoded": not isinstance(message, str)}
        answer = await asyncio.to_thread(self._call, route.function, event)
        if answer is None:  # API Gateway's answer to a function error
            error = {"message": "Internal server error", "connectionId": connection_id}
            await connection.send(json.dumps({**error, "requestId": context["requestId"]}))
        elif route.answers and answer.get("body") is not None:
            await connection.send(str(answer["body"]))

    # -- the management API -----------------------------------------------------------------
    def post(self, connection_id: str, data: bytes) -> bool:
        """Send to a client; False when it is not connected (410)."""
        connection = self.connections.get(connection_id)
        if connection is None:
            return False
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        try:
            self._run(connection.send(payload), timeout=SEND_SECONDS)
        except ConnectionClosed:
            return False
        return True

    def close(self, connection_id: str) -> bool:
        connection = self.connections.get(connection_id)
        if connection is None:
            return False
        self._run(connection.close(), timeout=SEND_SECONDS)
        return True

    def describe(self, connection_id: str) -> dict[str, Any] | None:
        connection = self.connections.get(connection_id)
        if connection is None or connection not in self._ids:
            return None
        connected_at = self._ids[connection][1]
        return {
            "connectedAt": connected_at,
            "identity": {"sourceIp": self.host},
            "lastActiveAt": connected_at,
        }


def _allows(answer: dict[str, Any]) -> bool:
    statements = (answer.get("policyDocument") or {}).get("Statement") or []
    effects = {statement.get("Effect") for statement in statements}
    return effects == {"Allow"}


def _route_key(message: str | bytes, api: WebSocketApiSpec) -> str:
    """$request.body.action: a JSON object's `action` naming a route, else $default."""
    if not isinstance(message, str):
        return "$default"
    try:
        body = json.loads(message)
    except ValueError:
        return "$default"
    action = body.get("action") if isinstance(body, dict) else None
    return (
        action
        if isinstance(action, str) and not action.startswith("$") and action in api.routes
        else "$default"
    )


class _ManagementHandler(BaseHTTPRequestHandler):
    """One `@connections` request; `front` is set by the server's subclass."""

    protocol_version = "HTTP/1.1"
    front: WebSocketFront

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _connection_id(self) -> str | None:
        match = _CONNECTIONS_PATH.match(urlsplit(self.path).path)
        return unquote(match.group("id")) if match else None

    def _answer(self, status: int, body: dict[str, Any] | None = None, error: str = "") -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if error:  # how botocore tells the modelled errors apart (GoneException)
            self.send_header("x-amzn-ErrorType", error)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _gone(self) -> None:
        self._answer(HTTPStatus.GONE, {"message": "the connection is gone"}, "GoneException")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(min(length, MAX_MESSAGE_BYTES + 1))
        connection_id = self._connection_id()
        if connection_id is None:
            self._answer(HTTPStatus.NOT_FOUND, {"message": "Not Found"})
        elif length > MAX_MESSAGE_BYTES:
            self.close_connection = True  # the rest of the body is left unread
            too_large = {"message": f"a message is at most {MAX_MESSAGE_BYTES} bytes"}
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large, "PayloadTooLargeException")
        elif self.front.post(connection_id, data):
            self._answer(HTTPStatus.OK)
        else:
            self._gone()

    def do_DELETE(self) -> None:
        connection_id = self._connection_id()
        if connection_id is not None and self.front.close(connection_id):
            self._answer(HTTPStatus.NO_CONTENT)
        else:
            self._gone()

    def do_GET(self) -> None:
        connection_id = self._connection_id()
        described = self.front.describe(connection_id) if connection_id else None
        if described is None:
            self._gone()
        else:
            self._answer(HTTPStatus.OK, described)


class _ManagementServer:
    """The stage's `@connections` endpoint, as apigatewaymanagementapi (boto3) calls it."""

    def __init__(self, host: str, front: WebSocketFront) -> None:
        handler = type("Handler", (_ManagementHandler,), {"front": front})
        self.host = host
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="ws-management", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
