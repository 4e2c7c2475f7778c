"""The filter rule agrees with itself: the embedded store's SQL, the Milvus expression and
the Python predicate alerts use let the same clusters through, on both backends, for
random clusters (mixed-case sentiments and hosts, accented entities, undated clusters,
clusters without articles) and random filters. Before `filters.py` the rule was written
three times and the copies disagreed on a JSON record's "Positive"."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchengine import Engine
from searchengine.core.contract import Filters, SearchRequest, Sentiment
from searchengine.core.filters import ClusterFacts, matches
from searchengine.core.query_syntax import asks_no_word, parse_query
from searchengine.errors import UnknownId

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


# --- forgiving filters, honest empties (issue: a newcomer never trips) -------------


def _ids(engine: Engine, **filters: object) -> set[str]:
    request = SearchRequest("prisoners released", k=50, filters=Filters.build(**filters))  # type: ignore[arg-type]
    return {h.cluster_id for h in engine.answer(request).results}


def test_an_outlet_is_found_however_it_is_written(seeded: Engine) -> None:
    """`--source www.bbc.com`, `https://BBC.com/news` and `bbc.com` were three filters
    (two found nothing); an outlet is its registered domain (`news.sky.com` is sky.com)."""
    plain = _ids(seeded, sources=["bbc.com"])
    assert plain
    for spelling in ("www.bbc.com", "https://BBC.com/news", " BBC.COM ", "bbc.com:443"):
        assert _ids(seeded, sources=[spelling]) == plain, spelling
    assert _ids(seeded, sources=["sky.com"]) == _ids(seeded, sources=["news.sky.com"]) != set()


def test_a_bare_outlet_name_means_the_outlets_it_names(seeded: Engine) -> None:
    """`--source bbc` found nothing: the index knows bbc.com."""
    assert _ids(seeded, sources=["bbc"]) == _ids(seeded, sources=["bbc.com"]) != set()
    asked = seeded.answer(SearchRequest("prisoners", filters=Filters.build(sources=["BBC"])))
    assert asked.request.filters.sources == ("bbc.com",)  # type: ignore[union-attr]


def test_an_answer_a_filter_emptied_says_which_filter_and_what_is_near(seeded: Engine) -> None:
    def notes(**filters: object) -> str:
        request = SearchRequest("prisoners", filters=Filters.build(**filters))  # type: ignore[arg-type]
        response = seeded.answer(request)
        assert response.results == []
        return " ".join(response.notes)

    said = notes(sources=["bbcc.com"])
    assert "source filter (bbcc.com) matches no story" in said and "'bbc.com'" in said
    said = notes(date_from="2030-01-01")
    assert "dates filter (2030-01-01) matches no story" in said and "2025-" in said
    said = notes(entities=["Maduro"])
    assert "entity filter 'Maduro' matches no story" in said
    assert "did you mean 'Nicolás Maduro'" in said or "did you mean 'Nicolas Maduro'" in said
    # Each filter matches alone, never together: said so, not "no results".
    said = notes(sources=["bloomberg.com"], date_from="2026-03-10", date_to="2026-03-10")
    assert "no story passes all of them together" in said
    # A filter that matches: no note about filters.
    found = seeded.answer(SearchRequest("prisoners", filters=Filters.build(sources=["bbc.com"])))
    assert found.results and not any("filter" in n for n in found.notes)


def test_the_entity_page_finds_a_name_from_part_of_it(seeded: Engine) -> None:
    """`entity "Maduro"` said no story names Maduro though "Nicolás Maduro" has a page."""
    page = seeded.news.entity("Maduro")
    assert page["entity"] in ("Nicolás Maduro", "Nicolas Maduro")
    assert page["asked"] == "Maduro" and page["stories_total"] >= 1
    assert seeded.news.entity("madur")["key"] == "nicolas maduro"  # the start of a word
    assert "asked" not in seeded.news.entity("nicolas maduro")  # found as written
    with pytest.raises(UnknownId, match="no story names 'Atlantis'"):
        seeded.news.entity("Atlantis")


def _text_of(engine: Engine, cluster_id: str) -> str:
    from searchengine.core.documents import cluster_texts, fold

    cluster = engine.store.get_cluster(cluster_id)
    assert cluster is not None
    return fold(" ".join(cluster_texts(cluster)))


def test_quoted_phrases_and_exclusions_are_honoured(seeded: Engine) -> None:
    """`'"peace plan" -Gaza'` and `Gaza NOT ceasefire` ranked Gaza and ceasefire
    stories first: the operators were words to the encoder, and nothing checked them."""
    plain = seeded.search("peace plan", k=20)
    assert any("gaza" in _text_of(seeded, h.cluster_id) for h in plain)  # (so it can fail)
    hits = seeded.search('"peace plan" -Gaza', k=20)
    assert hits
    for hit in hits:
        text = _text_of(seeded, hit.cluster_id)
        assert "peace plan" in text and "gaza" not in text, hit.title
    assert any("ceasefire" in _text_of(seeded, h.cluster_id) for h in seeded.search("Gaza", k=10))
    hits = seeded.search("Gaza NOT ceasefire", k=10)
    assert hits and not any("ceasefire" in _text_of(seeded, h.cluster_id) for h in hits)
    assert all(not h.passages or "NOT" not in h.passages[0].text for h in hits)


def test_or_joins_quoted_alternatives(seeded: Engine) -> None:
    hits = seeded.search('"prisoner exchange" OR "prisoner swap" OR "swap prisoners"', k=10)
    assert hits
    for hit in hits:
        text = _text_of(seeded, hit.cluster_id)
        assert any(p in text for p in ("prisoner exchange", "prisoner swap", "swap prisoners"))


def test_a_query_of_only_exclusions_says_what_to_add(seeded: Engine) -> None:
    """Schema-valid (`q=NOT`, `q=-Gaza`): an empty answer that says why, not a 400."""
    for query in ("-Gaza NOT Ukraine", "NOT", '"'):
        response = seeded.answer(SearchRequest(query))
        assert response.results == [] and "only excludes words" in response.notes[0], query


def test_a_date_range_backwards_is_an_empty_answer_that_says_so(seeded: Engine) -> None:
    """A schema-valid pair (from after to) was a 400; no day is in it, and the note says so."""
    request = SearchRequest("prisoners", filters=Filters.build("2026-02-01", "2026-01-01"))
    response = seeded.answer(request)
    assert response.results == []
    assert response.notes == ["from (2026-02-01) is after to (2026-01-01): no day is both"]


def test_a_phrase_no_story_has_falls_back_to_its_words_and_says_so(seeded: Engine) -> None:
    """A headline with scare quotes (NeuS: `Trump Calls Probe a "Witch Hunt"`) asked as a
    query found nothing at all once quoted phrases had to appear."""
    response = seeded.answer(SearchRequest("Venezuela releases “zebra crossing” prisoners"))
    assert response.results and response.results[0].cluster_id == "2026-01-09-c10"
    assert any('no story has "zebra crossing" as written' in n for n in response.notes)
    plain = seeded.answer(SearchRequest("Venezuela releases prisoners"))
    assert not any("as written" in n for n in plain.notes)


_QUERY_PARTS = st.sampled_from(
    ["NOT", "OR", "-Gaza", '-"peace plan"', '"', '"°^"', '"°^', "gaza", "-5", "-", "“a b”",
     "°", "-“”", "²", "_", "-_a", "é", "-é", "”", "-²", "--\"", 'a"b', "NOT\"x\"", "①"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.one_of(_QUERY_PARTS, st.text(max_size=4)), min_size=1, max_size=6),
    st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=6, max_size=6),
)
def test_the_schema_s_no_word_rule_is_the_parser_s(parts: list[str], gaps: list[str]) -> None:
    """A saved search refuses a query that asks for no word; the API schema states the
    rule as a pattern (`NO_WORD_PATTERN`, its `not`), so the two must agree on every
    query: a fuzzer found `"°^` (a lone quote) schema-valid and refused."""
    query = "".join(p + g for p, g in zip(parts, gaps, strict=False))
    assert asks_no_word(query) == (not parse_query(query).text), query
