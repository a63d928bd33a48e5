"""The widget's pictures: crisp enlarged samples, the accuracy plot, keys for classes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from alsats_widget.display import accuracy_figure, accuracy_png


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_the_plot_is_a_png_that_follows_its_data():
    empty = accuracy_png([], [])
    curve = accuracy_png([(1, 0.5), (2, 0.75)], [(2, 0.6)], x_axis="sats")
    assert empty.startswith(b"\x89PNG") and curve.startswith(b"\x89PNG")
    assert empty != curve
    assert _decode(curve).shape[:2] == (256, 400)  # 5 x 3.2 inches at 80 dpi


def drawn(rolling, holdout, **options):
    """The plot's figure, laid out and drawn as the PNG is, and its axes."""
    figure = accuracy_figure(rolling, holdout, window=20, **options)
    FigureCanvasAgg(figure).draw()
    return figure, figure.axes[0]


CLIMB = [(n, min(0.99, n / 60)) for n in range(1, 91)]  # up to the plot's top, at 99%


@pytest.mark.parametrize(("rolling", "holdout"), [([], []), (CLIMB, CLIMB[4::5]),
                                                  ([(1, 1.0)], [(1, 0.0)])])
def test_the_legend_is_above_the_axes_and_inside_the_picture(rolling, holdout):
    figure, axes = drawn(rolling, holdout)
    legend = figure.legends[0].get_window_extent()
    texts = [text.get_text() for text in figure.legends[0].get_texts()]
    assert texts == ["rolling accuracy (last 20 guesses)", "held-out accuracy", "target 90%"]
    assert legend.y0 >= axes.get_window_extent().y1  # over the axes, not on the curves
    assert figure.bbox.contains(legend.x0, legend.y0) and figure.bbox.contains(legend.x1,
                                                                              legend.y1)


@pytest.mark.parametrize("labels", [0, 1, 2, 3, 90])
def test_labels_given_are_counted_in_whole_numbers(labels):
    points = [(n, 0.5) for n in range(1, labels + 1)]
    _, axes = drawn(points, points)
    low, high = axes.get_xlim()
    ticks = [t for t in axes.get_xticks() if low <= t <= high]
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks)
    assert all("." not in label.get_text() for label in axes.get_xticklabels())
    assert low == 0 and high >= labels


@pytest.mark.parametrize("msat_per_label", [3, 1000])
def test_sats_spent_are_plain_numbers_from_zero(msat_per_label):
    points = [(n * msat_per_label / 1000, 0.5) for n in range(1, 41)]
    _, axes = drawn(points, [], x_axis="sats")
    assert axes.get_xlim()[0] == 0 and axes.get_xlim()[1] >= points[-1][0]
    assert axes.xaxis.get_offset_text().get_text() == ""  # no "1e-2" or "+0.1" aside
    labels = [label.get_text() for label in axes.get_xticklabels()]
    assert 3 <= len(labels) <= 10 and all("e" not in label for label in labels)
