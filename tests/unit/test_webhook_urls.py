"""The SSRF check of webhook URLs (issue 12): refused before any connection, with DNS injected."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from imagegen.errors import InvalidRequestError
from imagegen.logic.webhook_urls import check_webhook_url

# A fake DNS: the names the tests use and their A/AAAA records.
DNS = {
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "rebind.example.com": ["127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": ["93.184.215.14", "10.1.2.3"],
    "internal.example.com": ["192.168.1.20"],
    "mapped.example.com": ["::ffff:10.0.0.1"],
    "zoned.example.com": ["fe80::1%eth0"],
    "nat64.example.com": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example.com": ["2002:c0a8:0101::1"],
}


def resolve(host: str) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


REFUSED_IN_AWS = [
    ("https://169.254.169.254/latest/meta-data/", "link-local"),  # the instance metadata service
    ("https://169.254.170.2/v2/credentials", "link-local"),  # the container credentials endpoint
    ("https://10.0.0.1/hook", "private"),
    ("https://172.16.5.4/", "private"),
    ("https://172.31.255.255/", "private"),
    ("https://192.168.0.1/", "private"),
    ("https://100.64.0.1/", "carrier-grade"),
    ("https://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "loopback"),  # the Lambda Runtime API
    ("https://rebind.example.com/", "loopback"),  # a name resolving to 127.0.0.1
    ("https://localhost/", "loopback"),
    ("https://metadata.example.com/", "link-local"),
    ("https://mixed.example.com/", "private"),  # one public address is not enough: all must be allowed
    ("https://internal.example.com/", "private"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://[::1]/", "loopback"),
    ("https://[fe80::1]/", "link-local"),
    ("https://zoned.example.com/", "link-local"),
    ("https://[fd00:ec2::254]/", "private"),  # the IPv6 instance metadata service (unique-local)
    ("https://[fc00::1]/", "private"),
    ("https://[::ffff:10.0.0.1]/", "private"),  # IPv4-mapped
    ("https://[::ffff:169.254.169.254]/", "link-local"),
    ("https://[::ffff:7f00:1]/", "loopback"),  # IPv4-mapped 127.0.0.1, written in hex
    ("https://mapped.example.com/", "private"),
    ("https://nat64.example.com/", "link-local"),  # NAT64 of 169.254.169.254
    ("https://sixtofour.example.com/", "private"),  # 6to4 of 192.168.1.1
    ("https://224.0.0.1/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://240.0.0.1/", "private|reserved"),  # reserved
    ("https://255.255.255.255/", "private|reserved"),
    ("https://2130706433/", "dotted-quad"),  # 127.0.0.1 as one decimal number
    ("https://0177.0.0.1/", "dotted-quad"),  # octal
    ("https://0x7f000001/", "dotted-quad"),  # hex
    ("https://0x7f.0.0.1/", "dotted-quad"),
    ("https://127.1/", "dotted-quad"),  # short form
    ("https://127.0.0.1./", "dotted-quad"),  # trailing dot
    ("https://user@hooks.example.com/", "user name"),
    ("https://hooks.example.com@127.0.0.1/", "user name"),
    ("https://user:pass@hooks.example.com/", "user name"),
    ("http://hooks.example.com/", "must use https"),  # http in AWS mode
    ("http://93.184.215.14/", "must use https"),
    ("ftp://hooks.example.com/", "https URL"),
    ("file:///etc/passwd", "https URL"),
    ("gopher://hooks.example.com/", "https URL"),
    ("https:///nohost", "no host"),
    ("https://unknown.example.com/", "does not resolve"),
    ("https://hooks.example.com:0/", "invalid port"),
    ("https://hooks.example.com:99999/", "invalid port"),
    ("https://hooks.example.com/ path", "spaces"),
    ("https://%31%32%37.0.0.1/", "dotted-quad"),  # percent-encoded 127.0.0.1
    ("https://%6cocalhost/", "not a valid name"),  # percent-encoded localhost
    ("https://hooks_.example.com-/", "not a valid name"),
    ("https://hooks.example.com\\@127.0.0.1/", "user name"),
    ("https://[::1/", "not a valid URL"),  # an unclosed IPv6 host: urlsplit's ValueError, not a 500
    ("http://[invalid]/", "not a valid URL"),
    ("https://[v1.hooks.example.com]/", "name or an IP address"),  # IPvFuture: never resolved as a name
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_IN_AWS)
def test_urls_to_internal_addresses_are_refused_in_aws_mode(url: str, reason: str) -> None:
    with pytest.raises(InvalidRequestError, match=reason) as raised:
        check_webhook_url(url, resolve, local_mode=False)
    assert raised.value.code == "invalid_request"


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/",
        "https://169.254.169.254/",
        "https://internal.example.com/",
        "https://mixed.example.com/",
        "http://hooks.example.com/",  # http only to loopback
        "http://mixed.example.com/",
        "https://0x7f000001/",
    ],
)
def test_local_mode_allows_loopback_and_nothing_else_that_is_internal(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        check_webhook_url(url, resolve, local_mode=True)


@pytest.mark.parametrize(
    ("url", "local_mode", "expected"),
    [
        ("https://93.184.215.14/hook", False, ["93.184.215.14"]),
        ("https://hooks.example.com/", False, ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]),
        (
            "https://hooks.example.com:8443/x?y=1",
            False,
            ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        ),
        ("https://HOOKS.example.com./", False, ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]),
        ("https://[2606:4700:4700::1111]/", False, ["2606:4700:4700::1111"]),
        ("https://[::ffff:93.184.215.14]/", False, ["93.184.215.14"]),  # judged, and reached, as IPv4
        ("https://hooks.example.com/", True, ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]),
        ("http://127.0.0.1:47123/hook", True, ["127.0.0.1"]),
        ("http://localhost:47123/hook", True, ["127.0.0.1", "::1"]),
        ("http://[::1]:47123/", True, ["::1"]),
        ("https://rebind.example.com/", True, ["127.0.0.1"]),
    ],
)
def test_public_addresses_and_local_loopback_are_allowed(
    url: str, local_mode: bool, expected: list[str]
) -> None:
    addresses = check_webhook_url(url, resolve, local_mode=local_mode)
    # The sender connects to these, not to a second resolution's answer.
    assert [str(address) for address in addresses] == expected


def test_the_error_names_the_address_found_behind_the_name() -> None:
    with pytest.raises(InvalidRequestError, match=r"rebind\.example\.com is at 127\.0\.0\.1, a loopback"):
        check_webhook_url("https://rebind.example.com/", resolve)
    with pytest.raises(InvalidRequestError, match="metadata service"):
        check_webhook_url("https://metadata.example.com/", resolve)


def test_literal_and_numeric_hosts_are_judged_without_asking_dns() -> None:
    asked: list[str] = []

    def recording(host: str) -> list[str]:
        asked.append(host)
        return ["93.184.215.14"]

    check_webhook_url("https://93.184.215.14/", recording)
    with pytest.raises(InvalidRequestError, match="dotted-quad"):
        check_webhook_url("https://2130706433/", recording)
    assert asked == []
    check_webhook_url("https://bücher.example/", recording)
    assert asked == ["xn--bcher-kva.example"]  # the name as DNS knows it


def test_the_default_resolver_reports_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from imagegen.logic import webhook_urls

    def fake_getaddrinfo(host: str, *_: object, **__: object) -> list[tuple[object, ...]]:
        assert host == "hooks.example.com"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd00::5", 0, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert webhook_urls.resolve_with_dns("hooks.example.com") == ["93.184.215.14", "fd00::5"]
    with pytest.raises(InvalidRequestError, match="fd00::5"):
        check_webhook_url("https://hooks.example.com/")
    assert ipaddress.ip_address("fd00::5").is_private  # the reason it is refused, per the stdlib
