"""The HTTP API: thin handlers over one Engine, loaded once at start-up.

Every handler is one engine call; errors are turned into
`{"error": code, "detail": message}` with the right status in one place
(`_error_handlers`), and no traceback ever reaches a client.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures
# at run time to build its dependencies and parameters.
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .engine import Engine
from .errors import (
    BadRequest,
    IndexCorrupt,
    IndexNotFound,
    ModelMismatch,
    SearchEngineError,
    UnknownId,
)
from .parse import ParseResult, parse_json, parse_jsonl, parse_text
from .serialize import (
    add_report_to_dict,
    article_to_dict,
    cluster_to_dict,
    hit_to_dict,
    iso_date,
    parse_error_to_dict,
    related_to_dict,
)
from .store import Filters

log = logging.getLogger("searchengine.api")
WEB = Path(__file__).parent / "web"
DEFAULT_MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    """What the server needs: which index, the write key, the body limit."""

    index: Path
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    model: str | None = None

    @classmethod
    def resolve(
        cls,
        index: str | Path | None = None,
        api_key: str | None = None,
        max_body_bytes: int | None = None,
        model: str | None = None,
    ) -> "ApiSettings":
        from .settings import Settings

        base = Settings.resolve(index, model)
        limit = max_body_bytes or int(os.environ.get("SEARCHENGINE_MAX_BODY", DEFAULT_MAX_BODY))
        return cls(
            index=base.index,
            api_key=api_key or os.environ.get("SEARCHENGINE_API_KEY") or None,
            max_body_bytes=limit,
            model=base.model,
        )


class ApiError(Exception):
    """An HTTP error with a machine-readable code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _json_error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


class LikedItem(BaseModel):
    id: str
    weight: float = Field(1.0, gt=0)


class RecommendBody(BaseModel):
    liked: list[str | LikedItem] = []
    disliked: list[str] = []
    k: int = Field(10, ge=1, le=100)
    strategy: Literal["best", "average"] = "best"
    diversity: float = Field(0.3, ge=0, le=1)
    half_life_days: float | None = Field(None, gt=0)


class SimilarBody(BaseModel):
    text: str = Field(min_length=1, max_length=20000)
    k: int = Field(10, ge=1, le=100)


class EngineHolder:
    """The engine, once loaded (loading happens in the background at start-up)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.engine: Engine | None = None
        self.error: str | None = None
        self.ready = threading.Event()

    def load(self) -> None:
        try:
            engine = Engine.open(self.settings.index, model=self.settings.model)
            engine.encoder  # noqa: B018 - load the model now, not on the first query
            self.engine = engine
        except (SearchEngineError, OSError) as err:
            self.error = str(err)
            log.error("index not loaded: %s", err)
        finally:
            self.ready.set()

    def get(self) -> Engine:
        if self.engine is None:
            raise ApiError(
                503, "not_ready", self.error or "the index is still loading; retry shortly"
            )
        return self.engine


def get_engine(request: Request) -> Engine:
    """The loaded engine, or 503 while it is not."""
    holder: EngineHolder = request.app.state.holder
    return holder.get()


EngineDep = Annotated[Engine, Depends(get_engine)]


def create_app(
    settings: ApiSettings | None = None,
    engine: Engine | None = None,
    load_in_background: bool = True,
) -> FastAPI:
    """The app. Pass `engine` to serve an already open one (tests); otherwise the
    index in `settings` is opened at start-up, in the background so /health
    answers (503) while it loads."""
    settings = settings or ApiSettings.resolve()
    holder = EngineHolder(settings)
    if engine is not None:
        holder.engine = engine
        holder.ready.set()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if holder.engine is None and not holder.ready.is_set():
            if load_in_background:
                threading.Thread(target=holder.load, daemon=True).start()
            else:
                holder.load()
        yield
        if holder.engine is not None and engine is None:
            holder.engine.close()

    app = FastAPI(
        title="searchengine",
        version=__version__,
        description="Semantic search, related stories and recommendations over news story clusters.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    _error_handlers(app)

    def require_key(request: Request) -> None:
        if not settings.api_key:
            raise ApiError(
                403,
                "writes_disabled",
                "writes are disabled: start the server with SEARCHENGINE_API_KEY set, and send "
                "'Authorization: Bearer <key>'",
            )
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <key>' to write")
        if not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
            raise ApiError(401, "unauthorized", "the API key is not valid")

    # --- reads ------------------------------------------------------------------

    @app.get("/health", tags=["meta"])
    def health() -> JSONResponse:
        if holder.engine is None:
            state = "error" if holder.error else "loading"
            return JSONResponse(
                {"status": state, "ready": False, "detail": holder.error}, status_code=503
            )
        return JSONResponse(
            {"status": "ok", "ready": True, "generation": holder.engine.store.generation}
        )

    @app.get("/stats", tags=["meta"])
    def stats(engine: EngineDep) -> dict[str, Any]:
        return engine.stats()

    @app.get("/search", tags=["search"])
    def search(
        engine: EngineDep,
        q: Annotated[str, Query(description="keywords or a question")] = "",
        k: int = 10,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        source: Annotated[list[str] | None, Query()] = None,
        entity: Annotated[list[str] | None, Query()] = None,
        sentiment: Literal["positive", "negative", "neutral", "mixed"] | None = None,
        kind: Literal["clusters", "articles"] = "clusters",
    ) -> dict[str, Any]:
        """Ranked clusters (or articles) with the passages that matched, as the CLI's --json."""
        query = q.strip()
        if not query:
            raise BadRequest("q: the query is empty")
        if len(query) > 1000:
            raise BadRequest("q: the query is longer than 1000 characters")
        if not 1 <= k <= 100:
            raise BadRequest(f"k must be between 1 and 100, not {k}")
        filters = Filters(
            date_from=iso_date(date_from, "from"),
            date_to=iso_date(date_to, "to"),
            sources=tuple(s for s in source or () if s),
            entities=tuple(e for e in entity or () if e),
            sentiment=sentiment,
        )
        hits = engine.search(query, k=k, mode=mode, filters=filters, kind=kind)
        return {
            "query": query,
            "mode": mode,
            "kind": kind,
            "results": [hit_to_dict(h) for h in hits],
        }

    @app.get("/clusters/{cluster_id}", tags=["records"])
    def get_cluster(cluster_id: str, engine: EngineDep) -> dict[str, Any]:
        cluster, article = engine.get(cluster_id)
        if article is not None:
            raise UnknownId(f"no cluster with id {cluster_id} (it is an article)")
        return cluster_to_dict(cluster)

    @app.get("/articles/{article_id}", tags=["records"])
    def get_article(article_id: str, engine: EngineDep) -> dict[str, Any]:
        cluster, article = engine.get(article_id)
        if article is None:
            raise UnknownId(f"no article with id {article_id} (it is a cluster)")
        return article_to_dict(article, cluster)

    def related_filters(
        date_from: str | None, date_to: str | None, source: list[str] | None
    ) -> Filters:
        return Filters(
            date_from=iso_date(date_from, "from"),
            date_to=iso_date(date_to, "to"),
            sources=tuple(source or ()),
        )

    @app.get("/clusters/{cluster_id}/related", tags=["related"])
    def cluster_related(
        cluster_id: str,
        engine: EngineDep,
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        source: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        get_cluster(cluster_id, engine)  # 404 for an article id here
        stories = engine.related(
            cluster_id, k=k, filters=related_filters(date_from, date_to, source)
        )
        return {"id": cluster_id, "results": [related_to_dict(s) for s in stories]}

    @app.get("/articles/{article_id}/related", tags=["related"])
    def article_related(
        article_id: str,
        engine: EngineDep,
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        date_from: Annotated[str | None, Query(alias="from")] = None,
        date_to: Annotated[str | None, Query(alias="to")] = None,
        source: Annotated[list[str] | None, Query()] = None,
        include_own_cluster: bool = False,
    ) -> dict[str, Any]:
        get_article(article_id, engine)
        stories = engine.related(
            article_id,
            k=k,
            filters=related_filters(date_from, date_to, source),
            include_own_cluster=include_own_cluster,
        )
        return {"id": article_id, "results": [related_to_dict(s) for s in stories]}

    @app.get("/clusters/{cluster_id}/thread", tags=["related"])
    def cluster_thread(cluster_id: str, engine: EngineDep) -> dict[str, Any]:
        get_cluster(cluster_id, engine)
        return {"id": cluster_id, "thread": [related_to_dict(s) for s in engine.thread(cluster_id)]}

    @app.post("/similar", tags=["related"])
    def similar(body: SimilarBody, engine: EngineDep) -> dict[str, Any]:
        return {"results": [related_to_dict(s) for s in engine.similar(body.text, k=body.k)]}

    @app.post("/recommend", tags=["related"])
    def recommend(body: RecommendBody, engine: EngineDep) -> dict[str, Any]:
        liked = [(x, 1.0) if isinstance(x, str) else (x.id, x.weight) for x in body.liked]
        stories = engine.recommend(
            liked=liked,
            disliked=body.disliked,
            k=body.k,
            strategy=body.strategy,
            diversity=body.diversity,
            half_life_days=body.half_life_days,
        )
        return {"results": [related_to_dict(s) for s in stories]}

    # --- writes -------------------------------------------------------------------

    @app.post("/documents", tags=["write"], dependencies=[Depends(require_key)])
    async def add_documents(request: Request) -> JSONResponse:
        """Ingest digest text (text/plain) or JSON / JSONL records."""
        body = await _read_limited(request, settings.max_body_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the body is not UTF-8 text") from None
        if not text.strip():
            raise BadRequest("the body is empty")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        result = _parse_body(text, content_type)
        engine = holder.get()
        from starlette.concurrency import run_in_threadpool

        report = await run_in_threadpool(engine.add, result.clusters)
        status = 200 if not result.errors else 207 if result.clusters else 400
        return JSONResponse(
            {
                **add_report_to_dict(report),
                "errors": [parse_error_to_dict(e) for e in result.errors],
            },
            status_code=status,
        )

    @app.delete("/clusters/{cluster_id}", tags=["write"], dependencies=[Depends(require_key)])
    def delete_cluster(cluster_id: str, engine: EngineDep) -> dict[str, Any]:
        return {"removed": engine.remove([cluster_id])}

    # --- the search page ------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(text: str, content_type: str) -> ParseResult:
    source = "request body"
    if content_type in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return parse_jsonl(text, source)
    if content_type == "application/json":
        return parse_json(text, source)
    return parse_text(text, source)


def _error_handlers(app: FastAPI) -> None:
    """The one place where exceptions become HTTP answers."""
    statuses: list[tuple[type[Exception], int, str]] = [
        (UnknownId, 404, "not_found"),
        (BadRequest, 400, "bad_request"),
        (IndexNotFound, 503, "not_ready"),
        (IndexCorrupt, 503, "index_corrupt"),
        (ModelMismatch, 503, "model_mismatch"),
    ]
    for exc_type, status, code in statuses:

        def handler(
            request: Request, exc: Exception, status: int = status, code: str = code
        ) -> JSONResponse:
            return _json_error(status, code, str(exc))

        app.add_exception_handler(exc_type, handler)

    @app.exception_handler(ApiError)
    def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(
                str(x) for x in err.get("loc", ()) if x not in ("query", "body", "path")
            )
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _json_error(400, "bad_request", "; ".join(parts) or "bad request")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json_error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json_error(500, "internal_error", "unexpected error; the server log has details")
