"""Every named estimator fits digits and gives probabilities; unknown names are refused."""

from __future__ import annotations

import numpy as np
import pytest

from backend.learners import ESTIMATORS, STRATEGIES, LearnerError, make_estimator, strategy


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_each_estimator_fits_digits(name: str, digits) -> None:
    # Digits 0-4 only: gradient boosting grows one tree per class per iteration.
    train, test = digits.y_train < 5, digits.y_test < 5
    X, y = digits.X_train[train][:150], digits.y_train[train][:150]
    model = make_estimator(name, random_state=0).fit(X, y)
    proba = model.predict_proba(digits.X_test[test])
    assert proba.shape == (test.sum(), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(digits.X_test[test]) == digits.y_test[test]).mean() > 0.8


def test_estimators_are_fresh_and_seeded() -> None:
    a, b = make_estimator("random_forest", 7), make_estimator("random_forest", 7)
    assert a is not b
    assert a.get_params()["random_state"] == 7
    assert make_estimator("random_forest").get_params()["n_jobs"] == 1


def test_strategies_are_named() -> None:
    assert set(STRATEGIES) == {"uncertainty", "margin", "entropy"}
    for name, measure in STRATEGIES.items():
        assert strategy(name) is measure


@pytest.mark.parametrize("name", ["svm", "", None, 3, "Random_Forest"])
def test_unknown_estimator_lists_the_known_ones(name) -> None:
    with pytest.raises(LearnerError, match="unknown estimator") as err:
        make_estimator(name)
    for known in ESTIMATORS:
        assert known in str(err.value)


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(LearnerError, match="unknown strategy 'qbc': expected one of uncertainty"):
        strategy("qbc")
