"""The digest parser: every quirk of the real files, clear errors for broken clusters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchengine.core.documents import Field, chunk_text, fold, passages_of
from searchengine.errors import ParseError
from searchengine.ingest.digest import parse_digest, split_publisher
from searchengine.ingest.parse import parse_jsonl, parse_text, read_file

from .conftest import SEEDS, seed_text

DIGESTS = sorted(SEEDS.glob("*.txt"))


@pytest.mark.parametrize("path", DIGESTS, ids=lambda p: p.name)
def test_every_seed_file_parses_to_its_counts(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    result = read_file(path)
    assert result.errors == []
    lines = text.splitlines()
    # Counted independently of the parser, from the raw lines.
    assert len(result.clusters) == sum(1 for ln in lines if ln.startswith("Date:"))
    assert sum(len(c.key_points) for c in result.clusters) == sum(
        1 for ln in lines if ln.startswith("  \u2022")
    )
    assert sum(len(c.articles) for c in result.clusters) == sum(
        int(n) for ln in lines if ln.startswith("Sources:") for n in re.findall(r": (\d+)", ln)
    )
    with_entities = sum(1 for c in result.clusters for a in c.articles if a.entities)
    assert with_entities == sum(1 for ln in lines if ln.startswith("Entities:"))
    for cluster in result.clusters:
        assert cluster.title and cluster.summary and cluster.date
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-c\d+", cluster.id)
        for i, article in enumerate(cluster.articles, 1):
            assert article.id == f"{cluster.id}-a{i}"
            assert article.title and article.summary


def test_the_dev_corpus_has_40_clusters_and_the_seed_makes_41() -> None:
    ids = [c.id for p in DIGESTS for c in read_file(p).clusters]
    assert len(ids) == len(set(ids)) == 41
    assert "2026-01-09-c10" in ids


def test_seed_cluster_fields() -> None:
    (cluster,) = parse_digest(seed_text("000_04a9b59b936e3d08.txt"), "seed.txt").clusters
    assert cluster.id == "2026-01-09-c10"
    assert cluster.date == "2026-01-09"  # day first: 09-01-2026 is 9 January
    assert cluster.title == "Venezuela Releases Political Prisoners in Goodwill Gesture"
    assert cluster.sources == {"bbc.com": 1, "news.sky.com": 1, "theguardian.com": 1}
    assert cluster.number == 10
    assert cluster.image_prompt and cluster.image_prompt.startswith("Released Venezuelan")
    assert len(cluster.key_points) == 5
    assert cluster.key_points[1].endswith("such as Rocío San Miguel.")
    first, second, third = cluster.articles
    assert first.entities == [
        "Venezuela",
        "Nicolás Maduro",
        "Rocío San Miguel",
        "Jorge Rodríguez",
        "Delcy Rodríguez",
    ]
    assert (first.tone, first.sentiment, first.intent) == ("neutral", "positive", "inform")
    assert second.title.startswith("Political prisoners are being freed")
    assert (second.section, second.publisher) == ("US News", "Sky News")
    assert third.publisher == "The Guardian"
    assert cluster.origin == "seed.txt:3"


def test_crlf_file_parses_like_lf() -> None:
    raw = (SEEDS / "2025-12-17_c2.txt").read_bytes()
    assert b"\r\n" in raw
    crlf = parse_digest(raw.decode(), "crlf").clusters[0]
    lf = parse_digest(raw.decode().replace("\r\n", "\n"), "lf").clusters[0]
    assert crlf.to_dict() | {"origin": None} == lf.to_dict() | {"origin": None}
    assert not any("\r" in a.summary for a in crlf.articles)


def test_multi_cluster_file_gets_ids_from_each_cluster() -> None:
    clusters = parse_digest(seed_text("multi_2025-11-20.txt"), "multi").clusters
    assert [c.id for c in clusters] == ["2025-11-20-c3", "2025-11-20-c7"]
    assert clusters[1].origin == "multi:45"
    assert [len(c.articles) for c in clusters] == [4, 3]


def test_missing_entities_line_and_trailing_comma() -> None:
    (cluster,) = parse_digest(seed_text("2026-01-15_c2.txt")).clusters
    assert cluster.articles[1].entities == [] and cluster.articles[1].sentiment is None
    assert cluster.articles[2].entities
    (cluster,) = parse_digest(seed_text("2026-01-24_c6.txt")).clusters
    assert cluster.articles[4].entities[-1] == "Abu Dhabi"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Title | Section | The Guardian", ("Title", "Section", "The Guardian")),
        ("A deal - The New York Times", ("A deal", None, "The New York Times")),
        ("Europe blindsided – POLITICO", ("Europe blindsided", None, "POLITICO")),
        ("Mokyr shares Nobel : NPR", ("Mokyr shares Nobel", None, "NPR")),
        (
            "Talks in Geneva: What we know – DW – 11/24/2025",
            ("Talks in Geneva: What we know", None, "DW"),
        ),
        (
            "Liverpool 1-4 PSV Eindhoven: Arne Slot's side humbled",
            ("Liverpool 1-4 PSV Eindhoven: Arne Slot's side humbled", None, None),
        ),
        (
            "Markets give Reeves the benefit of the doubt — for now",
            ("Markets give Reeves the benefit of the doubt — for now", None, None),
        ),
    ],
)
def test_publisher_suffixes(raw: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_publisher(raw) == expected


def test_folded_entity_keys() -> None:
    assert fold("Nicolás  Maduro") == fold("nicolas maduro") == "nicolas maduro"
    assert fold("Rocío") == "rocio"


SEED = seed_text("000_04a9b59b936e3d08.txt")
TWO = SEED + "\n\n" + SEED.split("\n", 2)[2].replace("cluster 10", "cluster 11")


def test_bad_cluster_costs_only_itself_and_names_its_line() -> None:
    broken = TWO.replace("Date: 09-01-2026", "Date: 31-02-2026", 1)
    result = parse_digest(broken, "digest.txt")
    assert [c.id for c in result.clusters] == ["2026-01-09-c11"]
    (err,) = result.errors
    assert (err.source, err.line) == ("digest.txt", 5)
    assert "bad date" in err.reason and "digest.txt:5" in str(err)


def test_cluster_without_summary_is_an_error() -> None:
    broken = SEED.replace("Summary\n", "Summery\n")
    (err,) = parse_digest(broken, "x.txt").errors
    assert "summary" in err.reason


def test_cluster_without_title_is_an_error() -> None:
    broken = "09-01-2026\n\nDate: 09-01-2026\nSummary\n\nText."
    (err,) = parse_digest(broken, "x.txt").errors
    assert "no title" in err.reason and err.line == 3


def test_text_without_clusters_is_an_error() -> None:
    (err,) = parse_digest("just some words\n", "notes.txt").errors
    assert "no cluster" in err.reason


def test_cluster_without_number_gets_a_content_hash_id() -> None:
    text = SEED.replace("Image for cluster 10\n", "")
    (cluster,) = parse_digest(text).clusters
    assert re.fullmatch(r"2026-01-09-[0-9a-f]{8}", cluster.id)
    assert parse_digest(text).clusters[0].id == cluster.id  # stable


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_parse_error_only(text: str) -> None:
    result = parse_text(text, "fuzz")
    for err in result.errors:
        assert isinstance(err, ParseError)


LINES = st.sampled_from(
    SEED.splitlines()
    + [
        "Date: 99-99-9999",
        "Date:",
        "Summary",
        "Key Points",
        "  • x",
        "Articles in this Cluster",
        "Entities:Tone:",
        "Image for cluster x",
        "",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(LINES, max_size=60))
def test_shuffled_digest_lines_parse_or_raise_parse_error_only(lines: list[str]) -> None:
    result = parse_digest("\n".join(lines), "fuzz")
    for err in result.errors:
        assert isinstance(err, ParseError)
    for cluster in result.clusters:
        assert cluster.title and cluster.summary


def test_jsonl_clusters_and_generic_documents() -> None:
    cluster = parse_digest(SEED).clusters[0].to_dict()
    lines = [
        json.dumps(cluster),
        json.dumps(
            {
                "id": "doc-1",
                "title": "A title",
                "text": "Body text.",
                "date": "2026-01-02",
                "source": "example.com",
                "story_id": "s1",
            }
        ),
        "{not json",
        json.dumps({"title": "no id"}),
        json.dumps({"_id": "4983", "title": "BEIR", "text": "abstract", "metadata": {}}),
    ]
    result = parse_jsonl("\n".join(lines), "in.jsonl")
    assert [c.id for c in result.clusters] == ["2026-01-09-c10", "doc-1", "4983"]
    assert result.clusters[0].articles[0].entities[1] == "Nicolás Maduro"
    doc = result.clusters[1]
    assert (doc.title, doc.summary, doc.date, doc.sources) == (
        "A title",
        "Body text.",
        "2026-01-02",
        {"example.com": 1},
    )
    assert doc.extra == {"story_id": "s1"}
    assert [(e.line, "JSON" in e.reason or "id" in e.reason) for e in result.errors] == [
        (3, True),
        (4, True),
    ]


def test_passages_of_a_cluster() -> None:
    cluster = parse_digest(SEED).clusters[0]
    passages = passages_of(cluster)
    fields = [p.field for p in passages]
    assert fields == [Field.SUMMARY] + [Field.KEY_POINT] * 5 + [Field.ARTICLE] * 3
    assert passages[1].text == cluster.key_points[0]
    assert passages[1].embed_text.startswith(cluster.title)
    assert passages[-1].article_id == "2026-01-09-c10-a3"


def test_long_text_is_chunked_without_losing_words() -> None:
    sentence = "The quick brown fox jumps over the lazy dog number {}."
    text = " ".join(sentence.format(i) for i in range(100))
    chunks = chunk_text(text, max_chars=300)
    assert len(chunks) > 1
    assert all(len(c) <= 300 for c in chunks)
    for i in range(100):
        assert any(f"number {i}." in c for c in chunks)
    assert chunk_text("short text") == ["short text"]
    run_on = "word " * 500  # one sentence longer than a window is cut at word boundaries
    assert all(len(c) <= 300 for c in chunk_text(run_on, max_chars=300))
    assert sum(c.count("word") for c in chunk_text(run_on, max_chars=300)) >= 500


def test_long_articles_are_split_and_keep_their_title() -> None:
    cluster = parse_digest(SEED).clusters[0]
    cluster.articles[0].summary = " ".join(["A sentence about the prison releases."] * 80)
    passages = [p for p in passages_of(cluster) if p.article_id == cluster.articles[0].id]
    assert len(passages) >= 3
    assert all(
        p.text.startswith(cluster.articles[0].title) and len(p.text) <= 1000 for p in passages
    )
