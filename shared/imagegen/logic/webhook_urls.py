"""Outgoing webhooks (issue 12, part 3): is a `webhook_url` safe to call? The SSRF check of the OWASP
cheat sheet, with DNS resolution injected. Called when a job is created (logic.job_commands) and before
each delivery attempt (logic.webhook_sending).

The check returns the addresses it allowed, and the sender must connect to one of those (sending the
name as Host and TLS SNI) and follow no redirect: resolving again at send time would let a name that
answered a public address here answer 127.0.0.1 there (DNS rebinding).

Decisions:
- https only; http is allowed in local mode when every address of the host is loopback (a receiver
  on the developer's machine). In AWS mode loopback is refused: the Lambda Runtime API listens there.
- Every address the name resolves to must be allowed, not just one: the client may pick any of them.
- An address is allowed when the stdlib `ipaddress` calls it global (`is_global`: outside the IANA
  special-purpose registries, which covers private 10/8, 172.16/12, 192.168/16, shared 100.64/10,
  loopback, link-local 169.254/16 and fe80::/10, unique-local fc00::/7, documentation, benchmarking)
  and it is not multicast, reserved or unspecified, which `is_global` lets through for some ranges
  (224.0.0.0/4 is "global" to Python 3.11). IPv6 forms that carry an IPv4 address (IPv4-mapped
  ::ffff:a.b.c.d, 6to4 2002::/16, NAT64 64:ff9b::/96) are judged by the IPv4 address they carry.
- Numeric hosts other than a dotted quad (2130706433, 0177.0.0.1, 0x7f000001, 127.1) are refused
  outright: browsers and some HTTP clients read them as IPv4 addresses, getaddrinfo may or may not.
- Userinfo (user:pass@host) is refused: it hides the real host from a reader and has no use here.
- Any port is allowed: the address is what keeps internal services out of reach, and receivers on
  :8443 or a local :8000 are ordinary. Port 0 is refused (nothing listens there).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from imagegen.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

# A label that makes a host a number to URL parsers (the WHATWG "ends in a number" rule): DNS names
# never end in an all-numeric label.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


def resolve_with_dns(host: str) -> list[str]:
    """Every A and AAAA address of `host`, as getaddrinfo reports them."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_webhook_url(
    url: str, resolve: Resolver = resolve_with_dns, local_mode: bool = False
) -> list[IPAddress]:
    """The addresses `url` may be called at, or InvalidRequestError saying why it may not."""
    parts = _split(url)
    host = _host(parts)
    literal = _literal_address(host)
    found = [literal] if literal is not None else _resolve(host.removesuffix("."), resolve)
    # An IPv4-mapped address is where the IPv4 one is reached: the sender gets the IPv4 form.
    addresses = [_unmapped(address) for address in found]
    all_loopback = all(_carried_ipv4(address).is_loopback for address in addresses)
    if parts.scheme == "http" and not (local_mode and all_loopback):
        raise InvalidRequestError("webhook_url must use https (http only to loopback on the local stack)")
    for address in addresses:
        reason = refusal_reason(address, local_mode)
        if reason is not None:
            raise InvalidRequestError(f"webhook_url's host {host} is at {address}, {reason}: not allowed")
    return addresses


def refusal_reason(address: IPAddress, local_mode: bool = False) -> str | None:
    """Why a webhook may not be sent to `address`, or None when it may."""
    address = _carried_ipv4(address)
    if address.is_loopback:
        return None if local_mode else "a loopback address"
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address (the cloud metadata service lives there)"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED, "a carrier-grade NAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _split(url: str) -> SplitResult:
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise InvalidRequestError("webhook_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed or malformed [IPv6] host
        raise InvalidRequestError("webhook_url is not a valid URL") from error
    if parts.scheme not in ("https", "http"):
        raise InvalidRequestError("webhook_url must be an https URL")
    if "@" in parts.netloc:
        raise InvalidRequestError("webhook_url must not carry a user name or password")
    try:
        port = parts.port
    except ValueError as error:
        raise InvalidRequestError("webhook_url has an invalid port") from error
    if port == 0:
        raise InvalidRequestError("webhook_url has an invalid port")
    return parts


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if not host:
        raise InvalidRequestError("webhook_url has no host")
    if ":" in host:  # an IPv6 literal, brackets already removed
        return host
    if "[" in parts.netloc:  # brackets around anything but IPv6 (an IPvFuture [v1.x]): not a name
        raise InvalidRequestError("webhook_url's host must be a name or an IP address")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidRequestError("webhook_url's host is not a valid name") from error


def _literal_address(host: str) -> IPAddress | None:
    """The address a host that is an IP literal names; None for a name; refused for numeric tricks."""
    try:
        return ipaddress.ip_address(host)  # strict: a dotted quad without leading zeros, or IPv6
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise InvalidRequestError("webhook_url's host must be a name or a dotted-quad address")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise InvalidRequestError("webhook_url's host is not a valid name")
    return None


def _resolve(host: str, resolve: Resolver) -> list[IPAddress]:
    try:
        found = resolve(host)
    except OSError as error:
        raise InvalidRequestError(f"webhook_url's host {host} does not resolve") from error
    if not found:
        raise InvalidRequestError(f"webhook_url's host {host} does not resolve")
    # getaddrinfo writes link-local IPv6 addresses with their zone (fe80::1%eth0).
    return [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _carried_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (and reaches once translated), else itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address
