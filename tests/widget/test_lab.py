"""alsats-lab, the main job: the notebooks copied into a working folder, the local stack
and JupyterLab, up together, down together."""

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

from alsats_widget import resources
from alsats_widget.lab import copy_notebooks
from backend.lightning.polar import free_ports

URL = re.compile(r"alsats: JupyterLab on (\S+\.ipynb) in .*: (http://127\.0\.0\.1:(\d+)/lab/tree/"
                 r"\S+\.ipynb\?token=(\w+))")


def shipped() -> dict[str, bytes]:
    return {name: notebook.read_bytes() for name, notebook in resources.notebooks().items()}


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
             "--data-dir", str(tmp_path / "stack"), "--notebook", str(notebook),
             "--workdir", str(tmp_path / "work")],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        found = wait_for(lambda: URL.search(log.read_text()), "the URL to be printed")
        name, url, printed_port, token = found.groups()
        assert name == "nb.ipynb"
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
             str(notebook), "--workdir", str(tmp_path / "work")],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        port, token = wait_for(lambda: URL.search(log.read_text()), "the URL").groups()[2:]
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
                           "none.ipynb", "--data-dir", str(tmp_path),
                           "--workdir", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"no notebook at {tmp_path / 'work' / 'none.ipynb'}" in done.stderr
    assert not (tmp_path / "stack.json").exists()  # nothing was started


def test_the_notebooks_are_copied_once_and_the_users_edits_are_kept(tmp_path: Path):
    work, notebooks = tmp_path / "work", shipped()
    assert copy_notebooks(work) == sorted(notebooks) and "demo.ipynb" in notebooks
    assert {p.name: p.read_bytes() for p in work.iterdir()} == notebooks
    (work / "demo.ipynb").write_text("my edits")
    (work / "tutorial_api.ipynb").unlink()
    assert copy_notebooks(work) == ["tutorial_api.ipynb"]  # only what is missing
    assert (work / "demo.ipynb").read_text() == "my edits"
    assert (work / "tutorial_api.ipynb").read_bytes() == notebooks["tutorial_api.ipynb"]


def test_a_workdir_that_cannot_be_made_is_a_clear_error(tmp_path: Path):
    (tmp_path / "file").write_text("")
    done = subprocess.run([sys.executable, "-m", "alsats_widget.lab", "--workdir",
                           str(tmp_path / "file" / "work"), "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "cannot copy the notebooks into" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_main_job_opens_its_own_copy_of_the_demo_and_leaves_the_shipped_one_alone(
        tmp_path: Path):
    """From an empty folder, as a new user starts it: the copy is what JupyterLab serves,
    what the kernel saves goes there, and the package's notebooks stay as shipped."""
    work, log, notebooks = tmp_path / "work", tmp_path / "lab.log", shipped()
    with log.open("w") as out:
        lab = subprocess.Popen(
            [sys.executable, "-m", "alsats_widget.lab", "--no-browser", "--port",
             str(free_ports(1)[0]), "--data-dir", str(tmp_path / "stack"),
             "--workdir", str(work)], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        name, _, port, token = wait_for(lambda: URL.search(log.read_text()), "the URL").groups()
        assert name == "demo.ipynb" and f"in {work}:" in log.read_text()
        api = f"http://127.0.0.1:{port}/api/contents/demo.ipynb?token={token}"
        served = wait_for(lambda: _get(api), "JupyterLab to answer").json()
        assert served["path"] == "demo.ipynb" and served["type"] == "notebook"
        saved = dict(served, content=nbformat.v4.new_notebook(), format="json")
        assert requests.put(api, json=saved, timeout=10).ok  # what an autosave does
    finally:
        lab.send_signal(signal.SIGTERM)
        assert lab.wait(60) == 0
    assert nbformat.read(work / "demo.ipynb", as_version=4).cells == []  # the copy changed
    assert shipped() == notebooks


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
