"""Webhooks the server may call, and how (news/webhooks.py), with real local listeners:
every address class a key holder could aim the server at is refused when the search
is saved and again at delivery (after resolving the name); redirects are not
followed; each delivery is signed; one deadline bounds a delivery however slowly the
receiver trickles; deliveries run on a fixed pool of threads however many alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine
from searchengine.encoders.encoder import HashingEncoder
from searchengine.errors import BadRequest
from searchengine.http.app import ApiSettings, create_app
from searchengine.news.outbox import OutboxParams
from searchengine.news.webhooks import SIGNATURE, TIMESTAMP, WebhookParams, check, sign

from .conftest import SEEDS

VENEZUELA = SEEDS / "000_04a9b59b936e3d08.txt"  # 2026-01-09-c10: political prisoners freed
QUERY = "Venezuela political prisoners released"
KEY = "hook-key"
AUTH = {"Authorization": f"Bearer {KEY}"}

# Each class of address a webhook could use to reach what only the server can reach.
REFUSED = {
    "http://127.0.0.1:8000/x": "loopback",
    "http://127.1/x": "loopback",  # (short and numeric spellings resolve to 127.0.0.1)
    "http://2130706433/x": "loopback",
    "http://0x7f000001/x": "loopback",
    "http://[::1]/x": "loopback",
    "http://localhost:8000/x": "server itself",
    "http://app.localhost/x": "server itself",
    "http://0.0.0.0/x": "unspecified",
    "http://169.254.169.254/latest/meta-data": "link-local",
    "http://[::ffff:169.254.169.254]/x": "link-local",
    "http://[fe80::1]/x": "link-local",
    "http://metadata.google.internal/computeMetadata/v1/": "metadata",
    "http://10.1.2.3/x": "private",
    "http://192.168.1.1/x": "private",
    "http://172.16.0.1/x": "private",
    "http://[fc00::1]/x": "private",
    "http://100.64.0.1/x": "non-public",
    "http://224.0.0.1/x": "multicast",
    "http://user:pass@example.com/x": "no user or password",
    "ftp://example.com/x": "http:// or https://",
    "file:///etc/passwd": "http:// or https://",
    "http:///x": "names no host",
}


class Listener:
    """A local HTTP receiver: keeps each request's headers and body; answers as told."""

    def __init__(self, answer: str = "ok", location: str = "", fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                listener.requests.append((dict(self.headers), body))
                if len(listener.requests) <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                elif answer == "redirect":
                    self.send_response(302)
                    self.send_header("location", location)
                    self.end_headers()
                elif answer == "trickle":  # its answer a byte at a time, 0.3 s apart
                    for byte in b"HTTP/1.0 204 No Content\r\n\r\n":
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.3)
                else:
                    if answer == "slow":
                        time.sleep(0.2)
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = Engine.open(tmp_path / "idx", encoder=HashingEncoder(256), create=True)
    eng.add_paths([p for p in sorted(SEEDS.glob("*.txt")) if p != VENEZUELA])
    yield eng
    eng.close()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHENGINE_WEBHOOK_ALLOW", "127.0.0.1")


def deliveries(engine: Engine) -> list[str]:
    engine.saved.outbox.wait()
    return [a["delivery"] for a in engine.saved.alerts()]


@pytest.mark.parametrize("url", sorted(REFUSED))
def test_a_webhook_the_server_must_not_call_is_refused_when_saved(engine: Engine, url: str) -> None:
    with pytest.raises(BadRequest, match=REFUSED[url]):
        engine.saved.save(QUERY, webhook=url)
    assert engine.saved.all() == []


def test_a_host_that_does_not_resolve_is_kept_and_refused_at_delivery(engine: Engine) -> None:
    """Which names resolve is no rule a schema can state (schemathesis saved a
    schema-valid URL and got 400): saved, and each delivery checks again."""
    saved = engine.saved.save(QUERY, webhook="http://no-such-host.invalid/x")
    assert [s.id for s in engine.saved.all()] == [saved.id]
    with pytest.raises(BadRequest, match="does not resolve"):
        check("http://no-such-host.invalid/x")


def test_over_http_a_refused_webhook_is_a_403_saying_why(engine: Engine, tmp_path: Path) -> None:
    app = create_app(ApiSettings(index=tmp_path / "idx", api_key=KEY), engine=engine)
    with TestClient(app) as client:
        for url in ("http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]:8000/"):
            r = client.post("/searches", json={"query": QUERY, "webhook": url}, headers=AUTH)
            assert r.status_code == 403 and "address" in r.json()["detail"], r.text
            assert r.json()["error"] == "webhook_refused"
        assert client.get("/alerts").status_code == 401
        assert client.get("/searches").status_code == 401


def test_an_address_refused_at_delivery_is_never_called(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed when saved, not when delivered (the allow-list changed, as DNS can):
    the delivery checks again, after resolving, and calls nothing."""
    listener = Listener()
    try:
        monkeypatch.setenv("SEARCHENGINE_WEBHOOK_ALLOW", "127.0.0.1")
        engine.saved.save(QUERY, webhook=listener.url)
        monkeypatch.delenv("SEARCHENGINE_WEBHOOK_ALLOW")
        engine.add_paths([VENEZUELA])
        (status,) = deliveries(engine)
        assert status.startswith("refused:") and "loopback" in status
        assert listener.requests == []
    finally:
        listener.close()


@pytest.mark.usefixtures("allow_loopback")
def test_a_redirect_is_not_followed(engine: Engine) -> None:
    """A receiver answering 302 to another port, or to ftp://, sent the server there
    (it opened the port and said `USER anonymous`); now the 302 is recorded, not taken."""
    target = Listener()
    redirects = [
        Listener("redirect", target.url),
        Listener("redirect", f"ftp://127.0.0.1:{target.port}/x"),
    ]
    try:
        for listener in redirects:
            engine.saved.save(QUERY, webhook=listener.url)
        engine.add_paths([VENEZUELA])
        statuses = deliveries(engine)
        assert len(statuses) == 2
        assert all(s.startswith("refused:") and "not followed" in s for s in statuses), statuses
        assert [len(listener.requests) for listener in redirects] == [1, 1]
        assert target.requests == []
    finally:
        for listener in (target, *redirects):
            listener.close()


@pytest.mark.usefixtures("allow_loopback")
def test_a_delivery_is_signed_with_the_secret_shown_once(engine: Engine) -> None:
    listener = Listener()
    try:
        saved = engine.saved.save(QUERY, webhook=listener.url)
        assert saved.secret and len(saved.secret) >= 32
        assert "secret" not in engine.saved.all()[0].to_dict()  # listed without it
        engine.add_paths([VENEZUELA])
        assert deliveries(engine)[0].startswith("delivered")
        ((headers, body),) = listener.requests
        stamp = int(headers[TIMESTAMP])
        assert abs(stamp - time.time()) < 300  # a receiver refuses old ones (replay)
        expected = hmac.new(saved.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert headers[SIGNATURE] == f"sha256={expected.hexdigest()}"
        assert headers[SIGNATURE] == sign(saved.secret, stamp, body)
        assert headers[SIGNATURE] != sign("another secret", stamp, body)
        assert json.loads(body)["cluster_id"] == "2026-01-09-c10"
    finally:
        listener.close()


@pytest.mark.usefixtures("allow_loopback")
def test_one_deadline_bounds_a_delivery_however_slowly_the_receiver_trickles(
    engine: Engine,
) -> None:
    """A receiver answering a byte every 0.3 s (each read well inside the per-read
    timeout; its 27-byte answer takes 8 s) held a delivery for as long as it liked (90 s
    at a byte every 3 s); the whole delivery now has one deadline."""
    listener = Listener("trickle")
    try:
        engine.saved.outbox.params = OutboxParams(webhooks=WebhookParams(deadline=1.0))
        engine.saved.save(QUERY, webhook=listener.url)
        engine.add_paths([VENEZUELA])
        (status,) = deliveries(engine)
        assert status.startswith("failed: no whole answer within 1 s (attempt 1; next at ")
    finally:
        listener.close()


@pytest.mark.usefixtures("allow_loopback")
def test_many_alerts_are_delivered_by_a_fixed_pool_of_threads(engine: Engine) -> None:
    """40 matching searches with webhooks: one thread per alert before; now never more
    delivery threads than the outbox's `workers`, and every alert ends delivered."""
    listener = Listener("slow")
    try:
        for _ in range(40):
            engine.saved.save(QUERY, webhook=listener.url)
        peak, seen = 0, set()
        done = threading.Event()

        def count() -> None:
            nonlocal peak
            while not done.is_set():
                names = [t.name for t in threading.enumerate()]
                peak = max(peak, sum(n.startswith("searchengine-webhook") for n in names))
                seen.update(n for n in names if n.startswith("searchengine-webhook"))
                time.sleep(0.01)

        counter = threading.Thread(target=count)
        counter.start()
        engine.add_paths([VENEZUELA])
        statuses = deliveries(engine)
        done.set()
        counter.join()
        assert len(statuses) == 40 and all(s == "delivered (204)" for s in statuses)
        assert 1 <= peak <= engine.saved.outbox.params.workers, seen
        assert len(listener.requests) == 40
        engine.saved.outbox.close()  # (and an engine's close lets its threads go)
        time.sleep(0.2)
        names = [t.name for t in threading.enumerate()]
        assert not [n for n in names if n.startswith("searchengine-")], names
    finally:
        listener.close()


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resolving to a public and a private address (DNS round robin, or a
    rebinding attack's second answer) is refused: every address is checked."""
    from searchengine.news import webhooks

    def resolves_to(*addresses: str):  # type: ignore[no-untyped-def]
        def getaddrinfo(host: str, port: int, **kw: object) -> list:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

        return getaddrinfo

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("93.184.215.14"))
    target = webhooks.check("https://hooks.example.com/x")
    assert (str(target.address), target.port, target.path) == ("93.184.215.14", 443, "/x")
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("93.184.215.14", "10.0.0.5"))
    with pytest.raises(webhooks.WebhookRefused, match="10.0.0.5, a private address"):
        webhooks.check("https://hooks.example.com/x")
