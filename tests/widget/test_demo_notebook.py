"""The demo as a person first runs it: every cell from the top, before any label is
given (nbval runs it on autopilot). The cells after the widget must say what they show
then, not fail or print an empty table."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from alsats_widget import resources


def outputs_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(output["text"])
        elif "text/plain" in output.get("data", {}):
            texts.append(output["data"]["text/plain"])
        elif output.get("output_type") == "error":
            texts.append("\n".join(output["traceback"]))
    return "".join(texts)


@pytest.mark.slow
def test_the_demo_run_before_any_label_says_what_its_cells_show(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ALSATS_AUTOPILOT", raising=False)  # nbval's conftest sets it
    monkeypatch.setenv("ALSATS_STACK_DIR", str(tmp_path / "stack"))  # the kernel's stack
    notebook = nbformat.reads(resources.notebooks()["demo.ipynb"].read_text(), as_version=4)
    NotebookClient(notebook, timeout=280, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = "\n".join(outputs_text(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert "Traceback" not in shown
    assert "No labels yet: label some digits in the widget above" in shown
    assert "empty until the first labels" in shown
    assert "the widget's own dots appear here once it has labels" in shown
    assert "0 labels so far: label in the widget above" in shown
    assert "Empty DataFrame" not in shown
    assert (tmp_path / "mnist-labels.jsonl").exists()  # in the working folder, not the repo
