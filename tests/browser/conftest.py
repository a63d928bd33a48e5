"""Fixtures for the browser tests: headless chromium, and a Jupyter server per test whose
kernels start their local stack in the test's temp dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from .lab_server import JupyterServer

CHROMIUM = "/usr/bin/chromium"  # Debian's package, which scripts/test.sh installs
# Headless as root, and quiet: the network is closed, and chromium's background
# connections (updates, sync, QUIC probes) would only be refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
# JupyterLab's own settings: no toast asking to fetch Jupyter news over the page.
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}


def chromium_executable() -> str:
    """Debian's chromium; a missing browser fails the test, it is never a reason to skip."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        pytest.fail(f"chromium is not installed (neither {CHROMIUM} nor `chromium` on PATH): "
                    "scripts/test.sh installs it (apt-get install chromium); run the tests "
                    "with it, or install the package yourself", pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's event loop is gone before any asyncio test runs."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable(),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures know whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def jupyter(request, tmp_path: Path):
    """A Jupyter server on ``tmp_path/root``; its kernels' stack lives in ``tmp_path``."""
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    _write_lab_settings(home / "lab-settings")
    server = JupyterServer(root, home, {"ALSATS_STACK_DIR": str(tmp_path / "stack")})
    server.start()
    yield server
    server.stop()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"--- the Jupyter server's log ends:\n{server.log_tail()}")
        backend_log = tmp_path / "stack" / "backend.log"
        if backend_log.exists():
            print(f"--- the local stack's log ends:\n{backend_log.read_text()[-3000:]}")


@pytest.fixture
def page(request, browser: Browser, tmp_path: Path):
    """A fresh browser page; on failure its screenshot is saved next to the test's files."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        opened.screenshot(path=tmp_path / "failure.png")
        print(f"--- the page at the failure: {tmp_path / 'failure.png'}")
    context.close()


def _write_lab_settings(directory: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = directory / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

