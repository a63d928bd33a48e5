"""The robustness table: what the crash, fault, bad-input, abuse and load tests measured.

A test records a row with the ``robustness`` fixture::

    robustness.record("Crashes", "kill -9 during a paid labeling run", "20 restarts, ...")

At the end of the run the rows, each with its test's outcome, are printed, written to
``build/robustness.md`` and ``build/robustness.json``, and, with ``--write-robustness``,
written to ``docs/robustness-table.md``, which the documentation site's Robustness page
shows (only by a run with a row in every area, every test behind them passed: the docs
build cannot run the suite, so the page shows the last such run).

``ALSATS_SOAK=1`` is the soak mode: the same tests, run longer (``soak(normal, longer)``).
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "build"
PAGE = REPO / "docs" / "robustness-table.md"  # committed; docs/robustness.md shows it
AREAS = ("Crashes", "Faults", "Bad input", "Abuse", "Load", "Hosted")
SOAK = os.environ.get("ALSATS_SOAK", "") not in ("", "0")
PAGE_NOTE = ("<!-- written by `bash scripts/test.sh --write-robustness` from a run of the whole "
             "suite: do not edit -->\n\n")


def soak(normal: int, longer: int) -> int:
    """``longer`` in soak mode (ALSATS_SOAK=1), else ``normal``."""
    return longer if SOAK else normal


@dataclass
class Row:
    area: str
    check: str
    result: str
    test: str
    outcome: str = "not run to the end"


class Recorder:
    """The rows of this run, in the order recorded."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.outcomes: dict[str, str] = {}

    def for_test(self, nodeid: str) -> RowRecorder:
        return RowRecorder(self, nodeid)

    def table(self) -> str:
        self._note_outcomes()
        order = {area: i for i, area in enumerate(AREAS)}
        rows = sorted(self.rows, key=lambda r: order.get(r.area, len(AREAS)))
        mode = "soak mode (ALSATS_SOAK=1)" if SOAK else "the test command"
        lines = [f"Made by {mode} on {os.cpu_count()} cores ({platform.python_version()}):",
                 "", "| area | what is done | what the test measured | test |",
                 "|---|---|---|---|"]
        for row in rows:
            test = row.test.split("::")[-1] + ("" if row.outcome == "passed"
                                               else f" **{row.outcome}**")
            lines.append(f"| {row.area} | {row.check} | {row.result} | `{test}` |")
        return "\n".join(lines) + "\n"

    def _note_outcomes(self) -> None:
        for row in self.rows:
            row.outcome = self.outcomes.get(row.test, row.outcome)

    def write(self, to_page: bool, output: Path = OUTPUT, page: Path = PAGE) -> Path:
        """Write the table to ``output``, and to the docs' ``page`` if asked and allowed;
        returns where the table was written last."""
        output.mkdir(parents=True, exist_ok=True)
        table = self.table()
        (output / "robustness.md").write_text(table)
        (output / "robustness.json").write_text(json.dumps(
            {"soak": SOAK, "rows": [asdict(r) for r in self.rows]}, indent=2) + "\n")
        if to_page and not self.why_not_written():
            page.write_text(PAGE_NOTE + table)
            return page
        return output / "robustness.md"

    def why_not_written(self) -> str:
        """Why this run's table may not go into the docs ("" if it may)."""
        self._note_outcomes()
        failed = [r.test for r in self.rows if r.outcome != "passed"]
        if failed:
            return f"a test behind it did not pass ({failed[0]})"
        missing = [area for area in AREAS if area not in {r.area for r in self.rows}]
        if missing:
            return f"the run has no row for {', '.join(missing)} (run the whole suite)"
        return ""


@dataclass
class RowRecorder:
    recorder: Recorder
    nodeid: str

    def record(self, area: str, check: str, result: str) -> None:
        if area not in AREAS:
            raise ValueError(f"area must be one of {AREAS}, not {area!r}")
        self.recorder.rows.append(Row(area, check, result, self.nodeid))


RECORDER = Recorder()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--write-robustness", action="store_true",
                     help="write the robustness table to docs/robustness-table.md (a run "
                          "of the whole suite, every row's test passed)")


@pytest.fixture
def robustness(request: pytest.FixtureRequest) -> RowRecorder:
    """Record a row of the robustness table."""
    return RECORDER.for_test(request.node.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        RECORDER.outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        RECORDER.outcomes.setdefault(report.nodeid, "passed")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not RECORDER.rows:
        return
    path = RECORDER.write(config.getoption("--write-robustness"))
    terminalreporter.section("robustness")
    terminalreporter.write(RECORDER.table())
    terminalreporter.write_line(f"(written to {path.relative_to(REPO)})")
    if config.getoption("--write-robustness") and path != PAGE:
        terminalreporter.write_line(f"{PAGE.relative_to(REPO)} is left as it was: "
                                    f"{RECORDER.why_not_written()}")
