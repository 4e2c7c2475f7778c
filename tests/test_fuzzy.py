"""Unknown query words matched to the index's own words: cognates across languages
and typos (`Afeganistão` found a Wegovy story; `--mode lexical` found nothing)."""

from __future__ import annotations

import pytest

from searchengine import Engine
from searchengine.core.contract import Mode, SearchRequest
from searchengine.core.fuzzy import FuzzyParams, Vocabulary, expansions
from searchengine.query.search import QueryWords, dense_text

AFGHAN = {"2025-11-04-c2", "2025-11-06-c7", "2025-11-09-c4"}  # the quake family


def test_cognates_and_typos_find_their_word() -> None:
    vocabulary = Vocabulary(
        ["afghanistan", "humanitarian", "liverpool", "earthquak", "pakistan", "japanes"]
    )
    found = expansions(["afeganistão", "afganistán", "humanitária", "liverpol"], vocabulary)
    assert found == {
        "afeganistão": ["afghanistan"],
        "afganistán": ["afghanistan"],
        "humanitária": ["humanitarian"],
        "liverpol": ["liverpool"],
    }


def test_unrelated_and_short_words_find_nothing() -> None:
    vocabulary = Vocabulary(["earthquak", "jan", "span", "election"])
    assert expansions(["terremoto", "japan", "snap"], vocabulary) == {}
    assert expansions(["terremoto"], Vocabulary([])) == {}
    strict = FuzzyParams(min_ratio=99.0)
    assert expansions(["afeganistao"], Vocabulary(["afghanistan"]), strict) == {}


def test_candidates_are_the_words_whose_length_allows_the_floor() -> None:
    vocabulary = Vocabulary(["ab", "abcd", "abcdefgh", "abcdefghijklmnop", "zzzzzzzz"])
    # ratio >= 80 needs the shorter word at least 2/3 of the longer: 6..12 letters for 8.
    assert vocabulary.candidates("abcdefgx", 80.0) == ["abcdefgh"]
    assert len(vocabulary) == 5


def test_the_encoder_reads_the_found_words_after_the_query() -> None:
    found = QueryWords(["afeganistão"], {"afeganistão": ["afghanistan"]})
    assert dense_text("Afeganistão", found) == "Afeganistão (afghanistan)"
    assert dense_text("plain words", QueryWords()) == "plain words"


@pytest.mark.parametrize("query", ["Afeganistão", "Afganistán", "terremoto no Afeganistão"])
@pytest.mark.parametrize("memory", [False, True], ids=["sqlite", "memory"])
def test_lexical_search_finds_a_cognate(seeded: Engine, query: str, memory: bool) -> None:
    if memory:
        seeded.serve_mode(wait=True)
    hits = seeded.search(SearchRequest(query, k=3, mode=Mode.LEXICAL))
    assert {h.id for h in hits} == AFGHAN
    highlighted = [p.text[a:b] for h in hits for p in h.passages for a, b in p.highlights]
    assert any(word.lower().startswith("afghan") for word in highlighted)


def test_a_typo_is_found_in_every_mode(seeded: Engine) -> None:
    for mode in Mode:
        hits = seeded.search(SearchRequest("Liverpol", k=3, mode=mode))
        assert hits[0].id == "2025-11-27-c6", mode


def test_known_words_are_not_expanded(seeded: Engine) -> None:
    with seeded.folder.reading():
        assert seeded.queries.searcher().query_words("Venezuela prisoner releases").found == {}
