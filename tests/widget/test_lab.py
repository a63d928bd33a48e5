"""alsats-lab, the main job: the local stack and JupyterLab, up together, down together."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

from backend.lightning.polar import free_ports

URL = re.compile(r"alsats: JupyterLab on nb\.ipynb: (http://127\.0\.0\.1:(\d+)/lab/tree/nb\.ipynb"
                 r"\?token=(\w+))")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


@pytest.mark.slow
def test_the_main_job_starts_the_stack_and_jupyterlab_and_stops_both(tmp_path: Path):
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
                   notebook)
    log = tmp_path / "lab.log"
    port = free_ports(1)[0]
    with log.open("w") as out:
        lab = subprocess.Popen(
            [sys.executable, "-m", "alsats_widget.lab", "--no-browser", "--port", str(port),
             "--data-dir", str(tmp_path / "stack"), "--notebook", str(notebook)],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        found = wait_for(lambda: URL.search(log.read_text()), "the URL to be printed")
        url, printed_port, token = found.groups()
        assert int(printed_port) == port
        status = wait_for(lambda: _get(f"http://127.0.0.1:{port}/api/status?token={token}"),
                          "JupyterLab to answer")
        assert status.status_code == 200
        assert _get(url).status_code == 200  # the printed link opens the notebook
        assert _get(f"http://127.0.0.1:{port}/api/status").status_code == 403  # no token
        stack = json.loads((tmp_path / "stack" / "stack.json").read_text())
        assert requests.get(stack["url"] + "/healthz", timeout=5).ok
    finally:
        lab.send_signal(signal.SIGTERM)
        assert lab.wait(60) == 0  # a clean stop: JupyterLab shut down, then the stack
    assert not alive(stack["pid"]), "the backend outlived the main job"
    assert _get(f"http://127.0.0.1:{port}/api/status?token={token}") is None
    assert not (tmp_path / "stack" / "stack.json").exists()


@pytest.mark.slow
def test_nothing_outlives_a_killed_main_job(tmp_path: Path):
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            [sys.executable, "-m", "alsats_widget.lab", "--no-browser", "--port",
             str(free_ports(1)[0]), "--data-dir", str(tmp_path / "stack"), "--notebook",
             str(notebook)], stdout=out, stderr=subprocess.STDOUT)
    try:
        port, token = wait_for(lambda: URL.search(log.read_text()), "the URL").groups()[1:]
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/api/status?token={token}"),
                 "JupyterLab to answer")
        children = psutil.Process(lab.pid).children(recursive=True)
        assert len(children) >= 2  # the backend and JupyterLab
    finally:
        lab.kill()  # kill -9: no cleanup of its own runs
        lab.wait()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"orphans of the main job: {alive}"


def test_a_missing_notebook_is_a_clear_error(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "alsats_widget.lab", "--notebook",
                           str(tmp_path / "none.ipynb"), "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no notebook at" in done.stderr
    assert not (tmp_path / "stack.json").exists()  # nothing was started


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
