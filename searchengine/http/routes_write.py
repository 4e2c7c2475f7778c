"""The HTTP endpoints that write: ingest, delete, saved searches and their alerts. Each
needs the API key (`routes.require_key`); like every endpoint, each builds one request
record and makes one engine call."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

import searchengine.http.models as m
from searchengine.core.contract import (
    MAX_QUERY_CHARS,
    NOT_BLANK,
    Filters,
    Sentiment,
)
from searchengine.core.dates import DATE_FORMS, DATE_PATTERN, TIME_PATTERN
from searchengine.core.query_syntax import NO_WORD_PATTERN
from searchengine.errors import BadRequest, UnsupportedMediaType
from searchengine.http.record_schema import RECORDS
from searchengine.http.routes import EngineDep, _Body, as_json, require_key
from searchengine.ingest.parse import decode, parse_json, parse_jsonl, parse_text
from searchengine.ingest.result import ParseResult

router = APIRouter()


# --- writes -----------------------------------------------------------------------


DIGEST_EXAMPLE = """09-01-2026

Harbour Council Approves Ferry Plan

Date: 09-01-2026
Sources: example.com: 1
Image for cluster 1

Summary

The harbour council approved the ferry plan after a long debate.

Articles in this Cluster

Ferry plan approved | Local | Example News

Councillors backed the plan, which adds a ferry berth.
Entities: Harbour CouncilTone: neutralSentiment: positiveIntent: inform
"""

# What POST /documents reads (no Content-Type: told apart by the first character).
# JSON records have their rules in the schema (`record_schema.py`); digests and JSON
# Lines are text in a format a schema cannot state (DESIGN.md, "Input format"), read
# record by record: a text with no good record is 400, with its per-record report.
_DIGEST = {
    "type": "string",
    "minLength": 1,
    "pattern": NOT_BLANK,
    "description": "one or more daily digests (DESIGN.md's format)",
}
_LINES = {**_DIGEST, "description": "JSON Lines: one record (as for JSON) per line"}
INGEST_CONTENT: dict[str, Any] = {
    "text/plain": {"schema": _DIGEST, "example": DIGEST_EXAMPLE},
    "application/json": {"schema": RECORDS},
    "application/x-ndjson": {"schema": _LINES},
    "application/jsonl": {"schema": _LINES},
    "application/x-jsonlines": {"schema": _LINES},
}


@router.post(
    "/documents",
    tags=["write"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={
        200: {"model": m.IngestReport, "description": "every record indexed"},
        207: {"model": m.IngestReport, "description": "some records indexed; errors for the rest"},
        400: {
            "model": m.IngestReport | m.ErrorBody,
            "description": "nothing indexed: the report's errors say why",
        },
    },
    openapi_extra={"requestBody": {"required": True, "content": INGEST_CONTENT}},
)
async def add_documents(request: Request) -> JSONResponse:
    """Ingest digest text (text/plain) or JSON / JSONL records. Each bad record is an
    error in the answer (207) and costs only itself. Parsing and encoding run on
    worker threads: the event loop keeps answering other requests meanwhile."""
    body = await request.body()  # bounded by the app's max_body_size (413)
    if not body.strip():
        raise BadRequest("the body is empty")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in INGEST_CONTENT and content_type:
        raise UnsupportedMediaType(
            f"cannot ingest {content_type}; send one of {', '.join(INGEST_CONTENT)}",
        )
    result = await run_in_threadpool(_parse_body, body, content_type)
    if not result.clusters and not result.errors:  # (`[]`)
        raise BadRequest("the body holds no records")
    engine = request.app.state.holder.get()
    report = await run_in_threadpool(engine.add, result.clusters)
    status = 200 if not result.errors else 207 if result.clusters else 400
    return JSONResponse(
        {**report.to_dict(), "errors": [e.to_dict() for e in result.errors]},
        status_code=status,
    )


@router.delete(
    "/clusters/{cluster_id:path}",
    tags=["write"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={200: {"model": m.Removed}},
)
def delete_cluster(cluster_id: str, engine: EngineDep) -> Response:
    return as_json({"removed": engine.remove([cluster_id])})


# What the schema says of a webhook: http(s), a host (a name, an IPv4 address or a
# bracketed IPv6 one), a port that is a port. Whether the server may call it (public
# addresses only, unless allowed) is its policy: refused with 403 when saved and at
# every delivery (news/webhooks.py).
_PORT = r"([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])"
_H16 = "[0-9a-fA-F]{1,4}"
_V4 = r"((25[0-5]|(2[0-4]|1?[0-9])?[0-9])\.){3}(25[0-5]|(2[0-4]|1?[0-9])?[0-9])"
# An IPv6 address in any of its written forms (RFC 4291 2.2; `[1f]` passed the schema's
# first `[0-9A-Fa-f:.]+` and was then refused): checked against `ipaddress` on 300,000
# random strings of hex digits, colons and dots, 0 disagreements.
_V6 = "|".join(
    [
        f"({_H16}:){{7}}{_H16}",
        f"({_H16}:){{1,7}}:",
        f"({_H16}:){{1,6}}:{_H16}",
        f"({_H16}:){{1,5}}(:{_H16}){{1,2}}",
        f"({_H16}:){{1,4}}(:{_H16}){{1,3}}",
        f"({_H16}:){{1,3}}(:{_H16}){{1,4}}",
        f"({_H16}:){{1,2}}(:{_H16}){{1,5}}",
        f"{_H16}:((:{_H16}){{1,6}})",
        f":((:{_H16}){{1,7}}|:)",
        f"({_H16}:){{6}}{_V4}",
        f"::(ffff(:0{{1,4}})?:)?{_V4}",
        f"({_H16}:){{1,5}}:{_V4}",
    ]
)
_HOST = rf"([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[({_V6})\])"
WEBHOOK_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://{_HOST}(:{_PORT})?([/?#]\S*)?$"


class SavedSearchBody(_Body):
    query: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=NOT_BLANK,
        description='what to match: words, "phrases", -exclusions, OR; at least one '
        "word that is not excluded",
        json_schema_extra={"not": {"pattern": NO_WORD_PATTERN}},
    )
    date_from: str | None = Field(None, alias="from", pattern=DATE_PATTERN)
    date_to: str | None = Field(None, alias="to", pattern=DATE_PATTERN)
    sources: list[str] = []
    entities: list[str] = []
    sentiment: Sentiment | None = None
    min_relevance: float | None = Field(
        None,
        ge=0,
        le=1,
        description="alert only at this calibrated relevance or more "
        "(default: the engine's cut-off for a strong match)",
    )
    webhook: str | None = Field(
        None,
        max_length=2000,
        pattern=WEBHOOK_PATTERN,
        description="an http(s) URL each alert is POSTed to as JSON, signed "
        "(X-Searchengine-Signature: sha256=HMAC-SHA256 of 'TIMESTAMP.BODY' under the search's "
        "secret, X-Searchengine-Timestamp); its host must resolve to public addresses only "
        "(SEARCHENGINE_WEBHOOK_ALLOW lists intranet ones); redirects are not followed",
    )


@router.post(
    "/searches",
    tags=["alerts"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={200: {"model": m.SavedSearch}},
)
def save_search(body: SavedSearchBody, engine: EngineDep) -> Response:
    """Save a query: every later ingest matches its new or replaced clusters against it
    and records an alert for each strong enough match (POSTed to `webhook` if given)."""
    filters = Filters.build(
        body.date_from,
        body.date_to,
        body.sources,
        body.entities,
        body.sentiment.value if body.sentiment else None,
    )
    saved = engine.saved.save(body.query, filters, body.min_relevance, body.webhook)
    return as_json(saved.to_dict(secret=True))


@router.get(
    "/searches",
    tags=["alerts"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={200: {"model": m.SavedSearches}},
)
def saved_searches(engine: EngineDep) -> Response:
    """The saved searches (they name their webhooks: the API key is needed to read them)."""
    return as_json({"results": [s.to_dict() for s in engine.saved.all()]})


@router.delete(
    "/searches/{search_id}",
    tags=["alerts"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={200: {"model": m.Removed}},
)
def remove_search(search_id: str, engine: EngineDep) -> Response:
    engine.saved.remove(search_id)
    return as_json({"removed": [search_id]})


@router.get(
    "/alerts",
    tags=["alerts"],
    dependencies=[Depends(require_key)],
    response_model=None,
    responses={200: {"model": m.Alerts}},
)
def alerts(
    engine: EngineDep,
    after: Annotated[
        str | None,
        Query(
            max_length=24,
            pattern=r"^a[0-9]{1,18}$",
            description="only alerts after the one with this id (a previous answer's "
            "`next_after`): pages through every alert exactly once",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=TIME_PATTERN,
            description="only alerts matched after this time: ISO (2026-01-09T08:00:00Z), "
            f"or a date: {DATE_FORMS}",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    """Alerts raised by ingests, oldest first: which saved search matched which cluster,
    how strongly, when, and whether its webhook took it (the API key is needed: the
    queries are the key holders', and the deliveries say what their receivers did)."""
    found = engine.saved.alerts(after, limit, since)
    return as_json({"results": found, "next_after": found[-1]["id"] if found else after})


def _parse_body(body: bytes, content_type: str) -> ParseResult:
    source = "request body"
    text = decode(body)  # a bad byte costs the record it is in
    if content_type in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return parse_jsonl(text, source)
    if content_type == "application/json":
        return parse_json(text, source)
    return parse_text(text, source)
