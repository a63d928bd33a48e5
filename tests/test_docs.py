"""The documentation site builds with --strict and holds what is made at build time; the
README is a front door (at most 200 lines, every relative link resolves)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import alsats_widget
from backend.config import Limits
from backend.openapi import document
from tests.robustness import PAGE as ROBUSTNESS_TABLE
from tests.test_benchmark_tables import tables_module

REPO = Path(__file__).resolve().parent.parent
MKDOCS = Path(sys.executable).with_name("mkdocs")  # the venv's
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its future
README_LINES = 200
LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*"""
                     r"""\b(?:src|href)=["']?(?:https?:)?//""", re.IGNORECASE)


def build(site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, env=QUIET, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with --strict into a temp dir (a broken link or reference fails)."""
    site = tmp_path_factory.mktemp("site")
    result = build(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}" \
                                   f"{result.stderr}"
    return site


def text_of(page: Path) -> str:
    """A built page's text, without its tags (what a reader sees)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_the_site_builds_every_page_of_its_nav(site: Path) -> None:
    for page in ("index", "quickstart/index", "your-own-data/index", "guides/l402/index",
                 "reference/alsats_widget/index", "reference/http-api/index"):
        assert (site / f"{page}.html").is_file(), page


def test_the_http_api_page_names_every_path_of_the_openapi_document(site: Path) -> None:
    served = document(Limits())  # what a server with the default settings serves
    page = text_of(site / "reference" / "http-api" / "index.html")
    for path, operations in served["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in page, f"{method.upper()} {path}"
    assert json.loads((site / "openapi.json").read_text()) == served


def test_the_python_reference_documents_every_public_name(site: Path) -> None:
    page = (site / "reference" / "alsats_widget" / "index.html").read_text()
    for name in alsats_widget.__all__:
        assert f'id="alsats_widget.{name}"' in page, name
    backend = (site / "reference" / "backend" / "index.html").read_text()
    for name in ("backend.lightning.LightningNode", "backend.lightning.load_polar_network",
                 "backend.app.create_app", "backend.config.Config"):
        assert f'id="{name}"' in backend, name


def test_the_benchmarks_page_holds_every_figure_of_the_results(site: Path) -> None:
    page = text_of(site / "benchmarks" / "index.html")
    for line in tables_module().render().splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            for cell in line.strip("| ").split(" | "):
                assert cell.replace("`", "") in page, cell
    for plot in (REPO / "benchmarks" / "results").glob("*.png"):
        assert (site / "benchmarks" / "results" / plot.name).read_bytes() == plot.read_bytes()


def test_the_robustness_page_shows_the_committed_table(site: Path) -> None:
    page = text_of(site / "robustness" / "index.html")
    tests = re.findall(r"`(test_[^`]+)`", ROBUSTNESS_TABLE.read_text())
    assert tests and all(test in page for test in tests)


def test_the_site_loads_nothing_from_outside(site: Path) -> None:
    """No font, script, style or picture from elsewhere; Material's script would fetch
    mermaid from a CDN for a diagram, so there is none."""
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert not OUTSIDE.search(text), f"{page.relative_to(site)}: {OUTSIDE.search(text)}"
        assert 'class="mermaid"' not in text, page.relative_to(site)
    for sheet in site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", sheet.read_text()), sheet


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    """--strict really refuses: a copy of the docs with a link to a missing anchor."""
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs", docs)
    with (docs / "quickstart.md").open("a") as page:
        page.write("\nSee [nowhere](guides/l402.md#no-such-section).\n")
    script = ("import logging, sys; logging.basicConfig(); "
              "from mkdocs.config import load_config; from mkdocs.commands.build import build; "
              "build(load_config(sys.argv[1], docs_dir=sys.argv[2], site_dir=sys.argv[3], "
              "strict=True))")
    result = subprocess.run([sys.executable, "-c", script, str(REPO / "mkdocs.yml"),
                             str(docs), str(tmp_path / "site")], cwd=REPO, env=QUIET,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode != 0
    assert "no-such-section" in result.stdout + result.stderr


def test_the_readme_is_a_front_door() -> None:
    readme = REPO / "README.md"
    lines = readme.read_text().splitlines()
    assert len(lines) <= README_LINES, f"README.md has {len(lines)} lines"
    links = [link for link in LINK.findall(readme.read_text())
             if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    assert links
    for link in links:
        assert (REPO / link.split("#")[0]).exists(), f"README.md links to missing {link}"
