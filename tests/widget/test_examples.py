"""The example data sets: real data of every kind, deterministic, and clear when missing."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from alsats_widget.datasets import DatasetError
from alsats_widget.examples import (
    FORTUNE_CATEGORIES,
    MIN_PATCH_STD,
    PHOTOS,
    Example,
    load_docstrings,
    load_fortunes,
    load_penguins,
    load_photo_patches,
    load_wine,
)

LOADERS = [load_penguins, load_wine, load_docstrings, load_fortunes, load_photo_patches]


@pytest.mark.parametrize("load", LOADERS)
def test_every_example_has_three_or_more_classes_of_real_items(load):
    example = load()
    assert isinstance(example, Example)
    assert len(example.classes) >= 3
    assert example.classes == tuple(sorted(set(example.target.tolist())))
    assert len(example.items) == len(example.target) == len(example) >= 150
    counts = pd.Series(example.target).value_counts()
    assert counts.min() >= 40, counts  # each class has enough items to learn and measure
    assert example.source and example.description and example.name


@pytest.mark.parametrize("load", LOADERS)
def test_the_same_arguments_give_the_same_items(load):
    first, second = load(max_per_class=20, random_state=3), load(max_per_class=20,
                                                                 random_state=3)
    np.testing.assert_array_equal(first.target, second.target)
    assert _as_list(first.items) == _as_list(second.items)


@pytest.mark.parametrize("load", LOADERS)
def test_max_per_class_keeps_a_seeded_subsample_of_each_class(load):
    full = load()
    small = load(max_per_class=10, random_state=0)
    other = load(max_per_class=10, random_state=1)
    assert pd.Series(small.target).value_counts().to_dict() == dict.fromkeys(full.classes, 10)
    assert small.classes == full.classes
    kept = _as_list(small.items)
    everything = _as_list(full.items)
    assert all(item in everything for item in kept)  # a subset, not new items
    assert kept != _as_list(other.items)  # the seed chooses


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_max_per_class_must_be_a_positive_integer(bad):
    with pytest.raises(DatasetError, match="max_per_class"):
        load_wine(max_per_class=bad)


def test_penguins_is_a_table_with_categories_and_gaps_without_its_target():
    example = load_penguins()
    assert isinstance(example.items, pd.DataFrame)
    assert "species" not in example.items.columns
    assert {"island", "sex", "bill_length_mm", "body_mass_g"} <= set(example.items.columns)
    assert example.items.isna().any().any()  # what table_features must impute
    assert example.classes == ("Adelie", "Chinstrap", "Gentoo")


def test_wine_is_thirteen_numeric_columns():
    example = load_wine()
    assert example.items.shape == (178, 13)
    assert all(pd.api.types.is_numeric_dtype(t) for t in example.items.dtypes)
    assert example.classes == ("class_0", "class_1", "class_2")


def test_docstrings_are_texts_of_the_packages_they_document():
    example = load_docstrings(["json", "asyncio", "email"])
    assert example.classes == ("asyncio", "email", "json")
    assert all(isinstance(t, str) and len(t) >= 60 for t in example.items)
    assert len(set(example.items)) == len(example.items)  # no text twice
    asyncio_texts = [t for t, c in zip(example.items, example.target, strict=True)
                     if c == "asyncio"]
    assert sum("loop" in t.lower() or "future" in t.lower() for t in asyncio_texts) > 20


def test_an_unknown_stdlib_package_is_named_in_the_error():
    with pytest.raises(DatasetError, match="no_such_package_here"):
        load_docstrings(["json", "asyncio", "no_such_package_here"])


def test_fortunes_are_debians_quotes_by_category():
    example = load_fortunes()
    assert example.classes == tuple(sorted(FORTUNE_CATEGORIES))
    assert "Debian package fortunes" in example.source
    assert all(isinstance(t, str) and t.strip() == t and t for t in example.items)
    assert not any("\x08" in t for t in example.items)  # overstriking removed
    assert any("my client is *not* a murderer" in t for t in example.items)
    assert not any(line.strip() == "%" for t in example.items for line in t.splitlines())
    trek = [t for t, c in zip(example.items, example.target, strict=True) if c == "startrek"]
    assert sum("Kirk" in t or "Spock" in t or "Enterprise" in t for t in trek) > 20


def test_fortune_files_are_split_on_percent_lines_and_overstriking_is_removed(tmp_path):
    (tmp_path / "one").write_text("First quote,\n  two lines.\n%\n_\bb_\bo_\bl_\bd x\n%\n\n%\n"
                                  "*___\b\b\bnot*\n")
    (tmp_path / "two").write_text("Only one\n")
    (tmp_path / "six").write_text("a\n%\nb\n%\na\n")
    example = load_fortunes(["one", "two", "six"], folder=tmp_path)
    assert list(zip(example.items, example.target, strict=True)) == [
        ("*not*", "one"), ("First quote,\n  two lines.", "one"), ("bold x", "one"),
        ("a", "six"), ("b", "six"), ("Only one", "two")]  # sorted in each file, once each


def test_missing_fortunes_say_how_to_install_them(tmp_path):
    with pytest.raises(DatasetError, match=r"apt-get install fortunes") as raised:
        load_fortunes(folder=tmp_path)
    assert str(tmp_path) in str(raised.value)
    assert "load_docstrings()" in str(raised.value)  # and what works with nothing installed


def test_missing_palmerpenguins_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "palmerpenguins", None)  # as if not installed
    with pytest.raises(DatasetError, match="pip install palmerpenguins"):
        load_penguins()


def test_missing_scikit_image_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)  # as if not installed
    with pytest.raises(DatasetError, match="pip install scikit-image"):
        load_photo_patches()


def test_photo_patches_are_colour_images_that_show_something():
    example = load_photo_patches()
    assert example.items.dtype == np.uint8 and example.items.shape[1:] == (32, 32, 3)
    assert example.classes == tuple(sorted(PHOTOS))
    spread = example.items.reshape(len(example), -1).astype(np.float32).std(axis=1)
    assert spread.min() >= MIN_PATCH_STD
    colour = np.abs(example.items[..., 0].astype(int) - example.items[..., 2]).mean()
    assert colour > 5  # red and blue differ: colour photographs, not grey ones
    means = {c: example.items[example.target == c].mean(axis=(0, 1, 2)) for c in PHOTOS}
    assert means["galaxies"].sum() < means["cat"].sum()  # deep space is dark


def test_smaller_patches_are_more_patches_and_a_tiny_size_is_refused():
    assert len(load_photo_patches(size=16)) > 3 * len(load_photo_patches())
    with pytest.raises(DatasetError, match="at least 8"):
        load_photo_patches(size=4)


def _as_list(items) -> list:
    """Items in a form == compares whole: rows, texts or image bytes."""
    if isinstance(items, pd.DataFrame):
        return [tuple(map(str, row)) for row in items.itertuples(index=False)]
    if isinstance(items, np.ndarray):
        return [image.tobytes() for image in items]
    return list(items)
