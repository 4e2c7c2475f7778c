"""The HTTP endpoints: each builds one request record (the same one the CLI builds)
and makes one engine call. Errors are raised, never formatted here: `api.py`
turns them into answers."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.
import hmac
import json
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationInfo, field_validator

import searchengine.http.models as m
from searchengine.core.contract import (
    DEFAULT_DIVERSITY,
    DEFAULT_K,
    MAX_HALF_LIFE_DAYS,
    MAX_K,
    MAX_QUERY_CHARS,
    MAX_SIMILAR_CHARS,
    MIN_K,
    NOT_BLANK,
    Filters,
    Kind,
    Liked,
    Mode,
    RecommendRequest,
    RelatedRequest,
    SearchRequest,
    Sentiment,
    SimilarRequest,
    Sort,
    Strategy,
    ThreadRequest,
)
from searchengine.core.dates import DATE_FORMS, DATE_PATTERN
from searchengine.core.documents import Article, Cluster, record_to_dict
from searchengine.engine import Engine
from searchengine.errors import Unauthorized, UnknownId, WritesDisabled

router = APIRouter()
WEB = Path(__file__).parent / "web"


def as_json(data: Any, status_code: int = 200) -> Response:
    """The engine's JSON, written once: a returned dict would go through FastAPI's
    `jsonable_encoder`, a Python walk of every field (~1 ms for a search answer)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json", status_code=status_code)


def get_engine(request: Request) -> Engine:
    """The loaded engine, or 503 while it is not."""
    return request.app.state.holder.get()  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
K = Annotated[int, Query(ge=MIN_K, le=MAX_K, description="number of results")]
DateFrom = Annotated[
    str | None,
    Query(alias="from", description=f"on or after: {DATE_FORMS}", pattern=DATE_PATTERN),
]
DateTo = Annotated[
    str | None, Query(alias="to", description=f"on or before: {DATE_FORMS}", pattern=DATE_PATTERN)
]
# Lists default to empty, not null: a query string has no null, and a schema that
# allows one makes any value (`source=false`) ambiguous.
Sources = Annotated[list[str], Query(description="source host (repeatable: any)")]


# Documents the scheme in /openapi.json (and /docs' "Authorize"); the checks are ours.
bearer = HTTPBearer(auto_error=False, description="the server's SEARCHENGINE_API_KEY")


def require_key(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Writes need `Authorization: Bearer <key>` matching the server's key."""
    key = request.app.state.settings.api_key
    if not key:
        raise WritesDisabled(
            "writes (and reading alerts) are disabled: start the server with "
            "SEARCHENGINE_API_KEY set, and send 'Authorization: Bearer <key>'",
        )
    scheme, _space, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <key>' to write")
    if not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise Unauthorized("the API key is not valid")


# --- meta -------------------------------------------------------------------------


@router.get(
    "/health",
    tags=["meta"],
    response_model=None,
    responses={200: {"model": m.Health}},
)
def health(request: Request) -> JSONResponse:
    """Ready or not (503 while loading, or with the reason it failed), and the generation."""
    holder = request.app.state.holder
    if holder.engine is None:
        state = "error" if holder.error else "loading"
        return JSONResponse(
            {"status": state, "ready": False, "detail": holder.error}, status_code=503
        )
    return JSONResponse(
        {
            "status": "ok",
            "ready": True,
            "generation": holder.engine.generation(),
            "pid": os.getpid(),  # which worker answered, with `serve --workers N`
            # The in-memory copy searches use once it is at the current generation.
            "memory": holder.engine.folder.memory_state(),
        }
    )


@router.get(
    "/stats",
    tags=["meta"],
    response_model=None,
    responses={200: {"model": m.Stats}},
)
def stats(engine: EngineDep) -> Response:
    return as_json(engine.stats())


# --- search ---------------------------------------------------------------------------

Q = Annotated[
    str,
    Query(
        description='keywords or a question; "quoted phrases" must appear, -word or NOT '
        'word excludes, OR joins quoted alternatives ("peace plan" OR ceasefire -Gaza)',
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=NOT_BLANK,  # not only spaces
    ),
]


def search_filters(
    date_from: DateFrom = None,
    date_to: DateTo = None,
    source: Sources = [],  # noqa: B006 - FastAPI copies defaults
    entity: Annotated[list[str], Query(description="entity (repeatable: all)")] = [],  # noqa: B006
    sentiment: Sentiment | None = None,
) -> Filters:
    """The filters /search and /facets share, validated and normalised."""
    return Filters.build(date_from, date_to, source, entity, sentiment)


SearchFilters = Annotated[Filters, Depends(search_filters)]


@router.get(
    "/search",
    tags=["search"],
    response_model=None,
    responses={200: {"model": m.SearchAnswer}},
)
def search(
    engine: EngineDep,
    q: Q,
    filters: SearchFilters,
    k: K = DEFAULT_K,
    mode: Mode = Mode.HYBRID,
    kind: Kind = Kind.CLUSTERS,
    min_relevance: Annotated[
        float | None,
        Query(
            ge=0,
            le=1,
            description="drop hits whose relevance is under this (default: keep them, "
            "those under the engine's cut-off marked weak)",
        ),
    ] = None,
    half_life_days: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_HALF_LIFE_DAYS,
            description="favour fresh stories: relevance x 0.5^(age / half-life), the age "
            "counted back from the newest story (or fresh_from); undated count as the oldest",
        ),
    ] = None,
    fresh_from: Annotated[
        str | None,
        Query(description=f"count ages back from this date: {DATE_FORMS}", pattern=DATE_PATTERN),
    ] = None,
    sort: Annotated[
        Sort, Query(description="relevance, or date: strong matches newest first")
    ] = Sort.RELEVANCE,
    collapse: Annotated[
        bool,
        Query(description="one result per story; the same story's other hits under `more`"),
    ] = False,
) -> Response:
    """Ranked clusters (or articles) with the passages that matched, as the CLI's --json.
    Each hit has a calibrated `relevance`; when none is strong, `notes` says so."""
    request = SearchRequest(
        q,
        k=k,
        mode=mode,
        kind=kind,
        filters=filters,
        min_relevance=min_relevance,
        half_life_days=half_life_days,
        fresh_from=fresh_from,
        sort=sort,
        collapse=collapse,
    )
    return as_json(engine.answer(request).to_dict())


@router.get(
    "/facets",
    tags=["search"],
    response_model=None,
    responses={200: {"model": m.FacetsAnswer}},
)
def facets(
    engine: EngineDep,
    q: Q,
    filters: SearchFilters,
    mode: Mode = Mode.HYBRID,
    kind: Kind = Kind.CLUSTERS,
) -> Response:
    """How many of a search's strong hits (among its first 100) name each source and
    entity, have each prevailing sentiment and fall on each date: what a results page
    offers to filter by (each value is a valid filter of /search)."""
    request = SearchRequest(q, mode=mode, kind=kind, filters=filters)
    return as_json(engine.queries.facets(request))


# --- related stories ------------------------------------------------------------------


@router.get(
    "/clusters/{cluster_id:path}/related",
    tags=["related"],
    response_model=None,
    responses={200: {"model": m.StoriesAnswer}},
)
def cluster_related(
    cluster_id: str,
    engine: EngineDep,
    k: K = DEFAULT_K,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    source: Sources = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    _cluster(cluster_id, engine)  # 404 for an article id here
    request = RelatedRequest(cluster_id, k=k, filters=Filters.build(date_from, date_to, source))
    return as_json(engine.answer(request).to_dict())


@router.get(
    "/articles/{article_id:path}/related",
    tags=["related"],
    response_model=None,
    responses={200: {"model": m.StoriesAnswer}},
)
def article_related(
    article_id: str,
    engine: EngineDep,
    k: K = DEFAULT_K,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    source: Sources = [],  # noqa: B006 - FastAPI copies defaults
    include_own_cluster: bool = False,
) -> Response:
    _article(article_id, engine)
    request = RelatedRequest(
        article_id,
        k=k,
        filters=Filters.build(date_from, date_to, source),
        include_own_cluster=include_own_cluster,
    )
    return as_json(engine.answer(request).to_dict())


@router.get(
    "/clusters/{cluster_id:path}/coverage",
    tags=["news"],
    response_model=None,
    responses={200: {"model": m.CoverageAnswer}},
)
def cluster_coverage(cluster_id: str, engine: EngineDep) -> Response:
    """Which outlets covered a story, each article's tone, sentiment and intent, their
    spread per publisher, and along the story's thread, day by day."""
    _cluster(cluster_id, engine)
    return as_json(engine.news.coverage(cluster_id))


@router.get(
    "/front",
    tags=["news"],
    response_model=None,
    responses={200: {"model": m.FrontAnswer}},
)
def front(engine: EngineDep) -> Response:
    """What the page shows before a search: the most widely covered stories of the
    index's last days, and its newest days' stories, each with how widely covered."""
    return as_json(engine.news.front())


@router.get(
    "/entities/{name:path}",
    tags=["news"],
    response_model=None,
    responses={200: {"model": m.EntityAnswer}},
)
def entity(name: str, engine: EngineDep) -> Response:
    """An entity's stories over time (accent- and case-insensitive, as the entity
    filter), the entities named with it, and its articles' sentiment per period."""
    return as_json(engine.news.entity(name))


@router.get(
    "/clusters/{cluster_id:path}/thread",
    tags=["related"],
    response_model=None,
    responses={200: {"model": m.StoriesAnswer}},
)
def cluster_thread(cluster_id: str, engine: EngineDep) -> Response:
    _cluster(cluster_id, engine)
    return as_json(engine.answer(ThreadRequest(cluster_id)).to_dict())


class _Body(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`"k": true` or `"diversity": false` is an error, not 1 or 0 (pydantic's lax
        mode would coerce; strict mode would also refuse `10.0`, a JSON integer)."""
        declared = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and declared is not None and declared.annotation is not bool:
            raise ValueError("a number, not true or false")
        return value


class SimilarBody(_Body):
    text: str = Field(min_length=1, max_length=MAX_SIMILAR_CHARS, pattern=NOT_BLANK)
    k: int = Field(DEFAULT_K, ge=MIN_K, le=MAX_K)


@router.post(
    "/similar",
    tags=["related"],
    response_model=None,
    responses={200: {"model": m.StoriesAnswer}},
)
def similar(body: SimilarBody, engine: EngineDep) -> Response:
    return as_json(engine.answer(SimilarRequest(body.text, k=body.k)).to_dict())


class LikedItem(_Body):
    id: str
    weight: float = Field(1.0, gt=0)


class RecommendBody(_Body):
    liked: list[str | LikedItem] = []
    disliked: list[str] = []
    k: int = Field(DEFAULT_K, ge=MIN_K, le=MAX_K)
    strategy: Strategy = Strategy.BEST
    diversity: float = Field(DEFAULT_DIVERSITY, ge=0, le=1)
    half_life_days: float | None = Field(None, gt=0)


@router.post(
    "/recommend",
    tags=["related"],
    response_model=None,
    responses={200: {"model": m.StoriesAnswer}},
)
def recommend(body: RecommendBody, engine: EngineDep) -> Response:
    request = RecommendRequest(
        liked=tuple(Liked(x) if isinstance(x, str) else Liked(x.id, x.weight) for x in body.liked),
        disliked=tuple(body.disliked),
        k=body.k,
        strategy=body.strategy,
        diversity=body.diversity,
        half_life_days=body.half_life_days,
    )
    return as_json(engine.answer(request).to_dict())


# --- records (registered after .../related and .../thread: a `path` id, which may hold
# a "/", would otherwise swallow those suffixes) ---


@router.get(
    "/clusters/{cluster_id:path}",
    tags=["records"],
    response_model=None,
    responses={200: {"model": m.ClusterRecord}},
)
def get_cluster(cluster_id: str, engine: EngineDep) -> Response:
    return as_json(record_to_dict(_cluster(cluster_id, engine)))


def _cluster(cluster_id: str, engine: Engine) -> Cluster:
    """The cluster, or 404 (also for an article's id)."""
    cluster, article = engine.get(cluster_id)
    if article is not None:
        raise UnknownId(f"no cluster with id {cluster_id} (it is an article)")
    return cluster


@router.get(
    "/articles/{article_id:path}",
    tags=["records"],
    response_model=None,
    responses={200: {"model": m.ArticleRecord}},
)
def get_article(article_id: str, engine: EngineDep) -> Response:
    return as_json(record_to_dict(*_article(article_id, engine)))


def _article(article_id: str, engine: Engine) -> tuple[Cluster, Article]:
    """The article with its cluster, or 404 (also for a cluster's id)."""
    cluster, article = engine.get(article_id)
    if article is None:
        raise UnknownId(f"no article with id {article_id} (it is a cluster)")
    return cluster, article


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html")
