"""A local stack in one call: alsats-backend with its simnet in a subprocess, for demos.

``local_stack()`` copies the network file with free ports into its data dir, starts
``alsats-backend --simnet`` there, waits for /healthz and hands back what a notebook
needs: the server's URL, wallets for bob and carol, and clients. The backend stops when
the stack is stopped, when Python exits (atexit), and — on Linux — when this process
dies in any way (the child asks the kernel for SIGTERM on its parent's death), so no
orphan is left behind. ``reuse=True`` (the default) attaches to a stack already running
on the same data dir instead of starting another.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from importlib.resources import as_file
from pathlib import Path

from backend.lightning.polar import copy_with_free_ports, free_ports

from . import resources
from .client import AlsatsClient
from .wallet import LightningWallet

DEFAULT_DATA_DIR = Path.home() / ".alsats" / "stack"
ENV_VAR = "ALSATS_STACK_DIR"  # the default data dir, if set (the main job sets it)
PR_SET_PDEATHSIG = 1  # prctl: a signal for this process when its parent dies
START_ATTEMPTS = 3  # a backend that exits before it serves is started again


class StackError(RuntimeError):
    """The local stack could not start; the message carries the backend's last words."""


class LocalStack:
    def __init__(self, url: str, data_dir: Path, network_file: Path,
                 process: subprocess.Popen | None, price_msat: int | None = None,
                 backend_args: tuple[str, ...] = ()) -> None:
        self.url = url
        self.backend_args = backend_args
        self.data_dir = data_dir
        self.network_file = network_file
        self.process = process  # None when attached to a stack someone else started
        self.price_msat = price_msat
        self._wallets: dict[str, LightningWallet] = {}

    def wallet(self, name: str = "bob") -> LightningWallet:
        """The wallet of a client node of the network (bob or carol)."""
        if name not in self._wallets:
            self._wallets[name] = LightningWallet.from_polar(
                self.network_file, name, self.data_dir / "backend" / "simnet")
        return self._wallets[name]

    def client(self, wallet: str = "bob", **options) -> AlsatsClient:
        """A client of the backend paying with ``wallet``; options as AlsatsClient's."""
        return AlsatsClient(self.url, self.wallet(wallet), **options)

    def restart(self, timeout: float = 60.0) -> None:
        """Start the backend again (stopping it first if it runs), say after a crash: the
        same data dir, URL and Lightning ports, so wallets and clients carry on."""
        if self.process is None:
            raise StackError("this stack was started by another process: restart it there")
        self._end_process()
        self.process = _start_backend(self.network_file, self.url, self.data_dir,
                                      self.price_msat, self.backend_args)
        if not _wait_healthy(self.url, self.process, timeout):
            self._end_process()
            raise StackError(f"the local backend did not start again; {_log_tail(self)}")

    def _end_process(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        for wallet in self._wallets.values():
            wallet.close()
        self._wallets.clear()
        if self.process is not None:
            self._end_process()
            (self.data_dir / "stack.json").unlink(missing_ok=True)

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        owner = "started here" if self.process is not None else "attached"
        return f"LocalStack({self.url}, {owner})"


def local_stack(data_dir: str | Path | None = None, *, price_msat: int = 1000,
                reuse: bool = True, network_file: str | Path | None = None,
                timeout: float = 60.0, backend_args: Sequence[str] = ()) -> LocalStack:
    """Start (or, with ``reuse``, attach to) a backend with its simnet on free ports.

    ``data_dir``: given, else $ALSATS_STACK_DIR, else ~/.alsats/stack. ``network_file``:
    a Polar-format network with an alice to serve, else the seed's (alice, bob, carol).
    ``backend_args``: more of ``alsats-backend``'s flags (say ``--processes 3``)."""
    data_dir = Path(data_dir or os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR)
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    state_file = data_dir / "stack.json"
    if reuse and state_file.exists():
        state = json.loads(state_file.read_text())
        if _healthy(state["url"]):
            return LocalStack(state["url"], data_dir, Path(state["network_file"]), None)
    for attempt in range(1, START_ATTEMPTS + 1):
        source_file = Path(network_file) if network_file else resources.NETWORK_FILE
        with as_file(source_file) as source:  # a real file, even from a zipped install
            network = copy_with_free_ports(source, data_dir / "network.json")
        url = f"http://127.0.0.1:{free_ports(1)[0]}"
        process = _start_backend(network, url, data_dir, price_msat, tuple(backend_args))
        stack = LocalStack(url, data_dir, network, process, price_msat, tuple(backend_args))
        atexit.register(stack.stop)
        if _wait_healthy(url, process, timeout):
            break
        exited = process.poll() is not None
        stack.stop()
        # A port taken meanwhile, or a child lost between fork and exec (gRPC's threads
        # in this process make that possible): start afresh; a timeout is final.
        if not exited or attempt == START_ATTEMPTS:
            raise StackError(f"the local backend did not start; {_log_tail(stack)}")
    state_file.write_text(json.dumps({"url": url, "pid": process.pid,
                                      "network_file": str(network)}))
    return stack


def _start_backend(network: Path, url: str, data_dir: Path, price_msat: int,
                   backend_args: tuple[str, ...] = ()) -> subprocess.Popen:
    with (data_dir / "backend.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "--network", str(network), "--node",
             "alice", "--simnet", "--data-dir", str(data_dir / "backend"), "--port",
             url.rsplit(":", 1)[1], "--price-msat", str(price_msat), *backend_args],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_backend_child,
        )


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> bool:
    """Wait until the backend answers /healthz; False if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not _healthy(url) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return _healthy(url)


def _log_tail(stack: LocalStack) -> str:
    tail = (stack.data_dir / "backend.log").read_text(errors="replace")[-2000:]
    return f"its log ends:\n{tail}"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def die_with_parent() -> None:
    """In a child, before exec (``preexec_fn``): SIGTERM when its parent dies, even by
    kill -9 (Linux; else a no-op), so nothing is left running."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _backend_child() -> None:
    """The backend's preexec: it dies with its parent, and Ctrl-C in a terminal goes to
    the parent only, which stops the backend cleanly."""
    die_with_parent()
    os.setpgrp()
