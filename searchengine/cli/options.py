"""What the CLI's commands share: where the index is and which model reads it, the
filters, `--json`, and the one engine call most commands make.

Option decorators collapse their options into one typed value (`Place`, `Filters`),
so a command's function takes what it uses, not a bag of strings. Choices come from
the contract's enums, so the CLI offers exactly what the engine accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from searchengine.core.contract import DEFAULT_K, MAX_K, MIN_K, Mode, Sentiment
from searchengine.encoders.encoder import RUNTIMES
from searchengine.encoders.onnx import PRECISIONS

if TYPE_CHECKING:
    from searchengine.core.contract import Request
    from searchengine.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Place:
    """Where the index is, and how to read it (None: the settings' default)."""

    index: str | None
    model: str | None = None
    runtime: str | None = None
    precision: str | None = None

    def open(self, create: bool = False, index_type: str = "auto") -> Engine:
        from searchengine.engine import Engine
        from searchengine.settings import Settings

        settings = Settings.resolve(self.index, self.model)
        kwargs: dict[str, Any] = {"index_type": index_type} if create else {}
        return Engine.open(
            settings.index,
            model=settings.model,
            create=create,
            runtime=self.runtime,
            precision=self.precision,
            **kwargs,
        )


def _apply(f: Callable[..., Any], options: list[Callable[[F], F]]) -> Any:
    for option in reversed(options):
        f = option(f)
    return f


INDEX = click.option(
    "--index",
    metavar="WHERE",
    help="index folder, or a Milvus index milvus://HOST:PORT/[DATABASE/]PREFIX "
    "(default: $SEARCHENGINE_INDEX or indexes/default)",
)
MODEL = [
    click.option(
        "--model",
        help="sentence-transformers model: the bundled all-MiniLM-L6-v2 (default, or "
        "$SEARCHENGINE_MODEL), a model folder, or 'hashing' (no model; for tests)",
    ),
    click.option(
        "--runtime",
        type=click.Choice(list(RUNTIMES)),
        help="run the model on ONNX Runtime (default; exported once, no torch afterwards) "
        "or torch (sentence-transformers); $SEARCHENGINE_RUNTIME",
    ),
    click.option(
        "--precision",
        type=click.Choice(list(PRECISIONS)),
        help="vectors of a new index: int8 (default; ONNX dynamic quantisation, ~2x faster) "
        "or fp32 (exact); an existing index keeps its own and refuses another",
    ),
]
JSON = click.option("--json", "as_json", is_flag=True, help="print one JSON document")
QUIET = click.option("-q", "--quiet", is_flag=True, help="no progress bar")
K = click.option(
    "-k",
    "--k",
    type=int,
    default=DEFAULT_K,
    help=f"number of results, {MIN_K}-{MAX_K} (default {DEFAULT_K})",
)
MODE = click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.HYBRID.value,
    help="hybrid (default): embeddings and full text fused; dense; lexical",
)


def place(model: bool = False) -> Callable[[F], F]:
    """`--index` (and with `model`, `--model --runtime --precision`) as one `place`."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, **kw: Any) -> Any:
            where = Place(
                kw.pop("index"),
                kw.pop("model", None),
                kw.pop("runtime", None),
                kw.pop("precision", None),
            )
            return f(*args, place=where, **kw)

        return _apply(run, [INDEX, *(MODEL if model else [])])  # type: ignore[no-any-return]

    return decorate


def filters(entity_and_sentiment: bool = False) -> Callable[[F], F]:
    """`--from --to --source` (and `--entity --sentiment`) as one validated `filters`."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, **kw: Any) -> Any:
            from searchengine.core.contract import Filters

            built = Filters.build(
                date_from=kw.pop("date_from"),
                date_to=kw.pop("date_to"),
                sources=list(kw.pop("source")) or None,
                entities=list(kw.pop("entity", ())) or None,
                sentiment=kw.pop("sentiment", None),
            )
            return f(*args, filters=built, **kw)

        options = [
            click.option(
                "--from",
                "date_from",
                metavar="DATE",
                help="only clusters on or after DATE: YYYY-MM-DD, DD-MM-YYYY, yesterday, 7d, 2w",
            ),
            click.option("--to", "date_to", metavar="DATE", help="only clusters on or before DATE"),
            click.option(
                "--source",
                multiple=True,
                metavar="HOST",
                help="only clusters with an article from HOST (repeatable: any of them)",
            ),
        ]
        if entity_and_sentiment:
            options += [
                click.option(
                    "--entity",
                    multiple=True,
                    metavar="NAME",
                    help="only clusters naming NAME, accent- and case-insensitive "
                    "(repeatable: all of them)",
                ),
                click.option(
                    "--sentiment",
                    type=click.Choice([s.value for s in Sentiment]),
                    help="clusters whose prevailing sentiment is this (articles: their own)",
                ),
            ]
        return _apply(run, options)  # type: ignore[no-any-return]

    return decorate


def answer(where: Place, as_json: bool, request: Request) -> Any:
    """One engine call; with --json the envelope is printed and None returned."""
    from searchengine.cli.output import print_json

    with where.open() as engine:
        response = engine.answer(request)
    if as_json:
        print_json(response.to_dict())
        return None
    for note in response.notes:
        print(f"({note})")
    return response.results


def show(as_json: bool, data: Any, printer: Callable[[Any], None]) -> None:
    """`data` as JSON, or through the command's printer."""
    from searchengine.cli.output import print_json

    if as_json:
        print_json(data)
    else:
        printer(data)


def progress_wanted(as_json: bool, quiet: bool = False) -> bool:
    return not as_json and not quiet
