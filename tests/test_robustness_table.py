"""The robustness table: what goes into the README, and when it may not."""

from __future__ import annotations

import pytest

from tests.robustness import AREAS, END, README, START, Recorder, replaced


def recorder_with(outcome: str = "passed", areas=AREAS) -> Recorder:
    recorder = Recorder()
    for number, area in enumerate(areas):
        recorder.for_test(f"t.py::test_{number}").record(area, f"check {area}", "measured")
        recorder.outcomes[f"t.py::test_{number}"] = outcome
    return recorder


def test_the_readme_has_the_block_the_table_goes_in() -> None:
    text = README.read_text()
    assert text.index(START) < text.index(END)


def test_the_table_lists_the_areas_in_order_with_each_tests_outcome() -> None:
    recorder = recorder_with(areas=tuple(reversed(AREAS)))
    recorder.outcomes["t.py::test_0"] = "failed"
    lines = recorder.table().splitlines()[4:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == list(AREAS)
    assert lines[-1].endswith("`test_0 **failed**` |")  # Load was recorded first


def test_only_a_whole_green_run_may_write_the_readme() -> None:
    assert recorder_with().why_not_written() == ""
    assert "did not pass" in recorder_with("failed").why_not_written()
    assert "no row for Load" in recorder_with(areas=AREAS[:-1]).why_not_written()


def test_the_block_is_replaced_and_a_text_without_it_refused() -> None:
    assert replaced(f"a\n{START}\nold\n{END}\nb\n", "NEW\n") == f"a\n{START}\n\nNEW\n\n{END}\nb\n"
    with pytest.raises(ValueError, match="robustness table"):
        replaced("no block here\n", "NEW\n")


def test_a_row_must_name_a_known_area() -> None:
    with pytest.raises(ValueError, match="area must be one of"):
        Recorder().for_test("t.py::test").record("Speed", "check", "measured")
