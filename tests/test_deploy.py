"""The deployment files (deploy/: Milvus standalone and two servers behind nginx) read
as what the program is: no Docker runs on this project's machines, so the compose
file's commands are parsed by the CLI itself, its Milvus address by the backend's own
parser, and nginx's upstreams are checked against the services that serve. A renamed
option or command fails here, not on a deployer's machine."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from searchengine.backends.milvus.folder import MilvusLocation
from searchengine.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return dict(compose["services"])


def parsed(argv: list[str]) -> click.Context:
    """`argv` (after `searchengine`) parsed by the CLI, as it would be run: options
    checked, nothing invoked."""
    group = click.Context(cli, info_name="searchengine")
    name, command, rest = cli.resolve_command(group, list(argv[1:]))
    assert command is not None and name is not None, argv
    return command.make_context(name, rest, parent=group)


def test_the_compose_file_runs_milvus_an_indexer_and_two_servers_behind_nginx(
    services: dict[str, Any],
) -> None:
    assert {"etcd", "minio", "milvus", "indexer", "api1", "api2", "lb"} <= set(services)
    assert services["milvus"]["image"].startswith("milvusdb/milvus:v2.6")  # BM25 needs >= 2.5
    for name in ("api1", "api2"):
        assert services[name]["depends_on"]["indexer"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_searchengine_command_in_it_is_one_the_cli_takes(services: dict[str, Any]) -> None:
    commands = {
        n: s["command"] for n, s in services.items() if s.get("image") == "searchengine:local"
    }
    assert set(commands) == {"indexer", "api1", "api2"}
    for name, argv in commands.items():
        assert argv[0] == "searchengine", name
        ctx = parsed(argv)
        location = MilvusLocation.parse(ctx.params["index"])
        assert location.endpoint.endswith("milvus:19530") and location.prefix == "news", name
        if ctx.command.name == "serve":
            assert ctx.params["host"] == "0.0.0.0" and ctx.params["port"] == 8000


def test_nginx_sends_to_the_servers_the_compose_file_starts(services: dict[str, Any]) -> None:
    upstreams = re.findall(r"^\s*server (\w+):(\d+)", (DEPLOY / "nginx.conf").read_text(), re.M)
    served = {
        (n, str(parsed(s["command"]).params["port"]))
        for n, s in services.items()
        if n.startswith("api")
    }
    assert set(upstreams) == served
    mounted = services["lb"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == DEPLOY / "nginx.conf"


def test_the_image_copies_what_exists_and_pins_torch_as_the_makefile_does() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    pins = set(re.findall(r"torch==([\d.]+)", dockerfile))
    assert pins and pins == set(re.findall(r"torch==([\d.]+)", (ROOT / "Makefile").read_text()))
    (warm,) = [line for line in dockerfile.splitlines() if "searchengine index" in line]
    argv = shlex.split(warm.removeprefix("RUN ").split("&&")[0])
    assert parsed(argv).params["index"] == "/tmp/warm"
    assert (ROOT / "seeds").is_dir() and (DEPLOY / ".env.example").exists()
