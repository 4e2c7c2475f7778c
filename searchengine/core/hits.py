"""What a search answers: hits (a cluster or an article), the passages that matched,
and the evidence each hit's calibrated relevance is worked out from. Records only:
the query layer (search.py) makes them, the news views and the edges read them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from searchengine.core.contract import Kind
from searchengine.core.documents import Field


@dataclass
class MatchedPassage:
    """A passage that matched, labelled by field, with the query terms' spans in `text`."""

    field: Field
    position: int
    text: str
    score: float
    article_id: str | None = None
    highlights: list[tuple[int, int]] = dataclass_field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field.value,
            "position": self.position,
            "article_id": self.article_id,
            "text": self.text,
            "score": self.score,
            "highlights": [list(span) for span in self.highlights],
        }


@dataclass(frozen=True)
class Evidence:
    """Measures of a hit that mean the same from one query to the next (the fused
    score does not: each signal is scaled by the query's best), from which its
    calibrated relevance is worked out (`relevance.py`)."""

    cosine: float | None  # the best passage's cosine to the query (None: no query vector)
    # That cosine in standard deviations above the query's mean cosine to a sample of
    # the whole index: how far the hit stands out of this collection for this query.
    # A raw cosine does not travel (a narrow collection scores everything high).
    standing: float | None
    coverage: float  # share of the query's words found in the passages shown
    share: float  # fused score / the query's best fused score (1.0 for the first hit)
    # Share of the query's names (capitalised words) that no passage of the index
    # contains and nothing close was found for: a story about "Japan" cannot be
    # a strong match in an index that never mentions Japan. The same for every hit.
    names_missing: float = 0.0
    # `coverage` with each query word counted by its idf in this index: a hit without
    # the query's rare word ("Crimea" in "Crimea referendum") covers little of it.
    weighted_coverage: float = 0.0
    # The cosine less the best cosine among the query's hits (0 for the best; None
    # without a query vector).
    gap: float | None = None


@dataclass
class Hit:
    """One result: a cluster (or an article), its score and the passages that matched."""

    id: str
    cluster_id: str
    date: str | None
    title: str
    sources: dict[str, int]
    score: float
    passages: list[MatchedPassage]
    kind: Kind = Kind.CLUSTERS
    publisher: str | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    evidence: Evidence | None = None  # what the relevance score is worked out from
    # The chance a reader judges it relevant (relevance.py): one meaning across
    # queries and modes, unlike `score`, which only orders one query's hits.
    relevance: float = 0.0
    weak: bool = False  # relevance under the cut-off: shown apart as a weaker match
    freshness: float | None = None  # 0.5 ** (age / half-life), when the search asked for it
    # With collapse: the other hits of this hit's story thread, in order (None: not asked).
    more: list[Hit] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value.rstrip("s"),
            "cluster_id": self.cluster_id,
            "date": self.date,
            "title": self.title,
            "sources": self.sources,
            "score": self.score,
            "relevance": self.relevance,
            "weak": self.weak,
            "passages": [p.to_dict() for p in self.passages],
        }
        if self.publisher is not None:
            out["publisher"] = self.publisher
        if self.freshness is not None:
            out["freshness"] = self.freshness
        if self.more is not None:
            out["more"] = [
                {
                    "id": h.id,
                    "cluster_id": h.cluster_id,
                    "date": h.date,
                    "title": h.title,
                    "relevance": h.relevance,
                }
                for h in self.more
            ]
        return out
