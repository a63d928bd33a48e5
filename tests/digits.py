"""A pool of real digits of any size for the tests: scikit-learn's 1,797 8x8 digits,
then copies shifted by a pixel."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits


def digit_pool(at_least: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 8, 8) uint8 images (0 to 255) and their labels, n >= ``at_least``: copies
    shifted by one more pixel each time, so no two samples are the same."""
    digits = load_digits()
    images = (digits.images * 255 / 16).astype(np.uint8)
    copies = -(-at_least // len(images))
    shifted = [np.roll(images, shift, axis=2) for shift in range(copies)]
    return np.concatenate(shifted), np.tile(digits.target, copies)
