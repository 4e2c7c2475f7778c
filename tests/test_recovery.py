"""Recovery without manual steps: an interrupted `--rebuild` (at each step, by fault
injection), temp files of dead writers, a corrupt or missing database."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import searchengine.backends.embedded.files as index_files
from searchengine import Engine
from searchengine.backends.embedded.files import DATABASE, MANIFEST, TRASH_PREFIX
from searchengine.cli.main import main
from searchengine.http.app import ApiSettings, create_app

from .conftest import SEEDS

ONE = SEEDS / "2025-10-03_c6.txt"


def index_cli(index: Path, *extra: str, paths: tuple[Path, ...] = (SEEDS,)) -> int:
    return main(
        ["index", *map(str, paths), "--index", str(index), "--model", "hashing", "-q", *extra]
    )


def clusters_in(index: Path, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    assert main(["stats", "--index", str(index), "--json"]) == 0
    return int(json.loads(capsys.readouterr().out)["clusters"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("built") / "idx"
    assert index_cli(index) == 0
    return index


def copy_of(built: Path, tmp_path: Path) -> Path:
    index = tmp_path / "idx"
    shutil.copytree(built, index)
    return index


class Killed(BaseException):
    """The process dies here (BaseException: no `except Exception` may swallow it)."""


def killed_after(deletions: int):  # noqa: ANN201 - a stand-in for shutil.rmtree
    """rmtree that dies after `deletions` files, manifest first (the worst order)."""

    def rmtree(path: Path, *args: object, **kwargs: object) -> None:
        entries = sorted(Path(path).iterdir(), key=lambda e: (e.name != MANIFEST, e.name))
        for done, entry in enumerate(entries):
            if done == deletions:
                raise Killed
            entry.unlink()
        raise Killed  # every file gone, the folder itself not yet

    return rmtree


def test_rebuild_interrupted_at_each_step_recovers_on_rerun(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = len(list(built.iterdir()))
    for step in range(files + 1):
        index = copy_of(built, tmp_path / f"step{step}")
        with monkeypatch.context() as m:
            m.setattr(index_files.shutil, "rmtree", killed_after(step))
            with pytest.raises(Killed):
                index_cli(index, "--rebuild", paths=(ONE,))
        # The re-run, as a user would type it again:
        assert index_cli(index, "--rebuild", paths=(ONE,)) == 0, step
        assert clusters_in(index, capsys) == 1
        assert not list(index.parent.glob(f"{TRASH_PREFIX}*")), "the half-deleted copy is swept"


def test_a_folder_an_older_rebuild_left_without_manifest_is_rebuilt(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old failure: manifest deleted first, killed, then `--rebuild` refused
    ("not empty and holds no index")."""
    index = copy_of(built, tmp_path)
    (index / MANIFEST).unlink()
    assert index_cli(index, "--rebuild", paths=(ONE,)) == 0
    assert clusters_in(index, capsys) == 1


def test_rebuild_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"\xff\xd8")
    assert index_cli(precious, "--rebuild", paths=(ONE,)) != 0
    assert (precious / "holiday.jpg").exists()


def test_temp_files_of_dead_writers_are_cleaned(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = copy_of(built, tmp_path)
    stale = [index / ".vectors.7.faiss.999999.tmp", index / ".manifest.json.999999.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    new = tmp_path / "new.jsonl"
    new.write_text('{"id": "doc-1", "title": "A new record", "text": "The next write."}\n')
    assert index_cli(index, paths=(new,)) == 0  # the next write
    assert not any(p.exists() for p in stale)
    assert clusters_in(index, capsys) == 42


@pytest.mark.parametrize("damage", ["garbage", "torn", "missing", "empty"])
def test_a_damaged_database_is_a_clear_error_never_an_empty_index(
    built: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    index = copy_of(built, tmp_path)
    db = index / DATABASE
    if damage == "garbage":
        db.write_bytes(os.urandom(100_000))
    elif damage == "torn":  # a valid header, garbage pages after it
        with open(db, "r+b") as fh:
            fh.seek(8192)
            fh.write(os.urandom(db.stat().st_size // 2))
    elif damage == "missing":
        db.unlink()
    else:
        db.write_bytes(b"")
    for command in (
        ["search", "venezuela"],
        ["stats"],
        ["show", "2026-01-09-c10"],
        ["search", "venezuela", "--mode", "lexical"],
    ):
        capsys.readouterr()
        code = main([*command, "--index", str(index)])
        err = capsys.readouterr().err
        assert code != 0, (damage, command)
        assert str(db) in err and "Traceback" not in err, err
    if damage != "empty":  # an empty file is a fresh SQLite database: refuse it too
        assert not db.exists() or db.stat().st_size > 0


def test_a_server_on_a_damaged_database_says_so(built: Path, tmp_path: Path) -> None:
    index = copy_of(built, tmp_path)
    (index / DATABASE).unlink()
    app = create_app(ApiSettings(index=index), load_in_background=False)
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503 and DATABASE in health.json()["detail"]
        r = client.get("/search", params={"q": "venezuela"})
        assert r.status_code == 503


def test_stats_over_http_shows_no_filesystem_path(seeded: Engine, index_dir: Path) -> None:
    client = TestClient(create_app(ApiSettings(index=index_dir), engine=seeded))
    text = client.get("/stats").text
    assert str(index_dir) not in text and str(index_dir.parent) not in text
    assert json.loads(text)["clusters"] == 41


def test_database_damage_is_reported_by_sqlite_itself(built: Path, tmp_path: Path) -> None:
    """The `torn` case above is real damage, not a file SQLite happens to accept."""
    index = copy_of(built, tmp_path)
    with open(index / DATABASE, "r+b") as fh:
        fh.seek(8192)
        fh.write(os.urandom((index / DATABASE).stat().st_size // 2))
    with pytest.raises(sqlite3.DatabaseError):
        with sqlite3.connect(index / DATABASE) as conn:
            conn.execute("PRAGMA integrity_check").fetchall()
            conn.execute(
                "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'x'"
            ).fetchall()


VENEZUELA = SEEDS / "000_04a9b59b936e3d08.txt"


def test_a_full_disk_is_one_clear_error_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk gave a raw traceback ending in "cannot rollback - no transaction is
    active" (SQLite had rolled back itself) and an opaque HTTP 500. Now: DiskFull, the
    index as it was, HTTP 507 with the reason, one CLI line; writes work again once
    there is room. (The disk fills for real inside SQLite: `max_page_count`.)"""
    import errno

    from searchengine.encoders.encoder import HashingEncoder
    from searchengine.errors import DiskFull
    from searchengine.ingest.indexer import Indexer

    index = tmp_path / "idx"
    engine = Engine.open(index, encoder=HashingEncoder(128), create=True)
    try:
        engine.add_paths([p for p in sorted(SEEDS.glob("*.txt")) if p != VENEZUELA])
        before = engine.stats()
        db = engine.store.db  # this thread's connection: where the write below runs
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: the disk is full
        with pytest.raises(DiskFull, match="the disk is full"):
            engine.add_paths([VENEZUELA])
        after = engine.stats()
        assert (after["clusters"], after["generation"]) == (
            before["clusters"],
            before["generation"],
        )
        assert engine.search("Venezuela political prisoners", k=1)  # reads go on
        db.execute("PRAGMA max_page_count = 1073741823")  # room again
        assert engine.add_paths([VENEZUELA]).report.added == ["2026-01-09-c10"]
    finally:
        engine.close()

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Indexer, "_write", no_room)
    changed = tmp_path / "changed.txt"
    changed.write_text(VENEZUELA.read_text().replace("political prisoners", "prisoners"))
    served = Engine.open(index)
    app = create_app(ApiSettings(index=index, api_key="k"), engine=served)
    with TestClient(app, raise_server_exceptions=False) as client:  # (as a server answers)
        r = client.post(
            "/documents", content=changed.read_text(), headers={"Authorization": "Bearer k"}
        )
        assert r.status_code == 507, r.text
        assert r.json()["error"] == "insufficient_storage" and "disk is full" in r.json()["detail"]
    served.close()
    capsys.readouterr()
    assert main(["index", str(changed), "--index", str(index), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "disk is full" in err and len(err.splitlines()) == 1
