"""The wheel as a new user gets it: built from this checkout, installed into a fresh venv
that cannot see the checkout, and used from an empty folder. Everything alsats needs at
run time (the digits, the network file, the notebooks, the demo's curve) must be inside.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from alsats_widget import datasets, resources
from backend.lightning.polar import free_ports

REPO = Path(__file__).resolve().parents[2]
PRICE_MSAT = 7
USE_IT = textwrap.dedent(f"""
    import hashlib, json, sys
    from importlib import resources
    import alsats_widget
    from alsats_widget import load_mnist, local_stack

    digits = load_mnist()
    package = resources.files("alsats_widget")
    with local_stack(sys.argv[1], price_msat={PRICE_MSAT}) as stack:
        bob = stack.wallet("bob")
        before = bob.balance_msat()
        with stack.client("bob", mode="pool") as client:
            client.upload_pool(digits.images[:40])
            taught = client.teach(3, int(digits.labels[3]))
            labeled = client.session_info()["n_labeled"]
        paid = before - bob.balance_msat()
    print(json.dumps({{
        "module": alsats_widget.__file__, "digits": len(digits), "source": digits.source,
        "taught": taught, "labeled": labeled, "paid_msat": paid,
        "network": (package / "data" / "polar-network.json").read_text(),
        "notebooks": {{p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (package / "notebooks").iterdir()}},
        "curve": (package / "data" / "label_efficiency.json").read_text(),
    }}))
""")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(REPO)], cwd=out)
    (built,) = out.glob("alsats-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=venv, timeout=900)
    return venv


def test_the_wheel_carries_the_data_the_notebooks_and_the_license(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name, digest in datasets.BUNDLED_SHA256.items():
            data = archive.read(f"alsats_widget/data/mnist/{name}")
            assert hashlib.sha256(data).hexdigest() == digest, name
        assert archive.read("alsats_widget/data/polar-network.json") == \
            (REPO / "polar-network.json").read_bytes()
        for notebook in (REPO / "notebooks").glob("*.ipynb"):
            assert archive.read(f"alsats_widget/notebooks/{notebook.name}") == \
                notebook.read_bytes()
        assert not any(n.endswith("conftest.py") for n in names)  # nbval's, not a user's
        assert any(re.search(r"licenses/.*LICENSE\.md$", n) for n in names)


@pytest.mark.slow
def test_an_installed_wheel_works_from_any_folder(installed: Path, tmp_path: Path):
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "home"
    elsewhere.mkdir()
    home.mkdir()
    env = clean_env(home)
    done = run([str(installed / "bin" / "python"), "-c", USE_IT, str(tmp_path / "stack")],
               cwd=elsewhere, env=env, timeout=300)
    used = json.loads(done.stdout.splitlines()[-1])
    assert Path(used["module"]).is_relative_to(installed)  # not the checkout
    assert used["digits"] == 10_000 and "shipped with alsats" in used["source"]
    assert used["labeled"] == 1 and used["taught"]["credits_left"] == 0
    assert used["paid_msat"] == PRICE_MSAT  # one paid teach, bob -> alice, no fee
    assert used["network"] == (REPO / "polar-network.json").read_text()  # identical
    assert used["curve"] == (REPO / "benchmarks/results/label_efficiency.json").read_text()
    assert sorted(used["notebooks"]) == sorted(p.name for p in (REPO / "notebooks").glob(
        "*.ipynb"))

    helped = run([str(installed / "bin" / "alsats-lab"), "--help"], cwd=elsewhere, env=env)
    assert "--workdir" in helped.stdout and "--no-browser" in helped.stdout


@pytest.mark.slow
def test_alsats_lab_from_the_wheel_copies_the_notebooks_into_the_working_folder(
        installed: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            [str(installed / "bin" / "alsats-lab"), "--no-browser", "--port",
             str(free_ports(1)[0]),
             "--data-dir", str(tmp_path / "stack")],
            cwd=elsewhere, env=clean_env(tmp_path / "home"), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "alsats: JupyterLab on demo.ipynb" not in log.read_text():
            assert lab.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(60)
    work = elsewhere / "alsats-notebooks"  # the documented default
    assert sorted(p.name for p in work.iterdir()) == sorted(
        p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert (work / "demo.ipynb").read_bytes() == resources.notebooks()["demo.ipynb"].read_bytes()


def clean_env(home: Path) -> dict[str, str]:
    """This machine's environment without anything that points back at the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "ALSATS_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(REPO)))
    env["HOME"] = str(home)
    return env


def run(command: list[str], *, cwd: Path, env: dict | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-3000:]}"
    return done
