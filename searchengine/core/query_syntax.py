"""The query syntax people type: "quoted phrases" must appear, `-word` / `NOT word`
exclude, `OR` joins alternatives.

`'"peace plan" -Gaza'` and `Gaza NOT ceasefire` ranked Gaza and ceasefire stories
first: the encoder read the operators as words, and nothing checked them. Now a
query is parsed once: the encoder and the word index read only its words (phrases'
words kept, operators and excluded words gone), and the hits are then held to it —
each phrase group (alternatives joined by OR) must appear in the hit's text, no
excluded word may (matched by stem: `-ceasefire` also drops "ceasefires").
Plain words stay what they always were: ranked, not required; `Gaza OR Ukraine`
is ranked as both words (the OR is only taken out of what the encoder reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from searchengine.core.documents import fold
from searchengine.core.text import stem_word

_TOKEN = re.compile(r'-?["“”][^"“”]*["“”]?|\S+')
_QUOTES = '"“”'
_LETTER_OR_QUOTE = re.compile(r'[^\W\d_]|["“”]')  # what makes `-x` an exclusion
_WORDS = re.compile(r"\w+", re.UNICODE)


# A query that asks for no word: every token an operator, an exclusion (`-word`,
# `-"a phrase"`, or whatever follows a NOT) or a phrase without a word (`"`, `"°^"`).
# What a saved search refuses, stated as the API schema's `not` pattern; the same
# as `not parse_query(q).text` (tests/test_filters.py checks the two agree).
_QUOTED = r'["“”][^"“”]*(?:["“”]|$)'  # as `_TOKEN` reads one: up to the next quote
_PLAIN = r'(?!-?["“”])\S+(?:\s+|$)'  # (a token that is not quoted ends at a space)
_NO_WORD = (
    r"(?:NOT\s+(?:(?:NOT|OR)\s+)*(?:-?" + _QUOTED + r"\s*|" + _PLAIN + r")"
    r"|(?:NOT|OR)(?:\s+|$)"
    r"|-" + _QUOTED + r"\s*"
    r"|-[^\W\d_]\S*(?:\s+|$)"
    r'|["“”][^\w"“”]*(?:["“”]|$)\s*)'
)
NO_WORD_PATTERN = r"^\s*" + _NO_WORD + "*$"
_ASKS_NO_WORD = re.compile(NO_WORD_PATTERN)


def asks_no_word(query: str) -> bool:
    """Whether `query` has no word to search for (only operators and exclusions)."""
    return bool(_ASKS_NO_WORD.match(query))


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORDS.findall(fold(text)))


@dataclass(frozen=True)
class ParsedQuery:
    """A query's words for ranking, and the phrase groups and exclusions hits must
    honour (folded word sequences)."""

    text: str
    phrases: tuple[tuple[tuple[str, ...], ...], ...] = ()  # each group: any one of these
    excluded: tuple[tuple[str, ...], ...] = ()

    @property
    def constrains(self) -> bool:
        return bool(self.phrases or self.excluded)

    def admits(self, text: str) -> bool:
        """Whether a hit whose text is `text` honours the phrases and exclusions."""
        words = _words(text)
        joined = f" {' '.join(words)} "
        stems = {stem_word(w) for w in words}  # (a word is found by its stem, as ever)

        def has(seq: tuple[str, ...]) -> bool:
            if len(seq) == 1:
                return stem_word(seq[0]) in stems
            return f" {' '.join(seq)} " in joined

        return all(any(has(p) for p in group) for group in self.phrases) and not any(
            has(seq) for seq in self.excluded
        )


def parse_query(query: str) -> ParsedQuery:
    """Split what the user typed into ranking words, phrase groups and exclusions.
    Only upper-case OR and NOT are operators ("or" and "not" stay words)."""
    text: list[str] = []
    groups: list[list[tuple[str, ...]]] = []
    excluded: list[tuple[str, ...]] = []
    tokens = _TOKEN.findall(query)
    negate = joined = False
    for token in tokens:
        if token == "NOT":
            negate = True
            continue
        if token == "OR":
            joined = bool(groups)  # the next phrase joins the last group
            continue
        minus = token.startswith("-") and len(token) > 1 and bool(_LETTER_OR_QUOTE.match(token, 1))
        body = token[1:] if minus else token
        quoted = body[:1] in tuple(_QUOTES)
        words = _words(body.strip(_QUOTES)) if quoted else _words(body)
        if negate or minus:
            if words:
                excluded.append(words)
        elif quoted and not words:
            pass  # an empty phrase ("" or a lone quote) asks for nothing
        elif quoted:
            if joined and groups:
                groups[-1].append(words)
            else:
                groups.append([words])
            text.append(body.strip(_QUOTES))
        else:
            text.append(token)
        negate = joined = False
    return ParsedQuery(" ".join(text).strip(), tuple(tuple(g) for g in groups), tuple(excluded))
