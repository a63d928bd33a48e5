"""Checks on what a client sends, before any learner state changes.

Every check either returns a clean value (fresh NumPy arrays, native Python labels) or
raises `LearnerError` with a message fit to show the client: what is wrong, where, and what
was expected. Arrays are always copied, so a caller who later mutates its own array cannot
reach into a learner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import DEFAULT_POOL_RULES, PoolRules
from .errors import LearnerError

Label = int | str

MAX_SAMPLES = 10_000  # per train/label call
MAX_FEATURES = 65_536  # a 256 x 256 grey image
MIN_CLASSES, MAX_CLASSES = 2, 1000
MAX_SEED = 2**32 - 1  # scikit-learn's bound on random_state

_NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float


def _short(value: Any, limit: int = 40) -> str:
    """repr() cut to `limit` characters, so a huge value can't flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_classes(classes: Sequence[Label]) -> str:
    """The class list as shown in messages: all of it when short, else its ends."""
    shown = [_short(c) for c in classes]
    if len(shown) <= 4:
        return "[" + ", ".join(shown) + "]"
    return f"[{shown[0]}, ..., {shown[-1]}]"


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_int(value: Any, name: str, low: int, high: int) -> int:
    """An integer in [low, high] (bools and floats refused, even 3.0)."""
    if not _is_int(value):
        raise LearnerError(f"{name} must be an integer: got {_short(value)}")
    if not low <= int(value) <= high:
        raise LearnerError(f"{name} must be between {low} and {high}: got {int(value)}")
    return int(value)


def check_random_state(value: Any) -> int:
    """A seed scikit-learn accepts; an int rather than a Generator, so results replay."""
    return check_int(value, "random_state", 0, MAX_SEED)


def check_threshold(value: Any) -> float:
    """A number in [0, 1], compared with uncertainties that live in [0, 1]."""
    if not (_is_int(value) or isinstance(value, float | np.floating)) or not math.isfinite(value):
        raise LearnerError(f"threshold must be a number between 0 and 1: got {_short(value)}")
    if not 0.0 <= float(value) <= 1.0:
        raise LearnerError(f"threshold must be between 0 and 1: got {float(value)}")
    return float(value)


def check_classes(classes: Any) -> list[int] | list[str]:
    """A session's class list: 2 to 1000 distinct ints, or 2 to 1000 distinct strings."""
    if isinstance(classes, np.ndarray):
        classes = classes.tolist()
    if not isinstance(classes, list | tuple):
        raise LearnerError(f"classes must be a list of ints or strings: got {_short(classes)}")
    if not MIN_CLASSES <= len(classes) <= MAX_CLASSES:
        raise LearnerError(
            f"classes must list {MIN_CLASSES} to {MAX_CLASSES} labels: got {len(classes)}"
        )
    if all(_is_int(c) for c in classes):
        clean: list = [int(c) for c in classes]
    elif all(isinstance(c, str) for c in classes):
        clean = [str(c) for c in classes]
    else:
        raise LearnerError(
            "classes must be all ints or all strings: got "
            + ", ".join(sorted({type(c).__name__ for c in classes}))
        )
    seen: set = set()
    for c in clean:
        if c in seen:
            raise LearnerError(f"classes must be distinct: {_short(c)} appears twice")
        seen.add(c)
    return clean


def _as_numeric_array(x: Any, name: str, max_rows: int) -> np.ndarray:
    """Any array-like of numbers as an ndarray; the dtype checked, the shape not yet."""
    if x is None or isinstance(x, str | bytes | dict):
        raise LearnerError(f"{name} must be a 2-D array of numbers: got {type(x).__name__}")
    if isinstance(x, list | tuple) and len(x) > max_rows:
        raise LearnerError(f"{name} has {len(x)} samples, at most {max_rows} are allowed")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        rows = list(x) if isinstance(x, list | tuple) else []
        lengths = [len(r) if isinstance(r, list | tuple | np.ndarray) else None for r in rows]
        if rows and None not in lengths and len(set(lengths)) > 1:
            bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise LearnerError(
                f"{name} must be a 2-D array of numbers: got ragged rows "
                f"(row {bad} has {lengths[bad]} values, row 0 has {lengths[0]})"
            ) from None
        raise LearnerError(
            f"{name} must be a 2-D array of numbers: got ragged or nested rows"
        ) from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        what = "strings" if arr.dtype.kind in "US" else "values that are not numbers"
        raise LearnerError(f"{name} must be a 2-D array of numbers: got {what}")
    return arr


def _check_matrix(
    arr: np.ndarray, name: str, n_features: int | None, max_samples: int, max_features: int,
    dtype: type = np.float64, copy: bool = True,
) -> np.ndarray:
    """The 2-D checks shared by samples and pools; returns a fresh copy as `dtype`
    (or, with ``copy=False``, `arr` itself if it is one already)."""
    n, d = arr.shape
    if n == 0:
        raise LearnerError(f"{name} contains no samples: send at least one row")
    if d == 0:
        raise LearnerError(f"{name} has rows with no values: each sample needs features")
    if n > max_samples:
        raise LearnerError(f"{name} has {n} samples, at most {max_samples} are allowed")
    if d > max_features:
        raise LearnerError(f"{name} has {d} features, at most {max_features} are allowed")
    if n_features is not None and d != n_features:
        raise LearnerError(f"{name} has {d} features, the session expects {n_features}")
    with np.errstate(over="ignore"):
        out = np.array(arr, dtype=dtype, order="C", copy=True if copy else None)
    if out.dtype.kind in "ui":  # whole numbers are finite: no n x d mask to build
        return out
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        if np.isfinite(np.asarray(arr[row], dtype=np.float64)).all():
            raise LearnerError(f"{name} has a value at row {row} too large for "
                               f"{np.dtype(dtype).name} (about 3.4e38 at most)")
        raise LearnerError(f"{name} contains NaN or infinity at row {row}")
    return out


def check_samples(
    x: Any,
    n_features: int | None = None,
    max_samples: int = MAX_SAMPLES,
    *,
    max_features: int = MAX_FEATURES,
    name: str = "x",
) -> np.ndarray:
    """Samples as a fresh (n, d) float64 array: n >= 1, d >= 1, finite, d == n_features."""
    arr = _as_numeric_array(x, name, max_samples)
    if arr.ndim == 1 and arr.size == 0:
        raise LearnerError(f"{name} contains no samples: send at least one row")
    if arr.ndim != 2:
        hint = " (wrap a single sample in a list: [[...]])" if arr.ndim == 1 else ""
        raise LearnerError(
            f"{name} must be a 2-D array of numbers (samples x features): "
            f"got {arr.ndim}-D, shape {arr.shape}{hint}"
        )
    return _check_matrix(arr, name, n_features, max_samples, max_features)


def check_pool(
    pool: Any, rules: PoolRules = DEFAULT_POOL_RULES, *, name: str = "pool",
    copy: bool = True,
) -> np.ndarray:
    """A pool (or a held-out set, ``name``) as a fresh (n, d) array; images (n, h, w) and
    (n, h, w, c) are flattened to (n, h*w*c). uint8 stays uint8, floats become float32.
    ``copy=False``: the caller hands the array over (an upload just read), so it is kept
    as it is where it can be: a million digits are 748 MiB."""
    arr = _as_numeric_array(pool, name, rules.max_samples)
    check_pool_shape(arr.shape, arr.dtype, rules, name=name)
    arr = arr.reshape(arr.shape[0], math.prod(arr.shape[1:]))  # -1 fails for 0 samples
    kept = np.uint8 if arr.dtype == np.uint8 else np.float32
    return _check_matrix(arr, name, None, rules.max_samples, rules.max_features, dtype=kept,
                         copy=copy)


def check_pool_shape(shape: tuple[int, ...], dtype: np.dtype, rules: PoolRules = DEFAULT_POOL_RULES,
                     *, name: str = "pool") -> None:
    """The checks a pool passes by its shape and dtype alone, so that an upload is refused
    from its .npy header, before its body is read (``check_pool`` runs them too)."""
    dtype = np.dtype(dtype)
    if dtype.name not in rules.dtypes:
        raise LearnerError(
            f"{name} must hold {_either(rules.dtypes)} values: got {dtype.name} "
            "(convert it first, e.g. X.astype(numpy.float32))"
        )
    if len(shape) == 4 and shape[3] not in rules.channels:
        raise LearnerError(
            f"{name} images must have {_either(map(str, rules.channels))} channels: "
            f"got shape {tuple(shape)}"
        )
    if len(shape) not in (2, 3, 4):
        raise LearnerError(
            f"{name} must be an array of shape {_either(rules.shapes)}: got shape {tuple(shape)}"
        )
    if shape[0] > rules.max_samples:
        raise LearnerError(f"{name} has {shape[0]} samples, at most {rules.max_samples} "
                           "are allowed")
    features = math.prod(shape[1:])
    if features > rules.max_features:
        raise LearnerError(f"{name} has {features} features, at most {rules.max_features} "
                           "are allowed")
    if shape[0] * features > rules.max_values:
        raise LearnerError(
            f"{name} has {shape[0] * features} values ({shape[0]} x {features}), "
            f"at most {rules.max_values} are allowed"
        )


def _either(options: Any) -> str:
    """'a, b or c'."""
    options = list(options)
    return ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]


def _label_code(value: Any, codes: dict) -> int | None:
    """The position of `value` in classes, or None; 3.0, True and '3' never match 3."""
    if isinstance(value, str):
        return codes.get(str(value))
    if _is_int(value):
        return codes.get(int(value))
    return None


def check_label(label: Any, classes: Sequence[Label]) -> int:
    """One label's position in `classes` (labels are stored as these codes)."""
    code = _label_code(label, {c: i for i, c in enumerate(classes)})
    if code is None:
        raise LearnerError(
            f"label {_short(label)} is not one of the session's classes {describe_classes(classes)}"
        )
    return code


def check_labels(y: Any, classes: Sequence[Label], n: int) -> np.ndarray:
    """n labels as their int64 positions in `classes`, so the caller can store codes."""
    if isinstance(y, np.ndarray):
        if y.ndim != 1:
            raise LearnerError(f"y must be a flat list of labels: got shape {y.shape}")
        y = y.tolist()
    if not isinstance(y, list | tuple):
        raise LearnerError(f"y must be a list of labels: got {type(y).__name__}")
    if len(y) != n:
        raise LearnerError(f"y must have one label per sample: got {len(y)} labels for {n}")
    codes = {c: i for i, c in enumerate(classes)}
    out = np.empty(n, dtype=np.int64)
    for i, value in enumerate(y):
        code = _label_code(value, codes)
        if code is None:
            raise LearnerError(
                f"label {_short(value)} at position {i} is not one of the session's classes "
                f"{describe_classes(classes)}"
            )
        out[i] = code
    return out


def check_index(index: Any, n_pool: int) -> int:
    """A pool index in [0, n_pool)."""
    if not _is_int(index):
        raise LearnerError(f"index must be an integer: got {_short(index)}")
    if not 0 <= int(index) < n_pool:
        raise LearnerError(
            f"index {int(index)} is out of range: the pool has {n_pool} samples (0 to {n_pool - 1})"
        )
    return int(index)


def check_indices(values: Any, n_pool: int, name: str = "indices") -> np.ndarray:
    """Pool indices as int64, each in [0, n_pool), at most n_pool of them; repeats are
    allowed (a client's skipped and pending lists may overlap) and count once."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise LearnerError(f"{name} must be a list of pool indices: got {_short(values)}")
    if len(values) > n_pool:
        raise LearnerError(
            f"{name} lists {len(values)} indices, more than the pool's {n_pool} samples"
        )
    for position, value in enumerate(values):
        try:
            check_index(value, n_pool)
        except LearnerError as exc:
            raise LearnerError(f"{name}[{position}]: {exc}") from None
    return np.unique(np.asarray(values, dtype=np.int64))
