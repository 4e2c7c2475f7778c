"""The request contract: one validation for every edge, one error table per edge,
one response envelope; candidate depth that grows with k; embeddings reused across
the whole index; two engines on one folder see each other's writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from searchengine import (
    BadRequest,
    Engine,
    Filters,
    Kind,
    Mode,
    RecommendRequest,
    SearchEngineError,
    SearchRequest,
    Sentiment,
    Strategy,
)
from searchengine.core.contract import MAX_K, Liked, RelatedRequest, SimilarRequest, ThreadRequest
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.digest import parse_digest

from .conftest import SEEDS, seed_text


def all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | all_subclasses(sub)
    return out


def test_every_engine_error_carries_its_exit_code_and_status() -> None:
    """One hierarchy: each error class says its HTTP status, code and exit code (there
    were three hierarchies and two tables to keep in step)."""
    errors = all_subclasses(SearchEngineError)
    assert len(errors) >= 12
    for cls in errors:
        err = cls("x") if cls.__name__ != "ParseError" else cls("f", 1, "x")
        assert err.exit_code == (3 if cls.__name__ == "PortTaken" else 1), cls
        assert 400 <= err.status < 600 and err.status != 500, cls
        assert err.code and err.code != "internal_error", cls


@pytest.mark.parametrize(
    "make",
    [
        lambda: SearchRequest("   "),
        lambda: SearchRequest("x" * 1001),
        lambda: SearchRequest("x", k=0),
        lambda: SearchRequest("x", k=MAX_K + 1),
        lambda: SearchRequest("x", k=True),  # type: ignore[arg-type]
        lambda: SearchRequest("x", mode="psychic"),  # type: ignore[arg-type]
        lambda: SearchRequest("x", kind="people"),  # type: ignore[arg-type]
        lambda: Filters.build(date_from="the day before"),
        lambda: Filters.build(sentiment="angry"),
        lambda: RelatedRequest("x", k=0),
        lambda: SimilarRequest(""),
        lambda: ThreadRequest("x", limit=0),
        lambda: RecommendRequest(diversity=1.5),
        lambda: RecommendRequest(half_life_days=0),
        lambda: RecommendRequest(strategy="loudest"),  # type: ignore[arg-type]
        lambda: RecommendRequest(liked=("a:-1",)),
    ],
)
def test_bad_requests_are_refused_once_in_the_core(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadRequest):
        make()


def test_requests_convert_what_users_type() -> None:
    req = SearchRequest("  Maduro ", k=5, mode="DENSE", kind="articles")  # type: ignore[arg-type]
    assert (req.query, req.mode, req.kind) == ("Maduro", Mode.DENSE, Kind.ARTICLES)
    f = Filters.build("09-01-2026", "2026-01-31", ["BBC.com", ""], [" Nicolás Maduro "], "Positive")
    assert f == Filters(
        "2026-01-09", "2026-01-31", ("bbc.com",), ("Nicolás Maduro",), Sentiment.POSITIVE
    )
    assert not Filters.build(None, "", [], None, None)
    rec = RecommendRequest(liked=("a:2", "b", ("c", 0.5)), strategy="average")  # type: ignore[arg-type]
    assert rec.liked == (Liked("a", 2.0), Liked("b"), Liked("c", 0.5))
    assert rec.strategy is Strategy.AVERAGE
    assert Liked.parse("2025-11-20-c7:abc") == Liked("2025-11-20-c7:abc")


def test_one_response_envelope(seeded: Engine) -> None:
    response = seeded.answer(SearchRequest("Venezuela prisoners", k=2))
    data = response.to_dict()
    assert set(data) == {"request", "results"}
    assert data["request"]["query"] == "Venezuela prisoners" and data["request"]["mode"] == "hybrid"
    assert data["results"][0]["id"] == "2026-01-09-c10" and data["results"][0]["passages"]
    cold = seeded.answer(RecommendRequest(k=3)).to_dict()
    assert len(cold["results"]) == 3 and "covered" in cold["notes"][0]


@pytest.mark.parametrize("mode", list(Mode))
def test_k_beyond_the_default_depth_returns_every_match(seeded: Engine, mode: Mode) -> None:
    """FAISS used to get 200 candidates whatever k was: k=1000 gave 39 of 41 clusters."""
    hits = seeded.search("talks", k=1000, mode=mode)
    ids = [h.id for h in hits]
    assert len(ids) == len(set(ids))
    if mode is Mode.LEXICAL:
        with seeded.folder.reading():
            matching = {
                seeded.store.passages([pid])[pid].cluster_id
                for pid, _ in seeded.store.full_text('"talks"', 100_000, Filters())
            }
        assert set(ids) == matching
    else:
        assert len(hits) == 41
    articles = seeded.search("talks", k=1000, mode=mode, kind=Kind.ARTICLES)
    if mode is not Mode.LEXICAL:
        assert len(articles) == 144


def test_related_returns_as_many_as_asked_when_they_exist(seeded: Engine) -> None:
    # "Exist": above the related floor. With no floor, 40 of the 40 others come back
    # (the candidate step looks as deep as the list asked for).
    floored = seeded.related("2025-11-20-c7", k=40)
    assert 0 < len(floored) < 40
    seeded.stories.similarity_params = replace(
        seeded.stories.similarity_params, related_floor=-1.0, related_standing=-100.0
    )
    assert len(seeded.related("2025-11-20-c7", k=40)) == 40
    assert len(seeded.recommend(liked=["2025-11-20-c7"], k=30, diversity=0.0)) >= 30


def test_embeddings_are_reused_across_the_whole_index(engine: Engine) -> None:
    first = parse_digest(seed_text("000_04a9b59b936e3d08.txt"), "seed").clusters[0]
    engine.add([first])
    copy = parse_digest(seed_text("000_04a9b59b936e3d08.txt"), "seed").clusters[0]
    copy.id = "2026-01-10-c1"
    for i, article in enumerate(copy.articles, 1):
        article.id = f"{copy.id}-a{i}"
    report = engine.add([copy])
    # Same texts under another cluster id: nothing is encoded again.
    assert report.added == [copy.id] and report.passages_encoded == 0
    assert report.passages_reused == engine.stats()["passages"] // 2


def test_two_engines_on_one_folder_see_each_other(seeded: Engine, index_dir: Path) -> None:
    other = Engine.open(index_dir, encoder=HashingEncoder(128))
    try:
        before = other.stats()
        extra = parse_digest(seed_text("000_04a9b59b936e3d08.txt"), "seed").clusters[0]
        extra.id = "2026-01-11-c3"
        extra.summary = "Zanzibar lighthouse keepers elect a new guild master."
        for i, article in enumerate(extra.articles, 1):
            article.id = f"{extra.id}-a{i}"
        seeded.add([extra])
        for mode in Mode:
            assert other.search("Zanzibar lighthouse guild", k=3, mode=mode)[0].id == extra.id
        after = other.stats()
        assert after["passages"] == after["vectors"] == seeded.stats()["vectors"]
        assert after["generation"] == before["generation"] + 1
        other.remove([extra.id])
        assert extra.id not in [h.id for h in seeded.search("Zanzibar lighthouse guild", k=5)]
        assert seeded.stats()["vectors"] == before["vectors"]
    finally:
        other.close()


def test_engine_reads_from_many_threads(seeded: Engine) -> None:
    """Each thread has its own connection; none of them is shared outside a lock."""
    import threading

    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert seeded.search("Louvre jewels", k=3)[0].id == "2025-10-20-c1"
                stats = seeded.stats()
                assert stats["passages"] == stats["vectors"]
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    extra = parse_digest(seed_text("2025-10-03_c6.txt"), "x").clusters[0]
    for n in range(5):
        extra.id = f"2025-10-03-c{50 + n}"
        for i, article in enumerate(extra.articles, 1):
            article.id = f"{extra.id}-a{i}"
        seeded.add([extra])
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert SEEDS.exists()
