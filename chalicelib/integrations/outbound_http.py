"""POSTs to subscribers' receivers, behind the server-side request forgery guard.

The host is resolved and every address it resolves to is checked (domain/outbound.py says
which are refused) when a subscription is made and again before each delivery; the delivery
then connects to the address it checked, not to a second lookup, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot steer it inside. TLS still verifies
the certificate against the host's name (urllib3's `server_hostname`/`assert_hostname`).
Redirects are never followed: a 3xx is an answer that is not a 2xx.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from chalicelib.domain import outbound
from chalicelib.logs import logger


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no answer (refused, timed out, TLS failed)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def check_receiver(url: str, allow_local: bool) -> str:
    """The address a delivery to `url` may connect to; 422 `unsafe_webhook_url` otherwise."""
    _, host, port = outbound.receiver(url, allow_local)
    addresses = _resolve(host, port)
    if not addresses:
        raise outbound.unsafe_address(host, "nothing")
    for address in addresses:
        why = outbound.refused_address(address, allow_local)
        if why:
            raise outbound.unsafe_address(address, why)
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], allow_local: bool) -> Answer:
    """POST `body` to the receiver, on the address checked just now; never raises."""
    from urllib.parse import urlsplit

    import urllib3

    from chalicelib.domain.errors import Invalid

    try:
        address = check_receiver(url, allow_local)
    except Invalid as refused:
        return Answer(None, refused.message)
    parts = urlsplit(url)
    scheme, host, port = outbound.receiver(url, allow_local)
    tls = {"server_hostname": host, "assert_hostname": host} if scheme == "https" else {}
    pool_class = urllib3.HTTPSConnectionPool if scheme == "https" else urllib3.HTTPConnectionPool
    pool = pool_class(
        address, port, timeout=urllib3.Timeout(total=outbound.TIMEOUT_SECONDS), retries=False, **tls
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json"},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        # Only the status counts: the body is not read (a receiver dripping it slowly would
        # hold the delivery past its 10 s, since a read timeout is per socket read).
        response.close()
        return Answer(response.status)
    except urllib3.exceptions.HTTPError as exc:
        logger.info("webhook receiver did not answer", extra={"host": host, "error": str(exc)})
        return Answer(None, type(exc).__name__)
    finally:
        pool.close()


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):  # no such host; not a host name at all
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))
