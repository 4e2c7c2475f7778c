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

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from searchengine.backends.storage import RecordStore
from searchengine.core.contract import Filters
from searchengine.core.text import cosine, entity_weight, idf, tfidf_from_idf
from searchengine.stories.story_index import StoryIndex


@dataclass(frozen=True)
class SimilarityParams:
    """Weights of the evidence, and the same-story threshold (see BENCHMARKS/notes)."""

    passage_weight: float = 1.0
    term_weight: float = 0.5
    entity_weight: float = 0.5
    # Same story (digest clusters): the score must reach `same_story`, plus
    # `same_story_per_day` for each day between the two stories. Topical overlap alone
    # recurs across months (the same people and places in a new event): Machado's Nobel
    # Prize (10 Oct) and Venezuela's prisoner release (9 Jan) score 0.328 (int8, AVX-512
    # VNNI) and 0.331 (fp32). The old bar (0.28 + 0.0005/day: 0.3255 at 91 days) sat
    # 0.003 from it, and the decision flipped with the CPU. Measured on every judged
    # pair of the 40 dev clusters (`scripts/story_pairs.py`, both precisions alike):
    # 0.26 + 0.0015/day has precision 1.0 at recall 0.62 of all same-family pairs, and
    # the Nobel pair sits 0.066-0.069 under its bar, twenty times the spread between
    # CPUs. Stories that run for months are not lost: a thread reaches them through
    # the clusters in between (`related.Stories.thread`).
    same_story: float = 0.26
    same_story_per_day: float = 0.0015
    # Single items (a generic record: no articles, e.g. one headline) with dates are the
    # same story when they cover the same event, which is reported within a day or two:
    # the bar starts at `item_same_story` and rises steeply (0.70 a day apart, 1.0 two
    # days apart). On UCI headlines (real news, the aggregator's story ids) a flat bar
    # flagged every topical neighbour (precision 0.23 on random_1pct). Every pair of
    # 1,500 sampled items x their top 30 (`scripts/story_pairs.py`), int8 / fp32:
    # base 0.28: precision 0.910 / 0.909, recall 0.70; 0.40: 0.949 / 0.950, recall 0.46
    # (head_contiguous: 0.962, recall 0.66). At 0.28 a thread from MH370 ran through
    # Mt. Gox and Snowden (purity 0.83 on head_contiguous); threads regain the recall
    # through their members (`related.ThreadParams.anchor`).
    item_same_story: float = 0.40
    item_same_story_per_day: float = 0.3
    # Undated single items have no date to tell a new event from the last one on the
    # same subject: only a near-paraphrase is the same story. On NeuS (7,299 real
    # articles' leads, three outlets per story, 1,500 sampled items x top 30) the dated
    # bar of 0.28 flagged everything topical (precision 0.09); 0.73 gave precision 0.898
    # (int8; fp32 0.902) at recall 0.16, 0.75 gives 0.913 (both) at recall 0.12. Recall
    # is low because three outlets frame one event three ways ("Trump slams John Kerry"
    # / "Where's the Outrage over Kerry's Collusion with Iran?") and AllSides files one
    # event under several stories: the pairs above the bar that are "different
    # stories" are mostly the same event on another day.
    undated_item_same_story: float = 0.75
    # A related list ends where stories stop being related: below this score a cluster
    # is not returned (the Ukraine peace-plan story's list ended with Wegovy and the
    # Pope). On the dev families (int8) the lowest same-family pair scores 0.1005, and
    # 0.10 drops 64% of the other-family pairs a top-40 returned; on UCI headlines
    # (another scale: one short passage each) every top-10 result scores above 0.15,
    # so the floor changes nothing there (measured on 400 stories of each subset).
    related_floor: float = 0.10
    # ...and below `related_standing` deviations over the source's background (median
    # and MAD of its scores against a fixed sample of the index), whatever its scale: a
    # related story stands out from a random one. Measured with every source's top 40
    # (int8): dev families, 2.5 keeps 92% of same-family pairs and 1.9% of the others
    # (2.0: 93% / 3.3%; the flat 0.10 kept 36% of the others); the Ukraine peace plan's
    # list ends after the UN's Gaza plan (z 2.75), before Gaza aid trucks (0.91), the
    # Pope (0.72) and the drug-pricing deal (0.66); `similar "Bitcoin falls"` ends before
    # the Iberian blackout (2.12). UCI headlines: 98.4% of same-story pairs and 74% of
    # topical neighbours stay; NeuS: 99.8% and 97.6%.
    related_standing: float = 2.5
    # A dated single item's related list ranks by score - item_date_weight x log(1 +
    # days apart) (`related.Stories._as_item`): the other reports of one event come
    # from the same days, a topical neighbour from any month. On UCI headlines (every
    # item a query, the rest of its story relevant, int8, top 30 of the current ranking
    # re-ordered): random_1pct P@1 0.648 -> 0.883 at 0.08 (0.04: 0.85; 0.16: 0.87);
    # head_contiguous 0.896 -> 0.933. Digest clusters are left alone: their stories run
    # for weeks and the dev families lost nDCG with it.
    item_date_weight: float = 0.08
    # A single item's related list (one headline, one lead) ranks by score - hub_weight
    # x the candidate's density (mean cosine of its cluster vector to its
    # `hub_neighbours` nearest; `ClusterMatrix.density`): a story in a crowded corner
    # (one weekly jobless-claims report of many, one Covid relief round of many) is near
    # every neighbour's source and topped lists it did not belong in -- hubness, the
    # correction of CSLS (Conneau et al. 2018) on the candidate's side. Every item a
    # query (`scripts/related_eval.py --param hub_weight`), int8, P@1 / MAP at 0 -> 0.5
    # (0.75): NeuS items (7,299) 0.743 -> 0.770 (0.769) / 0.720 -> 0.754 (fp32 0.741 ->
    # 0.770); UCI random_1pct 0.883 -> 0.891 (0.887). It costs UCI head_contiguous, whose
    # stories of up to 322 headlines are the crowded corners: P@1 0.931 -> 0.925 (0.25:
    # 0.929, where NeuS gains only 0.759). Digest clusters keep their lists in score
    # order: on the dev families it gains only nDCG@10 0.928 -> 0.933. Offline, the full
    # CSLS (both sides, k 3-10) gives the same 0.77; the source's own density only
    # shifts its whole list.
    hub_weight: float = 0.5
    hub_neighbours: int = 5
    candidates: int = 100  # nearest clusters by their own vector
    # Clusters sampled for a story's background (`StorySimilarity.background`): the
    # sample's mean and deviation are within ~6% of the whole index's (standard error
    # at 256), for 256 scores per story (as for a query's relevance background).
    background: int = 256


def is_same_story(
    score: float,
    date_a: str | None,
    date_b: str | None,
    params: SimilarityParams,
    items: bool = False,
) -> bool:
    """Whether two stories scoring `score` are the same story, given their dates;
    `items`: one of them is a single item (a generic record), not a digest cluster."""
    return score >= same_story_bar(date_a, date_b, params, items)


def robust_background(scores: np.ndarray) -> tuple[float, float]:
    """Median and MAD (scaled to a normal deviation) of background scores. Not mean and
    deviation: the sample holds the story's own clusters too, and in a small index (or
    beside a few copies of it) they pulled both up past its related stories."""
    centre = float(np.median(scores))
    spread = 1.4826 * float(np.median(np.abs(scores - centre)))
    return centre, max(spread, 1e-6)


def days_apart(date_a: str | None, date_b: str | None) -> int | None:
    """Days between two ISO dates; None when either is missing or not a date."""
    if not date_a or not date_b:
        return None
    try:
        return abs((date.fromisoformat(date_a) - date.fromisoformat(date_b)).days)
    except ValueError:
        return None


def same_story_bar(
    date_a: str | None, date_b: str | None, params: SimilarityParams, items: bool = False
) -> float:
    """The score two stories must reach to be the same story: higher the further apart
    (much higher for single items, which report one event, than for digest clusters,
    whose stories develop over weeks); for undated single items, a near-paraphrase."""
    gap = days_apart(date_a, date_b)
    if items:
        if gap is None:
            return params.undated_item_same_story
        return params.item_same_story + params.item_same_story_per_day * gap
    if gap is None:
        return params.same_story
    return params.same_story + params.same_story_per_day * gap


@dataclass
class StoryProfile:
    """What a story is compared by: its passage vectors, term vector and entities."""

    vectors: np.ndarray  # passages x dim, unit rows
    terms: dict[str, float]  # unit tf-idf vector
    entities: dict[str, float] = field(default_factory=dict)  # unit idf-weighted vector
    vector: np.ndarray | None = None  # the cluster's own vector
    row: int | None = None  # its row in the StoryIndex, for an indexed cluster


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Mean best-match cosine of a's rows in b and of b's rows in a, averaged."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    sims = a @ b.T
    return float((sims.max(axis=1).mean() + sims.max(axis=0).mean()) / 2)


@dataclass(frozen=True)
class Evidence:
    """A source story against many indexed ones: cluster rows, and per row the dense
    (chamfer) similarity, term and entity cosines (NaN where either side has none) and
    the score, their weighted mean."""

    rows: np.ndarray
    dense: np.ndarray
    terms: np.ndarray
    entities: np.ndarray
    score: np.ndarray


class ClusterMatrix:
    """All cluster vectors in one array, for the candidate step (cached per index generation)."""

    def __init__(self, store: RecordStore, dimension: int, generation: int = 0) -> None:
        self.generation = generation
        self.ids, self.matrix = store.cluster_vectors(dimension)
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self._idf: dict[str, float] | None = None
        self._edf: dict[str, int] | None = None
        self._stories: StoryIndex | None = None
        self._background: list[str] | None = None
        self._density: dict[int, float] = {}
        self._lock = threading.Lock()

    def background_ids(self, n: int) -> list[str]:
        """A fixed sample of `n` clusters: those whose ids hash lowest. It depends on which
        clusters are indexed, not on the order they were added in (a sample by row
        position moved a story's background when the same clusters were re-added)."""
        with self._lock:
            if self._background is None or len(self._background) != min(n, len(self.ids)):
                ranked = sorted(
                    self.ids, key=lambda c: hashlib.blake2b(c.encode(), digest_size=8).digest()
                )
                self._background = ranked[:n]
            return self._background

    def density(self, ids: Sequence[str], neighbours: int) -> dict[str, float]:
        """Each cluster's mean cosine to its `neighbours` nearest others: how crowded its
        corner of the collection is. A cluster in a crowded corner (a weekly jobless-claims
        report, one of many) is near everything there and tops many lists it does not
        belong in (a "hub"); `SimilarityParams.hub_weight` discounts it. Worked out for the
        clusters asked about only, once per generation."""
        rows = [self.position[c] for c in ids if c in self.position]
        with self._lock:
            todo = np.array([r for r in rows if r not in self._density], dtype=np.int64)
        if len(todo) and len(self.ids) > 1:
            k = min(neighbours, len(self.ids) - 1)
            sims = self.matrix[todo] @ self.matrix.T
            sims[np.arange(len(todo)), todo] = -np.inf  # not itself
            top = -np.partition(-sims, k - 1, axis=1)[:, :k]
            with self._lock:
                self._density.update(zip(todo.tolist(), top.mean(axis=1).tolist(), strict=True))
        with self._lock:
            return {self.ids[r]: self._density.get(r, 0.0) for r in rows}

    def idf(self, store: RecordStore) -> dict[str, float]:
        """Every term's idf at this generation, read once (one scan of `term_df`) rather
        than looked up term by term for every story compared."""
        with self._lock:
            if self._idf is None:
                n = max(1, len(self.ids))
                self._idf = {t: idf(n, df) for t, df in store.all_document_frequencies()}
            return self._idf

    def entity_df(self, store: RecordStore) -> dict[str, int]:
        """In how many clusters each entity key occurs, at this generation."""
        with self._lock:
            if self._edf is None:
                self._edf = store.all_entity_frequencies()
            return self._edf

    def story_index(self, store: RecordStore, dimension: int) -> StoryIndex:
        """All clusters' evidence laid out for batched scoring, built once per generation."""
        idfs = self.idf(store)
        edf = self.entity_df(store)
        with self._lock:
            if self._stories is None:
                n = max(1, len(self.ids))
                weights = {k: entity_weight(n, e) for k, e in edf.items()}
                self._stories = StoryIndex(
                    store, self.ids, self.position, idfs, idf(n, 0), weights, dimension
                )
            return self._stories

    def nearest(
        self, vector: np.ndarray, n: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        if not self.ids or n <= 0:
            return []
        sims = self.matrix @ vector
        if allowed is None and n < len(sims):
            top = np.argpartition(-sims, n - 1)[:n]  # the n best without sorting them all
            order = top[np.argsort(-sims[top], kind="stable")]
        else:
            order = np.argsort(-sims, kind="stable")
        out: list[tuple[str, float]] = []
        for i in order:
            cid = self.ids[int(i)]
            if allowed is not None and cid not in allowed:
                continue
            out.append((cid, float(sims[i])))
            if len(out) >= n:
                break
        return out


class MatrixCache:
    """A process's ClusterMatrix, built once per index generation and shared by its
    threads (the story layer's cache: the backends only answer `RecordStore` calls)."""

    def __init__(self) -> None:
        self._matrix: ClusterMatrix | None = None
        self._lock = threading.Lock()

    def at(self, store: RecordStore, dimension: int, generation: int) -> ClusterMatrix:
        with self._lock:
            if self._matrix is None or self._matrix.generation != generation:
                self._matrix = ClusterMatrix(store, dimension, generation)
            return self._matrix


class StorySimilarity:
    """Scores how much two stories are the same story (or related), from stored data only."""

    def __init__(
        self, store: RecordStore, matrix: ClusterMatrix, dimension: int, params: SimilarityParams
    ) -> None:
        self.store = store
        self.matrix = matrix
        self.dimension = dimension
        self.params = params
        self._n_clusters = max(1, len(matrix.ids))

    # --- profiles -------------------------------------------------------------

    def profiles(self, ids: Sequence[str]) -> dict[str, StoryProfile]:
        """Profiles of indexed clusters (passage vectors, term and entity vectors)."""
        index = self.index
        out: dict[str, StoryProfile] = {}
        for cid in ids:
            row = self.matrix.position.get(cid)
            if row is None or not index.counts[row]:
                continue
            out[cid] = StoryProfile(
                vectors=index.vectors_of(row),
                terms=index.row_dict(row),
                entities=index.row_dict(row, entities=True),
                vector=self.matrix.matrix[row],
                row=row,
            )
        return out

    def text_profile(self, vector: np.ndarray, counts: dict[str, int]) -> StoryProfile:
        """A profile for free text: its one vector and its term vector."""
        # The idf of this generation is already in memory: no per-term lookups.
        unseen = idf(self._n_clusters, 0)
        return StoryProfile(
            vectors=vector.reshape(1, -1),
            terms=tfidf_from_idf(counts, self.matrix.idf(self.store), unseen),
            vector=vector,
        )

    def score_many(self, source: StoryProfile, ids: Sequence[str]) -> dict[str, float]:
        """`score(source, each)` for many indexed clusters at once (see story_index.py);
        clusters without passages are left out, as `profiles` leaves them out."""
        ev = self.evidence_many(source, ids)
        return {self.matrix.ids[r]: float(v) for r, v in zip(ev.rows, ev.score, strict=True)}

    def evidence_many(self, source: StoryProfile, ids: Sequence[str]) -> Evidence:
        """Each kind of evidence of `source` against many indexed clusters, and their
        weighted mean (the score)."""
        index, p = self.index, self.params
        rows = np.array(
            [r for r in (self.matrix.position.get(c) for c in ids) if r is not None],
            dtype=np.int64,
        )
        rows = rows[index.counts[rows] > 0] if len(rows) else rows
        dense = index.chamfer(source.vectors, rows) if len(rows) else np.zeros(0)
        total = p.passage_weight * dense
        weight = np.full(len(rows), p.passage_weight)
        parts: list[np.ndarray] = []
        for matrix, has, weights, vocab_is_entities, w in (
            (index.terms, index.has_terms, source.terms, False, p.term_weight),
            (index.entities, index.has_entities, source.entities, True, p.entity_weight),
        ):
            if not weights or not len(rows):
                parts.append(np.full(len(rows), np.nan))
                continue
            src = (
                matrix[source.row]
                if source.row is not None
                else index.sparse_row(weights, entities=vocab_is_entities)
            )
            cos = np.asarray((matrix[rows] @ src.T).todense()).ravel()
            both = has[rows]
            total += np.where(both, w * cos, 0.0)
            weight += np.where(both, w, 0.0)
            parts.append(np.where(both, cos, np.nan))
        return Evidence(rows, dense, parts[0], parts[1], total / weight)

    def background(self, source: StoryProfile) -> tuple[float, float]:
        """Median and (MAD-scaled) deviation of `source`'s scores against a fixed sample
        of the index's clusters: how similar any story looks to it, on this collection's
        scale (headlines, digests and long articles each have their own)."""
        sample = self.matrix.background_ids(self.params.background)
        if len(sample) < 2:
            return 0.0, 1.0
        own = self.matrix.ids[source.row] if source.row is not None else None
        scores = self.evidence_many(source, [c for c in sample if c != own]).score
        if len(scores) < 2:
            return 0.0, 1.0
        return robust_background(scores)

    def standing_bar(self, source: StoryProfile, deviations: float) -> float:
        """The score that stands `deviations` over `source`'s background."""
        centre, spread = self.background(source)
        return centre + deviations * spread

    def floor(self, source: StoryProfile) -> float:
        """The least score a story related to `source` has: `related_floor`, and
        `related_standing` deviations over `source`'s background."""
        bar = self.standing_bar(source, self.params.related_standing)
        return max(self.params.related_floor, bar)

    @property
    def index(self) -> StoryIndex:
        return self.matrix.story_index(self.store, self.dimension)

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
        """Clusters worth scoring: nearest by cluster vector, and by tf-idf vector ("more
        like this": the same metrics as an FTS5 query of the story's heaviest terms had,
        to four decimals, on the dev families and both UCI subsets, at 11 ms instead of
        17-21 ms per related call at 12.7k stories).
        At least `want` of them when that many exist (a long related list needs more)."""
        n = max(self.params.candidates, want)
        allowed = self._allowed(filters)
        found: dict[str, None] = {}
        if profile.vector is not None:
            for cid, _ in self.matrix.nearest(profile.vector, n + len(exclude), allowed):
                if cid not in exclude:
                    found.setdefault(cid, None)
        allowed_rows = (
            np.array(
                [self.matrix.position[c] for c in allowed if c in self.matrix.position],
                dtype=np.int64,
            )
            if allowed is not None
            else None
        )
        for row in self.index.nearest_by_terms(profile, n * 2, allowed_rows):
            name = self.matrix.ids[row]
            if name not in exclude:
                found.setdefault(name, None)
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
        scored = list(self.score_many(source, ids).items())
        scored.sort(key=lambda kv: (-kv[1], kv[0]))
        return scored
