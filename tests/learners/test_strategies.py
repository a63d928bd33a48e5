"""Scores are in [0, 1], higher = less sure, for every measure; selectors are seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

from backend.learners import STRATEGIES
from backend.learners.diversity import diverse_sampling
from backend.learners.strategies import (
    entropy_score,
    margin_score,
    most_uncertain,
    top_k,
    uncertainty_score,
)


class FixedProba:
    """Anything with predict_proba can be queried: this one answers given rows."""

    def __init__(self, proba: list[list[float]]) -> None:
        self.proba = np.asarray(proba)
        self.classes_ = np.arange(self.proba.shape[1])

    def fit(self, X, y):  # check_is_fitted wants an estimator
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict_proba(self, X):
        return self.proba[: len(X)]


CONFIDENT, LEANING, AMBIGUOUS = [0.98, 0.01, 0.01], [0.6, 0.3, 0.1], [0.34, 0.33, 0.33]
ROWS = [CONFIDENT, LEANING, AMBIGUOUS]
X3 = np.zeros((3, 2))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_scores_in_unit_interval_and_ordered(name: str) -> None:
    scores = STRATEGIES[name](FixedProba(ROWS), X3)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[0] < scores[1] < scores[2]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_extremes(name: str) -> None:
    scores = STRATEGIES[name](FixedProba([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]), X3[:2])
    assert scores[0] == pytest.approx(0.0, abs=1e-12)
    assert scores[1] > 0.6


def test_exact_values() -> None:
    model = FixedProba([LEANING])
    assert uncertainty_score(model, X3[:1])[0] == pytest.approx(0.4)
    assert margin_score(model, X3[:1])[0] == pytest.approx(0.7)
    expected = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1)) / math.log(3)
    assert entropy_score(model, X3[:1])[0] == pytest.approx(expected)
    assert entropy_score(FixedProba([[0.5, 0.5]]), X3[:1])[0] == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_unfitted_model_scores_one(name: str) -> None:
    # modAL's own measures disagree here (entropy says 0); ours all say "knows nothing".
    assert (STRATEGIES[name](LogisticRegression(), X3) == 1.0).all()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_fitted_model_is_surer_near_a_centre(name: str) -> None:
    centers = np.array([[0.0, 0.0], [6.0, 0.0]])
    X, y = make_blobs(n_samples=80, centers=centers, random_state=0)
    model = LogisticRegression().fit(X, y)
    scores = STRATEGIES[name](model, np.array([[0.0, 0.0], [3.0, 0.0]]))
    assert scores[0] < 0.1 < 0.4 < scores[1]  # 1 - max proba stays below 1 - 1/K = 0.5


def test_top_k_highest_first_ties_seeded() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.9, 0.2])
    picked = top_k(scores, 4, random_state=0)
    assert set(picked[:3]) == {1, 3, 4} and picked[3] == 2
    assert (top_k(scores, 4, random_state=0) == picked).all()
    orders = {tuple(top_k(scores, 3, random_state=seed)) for seed in range(20)}
    assert len(orders) > 1  # ties really are broken by the seed, not by position



def test_top_k_sorts_only_the_best_yet_orders_as_a_full_sort() -> None:
    """The partial sort gives exactly what a stable sort of the whole shuffled pool would:
    the n best, ties in the seeded order, -inf (taken samples) last."""
    rng = np.random.default_rng(1)
    for _ in range(500):
        scores = rng.integers(0, 5, size=int(rng.integers(1, 60))).astype(float)
        scores[rng.random(len(scores)) < 0.2] = -np.inf
        n = int(rng.integers(1, len(scores) + 2))
        order = np.random.default_rng(3).permutation(len(scores))
        full = order[np.argsort(-scores[order], kind="stable")][:n]
        np.testing.assert_array_equal(top_k(scores, n, 3), full)
        np.testing.assert_array_equal(top_k(scores, n, 99, order), full)  # a kept order

def test_most_uncertain_is_a_modal_style_strategy() -> None:
    idx, scores = most_uncertain(FixedProba(ROWS), X3, 2, measure=margin_score)
    assert list(idx) == [2, 1]
    assert scores[0] > scores[1]


def test_diverse_sampling_is_seeded_and_skips_labeled() -> None:
    X, _ = make_blobs(n_samples=300, centers=5, random_state=1)
    a = diverse_sampling(X, 5, random_state=3)
    assert (a == diverse_sampling(X, 5, random_state=3)).all()
    assert len(set(a)) == 5
    b = diverse_sampling(X, 5, labeled=a, random_state=3)
    assert not set(a) & set(b)


def test_diverse_sampling_covers_blobs() -> None:
    X, y = make_blobs(n_samples=500, centers=5, cluster_std=0.5, random_state=2)
    picked = diverse_sampling(X, 5, random_state=0)
    assert len(set(y[picked])) >= 4


def test_diverse_sampling_on_duplicates_and_small_pools() -> None:
    X = np.ones((6, 3))
    assert sorted(diverse_sampling(X, 6, random_state=0)) == list(range(6))
    assert len(diverse_sampling(X, 10, labeled=np.array([0, 1]), random_state=0)) == 4
    assert len(diverse_sampling(X, 3, labeled=np.arange(6), random_state=0)) == 0
