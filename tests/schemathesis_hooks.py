"""Schemathesis hooks (`SCHEMATHESIS_HOOKS`): how to write the two text formats
`POST /documents` takes, so that its positive-data check sends real digests and real
JSON Lines (a schema states a string, not a digest's grammar) and holds the API to
keeping every one of them. JSON bodies come from the schema itself (`record_schema.py`)."""

from __future__ import annotations

import json

import schemathesis
from hypothesis import strategies as st

from searchengine.http.routes_write import DIGEST_EXAMPLE
from searchengine.ingest.validate import ID_PATTERN

# Words of any script; the digest's own markers (`Summary`, `Date:`) are lines of their
# own, which a drawn word never is alone.
_WORD = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)
_LINE = st.lists(_WORD, min_size=2, max_size=8).map(" ".join)
_DAY = st.dates().filter(lambda d: d.year >= 1000)


@st.composite
def digest(draw: st.DrawFn) -> bytes:
    day = draw(_DAY).strftime("%d-%m-%Y")
    clusters = []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        title, summary, headline, body = (draw(_LINE) for _ in range(4))
        publisher = draw(_WORD)
        clusters.append(
            f"{title}\n\nDate: {day}\nSources: example.com: {number}\n"
            f"Image for cluster {number}\n\nSummary\n\n{summary}\n\n"
            f"Articles in this Cluster\n\n{headline} | News | {publisher}\n\n{body}\n"
            "Entities: Harbour CouncilTone: neutralSentiment: positiveIntent: inform\n"
        )
    return (f"{day}\n\n" + "\n".join(clusters)).encode()


_RECORD = st.fixed_dictionaries(
    {"id": st.from_regex(ID_PATTERN, fullmatch=True), "title": _LINE},
    optional={"text": st.text(st.characters(exclude_characters="\x00")), "source": _WORD},
)


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(_RECORD, min_size=1, max_size=4, unique_by=lambda r: r["id"]))
    return "\n".join(json.dumps(r) for r in records).encode()


schemathesis.openapi.media_type("text/plain", st.one_of(st.just(DIGEST_EXAMPLE.encode()), digest()))
schemathesis.openapi.media_type(
    "application/x-ndjson", json_lines(), aliases=("application/jsonl", "application/x-jsonlines")
)
