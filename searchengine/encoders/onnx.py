"""A sentence-transformers model run by ONNX Runtime: no torch at search, serve or index time.

The model folder (the bundled all-MiniLM-L6-v2, or any sentence-transformers
folder with a `tokenizer.json`) is exported once with `torch.onnx.export`
(dynamic batch and sequence axes) and, for `int8`, quantised with ONNX
Runtime's dynamic quantisation. The files are cached under
`$SEARCHENGINE_CACHE` (default `~/.cache/searchengine`) in a folder named by
the hash of the model's weights, not its path: another model under the same
folder name gets its own export, and only the first use pays for one.

Tokenisation is the `tokenizers` library reading the model's own
`tokenizer.json`; pooling (mean or CLS) and normalisation follow the model's
`1_Pooling/config.json` and `modules.json`, as sentence-transformers does, so
the vectors agree with it (cosine >= 0.999 in fp32; see tests/test_real_model.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from searchengine.environment import environment
from searchengine.errors import ModelUnavailable

PRECISIONS = ("fp32", "int8")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Word pieces per forward pass (texts x longest text). Texts are sorted by length
# and cut into batches of about this many tokens: on 2 cores, long passages ran
# fastest 4 at a time (int8: 61 passages/s at 4, 53 at 8, 44 at 32), while short
# key points and queries want more per pass to spread the call overhead.
TOKEN_BUDGET = 1024
MAX_BATCH = 64
EXPORT_OPSET = 17
# Bumped when the exported graph changes, so a cache from an older engine is not
# reused: 2 = eager attention + ONNX Runtime's BERT fusions (Attention,
# EmbedLayerNormalization, SkipLayerNormalization, BiasGelu), which encoded long
# passages ~1.2-1.5x faster than the plain export on 2 cores, and int8 weights
# quantised per channel.
EXPORT_FORMAT = 2


def cache_root() -> Path:
    """Where exported models live: $SEARCHENGINE_CACHE, else $XDG_CACHE_HOME/searchengine."""
    cache = environment().cache
    if cache is not None:
        return cache
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "searchengine"


def weights_hash(model_dir: Path) -> str:
    """sha256 of the model's weight file, remembered per (path, size, mtime) so a cold
    start does not re-read 90 MB to learn what it already knew."""
    weights = next((model_dir / f for f in WEIGHT_FILES if (model_dir / f).exists()), None)
    if weights is None:
        raise ModelUnavailable(f"{model_dir} holds no {' or '.join(WEIGHT_FILES)}")
    st = weights.stat()
    key = hashlib.sha1(f"{weights.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    memo = cache_root() / "hashes" / key
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()[:32]
    _write_atomic(memo, value.encode())
    return value


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:  # a read-only cache only costs the memo
        pass


def exported_model(
    model_dir: Path, precision: str, name: str = "", quiet: bool = False
) -> tuple[Path, str]:
    """(the ONNX file for this model and precision, the weights hash), exporting it
    first if this machine has not yet."""
    if precision not in PRECISIONS:
        raise ModelUnavailable(
            f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}"
        )
    digest = weights_hash(model_dir)
    folder = cache_root() / "onnx" / digest
    target = folder / f"model.v{EXPORT_FORMAT}.{precision}.onnx"
    if target.exists():
        return target, digest
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / f"model.v{EXPORT_FORMAT}.fp32.onnx"
    if not fp32.exists():
        if not quiet:
            print(
                f"exporting {name or model_dir} to ONNX once for this machine (about 20-40 s); "
                f"cached in {folder}",
                file=sys.stderr,
                flush=True,
            )
        with heartbeat("exporting to ONNX", quiet):
            _export(model_dir, fp32)
    if precision == "int8" and not target.exists():
        if not quiet:
            print("quantising the ONNX model to int8 (a few seconds)", file=sys.stderr, flush=True)
        _quantise(fp32, target)
    return target, digest


@contextmanager
def heartbeat(doing: str, quiet: bool, every: float = 20.0) -> Iterator[None]:
    """A line on stderr every `every` seconds while a long step runs (the first export
    on a machine took 20-40 s with nothing after its first line)."""
    if quiet:
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not done.wait(every):
            print(
                f"  ... still {doing} ({time.monotonic() - start:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _export(model_dir: Path, target: Path) -> None:
    """torch.onnx.export of the transformer (torch is needed here, and only here)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as err:
        raise ModelUnavailable(
            f"exporting {model_dir} to ONNX needs torch and transformers: {err}"
        ) from err
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the weight-loading bar is noise in a CLI
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    # Eager attention exports as the plain MatMul/Softmax pattern ONNX Runtime's
    # fusions recognise (the default SDPA kernel exports as a pattern they do not).
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    except (TypeError, ValueError):  # a model class without the option
        model = AutoModel.from_pretrained(str(model_dir))
    model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(model),
            (ids, ids, torch.zeros_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=EXPORT_OPSET,
            dynamo=False,
        )
    _fuse(tmp, model.config)
    os.replace(tmp, target)


def _fuse(path: Path, config: Any) -> None:
    """ONNX Runtime's transformer fusions, in place, where the model is BERT-like
    (all-MiniLM is); any other model keeps the plain export, which runs the same."""
    import logging

    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    if getattr(config, "model_type", "") not in ("bert", "roberta", "xlm-roberta") or not heads:
        return
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError:  # pragma: no cover - ships with onnxruntime
        return
    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    try:
        fused = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden)
    except Exception:  # noqa: BLE001 - an unfusable graph is still a correct one
        return
    if fused.get_fused_operator_statistics().get("Attention", 0) == 0:
        return  # the pattern was not recognised: nothing gained
    fused.save_model_to_file(str(path))


def _quantise(source: Path, target: Path) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is noise here
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    quantize_dynamic(
        str(source),
        str(tmp),
        weight_type=QuantType.QInt8,
        # One scale per output channel, not per tensor: vectors agree with fp32 at
        # mean cosine 0.993 instead of 0.949 (400 passages), for ~10% of the speed.
        per_channel=True,
        # Fused operators (com.microsoft domain) carry no inferred output types.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    os.replace(tmp, target)


class OnnxEncoder:
    """A sentence-transformers model folder run by onnxruntime with the machine's threads."""

    runtime = "onnx"

    def __init__(
        self, name: str, model_dir: Path, precision: str = "fp32", threads: int | None = None
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.precision = precision
        path, self.weights = exported_model(model_dir, precision, name)
        tokenizer_file = model_dir / "tokenizer.json"
        if not tokenizer_file.exists():
            raise ModelUnavailable(f"{model_dir} has no tokenizer.json")
        config = _read_json(model_dir / "sentence_bert_config.json")
        self.max_length = int(config.get("max_seq_length") or 256)
        pooling = _read_json(model_dir / "1_Pooling" / "config.json")
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token"))
        self.dimension = int(
            pooling.get("word_embedding_dimension")
            or _read_json(model_dir / "config.json").get("hidden_size")
            or 0
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()  # batches are padded here, after sorting by length
        pad = self.tokenizer.token_to_id("[PAD]")
        self.pad_id = pad if pad is not None else 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: a server runs many small
        # inferences from several request threads, and spinning threads would eat
        # the cores those requests need (measured: 40 req/s spinning on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        # The tokenizer is configured once; calls are serialised to be safe with it.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            encoded = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        start = 0
        while start < len(order):
            longest = max(1, len(encoded[order[start]].ids))
            size = max(1, min(MAX_BATCH, TOKEN_BUDGET // longest))
            rows = order[start : start + size]
            out[rows] = self._batch([encoded[i].ids for i in rows], longest)
            start += size
        return out

    def _batch(self, pieces: list[list[int]], longest: int) -> np.ndarray:
        ids = np.zeros((len(pieces), longest), dtype=np.int64)
        mask = np.zeros((len(pieces), longest), dtype=np.int64)
        for row, tokens in enumerate(pieces):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        ids[mask == 0] = self.pad_id
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        if self.cls_pooling:
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
