"""One bad record costs only itself: each input that once aborted a whole run,
glued clusters together or froze the parser, as a regression test."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from searchengine import Engine
from searchengine.core.documents import passages_of
from searchengine.errors import ParseError
from searchengine.ingest.digest import parse_digest
from searchengine.ingest.parse import parse_jsonl, parse_text, read_file
from searchengine.ingest.validate import InputLimits, check_id

from .conftest import seed_text

SEED = seed_text("000_04a9b59b936e3d08.txt")
BODY = SEED.split("\n", 2)[2]  # the seed cluster without its digest date line


def two_clusters(first: str = BODY, second: str | None = None) -> str:
    """A digest of two clusters: `first`, and the seed again as cluster 11."""
    second = second if second is not None else BODY.replace("cluster 10", "cluster 11")
    return f"09-01-2026\n\n{first}\n\n{second}"


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- digest text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, reason",
    [
        ("theguardian.com: 1", "theguardian.com: ²", "bad source count"),
        ("theguardian.com: 1", "theguardian.com: 1e20", "bad source count"),
        ("Image for cluster 10", "Image for cluster ³", "bad cluster number"),
        ("Image for cluster 10", "Image for cluster " + "9" * 5000, "bad cluster number"),
    ],
)
def test_a_bad_header_value_costs_only_its_cluster(old: str, new: str, reason: str) -> None:
    text = two_clusters(BODY.replace(old, new))
    result = parse_digest(text, "d.txt")
    assert [c.id for c in result.clusters] == ["2026-01-09-c11"]
    (err,) = result.errors
    assert reason in err.reason and err.line == line_of(text, new)


def test_a_cluster_with_no_title_is_reported_and_not_glued_to_its_neighbour() -> None:
    untitled = BODY.split("\n", 2)[2]  # the title line and the blank under it gone
    text = two_clusters(second=untitled.replace("cluster 10", "cluster 11"))
    result = parse_digest(text, "d.txt")
    (first,) = result.clusters
    # The previous cluster keeps its last article's entities...
    assert first.articles[-1].entities and first.title.startswith("Venezuela Releases")
    # ...and the untitled one is an error at its Date line, not a cluster titled "Entities: ...".
    (err,) = result.errors
    assert "no title" in err.reason
    assert err.line == text.count("\n", 0, text.rindex("Date: 09-01-2026")) + 1


def test_two_date_lines_in_one_cluster_are_an_error() -> None:
    text = two_clusters(BODY.replace("Date: 09-01-2026", "Date: 09-01-2026\nDate: 10-01-2026"))
    result = parse_digest(text, "d.txt")
    assert [c.id for c in result.clusters] == ["2026-01-09-c11"]
    (err,) = result.errors
    assert "second 'Date:'" in err.reason and err.line == line_of(text, "Date: 10-01-2026")


def test_an_article_without_summary_is_an_error() -> None:
    title = "Venezuelan government begins releasing political prisoners"
    broken = BODY[: BODY.index(title)] + title + "\nEntities: Venezuela\n"
    result = parse_digest(two_clusters(broken), "d.txt")
    assert [c.id for c in result.clusters] == ["2026-01-09-c11"]
    assert "no summary" in result.errors[0].reason


def test_an_invalid_utf8_byte_costs_its_cluster_at_its_line(tmp_path: Path) -> None:
    text = two_clusters(second=BODY.replace("cluster 10", "cluster 11"))
    at = text.rindex("Human rights organizations")
    raw = text[:at].encode() + b"\xff" + text[at:].encode()
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    result = read_file(path)
    assert [c.id for c in result.clusters] == ["2026-01-09-c10"]
    (err,) = result.errors
    assert err.line == text.count("\n", 0, at) + 1 and "0xff" in err.reason


@pytest.mark.parametrize("spaces", [20_000])
def test_long_runs_of_spaces_parse_in_linear_time(spaces: int) -> None:
    """The 25 KB upload that froze a server for 11.9 s. Ratios, not wall time: doubling
    the spaces must about double the work (it was x4.4: 12.9 s -> 57 s)."""

    def timed(n: int) -> float:
        title = "Title" + " " * n + "x - Publisher"
        text = two_clusters(BODY.replace("Venezuelan government begins", title))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            result = parse_digest(text)
            best = min(best, time.perf_counter() - start)
        assert len(result.clusters) == 2
        return best

    small, large = timed(spaces), timed(4 * spaces)
    assert large < 12 * small  # linear: ~4x; the quadratic parser was ~16x and more


def test_limits_a_user_can_set() -> None:
    text = two_clusters(BODY.replace("Summary\n\n", "Summary\n\n" + "word " * 30 + "\n", 1))
    tight = InputLimits(max_line_chars=120)
    result = parse_digest(text, "d.txt", tight)
    assert len(result.errors) == 2 and "--max-line-chars" in result.errors[0].reason
    small = InputLimits(max_cluster_chars=2000)
    result = parse_digest(text, "d.txt", small)
    assert result.errors and "--max-cluster-chars" in result.errors[0].reason
    assert len(parse_digest(text, "d.txt").clusters) == 2


# --- JSON / JSONL ---------------------------------------------------------------------

GOOD = {"id": "doc-1", "title": "A good record", "text": "It is indexed."}
CLUSTER = parse_digest(SEED).clusters[0].to_dict()


def bad_records() -> list[tuple[str, str]]:
    article = dict(CLUSTER["articles"][0])
    return [
        (
            json.dumps({**CLUSTER, "id": "c-1", "articles": [{**article, "publisher": ["x"]}]}),
            "publisher",
        ),
        (
            json.dumps({**CLUSTER, "id": "c-2", "articles": [{**article, "sentiment": {"a": 1}}]}),
            "sentiment",
        ),
        ('{"id": "c-3", "summary": "s", "sources": {"a.com": 1e20}}', "sources"),
        ('{"id": "c-4", "summary": "s", "sources": {"a.com": Infinity}}', "sources"),
        ('{"id": ' + "9" * 5000 + ', "text": "t"}', "digits"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"id": "d-5", "text": ["a", "list"]}', "text"),
        ('{"id": {"an": "object"}, "text": "t"}', "'id'"),
        ('{"id": "has space", "text": "t"}', "ids are"),
        ('{"id": "d-6", "text": "\\ud800 lone surrogate"}', "surrogate"),
        ('{"id": "d-7", "title": "t", "extra": ' + "[" * 40 + "]" * 40 + "}", "nests deeper"),
        ('{"id": "d-8", "text": "t", "date": 20260109}', "date"),
    ]


@pytest.mark.parametrize("record, reason", bad_records(), ids=lambda x: x[:30])
def test_a_bad_jsonl_record_costs_only_its_line(record: str, reason: str) -> None:
    text = "\n".join([json.dumps(GOOD), record, json.dumps({**GOOD, "id": "doc-2"})])
    result = parse_jsonl(text, "r.jsonl")
    assert [c.id for c in result.clusters] == ["doc-1", "doc-2"]
    (err,) = result.errors
    assert err.line == 2 and reason in err.reason, err.reason


def test_a_corrupt_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    lines = [
        json.dumps({**GOOD, "id": f"doc-{i}", "text": f"record {i} " * 40}) for i in range(2000)
    ]
    blob = gzip.compress("\n".join(lines).encode())
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2] + b"\x00garbage" * 8)
    result = read_file(path)
    assert 0 < len(result.clusters) < 2000
    (err,) = result.errors
    assert "corrupt gzip" in err.reason and err.line == len(result.clusters) + 1


def test_ids_are_one_documented_alphabet() -> None:
    for good in ("2026-01-09-c10", "wire/2026-01-05/1", "uci-1", "4983", "a.b_c:d@e+f"):
        assert check_id(good) == good
    for bad in ("", " x", "a b", "a?b", "a#b", "a%2Fb", "-x", "x" * 201, "é"):
        with pytest.raises(ValueError, match="ids are"):
            check_id(bad)


# --- the write path: the CLI and the engine keep the good records -------------------


def test_index_run_reports_file_and_line_and_keeps_the_rest(engine: Engine, tmp_path: Path) -> None:
    digest = tmp_path / "d.txt"
    digest.write_text(two_clusters(BODY.replace("theguardian.com: 1", "theguardian.com: ²")))
    records = tmp_path / "r.jsonl"
    records.write_text("\n".join([json.dumps(GOOD), bad_records()[0][0]]))
    run = engine.add_paths([digest, records])
    assert {e.source for e in run.errors} == {str(digest), str(records)}
    assert engine.get("2026-01-09-c11")[0].title and engine.get("doc-1")[0].title
    assert len(run.report.added) == 2


def test_every_parsed_cluster_survives_the_write_path(engine: Engine) -> None:
    """What the parser accepts the store can hold: odd but valid text goes in whole."""
    odd = BODY.replace(
        "Venezuelan government begins", "Tab\there,\u200bzero-width,\U0001f600 emoji"
    )
    text = two_clusters(odd.replace("theguardian.com: 1", f"theguardian.com: {10**9}"))
    result = parse_text(text, "odd.txt")
    assert not result.errors
    engine.add(result.clusters)
    assert engine.get("2026-01-09-c10")[0].sources["theguardian.com"] == 10**9
    assert all(passages_of(c) for c in result.clusters)


def test_parse_errors_are_parse_errors() -> None:
    for text in ("Date: 1-1-2026\n", "{]", "[1, 2]", "\x00" * 10):
        for err in parse_text(text, "x").errors:
            assert isinstance(err, ParseError)


def test_the_cli_names_file_and_line_indexes_the_rest_and_exits_1(tmp_path: Path) -> None:
    from .test_cli import cli

    digest = tmp_path / "d.txt"
    text = two_clusters(BODY.replace("Image for cluster 10", "Image for cluster ³"))
    digest.write_text(text)
    index = tmp_path / "idx"
    result = cli("index", str(digest), "--index", str(index), "--model", "hashing", "-q")
    assert result.returncode == 1
    assert f"{digest}:{line_of(text, 'Image for cluster ³')}: bad cluster number" in (
        result.stdout + result.stderr
    )
    stats = cli("stats", "--index", str(index), "--json")
    assert json.loads(stats.stdout)["clusters"] == 1
