"""The HTTP API: the app, its settings, the engine it serves, and the one place
where errors become HTTP answers (each error class carries its status, errors.py). The endpoints live in `routes.py`.

Every error is `{"error": code, "detail": message}` with the status from the
table; no traceback ever reaches a client.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures
# at run time to build its dependencies and parameters.
import errno
import logging
import secrets
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from searchengine._version import __version__
from searchengine.core.dates import user_date, user_time
from searchengine.engine import Engine
from searchengine.environment import environment
from searchengine.errors import (
    BadRequest,
    IndexNotFound,
    NotReady,
    PortTaken,
    SearchEngineError,
    disk_full,
)
from searchengine.http.guard import BodyGuard, GuardedHttpTools
from searchengine.http.models import ErrorBody
from searchengine.http.routes import WEB, router
from searchengine.http.routes_write import router as write_router
from searchengine.limits import DEADLINES
from searchengine.news.webhooks import check as check_webhook

log = logging.getLogger("searchengine.http.app")
# Large enough for a day's digest in one request (the seed corpus is ~200 KB),
# small enough that one client cannot hold a worker's memory hostage.
DEFAULT_MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    """What the server needs: which index, the write key, the body limit."""

    index: "Path | str"  # a folder, or a Milvus URI (backend.py)
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    model: str | None = None

    @classmethod
    def resolve(
        cls,
        index: "str | Path | None" = None,
        api_key: str | None = None,
        max_body_bytes: int | None = None,
        model: str | None = None,
    ) -> "ApiSettings":
        from searchengine.settings import Settings

        base = Settings.resolve(index, model)
        env = environment()
        return cls(
            index=base.index,
            api_key=api_key or env.api_key or None,
            max_body_bytes=max_body_bytes or env.max_body or DEFAULT_MAX_BODY,
            model=base.model,
        )


class EngineHolder:
    """The engine, once loaded (loading happens in the background at start-up), or
    the reason it could not be."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.engine: Engine | None = None
        self.error: str | None = None
        self.ready = threading.Event()

    def load(self) -> None:
        try:
            engine = Engine.open(self.settings.index, model=self.settings.model)
            engine.serve_mode()
            self.engine = engine
        except SearchEngineError as err:
            self.error = str(err)
            log.error("index not loaded: %s", err)
        except Exception as err:  # noqa: BLE001 - whatever it was, /health must say so
            self.error = f"{type(err).__name__}: {err}"
            log.exception("index not loaded")
        finally:
            self.ready.set()

    def get(self) -> Engine:
        if self.engine is None:
            raise NotReady(self.error or "the index is still loading; retry shortly")
        return self.engine


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

    # Swagger UI and ReDoc from the fastapi-offline package, not a CDN: /docs works
    # on a machine without internet (it was a blank page).
    app = FastAPIOffline(
        title="searchengine",
        version=__version__,
        description="Semantic search, related stories and recommendations over news story clusters.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyGuard, limit=settings.max_body_bytes)  # every route
    app.state.holder = holder
    app.state.settings = settings
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _error_handlers(app)
    app.include_router(router)
    app.include_router(write_router)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


def serve(
    settings: ApiSettings,
    host: str,
    port: int,
    log_level: str = "info",
    workers: int = 1,
    access_log: bool = False,
    header_timeout: float = DEADLINES.headers,
) -> int:
    """Run the server (blocking); a missing index is an error before the port opens.
    With several workers, each is its own process with its own engine over the one
    index folder (they see each other's writes: see folder.py). The settings reach the
    workers inside uvicorn's config, which is pickled to each spawned process (they
    were written into `os.environ` for the workers to read back). A taken port is
    `PortTaken` (exit 3) before anything is printed; 3 is also returned when the server
    could not start for another reason, as uvicorn's own command does."""
    import functools

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from searchengine.backends.index import location, open_existing

    found = open_existing(location(settings.index), settings.model)  # unreachable: one line
    if found is None:
        raise IndexNotFound(
            f"no index at {settings.index}; build one with "
            f"`searchengine index --index {settings.index} PATH...`"
        )
    found.close()
    check_port(host, port)
    writes = "enabled" if settings.api_key else "disabled (set SEARCHENGINE_API_KEY to enable)"
    print(
        f"serving {settings.index} at http://{host}:{port}/  (writes {writes}; "
        f"{workers} worker{'s' if workers != 1 else ''})",
        flush=True,
    )
    config = uvicorn.Config(
        create_app(settings) if workers == 1 else functools.partial(create_app, settings),
        factory=workers > 1,  # each worker builds its own app (and engine) from `settings`
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        workers=workers,
        http=GuardedHttpTools,
    )
    config.header_timeout = header_timeout  # type: ignore[attr-defined]  # GuardedHttpTools
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 3
    Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0


def check_port(host: str, port: int) -> None:
    """PortTaken unless `host:port` can be listened on now. A server started on a taken
    port printed "serving at ..." and then exited 3 with a uvicorn log line; now the
    one line says which address and what to do. (Another process may still take the
    port in the moment between this check and the server's bind: uvicorn then exits 3.)"""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as err:
        raise PortTaken(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            taken = err.errno == errno.EADDRINUSE
            why = "is taken (another server?)" if taken else f"cannot be used: {err.strerror}"
            raise PortTaken(f"port {port} on {host} {why}; choose another with --port") from None


# The errors every operation may answer, and those only some do (see `_openapi`).
_ERRORS = {
    "400": "a parameter or body out of range or malformed",
    "408": "the request body arrived too slowly",
    "413": "the body is over the server's --max-body",
    "503": "the index is not loaded (yet, or it failed: the detail says why)",
}
_WRITE_ERRORS = {
    "401": "no or a wrong API key",
    "403": "writes are disabled on this server",
    "507": "the disk under the index is full: nothing of the write was kept",
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the errors this API really sends: `{error, detail}` with
    400 (FastAPI documents a 422 we never send), 404 for ids, 401/403 for writes."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    error = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            extra = dict(_ERRORS)
            if "{" in path or path == "/recommend":
                extra["404"] = "no cluster or article with that id"
            if operation.get("security"):
                extra.update(_WRITE_ERRORS)
            if path == "/documents":
                extra["415"] = "a Content-Type other than those of the request body"
            if path == "/searches" and operation.get("security"):
                extra["403"] = (
                    "writes are disabled, or the webhook is an address this server does not "
                    "call (webhook_refused: private, loopback, link-local, metadata)"
                )
            for status, text in extra.items():
                responses.setdefault(status, {"description": text, **error})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


# The endpoints in routing order (the app includes the routers in this order).
_ROUTES = [*router.routes, *write_router.routes]


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the path the request names: the first route whose pattern matches
    (routing order decides, as for the request itself), with every route of that same
    pattern (GET and DELETE on one path are two routes: Starlette's 405 names one)."""
    path = request.url.path
    pattern = next(
        (
            getattr(r, "path", None)
            for r in _ROUTES
            if getattr(r, "path_regex", None) and r.path_regex.match(path)  # type: ignore[attr-defined]
        ),
        None,
    )
    methods: set[str] = set()
    for route in _ROUTES:
        if getattr(route, "path", None) == pattern:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _pattern_reason(err: dict[str, Any], where: str) -> str | None:
    """A date or a webhook the schema's pattern refused, said as the engine says it
    (`user_date`: "is ambiguous: 1 September 2026 or 9 January 2026?"; `webhooks.check`:
    "is 169.254.169.254, a link-local address"), not as a regular expression."""
    if err.get("type") != "string_pattern_mismatch":
        return None
    value = str(err.get("input"))
    try:
        if where in ("from", "to", "fresh_from"):
            user_date(value, where)
        elif where == "since":
            user_time(value, where)
        elif where == "webhook":
            check_webhook(value)
            return (
                f"webhook: {value!r}: an http(s) URL whose host is letters, digits, dots "
                "and hyphens (or an address), with a port of 1-65535 if any"
            )
    except BadRequest as refused:
        return str(refused)
    return None


def _json_error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def _error_handlers(app: FastAPI) -> None:
    """The one place where exceptions become HTTP answers."""

    @app.exception_handler(SearchEngineError)
    def engine_error(request: Request, exc: SearchEngineError) -> JSONResponse:
        return _json_error(exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(
                str(x) for x in err.get("loc", ()) if x not in ("query", "body", "path")
            )
            parts.append(
                _pattern_reason(err, where)
                or (f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
            )
        return _json_error(400, "bad_request", "; ".join(parts) or "bad request")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 408: "timeout", 413: "too_large"}
        code = codes.get(exc.status_code, "http_error")
        answer = _json_error(exc.status_code, code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:  # every method the path has, not just one route's
            answer.headers["Allow"] = ", ".join(_allowed_methods(request))
        return answer

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        full = disk_full(exc, "the index")
        if full is not None:  # (a file write outside a transaction: its reason, not a 500)
            return _json_error(full.status, full.code, str(full))
        # A bug, not the client's mistake: its traceback goes to the log under an id
        # the answer gives, so a report can be matched with it.
        error_id = secrets.token_hex(6)
        # (exc_info=exc: the handler runs outside the `except`, where log.exception
        # logged "NoneType: None" instead of the traceback.)
        log.error(
            "unexpected error %s on %s %s",
            error_id,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        answer = _json_error(
            500, "internal_error", f"unexpected error {error_id}; the server log has details"
        )
        answer.headers["X-Error-Id"] = error_id
        return answer
