"""The index on disk: incremental adds, replace, remove, crash safety, model checks, filters."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from searchengine import Engine, Filters, IndexNotFound, ModelMismatch, UnknownId
from searchengine.backends.embedded.files import MANIFEST
from searchengine.backends.embedded.vectors import FaissVectorStore
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.digest import parse_digest
from searchengine.query.search import Kind, Mode

from .conftest import SEEDS, seed_text

ROOT = Path(__file__).resolve().parents[1]

SEED_ID = "2026-01-09-c10"


def seed_cluster():  # type: ignore[no-untyped-def]
    return parse_digest(seed_text("000_04a9b59b936e3d08.txt"), "seed").clusters[0]


def test_index_then_search_finds_the_seed_cluster(seeded: Engine) -> None:
    hits = seeded.search("Venezuela political prisoners released", k=5)
    assert hits[0].id == SEED_ID
    assert hits[0].passages and any(p.highlights for p in hits[0].passages)
    stats = seeded.stats()
    assert (stats["clusters"], stats["articles"]) == (41, 144)
    assert stats["passages"] == stats["vectors"] > 0


def test_reindexing_the_same_files_changes_nothing(seeded: Engine) -> None:
    before = seeded.stats()
    run = seeded.add_paths([SEEDS])
    assert not run.report.changed and len(run.report.unchanged) == 41
    assert run.report.passages_encoded == 0
    after = seeded.stats()
    assert after["generation"] == before["generation"]
    assert after["passages"] == before["passages"]


def test_a_changed_cluster_replaces_the_old_version(engine: Engine) -> None:
    cluster = seed_cluster()
    engine.add([cluster])
    passages_before = engine.stats()["passages"]
    cluster.summary = "Caracas freed the detainees after talks with Washington about oil."
    cluster.key_points = cluster.key_points[:2]
    report = engine.add([cluster])
    assert report.replaced == [SEED_ID] and report.added == []
    # Unchanged key points and articles keep their stored vectors.
    assert report.passages_encoded == 1 and report.passages_reused == 5
    assert engine.get(SEED_ID)[0].summary.startswith("Caracas freed")
    assert engine.stats()["passages"] == passages_before - 3
    assert (
        engine.search("Caracas oil Washington detainees", k=1, mode=Mode.LEXICAL)[0].id == SEED_ID
    )
    assert engine.search(
        "goodwill gesture response long-held demands", mode=Mode.LEXICAL, k=5
    ) == [] or all(
        p.field.value != "summary"
        for h in engine.search("long-held", mode=Mode.LEXICAL)
        for p in h.passages
    )


def test_remove_and_unknown_ids(seeded: Engine) -> None:
    seeded.remove([SEED_ID])
    assert SEED_ID not in [h.id for h in seeded.search("Venezuela prisoners", k=41)]
    with pytest.raises(UnknownId):
        seeded.get(SEED_ID)
    with pytest.raises(UnknownId):
        seeded.remove(["2025-10-03-c6", "nope"])
    assert seeded.get("2025-10-03-c6")  # nothing removed when one id is unknown
    assert seeded.stats()["clusters"] == 40


def test_add_then_remove_leaves_the_index_as_it_was(seeded: Engine) -> None:
    before = seeded.search("earthquake aid Afghanistan", k=10)
    cluster = seed_cluster()
    cluster.id = "2026-01-10-c1"
    for i, article in enumerate(cluster.articles, 1):
        article.id = f"{cluster.id}-a{i}"
    seeded.add([cluster])
    seeded.remove([cluster.id])
    after = seeded.search("earthquake aid Afghanistan", k=10)
    assert [(h.id, h.score) for h in before] == [(h.id, h.score) for h in after]


def test_get_article_and_cluster(seeded: Engine) -> None:
    cluster, article = seeded.get("2026-01-09-c10-a2")
    assert cluster.id == SEED_ID and article is not None and article.publisher == "Sky News"


def test_reopen_sees_what_was_written(
    seeded: Engine, index_dir: Path, encoder: HashingEncoder
) -> None:
    expected = [h.id for h in seeded.search("Louvre jewels", k=3)]
    seeded.close()
    reopened = Engine.open(index_dir, encoder=encoder)
    assert [h.id for h in reopened.search("Louvre jewels", k=3)] == expected


@pytest.mark.embedded_only
def test_crash_after_commit_before_vectors_saved_reopens_consistent(
    engine: Engine, index_dir: Path, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.add([seed_cluster()])
    gen = json.loads((index_dir / MANIFEST).read_text())["generation"]

    def crash(self: FaissVectorStore, path: Path) -> None:
        raise KeyboardInterrupt  # killed while writing the FAISS file

    engine.add_paths([SEEDS / "2025-10-20_c1.txt"])
    monkeypatch.setattr(FaissVectorStore, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.close()  # the checkpoint at close dies
    monkeypatch.undo()
    # The database committed the new cluster; the manifest and FAISS file did not follow.
    assert json.loads((index_dir / MANIFEST).read_text())["generation"] == gen
    reopened = Engine.open(index_dir, encoder=encoder)
    stats = reopened.stats()
    assert stats["clusters"] == 2 and stats["vectors"] == stats["passages"]
    assert reopened.search("Louvre crown jewels heist", k=1)[0].id == "2025-10-20-c1"
    reopened.add_paths([SEEDS / "2025-10-03_c6.txt"])
    reopened.close()  # the next writer's checkpoint catches the manifest up
    assert json.loads((index_dir / MANIFEST).read_text())["generation"] == stats["generation"] + 1


@pytest.mark.embedded_only
def test_crash_inside_the_transaction_keeps_the_last_good_state(
    engine: Engine, index_dir: Path, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.add([seed_cluster()])
    original = engine.store.insert_cluster
    calls = {"n": 0}

    def insert_then_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.store, "insert_cluster", insert_then_die)
    with pytest.raises(KeyboardInterrupt):
        engine.add_paths([SEEDS / "multi_2025-11-20.txt"])
    engine.close()
    reopened = Engine.open(index_dir, encoder=encoder)
    assert reopened.store.cluster_ids() == [SEED_ID]
    assert reopened.stats()["vectors"] == reopened.stats()["passages"]


@pytest.mark.embedded_only
def test_corrupt_vector_file_is_rebuilt_from_stored_embeddings(
    seeded: Engine, index_dir: Path, encoder: HashingEncoder
) -> None:
    expected = [h.id for h in seeded.search("Nobel prize", k=3, mode=Mode.DENSE)]
    seeded.close()
    vectors = json.loads((index_dir / MANIFEST).read_text())["vectors_file"]
    (index_dir / vectors).write_bytes(b"garbage")
    reopened = Engine.open(index_dir, encoder=encoder)
    assert [h.id for h in reopened.search("Nobel prize", k=3, mode=Mode.DENSE)] == expected


def test_opening_with_another_model_is_a_clear_error(seeded: Engine, index_dir: Path) -> None:
    seeded.close()
    with pytest.raises(ModelMismatch, match="hashing-128"):
        Engine.open(index_dir, encoder=HashingEncoder(64))
    with pytest.raises(ModelMismatch):
        Engine.open(index_dir, model="all-MiniLM-L6-v2")
    assert Engine.open(index_dir).folder.manifest.model == "hashing-128"


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="searchengine index"):
        Engine.open(tmp_path / "nowhere")


@pytest.mark.embedded_only
def test_embeddings_are_stored_as_float16(seeded: Engine, index_dir: Path) -> None:
    db = sqlite3.connect(index_dir / "meta.sqlite")
    blob = db.execute("SELECT embedding FROM passages LIMIT 1").fetchone()[0]
    assert len(blob) == 128 * 2


# --- filters -------------------------------------------------------------------


def test_date_filter(seeded: Engine) -> None:
    hits = seeded.search(
        "talks", k=50, filters=Filters(date_from="2026-01-01", date_to="2026-01-31")
    )
    assert hits and all("2026-01-01" <= (h.date or "") <= "2026-01-31" for h in hits)


def test_source_filter(seeded: Engine) -> None:
    hits = seeded.search("crypto", k=50, filters=Filters(sources=("bloomberg.com",)))
    assert hits
    assert all("bloomberg.com" in h.sources for h in hits)


def test_entity_filter_is_accent_and_case_insensitive(seeded: Engine) -> None:
    plain = seeded.search("Venezuela", k=50, filters=Filters(entities=("nicolas maduro",)))
    accented = seeded.search("Venezuela", k=50, filters=Filters(entities=("Nicolás Maduro",)))
    assert [h.id for h in plain] == [h.id for h in accented]
    assert SEED_ID in [h.id for h in plain]
    assert all(
        any(e.lower().replace("á", "a") == "nicolas maduro" for e in seeded.get(h.id)[0].entities)
        for h in plain
    )


def test_sentiment_filter(seeded: Engine) -> None:
    hits = seeded.search("prisoners", k=50, filters=Filters(sentiment="positive"))
    assert hits
    for h in hits:
        cluster, _ = seeded.get(h.id)
        sentiments = [a.sentiment for a in cluster.articles]
        assert sentiments.count("positive") >= max(sentiments.count(s) for s in set(sentiments))


def test_filters_apply_before_top_k(seeded: Engine) -> None:
    """A filtered search returns the best allowed cluster even when it ranks far down unfiltered."""
    unfiltered = [
        h.id for h in seeded.search("Venezuela political prisoners", k=41, mode=Mode.DENSE)
    ]
    last = unfiltered[-1]
    date = seeded.get(last)[0].date
    for mode in Mode:
        hits = seeded.search(
            "Venezuela political prisoners",
            k=1,
            mode=mode,
            filters=Filters(date_from=date, date_to=date),
        )
        if mode is Mode.LEXICAL and not hits:
            continue  # no shared word: lexical has nothing to rank
        assert hits and hits[0].date == date


def test_article_search(seeded: Engine) -> None:
    hits = seeded.search("Sky News prisoners Caracas El Helicoide", k=3, kind=Kind.ARTICLES)
    assert hits[0].id == "2026-01-09-c10-a2"
    assert hits[0].kind is Kind.ARTICLES and hits[0].cluster_id == SEED_ID
    assert all(p.article_id == hits[0].id for p in hits[0].passages)


def test_bad_requests(seeded: Engine) -> None:
    from searchengine import BadRequest

    with pytest.raises(BadRequest):
        seeded.search("   ")
    with pytest.raises(BadRequest):
        seeded.search("x", k=0)


def test_index_type_choice(tmp_path: Path, encoder: HashingEncoder) -> None:
    eng = Engine.open(tmp_path / "hnsw", encoder=encoder, create=True, index_type="HNSW32,Flat")
    eng.add_paths([SEEDS])
    assert eng.stats()["index_type"] == "HNSW32,Flat"
    assert eng.search("Louvre jewels", k=1)[0].id == "2025-10-20-c1"
    eng.remove(["2025-10-20-c1"])  # hidden in the graph, not rebuilt
    assert eng.stats()["vectors"] == eng.stats()["passages"]
    eng.rebuild("Flat")
    assert eng.stats()["index_type"] == "Flat"
    with pytest.raises(ValueError):
        Engine.open(tmp_path / "bad", encoder=encoder, create=True, index_type="NoSuchIndex")


def test_auto_index_type_switches_past_the_flat_limit() -> None:
    from searchengine.backends.index_types import AUTO_FLAT_LIMIT, choose_index_type

    assert choose_index_type("auto", 1000) == "Flat"
    assert choose_index_type("auto", AUTO_FLAT_LIMIT + 1).startswith("HNSW")
    assert choose_index_type("IVF256,SQ8", 10) == "IVF256,SQ8"


def test_vector_store_filters_inside_search() -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(500, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1000, 1500, dtype=np.int64)
    for kind in ("Flat", "HNSW32,Flat", "IVF8,SQ8"):
        store = FaissVectorStore.build(16, kind, ids, vecs)
        allowed = np.array([1007, 1300, 1499], dtype=np.int64)
        got = store.search(vecs[0], 10, allowed)
        assert sorted(i for i, _ in got) == [1007, 1300, 1499]
        store.remove([1300])
        allowed_now = np.array([1007, 1499], dtype=np.int64)
        assert sorted(i for i, _ in store.search(vecs[0], 10, allowed_now)) == [1007, 1499]
        assert 1300 not in [i for i, _ in store.search(vecs[300], 50)]
        assert len(store) == 499


def test_graph_hides_removals_instead_of_rebuilding() -> None:
    """Observed (issue 10): with HNSW32,Flat every remove rebuilt the whole graph
    (7.75 s at 31k passages). Removals are hidden now and never returned; a
    rebuild is asked for only once they pass a share of the index."""
    from searchengine.backends.embedded.vectors import HIDDEN_SHARE_REBUILD

    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(400, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(400, dtype=np.int64)
    for kind in ("HNSW32,Flat", "IVF8,Flat"):
        store = FaissVectorStore.build(16, kind, ids, vecs)
        removed = list(range(0, 40))
        store.remove(removed)
        assert store.hidden == 40 and len(store) == 360 and not store.needs_rebuild
        for q in range(0, 60):
            found = [i for i, _ in store.search(vecs[q], 20)]
            assert not set(found) & set(removed), kind
            if q >= 40:
                assert found[0] == q, kind  # the living are still found, under their own ids
        store.remove(range(40, int(400 * HIDDEN_SHARE_REBUILD) + 10))
        assert store.needs_rebuild


def test_churn_on_a_graph_index_rebuilds_rarely(tmp_path: Path, encoder: HashingEncoder) -> None:
    """Replacing and removing clusters one at a time on HNSW keeps one graph
    (hidden removals) until they pass their share, and searches stay right."""
    eng = Engine.open(tmp_path / "hnsw", encoder=encoder, create=True, index_type="HNSW32,Flat")
    try:
        eng.add_paths([SEEDS])
        with eng.folder.reading():
            graph = eng.folder.vectors.index
        ids = eng.store.cluster_ids()
        eng.remove(ids[:2])
        with eng.folder.reading():
            assert eng.folder.vectors.index is graph and eng.folder.vectors.hidden > 0
        hits = eng.search("Louvre jewels", k=10, mode="dense")
        assert not {h.id for h in hits} & set(ids[:2])
        assert eng.stats()["vectors"] == eng.stats()["passages"]
        eng.remove(ids[2 : len(ids) // 2])  # past the share: rebuilt from embeddings
        with eng.folder.reading():
            assert eng.folder.vectors.index is not graph and eng.folder.vectors.hidden == 0
        assert eng.stats()["vectors"] == eng.stats()["passages"]
    finally:
        eng.close()


@pytest.mark.embedded_only
def test_a_server_keeps_answering_while_its_graph_is_rebuilt(
    tmp_path: Path, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed: a server whose graph passed its share of hidden removals (another
    process removed them) rebuilt it inside the exclusive lock, and every search waited
    for it (~15 s at 30k passages). It now answers from the old graph, where the
    removals are hidden, while a new one is built in the background; then takes it up."""
    path = tmp_path / "hnsw"
    writer = Engine.open(path, encoder=encoder, create=True, index_type="HNSW32,Flat")
    writer.add_paths([SEEDS])
    server = Engine.open(path, encoder=encoder)
    server.serve_mode(wait=True)
    held, started = threading.Event(), threading.Event()
    try:
        with server.folder.reading():
            graph = server.folder.vectors.index
        build = server.folder._rebuild_from

        def held_build(*args: object) -> object:
            started.set()
            held.wait(60)
            return build(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(server.folder, "_rebuild_from", held_build)
        ids = writer.store.cluster_ids()
        removed = set(ids[: len(ids) // 2])
        writer.remove(sorted(removed))  # another engine, as another process would
        hits = server.search("Louvre jewels", k=10, mode="dense")  # the rebuild is held
        assert started.wait(30)
        assert hits and not {h.id for h in hits} & removed
        with server.folder.reading():
            assert server.folder.vectors.index is graph and server.folder.vectors.hidden > 0
        held.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with server.folder.reading():
                if server.folder.vectors.index is not graph:
                    break
            time.sleep(0.05)
        with server.folder.reading():
            assert server.folder.vectors.index is not graph
            assert server.folder.vectors.hidden == 0
            assert len(server.folder.vectors) == server.stats()["passages"]
        expected = writer.search("Louvre jewels", k=10, mode="dense")
        assert [h.id for h in server.search("Louvre jewels", k=10, mode="dense")] == [
            h.id for h in expected
        ]
    finally:
        held.set()
        server.close()
        writer.close()


@contextmanager
def searched_without_pause(path: Path, encoder: HashingEncoder) -> Iterator[None]:
    """A server's engine on `path` searching from two threads, without pause, for the
    block (what holds SQLite's log open while a writer writes)."""
    server = Engine.open(path, encoder=encoder)
    server.serve_mode(wait=True)
    stop = threading.Event()

    def search_without_pause() -> None:
        while not stop.is_set():
            server.search("Venezuela prisoner releases", k=10, mode=Mode.LEXICAL)

    readers = [threading.Thread(target=search_without_pause) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        server.close()


@pytest.mark.embedded_only
def test_the_write_ahead_log_does_not_grow_under_searches_without_pause(
    tmp_path: Path, encoder: HashingEncoder
) -> None:
    """Observed (scripts/churn.py --reader): with a server searching all the time,
    SQLite's own checkpoints never started the log over, and meta.sqlite-wal grew by
    every write (42 days of churn: 2-5x the database). Each write now restarts it."""
    path = tmp_path / "index"
    writer = Engine.open(path, encoder=encoder, create=True)
    writer.add_paths([SEEDS])
    try:
        with searched_without_pause(path, encoder):
            ids = writer.store.cluster_ids()[:10]
            sizes = []
            for day in range(4):
                clusters = [writer.get(i)[0] for i in ids]
                for cluster in clusters:
                    cluster.summary += f" Update {day}."
                assert writer.add(clusters).replaced == ids
                sizes.append((path / "meta.sqlite-wal").stat().st_size)
    finally:
        writer.close()
    assert sizes[-1] <= 1.5 * sizes[0], sizes  # before: +~30% a write, 2x after four


@pytest.mark.slow
@pytest.mark.embedded_only
def test_a_serving_process_stays_flat_under_daily_churn(tmp_path: Path) -> None:
    """Observed (issue 25; scripts/churn.py --reader, HNSW): a server's anonymous memory
    kept climbing after the window filled -- day 90 +29% over day 30 with every big
    structure released -- as glibc, having raised its mmap threshold, served the big
    arrays from a heap it could not give back. At this scale (a window of 8 days of 100
    clusters, 20 days) the last 8 days stood at 1.39x the day the window filled before
    `steady_heap`, at 0.95x after."""
    out = tmp_path / "churn.json"
    argv = ["--days", "20", "--per-day", "100", "--window", "8", "--index-type", "HNSW32,Flat"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "churn.py"), *argv, "--reader", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    anon = [row["rss_anon_mb"] for row in json.loads(out.read_text())["HNSW32,Flat"]["rows"]]
    full, late = anon[7], sorted(anon[12:])
    assert late[len(late) // 2] <= 1.2 * full, anon


def test_a_big_write_leaves_the_log_cut_once_it_is_over(
    tmp_path: Path, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed (churn with a reader, 90 days): every ~6 days, on the day the full-text
    indexes were merged, meta.sqlite-wal stood at 76-81 MB after the job though the
    README says it is cut to 16 MB: a restarted log kept its size until the next write.
    With the limit at 256 KB here, removing a third of the clusters (past the share
    that merges the full-text indexes: a big write) under searching readers leaves
    the log within the limit once it is over."""
    from searchengine.backends.embedded import database

    monkeypatch.setattr(database, "WAL_LIMIT_BYTES", 256 << 10)
    path = tmp_path / "index"
    writer = Engine.open(path, encoder=encoder, create=True)
    writer.add_paths([SEEDS])
    try:
        with searched_without_pause(path, encoder):
            ids = writer.store.cluster_ids()
            writer.remove(ids[: len(ids) // 3])  # one big write
            size = (path / "meta.sqlite-wal").stat().st_size
    finally:
        writer.close()
    assert size <= 256 << 10, size


def test_graph_checkpoint_does_not_bring_removals_back(
    tmp_path: Path, encoder: HashingEncoder
) -> None:
    """A checkpoint written while a graph hid removals is loaded without them."""
    path = tmp_path / "hnsw"
    eng = Engine.open(path, encoder=encoder, create=True, index_type="HNSW32,Flat")
    eng.add_paths([SEEDS])
    eng.remove(["2025-10-20-c1"])
    eng.close()  # checkpoints the graph (with the removed passages hidden in it)
    reopened = Engine.open(path, encoder=encoder)
    try:
        assert reopened.stats()["vectors"] == reopened.stats()["passages"]
        hits = reopened.search("Louvre jewels", k=5, mode="dense")
        assert "2025-10-20-c1" not in [h.id for h in hits]
    finally:
        reopened.close()


def test_trigrams_rescue_only_unknown_words(seeded: Engine) -> None:
    assert seeded.store.unknown_terms(["liverpool", "liverpol", "anfield", "anfeld"]) == [
        "liverpol",
        "anfeld",
    ]
    # The words closest to the unknown ones are searched (fuzzy.py), in every mode...
    assert seeded.search("Liverpol Anfeld", mode=Mode.LEXICAL, k=1)[0].id == "2025-11-27-c6"
    assert seeded.search("Liverpol Anfeld", k=1)[0].id == "2025-11-27-c6"
    # ... while a word too far from any known one ("lvrpl": ratio < 80) is left to trigrams.
    with seeded.folder.reading():
        assert seeded.queries.searcher().query_words("Lvrpl Anfld").found == {"anfld": ["anfield"]}


def test_deletions_merge_the_full_text_indexes(tmp_path: Path, encoder: HashingEncoder) -> None:
    """Observed (issue 10): with daily add/remove churn, FTS5 tombstones and segments
    were never reclaimed (meta.sqlite +87% at constant content). Once deletions pass
    their share, a write merges both full-text indexes, and search is unchanged."""
    from searchengine.backends.embedded.folder import FTS_MERGE_SHARE

    churned = Engine.open(tmp_path / "churned", encoder=encoder, create=True)
    fresh = Engine.open(tmp_path / "fresh", encoder=encoder, create=True)
    try:
        churned.add_paths([SEEDS])
        ids = churned.store.cluster_ids()
        gone = ids[: int(len(ids) * FTS_MERGE_SHARE) + 2]
        data_rows = "SELECT count(*) FROM passages_fts_data"
        before = churned.store.db.execute(data_rows).fetchone()[0]
        churned.remove(gone[:1])
        assert churned.store.get_meta("fts_deleted") != "0"  # counted, not merged yet
        grown = churned.store.db.execute(data_rows).fetchone()[0]
        assert grown > before  # a tombstone segment was added
        churned.remove(gone[1:])
        assert churned.store.get_meta("fts_deleted") == "0"  # merged
        assert churned.store.db.execute(data_rows).fetchone()[0] < grown
        # ... and the pages the merge freed went back to the file system.
        assert churned.store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        for table in ("passages_fts", "passages_trigram"):
            churned.store.db.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        fresh.add([churned.get(i)[0] for i in churned.store.cluster_ids()])
        for query in ("Venezuela prisoner releases", "Louvre jewels", "Liverpol Anfeld"):
            want = [(h.id, round(h.score, 4)) for h in fresh.search(query, mode="lexical")]
            got = [(h.id, round(h.score, 4)) for h in churned.search(query, mode="lexical")]
            assert got == want, query
    finally:
        churned.close()
        fresh.close()


def test_a_query_naming_only_what_the_index_never_mentions_has_no_strong_hit(
    seeded: Engine,
) -> None:
    """ "Japan snap election results": Japan occurs in no passage, so no story can be a
    strong answer, however close its words; a name the index knows keeps its chance."""
    unknown = seeded.search("Zanzibarland snap election results", k=5)
    assert unknown and all(h.evidence and h.evidence.names_missing == 1.0 for h in unknown)
    assert all(h.weak and h.relevance == 0.0 for h in unknown)
    known = seeded.search("Venezuela snap election results", k=5)
    assert all(h.evidence and h.evidence.names_missing == 0.0 for h in known)
    half = seeded.search("Venezuela and Zanzibarland prisoners", k=5)
    assert all(h.evidence and h.evidence.names_missing == 0.5 for h in half)


def test_relevance_is_the_same_however_the_clusters_got_in(seeded: Engine) -> None:
    """Removing and re-adding the same clusters moved a hit's relevance from 0.53 to
    0.55: the sample a hit's cosine was measured against followed the order passages
    were added in. The sample (and every input of relevance) now depends only on what
    is indexed."""
    queries = ("Venezuela prisoner releases", "Bitcoin crash liquidations", "Louvre heist")

    def levels() -> dict[tuple[str, str], tuple[float, float | None]]:
        return {
            (q, h.id): (h.relevance, h.evidence.standing if h.evidence else None)
            for q in queries
            for h in seeded.search(q, k=10)
        }

    before = levels()
    ids = ["2025-11-20-c7", "2025-10-20-c1", "2026-01-09-c10", "2025-10-11-c4"]
    clusters = [seeded.get(cid)[0] for cid in ids]
    assert seeded.remove(ids) == ids
    assert levels() != before  # (the index really changed in between)
    seeded.add(clusters)
    assert levels() == before


def _open_index_files(where: Path) -> int:
    """File descriptors this process holds on the index's files (Linux /proc)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while we looked
            continue
        count += target.startswith(str(where))
    return count


@pytest.mark.embedded_only
def test_threads_that_come_and_go_leave_no_connections_open(seeded: Engine) -> None:
    """A long-running server sees threads come and go (anyio retires idle workers after
    10 s; every webhook delivery and rebuild has its own): each kept its SQLite
    connection until close(), 200 short-lived threads -> 201 connections and 409 file
    descriptors. 1,000 searches over 250 threads that end leave the count flat."""
    where = Path(str(seeded.folder.path))
    seeded.search("prisoners", k=3)
    before = _open_index_files(where)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for query in ("prisoners", "Ukraine peace plan", "bitcoin", "election"):
                assert seeded.search(query, k=3) is not None
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    counts = []
    for round_ in range(25):  # 25 rounds of 10 threads at once, 4 searches each
        batch = [threading.Thread(target=work) for _ in range(10)]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        if round_ in (4, 24):
            counts.append(_open_index_files(where))
    assert not errors, errors[:3]
    seeded.search("prisoners", k=3)
    assert seeded.store.open_connections() <= 11  # the main thread's and one round's
    # SQLite keeps a closed connection's descriptor while others hold locks on the file
    # and hands it to the next connection: the count settles instead of growing.
    after_5, after_25 = counts
    # (+12: under CPU load more of them wait to be handed on -- 28 -> 33 once; the leak
    # this guards against added two per thread, 400 over these 200 threads.)
    assert after_25 <= after_5 + 12 and after_25 <= before + 40, (before, counts)
