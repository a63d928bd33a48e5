"""MkDocs hooks: the parts of the site made at build time from the project's own sources.

- ``openapi.json``: the server's OpenAPI document, ``backend.openapi.document()`` with the
  default limits, as a server started with the default settings serves it; the HTTP API
  page shows it, rendered by ``http_api.py``, in place of ``<!-- openapi -->``.
- The Benchmarks page: ``benchmarks/tables.py``'s tables, made from
  ``benchmarks/results/*.json``, in place of ``<!-- benchmark tables -->``, and the plots
  they show.
- Guides that show a benchmark's table beside the text that explains it
  (``GUIDE_TABLES``: ``tables.render_one(name)`` in place of ``<!-- NAME table -->``): the
  learner guide shows the own-data table, Pools of a million the scaling and neighbours
  tables, A hosted service the hosted throughput table.
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
GUIDE_TABLES = {  # page -> the results whose tables it shows, each at its marker
    "guides/learner.md": ("own_data",),
    "guides/large-pools.md": ("scaling", "neighbours"),
    "guides/hosting.md": ("hosted_throughput",),
}
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
    if page.file.src_uri in GUIDE_TABLES:
        module = tables()
        for name in GUIDE_TABLES[page.file.src_uri]:
            markdown = replace(markdown, table_marker(name), module.render_one(name), page)
        return markdown
    if page.file.src_uri == SETTINGS_PAGE:
        return replace(markdown, SETTINGS_MARKER, settings_table(), page)
    if page.file.src_uri == ROBUSTNESS_PAGE:
        return replace(markdown, ROBUSTNESS_MARKER, ROBUSTNESS_TABLE.read_text(), page)
    return markdown


def table_marker(name: str) -> str:
    """Where a guide shows a result's table: ``<!-- hosted throughput table -->``."""
    return f"<!-- {name.replace('_', ' ')} table -->"


def replace(markdown: str, marker: str, content: str, page: Page) -> str:
    if marker not in markdown:
        raise PluginError(f"{page.file.src_uri} has lost its {marker} marker")
    return markdown.replace(marker, content)
