"""Pictures for the widget: a sample enlarged crisply, and the accuracy plot, as PNG bytes.

Both are PNG bytes for an ``ipywidgets.Image``, so a redraw replaces one value in place
(no flicker, no output area) and works the same in JupyterLab and Notebook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

X_AXES = {"labels": "labels given", "sats": "sats spent"}


def sample_shape(pool: np.ndarray, shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """The (height, width) each pool sample is drawn at: given, the pool's own, or square."""
    if shape is not None:
        height, width = shape
    elif pool.ndim == 3:
        height, width = pool.shape[1:]
    else:
        side = int(round(np.sqrt(pool.shape[1]))) if pool.ndim == 2 else 0
        if pool.ndim != 2 or side * side != pool.shape[1]:
            raise ValueError(f"cannot draw samples of shape {pool.shape[1:]} as images: "
                             "pass image_shape=(height, width)")
        height = width = side
    if height * width != int(np.prod(pool.shape[1:])):
        raise ValueError(f"image_shape {(height, width)} does not hold "
                         f"{int(np.prod(pool.shape[1:]))} values per sample")
    return height, width


def sample_png(sample: np.ndarray, shape: tuple[int, int], scale: int) -> bytes:
    """One sample as a grey PNG, each value a ``scale`` x ``scale`` square (no blur)."""
    pixels = np.asarray(sample).reshape(shape)
    if pixels.dtype != np.uint8:
        low, high = float(np.min(pixels)), float(np.max(pixels))
        span = high - low or 1.0
        pixels = np.round((pixels - low) / span * 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    image = image.resize((shape[1] * scale, shape[0] * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def accuracy_png(rolling: Sequence[tuple[float, float]], holdout: Sequence[tuple[float, float]],
                 *, x_axis: str = "labels", window: int = 100, target: float | None = 0.9,
                 size: tuple[float, float] = (5.0, 3.0), dpi: int = 80) -> bytes:
    """The live plot: rolling accuracy of the model's guesses, and held-out accuracy."""
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    if rolling:
        x, y = zip(*rolling, strict=True)
        axes.plot(x, y, color="tab:blue", label=f"rolling accuracy (last {window} guesses)")
    if holdout:
        x, y = zip(*holdout, strict=True)
        axes.plot(x, y, color="tab:orange", marker=".", label="held-out accuracy")
    if target is not None:
        axes.axhline(target, color="grey", linestyle="--", linewidth=1,
                     label=f"target {target:.0%}")
    axes.set_ylim(0, 1.02)
    axes.set_xlim(left=0)
    axes.set_xlabel(X_AXES[x_axis])
    axes.set_ylabel("accuracy")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small", framealpha=0.8)  # curves start low
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
