"""Highlighting (text.Highlighter) and batched query encoding (encoder.QueryBatcher).

Both were rewritten for speed in issue 9: highlighting finds the query's words
with str.find on a folded copy of the passage, and a server encodes the
queries of concurrent requests in one model call. What a user sees must not
change: the same words marked at the same places, every request its own vector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from searchengine.core.documents import fold
from searchengine.core.text import _WORD, Highlighter, query_terms
from searchengine.encoders.encoder import HashingEncoder, QueryBatcher


def marked(query: str, text: str) -> list[str]:
    return [text[a:b] for a, b in Highlighter(query_terms(query)).spans(text)]


def word_by_word(query: str, text: str) -> list[str]:
    """The plain definition: every word whose folded stem is a query word's stem."""
    h = Highlighter(query_terms(query))
    return [
        m.group()
        for m in _WORD.finditer(text)
        if h._matches(m.group().lower() if m.group().isascii() else fold(m.group()))
    ]


@pytest.mark.parametrize(
    ("query", "text", "want"),
    [
        (
            "releases",
            "Venezuela released 10 prisoners; releasing more. Release!",
            ["released", "releasing", "Release"],
        ),
        (
            "Nicolas Maduro",
            "Nicolás Maduro met NICOLÁS in Caracas.",
            ["Nicolás", "Maduro", "NICOLÁS"],
        ),
        ("Afeganistão", "Ajuda ao Afeganistão; afeganistao", ["Afeganistão", "afeganistao"]),
        ("the of", "The state of the union", []),  # stop words only: nothing to mark
        ("ec", "the EC decreases economic ec-rules", ["EC", "ec"]),  # no match inside words
    ],
)
def test_highlights_mark_whole_words_by_stem(query: str, text: str, want: list[str]) -> None:
    assert marked(query, text) == want
    assert marked(query, text) == word_by_word(query, text)


def test_highlight_positions_survive_folding() -> None:
    """Accented and ligature characters fold to one character each, so the spans
    index the original text."""
    text = "Ça va? Crème brûlée at the Louvre, São Paulo and Ærø; ﬁnal."
    for query in ("creme brulee", "sao paulo", "louvre", "aero", "final"):
        assert marked(query, text) == word_by_word(query, text)


class _Slow(HashingEncoder):
    """Counts model calls; each takes a while, so concurrent requests pile up."""

    def __init__(self) -> None:
        super().__init__(32)
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(0.02)
        if any("boom" in t for t in texts):
            raise RuntimeError("model failed")
        return super().encode(texts)


def test_concurrent_queries_share_model_calls_and_get_their_own_vectors() -> None:
    model = _Slow()
    batcher = QueryBatcher(model)
    got: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        got[i] = batcher(f"query number {i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    reference = HashingEncoder(32)
    for i in range(40):
        assert np.allclose(got[i], reference.encode([f"query number {i}"])[0])
    assert sum(model.calls) == 40 and len(model.calls) < 40  # batched, nothing lost


def test_a_lone_query_is_encoded_at_once() -> None:
    model = _Slow()
    vector = QueryBatcher(model)("one query")
    assert model.calls == [1] and vector.shape == (32,)


def test_a_failing_batch_fails_every_request_in_it_and_not_the_next() -> None:
    model = _Slow()
    batcher = QueryBatcher(model)
    errors: list[str] = []

    def ask(text: str) -> None:
        try:
            batcher(text)
        except RuntimeError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=ask, args=(t,)) for t in ("boom", "a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert "model failed" in errors  # the request that broke the model is told so
    assert batcher("after the failure").shape == (32,)  # the batcher still works
