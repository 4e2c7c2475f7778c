"""An index folder's files: removing a whole index safely (renamed aside first, so a
crash mid-removal never leaves something that looks like an index) and sweeping what
such a removal or a killed write left behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from searchengine.errors import IndexCorrupt

MANIFEST = "manifest.json"
DATABASE = "meta.sqlite"
LOCK = ".write.lock"


def remove_temp(path: Path) -> None:
    """Temp files of writers that died: call with the write lock held (temp files
    are written only under it, so none found then belongs to a live writer)."""
    for entry in path.glob(".*.tmp"):
        entry.unlink(missing_ok=True)


def remove_index(path: str | Path) -> None:
    """Delete an index folder (for `--rebuild`), recoverably: the folder is first
    renamed aside in one atomic step (so it is whole or gone, never a folder
    without its manifest), then deleted; what an interrupted earlier deletion left
    is swept. A folder holding anything but index files is refused."""
    path = Path(path)
    sweep_deleted(path)
    if not path.exists():
        return
    strangers = sorted(e.name for e in path.iterdir() if not _is_index_file(e.name))
    if strangers:
        raise IndexCorrupt(
            f"{path} holds files that are not part of an index ({', '.join(strangers[:3])}); "
            "not deleting it"
        )
    trash = path.with_name(f"{TRASH_PREFIX}{path.name}.{os.getpid()}")
    os.replace(path, trash)
    shutil.rmtree(trash)


# `.<name>.deleting.<pid>`: an index folder on its way out (see `remove_index`).
TRASH_PREFIX = ".deleting."


def sweep_deleted(path: Path) -> None:
    """Finish deletions of `path` that a killed `--rebuild` left half done."""
    if path.parent.is_dir():
        for old in path.parent.glob(f"{TRASH_PREFIX}{path.name}.*"):
            shutil.rmtree(old, ignore_errors=True)


def _is_index_file(name: str) -> bool:
    """A file an index folder holds: its manifest, database (and SQLite's side
    files), lock, vector checkpoints, temp files of its writers."""
    return (
        name in (MANIFEST, LOCK)
        or name.startswith(DATABASE)
        or (name.startswith("vectors") and name.endswith(".faiss"))
        or (name.startswith(".") and name.endswith(".tmp"))
    )
