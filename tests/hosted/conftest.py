"""A hosted alsats on this machine: ``alsats-backend --processes 3 --learners ray`` with a
PostgreSQL ledger (a real server) and the simnet in a process of its own, behind nginx
terminating TLS, for the tests that a session's calls may land on any web process, and
that one may die."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from alsats_widget import local_stack
from alsats_widget.stack import LocalStack
from tests.nginx import NginxProxy
from tests.tls import self_signed

PROCESSES = 3
START_SECONDS = 300  # Ray's start takes most of it on 2 cores


@dataclass
class Hosted:
    """The running service: its stack, the URL clients use (nginx's), its ledger and
    processes, and nginx's certificate (which the clients trust)."""

    stack: LocalStack
    ledger_url: str
    url: str
    cert: Path

    @property
    def supervisor(self) -> psutil.Process:
        return psutil.Process(self.stack.process.pid)

    def web_processes(self) -> list[psutil.Process]:
        """The web processes alive now (the supervisor's spawned children; one killed is
        a zombie until the supervisor reaps it)."""
        alive = []
        for child in self.supervisor.children():
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE \
                        and "spawn_main" in " ".join(child.cmdline()):
                    alive.append(child)
        return alive

    def wait_for_web_processes(self, count: int = PROCESSES, timeout: float = 120) -> None:
        """Until ``count`` web processes each logged that they serve (one was started
        again after a kill: it takes a few seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            serving = self.serving_pids()
            alive = {p.pid for p in self.web_processes()}
            if len(alive & serving) >= count:
                return
            assert time.monotonic() < deadline, f"{len(alive & serving)} web processes serve"
            time.sleep(0.2)

    def serving_pids(self) -> set[int]:
        return {entry["pid"] for entry in self.log() if "Running on" in entry["message"]}

    def kill_web_process(self, index: int = 0) -> int:
        """kill -9 one web process; returns its pid."""
        victim = sorted(self.web_processes(), key=lambda p: p.pid)[index]
        os.kill(victim.pid, signal.SIGKILL)
        return victim.pid

    def log(self) -> list[dict]:
        """The service's JSON log lines so far (every process writes to the one file)."""
        text = (self.stack.data_dir / "backend.log").read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def pids_that_served(self, path: str) -> set[int]:
        """The web processes whose access log shows a call to ``path``."""
        pattern = re.compile(rf'"[A-Z]+ {re.escape(path)}[ ?]')
        return {entry["pid"] for entry in self.log()
                if entry["logger"] == "aiohttp.access" and pattern.search(entry["message"])}


@pytest.fixture(scope="module")
def hosted(postgres_server, tmp_path_factory) -> Iterator[Hosted]:
    ledger_url = postgres_server.new_database(f"hosted_{next(_services)}")
    args = ("--processes", str(PROCESSES), "--learners", "ray", "--ledger", ledger_url)
    folder = tmp_path_factory.mktemp("hosted")
    (folder / "tls").mkdir()
    cert, key = self_signed(folder / "tls")
    with local_stack(folder / "stack", reuse=False, price_msat=10, timeout=START_SECONDS,
                     backend_args=args) as stack, \
            NginxProxy([stack.url.removeprefix("http://")], folder / "nginx", cert, key) as proxy, \
            _trusting(cert):
        service = Hosted(stack, ledger_url, proxy.url, cert)
        service.wait_for_web_processes()
        yield service


_services = itertools.count()


@contextlib.contextmanager
def _trusting(cert: Path) -> Iterator[None]:
    """requests (the widget's client) trusts nginx's certificate meanwhile."""
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    try:
        yield
    finally:
        if before is None:
            del os.environ["REQUESTS_CA_BUNDLE"]
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = before
