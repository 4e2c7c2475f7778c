"""searchengine: semantic search, related stories and recommendations over news story clusters."""

from __future__ import annotations

from searchengine._version import __version__
from searchengine.core.contract import (
    Filters,
    Kind,
    Liked,
    Mode,
    RecommendRequest,
    RelatedRequest,
    Response,
    SearchRequest,
    Sentiment,
    SimilarRequest,
    Strategy,
    ThreadRequest,
)
from searchengine.core.documents import Article, Cluster, Field, Passage
from searchengine.core.hits import Hit
from searchengine.engine import Engine
from searchengine.errors import (
    BadRequest,
    IndexCorrupt,
    IndexNotFound,
    ModelMismatch,
    ModelUnavailable,
    ParseError,
    SearchEngineError,
    UnknownId,
)

__all__ = [
    "Article",
    "BadRequest",
    "Cluster",
    "Engine",
    "Field",
    "Filters",
    "Hit",
    "IndexCorrupt",
    "IndexNotFound",
    "Kind",
    "Liked",
    "Mode",
    "ModelMismatch",
    "ModelUnavailable",
    "ParseError",
    "Passage",
    "RecommendRequest",
    "RelatedRequest",
    "Response",
    "SearchEngineError",
    "SearchRequest",
    "Sentiment",
    "SimilarRequest",
    "Strategy",
    "ThreadRequest",
    "UnknownId",
    "__version__",
]
