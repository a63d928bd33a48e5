"""Bad input gets a message that says what is wrong; good input comes back clean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.config import Limits, PoolRules
from backend.learners import LearnerError, check_classes, check_labels, check_pool, check_samples
from backend.learners.validation import (
    check_index,
    check_indices,
    check_label,
    check_threshold,
)

from .conftest import DIGITS

BAD_SAMPLES = [
    ([[1, 2], [3]], "x must be a 2-D array of numbers: got ragged rows (row 1 has 1 values"),
    ([[1, [2, 3]]], "got ragged or nested rows"),
    ([np.zeros(3), np.zeros(2)], "got ragged rows (row 1 has 2 values, row 0 has 3)"),
    ([1.0, 2.0, 3.0], "got 1-D, shape (3,) (wrap a single sample in a list"),
    (np.zeros((2, 2, 2)), "must be a 2-D array of numbers (samples x features): got 3-D"),
    (5, "got 0-D"),
    ([], "x contains no samples"),
    (np.zeros((0, 4)), "x contains no samples"),
    ([[]], "x has rows with no values"),
    ([["a", "b"]], "x must be a 2-D array of numbers: got strings"),
    ([[1, None]], "got values that are not numbers"),
    ([[2**70]], "got values that are not numbers"),
    (np.array([[1 + 2j]]), "got values that are not numbers"),
    ("1,2,3", "x must be a 2-D array of numbers: got str"),
    (None, "got NoneType"),
    ({"x": 1}, "got dict"),
    ([[0.0, 1.0]] * 3 + [[math.nan, 1.0]], "x contains NaN or infinity at row 3"),
    ([[0.0, math.inf]], "x contains NaN or infinity at row 0"),
    (np.array([[1.0, -np.inf], [1.0, 2.0]]), "at row 0"),
]


@pytest.mark.parametrize(("x", "message"), BAD_SAMPLES)
def test_bad_samples(x, message: str) -> None:
    with pytest.raises(LearnerError) as err:
        check_samples(x)
    assert message in str(err.value)


def test_feature_count_and_size_limits() -> None:
    with pytest.raises(LearnerError, match="^x has 783 features, the session expects 784$"):
        check_samples(np.zeros((2, 783)), n_features=784)
    with pytest.raises(LearnerError, match="x has 11 samples, at most 10 are allowed"):
        check_samples([[0.0]] * 11, max_samples=10)
    with pytest.raises(LearnerError, match="x has 11 samples, at most 10 are allowed"):
        check_samples(np.zeros((11, 1)), max_samples=10)
    with pytest.raises(LearnerError, match="x has 5 features, at most 4 are allowed"):
        check_samples(np.zeros((1, 5)), max_features=4)


@pytest.mark.parametrize(
    "x",
    [
        [[1, 2, 3]],
        [(1, 2.5, -3)],
        np.arange(6, dtype=np.uint8).reshape(2, 3),
        np.ones((2, 3), dtype=np.float32),
        np.array([[True, False, True]]),
        [[np.int64(1), np.float32(2.0), 3]],
    ],
)
def test_good_samples_become_fresh_float64(x) -> None:
    out = check_samples(x, n_features=3)
    assert out.dtype == np.float64 and out.ndim == 2 and out.shape[1] == 3
    assert out.flags.c_contiguous
    if isinstance(x, np.ndarray):
        assert not np.shares_memory(out, x)


def test_samples_are_copied() -> None:
    x = np.zeros((2, 2))
    out = check_samples(x)
    x[0, 0] = 5.0
    assert out[0, 0] == 0.0


def test_pool_flattens_images_and_checks_like_samples() -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    pool = check_pool(images)
    assert pool.shape == (2, 784) and pool.dtype == np.uint8  # pixels stay pixels
    assert check_pool(images.astype(np.float64)).dtype == np.float32
    assert (pool[1] == images[1].ravel()).all()
    colour = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    assert (check_pool(colour) == colour.reshape(2, 60)).all()  # (n, h, w, c) too
    assert check_pool(np.zeros((2, 3, 3, 4), np.float32)).shape == (2, 36)  # RGBA
    with pytest.raises(LearnerError, match="pool must hold uint8, float32 or float64 values: "
                                           r"got int64 \(convert it first"):
        check_pool(images.astype(np.int64))
    with pytest.raises(LearnerError, match="value at row 1 too large for float32"):
        check_pool(np.array([[1.0], [1e300]]))
    with pytest.raises(LearnerError, match=r"pool images must have 1, 3 or 4 channels: got "
                                           r"shape \(2, 2, 2, 2\)"):
        check_pool(np.zeros((2, 2, 2, 2)))
    with pytest.raises(LearnerError, match=r"pool must be an array of shape \(n, d\), "):
        check_pool(np.zeros((2, 2, 2, 3, 1)))
    with pytest.raises(LearnerError, match="pool contains NaN or infinity at row 1"):
        check_pool(np.array([[1.0], [np.nan]]))
    with pytest.raises(LearnerError, match="pool has 3 samples, at most 2 are allowed"):
        check_pool(np.zeros((3, 1)), PoolRules(max_samples=2))
    with pytest.raises(LearnerError, match="pool has 12 values"):
        check_pool(np.zeros((3, 4)), PoolRules(max_values=10))
    with pytest.raises(LearnerError, match="pool has 5 features, at most 4"):
        check_pool(np.zeros((3, 5)), PoolRules(max_features=4))


def test_pool_rules_are_published_as_they_check() -> None:
    rules = Limits(max_pool_samples=7, max_features=9).pool_rules()
    assert rules.published() == {
        "shapes": ["(n, d)", "(n, h, w)", "(n, h, w, c)"],
        "dtypes": ["uint8", "float32", "float64"], "channels": [1, 3, 4],
        "max_samples": 7, "max_features": 9, "max_values": rules.max_values}
    with pytest.raises(LearnerError, match="at most 7 are allowed"):
        check_pool(np.zeros((8, 2)), rules)


BAD_CLASSES = [
    ([0], "classes must list 2 to 1000 labels: got 1"),
    (list(range(1001)), "got 1001"),
    ([1, 2, 1], "classes must be distinct: 1 appears twice"),
    (["a", "b", "a"], "classes must be distinct: 'a' appears twice"),
    ([1, "b"], "classes must be all ints or all strings: got int, str"),
    ([1.0, 2.0], "got float"),
    ([True, False], "got bool"),
    ("ab", "classes must be a list of ints or strings: got 'ab'"),
    (None, "got None"),
]


@pytest.mark.parametrize(("classes", "message"), BAD_CLASSES)
def test_bad_classes(classes, message: str) -> None:
    with pytest.raises(LearnerError) as err:
        check_classes(classes)
    assert message in str(err.value)


def test_good_classes_are_native() -> None:
    assert check_classes(np.arange(3)) == [0, 1, 2]
    assert type(check_classes(np.arange(3))[0]) is int
    assert check_classes(("cat", "dog")) == ["cat", "dog"]
    assert check_classes(np.array(["cat", "dog"])) == ["cat", "dog"]


BAD_LABELS = [
    ([11], 1, "label 11 at position 0 is not one of the session's classes [0, ..., 9]"),
    ([1, "3"], 2, "label '3' at position 1 is not one of"),
    ([3.0], 1, "label 3.0 at position 0"),
    ([True], 1, "label True at position 0"),
    ([None], 1, "label None at position 0"),
    ([1, 2], 1, "y must have one label per sample: got 2 labels for 1"),
    ("1", 1, "y must be a list of labels: got str"),
    (np.array([[1]]), 1, "y must be a flat list of labels: got shape (1, 1)"),
]


@pytest.mark.parametrize(("y", "n", "message"), BAD_LABELS)
def test_bad_labels(y, n: int, message: str) -> None:
    with pytest.raises(LearnerError) as err:
        check_labels(y, DIGITS, n)
    assert message in str(err.value)


def test_labels_become_class_positions() -> None:
    assert check_labels([9, 0, np.int64(3)], DIGITS, 3).tolist() == [9, 0, 3]
    assert check_labels(np.array([2, 2]), DIGITS, 2).dtype == np.int64
    names = ["cat", "dog", "bird"]
    assert check_labels(np.array(["bird", "cat"]), names, 2).tolist() == [2, 0]
    with pytest.raises(
        LearnerError,
        match=r"label 1 at position 0 is not one of the session's "
        r"classes \['cat', 'dog', 'bird'\]",
    ):
        check_labels([1], names, 1)


def test_single_label_and_index() -> None:
    assert check_label(np.int32(4), DIGITS) == 4
    with pytest.raises(LearnerError, match=r"^label 10 is not one of the session's classes"):
        check_label(10, DIGITS)
    assert check_index(np.int64(5), 6) == 5
    with pytest.raises(LearnerError, match=r"index 6 is out of range: the pool has 6 samples"):
        check_index(6, 6)
    with pytest.raises(LearnerError, match="index -1 is out of range"):
        check_index(-1, 6)
    with pytest.raises(LearnerError, match="index must be an integer: got 1.0"):
        check_index(1.0, 6)
    with pytest.raises(LearnerError, match="index must be an integer: got True"):
        check_index(True, 6)


def test_indices_are_checked_deduplicated_and_sorted() -> None:
    assert check_indices([4, 1, 4, np.int64(0)], 6).tolist() == [0, 1, 4]
    assert check_indices(np.array([5, 5]), 6).tolist() == [5]
    assert check_indices([], 6).dtype == np.int64 and check_indices((), 6).size == 0
    assert check_indices([0] * 6, 6).tolist() == [0]  # as long as the pool: allowed


BAD_INDICES = [
    (None, "exclude must be a list of pool indices: got None"),
    (3, "exclude must be a list of pool indices: got 3"),
    ("012", "exclude must be a list of pool indices: got '012'"),
    ({"0": 1}, "exclude must be a list of pool indices"),
    ([0] * 7, "exclude lists 7 indices, more than the pool's 6 samples"),
    ([0, 6], "exclude[1]: index 6 is out of range: the pool has 6 samples (0 to 5)"),
    ([-1], "exclude[0]: index -1 is out of range"),
    ([1, True], "exclude[1]: index must be an integer: got True"),
    ([1.0], "exclude[0]: index must be an integer: got 1.0"),
    (["1"], "exclude[0]: index must be an integer: got '1'"),
    ([[1]], "exclude[0]: index must be an integer: got [1]"),
    (np.array([1.0]), "exclude[0]: index must be an integer: got 1.0"),
    (np.array([True]), "exclude[0]: index must be an integer: got True"),
]


@pytest.mark.parametrize(("values", "message"), BAD_INDICES)
def test_bad_indices(values, message: str) -> None:
    with pytest.raises(LearnerError) as err:
        check_indices(values, 6, "exclude")
    assert message in str(err.value)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf, "0.5", None, True])
def test_bad_threshold(bad) -> None:
    with pytest.raises(LearnerError, match="threshold must be"):
        check_threshold(bad)


def test_messages_stay_short_for_huge_values() -> None:
    with pytest.raises(LearnerError) as err:
        check_labels(["x" * 10_000], ["a", "b"], 1)
    assert len(str(err.value)) < 200
