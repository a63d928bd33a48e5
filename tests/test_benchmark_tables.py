"""The benchmark tables are made from the committed results, every result has one, and
none is left out. (tests/test_docs.py checks the built Benchmarks page holds them.)"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def tables_module():
    spec = importlib.util.spec_from_file_location("benchmark_tables", BENCHMARKS / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def results(tmp_path) -> Path:
    """A copy of the committed results, to change."""
    copy = tmp_path / "results"
    shutil.copytree(BENCHMARKS / "results", copy)
    return copy


def edit(path: Path, change) -> None:
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))


def test_every_committed_result_has_a_table() -> None:
    tables = tables_module()
    assert set(tables.TABLES) == {p.stem for p in (BENCHMARKS / "results").glob("*.json")}
    page = tables.render()
    for heading, _ in tables.TABLES.values():
        assert f"### {heading}\n" in page


def test_the_tables_say_what_the_results_say(results) -> None:
    tables = tables_module()
    before = tables.render(results)
    edit(results / "label_efficiency.json",
         lambda r: r["arms"]["new"]["labels_to_0.9"].update(median=12345))
    edit(results / "throughput.json", lambda r: r["median"].update(c10_payg_ips=4242.4))
    edit(results / "payment_latency.json", lambda r: r["target"].update(met=False))
    after = tables.render(results)
    assert "| label spreading, margin sampling (what auto chooses on digits) | 12,345 (" in after
    assert "| iterations per second, pay as you go / prepaid | 4242 / " in after
    assert "is not met" in after and "is not met" not in before


def test_a_result_without_a_table_or_a_table_without_a_result_is_refused(results) -> None:
    tables = tables_module()
    (results / "new_benchmark.json").write_text("{}")
    with pytest.raises(ValueError, match="results with no table: \\['new_benchmark'\\]"):
        tables.render(results)
    (results / "new_benchmark.json").unlink()
    (results / "memory.json").unlink()
    with pytest.raises(ValueError, match="tables with no result: \\['memory'\\]"):
        tables.render(results)


def test_the_own_data_table_shows_every_point_and_the_guide_gets_it_alone(results) -> None:
    tables = tables_module()
    report = json.loads((results / "own_data.json").read_text())
    name, entry = next(iter(report["datasets"].items()))
    point = next(iter(entry["points"]))
    edit(results / "own_data.json",
         lambda r: r["datasets"][name]["points"][point].update(default_minus_best=-0.123))
    alone = tables.render_one("own_data", results)
    assert f"| {name} | {point}" in alone and "| -12.3 |" in alone
    rows = [line for line in alone.splitlines() if line.startswith(f"| {name} |")]
    assert len(rows) == len(entry["points"]) + 1  # and its line of the second table
    assert alone.strip() in tables.render(results)
