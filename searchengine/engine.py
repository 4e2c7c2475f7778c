"""The one front object: `Engine.open(path)` -> add / remove / search / get / stats.

An index is a folder: `manifest.json` (format, model, dimension, index type,
counts, generation), `meta.sqlite` (records, passages, FTS5, embeddings) and
`vectors.faiss`. SQLite is the source of truth and commits per batch; the
FAISS file is written beside the old one and renamed into place, then the
manifest. Their generations tie them: if a write was interrupted after the
database committed but before the FAISS file or manifest caught up, opening
the index rebuilds the vectors from the stored embeddings (no model needed).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .documents import Article, Cluster
from .encoder import DEFAULT_MODEL, Encoder, QueryCache, load_encoder
from .errors import BadRequest, IndexCorrupt, IndexNotFound, ModelMismatch, UnknownId
from .indexer import AddReport, Batch, cluster_vector, encode_batch
from .parse import ParseError, iter_files
from .related import (
    ClusterMatrix,
    RelatedStory,
    SimilarityParams,
    StorySimilarity,
    freshness,
    mmr,
    rocchio,
)
from .search import Hit, Kind, Mode, RankingParams, Searcher
from .store import Filters, Store, StoreError
from .text import term_counts
from .vectors import FaissVectorStore, choose_index_type

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "meta.sqlite"
VECTORS = "vectors.faiss"
BATCH_CLUSTERS = 256


@dataclass
class IndexRun:
    """The outcome of indexing files: what changed, and every parse error met on the way."""

    report: AddReport
    errors: list[ParseError] = field(default_factory=list)
    files: int = 0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Engine:
    """Search, related stories and recommendations over one index folder."""

    def __init__(
        self,
        path: Path,
        store: Store,
        manifest: dict[str, Any],
        encoder: Encoder | None = None,
        params: RankingParams | None = None,
    ) -> None:
        self.path = path
        self.store = store
        self.manifest = manifest
        self._encoder = encoder
        self._query_cache: QueryCache | None = None
        # _lock guards the SQLite connection and the in-memory FAISS index: held
        # briefly by every read and by each write's commit. _write_lock
        # serialises whole writes (their slow encoding runs outside _lock, so
        # searches keep answering while documents are ingested).
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self.params = params or RankingParams()
        self.similarity_params = SimilarityParams()
        self._matrix: tuple[int, ClusterMatrix] | None = None
        self.vectors = self._load_vectors()

    # --- opening ----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        model: str | None = None,
        encoder: Encoder | None = None,
        create: bool = False,
        index_type: str = "auto",
        params: RankingParams | None = None,
    ) -> Engine:
        """Open the index at `path` (creating it when `create`).

        `model` (or an `encoder` object) must match the model the index was
        built with; None means "whatever it was built with". The model itself
        is loaded only when something needs to be encoded.
        """
        path = Path(path)
        manifest_path = path / MANIFEST
        wanted = encoder.name if encoder is not None else model
        if manifest_path.exists():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as err:
                raise IndexCorrupt(
                    f"{manifest_path} cannot be read ({err}); rebuild with "
                    f"`searchengine index --rebuild --index {path} ...`"
                ) from None
            if manifest.get("format_version", 0) > FORMAT_VERSION:
                raise IndexCorrupt(
                    f"{path} was written by a newer searchengine; upgrade to open it"
                )
            if wanted is not None and wanted != manifest.get("model"):
                raise ModelMismatch(
                    f"the index at {path} was built with model {manifest.get('model')!r}, "
                    f"not {wanted!r}; search it with its own model, or rebuild it with "
                    f"`searchengine index --rebuild --model {wanted} --index {path} ...`"
                )
        elif create:
            if encoder is None:
                encoder = load_encoder(model or DEFAULT_MODEL)
            if index_type != "auto":
                FaissVectorStore(encoder.dimension, index_type)  # a bad type fails before any write
            path.mkdir(parents=True, exist_ok=True)
            manifest = {
                "format_version": FORMAT_VERSION,
                "model": encoder.name,
                "dimension": encoder.dimension,
                "index_type_requested": index_type,
                "index_type": choose_index_type(index_type, 0),
                "generation": 0,
                "created_at": _now(),
                "updated_at": _now(),
                "engine_version": __version__,
                "counts": {"clusters": 0, "articles": 0, "passages": 0},
            }
        else:
            raise IndexNotFound(
                f"no index at {path}; build one with `searchengine index --index {path} PATH...`"
            )
        try:
            store = Store(path / DATABASE)
        except StoreError as err:
            raise IndexCorrupt(str(err)) from None
        engine = cls(path, store, manifest, encoder, params)
        if not manifest_path.exists():
            engine._save()
        return engine

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    @property
    def encoder(self) -> Encoder:
        """The model, loaded on first use (stats and show never need it)."""
        with self._model_lock:  # loaded once, even when several threads ask at once
            if self._encoder is None:
                encoder = load_encoder(self.model_name)
                if encoder.dimension != self.dimension:
                    raise ModelMismatch(
                        f"model {self.model_name!r} gives {encoder.dimension}-d vectors, "
                        f"the index holds {self.dimension}-d"
                    )
                self._encoder = encoder
            if self._query_cache is None:
                self._query_cache = QueryCache(self._encoder)
            return self._encoder

    def encode_query(self, text: str) -> np.ndarray:
        """A query's vector; each distinct query is encoded once per process."""
        self.encoder  # noqa: B018 - makes sure the model and the cache exist
        assert self._query_cache is not None
        return self._query_cache(text)

    def _load_vectors(self) -> FaissVectorStore:
        vectors_path = self.path / VECTORS
        index_type = str(self.manifest.get("index_type", "Flat"))
        gen_ok = int(self.manifest.get("generation", -1)) == self.store.generation
        if vectors_path.exists() and gen_ok:
            try:
                vectors = FaissVectorStore.load(vectors_path, index_type)
                if len(vectors) == self.store.counts()["passages"]:
                    return vectors
            except RuntimeError:
                pass  # unreadable: rebuilt from the stored embeddings below
        return self._rebuild_vectors(index_type, save=vectors_path.parent.exists())

    def _rebuild_vectors(self, index_type: str, save: bool = True) -> FaissVectorStore:
        """A fresh FAISS index from the embeddings in SQLite (no model needed)."""
        batches = list(self.store.all_embeddings(self.dimension))
        ids = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, np.int64)
        vecs = (
            np.vstack([b[1] for b in batches])
            if batches
            else np.zeros((0, self.dimension), np.float32)
        )
        vectors = FaissVectorStore.build(self.dimension, index_type, ids, vecs)
        self.vectors = vectors
        if save and self.store.generation > 0:
            self._save()
        return vectors

    def _save(self) -> None:
        """FAISS file first, manifest last: the manifest's generation vouches for both."""
        self.vectors.save(self.path / VECTORS)
        self.manifest.update(
            generation=self.store.generation,
            counts=self.store.counts(),
            updated_at=_now(),
            engine_version=__version__,
        )
        _write_json_atomic(self.path / MANIFEST, self.manifest)

    # --- writing ------------------------------------------------------------------

    def add(self, clusters: Sequence[Cluster], *, progress: bool = False) -> AddReport:
        """Index clusters: new ones are added, changed ones replaced, unchanged ones skipped."""
        with self._write_lock:
            return self._add(clusters, progress)

    def _add(self, clusters: Sequence[Cluster], progress: bool) -> AddReport:
        started = time.perf_counter()
        report = AddReport()
        latest: dict[str, Cluster] = {}
        for cluster in clusters:
            latest[cluster.id] = cluster  # the last version of an id in one call wins
        with self._lock:
            hashes = self.store.content_hashes(latest)
        todo: list[Cluster] = []
        for cid, cluster in latest.items():
            old = hashes.get(cid)
            if old == cluster.content_hash():
                report.unchanged.append(cid)
                continue
            (report.replaced if old else report.added).append(cid)
            todo.append(cluster)
        if todo:
            batches = [
                Batch(chunk, {c.id for c in chunk if c.id in hashes})
                for chunk in (
                    todo[i : i + BATCH_CLUSTERS] for i in range(0, len(todo), BATCH_CLUSTERS)
                )
            ]
            bar = self._progress(batches, enabled=progress)
            try:
                for batch in batches:
                    with self._lock:
                        reuse = self.store.embeddings_by_text(batch.replacing, self.dimension)
                    embeddings = encode_batch(batch, reuse, self.encoder, report, bar)
                    self._write_batch(batch, embeddings)
            finally:
                if bar is not None:
                    bar.close()
            self._maybe_switch_index_type()
            with self._lock:
                self._save()
        report.total_seconds = time.perf_counter() - started
        return report

    def _progress(self, batches: Sequence[Batch], enabled: bool) -> Any:
        if not enabled:
            return None
        from tqdm import tqdm

        total = sum(len(p) for batch in batches for p in batch.passages.values())
        return tqdm(total=total, desc="encoding", unit="passage", leave=True)

    def _write_batch(self, batch: Batch, embeddings: dict[str, np.ndarray]) -> None:
        """One transaction for the batch, then the in-memory FAISS index follows."""
        with self._lock:
            added_ids: list[np.ndarray] = []
            added_vecs: list[np.ndarray] = []
            with self.store.transaction():
                removed = self.store.delete_clusters(batch.replacing)
                for cluster in batch.clusters:
                    passages = batch.passages[cluster.id]
                    vecs = embeddings[cluster.id]
                    ids = self.store.insert_cluster(
                        cluster, passages, vecs, cluster_vector(passages, vecs)
                    )
                    added_ids.append(np.array(ids, dtype=np.int64))
                    added_vecs.append(vecs)
                self.store.bump_generation()
            if removed:
                if self.vectors.supports_remove:
                    self.vectors.remove(removed)
                else:
                    self._rebuild_vectors(self.vectors.index_type, save=False)
                    return  # the rebuild already holds this batch's vectors
            if added_ids:
                self.vectors.add(np.concatenate(added_ids), np.vstack(added_vecs))

    def _maybe_switch_index_type(self) -> None:
        """With `auto`, move from exact to approximate search once the corpus outgrows flat."""
        if self.manifest.get("index_type_requested", "auto") != "auto":
            return
        wanted = choose_index_type("auto", len(self.vectors))
        if wanted != self.manifest.get("index_type"):
            with self._lock:
                self.manifest["index_type"] = wanted
                self._rebuild_vectors(wanted, save=False)

    def add_paths(
        self, paths: Iterable[str | Path], *, strict: bool = False, progress: bool = False
    ) -> IndexRun:
        """Parse files and folders and index every good cluster; collect the parse errors.

        With `strict`, the first error stops the run before anything is written.
        """
        clusters: list[Cluster] = []
        run = IndexRun(report=AddReport())
        for _, result in iter_files(paths):
            run.files += 1
            if result.errors and strict:
                raise result.errors[0]
            run.errors.extend(result.errors)
            clusters.extend(result.clusters)
        run.report = self.add(clusters, progress=progress)
        return run

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove clusters by id; an unknown id is an error and nothing is removed."""
        wanted = list(dict.fromkeys(ids))
        with self._write_lock, self._lock:
            known = self.store.content_hashes(wanted)
            missing = [i for i in wanted if i not in known]
            if missing:
                raise UnknownId(f"no cluster with id {', '.join(missing)}")
            with self.store.transaction():
                removed = self.store.delete_clusters(wanted)
                self.store.bump_generation()
            if self.vectors.supports_remove:
                self.vectors.remove(removed)
            else:
                self._rebuild_vectors(self.vectors.index_type, save=False)
            self._save()
        return wanted

    def rebuild(self, index_type: str | None = None) -> None:
        """Rebuild the vector index from stored embeddings, optionally as another type."""
        with self._lock:
            if index_type is not None:
                self.manifest["index_type_requested"] = index_type
                self.manifest["index_type"] = choose_index_type(index_type, len(self.vectors))
            self._rebuild_vectors(str(self.manifest["index_type"]))

    # --- reading --------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode | str = Mode.HYBRID,
        filters: Filters | None = None,
        kind: Kind | str = Kind.CLUSTERS,
    ) -> list[Hit]:
        """Ranked clusters (or articles) for a natural-language query."""
        query = query.strip()
        if not query:
            raise BadRequest("the query is empty")
        if not 1 <= k <= 1000:
            raise BadRequest(f"k must be between 1 and 1000, not {k}")
        mode, kind = Mode(mode), Kind(kind)
        # Encode outside the lock: it is the slow part, and needs no index state.
        vector = self.encode_query(query) if mode is not Mode.LEXICAL else None
        with self._lock:
            searcher = Searcher(self.store, self.vectors, lambda _: vector, self.params)
            return searcher.search(query, k=k, mode=mode, filters=filters, kind=kind)

    # --- related stories, threads, recommendations -----------------------------------

    def _similarity(self) -> StorySimilarity:
        """Story similarity over the current index (cluster vectors cached per generation)."""
        gen = self.store.generation
        if self._matrix is None or self._matrix[0] != gen:
            self._matrix = (gen, ClusterMatrix(self.store, self.dimension))
        return StorySimilarity(self.store, self._matrix[1], self.dimension, self.similarity_params)

    def _related_story(self, cid: str, score: float, cluster: Cluster) -> RelatedStory:
        return RelatedStory(
            id=cid,
            cluster_id=cid,
            date=cluster.date,
            title=cluster.title,
            sources=cluster.sources,
            score=round(score, 4),
            same_story=score >= self.similarity_params.same_story,
        )

    def related(
        self,
        item_id: str,
        k: int = 10,
        filters: Filters | None = None,
        include_own_cluster: bool = False,
    ) -> list[RelatedStory]:
        """Other clusters (for a cluster id) or articles (for an article id) about the
        same or a related story, best first; the item itself never appears."""
        if not 1 <= k <= 1000:
            raise BadRequest(f"k must be between 1 and 1000, not {k}")
        cluster, article = self.get(item_id)
        filters = filters or Filters()
        if article is not None:
            return self._related_articles(cluster, article, k, filters, include_own_cluster)
        with self._lock:
            sim = self._similarity()
            source = sim.profiles([cluster.id])[cluster.id]
            ranked = sim.rank(source, filters, exclude={cluster.id})[:k]
            clusters = self.store.get_clusters([cid for cid, _ in ranked])
        return [self._related_story(cid, score, clusters[cid]) for cid, score in ranked]

    def _related_articles(
        self, cluster: Cluster, article: Article, k: int, filters: Filters, include_own: bool
    ) -> list[RelatedStory]:
        """Articles like this one: hybrid search with the article's own stored vector and
        its words; same_story says whether their clusters are the same story."""
        with self._lock:
            stored = self.store.article_passages(article.id)
            if not stored:
                return []
            vector = stored[0][2]
            vector = vector / (float(np.linalg.norm(vector)) or 1.0)
            searcher = Searcher(self.store, self.vectors, lambda _: vector, self.params)
            text = f"{article.title} {article.summary}"
            hits = searcher.search(
                text,
                k=k + len(cluster.articles) + 1,
                mode=Mode.HYBRID,
                filters=filters,
                kind=Kind.ARTICLES,
            )
            hits = [
                h
                for h in hits
                if h.id != article.id and (include_own or h.cluster_id != cluster.id)
            ][:k]
            sim = self._similarity()
            wanted = list({h.cluster_id for h in hits} | {cluster.id})
            profiles = sim.profiles(wanted)
            source = profiles[cluster.id]
        out = []
        for h in hits:
            same = h.cluster_id == cluster.id or (
                sim.score(source, profiles[h.cluster_id]) >= self.similarity_params.same_story
            )
            out.append(
                RelatedStory(
                    id=h.id,
                    cluster_id=h.cluster_id,
                    date=h.date,
                    title=h.title,
                    sources=h.sources,
                    score=h.score,
                    same_story=same,
                    publisher=h.publisher,
                )
            )
        return out

    def similar(self, text: str, k: int = 10, filters: Filters | None = None) -> list[RelatedStory]:
        """Clusters like a paragraph of free text ("stories like this")."""
        text = text.strip()
        if not text:
            raise BadRequest("the text is empty")
        vector = self.encode_query(text)
        with self._lock:
            sim = self._similarity()
            source = sim.text_profile(vector, term_counts([text]))
            ranked = sim.rank(source, filters or Filters(), exclude=set())[:k]
            clusters = self.store.get_clusters([cid for cid, _ in ranked])
        return [self._related_story(cid, score, clusters[cid]) for cid, score in ranked]

    def thread(self, cluster_id: str, limit: int = 50) -> list[RelatedStory]:
        """The developing story a cluster belongs to: the clusters linked to it by
        same-story decisions (followed from cluster to cluster), ordered by date."""
        cluster, article = self.get(cluster_id)
        if article is not None:
            cluster_id = cluster.id
        members: dict[str, float] = {cluster_id: 1.0}
        frontier = [cluster_id]
        with self._lock:
            sim = self._similarity()
            while frontier and len(members) < limit:
                current = frontier.pop(0)
                source = sim.profiles([current])[current]
                for cid, score in sim.rank(source, Filters(), exclude=set(members))[:20]:
                    if score < self.similarity_params.same_story:
                        break
                    if cid not in members and len(members) < limit:
                        members[cid] = score
                        frontier.append(cid)
            clusters = self.store.get_clusters(list(members))
        stories = [self._related_story(cid, s, clusters[cid]) for cid, s in members.items()]
        stories[0].same_story = True
        return sorted(stories, key=lambda r: (r.date or "", r.id))

    def recommend(
        self,
        liked: Sequence[str | tuple[str, float]] = (),
        disliked: Sequence[str] = (),
        k: int = 10,
        strategy: str = "best",
        diversity: float = 0.3,
        half_life_days: float | None = None,
        filters: Filters | None = None,
    ) -> list[RelatedStory]:
        """Unseen clusters for a reader, from what they liked (optionally weighted,
        `(id, weight)`) and disliked; diverse (MMR) and, with a half-life, fresh.
        With nothing liked: the most widely covered stories, diverse and fresh."""
        if strategy not in ("best", "average"):
            raise BadRequest(f"strategy must be 'best' or 'average', not {strategy!r}")
        if not 0.0 <= diversity <= 1.0:
            raise BadRequest(f"diversity must be between 0 and 1, not {diversity}")
        if not 1 <= k <= 1000:
            raise BadRequest(f"k must be between 1 and 1000, not {k}")
        if half_life_days is not None and half_life_days <= 0:
            raise BadRequest("the half-life must be a positive number of days")
        weighted = [(x, 1.0) if isinstance(x, str) else (x[0], float(x[1])) for x in liked]
        if any(w <= 0 for _, w in weighted):
            raise BadRequest("a liked item's weight must be positive")
        liked_ids = [self._cluster_id_of(cid) for cid, _ in weighted]
        disliked_ids = [self._cluster_id_of(cid) for cid in disliked]
        seen = set(liked_ids) | set(disliked_ids)
        filters = filters or Filters()
        with self._lock:
            sim = self._similarity()
            matrix = sim.matrix
            allowed = set(self.store.allowed_cluster_ids(filters)) if filters else None
            pool = [c for c in matrix.ids if c not in seen and (allowed is None or c in allowed)]
            scores = self._recommend_scores(
                sim,
                list(zip(liked_ids, [w for _, w in weighted], strict=True)),
                disliked_ids,
                pool,
                strategy,
            )
            meta = self.store.cluster_meta(list(scores))
            newest = self.store.newest_date()
            for cid in scores:
                decay = freshness(meta[cid][0], newest, half_life_days)
                scores[cid] = scores[cid] * decay if scores[cid] > 0 else scores[cid] / decay
            vectors = {cid: matrix.matrix[matrix.position[cid]] for cid in scores}
            chosen = mmr(scores, vectors, k, diversity)
            clusters = self.store.get_clusters(chosen)
        out = []
        for cid in chosen:
            story = self._related_story(cid, scores[cid], clusters[cid])
            story.same_story = False if not liked_ids else story.same_story
            out.append(story)
        return out

    def _cluster_id_of(self, item_id: str) -> str:
        cluster, _ = self.get(item_id)  # UnknownId for anything not indexed
        return cluster.id

    def _recommend_scores(
        self,
        sim: StorySimilarity,
        liked: list[tuple[str, float]],
        disliked: list[str],
        pool: list[str],
        strategy: str,
    ) -> dict[str, float]:
        matrix = sim.matrix
        if not liked:
            # Cold start: reach (how many outlets covered it), log-damped.
            meta = self.store.cluster_meta(pool)
            top = max((n for _, n in meta.values()), default=1)
            return {cid: math.log1p(meta[cid][1]) / math.log1p(top) for cid in pool}
        if strategy == "average":
            profile = rocchio(
                [(matrix.matrix[matrix.position[c]], w) for c, w in liked],
                [matrix.matrix[matrix.position[c]] for c in disliked],
            )
            return {cid: float(matrix.matrix[matrix.position[cid]] @ profile) for cid in pool}
        # best: each candidate by its best match to any liked story (weighted),
        # minus half its best match to any disliked one; scored on candidates only.
        profiles_l = sim.profiles([c for c, _ in liked])
        profiles_d = sim.profiles(disliked)
        top_weight = max(w for _, w in liked)
        candidates: dict[str, None] = {}
        pool_set = set(pool)
        for cid, _ in liked:
            for c in sim.candidates(profiles_l[cid], Filters(), exclude=set()):
                if c in pool_set:
                    candidates.setdefault(c, None)
        profiles_c = sim.profiles(list(candidates))
        scores: dict[str, float] = {}
        for cid, prof in profiles_c.items():
            best = max(sim.score(profiles_l[c], prof) * (w / top_weight) for c, w in liked)
            penalty = max((sim.score(profiles_d[d], prof) for d in profiles_d), default=0.0)
            scores[cid] = best - 0.5 * penalty
        return scores

    def get(self, item_id: str) -> tuple[Cluster, Article | None]:
        """A cluster, or an article with its cluster; UnknownId if neither."""
        with self._lock:
            cluster = self.store.get_cluster(item_id)
            if cluster is not None:
                return cluster, None
            cluster_id = self.store.cluster_of_article(item_id)
            cluster = self.store.get_cluster(cluster_id) if cluster_id else None
        if cluster is None:
            raise UnknownId(f"no cluster or article with id {item_id}")
        article = next(a for a in cluster.articles if a.id == item_id)
        return cluster, article

    def stats(self) -> dict[str, Any]:
        """Counts, model, index type, size on disk, last update."""
        with self._lock:
            counts = self.store.counts()
            size = sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
            return {
                "index": str(self.path),
                **counts,
                "model": self.model_name,
                "dimension": self.dimension,
                "index_type": self.manifest.get("index_type"),
                "index_type_requested": self.manifest.get("index_type_requested"),
                "vectors": len(self.vectors),
                "generation": self.store.generation,
                "size_bytes": size,
                "created_at": self.manifest.get("created_at"),
                "updated_at": self.manifest.get("updated_at"),
                "format_version": self.manifest.get("format_version"),
            }


def remove_index(path: str | Path) -> None:
    """Delete an index folder (for `--rebuild`); refuses a folder that is not an index."""
    path = Path(path)
    if not path.exists():
        return
    if not (path / MANIFEST).exists() and any(path.iterdir()):
        raise IndexCorrupt(f"{path} is not empty and holds no index; not deleting it")
    shutil.rmtree(path)
