"""Slow and oversized clients against a real `searchengine serve` process: no
request waits on another's upload or parsing, a body over the limit is refused on
every route before it is read, and a client that never finishes its headers is
disconnected. Each bound is a timeout on the test, not a speed assertion."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import SEEDS, seed_text
from .test_processes import AUTH, Server, cli

SEED = seed_text("000_04a9b59b936e3d08.txt")
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    index = tmp_path_factory.mktemp("hostile") / "idx"
    cli("index", str(SEEDS), "--index", str(index), "--model", "hashing", "-q")
    srv = Server(index, ("--header-timeout", "1", "--max-body", str(LIMIT)))
    srv.wait()
    yield srv
    srv.stop()


def raw_request(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head)
    return sock


def read_all(sock: socket.socket, until: bytes | None = None) -> str:
    """What the server sends until it closes (or until `until` arrives)."""
    parts: list[bytes] = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
        if until is not None and until in b"".join(parts):
            break
    sock.close()
    return b"".join(parts).decode(errors="replace")


def test_a_slow_upload_does_not_hold_up_other_requests(served: Server) -> None:
    """The body trickles in over ~3 s; /health and / answer meanwhile."""
    body = SEED.replace("cluster 10", "cluster 77").encode()
    head = (
        f"POST /documents HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = raw_request(served.port, head)
    done = threading.Event()

    def trickle() -> None:
        for at in range(0, len(body), len(body) // 30 + 1):
            sock.sendall(body[at : at + len(body) // 30 + 1])
            time.sleep(0.1)
        done.set()

    sender = threading.Thread(target=trickle)
    sender.start()
    with httpx.Client(base_url=served.url, timeout=2.0) as quick:
        answered = 0
        while not done.is_set():
            assert quick.get("/health").status_code == 200  # a 2 s timeout, not a timing
            answered += 1
            time.sleep(0.05)
        assert quick.get("/").status_code == 200
    sender.join()
    reply = read_all(sock, until=b'"errors"')
    assert reply.startswith("HTTP/1.1 200") and answered >= 5


def test_parsing_a_hostile_digest_does_not_freeze_the_server(served: Server) -> None:
    """The 25 KB upload with 20k spaces in one title (it froze every request for
    11.9 s): it parses, and /health answers while it is sent and parsed."""
    title = "Venezuelan government begins" + " " * 20_000 + "x - Publisher"
    body = SEED.replace("Venezuelan government begins", title).replace("cluster 10", "cluster 78")
    results: list[httpx.Response] = []
    upload = threading.Thread(
        target=lambda: results.append(
            httpx.post(f"{served.url}/documents", content=body, headers=AUTH, timeout=60)
        )
    )
    upload.start()
    with httpx.Client(base_url=served.url, timeout=2.0) as quick:
        while upload.is_alive():
            assert quick.get("/health").status_code == 200
            time.sleep(0.02)
    upload.join()
    (r,) = results
    assert r.status_code == 200, r.text
    assert r.json()["added"] == ["2026-01-09-c78"]


@pytest.mark.parametrize("path", ["/recommend", "/similar", "/documents", "/search"])
def test_a_body_over_the_limit_is_refused_on_every_route(served: Server, path: str) -> None:
    r = served.http.post(path, content=b"x" * (LIMIT + 1), headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_a_huge_declared_body_is_refused_before_it_is_sent(served: Server) -> None:
    """60 MB announced, nothing sent: the answer comes at once (it was read in full)."""
    sock = raw_request(
        served.port,
        b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 60000000\r\n\r\n",
    )
    reply = read_all(sock)
    assert reply.startswith("HTTP/1.1 413") and "too_large" in reply


def test_a_chunked_body_over_the_limit_is_cut_off(served: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 100_000

    r = served.http.post(
        "/recommend", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_a_client_that_never_finishes_its_headers_is_disconnected(served: Server) -> None:
    """One header byte every 0.2 s for 30 s (uvicorn reset its idle timer on every
    byte: such a client was never closed). The server's header deadline is 1 s."""
    sock = raw_request(served.port, b"G")
    closed = False
    for byte in b"ET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 150:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                closed = sock.recv(1, socket.MSG_PEEK) == b""
            except ConnectionResetError:
                closed = True
            break
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    sock.close()
    assert closed, "the server kept a header-trickling client for 30 s"
    assert served.http.get("/health").status_code == 200


def test_a_connection_that_sends_nothing_is_closed(served: Server) -> None:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    assert sock.recv(1) == b""  # closed by the server (a 10 s socket timeout bounds the wait)
    sock.close()


def test_mixed_good_and_bad_records_over_http_are_207(served: Server, tmp_path: Path) -> None:
    good = '{"id": "hostile-ok", "title": "Harbour plan", "text": "The council approved it."}'
    bad = [
        '{"id": "hostile-1", "text": ["a", "list"]}',
        '{"id": {"an": "object"}, "text": "t"}',
        '{"id": "hostile-2", "summary": "s", "sources": {"a.com": 1e20}}',
        '{"id": ' + "9" * 5000 + ', "text": "t"}',
        "[" * 50_000 + "]" * 50_000,
    ]
    body = "\n".join([good, *bad])
    r = served.http.post(
        "/documents", content=body, headers={**AUTH, "content-type": "application/x-ndjson"}
    )
    assert r.status_code == 207, r.text
    answer = r.json()
    assert answer["added"] == ["hostile-ok"]
    assert [e["line"] for e in answer["errors"]] == [2, 3, 4, 5, 6]
    assert served.http.get("/clusters/hostile-ok").status_code == 200


def test_every_worker_gets_the_servers_settings(tmp_path: Path) -> None:
    """`serve --workers 2`: the settings (index, body limit, header deadline) reach each
    worker process inside uvicorn's config, not through `os.environ`. A silent client is
    closed at the 1 s deadline, well before the default 10 s (the 5 s socket timeout
    would raise), whichever worker took the connection."""
    index = tmp_path / "idx"
    cli("index", str(SEEDS), "--index", str(index), "--model", "hashing", "-q")
    srv = Server(index, ("--workers", "2", "--header-timeout", "1", "--max-body", "1000"))
    try:
        srv.wait()
        for _ in range(4):
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            assert sock.recv(1) == b""
            sock.close()
        assert srv.http.post("/documents", content=b"x" * 1001, headers=AUTH).status_code == 413
        assert srv.http.get("/search", params={"q": "prisoners"}).status_code == 200
    finally:
        srv.stop()
