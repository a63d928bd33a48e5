"""auto, pool mode's default: past its first labels it keeps one question in four as a
check, picks the candidate the checks say, the same way every time, undoes exactly, and
exports as plain scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_wine
from sklearn.model_selection import PredefinedSplit

from backend.learners import PoolLearner, choice, export_model
from backend.learners.blend import SpreadAndForest
from backend.learners.choice import (
    BLEND,
    CHECK_EVERY,
    FOR_PIXELS,
    FOR_TABLES,
    N_SPLITS,
    SCORING_TREES,
    WARM_UP,
    candidates_for,
    check_ranks,
    choose,
    folds,
    is_check,
    scorer,
)
from backend.learners.model import SessionClassifier
from backend.learners.registry import AUTO, DEFAULT_POOL_ESTIMATOR, ESTIMATORS, make_estimator
from backend.learners.spreading import UNLABELED, GraphSpreading

WINES = ["barolo", "grignolino", "barbera"]  # the cultivars of scikit-learn's wine table
SEED = 5


@pytest.fixture(scope="module")
def wine() -> tuple[np.ndarray, np.ndarray]:
    """The wine measurements as they are (no scaling), the cultivars by name."""
    X, y = load_wine(return_X_y=True)
    return X.astype(np.float32), np.asarray(WINES)[y]


@pytest.fixture(scope="module")
def asked(wine) -> tuple[PoolLearner, list[int]]:
    """The default learner on wine after 60 questions asked and answered (7 of them
    checks), and those questions in the order they came (for the tests that only read
    it)."""
    X, names = wine
    learner = PoolLearner(X, WINES, random_state=SEED)
    return learner, ask(learner, names, WARM_UP + 30)


def positions(names: np.ndarray) -> np.ndarray:
    """Each label's position in WINES, as a learner codes it."""
    return np.asarray([WINES.index(n) for n in names])


def ask(learner: PoolLearner, truth: np.ndarray, n: int) -> list[int]:
    """What the widget does, n times: ask one question, answer it truly."""
    asked = []
    for _ in range(n):
        i = learner.query(1)["samples"][0]["index"]
        learner.teach(i, truth[i].item())
        asked.append(i)
    return asked


def load(data: bytes):
    return skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))


def test_auto_is_pool_modes_default_and_named_in_the_registry() -> None:
    assert DEFAULT_POOL_ESTIMATOR == AUTO == "auto" and AUTO in ESTIMATORS
    assert PoolLearner(np.eye(3), [0, 1])._estimator == AUTO


@pytest.mark.parametrize("n", [2, 3, 7, 30, 31])
def test_folds_are_stratified_even_and_seeded(n: int) -> None:
    codes = np.random.default_rng(n).integers(0, 4, n)
    codes[0] = 9  # a class of one label
    splits = min(N_SPLITS, n)
    fold = folds(codes, splits, random_state=3)
    sizes = np.bincount(fold, minlength=splits)
    assert sizes.max() - sizes.min() <= 1 and sizes.min() >= 1
    for c in np.unique(codes):  # each class dealt round the folds
        per_fold = np.bincount(fold[codes == c], minlength=splits)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(fold, folds(codes, splits, random_state=3))
    if n >= 30:
        assert not np.array_equal(fold, folds(codes, splits, random_state=4))


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_past_the_warm_up_one_question_in_four_is_a_check_in_a_seeded_random_order(
        wine, asked) -> None:
    X, names = wine
    learner, asked = asked
    n = len(asked)
    due = (n - WARM_UP) // CHECK_EVERY
    ranks = check_ranks(len(X), SEED)
    labeled = np.asarray(sorted(learner.labels()))
    checks = labeled[is_check(ranks, labeled)]
    assert len(checks) >= due
    # checks are the first samples of the random order: the fourth question past the
    # warm-up is the first of them (unless a question before asked it), and all the
    # first `due` are asked
    order = np.argsort(ranks)
    first = WARM_UP + CHECK_EVERY - 1
    assert asked[first] == order[0] or order[0] in asked[:first]
    assert set(order[:due].tolist()) <= set(asked)
    assert set(checks.tolist()) <= set(order[:due + 1].tolist())
    assert learner.choice["n_checks"] == len(checks) and learner.choice["n_labels"] == n
    named = PoolLearner(X, WINES, estimator="label_spreading", random_state=SEED)
    ask(named, names, 12)  # a named learner asks by margin alone: no checks, no choice
    assert named.choice is None
    assert not set(order[:3].tolist()) <= named.labels().keys()


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_the_scores_are_scikit_learns_cross_validation_on_the_checks(wine, asked) -> None:
    """Each candidate's score is its accuracy on the checks, each fold of checks
    predicted from every other label (scikit-learn's PredefinedSplit, the labels that
    are no checks in every training set), a spread without the fold's labels for label
    spreading."""
    X, names = wine
    y = positions(names)
    learner, _ = asked
    index = np.asarray(sorted(learner.labels()))
    codes = np.full(len(X), UNLABELED)
    codes[index] = y[index]
    checked = is_check(check_ranks(len(X), SEED), index)
    tested = index[checked]
    fold = folds(y[tested], N_SPLITS, random_state=SEED)
    graph = GraphSpreading(random_state=SEED).fit_graph(X)
    choice = choose(graph, X, codes, SEED, check_ranks(len(X), SEED))
    assert choice.as_dict() == learner.choice
    split = np.full(len(index), -1)  # -1: always trained on (a label that is no check)
    split[checked] = fold
    right = dict.fromkeys(FOR_TABLES, 0)
    for train, test in PredefinedSplit(split).split():
        proba = {}
        for name in ("logistic_regression", "random_forest"):
            model = scorer(name, SEED).fit(X[index[train]], y[index[train]])
            proba[name] = model.predict_proba(X[index[test]])
        masked = codes.copy()
        masked[index[test]] = UNLABELED
        spread = GraphSpreading(random_state=SEED).fit(X, masked)
        proba["label_spreading"] = spread.label_distributions_[index[test]]
        proba[BLEND] = (proba["label_spreading"] + proba["random_forest"]) / 2
        for name in FOR_TABLES:
            right[name] += np.sum(proba[name].argmax(axis=1) == y[index[test]])
    assert choice.scores == pytest.approx({n: right[n] / len(tested) for n in FOR_TABLES})
    assert choice.estimator == max(FOR_TABLES, key=choice.scores.get)


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_it_chooses_a_supervised_model_for_a_raw_table(wine, asked) -> None:
    """Wine's columns are on scales from 0.1 to 1,000: scaled to unit length, they say
    little, and spreading loses; the checks say so, and the model chosen predicts."""
    X, names = wine
    learner, _ = asked
    choice = learner.choice
    assert choice["estimator"] != "label_spreading"
    assert choice["scores"][choice["estimator"]] > choice["scores"]["label_spreading"]
    kind = {"random_forest": "RandomForestClassifier", "logistic_regression": "Pipeline",
            BLEND: "SpreadAndForest"}
    assert type(learner.estimator_).__name__ == kind[choice["estimator"]]
    model = load(export_model(learner))
    np.testing.assert_array_equal(model.predict(X), learner.estimator_.predict(X))
    assert np.mean(model.predict(X) == names) > 0.9


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_through_the_warm_up_it_is_label_spreading_for_images(digits) -> None:
    """No checks among the first labels: on pixels auto asks what label spreading
    asks, and learns from the pool as it does."""
    learner = PoolLearner(digits.X_train, list(range(10)))
    spreading = PoolLearner(digits.X_train, list(range(10)), estimator="label_spreading")
    assert ask(learner, digits.y_train, WARM_UP) == ask(spreading, digits.y_train, WARM_UP)
    assert learner.choice["estimator"] == "label_spreading"
    assert learner.choice["n_checks"] < 2
    for one in (learner, spreading):
        one.set_holdout(digits.X_test)
    assert learner.holdout_predictions()["predicted"] == \
        spreading.holdout_predictions()["predicted"]
    assert np.mean(np.asarray(learner.holdout_predictions()["predicted"])
                   == digits.y_test) > 0.8
    data = export_model(learner)
    assert all(t.startswith(("sklearn.", "numpy."))
               for t in skops.io.get_untrusted_types(data=data))
    np.testing.assert_array_equal(load(data).predict(digits.X_test),
                                  learner._model.predict(digits.X_test))


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_the_choice_depends_on_the_set_of_labels_alone(wine, asked) -> None:
    X, _ = wine
    learner, _ = asked
    labels = learner.labels()
    given = PoolLearner(X, WINES, random_state=SEED)  # the same labels at once, reversed
    given.teach_many(list(labels)[::-1], list(labels.values())[::-1])
    assert given.choice == learner.choice
    np.testing.assert_array_equal(given.estimator_.predict_proba(X),
                                  learner.estimator_.predict_proba(X))


@pytest.mark.slow  # dozens of fits, each cross-validating three learners
def test_undo_gives_back_the_choice_and_the_model_from_before(wine, asked) -> None:
    X, names = wine
    labels = asked[0].labels()
    learner = PoolLearner(X, WINES, random_state=SEED)
    learner.teach_many(list(labels), list(labels.values()))
    before, proba = learner.choice, learner.estimator_.predict_proba(X)
    later = ask(learner, names, 2 * CHECK_EVERY)  # a check among them, and other labels
    assert learner.choice["n_checks"] > before["n_checks"]
    for i in reversed(later):
        learner.undo(i)
    assert learner.choice == before
    np.testing.assert_array_equal(learner.estimator_.predict_proba(X), proba)


def test_ties_go_by_the_kind_of_features(wine, digits) -> None:
    """Before two checks nothing tells the candidates apart: a table goes to logistic
    regression, pixels to label spreading, which learns from the pool; the scores say
    there were no checks."""
    assert (FOR_TABLES[0], FOR_PIXELS[0]) == ("logistic_regression", "label_spreading")
    X, names = wine
    for pool, truth, first in ((X, names, "logistic_regression"),
                               (digits.X_train, digits.y_train, "label_spreading")):
        learner = PoolLearner(pool, sorted(set(truth.tolist())))
        ask(learner, truth, 3)
        assert learner.choice["n_checks"] < 2
        assert learner.choice == {"estimator": first,
                                  "scores": dict.fromkeys(candidates_for(pool)),
                                  "n_checks": learner.choice["n_checks"], "n_labels": 3}
    auto = PoolLearner(X, WINES)
    auto.teach_many([0, 1], ["barolo", "barolo"])  # one class: no model, no choice
    assert auto.choice is None and auto.estimator_ is None


def test_the_kind_of_features_is_told_from_the_pool(wine, digits) -> None:
    X, _ = wine
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(200, 20))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    standardized = (X - X.mean(axis=0)) / X.std(axis=0)
    assert candidates_for(digits.X_train) == FOR_PIXELS  # pixels, 0 to 16
    assert candidates_for(embeddings) == FOR_PIXELS  # unit rows, signed
    assert candidates_for(X) == FOR_TABLES  # columns from 0.1 to 1,680
    assert candidates_for(standardized) == FOR_TABLES


def test_past_supervised_up_to_auto_is_label_spreading_without_checks(wine, monkeypatch
                                                                   ) -> None:
    """A pool too large for the supervised candidates (here: more than 100 samples)."""
    monkeypatch.setattr(choice, "SUPERVISED_UP_TO", 100)
    X, y = wine
    assert candidates_for(X) == ("label_spreading",)
    learner = PoolLearner(X, sorted(set(y.tolist())))
    assert learner._check_ranks is None  # no question is spent on checks
    labels = np.arange(0, len(y), 5)
    learner.teach_many(labels.tolist(), y[labels].tolist())
    assert learner.choice["estimator"] == "label_spreading"
    assert learner.choice["scores"] == {"label_spreading": None}
    codes = np.full(len(y), -1)
    codes[labels] = np.unique(y, return_inverse=True)[1][labels]
    graph = GraphSpreading().fit_graph(X)
    named = choose(graph, X, codes, 0, candidates=("random_forest",))  # named: still scored
    assert 0.5 < named.scores["random_forest"] <= 1.0


def test_make_estimator_auto_is_a_semi_supervised_classifier(wine) -> None:
    """Outside a session every label given is a check: plain cross-validation."""
    X, names = wine
    truth = positions(names)
    y = np.where(np.arange(len(X)) % 5 == 0, truth, UNLABELED)
    model = make_estimator(AUTO, random_state=0).fit(X, y)
    assert model.choice_.estimator != "label_spreading"
    assert model.choice_.n_checks == model.choice_.n_labels == np.sum(y != UNLABELED)
    assert model.predict_proba(X).shape == (len(X), 3)
    assert np.mean(model.predict(X) == truth) > 0.9
    with pytest.raises(ValueError, match="two classes"):
        make_estimator(AUTO).fit(X, np.where(np.arange(len(X)) < 5, 0, UNLABELED))


def test_the_forest_is_scored_with_fewer_trees_and_fitted_with_all() -> None:
    assert scorer("random_forest", 3).get_params()["n_estimators"] == SCORING_TREES < \
        make_estimator("random_forest", 3).get_params()["n_estimators"]
    assert repr(scorer("logistic_regression", 3)) == \
        repr(make_estimator("logistic_regression", 3))


def test_a_session_classifier_named_auto_records_its_choice(wine) -> None:
    X, names = wine
    codes = np.full(len(X), UNLABELED)
    codes[::4] = positions(names)[::4]
    graph = GraphSpreading().fit_graph(X)
    model = SessionClassifier(WINES, AUTO).fit_pool(graph, X, codes)
    assert model.choice_ == choose(graph, X, codes, random_state=0)
    assert set(model.predict(X).tolist()) <= set(WINES)


def test_the_blend_averages_spreading_and_a_forest_and_exports_as_a_voting_classifier(
        wine) -> None:
    """For the pool, the spread's labels and the forest averaged; for new samples, a
    plain scikit-learn VotingClassifier, which is what is exported, predicting alike."""
    raw, names = wine
    X = (raw - raw.mean(axis=0)) / raw.std(axis=0)  # spreading is lost on raw columns
    codes = np.full(len(X), UNLABELED)
    codes[::4] = positions(names)[::4]
    graph = GraphSpreading(random_state=SEED).fit_graph(X)
    model = SessionClassifier(WINES, BLEND, SEED).fit_pool(graph, X, codes)
    blend = model.estimator_
    assert isinstance(blend, SpreadAndForest)
    forest = make_estimator("random_forest", SEED).fit(X[::4], codes[::4])
    spread = GraphSpreading(random_state=SEED).fit(X, codes)
    np.testing.assert_allclose(model.predict_proba(X), (spread.label_distributions_
                                                        + forest.predict_proba(X)) / 2)
    new = X[1::4] * 1.01  # new samples, not the pool's array
    data = skops.io.dumps(model.portable())
    assert all(t.startswith(("sklearn.", "numpy."))
               for t in skops.io.get_untrusted_types(data=data))
    exported = load(data)
    assert type(exported).__name__ == "VotingClassifier"
    np.testing.assert_array_equal(exported.predict(new), model.predict(new))
    np.testing.assert_allclose(exported.predict_proba(new), model.predict_proba(new))
    assert np.mean(model.predict(new) == names[1::4]) > 0.8
