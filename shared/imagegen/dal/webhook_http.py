"""One webhook request, sent to an address the SSRF check (logic.webhook_urls) allowed.

The connection goes to that address, not to the URL's name: resolving the name again here could
answer another address (DNS rebinding). urllib3's pools take the address as their host, and the
name goes where it belongs: the Host header, TLS SNI (`server_hostname`) and certificate checking
(`assert_hostname`), so an https receiver is verified as the name it was given. This is the way
urllib3 documents for pinning an address; requests and httpx have no option for it.

Nothing else is trusted from the receiver: no redirect is followed (a 3xx is the answer, the new
location escaped the check), timeouts are short, and only the status line and headers are read
(http.client caps their count and length): the body is never read, the most bounded read there is.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import urllib3

from imagegen.models.webhooks import WebhookAnswer

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0  # receivers are asked to answer at once and do their work later
USER_AGENT = "imagegen-webhooks/1"


def post_webhook(
    url: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    headers: dict[str, str],
    body: str,
) -> WebhookAnswer:
    """POST `body` to `url` at `address`; the status and Retry-After, or None on no answer."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            parts.port or 443,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=host,
            assert_hostname=host,
        )
    else:  # only loopback on the local stack: check_webhook_url refused http anywhere else
        pool = urllib3.HTTPConnectionPool(
            str(address), parts.port or 80, timeout=timeout, retries=False, maxsize=1
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body.encode(),
            headers={**headers, "Host": parts.netloc, "User-Agent": USER_AGENT},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        response.close()
        return WebhookAnswer(response.status, response.headers.get("retry-after"))
    except urllib3.exceptions.HTTPError as error:  # timeouts, refused or reset connections, TLS
        return WebhookAnswer(None, problem=type(error).__name__)
    finally:
        pool.close()
