"""Small data for the learners' tests: sklearn's 8x8 digits and a fixed split.

Native thread pools (OpenMP in gradient boosting, OpenBLAS) are held to one thread while
these tests run: on a small, shared machine their spinning threads made tiny fits up to
ten times slower (scikit-learn issue 30662). The service gets the same advice: run
learners in a thread pool with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

DIGITS = list(range(10))


@dataclass(frozen=True)
class Digits:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@pytest.fixture(scope="session")
def digits() -> Digits:
    """All 1,797 digits: 1,347 to learn from, 450 held out."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=450, stratify=y, random_state=0
    )
    return Digits(X_train, y_train, X_test, y_test)


@pytest.fixture(scope="package", autouse=True)
def one_native_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def fits():
    """Threads for background fits, as the server's app owns them."""
    with ThreadPoolExecutor(2, thread_name_prefix="test-fit") as executor:
        yield executor
