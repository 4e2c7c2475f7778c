"""The Milvus backend as its users meet it: several real `serve` processes and a CLI
writer on one Milvus server (milvus-lite, its own process), copying an index there
and back without encoding, and what goes wrong — an unreachable server, a wrong
prefix, another model's collections, someone else's collections, a writer killed
midway. (The engine's behavioural tests run on both backends: see conftest.py.)"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from searchengine import Engine, IndexNotFound, ModelMismatch
from searchengine.backends.index import remove_index
from searchengine.backends.milvus.folder import MilvusFolder
from searchengine.backends.milvus.store import MilvusStore
from searchengine.core.documents import passages_of
from searchengine.encoders.encoder import HashingEncoder
from searchengine.errors import BackendUnavailable, IndexCorrupt
from searchengine.http.app import ApiSettings, create_app
from searchengine.ingest.parse import parse_text

from .conftest import SEEDS, drop_milvus_prefix, free_port
from .test_processes import AUTH, MODES, Server, cli, digest

_names = itertools.count(1)


@pytest.fixture
def uri(milvus_server: str) -> str:
    """A fresh prefix on the session's Milvus server, dropped afterwards."""
    where = f"{milvus_server}/m{os.getpid()}_{next(_names)}"
    yield where
    drop_milvus_prefix(where)


def one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert stderr.startswith("error: ") and len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return str(stderr)


def test_two_servers_and_a_cli_writer_share_one_milvus(uri: str) -> None:
    """A cluster added through any of them is found by every mode through the others;
    a removed one is gone everywhere; stats agree."""
    cli("index", str(SEEDS), "--index", uri, "--model", "hashing", "-q")
    servers = [Server(uri), Server(uri)]  # type: ignore[arg-type]
    try:
        for srv in servers:
            srv.wait()
        a, b = servers
        # Written through the CLI: both servers find it in every mode.
        path = Path(f"/tmp/milvus-test-{os.getpid()}-cli.txt")
        path.write_text(digest(3, 41, "quokkaville"))
        try:
            cli("index", str(path), "--index", uri, "-q")
        finally:
            path.unlink()
        for srv in servers:
            for mode in MODES:
                assert srv.ids("quokkaville harbour", mode)[0] == "2026-03-03-c41", (srv.url, mode)
        # Written through server A: server B and the CLI see it.
        r = a.http.post("/documents", content=digest(4, 42, "wombatford"), headers=AUTH)
        assert r.status_code == 200 and r.json()["added"] == ["2026-03-04-c42"], r.text
        for mode in MODES:
            assert b.ids("wombatford harbour", mode)[0] == "2026-03-04-c42", mode
        found = cli("search", "wombatford harbour", "--index", uri, "-k", "1", "--json")
        assert '"2026-03-04-c42"' in found.stdout
        # Removed through server B: gone everywhere.
        assert b.http.delete("/clusters/2026-03-04-c42", headers=AUTH).status_code == 200
        for srv in servers:
            for mode in MODES:
                assert "2026-03-04-c42" not in srv.ids("wombatford harbour", mode)
            assert srv.http.get("/clusters/2026-03-04-c42").status_code == 404
        cli("remove", "2026-03-03-c41", "--index", uri)
        for srv in servers:
            assert "2026-03-03-c41" not in srv.ids("quokkaville harbour", "lexical")
        stats = [srv.http.get("/stats").json() for srv in servers]
        cli_stats = cli("stats", "--index", uri, "--json").stdout
        counts = {k: stats[0][k] for k in ("clusters", "articles", "passages", "generation")}
        assert counts == {k: stats[1][k] for k in counts}
        assert counts["clusters"] == 41
        assert f'"passages": {counts["passages"]}' in cli_stats
    finally:
        for srv in servers:
            srv.stop()


def test_copy_to_milvus_and_back_encodes_nothing(tmp_path: Path, uri: str) -> None:
    encoder = HashingEncoder(128)
    with Engine.open(tmp_path / "a", encoder=encoder, create=True) as source:
        source.add_paths([SEEDS])
        report = source.copy_to(uri)
        assert len(report.added) == 41 and report.passages_encoded == 0
        assert source.copy_to(uri).unchanged and not source.copy_to(uri).added  # incremental
        expected = [(h.id, h.score) for h in source.search("Venezuela prisoners", k=5)]
    with Engine.open(uri) as milvus:
        assert milvus.stats()["clusters"] == 41
        assert milvus.search("Venezuela prisoners", k=1)[0].id == expected[0][0]
        back = milvus.copy_to(tmp_path / "b")
        assert back.passages_encoded == 0 and len(back.added) == 41
    with Engine.open(tmp_path / "b", encoder=encoder) as again:
        # The same vectors came back: the same ranking and scores as the original.
        assert [(h.id, h.score) for h in again.search("Venezuela prisoners", k=5)] == expected
    result = cli("copy", str(tmp_path / "a"), uri, "--json", "-q")
    assert '"passages_encoded": 0' in result.stdout


def test_an_unreachable_server_is_one_line_and_exit_1_or_503(tmp_path: Path) -> None:
    gone = f"milvus://127.0.0.1:{free_port()}/news"
    with pytest.raises(BackendUnavailable, match="cannot reach Milvus at milvus://"):
        Engine.open(gone)
    for args in (("stats",), ("search", "anything"), ("index", str(SEEDS), "--model", "hashing")):
        message = one_line_error(cli(*args, "--index", gone, check=False))
        assert gone in message
    app = create_app(ApiSettings(index=gone), load_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        health = client.get("/health")
        assert health.status_code == 503 and gone in health.json()["detail"]
        assert client.get("/search", params={"q": "x"}).status_code == 503


def test_a_wrong_prefix_or_uri_is_a_clear_error(milvus_server: str) -> None:
    with pytest.raises(IndexNotFound, match="no index at"):
        Engine.open(f"{milvus_server}/nothing_here")
    with pytest.raises(IndexNotFound, match="not a Milvus collection name"):
        Engine.open(f"{milvus_server}/bad-prefix")
    with pytest.raises(IndexNotFound, match="milvus://HOST:PORT/PREFIX"):
        Engine.open("milvus://127.0.0.1:19530")
    message = one_line_error(
        cli("search", "x", "--index", f"{milvus_server}/nothing_here", check=False)
    )
    assert "searchengine index --index" in message


def test_another_model_or_dimension_is_refused(uri: str) -> None:
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
    with pytest.raises(ModelMismatch):
        Engine.open(uri, encoder=HashingEncoder(64))
    message = one_line_error(
        cli("index", str(SEEDS), "--index", uri, "--model", "hashing", check=False)
    )
    assert uri in message and "hashing-128" in message
    with Engine.open(uri) as engine:  # nothing was written by the refused runs
        assert engine.stats()["clusters"] == 1


def test_someone_elses_collections_are_never_dropped(uri: str) -> None:
    """Collections under our names that are not a searchengine index (no meta): creating
    an index there is refused and their rows stay."""
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
        store: MilvusStore = engine.store
        store.call("drop_collection", store.meta_name)  # as if another tool made the rest
        rows = store._count(store.passages_name)
    with pytest.raises(IndexCorrupt, match="not a whole searchengine index"):
        Engine.open(uri, encoder=HashingEncoder(128), create=True)
    with _peek(uri) as s:
        assert s._count(s.passages_name) == rows


class _peek:
    """A bare store on an index's collections (no checks), to look at what is there."""

    def __init__(self, uri: str) -> None:
        from searchengine.backends.milvus.connection import MilvusParams
        from searchengine.backends.milvus.folder import MilvusLocation, connect

        self.store = connect(MilvusLocation.parse(uri), MilvusParams())

    def __enter__(self) -> MilvusStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


def test_a_writer_killed_midway_leaves_no_half_cluster(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passages are sent before their cluster row, which is what makes a cluster
    visible: a writer that dies between the two leaves the cluster absent, never half
    there, and the next run adds it."""
    encoder = HashingEncoder(128)
    with Engine.open(uri, encoder=encoder, create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
        real_call = MilvusStore.call

        def dies_before_cluster_rows(self: MilvusStore, method: str, *args, **kwargs):  # type: ignore[no-untyped-def]
            if method == "upsert" and args and args[0] == self.clusters_name:
                raise KeyboardInterrupt  # the process is killed here
            return real_call(self, method, *args, **kwargs)

        monkeypatch.setattr(MilvusStore, "call", dies_before_cluster_rows)
        with pytest.raises(KeyboardInterrupt):
            engine.add_paths([SEEDS / "000_04a9b59b936e3d08.txt"])
        monkeypatch.setattr(MilvusStore, "call", real_call)
        assert engine.stats()["clusters"] == 1
        for mode in MODES:
            hits = engine.search("Venezuela political prisoners", mode=mode, k=10)
            assert "2026-01-09-c10" not in [h.id for h in hits], mode
        run = engine.add_paths([SEEDS / "000_04a9b59b936e3d08.txt"])
        assert run.report.added == ["2026-01-09-c10"]
        assert engine.search("Venezuela political prisoners", k=1)[0].id == "2026-01-09-c10"


def test_a_server_whose_milvus_goes_away_answers_503(tmp_path: Path) -> None:
    from .conftest import start_milvus

    proc, address = start_milvus(tmp_path / "data")
    where = f"milvus://{address}/gone"
    try:
        with Engine.open(where, encoder=HashingEncoder(128), create=True) as engine:
            engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
            app = create_app(ApiSettings(index=where), engine=engine)
            with TestClient(app, raise_server_exceptions=False) as client:
                assert client.get("/health").status_code == 200
                proc.kill()
                proc.wait()
                r = client.get("/search", params={"q": "blackout"})
                assert r.status_code == 503 and where in r.json()["detail"]
                assert client.get("/health").status_code == 503
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_index_type_is_chosen_when_the_index_is_made(uri: str, milvus_server: str) -> None:
    """`auto` is an HNSW graph on Milvus from the start (there is no per-process
    rebuild to switch later); `Flat` asks for exact search; an index keeps its type."""
    from searchengine.errors import BadRequest

    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as graph:
        graph.add_paths([SEEDS])
        assert graph.stats()["index_type"] == "HNSW32,Flat"
        assert graph.stats()["articles"] == 144
        top = [h.id for h in graph.search("Venezuela political prisoners", mode="dense", k=5)]
        with pytest.raises(BadRequest, match="searchengine copy --index-type"):
            graph.rebuild("Flat")
        exact = f"{milvus_server}/m{os.getpid()}_flat"
        try:
            graph.copy_to(exact, index_type="Flat")
            with Engine.open(exact, encoder=HashingEncoder(128)) as flat:
                assert flat.stats()["index_type"] == "Flat"
                found = flat.search("Venezuela political prisoners", mode="dense", k=5)
                assert [h.id for h in found] == top
        finally:
            remove_index(exact)
    with pytest.raises(BadRequest, match="no Milvus equivalent"):
        Engine.open(
            f"{milvus_server}/m{os.getpid()}_pq",
            encoder=HashingEncoder(128),
            create=True,
            index_type="PQ16",
        )


def test_a_search_asks_milvus_for_the_generation_once_per_read(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every round trip to a remote Milvus is latency a reader waits for: a search with
    an unknown word read the generation four times (twice for the vocabulary alone)."""
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
        engine.search("Afeganistão prisoner releases")  # the vocabulary, once
        calls = []
        state = MilvusStore.state
        monkeypatch.setattr(MilvusStore, "state", lambda self: calls.append(1) or state(self))
        hits = engine.search("Afeganistão prisoner zzqx releases")
        assert hits
        assert len(calls) <= 2  # the query's words, then the search: one read each


def test_opening_an_index_to_add_to_connects_once(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`index` on an existing Milvus index asked whether it existed (one connection),
    then opened it (a second)."""
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
    opened = []
    real = MilvusFolder.open.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        MilvusFolder,
        "open",
        classmethod(lambda cls, *a, **k: opened.append(1) or real(cls, *a, **k)),
    )
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        assert engine.stats()["clusters"] == 1
    assert len(opened) == 1


def test_an_index_with_many_alerts_still_opens(uri: str) -> None:
    """Alerts shared the meta collection with the index's settings, and opening read the
    first 1,000 rows of it: past ~1,000 alerts (on a server that returns rows in key
    order, "alert:..." before "model") the settings fell off the end and the index
    would not open. Alerts now have their own collection; the settings are read by
    themselves; and every one of 1,200 alerts is paged through once."""
    with Engine.open(uri, encoder=HashingEncoder(), create=True) as engine:
        engine.add_paths([SEEDS / "2025-10-03_c6.txt"])
        store = engine.store
        assert isinstance(store, MilvusStore)
        settings = store.all_meta()
        rows = [
            {"matched_at": f"2026-01-01T00:00:{i:06d}Z", "search_id": "s", "cluster_id": "c"}
            for i in range(1_200)
        ]
        ids = store.add_alerts(rows)
        assert {k: v for k, v in store.all_meta().items() if k != "alert_seq"} == settings
        seen, after = [], None
        while page := store.alerts_after(after, 500):
            seen += [a["id"] for a in page]
            after = page[-1]["id"]
        assert seen == ids  # none of them lost, none twice
        assert {"model", "dimension", "generation"} <= set(settings)
    with Engine.open(uri) as engine:
        assert engine.stats()["clusters"] == 1
        assert engine.search("a", k=1, mode="lexical") is not None


def test_every_command_works_after_milvus_restarts(tmp_path: Path) -> None:
    """After a Milvus restart its collections are released: every command failed with
    "collection ... is in state 'released'" until someone loaded them by hand. Opening
    an index loads what is not loaded."""
    from .conftest import start_milvus

    data = tmp_path / "milvus-data"
    proc, address = start_milvus(data)
    try:
        where = f"milvus://{address}/restart"
        cli("index", str(SEEDS), "--index", where, "--model", "hashing", "-q")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc, address = start_milvus(data)  # the same data, a new server (and port)
    try:
        where = f"milvus://{address}/restart"
        for args in (("stats",), ("search", "prisoners"), ("related", "2025-11-20-c7")):
            result = cli(*args, "--index", where, check=False)
            assert result.returncode == 0, (args, result.stderr)
        assert "2026-01-09-c10" in cli("search", "Maduro prisoners", "--index", where).stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_every_milvus_call_has_a_timeout(uri: str) -> None:
    """`MilvusParams.timeout` was never passed to a call: a hung server hung the request."""
    calls: list[tuple[str, object]] = []

    class Recording:
        def __init__(self, client: object) -> None:
            self.client = client

        def __getattr__(self, name: str) -> object:
            method = getattr(self.client, name)

            def record(*args: object, **kwargs: object) -> object:
                calls.append((name, kwargs.get("timeout")))
                return method(*args, **kwargs)

            return record

    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        store = engine.folder.store
        store.client = Recording(store.client)  # type: ignore[attr-defined]
        engine.add_paths([SEEDS])
        engine.search("prisoners released", k=3)
        engine.related("2025-11-20-c7", k=3)
    assert len(calls) > 20 and {name for name, _ in calls} >= {"query", "upsert", "search"}
    assert [c for c in calls if not c[1] and c[0] != "close"] == []  # (close is local)


def test_a_writer_killed_mid_cluster_then_another_version_leaves_no_mix(
    uri: str, tmp_path: Path
) -> None:
    """A writer killed after a new cluster's passages and before its cluster row left
    passages nobody owned; the next version, seeing no cluster row, took the cluster
    for new, kept them, and the cluster held both versions (search found v1's words,
    `show` printed v2). Every cluster written now drops its other versions after its row."""
    old, new = tmp_path / "v1.txt", tmp_path / "v2.txt"
    old.write_text(digest(3, 50, "oldwordvalley"))
    new.write_text(digest(3, 50, "newwordvalley"))
    cli("index", str(SEEDS), "--index", uri, "--model", "hashing", "-q")
    cli("index", str(old), "--index", uri, "-q")
    folder = MilvusFolder.open(uri)
    try:  # the killed writer: v1's passages are in, its cluster row is not
        folder.store.call("delete", folder.store.clusters_name, filter='id == "2026-03-03-c50"')
    finally:
        folder.close()
    cli("index", str(new), "--index", uri, "-q")
    folder = MilvusFolder.open(uri)
    try:
        rows = folder.store._query(
            folder.store.passages_name, 'cluster_id == "2026-03-03-c50"', ["text"]
        )
    finally:
        folder.close()
    texts = " ".join(r["text"] for r in rows).lower()
    assert "newwordvalley" in texts and "oldwordvalley" not in texts
    (cluster,) = parse_text(new.read_text(), str(new)).clusters
    assert len(rows) == len(passages_of(cluster))  # one version's passages, not two


def test_searches_after_a_write_build_the_word_list_once(uri: str) -> None:
    """The word list for unknown query words is a scan of every cluster's term counts,
    once per generation; searches arriving together right after a write each ran it
    (4 at once: 4 scans, 14.1 s at 7.5k clusters)."""
    import threading

    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS])
        store = engine.folder.store
        scans = []
        scan = store.all_term_counts

        def counted() -> object:
            scans.append(1)
            yield from scan()

        store.all_term_counts = counted  # type: ignore[method-assign]
        go = threading.Barrier(4)

        def search() -> None:
            go.wait()
            engine.search("Afeganistao prisoners", k=3)

        threads = [threading.Thread(target=search) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(scans) == 1


def test_the_date_range_is_kept_by_writers_not_scanned_by_readers(uri: str) -> None:
    """Freshness (recommend, --half-life-days) read every cluster's date on every
    request; writers now keep the range in a meta row, narrowed when an edge goes."""
    with Engine.open(uri, encoder=HashingEncoder(128), create=True) as engine:
        engine.add_paths([SEEDS])
        store = engine.folder.store
        with engine.folder.reading():
            assert store.date_range() == ("2025-10-03", "2026-03-10")
        scanned: list[list[str]] = []
        scan = store._scan

        def counted(collection: str, fields: list[str], *args: object) -> object:
            scanned.append(fields)
            return scan(collection, fields, *args)  # type: ignore[arg-type]

        store._scan = counted  # type: ignore[method-assign]
        engine.recommend(half_life_days=7, k=3)
        engine.search("prisoners", half_life_days=7, k=3)
        assert ["date"] not in scanned  # (the story matrix and word list scan: issue 23)
        newest = [c for c in store.cluster_ids() if c.startswith("2026-03-10")]
        engine.remove(newest)
        with engine.folder.reading():
            oldest, newest = store.date_range()
            assert newest is not None and newest < "2026-03-10"
            assert oldest == "2025-10-03"


def test_an_index_can_live_in_its_own_milvus_database(milvus_server: str) -> None:
    """`milvus://HOST:PORT/DATABASE/PREFIX`: no Milvus database could be chosen, so
    every tenant shared `default`. The database is made by the first `index`."""
    from pymilvus import MilvusClient

    database = f"db{os.getpid()}_{next(_names)}"
    where = f"{milvus_server}/{database}/news"
    missing = cli("search", "x", "--index", where, check=False)
    assert "no database" in one_line_error(missing)
    try:
        cli("index", str(SEEDS), "--index", where, "--model", "hashing", "-q")
        assert "2026-01-09-c10" in cli("search", "Maduro prisoners", "--index", where).stdout
        server = MilvusClient(uri=milvus_server.replace("milvus://", "http://"))
        try:
            assert database in server.list_databases()
            assert not [c for c in server.list_collections() if c.startswith("news_")]
        finally:
            server.close()
        bad = cli("stats", "--index", f"{milvus_server}/9db/news", check=False)
        assert "database '9db' is not a Milvus database name" in one_line_error(bad)
    finally:
        drop_milvus_prefix(where)


def test_filtered_and_looked_up_fields_have_scalar_indexes(uri: str) -> None:
    """Every filter (date, sentiment) and every lookup or delete by cluster_id,
    article_id or text_hash was a scan: no scalar index. A new index has them, and an
    index made without them gets them when it is next opened."""
    from searchengine.backends.milvus.schema import SCALAR_INDEXES

    cli("index", str(SEEDS), "--index", uri, "--model", "hashing", "-q")
    folder = MilvusFolder.open(uri)
    store = folder.store
    try:
        for collection, fields in SCALAR_INDEXES.items():
            assert set(fields) <= set(store.call("list_indexes", f"{store.prefix}_{collection}"))
        # An index from before: a scalar index dropped (a collection must be released to
        # drop one); opening it again makes it.
        store.call("release_collection", store.passages_name)
        store.call("drop_index", store.passages_name, "cluster_id")
        assert "cluster_id" not in store.call("list_indexes", store.passages_name)
    finally:
        folder.close()
    assert "2026-01-09-c10" in cli("search", "Maduro prisoners", "--index", uri).stdout
    folder = MilvusFolder.open(uri)
    try:
        indexes = set(folder.store.call("list_indexes", folder.store.passages_name))
        assert set(SCALAR_INDEXES["passages"]) <= indexes
    finally:
        folder.close()
