"""What a record must be before it is indexed: types, bounds and the id alphabet.

Every input path (digest text, JSON / JSONL files, HTTP bodies) ends here, so
that nothing the parser lets through can fail later in the write path (an int
SQLite cannot bind, a lone surrogate UTF-8 cannot encode, a list where a string
belongs). JSON records are checked field by field by pydantic in strict mode
(`"publisher": ["x"]` and `"count": 1e20` are errors, not coerced); every
cluster, whatever its source, then passes `check_cluster` for the bounds.
A failure is a `ValueError` whose message names the field; the parser turns it
into a `ParseError` at the record's line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from searchengine.core.documents import Article, Cluster
from searchengine.limits import DEFAULT_LIMITS, InputLimits

# Ids are what URLs, CLI arguments and file names carry: letters, digits and
# `. _ : @ + / -`, starting with a letter or digit, at most 200 characters.
# Every id in the seeds, the dev corpus, BEIR and the UCI set fits; `?`, `#`,
# `%`, spaces and quotes would each need escaping somewhere along the way.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,199}"
_ID = re.compile(ID_PATTERN)
ID_RULE = "letters, digits and . _ : @ + / - (starting with a letter or digit), at most 200"

# A source count or cluster number past a billion is a typo, not news; it also
# keeps every integer inside SQLite's 64 bits and far from float rounding.
MAX_COUNT = 10**9
# A JSON record is at most 4 levels deep (cluster > articles > article >
# entities); `extra` fields get some room, a 100,000-level bomb does not.
MAX_JSON_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def check_id(value: str, what: str = "id") -> str:
    """`value` if it is a valid id, else a ValueError that states the rule."""
    if not _ID.fullmatch(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ValueError(f"bad {what} {shown!r}: ids are {ID_RULE} characters")
    return value


def _clean(text: str | None, what: str, limit: int) -> None:
    if text is None:
        return
    if len(text) > limit:
        raise ValueError(f"{what} is {len(text):,} characters long (limit {limit:,})")
    if _LONE_SURROGATE.search(text):
        raise ValueError(f"{what} holds a lone surrogate (not valid Unicode)")
    if "\x00" in text:
        raise ValueError(f"{what} holds a NUL character")


def check_cluster(cluster: Cluster, limits: InputLimits = DEFAULT_LIMITS) -> Cluster:
    """Bounds every source shares: id alphabet, counts, sizes, valid Unicode."""
    check_id(cluster.id, "cluster id")
    size = limits.max_cluster_chars
    _clean(cluster.title, "title", size)
    _clean(cluster.summary, "summary", size)
    _clean(cluster.image_prompt, "image prompt", size)
    total = len(cluster.title) + len(cluster.summary) + len(cluster.image_prompt or "")
    for host, count in cluster.sources.items():
        _clean(host, "source host", 1000)
        if not 0 <= count <= MAX_COUNT:
            raise ValueError(f"source count {count} for {host!r} is out of range 0..{MAX_COUNT:,}")
    if cluster.number is not None and not 0 <= cluster.number <= MAX_COUNT:
        raise ValueError(f"cluster number {cluster.number} is out of range 0..{MAX_COUNT:,}")
    for point in cluster.key_points:
        _clean(point, "key point", size)
        total += len(point)
    for article in cluster.articles:
        total += _check_article(article, size)
    if total > size:
        raise ValueError(
            f"cluster holds {total:,} characters of text (limit {size:,}; "
            "raise it with --max-cluster-chars)"
        )
    return cluster


def _check_article(article: Article, size: int) -> int:
    for name in ("title", "summary", "publisher", "section", "tone", "sentiment", "intent"):
        _clean(getattr(article, name), f"article {name}", size)
    for entity in article.entities:
        _clean(entity, "entity", 1000)
    return len(article.title) + len(article.summary)


# --- JSON records -----------------------------------------------------------------


def _integral(value: Any) -> Any:
    """`3.0` is 3: JSON does not tell 3 from 3.0 (JSON Schema's `integer` admits both,
    and so does the API's every other integer); 3.5 stays a float, and an error."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_Count = Annotated[StrictInt, BeforeValidator(_integral), Field(ge=0, le=MAX_COUNT)]
_Text = StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ArticleRecord(_Strict):
    """An article inside a JSON cluster record (its id is derived, so any is ignored)."""

    title: _Text = ""
    summary: _Text = ""
    publisher: _Text | None = None
    section: _Text | None = None
    entities: list[_Text] = []
    tone: _Text | None = None
    sentiment: _Text | None = None
    intent: _Text | None = None


class ClusterRecord(_Strict):
    """A full cluster as JSON: the parser's own fields (see `Cluster`)."""

    title: _Text = ""
    summary: _Text = ""
    sources: dict[_Text, _Count] = {}
    number: _Count | None = None
    image_prompt: _Text | None = None
    key_points: list[_Text] = []
    articles: list[ArticleRecord] = []
    extra: dict[_Text, Any] = {}


class DocumentRecord(_Strict):
    """A generic document: `{"id", "title", "text", "date"?, "source"?}`."""

    title: _Text = ""
    text: _Text = ""
    source: _Text | None = None


CLUSTER_FIELDS = ("summary", "key_points", "articles")
_DOCUMENT_KNOWN = {"id", "_id", "title", "text", "date", "source", "metadata"}


def record_id(data: dict[str, Any]) -> str:
    """The record's id (`id`, or BEIR's `_id`): a string, or an integer as digits."""
    raw = _integral(data.get("id", data.get("_id")))
    if raw is None:
        raise ValueError("record has no 'id'")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"'id' must be a string or an integer, not {_json_type(raw)}")
    if isinstance(raw, int) and not -(10**18) < raw < 10**18:
        raise ValueError("'id' is an integer of more than 18 digits")
    return check_id(str(raw).strip(), "'id'")


def json_depth(value: Any) -> int:
    """How deeply `value` nests (iteratively: a bomb cannot recurse us to death)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def cluster_from_record(
    data: Any, date: str | None, limits: InputLimits = DEFAULT_LIMITS
) -> Cluster:
    """A decoded JSON object -> a checked Cluster; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_json_type(data)}")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise ValueError(f"record nests deeper than {MAX_JSON_DEPTH} levels")
    cluster_id = record_id(data)
    try:
        if any(k in data for k in CLUSTER_FIELDS):
            rec = ClusterRecord.model_validate(data)
            cluster = Cluster(
                id=cluster_id,
                date=date,
                title=rec.title,
                summary=rec.summary,
                sources=dict(rec.sources),
                number=rec.number,
                image_prompt=rec.image_prompt,
                key_points=list(rec.key_points),
                extra=dict(rec.extra),
            )
            cluster.articles = [
                Article(id=f"{cluster_id}-a{i}", **a.model_dump())  # the id scheme
                for i, a in enumerate(rec.articles, 1)
            ]
        elif "text" in data or "title" in data:
            doc = DocumentRecord.model_validate(data)
            cluster = Cluster(
                id=cluster_id,
                date=date,
                title=doc.title,
                summary=doc.text,
                sources={doc.source: 1} if doc.source else {},
                extra={k: v for k, v in data.items() if k not in _DOCUMENT_KNOWN},
            )
        else:
            raise ValueError("record has neither 'text' nor cluster fields")
    except ValidationError as err:
        raise ValueError(describe(err)) from None
    if not (cluster.title.strip() or cluster.summary.strip()):
        raise ValueError("record has no title and no text")
    return check_cluster(cluster, limits)


def describe(err: ValidationError) -> str:
    """pydantic's errors as one line: `articles.0.publisher: Input should be a valid string`."""
    parts = []
    for e in err.errors()[:3]:
        where = ".".join(str(p) for p in e["loc"]) or "record"
        parts.append(f"{where}: {e['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
