"""A person's own data in a real browser: a pool of texts and a pool of colour pictures.

One notebook shows two LabelingWidgets, run in JupyterLab and in Notebook 7 (headless
chromium, a Jupyter server per test): stdlib docstrings by package, with keys of the
user's own choosing, and colour photo patches of five different sizes by photo, with the
default keys. In each widget some samples are labeled by clicks and some by keys; the
labels must reach the widget's status line and its label file (each the sample's true
class, and learned by the server), a key over one widget must not label the other, and
the buttons must not move while texts of different lengths and pictures of different
sizes come and go. Set ALSATS_UPDATE_SCREENSHOT=1 to write both widgets, as JupyterLab
shows them, to docs/own-data-text.png and docs/own-data-images.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from alsats_widget import local_stack

from .conftest import _write_lab_settings
from .lab_server import JupyterServer
from .test_widget_in_browser import (
    FIRST_WAIT_MS,
    UI_PAGES,
    WAIT_MS,
    choose_python,
    hover,
    run_all_cells,
    shown_index,
    wait_for_status,
    wait_until_settled,
)

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = {"text": REPO / "docs" / "own-data-text.png",
               "images": REPO / "docs" / "own-data-images.png"}
NOTEBOOK = "own-data-{}.ipynb"
KINDS = ("text", "images")
TEXT_KEYS = {"asyncio": "a", "email": "e", "http": "h", "logging": "l", "unittest": "u",
             "xml": "x"}
STEPS = ("click", "key", "click", "key", "key")  # how each sample in turn is labeled

POOLS_CELL = """\
from PIL import Image
from sklearn.model_selection import train_test_split

from alsats_widget.examples import load_docstrings, load_photo_patches

docs = load_docstrings(max_per_class=12)
texts, held_texts, text_truth, held_text_truth = train_test_split(
    list(docs.items), docs.target, test_size=1 / 3, stratify=docs.target, random_state=0)
patches = load_photo_patches(max_per_class=9)
SIZES = [(32, 32), (96, 40), (40, 120), (160, 120), (24, 24)]  # width, height
resized = [Image.fromarray(patch).resize(SIZES[i % len(SIZES)])
           for i, patch in enumerate(patches.items)]
pictures, held_pictures, picture_truth, held_picture_truth = train_test_split(
    resized, patches.target, test_size=1 / 3, stratify=patches.target, random_state=0)"""
WIDGETS_CELL = """\
from alsats_widget import LabelingWidget, local_stack
from alsats_widget.features import image_features, text_features

stack = local_stack()  # in $ALSATS_STACK_DIR, which the test sets for the server
X_texts, text_featurizer = text_features(texts)
text_widget = LabelingWidget(
    stack.client("bob", mode="pool"), X_texts, items=texts, classes=list(docs.classes),
    keys={keys!r}, label_file={text!r}, window=5,
    holdout=(text_featurizer.transform(held_texts), held_text_truth))
X_pictures, picture_featurizer = image_features(pictures)
image_widget = LabelingWidget(
    stack.client("bob", mode="pool"), X_pictures, items=pictures,
    classes=list(patches.classes), label_file={images!r}, window=5,
    holdout=(picture_featurizer.transform(held_pictures), held_picture_truth))"""
SHOW_CELLS = ("text_widget", "image_widget")


@pytest.fixture(scope="module")
def pools() -> dict:
    """The notebook's pools, made here by its own code: the true classes, and the keys."""
    made: dict = {}
    exec(POOLS_CELL, made)  # noqa: S102 - the test's own constant, run as the notebook does
    classes = list(made["patches"].classes)
    return {"text": (made["text_truth"], TEXT_KEYS),
            "images": (made["picture_truth"],
                       {c: str(position + 1) for position, c in enumerate(classes)})}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One Jupyter server and one local stack for both UIs: the stack starts while the
    server does, and each kernel's ``local_stack()`` attaches to it."""
    base = tmp_path_factory.mktemp("own-data")
    root, home, stack_dir = base / "root", base / "jupyter", base / "stack"
    root.mkdir()
    _write_lab_settings(home / "lab-settings")
    jupyter = JupyterServer(root, home, {"ALSATS_STACK_DIR": str(stack_dir)})
    jupyter.launch()
    try:
        # in this thread, not another: the backend dies with the thread that started it
        stack = local_stack(stack_dir)
        try:
            jupyter.wait_started()
            yield jupyter
        finally:
            stack.stop()
    finally:
        jupyter.stop()


@pytest.fixture
def jupyter(request, server: JupyterServer):
    """The module's server; the end of its log, and the stack's, when the test failed."""
    yield server
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"--- the Jupyter server's log ends:\n{server.log_tail()}")
        backend_log = server.root.parent / "stack" / "backend.log"
        if backend_log.exists():
            print(f"--- the local stack's log ends:\n{backend_log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("ui", ["jupyterlab", "notebook7"])
def test_a_person_labels_texts_and_pictures_in_the_browser(ui, jupyter, page, pools,
                                                           tmp_path):
    notebook, label_files = NOTEBOOK.format(ui), {kind: f"{ui}-{kind}.jsonl" for kind in KINDS}
    write_notebook(jupyter.root / notebook, label_files)
    text_widget, image_widget = open_and_run_all(page, jupyter.page(
        UI_PAGES[ui].format(notebook)))
    shots = tmp_path / "screenshots"
    for kind, widget, other in (("text", text_widget, image_widget),
                                ("images", image_widget, text_widget)):
        truth, keys = pools[kind]
        shown_sizes = label_each_way(page, widget, other, truth, keys)
        assert len(set(shown_sizes)) > 1, f"every {kind} sample looked the same: {shown_sizes}"
        wait_for_status(widget, labels=len(STEPS), skipped=0, all_sent=True)
        assert_labels_in_file(jupyter.root / label_files[kind], truth, len(STEPS))
        save_screenshot(page, widget, shots, ui, kind)


def write_notebook(path: Path, label_files: dict[str, str]) -> None:
    widgets = WIDGETS_CELL.format(keys=TEXT_KEYS, **label_files)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)
                      for source in (POOLS_CELL, widgets, *SHOW_CELLS)]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3 (ipykernel)"}
    nbformat.write(notebook, path)


def open_and_run_all(page: Page, url: str) -> tuple[Locator, Locator]:
    """Open the notebook, run all its cells, and wait for both widgets with a sample each."""
    page.add_locator_handler(page.locator(".jp-Dialog", has_text="Select Kernel"),
                             choose_python)
    page.goto(url)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(2 + len(SHOW_CELLS),
                                                                timeout=FIRST_WAIT_MS)
    # Run All before the kernel is ready can be lost (seen in Notebook 7 under load)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=FIRST_WAIT_MS)
    run_all_cells(page)
    widgets = page.locator(".alsats-labeling")
    try:
        expect(widgets).to_have_count(2, timeout=FIRST_WAIT_MS)
        for widget in (widgets.nth(0), widgets.nth(1)):
            shown_index(widget)  # "Sample #i." once the first pick is there
    except AssertionError as error:
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        raise AssertionError(f"no two widgets with a sample; the cells' outputs: "
                             f"{outputs}") from error
    return widgets.nth(0), widgets.nth(1)


def label_each_way(page: Page, widget: Locator, other: Locator, truth, keys: dict) -> list:
    """Label a sample per step, by its true class's button or key, checking each time that
    the buttons sit where they were; returns the size of each sample as shown."""
    layout = button_layout(widget)
    other_status = other.locator(".alsats-status").inner_text()
    sizes = []
    for done, step in enumerate(STEPS):
        index = shown_index(widget)
        sizes.append(shown_size(widget))
        assert button_layout(widget) == layout, f"the buttons moved at sample #{index}"
        label = str(truth[index])
        if step == "click":
            widget.locator(".alsats-class").filter(has_text=re.compile(
                rf"^{re.escape(label)}$")).click()
        else:
            hover(page, widget)
            page.keyboard.press(keys[label])
        wait_for_status(widget, labels=done + 1, skipped=0)
        if done + 1 < len(STEPS):
            expect(widget.locator(".alsats-guess")).not_to_contain_text(
                f"Sample #{index}.", timeout=WAIT_MS)
    assert button_layout(widget) == layout
    assert other.locator(".alsats-status").inner_text() == other_status  # keys went here only
    return sizes


def button_layout(widget: Locator) -> list[tuple[float, ...]]:
    """Each button's box (the classes', Skip and Undo) and the sample's, in the widget."""
    outer = widget.bounding_box()
    parts = widget.locator(".alsats-class, .alsats-skip, .alsats-undo, .alsats-sample")
    return [(box["x"] - outer["x"], box["y"] - outer["y"], box["width"], box["height"])
            for box in (part.bounding_box() for part in parts.all())]


def shown_size(widget: Locator) -> tuple:
    """How big the sample shown is: a picture's size, or a text's length."""
    picture = widget.locator(".alsats-sample img.alsats-item-image")
    if picture.count() and picture.is_visible():
        expect(picture).to_have_attribute("src", re.compile(r"^(blob|data):"))
        box = picture.bounding_box()
        return round(box["width"]), round(box["height"])
    text = widget.locator(".alsats-sample .widget-html-content")
    expect(text).not_to_be_empty()
    return (len(text.inner_text()),)


def assert_labels_in_file(path: Path, truth, count: int) -> None:
    """The label file holds ``count`` labels, each the sample's true class, all taught."""
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    labeled = {e["index"]: e["label"] for e in events if e["event"] == "label"}
    taught = {i for e in events if e["event"] == "taught" for i in e["indices"]}
    assert len(labeled) == count, events
    assert all(label == truth[index] for index, label in labeled.items()), labeled
    assert taught == set(labeled), f"the server learned {taught}, not {set(labeled)}"


def save_screenshot(page: Page, widget: Locator, shots: Path, ui: str, kind: str) -> None:
    """The widget alone, its plot drawn; to docs/ too from JupyterLab when asked."""
    wait_until_settled(widget.locator("img.alsats-plot"))
    page.mouse.move(0, 0)  # no hover highlight on a button
    page.evaluate("document.activeElement?.blur()")  # nor a focus ring on the last one
    shot = shots / f"{ui}-{kind}.png"
    widget.screenshot(path=shot)
    if ui == "jupyterlab" and os.environ.get("ALSATS_UPDATE_SCREENSHOT") == "1":
        with Image.open(shot) as picture:  # 256 colours: a third of the bytes, for the docs
            picture.convert("RGB").quantize(256).save(SCREENSHOTS[kind], optimize=True)
