"""A pool checked against the rules the server publishes in /info, before anything is paid.

The server takes features (n, d) or images (n, h, w) and (n, h, w, c), as uint8, float32
or float64, within size limits (``GET /info``'s ``pool``). What a notebook holds is often
near that but not quite: a sparse TF-IDF matrix, a DataFrame, integers, booleans. Those
are made into what the server takes here; what cannot be (strings, ragged lists, too many
values, NaN) is an InputError that names the fix, so a wrong pool costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

FEATURES_HINT = ("make features first with alsats_widget.features: text_features(texts), "
                 "image_features(images) or table_features(frame)")


class PoolInputError(ValueError):
    """The pool cannot be sent as it is; the message says how to fix it."""


def prepared_pool(samples: Any, rules: dict, name: str = "pool") -> np.ndarray:
    """``samples`` as the server takes them under ``rules`` (GET /info's ``pool``): a
    dense array of an accepted dtype, else a PoolInputError naming the fix."""
    if sparse.issparse(samples):
        return _densified(samples, rules, name)
    array = _as_array(samples, name)
    if array.dtype.name not in rules["dtypes"]:  # bool, ints, float16: exact enough as float32
        array = array.astype(np.float32)
    _check_shape(array, rules, name)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        row = int(np.argmin(np.isfinite(array.reshape(len(array), -1)).all(axis=1)))
        raise PoolInputError(f"{name} has NaN or infinity at row {row}: fill in missing "
                             "values first (table_features imputes them)")
    return array


def _as_array(samples: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(samples)
    except (ValueError, TypeError):
        raise PoolInputError(f"{name} is not one array (rows of different lengths?): "
                             f"{FEATURES_HINT}") from None
    if array.dtype.kind not in "biuf":
        what = "text" if array.dtype.kind in "US" else f"{array.dtype} values"
        raise PoolInputError(f"{name} holds {what}, not numbers: {FEATURES_HINT}")
    return array


def _densified(matrix: Any, rules: dict, name: str) -> np.ndarray:
    """A sparse matrix as the dense float32 array the server takes, if it fits."""
    n, d = matrix.shape
    if d > rules["max_features"] or n * d > rules["max_values"]:
        raise PoolInputError(
            f"{name} is a sparse {n} x {d} matrix; sent dense it is more than the server "
            f"takes ({rules['max_features']:,} features, {rules['max_values']:,} values): "
            "reduce it first, e.g. with alsats_widget.features.text_features (TF-IDF, then "
            "TruncatedSVD)")
    return prepared_pool(matrix.toarray().astype(np.float32), rules, name)


def _check_shape(array: np.ndarray, rules: dict, name: str) -> None:
    if array.ndim not in (2, 3, 4) or (array.ndim == 4 and array.shape[3] not in
                                        rules["channels"]):
        raise PoolInputError(
            f"{name} has shape {array.shape}; the server takes {', '.join(rules['shapes'])} "
            f"with c in {rules['channels']}: {FEATURES_HINT}")
    n, values = array.shape[0], int(np.prod(array.shape[1:]))
    if n == 0 or values == 0:
        raise PoolInputError(f"{name} has shape {array.shape}: it holds no samples")
    if n > rules["max_samples"]:
        raise PoolInputError(f"{name} has {n:,} samples; the server takes at most "
                             f"{rules['max_samples']:,}: label a sample of them")
    if values > rules["max_features"]:
        raise PoolInputError(
            f"{name}'s samples have {values:,} values each; the server takes at most "
            f"{rules['max_features']:,}: reduce them (image_features makes any image a "
            "short vector)")
    if array.size > rules["max_values"]:
        raise PoolInputError(f"{name} has {array.size:,} values; the server takes at most "
                             f"{rules['max_values']:,}: send fewer samples or features")
