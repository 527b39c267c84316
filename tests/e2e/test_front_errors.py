"""The local front answers malformed HTTP at once with a JSON error, never HTML, never a hang.

Raw sockets: httpx will not send a negative Content-Length, a quote in a path or a TRACE.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from imagegen.models.requests import MAX_BODY_BYTES
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

# Long enough for a loaded machine, far below any client's timeout: the answer must come "at once".
ANSWER_WITHIN_SECONDS = 4.0
VALID_ICON = json.dumps({"category": "pets", "style": "flat", "color_scheme": "pastel"}).encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool = field(default=False)  # the server closed the connection after this answer

    def error(self) -> dict[str, str]:
        assert self.headers.get("content-type") == "application/json", self.headers
        assert b"<" not in self.body, self.body
        payload = json.loads(self.body)
        assert set(payload) == {"error", "message"} and payload["message"], payload
        return dict(payload)


def _read_answer(sock: socket.socket, head_request: bool = False) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)  # a hang raises TimeoutError here
        assert chunk, f"connection closed without an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_request else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        rest += chunk
    return Answer(int(status_line.split()[1]), headers, rest[:length])


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _address(client: Client) -> tuple[str, int]:
    url = urlsplit(client.stack.url)
    return str(url.hostname), int(url.port or 80)


def exchange(
    client: Client, raw: bytes, *, half_close: bool = False, head_request: bool = False
) -> tuple[Answer, socket.socket]:
    """Send raw bytes, read one answer; the socket stays open for the caller to go on."""
    sock = socket.create_connection(_address(client), timeout=ANSWER_WITHIN_SECONDS)
    sock.sendall(raw)
    if half_close:
        sock.shutdown(socket.SHUT_WR)
    return _read_answer(sock, head_request), sock


def request(client: Client, raw: bytes, *, half_close: bool = False, head_request: bool = False) -> Answer:
    """One exchange; also records whether the server then closed the connection."""
    answer, sock = exchange(client, raw, half_close=half_close, head_request=head_request)
    with sock:
        answer.closed = _closed(sock)
    return answer


def _auth(client: Client) -> bytes:
    return f"Authorization: {client.auth()['Authorization']}\r\n".encode()


def post(client: Client, *headers: str, body: bytes = b"") -> bytes:
    lines = "".join(f"{header}\r\n" for header in headers)
    return (
        b"POST /api/icons/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + _auth(client)
        + b"Content-Type: application/json\r\n"
        + lines.encode()
        + b"\r\n"
        + body
    )


@pytest.mark.parametrize("value", ["-1", "-99999999", "abc", "12abc", "0x10", "1e3", "+5", ""])
def test_a_content_length_that_is_not_a_whole_number_gets_400_and_the_connection_closes(
    client: Client, value: str
) -> None:
    answer = request(client, post(client, f"Content-Length: {value}", body=b'{"category": "x"}'))
    assert answer.status == 400 and answer.error()["error"] == "invalid_request"
    assert answer.closed  # the body's end is unknown: nothing after it can be read as a request


def test_two_different_content_lengths_get_400(client: Client) -> None:
    answer = request(client, post(client, "Content-Length: 2", "Content-Length: 17", body=b"{}"))
    assert answer.status == 400 and answer.error()["error"] == "invalid_request"
    assert answer.closed


@pytest.mark.parametrize("length", [MAX_BODY_BYTES + 1, 10 * 1024 * 1024, 10**18])
def test_a_content_length_above_the_body_limit_gets_413_before_the_body_is_read(
    client: Client, length: int
) -> None:
    # Given: only the headers are sent, as a client waiting for an early refusal would.
    answer = request(client, post(client, f"Content-Length: {length}"))
    error = answer.error()
    assert answer.status == 413 and error["error"] == "body_too_large"
    assert str(MAX_BODY_BYTES) in error["message"]
    assert answer.closed


def test_an_oversized_body_is_refused_before_100_continue(client: Client) -> None:
    answer = request(client, post(client, f"Content-Length: {MAX_BODY_BYTES + 1}", "Expect: 100-continue"))
    assert answer.status == 413 and answer.error()["error"] == "body_too_large"  # not 100 Continue


def test_an_oversized_body_sent_whole_still_gets_its_413(client: Client) -> None:
    # The client sends everything before reading, as most do: the refusal must survive the unread bytes.
    body = b'{"category": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    answer = request(client, post(client, f"Content-Length: {len(body)}", body=body))
    assert answer.status == 413 and answer.error()["error"] == "body_too_large"


def test_a_body_shorter_than_its_content_length_gets_400_when_the_client_stops_sending(
    client: Client,
) -> None:
    # Given: a valid request body, 100 bytes announced, fewer sent: the body is not the one meant.
    answer = request(client, post(client, "Content-Length: 100", body=VALID_ICON), half_close=True)
    assert answer.status == 400 and answer.error()["error"] == "invalid_request"
    assert answer.closed


def test_a_body_that_never_arrives_gets_408_instead_of_a_hang(client: Client) -> None:
    # Given: 100 bytes announced, fewer sent, the connection left open.
    answer = request(client, post(client, "Content-Length: 100", body=VALID_ICON))
    assert answer.status == 408 and answer.error()["error"] == "request_timeout"
    assert answer.closed


def test_a_chunked_body_gets_411(client: Client) -> None:
    answer = request(client, post(client, "Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n"))
    assert answer.status == 411 and answer.error()["error"] == "length_required"
    assert answer.closed


@pytest.mark.parametrize(
    "path",
    [
        b'/api/jobs/a"b',
        b"/api/jobs/<x>",
        b"/api/jobs/a\\b",
        b"/api/jobs/{id}",
        b"/api/jobs/a|b",
        b"/api/jobs/a%zz",
        b"/api/jobs/a%2",
        b"/api/jobs/\x01",
        "/api/jobs/é".encode(),
        b"/api/jobs?q=a`b",
        b'/api/jobs/"a b"',
    ],
)
def test_an_illegal_character_in_the_path_gets_a_json_400(client: Client, path: bytes) -> None:
    answer, sock = exchange(
        client, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth(client) + b"\r\n"
    )
    sock.close()
    error = answer.error()
    assert answer.status == 400 and error["error"] == "invalid_request"
    assert "jobs" not in error["message"]  # what was sent is never echoed back


def test_the_connection_goes_on_after_a_bad_path(client: Client) -> None:
    answer, sock = exchange(
        client, b'GET /api/jobs/a"b HTTP/1.1\r\nHost: 127.0.0.1\r\n' + _auth(client) + b"\r\n"
    )
    with sock:
        assert answer.status == 400
        sock.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth(client) + b"\r\n")
        assert _read_answer(sock).status == 200


def test_a_100_kb_authorization_header_gets_a_json_431(client: Client) -> None:
    raw = (
        b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + b"a" * 100_000 + b"\r\n\r\n"
    )
    answer = request(client, raw)
    assert answer.status == 431 and answer.error()["error"] == "request_header_fields_too_large"
    assert answer.closed


def test_too_many_headers_get_a_json_431(client: Client) -> None:
    headers = b"".join(b"X-Filler-%d: 1\r\n" % n for n in range(150))
    answer = request(client, b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
    assert answer.status == 431 and answer.error()["error"] == "request_header_fields_too_large"


def test_a_70_kb_request_line_gets_a_json_414(client: Client) -> None:
    answer = request(client, b"GET /api/jobs?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.status == 414 and answer.error()["error"] == "request_uri_too_long"
    assert answer.closed


@pytest.mark.parametrize(
    ("request_line", "status", "code"),
    [
        (b"GET /api/jobs HTTP/2.0", 505, "http_version_not_supported"),
        (b"GET /api/jobs HTTP/1.x", 400, "invalid_request"),
        (b"GET /api/jobs HTTP/1.1 extra", 400, "invalid_request"),
    ],
)
def test_a_malformed_request_line_gets_a_json_error(
    client: Client, request_line: bytes, status: int, code: str
) -> None:
    answer = request(client, request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.status == status and answer.error()["error"] == code


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "CONNECT", "PROPFIND", "FOO"])
def test_an_unsupported_method_gets_a_json_405_with_allow(client: Client, method: str) -> None:
    raw = f"{method} /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + _auth(client) + b"\r\n"
    answer, sock = exchange(client, raw)
    with sock:
        assert answer.status == 405 and answer.error()["error"] == "method_not_allowed"
        assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "POST"}
        # The connection stays usable, as after any answer whose request was read whole.
        sock.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth(client) + b"\r\n")
        assert _read_answer(sock).status == 200


def test_head_gets_a_405_without_a_body(client: Client) -> None:
    raw = b"HEAD /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth(client) + b"\r\n"
    answer, sock = exchange(client, raw, head_request=True)
    with sock:
        assert answer.status == 405 and answer.headers["content-type"] == "application/json"
        assert answer.headers["allow"]
        sock.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth(client) + b"\r\n")
        assert _read_answer(sock).status == 200  # no stray body was left in the stream


def test_a_well_formed_post_still_works_on_a_kept_alive_connection(client: Client) -> None:
    body = VALID_ICON
    answer, sock = exchange(client, post(client, f"Content-Length: {len(body)}", body=body))
    with sock:
        assert answer.status == 202, answer.body
        sock.sendall(post(client, f"Content-Length: {len(body)}", body=body))
        assert _read_answer(sock).status == 202
