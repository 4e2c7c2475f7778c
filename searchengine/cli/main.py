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
    epilog="Exit codes: 0 success, 1 error (message on stderr), 2 bad usage. "
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


def _usage_error(err: click.UsageError) -> int:
    """Click's message, with a hint for a query typed without its quotes."""
    if err.message.startswith("Got unexpected extra argument"):
        err = click.UsageError(f"{err.message} (a query of several words needs quotes)", err.ctx)
    err.show()
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = spread(sys.argv[1:] if argv is None else argv)
    try:
        result: Any = cli.main(args=args, prog_name="searchengine", standalone_mode=False)
        return int(result or EXIT_OK)
    except click.UsageError as err:
        return _usage_error(err)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except SearchEngineError as err:  # the user's to act on; anything else is a bug
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (OSError, sqlite3.Error) as err:  # a full disk is the user's to act on too
        full = disk_full(err, "the index")
        if full is None:
            raise
        print(f"error: {full}", file=sys.stderr)
        return full.exit_code
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
