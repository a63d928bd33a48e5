"""The robustness table: what goes into the docs' page, and when it may not."""

from __future__ import annotations

import pytest

from tests.robustness import AREAS, PAGE, PAGE_NOTE, Recorder


def recorder_with(outcome: str = "passed", areas=AREAS) -> Recorder:
    recorder = Recorder()
    for number, area in enumerate(areas):
        recorder.for_test(f"t.py::test_{number}").record(area, f"check {area}", "measured")
        recorder.outcomes[f"t.py::test_{number}"] = outcome
    return recorder


def test_the_committed_page_is_a_whole_green_runs_table() -> None:
    text = PAGE.read_text()
    assert text.startswith(PAGE_NOTE)
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")][1:]
    assert {cells[0].lstrip("| ") for cells in rows} == set(AREAS)
    assert not [cells for cells in rows if "**" in cells[-1]], "a test behind a row failed"


def test_the_table_lists_the_areas_in_order_with_each_tests_outcome() -> None:
    recorder = recorder_with(areas=tuple(reversed(AREAS)))
    recorder.outcomes["t.py::test_0"] = "failed"
    lines = recorder.table().splitlines()[4:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == list(AREAS)
    assert lines[-1].endswith("`test_0 **failed**` |")  # the last area was recorded first


def test_only_a_whole_green_run_may_write_the_page() -> None:
    assert recorder_with().why_not_written() == ""
    assert "did not pass" in recorder_with("failed").why_not_written()
    assert f"no row for {AREAS[-1]}" in recorder_with(areas=AREAS[:-1]).why_not_written()


def test_a_green_run_writes_the_page_and_any_run_the_build_folder(tmp_path) -> None:
    page, output = tmp_path / "robustness-table.md", tmp_path / "build"
    green = recorder_with()
    assert green.write(True, output, page) == page
    assert page.read_text() == PAGE_NOTE + green.table()
    assert (output / "robustness.md").read_text() == green.table()

    page.write_text("the last green run's table\n")
    red = recorder_with("failed")
    assert red.write(True, output, page) == output / "robustness.md"
    assert page.read_text() == "the last green run's table\n"
    assert "**failed**" in (output / "robustness.md").read_text()
    assert green.write(False, output, page) == output / "robustness.md"  # not asked
    assert page.read_text() == "the last green run's table\n"


def test_a_row_must_name_a_known_area() -> None:
    with pytest.raises(ValueError, match="area must be one of"):
        Recorder().for_test("t.py::test").record("Speed", "check", "measured")
