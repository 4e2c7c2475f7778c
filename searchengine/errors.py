"""The engine's named exceptions.

Every error the engine raises on purpose is a `SearchEngineError`; the CLI and
the HTTP API each turn them into an exit code or a status with one table
(`cli.EXIT_CODES`, `api.STATUSES`), so a new error cannot slip past either edge
as a traceback.
"""

from __future__ import annotations


class SearchEngineError(Exception):
    """Base of the errors a user can act on; the message says what to do."""


class IndexNotFound(SearchEngineError):
    """No index at the given folder."""


class UnknownId(SearchEngineError, KeyError):
    """No cluster or article with that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown id"


class ModelMismatch(SearchEngineError):
    """The index was built with another model than the one asked for."""


class ModelUnavailable(SearchEngineError):
    """The named model cannot be loaded here (not installed, or not a model folder)."""


class BackendUnavailable(SearchEngineError):
    """The index's remote backend (a Milvus server) cannot be reached or refused a call;
    the message names its address."""


class IndexCorrupt(SearchEngineError):
    """The index folder cannot be read; the message says what to run."""


class BadRequest(SearchEngineError, ValueError):
    """A parameter out of range or malformed (a date, k, an empty query)."""


class ParseError(SearchEngineError, ValueError):
    """A cluster (or JSONL record) that cannot be read; names where and why."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "reason": self.reason}
