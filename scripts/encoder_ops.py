"""Where one query's encoding goes: ONNX Runtime's own profiler over the exported model,
time per operator type for one query of N word pieces on one thread.

    .venv/bin/python scripts/encoder_ops.py --tokens 13 --precision int8

Tells whether encoding is compute (matrix products) or overhead (many small
operators), which decides what can make a query cheaper: the distinct queries of
`load_test.py` average ~12 word pieces with [CLS] and [SEP].
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from searchengine.encoders.encoder import DEFAULT_MODEL, _resolve_model_path
from searchengine.encoders.onnx import exported_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=13, help="word pieces, [CLS] and [SEP] in")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="int8")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    path, _ = exported_model(Path(_resolve_model_path(DEFAULT_MODEL)), args.precision)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ids = np.array([[101] + [2000 + i for i in range(args.tokens - 2)] + [102]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    if "token_type_ids" in {i.name for i in session.get_inputs()}:
        feed["token_type_ids"] = np.zeros_like(ids)
    for _ in range(50):
        session.run(None, feed)
    started = time.perf_counter()
    for _ in range(args.runs):
        session.run(None, feed)
    plain = (time.perf_counter() - started) / args.runs * 1000

    with tempfile.TemporaryDirectory() as tmp:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "ops")
        profiled = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(args.runs):
            profiled.run(None, feed)
        events = json.loads(Path(profiled.end_profiling()).read_text())
    by_op: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"]
            count[event["args"]["op_name"]] += 1
    total = sum(by_op.values()) / args.runs
    print(
        f"{args.precision}, {args.tokens} word pieces, {args.threads} thread(s): "
        f"{plain:.2f} ms per query unprofiled; operators {total / 1000:.2f} ms profiled"
    )
    print("| operator | us per query | share | calls |")
    print("|---|---|---|---|")
    for op, micros in by_op.most_common():
        print(
            f"| {op} | {micros / args.runs:.0f} | {micros / args.runs / total:.0%} | "
            f"{count[op] // args.runs} |"
        )


if __name__ == "__main__":
    main()
