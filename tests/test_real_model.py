"""End to end with the real bundled all-MiniLM-L6-v2 (loaded once for the session)."""

from __future__ import annotations

import pytest

from searchengine import Engine, Filters
from searchengine.encoder import DEFAULT_MODEL

from .conftest import DATA

pytestmark = pytest.mark.slow


def test_the_model_is_the_bundled_one_and_offline(real_engine: Engine) -> None:
    assert real_engine.model_name == DEFAULT_MODEL and real_engine.stats()["dimension"] == 384


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_the_seed_query_ranks_the_seed_cluster_first(real_engine: Engine, mode: str) -> None:
    hits = real_engine.search("Venezuela prisoner releases", k=5, mode=mode)
    assert hits[0].id == "2026-01-09-c10"


def test_a_paraphrase_with_no_shared_words_finds_its_story(real_engine: Engine) -> None:
    hits = real_engine.search("thieves made off with royal jewels from a Paris museum", k=3)
    assert hits[0].id == "2025-10-20-c1"


def test_question_about_freed_foreigners(real_engine: Engine) -> None:
    hits = real_engine.search(
        "which countries freed jailed foreigners in January?",
        k=5,
        filters=Filters(date_from="2026-01-01", date_to="2026-01-31"),
    )
    assert "2026-01-09-c10" in [h.id for h in hits[:3]]


def test_hybrid_beats_a_floor_on_the_dev_queries(real_engine: Engine) -> None:
    from searchengine.evaluate import evaluate_engine, read_qrels, read_queries

    report = evaluate_engine(
        real_engine, read_queries(DATA / "queries.tsv"), read_qrels(DATA / "qrels.txt")
    )
    assert report.metrics["ndcg@10"] > 0.9


def test_query_vectors_are_cached(real_engine: Engine) -> None:
    real_engine.search("a query asked twice")
    cache = real_engine.model.cache
    assert cache is not None
    hits_before = cache.hits
    real_engine.search("a query asked twice")
    assert cache.hits == hits_before + 1
