"""The README's benchmark tables are what the committed results say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def tables_module():
    spec = importlib.util.spec_from_file_location("benchmark_tables", BENCHMARKS / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_holds_the_tables_made_from_the_results() -> None:
    tables = tables_module()
    assert tables.render() in tables.README.read_text(), (
        "README.md's benchmark tables differ from benchmarks/results/: run "
        "`python benchmarks/tables.py --write`")


def test_a_readme_without_the_markers_is_refused() -> None:
    tables = tables_module()
    with pytest.raises(ValueError, match="benchmark tables"):
        tables.replaced("# a README with no block\n", tables.render())
    block = tables.replaced(f"intro\n{tables.START}\nold\n{tables.END}\noutro\n", "NEW")
    assert block == "intro\nNEW\noutro\n"
