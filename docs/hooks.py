"""MkDocs hooks: the parts of the site made at build time from the project's own sources.

- ``openapi.json``: the server's OpenAPI document, ``backend.openapi.document()`` with the
  default limits, as a server started with the default settings serves it; the HTTP API
  page shows it, rendered by ``http_api.py``, in place of ``<!-- openapi -->``.
- The Benchmarks page: ``benchmarks/tables.py``'s tables, made from
  ``benchmarks/results/*.json``, in place of ``<!-- benchmark tables -->``, and the plots
  they show.
- The learner guide: the own-data table alone (``tables.render_one("own_data")``), in
  place of ``<!-- own data table -->``, beside the text that explains it.
- Pools of a million: the scaling table alone (``tables.render_one("scaling")``), in
  place of ``<!-- scaling table -->``.
- A hosted service: the hosted throughput table alone
  (``tables.render_one("hosted_throughput")``), in place of ``<!-- hosted table -->``.
- The backend guide: every setting's flag, ``ALSATS_*`` variable and default
  (``backend.cli.settings_table()``, made from ``Config``'s fields as the flags are), in
  place of ``<!-- settings table -->``.
- The Robustness page: ``docs/robustness-table.md`` (written by ``bash scripts/test.sh
  --write-robustness``) in place of ``<!-- robustness table -->``.

A page without its marker fails the build rather than quietly losing its content.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from http_api import render as render_http_api  # beside this file
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from backend.cli import settings_table
from backend.config import Limits
from backend.openapi import document

REPO = Path(__file__).resolve().parent.parent
OPENAPI_MARKER = "<!-- openapi -->"
OPENAPI_PAGE, OPENAPI_FILE = "reference/http-api.md", "openapi.json"
BENCHMARKS_PAGE = "benchmarks.md"
LEARNER_PAGE = "guides/learner.md"
SCALING_PAGE, SCALING_MARKER = "guides/large-pools.md", "<!-- scaling table -->"
HOSTING_PAGE, HOSTING_MARKER = "guides/hosting.md", "<!-- hosted table -->"
SETTINGS_PAGE, SETTINGS_MARKER = "guides/backend.md", "<!-- settings table -->"
ROBUSTNESS_PAGE, ROBUSTNESS_MARKER = "robustness.md", "<!-- robustness table -->"
ROBUSTNESS_TABLE = REPO / "docs" / "robustness-table.md"


def tables() -> ModuleType:
    """benchmarks/tables.py (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("benchmark_tables",
                                                  REPO / "benchmarks" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def openapi() -> dict:
    """The document a server with the default settings serves at /openapi.json (it
    carries the server's limits: Config's defaults, these)."""
    return document(Limits())


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, OPENAPI_FILE,
                                content=json.dumps(openapi(), indent=2) + "\n"))
    for plot in sorted((REPO / "benchmarks" / "results").glob("*.png")):
        files.append(File.generated(config, f"benchmarks/results/{plot.name}",
                                    abs_src_path=str(plot)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == OPENAPI_PAGE:
        return replace(markdown, OPENAPI_MARKER, render_http_api(openapi()), page)
    if page.file.src_uri == BENCHMARKS_PAGE:
        module = tables()
        return replace(markdown, module.MARKER, module.render(), page)
    if page.file.src_uri == LEARNER_PAGE:
        module = tables()
        return replace(markdown, module.OWN_DATA_MARKER, module.render_one("own_data"), page)
    if page.file.src_uri == SCALING_PAGE:
        return replace(markdown, SCALING_MARKER, tables().render_one("scaling"), page)
    if page.file.src_uri == HOSTING_PAGE:
        return replace(markdown, HOSTING_MARKER, tables().render_one("hosted_throughput"),
                       page)
    if page.file.src_uri == SETTINGS_PAGE:
        return replace(markdown, SETTINGS_MARKER, settings_table(), page)
    if page.file.src_uri == ROBUSTNESS_PAGE:
        return replace(markdown, ROBUSTNESS_MARKER, ROBUSTNESS_TABLE.read_text(), page)
    return markdown


def replace(markdown: str, marker: str, content: str, page: Page) -> str:
    if marker not in markdown:
        raise PluginError(f"{page.file.src_uri} has lost its {marker} marker")
    return markdown.replace(marker, content)
