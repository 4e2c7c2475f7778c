"""What an answer's envelope says about itself: the notes a reader needs to read the
results right (no strong match, the order is not plain relevance, a list was cut).

Kept apart from the engine so the wording lives in one place for the CLI, the API and
the page, and so a note can be tested without an index.
"""

from __future__ import annotations

from collections.abc import Sequence

from searchengine.core.contract import RecommendRequest, SearchRequest, Sort, ThreadRequest
from searchengine.core.hits import Hit
from searchengine.stories.related import RelatedStory


def search_notes(request: SearchRequest, hits: Sequence[Hit], cutoff: float) -> list[str]:
    """A search's notes, with one when no hit is a strong match (unless the request
    chose its own `min_relevance`). `cutoff`: the strong-match relevance."""
    notes: list[str] = []
    if request.min_relevance is None and hits and all(h.weak for h in hits):
        notes.append(
            f"no strong match: every result's relevance is under {cutoff:g}; "
            "these are the closest stories"
        )
    if request.half_life_days:
        anchor = request.fresh_from or "the newest story"
        notes.append(
            f"ordered by relevance x freshness (half-life {request.half_life_days:g} days, "
            f"counted back from {anchor}; undated stories count as the oldest); "
            "strong matches before weaker ones"
        )
    if request.sort is Sort.DATE:
        notes.append(
            f"strong matches (relevance {cutoff:g} or more) newest first, undated last; "
            "weaker matches after them"
        )
    if request.collapse:
        notes.append(
            "one result per story: hits that are the same story as a result above "
            "are listed under it (`more`)"
        )
    return notes


def thread_notes(request: ThreadRequest, cut: bool) -> list[str]:
    """A thread's note when its limit cut it short."""
    if not cut:
        return []
    return [f"cut at {request.limit} clusters: the story has more (ask a higher limit)"]


def recommend_notes(request: RecommendRequest, stories: Sequence[RelatedStory]) -> list[str]:
    """What the scores of a recommendation list mean, and why it is not in score order."""
    notes = [] if request.liked else ["no liked stories: ranked by how widely each was covered"]
    if request.half_life_days:
        notes.append(
            f"score = similarity x freshness (half-life {request.half_life_days:g} days, "
            "counted back from the newest story; undated stories count as the oldest)"
        )
    scores = [s.score for s in stories]
    if any(a < b for a, b in zip(scores, scores[1:], strict=False)):
        notes.append(
            f"ordered for diversity (MMR, diversity {request.diversity:g}): a story unlike "
            "those above it may come before a higher score"
        )
    return notes
