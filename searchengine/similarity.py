"""Story similarity: how much two clusters are the same (or a related) story.

Two clusters are compared on three kinds of evidence, each cheap because
nothing is re-encoded:

- **passages** (dense): the symmetric "chamfer" similarity of their passage
  vectors — each passage of one finds its best match in the other, averaged
  both ways. Two reports of one event share some facts (a key point, an
  article) even when their summaries lead with different angles; one mean
  vector per cluster blurs that.
- **terms** (lexical): cosine of tf-idf term vectors over all their text;
  names, places and numbers that the encoder treats as near-synonyms
  ("Kyiv"/"Moscow") separate stories here.
- **entities**: idf-weighted cosine of their folded entity sets, where both
  have entities (generic documents have none, and then it is left out rather
  than counted as zero).

The score is the weighted mean of what is available, so it stays on one
scale for digests and for generic documents alike; `same_story` is that
score over a threshold calibrated on the dev families.

Candidates come from each cluster's own vector (a field-weighted mean of its
passage vectors, stored at index time) and from a "more like this" full-text
query of its heaviest terms, so a related search never scores the whole
corpus pairwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .contract import Filters
from .search import fts_query
from .store import Store
from .text import cosine, tfidf_vector, top_terms


@dataclass(frozen=True)
class SimilarityParams:
    """Weights of the evidence, and the same-story threshold (see BENCHMARKS/notes)."""

    passage_weight: float = 1.0
    term_weight: float = 0.5
    entity_weight: float = 0.5
    same_story: float = 0.30  # calibrated on the dev families: precision 1.0, recall 0.70
    candidates: int = 100
    mlt_terms: int = 25


@dataclass
class StoryProfile:
    """What a story is compared by: its passage vectors, term vector and entities."""

    vectors: np.ndarray  # passages x dim, unit rows
    terms: dict[str, float]  # unit tf-idf vector
    entities: dict[str, float] = field(default_factory=dict)  # unit idf-weighted vector
    vector: np.ndarray | None = None  # the cluster's own vector


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Mean best-match cosine of a's rows in b and of b's rows in a, averaged."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    sims = a @ b.T
    return float((sims.max(axis=1).mean() + sims.max(axis=0).mean()) / 2)


class ClusterMatrix:
    """All cluster vectors in one array, for the candidate step (cached per index generation)."""

    def __init__(self, store: Store, dimension: int, generation: int = 0) -> None:
        self.generation = generation
        self.ids, self.matrix = store.cluster_vectors(dimension)
        self.position = {cid: i for i, cid in enumerate(self.ids)}

    def nearest(
        self, vector: np.ndarray, n: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        sims = self.matrix @ vector
        order = np.argsort(-sims)
        out: list[tuple[str, float]] = []
        for i in order:
            cid = self.ids[int(i)]
            if allowed is not None and cid not in allowed:
                continue
            out.append((cid, float(sims[i])))
            if len(out) >= n:
                break
        return out


class StorySimilarity:
    """Scores how much two stories are the same story (or related), from stored data only."""

    def __init__(
        self, store: Store, matrix: ClusterMatrix, dimension: int, params: SimilarityParams
    ) -> None:
        self.store = store
        self.matrix = matrix
        self.dimension = dimension
        self.params = params
        self._n_clusters = max(1, len(matrix.ids))

    # --- profiles -------------------------------------------------------------

    def profiles(self, ids: Sequence[str]) -> dict[str, StoryProfile]:
        """Stored profiles of clusters (passage vectors, term and entity vectors)."""
        passages = self.store.cluster_passage_vectors(ids, self.dimension)
        counts = self.store.term_vectors(ids)
        df = self.store.document_frequencies({t for c in counts.values() for t in c})
        entities = self.store.entity_keys(ids)
        edf = self.store.entity_frequencies({k for keys in entities.values() for k in keys})
        out: dict[str, StoryProfile] = {}
        for cid in ids:
            if cid not in passages:
                continue
            pos = self.matrix.position.get(cid)
            out[cid] = StoryProfile(
                vectors=passages[cid],
                terms=tfidf_vector(counts.get(cid, {}), df, self._n_clusters),
                entities=self._entity_vector(entities.get(cid, set()), edf),
                vector=self.matrix.matrix[pos] if pos is not None else None,
            )
        return out

    def text_profile(self, vector: np.ndarray, counts: dict[str, int]) -> StoryProfile:
        """A profile for free text: its one vector and its term vector."""
        df = self.store.document_frequencies(counts)
        return StoryProfile(
            vectors=vector.reshape(1, -1),
            terms=tfidf_vector(counts, df, self._n_clusters),
            vector=vector,
        )

    def _entity_vector(self, keys: set[str], edf: dict[str, int]) -> dict[str, float]:
        n = self._n_clusters
        vec = {k: math.log((n + 1) / (edf.get(k, 0) + 1)) + 1.0 for k in keys}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {k: v / norm for k, v in vec.items()}

    # --- scoring --------------------------------------------------------------

    def score(self, a: StoryProfile, b: StoryProfile) -> float:
        """Weighted mean of passage, term and (where both have them) entity similarity."""
        p = self.params
        total = p.passage_weight * chamfer(a.vectors, b.vectors)
        weight = p.passage_weight
        if a.terms and b.terms:
            total += p.term_weight * cosine(a.terms, b.terms)
            weight += p.term_weight
        if a.entities and b.entities:
            total += p.entity_weight * cosine(a.entities, b.entities)
            weight += p.entity_weight
        return total / weight

    def candidates(
        self, profile: StoryProfile, filters: Filters, exclude: set[str], want: int = 0
    ) -> list[str]:
        """Clusters worth scoring: nearest by cluster vector, and by a "more like this" query.
        At least `want` of them when that many exist (a long related list needs more)."""
        n = max(self.params.candidates, want)
        allowed = self._allowed(filters)
        found: dict[str, None] = {}
        if profile.vector is not None:
            for cid, _ in self.matrix.nearest(profile.vector, n + len(exclude), allowed):
                if cid not in exclude:
                    found.setdefault(cid, None)
        match = fts_query(top_terms(profile.terms, self.params.mlt_terms))
        if match:
            hits = self.store.full_text(match, n * 4, filters)
            rows = self.store.passages([pid for pid, _ in hits])
            for pid, _ in hits:
                cid = rows[pid].cluster_id
                if cid not in exclude:
                    found.setdefault(cid, None)
        return list(found)

    def _allowed(self, filters: Filters) -> set[str] | None:
        if not filters:
            return None
        return set(self.store.allowed_cluster_ids(filters))

    def rank(
        self, source: StoryProfile, filters: Filters, exclude: set[str], want: int = 0
    ) -> list[tuple[str, float]]:
        """Every candidate scored against `source`, best first."""
        ids = self.candidates(source, filters, exclude, want)
        profiles = self.profiles(ids)
        scored = [(cid, self.score(source, prof)) for cid, prof in profiles.items()]
        scored.sort(key=lambda kv: (-kv[1], kv[0]))
        return scored
