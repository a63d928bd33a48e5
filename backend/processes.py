"""Several web processes (``--processes N``), or web processes whose learners live in a Ray
that outlives them (``--learners ray``): a supervisor sets up what they share, starts
them, and starts again any that dies.

The supervisor holds no socket and serves no request. It makes the root key and migrates
the ledger once (so the web processes never race to), starts the simnet in a process of
its own (with ``--simnet``) and a local Ray (with ``--learners ray``), then N web
processes that all bind the same port (SO_REUSEPORT: the kernel spreads the connections).
A web process killed (even with kill -9) is started again at once; what it held is in
the ledger and in Ray, so a session's calls go on in the others meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess
from pathlib import Path

from . import l402
from .config import Config, ssl_context

log = logging.getLogger("alsats.backend")
SIMNET_START_SECONDS = 60.0
RAY_START_SECONDS = 120.0
CRASH_LOOP = (5, 10.0)  # this many deaths, each this soon after its start: give up
POLL_SECONDS = 0.1


def serve_processes(config: Config) -> int:
    """Run until SIGTERM or SIGINT; 0 on a clean stop, 1 if a web process cannot start."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    l402.load_or_create_root_key(config.data_dir / "root.key")
    asyncio.run(_migrate(config))
    helpers: list[subprocess.Popen] = []  # stopped last, in reverse
    try:
        if config.simnet:
            helpers.append(_start_simnet(config))
        env = {}
        if config.learners == "ray":
            ray, env = _start_ray(config)
            helpers.append(ray)
        web = replace(config, simnet=False, processes=1,
                      lnd_data_dir=config.simnet_dir if config.simnet else config.lnd_data_dir)
        return Supervisor(web, config.processes, env).run()
    finally:
        for helper in reversed(helpers):
            helper.terminate()
            try:
                helper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                helper.kill()


async def _migrate(config: Config) -> None:
    from .ledger import open_ledger
    async with open_ledger(config.ledger_url):
        pass


def _start_simnet(config: Config) -> subprocess.Popen:
    """``alsats-simnet`` for the network's nodes, once it says it is ready."""
    from .lightning.simnet.cli import READY_LINE
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.lightning.simnet.cli", "--network",
         str(config.network_file), "--data-dir", str(config.simnet_dir), "--quiet"],
        stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + SIMNET_START_SECONDS
    for line in process.stdout:
        if line.strip() == READY_LINE:
            log.info("simnet ready (pid %d)", process.pid)
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("the simnet did not start; its errors are above")


def _start_ray(config: Config) -> tuple[subprocess.Popen, dict[str, str]]:
    """A local Ray head for the learners' actors (``ray start --block``: it stops, and
    takes its processes with it, when the supervisor stops it), logging to ray.log in
    the data dir; returns it and what a web process needs to find it."""
    from .lightning.polar import free_ports
    port = free_ports(1)[0]
    # Ray's token authentication, with a token of this run's: no other local user's
    # program can reach the cluster (RAY_AUTH_TOKEN, in the environment only)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_ADDRESS": f"127.0.0.1:{port}"}
    log_file = (config.data_dir / "ray.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         f"--port={port}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
         "--disable-usage-stats", f"--num-cpus={os.cpu_count() or 1}"],
        stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env})
    log_file.close()
    deadline = time.monotonic() + RAY_START_SECONDS
    address = env["RAY_ADDRESS"]
    while not _accepts(address):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Ray did not start; see {config.data_dir / 'ray.log'}")
        time.sleep(0.2)
    log.info("Ray started at %s for the learners (its log: ray.log)", address)
    return process, env


def _accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, int(port))) == 0


class Supervisor:
    """N web processes on one port, each started again when it dies."""

    def __init__(self, web: Config, count: int, env: dict[str, str]) -> None:
        self._web = web
        self._count = count
        self._env = env
        self._stopping = False
        self._context = multiprocessing.get_context("spawn")  # no threads or sockets inherited

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        os.environ.update(self._env)  # the spawned processes inherit it
        children = [self._start(i) for i in range(self._count)]
        deaths: list[float] = []
        while not self._stopping:
            time.sleep(POLL_SECONDS)
            for i, child in enumerate(children):
                if child.is_alive() or self._stopping:
                    continue
                log.warning("web process %d (pid %d) ended with %s; starting it again",
                            i, child.pid, child.exitcode)
                deaths = [t for t in deaths if time.monotonic() - t < CRASH_LOOP[1]]
                deaths.append(time.monotonic())
                if len(deaths) >= CRASH_LOOP[0]:
                    log.error("web processes keep dying at start; stopping")
                    self._stopping = True
                    break
                children[i] = self._start(i)
        failed = bool(deaths) and len(deaths) >= CRASH_LOOP[0]
        self._stop_all(children)
        return 1 if failed else 0

    def _start(self, index: int) -> BaseProcess:
        child = self._context.Process(target=serve_one, args=(self._web,),
                                      name=f"alsats-web-{index}", daemon=False)
        child.start()
        log.info("web process %d started (pid %d)", index, child.pid)
        return child

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _stop_all(self, children: list[BaseProcess]) -> None:
        """SIGTERM: each finishes its requests and closes cleanly; then SIGKILL."""
        for child in children:
            if child.is_alive():
                child.terminate()
        deadline = time.monotonic() + 35
        for child in children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                child.kill()
                child.join()


def serve_one(config: Config) -> None:
    """One web process (the supervisor's child): the app on the shared port."""
    from aiohttp import web
    from threadpoolctl import threadpool_limits

    from .app import create_app, server_options
    from .cli import JsonLogFormatter
    _die_with_parent()
    if config.learners != "local":  # a Ray driver prints its cluster's warnings to stdout
        _stdout_to(config.data_dir / "ray.log")
    threadpool_limits(limits=1)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    web.run_app(create_app(config), host=config.host, port=config.port, reuse_port=True,
                shutdown_timeout=30, ssl_context=ssl_context(config),
                print=lambda text: log.info(text.strip()), **server_options(config))


def _die_with_parent() -> None:
    """SIGTERM when the supervisor dies, even by kill -9 (Linux), so no web process is
    left serving without it."""
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stdout_to(path: Path) -> None:
    """This process's standard output (which nothing of alsats writes: its logs are
    stderr's) appended to ``path``, beside Ray's own log."""
    sys.stdout.flush()
    with path.open("ab") as file:
        os.dup2(file.fileno(), sys.stdout.fileno())
