"""Words the index does not know, matched to words it does: cognates across languages
(`Afeganistão`, `Afganistán` -> afghanistan; `humanitária` -> humanitarian) and typos
(`Liverpol` -> liverpool).

A query word the word index has never seen would otherwise reach only the character
trigrams (noisy: "anis" matches Pakistan too) and the encoder (an English model reads
`terremoto no Afeganistão` as noise and ranked a Venezuelan story first). Here such a
word is compared, accent-folded, with the index's own vocabulary by normalised edit
similarity (rapidfuzz, C++: ~2 ms over 50k words); the closest few above a floor are
searched as words and told to the encoder beside the original query.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from searchengine.core.documents import fold


@dataclass(frozen=True)
class FuzzyParams:
    """Chosen on the dev queries and checked on SciFact (BENCHMARKS.md, "Cognates").

    `rapidfuzz.fuzz.ratio` is 100 x (1 - Indel distance / total length):
    afeganistao~afghanistan 81.8, afganistan~afghanistan 95.2, humanitaria~humanitarian
    95.7, liverpol~liverpool 94.1; unrelated words of similar length score < 70
    (terremoto~earthquak 33, japan~jan 75)."""

    min_ratio: float = 80.0
    # Short words have many neighbours at one edit ("japan" ~ "jan", "snap" ~ "span"):
    # only words of this many characters are matched fuzzily.
    min_length: int = 5
    per_term: int = 2  # the closest few: a cognate has one spelling, a typo one or two


class Vocabulary:
    """The index's words, grouped by first letter and sorted by length: a word is
    compared only with words of its first letter whose length allows the floor
    (ratio >= r needs the shorter word to be >= r / (200 - r) of the longer one).
    Cognates and typos keep their first letter (Afeganistão, Afganistán, Liverpol);
    this cuts the comparisons ~50x (a query at 20k passages: 2 ms -> ~0.1 ms)."""

    def __init__(self, words: Iterable[str]) -> None:
        groups: dict[str, list[str]] = {}
        for word in words:
            if word:
                groups.setdefault(word[0], []).append(word)
        self._groups = {k: sorted(v, key=len) for k, v in groups.items()}
        self._lengths = {k: [len(w) for w in v] for k, v in self._groups.items()}

    def __len__(self) -> int:
        return sum(len(v) for v in self._groups.values())

    def candidates(self, word: str, min_ratio: float) -> list[str]:
        group = self._groups.get(word[:1])
        if not group:
            return []
        share = min_ratio / (200.0 - min_ratio)  # shortest/longest the floor allows
        lengths = self._lengths[word[:1]]
        low = bisect_left(lengths, math.ceil(len(word) * share))
        high = bisect_right(lengths, math.floor(len(word) / share))
        return group[low:high]


def expansions(
    unknown: Sequence[str], vocabulary: Vocabulary, params: FuzzyParams | None = None
) -> dict[str, list[str]]:
    """Each unknown term's closest known words (best first); terms with none are left out."""
    params = params or FuzzyParams()
    if not unknown or not len(vocabulary):
        return {}
    from rapidfuzz import fuzz, process

    out: dict[str, list[str]] = {}
    for term in unknown:
        folded = fold(term)
        if len(folded) < params.min_length:
            continue
        found = process.extract(
            folded,
            vocabulary.candidates(folded, params.min_ratio),
            scorer=fuzz.ratio,
            score_cutoff=params.min_ratio,
            limit=params.per_term,
        )
        words = [word for word, _, _ in found if word != folded]
        if words:
            out[term] = words
    return out
