"""A Jupyter server in a subprocess for the browser tests.

It serves a temp dir with a token, never reaches the network (no news, no update check,
no extension manager asking PyPI), keeps away from the developer's own Jupyter settings,
kernels and workspaces, and leaves nothing running when it stops: its kernels, and the
local stacks they started, go with it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from alsats_widget.stack import die_with_parent
from backend.lightning.polar import free_ports

START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


class JupyterServer:
    """``jupyter lab`` serving ``root``; the kernels it starts inherit ``env``."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]) -> None:
        self.root = root
        self.home = home  # Jupyter's config, data and runtime dirs, and the server's log
        self.token = secrets.token_hex(16)
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyter.log"
        self._env = env
        self.process: subprocess.Popen | None = None

    def page(self, path: str) -> str:
        """The URL of a page of the server, logged in by the token."""
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"

    def start(self) -> None:
        self.launch()
        self.wait_started()

    def launch(self) -> None:
        """Start the server's process without waiting for it to answer, so a test can do
        other work meanwhile (from a thread that lives on: the process dies with the
        thread that started it)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self._command(), env=self._environment(), cwd=self.root, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter lab did not start; its log ends:\n{self.log_tail()}")
            time.sleep(0.2)

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterlab", "--no-browser",
                f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={self.token}",
                f"--ServerApp.root_dir={self.root}", "--ServerApp.open_browser=False",
                "--ServerApp.allow_root=True", "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]

    def _environment(self) -> dict[str, str]:
        """The given env, with Jupyter's and IPython's own dirs in ``home``: the developer's
        kernels (a "python3" of another Python), settings and workspaces stay out."""
        env = dict(os.environ, **self._env)
        env.pop("ALSATS_AUTOPILOT", None)  # set by notebooks/conftest.py; a person drives here
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                          ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                          ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces")):
            env[name] = str(self.home / sub)
        return env

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.page("api/status"), timeout=2) as response:
                return response.status == 200 and "started" in json.load(response)
        except OSError:
            return False

    def stop(self) -> None:
        """Shut the server down (it shuts its kernels down), then end whatever of its
        process tree is still running: a kernel that hung, a backend it started."""
        if self.process is None:
            return
        tree = _descendants(self.process.pid)
        self._shut_down()
        _end(tree)

    def _shut_down(self) -> None:
        request = urllib.request.Request(self.page("api/shutdown"), method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _end(processes: list[psutil.Process]) -> None:
    """Give each process STOP_TIMEOUT seconds to finish on its own, then kill it."""
    _, alive = psutil.wait_procs(processes, timeout=STOP_TIMEOUT)
    for process in alive:
        process.kill()
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT)

