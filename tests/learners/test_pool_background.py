"""Pool mode's default learner, its background fits and its near-duplicate rule."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from backend.learners import LearnerError, PoolLearner, StreamLearner
from backend.learners.registry import DEFAULT_POOL_ESTIMATOR

from .conftest import DIGITS


def teach_first(learner: PoolLearner, y: np.ndarray, n: int) -> None:
    learner.teach_many(list(range(n)), y[:n].tolist())


def test_pool_modes_default_learns_from_the_pool(digits) -> None:
    """On images, the default (auto) spreads the labels over the pool, as label
    spreading does, and beats a model of the labels alone."""
    X, y = digits.X_train, digits.y_train
    default = PoolLearner(X, DIGITS)
    supervised = PoolLearner(X, DIGITS, estimator="logistic_regression")
    accuracy = []
    for learner in (default, supervised):
        teach_first(learner, y, 30)
        learner.set_holdout(digits.X_test)
        accuracy.append(np.mean(learner.holdout_predictions()["predicted"] == digits.y_test))
    assert default._estimator == DEFAULT_POOL_ESTIMATOR == "auto"
    assert default.choice["estimator"] == "label_spreading"
    assert accuracy[0] > 0.9 > accuracy[1] + 0.03


@pytest.mark.parametrize("estimator", ["label_spreading", "auto"])
def test_streamed_mode_refuses_a_learner_that_needs_the_pool(estimator) -> None:
    with pytest.raises(LearnerError, match="pool mode only"):
        StreamLearner(DIGITS, estimator=estimator)


class HeldFits:
    """Holds the learner's real fits until released (a gate, not a fake: the fit that
    runs is the learner's own), counting them, so a test can see who waits for whom."""

    def __init__(self, learner: PoolLearner) -> None:
        self.open = threading.Event()
        self.started = threading.Semaphore(0)
        self.count = 0
        fit = learner._fit

        def held(labels):
            self.count += 1
            self.started.release()
            assert self.open.wait(30)
            return fit(labels)

        learner._fit = held


def test_a_query_never_waits_for_a_fit_and_says_which_model_ranked(digits, fits) -> None:
    X, y = digits.X_train, digits.y_train
    learner = PoolLearner(X, DIGITS, estimator="random_forest", fits=fits)
    teach_first(learner, y, 20)
    assert learner.settle(30)
    first = learner.query(1)
    assert first["model_version"] == first["labels_version"] == 1
    gate = HeldFits(learner)
    i = first["samples"][0]["index"]
    assert learner.teach(i, int(y[i]))["model_version"] == 2  # kept, not yet fitted
    assert gate.started.acquire(timeout=30)  # the fit is running, and held
    answer = learner.query(5)
    assert answer["model_version"] == 1 and answer["labels_version"] == 2
    assert i not in [s["index"] for s in answer["samples"]]  # labeled: never offered again
    learner.set_holdout(digits.X_test)
    assert learner.holdout_predictions()["model_version"] == 1
    gate.open.set()
    assert learner.settle(30)
    assert learner.query(1)["model_version"] == 2
    assert learner.holdout_predictions()["model_version"] == 2


def test_a_burst_of_labels_costs_one_fit_not_one_each(digits, fits) -> None:
    X, y = digits.X_train, digits.y_train
    learner = PoolLearner(X, DIGITS, estimator="random_forest", fits=fits)
    gate = HeldFits(learner)
    teach_first(learner, y, 20)
    assert gate.started.acquire(timeout=30)
    for i in range(20, 30):  # ten labels while the first fit is held
        learner.teach(i, int(y[i]))
    gate.open.set()
    assert learner.settle(30)
    assert gate.count == 2  # the held fit, then one for all ten
    assert learner.query(1)["model_version"] == learner.model_version == 11
    assert learner.n_labeled == 30


def test_in_sync_mode_teach_fits_before_it_returns(digits) -> None:
    learner = PoolLearner(digits.X_train, DIGITS)
    teach_first(learner, digits.y_train, 20)
    answer = learner.query(1)
    assert answer["model_version"] == answer["labels_version"] == 1
    assert learner.settle(0)


def twins(X: np.ndarray, copies: int, seed: int = 0) -> np.ndarray:
    """Each sample `copies` times, the copies a hair apart: a pool of near-duplicates."""
    rng = np.random.default_rng(seed)
    return np.concatenate([X + rng.normal(0, 0.01, X.shape) for _ in range(copies)])


@pytest.mark.parametrize("estimator", ["label_spreading", "random_forest", "auto"])
def test_no_two_near_duplicates_in_one_answer(estimator, digits) -> None:
    n = 300
    pool, y = twins(digits.X_train[:n], 3), np.tile(digits.y_train[:n], 3)
    learner = PoolLearner(pool, DIGITS, estimator=estimator)
    teach_first(learner, y, 20)
    picked = [s["index"] % n for s in learner.query(30)["samples"]]
    assert len(set(picked)) == 30  # thirty different digits, no copy of one twice
    # Without the rule the same ranking would have asked copies: the test can fail.
    answered = learner._model.predict_proba(learner._pool)
    top = np.argsort(np.sort(answered, axis=1)[:, -1] - np.sort(answered, axis=1)[:, -2])
    top = [i for i in top if i not in learner.labels()][:30]
    assert len({i % n for i in top}) < 30


def test_no_near_duplicate_of_a_sample_just_excluded_or_labeled(digits) -> None:
    n = 300
    pool, y = twins(digits.X_train[:n], 3), np.tile(digits.y_train[:n], 3)
    learner = PoolLearner(pool, DIGITS)
    teach_first(learner, y, 20)
    for _ in range(15):  # what the widget does: the one on screen is excluded
        shown = learner.query(1)["samples"][0]["index"]
        following = learner.query(1, exclude=[shown])["samples"][0]["index"]
        assert following % n != shown % n
        learner.teach(shown, int(y[shown]))


def test_near_duplicates_come_back_when_nothing_else_is_left(digits) -> None:
    pool = twins(digits.X_train[:4], 3)  # 12 samples, 4 distinct
    learner = PoolLearner(pool, DIGITS)
    learner.teach_many([0, 1], [int(digits.y_train[0]), int(digits.y_train[1])])
    picked = [s["index"] for s in learner.query(10)["samples"]]
    assert sorted(picked) == sorted(set(range(12)) - {0, 1})
