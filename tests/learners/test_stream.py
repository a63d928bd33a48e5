"""StreamLearner: the seed's streamed mode, train then label."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from backend.learners import STRATEGIES, LearnerError, StreamLearner
from backend.learners.model import SessionClassifier

from .conftest import DIGITS

FAST = "logistic_regression"  # for tests of bookkeeping, where the estimator doesn't matter


def test_before_training_every_sample_needs_a_label(digits) -> None:
    learner = StreamLearner(DIGITS)
    out = learner.label(digits.X_test[:3])
    assert out == {
        "results": [{"uncertainty": 1.0, "predicted": None, "decision": "label"}] * 3,
        "most_uncertain": 0,
        "model_version": 0,
    }
    assert learner.n_labeled == 0 and learner.estimator_ is None


def test_one_class_seen_is_still_knowing_nothing(digits) -> None:
    learner = StreamLearner(DIGITS)
    threes = digits.X_train[digits.y_train == 3][:5]
    assert learner.train(threes, [3] * 5) == {"n_labeled": 5, "model_version": 1}
    results = learner.label(digits.X_test[:2])["results"]
    assert all(r == {"uncertainty": 1.0, "predicted": None, "decision": "label"} for r in results)


def test_learns_digits(digits) -> None:
    learner = StreamLearner(DIGITS)
    learner.train(digits.X_train[:150], digits.y_train[:150])
    out = learner.train(digits.X_train[150:300].tolist(), digits.y_train[150:300].tolist())
    assert out == {"n_labeled": 300, "model_version": 2}
    answer = learner.label(digits.X_test)
    predicted = np.array([r["predicted"] for r in answer["results"]])
    assert (predicted == digits.y_test).mean() > 0.8
    assert all(
        type(r["predicted"]) is int and type(r["uncertainty"]) is float for r in answer["results"]
    )
    scores = [r["uncertainty"] for r in answer["results"]]
    assert answer["most_uncertain"] == int(np.argmax(scores))
    assert answer["model_version"] == 2


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 1.0])
def test_decisions_follow_the_threshold(threshold: float, digits) -> None:
    learner = StreamLearner(DIGITS, estimator=FAST, threshold=threshold)
    learner.train(digits.X_train[:100], digits.y_train[:100])
    results = learner.label(digits.X_test[:100])["results"]
    for r in results:
        assert r["decision"] == ("label" if r["uncertainty"] >= threshold else "skip")
    decisions = {r["decision"] for r in results}
    if threshold == 0.0:
        assert decisions == {"label"}
    if threshold == 1.0:
        assert decisions == {"skip"}  # a fitted model never reaches 1.0
    if threshold == 0.2:
        assert decisions == {"label", "skip"}


def test_predictions_map_to_the_full_class_list(digits) -> None:
    mask = np.isin(digits.y_train, [3, 7])
    learner = StreamLearner(DIGITS)
    learner.train(digits.X_train[mask][:60], digits.y_train[mask][:60])
    predicted = {r["predicted"] for r in learner.label(digits.X_test)["results"]}
    assert predicted == {3, 7}

    model = SessionClassifier(DIGITS).fit(digits.X_train[mask][:60], digits.y_train[mask][:60])
    proba = model.predict_proba(digits.X_test[:20])
    assert proba.shape == (20, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba[:, [0, 1, 2, 4, 5, 6, 8, 9]] == 0).all()
    assert list(model.classes_) == DIGITS


def test_string_classes_in_any_order() -> None:
    X, y = make_blobs(n_samples=90, centers=[[0, 0], [5, 5], [0, 5]], random_state=0)
    names = np.array(["zebra", "ant", "mole"])
    learner = StreamLearner(["zebra", "ant", "mole"], strategy="entropy")
    learner.train(X, names[y])
    results = learner.label([[0, 0], [5, 5], [0, 5]])["results"]
    assert [r["predicted"] for r in results] == ["zebra", "ant", "mole"]
    assert all(type(r["predicted"]) is str for r in results)


def test_feature_count_is_fixed_by_the_first_call(digits) -> None:
    learner = StreamLearner(DIGITS, estimator=FAST)
    assert learner.n_features is None
    learner.train(digits.X_train[:20], digits.y_train[:20])
    assert learner.n_features == 64
    with pytest.raises(LearnerError, match="^x has 63 features, the session expects 64$"):
        learner.label(digits.X_test[:2, :63])
    with pytest.raises(LearnerError, match="x has 65 features, the session expects 64"):
        learner.train(np.zeros((1, 65)), [0])

    asked_first = StreamLearner(DIGITS, estimator=FAST)
    asked_first.label([[0.0, 1.0]])
    with pytest.raises(LearnerError, match="x has 64 features, the session expects 2"):
        asked_first.train(digits.X_train[:2], digits.y_train[:2])


def test_rejected_train_changes_nothing(digits) -> None:
    learner = StreamLearner(DIGITS, estimator=FAST)
    learner.train(digits.X_train[:50], digits.y_train[:50])
    before = learner.label(digits.X_test[:10])
    bad_calls = [
        (digits.X_train[50:60], [*digits.y_train[50:59].tolist(), 11]),  # a bad label
        (digits.X_train[50:60], digits.y_train[50:59]),  # one label short
        (np.vstack([digits.X_train[50:59], np.full((1, 64), np.nan)]), digits.y_train[50:60]),
    ]
    for x, y in bad_calls:
        with pytest.raises(LearnerError):
            learner.train(x, y)
    assert learner.n_labeled == 50 and learner.model_version == 1
    assert learner.label(digits.X_test[:10]) == before


def test_failed_fit_changes_nothing(digits, monkeypatch) -> None:
    learner = StreamLearner(DIGITS, estimator=FAST)
    learner.train(digits.X_train[:50], digits.y_train[:50])
    estimator = learner.estimator_

    def broken_fit(self, X, y):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(SessionClassifier, "fit", broken_fit)
    with pytest.raises(RuntimeError):
        learner.train(digits.X_train[50:60], digits.y_train[50:60])
    assert learner.n_labeled == 50 and learner.model_version == 1
    assert learner.estimator_ is estimator


def test_training_set_is_bounded(digits) -> None:
    learner = StreamLearner(DIGITS, estimator=FAST, max_train=30)
    learner.train(digits.X_train[:20], digits.y_train[:20])
    with pytest.raises(LearnerError, match="training set is full: 20 samples held, 11 more"):
        learner.train(digits.X_train[20:31], digits.y_train[20:31])
    assert learner.n_labeled == 20


@pytest.mark.parametrize("estimator", ["gradient_boosting", "logistic_regression"])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_estimator_and_strategy(estimator: str, strategy: str) -> None:
    X, y = make_blobs(n_samples=60, centers=[[0, 0], [4, 0]], random_state=0)
    learner = StreamLearner([0, 1], estimator=estimator, strategy=strategy)
    learner.train(X, y)
    results = learner.label([[0.0, 0.0], [2.0, 0.0]])["results"]
    assert all(0.0 <= r["uncertainty"] <= 1.0 for r in results)
    assert results[0]["predicted"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimator": "svm"}, "unknown estimator 'svm'"),
        ({"strategy": "qbc"}, "unknown strategy 'qbc'"),
        ({"threshold": 2}, "threshold must be between 0 and 1: got 2.0"),
        ({"random_state": -1}, "random_state must be between 0 and 4294967295"),
        ({"classes": [1]}, "classes must list 2 to 1000 labels"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    classes = kwargs.pop("classes", DIGITS)
    with pytest.raises(LearnerError, match=message):
        StreamLearner(classes, **kwargs)
