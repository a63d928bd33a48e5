"""The widget on a data scientist's own data: text, colour images and table rows, with
classes that are strings, keys of their own, and a layout that never moves."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from sklearn.model_selection import train_test_split

from alsats_widget.examples import load_docstrings, load_penguins, load_photo_patches
from alsats_widget.features import image_features, table_features, text_features

from .test_widget import press, shown

PRICE = 5


def _layout(widget) -> tuple:
    """What fixes where the buttons sit: the item's box and the caption's."""
    return (widget._view.layout.width, widget._view.layout.height,
            widget._guess.layout.width, widget._guess.layout.height)


def test_text_with_string_classes_keys_of_their_own_and_held_out_labels(open_widget):
    data = load_docstrings(max_per_class=40)
    pool, test, y_pool, y_test = train_test_split(data.items, data.target, test_size=0.25,
                                                  stratify=data.target, random_state=0)
    X, transformer = text_features(pool)
    first, second = data.classes[0], data.classes[1]
    widget = open_widget(X, items=pool, classes=data.classes, keys={first: "q"},
                         holdout=(transformer.transform(test), y_test))
    assert widget._view.display == "text"  # inferred from the items
    assert f"<kbd>q</kbd> {first}" in widget._title.value
    layouts = {_layout(widget)}
    for key, truth in (("q", first), ("2", second)):
        current = shown(widget)
        assert pool[current.index][:30].replace("<", "&lt;") in widget._view._html.value
        press(widget, key)
        assert widget.labels[current.index] == truth  # the class the key is for
        layouts.add(_layout(widget))
    widget.simulate(y_pool, 30)
    widget.labeler.wait_idle(60)
    layouts.add(_layout(widget))
    assert len(layouts) == 1  # long texts or short: the buttons never move
    frame = widget.to_dataframe()
    assert set(frame["label"]) <= set(data.classes) and len(frame) == 32
    labels = list(widget.labels.values())
    assert labels.count(first) >= 1 and all(isinstance(label, str) for label in labels)
    assert widget.labeler.holdout_accuracy, "held-out accuracy was measured"
    assert widget.labeler.holdout_accuracy[-1][2] > 1 / len(data.classes)  # better than chance


def test_colour_images_are_shown_in_colour_in_a_fixed_box(open_widget):
    data = load_photo_patches(max_per_class=30)
    X, _ = image_features(data.items)
    widget = open_widget(X, items=data.items, classes=data.classes, item_size=(200, 160))
    assert widget._view.display == "image"
    sizes = set()
    for _ in range(3):
        current = shown(widget)
        picture = Image.open(io.BytesIO(widget._view._image.value))
        assert picture.mode in ("RGB", "RGBA")
        pixels = np.asarray(picture.convert("RGB"))[::8, ::8]
        assert (pixels[..., 0] != pixels[..., 1]).any()  # colour, not grey
        sizes.add((picture.size, _layout(widget)))
        widget.simulate(data.target, 1)
        assert current.index in widget.labels
    assert len(sizes) == 1 and sizes.pop()[0] == (160, 160)  # 32x32 fitted into 200x160


def test_table_rows_are_shown_as_column_and_value(open_widget):
    data = load_penguins(max_per_class=20)
    X, _ = table_features(data.items)
    widget = open_widget(X, items=data.items, classes=data.classes)
    assert widget._view.display == "table"
    current = shown(widget)
    shown_html = widget._view._html.value
    assert all(column in shown_html for column in data.items.columns)
    widget.simulate(data.target, 5)
    assert widget.to_dataframe()["label"].isin(data.classes).all()
    assert widget.labels[current.index] == data.target[current.index]
