"""Shared fixtures: a simnet on free ports in a temp dir, adapters to its nodes, and a
throwaway PostgreSQL server with an empty database per test."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.lightning import LightningNode, load_polar_network
from backend.lightning.polar import copy_with_free_ports
from backend.lightning.simnet import Simnet
from tests.postgres import PostgresServer
from tests.robustness import (  # noqa: F401 - the robustness table's hooks and fixture
    pytest_addoption,
    pytest_runtest_logreport,
    pytest_terminal_summary,
    robustness,
)

REPO = Path(__file__).resolve().parent.parent
NETWORK_FILE = REPO / "polar-network.json"


class FakeClock:
    """An injectable clock, so invoice expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def network_file(tmp_path: Path) -> Path:
    return copy_with_free_ports(NETWORK_FILE, tmp_path / "network.json")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def simnet(network_file: Path, data_dir: Path, clock: FakeClock):
    async with Simnet(load_polar_network(network_file, data_dir), data_dir, clock=clock) as sim:
        yield sim


@pytest.fixture
async def nodes(simnet: Simnet, network_file: Path, data_dir: Path):
    """Admin adapters to alice, bob and carol, over real gRPC+TLS."""
    opened = {name: LightningNode.from_polar(network_file, name, data_dir)
              for name in ("alice", "bob", "carol")}
    yield opened
    for node in opened.values():
        await node.close()


_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (initdb takes seconds; a database takes little).

    As root the server runs as the ``postgres`` user, which cannot reach pytest's 0700 temp
    folders, so PostgresServer makes its own folder under /tmp then."""
    folder = None if os.geteuid() == 0 else tmp_path_factory.mktemp("postgres")
    with PostgresServer(folder) as server:
        yield server


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database (t_<n>): no test sees another's rows."""
    return postgres_server.new_database(f"t_{next(_databases)}")
