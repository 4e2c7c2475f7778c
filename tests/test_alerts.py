"""Saved searches that fire on ingest (alerts.py): through the library, the CLI and the
API, on both backends, with a real loopback webhook receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine, Filters, UnknownId
from searchengine.errors import BadRequest
from searchengine.http.app import ApiSettings, create_app

from .conftest import SEEDS

EXE = Path(sys.executable).parent / "searchengine"
KEY = "alerts-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
VENEZUELA = SEEDS / "000_04a9b59b936e3d08.txt"  # 2026-01-09-c10: political prisoners freed


class Receiver:
    """A webhook receiver on a free loopback port that keeps what it was sent."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """A receiver on loopback, which the server may call only when allowed to."""
    monkeypatch.setenv("SEARCHENGINE_WEBHOOK_ALLOW", "127.0.0.1")
    r = Receiver()
    yield r
    r.close()


def without(engine: Engine, path: Path) -> None:
    """Index every seed digest but `path`."""
    engine.add_paths([p for p in sorted(SEEDS.glob("*.txt")) if p != path])


def test_a_saved_search_fires_on_the_ingest_that_adds_its_story(
    engine: Engine, receiver: Receiver
) -> None:
    without(engine, VENEZUELA)
    hit = engine.saved.save("Venezuela political prisoners released", webhook=receiver.url)
    engine.saved.save("Japan snap election results")  # names what no story mentions
    engine.saved.save("Venezuela political prisoners", filters=Filters.build(date_to="2025-12-31"))
    assert not engine.saved.alerts()  # saving matches nothing already indexed
    run = engine.add_paths([VENEZUELA])
    assert [a["cluster_id"] for a in run.report.alerts] == ["2026-01-09-c10"]
    alerts = engine.saved.alerts()
    assert len(alerts) == 1 and alerts[0]["search_id"] == hit.id
    assert alerts[0]["relevance"] >= hit.min_relevance and alerts[0]["title"].startswith(
        "Venezuela"
    )
    sent = receiver.wait(1)
    assert sent and sent[0]["cluster_id"] == "2026-01-09-c10" and sent[0]["search_id"] == hit.id
    deadline = time.monotonic() + 10
    while engine.saved.alerts()[0]["delivery"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.saved.alerts()[0]["delivery"].startswith("delivered")
    # `after` gives only what came after; an unchanged re-ingest raises nothing new.
    engine.add_paths([VENEZUELA])
    assert engine.saved.alerts(after=alerts[-1]["id"]) == []


def test_a_misspelt_name_in_a_saved_search_is_forgiven_as_a_search_forgives_it(
    engine: Engine,
) -> None:
    """A search finds `maduro` for `Maduroo` and counts the name as known; the saved
    search did not, and discounted every match as naming an unknown person."""
    without(engine, VENEZUELA)
    saved = engine.saved.save("Maduroo political prisoners released")
    run = engine.add_paths([VENEZUELA])
    hit = engine.search(saved.query)[0]
    assert hit.cluster_id == "2026-01-09-c10" and hit.evidence.names_missing == 0
    assert [a["cluster_id"] for a in run.report.alerts] == ["2026-01-09-c10"]
    assert run.report.alerts[0]["relevance"] == pytest.approx(hit.relevance, abs=0.05)


def test_a_replaced_cluster_is_matched_again_and_a_dead_webhook_is_recorded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEARCHENGINE_WEBHOOK_ALLOW", "127.0.0.1")
    without(engine, VENEZUELA)
    engine.saved.save("Venezuela political prisoners released", webhook="http://127.0.0.1:9/x")
    engine.add_paths([VENEZUELA])
    cluster = engine.get("2026-01-09-c10")[0]
    cluster.summary += " More prisoners were released on Saturday."
    report = engine.add([cluster])
    assert report.replaced == ["2026-01-09-c10"] and len(report.alerts) == 1
    engine.saved.outbox.wait()
    assert all(a["delivery"].startswith("failed") for a in engine.saved.alerts())


def test_saved_searches_survive_a_restart_and_can_be_removed(
    engine: Engine, index_dir: Path
) -> None:
    saved = engine.saved.save("Louvre jewels", min_relevance=0.5)
    engine.close()
    again = Engine.open(index_dir)
    try:
        (kept,) = again.saved.all()
        assert (kept.id, kept.query, kept.min_relevance) == (saved.id, "Louvre jewels", 0.5)
        again.saved.remove(saved.id)
        assert again.saved.all() == []
        with pytest.raises(UnknownId):
            again.saved.remove(saved.id)
    finally:
        again.close()
    for bad in (
        {"query": " "},
        {"query": "x", "min_relevance": 2.0},
        {"query": "x", "webhook": "ftp://x"},
    ):
        with pytest.raises(BadRequest):
            engine.saved.save(**bad)  # type: ignore[arg-type]


def test_saved_searches_and_alerts_over_http_need_the_key_to_write(
    engine: Engine, index_dir: Path, receiver: Receiver
) -> None:
    without(engine, VENEZUELA)
    app = create_app(ApiSettings(index=index_dir, api_key=KEY), engine=engine)
    with TestClient(app) as client:
        body = {"query": "Venezuela political prisoners released", "webhook": receiver.url}
        assert client.post("/searches", json=body).status_code == 401
        r = client.post("/searches", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        sid = r.json()["id"]
        assert client.get("/searches").status_code == 401
        listed = client.get("/searches", headers=AUTH).json()["results"]
        assert [s["id"] for s in listed] == [sid] and "vector" not in listed[0]
        bad = client.post("/searches", json={"query": "x", "min_relevance": 3}, headers=AUTH)
        assert bad.status_code in (400, 422)
        ingest = client.post("/documents", content=VENEZUELA.read_text(), headers=AUTH)
        assert ingest.status_code == 200, ingest.text
        assert client.get("/alerts").status_code == 401  # the key holders' queries
        got = client.get("/alerts", headers=AUTH).json()
        assert [a["cluster_id"] for a in got["results"]] == ["2026-01-09-c10"]
        later = client.get("/alerts", params={"after": got["next_after"]}, headers=AUTH)
        assert later.json()["results"] == [] and later.json()["next_after"] == got["next_after"]
        bad = client.get("/alerts", params={"after": "2026-01-01"}, headers=AUTH)
        assert bad.status_code == 400 and "after" in bad.text  # a time is not an alert id
        # A time the schema's pattern refuses is said in the CLI's words, not as a regex.
        odd = client.get("/alerts", params={"since": "next tuesday"}, headers=AUTH)
        assert odd.status_code == 400 and odd.json()["detail"].startswith("since: bad date")
        assert "pattern" not in odd.text and "yesterday" in odd.json()["detail"]
        assert receiver.wait(1)[0]["cluster_id"] == "2026-01-09-c10"
        assert client.delete(f"/searches/{sid}").status_code == 401
        assert client.delete(f"/searches/{sid}", headers=AUTH).status_code == 200
        assert client.delete(f"/searches/{sid}", headers=AUTH).status_code == 404


def test_the_cli_saves_lists_and_shows_alerts(tmp_path: Path) -> None:
    index = str(tmp_path / "idx")

    def cli(*args: str) -> str:
        out = subprocess.run(
            [str(EXE), *args, "--index", index], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    cli("index", str(SEEDS / "2025-10-03_c6.txt"), "--model", "hashing", "-q")
    saved = json.loads(cli("searches", "add", "Venezuela political prisoners", "--json"))
    assert saved["id"] in cli("searches", "list")
    assert "1 alert(s) from saved searches" in cli("index", str(VENEZUELA), "-q")
    shown = json.loads(cli("alerts", "--json"))
    assert [a["cluster_id"] for a in shown["results"]] == ["2026-01-09-c10"]
    assert "2026-01-09-c10" in cli("alerts")
    assert cli("alerts", "--after", shown["next_after"]).strip() == "no alerts"
    cli("searches", "remove", saved["id"])
    assert cli("searches", "list").strip() == "no saved searches"


def test_an_ingest_killed_after_a_partial_commit_loses_no_alert(
    index_dir: Path | str, encoder: object, tmp_path: Path
) -> None:
    """An ingest of 6 clusters in batches of 2, killed (SIGKILL, a real process) right
    after its first batch committed: those 2 clusters were in the index and never
    matched (256 of 600 in the report). They are marked unmatched in the write that
    commits them; the next ingest matches them with its own: every cluster alerts
    exactly once."""
    from .test_processes import digests

    many = tmp_path / "many.txt"
    many.write_text(digests(5, [(n, f"valley{n}") for n in range(1, 7)]))
    ids = [f"2026-03-05-c{n}" for n in range(1, 7)]
    with Engine.open(index_dir, encoder=encoder, create=True) as engine:  # type: ignore[arg-type]
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
        engine.saved.save("council approves harbour plan ferries fishing", min_relevance=0.0)
    root = Path(__file__).resolve().parent.parent
    killed = subprocess.run(
        [sys.executable, "-m", "tests.killed_ingest", str(index_dir), str(many), "2"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    with Engine.open(index_dir, encoder=encoder) as engine:  # type: ignore[arg-type]
        assert engine.stats()["clusters"] == 1 + 2  # the first batch is in
        assert engine.saved.alerts() == []  # and was never matched
        engine.add_paths([many])  # the other 4, and the 2 left unmatched
        assert sorted(a["cluster_id"] for a in engine.saved.alerts()) == ids
        engine.add_paths([many])  # (unchanged: nothing new)
        assert sorted(a["cluster_id"] for a in engine.saved.alerts()) == ids


def test_matching_asks_only_the_saved_searches_that_could_match(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ingest worked out each saved search's context (its words in the index, a
    nearest-passage search of its own) and read every saved record: ~6 s at 10,000
    saved searches, whatever the ingest. Now a search whose words (or close
    spellings) the new cluster does not hold, and whose vector alone cannot reach its
    minimum, stops before its context; records are read again only after a change;
    saving one does not read the others. The alerts are the same."""
    from searchengine.query.search import Searcher

    without(engine, VENEZUELA)
    topics = ["zebra migration", "glacier melt", "opera premiere", "chess olympiad"]
    for i in range(60):
        engine.saved.save(f"{topics[i % 4]} {i}")
    real_read = type(engine.store).saved_searches

    def no_read(self: object) -> list:
        raise AssertionError("saving read every saved search")

    monkeypatch.setattr(type(engine.store), "saved_searches", no_read)
    hit = engine.saved.save("Venezuela political prisoners released")  # (counts, not reads)
    monkeypatch.setattr(type(engine.store), "saved_searches", real_read)
    asked: list[int] = []
    real_best = Searcher.best_cosine

    def counted(self: Searcher, vector):  # type: ignore[no-untyped-def]
        asked.append(1)
        return real_best(self, vector)

    monkeypatch.setattr(Searcher, "best_cosine", counted)
    run = engine.add_paths([VENEZUELA])
    assert [(a["search_id"], a["cluster_id"]) for a in run.report.alerts] == [
        (hit.id, "2026-01-09-c10")
    ]
    assert 1 <= len(asked) <= 5, len(asked)  # of 61 saved searches


def test_a_saved_search_honours_phrases_and_exclusions(engine: Engine) -> None:
    """Alerts read a saved query as a search does: "phrases" must be in the cluster,
    -word / NOT word must not (the operators were words to match)."""
    without(engine, VENEZUELA)
    text = VENEZUELA.read_text()
    assert "Caracas" in text and "political prisoners" in text.lower()
    fires = engine.saved.save('"political prisoners" Venezuela released')
    excluded = engine.saved.save("Venezuela political prisoners released -Caracas")
    not_there = engine.saved.save('"political zebras" Venezuela prisoners released')
    plain = engine.saved.save("Venezuela political prisoners released")
    engine.add_paths([VENEZUELA])
    fired = {a["search_id"] for a in engine.saved.alerts()}
    assert fires.id in fired and plain.id in fired
    assert excluded.id not in fired and not_there.id not in fired
    with pytest.raises(BadRequest, match="only excludes words"):
        engine.saved.save("-Caracas NOT Venezuela")
