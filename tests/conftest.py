"""Shared fixtures: a fast deterministic encoder, temporary index folders, the dev corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from searchengine import Engine
from searchengine.encoder import HashingEncoder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_EVAL = ROOT.parent / "shared" / "eval"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's index or model settings, or writes outside tmp_path."""
    monkeypatch.delenv("SEARCHENGINE_INDEX", raising=False)
    monkeypatch.delenv("SEARCHENGINE_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder(128)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def engine(index_dir: Path, encoder: HashingEncoder) -> Engine:
    eng = Engine.open(index_dir, encoder=encoder, create=True)
    yield eng
    eng.close()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """An engine holding the whole seeds/ folder (the seed digest and the 40-cluster dev corpus)."""
    run = engine.add_paths([SEEDS])
    assert not run.errors
    return engine


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """seeds/ indexed once per test session with the real bundled model."""
    from searchengine.encoder import DEFAULT_MODEL, load_encoder

    engine = Engine.open(
        tmp_path_factory.mktemp("real") / "idx", encoder=load_encoder(DEFAULT_MODEL), create=True
    )
    run = engine.add_paths([SEEDS])
    assert not run.errors and run.report.passages_encoded > 300
    return engine


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The ONNX export of the real model is cached outside any one test (it takes
    # ~15 s), but never in the user's own cache.
    import tempfile

    os.environ.setdefault(
        "SEARCHENGINE_CACHE", os.path.join(tempfile.gettempdir(), "searchengine-test-cache")
    )
