"""What a news reader asks of a result list beyond relevance (ordering.py): fresh
first, newest first, one result per story — through the library, the CLI and the
API, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine
from searchengine.core.contract import SearchRequest
from searchengine.errors import BadRequest
from searchengine.http.app import ApiSettings, create_app
from searchengine.stories.related import freshness

from .test_related import clone

EXE = Path(sys.executable).parent / "searchengine"
# The Ukraine peace-plan thread: five clusters from 2025-11-20 to 2026-02-06 (families.tsv).
UKRAINE = {"2025-11-20-c7", "2025-11-24-c2", "2025-11-25-c5", "2026-01-24-c6", "2026-02-06-c3"}
QUERY = "Ukraine peace plan talks"


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.id for h in hits]


def test_pure_relevance_is_the_default(seeded: Engine) -> None:
    plain = seeded.search(QUERY, k=5)
    assert all(h.freshness is None and h.more is None for h in plain)
    explicit = seeded.search(SearchRequest(QUERY, k=5, sort="relevance"))
    assert ids(explicit) == ids(plain)


def test_a_half_life_brings_fresh_stories_up_and_keeps_strong_before_weak(
    seeded: Engine,
) -> None:
    plain = seeded.search(QUERY, k=10)
    fresh = seeded.search(QUERY, k=10, half_life_days=7)
    assert all(h.freshness is not None and 0 < h.freshness <= 1 for h in fresh)
    strong = [h for h in fresh if not h.weak]
    # Among strong hits the newest Ukraine cluster outranks the older ones it trailed.
    dates = {h.id: h.date for h in strong}
    newest = max((c for c in dates if c in UKRAINE), key=lambda c: dates[c])
    assert ids(strong)[0] == newest
    assert ids(plain)[0] != newest
    # Strong matches stay above weaker ones, whatever their dates.
    weak_seen = False
    for hit in fresh:
        weak_seen = weak_seen or hit.weak
        assert hit.weak or not weak_seen
    # Counting back from an earlier date makes that date's stories the freshest.
    back = seeded.search(QUERY, k=10, half_life_days=7, fresh_from="2025-11-25")
    assert [h for h in back if not h.weak][0].date <= "2025-11-25"


def test_an_undated_story_counts_as_the_oldest(seeded: Engine) -> None:
    undated = clone(seeded.get("2026-02-06-c3")[0], "undated-ukraine")
    undated.date = None
    seeded.add([undated])
    hits = seeded.search(QUERY, k=20, half_life_days=60)
    by_id = {h.id: h for h in hits}
    with seeded.folder.reading():
        oldest, newest = seeded.store.date_range()
    expected = round(freshness(oldest, newest, 60), 6)
    assert 0 < expected < min(h.freshness for h in hits if h.date)
    assert by_id["undated-ukraine"].freshness == expected


def test_sort_by_date_orders_strong_hits_newest_first(seeded: Engine) -> None:
    hits = seeded.search(QUERY, k=10, sort="date")
    strong = [h for h in hits if not h.weak]
    assert len(strong) >= 3
    assert [h.date for h in strong] == sorted((h.date for h in strong), reverse=True)
    assert all(h.weak for h in hits[len(strong) :])


def test_collapse_shows_one_result_per_story(seeded: Engine) -> None:
    """The mechanics (the fake encoder's story decisions are crude: which stories merge
    is tested with the real model in test_real_model.py)."""
    plain = seeded.search(QUERY, k=10)
    collapsed = seeded.search(QUERY, k=10, collapse=True)
    assert sum(h.id in UKRAINE for h in plain) >= 3  # the thread fills the plain list
    heads = [h for h in collapsed if h.id in UKRAINE]
    assert len(heads) == 1 and heads[0].id == plain[0].id  # one result, the most relevant
    head = heads[0]
    assert len(head.more or []) >= 3  # listing the others
    listed = [h.id for h in collapsed] + [m.id for h in collapsed for m in h.more or []]
    assert len(listed) == len(set(listed))  # nothing twice
    # The heads are in the ranking's order, and each member came after its head.
    order = {cid: i for i, cid in enumerate(ids(seeded.search(QUERY, k=50)))}
    assert [order[h.id] for h in collapsed] == sorted(order[h.id] for h in collapsed)
    assert all(order[m.id] > order[h.id] for h in collapsed for m in h.more or [])
    as_json = head.to_dict()["more"]
    assert [m["id"] for m in as_json] == [m.id for m in head.more or []]
    assert all({"date", "title", "relevance"} <= m.keys() for m in as_json)


def test_bad_ordering_options_are_clear_errors() -> None:
    for bad in (
        {"half_life_days": 0},
        {"half_life_days": -3},
        {"half_life_days": True},
        {"sort": "popularity"},
        {"fresh_from": "the day before"},
    ):
        with pytest.raises(BadRequest):
            SearchRequest("x", **bad)  # type: ignore[arg-type]


@pytest.mark.embedded_only  # the CLI and HTTP layers (Milvus: test_milvus.py)
def test_the_cli_and_the_api_take_the_same_options(seeded: Engine, index_dir: Path) -> None:
    app = create_app(ApiSettings(index=index_dir), engine=seeded)
    with TestClient(app) as client:
        r = client.get(
            "/search", params={"q": QUERY, "k": 10, "collapse": "true", "half_life_days": 30}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["request"]["collapse"] is True and body["request"]["half_life_days"] == 30
        assert any(n.startswith("one result per story") for n in body["notes"])
        assert all("freshness" in h for h in body["results"])
        assert client.get("/search", params={"q": "x", "sort": "nope"}).status_code in (400, 422)
        assert client.get("/search", params={"q": "x", "half_life_days": 0}).status_code in (
            400,
            422,
        )
        api_ids = [h["id"] for h in body["results"]]
    seeded.close()
    out = subprocess.run(
        [
            str(EXE),
            "search",
            QUERY,
            "--index",
            str(index_dir),
            "--collapse",
            "--half-life-days",
            "30",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert [h["id"] for h in json.loads(out.stdout)["results"]] == api_ids
    text = subprocess.run(
        [str(EXE), "search", QUERY, "--index", str(index_dir), "--collapse", "-k", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "more from this story:" in text
