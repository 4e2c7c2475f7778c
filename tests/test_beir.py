"""The BEIR reader and `eval --beir` on a tiny BEIR-shaped folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from searchengine.core.documents import passages_of
from searchengine.evaluate import read_beir

from .test_cli import cli


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    long_text = " ".join(f"Sentence {i} about nothing in particular." for i in range(120))
    docs = [
        {
            "_id": "10",
            "title": "Vitamin D and bone density",
            "text": "Vitamin D supplements increase bone density in older adults.",
            "metadata": {},
        },
        {
            "_id": "11",
            "title": "Aspirin and heart attacks",
            "text": "Daily aspirin lowers the risk of a first heart attack.",
            "metadata": {},
        },
        {
            "_id": "12",
            "title": "A long abstract",
            "text": long_text + " The key finding: zinc shortens colds.",
            "metadata": {},
        },
    ]
    with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(d) for d in docs) + "\n")
    queries = [
        {"_id": "1", "text": "vitamin D improves bone density"},
        {"_id": "2", "text": "zinc shortens the common cold"},
        {"_id": "3", "text": "a training query with no test qrels"},
    ]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels" / "test.tsv").write_bytes(
        b"query-id\tcorpus-id\tscore\r\n1\t10\t1\r\n2\t12\t1\r\n"
    )
    return root


def test_reader_handles_gzip_crlf_and_keeps_test_queries_only(beir: Path) -> None:
    data = read_beir(beir)
    assert [d.id for d in data.documents] == ["10", "11", "12"]
    assert data.documents[0].title == "Vitamin D and bone density"
    assert data.qrels == {"1": {"10": 1}, "2": {"12": 1}}
    assert set(data.queries) == {"1", "2"}


def test_long_documents_become_several_passages(beir: Path) -> None:
    long_doc = read_beir(beir).documents[2]
    passages = passages_of(long_doc)
    assert len(passages) >= 4
    assert all(p.text.startswith("A long abstract") for p in passages)  # each chunk keeps the title
    assert "zinc shortens colds" in passages[-1].text


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_eval_beir_finds_text_at_the_end_of_a_long_document(beir: Path, mode: str) -> None:
    result = cli("eval", "--beir", str(beir), "--model", "hashing", "--mode", mode, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"ndcg@10", "recall@100", "queries"} <= set(data)
    assert data["queries"]["2"]["ndcg@10"] == 1.0  # found although past the first window
    assert data["documents"] == 3 and data["passages"] >= 6
