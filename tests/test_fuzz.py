"""Property tests over mutated real inputs: whatever bytes arrive, the parser
returns clusters that the store can hold and `ParseError`s, and nothing else
escapes it or the write path. (A fuzz of 9,000 mutated digests once let 20
other exceptions out.)

Examples: 3,000 digests + 3,000 JSONL records through the parser, 150 through
the write path into a real index (hashing encoder).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchengine import Engine
from searchengine.core.documents import passages_of
from searchengine.encoders.encoder import HashingEncoder
from searchengine.errors import ParseError
from searchengine.ingest.digest import parse_digest
from searchengine.ingest.parse import decode, input_files, parse_jsonl, parse_text
from searchengine.ingest.result import ParseResult
from searchengine.ingest.validate import check_cluster

from .conftest import SEEDS

DIGESTS = [p.read_bytes() for p in input_files([SEEDS]) if p.suffix == ".txt"][:12]
RECORDS = [c.to_dict() for p in DIGESTS for c in parse_digest(p.decode()).clusters][:8] + [
    {
        "_id": "4983",
        "title": "Microstructural development",
        "text": "Alterations of the...",
        "metadata": {},
    },
    {
        "id": "wire/2026-01-05/1",
        "title": "Wire",
        "text": "A wire story.",
        "date": "2026-01-05",
        "source": "ap.org",
    },
]

# Pieces of text that once broke the parser, or sit on its boundaries.
NASTY = [
    "²",
    "³",
    "9" * 5000,
    " " * 5000,
    "\t" * 300,
    "Date: 09-01-2026",
    "Date: 31-02-2026",
    "Date:",
    "Summary",
    "Key Points",
    "Articles in this Cluster",
    "Entities:",
    "Tone:",
    "Sentiment:",
    "Intent:",
    "Image for cluster ",
    "Image Prompt:",
    "Sources: a.com: 1e20",
    "Sources: : | :",
    "\r\n",
    "\n\n",
    "\n",
    "\ufeff",
    "\x00",
    "\u2028",
    "\x85",
    " | ",
    " - ",
    " – ",
    ":",
    "•",
    "  • ",
    "ﬁ",
    "ß",
    "\U0001f600",
    "09-01-2026",
]
NASTY_BYTES = [t.encode() for t in NASTY] + [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]

EXAMPLES = 3000


@st.composite
def mutated(draw: st.DrawFn, bases: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "nasty", "line", "bytes"]))
        if op == "insert":
            data[at:at] = draw(st.text(max_size=12)).encode("utf-8", "surrogatepass")
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 400))]
        elif op == "nasty":
            data[at:at] = draw(st.sampled_from(NASTY_BYTES))
        elif op == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        else:  # move a line elsewhere: structure shuffled, not just spelling
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines.pop(i))
            data = bytearray(b"\n".join(lines))
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(NASTY),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "id",
    "_id",
    "title",
    "text",
    "summary",
    "date",
    "sources",
    "number",
    "key_points",
    "articles",
    "image_prompt",
    "extra",
    "source",
    "metadata",
]


@st.composite
def mutated_record(draw: st.DrawFn) -> bytes:
    record = json.loads(json.dumps(draw(st.sampled_from(RECORDS))))
    for _ in range(draw(st.integers(0, 4))):
        target = record
        articles = record.get("articles")
        dicts = [a for a in articles if isinstance(a, dict)] if isinstance(articles, list) else []
        if dicts and draw(st.booleans()):
            target = draw(st.sampled_from(dicts))
            key = draw(
                st.sampled_from(
                    ["title", "summary", "publisher", "entities", "sentiment", "tone", "id"]
                )
            )
        else:
            key = draw(st.sampled_from(FIELDS))
        target[key] = draw(JSON_VALUES)
    line = json.dumps(record, allow_nan=True).encode()
    if draw(st.booleans()):
        line = draw(mutated([line]))
    return line


def check(result: ParseResult) -> None:
    """The contract: ParseErrors only, and every cluster fit for the store."""
    for err in result.errors:
        assert isinstance(err, ParseError)
    for cluster in result.clusters:
        check_cluster(cluster)
        assert passages_of(cluster)
        json.dumps(cluster.to_dict(), ensure_ascii=False).encode("utf-8")
        cluster.content_hash()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated(DIGESTS))
def test_mutated_digests_parse_or_report(data: bytes) -> None:
    check(parse_text(decode(data), "fuzz.txt"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(mutated_record(), min_size=1, max_size=3))
def test_mutated_jsonl_records_parse_or_report(lines: list[bytes]) -> None:
    check(parse_jsonl(decode(b"\n".join(lines)), "fuzz.jsonl"))


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = Engine.open(
        tmp_path_factory.mktemp("fuzz") / "idx", encoder=HashingEncoder(64), create=True
    )
    yield engine
    engine.close()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(mutated(DIGESTS), mutated_record()))
def test_what_the_parser_accepts_the_engine_stores(fuzz_engine: Engine, data: bytes) -> None:
    result = parse_text(decode(data), "fuzz")
    check(result)
    if result.clusters:
        fuzz_engine.add(result.clusters)
        for cluster in result.clusters:
            assert fuzz_engine.get(cluster.id)[0].title == cluster.title


def test_the_fuzz_bases_are_real() -> None:
    assert len(DIGESTS) >= 5 and all(b"Date:" in d for d in DIGESTS)
    assert all(parse_digest(d.decode()).clusters for d in DIGESTS)
