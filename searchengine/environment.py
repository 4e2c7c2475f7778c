"""Every `SEARCHENGINE_*` environment variable the engine reads, typed, in one place.

Read when asked (`environment()`), not at import: a test, or a shell that exports a
variable between two commands, is seen. An argument always beats the environment,
which beats the default; the modules that take these settings say so where they use
them. A value of the wrong type is a clear error naming the variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from searchengine.errors import BadRequest


class Environment(BaseSettings):
    """The variables, by name without the `SEARCHENGINE_` prefix."""

    model_config = SettingsConfigDict(env_prefix="SEARCHENGINE_", extra="ignore", frozen=True)

    index: str | None = None  # the index (a folder or a Milvus URI) when --index is not given
    model: str | None = None  # the model for a new index when --model is not given
    api_key: str | None = None  # the key writes need (`serve`); none: writes disabled
    max_body: int | None = None  # the largest request body `serve` takes, in bytes
    runtime: str | None = None  # the encoder's runtime: onnx (default) or torch
    precision: str | None = None  # the ONNX model's precision: int8 (default) or fp32
    encoder_threads: int | None = None  # ONNX Runtime's intra-op threads (default: its own)
    cache: Path | None = None  # where exported models live (else $XDG_CACHE_HOME/searchengine)
    milvus_token: str | None = None  # a Milvus server's token ("user:password")
    # Hosts and networks webhooks may reach though they are not public, comma-separated
    # ("127.0.0.1,10.0.0.0/8,hooks.intranet"): intranet receivers (news/webhooks.py).
    webhook_allow: str | None = None
    alert_retention_days: float | None = None  # alerts kept this long (default 90 days)


def environment() -> Environment:
    """The variables as they are now."""
    try:
        return Environment()
    except ValidationError as err:
        problems = "; ".join(
            f"SEARCHENGINE_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors()
        )
        raise BadRequest(f"bad environment variable: {problems}") from None
