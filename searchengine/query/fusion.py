"""From passages to groups, and from several rankings to one: each signal's passage
hits (cosine, word bm25, trigram bm25) become a ranking of clusters (or articles),
and the rankings are fused by a convex combination of their scaled scores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np

from searchengine.backends.memory import MemoryIndex
from searchengine.backends.storage import RecordStore
from searchengine.core.contract import Kind


@dataclass
class Signal:
    """One way of ranking (dense, word bm25, trigram bm25): its groups (clusters or
    articles) best first, their scores, and each group's passages."""

    name: str
    weight: float
    keys: list[str]  # groups, best first
    values: list[float]  # their scores: best passage + a little credit for a few more
    # A group's passages are scores[start:end] and pids[start:end] (best first);
    # only the few groups shown ever need them as lists.
    bounds: dict[str, tuple[int, int]] = dataclass_field(default_factory=dict)
    scores: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0))
    pids: np.ndarray = dataclass_field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # The best passage's score before scaling (a cosine for dense), by group: the
    # one number of a signal that means the same across queries (for `Evidence`).
    raw_best: dict[str, float] = dataclass_field(default_factory=dict)

    def members(self, key: str) -> list[tuple[float, int]]:
        """(scaled score, passage id) of a group's passages, best first."""
        if key not in self.bounds:
            return []
        start, end = self.bounds[key]
        return list(
            zip(self.scores[start:end].tolist(), self.pids[start:end].tolist(), strict=True)
        )


class Owners:
    """Which cluster and article each candidate passage belongs to: read from SQLite
    as candidates come (a one-shot command), or straight from the memory index."""

    def __init__(self, store: RecordStore, memory: MemoryIndex | None) -> None:
        self.store = store
        self.memory = memory
        self._rows: dict[int, tuple[str, str | None]] = {}
        self._keys: list[str] = []  # group ids of the SQLite path, per query
        self._key_index: dict[str, int] = {}

    def add(self, pids: Sequence[int]) -> None:
        if self.memory is None:
            missing = [p for p in pids if p not in self._rows]
            if missing:
                self._rows.update(self.store.passage_owners(missing))

    def clusters_of(self, pids: Sequence[int]) -> list[str]:
        """The cluster of each passage (one array lookup for all of them in memory)."""
        memory = self.memory
        if memory is not None:
            keys = memory.keys
            groups = memory.groups(np.asarray(pids, dtype=np.int64)).tolist()
            return [keys[g] for g in groups]
        return [self._rows[pid][0] for pid in pids]

    def groups(self, pids: np.ndarray, kind: Kind) -> tuple[np.ndarray, Sequence[str]]:
        """Each passage's group (cluster, or article for article searches) as an
        index into the returned key table; -1 for none (absent, or not an article)."""
        memory = self.memory
        if memory is not None:
            return memory.groups(pids, articles=kind is Kind.ARTICLES), memory.keys
        which = 1 if kind is Kind.ARTICLES else 0
        out = np.full(len(pids), -1, dtype=np.int64)
        for i, pid in enumerate(pids.tolist()):
            owner = self._rows.get(pid)
            key = owner[which] if owner is not None else None
            if key is not None:
                index = self._key_index.get(key)
                if index is None:
                    index = self._key_index[key] = len(self._keys)
                    self._keys.append(key)
                out[i] = index
        return out, self._keys


def group_ranking(
    name: str,
    weight: float,
    candidates: Sequence[tuple[int, float]],
    owners: Owners,
    kind: Kind,
    extra_credit: float,
    extra_passages: int,
) -> Signal:
    """Passage hits -> a signal's groups (clusters or articles), best first.

    Scores are first scaled to [0, 1] by the best passage of the query, so
    that the credit for extra passages means the same for cosine and bm25.
    A group scores by its best passage plus `extra_credit` times the sum of its
    next `extra_passages` (`search.RankingParams`); the arithmetic runs on arrays (a query has hundreds
    of candidates in hundreds of groups).
    """
    if not candidates:
        return Signal(name, weight, [], [])
    pid_array = np.fromiter((c[0] for c in candidates), dtype=np.int64, count=len(candidates))
    raw = np.fromiter((c[1] for c in candidates), dtype=np.float64, count=len(candidates))
    group, key_table = owners.groups(pid_array, kind)
    known = group >= 0
    if not known.any():
        return Signal(name, weight, [], [])
    low = min(0.0, float(raw.min()))
    span = (float(raw.max()) - low) or 1.0
    group, scores, pid_array = group[known], (raw[known] - low) / span, pid_array[known]
    order = np.lexsort((-scores, group))  # by group, best passage first
    group, scores, pid_array = group[order], scores[order], pid_array[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)]
    place = np.arange(len(group)) - np.repeat(starts, ends - starts)
    extra = (place >= 1) & (place <= extra_passages)
    firsts = group[starts]
    credit = np.zeros(len(starts))
    np.add.at(credit, np.searchsorted(firsts, group[extra]), scores[extra])
    values = scores[starts] + extra_credit * credit
    group_keys = [key_table[g] for g in firsts.tolist()]
    raw_best = dict(zip(group_keys, (scores[starts] * span + low).tolist(), strict=True))
    ranked = np.argsort(-values, kind="stable").tolist()
    value_list = values.tolist()
    ordered = [value_list[j] for j in ranked]
    if any(a == b for a, b in zip(ordered, ordered[1:], strict=False)):  # ties: by key
        ranked.sort(key=lambda j: (-value_list[j], group_keys[j]))
    bounds = dict(zip(group_keys, zip(starts.tolist(), ends.tolist(), strict=True), strict=True))
    return Signal(
        name,
        weight,
        [group_keys[j] for j in ranked],
        [value_list[j] for j in ranked],
        bounds,
        scores,
        pid_array,
        raw_best,
    )


def fuse(signals: Sequence[Signal]) -> dict[str, float]:
    """Combine the rankings: a convex combination of the groups' scores (each signal
    scaled to [0, 1] by its best group)."""
    fused: dict[str, float] = defaultdict(float)
    for sig in signals:
        scale = sig.weight / (sig.values[0] or 1.0)
        for key, value in zip(sig.keys, sig.values, strict=True):
            fused[key] += scale * value
    return fused
