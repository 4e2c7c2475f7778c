"""Metric plumbing: readers and ranx scoring behave as TREC tools do."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchengine.evaluate import read_qrels, read_queries, score_run


def test_readers_accept_trec_beir_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "q.tsv").write_text("d01\tGaza hostage release\r\nd02\tsecond\r\n")
    (tmp_path / "trec.txt").write_text("d01 0 a 2\nd01 0 b 1\n")
    (tmp_path / "beir.tsv").write_bytes(b"query-id\tcorpus-id\tscore\r\n1\t31715818\t1\r\n")
    assert read_queries(tmp_path / "q.tsv") == {"d01": "Gaza hostage release", "d02": "second"}
    assert read_qrels(tmp_path / "trec.txt") == {"d01": {"a": 2, "b": 1}}
    assert read_qrels(tmp_path / "beir.tsv") == {"1": {"31715818": 1}}
    (tmp_path / "bad.txt").write_text("d01 0 a 2\nd01 a\n")
    with pytest.raises(ValueError, match="bad.txt:2"):
        read_qrels(tmp_path / "bad.txt")


def test_scores_match_hand_computed_values() -> None:
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    perfect = {"q1": {"a": 3.0, "b": 2.0, "x": 1.0}, "q2": {"c": 1.0}}
    means, per_query = score_run(qrels, perfect)
    assert means["ndcg@10"] == pytest.approx(1.0) and means["mrr@10"] == pytest.approx(1.0)
    worse = {"q1": {"x": 3.0, "b": 2.0, "a": 1.0}, "q2": {"z": 1.0}}
    means, per_query = score_run(qrels, worse)
    assert per_query["q2"]["ndcg@10"] == 0.0 and per_query["q2"]["recall@10"] == 0.0
    assert per_query["q1"]["mrr@10"] == pytest.approx(0.5)
    assert per_query["q1"]["recall@10"] == pytest.approx(1.0)
    assert 0 < per_query["q1"]["ndcg@10"] < 1


def test_a_query_with_no_results_scores_zero() -> None:
    means, per_query = score_run({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": {"a": 1.0}})
    assert per_query["q2"]["ndcg@10"] == 0.0
    assert means["ndcg@10"] == pytest.approx(0.5)
