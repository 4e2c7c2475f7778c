"""How much one input or one client may take: sizes of records, deadlines of requests.

Plain records without dependencies, so that the CLI's parser can show the
defaults without importing pydantic or the server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputLimits:
    """How large one input may be. Defaults are ~50-100x the largest real input seen
    (the longest digest line is ~3 KB, the largest cluster ~25 KB, a SciFact
    abstract ~10 KB, a JSONL cluster record ~30 KB), small enough that one record
    cannot make a run encode thousands of passages (a 50 MB line was 51,605)."""

    max_line_chars: int = 262_144
    max_cluster_chars: int = 1_048_576

    def __post_init__(self) -> None:
        if self.max_line_chars < 1 or self.max_cluster_chars < 1:
            raise ValueError("input limits must be positive")


DEFAULT_LIMITS = InputLimits()


@dataclass(frozen=True)
class Deadlines:
    """Seconds a client gets. A browser or script on any real network sends its
    headers within milliseconds and a 5 MB body within seconds; these are 10-100x
    that, and short enough that a slow-loris client ties up a socket, not the server."""

    headers: float = 10.0  # from connection (or the previous response) to the end of the headers
    body_idle: float = 15.0  # longest wait for the next piece of a body
    body_total: float = 60.0  # the whole body


DEADLINES = Deadlines()
