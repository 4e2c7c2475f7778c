"""The delivery outbox (news/outbox.py) with real local receivers: a failed delivery
is tried again after a pause and ends delivered, or dead after its attempts with the
last reason; the queue lives in the index, so another engine (another process)
delivers what one left; two drainers never deliver one alert twice."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from searchengine import Engine
from searchengine.encoders.encoder import HashingEncoder
from searchengine.news.outbox import OutboxParams

from .conftest import SEEDS
from .test_webhooks import QUERY, VENEZUELA, Listener

FAST = OutboxParams(first_retry=0.05, poll=0.05, attempts=3)


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHENGINE_WEBHOOK_ALLOW", "127.0.0.1")


def opened(index: Path, params: OutboxParams = FAST) -> Engine:
    engine = Engine.open(index, encoder=HashingEncoder(256), create=True)
    engine.saved.outbox.params = params
    return engine


def settled(engine: Engine, until: str, timeout: float = 20.0) -> list[dict]:
    """The alerts once every delivery status starts with `until` (polling the index)."""
    deadline = time.monotonic() + timeout
    while True:
        alerts = engine.saved.alerts()
        if alerts and all(str(a.get("delivery")).startswith(until) for a in alerts):
            return alerts
        assert time.monotonic() < deadline, [a.get("delivery") for a in alerts]
        time.sleep(0.05)


def test_a_failed_delivery_is_tried_again_until_it_lands(tmp_path: Path) -> None:
    """Failed deliveries were never retried. A receiver answering 500 twice, then 204:
    the third attempt delivers; the receiver saw the same signed alert three times."""
    listener = Listener(fail_first=2)
    engine = opened(tmp_path / "idx")
    try:
        engine.add_paths([p for p in SEEDS.glob("*.txt") if p != VENEZUELA])
        engine.saved.save(QUERY, webhook=listener.url)
        engine.saved.outbox.poll_forever()  # (as a server does)
        engine.add_paths([VENEZUELA])
        (alert,) = settled(engine, "delivered")
        assert alert["delivery"] == "delivered (204)" and alert["attempts"] == 3
        ids = [json.loads(body)["id"] for _, body in listener.requests]
        assert ids == [alert["id"]] * 3
    finally:
        engine.close()
        listener.close()


def test_a_receiver_that_never_answers_is_dead_lettered_with_its_reason(tmp_path: Path) -> None:
    engine = opened(tmp_path / "idx")
    try:
        engine.add_paths([p for p in SEEDS.glob("*.txt") if p != VENEZUELA])
        engine.saved.save(QUERY, webhook="http://127.0.0.1:9/hook")  # nothing listens
        engine.saved.outbox.poll_forever()
        engine.add_paths([VENEZUELA])
        (alert,) = settled(engine, "dead")
        assert alert["delivery"].startswith("dead after 3 attempts; last: failed: ")
        assert "refused" in alert["delivery"].lower()  # (the connection's own reason)
        time.sleep(0.3)  # polls go on: a dead alert is not tried again
        assert engine.saved.alerts()[0]["attempts"] == 3
    finally:
        engine.close()


def test_the_queue_lives_in_the_index_and_another_engine_delivers_it(tmp_path: Path) -> None:
    """A one-shot command whose receiver failed leaves the alert due in the index; a
    server opened later (here another engine) delivers it."""
    listener = Listener(fail_first=1)
    index = tmp_path / "idx"
    first = opened(index)
    try:
        first.add_paths([p for p in SEEDS.glob("*.txt") if p != VENEZUELA])
        first.saved.save(QUERY, webhook=listener.url)
        first.add_paths([VENEZUELA])
        (alert,) = settled(first, "failed")
    finally:
        first.close()
    second = opened(index)
    try:
        second.saved.outbox.poll_forever()
        (alert,) = settled(second, "delivered")
        assert alert["attempts"] == 2 and len(listener.requests) == 2
    finally:
        second.close()
        listener.close()


def test_two_drainers_never_deliver_one_alert_twice(tmp_path: Path) -> None:
    """30 alerts due at once, two engines on the index draining together: each alert
    reaches the receiver exactly once (a drainer claims alerts before it sends them)."""
    listener = Listener("slow")
    index = tmp_path / "idx"
    engines = [opened(index, OutboxParams()), opened(index, OutboxParams())]
    try:
        writer = engines[0]
        writer.add_paths([p for p in SEEDS.glob("*.txt") if p != VENEZUELA])
        for _ in range(30):
            writer.saved.save(QUERY, webhook=listener.url)
        writer.add_paths([VENEZUELA])  # (its outbox starts on them at once...)
        engines[1].saved.outbox.kick()  # (...and so does the other's)
        settled(writer, "delivered")
        assert engines[1].saved.outbox.params.batch < 30  # (both had turns to claim)
        counts = Counter(json.loads(body)["id"] for _, body in listener.requests)
        assert len(counts) == 30 and set(counts.values()) == {1}
    finally:
        for engine in engines:
            engine.close()
        listener.close()


def test_a_command_whose_ingest_raises_hundreds_of_webhook_alerts_delivers_them(
    tmp_path: Path,
) -> None:
    """With a thread per alert, `searchengine index` of one cluster crashed (exit 139)
    at 5,000 matching saved searches with webhooks. A real CLI process, 200 matching
    searches: it exits 0, and every alert ends delivered, each once."""
    import os
    import subprocess
    import sys

    listener = Listener()
    index = tmp_path / "idx"
    engine = opened(index, OutboxParams())
    try:
        engine.add_paths([p for p in SEEDS.glob("*.txt") if p != VENEZUELA])
        for _ in range(200):
            engine.saved.save(QUERY, webhook=listener.url)
    finally:
        engine.close()
    exe = Path(sys.executable).parent / "searchengine"
    env = {**os.environ, "SEARCHENGINE_WEBHOOK_ALLOW": "127.0.0.1"}
    run = subprocess.run(
        [str(exe), "index", str(VENEZUELA), "--index", str(index), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert run.returncode == 0, run.stderr
        assert "200 alert(s)" in run.stdout
        with Engine.open(index) as reader:
            states = Counter(a["delivery"] for a in reader.saved.alerts())
        assert states == {"delivered (204)": 200}
        counts = Counter(json.loads(body)["id"] for _, body in listener.requests)
        assert len(counts) == 200 and set(counts.values()) == {1}
    finally:
        listener.close()
