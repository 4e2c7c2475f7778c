"""The filter rule agrees with itself: the embedded store's SQL, the Milvus expression and
the Python predicate alerts use let the same clusters through, on both backends, for
random clusters (mixed-case sentiments and hosts, accented entities, undated clusters,
clusters without articles) and random filters. Before `filters.py` the rule was written
three times and the copies disagreed on a JSON record's "Positive"."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchengine import Engine
from searchengine.core.contract import Filters, SearchRequest, Sentiment
from searchengine.core.filters import ClusterFacts, matches

HOSTS = ["bbc.com", "BBC.com", "www.Reuters.com", "apnews.com", "news.sky.com"]
ENTITIES = ["Nicolás Maduro", "Venezuela", "ROCÍO SAN MIGUEL", "Kyiv", "European Union"]
SENTIMENTS = ["positive", "Positive", "NEGATIVE", " neutral ", "mixed", None]
DATES = ["2026-01-05", "2026-01-09", "2026-02-01", "2026-03-15", None]


def random_records(n: int, seed: int = 7) -> list[dict[str, object]]:
    """Full cluster records as an upstream JSON writer might send them (no case rules)."""
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        articles = [
            {
                "title": f"Report {j} on harbour works in town {i}",
                "summary": f"Harbour works continue in town {i}; outlet {j} reports.",
                "entities": rng.sample(ENTITIES, rng.randint(0, 3)),
                "sentiment": rng.choice(SENTIMENTS),
            }
            for j in range(rng.choice([0, 1, 2, 3]))
        ]
        record: dict[str, object] = {
            "id": f"f-{i}",
            "title": f"Harbour works in town {i}",
            "summary": f"Town {i} rebuilds its harbour.",
            "sources": {h: 1 for h in rng.sample(HOSTS, rng.randint(0, 3))},
            "articles": articles,
        }
        if (day := rng.choice(DATES)) is not None:
            record["date"] = day
        out.append(record)
    return out


def indexed(engine: Engine, tmp_path: Path, records: list[dict[str, object]]) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = engine.add_paths([path])
    assert not run.errors and len(run.report.added) == len(records), run


@st.composite
def filters_st(draw: st.DrawFn) -> Filters:
    """Filters as a user types them (`Filters.build`): mixed case, stray spaces."""
    days = draw(
        st.lists(st.sampled_from([None, *sorted(d for d in DATES if d)]), min_size=2, max_size=2)
    )
    start, end = days if None in days else sorted(days)
    return Filters.build(
        date_from=start,
        date_to=end,
        sources=draw(st.lists(st.sampled_from([*HOSTS, "BBC.COM ", "nowhere.org"]), max_size=2)),
        entities=draw(
            st.lists(st.sampled_from([*ENTITIES, "nicolas maduro", "Atlantis"]), max_size=2)
        ),
        sentiment=draw(st.sampled_from([None, "positive", "NEGATIVE", "Neutral", "mixed"])),
        articles_only=draw(st.booleans()),
    )


def test_the_store_and_the_alert_predicate_let_the_same_clusters_through(
    engine: Engine, tmp_path: Path
) -> None:
    records = random_records(40)
    indexed(engine, tmp_path, records)
    stored = engine.store.get_clusters([str(r["id"]) for r in records])
    facts = {cid: ClusterFacts.of(c) for cid, c in stored.items()}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(filters_st())
    def agree(filters: Filters) -> None:
        by_rule = {cid for cid, f in facts.items() if matches(filters, f)}
        by_store = set(engine.store.allowed_cluster_ids(filters))
        assert by_store == by_rule, filters

    agree()


def test_a_json_records_sentiment_is_found_whatever_its_case(
    engine: Engine, tmp_path: Path
) -> None:
    """A record's `"sentiment": "Positive"` was stored as written: `sentiment=positive`
    found nothing on the embedded index while the facets offered `Positive: 1`."""
    record = {
        "id": "case-1",
        "date": "2026-01-09",
        "title": "Quokkaville opens its new harbour",
        "summary": "The harbour of Quokkaville opens after three years of works.",
        "sources": {"Example.COM": 1},
        "articles": [
            {"title": "Harbour opens", "summary": "Quokkaville's harbour opens.", "sentiment": s}
            for s in ("Positive", "POSITIVE", "Negative")
        ],
    }
    indexed(engine, tmp_path, [record])
    for wanted in ("positive", "Positive"):
        hits = engine.search("Quokkaville harbour", k=5, filters=Filters.build(sentiment=wanted))
        assert [h.id for h in hits] == ["case-1"], wanted
    articles = engine.search(
        "Quokkaville harbour",
        k=5,
        kind="articles",
        filters=Filters.build(sentiment="negative"),
    )
    assert [h.id for h in articles] == ["case-1-a3"]
    assert engine.search("Quokkaville", k=5, filters=Filters.build(sources=["example.com"]))
    facets = engine.queries.facets(SearchRequest("Quokkaville harbour"))
    assert [f["value"] for f in facets["facets"]["sentiment"]] == [Sentiment.POSITIVE.value]
