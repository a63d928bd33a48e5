"""A pool is made what the server takes, or refused with its fix, by the rules of /info."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from alsats_widget.pool_check import PoolInputError, prepared_pool
from backend.config import PoolRules
from backend.learners import check_pool

RULES = PoolRules().published()


@pytest.mark.parametrize("samples", [
    np.arange(12, dtype=np.int64).reshape(3, 4),        # ints: float32
    np.array([[True, False], [False, True]]),            # booleans: float32
    np.ones((2, 3), np.float16),                         # float16: float32
    pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}),       # a frame of numbers
    sparse.random(5, 8, density=0.3, format="csr", random_state=0),  # TF-IDF-like
    np.zeros((2, 4, 5, 3), np.uint8),                   # RGB images
    np.zeros((2, 4, 5, 4), np.float64),                 # RGBA images
])
def test_what_is_near_a_pool_is_made_one_the_server_takes(samples) -> None:
    pool = prepared_pool(samples, RULES)
    assert pool.dtype.name in RULES["dtypes"]
    dense = samples.toarray() if sparse.issparse(samples) else np.asarray(samples)
    assert (pool == dense.astype(pool.dtype)).all()
    check_pool(pool)  # and the server's own check agrees


@pytest.mark.parametrize(("samples", "message"), [
    (np.array([["a", "b"]]), "pool holds text, not numbers: make features first with "
                             r"alsats_widget.features: text_features\(texts\)"),
    (pd.DataFrame({"colour": ["red", "blue"]}), "pool holds object values, not numbers"),
    ([[1.0, 2.0], [3.0]], r"pool is not one array \(rows of different lengths\?\)"),
    (np.zeros((2, 3, 3, 2)), r"pool has shape \(2, 3, 3, 2\); the server takes"),
    (np.zeros(5), r"pool has shape \(5,\)"),
    (np.zeros((0, 3)), "it holds no samples"),
    (np.array([[1.0], [np.inf]]), "pool has NaN or infinity at row 1: fill in missing"),
    (np.zeros((2, 300, 300)), "pool's samples have 90,000 values each; the server takes at "
                              "most 65,536: reduce them"),
    (sparse.random(3, 70_000, density=1e-4, format="csr"),
     r"pool is a sparse 3 x 70000 matrix; sent dense it is more than the server takes"),
])
def test_what_the_server_would_refuse_names_the_fix(samples, message) -> None:
    with pytest.raises(PoolInputError, match=message):
        prepared_pool(samples, RULES)


def test_the_limits_are_the_servers(tmp_path) -> None:
    small = PoolRules(max_samples=3, max_values=10).published()
    with pytest.raises(PoolInputError, match="pool has 4 samples; the server takes at most 3"):
        prepared_pool(np.zeros((4, 1)), small)
    with pytest.raises(PoolInputError, match="pool has 12 values; the server takes at most 10"):
        prepared_pool(np.zeros((3, 4)), small)
