"""Real data sets of every kind to label: tables, text and colour images.

Each loader gives an ``Example``: the items as a person sees them (a DataFrame, a list of
strings, or colour images), the true class of each, and where the data came from. None of
them was written by alsats; none needs the network. Sources and licenses:

- ``load_penguins``: the Palmer penguins table (species from island, bill, flipper, body
  mass, sex, year; values missing), from the ``palmerpenguins`` package on PyPI. Data by
  Dr. Kristen Gorman and the Palmer Station LTER, CC0 1.0.
- ``load_wine``: scikit-learn's copy of the UCI wine recognition table (13 measurements
  of wines from three cultivars; Forina et al.), CC BY 4.0.
- ``load_docstrings``: the docstrings of Python's own standard library, grouped by the
  package they document (``asyncio``, ``email``, ...), read from the running Python, PSF
  license. The texts change a little from one Python version to the next.
- ``load_fortunes``: the quotes of Debian's ``fortunes`` package (the BSD fortune
  files), grouped by their category file (``food``, ``law``, ``linux``, ...), BSD license.
  Debian and Ubuntu only: ``apt-get install fortunes``.
- ``load_photo_patches``: 32x32 colour patches cut from the photographs that ship inside
  the ``scikit-image`` wheel, grouped by photograph (the astronaut, the cat, the coffee,
  the Hubble deep field, the stained tissue, the rocket). Public domain or CC0, as
  scikit-image's ``skimage.data`` says of each. Read from the wheel's files, so
  scikit-image never tries to download anything.

Every loader takes ``max_per_class`` (a seeded subsample, so tests and tutorials stay
fast) and ``random_state``; the same arguments give the same items on every call. A data
set that is not installed raises ``DatasetError`` saying how to install it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from .datasets import DatasetError

FORTUNE_FOLDERS = ("/usr/share/games/fortunes", "/usr/share/fortune", "/usr/share/fortunes")
# Categories whose quotes a person can tell apart, and a learner too (see load_fortunes).
FORTUNE_CATEGORIES = ("food", "law", "linux", "love", "sports", "startrek")
# Standard-library packages with a few hundred docstrings each, on every Python >= 3.10.
DOCSTRING_PACKAGES = ("asyncio", "email", "http", "logging", "unittest", "xml")
MIN_DOCSTRING = 60  # characters: "Return the value." says nothing a person could label
PHOTOS = {  # class -> file in scikit-image's data folder (all ship in its wheel)
    "astronaut": "astronaut.png",
    "cat": "chelsea.png",
    "coffee": "coffee.png",
    "galaxies": "hubble_deep_field.jpg",
    "rocket": "rocket.jpg",
    "tissue": "ihc.png",
}
PATCH = 32  # pixels: big enough to see what it shows, small enough for 100+ per photo
MIN_PATCH_STD = 4.0  # grey levels: a patch flatter than this (sky, black) shows nothing


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise, not a bool
class Example:
    """Items a person labels, their true classes, and where they came from.

    ``items`` is what the widget shows (one per row of ``target``): a DataFrame without
    the target column, a list of strings, or an (n, height, width, 3) uint8 array.
    ``target`` holds the class of each item, ``classes`` the sorted class names.
    """

    items: Any
    target: np.ndarray
    classes: tuple[str, ...]
    name: str
    description: str
    source: str

    def __post_init__(self) -> None:
        if len(self.items) != len(self.target):
            raise DatasetError(f"{self.name}: {len(self.items)} items but "
                               f"{len(self.target)} targets")
        if tuple(sorted(set(self.target.tolist()))) != self.classes:
            raise DatasetError(f"{self.name}: classes {self.classes} are not the sorted "
                               "classes of the targets")

    def __len__(self) -> int:
        return len(self.target)


# -- tables ------------------------------------------------------------------------------

def load_penguins(*, max_per_class: int | None = None, random_state: int = 0) -> Example:
    """The Palmer penguins: 344 birds of 3 species from 7 columns, some values missing.

    A table with numeric and categorical columns and gaps: what ``table_features`` is for.
    """
    try:
        from palmerpenguins import load_penguins as _load
    except ImportError as error:
        raise DatasetError("the penguins table comes with the palmerpenguins package: "
                           "pip install palmerpenguins") from error
    frame = _load()
    target = frame.pop("species").to_numpy(dtype=str)
    return _example(frame, target, "penguins", max_per_class, random_state,
                    description="Penguins of the Palmer Archipelago (Antarctica): species "
                    "from island, bill length and depth, flipper length, body mass, sex "
                    "and year; some values missing.",
                    source="palmerpenguins (PyPI): data by K. Gorman and the Palmer "
                    "Station LTER, CC0 1.0")


def load_wine(*, max_per_class: int | None = None, random_state: int = 0) -> Example:
    """178 wines of 3 cultivars from 13 chemical measurements (all numeric, none missing)."""
    from sklearn.datasets import load_wine as _load

    bunch = _load(as_frame=True)
    target = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return _example(bunch.data, target.astype(str), "wine", max_per_class, random_state,
                    description="Wines grown in one region of Italy: the cultivar "
                    "(class_0, class_1, class_2) from 13 chemical measurements.",
                    source="scikit-learn load_wine: UCI wine recognition data "
                    "(Forina et al.), CC BY 4.0")


# -- text --------------------------------------------------------------------------------

def load_docstrings(packages: Sequence[str] = DOCSTRING_PACKAGES, *,
                    max_per_class: int | None = None, random_state: int = 0) -> Example:
    """Docstrings of Python's standard library, each labelled with the package it is from.

    Module, class, function and method docstrings of at least 60 characters, from the
    public modules of each package; the same text twice is kept once. Nothing to install.
    """
    texts: list[str] = []
    target: list[str] = []
    for package in sorted(set(packages)):
        found = sorted(_package_docstrings(package))
        if not found:
            raise DatasetError(f"no docstrings found in the standard library package "
                               f"{package!r}: is it part of this Python?")
        texts += found
        target += [package] * len(found)
    _require_classes(target, "docstrings")
    return _example(texts, np.asarray(target), "docstrings", max_per_class, random_state,
                    description="Docstrings of Python's standard library: which package "
                    f"({', '.join(sorted(set(packages)))}) each one documents.",
                    source="the Python standard library's own docstrings, PSF license")


def load_fortunes(categories: Sequence[str] = FORTUNE_CATEGORIES, *,
                  folder: str | Path | None = None, max_per_class: int | None = None,
                  random_state: int = 0) -> Example:
    """Quotes from Debian's fortune files, each labelled with its category file.

    The default categories are ones a person tells apart by their topic. ``folder`` is
    where the fortune files are (Debian's place, or another distribution's, if None).
    """
    where = _fortune_folder(folder, categories)
    texts: list[str] = []
    target: list[str] = []
    for category in sorted(set(categories)):
        quotes = sorted(set(_read_fortunes(where / category)))
        texts += quotes
        target += [category] * len(quotes)
    _require_classes(target, "fortunes")
    return _example(texts, np.asarray(target), "fortunes", max_per_class, random_state,
                    description="Quotes from the BSD fortune files: which category "
                    f"({', '.join(sorted(set(categories)))}) each one is filed under.",
                    source=f"Debian package fortunes ({where}), BSD license")


# -- colour images -----------------------------------------------------------------------

def load_photo_patches(*, size: int = PATCH, max_per_class: int | None = None,
                       random_state: int = 0) -> Example:
    """Colour patches of scikit-image's sample photographs, labelled with their photo.

    Each photo is cut into a grid of ``size`` x ``size`` patches that do not overlap (so
    no two patches share a pixel, and a held-out patch is new), leaving out flat ones
    (sky, black) that show nothing. Items are an (n, size, size, 3) uint8 array.
    """
    from PIL import Image

    if size < 8:
        raise DatasetError(f"size must be at least 8 pixels: got {size}")
    folder = _skimage_data()
    patches: list[np.ndarray] = []
    target: list[str] = []
    for label, filename in sorted(PHOTOS.items()):
        with Image.open(folder / filename) as image:
            pixels = np.asarray(image.convert("RGB"))
        cut = _grid_patches(pixels, size)
        patches.append(cut)
        target += [label] * len(cut)
    return _example(np.concatenate(patches), np.asarray(target), "photo patches",
                    max_per_class, random_state,
                    description=f"{size}x{size} colour patches of six photographs: which "
                    f"photo ({', '.join(sorted(PHOTOS))}) each one was cut from.",
                    source="scikit-image's sample photographs (skimage.data): public "
                    "domain or CC0 (NASA, SpaceX, Stefan van der Walt, Rachel Michetti, "
                    "the Human Protein Atlas)")


# -- helpers -----------------------------------------------------------------------------

def _example(items: Any, target: np.ndarray, name: str, max_per_class: int | None,
             random_state: int, *, description: str, source: str) -> Example:
    """An Example of the rows ``_subsample`` keeps, in their original order."""
    keep = _subsample(target, max_per_class, random_state)
    if isinstance(items, pd.DataFrame):
        items = items.iloc[keep].reset_index(drop=True)
    elif isinstance(items, np.ndarray):
        items = items[keep]
    else:
        items = [items[i] for i in keep]
    target = target[keep]
    classes = tuple(str(c) for c in np.unique(target))
    return Example(items, target, classes, name, description, source)


def _subsample(target: np.ndarray, max_per_class: int | None, random_state: int) -> np.ndarray:
    """Indices of at most ``max_per_class`` rows of each class, seeded, in order."""
    if max_per_class is None:
        return np.arange(len(target))
    if not isinstance(max_per_class, int | np.integer) or max_per_class < 1:
        raise DatasetError(f"max_per_class must be a positive integer: got {max_per_class!r}")
    rng = np.random.default_rng(random_state)
    chosen = [rng.permutation(np.flatnonzero(target == c))[:max_per_class]
              for c in np.unique(target)]
    return np.sort(np.concatenate(chosen))


def _require_classes(target: Sequence[str], name: str) -> None:
    if len(set(target)) < 2:
        raise DatasetError(f"{name}: at least 2 classes are needed, got {sorted(set(target))}")


def _package_docstrings(package: str) -> set[str]:
    """The cleaned docstrings of ``package``'s public modules and what they define."""
    found: set[str] = set()
    for module in _public_modules(package):
        for doc in _module_docstrings(module):
            doc = inspect.cleandoc(doc)
            if len(doc) >= MIN_DOCSTRING:
                found.add(doc)
    return found


def _public_modules(package: str) -> Iterator[ModuleType]:
    """The package and its submodules, leaving out private and test modules and those
    that cannot be imported here (a missing C library, a platform's own module)."""
    with warnings.catch_warnings():  # deprecated modules warn on import: not our concern
        warnings.simplefilter("ignore")
        try:
            root = importlib.import_module(package)
        except ImportError:
            return
        yield root
        for info in pkgutil.walk_packages(getattr(root, "__path__", []), package + "."):
            parts = info.name.split(".")[1:]
            if any(p.startswith("_") or p in ("test", "tests") for p in parts):
                continue
            try:
                yield importlib.import_module(info.name)
            except Exception:  # any failure to import just leaves the module out
                continue


def _module_docstrings(module: ModuleType) -> Iterator[str]:
    """Docstrings of the module, its own classes and functions, and their methods."""
    if module.__doc__:
        yield module.__doc__
    for value in list(vars(module).values()):
        if getattr(value, "__module__", None) != module.__name__:
            continue  # imported from elsewhere: documented there
        if inspect.isfunction(value) and value.__doc__:
            yield value.__doc__
        elif inspect.isclass(value):
            if value.__doc__:
                yield value.__doc__
            yield from _method_docstrings(value)


def _method_docstrings(cls: type) -> Iterable[str]:
    for attribute in vars(cls).values():
        function = getattr(attribute, "__func__", attribute)  # static and class methods
        if inspect.isfunction(function) and function.__doc__:
            yield function.__doc__


def _fortune_folder(folder: str | Path | None, categories: Sequence[str]) -> Path:
    """The folder holding every category file, or a DatasetError saying how to get one."""
    candidates = [Path(folder)] if folder is not None else [Path(f) for f in FORTUNE_FOLDERS]
    for candidate in candidates:
        missing = [c for c in categories if not (candidate / c).is_file()]
        if not missing:
            return candidate
    where = candidates[0] if folder is not None else " or ".join(FORTUNE_FOLDERS)
    raise DatasetError(f"the fortune files {', '.join(categories)} are not in {where}: "
                       "install Debian's fortunes package (sudo apt-get install fortunes, "
                       "on Debian or Ubuntu), or pass folder= a folder that holds them. "
                       "load_docstrings() gives text to label with nothing to install")


def _read_fortunes(path: Path) -> list[str]:
    """The quotes of one fortune file: separated by lines of '%', overstriking removed."""
    text = _without_overstriking(path.read_text(encoding="utf-8", errors="replace"))
    quotes = (q.strip() for q in re.split(r"^%\s*$", text, flags=re.MULTILINE))
    return [q for q in quotes if q]


def _without_overstriking(text: str) -> str:
    r"""Text as a terminal shows it: a backspace takes back the character before it, so
    "_\bx" (underlined) and "___\b\b\bnot" both leave the letters alone."""
    while True:
        erased = re.sub(r"[^\x08\n]\x08", "", text)
        if erased == text:
            return text.replace("\x08", "")  # a backspace at a line's start erases nothing
        text = erased


def _skimage_data() -> Any:
    """scikit-image's data folder, as shipped in its wheel."""
    try:
        folder = resources.files("skimage") / "data"
    except ModuleNotFoundError as error:
        raise DatasetError("the sample photographs come with scikit-image: "
                           "pip install scikit-image") from error
    missing = [f for f in PHOTOS.values() if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"scikit-image's data folder lacks {', '.join(missing)}: "
                           "reinstall scikit-image (pip install --force-reinstall "
                           "scikit-image)")
    return folder


def _grid_patches(pixels: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size x size patches of an (h, w, 3) image, flat ones left out."""
    rows, cols = pixels.shape[0] // size, pixels.shape[1] // size
    grid = pixels[:rows * size, :cols * size].reshape(rows, size, cols, size, 3)
    patches = grid.transpose(0, 2, 1, 3, 4).reshape(-1, size, size, 3)
    spread = patches.reshape(len(patches), -1).astype(np.float32).std(axis=1)
    return np.ascontiguousarray(patches[spread >= MIN_PATCH_STD])
