"""The CLI's commands that build, change, copy, serve or score an index: index,
remove, copy, searches, alerts, serve and eval."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from searchengine.cli.options import (
    JSON,
    MODE,
    QUIET,
    Place,
    filters,
    place,
    progress_wanted,
    show,
)
from searchengine.errors import EXIT_ERROR, EXIT_OK, BadRequest
from searchengine.limits import DEADLINES, DEFAULT_LIMITS
from searchengine.query.relevance import RelevanceParams

if TYPE_CHECKING:
    from searchengine.core.contract import Filters

INDEX_TYPE_HELP = (
    "vector index for a new index: auto (exact Flat up to 10k passages, then HNSW), "
    "Flat, HNSW32,Flat, IVF1024,SQ8, ... (a faiss.index_factory string; on Milvus: "
    "Flat, HNSW<M>,... or IVF<nlist>,... become FLAT, HNSW, IVF_FLAT)"
)


@click.command(
    help="Index digest files or folders (and .jsonl/.json records). Unchanged clusters are "
    "skipped, changed ones replaced. A malformed cluster is reported with file and line and "
    "skipped; the rest is indexed and the exit code is 1. PATH: digest files, folders, "
    ".jsonl files."
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@place(model=True)
@click.option("--rebuild", is_flag=True, help="delete the index first and start fresh")
@click.option("--strict", is_flag=True, help="stop at the first parse error, index nothing")
@click.option("--index-type", default="auto", help=INDEX_TYPE_HELP)
@click.option(
    "--max-line-chars",
    type=int,
    default=DEFAULT_LIMITS.max_line_chars,
    metavar="N",
    show_default=True,
    help="a longer line costs its cluster or record",
)
@click.option(
    "--max-cluster-chars",
    type=int,
    default=DEFAULT_LIMITS.max_cluster_chars,
    metavar="N",
    show_default=True,
    help="a cluster or record with more text is skipped",
)
@JSON
@QUIET
def index(
    paths: tuple[str, ...],
    place: Place,
    rebuild: bool,
    strict: bool,
    index_type: str,
    max_line_chars: int,
    max_cluster_chars: int,
    as_json: bool,
    quiet: bool,
) -> int:
    """index digest files, folders or JSONL"""
    from searchengine.backends.index import remove_index
    from searchengine.cli.output import print_index_run, print_json
    from searchengine.ingest.parse import input_files
    from searchengine.limits import InputLimits
    from searchengine.settings import Settings

    if min(max_line_chars, max_cluster_chars) < 1:
        raise BadRequest("--max-line-chars and --max-cluster-chars must be positive")
    if rebuild:
        remove_index(Settings.resolve(place.index).index)
    limits = InputLimits(max_line_chars, max_cluster_chars)
    input_files(paths)  # a path that is not there: an error before any index is made
    if strict:  # every file read before the index is opened: a failure writes nothing
        from searchengine.ingest.indexer import read_paths

        read_paths(paths, strict=True, limits=limits)
    with place.open(create=True, index_type=index_type) as engine:
        run = engine.add_paths(
            paths, strict=strict, progress=progress_wanted(as_json, quiet), limits=limits
        )
        if as_json:
            print_json({**run.to_dict(), "index": str(engine.folder.path)})
        else:
            print_index_run(run, str(engine.folder.path))
    return EXIT_ERROR if run.errors else EXIT_OK


@click.command(help="Remove clusters by id. An unknown id removes nothing and exits 1.")
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@place()
@JSON
def remove(ids: tuple[str, ...], place: Place, as_json: bool) -> int:
    """remove clusters by id"""
    from searchengine.cli.output import print_json

    with place.open() as engine:
        removed = engine.remove(ids)
    if as_json:
        print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} cluster(s): {', '.join(removed)}")
    return EXIT_OK


@click.command(
    help="Copy every cluster of the index SOURCE into TARGET (created when missing) with the "
    "stored embeddings: nothing is encoded again. Either side may be a folder or "
    "milvus://HOST:PORT/PREFIX. Clusters TARGET already holds unchanged are skipped, "
    "changed ones replaced; clusters only TARGET holds are kept."
)
@click.argument("source")
@click.argument("target")
@click.option("--index-type", default="auto", help="vector index for a new TARGET (as for `index`)")
@JSON
@QUIET
def copy(source: str, target: str, index_type: str, as_json: bool, quiet: bool) -> int:
    """copy an index to another place (folder <-> Milvus) without re-encoding"""
    from searchengine.cli.output import print_json
    from searchengine.engine import Engine
    from searchengine.settings import Settings

    origin = Settings.resolve(source).index
    destination = Settings.resolve(target).index
    if str(origin) == str(destination):
        raise BadRequest("SOURCE and TARGET are the same index")
    with Engine.open(origin) as engine:
        report = engine.copy_to(
            destination, index_type=index_type, progress=progress_wanted(as_json, quiet)
        )
    if as_json:
        print_json({**report.to_dict(), "source": str(origin), "target": str(destination)})
    else:
        print(
            f"copied {origin} -> {destination}: {len(report.added)} added, "
            f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged; "
            f"{report.passages_reused} passages copied, {report.passages_encoded} encoded"
        )
    return EXIT_OK


@click.group(
    help="Saved searches live in the index. Every ingest (`index`, POST /documents) matches "
    "the clusters it adds or replaces against each of them and records an alert for each "
    "strong enough match, POSTed to the search's webhook if it has one."
)
def searches() -> None:
    """saved searches: matched against every later ingest (see `alerts`)"""


@searches.command("add", help="Save a query to alert on.")
@click.argument("query")
@place(model=True)
@filters(entity_and_sentiment=True)
@click.option(
    "--min-relevance",
    type=float,
    metavar="P",
    help=f"alert at this relevance or more (0-1; default {RelevanceParams().cutoff:g}, "
    "a strong match)",
)
@click.option("--webhook", metavar="URL", help="POST each alert to this http(s) URL")
@JSON
def searches_add(
    query: str,
    place: Place,
    filters: Filters,
    min_relevance: float | None,
    webhook: str | None,
    as_json: bool,
) -> int:
    """save a query"""
    with place.open() as engine:
        saved = engine.saved.save(query, filters, min_relevance, webhook)

    def say(_: object) -> None:
        print(f"saved search {saved.id}: {saved.query!r}")
        if saved.secret:
            print(f"webhook secret (shown once; deliveries are signed with it): {saved.secret}")

    show(as_json, saved.to_dict(secret=True), say)
    return EXIT_OK


@searches.command("list")
@place()
@JSON
def searches_list(place: Place, as_json: bool) -> int:
    """list the saved searches"""
    with place.open() as engine:
        found = engine.saved.all()
    text = "\n".join(
        f"{s.id}  {s.created_at[:19]}  {s.query!r}  min {s.min_relevance:g}"
        + (f"  -> {s.webhook}" if s.webhook else "")
        for s in found
    )
    show(
        as_json,
        {"results": [s.to_dict() for s in found]},
        lambda _: print(text or "no saved searches"),
    )
    return EXIT_OK


@searches.command("remove")
@click.argument("id")
@place()
@JSON
def searches_remove(id: str, place: Place, as_json: bool) -> int:
    """remove a saved search by id"""
    with place.open() as engine:
        engine.saved.remove(id)
    show(as_json, {"removed": [id]}, lambda _: print(f"removed saved search {id}"))
    return EXIT_OK


@click.command(
    help="Alerts recorded by ingests: the saved search, the cluster it matched, how "
    "strongly, when, and whether its webhook took it."
)
@place()
@click.option(
    "--after",
    metavar="ID",
    help="only alerts after the one with this id (the last id a previous call printed, "
    "or its JSON's next_after): pages through every alert exactly once",
)
@click.option(
    "--since",
    metavar="TIME",
    help="only alerts matched after TIME: ISO (2026-01-09T08:00:00Z), a date, yesterday, 7d",
)
@click.option("--limit", type=int, default=500, metavar="N", help="at most N (default 500)")
@JSON
def alerts(place: Place, after: str | None, since: str | None, limit: int, as_json: bool) -> int:
    """what saved searches matched in ingests, oldest first"""
    from searchengine.cli.output import print_json

    if limit < 1:
        raise BadRequest("--limit must be positive")
    with place.open() as engine:
        found = engine.saved.alerts(after, limit, since)
    if as_json:
        print_json({"results": found, "next_after": found[-1]["id"] if found else after})
        return EXIT_OK
    if not found:
        print("no alerts")
    for a in found:
        delivery = f"  [{a['delivery']}]" if a.get("delivery") else ""
        print(
            f"{a['id']}  {a['matched_at'][:19]}  {a['query']!r} -> {a['cluster_id']}  "
            f"relevance {a['relevance']:.2f}  {a['title']}{delivery}"
        )
    return EXIT_OK


@click.command(
    help="Serve the JSON API (docs at /docs) and the search page at /. The index is loaded "
    "once at start-up. Writes (POST /documents, DELETE) need SEARCHENGINE_API_KEY set and "
    "'Authorization: Bearer <key>'."
)
@place(model=True)
@click.option("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=int, default=8000, help="port (default 8000)")
@click.option(
    "--workers",
    type=int,
    default=1,
    help="server processes over the one index (default 1); each sees every write",
)
@click.option(
    "--max-body",
    type=int,
    metavar="BYTES",
    help="largest accepted request body, on every endpoint (default 5 MB, or "
    "$SEARCHENGINE_MAX_BODY)",
)
@click.option(
    "--header-timeout",
    type=float,
    default=DEADLINES.headers,
    metavar="SECONDS",
    show_default=True,
    help="close a connection whose request headers take longer",
)
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--access-log",
    is_flag=True,
    help="log every request (off by default: a proxy in front usually does, and it "
    "costs throughput)",
)
def serve(
    place: Place,
    host: str,
    port: int,
    workers: int,
    max_body: int | None,
    header_timeout: float,
    log_level: str,
    access_log: bool,
) -> int:
    """serve the HTTP API and the search page"""
    from searchengine.http.app import ApiSettings
    from searchengine.http.app import serve as run_server

    settings = ApiSettings.resolve(place.index, max_body_bytes=max_body, model=place.model)
    if workers < 1:
        raise BadRequest(f"--workers must be at least 1, not {workers}")
    if header_timeout <= 0:
        raise BadRequest("--header-timeout must be positive")
    return run_server(
        settings,
        host=host,
        port=port,
        log_level=log_level,
        workers=workers,
        access_log=access_log,
        header_timeout=header_timeout,
    )


@click.command(
    "eval",
    help="Build a temporary index of DIGESTS (digest files or folders), run every query and "
    "score the ranking with ranx against TREC qrels (`qid 0 cluster_id grade`). With "
    "--index, the index there is scored (DIGESTS given too: indexed into it first, and kept).",
)
@click.argument("digests", nargs=-1, metavar="[DIGESTS]...")
@place(model=True)
@click.option("--queries", metavar="TSV", help="queries, `qid<TAB>text` per line")
@click.option("--qrels", metavar="FILE", help="TREC qrels, `qid 0 docid grade` per line")
@MODE
@click.option(
    "--beir",
    metavar="DIR",
    help="score a BEIR folder (corpus.jsonl[.gz], queries.jsonl[.gz], qrels/test.tsv): "
    "nDCG@10 and Recall@100; with --index the corpus index is kept there and reused",
)
@click.option(
    "--families",
    metavar="TSV|FIELD",
    help="score related stories and recommendations instead: a `cluster_id<TAB>family` "
    "file, or the name of a record field (e.g. story_id in JSONL documents)",
)
@click.option(
    "--sample",
    type=int,
    metavar="N",
    help="score only the first N judged queries (file order): a quick check, e.g. against "
    "a slow test server; the report gives the number scored",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON document (per query too)")
@QUIET
def eval_(
    digests: tuple[str, ...],
    place: Place,
    queries: str | None,
    qrels: str | None,
    mode: str,
    beir: str | None,
    families: str | None,
    sample: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """score search against judged queries (nDCG@10, Recall@10, MRR@10)"""
    from searchengine.backends.index import location
    from searchengine.cli.output import print_json
    from searchengine.eval_jobs import EvalJob, run_eval

    outcome = run_eval(
        EvalJob(
            digests=list(digests),
            index=location(place.index) if place.index else None,
            model=place.model,
            queries=queries,
            qrels=qrels,
            mode=mode,
            beir=beir,
            families=families,
            progress=progress_wanted(as_json, quiet),
            runtime=place.runtime,
            precision=place.precision,
            sample=sample,
        )
    )
    for err in outcome.errors:
        print(f"error: {err} (cluster skipped)", file=sys.stderr)
    if as_json:
        print_json(outcome.data)
    else:
        print("\n".join(outcome.lines))
    return EXIT_OK


COMMANDS = {
    "index": index,
    "remove": remove,
    "copy": copy,
    "searches": searches,
    "alerts": alerts,
    "serve": serve,
    "eval": eval_,
}
