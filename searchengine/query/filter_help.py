"""Filters that forgive what people type, and empty answers that say which filter
emptied them.

A newcomer's `--source bbc` found nothing (the index knows `bbc.com` and
`bbc.co.uk`), `entity "Maduro"` said no story names Maduro though "Nicolás
Maduro" has a page, and an answer a filter had emptied said only "no results".
Here a bare outlet name widens to the outlets it names, an entity name finds the
longer names that contain it, and an empty answer under filters is checked one
filter at a time: the note names the one that matches nothing, with the nearest
names the index does have.

Asked of every backend through `FilterData`; the scans it makes (the outlets and
entities with their counts) run only for a bare outlet name, an entity page not
found as typed, or an answer that came back empty.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Protocol

from searchengine.backends.storage import Facets
from searchengine.core.contract import Filters, Request, Response
from searchengine.core.documents import fold
from searchengine.core.filters import host_key


@dataclass(frozen=True)
class FilterHelpParams:
    """How many names a "did you mean" offers, and how close they must be: difflib's
    own default cut-off (0.6), which offers `bbc.com` for `bbc.cm` and `reuters.com`
    for `reuter.com` but nothing for an unrelated word."""

    suggestions: int = 3
    closeness: float = 0.6


class FilterData(Protocol):
    """What the help reads of an index (both backends' record stores have it)."""

    def allowed_cluster_ids(self, filters: Filters) -> list[str]: ...
    def source_frequencies(self) -> dict[str, int]: ...
    def all_entity_frequencies(self) -> dict[str, int]: ...
    def date_range(self) -> tuple[str | None, str | None]: ...
    def facet_counts(self, ids: Sequence[str], entities: int) -> Facets: ...


def is_bare(source: str) -> bool:
    """An outlet named without its domain (`bbc`, `Reuters`)."""
    return "." not in host_key(source)


def expand_sources(filters: Filters, data: FilterData) -> Filters:
    """A bare outlet name -> every outlet of the index whose registered domain starts
    with it (`bbc` -> bbc.co.uk, bbc.com); a name that names none is kept as typed
    (and an empty answer's note then says so)."""
    if not any(is_bare(s) for s in filters.sources):
        return filters
    known = data.source_frequencies()
    wide: list[str] = []
    for source in filters.sources:
        key = host_key(source)
        named = sorted(h for h in known if h.split(".", 1)[0] == key) if is_bare(source) else []
        wide.extend(named or [source])
    return replace(filters, sources=tuple(dict.fromkeys(wide)))


def entity_matches(name: str, frequencies: Mapping[str, int]) -> list[str]:
    """The entity keys that hold every word of `name` (accent- and case-insensitive;
    a word of 4 letters or more may be the start of one), most widely named first:
    "Maduro" -> "nicolas maduro", "maduro government"; "Madur" -> "nicolas maduro"."""
    words = fold(name).split()
    if not words:
        return []

    def holds(word: str, key_words: list[str]) -> bool:
        return any(k == word or (len(word) >= 4 and k.startswith(word)) for k in key_words)

    found = [k for k in frequencies if all(holds(w, k.split()) for w in words)]
    return sorted(found, key=lambda k: (-frequencies[k], k))


def _near(word: str, names: Mapping[str, int], params: FilterHelpParams) -> list[str]:
    return difflib.get_close_matches(
        word, list(names), n=params.suggestions, cutoff=params.closeness
    )


def spelling(key: str, data: FilterData) -> str:
    """How the stories write an entity key ("nicolas maduro" -> "Nicolás Maduro"):
    read from a few of the clusters that name it."""
    ids = data.allowed_cluster_ids(Filters(entities=(key,)))[:3]
    for facet in data.facet_counts(ids, 1000).get("entities", []):
        if fold(str(facet["value"])) == key:
            return str(facet["value"])
    return key


def did_you_mean(names: list[str]) -> str:
    """`; did you mean 'a' or 'b'?` -- or nothing, for no names."""
    return f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""


def entities_near(
    name: str,
    frequencies: Mapping[str, int],
    data: FilterData,
    params: FilterHelpParams | None = None,
) -> list[str]:
    """The entities to offer for a name no story has, as the stories spell them: the
    longer names holding its words, else the closest spellings."""
    params = params or FilterHelpParams()
    near = entity_matches(name, frequencies) or _near(fold(name), frequencies, params)
    return [spelling(k, data) for k in near[: params.suggestions]]


def helped(
    request: Request,
    answer: Callable[[Request], Response],
    data: FilterData,
    reading: Callable[[], AbstractContextManager[object]],
) -> Response:
    """`answer(request)` with a bare outlet name in its filters widened first, and
    notes on which filter emptied it when it came back empty."""
    filters = getattr(request, "filters", None)
    if filters is not None and filters.sources:
        with reading():
            request = replace(request, filters=expand_sources(filters, data))  # type: ignore[arg-type]
    response = answer(request)
    if filters and not response.results:
        with reading():
            response.notes.extend(empty_notes(getattr(request, "filters", filters), data))
    return response


def empty_notes(
    filters: Filters, data: FilterData, params: FilterHelpParams | None = None
) -> list[str]:
    """Why an answer under `filters` is empty: each filter that matches no story by
    itself, with the nearest names the index has; else that they match nothing
    together, or that stories pass them but none answered the question."""
    params = params or FilterHelpParams()
    notes: list[str] = []
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        notes.append(f"from ({filters.date_from}) is after to ({filters.date_to}): no day is both")
    elif filters.date_from or filters.date_to:
        dates = Filters(date_from=filters.date_from, date_to=filters.date_to)
        if not data.allowed_cluster_ids(dates):
            oldest, newest = data.date_range()
            span = " to ".join(filter(None, (filters.date_from, filters.date_to)))
            held = f"{oldest} to {newest}" if oldest else "no dated stories"
            notes.append(f"the dates filter ({span}) matches no story: the index holds {held}")
    if filters.sources and not data.allowed_cluster_ids(Filters(sources=filters.sources)):
        known = data.source_frequencies()
        near = [n for s in filters.sources for n in _near(host_key(s), known, params)]
        notes.append(
            f"the source filter ({', '.join(filters.sources)}) matches no story"
            + did_you_mean(list(dict.fromkeys(near))[: params.suggestions])
        )
    for entity in filters.entities:
        if not data.allowed_cluster_ids(Filters(entities=(entity,))):
            near = entities_near(entity, data.all_entity_frequencies(), data, params)
            notes.append(f"the entity filter {entity!r} matches no story" + did_you_mean(near))
    if filters.sentiment and not data.allowed_cluster_ids(Filters(sentiment=filters.sentiment)):
        notes.append(f"no story's prevailing sentiment is {filters.sentiment.value}")
    if notes:
        return notes
    passing = len(data.allowed_cluster_ids(replace(filters, articles_only=False)))
    if not passing:
        return ["each filter matches stories, but no story passes all of them together"]
    noun = "story passes" if passing == 1 else "stories pass"
    return [f"{passing} {noun} the filters; none of them matched the query"]
