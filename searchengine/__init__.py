"""searchengine: semantic search, related stories and recommendations over news story clusters."""

from __future__ import annotations

from ._version import __version__
from .contract import (
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
from .documents import Article, Cluster, Field, Passage
from .engine import Engine
from .errors import (
    BadRequest,
    IndexCorrupt,
    IndexNotFound,
    ModelMismatch,
    ModelUnavailable,
    ParseError,
    SearchEngineError,
    UnknownId,
)
from .hits import Hit

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
