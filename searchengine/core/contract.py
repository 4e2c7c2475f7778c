"""The request contract shared by the library, the CLI and the HTTP API.

Each question the engine answers is a typed, frozen request record. Its
constructor is the one place where user input is checked and converted
(strings to enums, typed dates to ISO, limits on `k` and on text length),
so the CLI and the API cannot drift apart: both build the same record from
their arguments and hand it to `Engine.answer`, which returns one `Response`
envelope that serialises itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from searchengine.core.dates import user_date
from searchengine.errors import BadRequest

# One rule for every edge. 1000 is enough for evaluation runs (Recall@100
# needs 100) and for paging a large result set, and keeps a response under a
# couple of MB; candidate depth grows with k, so k results really come back.
MIN_K, MAX_K = 1, 1000
# Queries are questions or keywords; anything longer is a document, and
# `similar` takes those.
MAX_QUERY_CHARS = 1000
# What the API's schema asks of a text parameter: a character `str.strip` keeps (the
# schema's `\S` let U+0085 and U+001C through, which strip() removes, so a schema-valid
# query was "empty").
NOT_BLANK = "[^\\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# A paragraph or an article; whole books belong in the index, not in a query.
MAX_SIMILAR_CHARS = 20_000
# A thread is read by a person on one page; the breadth-first walk stops here.
MAX_THREAD = 200
# The defaults every edge offers (the CLI's flags, the API's parameters).
DEFAULT_K = 10  # one screen of results
# MMR's trade of relevance for variety: at 0.3 four near-duplicate stories
# stop filling the top of a list while the best match stays first (test_related).
DEFAULT_DIVERSITY = 0.3
DEFAULT_THREAD = 50  # a long-running story over months, still one page
# Ten years: past that every story in a news index is equally fresh.
MAX_HALF_LIFE_DAYS = 3650


R = TypeVar("R")


class Mode(StrEnum):
    """How candidates are found."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


class Kind(StrEnum):
    """What a search returns."""

    CLUSTERS = "clusters"
    ARTICLES = "articles"


class Strategy(StrEnum):
    """How recommendations are scored from liked stories."""

    BEST = "best"  # each candidate by its best match to any liked story
    AVERAGE = "average"  # Rocchio: toward the mean of liked vectors, away from disliked


class Sort(StrEnum):
    """How a search's strong hits are ordered."""

    RELEVANCE = "relevance"  # by the ranking (blended with freshness given a half-life)
    DATE = "date"  # newest first among hits above the relevance cut-off


class Sentiment(StrEnum):
    """An article's sentiment, or a cluster's prevailing one ('mixed' on a tie)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    MIXED = "mixed"


def _enum(cls: type[StrEnum], value: object, name: str) -> Any:
    try:
        return cls(str(value).lower())
    except ValueError:
        choices = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise BadRequest(f"{name}: {value!r} is not one of {choices}") from None


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_K <= k <= MAX_K:
        raise BadRequest(f"k must be between {MIN_K} and {MAX_K}, not {k}")
    return k


@dataclass(frozen=True)
class Filters:
    """Restrictions applied before ranking (to FAISS via id selectors, to FTS5 in SQL).

    Build from user input with `Filters.build`, which validates and normalises;
    the plain constructor is for code that already holds clean values.
    """

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    sentiment: Sentiment | None = None
    articles_only: bool = False

    @classmethod
    def build(
        cls,
        date_from: str | None = None,
        date_to: str | None = None,
        sources: Iterable[str] | None = None,
        entities: Iterable[str] | None = None,
        sentiment: str | None = None,
        articles_only: bool = False,
    ) -> Filters:
        """Filters from what a user typed: dates as `dates.user_date` reads them,
        empty values dropped, hosts lower-cased, sentiment checked."""
        # (from after to is no error: the answer is empty and its note says why)
        start, end = user_date(date_from, "from"), user_date(date_to, "to")
        return cls(
            date_from=start,
            date_to=end,
            sources=tuple(s.strip().lower() for s in sources or () if s and s.strip()),
            entities=tuple(e.strip() for e in entities or () if e and e.strip()),
            sentiment=_enum(Sentiment, sentiment, "sentiment") if sentiment else None,
            articles_only=articles_only,
        )

    def __bool__(self) -> bool:
        return bool(
            self.date_from
            or self.date_to
            or self.sources
            or self.entities
            or self.sentiment
            or self.articles_only
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.date_from,
            "to": self.date_to,
            "sources": list(self.sources),
            "entities": list(self.entities),
            "sentiment": self.sentiment.value if self.sentiment else None,
        }


@dataclass(frozen=True)
class SearchRequest:
    """A natural-language query for clusters (or articles)."""

    query: str
    k: int = DEFAULT_K
    mode: Mode = Mode.HYBRID
    kind: Kind = Kind.CLUSTERS
    filters: Filters = field(default_factory=Filters)
    # Drop hits whose calibrated relevance is under this (None: keep them, those under
    # the engine's cut-off marked weak).
    min_relevance: float | None = None
    # Freshness: relevance x 0.5 ** (age / half-life), the age counted back from
    # `fresh_from` (default: the newest story in the index). None: pure relevance.
    half_life_days: float | None = None
    fresh_from: str | None = None
    sort: Sort = Sort.RELEVANCE
    # One result per story thread (the best), the others listed under it.
    collapse: bool = False

    def __post_init__(self) -> None:
        query = (self.query or "").strip() if isinstance(self.query, str) else ""
        if not query:
            raise BadRequest("q: the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"q: the query is longer than {MAX_QUERY_CHARS} characters")
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "k", check_k(self.k))
        object.__setattr__(self, "mode", _enum(Mode, self.mode, "mode"))
        object.__setattr__(self, "kind", _enum(Kind, self.kind, "kind"))
        value = self.min_relevance
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0
        ):
            raise BadRequest(f"min_relevance must be between 0 and 1, not {value!r}")
        half_life = self.half_life_days
        if half_life is not None and (
            isinstance(half_life, bool)
            or not isinstance(half_life, int | float)
            or not 0 < half_life <= MAX_HALF_LIFE_DAYS
        ):
            raise BadRequest(
                f"half_life_days must be over 0 and at most {MAX_HALF_LIFE_DAYS}, not {half_life!r}"
            )
        object.__setattr__(self, "fresh_from", user_date(self.fresh_from, "fresh_from"))
        object.__setattr__(self, "sort", _enum(Sort, self.sort, "sort"))
        object.__setattr__(self, "collapse", bool(self.collapse))

    @property
    def reorders(self) -> bool:
        """Whether hits are re-ordered (or merged) after ranking: then the ranking must
        bring more than `k` candidates for the order to choose from."""
        return bool(self.half_life_days) or self.sort is Sort.DATE or self.collapse


@dataclass(frozen=True)
class RelatedRequest:
    """Stories (for a cluster id) or articles (for an article id) like an indexed item."""

    id: str
    k: int = DEFAULT_K
    filters: Filters = field(default_factory=Filters)
    include_own_cluster: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_k(self.k))


@dataclass(frozen=True)
class SimilarRequest:
    """Stories like a paragraph of free text."""

    text: str
    k: int = DEFAULT_K
    filters: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        text = self.text.strip() if isinstance(self.text, str) else ""
        if not text:
            raise BadRequest("text: the text is empty")
        if len(text) > MAX_SIMILAR_CHARS:
            raise BadRequest(f"text: longer than {MAX_SIMILAR_CHARS} characters")
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "k", check_k(self.k))


@dataclass(frozen=True)
class ThreadRequest:
    """The chain of clusters of one developing story."""

    id: str
    limit: int = DEFAULT_THREAD

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_THREAD:
            raise BadRequest(f"limit must be between 1 and {MAX_THREAD}, not {self.limit}")


@dataclass(frozen=True)
class Liked:
    """A liked item and how much it counts."""

    id: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise BadRequest(f"a liked item's weight must be positive ({self.id}:{self.weight})")

    @classmethod
    def parse(cls, value: str | Liked | tuple[str, float]) -> Liked:
        """`ID`, `ID:WEIGHT`, a (id, weight) pair, or a Liked."""
        if isinstance(value, Liked):
            return value
        if isinstance(value, tuple):
            return cls(str(value[0]), float(value[1]))
        item, sep, weight = value.rpartition(":")
        if sep and item:
            try:
                number = float(weight)
            except ValueError:
                return cls(value)  # a colon inside the id itself
            return cls(item, number)
        return cls(value)


@dataclass(frozen=True)
class RecommendRequest:
    """Unseen stories for a reader, from what they liked and disliked."""

    liked: tuple[Liked, ...] = ()
    disliked: tuple[str, ...] = ()
    k: int = DEFAULT_K
    strategy: Strategy = Strategy.BEST
    diversity: float = DEFAULT_DIVERSITY
    half_life_days: float | None = None
    filters: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        object.__setattr__(self, "liked", tuple(Liked.parse(x) for x in self.liked))
        object.__setattr__(self, "disliked", tuple(self.disliked))
        object.__setattr__(self, "k", check_k(self.k))
        object.__setattr__(self, "strategy", _enum(Strategy, self.strategy, "strategy"))
        if not 0.0 <= self.diversity <= 1.0:
            raise BadRequest(f"diversity must be between 0 and 1, not {self.diversity}")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise BadRequest("the half-life must be a positive number of days")


Request = SearchRequest | RelatedRequest | SimilarRequest | ThreadRequest | RecommendRequest


class Result(Protocol):
    """A result record: it knows its own JSON form."""

    def to_dict(self) -> dict[str, Any]: ...


def as_request(cls: type[R], request: R | str | None, options: dict[str, Any]) -> R:
    """The request record a call means: `engine.search("q", k=5)` builds one from the
    first argument (None: the record's defaults) and the keywords; a record passed
    whole takes no keywords beside it (they would be silently ignored)."""
    if isinstance(request, cls):
        if options:
            raise BadRequest(f"pass {', '.join(sorted(options))} inside the {cls.__name__}")
        return request
    make: Callable[..., R] = cls
    return make(**options) if request is None else make(request, **options)


def request_to_dict(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Filters):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = [v.__dict__ if isinstance(v, Liked) else v for v in value]
        out[f.name] = value.value if isinstance(value, StrEnum) else value
    return out


@dataclass
class Response:
    """The one envelope every answer comes in: the request as understood, the results,
    and notes (how the results were ordered, what a cold start ranked by)."""

    request: Request
    results: Sequence[Result]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request": request_to_dict(self.request),
            "results": [r.to_dict() for r in self.results],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out
