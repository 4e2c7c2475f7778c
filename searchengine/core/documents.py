"""The records the engine deals in: clusters, their articles, and the passages
that are embedded and matched.

Plain dataclasses with a JSON round trip, so that the store can keep a record
verbatim and a JSONL file can carry the same fields the parser produces.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

MAX_PASSAGE_CHARS = 1000  # title included; ~220 word pieces of English
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def text_hash(text: str) -> str:
    """A short key for a text the encoder read: equal keys, equal embeddings."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def fold(text: str) -> str:
    """Accent- and case-insensitive key: `Nicolás Maduro` and `nicolas  maduro` fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


class Field(StrEnum):
    """Which part of a cluster a passage comes from; shown to users as the reason for a match."""

    SUMMARY = "summary"
    KEY_POINT = "key_point"
    ARTICLE = "article"


@dataclass
class Article:
    """One article grouped in a cluster."""

    id: str
    title: str
    summary: str
    publisher: str | None = None
    section: str | None = None
    entities: list[str] = field(default_factory=list)
    tone: str | None = None
    sentiment: str | None = None
    intent: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(
            id=str(data.get("id") or ""),
            title=str(data.get("title") or ""),
            summary=str(data.get("summary") or ""),
            publisher=data.get("publisher"),
            section=data.get("section"),
            entities=[str(e) for e in data.get("entities") or []],
            tone=data.get("tone"),
            sentiment=data.get("sentiment"),
            intent=data.get("intent"),
        )


@dataclass
class Cluster:
    """A story cluster: one day's grouping of articles about one story.

    `origin` says where the record came from (`file:line`); it is not part of
    the content, so moving a file does not make its clusters look changed.
    """

    id: str
    date: str | None  # ISO yyyy-mm-dd
    title: str
    summary: str
    sources: dict[str, int] = field(default_factory=dict)
    number: int | None = None
    image_prompt: str | None = None
    key_points: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    origin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def entities(self) -> list[str]:
        """Every entity named by any article, first spelling first, no repeats by folded key."""
        seen: dict[str, str] = {}
        for article in self.articles:
            for name in article.entities:
                seen.setdefault(fold(name), name)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cluster:
        return cls(
            id=str(data["id"]),
            date=data.get("date"),
            title=str(data.get("title") or ""),
            summary=str(data.get("summary") or ""),
            sources={str(k): int(v) for k, v in (data.get("sources") or {}).items()},
            number=data.get("number"),
            image_prompt=data.get("image_prompt"),
            key_points=[str(p) for p in data.get("key_points") or []],
            articles=[Article.from_dict(a) for a in data.get("articles") or []],
            origin=data.get("origin"),
            extra=dict(data.get("extra") or {}),
        )

    def content_hash(self) -> str:
        """Hash of everything but `origin`: equal hashes mean nothing to re-index."""
        data = self.to_dict()
        data.pop("origin", None)
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Passage:
    """The unit that is embedded and matched: a cluster's summary, one key point or one article."""

    cluster_id: str
    field: Field
    position: int  # order within the field (key point number, article number; 0 for summary)
    text: str
    article_id: str | None = None
    context: str = ""  # said before `text` to the encoder only (a key point's cluster title)

    @property
    def embed_text(self) -> str:
        """What the encoder reads: the passage in its context."""
        return _join(self.context, self.text) if self.context else self.text


def cluster_texts(cluster: Cluster) -> list[str]:
    """All of a cluster's searchable text, field by field."""
    texts = [cluster.title, cluster.summary, *cluster.key_points]
    for article in cluster.articles:
        texts += [article.title, article.summary]
    return texts


def passages_of(cluster: Cluster) -> list[Passage]:
    """Split a cluster into passages.

    Key points are short and often lean on the cluster for context ("The plan
    was drawn up by ..."), so the encoder reads each one after the cluster
    title; users see (and full text matches) the key point alone.
    """
    out = [
        Passage(cluster.id, Field.SUMMARY, i, text)
        for i, text in enumerate(_windows(cluster.title, cluster.summary))
    ]
    for i, point in enumerate(cluster.key_points, 1):
        out.append(Passage(cluster.id, Field.KEY_POINT, i, point, context=cluster.title))
    for i, article in enumerate(cluster.articles, 1):
        for text in _windows(article.title, article.summary):
            out.append(Passage(cluster.id, Field.ARTICLE, i, text, article.id))
    return out


def chunk_text(text: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Split long text into windows of whole sentences of at most `max_chars` characters.

    The encoder reads only its first 256 word pieces; without this a long
    document is judged by its opening alone (on BEIR SciFact, 71% of documents
    are longer, and truncation would drop 29% of all their tokens). English
    runs ~4.5 characters per word piece, so 1,000 characters fit the window
    for all but the densest text. A sentence longer than a window is cut at
    word boundaries; windows overlap by one sentence so that a match across a
    boundary is not lost. Digest summaries and articles fit one window.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        piece: list[str] = []
        for word in words:
            if piece and len(" ".join(piece)) + 1 + len(word) > max_chars:
                pieces.append(" ".join(piece))
                piece = []
            piece.append(word)
        if piece:
            pieces.append(" ".join(piece))
    chunks: list[str] = []
    current: list[str] = []
    for part in pieces:
        if current and len(" ".join(current)) + 1 + len(part) > max_chars:
            chunks.append(" ".join(current))
            overlap = current[-1]
            current = [overlap] if len(overlap) + 1 + len(part) <= max_chars else []
        current.append(part)
    if current:
        chunks.append(" ".join(current))
    return chunks


def _windows(title: str, body: str) -> list[str]:
    """`title. chunk` passages whose whole text fits one encoder window."""
    budget = max(MAX_PASSAGE_CHARS // 2, MAX_PASSAGE_CHARS - len(title) - 2)
    return [_join(title, chunk) for chunk in chunk_text(body, budget)]


def _join(title: str, body: str) -> str:
    """`title. body`; only one of them when the body repeats the title (a headline
    record whose text is its headline read `X. X` in every snippet)."""
    title, body = title.strip(), body.strip()
    if not title:
        return body
    if not body or _same_words(body, title):
        return title
    if _same_words(body[: len(title)], title):  # a lead that starts with the headline
        return body
    return f"{title}. {body}" if title[-1] not in ".!?:" else f"{title} {body}"


def _same_words(a: str, b: str) -> bool:
    """The same words, whatever the case and punctuation ("X ..." is "X")."""
    return re.findall(r"\w+", a.casefold()) == re.findall(r"\w+", b.casefold())


def record_to_dict(cluster: Cluster, article: Article | None = None) -> dict[str, Any]:
    """The JSON form a user sees of a cluster (with its entities) or of one article
    (with its cluster's id, title and date)."""
    if article is None:
        data = cluster.to_dict()
        data["entities"] = cluster.entities
        return data
    data = dict(article.__dict__)
    data.update(cluster_id=cluster.id, cluster_title=cluster.title, date=cluster.date)
    return data


def parse_date(value: str) -> date:
    """A digest date: day first (`09-01-2026`), or ISO (`2026-01-09`)."""
    value = value.strip()
    for fmt in ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"bad date {value!r} (expected DD-MM-YYYY)")
