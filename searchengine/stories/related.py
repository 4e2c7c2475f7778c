"""Related stories, story threads, "stories like this text" and recommendations.

All of them rank clusters by story similarity (`similarity.py`) from data
stored at index time; nothing is re-encoded except the free text of
`similar`. Each runs inside the caller's `IndexFolder.reading()`, so it sees
one committed state of the index.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import Any

import numpy as np

from searchengine.backends.storage import RecordStore
from searchengine.core.contract import (
    Filters,
    Kind,
    Mode,
    RecommendRequest,
    RelatedRequest,
    SearchRequest,
    SimilarRequest,
    Strategy,
    ThreadRequest,
)
from searchengine.core.documents import Article, Cluster
from searchengine.core.hits import Hit
from searchengine.core.text import term_counts
from searchengine.stories.similarity import (
    ClusterMatrix,
    SimilarityParams,
    StorySimilarity,
    days_apart,
    is_same_story,
    robust_background,
)


@dataclass(frozen=True)
class ThreadParams:
    """How a story's thread is followed from cluster to cluster."""

    # Same-story neighbours examined per member: a story seldom has more than
    # a handful of follow-ups a day, and the BFS reaches the rest through them.
    neighbours: int = 20
    # A cluster reached through another member joins only if it stands this many
    # deviations above the seed's background (median and MAD of its scores against a
    # fixed sample of the index): still about the seed's story, whatever the texts'
    # length and scale. Measured with `scripts/thread_purity.py` (int8): UCI random_1pct
    # (200 seeds) purity 0.969 / recall 0.537 at 1.0, 0.971 / 0.534 at 2.0, 0.972 /
    # 0.528 at 4.0. On the dev set the Ukraine story's last cluster (6 Feb, 78 days on)
    # stands 5.0 deviations over the first's background: 2.0 keeps it with a margin.
    anchor: float = 2.0


@dataclass(frozen=True)
class RecommendParams:
    """The numbers of recommendation scoring."""

    # `best`: a candidate's best match to a disliked story counts half as much
    # as its best match to a liked one. At 1.0 a single dislike of a broad
    # topic removed whole neighbouring topics in the leave-one-out trials; at
    # 0.5 the held-out family member stayed in the top 5 (recommend_hit@5 0.97).
    dislike_penalty: float = 0.5
    # `average` (Rocchio): the weight of the disliked centroid, the classic
    # beta/gamma ratio of relevance feedback with gamma about half of beta.
    rocchio_beta: float = 0.5
    # MMR looks this many results ahead (at least 5 per wanted result): far
    # enough to find a different story, near enough to stay relevant.
    mmr_window: int = 50


@dataclass
class Thread:
    """A story's thread, by date; `cut`: it stopped at the request's limit with more
    clusters of the story left out."""

    stories: list[RelatedStory]
    cut: bool = False


@dataclass
class RelatedStory:
    """A related cluster (or article) with its similarity and the same-story decision."""

    id: str
    cluster_id: str
    date: str | None
    title: str
    sources: dict[str, int]
    score: float
    same_story: bool
    publisher: str | None = None
    # What the listing is: "same story", "related" (above the related floor), or, for a
    # recommendation that is not there for its likeness to a liked story, "popular".
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = "same story" if self.same_story else "related"

    def judge(self, same_story: bool, label: str | None = None) -> None:
        """Set the same-story decision, and the label that goes with it."""
        self.same_story = same_story
        self.label = label or ("same story" if same_story else "related")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "cluster_id": self.cluster_id,
            "date": self.date,
            "title": self.title,
            "sources": self.sources,
            "score": self.score,
            "same_story": self.same_story,
            "label": self.label,
        }
        if self.publisher is not None:
            out["publisher"] = self.publisher
        return out


SearchByVector = Callable[[SearchRequest, np.ndarray], list[Hit]]


class Stories:
    """The story-level questions, over one store at one generation."""

    def __init__(
        self,
        store: RecordStore,
        matrix: ClusterMatrix,
        dimension: int,
        similarity: SimilarityParams,
        thread_params: ThreadParams,
        recommend_params: RecommendParams,
    ) -> None:
        self.store = store
        self.sim = StorySimilarity(store, matrix, dimension, similarity)
        self.same_story = similarity.same_story
        self.thread_params = thread_params
        self.recommend_params = recommend_params

    def _story(
        self, cid: str, score: float, cluster: Cluster, source: Cluster | None = None
    ) -> RelatedStory:
        """A story as listed; `source`, the story it was compared with (None: free text
        or several liked stories, judged by the flat bar)."""
        return RelatedStory(
            id=cid,
            cluster_id=cid,
            date=cluster.date,
            title=cluster.title,
            sources=cluster.sources,
            score=round(score, 4),
            same_story=self._same(score, source, cluster),
        )

    def _same(self, score: float, source: Cluster | None, other: Cluster) -> bool:
        if source is None:
            return is_same_story(score, None, None, self.sim.params)
        items = not source.articles or not other.articles
        return is_same_story(score, source.date, other.date, self.sim.params, items)

    def _stories(
        self, ranked: Sequence[tuple[str, float]], source: Cluster | None = None
    ) -> list[RelatedStory]:
        clusters = self.store.get_clusters([cid for cid, _ in ranked])
        return [self._story(cid, score, clusters[cid], source) for cid, score in ranked]

    def related_clusters(self, cluster: Cluster, request: RelatedRequest) -> list[RelatedStory]:
        source = self.sim.profiles([cluster.id])[cluster.id]
        ranked = self.sim.rank(source, request.filters, exclude={cluster.id}, want=request.k)
        floor = self.sim.floor(source)
        kept = [(c, s) for c, s in ranked if s >= floor]
        if not cluster.articles:
            kept = self._as_item(kept, cluster.date)
        return self._stories(kept[: request.k], cluster)

    def _as_item(self, ranked: list[tuple[str, float]], day: str | None) -> list[tuple[str, float]]:
        """A single item's (one headline, one lead) candidates ordered by score less
        `SimilarityParams.hub_weight` x their density (a hub is near everything), and,
        when it is dated (`day`), less `item_date_weight` x log(1 + days apart): one
        report's related items are the other reports of its event, from the same days.
        The scores shown stay the similarities. A digest cluster's list stays in score
        order: its stories run for weeks, and it gains little from the discount."""
        p = self.sim.params
        density = (
            self.sim.matrix.density([c for c, _ in ranked], p.hub_neighbours)
            if p.hub_weight
            else {}
        )
        meta = self.store.cluster_meta([c for c, _ in ranked]) if day else {}

        def key(item: tuple[str, float]) -> tuple[float, str]:
            cid, score = item
            gap = (days_apart(day, meta.get(cid, (None, 0))[0]) or 0) if day else 0
            value = score - p.hub_weight * density.get(cid, 0.0)
            return (-(value - p.item_date_weight * math.log1p(gap)), cid)

        return sorted(ranked, key=key)

    def related_articles(
        self,
        cluster: Cluster,
        article: Article,
        request: RelatedRequest,
        search_by_vector: SearchByVector,
    ) -> list[RelatedStory]:
        """Articles like this one: hybrid search with the article's own stored vector and
        its words; same_story says whether their clusters are the same story."""
        stored = self.store.article_passages(article.id)
        if not stored:
            return []
        vector = stored[0][2]
        vector = vector / (float(np.linalg.norm(vector)) or 1.0)
        search = SearchRequest(
            query=f"{article.title} {article.summary}"[:1000],
            k=min(request.k + len(cluster.articles) + 1, 1000),
            mode=Mode.HYBRID,
            kind=Kind.ARTICLES,
            filters=request.filters,
        )
        hits = [
            h
            for h in search_by_vector(search, vector)
            if h.id != article.id and (request.include_own_cluster or h.cluster_id != cluster.id)
        ]
        source = self.sim.profiles([cluster.id])[cluster.id]
        others = self.store.get_clusters(list({h.cluster_id for h in hits} - {cluster.id}))
        story = self.sim.score_many(source, list(others))
        # An article from another cluster is listed only when its story is related to
        # this one (the floor of `related_clusters`): words alone bring noise.
        floor = self.sim.floor(source)
        kept = [
            h for h in hits if h.cluster_id == cluster.id or story.get(h.cluster_id, -1) >= floor
        ]
        return [
            RelatedStory(
                id=h.id,
                cluster_id=h.cluster_id,
                date=h.date,
                title=h.title,
                sources=h.sources,
                score=h.score,
                same_story=h.cluster_id == cluster.id
                or self._same(story[h.cluster_id], cluster, others[h.cluster_id]),
                publisher=h.publisher,
            )
            for h in kept[: request.k]
        ]

    def same_story_as(self, cluster_id: str, others: Sequence[str]) -> set[str]:
        """Those of `others` that belong to `cluster_id`'s story by the thread's rule: the
        same story as it (its bar rising with the days between them), or the same story as
        one that is and still close to `cluster_id` itself (`ThreadParams.anchor`)."""
        seed = self.sim.profiles([cluster_id]).get(cluster_id)
        clusters = self.store.get_clusters([cluster_id, *others])
        if seed is None or cluster_id not in clusters:
            return set()
        rest = [o for o in others if o in clusters and o != cluster_id]
        to_seed = self.sim.score_many(seed, rest)
        found = {o for o, s in to_seed.items() if self._same(s, clusters[cluster_id], clusters[o])}
        anchor = self.sim.standing_bar(seed, self.thread_params.anchor)
        anchored = [o for o in rest if to_seed.get(o, -1.0) >= anchor]
        frontier = list(found)
        while frontier:
            member = frontier.pop(0)
            candidates = [o for o in anchored if o not in found]
            if not candidates:
                break
            profile = self.sim.profiles([member]).get(member)
            if profile is None:
                continue
            for o, s in self.sim.score_many(profile, candidates).items():
                if self._same(s, clusters[member], clusters[o]):
                    found.add(o)
                    frontier.append(o)
        return found

    def similar(self, request: SimilarRequest, vector: np.ndarray) -> list[RelatedStory]:
        source = self.sim.text_profile(vector, term_counts([request.text]))
        ranked = self.sim.rank(source, request.filters, exclude=set(), want=request.k)
        floor = self.sim.floor(source)
        return self._stories([(c, s) for c, s in ranked if s >= floor][: request.k])

    def thread(self, cluster_id: str, request: ThreadRequest) -> Thread:
        """The clusters of `cluster_id`'s story, by date: those the same story as it, and,
        breadth first, those the same story as a member that are still close to
        `cluster_id` itself (standing `ThreadParams.anchor` deviations above its
        background). A chain of pairwise links alone drifts: on UCI headlines the MH370
        thread ran through Mt. Gox and Snowden to Colorado's marijuana taxes. Stops at
        `request.limit` clusters and says so (`Thread.cut`)."""
        seed = self.sim.profiles([cluster_id])[cluster_id]
        anchor = self.sim.standing_bar(seed, self.thread_params.anchor)
        members: dict[str, float] = {cluster_id: 1.0}
        frontier = [cluster_id]
        cut = False
        lowest_bar = min(self.same_story, self.sim.params.item_same_story)
        while frontier and not cut:
            current = frontier.pop(0)
            source = seed if current == cluster_id else self.sim.profiles([current])[current]
            ranked = self.sim.rank(source, Filters(), exclude=set(members))
            near = [(c, s) for c, s in ranked[: self.thread_params.neighbours] if s >= lowest_bar]
            clusters = self.store.get_clusters([current, *dict(near)])
            linked = [c for c, s in near if self._same(s, clusters[current], clusters[c])]
            to_seed = self.sim.score_many(seed, linked)
            for cid in sorted(linked, key=lambda c: -to_seed.get(c, 0.0)):
                if cid in members or (current != cluster_id and to_seed.get(cid, 0.0) < anchor):
                    continue
                if len(members) >= request.limit:
                    cut = True
                    break
                members[cid] = to_seed[cid]
                frontier.append(cid)
        stories = self._stories(list(members.items()))
        stories[0].judge(True)
        return Thread(sorted(stories, key=lambda r: (r.date or "", r.id)), cut)

    def recommend(
        self, request: RecommendRequest, liked: list[tuple[str, float]], disliked: list[str]
    ) -> list[RelatedStory]:
        """Unseen clusters for a reader; `liked` and `disliked` are cluster ids. First the
        stories related to what they liked (above the related floor), then, to fill the
        list or for a reader with no likes, the most widely covered ("popular")."""
        seen = {c for c, _ in liked} | set(disliked)
        matrix = self.sim.matrix
        allowed = set(self.store.allowed_cluster_ids(request.filters)) if request.filters else None
        pool = [c for c in matrix.ids if c not in seen and (allowed is None or c in allowed)]
        related = self._related_to_likes(request, liked, disliked, pool) if liked else {}
        meta = self.store.cluster_meta(list(related))
        oldest, newest = self.store.date_range()

        def fresh(scores: dict[str, float]) -> dict[str, float]:
            # An undated story is as old as the oldest dated one: freshness cannot vouch
            # for it (it once escaped the decay and outranked every dated story).
            return {
                c: v * freshness(meta[c][0] or oldest, newest, request.half_life_days)
                for c, v in scores.items()
            }

        def vectors(ids: Iterable[str]) -> dict[str, np.ndarray]:
            return {cid: matrix.matrix[matrix.position[cid]] for cid in ids}

        window = max(self.recommend_params.mmr_window, 5 * request.k)
        ranked = fresh(related)
        chosen = mmr(ranked, vectors(ranked), request.k, request.diversity, window)
        filler: dict[str, float] = {}
        if len(chosen) < request.k:
            # Reach (how many outlets covered it), log-damped; read only when needed.
            rest = [c for c in pool if c not in related]
            meta.update(self.store.cluster_meta(rest))
            top = max((n for _, n in meta.values()), default=1)  # over the whole pool
            filler = fresh({c: math.log1p(meta[c][1]) / math.log1p(top) for c in rest})
            if filler:
                left = request.k - len(chosen)
                chosen += mmr(filler, vectors(filler), left, request.diversity, window)
        clusters = self.store.get_clusters(chosen)
        out = []
        for cid in chosen:
            if cid in related:
                story = self._story(cid, ranked[cid], clusters[cid])
                # Against several liked stories at once: the flat bar (no one date).
                story.judge(related[cid] >= self.same_story)
            else:
                story = self._story(cid, filler[cid], clusters[cid])
                story.judge(False, "popular")
            out.append(story)
        return out

    def _related_to_likes(
        self,
        request: RecommendRequest,
        liked: list[tuple[str, float]],
        disliked: list[str],
        pool: list[str],
    ) -> dict[str, float]:
        """Candidates related to the liked stories, by the request's strategy, with their
        scores; a candidate is kept only above the floor of a related list (it stands
        `SimilarityParams.related_standing` deviations over what random stories score)
        and above zero (closer to the likes than to the dislikes)."""
        matrix = self.sim.matrix
        standing = self.sim.params.related_standing
        if request.strategy is Strategy.AVERAGE:
            profile = rocchio(
                [(matrix.matrix[matrix.position[c]], w) for c, w in liked],
                [matrix.matrix[matrix.position[c]] for c in disliked],
                self.recommend_params.rocchio_beta,
            )
            sample = matrix.background_ids(self.sim.params.background)
            bg = matrix.matrix[[matrix.position[c] for c in sample]] @ profile
            centre, spread = robust_background(bg)
            floor = max(0.0, centre + standing * spread)
            scores = {cid: float(matrix.matrix[matrix.position[cid]] @ profile) for cid in pool}
            return {c: v for c, v in scores.items() if v >= floor}
        # best: each candidate by its best match to any liked story (weighted), minus a
        # share of its best match to any disliked one; candidates only.
        profiles_l = self.sim.profiles([c for c, _ in liked])
        profiles_d = self.sim.profiles(disliked)
        top_weight = max(w for _, w in liked)
        pool_set = set(pool)
        candidates: dict[str, None] = {}
        for cid in profiles_l:
            for c in self.sim.candidates(profiles_l[cid], Filters(), set(), want=request.k):
                if c in pool_set:
                    candidates.setdefault(c, None)
        best: dict[str, float] = {}
        above: set[str] = set()
        for cid, w in liked:
            if cid not in profiles_l:
                continue
            floor = self.sim.floor(profiles_l[cid])
            for c, v in self.sim.score_many(profiles_l[cid], list(candidates)).items():
                best[c] = max(best.get(c, -math.inf), v * (w / top_weight))
                if v >= floor:
                    above.add(c)
        penalty: dict[str, float] = {}
        for prof in profiles_d.values():
            for c, v in self.sim.score_many(prof, list(best)).items():
                penalty[c] = max(penalty.get(c, 0.0), v)
        share = self.recommend_params.dislike_penalty
        scores = {c: v - share * penalty.get(c, 0.0) for c, v in best.items()}
        return {c: v for c, v in scores.items() if c in above and v > 0}


def freshness(date: str | None, newest: str | None, half_life_days: float | None) -> float:
    """2^(-age / half-life), age counted back from the newest date in the index."""
    if not half_life_days or not date or not newest:
        return 1.0
    age = (Date.fromisoformat(newest) - Date.fromisoformat(date)).days
    return float(0.5 ** (max(age, 0) / half_life_days))


def mmr(
    scores: dict[str, float],
    vectors: dict[str, np.ndarray],
    k: int,
    diversity: float,
    window: int = 50,
) -> list[str]:
    """Maximal marginal relevance: trade a little relevance for results unlike those already picked."""
    remaining = sorted(scores, key=lambda c: (-scores[c], c))
    if diversity <= 0 or not remaining:
        return remaining[:k]
    chosen: list[str] = []
    top = max(abs(v) for v in scores.values()) or 1.0
    while remaining and len(chosen) < k:
        best, best_value = remaining[0], -math.inf
        for cid in remaining[:window]:
            redundancy = max(
                (
                    float(vectors[cid] @ vectors[c])
                    for c in chosen
                    if cid in vectors and c in vectors
                ),
                default=0.0,
            )
            value = (1 - diversity) * scores[cid] / top - diversity * redundancy
            if value > best_value:
                best, best_value = cid, value
        chosen.append(best)
        remaining.remove(best)
    return chosen


def rocchio(
    liked: Sequence[tuple[np.ndarray, float]], disliked: Sequence[np.ndarray], beta: float = 0.5
) -> np.ndarray:
    """Weighted mean of liked vectors, moved away from the mean of disliked ones."""
    weights = np.array([w for _, w in liked], dtype=np.float32)
    profile = (np.vstack([v for v, _ in liked]) * weights[:, None]).sum(axis=0) / weights.sum()
    if disliked:
        profile = profile - beta * np.vstack(disliked).mean(axis=0)
    norm = float(np.linalg.norm(profile))
    return profile / norm if norm else profile
