"""The README's commands, run as written, in order, from a clean folder: `make run` (its
index, example search and server; the install step is the one `make test` -- CI --
runs first), its "Use" block and its Python example with the real model, its Milvus
block against a real Milvus server (milvus-lite). A command the README shows that no
longer works fails here."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from searchengine.backends.embedded.files import MANIFEST

from .conftest import SEEDS, drop_milvus_prefix, free_port
from .test_cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
# Lines a test cannot run: a server that never returns, an install, a download.
NOT_RUN = ("serve", "pip install", "wget", "docker")


def blocks(language: str) -> list[str]:
    """The README's fenced blocks of one language, in order."""
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def commands(block: str) -> list[list[str]]:
    """A shell block's `.venv/bin/...` commands as argv lists (continuations joined,
    comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].startswith(".venv/bin/"):
            out.append(words)
    return out


def workdir(tmp_path: Path) -> Path:
    """A folder laid out as a clone is: seeds/ inside, the shared data beside it."""
    work = tmp_path / "main"
    work.mkdir()
    (work / "seeds").symlink_to(SEEDS)
    (tmp_path / "shared").symlink_to(SHARED)
    return work


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert argv[0] == ".venv/bin/searchengine", argv
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHENGINE_")}
    return cli(*argv[1:], cwd=cwd, env=env)


@pytest.mark.slow
@pytest.mark.skipif(
    not (Path(sys.executable).parent.parent / ".installed").exists(),
    reason="`make run` reuses the venv `make` installed (this one was installed otherwise)",
)
def test_make_run_indexes_seeds_shows_a_search_and_serves(tmp_path: Path) -> None:
    """The README's first command, as written but for where it indexes and listens
    (`INDEX=`, `PORT=`: the README's own `make run PORT=8080` form)."""
    index, port = tmp_path / "default", free_port()
    venv = Path(sys.executable).parent.parent
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "-C", str(ROOT), "run", f"VENV={venv}", f"INDEX={index}", f"PORT={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # (make, then the server it starts: stopped together)
        )
    try:
        answer = None
        deadline = time.monotonic() + 600
        while answer is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/search", params={"q": "Venezuela prisoners"}
                )
            except httpx.TransportError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, log.read_text()[-3000:]
        assert answer.json()["results"][0]["id"] == "2026-01-09-c10"
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "<form" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    said = log.read_text()
    assert "==> indexing seeds/" in said and "2026-01-09-c10" in said  # the example search
    assert (index / MANIFEST).exists()  # (an index, where INDEX= said)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared eval data is beside the clone")
def test_the_use_block_and_the_python_example_run_as_written(tmp_path: Path) -> None:
    work = workdir(tmp_path)
    (use,) = [b for b in blocks("sh") if "index seeds/ " in b and "milvus://" not in b]
    ran = 0
    for argv in commands(use):
        result = run(argv, work)
        assert result.returncode == 0, (argv, result.stdout[-2000:], result.stderr[-2000:])
        ran += 1
    assert ran >= 14
    assert (work / "indexes" / "default").is_dir()
    (example,) = blocks("python")
    script = work / "example.py"
    script.write_text(example + "\nprint(len(hits), len(envelope['results']))\n")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=work, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    hits, found = map(int, result.stdout.split())
    assert hits == 5 and found >= 1  # (lexical "Maduro": the block above removed one)


@pytest.mark.slow
def test_the_milvus_block_runs_as_written(tmp_path: Path, milvus_server: str) -> None:
    """`pip install 'searchengine[milvus]'` could not work (the package is not
    published) and the block used a bare `searchengine`; the commands now run as
    written, against the test's Milvus server in place of 127.0.0.1:19530."""
    work = workdir(tmp_path)
    assert run([".venv/bin/searchengine", "index", "seeds/", "-q"], work).returncode == 0
    (block,) = [b for b in blocks("sh") if "milvus://127.0.0.1:19530/news" in b and "copy" in b]
    assert ".venv/bin/pip install -e '.[milvus]'" in block
    prefix = f"{milvus_server}/readme{os.getpid()}"
    ran = 0
    try:
        ran = run_milvus_block(block, prefix, work)
    finally:
        for uri in (prefix, prefix + "2"):
            drop_milvus_prefix(uri)
    assert ran == 4
    assert (work / "indexes" / "back").is_dir()


def run_milvus_block(block: str, prefix: str, work: Path) -> int:
    ran = 0
    for argv in commands(block):
        if any(word in " ".join(argv) for word in NOT_RUN):
            continue
        argv = [w.replace("milvus://127.0.0.1:19530/news", prefix) for w in argv]
        result = run(argv, work)
        assert result.returncode == 0, (argv, result.stdout[-2000:], result.stderr[-2000:])
        ran += 1
    return ran
