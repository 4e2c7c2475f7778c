"""The HTTP API's answers as typed schemas, for `/openapi.json` and `/docs`.

The routes return the engine's own JSON (`to_dict()`, the CLI's `--json`); these
models describe it (the engine's dataclasses themselves, where their JSON is just
their fields), and are declared as the documented responses,
not as `response_model`: a search answer is not re-validated on every request (the
hot path), and Schemathesis checks in CI that every answer conforms
(`tests/test_api_schema.py`).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The engine's own records where their JSON is their fields (`to_dict` adds nothing):
# pydantic reads their schemas from the dataclasses, so the two cannot drift apart.
from searchengine.core.documents import Article
from searchengine.core.hits import MatchedPassage
from searchengine.stories.related import RelatedStory


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error: a machine-readable code and a message that says what to do."""

    error: str = Field(description="not_found, bad_request, too_large, unauthorized, ...")
    detail: str | None = None


class FiltersEcho(_Open):
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    sources: list[str] = []
    entities: list[str] = []
    sentiment: str | None = None


class CollapsedHit(BaseModel):
    id: str
    cluster_id: str
    date: str | None
    title: str
    relevance: float = Field(ge=0, le=1)


class SearchHit(BaseModel):
    id: str
    kind: str = Field(description="cluster or article")
    cluster_id: str
    date: str | None
    title: str
    sources: dict[str, int]
    score: float = Field(description="the ranking score: orders this query's hits, no more")
    relevance: float = Field(
        ge=0, le=1, description="the chance a reader judges this hit relevant (calibrated)"
    )
    weak: bool = Field(description="relevance under the engine's cut-off: a weaker match")
    passages: list[MatchedPassage]
    publisher: str | None = None
    freshness: float | None = Field(
        None, ge=0, le=1, description="0.5^(age / half-life), when half_life_days was given"
    )
    more: list[CollapsedHit] | None = Field(
        None, description="with collapse: the same story's other hits, in order"
    )


class _Envelope(BaseModel):
    request: dict[str, Any] = Field(description="the request as the engine understood it")
    notes: list[str] | None = None


class SearchAnswer(_Envelope):
    results: list[SearchHit]


class FacetValue(BaseModel):
    value: str = Field(description="a value /search takes as a filter")
    count: int = Field(ge=0, description="how many hits have it")


class Facets(BaseModel):
    sources: list[FacetValue]
    entities: list[FacetValue]
    sentiment: list[FacetValue]
    dates: list[FacetValue] = Field(description="per day, in date order")


class FacetsAnswer(BaseModel):
    request: dict[str, Any] = Field(description="the request as the engine understood it")
    hits: int = Field(ge=0, description="the strong hits counted")
    facets: Facets


class StoriesAnswer(_Envelope):
    """A related, similar, thread or recommended list."""

    results: list[RelatedStory]


class ClusterRecord(BaseModel):
    id: str
    date: str | None
    title: str
    summary: str
    sources: dict[str, int]
    number: int | None
    image_prompt: str | None
    key_points: list[str]
    articles: list[Article]
    origin: str | None
    extra: dict[str, Any]
    entities: list[str]


class ArticleRecord(BaseModel):
    """An article with its cluster's id, title and date (`documents.record_to_dict`)."""

    id: str
    title: str
    summary: str
    publisher: str | None
    section: str | None
    entities: list[str]
    tone: str | None
    sentiment: str | None
    intent: str | None
    cluster_id: str
    cluster_title: str
    date: str | None


class RecordError(BaseModel):
    source: str
    line: int = Field(description="the line in the body (or the record's position in an array)")
    reason: str


class IngestReport(_Open):
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    errors: list[RecordError]


class Removed(BaseModel):
    removed: list[str]


class Health(_Open):
    status: str = Field(description="ok, loading or error")
    ready: bool
    generation: int | None = None
    detail: str | None = None


class Stats(_Open):
    """One shape for both backends (backends/manifest.describe)."""

    clusters: int
    articles: int
    passages: int
    vectors: int
    generation: int
    index_type: str
    index_type_requested: str
    backend: str = Field(description="embedded (a folder) or milvus")
    parts: list[str] = Field(description="the index's files, or its Milvus collections")
    size_bytes: int | None = Field(description="on disk (None on Milvus: the server's disk)")
    checkpoint_generation: int | None = Field(
        description="the vector checkpoint's generation (None on Milvus: no checkpoint)"
    )
    model: str
    dimension: int
    encoder: dict[str, str]
    created_at: str
    updated_at: str
    format_version: int


class Spread(BaseModel):
    tone: dict[str, int]
    sentiment: dict[str, int]
    intent: dict[str, int]


class CoverageArticle(BaseModel):
    id: str
    title: str
    publisher: str | None
    tone: str | None
    sentiment: str | None
    intent: str | None


class PublisherCoverage(Spread):
    publisher: str
    articles: int


class OutletCount(BaseModel):
    outlet: str = Field(description="a host from the Sources line")
    count: int


class ThreadDay(BaseModel):
    date: str | None
    clusters: list[str]
    sources: int = Field(description="sum of the Sources counts of that day's clusters")
    outlets: int = Field(description="distinct hosts")
    articles: int
    sentiment: dict[str, int]


class CoverageAnswer(BaseModel):
    id: str
    date: str | None
    title: str
    sources: list[OutletCount]
    articles: list[CoverageArticle]
    publishers: list[PublisherCoverage]
    totals: Spread
    thread: list[ThreadDay] = Field(description="the story's thread, day by day")


class EntityPeriod(Spread):
    period: str = Field(description="YYYY-MM, or YYYY-MM-DD when `period` is day")
    articles: int


class EntityStory(BaseModel):
    id: str
    date: str | None
    title: str
    articles: int = Field(description="its articles naming the entity")
    sentiment: dict[str, int]


class Companion(BaseModel):
    entity: str
    stories: int


class EntityAnswer(BaseModel):
    entity: str = Field(description="its commonest spelling")
    key: str = Field(description="accent- and case-folded: what matching uses")
    spellings: list[str]
    stories_total: int
    articles_total: int
    first: str | None
    last: str | None
    period: str = Field(description="day or month")
    timeline: list[EntityPeriod]
    companions: list[Companion]
    stories: list[EntityStory] = Field(description="newest first")
    asked: str | None = Field(
        None, description="the name asked, when no story names it alone (found inside `entity`)"
    )
    also: list[str] | None = Field(None, description="other names that hold the name asked")


class FrontStory(BaseModel):
    id: str
    date: str
    title: str
    outlets: int = Field(description="how many outlets covered it")
    sources: list[str] = Field(description="the outlets, most articles first")


class FrontDay(BaseModel):
    date: str
    stories: list[FrontStory] = Field(description="the most widely covered first")


class FrontAnswer(BaseModel):
    newest: str | None = Field(description="the newest story's date (None: nothing dated)")
    widest: list[FrontStory] = Field(description="the most widely covered of the last days")
    days: list[FrontDay] = Field(description="the newest days, newest first")


class SavedSearch(BaseModel):
    id: str
    query: str
    filters: dict[str, Any]
    min_relevance: float
    webhook: str | None
    created_at: str
    secret: str | None = Field(
        None,
        description="the key of its webhook deliveries' signatures: in the answer that "
        "saves it only, never again",
    )


class SavedSearches(BaseModel):
    results: list[SavedSearch]


class Alert(_Open):
    id: str
    search_id: str
    query: str
    cluster_id: str
    date: str | None
    title: str
    relevance: float
    matched_at: str
    delivery: str | None = Field(
        None, description="pending, delivered (status), failed: reason; null without a webhook"
    )


class Alerts(BaseModel):
    results: list[Alert]
    next_after: str | None = Field(
        description="pass as `after` for the next page (every alert comes exactly once)"
    )
