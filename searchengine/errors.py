"""The engine's named exceptions; the CLI and HTTP edges turn them into messages and status codes."""

from __future__ import annotations


class SearchEngineError(Exception):
    """Base of the errors a user can act on."""


class IndexNotFound(SearchEngineError):
    """No index at the given folder."""


class UnknownId(SearchEngineError, KeyError):
    """No cluster or article with that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown id"


class ModelMismatch(SearchEngineError):
    """The index was built with another model than the one asked for."""


class IndexCorrupt(SearchEngineError):
    """The index folder cannot be read; the message says what to run."""


class BadRequest(SearchEngineError, ValueError):
    """A parameter out of range or malformed (a date, k, an empty query)."""
