"""The command line: arguments -> one engine call -> a table or JSON.

Exit codes: 0 success; 1 an error the user can act on (unknown id, no index,
model mismatch, parse errors while indexing — the rest is still indexed);
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import SearchEngineError
from .parse import ParseError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _open(args: argparse.Namespace, create: bool = False) -> Any:
    from .engine import Engine
    from .settings import Settings

    settings = Settings.resolve(args.index, getattr(args, "model", None))
    kwargs: dict[str, Any] = {"model": settings.model, "create": create}
    if create:
        kwargs["index_type"] = getattr(args, "index_type", "auto")
    return Engine.open(settings.index, **kwargs)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and not getattr(args, "quiet", False)


# --- commands ---------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    from .engine import remove_index
    from .serialize import add_report_to_dict, parse_error_to_dict
    from .settings import Settings

    if args.rebuild:
        remove_index(Settings.resolve(args.index).index)
    with _open(args, create=True) as engine:
        run = engine.add_paths(args.paths, strict=args.strict, progress=_progress_wanted(args))
        report = run.report
        if args.json:
            _print_json(
                {
                    **add_report_to_dict(report),
                    "files": run.files,
                    "errors": [parse_error_to_dict(e) for e in run.errors],
                    "index": str(engine.path),
                }
            )
        else:
            for err in run.errors:
                print(f"error: {err} (cluster skipped)", file=sys.stderr)
            if report.changed:
                print(
                    f"indexed {run.files} file(s) into {engine.path}: {len(report.added)} added, "
                    f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged; "
                    f"{report.passages_encoded} passages encoded at "
                    f"{report.passages_per_second:.1f} passages/s "
                    f"({report.passages_reused} reused), {report.total_seconds:.1f}s in all"
                )
            else:
                print(
                    f"nothing to do: all {len(report.unchanged)} cluster(s) in {run.files} file(s) "
                    f"are already indexed and unchanged in {engine.path}"
                )
    return EXIT_ERROR if run.errors else EXIT_OK


def _filters(args: argparse.Namespace) -> Any:
    from .serialize import iso_date
    from .store import Filters

    return Filters(
        date_from=iso_date(args.date_from, "--from"),
        date_to=iso_date(args.date_to, "--to"),
        sources=tuple(args.source or ()),
        entities=tuple(getattr(args, "entity", None) or ()),
        sentiment=getattr(args, "sentiment", None),
    )


def cmd_search(args: argparse.Namespace) -> int:
    from .search import Kind
    from .serialize import hit_to_dict

    kind = Kind.ARTICLES if args.articles else Kind.CLUSTERS
    with _open(args) as engine:
        hits = engine.search(
            args.query, k=args.k, mode=args.mode, filters=_filters(args), kind=kind
        )
    if args.json:
        _print_json(
            {
                "query": args.query,
                "mode": args.mode,
                "kind": kind.value,
                "results": [hit_to_dict(h) for h in hits],
            }
        )
        return EXIT_OK
    if not hits:
        print("no results")
    for rank, hit in enumerate(hits, 1):
        _print_hit(rank, hit)
    return EXIT_OK


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    open_, close = ("\033[1;33m", "\033[0m") if color else ("**", "**")
    out, last = [], 0
    for a, b in spans:
        out += [text[last:a], open_, text[a:b], close]
        last = b
    out.append(text[last:])
    return "".join(out)


def _print_hit(rank: int, hit: Any) -> None:
    from .serialize import snippet

    sources = ", ".join(hit.sources) or "-"
    extra = f" · {hit.publisher}" if hit.publisher else ""
    print(f"{rank:2}. {hit.id}  {hit.date or '----------'}  {hit.title}")
    print(f"    score {hit.score:.4f} · sources: {sources}{extra}")
    for p in hit.passages:
        label = p.field.value.replace("_", " ")
        if p.field.value == "key_point":
            label = f"key point {p.position}"
        elif p.field.value == "article":
            label = f"article {p.article_id}"
        text, spans = snippet(p.text, p.highlights)
        print(f"    {label}: {_mark(text, spans)}")
    print()


def _print_related(stories: list[Any], header: str) -> None:
    if not stories:
        print("no results")
        return
    print(header)
    for rank, story in enumerate(stories, 1):
        flag = "same story" if story.same_story else "related"
        pub = f" · {story.publisher}" if story.publisher else ""
        print(f"{rank:2}. {story.id}  {story.date or '----------'}  {story.title}")
        print(f"    score {story.score:.4f} · {flag}{pub}")


def cmd_related(args: argparse.Namespace) -> int:
    from .serialize import related_to_dict

    with _open(args) as engine:
        stories = engine.related(
            args.id,
            k=args.k,
            filters=_filters(args),
            include_own_cluster=args.include_own_cluster,
        )
    if args.json:
        _print_json({"id": args.id, "results": [related_to_dict(s) for s in stories]})
    else:
        _print_related(stories, f"related to {args.id}:")
    return EXIT_OK


def cmd_similar(args: argparse.Namespace) -> int:
    from .serialize import related_to_dict

    with _open(args) as engine:
        stories = engine.similar(args.text, k=args.k, filters=_filters(args))
    if args.json:
        _print_json({"results": [related_to_dict(s) for s in stories]})
    else:
        _print_related(stories, "stories like this text:")
    return EXIT_OK


def cmd_thread(args: argparse.Namespace) -> int:
    from .serialize import related_to_dict

    with _open(args) as engine:
        stories = engine.thread(args.id)
    if args.json:
        _print_json({"id": args.id, "thread": [related_to_dict(s) for s in stories]})
        return EXIT_OK
    print(f"story thread of {args.id} ({len(stories)} clusters, by date):")
    for story in stories:
        mark = "*" if story.id == args.id else " "
        print(f" {mark} {story.date}  {story.id}  {story.title}")
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    from .serialize import parse_liked, related_to_dict

    with _open(args) as engine:
        stories = engine.recommend(
            liked=parse_liked(args.liked or []),
            disliked=args.disliked or [],
            k=args.k,
            strategy=args.strategy,
            diversity=args.diversity,
            half_life_days=args.half_life_days,
        )
    if args.json:
        _print_json({"results": [related_to_dict(s) for s in stories]})
    else:
        _print_related(stories, "recommended:")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api import ApiSettings, create_app
    from .engine import MANIFEST

    settings = ApiSettings.resolve(args.index, max_body_bytes=args.max_body, model=args.model)
    if not (settings.index / MANIFEST).exists():
        print(
            f"error: no index at {settings.index}; build one with "
            f"`searchengine index --index {settings.index} PATH...`",
            file=sys.stderr,
        )
        return EXIT_ERROR
    writes = "enabled" if settings.api_key else "disabled (set SEARCHENGINE_API_KEY to enable)"
    print(
        f"serving {settings.index} at http://{args.host}:{args.port}/  (writes {writes})",
        flush=True,
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from .serialize import article_to_dict, cluster_to_dict

    with _open(args) as engine:
        cluster, article = engine.get(args.id)
    if args.json:
        _print_json(article_to_dict(article, cluster) if article else cluster_to_dict(cluster))
        return EXIT_OK
    if article is not None:
        print(f"{article.id}  (in {cluster.id}: {cluster.title})")
        print(f"{article.title}" + (f"  — {article.publisher}" if article.publisher else ""))
        print(
            f"date: {cluster.date}  tone: {article.tone}  sentiment: {article.sentiment}  intent: {article.intent}"
        )
        print(f"entities: {', '.join(article.entities) or '-'}\n")
        print(article.summary)
        return EXIT_OK
    print(f"{cluster.id}  {cluster.date}  {cluster.title}")
    print("sources: " + (" | ".join(f"{h}: {n}" for h, n in cluster.sources.items()) or "-"))
    if cluster.origin:
        print(f"from: {cluster.origin}")
    print(f"\n{cluster.summary}\n")
    if cluster.key_points:
        print("Key points")
        for point in cluster.key_points:
            print(f"  • {point}")
        print()
    if cluster.articles:
        print(f"Articles ({len(cluster.articles)})")
        for a in cluster.articles:
            pub = f" — {a.publisher}" if a.publisher else ""
            print(f"  {a.id}  {a.title}{pub}  [{a.sentiment or '-'}]")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        removed = engine.remove(args.ids)
    if args.json:
        _print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} cluster(s): {', '.join(removed)}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        stats = engine.stats()
    if args.json:
        _print_json(stats)
    else:
        width = max(map(len, stats))
        for key, value in stats.items():
            print(f"{key:<{width}}  {value}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .evaluate import evaluate_engine, read_qrels, read_queries

    if args.beir:
        return _eval_beir(args)
    if not args.families and not (args.queries and args.qrels):
        raise SystemExit(
            "searchengine eval: error: give --queries and --qrels, --families, or --beir"
        )
    with tempfile.TemporaryDirectory(prefix="searchengine-eval-") as tmp:
        if args.index:
            engine = _open(args)
        else:
            if not args.digests:
                raise SystemExit("searchengine eval: error: give DIGESTS or --index")
            engine = Engine.open(Path(tmp) / "index", model=args.model, create=True)
            run = engine.add_paths(args.digests, progress=_progress_wanted(args))
            for err in run.errors:
                print(f"error: {err} (cluster skipped)", file=sys.stderr)
        with engine:
            if args.families:
                return _eval_families(engine, args)
            queries, qrels = read_queries(args.queries), read_qrels(args.qrels)
            report = evaluate_engine(engine, queries, qrels, mode=args.mode)
    metrics = ("ndcg@10", "recall@10", "mrr@10")
    if args.json:
        _print_json({"mode": args.mode, **report.to_json(metrics)})
        return EXIT_OK
    print(
        f"mode {args.mode}: {len(report.per_query)} judged queries, {len(report.unjudged)} unjudged"
    )
    print("  ".join(f"{m} {report.metrics[m]:.4f}" for m in metrics))
    return EXIT_OK


def _eval_beir(args: argparse.Namespace) -> int:
    """BEIR: index the corpus as generic documents (or reuse --index), score the test queries."""
    from .engine import Engine
    from .evaluate import BEIR_METRICS, evaluate_engine, read_beir

    data = read_beir(args.beir)
    with tempfile.TemporaryDirectory(prefix="searchengine-beir-") as tmp:
        where = Path(args.index) if args.index else Path(tmp) / "index"
        with Engine.open(where, model=args.model, create=True) as engine:
            report_add = engine.add(data.documents, progress=_progress_wanted(args))
            report = evaluate_engine(
                engine,
                data.queries,
                data.qrels,
                mode=args.mode,
                k=100,
                metrics=BEIR_METRICS,
                progress=_progress_wanted(args),
            )
            stats = engine.stats()
    report.extra.update(
        documents=len(data.documents),
        passages=stats["passages"],
        passages_encoded=report_add.passages_encoded,
        passages_per_second=round(report_add.passages_per_second, 1),
    )
    if args.json:
        _print_json({"mode": args.mode, **report.to_json(BEIR_METRICS)})
        return EXIT_OK
    print(
        f"BEIR {args.beir}: {len(data.documents)} documents ({stats['passages']} passages), "
        f"{len(report.per_query)} queries, mode {args.mode}"
    )
    print("  ".join(f"{m} {report.metrics[m]:.4f}" for m in BEIR_METRICS))
    return EXIT_OK


def _eval_families(engine: Any, args: argparse.Namespace) -> int:
    from .evaluate import evaluate_recommend, evaluate_related, families_from_field, read_families

    source = Path(args.families)
    families = (
        read_families(source) if source.is_file() else families_from_field(engine, args.families)
    )
    report = evaluate_related(engine, families, progress=_progress_wanted(args))
    report.extra.update(evaluate_recommend(engine, families))
    metrics = ("ndcg@10", "map", "p@1")
    if args.json:
        _print_json(report.to_json(metrics))
        return EXIT_OK
    print(f"related: {len(report.per_query)} queries")
    print("  ".join(f"{m} {report.metrics[m]:.4f}" for m in metrics))
    same = report.extra["same_story"]
    print(
        f"same_story (threshold {same['threshold']}): precision {same['precision']}, recall {same['recall']}"
    )
    print(f"recommend_hit@5 {report.extra['recommend_hit@5']} over {report.extra['trials']} trials")
    return EXIT_OK


# --- parser -----------------------------------------------------------------


def _add_index_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        metavar="DIR",
        help="index folder (default: $SEARCHENGINE_INDEX or indexes/default)",
    )


def _add_date_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="date_from", metavar="DATE", help="only clusters on or after DATE"
    )
    p.add_argument("--to", dest="date_to", metavar="DATE", help="only clusters on or before DATE")
    p.add_argument(
        "--source",
        action="append",
        metavar="HOST",
        help="only clusters with an article from HOST (repeatable: any of them)",
    )


def _add_model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        help="sentence-transformers model: the bundled all-MiniLM-L6-v2 (default, or "
        "$SEARCHENGINE_MODEL), a model folder, or 'hashing' (no model; for tests)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="searchengine",
        description="Semantic search, related stories and recommendations over news story-cluster digests.",
        epilog="Exit codes: 0 success, 1 error (message on stderr), 2 bad usage. "
        "Run `searchengine COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"searchengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "index",
        help="index digest files, folders or JSONL",
        description="Index digest files or folders (and .jsonl/.json records). Unchanged clusters "
        "are skipped, changed ones replaced. A malformed cluster is reported with file and "
        "line and skipped; the rest is indexed and the exit code is 1.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="digest files, folders, .jsonl files")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--rebuild", action="store_true", help="delete the index first and start fresh")
    p.add_argument(
        "--strict", action="store_true", help="stop at the first parse error, index nothing"
    )
    p.add_argument(
        "--index-type",
        default="auto",
        help="FAISS index for a new index: auto (Flat up to 200k passages, then HNSW), "
        "Flat, HNSW32,Flat, IVF1024,SQ8, ... (a faiss.index_factory string)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "search",
        help="search clusters (or articles) with a natural-language query",
        description="Ranked clusters with the passages that matched, query terms highlighted.",
    )
    p.add_argument("query", help="keywords or a question")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("-k", "--k", type=int, default=10, help="number of results (default 10)")
    p.add_argument(
        "--mode",
        choices=["hybrid", "dense", "lexical"],
        default="hybrid",
        help="hybrid (default): embeddings and full text fused; dense; lexical",
    )
    _add_date_source_options(p)
    p.add_argument(
        "--entity",
        action="append",
        metavar="NAME",
        help="only clusters naming NAME, accent- and case-insensitive (repeatable: all of them)",
    )
    p.add_argument(
        "--sentiment",
        choices=["positive", "negative", "neutral", "mixed"],
        help="clusters whose prevailing sentiment is this (articles: their own)",
    )
    p.add_argument("--articles", action="store_true", help="rank articles instead of clusters")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "serve",
        help="serve the HTTP API and the search page",
        description="Serve the JSON API (docs at /docs) and the search page at /. The index is "
        "loaded once at start-up. Writes (POST /documents, DELETE) need "
        "SEARCHENGINE_API_KEY set and 'Authorization: Bearer <key>'.",
    )
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--max-body",
        type=int,
        metavar="BYTES",
        help="largest accepted request body (default 5 MB, or $SEARCHENGINE_MAX_BODY)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "show",
        help="show a cluster or an article in full",
        description="Show a cluster (with key points and articles) or one article.",
    )
    p.add_argument("id", help="cluster id (2026-01-09-c10) or article id (2026-01-09-c10-a1)")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "remove",
        help="remove clusters by id",
        description="Remove clusters by id. An unknown id removes nothing and exits 1.",
    )
    p.add_argument("ids", nargs="+", metavar="ID")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser(
        "stats",
        help="counts, model, index type, size, last update",
        description="Describe an index: counts, model, FAISS type, size on disk, last update.",
    )
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "eval",
        help="score search against judged queries (nDCG@10, Recall@10, MRR@10)",
        description="Build a temporary index of DIGESTS (or use --index), run every query and "
        "score the ranking with ranx against TREC qrels (`qid 0 cluster_id grade`).",
    )
    p.add_argument("digests", nargs="*", metavar="DIGESTS", help="digest files or folders")
    _add_index_option(p)
    _add_model_option(p)
    p.add_argument("--queries", metavar="TSV", help="queries, `qid<TAB>text` per line")
    p.add_argument("--qrels", metavar="FILE", help="TREC qrels, `qid 0 docid grade` per line")
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    p.add_argument(
        "--beir",
        metavar="DIR",
        help="score a BEIR folder (corpus.jsonl[.gz], queries.jsonl[.gz], qrels/test.tsv): "
        "nDCG@10 and Recall@100; with --index the corpus index is kept there and reused",
    )
    p.add_argument(
        "--families",
        metavar="TSV|FIELD",
        help="score related stories and recommendations instead: a `cluster_id<TAB>family` "
        "file, or the name of a record field (e.g. story_id in JSONL documents)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (per query too)")
    p.set_defaults(func=cmd_eval)

    def related_options(p: argparse.ArgumentParser) -> None:
        _add_index_option(p)
        p.add_argument("-k", "--k", type=int, default=10, help="number of results (default 10)")
        _add_date_source_options(p)
        p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser(
        "related",
        help="clusters (or articles) about the same or a related story",
        description="For a cluster id: other clusters about the same or a related story, across "
        "days. For an article id: other articles (those of its own cluster left out). Each "
        "result has a score and a same_story flag.",
    )
    p.add_argument("id", help="a cluster or article id")
    related_options(p)
    p.add_argument(
        "--include-own-cluster",
        action="store_true",
        help="for an article: keep the other articles of its own cluster",
    )
    p.set_defaults(func=cmd_related)

    p = sub.add_parser(
        "similar",
        help="clusters like a paragraph of text",
        description="Stories like this text: the clusters most similar to TEXT.",
    )
    p.add_argument("text", help="a paragraph (or a few words)")
    related_options(p)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser(
        "thread",
        help="the chain of clusters of one developing story, by date",
        description="Follow a story across days: the clusters linked to ID by same-story "
        "decisions, ordered by date.",
    )
    p.add_argument("id", help="a cluster id")
    _add_index_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_thread)

    p = sub.add_parser(
        "recommend",
        help="unseen clusters for a reader, from liked and disliked ones",
        description="Recommend clusters a reader has not seen. With no --liked: the most widely "
        "covered stories, diverse and fresh.",
    )
    _add_index_option(p)
    p.add_argument(
        "--liked", nargs="+", metavar="ID[:WEIGHT]", help="liked cluster ids, optionally weighted"
    )
    p.add_argument("--disliked", nargs="+", metavar="ID", help="disliked cluster ids")
    p.add_argument("-k", "--k", type=int, default=10, help="number of results (default 10)")
    p.add_argument(
        "--strategy",
        choices=["best", "average"],
        default="best",
        help="best: by best match to any liked story (default); average: toward the "
        "mean of liked vectors, away from disliked ones",
    )
    p.add_argument(
        "--diversity",
        type=float,
        default=0.3,
        help="0..1: how much to trade relevance for variety (MMR; default 0.3)",
    )
    p.add_argument(
        "--half-life-days",
        type=float,
        metavar="N",
        help="boost fresh clusters: a cluster N days older than the newest counts half",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_recommend)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ParseError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except (SearchEngineError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as err:  # e.g. a bad --index-type
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; the index keeps its last committed state", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
