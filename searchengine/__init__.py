"""searchengine: semantic search, related stories and recommendations over news story clusters."""

from __future__ import annotations

__version__ = "0.1.0"

from .documents import Article, Cluster, Field, Passage  # noqa: E402
from .engine import Engine  # noqa: E402
from .errors import BadRequest, IndexCorrupt, IndexNotFound, ModelMismatch, UnknownId  # noqa: E402
from .parse import ParseError  # noqa: E402
from .search import Hit, Kind, Mode  # noqa: E402
from .store import Filters  # noqa: E402

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
    "Mode",
    "ModelMismatch",
    "ParseError",
    "Passage",
    "UnknownId",
    "__version__",
]
