"""Related stories, threads, similar text and recommendations."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from searchengine import BadRequest, Engine, Filters, UnknownId
from searchengine.core.documents import Cluster
from searchengine.evaluate import evaluate_recommend, evaluate_related, read_families

from .conftest import DATA
from .test_cli import cli

UKR = ["2025-11-20-c7", "2025-11-24-c2", "2025-11-25-c5", "2026-01-24-c6", "2026-02-06-c3"]


def clone(cluster: Cluster, new_id: str, date: str | None = None) -> Cluster:
    twin = copy.deepcopy(cluster)
    twin.id = new_id
    twin.date = date or twin.date
    for i, article in enumerate(twin.articles, 1):
        article.id = f"{new_id}-a{i}"
    return twin


def test_related_never_returns_the_cluster_itself(seeded: Engine) -> None:
    for cid in UKR:
        results = seeded.related(cid, k=40)
        assert cid not in [r.id for r in results]
        assert results  # its own story at least; the list ends at the related floor
        scores = [r.score for r in results]
        assert scores == sorted(scores, reverse=True)


def test_related_finds_the_same_story_across_days(seeded: Engine) -> None:
    results = seeded.related("2025-11-20-c7", k=4)
    assert len({r.id for r in results} & set(UKR)) >= 3
    assert results[0].same_story


def test_related_respects_filters(seeded: Engine) -> None:
    results = seeded.related("2025-11-20-c7", k=10, filters=Filters(date_from="2026-01-01"))
    assert results and all((r.date or "") >= "2026-01-01" for r in results)


def test_related_for_an_article_leaves_out_its_own_cluster(seeded: Engine) -> None:
    results = seeded.related("2025-11-20-c7-a1", k=10)
    assert results and all(r.cluster_id != "2025-11-20-c7" for r in results)
    assert all(r.id.rsplit("-a", 1)[0] == r.cluster_id for r in results)
    with_own = seeded.related("2025-11-20-c7-a1", k=10, include_own_cluster=True)
    ids = [r.id for r in with_own]
    assert "2025-11-20-c7-a1" not in ids
    assert {"2025-11-20-c7-a2", "2025-11-20-c7-a3"} & set(ids)


def test_unknown_ids_are_clear_errors(seeded: Engine) -> None:
    with pytest.raises(UnknownId, match="2099-01-01-c1"):
        seeded.related("2099-01-01-c1")
    with pytest.raises(UnknownId):
        seeded.thread("nope")
    with pytest.raises(UnknownId):
        seeded.recommend(liked=["nope"])
    with pytest.raises(BadRequest):
        seeded.recommend(liked=["2025-11-20-c7"], strategy="magic")
    with pytest.raises(BadRequest):
        seeded.recommend(diversity=2.0)


def test_similar_text(seeded: Engine) -> None:
    results = seeded.similar("Bitcoin crash liquidations crypto markets tumble", k=3)
    assert results[0].id in {"2025-10-11-c4", "2026-02-06-c1"}
    with pytest.raises(BadRequest):
        seeded.similar("  ")


def test_recommend_never_returns_liked_or_disliked(seeded: Engine) -> None:
    liked, disliked = UKR[:2], [UKR[2]]
    results = seeded.recommend(liked=liked, disliked=disliked, k=30)
    ids = [r.id for r in results]
    assert not set(ids) & set(liked + disliked)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("strategy", ["best", "average"])
def test_disliked_pushes_results_away(seeded: Engine, strategy: str) -> None:
    liked = ["2025-11-20-c7", "2025-10-13-c1"]  # Ukraine peace plan, Gaza hostages
    # The hashing encoder's vectors hardly tell stories apart (cosines of 0.57 for any
    # two): no related floor here, the ranking itself is under test.
    seeded.stories.similarity_params = replace(
        seeded.stories.similarity_params, related_floor=-1.0, related_standing=-100.0
    )
    plain = [r.id for r in seeded.recommend(liked=liked, k=40, diversity=0, strategy=strategy)]
    pushed = [
        r.id
        for r in seeded.recommend(
            liked=liked, disliked=["2025-11-24-c2"], k=40, diversity=0, strategy=strategy
        )
    ]
    # The other Ukraine clusters sink when one of them is disliked: more stories of
    # other subjects rank above them (or they fall out of the related list).
    others = [c for c in UKR if c not in ("2025-11-20-c7", "2025-11-24-c2")]

    def sunk(ranking: list[str]) -> int:
        return sum(
            sum(x not in UKR for x in ranking[: ranking.index(c)]) if c in ranking else 40
            for c in others
        )

    assert sunk(pushed) > sunk(plain)


def test_weights_matter(seeded: Engine) -> None:
    ukraine, nobel = "2025-11-20-c7", "2025-10-13-c9"  # economics Nobel
    toward_ukraine = seeded.recommend(liked=[(ukraine, 5.0), (nobel, 1.0)], k=1, diversity=0)
    toward_nobel = seeded.recommend(liked=[(ukraine, 1.0), (nobel, 5.0)], k=1, diversity=0)
    assert toward_ukraine[0].id in UKR
    assert toward_nobel[0].id == "2025-10-10-c2"  # the other Nobel cluster
    with pytest.raises(BadRequest):
        seeded.recommend(liked=[(ukraine, 0.0)])


def test_diversity_breaks_up_near_duplicates(seeded: Engine) -> None:
    base, _ = seeded.get("2025-11-20-c7")  # the Ukraine peace plan: a story of many days
    seeded.add([clone(base, f"2025-11-2{i}-c9") for i in range(1, 5)])
    liked = ["2025-11-20-c7"]
    plain = [r.id for r in seeded.recommend(liked=liked, k=5, diversity=0)]
    diverse = [r.id for r in seeded.recommend(liked=liked, k=5, diversity=0.7)]
    dupes = {f"2025-11-2{i}-c9" for i in range(1, 5)}
    assert len(dupes & set(plain)) == 4
    assert len(dupes & set(diverse)) < 4


def test_half_life_favours_recent(seeded: Engine) -> None:
    base, _ = seeded.get("2025-10-20-c1")
    old, new = (
        clone(base, "2025-01-01-c1", "2025-01-01"),
        clone(base, "2026-03-01-c1", "2026-03-01"),
    )
    new.summary += " "  # not byte-identical, still the same story
    seeded.add([old, new])
    ranked = [r.id for r in seeded.recommend(liked=["2025-10-20-c1"], k=3, diversity=0)]
    assert set(ranked[:2]) == {"2025-01-01-c1", "2026-03-01-c1"}  # equally similar without it
    fresh = seeded.recommend(liked=["2025-10-20-c1"], k=100, diversity=0, half_life_days=30)
    order = [r.id for r in fresh]
    assert order[0] == "2026-03-01-c1"
    assert order.index("2025-01-01-c1") > 0
    score = {r.id: r.score for r in fresh}
    assert score["2025-01-01-c1"] < 0.01 * score["2026-03-01-c1"]  # 14 months at a 30-day half-life


def test_no_likes_gives_widely_covered_fresh_diverse_stories(seeded: Engine) -> None:
    results = seeded.recommend(k=5)
    assert len(results) == 5 and len({r.id for r in results}) == 5
    coverage = sorted(
        (sum(seeded.get(c)[0].sources.values()) for c in seeded.store.cluster_ids()), reverse=True
    )
    assert sum(sum(r.sources.values()) for r in results) >= sum(coverage[5:10])


def test_thread_is_date_ordered_and_contains_the_cluster(seeded: Engine) -> None:
    thread = seeded.thread("2025-11-24-c2")
    dates = [s.date for s in thread]
    assert dates == sorted(dates)
    assert "2025-11-24-c2" in [s.id for s in thread]


def test_thread_with_the_real_model_stays_on_its_story(real_engine: Engine) -> None:
    thread = [s.id for s in real_engine.thread("2025-11-24-c2")]
    assert len(thread) >= 4
    assert set(thread) <= set(UKR)
    gaza = [s.id for s in real_engine.thread("2025-10-13-c1")]
    assert not set(gaza) & set(UKR)


def test_family_evaluation_with_the_real_model(real_engine: Engine) -> None:
    families = read_families(DATA / "families.tsv")
    report = evaluate_related(real_engine, families)
    assert report.metrics["p@1"] >= 0.9 and report.metrics["ndcg@10"] >= 0.9
    same = report.extra["same_story"]
    assert same["precision"] >= 0.8 and same["recall"] >= 0.4
    assert evaluate_recommend(real_engine, families)["recommend_hit@5"] >= 0.8


def test_cli_related_thread_recommend(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    cli(
        "index",
        str(DATA.parent.parent / "seeds"),
        "--index",
        str(index),
        "--model",
        "hashing",
        "-q",
    )
    related = json.loads(
        cli("related", "2025-11-20-c7", "--index", str(index), "--json", "-k", "3").stdout
    )
    assert len(related["results"]) == 3 and "same_story" in related["results"][0]
    thread = cli("thread", "2025-11-20-c7", "--index", str(index))
    assert thread.returncode == 0 and "* 2025-11-20" in thread.stdout
    rec = json.loads(
        cli(
            "recommend",
            "--liked",
            "2025-11-20-c7:2",
            "2025-10-13-c1",
            "--disliked",
            "2025-11-24-c2",
            "--index",
            str(index),
            "--json",
        ).stdout
    )
    assert not {r["id"] for r in rec["results"]} & {
        "2025-11-20-c7",
        "2025-10-13-c1",
        "2025-11-24-c2",
    }
    similar = cli("similar", "Louvre crown jewels stolen", "--index", str(index), "-k", "1")
    assert "2025-10-20-c1" in similar.stdout
    missing = cli("related", "nope", "--index", str(index))
    assert missing.returncode == 1 and "no cluster or article with id nope" in missing.stderr


def test_cli_eval_families_on_jsonl_documents(tmp_path: Path) -> None:
    docs = [
        {
            "id": "d1",
            "title": "Louvre jewels stolen in daylight heist",
            "text": "Thieves took crown jewels from the Louvre museum in Paris.",
            "story_id": "louvre",
        },
        {
            "id": "d2",
            "title": "Paris museum robbery: crown jewels taken",
            "text": "The Louvre heist lasted seven minutes; jewels were stolen.",
            "story_id": "louvre",
        },
        {
            "id": "d3",
            "title": "Bitcoin crashes after tariff threat",
            "text": "Crypto markets saw record liquidations as bitcoin fell.",
            "story_id": "btc",
        },
        {
            "id": "d4",
            "title": "Record crypto liquidations as bitcoin tumbles",
            "text": "Bitcoin fell sharply and leveraged traders were liquidated.",
            "story_id": "btc",
        },
        {
            "id": "d5",
            "title": "Earthquake in Afghanistan",
            "text": "A strong quake hit northern Afghanistan.",
            "story_id": "quake",
        },
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in docs))
    result = cli("eval", str(path), "--families", "story_id", "--model", "hashing", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"ndcg@10", "map", "p@1", "queries"} <= set(data)
    assert set(data["queries"]) == {"d1", "d2", "d3", "d4"}
    assert data["p@1"] == 1.0
    bad = cli("eval", str(path), "--families", "no_such_field", "--model", "hashing")
    assert bad.returncode == 1 and "no_such_field" in bad.stderr


def test_a_filter_applies_before_the_candidates_are_cut(seeded: Engine) -> None:
    """A filter matching no story gives no results (not an error); one matching a
    single day gives only that day's stories, however far down they rank unfiltered."""
    assert seeded.related("2025-11-20-c7", k=5, filters=Filters(date_from="2030-01-01")) == []
    # That day's one story is unrelated (under the related floor): no floor here.
    seeded.stories.similarity_params = replace(
        seeded.stories.similarity_params, related_floor=-1.0, related_standing=-100.0
    )
    day = Filters(date_from="2025-10-03", date_to="2025-10-03")
    got = seeded.related("2025-11-20-c7", k=5, filters=day)
    assert [r.id for r in got] == ["2025-10-03-c6"]


def test_an_undated_story_does_not_escape_freshness(seeded: Engine) -> None:
    """An undated test document once came third under a 30-day half-life, above every
    dated story the decay had pushed down; it now counts as the oldest."""
    from searchengine.core.contract import RecommendRequest

    liked = seeded.get("2025-11-20-c7")[0]
    twin = copy.deepcopy(liked)
    twin.id, twin.date, twin.number = "undated-twin", None, None
    twin.title = "Undated: " + twin.title
    for i, article in enumerate(twin.articles, 1):
        article.id = f"undated-twin-a{i}"
    seeded.add([twin])
    fresh = RecommendRequest(liked=("2025-11-20-c7",), k=40, diversity=0.0, half_life_days=30)
    flat = RecommendRequest(liked=("2025-11-20-c7",), k=40, diversity=0.0)
    flat_scores = {s.id: s.score for s in seeded.recommend(flat)}
    assert next(iter(flat_scores)) == "undated-twin"  # its text is the closest
    ranked = seeded.recommend(fresh)
    assert ranked[0].id != "undated-twin"
    with seeded.folder.reading():
        oldest, newest = seeded.store.date_range()
    age = (date.fromisoformat(newest) - date.fromisoformat(oldest)).days
    twin = next(s.score for s in ranked if s.id == "undated-twin")
    assert twin == pytest.approx(flat_scores["undated-twin"] * 0.5 ** (age / 30), abs=1e-3)


def test_same_story_is_judged_before_freshness(seeded: Engine) -> None:
    from searchengine.core.contract import RecommendRequest

    base = RecommendRequest(liked=("2025-11-20-c7",), k=10, diversity=0.0)
    decayed = RecommendRequest(liked=("2025-11-20-c7",), k=10, diversity=0.0, half_life_days=7)
    before = {s.id: s.same_story for s in seeded.recommend(base)}
    after = {s.id: s.same_story for s in seeded.recommend(decayed)}
    assert any(before.values())  # the UKR story has same-story neighbours
    assert all(after[cid] == before[cid] for cid in after.keys() & before.keys())


def test_recommend_notes_say_how_it_ranked(seeded: Engine) -> None:
    from searchengine.core.contract import RecommendRequest

    cold = seeded.answer(RecommendRequest(k=5))
    assert any("how widely" in n for n in cold.notes)
    decayed = seeded.answer(RecommendRequest(liked=("2025-11-20-c7",), k=10, half_life_days=30))
    assert any("freshness" in n and "undated" in n for n in decayed.notes)
    scores = [s.score for s in decayed.results]
    if scores != sorted(scores, reverse=True):
        assert any("diversity" in n for n in decayed.notes)


def test_recommend_on_an_empty_index_is_an_empty_list_not_an_error(
    engine: Engine, index_dir: Path
) -> None:
    """`recommend` on an index with nothing in it answered HTTP 500 (the CLI: `max()
    arg is an empty sequence`). It is an empty list, with a note over HTTP."""
    from fastapi.testclient import TestClient

    from searchengine.http.app import ApiSettings, create_app

    assert engine.stats()["clusters"] == 0
    assert engine.recommend() == []
    assert engine.recommend(half_life_days=7.0) == []
    app = create_app(ApiSettings(index=index_dir), engine=engine)
    with TestClient(app) as client:
        r = client.post("/recommend", json={})
        assert r.status_code == 200, r.text
        assert r.json()["results"] == []
        r = client.post("/recommend", json={"half_life_days": 7})
        assert r.status_code == 200 and r.json()["results"] == []
