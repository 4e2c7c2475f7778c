"""The storage contract (storage.py), checked at the interface: the embedded store and
the Milvus store hold the same clusters and must answer every read the same way — the
two copies of the filter rule and the 1,000-row meta read were bugs of exactly the kind
this catches — and each capability does what its docstring promises on both."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np
import pytest

from searchengine import Engine
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import Filters
from searchengine.core.documents import Cluster, fold
from searchengine.encoders.encoder import HashingEncoder
from searchengine.ingest.indexer import read_paths

from .conftest import SEEDS, drop_milvus_prefix

_names = itertools.count(1)


@pytest.fixture(scope="module")
def twins(
    tmp_path_factory: pytest.TempPathFactory, milvus_server: str
) -> Iterator[tuple[Engine, Engine]]:
    """The seeds indexed twice, with the same encoder: in a folder and in Milvus."""
    uri = f"{milvus_server}/sc{os.getpid()}_{next(_names)}"
    embedded = Engine.open(
        tmp_path_factory.mktemp("contract") / "idx", encoder=HashingEncoder(), create=True
    )
    milvus = Engine.open(uri, encoder=HashingEncoder(), create=True)
    try:
        for engine in (embedded, milvus):
            run = engine.add_paths([SEEDS])
            assert not run.errors
        yield embedded, milvus
    finally:
        embedded.close()
        milvus.close()
        drop_milvus_prefix(uri)


def stores(twins: tuple[Engine, Engine]) -> tuple[RecordStore, RecordStore]:
    return twins[0].store, twins[1].store


def the_seeds() -> dict[str, Cluster]:
    clusters, run = read_paths([SEEDS])
    assert not run.errors
    return {c.id: c for c in clusters}


def both(twins: tuple[Engine, Engine], call: str, *args: object) -> tuple[object, object]:
    """One read on both backends, each inside its own consistent read."""
    out = []
    for engine in twins:
        with engine.folder.reading():
            out.append(getattr(engine.store, call)(*args))
    return out[0], out[1]


def test_records_read_back_as_written_and_alike(twins: tuple[Engine, Engine]) -> None:
    seeds = the_seeds()
    ids = sorted(seeds)
    some = ids[::5]
    articles = [a.id for cid in some for a in seeds[cid].articles]
    for call, args in (
        ("cluster_ids", ()),
        ("get_clusters", (some,)),
        ("cluster_meta", (some,)),
        ("cluster_cards", (some,)),
        ("article_cards", (articles,)),
        ("content_hashes", (some,)),
        ("date_range", ()),
        ("facet_counts", (some, 10)),
    ):
        a, b = both(twins, call, *args)
        if call == "cluster_ids":
            a, b = sorted(a), sorted(b)  # type: ignore[arg-type]
        assert a == b, call
    embedded, _ = stores(twins)
    assert sorted(embedded.cluster_ids()) == ids
    for cid in some:
        stored = embedded.get_cluster(cid)
        assert stored is not None and stored.content_hash() == seeds[cid].content_hash()
    for article in articles:
        assert {s.cluster_of_article(article) for s in stores(twins)} == {
            article.rsplit("-a", 1)[0]
        }
    a, b = both(twins, "counts")
    assert {k: a[k] for k in ("clusters", "passages")} == {
        k: b[k] for k in ("clusters", "passages")
    }  # type: ignore[index]


def test_passages_and_their_owners_agree(twins: tuple[Engine, Engine]) -> None:
    some = sorted(the_seeds())[::7]
    for engine in twins:
        with engine.folder.reading():
            store = engine.store
            per_cluster = store.cluster_passages(some)
            assert set(per_cluster) == set(some)
            for passages in per_cluster.values():
                for _field, _position, _text, vector in passages:
                    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-2)
            hits = store.word_search(["prisoners"], 30, Filters())
            pids = [pid for pid, _ in hits]
            owners, rows = store.passage_owners(pids), store.passages(pids)
            assert hits and set(owners) == set(rows) == set(pids)
            for pid in pids:
                assert owners[pid][0] == rows[pid].cluster_id
                assert "prisoner" in rows[pid].text.lower()
    a, b = (
        sorted((cid, f, pos, t) for cid, ps in x.items() for f, pos, t, _ in ps)
        for x in both(twins, "cluster_passages", some)
    )
    assert a == b


def test_a_filter_selects_the_same_clusters_and_passages(twins: tuple[Engine, Engine]) -> None:
    for filters in (
        Filters.build(sources=["bbc.com"]),
        Filters.build(date_from="2026-01-01"),
        Filters.build(entities=["Nicolás Maduro"], sentiment="positive"),
        Filters.build(sentiment="negative", articles_only=True),
    ):
        a, b = both(twins, "allowed_cluster_ids", filters)
        assert sorted(a) == sorted(b) and a, filters  # type: ignore[arg-type]
        # The passage selection is in each backend's own terms; its vectors honour it.
        for engine in twins:
            with engine.folder.reading():
                selection = engine.store.allowed_passage_ids(filters)
                hits = engine.folder.vectors.search(np.ones(256, np.float32) / 16, 50, selection)
                owners = engine.store.passage_owners([pid for pid, _ in hits])
            assert hits and {c for c, _ in owners.values()} <= set(a), filters  # type: ignore[arg-type]


def test_the_word_index_answers_alike(twins: tuple[Engine, Engine]) -> None:
    terms = ["prisoners", "venezuela", "louvre"]
    a, b = both(twins, "document_frequencies", terms)
    assert a == b and a[0] == 41 and min(a[1].values()) > 0  # type: ignore[index]
    a, b = both(twins, "unknown_terms", ["prisoners", "qwxzv"])
    assert a == b == ["qwxzv"]
    for filters in (Filters(), Filters.build(sources=["bbc.com"])):
        found = []
        for engine in twins:  # passage ids are the backend's own: compare what they hold
            with engine.folder.reading():
                hits = engine.store.word_search(["louvre", "jewels"], 20, filters)
                rows = engine.store.passages([pid for pid, _ in hits])
            found.append([(rows[pid].cluster_id, rows[pid].text, s) for pid, s in hits])
        embedded, milvus = found
        assert embedded and [h[:2] for h in embedded] == [h[:2] for h in milvus], filters
        # (Milvus scores BM25 with its own segment statistics: the same passages in the
        # same order, scores 1-15% off FTS5's and varying with its segments.)
        assert all(h[2] > 0 for h in embedded + milvus)
    assert dict(both(twins, "all_document_frequencies")[0]) == dict(
        both(twins, "all_document_frequencies")[1]
    )


def test_story_data_is_the_same_on_both(twins: tuple[Engine, Engine]) -> None:
    a, b = both(twins, "cluster_vectors", 256)
    order_a, order_b = np.argsort(a[0]), np.argsort(b[0])  # type: ignore[index]
    assert sorted(a[0]) == sorted(b[0])  # type: ignore[index]
    assert np.allclose(a[1][order_a], b[1][order_b], atol=1e-3)  # type: ignore[index]
    a, b = both(twins, "all_entity_keys")
    assert a == b and any(fold("Nicolás Maduro") in keys for keys in a.values())  # type: ignore[union-attr]
    assert both(twins, "all_entity_frequencies")[0] == both(twins, "all_entity_frequencies")[1]
    a, b = both(twins, "all_term_counts")
    assert dict(a) == dict(b)  # type: ignore[call-overload]
    for store in stores(twins):
        assert store.sample_embeddings(16, 256).shape == (16, 256)


def test_writes_generations_and_meta(twins: tuple[Engine, Engine]) -> None:
    seeds = the_seeds()
    cluster = next(iter(seeds.values()))
    for engine in twins:
        store = engine.store
        with engine.folder.reading() as before:
            pass
        removed = engine.remove([cluster.id])
        assert removed == [cluster.id]
        with engine.folder.reading() as after:
            assert after > before and store.get_cluster(cluster.id) is None
        engine.add([cluster])
        with engine.folder.reading():
            assert store.get_cluster(cluster.id) is not None
        with engine.folder.write_lock(), store.write():
            store.set_meta("contract_probe", "yes")
        assert store.get_meta("contract_probe") == "yes"
        assert store.get_meta("no_such_key", "default") == "default"


def test_the_alert_log_pages_alike(twins: tuple[Engine, Engine]) -> None:
    """Alerts of one ingest share their time: paged by time, 3 alerts at page size 2
    lost the third (and 2,000 of 88,602 were seen at page size 500). Paged by id,
    every page size sees every alert exactly once, in the order recorded, on both
    backends; retention removes the old ones only."""
    stamp = "2026-02-01T00:00:00.000000Z"
    rows = [{"matched_at": stamp, "search_id": "s1", "cluster_id": f"c{i}"} for i in range(30)]
    pages: list[list[str]] = []
    for engine in twins:
        store = engine.store
        store.put_saved_search("s1", {"id": "s1", "query": "prisoners"})
        assert [s["id"] for s in store.saved_searches()] == ["s1"]
        ids = store.add_alerts(rows[:3])
        assert len(set(ids)) == 3
        first = store.alerts_after(None, 2)
        assert [a["cluster_id"] for a in first] == ["c0", "c1"]
        assert [a["cluster_id"] for a in store.alerts_after(first[-1]["id"], 2)] == ["c2"]
        store.add_alerts(rows[3:])
        for size in (1, 2, 7, 30, 500):
            seen: list[str] = []
            after = None
            while page := store.alerts_after(after, size):
                seen += [a["cluster_id"] for a in page]
                after = page[-1]["id"]
            assert seen == [f"c{i}" for i in range(30)], size
        assert store.alerts_after(None, 5, since=stamp) == []  # (matched after that time)
        store.set_alert_delivery(first[0]["id"], "delivered")
        assert store.alerts_after(None, 1)[0]["delivery"] == "delivered"
        store.add_alerts([{**rows[0], "matched_at": "2026-03-01T00:00:00.000000Z"}])
        assert store.prune_alerts("2026-02-15T00:00:00Z") == 30
        assert [a["matched_at"][:7] for a in store.alerts_after(None, 100)] == ["2026-03"]
        assert store.delete_saved_search("s1") and not store.delete_saved_search("s1")
        pages.append(seen)
    assert pages[0] == pages[1]


def test_every_backend_implements_the_whole_contract() -> None:
    """mypy checks the call sites; this checks that neither store lacks a method the
    contract names (a Protocol is not checked at run time)."""
    from searchengine.backends.embedded.store import Store
    from searchengine.backends.milvus.store import MilvusStore

    wanted = {
        name
        for cls in RecordStore.__mro__
        if cls.__module__ == "searchengine.backends.storage"
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_")
    }
    assert len(wanted) >= 40
    for impl in (Store, MilvusStore):
        assert not [n for n in wanted if not callable(getattr(impl, n, None))], impl


def test_stats_have_one_shape_on_both_backends(twins: tuple[Engine, Engine]) -> None:
    """`/stats` had a different shape per backend (Milvus: no size, a `collections`
    list; embedded: a checkpoint): a client had to know which it talked to."""
    embedded, milvus = (engine.stats() for engine in twins)
    assert list(embedded) == list(milvus)
    assert (embedded["backend"], milvus["backend"]) == ("embedded", "milvus")
    counted = ("clusters", "articles", "passages", "vectors", "model", "dimension")
    assert {k: embedded[k] for k in counted} == {k: milvus[k] for k in counted}
    assert embedded["size_bytes"] > 0 and milvus["size_bytes"] is None
    assert "meta.sqlite" in embedded["parts"] and len(milvus["parts"]) == 3
