"""A story's coverage and an entity's timeline (coverage.py) through the library, the
CLI and the API, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine, UnknownId
from searchengine.errors import BadRequest
from searchengine.http.app import ApiSettings, create_app

EXE = Path(sys.executable).parent / "searchengine"


def test_coverage_of_a_story(seeded: Engine) -> None:
    data = seeded.news.coverage("2025-11-24-c2")
    cluster = seeded.get("2025-11-24-c2")[0]
    assert {s["outlet"] for s in data["sources"]} == set(cluster.sources)
    assert [a["id"] for a in data["articles"]] == [a.id for a in cluster.articles]
    # Each publisher's spread adds up to its articles; the totals to all of them.
    for p in data["publishers"]:
        assert sum(p["sentiment"].values()) <= p["articles"]
    assert sum(p["articles"] for p in data["publishers"]) == len(cluster.articles)
    sentiments = [a.sentiment for a in cluster.articles if a.sentiment]
    assert sum(data["totals"]["sentiment"].values()) == len(sentiments)
    # Along its thread, day by day: the story itself is one of the days.
    days = [d["date"] for d in data["thread"]]
    assert days == sorted(days) and "2025-11-24" in days
    today = next(d for d in data["thread"] if d["date"] == "2025-11-24")
    assert "2025-11-24-c2" in today["clusters"] and today["articles"] >= len(cluster.articles)
    # An article's id gives its cluster's coverage.
    assert seeded.news.coverage("2025-11-24-c2-a1")["id"] == "2025-11-24-c2"
    with pytest.raises(UnknownId):
        seeded.news.coverage("no-such-story")


def test_an_entity_timeline_matches_as_the_filter_does(seeded: Engine) -> None:
    folded = seeded.news.entity("nicolas maduro")
    accented = seeded.news.entity("Nicolás Maduro")
    assert folded == accented
    assert folded["key"] == "nicolas maduro"
    ids = [s["id"] for s in folded["stories"]]
    from searchengine import Filters

    filtered = {
        h.id
        for h in seeded.search("Maduro", k=50, filters=Filters.build(entities=["Nicolas Maduro"]))
    }
    assert set(ids) == filtered and folded["stories_total"] == len(ids)
    assert [s["date"] for s in folded["stories"]] == sorted(
        (s["date"] for s in folded["stories"]), reverse=True
    )  # newest first
    assert sum(p["articles"] for p in folded["timeline"]) == folded["articles_total"]
    assert folded["period"] in ("day", "month")
    companions = [c["entity"] for c in folded["companions"]]
    assert "Venezuela" in companions and "Nicolás Maduro" not in companions
    with pytest.raises(UnknownId):
        seeded.news.entity("Zanzibarland Person")
    with pytest.raises(BadRequest):
        seeded.news.entity("  ")


@pytest.mark.embedded_only  # the CLI and HTTP layers (Milvus: test_milvus.py)
def test_coverage_and_entity_through_the_api_and_the_cli(seeded: Engine, index_dir: Path) -> None:
    app = create_app(ApiSettings(index=index_dir), engine=seeded)
    with TestClient(app) as client:
        r = client.get("/clusters/2025-11-24-c2/coverage")
        assert r.status_code == 200 and r.json() == seeded.news.coverage("2025-11-24-c2")
        assert client.get("/clusters/nope/coverage").status_code == 404
        assert client.get("/clusters/2025-11-24-c2-a1/coverage").status_code == 404  # an article
        e = client.get("/entities/Nicol%C3%A1s Maduro")
        assert e.status_code == 200 and e.json()["key"] == "nicolas maduro"
        assert client.get("/entities/Zanzibarland").status_code == 404
        api = e.json()
    seeded.close()
    out = subprocess.run(
        [str(EXE), "entity", "nicolas maduro", "--index", str(index_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout) == api
    text = subprocess.run(
        [str(EXE), "coverage", "2025-11-24-c2", "--index", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "by publisher:" in text and "thread (" in text
    missing = subprocess.run(
        [str(EXE), "entity", "Zanzibarland", "--index", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: no story names")


def test_the_front_page_holds_the_widest_and_the_newest_days(seeded: Engine) -> None:
    """What a visitor sees before searching (the home page was blank)."""
    front = seeded.news.front()
    assert front["newest"] == "2026-03-10"
    outlets = [s["outlets"] for s in front["widest"]]
    assert len(outlets) == 5 and outlets == sorted(outlets, reverse=True) and outlets[0] >= 5
    days = [d["date"] for d in front["days"]]
    assert days == sorted(days, reverse=True) and len(days) == 3 and days[0] == "2026-03-10"
    for day in front["days"]:
        assert all(s["date"] == day["date"] for s in day["stories"]) and day["stories"]
        counts = [s["outlets"] for s in day["stories"]]
        assert counts == sorted(counts, reverse=True)


def test_an_empty_index_has_an_empty_front_page(engine: Engine) -> None:
    assert engine.news.front() == {"newest": None, "widest": [], "days": []}
