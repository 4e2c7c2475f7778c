"""The command line: arguments -> one request record -> one engine call -> a table or JSON.

One click command per function (`reading.py`, `writing.py`), over the same request
records the HTTP API builds. Exit codes: 0 success; 1 an error the user can act on
(each error's `exit_code`; parse errors while indexing also give 1 after the rest
is indexed); 2 bad usage (with the command's usage and the nearest option or
command). Every module that loads the model runtime is imported inside the command
that needs it, so `--help` and `stats` stay quick.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

import click

from searchengine._version import __version__
from searchengine.cli import reading, writing
from searchengine.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, SearchEngineError, disk_full

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "cli", "main"]

# Options that take several values (`--liked A B:2 --disliked C`), as the CLI always
# has; click's options take one value each, so these are spread out before parsing.
SPREAD_OPTIONS = frozenset({"--liked", "--disliked"})


class Commands(click.Group):
    """The top-level group: commands listed in the order they were added, and a
    mistyped command answered with the nearest one (`serach` -> `search`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in self.commands:
            near = difflib.get_close_matches(name, list(self.commands), n=1)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)


@click.group(
    cls=Commands,
    help="Semantic search, related stories and recommendations over news story-cluster digests.",
    epilog="Exit codes: 0 success, 1 error (message on stderr; with --json an object "
    "{error, detail, exit_code} on stdout), 2 bad usage, 3 the port to serve on is "
    "taken. "
    "Run `searchengine COMMAND --help` for a command's options.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="searchengine", message="%(prog)s %(version)s")
def cli() -> None:
    """searchengine"""


# `index`, `search`, ... first: the order a newcomer meets them.
ORDER = (
    "index",
    "search",
    "facets",
    "related",
    "similar",
    "thread",
    "coverage",
    "entity",
    "recommend",
    "searches",
    "alerts",
    "show",
    "remove",
    "copy",
    "stats",
    "serve",
    "eval",
)
_COMMANDS = {**writing.COMMANDS, **reading.COMMANDS}
for _name in ORDER:
    _command = _COMMANDS[_name]
    # A command's docstring is its one line in `searchengine --help`.
    for each in (_command, *getattr(_command, "commands", {}).values()):
        each.short_help = each.short_help or inspect.getdoc(each.callback)
    cli.add_command(_command, _name)


def spread(argv: Sequence[str]) -> list[str]:
    """`--liked A B:2` -> `--liked A --liked B:2` (see SPREAD_OPTIONS)."""
    out: list[str] = []
    current: str | None = None
    for word in argv:
        if word.startswith("-") and word != "-":
            current = word if word in SPREAD_OPTIONS else None
            out.append(word)
        elif current is not None and out[-1] != current:
            out += [current, word]
        else:
            out.append(word)
    return out


def _usage_error(err: click.UsageError) -> click.UsageError:
    """Click's message, with a hint for a query typed without its quotes."""
    if err.message.startswith("Got unexpected extra argument"):
        return click.UsageError(f"{err.message} (a query of several words needs quotes)", err.ctx)
    return err


def _fail(code: str, message: str, exit_code: int, as_json: bool) -> int:
    """An error: one line on stderr, or with --json the API's error object (plus the
    exit code) on stdout, so `... --json | jq` reads a failure as it reads an answer."""
    if as_json:
        print(json.dumps({"error": code, "detail": message, "exit_code": exit_code}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    args = spread(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        result: Any = cli.main(args=args, prog_name="searchengine", standalone_mode=False)
        return int(result or EXIT_OK)
    except click.UsageError as err:
        err = _usage_error(err)
        if as_json:
            return _fail("usage", err.format_message(), EXIT_USAGE, True)
        err.show()
        return EXIT_USAGE
    except click.ClickException as err:
        if as_json:
            return _fail("error", err.format_message(), err.exit_code, True)
        err.show()
        return err.exit_code
    except SearchEngineError as err:  # the user's to act on; anything else is a bug
        return _fail(err.code, str(err), err.exit_code, as_json)
    except (OSError, sqlite3.Error) as err:  # a full disk is the user's to act on too
        full = disk_full(err, "the index")
        if full is None:
            raise
        return _fail(full.code, str(full), full.exit_code, as_json)
    except (KeyboardInterrupt, click.Abort):
        print("interrupted; the index keeps its last committed state", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`searchengine eval ... --json | head`): not an error
        # of ours; stop writing without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
