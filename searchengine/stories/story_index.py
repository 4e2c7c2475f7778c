"""Every story's similarity evidence in memory, for one generation of the index.

Comparing a story with a few hundred candidates one pair at a time (decode
their term counts, rebuild their tf-idf vectors, fetch their passage vectors,
loop) cost ~0.25 s per `related` call at 9k stories. Here the evidence of all
clusters is laid out once per generation instead — passage vectors in one
float16 matrix with each cluster's row range, tf-idf and entity vectors as
sparse row-normalised matrices — and a story is scored against all its
candidates with a handful of array operations. The numbers are the ones
`similarity.StorySimilarity.score` defines; only the arithmetic is batched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from searchengine.backends.storage import RecordStore
from searchengine.core.text import tfidf_from_idf


class StoryIndex:
    """Passage, term and entity evidence of every cluster, rows in ClusterMatrix order."""

    def __init__(
        self,
        store: RecordStore,
        ids: Sequence[str],
        position: Mapping[str, int],
        idfs: Mapping[str, float],
        unseen_idf: float,
        entity_weights: Mapping[str, float],
        dimension: int,
    ) -> None:
        from scipy import sparse  # only story similarity needs it

        n = len(ids)
        self.position = position
        # Passage vectors, grouped by cluster row.
        counts = np.zeros(n, dtype=np.int64)
        blocks: list[list[bytes]] = [[] for _ in range(n)]
        for _pid, cid, blob in store.all_passage_embeddings():
            row = position.get(cid)
            if row is not None:
                blocks[row].append(blob)
                counts[row] += 1
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n else counts
        joined = b"".join(b for block in blocks for b in block)
        self.passages = np.frombuffer(joined, dtype=np.float16).reshape(-1, dimension)
        # Terms: unit tf-idf rows over one vocabulary.
        self.vocab: dict[str, int] = {}
        self.terms = self._sparse(
            sparse,
            n,
            (
                (position[cid], tfidf_from_idf(c, idfs, unseen_idf))
                for cid, c in store.all_term_counts()
                if cid in position
            ),
            self.vocab,
        )
        # Entities: unit idf-weighted rows.
        self.entity_vocab: dict[str, int] = {}
        self.entities = self._sparse(
            sparse,
            n,
            (
                (position[cid], _unit({k: entity_weights[k] for k in keys}))
                for cid, keys in store.all_entity_keys().items()
                if cid in position
            ),
            self.entity_vocab,
        )
        self.has_terms = np.diff(self.terms.indptr) > 0
        self.has_entities = np.diff(self.entities.indptr) > 0

    @staticmethod
    def _sparse(sparse, n, rows, vocab):  # type: ignore[no-untyped-def]
        r, c, v = [], [], []
        for row, vec in rows:
            for key, value in vec.items():
                r.append(row)
                c.append(vocab.setdefault(key, len(vocab)))
                v.append(value)
        return sparse.csr_matrix(
            (np.array(v, dtype=np.float32), (np.array(r), np.array(c))),
            shape=(n, max(1, len(vocab))),
        )

    def nearest_by_terms(
        self, profile: object, n: int, allowed_rows: np.ndarray | None = None
    ) -> list[int]:
        """The `n` rows whose tf-idf vectors are closest to the profile's, among
        `allowed_rows` when given (a filter applies before the top n, not after)."""
        row = getattr(profile, "row", None)
        terms = getattr(profile, "terms", {}) or {}
        if not terms:
            return []
        src = self.terms[row] if row is not None else self.sparse_row(terms)
        cos = np.asarray((self.terms @ src.T).todense()).ravel()
        if allowed_rows is not None:
            masked = np.zeros_like(cos)
            masked[allowed_rows] = cos[allowed_rows]
            cos = masked
        n = min(n, len(cos))
        top = np.argpartition(-cos, n - 1)[:n] if n else np.zeros(0, dtype=np.int64)
        top = top[cos[top] > 0]
        return [int(r) for r in top[np.argsort(-cos[top], kind="stable")]]

    def row_dict(self, row: int, entities: bool = False) -> dict[str, float]:
        """A cluster's unit term (or entity) vector as {key: weight}."""
        matrix = self.entities if entities else self.terms
        names = self._names(entities)
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        return {
            names[int(c)]: float(v)
            for c, v in zip(matrix.indices[start:end], matrix.data[start:end], strict=True)
        }

    def _names(self, entities: bool) -> list[str]:
        attr = "_entity_names" if entities else "_term_names"
        names: list[str] | None = getattr(self, attr, None)
        if names is None:
            vocab = self.entity_vocab if entities else self.vocab
            names = [""] * len(vocab)
            for key, i in vocab.items():
                names[i] = key
            setattr(self, attr, names)
        return names

    def vectors_of(self, row: int) -> np.ndarray:
        start = int(self.starts[row])
        return self.passages[start : start + int(self.counts[row])].astype(np.float32)

    def sparse_row(self, weights: Mapping[str, float], entities: bool = False):  # type: ignore[no-untyped-def]
        """A free text's (already unit) weights as a row over this index's vocabulary;
        words no stored story has cannot match and are left out."""
        from scipy import sparse

        vocab = self.entity_vocab if entities else self.vocab
        cols = [(vocab[k], w) for k, w in weights.items() if k in vocab]
        matrix = self.entities if entities else self.terms
        return sparse.csr_matrix(
            (
                np.array([w for _, w in cols], dtype=np.float32),
                (np.zeros(len(cols), dtype=np.int64), np.array([c for c, _ in cols])),
            ),
            shape=(1, matrix.shape[1]),
        )

    def chamfer(self, source: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """similarity.chamfer of `source` (passages x dim) with each row's passages."""
        counts = self.counts[rows]
        out = np.zeros(len(rows), dtype=np.float64)
        keep = counts > 0
        if len(source) == 0 or not keep.any():
            return out
        rows, counts = rows[keep], counts[keep]
        index = np.concatenate(
            [np.arange(s, s + c) for s, c in zip(self.starts[rows], counts, strict=True)]
        )
        sims = self.passages[index].astype(np.float32) @ source.T  # (their passages, ours)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        theirs = np.add.reduceat(sims.max(axis=1), offsets) / counts  # each of theirs: best of ours
        ours = np.maximum.reduceat(sims, offsets, axis=0).mean(
            axis=1
        )  # each of ours: best of theirs
        out[keep] = (theirs + ours) / 2
        return out


def _unit(vec: dict[str, float]) -> dict[str, float]:
    norm = float(np.sqrt(sum(v * v for v in vec.values()))) or 1.0
    return {k: v / norm for k, v in vec.items()}
