"""The Milvus backend's collections: their fields, their vector and scalar indexes,
loading them, dropping them. (What each collection holds: store.py.)"""

from __future__ import annotations

from typing import Any

from searchengine.backends.milvus.connection import (
    ID_LENGTH,
    LAYOUT,
    LAYOUT_VERSION,
    MAX_ARRAY,
    MAX_VARCHAR,
    META_DIMENSION,
    MilvusConnection,
    milvus_index,
)
from searchengine.errors import BackendUnavailable, IndexCorrupt

# Scalar indexes (INVERTED) on the fields filters test and lookups and deletes select
# by, per collection; without them every one of those is a scan. Arrays (source hosts,
# entity keys) are left out: milvus-lite refuses a scalar index on an ARRAY field.
SCALAR_INDEXES = {
    "passages": ("cluster_id", "article_id", "text_hash", "date", "sentiment", "is_article"),
    "clusters": ("date", "sentiment"),
    "alerts": ("matched_at", "due"),  # (retention deletes by one, the outbox asks by the other)
}


class MilvusCollections(MilvusConnection):
    """Making, loading and dropping the index's three collections."""

    def exists(self) -> dict[str, bool]:
        names = set(self.call("list_collections"))
        return {n: n in names for n in self.collection_names()}

    def collection_names(self) -> tuple[str, ...]:
        """The index's collections, meta first (what says the index is whole)."""
        return (self.meta_name, self.clusters_name, self.passages_name, self.alerts_name)

    def create(self, dimension: int, index_type: str, meta: dict[str, str]) -> None:
        """The three collections; meta (what says the index is whole) is written last."""
        from pymilvus import DataType, Function, FunctionType

        kind, build = milvus_index(index_type, self.params)
        client = self.client

        def filter_fields(schema: Any) -> None:
            schema.add_field("date", DataType.VARCHAR, max_length=32)
            schema.add_field("sentiment", DataType.VARCHAR, max_length=32)
            for name in ("sources", "entity_keys"):
                schema.add_field(
                    name,
                    DataType.ARRAY,
                    element_type=DataType.VARCHAR,
                    max_capacity=MAX_ARRAY,
                    max_length=ID_LENGTH,
                )

        passages = client.create_schema(auto_id=False, enable_dynamic_field=False)
        passages.add_field("id", DataType.INT64, is_primary=True)
        passages.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        passages.add_field("words", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True)
        passages.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        passages.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
        passages.add_field("cluster_id", DataType.VARCHAR, max_length=ID_LENGTH)
        passages.add_field("article_id", DataType.VARCHAR, max_length=ID_LENGTH)
        passages.add_field("field", DataType.VARCHAR, max_length=32)
        passages.add_field("position", DataType.INT64)
        passages.add_field("text_hash", DataType.VARCHAR, max_length=64)
        passages.add_field("version", DataType.VARCHAR, max_length=64)  # its cluster's (store.py)
        passages.add_field("is_article", DataType.BOOL)
        passages.add_field("lead", DataType.BOOL)  # an article's first window: counts articles
        passages.add_field("article_sentiment", DataType.VARCHAR, max_length=32)
        filter_fields(passages)
        passages.add_function(
            Function(
                name="words_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["words"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type=kind, metric_type="IP", params=build)
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")

        clusters = client.create_schema(auto_id=False, enable_dynamic_field=False)
        clusters.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH)
        clusters.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        clusters.add_field("title", DataType.VARCHAR, max_length=MAX_VARCHAR)
        clusters.add_field("content_hash", DataType.VARCHAR, max_length=64)
        clusters.add_field("n_sources", DataType.INT64)
        clusters.add_field("n_articles", DataType.INT64)
        clusters.add_field(
            "article_sentiments",
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=MAX_ARRAY,
            max_length=32,
        )
        clusters.add_field("record", DataType.VARCHAR, max_length=MAX_VARCHAR)
        clusters.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR)
        filter_fields(clusters)
        cluster_index = client.prepare_index_params()
        cluster_index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")

        meta_schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        meta_schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta_schema.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
        meta_schema.add_field("vector", DataType.FLOAT_VECTOR, dim=META_DIMENSION)
        meta_index = client.prepare_index_params()
        meta_index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")

        alerts = client.create_schema(auto_id=False, enable_dynamic_field=False)
        alerts.add_field("id", DataType.INT64, is_primary=True)  # alert_log.py: only grows
        alerts.add_field("matched_at", DataType.VARCHAR, max_length=32)
        alerts.add_field("due", DataType.VARCHAR, max_length=32)  # "" nothing to deliver
        alerts.add_field("record", DataType.VARCHAR, max_length=MAX_VARCHAR)
        alerts.add_field("vector", DataType.FLOAT_VECTOR, dim=META_DIMENSION)

        for name, schema, params in (
            (self.passages_name, passages, index),
            (self.clusters_name, clusters, cluster_index),
            (self.alerts_name, alerts, meta_index),
            (self.meta_name, meta_schema, meta_index),
        ):
            self.call("create_collection", name, schema=schema, consistency_level="Strong")
            # Not waited on by polling (pymilvus sleeps 0.5 s per index before it looks):
            # loading the collection waits for its indexes.
            self.call("create_index", name, params, sync=False)
            self.call("load_collection", name)
        self.ensure_scalar_indexes()
        self.put_meta({**meta, "generation": "1", LAYOUT: LAYOUT_VERSION})

    def ensure_scalar_indexes(self) -> None:
        """Create the scalar indexes a collection lacks (an index made before they
        existed gets them when it is next opened). Two processes opening at once may
        both try: the second finds it there."""
        for collection, fields in SCALAR_INDEXES.items():
            name = f"{self.prefix}_{collection}"
            present = set(self.call("list_indexes", name))
            missing = [f for f in fields if f not in present]
            if not missing:
                continue
            params = self.client.prepare_index_params()
            for field_name in missing:
                params.add_index(field_name=field_name, index_type="INVERTED")
            try:  # (built in the background: a filter works meanwhile, by a scan)
                self.call("create_index", name, params, sync=False)
            except BackendUnavailable:
                if not set(fields) <= set(self.call("list_indexes", name)):
                    raise

    def load(self) -> None:
        """Load whichever of the index's collections is not loaded: after a Milvus restart
        they are released, and every read failed ("... is in state 'released'") until
        someone loaded them by hand. Loading a loaded collection is a no-op in Milvus,
        but the state is asked first: it is one cheap call per collection."""
        from pymilvus.client.types import LoadState

        for name in self.collection_names():
            state = self.call("get_load_state", name).get("state")
            if state != LoadState.Loaded:
                self.call("load_collection", name, timeout=self.params.load_timeout)
        self.ensure_scalar_indexes()

    def drop(self) -> None:
        names = set(self.call("list_collections"))
        for name in self.collection_names():  # meta first
            if name in names:
                self.call("drop_collection", name)

    def drop_if_empty(self) -> None:
        """Drop what a creation cut short left (collections with no rows); collections
        that hold rows are someone's data: refused, with the names."""
        names = [n for n, ok in self.exists().items() if ok]
        full = [n for n in names if int(self.call("get_collection_stats", n)["row_count"])]
        if full:
            raise IndexCorrupt(
                f"{self.uri}: collections {', '.join(full)} exist but are not a whole "
                "searchengine index; choose another prefix, or drop them"
            )
        self.drop()
