"""The engine's named exceptions, one hierarchy for the library, the CLI and the API.

Every error the engine raises on purpose is a `SearchEngineError`, and each class
carries what the edges need (as datasette's errors do): its HTTP `status`, a
machine-readable `code` and the CLI's `exit_code`. A new error cannot slip past
either edge as a traceback, and there is no table to forget. Anything else that
escapes is a bug: the CLI shows its traceback, the API logs it and answers 500 with
an id to find it in the log by.
"""

from __future__ import annotations

import errno
import sqlite3

EXIT_OK = 0
EXIT_ERROR = 1  # an error the user can act on (the message says how)
EXIT_USAGE = 2  # bad usage (argparse's own code)
EXIT_PORT_TAKEN = 3  # `serve`: the address to listen on is in use (uvicorn's own code)


class SearchEngineError(Exception):
    """Base of the errors a user can act on; the message says what to do."""

    status: int = 500
    code: str = "internal_error"
    exit_code: int = EXIT_ERROR


class IndexNotFound(SearchEngineError):
    """No index at the given folder."""

    status, code = 503, "not_ready"


class NotReady(SearchEngineError):
    """The server's index is still loading (or failed to load: the message says why)."""

    status, code = 503, "not_ready"


class UnknownId(SearchEngineError, KeyError):
    """No cluster or article with that id."""

    status, code = 404, "not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown id"


class ModelMismatch(SearchEngineError):
    """The index was built with another model than the one asked for."""

    status, code = 503, "model_mismatch"


class ModelUnavailable(SearchEngineError):
    """The named model cannot be loaded here (not installed, or not a model folder)."""

    status, code = 503, "model_unavailable"


class ExtraMissing(SearchEngineError):
    """A command needs an optional part of the package that is not installed (the
    message names the pip line)."""

    status, code = 503, "extra_missing"


class BackendUnavailable(SearchEngineError):
    """The index's remote backend (a Milvus server) cannot be reached or refused a call;
    the message names its address."""

    status, code = 503, "backend_unavailable"


class IndexCorrupt(SearchEngineError):
    """The index folder cannot be read; the message says what to run."""

    status, code = 503, "index_corrupt"


class StoreError(IndexCorrupt):
    """The index's database cannot be used (corrupt, or from a newer version)."""


class DiskFull(SearchEngineError):
    """The disk under the index is full: the write was not kept, nothing was damaged."""

    status, code = 507, "insufficient_storage"


def disk_full(err: BaseException, where: object) -> DiskFull | None:
    """The error as a DiskFull when it is one (SQLite's SQLITE_FULL, or ENOSPC from a
    file write), else None. A full disk gave a raw traceback ending in "cannot rollback
    - no transaction is active" and an opaque HTTP 500."""
    full = (isinstance(err, OSError) and err.errno == errno.ENOSPC) or (
        isinstance(err, sqlite3.Error)
        and getattr(err, "sqlite_errorcode", 0) == sqlite3.SQLITE_FULL
    )
    if not full:
        return None
    return DiskFull(
        f"{where}: the disk is full; this write was not kept and the index is as it was "
        "before it. Free some space and run it again."
    )


class PortTaken(SearchEngineError):
    """`serve` cannot listen: the address is taken (another server?) or not ours."""

    status, code, exit_code = 503, "port_taken", EXIT_PORT_TAKEN


class BadRequest(SearchEngineError, ValueError):
    """A parameter out of range or malformed (a date, k, an empty query)."""

    status, code = 400, "bad_request"


class InputNotFound(BadRequest):
    """A file or folder to index does not exist."""


class Unauthorized(SearchEngineError):
    """A write without the API key, or with a wrong one."""

    status, code = 401, "unauthorized"


class WritesDisabled(SearchEngineError):
    """A write to a server started without an API key."""

    status, code = 403, "writes_disabled"


class UnsupportedMediaType(SearchEngineError):
    """A body of a type the endpoint cannot ingest."""

    status, code = 415, "unsupported_media_type"


class ParseError(SearchEngineError, ValueError):
    """A cluster (or JSONL record) that cannot be read; names where and why."""

    status, code = 400, "bad_request"

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "reason": self.reason}
