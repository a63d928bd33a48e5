"""The widget's pictures: crisp enlarged samples, the accuracy plot, keys for classes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from alsats_widget.display import accuracy_png, sample_png, sample_shape
from alsats_widget.widget import class_keys


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_a_sample_is_enlarged_pixel_for_pixel():
    digit = np.random.default_rng(1).integers(0, 256, size=(28, 28), dtype=np.uint8)
    picture = _decode(sample_png(digit, (28, 28), 8))
    assert picture.shape == (224, 224)
    blocks = picture.reshape(28, 8, 28, 8)
    assert (blocks == digit[:, None, :, None]).all()  # every 8x8 block one source pixel


def test_float_samples_are_stretched_to_grey():
    picture = _decode(sample_png(np.array([[0.0, 0.5], [1.0, 0.25]]), (2, 2), 1))
    assert picture.tolist() == [[0, 128], [255, 64]]


def test_the_drawing_shape_is_found_or_refused():
    assert sample_shape(np.zeros((5, 28, 28))) == (28, 28)
    assert sample_shape(np.zeros((5, 64))) == (8, 8)
    assert sample_shape(np.zeros((5, 6)), (2, 3)) == (2, 3)
    with pytest.raises(ValueError, match="image_shape"):
        sample_shape(np.zeros((5, 6)))
    with pytest.raises(ValueError, match="does not hold"):
        sample_shape(np.zeros((5, 64)), (4, 4))


def test_the_plot_is_a_png_that_follows_its_data():
    empty = accuracy_png([], [])
    curve = accuracy_png([(1, 0.5), (2, 0.75)], [(2, 0.6)], x_axis="sats")
    assert empty.startswith(b"\x89PNG") and curve.startswith(b"\x89PNG")
    assert empty != curve
    assert _decode(curve).shape[:2] == (240, 400)  # 5 x 3 inches at 80 dpi


def test_keys_are_the_digits_themselves_or_positions():
    assert class_keys(list(range(10)))["7"] == 7
    assert class_keys(["cat", "dog"]) == {"1": "cat", "2": "dog"}
    assert class_keys(["r", "s"]) == {"1": "r", "2": "s"}  # s is Skip's
