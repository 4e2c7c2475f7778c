"""Typed settings, resolved once at call time: argument beats environment beats default."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from searchengine.encoders.encoder import DEFAULT_MODEL
from searchengine.environment import environment

DEFAULT_INDEX = Path("indexes/default")


@dataclass(frozen=True)
class Settings:
    """Where the index lives and which model builds it."""

    index: Path | str  # a folder, or a Milvus URI (backend.py)
    model: str | None  # None: whatever the index was built with (or the default for a new one)

    @classmethod
    def resolve(cls, index: str | Path | None = None, model: str | None = None) -> Settings:
        from searchengine.backends.index import location

        env = environment()
        return cls(
            index=location(index or env.index or DEFAULT_INDEX), model=model or env.model or None
        )

    @property
    def model_or_default(self) -> str:
        return self.model or DEFAULT_MODEL
