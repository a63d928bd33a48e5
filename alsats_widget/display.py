"""The widget's accuracy plot, as PNG bytes.

PNG bytes for an ``ipywidgets.Image``, so a redraw replaces one value in place (no
flicker, no output area) and works the same in JupyterLab and Notebook. How an item is
shown is ``items``'s job.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

X_AXES = {"labels": "labels given", "sats": "sats spent"}
MIN_LABELS_SHOWN = 10  # the labels axis's room for the first labels


def accuracy_png(rolling: Sequence[tuple[float, float]], holdout: Sequence[tuple[float, float]],
                 **options: Any) -> bytes:
    """``accuracy_figure(rolling, holdout, **options)`` as PNG bytes."""
    buffer = io.BytesIO()
    FigureCanvasAgg(accuracy_figure(rolling, holdout, **options)).print_png(buffer)
    return buffer.getvalue()


def accuracy_figure(rolling: Sequence[tuple[float, float]],
                    holdout: Sequence[tuple[float, float]], *, x_axis: str = "labels",
                    window: int = 100, target: float | None = 0.9,
                    size: tuple[float, float] = (5.0, 3.2), dpi: int = 80) -> Figure:
    """Rolling accuracy of the model's guesses, and held-out accuracy, against labels
    given or sats spent. The legend sits above the axes, outside them, so it never hides
    a curve; the labels axis counts whole labels, the sats axis plain numbers."""
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    axes.plot(*_columns(rolling), color="tab:blue",
              label=f"rolling accuracy (last {window} guesses)")
    axes.plot(*_columns(holdout), color="tab:orange", marker=".", label="held-out accuracy")
    if target is not None:
        axes.axhline(target, color="grey", linestyle="--", linewidth=1,
                     label=f"target {target:.0%}")
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    right = axes.get_xlim()[1] if rolling or holdout else 1  # 1 when there is no point
    axes.set_xlim(0, max(right, MIN_LABELS_SHOWN if x_axis == "labels" else 0))
    axes.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10],
                                             integer=x_axis == "labels"))
    axes.set_xlabel(X_AXES[x_axis])
    axes.set_ylabel("accuracy")
    axes.grid(alpha=0.3)
    figure.legend(loc="outside upper center", ncols=2, fontsize="small", frameon=False)
    return figure


def _columns(points: Sequence[tuple[float, float]]) -> tuple[list, list]:
    """(x, y) points as an x list and a y list; two empty lists for no points, so that
    an empty curve still has its place in the legend."""
    return [x for x, _ in points], [y for _, y in points]
