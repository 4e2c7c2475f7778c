"""Text analysis shared by search, highlighting and story similarity: folding,
stop words, stemming, term vectors."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

from searchengine.core.documents import fold

_WORD = re.compile(r"\w+", re.UNICODE)

# Function words of the languages the digests and their readers use. They
# carry no topic, and in an OR query they would match nearly every passage.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves s t don
    did get got end up did ever
    el la los las un una unos unas de del y o en que por para con sin sobre es son se su sus al lo
    le les des du et ou à au aux pour par avec dans sur est sont une
    o os as um uma no na nos nas do da dos das e em por para com sem é são ao
    """.split()
)


def query_terms(query: str) -> list[str]:
    """The folded content words of a query, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(query)):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


class Highlighter:
    """Finds the query's words in a passage, by stem, so `releases` marks `released`."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.stems = {stem_word(t) for t in terms}
        # Stemming only strips suffixes (and turns a final y into i): a word can
        # match only if it starts as a stem does. Checking two letters first
        # skips stemming most words.
        self.heads = {s[:2] for s in self.stems}
        # str.find (C speed) on a folded copy of the text locates those words,
        # instead of a Python loop folding every word (a long passage has hundreds).
        self._prefixes = sorted({s[: max(2, len(s) - 1)] for s in self.stems})

    def spans(self, text: str) -> list[tuple[int, int]]:
        if not self.stems:
            return []
        folded = text.lower() if text.isascii() else text.translate(_FOLD_TABLE)
        if _SEVERAL in folded:  # a character that folds to several ("ﬁ", "ß"): word by word
            return [
                (m.start(), m.end())
                for m in _WORD.finditer(text)
                if self._matches(m.group().lower() if m.group().isascii() else fold(m.group()))
            ]
        found: set[tuple[int, int]] = set()
        for prefix in self._prefixes:
            at = folded.find(prefix)
            while at != -1:
                before = folded[at - 1] if at else " "
                if not (before.isalnum() or before == "_"):
                    m = _WORD.match(folded, at)
                    if m is not None and self._matches(m.group()):
                        found.add((at, m.end()))
                at = folded.find(prefix, at + 1)
        return sorted(found)

    def _matches(self, word: str) -> bool:
        return word[:2] in self.heads and word not in STOPWORDS and stem_word(word) in self.stems


class _FoldTable(dict[int, str]):
    """A str.translate table taking each character to its folded form when that is
    one character (á -> a, É -> e), so a position in the folded copy is the same
    position in the original; filled as characters are first seen."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = fold(char)
        if len(folded) > 1 or (not folded and not char.isspace() and char.isalnum()):
            folded = _SEVERAL  # the caller goes word by word for this text
        elif len(folded) != 1:
            folded = char  # whitespace and marks stay where they are
        self[code] = folded
        return folded


_SEVERAL = "\uffff"  # stands for a character whose folded form is several characters
_FOLD_TABLE = _FoldTable()


@lru_cache(maxsize=200_000)
def stem_word(word: str) -> str:
    """A word's stem, remembered (the same words recur in every passage shown)."""
    return _snowball()(word)


def _stemmer() -> Callable[[str], str]:
    try:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
        return lambda w: str(stemmer.stemWord(w))
    except ImportError:  # pragma: no cover - PyStemmer is a dependency
        return lambda w: w


@lru_cache(maxsize=1)
def _snowball() -> Callable[[str], str]:
    return _stemmer()


def analyze(text: str) -> list[str]:
    """Folded, stemmed content words: the terms of a story's term vector."""
    stem = _snowball()
    return [stem(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS and len(w) > 1]


def term_counts(texts: Iterable[str]) -> dict[str, int]:
    """Term frequencies over several texts (a cluster's fields)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(analyze(text))
    return dict(counts)


def idf(n_docs: int, df: int) -> float:
    """Smoothed inverse document frequency."""
    return math.log((n_docs + 1) / (df + 1) + 1.0)


def entity_weight(n_docs: int, df: int) -> float:
    """An entity's idf weight: rare names say more about which story this is."""
    return math.log((n_docs + 1) / (df + 1)) + 1.0


# Sublinear term frequency, 1 + ln(c), for the counts that occur nearly always.
_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 256)]


def tfidf_from_idf(
    counts: Mapping[str, int], idfs: Mapping[str, float], unseen: float
) -> dict[str, float]:
    """Sublinear tf times idf (looked up; `unseen` for a term no stored story has),
    unit length (a sparse dict)."""
    vec = {
        t: (_TF[c] if c < 256 else 1.0 + math.log(c)) * idfs.get(t, unseen)
        for t, c in counts.items()
        if c > 0
    }
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two unit sparse vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())
