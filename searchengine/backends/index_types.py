"""Which vector index an index builds: what `auto` means, for either backend."""

from __future__ import annotations

# Exact (Flat) search up to this many passages, an HNSW graph past it. A search
# takes ~200 candidates from it: Flat costs ~1.2 ms for that at 10k passages and
# grows linearly (2.4 ms at 20k, 15 ms at 100k), while the graph walk costs ~1 ms
# at 20k with the same SciFact nDCG@10 (0.7358 both; see HNSW_EF_PER_RESULT).
# 10k is where they cross on these machines (BENCHMARKS.md, scripts/bench_query.py).
AUTO_FLAT_LIMIT = 10_000
AUTO_APPROX = "HNSW32,Flat"


def choose_index_type(requested: str, count: int) -> str:
    """`auto` -> exact `Flat` for small corpora, HNSW past AUTO_FLAT_LIMIT passages."""
    if requested != "auto":
        return requested
    return "Flat" if count <= AUTO_FLAT_LIMIT else AUTO_APPROX
