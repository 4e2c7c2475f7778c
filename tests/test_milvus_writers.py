"""Writers of one Milvus index in several real processes: two writing the same cluster
at once, and writers killed (SIGKILL) at each step of a write followed by the next
version. A reader must never see a cluster mixed from two versions, and once the
writers are done the cluster holds exactly one version's passages (store.py: every
passage carries its cluster's version; lease.py: writers take turns)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchengine import Engine
from searchengine.backends.milvus.folder import MilvusFolder
from searchengine.core.documents import passages_of
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.parse import parse_text

from .conftest import drop_milvus_prefix
from .milvus_writer import DAY, DIMENSION, NUMBER
from .test_processes import digest

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = f"2026-03-{DAY:02d}-c{NUMBER}"
_names = itertools.count(1)


@pytest.fixture
def uri(milvus_server: str) -> str:
    where = f"{milvus_server}/w{os.getpid()}_{next(_names)}"
    with Engine.open(where, encoder=HashingEncoder(DIMENSION), create=True):
        pass
    yield where
    drop_milvus_prefix(where)


def writer(uri: str, word: str, first: int, rounds: int, step: str | None = None) -> list[str]:
    args = [sys.executable, "-m", "tests.milvus_writer", uri, word, str(first), str(rounds)]
    return args + ([step] if step else [])


def killed_pid(proc: subprocess.CompletedProcess[bytes]) -> int:
    return int(proc.stdout.decode().strip())


def expected_count() -> int:
    """How many passages one version of the cluster has (every version alike)."""
    (cluster,) = parse_text(digest(DAY, NUMBER, "marker0"), "x.txt").clusters
    return len(passages_of(cluster))


def markers(text: str, words: tuple[str, ...]) -> set[str]:
    """The version markers (`alpha7`, `beta12`, ...) in a text."""
    found = set()
    for token in text.lower().replace(",", " ").replace(".", " ").split():
        if token.startswith(words) and token.rstrip("0123456789") in words:
            found.add(token)
    return found


def look(folder: MilvusFolder, words: tuple[str, ...]) -> tuple[set[str], int, int]:
    """What a reader sees of the cluster: the markers of its row and of the passages
    readers count (their version is the row's), the number of those passages, and
    the number of passages stored (stale ones included)."""
    store = folder.store
    with folder.reading():  # (in the order a search reads: passages, then the row)
        raw = store._query(store.passages_name, f'cluster_id == "{CLUSTER}"', ["id"])
        owners = store.passage_owners([int(r["id"]) for r in raw])
        texts = store.passages(list(owners))
        row = store.get_cluster(CLUSTER)
    if row is None or not texts:  # rewritten while this read ran: absent from its answer
        return set(), 0, len(raw)
    seen = markers(row.title, words)
    for passage in texts.values():
        seen |= markers(passage.text, words)
    return seen, len(texts), len(raw)


def searched(engine: Engine, words: tuple[str, ...]) -> set[str]:
    """The markers of what a search shows of the cluster: its title and passages."""
    for hit in engine.search("harbour plan council ferries", k=3):
        if hit.id == CLUSTER:
            found = markers(hit.title, words)
            for passage in hit.passages:
                found |= markers(passage.text, words)
            return found
    return set()


def test_two_writers_of_one_cluster_never_leave_it_mixed(uri: str) -> None:
    """Two processes write 20 versions each of one cluster at once, while this one
    reads it: every read shows one version (or, when the cluster switched versions
    between the read's queries, leaves it out of that one answer); at the end, one
    version's passages are stored, no more. (Before the versions and the lease: 10 of 10 rounds left 22
    passages of two versions under one cluster row.)"""
    words = ("alpha", "beta")
    expected = expected_count()
    procs = [
        subprocess.Popen(
            writer(uri, word, 0, 20), cwd=ROOT, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        for word in words
    ]
    engine = Engine.open(uri, encoder=HashingEncoder(DIMENSION))
    folder = engine.folder
    assert isinstance(folder, MilvusFolder)
    reads, shown = 0, set()
    try:
        while any(p.poll() is None for p in procs):
            seen, counted, _ = look(folder, words)
            if seen:  # (before the first write lands there is nothing to see)
                reads += 1
                assert len(seen) == 1, f"a reader saw versions {sorted(seen)} mixed"
                assert counted <= expected, (seen, counted)  # never two versions' worth
                shown |= seen
            found = searched(engine, words)
            assert len(found) <= 1, f"a search showed versions {sorted(found)} mixed"
        for proc in procs:
            assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""
        seen, counted, stored = look(folder, words)
    finally:
        engine.close()
    assert len(seen) == 1 and seen <= {"alpha19", "beta19"}  # the last version of one
    assert counted == stored == expected
    assert reads >= 5 and len(shown) >= 3  # the reader really watched the race


@pytest.mark.parametrize("step", ["intent", "passages", "row"])
def test_a_writer_killed_at_any_step_is_repaired_by_the_next(uri: str, step: str) -> None:
    """Writers killed with SIGKILL at one step of a write, one after another, each
    followed by the next version: after every kill a reader sees one whole version
    (the one before, or the killed writer's once its row is in); the next writer
    repairs what the dead one left, with no manual step and no wait for its claim to
    expire (its process is gone); at the end no stale passage or claim is left.
    7 kills per step, 21 in all."""
    words = ("v",)
    expected = expected_count()
    subprocess.run(writer(uri, "v", 0, 1), cwd=ROOT, check=True, stdin=subprocess.DEVNULL)
    folder = MilvusFolder.open(uri)
    try:
        for version in range(1, 8):
            killed = subprocess.run(
                writer(uri, "v", version, 1, step),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
            )
            assert killed.returncode == -9
            (claim,) = folder.store.lease.claims()  # the dead writer's, naming the cluster
            assert claim.clusters == (CLUSTER,) and claim.pid == killed_pid(killed)
            assert claim.dead(time.time(), lease_seconds=3600)  # its process is gone
            seen, counted, _ = look(folder, words)
            # Killed before its row: the last whole version shows (v0, as every writer
            # since was killed before its row too); after it: its own, whole.
            assert seen == ({f"v{version}"} if step == "row" else {"v0"})
            assert counted == expected
        subprocess.run(writer(uri, "v", 8, 1), cwd=ROOT, check=True, stdin=subprocess.DEVNULL)
        seen, counted, stored = look(folder, words)
        claims = folder.store.lease.claims()
    finally:
        folder.close()
    assert seen == {"v8"} and counted == stored == expected
    assert claims == []
