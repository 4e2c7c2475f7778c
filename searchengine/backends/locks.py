"""Locks: readers and writers within one process, and writers across processes."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SharedLock:
    """Many readers or one writer, within one process; a waiting writer goes first,
    so a stream of searches cannot starve the catch-up of the vectors."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting = 0

    def acquire_shared(self) -> None:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on a file, released by the kernel if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def reading_generation(local: threading.local) -> int:
    """The index generation this thread's `reading()` holds. Reading the index outside
    one is a bug in the caller: an error that says so (an `assert` vanished under
    `python -O`, and a bare attribute error named nothing)."""
    if not getattr(local, "depth", 0):
        raise RuntimeError("the index is read outside `with folder.reading():`")
    return int(local.generation)
