"""Many processes, one index: a real `searchengine serve` and real CLI writers on one
folder (subprocesses, not threads). Every write through either is seen by the other
on its next request, by every mode; stats agree at every moment; kill -9 of either
leaves the other working; /health and /stats never hang during an ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .conftest import SEEDS, free_port

EXE = Path(sys.executable).parent / "searchengine"
KEY = "process-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODES = ("hybrid", "dense", "lexical")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(EXE), *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def digest(day: int, number: int, word: str) -> str:
    """A one-cluster digest file for 2026-03-DAY."""
    return f"{day:02d}-03-2026\n\n" + cluster(day, number, word)


def digests(day: int, clusters: list[tuple[int, str]]) -> str:
    """A digest file for 2026-03-DAY with several clusters (number, word)."""
    return f"{day:02d}-03-2026\n\n" + "\n".join(cluster(day, n, w) for n, w in clusters)


def cluster(day: int, number: int, word: str) -> str:
    """A small valid cluster whose title, summary and article all carry `word`."""
    return f"""{word.title()} Council Approves {word} Harbour Plan

Date: {day:02d}-03-2026
Sources: example.com: 1 | news.example.org: 1
Image for cluster {number}

Summary

The {word} council approved the {word} harbour plan after a long debate about ferries and fishing quotas.

Key Points

  • The {word} harbour plan passed by nine votes to four.

Articles in this Cluster

{word} harbour plan approved | Local | Example News

Councillors in {word} backed the harbour plan, which adds a ferry berth and protects fishing quotas.
Entities: {word.title()} Council, ExampleTone: neutralSentiment: positiveIntent: inform
"""


class Server:
    """`searchengine serve` as its own process on a free loopback port."""

    def __init__(self, index: Path, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SEARCHENGINE_API_KEY": KEY}
        # The log goes to a file: a pipe nobody reads fills at 64 KB of logged errors
        # and then blocks the server mid-request (a fuzzing run hung that way).
        self.log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [str(EXE), "serve", "--index", str(index), "--port", str(self.port), *extra]
            + ["--log-level", "warning"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def wait(self, status: int = 200, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                r = self.http.get("/health")
                if r.status_code == status and (status != 503 or r.json()["status"] == "error"):
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not in state {status} within {timeout}s")

    def ids(self, query: str, mode: str) -> list[str]:
        r = self.http.get("/search", params={"q": query, "mode": mode, "k": 10})
        assert r.status_code == 200, r.text
        return [h["id"] for h in r.json()["results"]]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    where = tmp_path / "idx"
    cli("index", str(SEEDS), "--index", str(where), "--model", "hashing", "-q")
    return where


@pytest.fixture
def server(index: Path) -> Iterator[Server]:
    srv = Server(index)
    srv.wait()
    yield srv
    srv.stop()


def cli_ids(index: Path, query: str, mode: str) -> list[str]:
    out = cli("search", query, "--index", str(index), "--mode", mode, "--json").stdout
    return [h["id"] for h in json.loads(out)["results"]]


def assert_stats_agree(server: Server, index: Path) -> dict:
    over_http = server.http.get("/stats").json()
    from_cli = json.loads(cli("stats", "--index", str(index), "--json").stdout)
    assert over_http["passages"] == over_http["vectors"]
    assert from_cli["passages"] == from_cli["vectors"]
    for key in ("clusters", "articles", "passages", "vectors", "generation"):
        assert over_http[key] == from_cli[key], key
    return over_http


def test_writes_through_either_process_are_seen_by_the_other(
    server: Server, index: Path, tmp_path: Path
) -> None:
    before = assert_stats_agree(server, index)
    # The CLI writes; the server sees it on its next request, by every mode.
    path = tmp_path / "cli.txt"
    path.write_text(digest(1, 61, "quillmoor"))
    cli("index", str(path), "--index", str(index), "-q")
    for mode in MODES:
        assert "2026-03-01-c61" in server.ids("quillmoor harbour plan", mode), mode
    after_cli = assert_stats_agree(server, index)
    assert after_cli["clusters"] == before["clusters"] + 1
    # The server writes; the CLI sees it, by every mode.
    r = server.http.post("/documents", content=digest(2, 62, "brackwater"), headers=AUTH)
    assert r.status_code == 200 and r.json()["added"] == ["2026-03-02-c62"]
    for mode in MODES:
        assert "2026-03-02-c62" in cli_ids(index, "brackwater harbour plan", mode), mode
    assert_stats_agree(server, index)
    # Removed through one: gone through the other.
    cli("remove", "2026-03-02-c62", "--index", str(index))
    assert server.http.get("/clusters/2026-03-02-c62").status_code == 404
    for mode in MODES:
        assert "2026-03-02-c62" not in server.ids("brackwater harbour plan", mode), mode
    assert server.http.delete("/clusters/2026-03-01-c61", headers=AUTH).status_code == 200
    for mode in MODES:
        assert "2026-03-01-c61" not in cli_ids(index, "quillmoor harbour plan", mode), mode
    assert assert_stats_agree(server, index)["clusters"] == before["clusters"]


def test_concurrent_writers_in_three_processes_lose_nothing(
    server: Server, index: Path, tmp_path: Path
) -> None:
    """CLI `index` + server `POST /documents` + CLI `remove`, all at once: every one
    succeeds, in some order, and the index holds exactly what they wrote."""
    folder = tmp_path / "batch"
    folder.mkdir()
    for n in range(30):
        (folder / f"{n}.txt").write_text(digest(3, 100 + n, f"cliword{n}"))
    posts = [digest(4, 200 + n, f"httpword{n}") for n in range(10)]
    results: dict[str, object] = {}

    def index_cli() -> None:
        results["index"] = cli("index", str(folder), "--index", str(index), "-q", check=False)

    def post_http() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            results["post"] = [
                http.post("/documents", content=body, headers=AUTH).status_code for body in posts
            ]

    def remove_cli() -> None:
        results["remove"] = cli("remove", "2025-10-03-c6", "--index", str(index), check=False)

    threads = [threading.Thread(target=f) for f in (index_cli, post_http, remove_cli)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert results["index"].returncode == 0, results["index"].stderr  # type: ignore[union-attr]
    assert results["remove"].returncode == 0, results["remove"].stderr  # type: ignore[union-attr]
    assert results["post"] == [200] * 10
    stats = assert_stats_agree(server, index)
    assert stats["clusters"] == 41 + 30 + 10 - 1
    for n in (0, 29):
        assert f"2026-03-03-c{100 + n}" in server.ids(f"cliword{n} harbour", "hybrid")
    for n in (0, 9):
        assert f"2026-03-04-c{200 + n}" in cli_ids(index, f"httpword{n} harbour", "lexical")


def test_health_and_stats_never_hang_during_ingest(server: Server) -> None:
    """The deadlock regression: /health and /stats polled in a loop while ingests run
    must all answer (bounded by a timeout), and stats never show passages != vectors."""
    bodies = [
        digests(5, [(300 + 10 * b + n, f"pollword{b}x{n}") for n in range(10)]) for b in range(6)
    ]
    done = threading.Event()
    problems: list[str] = []
    polls = {"n": 0}

    def ingest() -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for body in bodies:
                    r = http.post("/documents", content=body, headers=AUTH)
                    if r.status_code != 200:
                        problems.append(f"ingest {r.status_code}: {r.text}")
        finally:
            done.set()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not done.is_set():
                try:
                    health = http.get("/health")
                    stats = http.get("/stats").json()
                except httpx.TimeoutException:
                    problems.append("a poll timed out")
                    return
                polls["n"] += 1
                if health.status_code != 200:
                    problems.append(f"health {health.status_code}")
                if stats["passages"] != stats["vectors"]:
                    problems.append(f"stats disagree: {stats}")

    threads = [threading.Thread(target=ingest), threading.Thread(target=poll)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "the server hung"
    assert not problems, problems[:5]
    assert polls["n"] > 0
    assert server.http.get("/stats").json()["clusters"] == 41 + 60


def test_kill_9_of_a_cli_writer_leaves_the_server_working(
    server: Server, index: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    for f in range(40):  # 800 clusters: several transactions of 256
        (folder / f"{f}.txt").write_text(
            digests(6 + f % 20, [(1000 + 20 * f + n, f"killword{f}y{n}") for n in range(20)])
        )
    start = server.http.get("/health").json()["generation"]
    writer = subprocess.Popen(
        [str(EXE), "index", str(folder), "--index", str(index), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while writer.poll() is None and time.monotonic() < deadline:
        if server.http.get("/health").json()["generation"] > start:
            break  # at least one batch committed
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    stats = assert_stats_agree(server, index)
    assert 41 <= stats["clusters"] <= 41 + 800
    assert server.ids("Venezuela political prisoners", "hybrid")[0] == "2026-01-09-c10"
    # The dead writer's lock died with it: the next writer finishes the job.
    cli("index", str(folder), "--index", str(index), "-q")
    assert assert_stats_agree(server, index)["clusters"] == 41 + 800
    assert "2026-03-25-c1799" in server.ids("killword39y19 harbour", "lexical")


def test_kill_9_of_the_server_leaves_the_cli_working(
    server: Server, index: Path, tmp_path: Path
) -> None:
    bodies = [
        digests(7, [(400 + 10 * b + n, f"srvword{b}x{n}") for n in range(10)]) for b in range(20)
    ]

    def ingest() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for body in bodies:
                try:
                    http.post("/documents", content=body, headers=AUTH)
                except httpx.TransportError:
                    return  # the server is gone

    t = threading.Thread(target=ingest)
    t.start()
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    t.join(timeout=60)
    stats = json.loads(cli("stats", "--index", str(index), "--json").stdout)
    assert stats["passages"] == stats["vectors"]
    path = tmp_path / "after.txt"
    path.write_text(digest(8, 9, "afterkill"))
    cli("index", str(path), "--index", str(index), "-q")
    for mode in MODES:
        assert "2026-03-08-c9" in cli_ids(index, "afterkill harbour plan", mode)
    # And a new server opens the folder as the dead one left it.
    again = Server(index)
    try:
        again.wait()
        assert again.http.get("/stats").json()["clusters"] == stats["clusters"] + 1
    finally:
        again.stop()


def test_a_model_that_cannot_be_loaded_is_reported(tmp_path: Path) -> None:
    """`--model` pointing nowhere: one line and exit 1 from the CLI; over HTTP,
    /health says why (503 with the reason), not "loading" forever."""
    result = cli(
        "index", str(SEEDS), "--index", str(tmp_path / "x"), "--model", "/nonexistent", check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "/nonexistent" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()
    # An index whose model is not on this machine (built elsewhere, say).
    index = tmp_path / "elsewhere"
    cli("index", str(SEEDS / "2025-10-03_c6.txt"), "--index", str(index), "--model", "hashing")
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["model"] = str(tmp_path / "gone-model")
    (index / "manifest.json").write_text(json.dumps(manifest))
    search = cli("search", "blackout", "--index", str(index), check=False)
    assert search.returncode == 1 and "gone-model" in search.stderr
    assert len(search.stderr.strip().splitlines()) == 1
    srv = Server(index)
    try:
        health = srv.wait(status=503)
        assert health["status"] == "error" and "gone-model" in health["detail"]
    finally:
        srv.stop()


def test_several_workers_serve_one_index_and_see_each_others_writes(
    index: Path, tmp_path: Path
) -> None:
    """`serve --workers 2`: two processes behind one port. A write through whichever
    worker takes it is found by every later request, whichever worker answers."""
    srv = Server(index, extra=("--workers", "2"))
    try:
        srv.wait()
        # Each worker loads the index on its own and answers 503 ("loading") until then;
        # the first 200 may come from one while the other still loads (it did in CI).
        ready: set[object] = set()
        deadline = time.monotonic() + 120
        while len(ready) < 2 and time.monotonic() < deadline:
            with httpx.Client(base_url=srv.url, timeout=30) as fresh:
                health = fresh.get("/health")
                if health.status_code == 200:
                    ready.add(health.json().get("pid"))
        assert len(ready) == 2, ready
        pids = set()
        r = srv.http.post("/documents", content=digest(9, 77, "twinworker"), headers=AUTH)
        assert r.status_code == 200 and r.json()["added"] == ["2026-03-09-c77"]
        for _ in range(30):
            # A new connection each time, so the kernel may hand it to either worker.
            with httpx.Client(base_url=srv.url, timeout=30) as fresh:
                for mode in MODES:
                    got = fresh.get("/search", params={"q": "twinworker harbour", "mode": mode})
                    assert got.status_code == 200
                    assert got.json()["results"][0]["id"] == "2026-03-09-c77", mode
                stats = fresh.get("/stats").json()
                assert stats["passages"] == stats["vectors"] and stats["clusters"] == 42
                pids.add(fresh.get("/health").json().get("pid"))
        assert pids and srv.proc.pid not in pids  # answered by the worker processes
    finally:
        srv.stop()


def test_two_servers_on_one_index_see_each_others_writes(index: Path) -> None:
    """What `--workers` relies on, made deterministic: two server processes over one
    folder; a write through either is found through the other by every mode."""
    first, second = Server(index), Server(index)
    try:
        first.wait()
        second.wait()
        r = first.http.post("/documents", content=digest(10, 78, "ferrymarsh"), headers=AUTH)
        assert r.status_code == 200
        for mode in MODES:
            assert second.ids("ferrymarsh harbour plan", mode)[0] == "2026-03-10-c78", mode
        assert second.http.delete("/clusters/2026-03-10-c78", headers=AUTH).status_code == 200
        for mode in MODES:
            assert "2026-03-10-c78" not in first.ids("ferrymarsh harbour plan", mode), mode
        a, b = first.http.get("/stats").json(), second.http.get("/stats").json()
        assert a["generation"] == b["generation"] and a["vectors"] == b["vectors"] == a["passages"]
    finally:
        first.stop()
        second.stop()


def _index_descriptors(pid: int, index: Path) -> int:
    """How many of a process's open files are the index's database files."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed between listing and reading
            continue
        if target.startswith(str(index)) and ".sqlite" in target:
            count += 1
    return count


def test_a_server_keeps_its_database_connections_flat_over_many_threads(
    server: Server, index: Path
) -> None:
    """A server's requests run on anyio's worker threads, which come and go (idle ones
    retire after 10 s); each thread it ever saw used to keep its SQLite connection
    (200 short-lived threads -> 201 connections). 1,000 requests from 25 client threads,
    in two bursts with the worker threads retired in between, leave the count flat."""
    queries = ["harbour plan", "prisoners released", "Ukraine peace", "bitcoin", "election"]
    paths = ["/search", "/stats", "/health"]

    def burst(n: int) -> None:
        def one(i: int) -> int:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                path = paths[i % len(paths)]
                params = {"q": queries[i % len(queries)], "k": 5} if path == "/search" else {}
                return http.get(path, params=params).status_code

        with ThreadPoolExecutor(max_workers=25) as pool:
            codes = list(pool.map(one, range(n)))
        assert codes.count(200) == n, sorted(set(codes))

    pid = server.proc.pid
    seen: set[str] = set()

    def threads() -> int:  # (the server's threads now; `seen` keeps every one it had)
        alive = {t.name for t in Path(f"/proc/{pid}/task").iterdir()}
        seen.update(alive)
        return len(alive)

    burst(100)
    warm = _index_descriptors(pid, index)
    burst(400)
    first, first_threads = _index_descriptors(pid, index), threads()
    time.sleep(11)  # anyio retires worker threads idle for 10 s; new ones start next
    burst(500)
    second, second_threads = _index_descriptors(pid, index), threads()
    # Each live thread may hold one connection (the database and its log: two
    # descriptors): bounded by the threads alive, never by how many the server has
    # ever had (the leak: every retired thread kept its connection, so the second burst
    # added two descriptors per new worker thread on top of the first's). How many
    # worker threads a burst wakes varies with the machine's load (29 -> 37 descriptors
    # on one CI run), so the bound follows the threads alive.
    figures = (warm, first, second, first_threads, second_threads, len(seen))
    assert second <= max(first, 2 * second_threads) + 6, figures
    assert len(seen) > second_threads, figures  # (threads did retire and start again)
