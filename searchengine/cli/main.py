"""The command line: arguments -> one request record -> one engine call -> a table or JSON.

Exit codes: 0 success; 1 an error the user can act on (each error's `exit_code`;
parse errors while indexing also give 1 after the rest is indexed); 2 bad
usage. Every module is imported inside the command that needs it, so `--help`
and `stats` never load the model runtime.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from searchengine.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, BadRequest, SearchEngineError

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]


def _open(args: argparse.Namespace, create: bool = False) -> Any:
    from searchengine.engine import Engine
    from searchengine.settings import Settings

    settings = Settings.resolve(args.index, getattr(args, "model", None))
    kwargs: dict[str, Any] = {
        "model": settings.model,
        "create": create,
        "runtime": getattr(args, "runtime", None),
        "precision": getattr(args, "precision", None),
    }
    if create:
        kwargs["index_type"] = getattr(args, "index_type", "auto")
    return Engine.open(settings.index, **kwargs)


def _filters(args: argparse.Namespace, articles: bool = False) -> Any:
    from searchengine.core.contract import Filters

    return Filters.build(
        date_from=getattr(args, "date_from", None),
        date_to=getattr(args, "date_to", None),
        sources=getattr(args, "source", None),
        entities=getattr(args, "entity", None),
        sentiment=getattr(args, "sentiment", None),
    )


def _answer(args: argparse.Namespace, request: Any) -> Any:
    """One engine call; with --json the envelope is printed and None returned."""
    from searchengine.cli.output import print_json

    with _open(args) as engine:
        response = engine.answer(request)
    if args.json:
        print_json(response.to_dict())
        return None
    for note in response.notes:
        print(f"({note})")
    return response.results


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and not getattr(args, "quiet", False)


# --- commands ---------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    from searchengine.backends.index import remove_index
    from searchengine.cli.output import print_index_run, print_json
    from searchengine.ingest.parse import input_files
    from searchengine.limits import InputLimits
    from searchengine.settings import Settings

    if min(args.max_line_chars, args.max_cluster_chars) < 1:
        raise BadRequest("--max-line-chars and --max-cluster-chars must be positive")
    if args.rebuild:
        remove_index(Settings.resolve(args.index).index)
    limits = InputLimits(args.max_line_chars, args.max_cluster_chars)
    input_files(args.paths)  # a path that is not there: an error before any index is made
    if args.strict:  # every file read before the index is opened: a failure writes nothing
        from searchengine.ingest.indexer import read_paths

        read_paths(args.paths, strict=True, limits=limits)
    with _open(args, create=True) as engine:
        run = engine.add_paths(
            args.paths, strict=args.strict, progress=_progress_wanted(args), limits=limits
        )
        if args.json:
            print_json({**run.to_dict(), "index": str(engine.folder.path)})
        else:
            print_index_run(run, str(engine.folder.path))
    return EXIT_ERROR if run.errors else EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_hits
    from searchengine.core.contract import Kind, SearchRequest

    request = SearchRequest(
        args.query,
        k=args.k,
        mode=args.mode,
        kind=Kind.ARTICLES if args.articles else Kind.CLUSTERS,
        filters=_filters(args),
        min_relevance=args.min_relevance,
        half_life_days=args.half_life_days,
        fresh_from=args.fresh_from,
        sort=args.sort,
        collapse=args.collapse,
    )
    hits = _answer(args, request)
    if hits is not None:
        print_hits(hits)
    return EXIT_OK


def cmd_facets(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_facets, print_json
    from searchengine.core.contract import Kind, SearchRequest

    request = SearchRequest(
        args.query,
        mode=args.mode,
        kind=Kind.ARTICLES if args.articles else Kind.CLUSTERS,
        filters=_filters(args),
    )
    with _open(args) as engine:
        data = engine.queries.facets(request)
    if args.json:
        print_json(data)
    else:
        print_facets(data)
    return EXIT_OK


def cmd_related(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_related
    from searchengine.core.contract import RelatedRequest

    request = RelatedRequest(
        args.id, k=args.k, filters=_filters(args), include_own_cluster=args.include_own_cluster
    )
    stories = _answer(args, request)
    if stories is not None:
        print_related(stories, f"related to {args.id}:")
    return EXIT_OK


def cmd_similar(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_related
    from searchengine.core.contract import SimilarRequest

    text = sys.stdin.read() if args.text == "-" else args.text  # `similar -`: from stdin
    stories = _answer(args, SimilarRequest(text, k=args.k, filters=_filters(args)))
    if stories is not None:
        print_related(stories, "stories like this text:")
    return EXIT_OK


def cmd_thread(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_thread
    from searchengine.core.contract import ThreadRequest

    stories = _answer(args, ThreadRequest(args.id))
    if stories is not None:
        print_thread(stories, args.id)
    return EXIT_OK


def cmd_coverage(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_coverage, print_json

    with _open(args) as engine:
        data = engine.news.coverage(args.id)
    if args.json:
        print_json(data)
    else:
        print_coverage(data)
    return EXIT_OK


def cmd_entity(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_entity, print_json

    with _open(args) as engine:
        data = engine.news.entity(args.name)
    if args.json:
        print_json(data)
    else:
        print_entity(data)
    return EXIT_OK


def cmd_searches(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json

    with _open(args) as engine:
        if args.action == "add":
            saved = engine.saved.save(args.query, _filters(args), args.min_relevance, args.webhook)
            data: Any = saved.to_dict()
            text = f"saved search {saved.id}: {saved.query!r}"
        elif args.action == "remove":
            engine.saved.remove(args.id)
            data, text = {"removed": [args.id]}, f"removed saved search {args.id}"
        else:
            found = engine.saved.all()
            data = {"results": [s.to_dict() for s in found]}
            text = (
                "\n".join(
                    f"{s.id}  {s.created_at[:19]}  {s.query!r}  min {s.min_relevance:g}"
                    + (f"  -> {s.webhook}" if s.webhook else "")
                    for s in found
                )
                or "no saved searches"
            )
    if args.json:
        print_json(data)
    else:
        print(text)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json

    if args.limit < 1:
        raise BadRequest("--limit must be positive")
    with _open(args) as engine:
        found = engine.saved.alerts(args.since, args.limit)
    if args.json:
        print_json(
            {"results": found, "next_since": found[-1]["matched_at"] if found else args.since}
        )
        return EXIT_OK
    if not found:
        print("no alerts")
    for a in found:
        delivery = f"  [{a['delivery']}]" if a.get("delivery") else ""
        print(
            f"{a['matched_at'][:19]}  {a['query']!r} -> {a['cluster_id']}  "
            f"relevance {a['relevance']:.2f}  {a['title']}{delivery}"
        )
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_related
    from searchengine.core.contract import RecommendRequest

    request = RecommendRequest(
        liked=tuple(args.liked or ()),
        disliked=tuple(args.disliked or ()),
        k=args.k,
        strategy=args.strategy,
        diversity=args.diversity,
        half_life_days=args.half_life_days,
    )
    stories = _answer(args, request)
    if stories is not None:
        print_related(stories, "recommended:")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from searchengine.api.app import ApiSettings, serve

    settings = ApiSettings.resolve(args.index, max_body_bytes=args.max_body, model=args.model)
    if args.workers < 1:
        raise BadRequest(f"--workers must be at least 1, not {args.workers}")
    if args.header_timeout <= 0:
        raise BadRequest("--header-timeout must be positive")
    return serve(
        settings,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        workers=args.workers,
        access_log=args.access_log,
        header_timeout=args.header_timeout,
    )


def cmd_show(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json, print_record
    from searchengine.core.documents import record_to_dict

    with _open(args) as engine:
        cluster, article = engine.get(args.id)
    if args.json:
        print_json(record_to_dict(cluster, article))
    else:
        print_record(cluster, article)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json

    with _open(args) as engine:
        removed = engine.remove(args.ids)
    if args.json:
        print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} cluster(s): {', '.join(removed)}")
    return EXIT_OK


def cmd_copy(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json
    from searchengine.engine import Engine
    from searchengine.settings import Settings

    source = Settings.resolve(args.source).index
    target = Settings.resolve(args.target).index
    if str(source) == str(target):
        raise BadRequest("SOURCE and TARGET are the same index")
    with Engine.open(source) as engine:
        report = engine.copy_to(target, index_type=args.index_type, progress=_progress_wanted(args))
    if args.json:
        print_json({**report.to_dict(), "source": str(source), "target": str(target)})
    else:
        print(
            f"copied {source} -> {target}: {len(report.added)} added, "
            f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged; "
            f"{report.passages_reused} passages copied, {report.passages_encoded} encoded"
        )
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from searchengine.cli.output import print_json, print_table

    with _open(args) as engine:
        stats = {"index": str(engine.folder.path), **engine.stats()}
    if args.json:
        print_json(stats)
    else:
        print_table(stats)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from searchengine.backends.index import location
    from searchengine.cli.output import print_json
    from searchengine.evaluate import EvalJob, run_eval

    outcome = run_eval(
        EvalJob(
            digests=args.digests,
            index=location(args.index) if args.index else None,
            model=args.model,
            queries=args.queries,
            qrels=args.qrels,
            mode=args.mode,
            beir=args.beir,
            families=args.families,
            progress=_progress_wanted(args),
            runtime=args.runtime,
            precision=args.precision,
            sample=args.sample,
        )
    )
    for err in outcome.errors:
        print(f"error: {err} (cluster skipped)", file=sys.stderr)
    if args.json:
        print_json(outcome.data)
    else:
        print("\n".join(outcome.lines))
    return EXIT_OK


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like `parse_args`, but an unknown option or a stray word is reported by the
    command's own parser (its usage, not the top level's), with the nearest option."""
    import difflib

    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    command = getattr(args, "command", None)
    sub = next(
        (
            a.choices[command]
            for a in parser._actions  # noqa: SLF001 - argparse keeps subparsers here
            if isinstance(a, argparse._SubParsersAction) and command in a.choices  # noqa: SLF001
        ),
        parser,
    )
    options = [o for a in sub._actions for o in a.option_strings]  # noqa: SLF001
    hints = []
    for i, word in enumerate(extra):
        if word.startswith("-"):
            near = difflib.get_close_matches(word.split("=")[0], options, n=1)
            hints.append(f"{word} (did you mean {near[0]}?)" if near else word)
        elif i == 0 or not extra[i - 1].startswith("-"):  # not an unknown option's value
            hints.append(f"{word} (a query of several words needs quotes)")
    sub.error("unrecognized arguments: " + ", ".join(hints))
    raise AssertionError  # error() exits


def main(argv: Sequence[str] | None = None) -> int:
    from searchengine.cli.parser import build_parser

    parser = build_parser(globals())
    args = _parse(parser, argv)
    try:
        return int(args.func(args))
    except SearchEngineError as err:  # the user's to act on; anything else is a bug
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted; the index keeps its last committed state", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`searchengine eval ... --json | head`): not an error
        # of ours; stop writing without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
