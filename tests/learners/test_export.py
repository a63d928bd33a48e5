"""export_model: skops bytes that load back into a model predicting like the learner."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io

from backend.learners import ESTIMATORS, LearnerError, PoolLearner, StreamLearner, export_model
from backend.learners.registry import POOL_ONLY

from .conftest import DIGITS


def load(data: bytes):
    return skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))


@pytest.mark.parametrize("estimator", sorted(set(ESTIMATORS) - POOL_ONLY))
def test_round_trip(estimator: str, digits) -> None:
    # Three of the ten digits seen: the exported model knows the classes it was fitted on.
    train = digits.y_train < 3
    learner = StreamLearner(DIGITS, estimator=estimator)
    learner.train(digits.X_train[train][:90], digits.y_train[train][:90])
    model = load(export_model(learner))
    X = digits.X_test[:100]
    predicted = [r["predicted"] for r in learner.label(X)["results"]]
    assert model.predict(X).tolist() == predicted
    np.testing.assert_allclose(model.predict_proba(X), learner.estimator_.predict_proba(X))


def test_pool_learner_with_string_labels(digits) -> None:
    names = np.array(["zero", "one", "two"])
    mask = digits.y_train < 3
    learner = PoolLearner(digits.X_train[mask][:40], list(names), estimator="logistic_regression")
    learner.teach_many(list(range(40)), names[digits.y_train[mask][:40]].tolist())
    model = load(export_model(learner))
    predicted = model.predict(digits.X_test)
    assert set(predicted.tolist()) <= set(names)
    np.testing.assert_array_equal(predicted, learner.estimator_.predict(digits.X_test))


@pytest.mark.parametrize("names", [["zero", "one", "two"], [7, 3, 5]])
def test_label_spreading_exports_plain_scikit_learn(names, digits) -> None:
    """The pool learner's model is an alsats class; what leaves the server is a pipeline
    of scikit-learn's own types, predicting new samples exactly as the learner does."""
    mask = digits.y_train < 3
    X, y = digits.X_train[mask], np.asarray(names)[digits.y_train[mask]]
    learner = PoolLearner(X, names, estimator="label_spreading")
    learner.teach_many(list(range(0, len(X), 10)), y[::10].tolist())
    data = export_model(learner)
    untrusted = skops.io.get_untrusted_types(data=data)
    assert all(t.startswith(("sklearn.", "numpy.")) for t in untrusted), untrusted
    model = load(data)
    seen = digits.y_test < 3
    held_out, truth = digits.X_test[seen], np.asarray(names)[digits.y_test[seen]]
    np.testing.assert_array_equal(model.predict(held_out), learner._model.predict(held_out))
    assert set(model.predict(held_out).tolist()) <= set(names)
    assert np.mean(model.predict(held_out) == truth) > 0.9


def test_refused_before_a_model_exists(digits) -> None:
    with pytest.raises(LearnerError, match="no model to export yet"):
        export_model(StreamLearner(DIGITS))
    learner = PoolLearner(digits.X_train[:10], DIGITS)
    learner.teach(0, 1)  # one class: still no model
    with pytest.raises(LearnerError, match="no model to export yet"):
        export_model(learner)
