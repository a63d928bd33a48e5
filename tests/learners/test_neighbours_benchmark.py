"""benchmarks/neighbours.py compares the learner's landmark graph with graphs of every
sample from an approximate search; this checks that those graphs are the learner's own
graph but for the search, and that the searches find the neighbours."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from backend.learners.spreading import GraphSpreading

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "neighbours.py"


@pytest.fixture(scope="module")
def neighbours():
    spec = importlib.util.spec_from_file_location("neighbours_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def embedded(digits):
    """sklearn's 1,347 training digits, their labels, and the learner's embedding."""
    X, y = digits.X_train, digits.y_train
    graph = GraphSpreading(random_state=0).fit_embedding(X, np.random.default_rng(0))
    return X, y, np.ascontiguousarray(graph._embed(X), dtype=np.float32)


def test_a_graph_from_exact_neighbours_is_the_learners_graph(neighbours, embedded) -> None:
    X, y, embedding = embedded
    learners = GraphSpreading(random_state=0).fit_graph(X)
    rows = np.arange(len(X))
    exact = neighbours.exact_neighbours(embedding, rows, 10)
    distances = np.linalg.norm(embedding[exact] - embedding[:, None], axis=2)
    built = neighbours.full_graph(GraphSpreading(random_state=0).fit_embedding(
        X, np.random.default_rng(0)), X, distances, exact)
    assert np.allclose(built.affinity_.toarray(), learners.affinity_.toarray(), atol=1e-5)
    codes = neighbours.random_labels(y, 10, seed=0)
    assert sorted(y[codes >= 0]) == list(range(10))
    assert np.array_equal(copy.copy(built).spread(codes).transduction_,
                          copy.copy(learners).spread(codes).transduction_)


@pytest.mark.parametrize("method", [
    "hnsw", pytest.param("nndescent", marks=pytest.mark.slow),  # numba compiles for a minute
])
def test_the_approximate_searches_find_nearly_every_neighbour(neighbours, embedded,
                                                              method) -> None:
    embedding = embedded[2]
    search = neighbours.hnsw_neighbours(embedding, 11) if method == "hnsw" else \
        neighbours.nndescent_neighbours(embedding, 11, seed=0)
    rows = np.arange(len(embedding))
    distances, found = neighbours.without_self(*search, rows, 10)
    assert found.shape == (len(rows), 10) and not (found == rows[:, None]).any()
    assert np.all(np.diff(distances, axis=1) >= -1e-4)  # nearest first
    assert neighbours.recall(found, neighbours.exact_neighbours(embedding, rows, 10)) > 0.95
