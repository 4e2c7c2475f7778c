"""Shared fixtures: a fast deterministic encoder, temporary index folders, the dev corpus."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchengine import Engine
from searchengine.encoders.encoder import HashingEncoder

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


# The engine's behavioural tests in these modules run against both backends: the
# embedded folder and a real Milvus server (milvus-lite, its own process). A test
# about the folder's own files is marked `embedded_only`.
BOTH_BACKENDS = {
    "test_engine",
    "test_related",
    "test_api",
    "test_news_ordering",
    "test_news_views",
    "test_alerts",
    "test_filters",
}
_prefixes = itertools.count(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rpartition(".")[2]
    if module in BOTH_BACKENDS and not metafunc.definition.get_closest_marker("embedded_only"):
        metafunc.parametrize("backend", ["embedded", "milvus"])


@pytest.fixture
def backend() -> str:
    """Which backend a test's index lives in (see `pytest_generate_tests`)."""
    return "embedded"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_milvus(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A milvus-lite server on a free loopback port, as its own process; returns it
    and its address once it accepts connections."""
    exe = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or "milvus-lite"
    port = free_port()
    proc = subprocess.Popen(
        [exe, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("milvus-lite server did not start within 60 s")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One milvus-lite server for the session: `milvus://127.0.0.1:PORT`."""
    proc, address = start_milvus(tmp_path_factory.mktemp("milvus"))
    try:
        yield f"milvus://{address}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def index_dir(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[Path | str]:
    """Where a test's index lives: a folder, or a fresh prefix on the Milvus server
    (its collections dropped after the test)."""
    if backend != "milvus":
        yield tmp_path / "index"
        return
    uri = f"{request.getfixturevalue('milvus_server')}/t{os.getpid()}_{next(_prefixes)}"
    yield uri
    drop_milvus_prefix(uri)


def drop_milvus_prefix(uri: str) -> None:
    """Drop a test's collections. Once, under load, milvus-lite refused the teardown's
    new connection (a GOAWAY "too_many_pings" had just closed the process's shared gRPC
    channel): a second try a moment later connects."""
    from searchengine.backends.index import remove_index
    from searchengine.errors import BackendUnavailable

    for attempt in range(3):
        try:
            remove_index(uri)
            return
        except BackendUnavailable:
            if attempt == 2:
                raise
            time.sleep(1.0)


@pytest.fixture
def engine(index_dir: Path, encoder: HashingEncoder) -> Iterator[Engine]:
    eng = Engine.open(index_dir, encoder=encoder, create=True)
    yield eng
    eng.close()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """An engine holding the whole seeds/ folder (the seed digest and the 40-cluster dev corpus)."""
    run = engine.add_paths([SEEDS])
    assert not run.errors
    return engine


# The real model's vectors in both precisions an index can hold. int8 kernels round
# differently from one CPU to the next (AVX2, AVX-512 VNNI), fp32 hardly at all: a
# judgement that holds for both holds on any CPU, one that sits at an edge shows here.
PRECISIONS = ["int8", "fp32"]


@pytest.fixture(scope="session", params=PRECISIONS)
def precision(request: pytest.FixtureRequest) -> str:
    """The vectors' precision of the real-model indexes (every real-model test runs twice)."""
    return str(request.param)


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory, precision: str) -> Engine:
    """seeds/ indexed once per test session and precision with the real bundled model."""
    from searchengine.encoders.encoder import DEFAULT_MODEL, load_encoder

    engine = Engine.open(
        tmp_path_factory.mktemp(f"real-{precision}") / "idx",
        encoder=load_encoder(DEFAULT_MODEL, precision=precision),
        create=True,
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
