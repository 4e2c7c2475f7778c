"""The JSON Schema of the records `POST /documents` takes as JSON: every rule
`ingest/validate.py` enforces that a schema can state, so that a client (and a
fuzzer) reading the schema sends only records the API keeps.

Two kinds of record, told apart as the validator tells them: a *cluster* (it has
`summary`, `key_points` or `articles`) or a generic *document* (`title` and/or
`text`). Either needs an `id` and a title or text with a visible character. What a
schema cannot say -- the text a record holds in total (`InputLimits`), two records of
one body with one id (the second is reported, 207) -- is said in the descriptions.
"""

from __future__ import annotations

from typing import Any

from searchengine.core.contract import NOT_BLANK
from searchengine.core.dates import DAY_PATTERN
from searchengine.ingest.validate import CLUSTER_FIELDS, ID_PATTERN, ID_RULE, MAX_COUNT
from searchengine.limits import DEFAULT_LIMITS

# Any text but a NUL (which SQLite's FTS5 and the digest reader refuse).
_TEXT: dict[str, Any] = {"type": "string", "pattern": "^[^\\x00]*$"}
_SHORT: dict[str, Any] = {**_TEXT, "maxLength": 1000}  # a host, an entity
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
_VISIBLE: dict[str, Any] = {"type": "string", "pattern": NOT_BLANK}


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


ID: dict[str, Any] = {
    "description": f"the record's id: {ID_RULE} characters (an integer is read as its digits)",
    "anyOf": [
        {"type": "string", "pattern": f"^\\s*{ID_PATTERN}\\s*$"},
        {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    ],
}
DATE: dict[str, Any] = {
    "description": "the day it is news: YYYY-MM-DD or DD-MM-YYYY (null or empty: undated)",
    "anyOf": [
        {"type": "string", "pattern": DAY_PATTERN},
        {"type": "string", "maxLength": 0},
        {"type": "null"},
    ],
}
_ARTICLE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": _TEXT,
        "summary": _TEXT,
        "publisher": _or_null(_TEXT),
        "section": _or_null(_TEXT),
        "entities": {"type": "array", "items": _SHORT},
        "tone": _or_null(_TEXT),
        "sentiment": _or_null(_TEXT),
        "intent": _or_null(_TEXT),
    },
}


def _holds_visible(*names: str) -> list[dict[str, Any]]:
    """`anyOf` branches: one of `names` is there with a character `strip()` keeps."""
    return [{"required": [n], "properties": {n: _VISIBLE}} for n in names]


def _record(kind: str, fields: dict[str, Any], **rules: Any) -> dict[str, Any]:
    """An object with an `id` and a `date` beside `fields`, held to `rules`."""
    properties = {"id": ID, "date": DATE, "title": _TEXT, **fields}
    return {"title": kind, "type": "object", "required": ["id"], "properties": properties, **rules}


_HAS_CLUSTER_FIELD = {"anyOf": [{"required": [f]} for f in CLUSTER_FIELDS]}
CLUSTER = _record(
    "cluster record",
    {
        "summary": _TEXT,
        "sources": {"type": "object", "propertyNames": _SHORT, "additionalProperties": _COUNT},
        "number": _or_null(_COUNT),
        "image_prompt": _or_null(_TEXT),
        "key_points": {"type": "array", "items": _TEXT},
        "articles": {"type": "array", "items": _ARTICLE},
        "extra": {"type": "object"},
    },
    allOf=[_HAS_CLUSTER_FIELD, {"anyOf": _holds_visible("title", "summary")}],
)
DOCUMENT = _record(
    "document record",
    {"text": _TEXT, "source": _or_null(_SHORT)},
    anyOf=_holds_visible("title", "text"),
    **{"not": _HAS_CLUSTER_FIELD},
)
RECORD: dict[str, Any] = {
    "description": "a cluster (the digest's fields) or a generic document "
    f"(`id`, `title`, `text`, `date`, `source`); at most "
    f"{DEFAULT_LIMITS.max_cluster_chars:,} characters of text in all; other fields "
    "are kept as the record's extra data",
    "anyOf": [CLUSTER, DOCUMENT],
}
RECORDS: dict[str, Any] = {
    "description": "one record, or an array of them (each is reported on its own: a "
    "bad one costs only itself)",
    "anyOf": [RECORD, {"type": "array", "minItems": 1, "items": RECORD}],
}
