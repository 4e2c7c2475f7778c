"""Webhook deliveries that cannot be turned against the server's own network, and that
a receiver can tell from forgeries.

A saved search's webhook is a URL someone with the write key chose; the server POSTs
to it. Unchecked, that lets the key holder make the server reach what only it can
reach: loopback services, the cloud metadata address (169.254.169.254), the private
network. So a webhook's host is resolved, and every address it resolves to must be
public (`ipaddress.is_global`: not loopback, private, link-local, shared, reserved,
multicast or unspecified; an IPv4-mapped IPv6 address is judged as its IPv4) unless
an operator allows it (`SEARCHENGINE_WEBHOOK_ALLOW`: hosts or networks of intranet
receivers). The check runs when the search is saved (a clear error) and again at
every delivery, whose connection goes to the address just checked (a name that
resolves elsewhere by then cannot slip through). Only http and https, no user:password
in the URL, and no redirects: a 3xx is recorded as refused, never followed.

Each delivery carries `X-Searchengine-Timestamp` (Unix seconds) and
`X-Searchengine-Signature: sha256=HEX`, the HMAC-SHA256 of `TIMESTAMP.BODY` under the
search's secret (shown once, when it is saved): a receiver recomputes it, and refuses
old timestamps against replay. A delivery has one deadline for all of it (connect,
send, answer), not a timeout per read that a slow receiver can stretch.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from searchengine.environment import environment
from searchengine.errors import BadRequest

# Names that reach the machine itself or a cloud's metadata service whatever DNS says.
BLOCKED_NAMES = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2"}
)
SIGNATURE = "X-Searchengine-Signature"
TIMESTAMP = "X-Searchengine-Timestamp"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class WebhookParams:
    """`deadline`: seconds for a whole delivery. A receiver answers a small POST in
    well under a second; 10 s leaves room for a slow one without letting one that
    trickles a byte every few seconds hold a delivery for minutes (it held one 90 s
    under a per-read timeout). `answer_bytes`: how much of an answer is read (only
    its status matters)."""

    deadline: float = 10.0
    answer_bytes: int = 4096


@dataclass(frozen=True)
class Target:
    """A checked webhook: where to connect, and what to say the host is."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address


class WebhookRefused(BadRequest):
    """A webhook the server will not call (the message says why): 403, a refusal by
    the server's policy (which addresses it calls: SEARCHENGINE_WEBHOOK_ALLOW), not a
    malformed request -- which hosts are private is no rule a schema can state."""

    status, code = 403, "webhook_refused"


class Unresolvable(WebhookRefused):
    """A webhook whose host does not resolve now: refused at delivery (recorded, and
    retried), kept when a search is saved -- DNS may be down for a moment, and the
    schema cannot say which names resolve (every delivery checks again anyway)."""


def _allowed() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """The operator's allow-list: host names and networks (SEARCHENGINE_WEBHOOK_ALLOW)."""
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in (environment().webhook_allow or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.rstrip("."))
    return names, networks


def _kind(address: Address) -> str | None:
    """Why an address is not public (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "non-public"


def check(url: str) -> Target:
    """The webhook as a target the server may call, or WebhookRefused saying why."""
    if not isinstance(url, str) or len(url) > 2000:
        raise WebhookRefused("webhook: an http(s) URL of at most 2,000 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise WebhookRefused(f"webhook {url!r} is not a URL ({err})") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused(f"webhook: an http:// or https:// URL, not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("webhook: no user or password in the URL (deliveries are signed)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookRefused(f"webhook {url!r} names no host")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    names, networks = _allowed()
    named_ok = host in names
    if not named_ok and (host in BLOCKED_NAMES or host.endswith(".localhost")):
        raise WebhookRefused(f"webhook host {host!r} is the server itself or a metadata service")
    addresses = _addresses(host, port)
    if not addresses:
        raise Unresolvable(f"webhook host {host!r} does not resolve")
    for address in addresses:
        kind = _kind(address)
        if kind and not named_ok and not any(address in n for n in networks):
            raise WebhookRefused(
                f"webhook host {host!r} is {address}, a {kind} address: the server calls public "
                "addresses only (an operator can allow intranet receivers with "
                "SEARCHENGINE_WEBHOOK_ALLOW)"
            )
    return Target(parts.scheme, host, port, path, addresses[0])


def _addresses(host: str, port: int) -> list[Address]:
    """Every address the host resolves to (a literal is its own); the first is used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 over `TIMESTAMP.BODY`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class _Pinned(http.client.HTTPConnection):
    """HTTP to the checked address, whatever the name resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = str(target.address)
        self.held: socket.socket | None = None  # (http.client lets go of `sock` early)

    def connect(self) -> None:
        self.sock = self.held = self._open()

    def _open(self) -> socket.socket:
        return socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(_Pinned):
    """HTTPS to the checked address, its certificate checked against the host name."""

    def _open(self) -> socket.socket:
        raw = super()._open()
        return ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def deliver(url: str, payload: dict[str, Any], secret: str | None, params: WebhookParams) -> str:
    """POST one alert; returns what happened, for the alert's `delivery` field:
    `delivered (204)`, `failed: ...` (worth another try) or `refused: ...` (never)."""
    try:
        target = check(url)
    except WebhookRefused as err:
        return f"refused: {err}"
    body = json.dumps(payload).encode()
    stamp = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "searchengine-webhook"}
    if secret:
        headers |= {TIMESTAMP: str(stamp), SIGNATURE: sign(secret, stamp, body)}
    kind = _PinnedTLS if target.scheme == "https" else _Pinned
    connection = kind(target, params.deadline)
    expired = threading.Event()

    def cut() -> None:  # the deadline: whatever the delivery is waiting on ends now
        expired.set()
        sock = connection.held
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(params.deadline, cut)
    timer.daemon = True
    timer.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(params.answer_bytes)
        status = answer.status
        if 300 <= status < 400:
            where = answer.getheader("location") or "?"
            return f"refused: the receiver redirected ({status} to {where}); not followed"
        if 200 <= status < 300:
            return f"delivered ({status})"
        return f"failed: the receiver answered {status}"
    except Exception as err:  # noqa: BLE001 - any failure is recorded, not raised
        if expired.is_set():
            return f"failed: no whole answer within {params.deadline:g} s"
        return f"failed: {type(err).__name__}: {err}"
    finally:
        timer.cancel()
        connection.close()
